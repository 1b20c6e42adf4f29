/* hddm_w: HDDM_W, drift detection with McDiarmid's bound on exponentially weighted moving
 * averages (Frias-Blanco et al. 2014, MOA's HDDM_W_Test), on a 0/1 error stream, reproducing
 * River 0.26.1's river.drift.binary.HDDMW step for step (same floating-point operations in the
 * same order, so the same warning and drift indices).
 *
 * A sample is an EWMA with its independent bound condition: the first value sets the average,
 * later ones give ewma = lambda * x + (1 - lambda) * ewma (River's Rust EWMean), and every
 * value gives ibc = lambda^2 + (1 - lambda)^2 * ibc (ibc starts at 1; (1 - lambda)^2 is libm's
 * pow, as River's ** 2, which is not always the correctly rounded product). With
 * bound(ibc, c) = sqrt(ibc * ln(1 / c) / 2), per value x:
 *   total += x
 *   increases: if total + bound(total.ibc, drift_confidence) < incr_cut (+inf at first):
 *                incr_cut = that sum, s1 = total, s2 = empty;  else s2 += x
 *              drift = s2 - s1 > bound(s1.ibc + s2.ibc, drift_confidence) (both non-empty)
 *              else warning = the same at warning_confidence
 *   decreases: mirrored (total - bound > decr_cut, starting at -inf), tracked always but tested
 *              only with two_sided_test (s1 - s2 > bound sets drift, or else warning, without
 *              clearing what the increase test set: both flags can be up)
 * After a drift the detector resets lazily, as River does: the flags stay set (evaluate keeps
 * reporting them) until the next update, which first clears everything and then counts its
 * value as the first of a fresh run. A long run without errors decays the averages through the
 * subnormals to exactly 0, as in River (no flush-to-zero).
 *
 * Verdict: score = s2 - s1 for increases, threshold = the bound it is compared with at
 * drift_confidence (drift when score > threshold; score 0 and +inf while either sample is
 * empty). With two_sided_test the verdict describes the side with the larger score - threshold
 * (s1 - s2 for decreases, ties go to the increase). p_value NAN; drift and warning as River's
 * drift_detected and warning_detected.
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

struct hddmw_config {
	double drift_confidence;
	double warning_confidence;
	double lambda_val;
	bool two_sided_test;
};

/* River's SampleInfo */
struct hddmw_sample {
	double ewma;
	double ibc; /* independent bound condition */
	bool init;  /* has seen a value */
};

struct hddmw_state {
	struct hddmw_sample total, s1_incr, s2_incr, s1_decr, s2_decr;
	double incr_cut; /* +inf until the first value */
	double decr_cut; /* -inf until the first value */
	bool drift;      /* River's drift_detected after the last update */
	bool warning;    /* River's warning_detected */
	/* Computed once in init from the configuration (not part of the snapshot). */
	double lambda;    /* lambda_val */
	double lambda_sq; /* lambda * lambda */
	double keep_sq;   /* pow(1 - lambda, 2) */
	double ln_drift;  /* ln(1 / drift_confidence) */
	double ln_warn;   /* ln(1 / warning_confidence) */
};

static const struct driftd_param hddmw_params[] = {
    {
        .name = "drift_confidence",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct hddmw_config, drift_confidence),
        .def = 0.001,
        .min = 0,
        .max = 1,
        .min_open = true,
        .max_open = true,
        .description = "Significance level of the McDiarmid-bound test that signals a drift.",
    },
    {
        .name = "warning_confidence",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct hddmw_config, warning_confidence),
        .def = 0.005,
        .min = 0,
        .max = 1,
        .min_open = true,
        .max_open = true,
        .description = "Significance level of the test that signals a warning.",
    },
    {
        .name = "lambda_val",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct hddmw_config, lambda_val),
        .def = 0.05,
        .min = 0,
        .max = 1,
        .description = "Weight of the newest value in the exponentially weighted averages.",
    },
    {
        .name = "two_sided_test",
        .type = DRIFTD_PARAM_BOOL,
        .offset = offsetof(struct hddmw_config, two_sided_test),
        .def = 0,
        .description = "Also detect decreases of the error rate, not only increases.",
    },
};

static const struct hddmw_sample empty_sample = {.ewma = 0.0, .ibc = 1.0, .init = false};

static void hddmw_reset(struct hddmw_state *s)
{
	s->total = s->s1_incr = s->s2_incr = s->s1_decr = s->s2_decr = empty_sample;
	s->incr_cut = HUGE_VAL;
	s->decr_cut = -HUGE_VAL;
	s->drift = s->warning = false;
}

