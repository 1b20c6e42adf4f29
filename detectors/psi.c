/* psi: Population Stability Index between a reference sample and each window, over bins whose
 * edges are frozen from the reference.
 *
 *   PSI = sum over bins of (p_cur - p_ref) * ln(p_cur / p_ref),  drift when PSI >= threshold
 *   (Evidently's rule and default threshold 0.1).
 *
 * Edges. `bins` asks for K bins, i.e. K - 1 inner edges computed from the reference:
 *   quantile: e_k = quantile(reference, k / K), k = 1..K-1, with numpy's default "linear"
 *             method (Hyndman-Fan type 7) evaluated with numpy's own formula: h = (n - 1) q,
 *             i = floor(h), g = h - i, a = x[i], b = x[i+1], e = g >= 0.5 ? b - (b - a)(1 - g)
 *             : a + (b - a) g; so np.quantile(ref, np.arange(1, K) / K) gives identical edges.
 *   uniform:  e_k = min + k * ((max - min) / K), k = 1..K-1, as np.linspace(min, max, K + 1).
 *   (Only where numpy would overflow, a range wider than DBL_MAX, do the edges come from a
 *   convex combination instead, so that they stay finite.)
 * Edges that are not strictly greater than the previous kept edge are dropped, so ties collapse:
 * a reference with few distinct values gets fewer bins, and a constant reference (or a uniform
 * range of zero width) gets the single edge c and two bins, below c and from c up.
 * The outermost edges are -inf and +inf: every finite value falls into some bin, and current
 * values outside the reference range land in the first or last bin. Bins are closed on the left,
 * [e_{k-1}, e_k): a value equal to an edge belongs to the bin above it (np.histogram's rule with
 * edges [-inf, e_1, ..., e_{K-1}, +inf]). With ties the bin below the first edge can be empty in
 * the reference by construction; it then only fills with current values below the reference.
 *
 * Empty bins. epsilon (default, Evidently's rule): a bin with count 0 gets proportion `epsilon`
 * in whichever distribution it is empty; the others keep count / total, nothing is renormalised.
 * laplace: 0.5 is added to every bin count of both distributions: p = (c + 0.5) / (n + 0.5 B)
 * over the B bins actually in use.
 *
 * Memory: init allocates the raw reference buffer (shape.reference_size values) and the bin
 * arrays for `bins` bins. reference_done sorts the buffer, freezes the edges and reference counts
 * and frees the raw reference: afterwards the reference is only its histogram. update does a
 * binary search over the edges and increments a window count (no allocation).
 *
 * Merge (DRIFTD_CAP_MERGE) adds window counts. Both states must hold the same reference summary
 * (bitwise equal edges and equal reference counts), else -EINVAL; a state that has not received
 * any reference value is the identity (merging it is a no-op, merging into it copies the other).
 *
 * Errors: reference_add past shape.reference_size -ENOSPC; reference_done without values
 * -ENODATA; update/evaluate before reference_done, or reference_add/reference_done after it,
 * -EINVAL; evaluate on an empty window -ENODATA; non-number or non-finite values -EDOM.
 * Snapshots cover both phases (raw values while collecting, edges and counts once ready).
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

#include <driftd/detector.h>

enum psi_binning {
	PSI_BIN_QUANTILE = 0,
	PSI_BIN_UNIFORM = 1,
};

enum psi_empty {
	PSI_EMPTY_EPSILON = 0,
	PSI_EMPTY_LAPLACE = 1,
};

#define PSI_LAPLACE_PSEUDOCOUNT 0.5
#define PSI_MAX_BINS            1000

struct psi_config {
	double threshold;
	int64_t bins;
	int binning;
	int empty_bin;
	double epsilon;
};

enum psi_phase {
	PSI_COLLECTING = 0, /* reference values being buffered (none yet is the fresh state) */
	PSI_READY = 1,      /* edges and reference counts frozen, windows can be fed */
};

struct psi_state {
	enum psi_phase phase;
	double *ref;        /* raw reference, NULL once READY */
	size_t ref_len;     /* values buffered */
	size_t ref_cap;     /* shape.reference_size */
	size_t max_edges;   /* bins - 1: capacity of edges */
	size_t n_edges;     /* inner edges in use; bins in use = n_edges + 1 */
	double *edges;      /* [max_edges] */
	uint64_t *ref_cnt;  /* [max_edges + 1] */
	uint64_t *win_cnt;  /* [max_edges + 1] */
	uint64_t ref_total; /* sum of ref_cnt */
	uint64_t win_total; /* sum of win_cnt */
};

static const char *const psi_binnings[] = {"quantile", "uniform", NULL};
static const char *const psi_empties[] = {"epsilon", "laplace", NULL};

