/* embedding_distance: distance between the mean embedding of the reference and the mean
 * embedding of each window (Evidently's "distance" embedding-drift method without its
 * bootstrap: Euclidean by default, drift when the distance exceeds 0.2).
 *
 *   euclidean: ||mu_ref - mu_win||
 *   cosine:    1 - cos(mu_ref, mu_win), computed as ||u - v||^2 / 2 with u, v the unit vectors
 *              (the same number, but accurate to a few ulps also when the means nearly align,
 *              where 1 - cos would cancel). A zero mean has no direction: the distance is then 0
 * when both means are zero and 1 (as for orthogonal means) when only one is. drift when distance >
 * threshold (strictly, as Evidently).
 *
 * Input: DRIFTD_VALUE_VECTOR. The first vector fixes the dimension (1..max_dim); vectors of
 * another dimension, with a non-finite element, or values of another type are -EDOM and leave
 * the state unchanged.
 *
 * Exact sums. Each dimension is summed in a fixed-point accumulator wide enough to hold any
 * sum of up to 2^64 doubles exactly (68 digits of 32 bits, the lowest worth 2^-1074, kept in
 * int64 so that carries can wait). A mean is the sum rounded once to the nearest double (ties
 * to even) and divided by the count, i.e. exactly math.fsum(column) / n in Python: the means
 * do not depend on the order of the values, and merge is exact: merging adds accumulators, so
 * (a + b) + c, a + (b + c) and c + (b + a) give byte-identical states. update costs O(dim)
 * (three digit additions per element).
 *
 * Memory (allocated in init): max_dim x 68 x 8 bytes of accumulator plus two vectors of
 * max_dim doubles (557 KiB at the default max_dim of 1024, of which only the pages for the
 * actual dimension are ever touched).
 *
 * Phases: while collecting, the accumulator sums the reference; reference_done turns it into
 * the reference mean and clears it; from then on it sums the current window, which
 * window_reset clears. The reference mean is kept for the life of the instance.
 *
 * Merge (DRIFTD_CAP_MERGE) adds window sums and counts. Both states must hold the same
 * reference mean (bitwise) and dimension, else -EINVAL; a state that has received nothing is
 * the identity.
 *
 * Errors: reference_add/reference_done after reference_done, update before it -EINVAL;
 * reference_done without values, evaluate on an empty window -ENODATA; a mean that overflows
 * (elements near DBL_MAX) -ERANGE.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <driftd/detector.h>

#include "mvec.h"

enum ed_metric {
	ED_EUCLIDEAN = 0,
	ED_COSINE = 1,
};

struct ed_config {
	int metric;
	double threshold;
	int64_t max_dim;
};

enum ed_phase {
	ED_COLLECTING = 0,
	ED_READY = 1,
};

/* Accumulator layout: digit j of a dimension weighs 2^(32 j - 1074). A double's 53-bit
 * significand lands in at most three consecutive digits (position <= 2045 bits, digit <= 63),
 * and 2^64 values below 2^1024 sum to below 2^2162, inside digit 67. In normal form digits
 * 0..66 are in [0, 2^32) and digit 67 carries the sign. */
#define XS_DIGITS 68
#define XS_MASK   0xffffffffll
#define XS_RADIX  4294967296.0
/* Each addition moves a digit by less than 2^33: normalising every 2^28 additions keeps the
 * int64 digits far from overflow. */
#define XS_PENDING (1u << 28)

struct ed_state {
	enum ed_phase phase;
	size_t max_dim;
	size_t dim;       /* 0 until the first vector */
	uint64_t n;       /* vectors in acc: the reference while collecting, then the window */
	uint64_t pending; /* additions since acc was last normalised */
	int64_t *acc;     /* [max_dim * XS_DIGITS] */
	double *ref_mean; /* [max_dim], valid once READY */
	double *win_mean; /* [max_dim], evaluate's scratch */
};

static const char *const ed_metrics[] = {"euclidean", "cosine", NULL};

