/* kl: Kullback-Leibler divergence of the reference from each window, over bins whose edges are
 * frozen from the reference (detectors/binning.c: binning methods, out-of-range and empty-bin
 * policies, snapshot layout, merge, errors).
 *
 * The direction is Evidently's kl_div, scipy.stats.entropy(p_ref, p_cur):
 *   p, q = proportions / their sums   (entropy() normalises both; each sum numpy's pairwise sum)
 *   score = D(ref || cur) = sum rel_entr(p, q) = sum p ln(p / q)  (natural log, nats)
 *   drift when score >= threshold (Evidently's rule and default threshold 0.1).
 *
 * Empty bins: epsilon (default, 0.0001 as Evidently) or laplace; `none` is not offered, since
 * a window bin left empty where the reference has mass makes the divergence infinite. Evidently
 * fills zero proportions with 0.0001, or with min(nonzero proportion) / 1e6 when that minimum is
 * at most 0.0001, and then lets entropy() renormalise; driftd always uses the configured epsilon
 * and renormalises the same way. Evidently bins with Sturges' rule over reference and window
 * pooled; here the edges are always frozen from the reference (mergeable windows).
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

struct kl_config {
	struct dd_bin_config bin; /* first: the binning helper reads it */
	double threshold;
};

static const struct driftd_param kl_params[] = {
    {
        .name = "threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct kl_config, threshold),
        .def = 0.1,
        .min = 0,
        .max = HUGE_VAL,
        .max_open = true,
        .description = "Drift when D(reference || window) in nats is at least this value.",
    },
    DD_BIN_PARAMS(struct kl_config, bin, DD_EMPTY_EPSILON, dd_empty_choices_finite,
                  "Empty bins get proportion epsilon, or every bin count gets 0.5 added."),
};

static int kl_check_config(const void *config, const char **why)
{
	const struct kl_config *c = config;
	if (!(c->threshold >= 0)) {
		*why = "threshold must be at least 0";
		return -EINVAL;
	}
	return dd_bin_check_config(&c->bin, DD_EMPTY_LAPLACE, why);
}

static int kl_init(struct driftd_ctx *ctx)
{
	const char *why;
	if (kl_check_config(ctx->config, &why) < 0)
		return -EINVAL;
	return dd_binned_init(ctx);
}

static int kl_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct kl_config *c = ctx->config;
	struct dd_binned *b = ctx->state;
	int rc = dd_binned_proportions(b, &c->bin, true);
	if (rc < 0)
		return rc;

	size_t bins = dd_binned_nbins(b);
	for (size_t i = 0; i < bins; i++)
		b->p[i] = dd_rel_entr(b->p[i], b->q[i]);
	double kl = dd_pairwise_sum(b->p, bins);
	*out = (struct driftd_verdict){
	    .score = kl,
	    .threshold = c->threshold,
	    .p_value = (double)NAN,
	    .drift = kl >= c->threshold,
	    .warning = false,
	};
	return 0;
}

const struct driftd_detector_ops driftd_detector_kl = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "kl",
    .summary = "Kullback-Leibler divergence D(reference || window) over bins frozen from the "
               "reference.",
    .kind = DRIFTD_KIND_TWO_SAMPLE,
    .caps = DRIFTD_CAP_MERGE,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = kl_params,
    .n_params = sizeof(kl_params) / sizeof(kl_params[0]),
    .config_size = sizeof(struct kl_config),
    .state_size = sizeof(struct dd_binned),
    .snapshot_version = 1,
    .check_config = kl_check_config,
    .init = kl_init,
    .reference_add = dd_binned_reference_add,
    .reference_done = dd_binned_reference_done,
    .update = dd_binned_update,
    .evaluate = kl_evaluate,
    .window_reset = dd_binned_window_reset,
    .snapshot = dd_binned_snapshot,
    .restore = dd_binned_restore,
    .merge = dd_binned_merge,
    .done = dd_binned_done,
};