static void sample_add(const struct hddmw_state *s, struct hddmw_sample *m, double x)
{
	if (m->init)
		m->ewma = s->lambda * x + (1.0 - s->lambda) * m->ewma;
	else
		m->ewma = x;
	m->init = true;
	m->ibc = s->lambda_sq + s->keep_sq * m->ibc;
}

static double mcdiarmid(double ibc, double ln_conf)
{
	return sqrt(ibc * ln_conf / 2.0);
}

/* Whether `after` exceeds `before` by more than the bound; ln_conf is ln(1 / confidence). */
static bool changed(const struct hddmw_sample *before, const struct hddmw_sample *after,
                    double ln_conf)
{
	if (!(before->init && after->init))
		return false;
	return after->ewma - before->ewma > mcdiarmid(before->ibc + after->ibc, ln_conf);
}

/* pow with an exponent the compiler cannot see, so that pow(x, 2) stays libm's pow (GCC turns
 * a constant 2 into x * x, which differs from glibc's pow in the last bit now and then). */
static double libm_pow(double x, double y)
{
	volatile double exponent = y;
	return pow(x, exponent);
}

static int hddmw_init(struct driftd_ctx *ctx)
{
	const struct hddmw_config *c = ctx->config;
	struct hddmw_state *s = ctx->state;
	if (!(c->drift_confidence > 0 && c->warning_confidence > 0) ||
	    !(c->lambda_val >= 0 && c->lambda_val <= 1))
		return -EINVAL;
	hddmw_reset(s);
	s->lambda = c->lambda_val;
	s->lambda_sq = c->lambda_val * c->lambda_val;
	s->keep_sq = libm_pow(1.0 - c->lambda_val, 2.0);
	s->ln_drift = log(1.0 / c->drift_confidence);
	s->ln_warn = log(1.0 / c->warning_confidence);
	return 0;
}

static int hddmw_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	const struct hddmw_config *c = ctx->config;
	struct hddmw_state *s = ctx->state;
	double x;

	if (dd_errstream_bit(v, &x) < 0)
		return -EDOM;
	if (s->drift)
		hddmw_reset(s);

	sample_add(s, &s->total, x);
	/* Both cut points use the drift confidence, as in River; so does the bound here. */
	double eps = mcdiarmid(s->total.ibc, s->ln_drift);

	if (s->total.ewma + eps < s->incr_cut) {
		s->incr_cut = s->total.ewma + eps;
		s->s1_incr = s->total;
		s->s2_incr = empty_sample;
	} else {
		sample_add(s, &s->s2_incr, x);
	}
	if (changed(&s->s1_incr, &s->s2_incr, s->ln_drift)) {
		s->drift = true;
		s->warning = false;
	} else {
		s->drift = false;
		s->warning = changed(&s->s1_incr, &s->s2_incr, s->ln_warn);
	}

	if (s->total.ewma - eps > s->decr_cut) {
		s->decr_cut = s->total.ewma - eps;
		s->s1_decr = s->total;
		s->s2_decr = empty_sample;
	} else {
		sample_add(s, &s->s2_decr, x);
	}
	if (c->two_sided_test) {
		if (changed(&s->s2_decr, &s->s1_decr, s->ln_drift))
			s->drift = true;
		else if (changed(&s->s2_decr, &s->s1_decr, s->ln_warn))
			s->warning = true;
	}
	return 0;
}

/* The verdict's score and threshold for one side. */
static void side(const struct hddmw_sample *before, const struct hddmw_sample *after,
                 double ln_conf, double *score, double *limit)
{
	if (!(before->init && after->init)) {
		*score = 0.0;
		*limit = HUGE_VAL;
		return;
	}
	*score = after->ewma - before->ewma;
	*limit = mcdiarmid(before->ibc + after->ibc, ln_conf);
}

static int hddmw_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct hddmw_config *c = ctx->config;
	const struct hddmw_state *s = ctx->state;

	double score, limit;
	side(&s->s1_incr, &s->s2_incr, s->ln_drift, &score, &limit);
	if (c->two_sided_test) {
		double down, down_limit;
		side(&s->s2_decr, &s->s1_decr, s->ln_drift, &down, &down_limit);
		if (down - down_limit > score - limit) {
			score = down;
			limit = down_limit;
		}
	}
	*out = (struct driftd_verdict){
	    .score = score,
	    .threshold = limit,
	    .p_value = (double)NAN,
	    .drift = s->drift,
	    .warning = s->warning,
	};
	return 0;
}

/* Snapshot v1: for total, s1_incr, s2_incr, s1_decr, s2_decr: f64 ewma, f64 ibc, u64 init;
 * then f64 incr_cut (+inf allowed), f64 decr_cut (-inf allowed), u64 flags. */
