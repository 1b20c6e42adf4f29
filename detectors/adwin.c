/* adwin: ADaptive WINdowing (Bifet & Gavalda 2007, the ADWIN2 exponential histogram),
 * reproducing River 0.26.1's river.drift.ADWIN (its Rust AdaptiveWindowing) step for step.
 *
 * The window is kept as buckets: level l holds up to max_buckets totals of 2^l consecutive
 * values, oldest first; a level that reaches max_buckets + 1 merges its two oldest into one
 * bucket of the next level. Alongside, the window's width, total and sum of squared deviations
 * (updated per value as variance += (w - 1) (x - total / (w - 1))^2 / w, w the new width).
 *
 * Every clock-th update, once the width exceeds grace_period, every cut between buckets is
 * tested, walking from the oldest bucket to the newest (the variant that visits all buckets,
 * stopping before the newest value so that the recent part W1 is never empty). A cut with
 * n0 values before it and n1 after, both at least min_window_length, signals drift when
 *     |u0 / n0 - u1 / n1| > eps,
 *     eps = sqrt(2 m (variance / width) d) + 2/3 d m,
 *     m = 1 / (n0 - min_window_length + 1) + 1 / (n1 - min_window_length + 1),
 *     d = ln(2 ln(width) / delta).
 * Reset: River then drops old buckets until no cut fires, but its Python wrapper throws the
 * whole window away on the next update (the variant that resets after a drift). So the update
 * after a drift starts from an empty window with the clock at zero, and the shrinking never
 * shows: it is skipped here. Detections therefore land on multiples of clock counted from the
 * last reset, and none can come before grace_period + 1 values.
 *
 * River counts the clock in a 32-bit int that wraps after 2^31 updates without a drift; here it
 * does not, which only matters for a clock that does not divide 2^31. With max_buckets = 1,
 * River 0.26.1 itself panics (a slice bound in its bucket removal) while shrinking after some
 * drifts; this code, which does not shrink, reports the drift at the value River fails on.
 *
 * Per update: O(1) amortised for the insertion; a check costs O(max_buckets log(width)) and
 * runs every clock-th update. No allocation after init (max_buckets + 1 slots for each of 64
 * levels, enough for 2^64 values).
 *
 * Verdict: score is the largest |u0 / n0 - u1 / n1| / eps over the cuts of the latest check
 * (0 before the first one), threshold 1, p_value NAN, drift as River's drift_detected (a cut
 * with |u0 / n0 - u1 / n1| > eps, tested without the division).
 *
 * The order of floating-point operations is River's, so fused multiply-add contraction is
 * disabled in this file. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <driftd/detector.h>

#define ADWIN_LEVELS      64
#define ADWIN_MAX_BUCKETS 1000

struct adwin_config {
	double delta;
	int64_t clock;
	int64_t max_buckets;
	int64_t min_window_length;
	int64_t grace_period;
};

struct adwin_state {
	double *totals; /* level l's bucket totals at totals[l * slots], oldest first */
	size_t slots;   /* max_buckets + 1 */
	uint32_t count[ADWIN_LEVELS];
	uint32_t levels; /* levels in use (at least 1) */
	uint64_t n;      /* values since the last reset: the width and River's clock tick */
	double total;
	double variance; /* sum of squared deviations from the mean */
	double score;
	bool drift;
};

static const struct driftd_param adwin_params[] = {
    {
        .name = "delta",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct adwin_config, delta),
        .def = 0.002,
        .min = 0,
        .max = 1,
        .min_open = true,
        .description = "Confidence value of the cut test: smaller detects less often.",
    },
    {
        .name = "clock",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct adwin_config, clock),
        .def = 32,
        .min = 1,
        .max = 2147483647.0,
        .description = "Test for a change every clock values.",
    },
    {
        .name = "max_buckets",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct adwin_config, max_buckets),
        .def = 5,
        .min = 1,
        .max = ADWIN_MAX_BUCKETS,
        .description = "Buckets of each size kept before the two oldest are merged.",
    },
    {
        .name = "min_window_length",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct adwin_config, min_window_length),
        .def = 5,
        .min = 1,
        .max = 1e9,
        .description = "Smallest sub-window, before or after a cut, that is tested.",
    },
    {
        .name = "grace_period",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct adwin_config, grace_period),
        .def = 10,
        .min = 0,
        .max = 1e9,
        .description = "Values needed after a start or reset before the first test.",
    },
};