static const struct driftd_param ed_params[] = {
    {
        .name = "metric",
        .type = DRIFTD_PARAM_ENUM,
        .offset = offsetof(struct ed_config, metric),
        .def = ED_EUCLIDEAN,
        .choices = ed_metrics,
        .description = "Distance between the mean embeddings: euclidean or cosine (1 - cosine "
                       "similarity).",
    },
    {
        .name = "threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct ed_config, threshold),
        .def = 0.2,
        .min = 0,
        .max = HUGE_VAL,
        .max_open = true,
        .description = "Drift when the distance exceeds this value (Evidently's default 0.2).",
    },
    {
        .name = "max_dim",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct ed_config, max_dim),
        .def = DD_MVEC_MAX_DIM_DEFAULT,
        .min = 1,
        .max = DD_MVEC_MAX_DIM_LIMIT,
        .description = "Largest accepted vector dimension (sizes the buffers).",
    },
};

/* ---- exact accumulator ---- */

static void xs_normalise(int64_t *a)
{
	for (int j = 0; j < XS_DIGITS - 1; j++) {
		int64_t lo = (int64_t)((uint64_t)a[j] & XS_MASK);
		/* exact: a[j] - lo is a multiple of 2^32 well inside int64 */
		a[j + 1] += (a[j] - lo) / (int64_t)4294967296ll;
		a[j] = lo;
	}
}

static void xs_add(int64_t *a, double x)
{
	uint64_t bits;
	memcpy(&bits, &x, sizeof(bits));
	uint64_t e = (bits >> 52) & 0x7ff;
	uint64_t m = bits & ((1ull << 52) - 1);
	if (e == 0 && m == 0)
		return;
	/* x = m 2^(p - 1074) with p the bit position of m's lowest bit in the accumulator */
	uint64_t p = 0;
	if (e != 0) {
		m |= 1ull << 52;
		p = e - 1;
	}
	size_t j = (size_t)(p >> 5);
	unsigned sh = (unsigned)(p & 31);
	uint64_t lo = (m & XS_MASK) << sh; /* < 2^63 */
	uint64_t hi = (m >> 32) << sh;     /* < 2^52 */
	int64_t d0 = (int64_t)(lo & XS_MASK);
	int64_t d1 = (int64_t)((lo >> 32) + (hi & XS_MASK));
	int64_t d2 = (int64_t)(hi >> 32);
	if (bits >> 63) {
		a[j] -= d0;
		a[j + 1] -= d1;
		a[j + 2] -= d2;
	} else {
		a[j] += d0;
		a[j + 1] += d1;
		a[j + 2] += d2;
	}
}

/* The exact value of a normalised accumulator rounded to the nearest double, ties to even
 * (what math.fsum returns). */
static double xs_round(const int64_t *a)
{
	int64_t d[XS_DIGITS];
	bool neg = a[XS_DIGITS - 1] < 0;
	for (int j = 0; j < XS_DIGITS; j++)
		d[j] = neg ? -a[j] : a[j];
	if (neg)
		xs_normalise(d); /* the magnitude, in normal form with a non-negative top digit */
	int t = XS_DIGITS - 1;
	while (t >= 0 && d[t] == 0)
		t--;
	if (t < 0)
		return 0.0;
	uint64_t top = (uint64_t)d[t];
	int nb = 0; /* bit length of the top digit, 1..32 */
	while (nb < 64 && (top >> nb) != 0)
		nb++;
	if (nb > 32) /* the top digit of a huge magnitude; cannot happen below 2^64 values */
		return neg ? -HUGE_VAL : HUGE_VAL;
	uint64_t d1 = t >= 1 ? (uint64_t)d[t - 1] : 0;
	uint64_t d2 = t >= 2 ? (uint64_t)d[t - 2] : 0;
	/* the 64 bits below and including the leading one, and whether anything below them is
	 * set */
	uint64_t w = (top << (64 - nb)) | (d1 << (32 - nb)) | (d2 >> nb);
	bool sticky = (d2 & ((1ull << nb) - 1)) != 0;
	for (int j = t - 3; j >= 0 && !sticky; j--)
		sticky = d[j] != 0;
	long len = 32L * t + nb; /* bit length of the magnitude */
	uint64_t mant = w >> 11;
	uint64_t rest = w & 0x7ff;
	if (rest > 0x400 || (rest == 0x400 && (sticky || (mant & 1))))
		mant++;
	/* mant <= 2^53 is exact as a double; for magnitudes below 2^53 units w has at least 11
	 * trailing zero bits, so nothing was rounded and ldexp into the subnormal range is
	 * exact */
	double r = ldexp((double)mant, (int)(len - 53 - 1074));
	return neg ? -r : r;
}

