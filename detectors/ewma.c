/* ewma: EWMA control chart (Roberts 1959) against a reference frozen after a warm-up.
 *
 * River 0.26.1 has no EWMA chart. This is the standard one (e.g. Montgomery, Introduction to
 * Statistical Quality Control, 9.2) with exact time-varying limits, checked against an
 * independent numpy implementation (tests/oracle/gen_ewma.py). The parameter names follow
 * River's development-branch EWMA, but that detector charts against a running mean of the whole
 * stream and an exponentially weighted variance; this one keeps the chart's classical fixed
 * reference, which a slow drift cannot drag along.
 *
 * Per update with value x (n counts values since the last reset):
 *   - the first min_instances values estimate mu (their mean) and sigma (their sample standard
 *     deviation, ddof 1; 0 for a single value), frozen at value min_instances, which is also
 *     the first value charted (i = 1); z starts at mu;
 *   - for the i-th charted value: z = alpha x + (1 - alpha) z, computed as
 *     z + alpha (x - z) so that z stays exactly at mu while x does,
 *       limit_i = threshold sigma sqrt(alpha / (2 - alpha) (1 - (1 - alpha)^(2 i)));
 *   - drift when z - mu > limit_i (mode up), mu - z > limit_i (mode down) or either (both).
 * alpha = 1 makes it a Shewhart chart. A constant warm-up gives sigma = 0, so any later
 * deviation is a drift.
 * Reset: the update after a drift clears everything and starts a new warm-up with its value.
 *
 * O(1) per update, no allocation: (1 - alpha)^(2 i) is computed with pow() only until
 * 1 - (1 - alpha)^(2 i) rounds to 1, after which the limit is constant.
 *
 * Verdict: score z - mu (up), mu - z (down) or |z - mu| (both), 0 during the warm-up;
 * threshold limit_i (NAN during the warm-up); p_value NAN; drift. */
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

#include "warmup.h"

enum ewma_mode {
	EWMA_MODE_BOTH = 0,
	EWMA_MODE_UP = 1,
	EWMA_MODE_DOWN = 2,
};

struct ewma_config {
	double alpha;
	double threshold;
	int64_t min_instances;
	int mode;
};

struct ewma_state {
	struct dd_warmup w; /* reference mean and deviation (warmup.h) */
	double z;           /* the EWMA statistic */
	double factor; /* alpha / (2 - alpha) (1 - (1 - alpha)^(2 i)), i = n - min_instances + 1 */
	bool settled;  /* factor has reached its limit: no more pow() */
	bool drift;
};

static const char *const ewma_modes[] = {"both", "up", "down", NULL};

static const struct driftd_param ewma_params[] = {
    {
        .name = "alpha",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct ewma_config, alpha),
        .def = 0.1,
        .min = 0,
        .max = 1,
        .min_open = true,
        .description = "Weight of the newest value in the moving average (lambda).",
    },
    {
        .name = "threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct ewma_config, threshold),
        .def = 3,
        .min = 0,
        .max = HUGE_VAL,
        .min_open = true,
        .max_open = true,
        .description = "Width L of the control limits, in standard errors of the average.",
    },
    {
        .name = "min_instances",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct ewma_config, min_instances),
        .def = 30,
        .min = 1,
        .max = 1e9,
        .description = "Warm-up values that fix the reference mean and deviation.",
    },
    {
        .name = "mode",
        .type = DRIFTD_PARAM_ENUM,
        .offset = offsetof(struct ewma_config, mode),
        .def = EWMA_MODE_BOTH,
        .choices = ewma_modes,
        .description = "Detect increases of the mean (up), decreases (down) or both.",
    },
};

static int ewma_check_config(const void *config, const char **why)
{
	const struct ewma_config *c = config;
	if (!(c->alpha > 0 && c->alpha <= 1) || !(c->threshold > 0 && isfinite(c->threshold)) ||
	    c->min_instances < 1) {
		*why = "alpha, threshold or min_instances out of range";
		return -EINVAL;
	}
	if (c->mode < EWMA_MODE_BOTH || c->mode > EWMA_MODE_DOWN) {
		*why = "mode must be both, up or down";
		return -EINVAL;
	}
	return 0;
}

static void ewma_reset(struct ewma_state *s)
{
	*s = (struct ewma_state){0};
}

static int ewma_init(struct driftd_ctx *ctx)
{
	const char *why;
	if (ewma_check_config(ctx->config, &why) < 0)
		return -EINVAL;
	ewma_reset(ctx->state);
	return 0;
}

static bool ewma_charting(const struct ewma_config *c, const struct ewma_state *s)
{
	return dd_warmup_frozen(&s->w, (uint64_t)c->min_instances);
}

