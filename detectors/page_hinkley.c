/* page_hinkley: the Page-Hinkley test, reproducing River 0.26.1's river.drift.PageHinkley step
 * for step (same floating-point operations in the same order, so the same detection indices).
 *
 * Per update with value x (n counts values since the last reset):
 *   n += 1; mean += (1 / n) * (x - mean)                     (river.stats.Mean)
 *   dev = x - mean
 *   m+ = alpha * m+ + dev - delta;  M+ = min(M+, m+)         (M+ starts at +inf)
 *   m- = alpha * m- + dev + delta;  M- = max(M-, m-)         (M- starts at -1, as River)
 *   up = m+ - M+,  down = M- - m-
 *   drift = n >= min_instances && (up > threshold  [mode up]
 *                                  | down > threshold [mode down]
 *                                  | either          [mode both])
 * After a drift the detector resets lazily, as River does: the drift flag stays set (evaluate
 * keeps reporting it) until the next update, which first clears n, mean, m+/-, M+/- and the flag
 * and then processes its value as the first value of a fresh run. So a new drift needs at least
 * min_instances further values.
 *
 * Verdict: score is the relevant statistic (up, down, or the larger of both for mode both),
 * reported on every step, also during the first min_instances values where drift is never
 * signalled; threshold is the threshold parameter; p_value NAN; drift as River's
 * drift_detected. Before the first value the score is 0.
 *
 * The order of floating-point operations matters for exact agreement with River, so fused
 * multiply-add contraction is disabled in this file (GCC contracts across statements on targets
 * with FMA, e.g. aarch64, unless told not to). */
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

enum ph_mode {
	PH_MODE_BOTH = 0,
	PH_MODE_UP = 1,
	PH_MODE_DOWN = 2,
};

struct ph_config {
	int64_t min_instances;
	double delta;
	double threshold;
	double alpha;
	int mode;
};

struct ph_state {
	uint64_t n;     /* values since the last reset */
	double mean;    /* running mean of those values */
	double sum_inc; /* m+ */
	double sum_dec; /* m- */
	double min_inc; /* M+: +inf before the first value */
	double max_dec; /* M-: -1 before the first value */
	bool drift;     /* River's drift_detected after the last update */
};

static const char *const ph_modes[] = {"both", "up", "down", NULL};

static const struct driftd_param ph_params[] = {
    {
        .name = "min_instances",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct ph_config, min_instances),
        .def = 30,
        .min = 1,
        .max = 1e9,
        .description = "Values needed after a start or reset before a drift can be signalled.",
    },
    {
        .name = "delta",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct ph_config, delta),
        .def = 0.005,
        .min = 0,
        .max = HUGE_VAL,
        .max_open = true,
        .description = "Magnitude of change tolerated before deviations accumulate.",
    },
    {
        .name = "threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct ph_config, threshold),
        .def = 50,
        .min = 0,
        .max = HUGE_VAL,
        .max_open = true,
        .description = "Drift when the cumulative deviation exceeds this value (lambda).",
    },
    {
        .name = "alpha",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct ph_config, alpha),
        .def = 1 - 0.0001,
        .min = 0,
        .max = 1,
        .min_open = true,
        .description = "Forgetting factor applied to the cumulative deviations.",
    },
    {
        .name = "mode",
        .type = DRIFTD_PARAM_ENUM,
        .offset = offsetof(struct ph_config, mode),
        .def = PH_MODE_BOTH,
        .choices = ph_modes,
        .description = "Detect increases of the mean (up), decreases (down) or both.",
    },
};

static void ph_reset(struct ph_state *s)
{
	*s = (struct ph_state){
	    .n = 0,
	    .mean = 0.0,
	    .sum_inc = 0.0,
	    .sum_dec = 0.0,
	    .min_inc = HUGE_VAL,
	    .max_dec = -1.0,
	    .drift = false,
	};
}

static double ph_up(const struct ph_state *s)
{
	return s->sum_inc - s->min_inc;
}

static double ph_down(const struct ph_state *s)
{
	return s->max_dec - s->sum_dec;
}

static bool ph_test(const struct ph_config *c, const struct ph_state *s)
{
	switch (c->mode) {
	case PH_MODE_UP:
		return ph_up(s) > c->threshold;
	case PH_MODE_DOWN:
		return ph_down(s) > c->threshold;
	default:
		return ph_up(s) > c->threshold || ph_down(s) > c->threshold;
	}
}

static int ph_init(struct driftd_ctx *ctx)
{
	const struct ph_config *c = ctx->config;
	if (c->mode < PH_MODE_BOTH || c->mode > PH_MODE_DOWN)
		return -EINVAL;
	ph_reset(ctx->state);
	return 0;
}

