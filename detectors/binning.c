/* Reference-frozen histograms for the binned divergence detectors (psi, js, kl, hellinger).
 *
 * Phases. init allocates the raw reference buffer (shape.reference_size values), the edge and
 * count arrays for the largest histogram the configuration can produce, and evaluate's scratch.
 * reference_add buffers values; reference_done computes the edges, freezes the reference counts
 * and frees the raw reference: afterwards the reference is only its histogram. update does one
 * binary search over the edges and increments a window count (no allocation, O(log bins)).
 *
 * Edges. With K bins the method gives K + 1 edges F_0 <= ... <= F_K from the reference:
 *   quantile: F_k = quantile(reference, k / K) with numpy's default "linear" method (Hyndman-Fan
 *             type 7), evaluated with numpy's own formula: h = (n - 1) q, i = floor(h),
 *             g = h - i, a = x[i], b = x[i+1], e = g >= 0.5 ? b - (b - a)(1 - g) : a + (b - a) g;
 *             so np.quantile(ref, np.arange(K + 1) / K) gives identical edges; K = `bins`.
 *   uniform:  F = np.linspace(min, max, K + 1), K = `bins`.
 *   doane, sturges: F = np.histogram_bin_edges(reference, bins="doane" / "sturges"): K is
 *             ceil((max - min) / width) with numpy's width estimate (Sturges: range / (log2 n +
 *             1); Doane adds log2(1 + |g1| / sg1) to the divisor, g1 the sample skewness, and
 *             gives width 0, so K = 1, for n <= 2 or zero spread); the edges are
 *             np.linspace(min, max, K + 1), widened to [c - 0.5, c + 0.5] for a constant
 *             reference c. The moments are computed in arrival order with numpy's pairwise
 *             summation, as np.histogram_bin_edges(reference) does (numpy's vectorised pow and
 *             log2 may differ from libm's in the last bit, which could only change K when the
 *             count lands within rounding of an integer).
 *   Only where numpy overflows (a range wider than DBL_MAX, or moments beyond it, where numpy
 *   gives NaN/inf edges or raises) do the edges come from a convex combination instead and the
 *   doane/sturges count fall back to ceil(log2 n + 1), so that they stay finite.
 * Ties collapse: an edge is kept only when it is strictly greater than the previous kept one,
 * so a reference with few distinct values gets fewer bins (where numpy would raise "too many
 * bins" or make zero-width bins).
 *
 * Out-of-range policy (`out_of_range`):
 *   clamp: the kept edges are F_1 .. F_{K-1} and the outermost bins reach to -inf and +inf, so a
 *          window value beyond the reference range lands in the first or last bin. Bins are
 *          closed on the left, [e_{k-1}, e_k): np.histogram's rule over [-inf, e_1, ..., +inf].
 *          A constant reference gets the single edge c and two bins under quantile and uniform
 *          binning, one bin (every score 0) under doane and sturges: use `bin` there.
 *   bin:   the kept edges are F_0 .. F_K; values in [F_0, F_K] fall into np.histogram's bins
 *          (closed on the left, the last one closed on both sides), values below F_0 into an
 *          underflow bin and values above F_K into an overflow bin, both empty in the reference
 *          (NannyML's "leftover" mass, split by side). A constant reference under quantile or
 *          uniform binning has the single edge c and the regular bin [c, c].
 * With E kept edges there are E + 1 bins, except `bin` with a single edge: 3 bins.
 *
 * Empty-bin policy (`empty_bin`), applied to reference and window alike over the B bins in use:
 *   epsilon: a bin with count 0 gets proportion `epsilon`, the others count / total (Evidently);
 *   laplace: p = (count + 0.5) / (total + 0.5 B);
 *   none:    p = count / total (js and hellinger only: their sums stay finite).
 * dd_binned_proportions can then renormalise both vectors to sum 1, as scipy does inside
 * entropy() and jensenshannon(); psi uses them as they are (Evidently's psi does not).
 *
 * Merge (DRIFTD_CAP_MERGE) adds window counts. Both states must hold the same reference summary
 * (bitwise equal edges and equal reference counts), else -EINVAL; a state that has not received
 * any reference value is the identity (merging it is a no-op, merging into it copies the other).
 *
 * Errors: reference_add past shape.reference_size -ENOSPC; reference_done without values
 * -ENODATA; update/evaluate before reference_done, or reference_add/reference_done after it,
 * -EINVAL; evaluate on an empty window -ENODATA; non-number or non-finite values -EDOM.
 *
 * Snapshot v1, all little-endian (the layout psi has always had):
 *   u64 phase
 *   phase 0 (collecting): u64 n, n x f64 reference values in arrival order
 *   phase 1 (ready):      u64 E, E x f64 edges, B x u64 reference counts, B x u64 window counts,
 *                         B = dd_binned_nbins (E + 1, or 3 for `bin` with E = 1)
 * Restore checks everything against the configuration: edge count bounds, finite strictly
 * increasing edges, count sums without overflow, a non-empty reference, and empty reference
 * underflow/overflow bins under `bin`.
 *
 * Fused multiply-add contraction is disabled so that edges are bit-identical to numpy's.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "binning.h"

#define LAPLACE_PSEUDOCOUNT 0.5

const char *const dd_binning_choices[] = {"quantile", "uniform", "doane", "sturges", NULL};
const char *const dd_out_of_range_choices[] = {"clamp", "bin", NULL};
const char *const dd_empty_choices_finite[] = {"epsilon", "laplace", NULL};
const char *const dd_empty_choices_all[] = {"epsilon", "laplace", "none", NULL};

int dd_bin_check_config(const struct dd_bin_config *c, int max_empty, const char **why)
{
	if (c->bins < 2 || c->bins > DD_BIN_MAX_BINS) {
		*why = "bins must be between 2 and 1000";
		return -EINVAL;
	}
	if (c->binning < DD_BIN_QUANTILE || c->binning > DD_BIN_STURGES) {
		*why = "binning must be quantile, uniform, doane or sturges";
		return -EINVAL;
	}
	if (c->out_of_range != DD_OOR_CLAMP && c->out_of_range != DD_OOR_BIN) {
		*why = "out_of_range must be clamp or bin";
		return -EINVAL;
	}
	if (c->empty_bin < 0 || c->empty_bin > max_empty) {
		*why = "empty_bin is not one this detector accepts";
		return -EINVAL;
	}
	if (!(c->epsilon > 0 && c->epsilon <= 1)) {
		*why = "epsilon must be in (0, 1]";
		return -EINVAL;
	}
	return 0;
}

static const struct dd_bin_config *bin_config(const struct driftd_ctx *ctx)
{
	/* The detector's config block starts with its struct dd_bin_config. */
	return ctx->config;
}

