/* shewhart: Shewhart individuals chart with limits frozen after a warm-up.
 *
 * River 0.26.1 has no Shewhart chart; this is the classic one (Shewhart 1939), with the
 * parameter names, defaults and reset of river.drift.Shewhart on River's development branch,
 * checked against an independent numpy implementation (tests/oracle/gen_shewhart.py).
 *
 * Per update with value x (n counts values since the last reset):
 *   - the first min_instances values estimate the center line mu (their mean) and sigma (their
 *     sample standard deviation, ddof 1; 0 for a single value), frozen at value
 *     min_instances, which is also the first value charted;
 *   - with d = x - mu: drift when d > k sigma (mode up), -d > k sigma (mode down) or either
 *     (mode both). Each value is judged on its own; nothing accumulates.
 * A constant warm-up gives sigma = 0, so any later deviation is a drift.
 * Reset: the update after a drift clears everything and starts a new warm-up with its value.
 *
 * O(1) per update, no allocation. Verdict: score d (up), -d (down) or |d| (both), 0 during the
 * warm-up; threshold k sigma (NAN during the warm-up); p_value NAN; drift. */
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

enum shewhart_mode {
	SHEWHART_MODE_BOTH = 0,
	SHEWHART_MODE_UP = 1,
	SHEWHART_MODE_DOWN = 2,
};

struct shewhart_config {
	double k;
	int64_t min_instances;
	int mode;
};

struct shewhart_state {
	struct dd_warmup w; /* reference mean and deviation (warmup.h) */
	double dev;         /* x - mu of the latest charted value */
	bool drift;
};

static const char *const shewhart_modes[] = {"both", "up", "down", NULL};

static const struct driftd_param shewhart_params[] = {
    {
        .name = "k",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct shewhart_config, k),
        .def = 3,
        .min = 0,
        .max = HUGE_VAL,
        .min_open = true,
        .max_open = true,
        .description = "Control limits at k reference standard deviations from the center.",
    },
    {
        .name = "min_instances",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct shewhart_config, min_instances),
        .def = 30,
        .min = 1,
        .max = 1e9,
        .description = "Warm-up values that fix the center line and deviation.",
    },
    {
        .name = "mode",
        .type = DRIFTD_PARAM_ENUM,
        .offset = offsetof(struct shewhart_config, mode),
        .def = SHEWHART_MODE_BOTH,
        .choices = shewhart_modes,
        .description = "Flag values above the upper limit (up), below the lower (down) or both.",
    },
};

static int shewhart_check_config(const void *config, const char **why)
{
	const struct shewhart_config *c = config;
	if (c->min_instances < 1 || !(c->k > 0 && isfinite(c->k))) {
		*why = "k or min_instances out of range";
		return -EINVAL;
	}
	if (c->mode < SHEWHART_MODE_BOTH || c->mode > SHEWHART_MODE_DOWN) {
		*why = "mode must be both, up or down";
		return -EINVAL;
	}
	return 0;
}

static void shewhart_reset(struct shewhart_state *s)
{
	*s = (struct shewhart_state){0};
}

static int shewhart_init(struct driftd_ctx *ctx)
{
	const char *why;
	if (shewhart_check_config(ctx->config, &why) < 0)
		return -EINVAL;
	shewhart_reset(ctx->state);
	return 0;
}

static bool shewhart_charting(const struct shewhart_config *c, const struct shewhart_state *s)
{
	return dd_warmup_frozen(&s->w, (uint64_t)c->min_instances);
}

static double shewhart_score(const struct shewhart_config *c, const struct shewhart_state *s)
{
	switch (c->mode) {
	case SHEWHART_MODE_UP:
		return s->dev;
	case SHEWHART_MODE_DOWN:
		return -s->dev;
	default:
		return fabs(s->dev);
	}
}

static bool shewhart_test(const struct shewhart_config *c, const struct shewhart_state *s)
{
	double limit = c->k * s->w.sigma;
	switch (c->mode) {
	case SHEWHART_MODE_UP:
		return s->dev > limit;
	case SHEWHART_MODE_DOWN:
		return -s->dev > limit;
	default:
		return s->dev > limit || -s->dev > limit;
	}
}

static int shewhart_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	const struct shewhart_config *c = ctx->config;
	struct shewhart_state *s = ctx->state;
	if (v->type != DRIFTD_VALUE_NUMBER || !isfinite(v->num))
		return -EDOM;
	if (s->drift)
		shewhart_reset(s);

	double x = v->num;
	if (!dd_warmup_add(&s->w, x, (uint64_t)c->min_instances))
		return 0;
	s->dev = x - s->w.mu;
	s->drift = shewhart_test(c, s);
	return 0;
}

static int shewhart_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct shewhart_config *c = ctx->config;
	const struct shewhart_state *s = ctx->state;
	bool on = shewhart_charting(c, s);
	*out = (struct driftd_verdict){
	    .score = on ? shewhart_score(c, s) : 0.0,
	    .threshold = on ? c->k * s->w.sigma : (double)NAN,
	    .p_value = (double)NAN,
	    .drift = s->drift,
	    .warning = false,
	};
	return 0;
}

/* Snapshot v1: u64 n, f64 mean, m2, mu, sigma, dev, u64 drift (0/1). */
static int shewhart_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct shewhart_state *s = ctx->state;
	dd_warmup_put(&s->w, out);
	driftd_buf_put_f64(out, s->dev);
	driftd_buf_put_u64(out, s->drift ? 1 : 0);
	return out->err;
}

static int shewhart_parse(const struct shewhart_config *c, struct driftd_reader *r,
                          struct shewhart_state *s)
{
	uint64_t drift;
	if (dd_warmup_read(r, &s->w, (uint64_t)c->min_instances) < 0 ||
	    driftd_rd_f64_finite(r, &s->dev) < 0 || driftd_rd_u64(r, &drift) < 0)
		return -EBADMSG;
	if (r->left != 0 || drift > 1)
		return -EBADMSG;
	s->drift = drift == 1;
	if (!shewhart_charting(c, s)) /* warm-up: nothing charted yet */
		return s->drift || s->dev != 0 ? -EBADMSG : 0;
	return s->drift != shewhart_test(c, s) ? -EBADMSG : 0;
}

static int shewhart_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct shewhart_state tmp;
	struct driftd_reader r = {.p = data, .left = len};
	shewhart_reset(ctx->state);
	if (version != 1 || (!data && len))
		return -EBADMSG;
	if (shewhart_parse(ctx->config, &r, &tmp) < 0)
		return -EBADMSG;
	memcpy(ctx->state, &tmp, sizeof(tmp));
	return 0;
}

static void shewhart_done(struct driftd_ctx *ctx)
{
	/* Nothing is allocated: the state lives in host memory. */
}

const struct driftd_detector_ops driftd_detector_shewhart = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "shewhart",
    .summary = "Shewhart individuals chart: a value beyond k warm-up standard deviations.",
    .kind = DRIFTD_KIND_STREAMING,
    .caps = 0,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = shewhart_params,
    .n_params = sizeof(shewhart_params) / sizeof(shewhart_params[0]),
    .config_size = sizeof(struct shewhart_config),
    .state_size = sizeof(struct shewhart_state),
    .snapshot_version = 1,
    .check_config = shewhart_check_config,
    .init = shewhart_init,
    .update = shewhart_update,
    .evaluate = shewhart_evaluate,
    .snapshot = shewhart_snapshot,
    .restore = shewhart_restore,
    .done = shewhart_done,
};
