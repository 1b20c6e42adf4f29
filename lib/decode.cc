/* Hot-path event decoder (see decode.h): simdjson On-Demand behind a C interface.
 *
 * One forward pass over each record. Every value of the record is visited, so validation is
 * complete (simdjson's stage 1 has already checked UTF-8, string termination and control
 * characters over the whole buffer; the walk checks the grammar: commas, colons, literals,
 * numbers, escapes, and that nothing follows the root). Containers are walked with an explicit
 * stack of max_depth frames, never by recursion. Values at the configured JSON pointers are
 * picked up on the way by following a trie of the pointers' segments.
 *
 * No exceptions cross the interface: only simdjson's error-code API is used and memory comes
 * from malloc / nothrow new (this file also compiles with -fno-exceptions). */
#define SIMDJSON_EXCEPTIONS 0
#include <simdjson.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "decode.h"

namespace od = simdjson::ondemand;

namespace
{

/* Metadata pointers, in slot order after the caller's pointers. */
enum meta_slot {
	META_MODEL_ID,
	META_MODEL_VERSION,
	META_MODEL_SHA256,
	META_TS,
	META_CLIENT_ID,
	META_REQUEST_ID,
	META__MAX
};
const char *const meta_pointers[META__MAX] = {
    "/model/id", "/model/version", "/model/sha256", "/ts", "/client/id", "/request_id",
};

/* Epoch ms of 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the numeric ts range. */
constexpr int64_t TS_MIN_MS = -62167219200000LL;
constexpr int64_t TS_MAX_MS = 253402300799999LL;

constexpr uint32_t NIL = UINT32_MAX;

/* A trie node: one pointer segment. Children of a node are contiguous and sorted by (length,
 * bytes), so array indices ("0" < "1" < ... < "10") sort numerically too. */
struct node {
	const char *key; /* unescaped segment, not NUL-terminated */
	uint32_t key_len;
	uint32_t child_begin, child_end;
	uint32_t slot_begin, slot_end; /* into dd_fieldset.slots */
	bool plain; /* no byte JSON must escape: the key appears verbatim in a record */
};

/* Keys are short: a loop beats a call to memcmp. */
inline bool bytes_eq(const char *a, const char *b, size_t n)
{
	if (n > 32)
		return memcmp(a, b, n) == 0;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* Order of a node's children: length, then bytes (unsigned). */
inline int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	if (al != bl)
		return al < bl ? -1 : 1;
	for (size_t i = 0; i < al; i++)
		if (a[i] != b[i])
			return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
	return 0;
}

} // namespace

struct dd_fieldset {
	size_t n;         /* caller pointers; slot ids >= n are metadata */
	size_t nnodes;    /* nodes[0] is the root */
	size_t nterminal; /* nodes with at least one slot */
	node *nodes;
	uint32_t *slots;
	char *strings;
};

namespace
{

/* Builder: a tree with linked children, flattened breadth-first at the end. */
struct tnode {
	const char *key;
	uint32_t key_len;
	uint32_t first_child, next_sibling;
	uint32_t first_slot, nchildren, nslots;
};
struct tslot {
	uint32_t id, next;
};
struct builder {
	tnode *t;
	uint32_t nt;
	tslot *s;
	uint32_t ns;
	char *arena;
	size_t arena_used;
};

int syntax_check(const char *p)
{
	if (!p)
		return -EINVAL;
	if (*p && *p != '/')
		return -EINVAL;
	for (; *p; p++)
		if (*p == '~' && p[1] != '0' && p[1] != '1')
			return -EINVAL;
	return 0;
}

void add_pointer(builder &b, const char *p, uint32_t slot)
{
	uint32_t cur = 0;
	while (*p == '/') {
		p++;
		char *seg = b.arena + b.arena_used;
		uint32_t len = 0;
		for (; *p && *p != '/'; p++) {
			char c = *p;
			if (c == '~') {
				c = p[1] == '0' ? '~' : '/';
				p++;
			}
			seg[len++] = c;
		}
		uint32_t found = NIL;
		for (uint32_t c = b.t[cur].first_child; c != NIL; c = b.t[c].next_sibling)
			if (b.t[c].key_len == len && memcmp(b.t[c].key, seg, len) == 0) {
				found = c;
				break;
			}
		if (found == NIL) {
			found = b.nt++;
			b.t[found] = tnode{seg, len, NIL, b.t[cur].first_child, NIL, 0, 0};
			b.t[cur].first_child = found;
			b.t[cur].nchildren++;
			b.arena_used += len;
		}
		cur = found;
	}
	b.s[b.ns] = tslot{slot, b.t[cur].first_slot};
	b.t[cur].first_slot = b.ns++;
	b.t[cur].nslots++;
}

} // namespace

