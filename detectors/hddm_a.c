/* hddm_a: HDDM_A, drift detection with Hoeffding's bound on moving averages (Frias-Blanco et
 * al. 2014, MOA's HDDM_A_Test), on a 0/1 error stream, reproducing River 0.26.1's
 * river.drift.binary.HDDMA step for step (same floating-point operations in the same order, so
 * the same warning and drift indices).
 *
 * State: the running mean z of all values since the last reset (count n_z), and two cut points,
 * snapshots of z taken where it was lowest (lo) and highest (hi) up to a Hoeffding bound. With
 * eps(n) = sqrt(1 / (2 n) * ln(1 / drift_confidence)), per value x:
 *   z += x;  lo = z and hi = z on the first value
 *   if lo + eps(n_lo) >= z + eps(n_z):  lo = z
 *   if hi - eps(n_hi) <= z - eps(n_z):  hi = z
 *   increase(c): n_lo < n_z and z - lo >= sqrt(m / 2 * ln(2 / c)),
 *                m = (n_z - n_lo) / n_lo * (1 / n_z)
 *   drift = increase(drift_confidence); else warning = increase(warning_confidence)
 *   two_sided_test: decrease(c), the same with hi - z, also sets drift, or else warning
 *                   (without clearing what the increase test set: both flags can be up)
 * Means are river.stats.Mean (mean += (1 / n) * (x - mean), n a double). After a drift the
 * detector resets lazily, as River does: the flags stay set (evaluate keeps reporting them)
 * until the next update, which first clears everything and then counts its value as the first
 * of a fresh run.
 *
 * Verdict: score = z - lo, threshold = the bound it is compared with at drift_confidence (drift
 * when score >= threshold; +inf and score 0 while lo is the whole run). With two_sided_test the
 * verdict describes the side with the larger score - threshold (hi - z for decreases, ties go
 * to the increase). p_value NAN; drift and warning as River's drift_detected and
 * warning_detected.
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

struct hddma_config {
	double drift_confidence;
	double warning_confidence;
	bool two_sided_test;
};

/* river.stats.Mean */
struct hddma_mean {
	double n;
	double mean;
};

struct hddma_state {
	struct hddma_mean z;  /* all values since the last reset */
	struct hddma_mean lo; /* z at the cut point for increases */
	struct hddma_mean hi; /* z at the cut point for decreases */
	bool drift;           /* River's drift_detected after the last update */
	bool warning;         /* River's warning_detected */
	/* Logarithms of the configuration, computed once in init (not part of the snapshot). */
	double ln_cut;   /* ln(1 / drift_confidence), for moving the cut points */
	double ln_drift; /* ln(2 / drift_confidence) */
	double ln_warn;  /* ln(2 / warning_confidence) */
};

static const struct driftd_param hddma_params[] = {
    {
        .name = "drift_confidence",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct hddma_config, drift_confidence),
        .def = 0.001,
        .min = 0,
        .max = 1,
        .min_open = true,
        .max_open = true,
        .description = "Significance level of the Hoeffding-bound test that signals a drift.",
    },
    {
        .name = "warning_confidence",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct hddma_config, warning_confidence),
        .def = 0.005,
        .min = 0,
        .max = 1,
        .min_open = true,
        .max_open = true,
        .description = "Significance level of the test that signals a warning.",
    },
    {
        .name = "two_sided_test",
        .type = DRIFTD_PARAM_BOOL,
        .offset = offsetof(struct hddma_config, two_sided_test),
        .def = 0,
        .description = "Also detect decreases of the error rate, not only increases.",
    },
};

static void hddma_reset(struct hddma_state *s)
{
	s->z = s->lo = s->hi = (struct hddma_mean){0.0, 0.0};
	s->drift = s->warning = false;
}

static void mean_add(struct hddma_mean *m, double x)
{
	m->n += 1.0;
	m->mean += (1.0 / m->n) * (x - m->mean);
}

static double hoeffding(const struct hddma_state *s, double n)
{
	return sqrt(1.0 / (2.0 * n) * s->ln_cut);
}

/* The bound that `from - to` must reach for a change between the cut point `cut` and now, or
 * +inf when the cut point is the whole run. ln_conf is ln(2 / confidence). */
static double change_bound(const struct hddma_state *s, const struct hddma_mean *cut,
                           double ln_conf)
{
	if (cut->n == s->z.n)
		return HUGE_VAL;
	double m = (s->z.n - cut->n) / cut->n * (1.0 / s->z.n);
	return sqrt(m / 2.0 * ln_conf);
}

static bool increased(const struct hddma_state *s, double ln_conf)
{
	return s->lo.n != s->z.n && s->z.mean - s->lo.mean >= change_bound(s, &s->lo, ln_conf);
}

static bool decreased(const struct hddma_state *s, double ln_conf)
{
	return s->hi.n != s->z.n && s->hi.mean - s->z.mean >= change_bound(s, &s->hi, ln_conf);
}

static int hddma_init(struct driftd_ctx *ctx)
{
	const struct hddma_config *c = ctx->config;
	struct hddma_state *s = ctx->state;
	if (!(c->drift_confidence > 0 && c->warning_confidence > 0))
		return -EINVAL;
	hddma_reset(s);
	s->ln_cut = log(1.0 / c->drift_confidence);
	s->ln_drift = log(2.0 / c->drift_confidence);
	s->ln_warn = log(2.0 / c->warning_confidence);
	return 0;
}