static const struct driftd_param psi_params[] = {
    {
        .name = "threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct psi_config, threshold),
        .def = 0.1,
        .min = 0,
        .max = HUGE_VAL,
        .max_open = true,
        .description = "Drift when the PSI is at least this value.",
    },
    {
        .name = "bins",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct psi_config, bins),
        .def = 10,
        .min = 2,
        .max = PSI_MAX_BINS,
        .description = "Number of bins requested; tied quantile edges collapse into fewer.",
    },
    {
        .name = "binning",
        .type = DRIFTD_PARAM_ENUM,
        .offset = offsetof(struct psi_config, binning),
        .def = PSI_BIN_QUANTILE,
        .choices = psi_binnings,
        .description = "Edges from reference quantiles or equal widths over the reference range.",
    },
    {
        .name = "empty_bin",
        .type = DRIFTD_PARAM_ENUM,
        .offset = offsetof(struct psi_config, empty_bin),
        .def = PSI_EMPTY_EPSILON,
        .choices = psi_empties,
        .description = "Empty bins get proportion epsilon, or every bin count gets 0.5 added.",
    },
    {
        .name = "epsilon",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct psi_config, epsilon),
        .def = 0.0001,
        .min = 0,
        .max = 1,
        .min_open = true,
        .description = "Proportion used for an empty bin when empty_bin is epsilon.",
    },
};

static void psi_done(struct driftd_ctx *ctx)
{
	struct psi_state *s = ctx->state;
	free(s->ref);
	free(s->edges);
	free(s->ref_cnt);
	free(s->win_cnt);
	s->ref = NULL;
	s->edges = NULL;
	s->ref_cnt = NULL;
	s->win_cnt = NULL;
}

/* Back to the state right after init (re-allocating the raw reference if it was freed). */
static int psi_clear(struct driftd_ctx *ctx)
{
	struct psi_state *s = ctx->state;
	size_t nb = s->max_edges + 1;

	if (!s->ref) {
		s->ref = malloc(s->ref_cap * sizeof(double));
		if (!s->ref)
			return -ENOMEM;
	}
	s->phase = PSI_COLLECTING;
	s->ref_len = 0;
	s->n_edges = 0;
	s->ref_total = 0;
	s->win_total = 0;
	memset(s->edges, 0, s->max_edges * sizeof(double));
	memset(s->ref_cnt, 0, nb * sizeof(uint64_t));
	memset(s->win_cnt, 0, nb * sizeof(uint64_t));
	return 0;
}

static int psi_check_config(const void *config, const char **why)
{
	const struct psi_config *c = config;
	if (c->bins < 2 || c->bins > PSI_MAX_BINS) {
		*why = "bins must be between 2 and 1000";
		return -EINVAL;
	}
	if (!(c->epsilon > 0 && c->epsilon <= 1)) {
		*why = "epsilon must be in (0, 1]";
		return -EINVAL;
	}
	return 0;
}

static int psi_init(struct driftd_ctx *ctx)
{
	const struct psi_config *c = ctx->config;
	struct psi_state *s = ctx->state;
	const char *why;

	if (psi_check_config(c, &why) < 0 ||
	    (c->binning != PSI_BIN_QUANTILE && c->binning != PSI_BIN_UNIFORM) ||
	    (c->empty_bin != PSI_EMPTY_EPSILON && c->empty_bin != PSI_EMPTY_LAPLACE))
		return -EINVAL;
	if (ctx->shape.reference_size == 0 || ctx->shape.reference_size > SIZE_MAX / sizeof(double))
		return -EINVAL;

	s->ref_cap = ctx->shape.reference_size;
	s->max_edges = (size_t)c->bins - 1;
	s->ref = malloc(s->ref_cap * sizeof(double));
	s->edges = calloc(s->max_edges, sizeof(double));
	s->ref_cnt = calloc(s->max_edges + 1, sizeof(uint64_t));
	s->win_cnt = calloc(s->max_edges + 1, sizeof(uint64_t));
	if (!s->ref || !s->edges || !s->ref_cnt || !s->win_cnt)
		return -ENOMEM;
	return psi_clear(ctx);
}

static bool psi_number(const struct driftd_value *v)
{
	return v->type == DRIFTD_VALUE_NUMBER && isfinite(v->num);
}

static int psi_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct psi_state *s = ctx->state;
	if (!psi_number(v))
		return -EDOM;
	if (s->phase != PSI_COLLECTING)
		return -EINVAL;
	if (s->ref_len >= s->ref_cap)
		return -ENOSPC;
	s->ref[s->ref_len++] = v->num;
	return 0;
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

/* np.linspace(lo, hi, bins + 1)[k], 0 < k < bins, with numpy's arithmetic (including its
 * special case for a step that underflows to zero). */
