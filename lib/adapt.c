/* Format adapters: dispatch, shared JSON and header helpers, the bounded request/response join
 * table and the event builder (see adapt.h, docs/formats.md). The per-format mappings live in
 * adapt_cloudevents.c, adapt_kserve.c and adapt_openai.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "adapt_int.h"
#include "decode.h"

static const char *const format_names[] = {
    [DD_FORMAT_NATIVE] = "native",       [DD_FORMAT_CLOUDEVENTS] = "cloudevents",
    [DD_FORMAT_KSERVE_V2] = "kserve-v2", [DD_FORMAT_OPENAI_CHAT] = "openai-chat",
    [DD_FORMAT_AUTO] = "auto",
};
#define N_FORMATS (sizeof(format_names) / sizeof(format_names[0]))

int dd_format_parse(const char *name, enum dd_format *ret)
{
	if (!name || !ret)
		return -EINVAL;
	for (size_t i = 0; i < N_FORMATS; i++)
		if (strcmp(name, format_names[i]) == 0) {
			*ret = (enum dd_format)i;
			return 0;
		}
	return -EINVAL;
}

const char *dd_format_name(enum dd_format f)
{
	return (unsigned)f < N_FORMATS ? format_names[f] : "unknown";
}

const char *dd_adapt_reject_name(enum dd_adapt_reject r)
{
	static const char *const names[] = {
	    [DD_ADAPT_OK] = "ok",
	    [DD_ADAPT_TOMBSTONE] = "tombstone",
	    [DD_ADAPT_NOT_JSON] = "not_json",
	    [DD_ADAPT_UNKNOWN_FORMAT] = "unknown_format",
	    [DD_ADAPT_BAD_HEADER] = "bad_header",
	    [DD_ADAPT_BAD_PAYLOAD] = "bad_payload",
	    [DD_ADAPT_TOO_LARGE] = "too_large",
	};
	return (unsigned)r < DD_ADAPT__MAX ? names[r] : "unknown";
}

/* ---- adapter lifetime ---- */

int dd_adapter_new(enum dd_format f, const struct dd_adapter_opts *o, struct dd_adapter **ret)
{
	if (!ret || (unsigned)f >= N_FORMATS)
		return -EINVAL;
	struct dd_adapter_opts d = o ? *o : (struct dd_adapter_opts){0};
	if (d.join_ttl_ms < 0 || d.max_pending > DD_ADAPT_MAX_PENDING_CAP ||
	    d.max_record > DD_LIMIT_MAX_RECORD_CAP)
		return -EINVAL;
	struct dd_adapter *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->format = f;
	a->ttl = d.join_ttl_ms ? d.join_ttl_ms : DD_ADAPT_JOIN_TTL_DEFAULT;
	a->max_pending = d.max_pending ? d.max_pending : DD_ADAPT_MAX_PENDING_DEFAULT;
	a->max_record = d.max_record ? d.max_record : DD_LIMIT_MAX_RECORD_DEFAULT;
	a->max_pending_bytes =
	    d.max_pending_bytes ? d.max_pending_bytes : DD_ADAPT_MAX_PENDING_BYTES_DEF;
	/* The seed only spreads ids over buckets; results never depend on it. */
	if (getrandom(&a->seed, sizeof(a->seed), GRND_NONBLOCK) != sizeof(a->seed))
		a->seed = (uint64_t)(uintptr_t)a * 0x9e3779b97f4a7c15ull;
	*ret = a;
	return 0;
}

void dd_half_free(struct dd_half *h)
{
	if (!h)
		return;
	free(h->frag);
	free(h->model_id);
	free(h->model_version);
	free(h->request_id);
	free(h->client_id);
	free(h->ce_model_id);
	free(h->ce_id);
	free(h->ce_info);
	free(h->key);
	free(h);
}

void dd_adapter_free(struct dd_adapter *a)
{
	if (!a)
		return;
	for (struct dd_half *h = a->oldest, *n; h; h = n) {
		n = h->newer;
		dd_half_free(h);
	}
	free(a->buckets);
	free(a->out);
	free(a);
}

