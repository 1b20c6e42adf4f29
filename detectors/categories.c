/* categories: the bounded category table behind the categorical detectors.
 *
 * What a category is. A value's category is its type and its key bytes:
 *   string  the UTF-8 bytes as given (no normalisation, case or whitespace folding);
 *   number  the value itself: 1, 1.0 and 1e0 are one category and -0 is 0 (the key is the
 *           IEEE-754 bits, little-endian; %.17g renders it where a name is shown);
 *   bool    false or true.
 * Types never mix: the string "1", the number 1 and true are three categories (a producer that
 * switches a field from 1 to "1" is itself a change worth seeing).
 *
 * Bounded strings. At most max_length bytes of a string are stored. A longer string is
 * identified by its first max_length bytes, its full length and a 64-bit keyed hash of all its
 * bytes, so two long strings only merge into one category if they share the stored prefix and
 * the length and collide in the hash (probability about 2^-64 per pair).
 *
 * Reference. reference_add counts every distinct category of the reference exactly (the table
 * is sized at init for shape.reference_size distinct values, so it cannot overflow).
 * reference_done ranks them by count, descending; ties go to the smaller category in the order
 * bool < number < string; false < true; numbers by value; strings bytewise (a prefix first;
 * for two stored prefixes that are equal, by full length, then by hash). The first
 * max_categories are kept with their keys and counts; the others are merged into one "other"
 * column whose members are remembered as their 64-bit hashes only.
 *
 * Windows. update classifies each value into one of n_kept + 2 columns: a kept category (key
 * compared in full, hash first), "other" (a reference category that was not kept, recognised
 * by hash), or "unseen" (never in the reference). Unseen values are counted, never dropped;
 * their names are not kept (a bounded list of names could not be merged exactly).
 * The hash is SipHash-1-3 keyed from shape.seed, so colliding values cannot be precomputed
 * without the monitor's seed; a collision with an "other" hash would count an unseen value as
 * other (probability about n_other * 2^-64 per value).
 *
 * Cost. update: one hash of the value and an expected O(1) probe of an index at most half
 * full, whose slots carry half of the hash so that most misses never touch a category; no
 * allocation. reference_add: the same on the collecting table. reference_done: a sort of the
 * distinct reference categories. evaluate: O(n_kept).
 * Memory: while collecting, address space for shape.reference_size distinct categories (40 +
 * max_length bytes each, touched only as distinct categories arrive) and a 6 to 12 bytes per
 * value index; once ready (the collecting table is freed), max_categories * (72 + max_length)
 * bytes, plus 24 to 40 bytes per distinct reference category for the index and "other" hashes.
 *
 * Errors: reference_add past shape.reference_size -ENOSPC; reference_done without values
 * -ENODATA; update before reference_done, or reference_add/reference_done after it, -EINVAL;
 * a value that is not a string, bool or finite number -EDOM (the state is then unchanged);
 * a window count at UINT64_MAX -EOVERFLOW.
 *
 * Merge (DRIFTD_CAP_MERGE) adds window counts when both states hold the same reference
 * summary (same hash key, kept keys and counts, other count and other hashes), else -EINVAL. A
 * state without reference values is the identity; merging into one copies the other's summary.
 * States still collecting cannot be merged (the window counts are what merging is for).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "categories.h"

/* ---- hashing ---- */