static int ph_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	const struct ph_config *c = ctx->config;
	struct ph_state *s = ctx->state;

	if (v->type != DRIFTD_VALUE_NUMBER || !isfinite(v->num))
		return -EDOM;
	if (s->drift)
		ph_reset(s);

	double x = v->num;
	s->n++;
	s->mean += (1.0 / (double)s->n) * (x - s->mean);
	double dev = x - s->mean;

	s->sum_inc = c->alpha * s->sum_inc + dev - c->delta;
	s->sum_dec = c->alpha * s->sum_dec + dev + c->delta;
	if (s->sum_inc < s->min_inc)
		s->min_inc = s->sum_inc;
	if (s->sum_dec > s->max_dec)
		s->max_dec = s->sum_dec;

	if ((double)s->n >= (double)c->min_instances)
		s->drift = ph_test(c, s);
	return 0;
}

static int ph_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct ph_config *c = ctx->config;
	const struct ph_state *s = ctx->state;
	double score = 0.0;

	if (s->n > 0) {
		switch (c->mode) {
		case PH_MODE_UP:
			score = ph_up(s);
			break;
		case PH_MODE_DOWN:
			score = ph_down(s);
			break;
		default:
			score = fmax(ph_up(s), ph_down(s));
			break;
		}
	}
	*out = (struct driftd_verdict){
	    .score = score,
	    .threshold = c->threshold,
	    .p_value = (double)NAN,
	    .drift = s->drift,
	    .warning = false,
	};
	return 0;
}

/* Snapshot v1: u64 n, f64 mean, sum_inc, sum_dec, min_inc, max_dec, u64 drift (0/1). */
static int ph_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct ph_state *s = ctx->state;
	driftd_buf_put_u64(out, s->n);
	driftd_buf_put_f64(out, s->mean);
	driftd_buf_put_f64(out, s->sum_inc);
	driftd_buf_put_f64(out, s->sum_dec);
	driftd_buf_put_f64(out, s->min_inc);
	driftd_buf_put_f64(out, s->max_dec);
	driftd_buf_put_u64(out, s->drift ? 1 : 0);
	return out->err;
}

static int ph_parse(struct driftd_reader *r, struct ph_state *s)
{
	uint64_t drift;
	if (driftd_rd_u64(r, &s->n) < 0 || driftd_rd_f64(r, &s->mean) < 0 ||
	    driftd_rd_f64(r, &s->sum_inc) < 0 || driftd_rd_f64(r, &s->sum_dec) < 0 ||
	    driftd_rd_f64(r, &s->min_inc) < 0 || driftd_rd_f64(r, &s->max_dec) < 0 ||
	    driftd_rd_u64(r, &drift) < 0)
		return -EBADMSG;
	if (r->left != 0 || drift > 1)
		return -EBADMSG;
	s->drift = drift == 1;

	if (s->n == 0) {
		/* Only the initial state is valid before the first value. */
		if (s->drift || s->mean != 0.0 || s->sum_inc != 0.0 || s->sum_dec != 0.0 ||
		    s->min_inc != HUGE_VAL || s->max_dec != -1.0)
			return -EBADMSG;
		return 0;
	}
	if (s->n > (UINT64_C(1) << 53))
		return -EBADMSG;
	if (!isfinite(s->mean) || !isfinite(s->sum_inc) || !isfinite(s->sum_dec) ||
	    !isfinite(s->min_inc) || !isfinite(s->max_dec))
		return -EBADMSG;
	/* Invariants maintained by every update. */
	if (!(s->min_inc <= s->sum_inc) || !(s->max_dec >= s->sum_dec) || !(s->max_dec >= -1.0))
		return -EBADMSG;
	return 0;
}

static int ph_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct ph_state tmp;
	struct driftd_reader r = {.p = data, .left = len};

	ph_reset(ctx->state);
	if (version != 1 || (!data && len))
		return -EBADMSG;
	if (ph_parse(&r, &tmp) < 0)
		return -EBADMSG;
	memcpy(ctx->state, &tmp, sizeof(tmp));
	return 0;
}

static void ph_done(struct driftd_ctx *ctx)
{
	/* Nothing is allocated: the state lives in host memory. */
}

const struct driftd_detector_ops driftd_detector_page_hinkley = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "page_hinkley",
    .summary = "Page-Hinkley test for a change in the mean of a stream (as River).",
    .kind = DRIFTD_KIND_STREAMING,
    .caps = 0,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = ph_params,
    .n_params = sizeof(ph_params) / sizeof(ph_params[0]),
    .config_size = sizeof(struct ph_config),
    .state_size = sizeof(struct ph_state),
    .snapshot_version = 1,
    .init = ph_init,
    .update = ph_update,
    .evaluate = ph_evaluate,
    .snapshot = ph_snapshot,
    .restore = ph_restore,
    .done = ph_done,
};