static bool auto_binning(int binning)
{
	return binning == DD_BIN_DOANE || binning == DD_BIN_STURGES;
}

/* Largest doane/sturges count for n values. Sturges' divisor is log2 n + 1; Doane's adds
 * log2(1 + |g1| / sg1) where |g1| <= (n - 2) / sqrt(n - 1) for any sample, which keeps
 * |g1| / sg1 below n + 4. ceil() and rounding add at most 2 more. */
static size_t auto_bins_cap(size_t n)
{
	return (size_t)(1.0 + 2.0 * log2((double)n + 5.0)) + 3;
}

size_t dd_binned_nbins(const struct dd_binned *b)
{
	if (b->oor == DD_OOR_BIN && b->n_edges == 1)
		return 3;
	return b->n_edges + 1;
}

void dd_binned_done(struct driftd_ctx *ctx)
{
	struct dd_binned *b = ctx->state;
	free(b->ref);
	free(b->edges);
	free(b->ref_cnt);
	free(b->win_cnt);
	free(b->p);
	free(b->q);
	b->ref = NULL;
	b->edges = NULL;
	b->ref_cnt = NULL;
	b->win_cnt = NULL;
	b->p = NULL;
	b->q = NULL;
}

/* Back to the state right after init (re-allocating the raw reference if it was freed). */
static int binned_clear(struct dd_binned *b)
{
	if (!b->ref) {
		b->ref = malloc(b->ref_cap * sizeof(double));
		if (!b->ref)
			return -ENOMEM;
	}
	b->phase = DD_BINNED_COLLECTING;
	b->ref_len = 0;
	b->n_edges = 0;
	b->ref_total = 0;
	b->win_total = 0;
	memset(b->edges, 0, b->max_edges * sizeof(double));
	memset(b->ref_cnt, 0, b->max_bins * sizeof(uint64_t));
	memset(b->win_cnt, 0, b->max_bins * sizeof(uint64_t));
	return 0;
}