static double linspace_at(double lo, double hi, size_t k, size_t bins)
{
	double delta = hi - lo;
	double step = delta / (double)bins;
	if (!isfinite(delta))
		return lerp(lo, hi, (double)k / (double)bins);
	if (step == 0)
		return (double)k / (double)bins * delta + lo;
	return (double)k * step + lo;
}

/* Bin of x: the number of inner edges <= x (left-closed bins). */
static size_t psi_bin(const struct psi_state *s, double x)
{
	size_t lo = 0, hi = s->n_edges;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->edges[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void psi_add_edge(struct psi_state *s, double e)
{
	if (s->n_edges == 0 || e > s->edges[s->n_edges - 1])
		s->edges[s->n_edges++] = e;
}

static int psi_reference_done(struct driftd_ctx *ctx)
{
	const struct psi_config *c = ctx->config;
	struct psi_state *s = ctx->state;
	size_t n = s->ref_len;
	size_t k_bins = s->max_edges + 1;

	if (s->phase != PSI_COLLECTING)
		return -EINVAL;
	if (n == 0)
		return -ENODATA;
	qsort(s->ref, n, sizeof(double), cmp_double);

	s->n_edges = 0;
	if (c->binning == PSI_BIN_QUANTILE) {
		for (size_t k = 1; k < k_bins; k++)
			psi_add_edge(s, quantile_linear(s->ref, n, (double)k / (double)k_bins));
	} else {
		for (size_t k = 1; k < k_bins; k++)
			psi_add_edge(s, linspace_at(s->ref[0], s->ref[n - 1], k, k_bins));
	}

	memset(s->ref_cnt, 0, k_bins * sizeof(uint64_t));
	for (size_t i = 0; i < n; i++)
		s->ref_cnt[psi_bin(s, s->ref[i])]++;
	s->ref_total = n;

	free(s->ref);
	s->ref = NULL;
	s->ref_len = 0;
	s->phase = PSI_READY;
	return 0;
}

static int psi_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct psi_state *s = ctx->state;
	if (!psi_number(v))
		return -EDOM;
	if (s->phase != PSI_READY)
		return -EINVAL;
	if (s->win_total == UINT64_MAX)
		return -EOVERFLOW;
	s->win_cnt[psi_bin(s, v->num)]++;
	s->win_total++;
	return 0;
}

static double psi_prop(const struct psi_config *c, uint64_t count, uint64_t total, size_t bins)
{
	if (c->empty_bin == PSI_EMPTY_LAPLACE)
		return ((double)count + PSI_LAPLACE_PSEUDOCOUNT) /
		       ((double)total + PSI_LAPLACE_PSEUDOCOUNT * (double)bins);
	if (count == 0)
		return c->epsilon;
	return (double)count / (double)total;
}

static int psi_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct psi_config *c = ctx->config;
	const struct psi_state *s = ctx->state;
	size_t bins = s->n_edges + 1;
	double psi = 0.0;

	if (s->phase != PSI_READY)
		return -EINVAL;
	if (s->win_total == 0)
		return -ENODATA;
	for (size_t i = 0; i < bins; i++) {
		double pr = psi_prop(c, s->ref_cnt[i], s->ref_total, bins);
		double pc = psi_prop(c, s->win_cnt[i], s->win_total, bins);
		psi += (pc - pr) * log(pc / pr);
	}
	*out = (struct driftd_verdict){
	    .score = psi,
	    .threshold = c->threshold,
	    .p_value = (double)NAN,
	    .drift = psi >= c->threshold,
	    .warning = false,
	};
	return 0;
}

static void psi_window_reset(struct driftd_ctx *ctx)
{
	struct psi_state *s = ctx->state;
	memset(s->win_cnt, 0, (s->max_edges + 1) * sizeof(uint64_t));
	s->win_total = 0;
}

static bool psi_fresh(const struct psi_state *s)
{
	return s->phase == PSI_COLLECTING && s->ref_len == 0;
}

static int psi_merge(struct driftd_ctx *dst, const struct driftd_ctx *src)
{
	struct psi_state *d = dst->state;
	const struct psi_state *s = src->state;

	if (psi_fresh(s))
		return 0;
	if (s->phase != PSI_READY)
		return -EINVAL;
	if (psi_fresh(d)) {
		if (s->n_edges > d->max_edges)
			return -EINVAL;
		memcpy(d->edges, s->edges, s->n_edges * sizeof(double));
		memcpy(d->ref_cnt, s->ref_cnt, (s->n_edges + 1) * sizeof(uint64_t));
		memcpy(d->win_cnt, s->win_cnt, (s->n_edges + 1) * sizeof(uint64_t));
		d->n_edges = s->n_edges;
		d->ref_total = s->ref_total;
		d->win_total = s->win_total;
		free(d->ref);
		d->ref = NULL;
		d->phase = PSI_READY;
		return 0;
	}
	if (d->phase != PSI_READY || d->n_edges != s->n_edges || d->ref_total != s->ref_total ||
	    memcmp(d->edges, s->edges, s->n_edges * sizeof(double)) != 0 ||
	    memcmp(d->ref_cnt, s->ref_cnt, (s->n_edges + 1) * sizeof(uint64_t)) != 0)
		return -EINVAL;
	if (s->win_total > UINT64_MAX - d->win_total)
		return -EOVERFLOW;
	for (size_t i = 0; i <= s->n_edges; i++)
		d->win_cnt[i] += s->win_cnt[i];
	d->win_total += s->win_total;
	return 0;
}