extern "C" int dd_fieldset_new(const char *const *pointers, size_t n, struct dd_fieldset **ret)
{
	if (!ret || (n && !pointers) || n > UINT32_MAX - META__MAX - 1)
		return -EINVAL;
	*ret = nullptr;
	size_t total = 0, segs = 0;
	for (size_t i = 0; i < n + META__MAX; i++) {
		const char *p = i < n ? pointers[i] : meta_pointers[i - n];
		int r = syntax_check(p);
		if (r < 0)
			return r;
		size_t l = strlen(p);
		if (l > UINT32_MAX || total > SIZE_MAX / 2 - l)
			return -EINVAL;
		total += l;
		for (const char *q = p; *q; q++)
			segs += *q == '/';
	}
	if (segs >= UINT32_MAX - 1)
		return -EINVAL;
	size_t nslots = n + META__MAX;

	builder b{};
	b.t = static_cast<tnode *>(calloc(segs + 1, sizeof(tnode)));
	b.s = static_cast<tslot *>(calloc(nslots, sizeof(tslot)));
	b.arena = static_cast<char *>(malloc(total + 1));
	dd_fieldset *fs = static_cast<dd_fieldset *>(calloc(1, sizeof(*fs)));
	uint32_t *order = static_cast<uint32_t *>(calloc(segs + 1, sizeof(uint32_t)));
	int rc = -ENOMEM;
	if (!b.t || !b.s || !b.arena || !fs || !order)
		goto out;
	b.t[0] = tnode{"", 0, NIL, NIL, NIL, 0, 0};
	b.nt = 1;
	for (size_t i = 0; i < nslots; i++)
		add_pointer(b, i < n ? pointers[i] : meta_pointers[i - n], (uint32_t)i);

	fs->n = n;
	fs->nnodes = b.nt;
	fs->nodes = static_cast<node *>(calloc(b.nt, sizeof(node)));
	fs->slots = static_cast<uint32_t *>(calloc(nslots, sizeof(uint32_t)));
	if (!fs->nodes || !fs->slots)
		goto out;
	{
		/* Breadth-first: a node's children get consecutive indices, sorted. */
		uint32_t head = 0, tail = 1, nslot = 0;
		order[0] = 0;
		while (head < tail) {
			const tnode &tn = b.t[order[head]];
			node &nd = fs->nodes[head];
			nd.key = tn.key;
			nd.key_len = tn.key_len;
			nd.plain = true;
			for (uint32_t i = 0; i < tn.key_len; i++)
				if (tn.key[i] == '"' || tn.key[i] == '\\' ||
				    (unsigned char)tn.key[i] < 0x20)
					nd.plain = false;
			nd.child_begin = tail;
			for (uint32_t c = tn.first_child; c != NIL; c = b.t[c].next_sibling) {
				uint32_t j = tail++;
				while (j > nd.child_begin &&
				       key_cmp(b.t[c].key, b.t[c].key_len, b.t[order[j - 1]].key,
				               b.t[order[j - 1]].key_len) < 0) {
					order[j] = order[j - 1];
					j--;
				}
				order[j] = c;
			}
			nd.child_end = tail;
			nd.slot_begin = nslot;
			for (uint32_t s = tn.first_slot; s != NIL; s = b.s[s].next)
				fs->slots[nslot++] = b.s[s].id;
			nd.slot_end = nslot;
			if (nd.slot_end != nd.slot_begin)
				fs->nterminal++;
			head++;
		}
	}
	fs->strings = b.arena;
	b.arena = nullptr;
	*ret = fs;
	fs = nullptr;
	rc = 0;
out:
	if (fs) {
		free(fs->nodes);
		free(fs->slots);
		free(fs);
	}
	free(order);
	free(b.t);
	free(b.s);
	free(b.arena);
	return rc;
}

extern "C" void dd_fieldset_free(struct dd_fieldset *fs)
{
	if (!fs)
		return;
	free(fs->nodes);
	free(fs->slots);
	free(fs->strings);
	free(fs);
}

extern "C" size_t dd_fieldset_count(const struct dd_fieldset *fs)
{
	return fs ? fs->n : 0;
}

extern "C" void dd_limits_default(struct dd_limits *l)
{
	l->max_record = DD_LIMIT_MAX_RECORD_DEFAULT;
	l->max_depth = DD_LIMIT_MAX_DEPTH_DEFAULT;
	l->max_string = DD_LIMIT_MAX_STRING_DEFAULT;
	l->max_vector = DD_LIMIT_MAX_VECTOR_DEFAULT;
}

