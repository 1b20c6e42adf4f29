/* js: Jensen-Shannon distance between a reference sample and each window, over bins whose edges
 * are frozen from the reference (detectors/binning.c: binning methods, out-of-range and
 * empty-bin policies, snapshot layout, merge, errors).
 *
 * The score is the distance, the square root of the divergence, exactly as
 * scipy.spatial.distance.jensenshannon(p_ref, p_cur, base):
 *   p, q = proportions / their sums;  m = (p + q) / 2
 *   JSD  = sum rel_entr(p, m) + sum rel_entr(q, m)   (each sum numpy's pairwise sum)
 *   score = sqrt(JSD / ln(base) / 2);  drift when score >= threshold
 * base e (default) is Evidently's jensenshannon (scipy's default natural log, distance in
 * [0, sqrt(ln 2)]), base 2 is NannyML's (distance in [0, 1]); the divergence is score^2.
 * Threshold 0.1 is the default of both. Where rounding makes the divergence of two nearly equal
 * histograms negative (scipy then returns NaN) the score is 0.
 *
 * Empty bins: none (default) keeps zero proportions, as Evidently's jensenshannon does (it skips
 * its epsilon fill for this test) and as the divergence allows; epsilon and laplace are offered
 * for symmetry with the other binned detectors. With `none` the score does not depend on how
 * out-of-range mass is split between bins that are empty in the reference, so `binning: doane,
 * out_of_range: bin, base: "2"` reproduces NannyML's continuous jensen_shannon (Doane edges
 * from the reference plus its "leftover" bin). Evidently bins with Sturges' rule over reference
 * and window pooled; here the edges are always frozen from the reference (mergeable windows).
 *
 * base is an enum of "e" and "2": write `base: "2"` (a quoted string) in YAML.
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

enum js_base {
	JS_BASE_E = 0,
	JS_BASE_2 = 1,
};

struct js_config {
	struct dd_bin_config bin; /* first: the binning helper reads it */
	double threshold;
	int base;
};

static const char *const js_bases[] = {"e", "2", NULL};

static const struct driftd_param js_params[] = {
    {
        .name = "threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct js_config, threshold),
        .def = 0.1,
        .min = 0,
        .max = HUGE_VAL,
        .max_open = true,
        .description = "Drift when the Jensen-Shannon distance is at least this value.",
    },
    {
        .name = "base",
        .type = DRIFTD_PARAM_ENUM,
        .offset = offsetof(struct js_config, base),
        .def = JS_BASE_E,
        .choices = js_bases,
        .description = "Logarithm base: e as Evidently, or \"2\" (quoted in YAML) as NannyML.",
    },
    DD_BIN_PARAMS(
        struct js_config, bin, DD_EMPTY_NONE, dd_empty_choices_all,
        "Empty bins stay empty (none), get proportion epsilon, or every bin count gets 0.5 added."),
};

static int js_check_config(const void *config, const char **why)
{
	const struct js_config *c = config;
	if (!(c->threshold >= 0)) {
		*why = "threshold must be at least 0";
		return -EINVAL;
	}
	if (c->base != JS_BASE_E && c->base != JS_BASE_2) {
		*why = "base must be e or 2";
		return -EINVAL;
	}
	return dd_bin_check_config(&c->bin, DD_EMPTY_NONE, why);
}

static int js_init(struct driftd_ctx *ctx)
{
	const char *why;
	if (js_check_config(ctx->config, &why) < 0)
		return -EINVAL;
	return dd_binned_init(ctx);
}

static int js_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct js_config *c = ctx->config;
	struct dd_binned *b = ctx->state;
	int rc = dd_binned_proportions(b, &c->bin, true);
	if (rc < 0)
		return rc;

	size_t bins = dd_binned_nbins(b);
	for (size_t i = 0; i < bins; i++) {
		double m = (b->p[i] + b->q[i]) / 2.0;
		double left = dd_rel_entr(b->p[i], m);
		double right = dd_rel_entr(b->q[i], m);
		b->p[i] = left;
		b->q[i] = right;
	}
	double jsd = dd_pairwise_sum(b->p, bins) + dd_pairwise_sum(b->q, bins);
	if (c->base == JS_BASE_2)
		jsd /= log(2.0);
	double dist = jsd > 0 ? sqrt(jsd / 2.0) : 0.0;
	*out = (struct driftd_verdict){
	    .score = dist,
	    .threshold = c->threshold,
	    .p_value = (double)NAN,
	    .drift = dist >= c->threshold,
	    .warning = false,
	};
	return 0;
}

const struct driftd_detector_ops driftd_detector_js = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "js",
    .summary = "Jensen-Shannon distance over bins frozen from the reference.",
    .kind = DRIFTD_KIND_TWO_SAMPLE,
    .caps = DRIFTD_CAP_MERGE,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = js_params,
    .n_params = sizeof(js_params) / sizeof(js_params[0]),
    .config_size = sizeof(struct js_config),
    .state_size = sizeof(struct dd_binned),
    .snapshot_version = 1,
    .check_config = js_check_config,
    .init = js_init,
    .reference_add = dd_binned_reference_add,
    .reference_done = dd_binned_reference_done,
    .update = dd_binned_update,
    .evaluate = js_evaluate,
    .window_reset = dd_binned_window_reset,
    .snapshot = dd_binned_snapshot,
    .restore = dd_binned_restore,
    .merge = dd_binned_merge,
    .done = dd_binned_done,
};
