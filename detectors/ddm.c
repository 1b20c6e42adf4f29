/* ddm: the Drift Detection Method (Gama et al. 2004) on a 0/1 error stream, reproducing River
 * 0.26.1's river.drift.binary.DDM step for step (same floating-point operations in the same
 * order, so the same warning and drift indices).
 *
 * Per value x (1 = error), n counting values since the last reset:
 *   n += 1;  p += (1 / n) * (x - p)                 (river.stats.Mean, n a double)
 *   s = sqrt(p * (1 - p) / n)
 *   once n > warm_start:
 *     if p + s <= p_min + s_min:  p_min = p, s_min = s   (p_min + s_min starts at +inf)
 *     warning = p + s > p_min + warning_threshold * s_min
 *     drift   = p + s > p_min + drift_threshold * s_min   (and then warning = false)
 * Only increases of the error rate are detected. After a drift the detector resets lazily, as
 * River does: the flags stay set (evaluate keeps reporting them) until the next update, which
 * first clears everything and then counts its value as the first of a fresh run, so a new drift
 * needs more than warm_start further values. A run that starts with more than warm_start
 * correct predictions has s_min = 0, and then its first error is a drift (as in River).
 *
 * Verdict: score = p + s after the last value (0 before the first), threshold = p_min +
 * drift_threshold * s_min, the level score must exceed for a drift (+inf until the warm start is
 * over); p_value NAN; drift and warning as River's drift_detected and warning_detected.
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

struct ddm_config {
	int64_t warm_start;
	double warning_threshold;
	double drift_threshold;
};

struct ddm_state {
	double n;      /* values since the last reset (River keeps this count as a double) */
	double p;      /* error rate of those values */
	double p_min;  /* p and s where p + s was smallest after the warm start ... */
	double s_min;  /* ... both 0 while ps_min is +inf */
	double ps_min; /* p_min + s_min, +inf until the warm start is over */
	bool drift;    /* River's drift_detected after the last update */
	bool warning;  /* River's warning_detected */
};

static const struct driftd_param ddm_params[] = {
    {
        .name = "warm_start",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct ddm_config, warm_start),
        .def = 30,
        .min = 0,
        .max = 1e9,
        .description = "Values needed after a start or reset before a warning or drift.",
    },
    {
        .name = "warning_threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct ddm_config, warning_threshold),
        .def = 2,
        .min = 0,
        .max = HUGE_VAL,
        .max_open = true,
        .description = "Warning when p + s exceeds p_min + warning_threshold * s_min.",
    },
    {
        .name = "drift_threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct ddm_config, drift_threshold),
        .def = 3,
        .min = 0,
        .max = HUGE_VAL,
        .max_open = true,
        .description = "Drift when p + s exceeds p_min + drift_threshold * s_min.",
    },
};

static void ddm_reset(struct ddm_state *s)
{
	*s = (struct ddm_state){
	    .n = 0.0,
	    .p = 0.0,
	    .p_min = 0.0,
	    .s_min = 0.0,
	    .ps_min = HUGE_VAL,
	    .drift = false,
	    .warning = false,
	};
}

/* The standard deviation of the error count's rate, as River computes it. */
static double ddm_sd(const struct ddm_state *s)
{
	return sqrt(s->p * (1.0 - s->p) / s->n);
}

static int ddm_init(struct driftd_ctx *ctx)
{
	ddm_reset(ctx->state);
	return 0;
}

static int ddm_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	const struct ddm_config *c = ctx->config;
	struct ddm_state *s = ctx->state;
	double x;

	if (dd_errstream_bit(v, &x) < 0)
		return -EDOM;
	if (s->drift)
		ddm_reset(s);

	s->n += 1.0;
	s->p += (1.0 / s->n) * (x - s->p);
	if (!(s->n > (double)c->warm_start))
		return 0;

	double sd = ddm_sd(s);
	double ps = s->p + sd;
	if (ps <= s->ps_min) {
		s->p_min = s->p;
		s->s_min = sd;
		s->ps_min = s->p_min + s->s_min;
	}
	s->warning = ps > s->p_min + c->warning_threshold * s->s_min;
	if (ps > s->p_min + c->drift_threshold * s->s_min) {
		s->drift = true;
		s->warning = false;
	}
	return 0;
}

