/* mmd: maximum mean discrepancy between the reference and each window of embeddings, with a
 * permutation p-value (alibi-detect's MMDDrift with its defaults: RBF kernel, median-heuristic
 * bandwidth from the reference, 100 permutations, drift when p < 0.05).
 *
 * Samples. At most max_samples vectors per side take part: of a reference of N =
 * shape.reference_size vectors the ones at positions floor(k N / S), k = 0..S-1, S =
 * min(N, max_samples), are kept, and likewise for a window of shape.window_size (positions
 * count the accepted vectors; rejected ones take none). Evenly spaced rather than random, so
 * nothing needs to be drawn and the sample is the same on replay.
 *
 * Statistic. With X the m kept reference vectors, Y the n kept window vectors and
 * k(a, b) = exp(-||a - b||^2 / (2 sigma^2)), the unbiased estimate (alibi's
 * mmd2_from_kernel_matrix on the kernel matrix with a zero diagonal):
 *   MMD^2 = sum_{i!=j} k(x_i, x_j) / (m (m-1)) + sum_{i!=j} k(y_i, y_j) / (n (n-1))
 *           - 2 sum_{i,j} k(x_i, y_j) / (m n)
 * Bandwidth: 2 sigma^2 = the lower median of the squared distances ||x_i - x_j||^2 over the
 * m (m-1) / 2 pairs i < j of the reference sample; this is alibi's sigma_median applied to the
 * reference against itself (its index n + (m^2 - n) // 2 - 1 into the sorted m x m matrix of
 * squared distances, diagonal included, picks pair (P - 1) // 2 of the P sorted pairs), which
 * MMDDrift does when configure_kernel_from_x_ref is left at True. Fixed at reference_done.
 * When that median is 0 (more than half of the reference pairs coincide) the lower median of
 * the positive squared distances is used instead, and 1 if every reference vector is the same.
 * (alibi computes distances as |a|^2 + |b|^2 - 2 a.b clamped at 1e-30 in float32 by default;
 * we take sum (a_k - b_k)^2 in double.)
 *
 * p-value. n_permutations times, the pooled sample is split at random into m "reference" and
 * n "window" vectors and the statistic recomputed; p = (1 + #{permuted >= observed}) /
 * (1 + n_permutations), which never reaches 0 and gives a test of exact level (alibi reports
 * #{permuted >= observed} / n_permutations instead). Drift when p < alpha. The split is a
 * partial Fisher-Yates shuffle of the identity over the m + n pooled indices (reference first):
 * for i = 0..m-1, swap i with i + below(m + n - i), the first m after the swaps being the
 * reference side. below(b) draws u from splitmix64 (state += 0x9e3779b97f4a7c15, output
 * mix64(state), mix64 Steele-Lea-Flood's finaliser) until u >= 2^64 mod b, and returns u mod b.
 * The state of window w (w = number of window_resets since reference_done, 0 for the first)
 * starts at mix64(shape.seed + 0x9e3779b97f4a7c15 (w + 1)) (mod 2^64): evaluating a window twice
 * gives the same p, and each window gets its own permutations.
 *
 * Verdict: score MMD^2, threshold alpha, p_value p.
 *
 * Cost. Memory from init: min(N, S) and min(W, S) vectors of max_dim doubles (only the pages
 * for the actual dimension get touched). evaluate: the (m + n)^2 kernel matrix (8 (m + n)^2
 * bytes of scratch, 8 MB at m = n = 500), O((m + n)^2 d) to fill it and O(n_permutations
 * min(m, n)^2) for the permutations.
 *
 * Errors: reference_add past reference_size or update past window_size -ENOSPC;
 * reference_add/reference_done after reference_done, update before it -EINVAL; fewer than two
 * vectors in the reference sample (reference_done) or the window sample (evaluate) -ENODATA.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <driftd/detector.h>

#include "mvec.h"

#define MMD_MAX_SAMPLES 2000 /* the kernel matrix of 2 x 2000 vectors is 128 MB */
#define MMD_MAX_PERMS   100000
#define MMD_MAX_SIZE    0xffffffffull /* dd_mvec_keep works below 2^32 */

