/* ks: two-sample Kolmogorov-Smirnov test of a window against a fixed reference sample.
 *
 * D and the two-sided p-value are those of scipy.stats.ks_2samp(reference, window,
 * method=...), scipy 1.17.1: D = sup |F_ref - G_win| over the pooled points with right-continuous
 * ECDFs (ties handled as scipy's searchsorted(side='right')); the p-value is exact when
 * max(m, n) <= 10000 (method auto) and kstwo.sf(D, round(m n / (m + n))) otherwise
 * (detectors/ksdist.c). Drift when p < alpha.
 *
 * Cost per evaluation: sorting the window, O(n log n); a merge for D, O(m + n); the exact
 * p-value is O(n) for equal sizes but O(max(m, n) * min(m, n) * D) for unequal ones (up to
 * 1e8 steps at 10000 vs 9999 and D near 1), so prefer window_size == reference_size. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <driftd/detector.h>

#include "ksdist.h"

struct ks_config {
	double alpha;
	int method; /* enum dd_ks2_method: index into ks_methods */
};

struct ks_state {
	double *ref;
	double *win;
	size_t ref_cap, win_cap;
	size_t ref_n, win_n;
	bool ref_done;
};

static const char *const ks_methods[] = {"auto", "exact", "asymp", NULL};

static const struct driftd_param ks_params[] = {
    {
        .name = "alpha",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct ks_config, alpha),
        .def = 0.05,
        .min = 0,
        .max = 1,
        .min_open = true,
        .max_open = true,
        .description = "Significance level: drift when the p-value is below it.",
    },
    {
        .name = "method",
        .type = DRIFTD_PARAM_ENUM,
        .offset = offsetof(struct ks_config, method),
        .def = 0,
        .min = 0,
        .max = 2,
        .choices = ks_methods,
        .description = "P-value method as in scipy ks_2samp: auto (exact up to 10000 values "
                       "per sample), exact or asymp.",
    },
};

static int ks_check_config(const void *config, const char **why)
{
	const struct ks_config *c = config;
	if (!(c->alpha > 0 && c->alpha < 1)) {
		*why = "alpha must be in (0, 1)";
		return -EINVAL;
	}
	if (c->method < 0 || c->method > 2) {
		*why = "method must be auto, exact or asymp";
		return -EINVAL;
	}
	return 0;
}

static int ks_init(struct driftd_ctx *ctx)
{
	struct ks_state *s = ctx->state;
	size_t m = ctx->shape.reference_size, n = ctx->shape.window_size;
	/* the p-value routines take sizes below 2^31 */
	if (m == 0 || n == 0 || m > INT32_MAX || n > INT32_MAX)
		return -EINVAL;
	s->ref = malloc(m * sizeof(double));
	s->win = malloc(n * sizeof(double));
	if (!s->ref || !s->win) {
		free(s->ref);
		free(s->win);
		s->ref = s->win = NULL;
		return -ENOMEM;
	}
	s->ref_cap = m;
	s->win_cap = n;
	s->ref_n = s->win_n = 0;
	s->ref_done = false;
	return 0;
}

static void ks_done(struct driftd_ctx *ctx)
{
	struct ks_state *s = ctx->state;
	free(s->ref);
	free(s->win);
	s->ref = s->win = NULL;
	s->ref_cap = s->win_cap = s->ref_n = s->win_n = 0;
	s->ref_done = false;
}

static int ks_number(const struct driftd_value *v, double *x)
{
	if (v->type != DRIFTD_VALUE_NUMBER || !isfinite(v->num))
		return -EDOM;
	*x = v->num;
	return 0;
}

static int ks_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct ks_state *s = ctx->state;
	double x;
	int rc = ks_number(v, &x);
	if (rc < 0)
		return rc;
	if (s->ref_done)
		return -EINVAL;
	if (s->ref_n >= s->ref_cap)
		return -ENOSPC;
	s->ref[s->ref_n++] = x;
	return 0;
}