static int adwin_check_config(const void *config, const char **why)
{
	const struct adwin_config *c = config;
	if (!(c->delta > 0 && c->delta <= 1) || c->clock < 1 || c->clock > INT32_MAX ||
	    c->max_buckets < 1 || c->max_buckets > ADWIN_MAX_BUCKETS || c->min_window_length < 1 ||
	    c->min_window_length > (int64_t)1e9 || c->grace_period < 0 ||
	    c->grace_period > (int64_t)1e9) {
		*why = "parameter out of range";
		return -EINVAL;
	}
	return 0;
}

static void adwin_reset(struct adwin_state *s)
{
	memset(s->count, 0, sizeof(s->count));
	s->levels = 1;
	s->n = 0;
	s->total = 0.0;
	s->variance = 0.0;
	s->score = 0.0;
	s->drift = false;
}

static int adwin_init(struct driftd_ctx *ctx)
{
	const struct adwin_config *c = ctx->config;
	struct adwin_state *s = ctx->state;
	const char *why;
	if (adwin_check_config(c, &why) < 0)
		return -EINVAL;
	s->slots = (size_t)c->max_buckets + 1;
	s->totals = calloc(ADWIN_LEVELS * s->slots, sizeof(double));
	if (!s->totals)
		return -ENOMEM;
	adwin_reset(s);
	return 0;
}

static void adwin_done(struct driftd_ctx *ctx)
{
	struct adwin_state *s = ctx->state;
	free(s->totals);
	s->totals = NULL;
	s->slots = 0;
}

static void adwin_insert(const struct adwin_config *c, struct adwin_state *s, double x)
{
	uint32_t full = (uint32_t)c->max_buckets + 1;
	s->totals[s->count[0]++] = x;

	/* the running variance, River's operations in River's order */
	double width = (double)(s->n + 1);
	double inc = 0.0;
	if (width > 1.0) {
		double dv = x - s->total / (width - 1.0);
		inc = (width - 1.0) * dv * dv / width;
	}
	s->variance += inc;
	s->total += x;
	s->n++;

	for (uint32_t l = 0; l + 1 < ADWIN_LEVELS && s->count[l] == full; l++) {
		double *b = s->totals + l * s->slots;
		double merged = b[0] + b[1];
		if (l + 1 >= s->levels)
			s->levels = l + 2;
		s->totals[(l + 1) * s->slots + s->count[l + 1]++] = merged;
		memmove(b, b + 2, (full - 2) * sizeof(double));
		s->count[l] -= 2;
	}
}

/* Two lanes, for the pairs the cut test divides together (each lane is an ordinary IEEE
 * division, so the bits are those of two scalar divisions; the divider is the bottleneck). */
typedef double dd_v2 __attribute__((vector_size(16)));

/* Every cut, oldest bucket first; returns whether one fires and sets the score. */
static bool adwin_check(const struct adwin_config *c, struct adwin_state *s)
{
	double width = (double)s->n, mwl = (double)c->min_window_length;
	/* River recomputes these per cut from the same operands: the same bits */
	double dprime = log(2.0 * log(width) / c->delta);
	double var_w = s->variance / width;
	const dd_v2 one = {1.0, 1.0};
	dd_v2 n = {0.0, width};    /* n0, n1: values before and after the cut */
	dd_v2 u = {0.0, s->total}; /* u0, u1: their sums */
	double best = 0.0;
	bool cut = false;

	for (uint32_t l = s->levels; l-- > 0;) {
		double size = ldexp(1.0, (int)l);
		const dd_v2 step = {size, -size};
		const double *b = s->totals + l * s->slots;
		for (uint32_t e = 0; e < s->count[l]; e++) {
			n += step;
			u += (dd_v2){b[e], -b[e]};
			if (l == 0 && e + 1 == s->count[0])
				goto out; /* W1 would be empty */
			if (!(n[1] >= mwl && n[0] >= mwl))
				continue;
			dd_v2 means = u / n;
			dd_v2 recip = one / (n - mwl + 1.0);
			double dmean = fabs(means[0] - means[1]);
			double m = recip[0] + recip[1];
			double eps = sqrt(2.0 * m * var_w * dprime) + 2.0 / 3.0 * dprime * m;
			if (dmean > eps)
				cut = true;
			/* divide only when the ratio may beat the best so far (with slack for the
			 * rounding of best * eps) */
			if (dmean >= best * eps * 0.999999) {
				double ratio = dmean / eps;
				if (ratio > best)
					best = ratio;
			}
		}
	}
out:
	s->score = best;
	return cut;
}