#define GOLDEN          0x9e3779b97f4a7c15ull
#define MMD_TILE        32 /* vectors per tile when filling the kernel matrix */

struct mmd_config {
	double alpha;
	int64_t n_permutations;
	int64_t max_samples;
	int64_t max_dim;
};

struct mmd_state {
	size_t max_dim;
	size_t dim;                    /* 0 until the first vector */
	uint64_t ref_total, win_total; /* shape.reference_size, shape.window_size */
	size_t ref_cap, win_cap;       /* vectors kept at most per side */
	double *ref, *win;             /* [cap * max_dim], packed with stride dim */
	uint64_t ref_seen, win_seen;   /* vectors accepted (kept or not) */
	size_t ref_n, win_n;           /* vectors kept */
	bool ref_done;
	double two_sigma2;     /* kernel scale, fixed at reference_done */
	uint64_t window_index; /* window_resets since reference_done */
};

static const struct driftd_param mmd_params[] = {
    {
        .name = "alpha",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct mmd_config, alpha),
        .def = 0.05,
        .min = 0,
        .max = 1,
        .min_open = true,
        .max_open = true,
        .description = "Significance level: drift when the permutation p-value is below it.",
    },
    {
        .name = "n_permutations",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct mmd_config, n_permutations),
        .def = 100,
        .min = 1,
        .max = MMD_MAX_PERMS,
        .description = "Permutations for the p-value, which is at least 1 / (1 + n_permutations).",
    },
    {
        .name = "max_samples",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct mmd_config, max_samples),
        .def = 500,
        .min = 2,
        .max = MMD_MAX_SAMPLES,
        .description = "Vectors used per side at most, evenly spaced over the reference or "
                       "window (the cost grows with its square).",
    },
    {
        .name = "max_dim",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct mmd_config, max_dim),
        .def = DD_MVEC_MAX_DIM_DEFAULT,
        .min = 1,
        .max = DD_MVEC_MAX_DIM_LIMIT,
        .description = "Largest accepted vector dimension (sizes the buffers).",
    },
};

/* ---- deterministic random numbers (splitmix64) ---- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t sm_next(uint64_t *s)
{
	*s += GOLDEN;
	return mix64(*s);
}

/* Uniform on [0, bound), bound >= 1, by rejecting the 2^64 mod bound lowest outputs. */
static uint64_t sm_below(uint64_t *s, uint64_t bound)
{
	uint64_t reject = (0 - bound) % bound;
	for (;;) {
		uint64_t u = sm_next(s);
		if (u >= reject)
			return u % bound;
	}
}

/* ---- numerics ---- */

static double sqdist(const double *a, const double *b, size_t d)
{
	/* four partial sums: independent chains the CPU can overlap */
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t k = 0;
	for (; k + 4 <= d; k += 4) {
		double t0 = a[k] - b[k], t1 = a[k + 1] - b[k + 1];
		double t2 = a[k + 2] - b[k + 2], t3 = a[k + 3] - b[k + 3];
		s0 += t0 * t0;
		s1 += t1 * t1;
		s2 += t2 * t2;
		s3 += t3 * t3;
	}
	for (; k < d; k++) {
		double t = a[k] - b[k];
		s0 += t * t;
	}
	return (s0 + s1) + (s2 + s3);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* 2 sigma^2 for the m reference vectors (m >= 2): see the header. */
static int bandwidth(const double *x, size_t m, size_t d, double *out)
{
	size_t p = m * (m - 1) / 2;
	double *d2 = malloc(p * sizeof(double));
	if (!d2)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < m; i++)
		for (size_t j = i + 1; j < m; j++)
			d2[k++] = sqdist(x + i * d, x + j * d, d);
	qsort(d2, p, sizeof(double), cmp_double);
	double med = d2[(p - 1) / 2];
	if (med == 0) {
		size_t z = 0;
		while (z < p && d2[z] == 0)
			z++;
		med = z < p ? d2[z + (p - z - 1) / 2] : 1.0;
	}
	free(d2);
	if (!isfinite(med))
		return -ERANGE;
	*out = med;
	return 0;
}