/* ---- distances ---- */

/* sqrt(sum v_i^2) without overflow or underflow in the squares. */
static double norm2(const double *v, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += v[i] * v[i];
	if (s >= 0x1p-900 && s <= 0x1p900)
		return sqrt(s);
	double scale = 0;
	for (size_t i = 0; i < n; i++)
		if (fabs(v[i]) > scale)
			scale = fabs(v[i]);
	if (scale == 0)
		return 0;
	s = 0;
	for (size_t i = 0; i < n; i++) {
		double q = v[i] / scale;
		s += q * q;
	}
	return scale * sqrt(s);
}

static double euclidean(const double *a, const double *b, size_t n)
{
	double s = 0, scale = 0;
	for (size_t i = 0; i < n; i++) {
		double d = a[i] - b[i];
		s += d * d;
		if (fabs(d) > scale)
			scale = fabs(d);
	}
	if (scale == 0)
		return 0;
	if (s >= 0x1p-900 && s <= 0x1p900)
		return sqrt(s);
	s = 0;
	for (size_t i = 0; i < n; i++) {
		double q = (a[i] - b[i]) / scale;
		s += q * q;
	}
	return scale * sqrt(s);
}

/* a / na - b / nb with the quotients carried as double-doubles (fma gives the exact remainder
 * of a division): when the unit vectors nearly coincide, rounding the quotients first would
 * leave the difference with a relative error of about 1e-16 / |difference|. */
static double quot_diff(double a, double na, double b, double nb)
{
	double qa = a / na, qb = b / nb;
	double la = fma(-qa, na, a) / na, lb = fma(-qb, nb, b) / nb;
	return (qa - qb) + (la - lb);
}

/* 1 - cos = ||u - v||^2 / 2 for the unit vectors u, v. The rounding of the norms only scales
 * u and v by 1 + O(1e-16), which changes the result by that factor plus an O(1e-32) term. */
static double cosine(const double *a, const double *b, size_t n)
{
	double na = norm2(a, n), nb = norm2(b, n);
	if (na == 0 || nb == 0)
		return na == nb ? 0.0 : 1.0;
	double s = 0;
	for (size_t i = 0; i < n; i++) {
		double q = quot_diff(a[i], na, b[i], nb);
		s += q * q;
	}
	return 0.5 * s;
}

/* ---- the detector ---- */

static int64_t *acc_of(const struct ed_state *s, size_t i)
{
	return s->acc + i * XS_DIGITS;
}

static void acc_clear(struct ed_state *s)
{
	memset(s->acc, 0, s->dim * XS_DIGITS * sizeof(int64_t));
	s->n = 0;
	s->pending = 0;
}

static void acc_normalise(struct ed_state *s)
{
	if (s->pending == 0)
		return;
	for (size_t i = 0; i < s->dim; i++)
		xs_normalise(acc_of(s, i));
	s->pending = 0;
}

/* The mean of the accumulated vectors into out; -ERANGE when a sum rounds to infinity. */
static int acc_mean(struct ed_state *s, double *out)
{
	acc_normalise(s);
	for (size_t i = 0; i < s->dim; i++) {
		out[i] = xs_round(acc_of(s, i)) / (double)s->n;
		if (!isfinite(out[i]))
			return -ERANGE;
	}
	return 0;
}

