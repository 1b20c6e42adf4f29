/* ztest: two-proportion z-test of one category's share, reference vs. window (Evidently's
 * z_stat_test, with scipy's normal tail for the p-value).
 *
 * The tested category is the reference's most frequent one (rank 0 of the category table,
 * detectors/categories.c: ties go to the smaller category). For a binary column, which is
 * what this test is for, that choice does not matter: the other category's share gives the
 * same |z|. (Evidently tests the first category in sort order; for two categories the p-value
 * is the same.) With n1 reference and n2 window values, c1 and c2 of them in that category:
 *
 *   p1 = c1 / n1,  p2 = c2 / n2,  P = (p1 n1 + p2 n2) / (n1 + n2)
 *   z = (p1 - p2) / sqrt(P (1 - P) (1 / n1 + 1 / n2)),  p = 2 * norm.sf(|z|) = erfc(|z| / sqrt 2)
 *
 * (Evidently's arithmetic, in its order; Evidently writes 2 (1 - norm.cdf(|z|)), which is the
 * same number except in the far tail, where it rounds to 0 and this does not.) When every
 * reference and window value is the tested category P = 1 and z is 0/0: like Evidently
 * (identical single-valued samples) the verdict is z = 0, p = 1. Window values unseen in the
 * reference simply count as not the category.
 * Drift when p < alpha; the verdict's score is z (positive when the category's share fell in
 * the window), its threshold alpha.
 *
 * Cost per evaluation: O(1).
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

struct ztest_config {
	struct dd_cat_config cat; /* first: the category table reads it */
	double alpha;
};

static const struct driftd_param ztest_params[] = {
    {
        .name = "alpha",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct ztest_config, alpha),
        .def = 0.05,
        .min = 0,
        .max = 1,
        .min_open = true,
        .max_open = true,
        .description = "Significance level: drift when the p-value is below it.",
    },
    DD_CAT_PARAM_MAX_CATEGORIES(struct ztest_config),
    DD_CAT_PARAM_MAX_LENGTH(struct ztest_config),
};

static int ztest_check_config(const void *config, const char **why)
{
	const struct ztest_config *c = config;
	if (!(c->alpha > 0 && c->alpha < 1)) {
		*why = "alpha must be in (0, 1)";
		return -EINVAL;
	}
	return dd_cat_check_config(&c->cat, why);
}

static int ztest_init(struct driftd_ctx *ctx)
{
	const char *why;
	if (ztest_check_config(ctx->config, &why) < 0)
		return -EINVAL;
	return dd_cat_op_init(ctx);
}

static int ztest_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct ztest_config *c = ctx->config;
	const struct dd_cat *t = ctx->state;
	int rc = dd_cat_ready_to_evaluate(t);
	if (rc < 0)
		return rc;
	double n1 = (double)t->ref_total, n2 = (double)t->win_total;
	double p1 = (double)t->ref_cnt[0] / n1, p2 = (double)t->win_cnt[0] / n2;
	double z, p;
	if (t->ref_cnt[0] == t->ref_total && t->win_cnt[0] == t->win_total) {
		z = 0.0;
		p = 1.0;
	} else {
		double pool = (p1 * n1 + p2 * n2) / (n1 + n2);
		double var = pool * (1 - pool) * (1.0 / n1 + 1.0 / n2);
		/* var is 0 only if the pooled share rounds to 1 (beyond 2^53 values) */
		z = var > 0 ? (p1 - p2) / sqrt(var) : p1 > p2 ? HUGE_VAL : -HUGE_VAL;
		p = erfc(fabs(z) * M_SQRT1_2);
	}
	*out = (struct driftd_verdict){
	    .score = z,
	    .threshold = c->alpha,
	    .p_value = p,
	    .drift = p < c->alpha,
	    .warning = false,
	};
	return 0;
}

const struct driftd_detector_ops driftd_detector_ztest = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "ztest",
    .summary = "Two-proportion z-test of the reference's most frequent category's share.",
    .kind = DRIFTD_KIND_CATEGORICAL,
    .caps = DRIFTD_CAP_MERGE | DRIFTD_CAP_P_VALUE,
    .accepts = DD_CAT_ACCEPTS,
    .params = ztest_params,
    .n_params = sizeof(ztest_params) / sizeof(ztest_params[0]),
    .config_size = sizeof(struct ztest_config),
    .state_size = sizeof(struct dd_cat),
    .snapshot_version = DD_CAT_SNAPSHOT_VERSION,
    .check_config = ztest_check_config,
    .init = ztest_init,
    .reference_add = dd_cat_op_reference_add,
    .reference_done = dd_cat_op_reference_done,
    .update = dd_cat_op_update,
    .evaluate = ztest_evaluate,
    .window_reset = dd_cat_op_window_reset,
    .snapshot = dd_cat_op_snapshot,
    .restore = dd_cat_op_restore,
    .merge = dd_cat_op_merge,
    .done = dd_cat_op_done,
};