/* Neumaier's compensated sum: the block sums are large and nearly cancel in MMD^2, so the
 * outer accumulations keep their low-order bits (the inner loops over one row stay plain). */
struct csum {
	double s, c;
};

static void csum_add(struct csum *a, double x)
{
	double t = a->s + x;
	if (fabs(a->s) >= fabs(x))
		a->c += (a->s - t) + x;
	else
		a->c += (x - t) + a->s;
	a->s = t;
}

static double csum_get(const struct csum *a)
{
	return a->s + a->c;
}

/* The pooled kernel matrix and what every permutation reuses. */
struct mmd_work {
	size_t m, n, t; /* t = m + n */
	double *k;      /* [t * t], zero diagonal */
	double *row;    /* [t] row sums */
	size_t *perm;   /* [t] */
	size_t *idx;    /* [t] the side summed directly, ascending */
	uint8_t *in_x;  /* [t] 1 for the reference side */
};

/* MMD^2 for the split in w->in_x. The block of the smaller side is summed directly (half of
 * it: the matrix is symmetric); the other two blocks follow from the row sums. With equal
 * sides it is the side holding pooled vector 0: a split and its mirror image (the sides
 * swapped), whose statistics are equal in exact arithmetic, then perform the same operations
 * and give the same double, so that ">= observed" does not depend on rounding. */
static double split_mmd2(struct mmd_work *w)
{
	bool direct_x = w->m < w->n || (w->m == w->n && w->in_x[0]);
	size_t q = 0;
	struct csum rows_in = {0, 0}, rows_out = {0, 0}, half = {0, 0};
	for (size_t i = 0; i < w->t; i++) {
		if ((w->in_x[i] != 0) == direct_x) {
			w->idx[q++] = i;
			csum_add(&rows_in, w->row[i]);
		} else {
			csum_add(&rows_out, w->row[i]);
		}
	}
	for (size_t a = 0; a < q; a++) {
		const double *r = w->k + w->idx[a] * w->t;
		double s = 0;
		for (size_t b = a + 1; b < q; b++)
			s += r[w->idx[b]];
		csum_add(&half, s);
	}
	double s_in = 2 * csum_get(&half);
	double s_cross = csum_get(&rows_in) - s_in;
	double s_out = csum_get(&rows_out) - s_cross;
	double s_xx = direct_x ? s_in : s_out;
	double s_yy = direct_x ? s_out : s_in;
	double m = (double)w->m, n = (double)w->n;
	return s_xx / (m * (m - 1)) + s_yy / (n * (n - 1)) - 2 * s_cross / (m * n);
}

static void work_free(struct mmd_work *w)
{
	free(w->k);
	free(w->row);
	free(w->perm);
	free(w->idx);
	free(w->in_x);
}

/* Pooled vector i: the reference sample first, then the window sample. */
static const double *vec_at(const struct mmd_state *s, size_t m, size_t i)
{
	return i < m ? s->ref + i * s->dim : s->win + (i - m) * s->dim;
}