int dd_binned_init(struct driftd_ctx *ctx)
{
	const struct dd_bin_config *c = bin_config(ctx);
	struct dd_binned *b = ctx->state;
	const char *why;

	if (dd_bin_check_config(c, DD_EMPTY_NONE, &why) < 0)
		return -EINVAL;
	if (ctx->shape.reference_size == 0 || ctx->shape.reference_size > SIZE_MAX / sizeof(double))
		return -EINVAL;

	size_t k =
	    auto_binning(c->binning) ? auto_bins_cap(ctx->shape.reference_size) : (size_t)c->bins;
	b->oor = c->out_of_range;
	b->ref_cap = ctx->shape.reference_size;
	if (b->oor == DD_OOR_CLAMP) {
		b->max_edges = k - 1;
		b->max_bins = k;
		b->min_edges = auto_binning(c->binning) ? 0 : 1;
	} else {
		b->max_edges = k + 1;
		b->max_bins = k + 2;
		b->min_edges = 1;
	}
	b->ref = malloc(b->ref_cap * sizeof(double));
	b->edges = calloc(b->max_edges, sizeof(double));
	b->ref_cnt = calloc(b->max_bins, sizeof(uint64_t));
	b->win_cnt = calloc(b->max_bins, sizeof(uint64_t));
	b->p = calloc(b->max_bins, sizeof(double));
	b->q = calloc(b->max_bins, sizeof(double));
	if (!b->ref || !b->edges || !b->ref_cnt || !b->win_cnt || !b->p || !b->q)
		return -ENOMEM;
	return binned_clear(b);
}

static bool is_number(const struct driftd_value *v)
{
	return v->type == DRIFTD_VALUE_NUMBER && isfinite(v->num);
}

int dd_binned_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct dd_binned *b = ctx->state;
	if (!is_number(v))
		return -EDOM;
	if (b->phase != DD_BINNED_COLLECTING)
		return -EINVAL;
	if (b->ref_len >= b->ref_cap)
		return -ENOSPC;
	b->ref[b->ref_len++] = v->num;
	return 0;
}

/* What pairwise_sum adds up: x itself, or the terms of numpy's std and Doane skewness. */
enum sum_term {
	TERM_X = 0,
	TERM_SQUARED_DEVIATION = 1,  /* (x - mean)^2 */
	TERM_CUBED_STANDARDISED = 2, /* ((x - mean) / sigma)^3, numpy's power(temp, 3) */
};

struct term_args {
	enum sum_term kind;
	double mean, sigma;
};

static double term(const struct term_args *a, double x)
{
	double d;
	switch (a->kind) {
	case TERM_SQUARED_DEVIATION:
		d = x - a->mean;
		return d * d;
	case TERM_CUBED_STANDARDISED:
		return pow((x - a->mean) / a->sigma, 3.0);
	default:
		return x;
	}
}

/* numpy's pairwise summation (DOUBLE_pairwise_sum) of term(x[i]): below 8 values a plain loop;
 * up to 128 eight interleaved partial sums combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) +
 * (r6 + r7)) and then the remainder; above, split at a multiple of 8 near the middle. Computing
 * the terms on the fly gives numpy's sums of its temporary arrays without allocating them. */
static double pairwise_sum(const double *x, size_t n, const struct term_args *a)
{
	if (n < 8) {
		double s = 0.0;
		for (size_t i = 0; i < n; i++)
			s += term(a, x[i]);
		return s;
	}
	if (n <= 128) {
		double r[8];
		size_t i;
		for (size_t k = 0; k < 8; k++)
			r[k] = term(a, x[k]);
		for (i = 8; i < n - n % 8; i += 8)
			for (size_t k = 0; k < 8; k++)
				r[k] += term(a, x[i + k]);
		double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
		for (; i < n; i++)
			s += term(a, x[i]);
		return s;
	}
	size_t n2 = n / 2;
	n2 -= n2 % 8;
	return pairwise_sum(x, n2, a) + pairwise_sum(x + n2, n - n2, a);
}

double dd_pairwise_sum(const double *x, size_t n)
{
	const struct term_args a = {.kind = TERM_X};
	return pairwise_sum(x, n, &a);
}

double dd_rel_entr(double x, double y)
{
	if (isnan(x) || isnan(y))
		return (double)NAN;
	if (x > 0 && y > 0)
		return x * log(x / y);
	if (x == 0 && y >= 0)
		return 0.0;
	return (double)INFINITY;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* numpy's _lerp. When b - a overflows (a range wider than DBL_MAX, where numpy gives inf or
 * NaN) the convex combination keeps the edge finite. */
