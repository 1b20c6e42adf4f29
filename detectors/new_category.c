/* new_category: the share of a window's values whose category never occurred in the
 * reference,
 *
 *   score = unseen / n_win,  drift when score > threshold
 *
 * "Never occurred" is exact with respect to the whole reference, not only the max_categories
 * kept by the category table (detectors/categories.c): reference categories beyond the bound
 * are remembered by keyed 64-bit hash, so a value counts as new unless it is a reference
 * category (or, with probability about 2^-64 per reference category, collides with one).
 * Drift is strictly above the threshold so that threshold 0 means "any new category"; the
 * default 0.01 tolerates one stray value per hundred. (Evidently's share-of-new-categories
 * checks and whylogs' unseen-category counts are the same quantity.)
 *
 * Cost per evaluation: O(1).
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "categories.h"

struct new_category_config {
	struct dd_cat_config cat; /* first: the category table reads it */
	double threshold;
};

static const struct driftd_param new_category_params[] = {
    {
        .name = "threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct new_category_config, threshold),
        .def = 0.01,
        .min = 0,
        .max = 1,
        .max_open = true,
        .description = "Drift when the share of values unseen in the reference exceeds this.",
    },
    DD_CAT_PARAM_MAX_CATEGORIES(struct new_category_config),
    DD_CAT_PARAM_MAX_LENGTH(struct new_category_config),
};

static int new_category_check_config(const void *config, const char **why)
{
	const struct new_category_config *c = config;
	if (!(c->threshold >= 0 && c->threshold < 1)) {
		*why = "threshold must be in [0, 1)";
		return -EINVAL;
	}
	return dd_cat_check_config(&c->cat, why);
}

static int new_category_init(struct driftd_ctx *ctx)
{
	const char *why;
	if (new_category_check_config(ctx->config, &why) < 0)
		return -EINVAL;
	return dd_cat_op_init(ctx);
}

static int new_category_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct new_category_config *c = ctx->config;
	const struct dd_cat *t = ctx->state;
	int rc = dd_cat_ready_to_evaluate(t);
	if (rc < 0)
		return rc;
	double share = (double)t->win_cnt[dd_cat_col_unseen(t)] / (double)t->win_total;
	*out = (struct driftd_verdict){
	    .score = share,
	    .threshold = c->threshold,
	    .p_value = (double)NAN,
	    .drift = share > c->threshold,
	    .warning = false,
	};
	return 0;
}

const struct driftd_detector_ops driftd_detector_new_category = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "new_category",
    .summary = "Share of window values whose category never occurred in the reference.",
    .kind = DRIFTD_KIND_CATEGORICAL,
    .caps = DRIFTD_CAP_MERGE,
    .accepts = DD_CAT_ACCEPTS,
    .params = new_category_params,
    .n_params = sizeof(new_category_params) / sizeof(new_category_params[0]),
    .config_size = sizeof(struct new_category_config),
    .state_size = sizeof(struct dd_cat),
    .snapshot_version = DD_CAT_SNAPSHOT_VERSION,
    .check_config = new_category_check_config,
    .init = new_category_init,
    .reference_add = dd_cat_op_reference_add,
    .reference_done = dd_cat_op_reference_done,
    .update = dd_cat_op_update,
    .evaluate = new_category_evaluate,
    .window_reset = dd_cat_op_window_reset,
    .snapshot = dd_cat_op_snapshot,
    .restore = dd_cat_op_restore,
    .merge = dd_cat_op_merge,
    .done = dd_cat_op_done,
};