static int work_fill(struct mmd_work *w, const struct mmd_state *s)
{
	size_t t = s->ref_n + s->win_n, d = s->dim;
	*w = (struct mmd_work){.m = s->ref_n, .n = s->win_n, .t = t};
	w->k = malloc(t * t * sizeof(double));
	w->row = malloc(t * sizeof(double));
	w->perm = malloc(t * sizeof(size_t));
	w->idx = malloc(t * sizeof(size_t));
	w->in_x = malloc(t);
	if (!w->k || !w->row || !w->perm || !w->idx || !w->in_x) {
		work_free(w);
		return -ENOMEM;
	}
	/* Upper triangle in tiles of MMD_TILE x MMD_TILE pairs, so that both tiles of vectors
	 * stay in cache while their distances are computed (row by row, the whole sample would
	 * be streamed once per row), then mirrored. */
	for (size_t ib = 0; ib < t; ib += MMD_TILE)
		for (size_t jb = ib; jb < t; jb += MMD_TILE)
			for (size_t i = ib; i < ib + MMD_TILE && i < t; i++) {
				const double *a = vec_at(s, w->m, i);
				double *ki = w->k + i * t;
				for (size_t j = jb > i ? jb : i + 1; j < jb + MMD_TILE && j < t;
				     j++)
					/* divide rather than multiply by 1 / (2 sigma^2), which may
					 * overflow */
					ki[j] = exp(
					    -(sqdist(a, vec_at(s, w->m, j), d) / s->two_sigma2));
			}
	for (size_t ib = 0; ib < t; ib += MMD_TILE)
		for (size_t jb = ib; jb < t; jb += MMD_TILE)
			for (size_t i = ib; i < ib + MMD_TILE && i < t; i++) {
				w->k[i * t + i] = 0;
				for (size_t j = jb > i ? jb : i + 1; j < jb + MMD_TILE && j < t;
				     j++)
					w->k[j * t + i] = w->k[i * t + j];
			}
	for (size_t i = 0; i < t; i++) {
		struct csum r = {0, 0};
		for (size_t j = 0; j < t; j++)
			csum_add(&r, w->k[i * t + j]);
		w->row[i] = csum_get(&r);
	}
	return 0;
}

/* ---- the detector ---- */

static int mmd_check_config(const void *config, const char **why)
{
	const struct mmd_config *c = config;
	if (!(c->alpha > 0 && c->alpha < 1)) {
		*why = "alpha must be in (0, 1)";
		return -EINVAL;
	}
	if (c->n_permutations < 1 || c->n_permutations > MMD_MAX_PERMS) {
		*why = "n_permutations must be between 1 and 100000";
		return -EINVAL;
	}
	if (1.0 / (1.0 + (double)c->n_permutations) >= c->alpha) {
		*why = "n_permutations too small: the p-value cannot go below alpha";
		return -EINVAL;
	}
	if (c->max_samples < 2 || c->max_samples > MMD_MAX_SAMPLES) {
		*why = "max_samples must be between 2 and 2000";
		return -EINVAL;
	}
	if (c->max_dim < 1 || c->max_dim > DD_MVEC_MAX_DIM_LIMIT) {
		*why = "max_dim must be between 1 and 65536";
		return -EINVAL;
	}
	return 0;
}

static void mmd_done(struct driftd_ctx *ctx)
{
	struct mmd_state *s = ctx->state;
	free(s->ref);
	free(s->win);
	s->ref = s->win = NULL;
	s->ref_cap = s->win_cap = 0;
	s->ref_n = s->win_n = 0;
	s->ref_seen = s->win_seen = 0;
	s->dim = 0;
	s->ref_done = false;
}

static void mmd_clear(struct mmd_state *s)
{
	s->dim = 0;
	s->ref_seen = s->win_seen = 0;
	s->ref_n = s->win_n = 0;
	s->ref_done = false;
	s->two_sigma2 = 0;
	s->window_index = 0;
}

static int mmd_init(struct driftd_ctx *ctx)
{
	const struct mmd_config *c = ctx->config;
	struct mmd_state *s = ctx->state;
	const char *why;
	if (mmd_check_config(c, &why) < 0)
		return -EINVAL;
	uint64_t rn = ctx->shape.reference_size, wn = ctx->shape.window_size;
	if (rn < 2 || wn < 2 || rn > MMD_MAX_SIZE || wn > MMD_MAX_SIZE)
		return -EINVAL;
	s->max_dim = (size_t)c->max_dim;
	s->ref_total = rn;
	s->win_total = wn;
	s->ref_cap = rn < (uint64_t)c->max_samples ? (size_t)rn : (size_t)c->max_samples;
	s->win_cap = wn < (uint64_t)c->max_samples ? (size_t)wn : (size_t)c->max_samples;
	s->ref = malloc(s->ref_cap * s->max_dim * sizeof(double));
	s->win = malloc(s->win_cap * s->max_dim * sizeof(double));
	if (!s->ref || !s->win) {
		mmd_done(ctx);
		return -ENOMEM;
	}
	mmd_clear(s);
	return 0;
}