void dd_adapter_stats(const struct dd_adapter *a, struct dd_adapter_stats *out)
{
	if (!a || !out)
		return;
	*out = a->st;
	out->pending = a->n_pending;
}

/* ---- JSON and text helpers ---- */

enum dd_adapt_reject dd_adapt_parse(const char *buf, size_t len, json_t **ret, int *rc)
{
	/* Duplicate keys are refused: dd_decode takes the first, jansson would keep the last, and
	 * a record that means different things to different readers is not monitored. Integers
	 * beyond int64 are read as doubles (as dd_decode does) rather than refused. */
	size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
	json_error_t err;
	*ret = NULL;
	json_t *j = json_loadb(buf, len, flags, &err);
	if (!j && json_error_code(&err) == json_error_numeric_overflow)
		j = json_loadb(buf, len, flags | JSON_DECODE_INT_AS_REAL, &err);
	if (j) {
		*ret = j;
		return DD_ADAPT_OK;
	}
	switch (json_error_code(&err)) {
	case json_error_out_of_memory:
		*rc = -ENOMEM;
		return DD_ADAPT_OK;
	case json_error_duplicate_key:
	case json_error_stack_overflow: /* nesting beyond 2048: valid JSON, no format's shape */
		return DD_ADAPT_BAD_PAYLOAD;
	default:
		return DD_ADAPT_NOT_JSON;
	}
}

void dd_out_reset(struct dd_adapter *a)
{
	a->out_len = 0;
	a->out_over = false;
}

int dd_out_put(struct dd_adapter *a, const char *p, size_t n)
{
	if (a->out_over || n > a->max_record - a->out_len) {
		a->out_over = true;
		return 0;
	}
	if (a->out_len + n > a->out_cap) {
		size_t cap = a->out_cap ? a->out_cap : 1024;
		while (cap < a->out_len + n)
			cap *= 2;
		if (cap > a->max_record)
			cap = a->max_record;
		char *b = realloc(a->out, cap);
		if (!b)
			return -ENOMEM;
		a->out = b;
		a->out_cap = cap;
	}
	memcpy(a->out + a->out_len, p, n);
	a->out_len += n;
	return 0;
}

/* Digits a real needs to read back as the same double (jansson dumps "%.<p>g"). */
static int real_digits(double x)
{
	char b[40];
	for (int p = 15; p < 17; p++) {
		snprintf(b, sizeof(b), "%.*g", p, x);
		if (strtod(b, NULL) == x)
			return p;
	}
	return 17;
}

static int max_digits(const json_t *j, int have)
{
	if (have == 17)
		return have;
	if (json_is_real(j)) {
		int d = real_digits(json_real_value(j));
		return d > have ? d : have;
	}
	size_t i;
	const char *k;
	json_t *e;
	if (json_is_array(j))
		json_array_foreach (j, i, e)
			have = max_digits(e, have);
	else if (json_is_object(j))
		json_object_foreach ((json_t *)j, k, e)
			have = max_digits(e, have);
	return have;
}

/* Compact, with the fewest digits that keep every real exact: values read as "6.8" are written
 * as 6.8, not 6.7999999999999998 (jansson's default of 17 digits would also make a record of
 * short decimals up to six times longer). */
static size_t dump_flags(const json_t *j)
{
	return JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(max_digits(j, 15));
}

static int out_cb(const char *buffer, size_t size, void *data)
{
	struct dd_adapter *a = data;
	if (dd_out_put(a, buffer, size) < 0 || a->out_over)
		return -1;
	return 0;
}

int dd_out_json(struct dd_adapter *a, const json_t *j)
{
	if (json_dump_callback(j, out_cb, a, dump_flags(j)) < 0 && !a->out_over)
		return -ENOMEM;
	return 0;
}

char *dd_json_text(const json_t *j, size_t *len)
{
	size_t flags = dump_flags(j);
	size_t n = json_dumpb(j, NULL, 0, flags);
	if (n == 0)
		return NULL;
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	if (json_dumpb(j, s, n, flags) != n) {
		free(s);
		return NULL;
	}
	s[n] = '\0';
	*len = n;
	return s;
}