extern "C" const char *dd_reject_name(enum dd_reject r)
{
	switch (r) {
	case DD_REJECT_NONE:
		return "none";
	case DD_REJECT_TOO_LARGE:
		return "too_large";
	case DD_REJECT_SYNTAX:
		return "syntax";
	case DD_REJECT_NOT_OBJECT:
		return "not_object";
	case DD_REJECT_TOO_DEEP:
		return "too_deep";
	case DD_REJECT_STRING_TOO_LONG:
		return "string_too_long";
	case DD_REJECT_NO_MODEL:
		return "no_model";
	case DD_REJECT_BAD_TS:
		return "bad_ts";
	case DD_REJECT__MAX:
		break;
	}
	return "unknown";
}

namespace
{

/* One open container of the walk. */
struct frame {
	od::object_iterator oit;
	od::array_iterator ait;
	uint32_t node; /* trie node of this container, NIL when no pointer goes through it */
	bool is_obj;
	bool collect;     /* a pointer ends here and the array is numbers only so far */
	size_t index;     /* next array element */
	size_t vec_start; /* first element of this array's vector in dd_decoder.vec */
	uint32_t hint;    /* object: the child expected to match the next key */
	uint32_t last;    /* object: the child matched last, NIL before the first */
};

/* Per trie node, in the decoder (a fieldset is immutable and may be shared). Records of one
 * stream mostly list their keys in the same order, so each node remembers which child matched
 * first in it last time, and each child which sibling matched after it: the next key is then
 * compared with one expected child before falling back to bisection. Hints are only guesses,
 * checked against the current fieldset before use. */
struct nstate {
	uint32_t seen;  /* == dd_decoder.gen when matched in this record (first occurrence wins) */
	uint32_t first; /* hint: the first child matched in this node */
	uint32_t next;  /* hint: the sibling matched after this node */
};

} // namespace

struct dd_decoder {
	od::parser parser;
	struct dd_limits lim;
	size_t parser_cap;
	char *buf; /* padded copy of the record */
	size_t buf_cap;
	double *vec; /* VECTOR values of the current record */
	size_t vec_cap, vec_used;
	nstate *ns; /* per trie node of the fieldset in use */
	size_t ns_cap;
	uint32_t gen;
	frame *stack; /* lim.max_depth frames */
};

extern "C" int dd_decoder_new(const struct dd_limits *l, struct dd_decoder **ret)
{
	if (!ret)
		return -EINVAL;
	*ret = nullptr;
	struct dd_limits lim;
	dd_limits_default(&lim);
	if (l) {
		if (l->max_record)
			lim.max_record = l->max_record;
		if (l->max_depth)
			lim.max_depth = l->max_depth;
		if (l->max_string)
			lim.max_string = l->max_string;
		if (l->max_vector)
			lim.max_vector = l->max_vector;
	}
	if (lim.max_record > DD_LIMIT_MAX_RECORD_CAP || lim.max_depth > DD_LIMIT_MAX_DEPTH_CAP ||
	    lim.max_vector > SIZE_MAX / sizeof(double) / 4)
		return -EINVAL;
	dd_decoder *d = new (std::nothrow) dd_decoder();
	if (!d)
		return -ENOMEM;
	d->lim = lim;
	d->stack = new (std::nothrow) frame[lim.max_depth];
	if (!d->stack) {
		delete d;
		return -ENOMEM;
	}
	*ret = d;
	return 0;
}

extern "C" void dd_decoder_free(struct dd_decoder *d)
{
	if (!d)
		return;
	free(d->buf);
	free(d->vec);
	free(d->ns);
	delete[] d->stack;
	delete d;
}

namespace
{

/* Grow *p to hold at least need elements (powers of two, at most max when max >= need). */
template <typename T> bool grow(T **p, size_t *cap, size_t need, size_t max)
{
	if (*cap >= need)
		return true;
	size_t c = 4096 / sizeof(T);
	while (c < need)
		c *= 2;
	if (c > max && max >= need)
		c = max;
	void *n = realloc(*p, c * sizeof(T));
	if (!n)
		return false;
	*p = static_cast<T *>(n);
	*cap = c;
	return true;
}

inline bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* JSON number grammar at p, followed by whitespace, ',', ']', '}' or the NUL padding after the
 * record (the record itself has no NUL byte). Validates numbers nobody reads without converting
 * them, and tells "out of double range" (1e999: valid JSON, simdjson refuses it) from junk. */
bool number_grammar(const char *p, const char **end)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (is_digit(*p))
			p++;
	else
		return false;
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return false;
		while (is_digit(*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit(*p))
			return false;
		while (is_digit(*p))
			p++;
	}
	*end = p;
	return is_ws(*p) || *p == ',' || *p == ']' || *p == '}' || *p == '\0';
}

/* Length of a string's content from its raw token (opening quote, content, closing quote, then
 * whitespace up to the next structural character); SIZE_MAX if the token is not shaped so. */