static int mmd_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct mmd_state *s = ctx->state;
	if (dd_mvec_check(v, s->dim, s->max_dim) < 0)
		return -EDOM;
	if (s->ref_done)
		return -EINVAL;
	if (s->ref_seen >= s->ref_total)
		return -ENOSPC;
	s->dim = v->dim;
	if (dd_mvec_keep(s->ref_seen, s->ref_total, s->ref_cap))
		memcpy(s->ref + s->ref_n++ * s->dim, v->vec, s->dim * sizeof(double));
	s->ref_seen++;
	return 0;
}

static int mmd_reference_done(struct driftd_ctx *ctx)
{
	struct mmd_state *s = ctx->state;
	if (s->ref_done)
		return -EINVAL;
	if (s->ref_n < 2)
		return -ENODATA;
	int rc = bandwidth(s->ref, s->ref_n, s->dim, &s->two_sigma2);
	if (rc < 0)
		return rc;
	s->ref_done = true;
	s->window_index = 0;
	return 0;
}

static int mmd_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct mmd_state *s = ctx->state;
	if (dd_mvec_check(v, s->dim, s->max_dim) < 0)
		return -EDOM;
	if (!s->ref_done)
		return -EINVAL;
	if (s->win_seen >= s->win_total)
		return -ENOSPC;
	if (dd_mvec_keep(s->win_seen, s->win_total, s->win_cap))
		memcpy(s->win + s->win_n++ * s->dim, v->vec, s->dim * sizeof(double));
	s->win_seen++;
	return 0;
}

static int mmd_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct mmd_config *c = ctx->config;
	const struct mmd_state *s = ctx->state;
	if (!s->ref_done)
		return -EINVAL;
	if (s->win_n < 2)
		return -ENODATA;
	struct mmd_work w;
	int rc = work_fill(&w, s);
	if (rc < 0)
		return rc;

	for (size_t i = 0; i < w.t; i++)
		w.in_x[i] = i < w.m;
	double observed = split_mmd2(&w);

	uint64_t rng = mix64(ctx->shape.seed + GOLDEN * (s->window_index + 1));
	uint64_t at_least = 0;
	for (int64_t b = 0; b < c->n_permutations; b++) {
		for (size_t i = 0; i < w.t; i++)
			w.perm[i] = i;
		for (size_t i = 0; i < w.m; i++) {
			size_t j = i + (size_t)sm_below(&rng, w.t - i);
			size_t tmp = w.perm[i];
			w.perm[i] = w.perm[j];
			w.perm[j] = tmp;
		}
		memset(w.in_x, 0, w.t);
		for (size_t i = 0; i < w.m; i++)
			w.in_x[w.perm[i]] = 1;
		at_least += split_mmd2(&w) >= observed;
	}
	work_free(&w);

	double p = (double)(1 + at_least) / (double)(1 + c->n_permutations);
	*out = (struct driftd_verdict){
	    .score = observed,
	    .threshold = c->alpha,
	    .p_value = p,
	    .drift = p < c->alpha,
	    .warning = false,
	};
	return 0;
}

static void mmd_window_reset(struct driftd_ctx *ctx)
{
	struct mmd_state *s = ctx->state;
	if (!s->ref_done)
		return;
	s->win_seen = 0;
	s->win_n = 0;
	s->window_index++;
}

/* Snapshot v1, little-endian: u64 dim, u64 reference_done (0/1), u64 reference vectors
 * accepted, u64 window vectors accepted, u64 window index, then the kept reference vectors and
 * the kept window vectors, dim x f64 each (how many are kept follows from the counts). The
 * bandwidth is recomputed on restore. */
