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
 * 1e8 steps at 10000 vs 9999 and D near 1), so prefer window_size == reference_size.
 *
 * Buffers, errors and the snapshot layout are those of detectors/sample.h. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <driftd/detector.h>

#include "ksdist.h"
#include "sample.h"

struct ks_config {
	double alpha;
	int method; /* enum dd_ks2_method: index into ks_methods */
};

struct ks_state {
	struct dd_sample2 s;
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
	struct ks_state *st = ctx->state;
	return dd_sample2_init(&st->s, &ctx->shape, 1, 1);
}

static void ks_done(struct driftd_ctx *ctx)
{
	struct ks_state *st = ctx->state;
	dd_sample2_done(&st->s);
}

static int ks_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct ks_state *st = ctx->state;
	return dd_sample2_reference_add(&st->s, v);
}

static int ks_reference_done(struct driftd_ctx *ctx)
{
	struct ks_state *st = ctx->state;
	return dd_sample2_reference_done(&st->s);
}

static int ks_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct ks_state *st = ctx->state;
	return dd_sample2_update(&st->s, v);
}

static int ks_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct ks_config *c = ctx->config;
	struct dd_sample2 *s = &((struct ks_state *)ctx->state)->s;
	int rc = dd_sample2_ready(s);
	if (rc < 0)
		return rc;
	double d = dd_ks_statistic(s->ref, s->ref_n, s->win, s->win_n);
	double p;
	rc = dd_ks2_pvalue((int64_t)s->ref_n, (int64_t)s->win_n, &d, (enum dd_ks2_method)c->method,
	                   &p, NULL);
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
	struct ks_state *st = ctx->state;
	dd_sample2_window_reset(&st->s);
}

/* Snapshot v1: the two samples (sample.h). */
static int ks_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct ks_state *st = ctx->state;
	return dd_sample2_snapshot(&st->s, out);
}

static int ks_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct ks_state *st = ctx->state;
	return dd_sample2_restore(&st->s, version, data, len);
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