static int adwin_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	const struct adwin_config *c = ctx->config;
	struct adwin_state *s = ctx->state;
	if (v->type != DRIFTD_VALUE_NUMBER || !isfinite(v->num))
		return -EDOM;
	if (!s->totals)
		return -EINVAL;
	if (s->drift)
		adwin_reset(s);
	adwin_insert(c, s, v->num);
	if (s->n % (uint64_t)c->clock == 0 && (double)s->n > (double)c->grace_period)
		s->drift = adwin_check(c, s);
	return 0;
}

static int adwin_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct adwin_state *s = ctx->state;
	*out = (struct driftd_verdict){
	    .score = s->score,
	    .threshold = 1.0,
	    .p_value = (double)NAN,
	    .drift = s->drift,
	    .warning = false,
	};
	return 0;
}

/* Snapshot v1: u64 n, u64 drift (0/1), f64 score, f64 total, f64 variance, u64 levels, then per
 * level u64 count and that many f64 bucket totals, oldest first. */
static int adwin_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct adwin_state *s = ctx->state;
	driftd_buf_put_u64(out, s->n);
	driftd_buf_put_u64(out, s->drift ? 1 : 0);
	driftd_buf_put_f64(out, s->score);
	driftd_buf_put_f64(out, s->total);
	driftd_buf_put_f64(out, s->variance);
	driftd_buf_put_u64(out, s->levels);
	for (uint32_t l = 0; l < s->levels; l++) {
		driftd_buf_put_u64(out, s->count[l]);
		for (uint32_t e = 0; e < s->count[l]; e++)
			driftd_buf_put_f64(out, s->totals[l * s->slots + e]);
	}
	return out->err;
}

static int adwin_parse(const struct adwin_config *c, struct adwin_state *s, struct driftd_reader *r)
{
	uint64_t n, drift, levels;
	if (driftd_rd_u64(r, &n) < 0 || driftd_rd_u64(r, &drift) < 0 ||
	    driftd_rd_f64_finite(r, &s->score) < 0 || driftd_rd_f64_finite(r, &s->total) < 0 ||
	    driftd_rd_f64_finite(r, &s->variance) < 0 || driftd_rd_u64(r, &levels) < 0)
		return -EBADMSG;
	if (n > (UINT64_C(1) << 53) || drift > 1 || levels < 1 || levels > ADWIN_LEVELS ||
	    !(s->score >= 0) || !(s->variance >= 0))
		return -EBADMSG;
	/* a drift is only ever signalled by a check */
	if (drift && (n % (uint64_t)c->clock != 0 || (double)n <= (double)c->grace_period))
		return -EBADMSG;
	uint64_t width = 0;
	for (uint64_t l = 0; l < levels; l++) {
		uint64_t count;
		if (driftd_rd_u64(r, &count) < 0 || count > (uint64_t)c->max_buckets)
			return -EBADMSG;
		for (uint64_t e = 0; e < count; e++)
			if (driftd_rd_f64_finite(r, &s->totals[l * s->slots + e]) < 0)
				return -EBADMSG;
		s->count[l] = (uint32_t)count;
		/* the buckets hold exactly the n values since the reset */
		if (count && (l >= 53 || count << l > n - width))
			return -EBADMSG;
		width += count << l;
	}
	if (width != n || r->left != 0)
		return -EBADMSG;
	s->levels = (uint32_t)levels;
	s->n = n;
	s->drift = drift == 1;
	return 0;
}

static int adwin_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	const struct adwin_config *c = ctx->config;
	struct adwin_state *s = ctx->state;
	if (!s->totals)
		return -EBADMSG;
	adwin_reset(s);
	if (version != 1 || (!data && len))
		return -EBADMSG;
	struct driftd_reader r = {.p = data, .left = len};
	if (adwin_parse(c, s, &r) < 0) {
		adwin_reset(s);
		return -EBADMSG;
	}
	return 0;
}

const struct driftd_detector_ops driftd_detector_adwin = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "adwin",
    .summary = "ADWIN adaptive windowing: a change in the mean between two sub-windows (as "
               "River).",
    .kind = DRIFTD_KIND_STREAMING,
    .caps = 0,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = adwin_params,
    .n_params = sizeof(adwin_params) / sizeof(adwin_params[0]),
    .config_size = sizeof(struct adwin_config),
    .state_size = sizeof(struct adwin_state),
    .snapshot_version = 1,
    .check_config = adwin_check_config,
    .init = adwin_init,
    .update = adwin_update,
    .evaluate = adwin_evaluate,
    .snapshot = adwin_snapshot,
    .restore = adwin_restore,
    .done = adwin_done,
};