static int ddm_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct ddm_config *c = ctx->config;
	const struct ddm_state *s = ctx->state;

	*out = (struct driftd_verdict){
	    .score = s->n > 0 ? s->p + ddm_sd(s) : 0.0,
	    .threshold = isinf(s->ps_min) ? HUGE_VAL : s->p_min + c->drift_threshold * s->s_min,
	    .p_value = (double)NAN,
	    .drift = s->drift,
	    .warning = s->warning,
	};
	return 0;
}

/* Snapshot v1: u64 n, f64 p, p_min, s_min, ps_min (+inf allowed), u64 flags. */
static int ddm_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct ddm_state *s = ctx->state;
	driftd_buf_put_u64(out, (uint64_t)s->n);
	driftd_buf_put_f64(out, s->p);
	driftd_buf_put_f64(out, s->p_min);
	driftd_buf_put_f64(out, s->s_min);
	driftd_buf_put_f64(out, s->ps_min);
	driftd_buf_put_u64(out, (s->drift ? DD_ERRSTREAM_DRIFT : 0) |
	                            (s->warning ? DD_ERRSTREAM_WARNING : 0));
	return out->err;
}

static bool in_unit(double v)
{
	return v >= 0.0 && v <= 1.0;
}

static int ddm_parse(struct driftd_reader *r, struct ddm_state *s)
{
	uint64_t n, flags;
	if (driftd_rd_u64(r, &n) < 0 || driftd_rd_f64(r, &s->p) < 0 ||
	    driftd_rd_f64(r, &s->p_min) < 0 || driftd_rd_f64(r, &s->s_min) < 0 ||
	    driftd_rd_f64(r, &s->ps_min) < 0 || driftd_rd_u64(r, &flags) < 0)
		return -EBADMSG;
	if (r->left != 0 || n > (UINT64_C(1) << 53) || flags > 3)
		return -EBADMSG;
	s->n = (double)n;
	s->drift = flags & DD_ERRSTREAM_DRIFT;
	s->warning = flags & DD_ERRSTREAM_WARNING;

	/* A drift clears the warning; both need the minimum, which needs a value. */
	if ((s->drift && s->warning) || !in_unit(s->p) || (n == 0 && s->p != 0.0))
		return -EBADMSG;
	if (isinf(s->ps_min) && s->ps_min > 0) {
		if (s->p_min != 0.0 || s->s_min != 0.0 || s->drift || s->warning)
			return -EBADMSG;
		return 0;
	}
	if (n == 0 || !in_unit(s->p_min) || !in_unit(s->s_min) || s->ps_min != s->p_min + s->s_min)
		return -EBADMSG;
	return 0;
}

static int ddm_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct ddm_state tmp;
	struct driftd_reader r = {.p = data, .left = len};

	ddm_reset(ctx->state);
	if (version != 1 || (!data && len))
		return -EBADMSG;
	if (ddm_parse(&r, &tmp) < 0)
		return -EBADMSG;
	memcpy(ctx->state, &tmp, sizeof(tmp));
	return 0;
}

static void ddm_done(struct driftd_ctx *ctx)
{
	/* Nothing is allocated: the state lives in host memory. */
}

const struct driftd_detector_ops driftd_detector_ddm = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "ddm",
    .summary = "Drift Detection Method on a 0/1 error stream (as River's DDM).",
    .kind = DRIFTD_KIND_STREAMING,
    .caps = DRIFTD_CAP_WARNING,
    .accepts = DD_ERRSTREAM_ACCEPTS,
    .params = ddm_params,
    .n_params = sizeof(ddm_params) / sizeof(ddm_params[0]),
    .config_size = sizeof(struct ddm_config),
    .state_size = sizeof(struct ddm_state),
    .snapshot_version = 1,
    .init = ddm_init,
    .update = ddm_update,
    .evaluate = ddm_evaluate,
    .snapshot = ddm_snapshot,
    .restore = ddm_restore,
    .done = ddm_done,
};