static uint64_t rd_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static void wr_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIP_ROUND()                                                                                \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = rotl(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = rotl(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = rotl(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = rotl(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = rotl(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = rotl(v2, 32);                                                                 \
	} while (0)

/* SipHash-1-3 (one compression round, three finalisation rounds): keyed, so an adversary
 * without the key cannot aim collisions at the table. */
static uint64_t siphash13(uint64_t k0, uint64_t k1, const uint8_t *p, size_t n)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t m = rd_le64(p + i);
		v3 ^= m;
		SIP_ROUND();
		v0 ^= m;
	}
	uint64_t b = (uint64_t)n << 56;
	const uint8_t *t = n & 7 ? p + i : NULL;
	switch (n & 7) {
	case 7:
		b |= (uint64_t)t[6] << 48;
		/* fall through */
	case 6:
		b |= (uint64_t)t[5] << 40;
		/* fall through */
	case 5:
		b |= (uint64_t)t[4] << 32;
		/* fall through */
	case 4:
		b |= (uint64_t)t[3] << 24;
		/* fall through */
	case 3:
		b |= (uint64_t)t[2] << 16;
		/* fall through */
	case 2:
		b |= (uint64_t)t[1] << 8;
		/* fall through */
	case 1:
		b |= (uint64_t)t[0];
		break;
	default:
		break;
	}
	v3 ^= b;
	SIP_ROUND();
	v0 ^= b;
	v2 ^= 0xff;
	SIP_ROUND();
	SIP_ROUND();
	SIP_ROUND();
	return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A value as a key: type, bytes (pointing into the value or into buf) and its hash. */
struct cat_key {
	uint8_t tag;
	const uint8_t *p;
	size_t len;
	uint64_t hash;
	uint8_t buf[8];
};

static uint64_t cat_hash(const struct dd_cat *t, uint8_t tag, const uint8_t *p, size_t n)
{
	/* the type goes into the key, so equal bytes of different types hash apart */
	return siphash13(t->k0, t->k1 ^ tag, p, n);
}

/* The hash of the empty key with tag 0, written into snapshots so that a snapshot taken with
 * another seed (whose hashes would all be wrong here) is refused. */
static uint64_t cat_key_check(const struct dd_cat *t)
{
	return cat_hash(t, 0, NULL, 0);
}

static int cat_key_of(const struct dd_cat *t, const struct driftd_value *v, struct cat_key *k)
{
	switch (v->type) {
	case DRIFTD_VALUE_NUMBER: {
		if (!isfinite(v->num))
			return -EDOM;
		double x = v->num == 0 ? 0.0 : v->num; /* -0 is 0 */
		uint64_t bits;
		memcpy(&bits, &x, sizeof(bits));
		wr_le64(k->buf, bits);
		k->p = k->buf;
		k->len = 8;
		break;
	}
	case DRIFTD_VALUE_BOOL:
		if (isnan(v->num))
			return -EDOM;
		k->buf[0] = v->num != 0;
		k->p = k->buf;
		k->len = 1;
		break;
	case DRIFTD_VALUE_STRING:
		if (v->len > 0 && !v->str)
			return -EDOM;
		k->p = (const uint8_t *)v->str;
		k->len = v->len;
		break;
	default:
		return -EDOM;
	}
	k->tag = (uint8_t)v->type;
	k->hash = cat_hash(t, k->tag, k->p, k->len);
	return 0;
}

static size_t stored_len(const struct dd_cat *t, uint64_t len)
{
	return len < t->slot ? (size_t)len : t->slot;
}

static bool entry_is(const struct dd_cat *t, const struct dd_cat_entry *e, const struct cat_key *k)
{
	return e->hash == k->hash && e->tag == k->tag && e->len == k->len &&
	       (e->stored == 0 || memcmp(e->key, k->p, stored_len(t, k->len)) == 0);
}

/* Rank order among categories of equal count (see the header comment). */
static int type_rank(uint8_t tag)
{
	return tag == DRIFTD_VALUE_BOOL ? 0 : tag == DRIFTD_VALUE_NUMBER ? 1 : 2;
}

static double key_number(const uint8_t *p)
{
	uint64_t bits = rd_le64(p);
	double x;
	memcpy(&x, &bits, sizeof(x));
	return x;
}

static int cat_order(const struct dd_cat_entry *a, const struct dd_cat_entry *b)
{
	int ra = type_rank(a->tag), rb = type_rank(b->tag);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (a->tag == DRIFTD_VALUE_NUMBER) {
		double x = key_number(a->key), y = key_number(b->key);
		return (x > y) - (x < y);
	}
	size_t n = a->stored < b->stored ? a->stored : b->stored;
	int c = n ? memcmp(a->key, b->key, n) : 0;
	if (c)
		return c < 0 ? -1 : 1;
	if (a->stored != b->stored)
		return a->stored < b->stored ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return (a->hash > b->hash) - (a->hash < b->hash);
}

/* Count descending, then cat_order. */
static int rank_cmp(const void *pa, const void *pb)
{
	const struct dd_cat_entry *a = *(const struct dd_cat_entry *const *)pa;
	const struct dd_cat_entry *b = *(const struct dd_cat_entry *const *)pb;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return cat_order(a, b);
}

static int u64_cmp(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
	return (a > b) - (a < b);
}

/* Smallest power of two >= n (n >= 1, small enough not to overflow). */
static size_t pow2_at_least(size_t n)
{
	size_t c = 1;
	while (c < n)
		c <<= 1;
	return c;
}

/* ---- life cycle ---- */

int dd_cat_check_config(const struct dd_cat_config *c, const char **why)
{
	if (c->max_categories < 1 || c->max_categories > DD_CAT_MAX_CATEGORIES) {
		*why = "max_categories must be between 1 and 65536";
		return -EINVAL;
	}
	if (c->max_length < DD_CAT_MIN_LENGTH || c->max_length > DD_CAT_MAX_LENGTH) {
		*why = "max_length must be between 8 and 1024";
		return -EINVAL;
	}
	return 0;
}

static void free_ready(struct dd_cat *t)
{
	free(t->other);
	free(t->look);
	t->other = NULL;
	t->look = NULL;
	t->n_other = 0;
	t->look_mask = 0;
}

static void free_collecting(struct dd_cat *t)
{
	free(t->coll);
	free(t->coll_idx);
	free(t->arena);
	t->coll = NULL;
	t->coll_idx = NULL;
	t->arena = NULL;
}

void dd_cat_op_done(struct driftd_ctx *ctx)
{
	struct dd_cat *t = ctx->state;
	free_ready(t);
	free_collecting(t);
	free(t->kept);
	free(t->kept_keys);
	free(t->ref_cnt);
	free(t->win_cnt);
	free(t->scratch);
	t->kept = NULL;
	t->kept_keys = NULL;
	t->ref_cnt = NULL;
	t->win_cnt = NULL;
	t->scratch = NULL;
}

/* Back to the state right after init, re-allocating the collecting table if it was freed. */
static int cat_clear(struct dd_cat *t)
{
	if (!t->coll)
		t->coll = malloc(t->ref_cap * sizeof(*t->coll));
	if (!t->arena)
		t->arena = malloc(t->ref_cap * t->slot);
	if (!t->coll_idx)
		t->coll_idx = calloc(t->coll_mask + 1, sizeof(uint32_t));
	else if (t->n_coll)
		memset(t->coll_idx, 0, (t->coll_mask + 1) * sizeof(uint32_t));
	if (!t->coll || !t->arena || !t->coll_idx)
		return -ENOMEM;
	free_ready(t);
	t->phase = DD_CAT_COLLECTING;
	t->n_coll = 0;
	t->arena_used = 0;
	t->ref_n = 0;
	t->n_kept = 0;
	memset(t->kept, 0, t->max_cats * sizeof(*t->kept));
	for (size_t i = 0; i < t->max_cats; i++)
		t->kept[i].key = t->kept_keys + i * t->slot;
	memset(t->ref_cnt, 0, (t->max_cats + 2) * sizeof(uint64_t));
	memset(t->win_cnt, 0, (t->max_cats + 2) * sizeof(uint64_t));
	t->ref_total = 0;
	t->win_total = 0;
	return 0;
}

int dd_cat_op_init(struct driftd_ctx *ctx)
{
	const struct dd_cat_config *c = ctx->config;
	struct dd_cat *t = ctx->state;
	const char *why;
	size_t n = ctx->shape.reference_size;

	if (dd_cat_check_config(c, &why) < 0)
		return -EINVAL;
	/* indices are 32-bit and the index is sized 1.5 n; the host allows at most 1e7 */
	if (n == 0 || n > UINT32_MAX / 4)
		return -EINVAL;
	t->max_cats = (size_t)c->max_categories;
	t->slot = (size_t)c->max_length;
	t->ref_cap = n;
	if (n > SIZE_MAX / t->slot)
		return -EINVAL;
	uint64_t x = ctx->shape.seed;
	t->k0 = splitmix64(&x);
	t->k1 = splitmix64(&x);
	t->coll_mask = pow2_at_least(n + n / 2 + 1) - 1;

	t->kept = calloc(t->max_cats, sizeof(*t->kept));
	t->kept_keys = calloc(t->max_cats, t->slot);
	t->ref_cnt = calloc(t->max_cats + 2, sizeof(uint64_t));
	t->win_cnt = calloc(t->max_cats + 2, sizeof(uint64_t));
	t->scratch = calloc(2 * (t->max_cats + 2), sizeof(double));
	if (!t->kept || !t->kept_keys || !t->ref_cnt || !t->win_cnt || !t->scratch)
		return -ENOMEM;
	return cat_clear(t);
}

/* ---- collecting ---- */

/* The slot of k in the collecting index: its entry (index + 1) or the empty slot to fill. */
static size_t coll_find(const struct dd_cat *t, const struct cat_key *k)
{
	size_t i = (size_t)k->hash & t->coll_mask;
	for (;;) {
		uint32_t e = t->coll_idx[i];
		if (e == 0 || entry_is(t, &t->coll[e - 1], k))
			return i;
		i = (i + 1) & t->coll_mask;
	}
}

/* A new collecting entry for k (not present, room checked by the caller). */
static struct dd_cat_entry *coll_insert(struct dd_cat *t, size_t slot, const struct cat_key *k,
                                        uint64_t hash, uint64_t len)
{
	struct dd_cat_entry *e = &t->coll[t->n_coll];
	size_t st = stored_len(t, len);
	*e = (struct dd_cat_entry){
	    .hash = hash,
	    .len = len,
	    .count = 0,
	    .key = t->arena + t->arena_used,
	    .stored = (uint32_t)st,
	    .tag = k->tag,
	};
	if (st && e->key != k->p) /* restore parses keys in place */
		memcpy(e->key, k->p, st);
	t->arena_used += st;
	t->coll_idx[slot] = (uint32_t)++t->n_coll;
	return e;
}

int dd_cat_op_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct dd_cat *t = ctx->state;
	struct cat_key k;
	int rc = cat_key_of(t, v, &k);
	if (rc < 0)
		return rc;
	if (t->phase != DD_CAT_COLLECTING)
		return -EINVAL;
	if (t->ref_n >= t->ref_cap)
		return -ENOSPC;
	size_t slot = coll_find(t, &k);
	uint32_t e = t->coll_idx[slot];
	struct dd_cat_entry *ent = e ? &t->coll[e - 1] : coll_insert(t, slot, &k, k.hash, k.len);
	ent->count++;
	t->ref_n++;
	return 0;
}

/* Fill the lookup index over kept (ids 0 .. n_kept-1) and other (n_kept ..). */
static void look_build(struct dd_cat *t)
{
	size_t n = t->n_kept + t->n_other;
	for (size_t id = 0; id < n; id++) {
		uint64_t h = id < t->n_kept ? t->kept[id].hash : t->other[id - t->n_kept];
		size_t i = (size_t)h & t->look_mask;
		while (t->look[i].id)
			i = (i + 1) & t->look_mask;
		t->look[i] =
		    (struct dd_cat_slot){.id = (uint32_t)(id + 1), .hash_hi = (uint32_t)(h >> 32)};
	}
}

/* Allocate other[n_other] and the lookup index for n distinct categories. */
static int ready_alloc(struct dd_cat *t, size_t n_other, size_t n, uint64_t **other,
                       struct dd_cat_slot **look, size_t *mask)
{
	*mask = pow2_at_least(2 * n) - 1;
	*other = malloc((n_other ? n_other : 1) * sizeof(uint64_t));
	*look = calloc(*mask + 1, sizeof(struct dd_cat_slot));
	if (!*other || !*look) {
		free(*other);
		free(*look);
		return -ENOMEM;
	}
	return 0;
}

static void kept_set(struct dd_cat *t, size_t i, const struct dd_cat_entry *e)
{
	struct dd_cat_entry *d = &t->kept[i];
	uint8_t *key = d->key;
	*d = *e;
	d->key = key;
	if (e->stored)
		memcpy(key, e->key, e->stored);
}

int dd_cat_op_reference_done(struct driftd_ctx *ctx)
{
	struct dd_cat *t = ctx->state;
	if (t->phase != DD_CAT_COLLECTING)
		return -EINVAL;
	if (t->n_coll == 0)
		return -ENODATA;

	size_t n = t->n_coll;
	size_t n_kept = n < t->max_cats ? n : t->max_cats;
	const struct dd_cat_entry **order = malloc(n * sizeof(*order));
	uint64_t *other;
	struct dd_cat_slot *look;
	size_t mask;
	if (!order)
		return -ENOMEM;
	if (ready_alloc(t, n - n_kept, n, &other, &look, &mask) < 0) {
		free(order);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = &t->coll[i];
	qsort(order, n, sizeof(*order), rank_cmp);

	t->n_kept = n_kept;
	uint64_t rest = 0;
	for (size_t i = 0; i < n_kept; i++) {
		kept_set(t, i, order[i]);
		t->ref_cnt[i] = order[i]->count;
	}
	for (size_t i = n_kept; i < n; i++) {
		other[i - n_kept] = order[i]->hash;
		rest += order[i]->count;
	}
	free(order);
	t->n_other = n - n_kept;
	qsort(other, t->n_other, sizeof(uint64_t), u64_cmp);
	t->other = other;
	t->look = look;
	t->look_mask = mask;
	look_build(t);
	t->ref_cnt[n_kept] = rest;
	t->ref_cnt[n_kept + 1] = 0;
	t->ref_total = t->ref_n;
	t->win_total = 0;
	free_collecting(t);
	t->n_coll = 0;
	t->arena_used = 0;
	t->phase = DD_CAT_READY;
	return 0;
}

/* ---- windows ---- */

static size_t look_column(const struct dd_cat *t, const struct cat_key *k)
{
	size_t i = (size_t)k->hash & t->look_mask;
	uint32_t hi = (uint32_t)(k->hash >> 32);
	for (;; i = (i + 1) & t->look_mask) {
		struct dd_cat_slot e = t->look[i];
		if (e.id == 0)
			return t->n_kept + 1;
		if (e.hash_hi != hi)
			continue;
		size_t id = e.id - 1;
		if (id < t->n_kept) {
			if (entry_is(t, &t->kept[id], k))
				return id;
		} else if (t->other[id - t->n_kept] == k->hash) {
			return t->n_kept;
		}
	}
}

int dd_cat_op_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct dd_cat *t = ctx->state;
	struct cat_key k;
	int rc = cat_key_of(t, v, &k);
	if (rc < 0)
		return rc;
	if (t->phase != DD_CAT_READY)
		return -EINVAL;
	if (t->win_total == UINT64_MAX)
		return -EOVERFLOW;
	t->win_cnt[look_column(t, &k)]++;
	t->win_total++;
	return 0;
}

void dd_cat_op_window_reset(struct driftd_ctx *ctx)
{
	struct dd_cat *t = ctx->state;
	memset(t->win_cnt, 0, (t->max_cats + 2) * sizeof(uint64_t));
	t->win_total = 0;
}

int dd_cat_ready_to_evaluate(const struct dd_cat *t)
{
	if (t->phase != DD_CAT_READY)
		return -EINVAL;
	if (t->win_total == 0)
		return -ENODATA;
	return 0;
}

double dd_cat_pairwise_sum(const double *a, size_t n)
{
	if (n < 8) {
		double s = 0.0;
		for (size_t i = 0; i < n; i++)
			s += a[i];
		return s;
	}
	if (n <= 128) {
		double r[8];
		size_t i;
		for (int j = 0; j < 8; j++)
			r[j] = a[j];
		for (i = 8; i < n - n % 8; i += 8)
			for (int j = 0; j < 8; j++)
				r[j] += a[i + (size_t)j];
		double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
		for (; i < n; i++)
			s += a[i];
		return s;
	}
	size_t h = n / 2;
	h -= h % 8;
	return dd_cat_pairwise_sum(a, h) + dd_cat_pairwise_sum(a + h, n - h);
}

/* ---- merge ---- */

static bool same_entry(const struct dd_cat_entry *a, const struct dd_cat_entry *b)
{
	return a->hash == b->hash && a->len == b->len && a->count == b->count && a->tag == b->tag &&
	       a->stored == b->stored && (a->stored == 0 || memcmp(a->key, b->key, a->stored) == 0);
}

static bool same_reference(const struct dd_cat *d, const struct dd_cat *s)
{
	if (d->k0 != s->k0 || d->k1 != s->k1 || d->n_kept != s->n_kept ||
	    d->n_other != s->n_other || d->ref_total != s->ref_total ||
	    d->ref_cnt[d->n_kept] != s->ref_cnt[s->n_kept])
		return false;
	for (size_t i = 0; i < d->n_kept; i++)
		if (!same_entry(&d->kept[i], &s->kept[i]))
			return false;
	return d->n_other == 0 || memcmp(d->other, s->other, d->n_other * sizeof(uint64_t)) == 0;
}

static bool cat_fresh(const struct dd_cat *t)
{
	return t->phase == DD_CAT_COLLECTING && t->ref_n == 0;
}

/* d (fresh) becomes a copy of s (ready). */
static int copy_ready(struct dd_cat *d, const struct dd_cat *s)
{
	uint64_t *other;
	struct dd_cat_slot *look;
	size_t mask;
	/* the same table shape, so that d's own snapshot stays valid for d */
	if (s->max_cats != d->max_cats || s->slot != d->slot || s->ref_total > d->ref_cap ||
	    s->k0 != d->k0 || s->k1 != d->k1)
		return -EINVAL;
	if (ready_alloc(d, s->n_other, s->n_kept + s->n_other, &other, &look, &mask) < 0)
		return -ENOMEM;
	free_collecting(d);
	d->n_coll = 0;
	d->arena_used = 0;
	d->ref_n = 0;
	d->n_kept = s->n_kept;
	for (size_t i = 0; i < s->n_kept; i++)
		kept_set(d, i, &s->kept[i]);
	memcpy(other, s->other, s->n_other * sizeof(uint64_t));
	d->other = other;
	d->n_other = s->n_other;
	d->look = look;
	d->look_mask = mask;
	look_build(d);
	memcpy(d->ref_cnt, s->ref_cnt, (s->n_kept + 2) * sizeof(uint64_t));
	memcpy(d->win_cnt, s->win_cnt, (s->n_kept + 2) * sizeof(uint64_t));
	d->ref_total = s->ref_total;
	d->win_total = s->win_total;
	d->phase = DD_CAT_READY;
	return 0;
}

int dd_cat_op_merge(struct driftd_ctx *dst, const struct driftd_ctx *src)
{
	struct dd_cat *d = dst->state;
	const struct dd_cat *s = src->state;

	if (cat_fresh(s))
		return 0;
	if (s->phase != DD_CAT_READY)
		return -EINVAL;
	if (cat_fresh(d))
		return copy_ready(d, s);
	if (d->phase != DD_CAT_READY || !same_reference(d, s))
		return -EINVAL;
	if (s->win_total > UINT64_MAX - d->win_total)
		return -EOVERFLOW;
	for (size_t i = 0; i < d->n_kept + 2; i++)
		d->win_cnt[i] += s->win_cnt[i];
	d->win_total += s->win_total;
	return 0;
}

/* ---- snapshots ----
 *
 * Snapshot v1, little-endian u64 fields:
 *   u64 phase, u64 key check (a hash of the empty key: refuses snapshots of another seed)
 *   phase 0 (collecting): u64 values added, u64 n distinct, then n entries in first-seen order
 *   phase 1 (ready):      u64 n_kept, n_kept entries in rank order, u64 other count,
 *                         u64 n_other, n_other x u64 other hashes (ascending),
 *                         (n_kept + 2) x u64 window counts (kept..., other, unseen)
 *   entry: u64 type, u64 key length, u64 hash, u64 count, min(length, max_length) key bytes
 */
static void put_entry(struct driftd_buf *out, const struct dd_cat_entry *e)
{
	driftd_buf_put_u64(out, e->tag);
	driftd_buf_put_u64(out, e->len);
	driftd_buf_put_u64(out, e->hash);
	driftd_buf_put_u64(out, e->count);
	driftd_buf_put(out, e->key, e->stored);
}

int dd_cat_op_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct dd_cat *t = ctx->state;

	driftd_buf_put_u64(out, (uint64_t)t->phase);
	driftd_buf_put_u64(out, cat_key_check(t));
	if (t->phase == DD_CAT_COLLECTING) {
		driftd_buf_put_u64(out, t->ref_n);
		driftd_buf_put_u64(out, t->n_coll);
		for (size_t i = 0; i < t->n_coll; i++)
			put_entry(out, &t->coll[i]);
	} else {
		driftd_buf_put_u64(out, t->n_kept);
		for (size_t i = 0; i < t->n_kept; i++)
			put_entry(out, &t->kept[i]);
		driftd_buf_put_u64(out, t->ref_cnt[t->n_kept]);
		driftd_buf_put_u64(out, t->n_other);
		for (size_t i = 0; i < t->n_other; i++)
			driftd_buf_put_u64(out, t->other[i]);
		for (size_t i = 0; i < t->n_kept + 2; i++)
			driftd_buf_put_u64(out, t->win_cnt[i]);
	}
	return out->err;
}

/* One entry into e, its key bytes copied to key (room for max_length bytes). Everything a
 * value could not produce is refused: unknown types, non-canonical numbers and bools, zero
 * counts, and hashes that do not match the key (unless the key was cut, then unverifiable). */
static int parse_entry(const struct dd_cat *t, struct driftd_reader *r, struct dd_cat_entry *e,
                       uint8_t *key)
{
	uint64_t tag, len, hash, count;
	if (driftd_rd_u64(r, &tag) < 0 || driftd_rd_u64(r, &len) < 0 ||
	    driftd_rd_u64(r, &hash) < 0 || driftd_rd_u64(r, &count) < 0 || count == 0)
		return -EBADMSG;
	if (tag == DRIFTD_VALUE_NUMBER ? len != 8
	    : tag == DRIFTD_VALUE_BOOL ? len != 1
	                               : tag != DRIFTD_VALUE_STRING)
		return -EBADMSG;
	size_t st = stored_len(t, len);
	if (driftd_rd(r, key, st) < 0)
		return -EBADMSG;
	if (tag == DRIFTD_VALUE_NUMBER) {
		double x = key_number(key);
		if (!isfinite(x) || (x == 0 && signbit(x)))
			return -EBADMSG;
	} else if (tag == DRIFTD_VALUE_BOOL && key[0] > 1) {
		return -EBADMSG;
	}
	if (st == len && cat_hash(t, (uint8_t)tag, key, st) != hash)
		return -EBADMSG;
	*e = (struct dd_cat_entry){.hash = hash,
	                           .len = len,
	                           .count = count,
	                           .key = key,
	                           .stored = (uint32_t)st,
	                           .tag = (uint8_t)tag};
	return 0;
}

static int parse_collecting(struct dd_cat *t, struct driftd_reader *r)
{
	uint64_t n_values, n, sum = 0;
	if (driftd_rd_u64(r, &n_values) < 0 || driftd_rd_u64(r, &n) < 0 || n_values > t->ref_cap ||
	    n > n_values)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		struct dd_cat_entry e;
		if (parse_entry(t, r, &e, t->arena + t->arena_used) < 0)
			return -EBADMSG;
		struct cat_key k = {.tag = e.tag, .p = e.key, .len = e.len, .hash = e.hash};
		size_t slot = coll_find(t, &k);
		if (t->coll_idx[slot] || e.count > n_values - sum)
			return -EBADMSG; /* a duplicate, or more values than declared */
		coll_insert(t, slot, &k, e.hash, e.len)->count = e.count;
		sum += e.count;
	}
	if (sum != n_values)
		return -EBADMSG;
	t->ref_n = n_values;
	return 0;
}

