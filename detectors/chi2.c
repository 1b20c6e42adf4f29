/* chi2: chi-squared test of homogeneity between the reference's and a window's category
 * counts, as scipy.stats.chi2_contingency (scipy 1.17.1, Pearson statistic) computes it on the
 * 2 x C table whose rows are the reference and the window and whose columns are the category
 * table's (detectors/categories.c): the kept reference categories, "other" (reference
 * categories beyond max_categories) and "unseen" (window values not in the reference).
 *
 *   E[i][j] = row_i * col_j / N,  chi2 = sum (O - E)^2 / E,  df = C' - 1,  p = Q_chi2(chi2, df)
 *
 * where C' counts the columns that are non-empty in at least one row. Columns empty in both
 * rows (an unused "other" or "unseen" bucket; a kept category always has reference values)
 * are dropped before the test: scipy refuses a table with a zero expected count, and an empty
 * column adds nothing to the statistic, so dropping it is the only sensible reading; it does
 * lower df. With one column left (df = 0: window and reference hold the same single
 * category) the result is scipy's degenerate one, chi2 = 0 and p = 1.
 * With df = 1 and `correction` on (scipy's default) Yates' continuity correction is applied as
 * scipy does: each observed count moves towards its expected count by min(0.5, |E - O|).
 * Drift when p < alpha (a verdict's score is the chi2 statistic, its threshold alpha).
 *
 * This is the homogeneity test (alibi-detect's, NannyML's), not Evidently's goodness-of-fit
 * `chisquare` against reference proportions: the two differ (see docs).
 *
 * p comes from GSL's gsl_cdf_chisq_Q. No GSL error handler is installed; its arguments here
 * are always df in [1, 65537] and a finite chi2 >= 0, a domain where the incomplete gamma
 * routines converge and raise no error. Sums follow numpy's pairwise order, and fused
 * multiply-add contraction is off, so the statistic matches scipy's to the last bits.
 *
 * Cost per evaluation: O(max_categories), no allocation.
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

#include <gsl/gsl_cdf.h>

#include "categories.h"

struct chi2_config {
	struct dd_cat_config cat; /* first: the category table reads it */
	double alpha;
	bool correction;
};

static const struct driftd_param chi2_params[] = {
    {
        .name = "alpha",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct chi2_config, alpha),
        .def = 0.05,
        .min = 0,
        .max = 1,
        .min_open = true,
        .max_open = true,
        .description = "Significance level: drift when the p-value is below it.",
    },
    {
        .name = "correction",
        .type = DRIFTD_PARAM_BOOL,
        .offset = offsetof(struct chi2_config, correction),
        .def = 1,
        .description = "Apply Yates' continuity correction when df is 1 (as scipy).",
    },
    DD_CAT_PARAM_MAX_CATEGORIES(struct chi2_config),
    DD_CAT_PARAM_MAX_LENGTH(struct chi2_config),
};

static int chi2_check_config(const void *config, const char **why)
{
	const struct chi2_config *c = config;
	if (!(c->alpha > 0 && c->alpha < 1)) {
		*why = "alpha must be in (0, 1)";
		return -EINVAL;
	}
	return dd_cat_check_config(&c->cat, why);
}

static int chi2_init(struct driftd_ctx *ctx)
{
	const char *why;
	if (chi2_check_config(ctx->config, &why) < 0)
		return -EINVAL;
	return dd_cat_op_init(ctx);
}

/* The statistic and df of the reference-vs-window table (empty columns dropped). */
static double chi2_statistic(const struct dd_cat *t, bool correction, size_t *df)
{
	size_t cols = dd_cat_columns(t), used = 0;
	const uint64_t *row[2] = {t->ref_cnt, t->win_cnt};
	double rows[2] = {(double)t->ref_total, (double)t->win_total};
	double total = rows[0] + rows[1];
	double *terms = t->scratch;

	for (size_t j = 0; j < cols; j++)
		used += (row[0][j] | row[1][j]) != 0;
	if (used <= 1) {
		*df = 0;
		return 0.0;
	}
	*df = used - 1;
	/* scipy's layout: the reference row's terms, then the window row's */
	for (size_t i = 0, k = 0; i < 2; i++) {
		for (size_t j = 0; j < cols; j++) {
			if ((row[0][j] | row[1][j]) == 0)
				continue;
			double col = (double)row[0][j] + (double)row[1][j];
			double e = rows[i] * col / total;
			double o = (double)row[i][j];
			if (*df == 1 && correction) {
				double d = e - o;
				double mag = fabs(d) < 0.5 ? fabs(d) : 0.5;
				o += d > 0 ? mag : d < 0 ? -mag : 0.0;
			}
			double dev = o - e;
			terms[k++] = dev * dev / e;
		}
	}
	return dd_cat_pairwise_sum(terms, 2 * used);
}

static int chi2_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct chi2_config *c = ctx->config;
	const struct dd_cat *t = ctx->state;
	int rc = dd_cat_ready_to_evaluate(t);
	if (rc < 0)
		return rc;
	size_t df;
	double x = chi2_statistic(t, c->correction, &df);
	double p = df == 0 ? 1.0 : gsl_cdf_chisq_Q(x, (double)df);
	*out = (struct driftd_verdict){
	    .score = x,
	    .threshold = c->alpha,
	    .p_value = p,
	    .drift = p < c->alpha,
	    .warning = false,
	};
	return 0;
}

const struct driftd_detector_ops driftd_detector_chi2 = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "chi2",
    .summary = "Chi-squared homogeneity test of window vs. reference category counts.",
    .kind = DRIFTD_KIND_CATEGORICAL,
    .caps = DRIFTD_CAP_MERGE | DRIFTD_CAP_P_VALUE,
    .accepts = DD_CAT_ACCEPTS,
    .params = chi2_params,
    .n_params = sizeof(chi2_params) / sizeof(chi2_params[0]),
    .config_size = sizeof(struct chi2_config),
    .state_size = sizeof(struct dd_cat),
    .snapshot_version = DD_CAT_SNAPSHOT_VERSION,
    .check_config = chi2_check_config,
    .init = chi2_init,
    .reference_add = dd_cat_op_reference_add,
    .reference_done = dd_cat_op_reference_done,
    .update = dd_cat_op_update,
    .evaluate = chi2_evaluate,
    .window_reset = dd_cat_op_window_reset,
    .snapshot = dd_cat_op_snapshot,
    .restore = dd_cat_op_restore,
    .merge = dd_cat_op_merge,
    .done = dd_cat_op_done,
};