size_t string_raw_len(std::string_view tok)
{
	size_t e = tok.size();
	while (e > 1 && is_ws(tok[e - 1]))
		e--;
	if (e < 2 || tok[0] != '"' || tok[e - 1] != '"')
		return SIZE_MAX;
	return e - 2;
}

constexpr driftd_value VALUE_OTHER = {DRIFTD_VALUE_OTHER, 0, nullptr, 0, nullptr, 0};

struct walk {
	dd_decoder *d;
	const dd_fieldset *fs;
	driftd_value *out;
	const char *end; /* of the record in d->buf */
	driftd_value meta[META__MAX];
};

/* The walk is one loop with the current container's iterator in a local (so the compiler keeps
 * simdjson's iterator state in registers); only containers touch the frame stack, and the
 * helpers below are forced inline into that loop. This halved the time per event compared
 * with one out-of-line call per value. */
#define DD_INLINE inline __attribute__((always_inline))

DD_INLINE void assign(walk &w, const node &nd, const driftd_value &v)
{
	for (uint32_t s = nd.slot_begin; s < nd.slot_end; s++) {
		uint32_t id = w.fs->slots[s];
		if (id < w.fs->n)
			w.out[id] = v;
		else
			w.meta[id - w.fs->n] = v;
	}
}

DD_INLINE bool terminal(const node *nd)
{
	return nd && nd->slot_begin != nd->slot_end;
}

/* Whether [p, p + n) holds a backslash: short runs inline, long ones with memchr. */
DD_INLINE bool has_backslash(const char *p, size_t n)
{
	if (n > 32)
		return memchr(p, '\\', n) != nullptr;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\\')
			return true;
	return false;
}

/* Child of node ni named key, NIL if none: bisection over the sorted children. */
DD_INLINE uint32_t lookup(const dd_fieldset *fs, uint32_t ni, const char *key, size_t len)
{
	const node &nd = fs->nodes[ni];
	uint32_t lo = nd.child_begin, hi = nd.child_end;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const node &m = fs->nodes[mid];
		int c = key_cmp(m.key, m.key_len, key, len);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NIL;
}

DD_INLINE void stop_collect(walk &w, frame &f)
{
	if (f.collect) {
		f.collect = false;
		w.d->vec_used = f.vec_start;
	}
}

/* The key of the field, unescaped. The raw key runs from after its quote to the quote before
 * the ':' that precedes the value (simdjson has checked the colon is there). */
DD_INLINE dd_reject field_key(walk &w, od::field &fld, std::string_view *key)
{
	const char *k = fld.key().raw();
	const char *q = fld.value().raw_json_token().data();
	while (q > k && is_ws(q[-1]))
		q--;
	if (q <= k || q[-1] != ':')
		return DD_REJECT_SYNTAX;
	q--;
	while (q > k && is_ws(q[-1]))
		q--;
	if (q <= k || q[-1] != '"')
		return DD_REJECT_SYNTAX;
	q--;
	size_t kl = (size_t)(q - k);
	if (kl > w.d->lim.max_string)
		return DD_REJECT_STRING_TOO_LONG;
	*key = std::string_view(k, kl);
	if (has_backslash(k, kl) && fld.unescaped_key().get(*key))
		return DD_REJECT_SYNTAX;
	return DD_REJECT_NONE;
}

/* A scalar: validated, consumed, and assigned when a pointer ends at it (nd). arr is the
 * enclosing array, which may still become a vector. */