/* Back to the state right after init; `touched` dimensions may hold digits. */
static void ed_clear(struct ed_state *s, size_t touched)
{
	s->dim = touched;
	acc_clear(s);
	s->dim = 0;
	s->phase = ED_COLLECTING;
}

static int ed_check_config(const void *config, const char **why)
{
	const struct ed_config *c = config;
	if (c->metric != ED_EUCLIDEAN && c->metric != ED_COSINE) {
		*why = "metric must be euclidean or cosine";
		return -EINVAL;
	}
	if (!(c->threshold >= 0) || isinf(c->threshold)) {
		*why = "threshold must be a finite number >= 0";
		return -EINVAL;
	}
	if (c->max_dim < 1 || c->max_dim > DD_MVEC_MAX_DIM_LIMIT) {
		*why = "max_dim must be between 1 and 65536";
		return -EINVAL;
	}
	return 0;
}

static void ed_done(struct driftd_ctx *ctx)
{
	struct ed_state *s = ctx->state;
	free(s->acc);
	free(s->ref_mean);
	free(s->win_mean);
	s->acc = NULL;
	s->ref_mean = NULL;
	s->win_mean = NULL;
	s->dim = 0;
	s->n = 0;
	s->phase = ED_COLLECTING;
}

static int ed_init(struct driftd_ctx *ctx)
{
	const struct ed_config *c = ctx->config;
	struct ed_state *s = ctx->state;
	const char *why;
	if (ed_check_config(c, &why) < 0)
		return -EINVAL;
	s->max_dim = (size_t)c->max_dim;
	/* calloc: the pages of unused dimensions are never touched */
	s->acc = calloc(s->max_dim * XS_DIGITS, sizeof(int64_t));
	s->ref_mean = calloc(s->max_dim, sizeof(double));
	s->win_mean = calloc(s->max_dim, sizeof(double));
	if (!s->acc || !s->ref_mean || !s->win_mean) {
		ed_done(ctx);
		return -ENOMEM;
	}
	s->dim = 0;
	s->n = 0;
	s->pending = 0;
	s->phase = ED_COLLECTING;
	return 0;
}

/* v has been checked. */
static int ed_add(struct ed_state *s, const struct driftd_value *v)
{
	if (s->n == UINT64_MAX)
		return -EOVERFLOW;
	if (s->pending >= XS_PENDING)
		acc_normalise(s);
	s->dim = v->dim;
	for (size_t i = 0; i < s->dim; i++)
		xs_add(acc_of(s, i), v->vec[i]);
	s->pending++;
	s->n++;
	return 0;
}

static int ed_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct ed_state *s = ctx->state;
	if (dd_mvec_check(v, s->dim, s->max_dim) < 0)
		return -EDOM;
	if (s->phase != ED_COLLECTING)
		return -EINVAL;
	return ed_add(s, v);
}

static int ed_reference_done(struct driftd_ctx *ctx)
{
	struct ed_state *s = ctx->state;
	if (s->phase != ED_COLLECTING)
		return -EINVAL;
	if (s->n == 0)
		return -ENODATA;
	int rc = acc_mean(s, s->ref_mean);
	if (rc < 0)
		return rc;
	acc_clear(s);
	s->phase = ED_READY;
	return 0;
}

static int ed_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct ed_state *s = ctx->state;
	if (dd_mvec_check(v, s->dim, s->max_dim) < 0)
		return -EDOM;
	if (s->phase != ED_READY)
		return -EINVAL;
	return ed_add(s, v);
}

