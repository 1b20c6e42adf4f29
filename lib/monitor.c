/* Monitor instances: the reference and window policy between extracted values and a
 * detector. The reference is the first N matching values or a pinned baseline; the window is a
 * tumbling window of W values. Host-level decisions on top of the detector's: `calibrate`
 * (threshold from the reference itself) and `min_effect` (an effect-size floor). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jvalue.h"
#include "monitor.h"

const char *dd_skip_name(enum dd_skip s)
{
	static const char *const names[] = {"missing", "wrong_type", "rejected"};
	return (unsigned)s < DD_SKIP__MAX ? names[s] : "?";
}

/* Feed JSON values to an instance: as reference (reference_add) or as window values (update);
 * with a mask, only the values i where mask[i] == select. Returns the number of values taken,
 * or a negative errno. Values the detector refuses are counted in skipped[] when given. */
static long feed_json(struct dd_instance *in, const json_t *vals, const bool *mask, bool select,
                      bool as_reference, uint64_t *skipped)
{
	const struct driftd_detector_ops *ops = in->ops;
	double *vec = NULL;
	size_t cap = 0, i;
	long taken = 0;
	int rc = 0;
	json_t *j;
	json_array_foreach (vals, i, j) {
		if (mask && mask[i] != select)
			continue;
		struct driftd_value v;
		rc = dd_value_from_json(j, &v, &vec, &cap);
		if (rc < 0)
			break;
		if (!(ops->accepts & DRIFTD_ACCEPTS(v.type))) {
			if (skipped)
				skipped[DD_SKIP_WRONG_TYPE]++;
			continue;
		}
		rc = as_reference ? ops->reference_add(&in->ctx, &v) : ops->update(&in->ctx, &v);
		if (rc == -EDOM) {
			if (skipped)
				skipped[DD_SKIP_REJECTED]++;
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		taken++;
	}
	free(vec);
	return rc < 0 ? rc : taken;
}

/* Score one chunk (mask true) against the rest of the reference (mask false). */
static int score_chunk(struct dd_monitor *m, const json_t *vals, const bool *mask, size_t w,
                       double *ret)
{
	const struct dd_monitor_conf *c = m->conf;
	size_t n = json_array_size(vals);
	struct driftd_shape shape = {
	    .reference_size = n - w, .window_size = w, .seed = m->inst->ctx.shape.seed};
	struct dd_instance *in = NULL;
	int rc = dd_instance_new(c->detector, c->params, &shape, &in);
	if (rc < 0)
		return rc;
	long got = feed_json(in, vals, mask, false, true, NULL);
	rc = got < 0 ? (int)got : got == 0 ? -ENODATA : 0;
	if (rc == 0 && in->ops->reference_done)
		rc = in->ops->reference_done(&in->ctx);
	if (rc == 0) {
		got = feed_json(in, vals, mask, true, false, NULL);
		rc = got < 0 ? (int)got : got == 0 ? -ENODATA : 0;
	}
	struct driftd_verdict v = {.p_value = (double)NAN};
	if (rc == 0)
		rc = in->ops->evaluate(&in->ctx, &v);
	dd_instance_free(in);
	*ret = v.score;
	return rc;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The detector's score over chunks of the reference of one window each, every chunk scored
 * against the rest of the reference (never against itself): its mean and standard deviation
 * (ddof 0, as NannyML) are what `calibrate` and `cumulative` measure against. The reference is
 * first cut into consecutive chunks, as NannyML does; when that gives fewer than
 * DD_MIN_CHUNKS, random chunks (partial Fisher-Yates seeded from the monitor) make up the rest,
 * because a standard deviation from a handful of chunks makes a noisy threshold. */
#define DD_MIN_CHUNKS 32
static int chunk_scores(struct dd_monitor *m, const json_t *vals, double *ret_mean, double *ret_sd)
{
	size_t n = json_array_size(vals), w = m->conf->window_size;
	size_t chunks = w ? n / w : 0;
	if (chunks < 2)
		return -EINVAL; /* the config check makes this unreachable for first-N references */
	size_t rounds = chunks < DD_MIN_CHUNKS ? DD_MIN_CHUNKS : chunks;
	bool *mask = calloc(n, sizeof(bool));
	size_t *idx = calloc(n, sizeof(size_t));
	int rc = mask && idx ? 0 : -ENOMEM;
	double sum = 0, sum2 = 0;
	for (size_t r = 0; rc == 0 && r < rounds; r++) {
		memset(mask, 0, n * sizeof(bool));
		if (r < chunks) {
			for (size_t i = r * w; i < (r + 1) * w; i++)
				mask[i] = true;
		} else {
			uint64_t st = m->inst->ctx.shape.seed ^ (uint64_t)r;
			for (size_t i = 0; i < n; i++)
				idx[i] = i;
			for (size_t i = 0; i < w; i++) {
				size_t j = i + (size_t)(splitmix64(&st) % (uint64_t)(n - i));
				size_t t = idx[i];
				idx[i] = idx[j];
				idx[j] = t;
				mask[idx[i]] = true;
			}
		}
		double score = 0;
		rc = score_chunk(m, vals, mask, w, &score);
		sum += score;
		sum2 += score * score;
	}
	free(mask);
	free(idx);
	if (rc < 0)
		return rc;
	double mean = sum / (double)rounds;
	double var = sum2 / (double)rounds - mean * mean;
	*ret_mean = mean;
	*ret_sd = sqrt(var > 0 ? var : 0);
	return 0;
}

static int calibrate(struct dd_monitor *m, const json_t *vals)
{
	const struct dd_monitor_conf *c = m->conf;
	double mean, sd;
	int rc = chunk_scores(m, vals, &mean, &sd);
	if (rc < 0)
		return rc;
	if (c->calibrate_k > 0) {
		m->calibrated_threshold = mean + c->calibrate_k * sd;
		m->calibrated = true;
	}
	if (c->cumulative) {
		m->cusum_mean = mean;
		/* A reference whose chunks all score alike would make every deviation infinite:
		 * floor the scale at a tiny fraction of the mean (or the smallest normal). */
		double floor = fabs(mean) * 1e-9;
		m->cusum_sd = sd > floor ? sd : (floor > DBL_MIN ? floor : DBL_MIN);
	}
	return 0;
}

/* The reference is complete: tell the detector, calibrate if asked, go active. */
static int reference_complete(struct dd_monitor *m, const json_t *vals)
{
	const struct driftd_detector_ops *ops = m->inst->ops;
	int rc = ops->reference_done ? ops->reference_done(&m->inst->ctx) : 0;
	if (rc == 0 && (m->conf->calibrate_k > 0 || m->conf->cumulative))
		rc = calibrate(m, vals);
	if (rc == 0)
		m->phase = DD_MON_ACTIVE;
	json_decref(m->ref_values);
	m->ref_values = NULL;
	return rc;
}

/* A pinned reference (baseline file), fed through reference_add as if read from the stream.
 * The config loader made sure the file is a baseline for this monitor and field. */
static int load_baseline(struct dd_monitor *m)
{
	long got = feed_json(m->inst, m->conf->baseline_values, NULL, false, true, m->skipped);
	if (got < 0)
		return (int)got;
	if (got == 0)
		return -ENODATA;
	m->ref_n = (uint64_t)got;
	return reference_complete(m, m->conf->baseline_values);
}

int dd_monitor_init(struct dd_monitor *m, const struct dd_monitor_conf *c, uint64_t seed)
{
	*m = (struct dd_monitor){.conf = c};
	struct driftd_shape shape = {
	    .reference_size = c->reference_size,
	    .window_size = c->window_size,
	    .seed = seed,
	};
	int rc = dd_instance_new(c->detector, c->params, &shape, &m->inst);
	if (rc < 0)
		return rc;
	m->phase = driftd_kind_uses_reference(c->detector->kind) ? DD_MON_REFERENCE : DD_MON_ACTIVE;
	if (m->phase == DD_MON_REFERENCE && c->baseline_values)
		return load_baseline(m);
	if (m->phase == DD_MON_REFERENCE && (c->calibrate_k > 0 || c->cumulative) &&
	    !(m->ref_values = json_array()))
		return -ENOMEM;
	return 0;
}

void dd_monitor_done(struct dd_monitor *m)
{
	json_decref(m->ref_values);
	m->ref_values = NULL;
	dd_instance_free(m->inst);
	m->inst = NULL;
}

int dd_monitor_feed(struct dd_monitor *m, const struct driftd_value *v, struct driftd_verdict *out)
{
	const struct driftd_detector_ops *ops = m->inst->ops;
	struct driftd_ctx *ctx = &m->inst->ctx;
	m->matched++;
	if (v->type == DRIFTD_VALUE_NONE) {
		m->skipped[DD_SKIP_MISSING]++;
		return 0;
	}
	if (!(ops->accepts & DRIFTD_ACCEPTS(v->type)) ||
	    (v->type == DRIFTD_VALUE_NUMBER && !isfinite(v->num))) {
		m->skipped[DD_SKIP_WRONG_TYPE]++;
		return 0;
	}

	if (m->phase == DD_MON_REFERENCE) {
		int rc = ops->reference_add(ctx, v);
		if (rc == -EDOM) {
			m->skipped[DD_SKIP_REJECTED]++;
			return 0;
		}
		if (rc < 0)
			return rc;
		m->used++;
		if (m->ref_values) {
			/* Kept only for calibration, and only until the reference is complete. */
			json_t *j = dd_value_to_json(v);
			if (!j || json_array_append_new(m->ref_values, j) < 0)
				return -ENOMEM;
		}
		if (++m->ref_n == m->conf->reference_size)
			return reference_complete(m, m->ref_values);
		return 0;
	}

	int rc = ops->update(ctx, v);
	if (rc == -EDOM) {
		m->skipped[DD_SKIP_REJECTED]++;
		return 0;
	}
	if (rc < 0)
		return rc;
	m->used++;
	if (m->conf->window_size && ++m->win_n < m->conf->window_size)
		return 0;

	memset(out, 0, sizeof(*out));
	out->p_value = (double)NAN;
	rc = ops->evaluate(ctx, out);
	if (m->conf->window_size) {
		m->win_n = 0;
		if (ops->window_reset)
			ops->window_reset(ctx);
	}
	if (rc < 0)
		return rc;
	if (m->calibrated) {
		out->threshold = m->calibrated_threshold;
		out->drift = out->score > m->calibrated_threshold;
	}
	/* An effect-size floor: a significant but tiny difference is not drift. */
	if (m->conf->min_effect > 0 && out->score < m->conf->min_effect)
		out->drift = false;
	if (m->conf->cumulative) {
		/* One-sided CUSUM of the standardised window score against the fixed reference:
		 * windows each a little worse than the reference add up, which is how a slow
		 * ("boiling frog") poisoning shows before any single window looks wrong. */
		double z = (out->score - m->cusum_mean) / m->cusum_sd;
		double sum = m->cusum + z - m->conf->cusum_k;
		m->cusum = sum > 0 ? sum : 0;
		out->score = m->cusum;
		out->threshold = m->conf->cusum_h;
		out->p_value = (double)NAN;
		out->drift = m->cusum > m->conf->cusum_h;
	}
	m->verdicts++;
	m->drifts += out->drift;
	return 1;
}