/* The limit factor of the i-th charted value; *settled when later ones are all equal. */
static double ewma_factor(const struct ewma_config *c, uint64_t i, bool *settled)
{
	double a = c->alpha;
	double q = pow(1.0 - a, (double)(2 * i));
	double one_minus = 1.0 - q;
	*settled = one_minus == 1.0;
	return a / (2.0 - a) * one_minus;
}

static double ewma_limit(const struct ewma_config *c, const struct ewma_state *s)
{
	return c->threshold * s->w.sigma * sqrt(s->factor);
}

static double ewma_score(const struct ewma_config *c, const struct ewma_state *s)
{
	double dev = s->z - s->w.mu;
	switch (c->mode) {
	case EWMA_MODE_UP:
		return dev;
	case EWMA_MODE_DOWN:
		return -dev;
	default:
		return fabs(dev);
	}
}

static bool ewma_test(const struct ewma_config *c, const struct ewma_state *s)
{
	double dev = s->z - s->w.mu, limit = ewma_limit(c, s);
	switch (c->mode) {
	case EWMA_MODE_UP:
		return dev > limit;
	case EWMA_MODE_DOWN:
		return -dev > limit;
	default:
		return dev > limit || -dev > limit;
	}
}

static int ewma_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	const struct ewma_config *c = ctx->config;
	struct ewma_state *s = ctx->state;
	if (v->type != DRIFTD_VALUE_NUMBER || !isfinite(v->num))
		return -EDOM;
	if (s->drift)
		ewma_reset(s);

	double x = v->num;
	uint64_t mi = (uint64_t)c->min_instances;
	bool first = s->w.n + 1 == mi;
	if (!dd_warmup_add(&s->w, x, mi))
		return 0;
	if (first) {
		s->z = s->w.mu;
	}
	s->z += c->alpha * (x - s->z);
	if (!s->settled)
		s->factor = ewma_factor(c, s->w.n - mi + 1, &s->settled);
	s->drift = ewma_test(c, s);
	return 0;
}

static int ewma_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct ewma_config *c = ctx->config;
	const struct ewma_state *s = ctx->state;
	bool on = ewma_charting(c, s);
	*out = (struct driftd_verdict){
	    .score = on ? ewma_score(c, s) : 0.0,
	    .threshold = on ? ewma_limit(c, s) : (double)NAN,
	    .p_value = (double)NAN,
	    .drift = s->drift,
	    .warning = false,
	};
	return 0;
}

/* Snapshot v1: u64 n, f64 mean, m2, mu, sigma, z, u64 drift (0/1). The limit factor follows
 * from n and the configuration. */
static int ewma_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct ewma_state *s = ctx->state;
	dd_warmup_put(&s->w, out);
	driftd_buf_put_f64(out, s->z);
	driftd_buf_put_u64(out, s->drift ? 1 : 0);
	return out->err;
}

static int ewma_parse(const struct ewma_config *c, struct driftd_reader *r, struct ewma_state *s)
{
	uint64_t drift;
	*s = (struct ewma_state){0};
	if (dd_warmup_read(r, &s->w, (uint64_t)c->min_instances) < 0 ||
	    driftd_rd_f64_finite(r, &s->z) < 0 || driftd_rd_u64(r, &drift) < 0)
		return -EBADMSG;
	if (r->left != 0 || drift > 1)
		return -EBADMSG;
	s->drift = drift == 1;
	if (!ewma_charting(c, s)) /* warm-up: nothing charted yet */
		return s->drift || s->z != 0 ? -EBADMSG : 0;
	s->factor = ewma_factor(c, s->w.n - (uint64_t)c->min_instances + 1, &s->settled);
	return s->drift != ewma_test(c, s) ? -EBADMSG : 0;
}

static int ewma_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct ewma_state tmp;
	struct driftd_reader r = {.p = data, .left = len};
	ewma_reset(ctx->state);
	if (version != 1 || (!data && len))
		return -EBADMSG;
	if (ewma_parse(ctx->config, &r, &tmp) < 0)
		return -EBADMSG;
	memcpy(ctx->state, &tmp, sizeof(tmp));
	return 0;
}

static void ewma_done(struct driftd_ctx *ctx)
{
	/* Nothing is allocated: the state lives in host memory. */
}

const struct driftd_detector_ops driftd_detector_ewma = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "ewma",
    .summary = "EWMA control chart against a mean and deviation learnt in a warm-up.",
    .kind = DRIFTD_KIND_STREAMING,
    .caps = 0,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = ewma_params,
    .n_params = sizeof(ewma_params) / sizeof(ewma_params[0]),
    .config_size = sizeof(struct ewma_config),
    .state_size = sizeof(struct ewma_state),
    .snapshot_version = 1,
    .check_config = ewma_check_config,
    .init = ewma_init,
    .update = ewma_update,
    .evaluate = ewma_evaluate,
    .snapshot = ewma_snapshot,
    .restore = ewma_restore,
    .done = ewma_done,
};