static int ed_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct ed_config *c = ctx->config;
	struct ed_state *s = ctx->state;
	if (s->phase != ED_READY)
		return -EINVAL;
	if (s->n == 0)
		return -ENODATA;
	int rc = acc_mean(s, s->win_mean);
	if (rc < 0)
		return rc;
	double d = c->metric == ED_COSINE ? cosine(s->ref_mean, s->win_mean, s->dim)
	                                  : euclidean(s->ref_mean, s->win_mean, s->dim);
	*out = (struct driftd_verdict){
	    .score = d,
	    .threshold = c->threshold,
	    .p_value = (double)NAN,
	    .drift = d > c->threshold,
	    .warning = false,
	};
	return 0;
}

static void ed_window_reset(struct driftd_ctx *ctx)
{
	struct ed_state *s = ctx->state;
	if (s->phase == ED_READY)
		acc_clear(s);
}

static bool ed_fresh(const struct ed_state *s)
{
	return s->phase == ED_COLLECTING && s->n == 0;
}

static int ed_merge(struct driftd_ctx *dst, const struct driftd_ctx *src)
{
	struct ed_state *d = dst->state;
	const struct ed_state *s = src->state;
	if (ed_fresh(s))
		return 0;
	if (s->phase != ED_READY || s->dim > d->max_dim)
		return -EINVAL;
	if (ed_fresh(d)) {
		d->dim = s->dim;
		d->phase = ED_READY;
		memcpy(d->ref_mean, s->ref_mean, s->dim * sizeof(double));
		/* then add s's window to the empty one below */
	} else if (d->phase != ED_READY || d->dim != s->dim ||
	           memcmp(d->ref_mean, s->ref_mean, s->dim * sizeof(double)) != 0) {
		return -EINVAL;
	}
	if (s->n > UINT64_MAX - d->n)
		return -EOVERFLOW;
	acc_normalise(d);
	for (size_t i = 0; i < s->dim; i++) {
		int64_t t[XS_DIGITS];
		int64_t *a = acc_of(d, i);
		memcpy(t, acc_of(s, i), sizeof(t));
		xs_normalise(t);
		for (int j = 0; j < XS_DIGITS; j++)
			a[j] += t[j];
		xs_normalise(a);
	}
	d->n += s->n;
	return 0;
}

/* Snapshot v1, little-endian:
 *   u64 phase (0 collecting, 1 ready), u64 dim, u64 n (vectors summed in the accumulator)
 *   ready only: dim x f64 reference mean
 *   dim x { u64 lo, u64 len, len x u64 digits lo..lo+len-1 } : the accumulator in normal
 *          form, trimmed to its non-zero digits (len 0 for a zero sum; the top digit, 67, is
 *          two's complement)
 * A state with dim 0 has n 0 and nothing after the header (and a reference mean of no
 * elements). */
static int ed_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct ed_state *s = ctx->state;
	driftd_buf_put_u64(out, s->phase);
	driftd_buf_put_u64(out, s->dim);
	driftd_buf_put_u64(out, s->n);
	if (s->phase == ED_READY)
		for (size_t i = 0; i < s->dim; i++)
			driftd_buf_put_f64(out, s->ref_mean[i]);
	for (size_t i = 0; i < s->dim; i++) {
		int64_t t[XS_DIGITS];
		memcpy(t, acc_of(s, i), sizeof(t));
		xs_normalise(t);
		int lo = 0, hi = XS_DIGITS - 1;
		while (lo < XS_DIGITS && t[lo] == 0)
			lo++;
		while (hi >= lo && t[hi] == 0)
			hi--;
		if (lo == XS_DIGITS) {
			driftd_buf_put_u64(out, 0);
			driftd_buf_put_u64(out, 0);
			continue;
		}
		driftd_buf_put_u64(out, (uint64_t)lo);
		driftd_buf_put_u64(out, (uint64_t)(hi - lo + 1));
		for (int j = lo; j <= hi; j++)
			driftd_buf_put_u64(out, (uint64_t)t[j]);
	}
	return out->err;
}

