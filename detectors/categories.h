/* Bounded category table shared by the categorical detectors (chi2, ztest, tvd, new_category).
 *
 * A detector's config block starts with `struct dd_cat_config` and its state is a
 * `struct dd_cat`; the dd_cat_op_* functions are then usable directly as its ops callbacks, and
 * the detector only adds check_config and evaluate. The semantics (what a category is, top-k,
 * the "other" and "unseen" buckets, memory, snapshot layout) are documented in categories.c.
 */
#ifndef DRIFTD_DETECTORS_CATEGORIES_H
#define DRIFTD_DETECTORS_CATEGORIES_H

#include <stddef.h>
#include <stdint.h>

#include <driftd/detector.h>

#define DD_CAT_DEFAULT_CATEGORIES 64
#define DD_CAT_MAX_CATEGORIES     65536
#define DD_CAT_DEFAULT_LENGTH     64
#define DD_CAT_MIN_LENGTH         8 /* a number's key is 8 bytes */
#define DD_CAT_MAX_LENGTH         1024

/* First member of every categorical detector's config block. */
struct dd_cat_config {
	int64_t max_categories;
	int64_t max_length;
};

/* The two parameter rows every categorical detector has, for the config struct TYPE whose
 * member `cat` is the struct dd_cat_config. */
#define DD_CAT_PARAM_MAX_CATEGORIES(TYPE)                                                          \
	{                                                                                          \
		.name = "max_categories", .type = DRIFTD_PARAM_INT,                                \
		.offset = offsetof(TYPE, cat.max_categories), .def = DD_CAT_DEFAULT_CATEGORIES,    \
		.min = 1, .max = DD_CAT_MAX_CATEGORIES,                                            \
		.description =                                                                     \
		    "Most frequent reference categories kept; the rest count as other.",           \
	}
#define DD_CAT_PARAM_MAX_LENGTH(TYPE)                                                              \
	{                                                                                          \
		.name = "max_length", .type = DRIFTD_PARAM_INT,                                    \
		.offset = offsetof(TYPE, cat.max_length), .def = DD_CAT_DEFAULT_LENGTH,            \
		.min = DD_CAT_MIN_LENGTH, .max = DD_CAT_MAX_LENGTH,                                \
		.description =                                                                     \
		    "String bytes stored; longer strings also match on length and hash.",          \
	}

/* A distinct category. Keys are bytes: strings as given (the first `stored` of `len`), numbers
 * as the 8 little-endian bytes of the double (-0 made +0), bools as one byte 0/1. */
struct dd_cat_entry {
	uint64_t hash;  /* keyed SipHash-1-3 of the whole key, the type mixed into the key */
	uint64_t len;   /* length of the whole key */
	uint64_t count; /* reference count */
	uint8_t *key;   /* min(len, max_length) bytes */
	uint32_t stored;
	uint8_t tag; /* enum driftd_value_type: NUMBER, STRING or BOOL */
};

/* A slot of the window-phase lookup index: the category's id + 1 (0: empty) and the high half
 * of its hash, so that most probes that miss are settled without touching the category. */
struct dd_cat_slot {
	uint32_t id;
	uint32_t hash_hi;
};

struct dd_cat {
	/* Fixed at init. */
	size_t max_cats; /* max_categories */
	size_t slot;     /* max_length: bytes of key storage per category */
	size_t ref_cap;  /* shape.reference_size */
	uint64_t k0, k1; /* hash key, from shape.seed */
	int phase;       /* DD_CAT_COLLECTING or DD_CAT_READY */

	/* Collecting: every distinct reference category, in first-seen order (NULL once ready). */
	struct dd_cat_entry *coll; /* [ref_cap] */
	size_t n_coll;
	uint32_t *coll_idx; /* open addressing over coll: index + 1, 0 = empty */
	size_t coll_mask;
	uint8_t *arena; /* [ref_cap * slot]: keys of coll */
	size_t arena_used;
	uint64_t ref_n; /* values added */

	/* Ready: the top max_cats reference categories by count, and the rest as hashes. */
	struct dd_cat_entry *kept; /* [max_cats], rank order */
	uint8_t *kept_keys;        /* [max_cats * slot] */
	size_t n_kept;
	uint64_t *other; /* [n_other] hashes of the reference categories not kept, ascending */
	size_t n_other;
	struct dd_cat_slot *look; /* open addressing over kept then other */
	size_t look_mask;
	/* Columns: 0 .. n_kept-1 the kept categories, n_kept "other", n_kept + 1 "unseen". */
	uint64_t *ref_cnt; /* [max_cats + 2] */
	uint64_t *win_cnt; /* [max_cats + 2] */
	uint64_t ref_total, win_total;
	double *scratch; /* [2 * (max_cats + 2)]: per-cell terms for evaluate */
};

enum { DD_CAT_COLLECTING = 0, DD_CAT_READY = 1 };

static inline size_t dd_cat_columns(const struct dd_cat *t)
{
	return t->n_kept + 2;
}
static inline size_t dd_cat_col_other(const struct dd_cat *t)
{
	return t->n_kept;
}
static inline size_t dd_cat_col_unseen(const struct dd_cat *t)
{
	return t->n_kept + 1;
}

/* -EINVAL with a static message for a config the table cannot take. */
int dd_cat_check_config(const struct dd_cat_config *c, const char **why);

/* Ops callbacks. ctx->config must start with struct dd_cat_config, ctx->state be a dd_cat. */
int dd_cat_op_init(struct driftd_ctx *ctx);
int dd_cat_op_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v);
int dd_cat_op_reference_done(struct driftd_ctx *ctx);
int dd_cat_op_update(struct driftd_ctx *ctx, const struct driftd_value *v);
void dd_cat_op_window_reset(struct driftd_ctx *ctx);
int dd_cat_op_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out);
int dd_cat_op_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len);
int dd_cat_op_merge(struct driftd_ctx *dst, const struct driftd_ctx *src);
void dd_cat_op_done(struct driftd_ctx *ctx);

#define DD_CAT_SNAPSHOT_VERSION 1
#define DD_CAT_ACCEPTS                                                                             \
	(DRIFTD_ACCEPTS(DRIFTD_VALUE_STRING) | DRIFTD_ACCEPTS(DRIFTD_VALUE_BOOL) |                 \
	 DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER))

/* 0 when a window can be evaluated: -EINVAL before reference_done, -ENODATA on an empty
 * window. */
int dd_cat_ready_to_evaluate(const struct dd_cat *t);

/* numpy's pairwise summation (np.sum over a contiguous float64 array), so that sums of many
 * terms round as the oracle's do. */
double dd_cat_pairwise_sum(const double *a, size_t n);

#endif