DD_INLINE dd_reject scalar(walk &w, od::value &v, od::json_type t, const node *nd, frame *arr)
{
	switch (t) {
	case od::json_type::number: {
		double x;
		if (!nd && !(arr && arr->collect)) {
			/* Nobody reads it: check the grammar, skip the conversion (a third of the
			 * time of a record whose numbers are mostly unread). Left unconsumed, the
			 * next ++ skips it as one token. */
			const char *e;
			return number_grammar(v.raw_json_token().data(), &e) ? DD_REJECT_NONE
			                                                     : DD_REJECT_SYNTAX;
		}
		if (v.get_double().get(x)) {
			/* simdjson refuses numbers beyond double range: valid JSON all the same. An
			 * unconsumed number is skipped safely by the next ++ (one token). */
			const char *e;
			if (!number_grammar(v.raw_json_token().data(), &e))
				return DD_REJECT_SYNTAX;
			if (arr)
				stop_collect(w, *arr);
			if (terminal(nd))
				assign(w, *nd, VALUE_OTHER);
			return DD_REJECT_NONE;
		}
		if (arr && arr->collect) {
			if (w.d->vec_used - arr->vec_start >= w.d->lim.max_vector ||
			    w.d->vec_used >= w.d->vec_cap)
				stop_collect(w, *arr);
			else
				w.d->vec[w.d->vec_used++] = x;
		}
		if (terminal(nd))
			assign(w, *nd,
			       driftd_value{DRIFTD_VALUE_NUMBER, x, nullptr, 0, nullptr, 0});
		return DD_REJECT_NONE;
	}
	case od::json_type::string: {
		std::string_view tok = v.raw_json_token();
		size_t rl = string_raw_len(tok);
		if (rl == SIZE_MAX)
			return DD_REJECT_SYNTAX;
		if (rl > w.d->lim.max_string)
			return DD_REJECT_STRING_TOO_LONG;
		const char *raw = tok.data() + 1;
		std::string_view s(raw, rl);
		/* Without escapes the string is its raw bytes in our buffer; with them, simdjson
		 * unescapes (and validates the escapes) into the parser's string buffer. Either way
		 * the value is consumed here: skipping an unconsumed string lets On-Demand take a
		 * following ':' for a key separator ({"a":"b":1} would pass). */
		od::raw_json_string rs;
		if (has_backslash(raw, rl) ? v.get_string().get(s)
		                           : v.get_raw_json_string().get(rs))
			return DD_REJECT_SYNTAX;
		if (terminal(nd))
			assign(
			    w, *nd,
			    driftd_value{DRIFTD_VALUE_STRING, 0, s.data(), s.size(), nullptr, 0});
		return DD_REJECT_NONE;
	}
	case od::json_type::boolean: {
		bool b;
		if (v.get_bool().get(b))
			return DD_REJECT_SYNTAX;
		if (terminal(nd))
			assign(
			    w, *nd,
			    driftd_value{DRIFTD_VALUE_BOOL, b ? 1.0 : 0.0, nullptr, 0, nullptr, 0});
		return DD_REJECT_NONE;
	}
	case od::json_type::null: {
		bool isnull = false;
		if (v.is_null().get(isnull) || !isnull)
			return DD_REJECT_SYNTAX;
		if (terminal(nd))
			assign(w, *nd, VALUE_OTHER);
		return DD_REJECT_NONE;
	}
	default:
		return DD_REJECT_SYNTAX;
	}
}

/* Start iterating container v (an object or array) in f. */
DD_INLINE dd_reject open(walk &w, od::value &v, od::json_type t, uint32_t ni, frame &f)
{
	const node *nd = ni != NIL ? &w.fs->nodes[ni] : nullptr;
	f.node = ni;
	f.index = 0;
	if (t == od::json_type::object) {
		od::object o;
		if (v.get_object().get(o) || o.begin().get(f.oit))
			return DD_REJECT_SYNTAX;
		f.is_obj = true;
		f.collect = false;
		f.last = NIL;
		f.hint = ni != NIL ? w.d->ns[ni].first : NIL;
		if (terminal(nd))
			assign(w, *nd, VALUE_OTHER);
	} else {
		od::array a;
		if (v.get_array().get(a) || a.begin().get(f.ait))
			return DD_REJECT_SYNTAX;
		f.is_obj = false;
		f.collect = terminal(nd);
		f.vec_start = w.d->vec_used;
	}
	return DD_REJECT_NONE;
}

/* A container has ended: an array a pointer ends at is a VECTOR or OTHER. */
DD_INLINE void close(walk &w, const frame &f)
{
	if (f.is_obj || f.node == NIL)
		return;
	const node &nd = w.fs->nodes[f.node];
	if (!terminal(&nd))
		return;
	if (f.collect)
		assign(w, nd,
		       driftd_value{DRIFTD_VALUE_VECTOR, 0, nullptr, 0, w.d->vec + f.vec_start,
		                    w.d->vec_used - f.vec_start});
	else
		assign(w, nd, VALUE_OTHER);
}

inline bool is_container(od::json_type t)
{
	return t == od::json_type::object || t == od::json_type::array;
}

/* Iterate every value below the root container c, depth first, without recursion: the
 * enclosing containers wait in w.d->stack. */