static int hddmw_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct hddmw_state *s = ctx->state;
	const struct hddmw_sample *m[] = {&s->total, &s->s1_incr, &s->s2_incr, &s->s1_decr,
	                                  &s->s2_decr};
	for (size_t i = 0; i < 5; i++) {
		driftd_buf_put_f64(out, m[i]->ewma);
		driftd_buf_put_f64(out, m[i]->ibc);
		driftd_buf_put_u64(out, m[i]->init ? 1 : 0);
	}
	driftd_buf_put_f64(out, s->incr_cut);
	driftd_buf_put_f64(out, s->decr_cut);
	driftd_buf_put_u64(out, (s->drift ? DD_ERRSTREAM_DRIFT : 0) |
	                            (s->warning ? DD_ERRSTREAM_WARNING : 0));
	return out->err;
}

/* An average of 0/1 values (rounding may take it a hair past 1) and an ibc in (0, 1]. */
static int parse_sample(struct driftd_reader *r, struct hddmw_sample *m)
{
	uint64_t init;
	if (driftd_rd_f64_finite(r, &m->ewma) < 0 || driftd_rd_f64_finite(r, &m->ibc) < 0 ||
	    driftd_rd_u64(r, &init) < 0 || init > 1)
		return -EBADMSG;
	m->init = init == 1;
	if (!m->init)
		return m->ewma == 0.0 && m->ibc == 1.0 ? 0 : -EBADMSG;
	if (!(m->ewma >= 0.0 && m->ewma <= 1.0 + 0x1p-40) || !(m->ibc > 0.0 && m->ibc <= 1.0))
		return -EBADMSG;
	return 0;
}

static int hddmw_parse(struct driftd_reader *r, struct hddmw_state *s)
{
	uint64_t flags;
	if (parse_sample(r, &s->total) < 0 || parse_sample(r, &s->s1_incr) < 0 ||
	    parse_sample(r, &s->s2_incr) < 0 || parse_sample(r, &s->s1_decr) < 0 ||
	    parse_sample(r, &s->s2_decr) < 0 || driftd_rd_f64(r, &s->incr_cut) < 0 ||
	    driftd_rd_f64(r, &s->decr_cut) < 0 || driftd_rd_u64(r, &flags) < 0)
		return -EBADMSG;
	if (r->left != 0 || flags > 3)
		return -EBADMSG;
	s->drift = flags & DD_ERRSTREAM_DRIFT;
	s->warning = flags & DD_ERRSTREAM_WARNING;
	if (isnan(s->incr_cut) || s->incr_cut == -HUGE_VAL || isnan(s->decr_cut) ||
	    s->decr_cut == HUGE_VAL)
		return -EBADMSG;
	/* The first value sets both cut points. */
	if (!s->total.init)
		return s->incr_cut == HUGE_VAL && s->decr_cut == -HUGE_VAL && !s->s1_incr.init &&
		               !s->s2_incr.init && !s->s1_decr.init && !s->s2_decr.init &&
		               flags == 0
		           ? 0
		           : -EBADMSG;
	if (isinf(s->incr_cut) || isinf(s->decr_cut) || !s->s1_incr.init || !s->s1_decr.init)
		return -EBADMSG;
	return 0;
}

static int hddmw_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct hddmw_state *s = ctx->state;
	struct hddmw_state tmp = *s; /* keeps the constants from init */
	struct driftd_reader r = {.p = data, .left = len};

	hddmw_reset(s);
	if (version != 1 || (!data && len))
		return -EBADMSG;
	if (hddmw_parse(&r, &tmp) < 0)
		return -EBADMSG;
	*s = tmp;
	return 0;
}

static void hddmw_done(struct driftd_ctx *ctx)
{
	/* Nothing is allocated: the state lives in host memory. */
}

const struct driftd_detector_ops driftd_detector_hddm_w = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "hddm_w",
    .summary =
        "HDDM_W: McDiarmid-bound test on weighted averages of a 0/1 error stream (as River).",
    .kind = DRIFTD_KIND_STREAMING,
    .caps = DRIFTD_CAP_WARNING,
    .accepts = DD_ERRSTREAM_ACCEPTS,
    .params = hddmw_params,
    .n_params = sizeof(hddmw_params) / sizeof(hddmw_params[0]),
    .config_size = sizeof(struct hddmw_config),
    .state_size = sizeof(struct hddmw_state),
    .snapshot_version = 1,
    .init = hddmw_init,
    .update = hddmw_update,
    .evaluate = hddmw_evaluate,
    .snapshot = hddmw_snapshot,
    .restore = hddmw_restore,
    .done = hddmw_done,
};
