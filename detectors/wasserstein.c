/* wasserstein: Wasserstein-1 distance between the window and a fixed reference sample,
 * normalised by the reference's spread, as Evidently's "wasserstein" stattest:
 *
 *   score = scipy.stats.wasserstein_distance(reference, window) / max(std(reference), 0.001)
 *
 * with std the population standard deviation (numpy's np.std, ddof 0). The distance is the
 * integral of |F_ref - G_win| between the pooled values (scipy 1.17.1's _cdf_distance with
 * p = 1). No p-value. Drift when score >= threshold (default 0.1, Evidently's). A constant
 * reference has std 0 and is normalised by 0.001 instead, so any change in it scores high.
 *
 * The reference's std is computed once when the reference closes (and after a restore).
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

struct wasserstein_config {
	double threshold;
};

struct wasserstein_state {
	struct dd_sample2 s;
	double norm; /* max(std(reference), 0.001), valid once the reference is closed */
};

static const struct driftd_param wasserstein_params[] = {
    {
        .name = "threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct wasserstein_config, threshold),
        .def = 0.1,
        .min = 0,
        .max = HUGE_VAL,
        .max_open = true,
        .description = "Drift when the normalised distance is at least this value.",
    },
};

static int wasserstein_check_config(const void *config, const char **why)
{
	const struct wasserstein_config *c = config;
	if (!(c->threshold >= 0 && isfinite(c->threshold))) {
		*why = "threshold must be finite and >= 0";
		return -EINVAL;
	}
	return 0;
}

/* np.std(x): sqrt(mean((x - mean(x))^2)), both means compensated sums over n */
static double population_std(const double *x, size_t n)
{
	struct dd_ksum s = {0}, q = {0};
	for (size_t i = 0; i < n; i++)
		dd_ksum_add(&s, x[i]);
	double mean = dd_ksum_value(&s) / (double)n;
	for (size_t i = 0; i < n; i++) {
		double d = fabs(x[i] - mean);
		dd_ksum_add(&q, d * d);
	}
	return sqrt(dd_ksum_value(&q) / (double)n);
}

static void wasserstein_set_norm(struct wasserstein_state *st)
{
	double sd = population_std(st->s.ref, st->s.ref_n);
	st->norm = sd > 0.001 ? sd : 0.001;
}

static int wasserstein_init(struct driftd_ctx *ctx)
{
	struct wasserstein_state *st = ctx->state;
	return dd_sample2_init(&st->s, &ctx->shape, 1, 1);
}

static void wasserstein_done(struct driftd_ctx *ctx)
{
	struct wasserstein_state *st = ctx->state;
	dd_sample2_done(&st->s);
}

static int wasserstein_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct wasserstein_state *st = ctx->state;
	return dd_sample2_reference_add(&st->s, v);
}

static int wasserstein_reference_done(struct driftd_ctx *ctx)
{
	struct wasserstein_state *st = ctx->state;
	bool was = st->s.ref_done;
	int rc = dd_sample2_reference_done(&st->s);
	if (rc == 0 && !was)
		wasserstein_set_norm(st);
	return rc;
}

static int wasserstein_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct wasserstein_state *st = ctx->state;
	return dd_sample2_update(&st->s, v);
}

static int wasserstein_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct wasserstein_config *c = ctx->config;
	struct wasserstein_state *st = ctx->state;
	struct dd_sample2 *s = &st->s;
	int rc = dd_sample2_ready(s);
	if (rc < 0)
		return rc;
	double l1, l2sq;
	dd_ecdf_distances(s->ref, s->ref_n, s->win, s->win_n, &l1, &l2sq);
	double score = l1 / st->norm;
	*out = (struct driftd_verdict){
	    .score = score,
	    .threshold = c->threshold,
	    .p_value = (double)NAN,
	    .drift = score >= c->threshold,
	    .warning = false,
	};
	return 0;
}

static void wasserstein_window_reset(struct driftd_ctx *ctx)
{
	struct wasserstein_state *st = ctx->state;
	dd_sample2_window_reset(&st->s);
}

static int wasserstein_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct wasserstein_state *st = ctx->state;
	return dd_sample2_snapshot(&st->s, out);
}

static int wasserstein_restore(struct driftd_ctx *ctx, uint32_t version, const void *data,
                               size_t len)
{
	struct wasserstein_state *st = ctx->state;
	st->norm = 0;
	int rc = dd_sample2_restore(&st->s, version, data, len);
	if (rc == 0 && st->s.ref_done)
		wasserstein_set_norm(st);
	return rc;
}

const struct driftd_detector_ops driftd_detector_wasserstein = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "wasserstein",
    .summary = "Wasserstein-1 distance of a window from a reference sample, over the reference std",
    .kind = DRIFTD_KIND_TWO_SAMPLE,
    .caps = 0,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = wasserstein_params,
    .n_params = sizeof(wasserstein_params) / sizeof(wasserstein_params[0]),
    .config_size = sizeof(struct wasserstein_config),
    .state_size = sizeof(struct wasserstein_state),
    .snapshot_version = 1,
    .check_config = wasserstein_check_config,
    .init = wasserstein_init,
    .reference_add = wasserstein_reference_add,
    .reference_done = wasserstein_reference_done,
    .update = wasserstein_update,
    .evaluate = wasserstein_evaluate,
    .window_reset = wasserstein_window_reset,
    .snapshot = wasserstein_snapshot,
    .restore = wasserstein_restore,
    .done = wasserstein_done,
};
