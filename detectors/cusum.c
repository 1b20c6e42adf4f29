/* cusum: Page's two-sided tabular CUSUM chart against a reference frozen after a warm-up.
 *
 * River 0.26.1 has no CUSUM; this is the classic chart, with the parameter names, defaults and
 * reset of the CUSUM that River's development branch adds (river.drift.CUSUM), checked
 * against an independent numpy implementation (tests/oracle/gen_cusum.py).
 *
 * Per update with value x (n counts values since the last reset):
 *   - the first min_instances values estimate the reference mean mu and the sample standard
 *     deviation sigma (ddof 1; 0 for a single value); both are frozen at value min_instances,
 *     which is also the first value charted;
 *   - with k = slack sigma and h = threshold sigma, d = x - mu:
 *       S+ = max(0, S+ + d - k),  S- = max(0, S- - d - k)      (both start at 0)
 *   - drift when S+ > h (mode up), S- > h (mode down) or either (mode both).
 * A constant warm-up gives sigma = 0, so any later deviation is a drift.
 * Reset: the update after a drift clears everything and starts a new warm-up with its value,
 * so the chart re-learns the (new) level from the next min_instances values; a new drift needs
 * at least min_instances further values.
 *
 * O(1) per update, no allocation. Verdict: score S+ (up), S- (down) or the larger (both), 0
 * during the warm-up; threshold h (NAN during the warm-up, when there is no reference yet);
 * p_value NAN; drift. */
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

enum cusum_mode {
	CUSUM_MODE_BOTH = 0,
	CUSUM_MODE_UP = 1,
	CUSUM_MODE_DOWN = 2,
};

struct cusum_config {
	int64_t min_instances;
	double slack;
	double threshold;
	int mode;
};

struct cusum_state {
	struct dd_warmup w; /* reference mean and deviation (warmup.h) */
	double sum_inc;     /* S+ */
	double sum_dec;     /* S- */
	bool drift;
};

static const char *const cusum_modes[] = {"both", "up", "down", NULL};

static const struct driftd_param cusum_params[] = {
    {
        .name = "min_instances",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct cusum_config, min_instances),
        .def = 30,
        .min = 1,
        .max = 1e9,
        .description = "Warm-up values that fix the reference mean and deviation.",
    },
    {
        .name = "slack",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct cusum_config, slack),
        .def = 0.5,
        .min = 0,
        .max = HUGE_VAL,
        .max_open = true,
        .description = "Slack k absorbed per value, in reference standard deviations.",
    },
    {
        .name = "threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct cusum_config, threshold),
        .def = 5,
        .min = 0,
        .max = HUGE_VAL,
        .min_open = true,
        .max_open = true,
        .description = "Decision interval h, in reference standard deviations.",
    },
    {
        .name = "mode",
        .type = DRIFTD_PARAM_ENUM,
        .offset = offsetof(struct cusum_config, mode),
        .def = CUSUM_MODE_BOTH,
        .choices = cusum_modes,
        .description = "Detect increases of the mean (up), decreases (down) or both.",
    },
};

static int cusum_check_config(const void *config, const char **why)
{
	const struct cusum_config *c = config;
	if (c->min_instances < 1 || !(c->slack >= 0 && isfinite(c->slack)) ||
	    !(c->threshold > 0 && isfinite(c->threshold))) {
		*why = "min_instances, slack or threshold out of range";
		return -EINVAL;
	}
	if (c->mode < CUSUM_MODE_BOTH || c->mode > CUSUM_MODE_DOWN) {
		*why = "mode must be both, up or down";
		return -EINVAL;
	}
	return 0;
}

static void cusum_reset(struct cusum_state *s)
{
	*s = (struct cusum_state){0};
}

static int cusum_init(struct driftd_ctx *ctx)
{
	const char *why;
	if (cusum_check_config(ctx->config, &why) < 0)
		return -EINVAL;
	cusum_reset(ctx->state);
	return 0;
}

static bool cusum_charting(const struct cusum_config *c, const struct cusum_state *s)
{
	return dd_warmup_frozen(&s->w, (uint64_t)c->min_instances);
}

static double cusum_score(const struct cusum_config *c, const struct cusum_state *s)
{
	switch (c->mode) {
	case CUSUM_MODE_UP:
		return s->sum_inc;
	case CUSUM_MODE_DOWN:
		return s->sum_dec;
	default:
		return s->sum_inc > s->sum_dec ? s->sum_inc : s->sum_dec;
	}
}

