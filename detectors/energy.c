/* energy: energy distance between the window and a fixed reference sample, as
 * scipy.stats.energy_distance(reference, window) of scipy 1.17.1 (Evidently's "ed" stattest):
 *
 *   score = sqrt(2) * sqrt(integral of (F_ref - G_win)^2)
 *
 * over the pooled values (scipy's _cdf_distance with p = 2), i.e. sqrt(2 E|X-Y| - E|X-X'| -
 * E|Y-Y'|). No p-value. Drift when score > threshold, strictly, as Evidently; the default 0.1
 * is Evidently's too. The distance is in units of the square root of the values' unit (it
 * scales with sqrt(c) when every value is multiplied by c), so the threshold has to be chosen
 * for the feature's scale: for a shift of the mean by d standard deviations sigma of a normal
 * feature the distance is close to sqrt(sigma) * 0.75 d for small d, so 0.1 flags about
 * 0.13 sigma on a unit-variance feature. Use wasserstein for a scale-free score.
 *
 * Cost per evaluation: sorting the window, O(n log n), one merge, O(m + n). Buffers, errors and
 * the snapshot layout are those of detectors/sample.h. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <driftd/detector.h>

#include "sample.h"

struct energy_config {
	double threshold;
};

struct energy_state {
	struct dd_sample2 s;
};

static const struct driftd_param energy_params[] = {
    {
        .name = "threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct energy_config, threshold),
        .def = 0.1,
        .min = 0,
        .max = HUGE_VAL,
        .max_open = true,
        .description = "Drift when the energy distance exceeds this value (in sqrt of the "
                       "values' unit).",
    },
};

static int energy_check_config(const void *config, const char **why)
{
	const struct energy_config *c = config;
	if (!(c->threshold >= 0 && isfinite(c->threshold))) {
		*why = "threshold must be finite and >= 0";
		return -EINVAL;
	}
	return 0;
}

static int energy_init(struct driftd_ctx *ctx)
{
	struct energy_state *st = ctx->state;
	return dd_sample2_init(&st->s, &ctx->shape, 1, 1);
}

static void energy_done(struct driftd_ctx *ctx)
{
	struct energy_state *st = ctx->state;
	dd_sample2_done(&st->s);
}

static int energy_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct energy_state *st = ctx->state;
	return dd_sample2_reference_add(&st->s, v);
}

static int energy_reference_done(struct driftd_ctx *ctx)
{
	struct energy_state *st = ctx->state;
	return dd_sample2_reference_done(&st->s);
}

static int energy_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct energy_state *st = ctx->state;
	return dd_sample2_update(&st->s, v);
}

static int energy_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct energy_config *c = ctx->config;
	struct dd_sample2 *s = &((struct energy_state *)ctx->state)->s;
	int rc = dd_sample2_ready(s);
	if (rc < 0)
		return rc;
	double l1, l2sq;
	dd_ecdf_distances(s->ref, s->ref_n, s->win, s->win_n, &l1, &l2sq);
	double score = M_SQRT2 * sqrt(l2sq);
	*out = (struct driftd_verdict){
	    .score = score,
	    .threshold = c->threshold,
	    .p_value = (double)NAN,
	    .drift = score > c->threshold,
	    .warning = false,
	};
	return 0;
}

static void energy_window_reset(struct driftd_ctx *ctx)
{
	struct energy_state *st = ctx->state;
	dd_sample2_window_reset(&st->s);
}

static int energy_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct energy_state *st = ctx->state;
	return dd_sample2_snapshot(&st->s, out);
}

static int energy_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct energy_state *st = ctx->state;
	return dd_sample2_restore(&st->s, version, data, len);
}

const struct driftd_detector_ops driftd_detector_energy = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "energy",
    .summary = "Energy distance of a window from a reference sample",
    .kind = DRIFTD_KIND_TWO_SAMPLE,
    .caps = 0,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = energy_params,
    .n_params = sizeof(energy_params) / sizeof(energy_params[0]),
    .config_size = sizeof(struct energy_config),
    .state_size = sizeof(struct energy_state),
    .snapshot_version = 1,
    .check_config = energy_check_config,
    .init = energy_init,
    .reference_add = energy_reference_add,
    .reference_done = energy_reference_done,
    .update = energy_update,
    .evaluate = energy_evaluate,
    .window_reset = energy_window_reset,
    .snapshot = energy_snapshot,
    .restore = energy_restore,
    .done = energy_done,
};