int dd_json_str(const json_t *j, char **out)
{
	*out = NULL;
	if (!json_is_string(j) || json_string_length(j) == 0)
		return 0;
	if (memchr(json_string_value(j), '\0', json_string_length(j)))
		return -EBADMSG;
	*out = strdup(json_string_value(j));
	return *out ? 0 : -ENOMEM;
}

size_t dd_utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

const struct dd_header *dd_header_find(const struct dd_record *r, const char *name)
{
	const struct dd_header *found = NULL;
	for (size_t i = 0; i < r->n_headers; i++)
		if (r->headers[i].key && strcasecmp(r->headers[i].key, name) == 0)
			found = &r->headers[i];
	return found;
}

char *dd_header_text(const struct dd_header *h, enum dd_adapt_reject *why)
{
	*why = DD_ADAPT_BAD_HEADER;
	if (!h->value || h->len > DD_ADAPT_MAX_HEADER || memchr(h->value, '\0', h->len))
		return NULL;
	/* json_stringn validates UTF-8 */
	json_t *s = json_stringn(h->value, h->len);
	if (!s)
		return NULL;
	json_decref(s);
	*why = DD_ADAPT_OK;
	return strndup(h->value, h->len);
}

/* ---- events ---- */

static void seen_time(struct dd_adapter *a, int64_t t)
{
	if (!a->has_hwm || t > a->hwm) {
		a->hwm = t;
		a->has_hwm = true;
	}
}

json_t *dd_ce_info(const struct dd_ce *ce, bool with_type)
{
	json_t *info = json_object();
	const char *keys[] = {
	    "type",      "source",  "subject", "namespace", "inferenceservicename",
	    "component", "endpoint"};
	const char *vals[] = {with_type ? ce->type : NULL,
	                      ce->source,
	                      ce->subject,
	                      ce->namespace_,
	                      ce->isvc,
	                      ce->component,
	                      ce->endpoint};
	for (size_t i = 0; info && i < sizeof(keys) / sizeof(keys[0]); i++)
		if (vals[i] && json_object_set_new(info, keys[i], json_string(vals[i])) < 0) {
			json_decref(info);
			info = NULL;
		}
	return info;
}

int dd_half_set_context(struct dd_half *h, const struct dd_ce *ce, const struct dd_record *r,
                        bool with_type)
{
	h->kafka_ts = r->ts_ms >= 0 ? r->ts_ms : -1;
	if (!ce || !ce->present)
		return 0;
	const char *m = ce->isvc ? ce->isvc : ce->source;
	if ((m && !(h->ce_model_id = strdup(m))) || (ce->id && !(h->ce_id = strdup(ce->id))))
		return -ENOMEM;
	h->has_ce_ts = ce->has_time;
	h->ce_ts = ce->time_ms;
	json_t *info = dd_ce_info(ce, with_type);
	size_t len;
	if (!info || !(h->ce_info = dd_json_text(info, &len))) {
		json_decref(info);
		return -ENOMEM;
	}
	json_decref(info);
	return 0;
}

char *dd_join_key(const struct dd_ce *ce, const char *id, size_t *len)
{
	const char *parts[] = {id ? id : "", NULL, NULL, NULL, NULL};
	if (ce && ce->present) {
		parts[1] = ce->namespace_;
		parts[2] = ce->isvc;
		parts[3] = ce->component;
		parts[4] = ce->endpoint;
	}
	size_t n = 0;
	for (size_t i = 0; i < 5; i++)
		n += (parts[i] ? strlen(parts[i]) : 0) + 1;
	char *k = malloc(n);
	if (!k)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < 5; i++) {
		size_t l = parts[i] ? strlen(parts[i]) : 0;
		memcpy(k + o, parts[i] ? parts[i] : "", l);
		o += l;
		k[o++] = '\x1f'; /* unit separator: absent and empty parts alike */
	}
	*len = o;
	return k;
}