/* *touched: dimensions whose digits may have been written, also on failure. */
static int ed_parse(struct ed_state *s, struct driftd_reader *r, size_t *touched)
{
	uint64_t phase, dim, n;
	if (driftd_rd_u64(r, &phase) < 0 || driftd_rd_u64(r, &dim) < 0 || driftd_rd_u64(r, &n) < 0)
		return -EBADMSG;
	/* only a vector fixes the dimension, and while collecting every vector counts */
	if (phase > ED_READY || dim > s->max_dim || (dim == 0 && (n != 0 || phase != 0)) ||
	    (phase == ED_COLLECTING && dim != 0 && n == 0))
		return -EBADMSG;
	/* at least 16 bytes per dimension follow: reject absurd sizes before reading */
	if (r->left / 16 < dim)
		return -EBADMSG;
	if (phase == ED_READY)
		for (size_t i = 0; i < dim; i++)
			if (driftd_rd_f64_finite(r, &s->ref_mean[i]) < 0)
				return -EBADMSG;
	bool any = false;
	for (size_t i = 0; i < dim; i++) {
		uint64_t lo, len;
		int64_t *a = s->acc + i * XS_DIGITS;
		*touched = i + 1;
		if (driftd_rd_u64(r, &lo) < 0 || driftd_rd_u64(r, &len) < 0)
			return -EBADMSG;
		if (len == 0) {
			if (lo != 0)
				return -EBADMSG;
			continue;
		}
		if (lo >= XS_DIGITS || len > XS_DIGITS - lo)
			return -EBADMSG;
		for (uint64_t j = lo; j < lo + len; j++) {
			uint64_t v;
			if (driftd_rd_u64(r, &v) < 0)
				return -EBADMSG;
			int64_t sv = (int64_t)v;
			/* digits 0..66 in [0, 2^32); the signed top digit of a sum of at most 2^64
			 * doubles stays far inside +-2^31 */
			if (j < XS_DIGITS - 1 ? v > (uint64_t)XS_MASK
			                      : sv > INT32_MAX || sv < INT32_MIN)
				return -EBADMSG;
			a[j] = sv;
		}
		/* normal form: trimmed exactly to the non-zero digits */
		if (a[lo] == 0 || a[lo + len - 1] == 0)
			return -EBADMSG;
		any = true;
	}
	/* a non-zero sum needs vectors; an empty accumulator with n > 0 is a sum of zeros */
	if (any && n == 0)
		return -EBADMSG;
	s->phase = (enum ed_phase)phase;
	s->dim = (size_t)dim;
	s->n = n;
	s->pending = 0;
	return 0;
}

static int ed_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct ed_state *s = ctx->state;
	if (!s->acc)
		return -EBADMSG;
	ed_clear(s, s->dim);
	if (version != 1 || (!data && len))
		return -EBADMSG;
	struct driftd_reader r = {.p = data, .left = len};
	size_t touched = 0;
	if (ed_parse(s, &r, &touched) < 0 || r.left != 0) {
		ed_clear(s, touched > s->dim ? touched : s->dim);
		return -EBADMSG;
	}
	return 0;
}

const struct driftd_detector_ops driftd_detector_embedding_distance = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "embedding_distance",
    .summary = "Distance between the mean embedding of the reference and of each window.",
    .kind = DRIFTD_KIND_MULTIVARIATE,
    .caps = DRIFTD_CAP_MERGE,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_VECTOR),
    .params = ed_params,
    .n_params = sizeof(ed_params) / sizeof(ed_params[0]),
    .config_size = sizeof(struct ed_config),
    .state_size = sizeof(struct ed_state),
    .snapshot_version = 1,
    .check_config = ed_check_config,
    .init = ed_init,
    .reference_add = ed_reference_add,
    .reference_done = ed_reference_done,
    .update = ed_update,
    .evaluate = ed_evaluate,
    .window_reset = ed_window_reset,
    .snapshot = ed_snapshot,
    .restore = ed_restore,
    .merge = ed_merge,
    .done = ed_done,
};
