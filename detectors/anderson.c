/* anderson: Anderson-Darling k-sample test (Scholz & Stephens 1987) with k = 2, the window
 * against a fixed reference sample, as scipy.stats.anderson_ksamp([reference, window],
 * variant=...) of scipy 1.17.1 (Evidently's "anderson" stattest).
 *
 * score: scipy's normalised statistic (A2kN - 1) / sigma_N. p_value: interpolated as scipy does
 * without a permutation `method` (a quadratic fit of log significance against the Table 2
 * critical values), and therefore capped at 0.25 and floored at 0.001 outside the table (scipy
 * then warns; the value is the same). Drift when p < alpha (Evidently's rule, default 0.1), so
 * alpha is limited to (0.001, 0.25].
 *
 * scipy 1.17 introduced `variant` (midrank, right, continuous) and deprecated the `midrank`
 * bool, warning whenever `variant` is not given; the default is still the midrank variant.
 * driftd follows the new name. scipy's right and continuous variants square int64 differences
 * and wrap around once |N M - B n| exceeds 3.04e9 (about 55,000 values per sample with the
 * samples apart); driftd computes those squares exactly, so it differs from scipy there.
 *
 * Needs at least four values in all and two distinct values (scipy raises otherwise): evaluate
 * returns -EDOM when every value in both samples is the same. Cost per evaluation: sorting the
 * window, O(n log n), and one merge, O(m + n). Buffers, errors and the snapshot layout are those
 * of detectors/sample.h. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <driftd/detector.h>

#include "ranktest.h"
#include "sample.h"

struct anderson_config {
	double alpha;
	int variant; /* enum dd_ad_variant */
};

struct anderson_state {
	struct dd_sample2 s;
};

static const char *const anderson_variants[] = {"midrank", "right", "continuous", NULL};

static const struct driftd_param anderson_params[] = {
    {
        .name = "alpha",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct anderson_config, alpha),
        .def = 0.1,
        .min = 0.001,
        .max = 0.25,
        .min_open = true,
        .description = "Significance level: drift when the p-value (0.001 to 0.25) is below it.",
    },
    {
        .name = "variant",
        .type = DRIFTD_PARAM_ENUM,
        .offset = offsetof(struct anderson_config, variant),
        .def = 0,
        .min = 0,
        .max = 2,
        .choices = anderson_variants,
        .description = "Statistic as scipy anderson_ksamp's variant: midrank ECDF (ties), "
                       "right-continuous ECDF, or continuous.",
    },
};

static int anderson_check_config(const void *config, const char **why)
{
	const struct anderson_config *c = config;
	if (!(c->alpha > 0.001 && c->alpha <= 0.25)) {
		*why = "alpha must be in (0.001, 0.25]";
		return -EINVAL;
	}
	if (c->variant < 0 || c->variant > 2) {
		*why = "variant must be midrank, right or continuous";
		return -EINVAL;
	}
	return 0;
}

static int anderson_init(struct driftd_ctx *ctx)
{
	struct anderson_state *st = ctx->state;
	/* scipy's variance needs N >= 4; evaluate checks the counts it actually has */
	if (ctx->shape.reference_size + ctx->shape.window_size < 4)
		return -EINVAL;
	return dd_sample2_init(&st->s, &ctx->shape, 1, 1);
}

static void anderson_done(struct driftd_ctx *ctx)
{
	struct anderson_state *st = ctx->state;
	dd_sample2_done(&st->s);
}

static int anderson_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct anderson_state *st = ctx->state;
	return dd_sample2_reference_add(&st->s, v);
}

static int anderson_reference_done(struct driftd_ctx *ctx)
{
	struct anderson_state *st = ctx->state;
	return dd_sample2_reference_done(&st->s);
}

static int anderson_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct anderson_state *st = ctx->state;
	return dd_sample2_update(&st->s, v);
}

static int anderson_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct anderson_config *c = ctx->config;
	struct dd_sample2 *s = &((struct anderson_state *)ctx->state)->s;
	int rc = dd_sample2_ready(s);
	if (rc < 0)
		return rc;
	if (s->ref_n + s->win_n < 4)
		return -ENODATA;
	const double *samples[2] = {s->ref, s->win};
	const size_t n[2] = {s->ref_n, s->win_n};
	struct dd_ad_result r;
	rc = dd_ad_ksamp(samples, n, 2, (enum dd_ad_variant)c->variant, &r);
	if (rc < 0)
		return -EDOM; /* a single distinct value: the statistic is undefined */
	*out = (struct driftd_verdict){
	    .score = r.statistic,
	    .threshold = c->alpha,
	    .p_value = r.p,
	    .drift = r.p < c->alpha,
	    .warning = false,
	};
	return 0;
}

static void anderson_window_reset(struct driftd_ctx *ctx)
{
	struct anderson_state *st = ctx->state;
	dd_sample2_window_reset(&st->s);
}

static int anderson_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct anderson_state *st = ctx->state;
	return dd_sample2_snapshot(&st->s, out);
}

static int anderson_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct anderson_state *st = ctx->state;
	return dd_sample2_restore(&st->s, version, data, len);
}

const struct driftd_detector_ops driftd_detector_anderson = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "anderson",
    .summary = "Anderson-Darling k-sample test (k = 2) of a window against a reference sample",
    .kind = DRIFTD_KIND_TWO_SAMPLE,
    .caps = DRIFTD_CAP_P_VALUE,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = anderson_params,
    .n_params = sizeof(anderson_params) / sizeof(anderson_params[0]),
    .config_size = sizeof(struct anderson_config),
    .state_size = sizeof(struct anderson_state),
    .snapshot_version = 1,
    .check_config = anderson_check_config,
    .init = anderson_init,
    .reference_add = anderson_reference_add,
    .reference_done = anderson_reference_done,
    .update = anderson_update,
    .evaluate = anderson_evaluate,
    .window_reset = anderson_window_reset,
    .snapshot = anderson_snapshot,
    .restore = anderson_restore,
    .done = anderson_done,
};