dd_reject walk_all(walk &w, frame c)
{
	frame *stack = w.d->stack;
	const size_t max_depth = w.d->lim.max_depth;
	size_t sp = 1; /* depth of c */
	const od::object_iterator oend{};
	const od::array_iterator aend{};
	dd_reject r;
	for (;;) {
		if (c.is_obj) {
			while (c.oit != oend) {
				/* Used in place: get(fld) would copy the field, and GCC copies it
				 * with wide loads right after narrow stores (a store-forwarding
				 * stall that cost ~10 ns per field). */
				auto res = *c.oit;
				if (res.error())
					return DD_REJECT_SYNTAX;
				od::field &fld = res.value_unsafe();
				uint32_t child = NIL;
				const char *k = fld.key().raw();
				const node *hn = nullptr;
				if (c.hint != NIL) {
					/* A hint may come from another fieldset: check it is a
					 * child of this node before use. */
					const node &pn = w.fs->nodes[c.node];
					if (c.hint - pn.child_begin < pn.child_end - pn.child_begin)
						hn = &w.fs->nodes[c.hint];
				}
				if (hn && hn->plain && hn->key_len < (size_t)(w.end - k) &&
				    bytes_eq(k, hn->key, hn->key_len) && k[hn->key_len] == '"') {
					/* The expected key, verbatim: no escapes (the hint has no
					 * byte that needs one) and its closing quote is right
					 * there. */
					if (hn->key_len > w.d->lim.max_string)
						return DD_REJECT_STRING_TOO_LONG;
					child = c.hint;
				} else {
					std::string_view key;
					if ((r = field_key(w, fld, &key)) != DD_REJECT_NONE)
						return r;
					if (c.node != NIL)
						child =
						    lookup(w.fs, c.node, key.data(), key.size());
				}
				nstate *ns = w.d->ns;
				if (child != NIL && ns[child].seen == w.d->gen)
					child = NIL; /* first occurrence of a duplicate key wins */
				if (child != NIL) {
					ns[child].seen = w.d->gen;
					if (c.last == NIL)
						ns[c.node].first = child;
					else
						ns[c.last].next = child;
					c.last = child;
					c.hint = ns[child].next;
				}
				od::value &v = fld.value();
				od::json_type t;
				if (v.type().get(t))
					return DD_REJECT_SYNTAX;
				if (is_container(t)) {
					if (sp >= max_depth)
						return DD_REJECT_TOO_DEEP;
					stack[sp - 1] = c;
					if ((r = open(w, v, t, child, c)) != DD_REJECT_NONE)
						return r;
					sp++;
					goto next;
				}
				r = scalar(w, v, t, child != NIL ? &w.fs->nodes[child] : nullptr,
				           nullptr);
				if (r != DD_REJECT_NONE)
					return r;
				++c.oit;
			}
		} else {
			while (c.ait != aend) {
				auto res = *c.ait;
				if (res.error())
					return DD_REJECT_SYNTAX;
				od::value &v = res.value_unsafe();
				uint32_t child = NIL;
				if (c.node != NIL && w.fs->nodes[c.node].child_begin !=
				                         w.fs->nodes[c.node].child_end) {
					char ibuf[24], *e = ibuf + sizeof(ibuf), *p = e;
					size_t x = c.index;
					do
						*--p = (char)('0' + x % 10);
					while ((x /= 10));
					child = lookup(w.fs, c.node, p, (size_t)(e - p));
				}
				c.index++;
				od::json_type t;
				if (v.type().get(t))
					return DD_REJECT_SYNTAX;
				if (t != od::json_type::number)
					stop_collect(w, c);
				if (is_container(t)) {
					if (sp >= max_depth)
						return DD_REJECT_TOO_DEEP;
					stack[sp - 1] = c;
					if ((r = open(w, v, t, child, c)) != DD_REJECT_NONE)
						return r;
					sp++;
					goto next;
				}
				r = scalar(w, v, t, child != NIL ? &w.fs->nodes[child] : nullptr,
				           &c);
				if (r != DD_REJECT_NONE)
					return r;
				++c.ait;
			}
		}
		close(w, c);
		if (--sp == 0)
			return DD_REJECT_NONE;
		c = stack[sp - 1];
		if (c.is_obj)
			++c.oit;
		else
			++c.ait;
	next:;
	}
}

/* A record whose root is not a container: is it valid JSON (NOT_OBJECT) or not (SYNTAX)? */
dd_reject root_scalar(od::document &doc, od::json_type t, const char *p, const char *end)
{
	while (p < end && is_ws(*p))
		p++;
	switch (t) {
	case od::json_type::number:
		if (!number_grammar(p, &p))
			return DD_REJECT_SYNTAX;
		break;
	case od::json_type::boolean:
	case od::json_type::null: {
		const char *lit = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
		size_t l = strlen(lit);
		if ((size_t)(end - p) < l || memcmp(p, lit, l) != 0)
			return DD_REJECT_SYNTAX;
		p += l;
		break;
	}
	case od::json_type::string: {
		std::string_view s;
		if (doc.get_string().get(s))
			return DD_REJECT_SYNTAX;
		p++;
		while (p < end && *p != '"')
			p += *p == '\\' ? 2 : 1;
		if (p >= end)
			return DD_REJECT_SYNTAX;
		p++;
		break;
	}
	default:
		return DD_REJECT_SYNTAX;
	}
	while (p < end && is_ws(*p))
		p++;
	return p == end ? DD_REJECT_NOT_OBJECT : DD_REJECT_SYNTAX;
}