static int mmd_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct mmd_state *s = ctx->state;
	driftd_buf_put_u64(out, s->dim);
	driftd_buf_put_u64(out, s->ref_done ? 1 : 0);
	driftd_buf_put_u64(out, s->ref_seen);
	driftd_buf_put_u64(out, s->win_seen);
	driftd_buf_put_u64(out, s->window_index);
	for (size_t i = 0; i < s->ref_n * s->dim; i++)
		driftd_buf_put_f64(out, s->ref[i]);
	for (size_t i = 0; i < s->win_n * s->dim; i++)
		driftd_buf_put_f64(out, s->win[i]);
	return out->err;
}

static int mmd_parse(struct mmd_state *s, struct driftd_reader *r)
{
	uint64_t dim, done, rs, ws, wi;
	if (driftd_rd_u64(r, &dim) < 0 || driftd_rd_u64(r, &done) < 0 ||
	    driftd_rd_u64(r, &rs) < 0 || driftd_rd_u64(r, &ws) < 0 || driftd_rd_u64(r, &wi) < 0)
		return -EBADMSG;
	if (dim > s->max_dim || done > 1 || rs > s->ref_total || ws > s->win_total)
		return -EBADMSG;
	/* a dimension comes with the first vector, and windows only after the reference */
	if ((dim == 0) != (rs == 0) || (!done && (ws != 0 || wi != 0)))
		return -EBADMSG;
	size_t rn = (size_t)dd_mvec_kept(rs, s->ref_total, s->ref_cap);
	size_t wn = (size_t)dd_mvec_kept(ws, s->win_total, s->win_cap);
	if (done && rn < 2)
		return -EBADMSG;
	if (r->left % 8 != 0 || r->left / 8 != (rn + wn) * dim)
		return -EBADMSG;
	for (size_t i = 0; i < rn * dim; i++)
		if (driftd_rd_f64_finite(r, &s->ref[i]) < 0)
			return -EBADMSG;
	for (size_t i = 0; i < wn * dim; i++)
		if (driftd_rd_f64_finite(r, &s->win[i]) < 0)
			return -EBADMSG;
	s->dim = (size_t)dim;
	s->ref_seen = rs;
	s->win_seen = ws;
	s->ref_n = rn;
	s->win_n = wn;
	s->window_index = wi;
	if (done) {
		int rc = bandwidth(s->ref, rn, s->dim, &s->two_sigma2);
		if (rc < 0)
			return rc;
		s->ref_done = true;
	}
	return 0;
}

static int mmd_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct mmd_state *s = ctx->state;
	mmd_clear(s);
	if (version != 1 || (!data && len) || !s->ref || !s->win)
		return -EBADMSG;
	struct driftd_reader r = {.p = data, .left = len};
	int rc = mmd_parse(s, &r);
	if (rc < 0) {
		mmd_clear(s);
		return rc == -ENOMEM ? rc : -EBADMSG;
	}
	return 0;
}

const struct driftd_detector_ops driftd_detector_mmd = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "mmd",
    .summary = "Maximum mean discrepancy (RBF kernel) between reference and window embeddings, "
               "with a permutation p-value.",
    .kind = DRIFTD_KIND_MULTIVARIATE,
    .caps = DRIFTD_CAP_P_VALUE,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_VECTOR),
    .params = mmd_params,
    .n_params = sizeof(mmd_params) / sizeof(mmd_params[0]),
    .config_size = sizeof(struct mmd_config),
    .state_size = sizeof(struct mmd_state),
    .snapshot_version = 1,
    .check_config = mmd_check_config,
    .init = mmd_init,
    .reference_add = mmd_reference_add,
    .reference_done = mmd_reference_done,
    .update = mmd_update,
    .evaluate = mmd_evaluate,
    .window_reset = mmd_window_reset,
    .snapshot = mmd_snapshot,
    .restore = mmd_restore,
    .merge = NULL,
    .done = mmd_done,
};