/* In-place ascending sort of finite doubles: quicksort (median of three, smaller side first)
 * with insertion sort for short runs and heapsort once the recursion gets too deep. */
static void insertion_sort(double *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		double x = a[i];
		size_t j = i;
		while (j > 0 && a[j - 1] > x) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = x;
	}
}

static void sift_down(double *a, size_t root, size_t n)
{
	double x = a[root];
	for (;;) {
		size_t c = 2 * root + 1;
		if (c >= n)
			break;
		if (c + 1 < n && a[c + 1] > a[c])
			c++;
		if (!(a[c] > x))
			break;
		a[root] = a[c];
		root = c;
	}
	a[root] = x;
}

static void heap_sort(double *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(a, i, n);
	for (size_t i = n; i-- > 1;) {
		double t = a[0];
		a[0] = a[i];
		a[i] = t;
		sift_down(a, 0, i);
	}
}

static void sort_doubles(double *a, size_t n)
{
	int depth = 0;
	for (size_t k = n; k > 1; k >>= 1)
		depth += 2;
	while (n > 24) {
		if (depth-- == 0) {
			heap_sort(a, n);
			return;
		}
		size_t mid = n / 2;
		double x0 = a[0], x1 = a[mid], x2 = a[n - 1];
		double pivot = x0 < x1 ? (x1 < x2 ? x1 : (x0 < x2 ? x2 : x0))
		                       : (x0 < x2 ? x0 : (x1 < x2 ? x2 : x1));
		/* Hoare partition: [0, j] <= pivot <= [j + 1, n) */
		size_t i = 0, j = n - 1;
		for (;;) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i >= j)
				break;
			double t = a[i];
			a[i] = a[j];
			a[j] = t;
			i++;
			j--;
		}
		size_t left = j + 1;
		if (left < n - left) {
			sort_doubles(a, left);
			a += left;
			n -= left;
		} else {
			sort_doubles(a + left, n - left);
			n = left;
		}
	}
	insertion_sort(a, n);
}

static int ks_reference_done(struct driftd_ctx *ctx)
{
	struct ks_state *s = ctx->state;
	if (s->ref_done)
		return 0;
	if (s->ref_n == 0)
		return -ENODATA;
	sort_doubles(s->ref, s->ref_n);
	s->ref_done = true;
	return 0;
}

static int ks_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct ks_state *s = ctx->state;
	double x;
	int rc = ks_number(v, &x);
	if (rc < 0)
		return rc;
	if (s->win_n >= s->win_cap)
		return -ENOSPC;
	s->win[s->win_n++] = x;
	return 0;
}

/* sup |F - G| over the pooled points, each difference computed as scipy does
 * (count_ref / m - count_win / n); both arrays sorted. */
static double ks_statistic(const double *a, size_t m, const double *b, size_t n)
{
	double dm = (double)m, dn = (double)n;
	double maxd = -INFINITY, mind = INFINITY;
	size_t i = 0, j = 0;
	while (i < m || j < n) {
		double v = (j >= n || (i < m && a[i] <= b[j])) ? a[i] : b[j];
		while (i < m && a[i] <= v)
			i++;
		while (j < n && b[j] <= v)
			j++;
		double diff = (double)i / dm - (double)j / dn;
		if (diff > maxd)
			maxd = diff;
		if (diff < mind)
			mind = diff;
	}
	double min_s = -mind;
	if (min_s < 0)
		min_s = 0;
	else if (min_s > 1)
		min_s = 1;
	return min_s > maxd ? min_s : maxd;
}