int reject(enum dd_reject r, enum dd_reject *why)
{
	if (why)
		*why = r;
	switch (r) {
	case DD_REJECT_TOO_LARGE:
	case DD_REJECT_TOO_DEEP:
	case DD_REJECT_STRING_TOO_LONG:
		return -E2BIG;
	default:
		return -EBADMSG;
	}
}

} // namespace

extern "C" int dd_decode(struct dd_decoder *d, const struct dd_fieldset *fs, const char *rec,
                         size_t len, struct dd_meta *meta, struct driftd_value *out,
                         enum dd_reject *why)
{
	if (why)
		*why = DD_REJECT_NONE;
	if (!d || !fs || (!rec && len) || (!out && fs->n))
		return -EINVAL;
	if (len > d->lim.max_record)
		return reject(DD_REJECT_TOO_LARGE, why);

	/* Buffers grow only for a bigger record or fieldset than seen so far. */
	size_t ns_cap = d->ns_cap;
	size_t vec_need = fs->nterminal ? len / 2 + 1 : 0;
	if (fs->nterminal && vec_need / fs->nterminal > d->lim.max_vector)
		vec_need = fs->nterminal * d->lim.max_vector;
	if (!grow(&d->buf, &d->buf_cap, len + simdjson::SIMDJSON_PADDING,
	          d->lim.max_record + simdjson::SIMDJSON_PADDING) ||
	    !grow(&d->vec, &d->vec_cap, vec_need, SIZE_MAX) ||
	    !grow(&d->ns, &d->ns_cap, fs->nnodes, SIZE_MAX))
		return -ENOMEM;
	if (d->ns_cap != ns_cap) /* new marks must not look current */
		for (size_t i = 0; i < d->ns_cap; i++)
			d->ns[i] = nstate{0, NIL, NIL};
	if (d->parser_cap < len || d->parser_cap == 0) {
		size_t c = 4096;
		while (c < len)
			c *= 2;
		if (c > d->lim.max_record && d->lim.max_record >= len)
			c = d->lim.max_record;
		/* Depth matters to simdjson only for its development checks (debug builds). */
		if (d->parser.allocate(c, d->lim.max_depth + 8) != simdjson::SUCCESS) {
			d->parser_cap = 0;
			return -ENOMEM;
		}
		d->parser_cap = c;
	}
	if (++d->gen == 0) {
		for (size_t i = 0; i < d->ns_cap; i++)
			d->ns[i].seen = 0;
		d->gen = 1;
	}
	if (len)
		memcpy(d->buf, rec, len);
	memset(d->buf + len, 0, simdjson::SIMDJSON_PADDING);
	d->vec_used = 0;

	walk w{};
	w.d = d;
	w.fs = fs;
	w.out = out;
	w.end = d->buf + len;
	for (size_t i = 0; i < fs->n; i++)
		out[i] = driftd_value{};

	/* JSON has no place for a raw NUL byte, and number_grammar() takes one for the padding
	 * after the record: refuse them up front (about 1% of the time of a 430-byte record). */
	if (memchr(d->buf, 0, len))
		return reject(DD_REJECT_SYNTAX, why);
	od::document doc;
	simdjson::error_code e = d->parser.iterate(d->buf, len, d->buf_cap).get(doc);
	if (e == simdjson::MEMALLOC)
		return -ENOMEM;
	if (e)
		return reject(DD_REJECT_SYNTAX, why);
	od::json_type t;
	if (doc.type().get(t))
		return reject(DD_REJECT_SYNTAX, why);
	dd_reject r;
	frame root;
	root.node = 0;
	root.last = NIL;
	root.hint = d->ns[0].first;
	root.collect = false;
	root.index = 0;
	root.vec_start = 0;
	if (t == od::json_type::object) {
		od::object o;
		if (doc.get_object().get(o) || o.begin().get(root.oit))
			return reject(DD_REJECT_SYNTAX, why);
		root.is_obj = true;
		if (terminal(&fs->nodes[0]))
			assign(w, fs->nodes[0], VALUE_OTHER);
	} else if (t == od::json_type::array) {
		od::array a;
		if (doc.get_array().get(a) || a.begin().get(root.ait))
			return reject(DD_REJECT_SYNTAX, why);
		root.is_obj = false;
		root.node = NIL;
		root.hint = NIL;
	} else {
		return reject(root_scalar(doc, t, d->buf, d->buf + len), why);
	}
	r = walk_all(w, root);
	if (r != DD_REJECT_NONE)
		return reject(r, why);
	/* Nothing may follow the root container. */
	const char *loc;
	if (doc.current_location().get(loc) != simdjson::OUT_OF_BOUNDS)
		return reject(DD_REJECT_SYNTAX, why);
	if (t != od::json_type::object)
		return reject(DD_REJECT_NOT_OBJECT, why);

