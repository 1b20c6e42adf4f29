/* mannwhitney: two-sided Mann-Whitney U test of a window against a fixed reference sample, as
 * scipy.stats.mannwhitneyu(reference, window, alternative="two-sided", method="auto",
 * use_continuity=True) of scipy 1.17.1.
 *
 * p_value: scipy's rule for method auto: the exact null distribution of U when one sample has
 * at most 8 values and the pooled sample has no ties (computed here as Gaussian binomial
 * coefficients, exact in 128-bit integers), else the normal approximation with the tie
 * correction and the continuity correction. Drift when p < alpha (default 0.05).
 * (Evidently's "mannw" stattest runs the one-sided alternative="less" instead.)
 *
 * score: an effect size rather than U itself, so that it reads the same at every window size:
 * U_ref / (m n), the probability that a reference value exceeds a window value, ties counting
 * one half (the common-language effect size, or the AUC of telling the samples apart). 0.5 is
 * no shift; below 0.5 the window lies higher than the reference, above 0.5 lower. U_ref is
 * scipy's statistic (score * m * n).
 *
 * Cost per evaluation: sorting the window, O(n log n), one merge, O(m + n); the exact path
 * (at most 8 values on one side) takes O(m n) steps and 24 bytes per value of U up to
 * m n / 2 (scipy's recursion is quadratic in that). Buffers, errors and the snapshot layout are
 * those of detectors/sample.h. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <driftd/detector.h>

#include "ranktest.h"
#include "sample.h"

struct mannwhitney_config {
	double alpha;
};

struct mannwhitney_state {
	struct dd_sample2 s;
};

static const struct driftd_param mannwhitney_params[] = {
    {
        .name = "alpha",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct mannwhitney_config, alpha),
        .def = 0.05,
        .min = 0,
        .max = 1,
        .min_open = true,
        .max_open = true,
        .description = "Significance level: drift when the two-sided p-value is below it.",
    },
};

static int mannwhitney_check_config(const void *config, const char **why)
{
	const struct mannwhitney_config *c = config;
	if (!(c->alpha > 0 && c->alpha < 1)) {
		*why = "alpha must be in (0, 1)";
		return -EINVAL;
	}
	return 0;
}

static int mannwhitney_init(struct driftd_ctx *ctx)
{
	struct mannwhitney_state *st = ctx->state;
	return dd_sample2_init(&st->s, &ctx->shape, 1, 1);
}

static void mannwhitney_done(struct driftd_ctx *ctx)
{
	struct mannwhitney_state *st = ctx->state;
	dd_sample2_done(&st->s);
}

static int mannwhitney_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct mannwhitney_state *st = ctx->state;
	return dd_sample2_reference_add(&st->s, v);
}

static int mannwhitney_reference_done(struct driftd_ctx *ctx)
{
	struct mannwhitney_state *st = ctx->state;
	return dd_sample2_reference_done(&st->s);
}

static int mannwhitney_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct mannwhitney_state *st = ctx->state;
	return dd_sample2_update(&st->s, v);
}

static int mannwhitney_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct mannwhitney_config *c = ctx->config;
	struct dd_sample2 *s = &((struct mannwhitney_state *)ctx->state)->s;
	int rc = dd_sample2_ready(s);
	if (rc < 0)
		return rc;
	struct dd_mwu_result r;
	rc = dd_mwu(s->ref, s->ref_n, s->win, s->win_n, DD_MWU_AUTO, &r);
	if (rc < 0)
		return rc;
	*out = (struct driftd_verdict){
	    .score = r.u1 / ((double)s->ref_n * (double)s->win_n),
	    .threshold = c->alpha,
	    .p_value = r.p,
	    .drift = r.p < c->alpha,
	    .warning = false,
	};
	return 0;
}

static void mannwhitney_window_reset(struct driftd_ctx *ctx)
{
	struct mannwhitney_state *st = ctx->state;
	dd_sample2_window_reset(&st->s);
}

static int mannwhitney_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct mannwhitney_state *st = ctx->state;
	return dd_sample2_snapshot(&st->s, out);
}

static int mannwhitney_restore(struct driftd_ctx *ctx, uint32_t version, const void *data,
                               size_t len)
{
	struct mannwhitney_state *st = ctx->state;
	return dd_sample2_restore(&st->s, version, data, len);
}

const struct driftd_detector_ops driftd_detector_mannwhitney = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "mannwhitney",
    .summary = "Two-sided Mann-Whitney U test of a window against a reference sample",
    .kind = DRIFTD_KIND_TWO_SAMPLE,
    .caps = DRIFTD_CAP_P_VALUE,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = mannwhitney_params,
    .n_params = sizeof(mannwhitney_params) / sizeof(mannwhitney_params[0]),
    .config_size = sizeof(struct mannwhitney_config),
    .state_size = sizeof(struct mannwhitney_state),
    .snapshot_version = 1,
    .check_config = mannwhitney_check_config,
    .init = mannwhitney_init,
    .reference_add = mannwhitney_reference_add,
    .reference_done = mannwhitney_reference_done,
    .update = mannwhitney_update,
    .evaluate = mannwhitney_evaluate,
    .window_reset = mannwhitney_window_reset,
    .snapshot = mannwhitney_snapshot,
    .restore = mannwhitney_restore,
    .done = mannwhitney_done,
};
