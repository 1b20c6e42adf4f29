/* psi: Population Stability Index between a reference sample and each window, over bins whose
 * edges are frozen from the reference (detectors/binning.c: binning methods, out-of-range and
 * empty-bin policies, snapshot layout, merge, errors).
 *
 *   PSI = sum over bins of (p_cur - p_ref) * ln(p_cur / p_ref),  drift when PSI >= threshold
 *   (Evidently's rule and default threshold 0.1).
 *
 * The proportions are those of the empty-bin policy, not renormalised (as Evidently's psi):
 * epsilon (default, Evidently's 0.0001) or laplace. `none` is not offered: one empty bin would
 * make the index infinite. Defaults: 10 quantile bins, clamp, epsilon 0.0001. Evidently instead
 * bins with Sturges' rule over the reference and window pooled (edges that move with every
 * window, so not mergeable); `binning: sturges` gives Sturges' rule on the reference alone.
 * Evidently also lowers epsilon to min(nonzero proportion) / 1e6 when a non-empty bin holds at
 * most 0.0001 of its sample; driftd keeps the configured epsilon.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <driftd/detector.h>

#include "binning.h"

struct psi_config {
	struct dd_bin_config bin; /* first: the binning helper reads it */
	double threshold;
};

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
    DD_BIN_PARAMS(struct psi_config, bin, DD_EMPTY_EPSILON, dd_empty_choices_finite,
                  "Empty bins get proportion epsilon, or every bin count gets 0.5 added."),
};

static int psi_check_config(const void *config, const char **why)
{
	const struct psi_config *c = config;
	if (!(c->threshold >= 0)) {
		*why = "threshold must be at least 0";
		return -EINVAL;
	}
	return dd_bin_check_config(&c->bin, DD_EMPTY_LAPLACE, why);
}

static int psi_init(struct driftd_ctx *ctx)
{
	const char *why;
	if (psi_check_config(ctx->config, &why) < 0)
		return -EINVAL;
	return dd_binned_init(ctx);
}

static int psi_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct psi_config *c = ctx->config;
	struct dd_binned *b = ctx->state;
	int rc = dd_binned_proportions(b, &c->bin, false);
	if (rc < 0)
		return rc;

	size_t bins = dd_binned_nbins(b);
	double psi = 0.0;
	for (size_t i = 0; i < bins; i++)
		psi += (b->q[i] - b->p[i]) * log(b->q[i] / b->p[i]);
	*out = (struct driftd_verdict){
	    .score = psi,
	    .threshold = c->threshold,
	    .p_value = (double)NAN,
	    .drift = psi >= c->threshold,
	    .warning = false,
	};
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
    .state_size = sizeof(struct dd_binned),
    .snapshot_version = 1,
    .check_config = psi_check_config,
    .init = psi_init,
    .reference_add = dd_binned_reference_add,
    .reference_done = dd_binned_reference_done,
    .update = dd_binned_update,
    .evaluate = psi_evaluate,
    .window_reset = dd_binned_window_reset,
    .snapshot = dd_binned_snapshot,
    .restore = dd_binned_restore,
    .merge = dd_binned_merge,
    .done = dd_binned_done,
};