static double lerp(double a, double b, double t)
{
	double d = b - a;
	if (!isfinite(d))
		return (1 - t) * a + t * b;
	return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/* numpy.quantile(x, q, method="linear") on sorted x, with numpy's own arithmetic. */
static double quantile_linear(const double *x, size_t n, double q)
{
	double h = (double)(n - 1) * q;
	if (h >= (double)(n - 1))
		return x[n - 1];
	double lo = floor(h);
	size_t i = (size_t)lo;
	return lerp(x[i], x[i + 1], h - lo);
}

/* np.linspace(lo, hi, bins + 1)[k], 0 <= k <= bins, with numpy's arithmetic (including its
 * special case for a step that underflows to zero, and the exact end point). */
static double linspace_at(double lo, double hi, size_t k, size_t bins)
{
	if (k == bins)
		return hi;
	if (k == 0)
		return lo;
	double delta = hi - lo;
	double step = delta / (double)bins;
	if (!isfinite(delta))
		return lerp(lo, hi, (double)k / (double)bins);
	if (step == 0)
		return (double)k / (double)bins * delta + lo;
	return (double)k * step + lo;
}

/* numpy's _hist_bin_doane on x (arrival order): the width, or 0 for n <= 2 or no spread.
 * np.std and np.mean are pairwise sums divided by n, reproduced term by term. */
static double doane_width(const double *x, size_t n, double ptp)
{
	if (n <= 2)
		return 0.0;
	double nn = (double)n;
	double sg1 = sqrt(6.0 * (double)(n - 2) / ((nn + 1.0) * (double)(n + 3)));
	struct term_args a = {.kind = TERM_X};
	a.mean = pairwise_sum(x, n, &a) / nn;
	a.kind = TERM_SQUARED_DEVIATION;
	a.sigma = sqrt(pairwise_sum(x, n, &a) / nn);
	if (!(a.sigma > 0.0))
		return 0.0;
	a.kind = TERM_CUBED_STANDARDISED;
	double g1 = pairwise_sum(x, n, &a) / nn;
	return ptp / ((1.0 + log2(nn)) + log2(1.0 + fabs(g1) / sg1));
}

/* numpy's bin count for the doane/sturges estimators (np.histogram_bin_edges). */
static size_t auto_bins(int binning, const double *x, size_t n, double lo, double hi, size_t cap)
{
	double ptp = hi - lo;
	double first = lo, last = hi;
	if (first == last) {
		first -= 0.5;
		last += 0.5;
	}
	double width =
	    binning == DD_BIN_STURGES ? ptp / (log2((double)n) + 1.0) : doane_width(x, n, ptp);
	if (width == 0) /* Python's `if width:` (NaN counts as true) */
		return 1;
	double k = ceil((last - first) / width);
	if (!(k >= 1 && k <= (double)cap)) {
		/* numpy raises here (NaN from an overflowing range or moments); Sturges' count. */
		k = ceil(log2((double)n) + 1.0);
		if (!(k >= 1))
			k = 1;
	}
	/* cap bounds every finite count (auto_bins_cap); this only guards the arrays. */
	return k > (double)cap ? cap : (size_t)k;
}

/* Bin of x: clamp, the number of edges <= x (left-closed bins); bin, underflow 0, overflow
 * last, else 1 + the np.histogram bin over the edges (last regular bin closed on the right). */
static size_t bin_of(const struct dd_binned *b, double x)
{
	size_t lo = 0, hi = b->n_edges;
	if (b->oor == DD_OOR_BIN) {
		if (x < b->edges[0])
			return 0;
		if (x > b->edges[b->n_edges - 1])
			return dd_binned_nbins(b) - 1;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->edges[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (b->oor == DD_OOR_CLAMP)
		return lo;
	size_t regular = b->n_edges > 1 ? b->n_edges - 1 : 1;
	size_t r = lo - 1; /* lo >= 1: x >= edges[0] */
	return 1 + (r < regular ? r : regular - 1);
}

static void add_edge(struct dd_binned *b, double e)
{
	if (b->n_edges == 0 || e > b->edges[b->n_edges - 1])
		b->edges[b->n_edges++] = e;
}

int dd_binned_reference_done(struct driftd_ctx *ctx)
{
	const struct dd_bin_config *c = bin_config(ctx);
	struct dd_binned *b = ctx->state;
	size_t n = b->ref_len;

	if (b->phase != DD_BINNED_COLLECTING)
		return -EINVAL;
	if (n == 0)
		return -ENODATA;

	double lo = b->ref[0], hi = b->ref[0];
	for (size_t i = 1; i < n; i++) {
		lo = b->ref[i] < lo ? b->ref[i] : lo;
		hi = b->ref[i] > hi ? b->ref[i] : hi;
	}
	size_t k_bins = (size_t)c->bins;
	double first = lo, last = hi;
	if (auto_binning(c->binning)) {
		size_t cap = b->oor == DD_OOR_CLAMP ? b->max_bins : b->max_bins - 2;
		k_bins = auto_bins(c->binning, b->ref, n, lo, hi, cap);
		if (first == last) {
			first -= 0.5;
			last += 0.5;
		}
	}
	if (c->binning == DD_BIN_QUANTILE)
		qsort(b->ref, n, sizeof(double), cmp_double);

	size_t k0 = b->oor == DD_OOR_CLAMP ? 1 : 0;
	size_t k1 = b->oor == DD_OOR_CLAMP ? k_bins - 1 : k_bins;
	b->n_edges = 0;
	for (size_t k = k0; k <= k1 && k <= k_bins; k++) {
		double e = c->binning == DD_BIN_QUANTILE
		               ? quantile_linear(b->ref, n, (double)k / (double)k_bins)
		               : linspace_at(first, last, k, k_bins);
		add_edge(b, e);
	}

	memset(b->ref_cnt, 0, b->max_bins * sizeof(uint64_t));
	for (size_t i = 0; i < n; i++)
		b->ref_cnt[bin_of(b, b->ref[i])]++;
	b->ref_total = n;

	free(b->ref);
	b->ref = NULL;
	b->ref_len = 0;
	b->phase = DD_BINNED_READY;
	return 0;
}

int dd_binned_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct dd_binned *b = ctx->state;
	if (!is_number(v))
		return -EDOM;
	if (b->phase != DD_BINNED_READY)
		return -EINVAL;
	if (b->win_total == UINT64_MAX)
		return -EOVERFLOW;
	b->win_cnt[bin_of(b, v->num)]++;
	b->win_total++;
	return 0;
}

void dd_binned_window_reset(struct driftd_ctx *ctx)
{
	struct dd_binned *b = ctx->state;
	memset(b->win_cnt, 0, b->max_bins * sizeof(uint64_t));
	b->win_total = 0;
}

static double proportion(const struct dd_bin_config *c, uint64_t count, uint64_t total, size_t bins)
{
	if (c->empty_bin == DD_EMPTY_LAPLACE)
		return ((double)count + LAPLACE_PSEUDOCOUNT) /
		       ((double)total + LAPLACE_PSEUDOCOUNT * (double)bins);
	if (count == 0 && c->empty_bin == DD_EMPTY_EPSILON)
		return c->epsilon;
	return (double)count / (double)total;
}

int dd_binned_proportions(struct dd_binned *b, const struct dd_bin_config *c, bool normalise)
{
	if (b->phase != DD_BINNED_READY)
		return -EINVAL;
	if (b->win_total == 0)
		return -ENODATA;
	size_t nb = dd_binned_nbins(b);
	for (size_t i = 0; i < nb; i++) {
		b->p[i] = proportion(c, b->ref_cnt[i], b->ref_total, nb);
		b->q[i] = proportion(c, b->win_cnt[i], b->win_total, nb);
	}
	if (normalise) {
		double sp = dd_pairwise_sum(b->p, nb), sq = dd_pairwise_sum(b->q, nb);
		for (size_t i = 0; i < nb; i++) {
			b->p[i] /= sp;
			b->q[i] /= sq;
		}
	}
	return 0;
}

static bool binned_fresh(const struct dd_binned *b)
{
	return b->phase == DD_BINNED_COLLECTING && b->ref_len == 0;
}

int dd_binned_merge(struct driftd_ctx *dst, const struct driftd_ctx *src)
{
	struct dd_binned *d = dst->state;
	const struct dd_binned *s = src->state;

	if (binned_fresh(s))
		return 0;
	if (s->phase != DD_BINNED_READY || s->oor != d->oor)
		return -EINVAL;
	size_t nb = dd_binned_nbins(s);
	if (binned_fresh(d)) {
		if (s->n_edges > d->max_edges || nb > d->max_bins)
			return -EINVAL;
		memcpy(d->edges, s->edges, s->n_edges * sizeof(double));
		memcpy(d->ref_cnt, s->ref_cnt, nb * sizeof(uint64_t));
		memcpy(d->win_cnt, s->win_cnt, nb * sizeof(uint64_t));
		d->n_edges = s->n_edges;
		d->ref_total = s->ref_total;
		d->win_total = s->win_total;
		free(d->ref);
		d->ref = NULL;
		d->phase = DD_BINNED_READY;
		return 0;
	}
	if (d->phase != DD_BINNED_READY || d->n_edges != s->n_edges ||
	    d->ref_total != s->ref_total ||
	    memcmp(d->edges, s->edges, s->n_edges * sizeof(double)) != 0 ||
	    memcmp(d->ref_cnt, s->ref_cnt, nb * sizeof(uint64_t)) != 0)
		return -EINVAL;
	if (s->win_total > UINT64_MAX - d->win_total)
		return -EOVERFLOW;
	for (size_t i = 0; i < nb; i++)
		d->win_cnt[i] += s->win_cnt[i];
	d->win_total += s->win_total;
	return 0;
}

int dd_binned_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct dd_binned *b = ctx->state;

	driftd_buf_put_u64(out, b->phase);
	if (b->phase == DD_BINNED_COLLECTING) {
		driftd_buf_put_u64(out, b->ref_len);
		for (size_t i = 0; i < b->ref_len; i++)
			driftd_buf_put_f64(out, b->ref[i]);
	} else {
		size_t nb = dd_binned_nbins(b);
		driftd_buf_put_u64(out, b->n_edges);
		for (size_t i = 0; i < b->n_edges; i++)
			driftd_buf_put_f64(out, b->edges[i]);
		for (size_t i = 0; i < nb; i++)
			driftd_buf_put_u64(out, b->ref_cnt[i]);
		for (size_t i = 0; i < nb; i++)
			driftd_buf_put_u64(out, b->win_cnt[i]);
	}
	return out->err;
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

static int binned_parse(struct dd_binned *b, struct driftd_reader *r)
{
	uint64_t phase, n;

	if (driftd_rd_u64(r, &phase) < 0 || driftd_rd_u64(r, &n) < 0)
		return -EBADMSG;
	if (phase == DD_BINNED_COLLECTING) {
		if (n > b->ref_cap || n * sizeof(double) != r->left)
			return -EBADMSG;
		for (size_t i = 0; i < n; i++)
			if (driftd_rd_f64_finite(r, &b->ref[i]) < 0)
				return -EBADMSG;
		b->ref_len = n;
		return 0;
	}
	if (phase != DD_BINNED_READY || n < b->min_edges || n > b->max_edges)
		return -EBADMSG;
	b->n_edges = n;
	size_t nb = dd_binned_nbins(b);
	if (nb > b->max_bins || r->left != n * sizeof(double) + 2 * nb * sizeof(uint64_t))
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		if (driftd_rd_f64_finite(r, &b->edges[i]) < 0)
			return -EBADMSG;
		if (i > 0 && !(b->edges[i] > b->edges[i - 1]))
			return -EBADMSG;
	}
	if (parse_counts(r, b->ref_cnt, nb, &b->ref_total) < 0 || b->ref_total == 0 ||
	    parse_counts(r, b->win_cnt, nb, &b->win_total) < 0)
		return -EBADMSG;
	/* Under `bin` the reference lies within its own range by construction. */
	if (b->oor == DD_OOR_BIN && (b->ref_cnt[0] != 0 || b->ref_cnt[nb - 1] != 0))
		return -EBADMSG;
	free(b->ref);
	b->ref = NULL;
	b->phase = DD_BINNED_READY;
	return 0;
}

int dd_binned_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct dd_binned *b = ctx->state;
	struct driftd_reader r = {.p = data, .left = len};
	int rc = binned_clear(b);

	if (rc < 0)
		return rc;
	if (version != 1 || (!data && len))
		return -EBADMSG;
	if (binned_parse(b, &r) < 0 || r.left != 0) {
		rc = binned_clear(b);
		return rc < 0 ? rc : -EBADMSG;
	}
	return 0;
}