/* Snapshot v1, all little-endian:
 *   u64 phase
 *   phase 0 (collecting): u64 n, n x f64 reference values
 *   phase 1 (ready):      u64 n_edges, n_edges x f64 edges,
 *                         (n_edges + 1) x u64 reference counts, (n_edges + 1) x u64 window counts
 */
static int psi_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct psi_state *s = ctx->state;

	driftd_buf_put_u64(out, s->phase);
	if (s->phase == PSI_COLLECTING) {
		driftd_buf_put_u64(out, s->ref_len);
		for (size_t i = 0; i < s->ref_len; i++)
			driftd_buf_put_f64(out, s->ref[i]);
	} else {
		driftd_buf_put_u64(out, s->n_edges);
		for (size_t i = 0; i < s->n_edges; i++)
			driftd_buf_put_f64(out, s->edges[i]);
		for (size_t i = 0; i <= s->n_edges; i++)
			driftd_buf_put_u64(out, s->ref_cnt[i]);
		for (size_t i = 0; i <= s->n_edges; i++)
			driftd_buf_put_u64(out, s->win_cnt[i]);
	}
	return out->err;
}

static int psi_parse_counts(struct driftd_reader *r, uint64_t *cnt, size_t n, uint64_t *total)
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

static int psi_parse(struct psi_state *s, struct driftd_reader *r)
{
	uint64_t phase, n;

	if (driftd_rd_u64(r, &phase) < 0 || driftd_rd_u64(r, &n) < 0)
		return -EBADMSG;
	if (phase == PSI_COLLECTING) {
		if (n > s->ref_cap || n * sizeof(double) != r->left)
			return -EBADMSG;
		for (size_t i = 0; i < n; i++)
			if (driftd_rd_f64_finite(r, &s->ref[i]) < 0)
				return -EBADMSG;
		s->ref_len = n;
		return 0;
	}
	if (phase != PSI_READY || n < 1 || n > s->max_edges)
		return -EBADMSG;
	if (r->left != n * sizeof(double) + 2 * (n + 1) * sizeof(uint64_t))
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		if (driftd_rd_f64_finite(r, &s->edges[i]) < 0)
			return -EBADMSG;
		if (i > 0 && !(s->edges[i] > s->edges[i - 1]))
			return -EBADMSG;
	}
	s->n_edges = n;
	if (psi_parse_counts(r, s->ref_cnt, n + 1, &s->ref_total) < 0 || s->ref_total == 0 ||
	    psi_parse_counts(r, s->win_cnt, n + 1, &s->win_total) < 0)
		return -EBADMSG;
	free(s->ref);
	s->ref = NULL;
	s->phase = PSI_READY;
	return 0;
}

static int psi_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct driftd_reader r = {.p = data, .left = len};
	int rc = psi_clear(ctx);

	if (rc < 0)
		return rc;
	if (version != 1 || (!data && len))
		return -EBADMSG;
	if (psi_parse(ctx->state, &r) < 0 || r.left != 0) {
		rc = psi_clear(ctx);
		return rc < 0 ? rc : -EBADMSG;
	}
	return 0;
}

const struct driftd_detector_ops driftd_detector_psi = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "psi",
    .summary = "Population Stability Index over bins frozen from the reference.",
    .kind = DRIFTD_KIND_TWO_SAMPLE,
    .caps = DRIFTD_CAP_MERGE,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = psi_params,
    .n_params = sizeof(psi_params) / sizeof(psi_params[0]),
    .config_size = sizeof(struct psi_config),
    .state_size = sizeof(struct psi_state),
    .snapshot_version = 1,
    .check_config = psi_check_config,
    .init = psi_init,
    .reference_add = psi_reference_add,
    .reference_done = psi_reference_done,
    .update = psi_update,
    .evaluate = psi_evaluate,
    .window_reset = psi_window_reset,
    .snapshot = psi_snapshot,
    .restore = psi_restore,
    .merge = psi_merge,
    .done = psi_done,
};
