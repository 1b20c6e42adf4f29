/* eddm: the Early Drift Detection Method (Baena-Garcia et al. 2006) on a 0/1 error stream,
 * reproducing River 0.26.1's river.drift.binary.EDDM step for step (same floating-point
 * operations in the same order, so the same warning and drift indices).
 *
 * It watches the distance between consecutive errors (in values; the first error's distance is
 * counted from the start of the run). Per value x, n counting values since the last reset:
 *   n += 1; on an error (x == 1):
 *     e += 1; add d = n - (n at the previous error) to a running mean m and variance s^2
 *     (river.stats.Var: Welford, ddof 1, variance 0 for a single distance)
 *     once n > warm_start:  q = m + 2 * s  (s computed as pow(s^2, 0.5), as River's ** 0.5)
 *       if q > q_max:  q_max = q                    (q_max starts at -1)
 *       else if e > warm_start:  level = q / q_max;
 *            drift if level < beta, else warning = level < alpha
 * Correct predictions change nothing but n, and leave the warning flag as it was. Only a rising
 * error rate (shrinking distances) is detected. A drift does not clear the warning flag (River
 * leaves it as it was). After a drift the detector resets lazily, as River does: the flags stay
 * set (evaluate keeps reporting them) until the next update, which first clears everything and
 * then counts its value as the first of a fresh run.
 *
 * Verdict: score = q / q_max for the last error (1 before a maximum exists; 1 when that error
 * set a new maximum), threshold = beta; a drift is signalled when the score falls BELOW the
 * threshold. p_value NAN; drift and warning as River's drift_detected and warning_detected.
 *
 * The order of floating-point operations matters for exact agreement with River, so fused
 * multiply-add contraction is disabled in this file. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <driftd/detector.h>

#include "errstream.h"

struct eddm_config {
	int64_t warm_start;
	double alpha;
	double beta;
};

struct eddm_state {
	uint64_t n;          /* values since the last reset */
	uint64_t last_error; /* n at the last error, 0 before the first */
	uint64_t n_errors;   /* errors since the last reset (also the distances' count) */
	double mean;         /* running mean of the distances */
	double m2;           /* running sum of squared deviations of the distances */
	double q_max;        /* largest mean + 2 sd seen after the warm start, -1 before */
	double q;            /* mean + 2 sd at the last error past the warm start (derived from
	                      * the fields above, not in the snapshot: evaluate needs no pow) */
	bool drift;          /* River's drift_detected after the last update */
	bool warning;        /* River's warning_detected */
};

static const struct driftd_param eddm_params[] = {
    {
        .name = "warm_start",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct eddm_config, warm_start),
        .def = 30,
        .min = 0,
        .max = 1e9,
        .description =
            "Values, and errors, needed after a start or reset before a warning or drift.",
    },
    {
        .name = "alpha",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct eddm_config, alpha),
        .def = 0.95,
        .min = 0,
        .max = 1,
        .description =
            "Warning when mean + 2 sd of the error distances drops below alpha of its maximum.",
    },
    {
        .name = "beta",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct eddm_config, beta),
        .def = 0.9,
        .min = 0,
        .max = 1,
        .description = "Drift when that ratio drops below beta (at most alpha).",
    },
};

static int eddm_check_config(const void *config, const char **why)
{
	const struct eddm_config *c = config;
	if (c->alpha < c->beta) {
		*why = "alpha must be greater than or equal to beta";
		return -EINVAL;
	}
	return 0;
}

static void eddm_reset(struct eddm_state *s)
{
	*s = (struct eddm_state){
	    .n = 0,
	    .last_error = 0,
	    .n_errors = 0,
	    .mean = 0.0,
	    .m2 = 0.0,
	    .q_max = -1.0,
	    .q = 0.0,
	    .drift = false,
	    .warning = false,
	};
}

/* mean + 2 sd of the distances. River takes the square root as `var ** 0.5`, which is libm's
 * pow and not always the correctly rounded sqrt, so pow it is. */
static double eddm_q(const struct eddm_state *s)
{
	double cnt = (double)s->n_errors;
	double var = cnt > 1.0 ? s->m2 / (cnt - 1.0) : 0.0;
	return s->mean + 2.0 * pow(var, 0.5);
}

static int eddm_init(struct driftd_ctx *ctx)
{
	const char *why;
	if (eddm_check_config(ctx->config, &why) < 0)
		return -EINVAL;
	eddm_reset(ctx->state);
	return 0;
}