static int ks_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct ks_config *c = ctx->config;
	struct ks_state *s = ctx->state;
	if (!s->ref_done || s->ref_n == 0 || s->win_n == 0)
		return -ENODATA;
	/* order within the window is irrelevant to the test, so sort in place */
	sort_doubles(s->win, s->win_n);
	double d = ks_statistic(s->ref, s->ref_n, s->win, s->win_n);
	double p;
	int rc = dd_ks2_pvalue((int64_t)s->ref_n, (int64_t)s->win_n, &d,
	                       (enum dd_ks2_method)c->method, &p, NULL);
	if (rc < 0)
		return rc;
	*out = (struct driftd_verdict){
	    .score = d,
	    .threshold = c->alpha,
	    .p_value = p,
	    .drift = p < c->alpha,
	    .warning = false,
	};
	return 0;
}

static void ks_window_reset(struct driftd_ctx *ctx)
{
	struct ks_state *s = ctx->state;
	s->win_n = 0;
}

/* Snapshot v1: u64 reference_done (0/1), u64 reference count, u64 window count, then the
 * reference values and the window values as f64. */
static int ks_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct ks_state *s = ctx->state;
	driftd_buf_put_u64(out, s->ref_done ? 1 : 0);
	driftd_buf_put_u64(out, s->ref_n);
	driftd_buf_put_u64(out, s->win_n);
	for (size_t i = 0; i < s->ref_n; i++)
		driftd_buf_put_f64(out, s->ref[i]);
	for (size_t i = 0; i < s->win_n; i++)
		driftd_buf_put_f64(out, s->win[i]);
	return out->err;
}

static int ks_restore_body(struct ks_state *s, struct driftd_reader *r)
{
	uint64_t done, rn, wn;
	if (driftd_rd_u64(r, &done) < 0 || driftd_rd_u64(r, &rn) < 0 || driftd_rd_u64(r, &wn) < 0)
		return -EBADMSG;
	if (done > 1 || rn > s->ref_cap || wn > s->win_cap || (done && rn == 0))
		return -EBADMSG;
	/* exact length check before reading: 8 bytes per value, nothing after them */
	if (r->left / 8 != rn + wn || r->left % 8 != 0)
		return -EBADMSG;
	for (uint64_t i = 0; i < rn; i++) {
		if (driftd_rd_f64_finite(r, &s->ref[i]) < 0)
			return -EBADMSG;
		if (done && i > 0 && s->ref[i] < s->ref[i - 1])
			return -EBADMSG;
	}
	for (uint64_t i = 0; i < wn; i++)
		if (driftd_rd_f64_finite(r, &s->win[i]) < 0)
			return -EBADMSG;
	if (r->left != 0)
		return -EBADMSG;
	s->ref_done = done == 1;
	s->ref_n = (size_t)rn;
	s->win_n = (size_t)wn;
	return 0;
}

static int ks_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct ks_state *s = ctx->state;
	s->ref_n = s->win_n = 0;
	s->ref_done = false;
	if (version != 1 || (!data && len) || !s->ref || !s->win)
		return -EBADMSG;
	struct driftd_reader r = {.p = data, .left = len};
	int rc = ks_restore_body(s, &r);
	if (rc < 0) {
		s->ref_n = s->win_n = 0;
		s->ref_done = false;
	}
	return rc;
}

const struct driftd_detector_ops driftd_detector_ks = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "ks",
    .summary = "Two-sample Kolmogorov-Smirnov test of a window against a reference sample",
    .kind = DRIFTD_KIND_TWO_SAMPLE,
    .caps = DRIFTD_CAP_P_VALUE | DRIFTD_CAP_EFFECT, /* score is D, an effect size */
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = ks_params,
    .n_params = sizeof(ks_params) / sizeof(ks_params[0]),
    .config_size = sizeof(struct ks_config),
    .state_size = sizeof(struct ks_state),
    .snapshot_version = 1,
    .check_config = ks_check_config,
    .init = ks_init,
    .reference_add = ks_reference_add,
    .reference_done = ks_reference_done,
    .update = ks_update,
    .evaluate = ks_evaluate,
    .window_reset = ks_window_reset,
    .snapshot = ks_snapshot,
    .restore = ks_restore,
    .done = ks_done,
};