static const char *pick(const char *a, const char *b, const char *c, const char *d)
{
	return a ? a : b ? b : c ? c : d;
}

bool dd_adapt_ts_ok(int64_t ms)
{
	return ms >= -62167219200000LL && ms <= 253402300799999LL;
}

static int put_str(struct dd_adapter *a, const char *s)
{
	return dd_out_put(a, s, strlen(s));
}

struct dd_res dd_emit_pair(struct dd_adapter *a, const struct dd_half *req,
                           const struct dd_half *resp)
{
	const struct dd_half none = {.kafka_ts = -1};
	const struct dd_half *q = req ? req : &none, *s = resp ? resp : &none;
	struct dd_res res = {0};
	json_t *meta = json_object();
	if (!meta)
		return (struct dd_res){-ENOMEM, DD_ADAPT_OK};
	int bad = 0;

	const char *mid = pick(s->model_id, q->model_id, s->ce_model_id, q->ce_model_id);
	const char *mver = s->model_version ? s->model_version : q->model_version;
	if (mid || mver) {
		json_t *m = json_object();
		bad |= !m || json_object_set_new(meta, "model", m) < 0;
		if (mid)
			bad |= json_object_set_new(m, "id", json_string(mid)) < 0;
		if (mver)
			bad |= json_object_set_new(m, "version", json_string(mver)) < 0;
	}
	const char *rid = pick(s->request_id, q->request_id, q->ce_id, s->ce_id);
	if (rid)
		bad |= json_object_set_new(meta, "request_id", json_string(rid)) < 0;
	const char *cid = q->client_id ? q->client_id : s->client_id;
	if (cid) {
		json_t *c = json_pack("{s:s}", "id", cid);
		bad |= json_object_set_new(meta, "client", c) < 0;
	}
	bool has_ts = false;
	int64_t ts = 0;
	const struct dd_half *order[] = {q, s};
	for (int pass = 0; pass < 3 && !has_ts; pass++)
		for (int k = 0; k < 2 && !has_ts; k++) {
			const struct dd_half *h = order[k];
			if (pass == 0 && h->has_data_ts)
				has_ts = true, ts = h->data_ts;
			else if (pass == 1 && h->has_ce_ts)
				has_ts = true, ts = h->ce_ts;
			else if (pass == 2 && h->kafka_ts >= 0)
				has_ts = true, ts = h->kafka_ts;
		}
	if (has_ts && dd_adapt_ts_ok(ts)) {
		char buf[32];
		dd_format_rfc3339(ts, buf, sizeof(buf));
		bad |= json_object_set_new(meta, "ts", json_string(buf)) < 0;
	}
	/* CloudEvents times are the logger's capture times of request and response. */
	if (req && resp && q->has_ce_ts && s->has_ce_ts && s->ce_ts >= q->ce_ts &&
	    s->ce_ts - q->ce_ts <= (int64_t)1 << 52)
		bad |= json_object_set_new(meta, "latency_ms",
		                           json_integer((json_int_t)(s->ce_ts - q->ce_ts))) < 0;
	size_t mlen = 0;
	char *mtext = bad ? NULL : dd_json_text(meta, &mlen);
	json_decref(meta);
	if (!mtext)
		return (struct dd_res){-ENOMEM, DD_ADAPT_OK};

	/* {meta..., "cloudevent": ..., "input": ..., "output": ...} spliced as text, so the
	 * halves' mapped text is used as it was stored. */
	dd_out_reset(a);
	int rc = dd_out_put(a, mtext, mlen - 1); /* "{...meta" without its '}' */
	bool first = mlen == 2;
	const char *ce = q->ce_info ? q->ce_info : s->ce_info;
	if (!rc && ce) {
		rc = put_str(a, first ? "\"cloudevent\":" : ",\"cloudevent\":");
		rc = rc ? rc : put_str(a, ce);
		first = false;
	}
	if (!rc && req) {
		rc = put_str(a, first ? "\"input\":" : ",\"input\":");
		rc = rc ? rc : dd_out_put(a, req->frag, req->frag_len);
		first = false;
	}
	if (!rc && resp) {
		rc = put_str(a, first ? "\"output\":" : ",\"output\":");
		rc = rc ? rc : dd_out_put(a, resp->frag, resp->frag_len);
	}
	rc = rc ? rc : put_str(a, "}");
	free(mtext);
	if (rc)
		res = (struct dd_res){rc, DD_ADAPT_OK};
	else if (a->out_over)
		res = (struct dd_res){-E2BIG, DD_ADAPT_TOO_LARGE};
	return res;
}