static int eddm_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	const struct eddm_config *c = ctx->config;
	struct eddm_state *s = ctx->state;
	double x;

	if (dd_errstream_bit(v, &x) < 0)
		return -EDOM;
	if (s->drift)
		eddm_reset(s);

	s->n++;
	if (x != 1.0)
		return 0;

	s->n_errors++;
	double d = (double)(s->n - s->last_error);
	double old = s->mean;
	s->mean += (1.0 / (double)s->n_errors) * (d - s->mean);
	s->m2 += (d - old) * (d - s->mean);
	s->last_error = s->n;

	if (s->n <= (uint64_t)c->warm_start)
		return 0;
	s->q = eddm_q(s);
	if (s->q > s->q_max) {
		s->q_max = s->q;
	} else if (s->n_errors > (uint64_t)c->warm_start) {
		double level = s->q / s->q_max;
		if (level < c->beta)
			s->drift = true;
		else
			s->warning = level < c->alpha;
	}
	return 0;
}

static int eddm_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct eddm_config *c = ctx->config;
	const struct eddm_state *s = ctx->state;

	*out = (struct driftd_verdict){
	    .score = s->q_max > 0 ? s->q / s->q_max : 1.0,
	    .threshold = c->beta,
	    .p_value = (double)NAN,
	    .drift = s->drift,
	    .warning = s->warning,
	};
	return 0;
}

/* Snapshot v1: u64 n, last_error, n_errors, f64 mean, m2, q_max, u64 flags. */
static int eddm_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct eddm_state *s = ctx->state;
	driftd_buf_put_u64(out, s->n);
	driftd_buf_put_u64(out, s->last_error);
	driftd_buf_put_u64(out, s->n_errors);
	driftd_buf_put_f64(out, s->mean);
	driftd_buf_put_f64(out, s->m2);
	driftd_buf_put_f64(out, s->q_max);
	driftd_buf_put_u64(out, (s->drift ? DD_ERRSTREAM_DRIFT : 0) |
	                            (s->warning ? DD_ERRSTREAM_WARNING : 0));
	return out->err;
}

static int eddm_parse(struct driftd_reader *r, struct eddm_state *s)
{
	uint64_t flags;
	s->q = 0.0;
	if (driftd_rd_u64(r, &s->n) < 0 || driftd_rd_u64(r, &s->last_error) < 0 ||
	    driftd_rd_u64(r, &s->n_errors) < 0 || driftd_rd_f64_finite(r, &s->mean) < 0 ||
	    driftd_rd_f64_finite(r, &s->m2) < 0 || driftd_rd_f64_finite(r, &s->q_max) < 0 ||
	    driftd_rd_u64(r, &flags) < 0)
		return -EBADMSG;
	if (r->left != 0 || flags > 3 || s->n > (UINT64_C(1) << 53))
		return -EBADMSG;
	s->drift = flags & DD_ERRSTREAM_DRIFT;
	s->warning = flags & DD_ERRSTREAM_WARNING;

	/* Every error is at least one value after the previous one. */
	if (s->last_error > s->n || s->n_errors > s->last_error ||
	    (s->n_errors == 0) != (s->last_error == 0))
		return -EBADMSG;
	if (s->n_errors == 0)
		return s->mean == 0.0 && s->m2 == 0.0 && s->q_max == -1.0 && flags == 0 ? 0
		                                                                        : -EBADMSG;
	/* Distances are at least 1, so are their mean and any mean + 2 sd. */
	if (!(s->mean >= 1.0) || !(s->m2 >= 0.0) || !(s->q_max == -1.0 || s->q_max >= 1.0))
		return -EBADMSG;
	/* q changes only on errors, and every error after the one that first set q_max is past
	 * the warm start, so q from the restored distances is the one River compared last. */
	s->q = s->q_max > 0 ? eddm_q(s) : 0.0;
	return 0;
}

static int eddm_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct eddm_state tmp;
	struct driftd_reader r = {.p = data, .left = len};

	eddm_reset(ctx->state);
	if (version != 1 || (!data && len))
		return -EBADMSG;
	if (eddm_parse(&r, &tmp) < 0)
		return -EBADMSG;
	memcpy(ctx->state, &tmp, sizeof(tmp));
	return 0;
}

static void eddm_done(struct driftd_ctx *ctx)
{
	/* Nothing is allocated: the state lives in host memory. */
}

const struct driftd_detector_ops driftd_detector_eddm = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "eddm",
    .summary = "Early Drift Detection Method on a 0/1 error stream (as River's EDDM).",
    .kind = DRIFTD_KIND_STREAMING,
    .caps = DRIFTD_CAP_WARNING,
    .accepts = DD_ERRSTREAM_ACCEPTS,
    .params = eddm_params,
    .n_params = sizeof(eddm_params) / sizeof(eddm_params[0]),
    .config_size = sizeof(struct eddm_config),
    .state_size = sizeof(struct eddm_state),
    .snapshot_version = 1,
    .check_config = eddm_check_config,
    .init = eddm_init,
    .update = eddm_update,
    .evaluate = eddm_evaluate,
    .snapshot = eddm_snapshot,
    .restore = eddm_restore,
    .done = eddm_done,
};
