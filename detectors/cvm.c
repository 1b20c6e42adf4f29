/* cvm: two-sample Cramer-von Mises test of a window against a fixed reference sample, as
 * scipy.stats.cramervonmises_2samp(reference, window, method=...) of scipy 1.17.1 (Evidently's
 * "cramer_von_mises" stattest).
 *
 * score: the statistic T = U / (m n (m + n)) - (4 m n - 1) / (6 (m + n)), with midranks for
 * ties. p_value: method auto takes the exact distribution when both samples have at most 20
 * values (lattice-path enumeration, Xiao, Gordon & Yakovlev 2006), else the asymptotic one:
 * the limiting distribution of the normalised statistic (Anderson 1962, eq. 15) by the series of
 * Csorgo & Faraway (1996) with K_{1/4} from GSL. method exact is limited to samples of at most
 * 30 values (init fails otherwise: the enumeration grows like C(m + n, m)). Drift when p < alpha
 * (default 0.1 as Evidently; Evidently itself drifts at p <= alpha).
 *
 * Needs at least two values in each sample (as scipy). Cost per evaluation: sorting the window,
 * O(n log n), and one merge, O(m + n); the exact path is bounded by the size limits. Buffers,
 * errors and the snapshot layout are those of detectors/sample.h. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <driftd/detector.h>

#include "ranktest.h"
#include "sample.h"

struct cvm_config {
	double alpha;
	int method; /* enum dd_cvm_method */
};

struct cvm_state {
	struct dd_sample2 s;
};

static const char *const cvm_methods[] = {"auto", "exact", "asymptotic", NULL};

static const struct driftd_param cvm_params[] = {
    {
        .name = "alpha",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct cvm_config, alpha),
        .def = 0.1,
        .min = 0,
        .max = 1,
        .min_open = true,
        .max_open = true,
        .description = "Significance level: drift when the p-value is below it.",
    },
    {
        .name = "method",
        .type = DRIFTD_PARAM_ENUM,
        .offset = offsetof(struct cvm_config, method),
        .def = 0,
        .min = 0,
        .max = 2,
        .choices = cvm_methods,
        .description = "P-value method as in scipy cramervonmises_2samp: auto (exact up to 20 "
                       "values per sample), exact (up to 30) or asymptotic.",
    },
};

static int cvm_check_config(const void *config, const char **why)
{
	const struct cvm_config *c = config;
	if (!(c->alpha > 0 && c->alpha < 1)) {
		*why = "alpha must be in (0, 1)";
		return -EINVAL;
	}
	if (c->method < 0 || c->method > 2) {
		*why = "method must be auto, exact or asymptotic";
		return -EINVAL;
	}
	return 0;
}

static int cvm_init(struct driftd_ctx *ctx)
{
	struct cvm_state *st = ctx->state;
	const struct cvm_config *c = ctx->config;
	if (c->method == DD_CVM_EXACT && (ctx->shape.reference_size > DD_CVM_EXACT_MAX ||
	                                  ctx->shape.window_size > DD_CVM_EXACT_MAX))
		return -EINVAL;
	return dd_sample2_init(&st->s, &ctx->shape, 2, 2);
}

static void cvm_done(struct driftd_ctx *ctx)
{
	struct cvm_state *st = ctx->state;
	dd_sample2_done(&st->s);
}

static int cvm_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct cvm_state *st = ctx->state;
	return dd_sample2_reference_add(&st->s, v);
}

static int cvm_reference_done(struct driftd_ctx *ctx)
{
	struct cvm_state *st = ctx->state;
	return dd_sample2_reference_done(&st->s);
}

static int cvm_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct cvm_state *st = ctx->state;
	return dd_sample2_update(&st->s, v);
}

static int cvm_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct cvm_config *c = ctx->config;
	struct dd_sample2 *s = &((struct cvm_state *)ctx->state)->s;
	int rc = dd_sample2_ready(s);
	if (rc < 0)
		return rc;
	double t, p;
	rc = dd_cvm2(s->ref, s->ref_n, s->win, s->win_n, (enum dd_cvm_method)c->method, &t, &p,
	             NULL);
	if (rc < 0)
		return rc;
	*out = (struct driftd_verdict){
	    .score = t,
	    .threshold = c->alpha,
	    .p_value = p,
	    .drift = p < c->alpha,
	    .warning = false,
	};
	return 0;
}

static void cvm_window_reset(struct driftd_ctx *ctx)
{
	struct cvm_state *st = ctx->state;
	dd_sample2_window_reset(&st->s);
}

static int cvm_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct cvm_state *st = ctx->state;
	return dd_sample2_snapshot(&st->s, out);
}

static int cvm_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct cvm_state *st = ctx->state;
	return dd_sample2_restore(&st->s, version, data, len);
}

const struct driftd_detector_ops driftd_detector_cvm = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "cvm",
    .summary = "Two-sample Cramer-von Mises test of a window against a reference sample",
    .kind = DRIFTD_KIND_TWO_SAMPLE,
    .caps = DRIFTD_CAP_P_VALUE,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = cvm_params,
    .n_params = sizeof(cvm_params) / sizeof(cvm_params[0]),
    .config_size = sizeof(struct cvm_config),
    .state_size = sizeof(struct cvm_state),
    .snapshot_version = 1,
    .check_config = cvm_check_config,
    .init = cvm_init,
    .reference_add = cvm_reference_add,
    .reference_done = cvm_reference_done,
    .update = cvm_update,
    .evaluate = cvm_evaluate,
    .window_reset = cvm_window_reset,
    .snapshot = cvm_snapshot,
    .restore = cvm_restore,
    .done = cvm_done,
};