/* ---- join table ---- */

static uint64_t hash_key(uint64_t seed, const char *k, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static struct dd_half **bucket_of(struct dd_adapter *a, const char *k, size_t n)
{
	return &a->buckets[hash_key(a->seed, k, n) & (a->n_buckets - 1)];
}

static void unlink_half(struct dd_adapter *a, struct dd_half *h)
{
	for (struct dd_half **p = bucket_of(a, h->key, h->key_len); *p; p = &(*p)->chain)
		if (*p == h) {
			*p = h->chain;
			break;
		}
	if (h->older)
		h->older->newer = h->newer;
	else
		a->oldest = h->newer;
	if (h->newer)
		h->newer->older = h->older;
	else
		a->newest = h->older;
	a->n_pending--;
	a->pending_bytes -= h->bytes;
	h->older = h->newer = h->chain = NULL;
}

static size_t slen(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

struct dd_res dd_join_offer(struct dd_adapter *a, struct dd_half *h, const char *key,
                            size_t key_len, bool *emitted)
{
	*emitted = false;
	if (!a->buckets) {
		size_t n = 16;
		while (n < a->max_pending)
			n *= 2;
		a->buckets = calloc(n, sizeof(*a->buckets));
		if (!a->buckets) {
			dd_half_free(h);
			return (struct dd_res){-ENOMEM, DD_ADAPT_OK};
		}
		a->n_buckets = n;
	}
	h->key = malloc(key_len ? key_len : 1);
	if (!h->key) {
		dd_half_free(h);
		return (struct dd_res){-ENOMEM, DD_ADAPT_OK};
	}
	memcpy(h->key, key, key_len);
	h->key_len = key_len;
	h->src = a->cur_src;
	h->offset = a->cur_offset;
	if (h->kafka_ts >= 0)
		h->t = h->kafka_ts, h->has_t = true;
	else if (h->has_ce_ts)
		h->t = h->ce_ts, h->has_t = true;
	else if (a->has_hwm)
		h->t = a->hwm, h->has_t = true;

	struct dd_half *e = *bucket_of(a, key, key_len);
	while (e && !(e->key_len == key_len && memcmp(e->key, key, key_len) == 0))
		e = e->chain;
	if (e) {
		unlink_half(a, e);
		if (e->side == h->side) {
			a->st.unpaired_evicted++; /* replaced by a newer half with the same id */
		} else if (e->has_t && h->has_t &&
		           (e->t > h->t ? (uint64_t)e->t - (uint64_t)h->t
		                        : (uint64_t)h->t - (uint64_t)e->t) > (uint64_t)a->ttl) {
			a->st.unpaired_expired++; /* the partner came too late */
		} else {
			const struct dd_half *q = h->side == DD_SIDE_REQUEST ? h : e;
			const struct dd_half *s = h->side == DD_SIDE_REQUEST ? e : h;
			struct dd_res res = dd_emit_pair(a, q, s);
			dd_half_free(e);
			dd_half_free(h);
			*emitted = res.rc == 0;
			return res;
		}
		dd_half_free(e);
	}

	h->bytes = sizeof(*h) + h->frag_len + 1 + h->key_len + slen(h->model_id) +
	           slen(h->model_version) + slen(h->request_id) + slen(h->client_id) +
	           slen(h->ce_model_id) + slen(h->ce_id) + slen(h->ce_info);
	if (h->bytes > a->max_pending_bytes) {
		a->st.unpaired_evicted++; /* could never be held */
		dd_half_free(h);
		return (struct dd_res){0};
	}
	while (a->n_pending >= a->max_pending ||
	       a->pending_bytes + h->bytes > a->max_pending_bytes) {
		struct dd_half *old = a->oldest;
		unlink_half(a, old);
		dd_half_free(old);
		a->st.unpaired_evicted++;
	}
	struct dd_half **b = bucket_of(a, key, key_len);
	h->chain = *b;
	*b = h;
	h->older = a->newest;
	if (a->newest)
		a->newest->newer = h;
	else
		a->oldest = h;
	a->newest = h;
	a->n_pending++;
	a->pending_bytes += h->bytes;
	return (struct dd_res){0};
}

void dd_adapter_drop(struct dd_adapter *a, uint32_t src)
{
	for (struct dd_half *h = a && src ? a->oldest : NULL, *next; h; h = next) {
		next = h->newer;
		if (h->src == src) {
			unlink_half(a, h);
			dd_half_free(h);
		}
	}
}

size_t dd_adapter_held(const struct dd_adapter *a, uint32_t src, int64_t *out, size_t max)
{
	size_t n = 0;
	for (const struct dd_half *h = a && src ? a->oldest : NULL; h; h = h->newer)
		if (h->src == src) {
			if (n < max)
				out[n] = h->offset;
			n++;
		}
	return n;
}

size_t dd_adapter_expire(struct dd_adapter *a, int64_t now_ms)
{
	return dd_adapter_expire_src(a, 0, now_ms);
}

size_t dd_adapter_expire_src(struct dd_adapter *a, uint32_t src, int64_t now_ms)
{
	if (!a)
		return 0;
	int64_t limit;
	if (__builtin_sub_overflow(now_ms, a->ttl, &limit))
		return 0;
	size_t n = 0;
	for (struct dd_half *h = a->oldest, *next; h; h = next) {
		next = h->newer;
		if ((!src || h->src == src) && h->has_t && h->t < limit) {
			unlink_half(a, h);
			dd_half_free(h);
			n++;
		}
	}
	a->st.unpaired_expired += n;
	return n;
}

/* ---- dispatch ---- */

static struct dd_res reject(enum dd_adapt_reject why)
{
	int rc = why == DD_ADAPT_TOMBSTONE   ? -ENODATA
	         : why == DD_ADAPT_TOO_LARGE ? -E2BIG
	                                     : -EBADMSG;
	return (struct dd_res){rc, why};
}

/* Parse a record's value; res.rc != 0 on failure. */
static struct dd_res parse_value(const struct dd_record *r, json_t **j)
{
	int rc = 0;
	enum dd_adapt_reject why = dd_adapt_parse(r->value, r->len, j, &rc);
	if (rc)
		return (struct dd_res){rc, DD_ADAPT_OK};
	return why ? reject(why) : (struct dd_res){0};
}

static struct dd_res adapt_auto(struct dd_adapter *a, const struct dd_record *r, bool *emitted,
                                bool *passthrough)
{
	if (dd_cloudevents_headers(r))
		return dd_cloudevents_adapt(a, r, NULL, emitted);
	json_t *j;
	struct dd_res res = parse_value(r, &j);
	if (res.rc)
		return res;
	switch (dd_shape_of(j)) {
	case DD_SHAPE_CLOUDEVENT:
		return dd_cloudevents_adapt(a, r, j, emitted); /* takes j */
	case DD_SHAPE_OIP_REQ:
	case DD_SHAPE_OIP_RESP:
	case DD_SHAPE_OIP_PAIR:
		res = dd_kserve_adapt(a, r, j, NULL, emitted);
		break;
	case DD_SHAPE_OPENAI:
		res = dd_openai_adapt(a, r, j, NULL, emitted);
		break;
	default:
		*passthrough = true; /* native, or for dd_decode to judge */
		break;
	}
	json_decref(j);
	return res;
}

int dd_adapt(struct dd_adapter *a, const struct dd_record *r, const char **out, size_t *out_len,
             enum dd_adapt_reject *why)
{
	if (why)
		*why = DD_ADAPT_OK;
	if (!a || !r || !out || !out_len || (r->n_headers && !r->headers))
		return -EINVAL;
	*out = NULL;
	*out_len = 0;
	a->cur_src = r->src;
	a->cur_offset = r->offset;
	struct dd_res res = {0};
	bool emitted = false, passthrough = false;
	if (!r->value)
		res = reject(DD_ADAPT_TOMBSTONE);
	else if (r->len > a->max_record)
		res = reject(DD_ADAPT_TOO_LARGE);
	if (!res.rc && r->ts_ms >= 0)
		seen_time(a, r->ts_ms);
	if (!res.rc) {
		json_t *j = NULL;
		switch (a->format) {
		case DD_FORMAT_NATIVE:
			passthrough = true;
			break;
		case DD_FORMAT_CLOUDEVENTS:
			res = dd_cloudevents_adapt(a, r, NULL, &emitted);
			break;
		case DD_FORMAT_KSERVE_V2:
			res = parse_value(r, &j);
			if (!res.rc)
				res = dd_kserve_adapt(a, r, j, NULL, &emitted);
			json_decref(j);
			break;
		case DD_FORMAT_OPENAI_CHAT:
			res = parse_value(r, &j);
			if (!res.rc)
				res = dd_openai_adapt(a, r, j, NULL, &emitted);
			json_decref(j);
			break;
		case DD_FORMAT_AUTO:
			res = adapt_auto(a, r, &emitted, &passthrough);
			break;
		}
	}
	if (res.rc) {
		if (res.why) {
			a->st.rejects[res.why]++;
			if (why)
				*why = res.why;
		}
		return res.rc;
	}
	if (passthrough) {
		*out = r->value;
		*out_len = r->len;
		a->st.adapted++;
	} else if (emitted) {
		*out = a->out;
		*out_len = a->out_len;
		a->st.adapted++;
	}
	return 0;
}

void dd_adapt_seen_time(struct dd_adapter *a, int64_t t)
{
	seen_time(a, t);
}

/* ---- shapes ---- */

static bool has_string(const json_t *o, const char *k, const char *v)
{
	const json_t *s = json_object_get(o, k);
	return json_is_string(s) && strcmp(json_string_value(s), v) == 0;
}

static bool openai_response_like(const json_t *o)
{
	return json_is_array(json_object_get(o, "choices")) ||
	       has_string(o, "object", "chat.completion");
}

enum dd_shape dd_shape_of(const json_t *j)
{
	if (!json_is_object(j))
		return DD_SHAPE_UNKNOWN;
	if (json_is_object(json_object_get(j, "model")))
		return DD_SHAPE_NATIVE;
	if (json_is_string(json_object_get(j, "specversion")))
		return DD_SHAPE_CLOUDEVENT;
	if (json_is_array(json_object_get(j, "inputs")))
		return DD_SHAPE_OIP_REQ;
	if (json_is_array(json_object_get(j, "outputs")))
		return DD_SHAPE_OIP_RESP;
	const json_t *req = json_object_get(j, "request"), *resp = json_object_get(j, "response");
	if (json_is_object(resp) && (!req || json_is_object(req))) {
		if (json_is_object(req) && json_is_array(json_object_get(req, "inputs")) &&
		    json_is_array(json_object_get(resp, "outputs")))
			return DD_SHAPE_OIP_PAIR;
		if (openai_response_like(resp) || json_is_object(json_object_get(resp, "error")))
			return DD_SHAPE_OPENAI;
	}
	if (openai_response_like(j))
		return DD_SHAPE_OPENAI;
	if (json_is_array(json_object_get(j, "messages")))
		return DD_SHAPE_OPENAI_REQ;
	if (json_object_get(j, "instances"))
		return DD_SHAPE_V1_REQ;
	if (json_object_get(j, "predictions"))
		return DD_SHAPE_V1_RESP;
	if (json_object_get(j, "model") || json_object_get(j, "input") ||
	    json_object_get(j, "output") || json_object_get(j, "ts"))
		return DD_SHAPE_NATIVE;
	return DD_SHAPE_UNKNOWN;
}