static int parse_counts(struct driftd_reader *r, uint64_t *cnt, size_t n, uint64_t *total)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		if (driftd_rd_u64(r, &cnt[i]) < 0 || cnt[i] > UINT64_MAX - sum)
			return -EBADMSG;
		sum += cnt[i];
	}
	*total = sum;
	return 0;
}

static int parse_ready(struct dd_cat *t, struct driftd_reader *r)
{
	uint64_t n_kept, rest, n_other, total = 0;
	if (driftd_rd_u64(r, &n_kept) < 0 || n_kept < 1 || n_kept > t->max_cats)
		return -EBADMSG;
	for (size_t i = 0; i < n_kept; i++) {
		struct dd_cat_entry *e = &t->kept[i];
		if (parse_entry(t, r, e, t->kept_keys + i * t->slot) < 0)
			return -EBADMSG;
		/* strictly in rank order: sorted, and so no duplicates */
		if (i > 0) {
			const struct dd_cat_entry *p = e - 1;
			if (rank_cmp(&p, &e) >= 0)
				return -EBADMSG;
		}
		if (e->count > t->ref_cap - total)
			return -EBADMSG;
		total += e->count;
		t->ref_cnt[i] = e->count;
	}
	t->n_kept = n_kept;
	if (driftd_rd_u64(r, &rest) < 0 || driftd_rd_u64(r, &n_other) < 0)
		return -EBADMSG;
	/* Others exist only when the table overflowed, each with at least one value and none
	 * more frequent than the last kept category. (n_other <= rest <= ref_cap, so the
	 * product cannot overflow.) */
	if (n_other > r->left / sizeof(uint64_t) || (n_other > 0 && n_kept != t->max_cats) ||
	    (n_other == 0) != (rest == 0) || rest < n_other || rest > t->ref_cap - total ||
	    rest > n_other * t->kept[n_kept - 1].count)
		return -EBADMSG;
	uint64_t *other;
	struct dd_cat_slot *look;
	size_t mask;
	if (ready_alloc(t, (size_t)n_other, (size_t)(n_kept + n_other), &other, &look, &mask) < 0)
		return -ENOMEM;
	t->other = other;
	t->look = look;
	t->look_mask = mask;
	for (size_t i = 0; i < n_other; i++) {
		if (driftd_rd_u64(r, &other[i]) < 0 || (i > 0 && other[i] < other[i - 1]))
			return -EBADMSG;
		t->n_other = i + 1;
	}
	t->ref_cnt[n_kept] = rest;
	t->ref_cnt[n_kept + 1] = 0;
	t->ref_total = total + rest;
	if (parse_counts(r, t->win_cnt, n_kept + 2, &t->win_total) < 0 ||
	    (n_other == 0 && t->win_cnt[n_kept] != 0))
		return -EBADMSG;
	look_build(t);
	free_collecting(t);
	t->phase = DD_CAT_READY;
	return 0;
}

int dd_cat_op_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct dd_cat *t = ctx->state;
	struct driftd_reader r = {.p = data, .left = len};
	uint64_t phase, check;
	int rc = cat_clear(t);

	if (rc < 0)
		return rc;
	if (version != DD_CAT_SNAPSHOT_VERSION || (!data && len))
		return -EBADMSG;
	if (driftd_rd_u64(&r, &phase) < 0 || driftd_rd_u64(&r, &check) < 0 ||
	    check != cat_key_check(t))
		rc = -EBADMSG;
	else if (phase == DD_CAT_COLLECTING)
		rc = parse_collecting(t, &r);
	else if (phase == DD_CAT_READY)
		rc = parse_ready(t, &r);
	else
		rc = -EBADMSG;
	if (rc == 0 && r.left != 0)
		rc = -EBADMSG;
	if (rc < 0) {
		int rc2 = cat_clear(t);
		return rc2 < 0 ? rc2 : rc;
	}
	return 0;
}
