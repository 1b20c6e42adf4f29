/* tvd: total variation distance between the reference's and a window's category
 * distributions,
 *
 *   TVD = 1/2 * sum over columns |c_ref / n_ref - c_win / n_win|,  drift when TVD >= threshold
 *
 * over the columns of the category table (detectors/categories.c): the kept reference
 * categories, "other" and "unseen" (which the reference never fills, so an unseen share counts
 * in full). TVD is in [0, 1]: the largest difference between the probabilities the two
 * distributions give one set of categories. Merging the reference's rarest categories into
 * "other" can only lower it, so with more than max_categories reference categories the value
 * is a lower bound of the TVD over the raw categories. The threshold rule (>=) and default
 * 0.1 follow Evidently's distance tests.
 *
 * Cost per evaluation: O(max_categories), no allocation. The sum is numpy's pairwise order, so
 * 0.5 * np.sum(np.abs(p_ref - p_win)) over the same columns gives the same bits.
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

#include "categories.h"

struct tvd_config {
	struct dd_cat_config cat; /* first: the category table reads it */
	double threshold;
};

static const struct driftd_param tvd_params[] = {
    {
        .name = "threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct tvd_config, threshold),
        .def = 0.1,
        .min = 0,
        .max = 1,
        .description = "Drift when the total variation distance is at least this value.",
    },
    DD_CAT_PARAM_MAX_CATEGORIES(struct tvd_config),
    DD_CAT_PARAM_MAX_LENGTH(struct tvd_config),
};

static int tvd_check_config(const void *config, const char **why)
{
	const struct tvd_config *c = config;
	if (!(c->threshold >= 0 && c->threshold <= 1)) {
		*why = "threshold must be in [0, 1]";
		return -EINVAL;
	}
	return dd_cat_check_config(&c->cat, why);
}

static int tvd_init(struct driftd_ctx *ctx)
{
	const char *why;
	if (tvd_check_config(ctx->config, &why) < 0)
		return -EINVAL;
	return dd_cat_op_init(ctx);
}

static int tvd_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct tvd_config *c = ctx->config;
	const struct dd_cat *t = ctx->state;
	int rc = dd_cat_ready_to_evaluate(t);
	if (rc < 0)
		return rc;
	size_t cols = dd_cat_columns(t);
	double nr = (double)t->ref_total, nw = (double)t->win_total;
	for (size_t j = 0; j < cols; j++)
		t->scratch[j] = fabs((double)t->ref_cnt[j] / nr - (double)t->win_cnt[j] / nw);
	double d = 0.5 * dd_cat_pairwise_sum(t->scratch, cols);
	*out = (struct driftd_verdict){
	    .score = d,
	    .threshold = c->threshold,
	    .p_value = (double)NAN,
	    .drift = d >= c->threshold,
	    .warning = false,
	};
	return 0;
}

const struct driftd_detector_ops driftd_detector_tvd = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "tvd",
    .summary = "Total variation distance between window and reference category shares.",
    .kind = DRIFTD_KIND_CATEGORICAL,
    .caps = DRIFTD_CAP_MERGE,
    .accepts = DD_CAT_ACCEPTS,
    .params = tvd_params,
    .n_params = sizeof(tvd_params) / sizeof(tvd_params[0]),
    .config_size = sizeof(struct tvd_config),
    .state_size = sizeof(struct dd_cat),
    .snapshot_version = DD_CAT_SNAPSHOT_VERSION,
    .check_config = tvd_check_config,
    .init = tvd_init,
    .reference_add = dd_cat_op_reference_add,
    .reference_done = dd_cat_op_reference_done,
    .update = dd_cat_op_update,
    .evaluate = tvd_evaluate,
    .window_reset = dd_cat_op_window_reset,
    .snapshot = dd_cat_op_snapshot,
    .restore = dd_cat_op_restore,
    .merge = dd_cat_op_merge,
    .done = dd_cat_op_done,
};