static bool cusum_test(const struct cusum_config *c, const struct cusum_state *s)
{
	double h = c->threshold * s->w.sigma;
	switch (c->mode) {
	case CUSUM_MODE_UP:
		return s->sum_inc > h;
	case CUSUM_MODE_DOWN:
		return s->sum_dec > h;
	default:
		return s->sum_inc > h || s->sum_dec > h;
	}
}

static int cusum_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	const struct cusum_config *c = ctx->config;
	struct cusum_state *s = ctx->state;
	if (v->type != DRIFTD_VALUE_NUMBER || !isfinite(v->num))
		return -EDOM;
	if (s->drift)
		cusum_reset(s);

	double x = v->num;
	if (!dd_warmup_add(&s->w, x, (uint64_t)c->min_instances))
		return 0;

	double k = c->slack * s->w.sigma;
	double dev = x - s->w.mu;
	double inc = s->sum_inc + dev - k;
	double dec = s->sum_dec - dev - k;
	s->sum_inc = inc > 0 ? inc : 0.0;
	s->sum_dec = dec > 0 ? dec : 0.0;
	s->drift = cusum_test(c, s);
	return 0;
}

static int cusum_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct cusum_config *c = ctx->config;
	const struct cusum_state *s = ctx->state;
	bool on = cusum_charting(c, s);
	*out = (struct driftd_verdict){
	    .score = on ? cusum_score(c, s) : 0.0,
	    .threshold = on ? c->threshold * s->w.sigma : (double)NAN,
	    .p_value = (double)NAN,
	    .drift = s->drift,
	    .warning = false,
	};
	return 0;
}

/* Snapshot v1: u64 n, f64 mean, m2, mu, sigma, sum_inc, sum_dec, u64 drift (0/1). */
static int cusum_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct cusum_state *s = ctx->state;
	dd_warmup_put(&s->w, out);
	driftd_buf_put_f64(out, s->sum_inc);
	driftd_buf_put_f64(out, s->sum_dec);
	driftd_buf_put_u64(out, s->drift ? 1 : 0);
	return out->err;
}

static int cusum_parse(const struct cusum_config *c, struct driftd_reader *r, struct cusum_state *s)
{
	uint64_t drift;
	if (dd_warmup_read(r, &s->w, (uint64_t)c->min_instances) < 0 ||
	    driftd_rd_f64_finite(r, &s->sum_inc) < 0 || driftd_rd_f64_finite(r, &s->sum_dec) < 0 ||
	    driftd_rd_u64(r, &drift) < 0)
		return -EBADMSG;
	if (r->left != 0 || drift > 1 || !(s->sum_inc >= 0) || !(s->sum_dec >= 0))
		return -EBADMSG;
	s->drift = drift == 1;
	if (!cusum_charting(c, s)) /* warm-up: nothing charted yet */
		return s->drift || s->sum_inc != 0 || s->sum_dec != 0 ? -EBADMSG : 0;
	return s->drift != cusum_test(c, s) ? -EBADMSG : 0;
}

static int cusum_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct cusum_state tmp;
	struct driftd_reader r = {.p = data, .left = len};
	cusum_reset(ctx->state);
	if (version != 1 || (!data && len))
		return -EBADMSG;
	if (cusum_parse(ctx->config, &r, &tmp) < 0)
		return -EBADMSG;
	memcpy(ctx->state, &tmp, sizeof(tmp));
	return 0;
}

static void cusum_done(struct driftd_ctx *ctx)
{
	/* Nothing is allocated: the state lives in host memory. */
}

const struct driftd_detector_ops driftd_detector_cusum = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "cusum",
    .summary = "Two-sided CUSUM chart against a mean and deviation learnt in a warm-up.",
    .kind = DRIFTD_KIND_STREAMING,
    .caps = 0,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = cusum_params,
    .n_params = sizeof(cusum_params) / sizeof(cusum_params[0]),
    .config_size = sizeof(struct cusum_config),
    .state_size = sizeof(struct cusum_state),
    .snapshot_version = 1,
    .check_config = cusum_check_config,
    .init = cusum_init,
    .update = cusum_update,
    .evaluate = cusum_evaluate,
    .snapshot = cusum_snapshot,
    .restore = cusum_restore,
    .done = cusum_done,
};
