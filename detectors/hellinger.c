/* hellinger: Hellinger distance between a reference sample and each window, over bins whose
 * edges are frozen from the reference (detectors/binning.c: binning methods, out-of-range and
 * empty-bin policies, snapshot layout, merge, errors).
 *
 *   p, q = proportions / their sums   (as js and kl; each sum numpy's pairwise sum)
 *   score = H = sqrt(sum (sqrt p - sqrt q)^2) / sqrt 2,  in [0, 1]
 *   drift when score >= threshold.
 * This is the normalisation of Evidently, NannyML and whylogs (H^2 = 1 - sum sqrt(p q)), in
 * NannyML's and whylogs' numerically stable form: Evidently's 1 - sum sqrt(p q) loses every
 * digit for close histograms (about 1e-8 for identical ones) while this form gives 0.
 *
 * Threshold: 0.1 by default, Evidently's default and NannyML's fixed one (drift at >= 0.1, as
 * Evidently; NannyML alerts above it). whylogs instead reports bands, "possible drift" from
 * 0.15 and "drift" from 0.4: set threshold 0.4 for its drift band. There is no warning level.
 *
 * Empty bins: none (default) keeps zero proportions, as all three tools do (the distance stays
 * finite); epsilon and laplace are offered for symmetry with the other binned detectors. With
 * `none` the score does not depend on how out-of-range mass is split between bins that are
 * empty in the reference, so `binning: doane, out_of_range: bin` reproduces NannyML's
 * continuous hellinger (Doane edges from the reference plus its "leftover" bin). Evidently bins
 * with Sturges' rule over the distinct values of reference and window pooled; here the edges
 * are always frozen from the reference (mergeable windows).
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

#include <driftd/detector.h>

#include "binning.h"

struct hellinger_config {
	struct dd_bin_config bin; /* first: the binning helper reads it */
	double threshold;
};

static const struct driftd_param hellinger_params[] = {
    {
        .name = "threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct hellinger_config, threshold),
        .def = 0.1,
        .min = 0,
        .max = HUGE_VAL,
        .max_open = true,
        .description = "Drift when the Hellinger distance is at least this value.",
    },
    DD_BIN_PARAMS(
        struct hellinger_config, bin, DD_EMPTY_NONE, dd_empty_choices_all,
        "Empty bins stay empty (none), get proportion epsilon, or every bin count gets 0.5 added."),
};

static int hellinger_check_config(const void *config, const char **why)
{
	const struct hellinger_config *c = config;
	if (!(c->threshold >= 0)) {
		*why = "threshold must be at least 0";
		return -EINVAL;
	}
	return dd_bin_check_config(&c->bin, DD_EMPTY_NONE, why);
}

static int hellinger_init(struct driftd_ctx *ctx)
{
	const char *why;
	if (hellinger_check_config(ctx->config, &why) < 0)
		return -EINVAL;
	return dd_binned_init(ctx);
}

static int hellinger_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct hellinger_config *c = ctx->config;
	struct dd_binned *b = ctx->state;
	int rc = dd_binned_proportions(b, &c->bin, true);
	if (rc < 0)
		return rc;

	size_t bins = dd_binned_nbins(b);
	for (size_t i = 0; i < bins; i++) {
		double d = sqrt(b->p[i]) - sqrt(b->q[i]);
		b->p[i] = d * d;
	}
	double h = sqrt(dd_pairwise_sum(b->p, bins)) / sqrt(2.0);
	*out = (struct driftd_verdict){
	    .score = h,
	    .threshold = c->threshold,
	    .p_value = (double)NAN,
	    .drift = h >= c->threshold,
	    .warning = false,
	};
	return 0;
}

const struct driftd_detector_ops driftd_detector_hellinger = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "hellinger",
    .summary = "Hellinger distance over bins frozen from the reference.",
    .kind = DRIFTD_KIND_TWO_SAMPLE,
    .caps = DRIFTD_CAP_MERGE,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = hellinger_params,
    .n_params = sizeof(hellinger_params) / sizeof(hellinger_params[0]),
    .config_size = sizeof(struct hellinger_config),
    .state_size = sizeof(struct dd_binned),
    .snapshot_version = 1,
    .check_config = hellinger_check_config,
    .init = hellinger_init,
    .reference_add = dd_binned_reference_add,
    .reference_done = dd_binned_reference_done,
    .update = dd_binned_update,
    .evaluate = hellinger_evaluate,
    .window_reset = dd_binned_window_reset,
    .snapshot = dd_binned_snapshot,
    .restore = dd_binned_restore,
    .merge = dd_binned_merge,
    .done = dd_binned_done,
};