static int hddma_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	const struct hddma_config *c = ctx->config;
	struct hddma_state *s = ctx->state;
	double x;

	if (dd_errstream_bit(v, &x) < 0)
		return -EDOM;
	if (s->drift)
		hddma_reset(s);

	mean_add(&s->z, x);
	if (s->lo.n == 0)
		s->lo = s->z;
	if (s->hi.n == 0)
		s->hi = s->z;

	double eps_z = hoeffding(s, s->z.n);
	if (s->lo.mean + hoeffding(s, s->lo.n) >= s->z.mean + eps_z)
		s->lo = s->z;
	if (s->hi.mean - hoeffding(s, s->hi.n) <= s->z.mean - eps_z)
		s->hi = s->z;

	if (increased(s, s->ln_drift)) {
		s->drift = true;
		s->warning = false;
	} else {
		s->drift = false;
		s->warning = increased(s, s->ln_warn);
	}
	if (c->two_sided_test) {
		if (decreased(s, s->ln_drift))
			s->drift = true;
		else if (decreased(s, s->ln_warn))
			s->warning = true;
	}
	return 0;
}

static int hddma_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct hddma_config *c = ctx->config;
	const struct hddma_state *s = ctx->state;

	double score = 0.0, limit = change_bound(s, &s->lo, s->ln_drift);
	if (s->lo.n != s->z.n)
		score = s->z.mean - s->lo.mean;
	if (c->two_sided_test && s->hi.n != s->z.n) {
		double down = s->hi.mean - s->z.mean;
		double down_limit = change_bound(s, &s->hi, s->ln_drift);
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

/* Snapshot v1: f64 n and mean of z, lo, hi, then u64 flags. */
static int hddma_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct hddma_state *s = ctx->state;
	const struct hddma_mean *m[] = {&s->z, &s->lo, &s->hi};
	for (size_t i = 0; i < 3; i++) {
		driftd_buf_put_f64(out, m[i]->n);
		driftd_buf_put_f64(out, m[i]->mean);
	}
	driftd_buf_put_u64(out, (s->drift ? DD_ERRSTREAM_DRIFT : 0) |
	                            (s->warning ? DD_ERRSTREAM_WARNING : 0));
	return out->err;
}

/* A count is a whole number of values; a mean of 0/1 values lies in [0, 1]. */
static int parse_mean(struct driftd_reader *r, struct hddma_mean *m)
{
	if (driftd_rd_f64_finite(r, &m->n) < 0 || driftd_rd_f64_finite(r, &m->mean) < 0)
		return -EBADMSG;
	if (!(m->n >= 0 && m->n <= 0x1p53 && m->n == floor(m->n)))
		return -EBADMSG;
	if (!(m->mean >= 0.0 && m->mean <= 1.0) || (m->n == 0 && m->mean != 0.0))
		return -EBADMSG;
	return 0;
}

static int hddma_parse(struct driftd_reader *r, struct hddma_state *s)
{
	uint64_t flags;
	if (parse_mean(r, &s->z) < 0 || parse_mean(r, &s->lo) < 0 || parse_mean(r, &s->hi) < 0 ||
	    driftd_rd_u64(r, &flags) < 0)
		return -EBADMSG;
	if (r->left != 0 || flags > 3)
		return -EBADMSG;
	s->drift = flags & DD_ERRSTREAM_DRIFT;
	s->warning = flags & DD_ERRSTREAM_WARNING;
	/* Before the first value all is zero; after it both cut points hold part of the run. */
	if (s->z.n == 0)
		return s->lo.n == 0 && s->hi.n == 0 && flags == 0 ? 0 : -EBADMSG;
	if (s->lo.n < 1 || s->lo.n > s->z.n || s->hi.n < 1 || s->hi.n > s->z.n)
		return -EBADMSG;
	return 0;
}

static int hddma_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct hddma_state *s = ctx->state;
	struct hddma_state tmp = *s; /* keeps the logarithms from init */
	struct driftd_reader r = {.p = data, .left = len};

	hddma_reset(s);
	if (version != 1 || (!data && len))
		return -EBADMSG;
	if (hddma_parse(&r, &tmp) < 0)
		return -EBADMSG;
	*s = tmp;
	return 0;
}

static void hddma_done(struct driftd_ctx *ctx)
{
	/* Nothing is allocated: the state lives in host memory. */
}

const struct driftd_detector_ops driftd_detector_hddm_a = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "hddm_a",
    .summary = "HDDM_A: Hoeffding-bound test on moving averages of a 0/1 error stream (as River).",
    .kind = DRIFTD_KIND_STREAMING,
    .caps = DRIFTD_CAP_WARNING,
    .accepts = DD_ERRSTREAM_ACCEPTS,
    .params = hddma_params,
    .n_params = sizeof(hddma_params) / sizeof(hddma_params[0]),
    .config_size = sizeof(struct hddma_config),
    .state_size = sizeof(struct hddma_state),
    .snapshot_version = 1,
    .init = hddma_init,
    .update = hddma_update,
    .evaluate = hddma_evaluate,
    .snapshot = hddma_snapshot,
    .restore = hddma_restore,
    .done = hddma_done,
};