	const driftd_value &mid = w.meta[META_MODEL_ID];
	if (mid.type != DRIFTD_VALUE_STRING || mid.len == 0)
		return reject(DD_REJECT_NO_MODEL, why);
	bool has_ts = false;
	int64_t ts = 0;
	const driftd_value &tv = w.meta[META_TS];
	switch (tv.type) {
	case DRIFTD_VALUE_NONE:
		break;
	case DRIFTD_VALUE_NUMBER:
		if (!(tv.num >= (double)TS_MIN_MS && tv.num <= (double)TS_MAX_MS) ||
		    std::trunc(tv.num) != tv.num)
			return reject(DD_REJECT_BAD_TS, why);
		ts = (int64_t)tv.num;
		has_ts = true;
		break;
	case DRIFTD_VALUE_STRING:
		if (dd_parse_rfc3339(tv.str, tv.len, &ts) < 0)
			return reject(DD_REJECT_BAD_TS, why);
		has_ts = true;
		break;
	default:
		return reject(DD_REJECT_BAD_TS, why);
	}
	if (meta) {
		*meta = dd_meta{};
		const driftd_value *mv[] = {&w.meta[META_MODEL_ID], &w.meta[META_MODEL_VERSION],
		                            &w.meta[META_MODEL_SHA256], &w.meta[META_CLIENT_ID],
		                            &w.meta[META_REQUEST_ID]};
		const char **ms[] = {&meta->model_id, &meta->model_version, &meta->model_sha256,
		                     &meta->client_id, &meta->request_id};
		size_t *ml[] = {&meta->model_id_len, &meta->model_version_len,
		                &meta->model_sha256_len, &meta->client_id_len,
		                &meta->request_id_len};
		for (size_t i = 0; i < 5; i++)
			if (mv[i]->type == DRIFTD_VALUE_STRING) {
				*ms[i] = mv[i]->str;
				*ml[i] = mv[i]->len;
			}
		meta->has_ts = has_ts;
		meta->ts_ms = ts;
	}
	return 0;
}

/* --- RFC 3339 --- */

namespace
{

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
int64_t days_from_civil(int64_t y, int64_t m, int64_t dd)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t *y, int *m, int *dd)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*dd = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* n decimal digits at s, or -1. */
int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

} // namespace

extern "C" int dd_parse_rfc3339(const char *s, size_t len, int64_t *ret_ms)
{
	/* YYYY-MM-DDTHH:MM:SS[.f+](Z|+HH:MM|-HH:MM) */
	if (!s || !ret_ms || len < 20)
		return -EINVAL;
	int y = digits(s, 4), mo = digits(s + 5, 2), dd = digits(s + 8, 2);
	int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
	if (y < 0 || mo < 0 || dd < 0 || h < 0 || mi < 0 || sec < 0 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
		return -EINVAL;
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (mo < 1 || mo > 12 || dd < 1 || dd > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 ||
	    mi > 59 || sec > 60)
		return -EINVAL;
	size_t i = 19;
	int frac = 0, nfrac = 0;
	if (s[i] == '.') {
		i++;
		for (; i < len && is_digit(s[i]); i++, nfrac++)
			if (nfrac < 3)
				frac = frac * 10 + (s[i] - '0');
		if (nfrac == 0)
			return -EINVAL;
		for (int k = nfrac; k < 3; k++)
			frac *= 10;
	}
	if (i >= len)
		return -EINVAL;
	int off = 0;
	if (s[i] == 'Z' || s[i] == 'z') {
		i++;
	} else if (s[i] == '+' || s[i] == '-') {
		if (len - i < 6 || s[i + 3] != ':')
			return -EINVAL;
		int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
		if (oh < 0 || om < 0 || oh > 23 || om > 59)
			return -EINVAL;
		off = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
		i += 6;
	} else {
		return -EINVAL;
	}
	if (i != len)
		return -EINVAL;
	int64_t days = days_from_civil(y, mo, dd);
	int64_t secs = ((days * 24 + h) * 60 + mi - off) * 60 + sec;
	*ret_ms = secs * 1000 + frac;
	return 0;
}

extern "C" void dd_format_rfc3339(int64_t ms, char *buf, size_t size)
{
	if (!buf || !size)
		return;
	const int64_t day_ms = 86400000;
	int64_t days = ms / day_ms, rem = ms % day_ms;
	if (rem < 0) {
		rem += day_ms;
		days--;
	}
	int64_t y;
	int m, dd;
	civil_from_days(days, &y, &m, &dd);
	int msec = (int)(rem % 1000);
	int64_t s = rem / 1000;
	snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, dd,
	         (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60), msec);
}
