/* Monitor instances: the reference and window policy between extracted values and a
 * detector. The reference is the first N matching values or a pinned baseline; the window is a
 * tumbling window of W values. Host-level decisions on top of the detector's: `calibrate`
 * (threshold from the reference itself) and `min_effect` (an effect-size floor). */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "baseline.h"
#include "host.h"

#include "jvalue.h"
#include "monitor.h"

const char *dd_skip_name(enum dd_skip s)
{
	static const char *const names[] = {"missing", "wrong_type", "rejected", "no_time"};
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

static int ring_alloc(struct dd_ring *r, size_t cap)
{
	r->x = calloc(cap, sizeof(double));
	r->t = calloc(cap, sizeof(int64_t));
	r->cap = cap;
	return r->x && r->t ? 0 : -ENOMEM;
}

static void ring_free(struct dd_ring *r)
{
	free(r->x);
	free(r->t);
	*r = (struct dd_ring){0};
}

/* Buffers the window and reference policies keep on the host side (numbers only: sliding
 * policies re-feed values, and only numbers can be copied without allocating per event). */
static int alloc_policy(struct dd_monitor *m)
{
	const struct dd_monitor_conf *c = m->conf;
	m->numeric_only =
	    c->window_step || (c->window_duration_ms && c->window_step_ms) || c->reference_sliding;
	int rc = 0;
	if (c->window_step)
		rc = ring_alloc(&m->win_ring, c->window_size);
	else if (c->window_duration_ms && c->window_step_ms)
		rc = ring_alloc(&m->win_ring, c->window_max);
	if (rc == 0 && c->reference_sliding) {
		rc = ring_alloc(&m->ref_ring, c->reference_size);
		m->win_vals = calloc(c->window_size ? c->window_size : 1, sizeof(double));
		if (rc == 0 && !m->win_vals)
			rc = -ENOMEM;
	}
	return rc;
}

int dd_monitor_init(struct dd_monitor *m, const struct dd_monitor_conf *c, uint64_t seed)
{
	*m = (struct dd_monitor){.conf = c};
	struct driftd_shape shape = {
	    .reference_size = c->reference_size,
	    .window_size = c->window_duration_ms ? c->window_max : c->window_size,
	    .seed = seed,
	};
	int rc = dd_instance_new(c->detector, c->params, &shape, &m->inst);
	if (rc < 0)
		return rc;
	m->phase = driftd_kind_uses_reference(c->detector->kind) ? DD_MON_REFERENCE : DD_MON_ACTIVE;
	rc = alloc_policy(m);
	if (rc < 0)
		return rc;
	if (m->phase == DD_MON_REFERENCE && c->baseline_values)
		return load_baseline(m);
	if (m->phase == DD_MON_REFERENCE && (c->calibrate_k > 0 || c->cumulative) &&
	    !(m->ref_values = json_array()))
		return -ENOMEM;
	return 0;
}

void dd_monitor_done(struct dd_monitor *m)
{
	ring_free(&m->win_ring);
	ring_free(&m->ref_ring);
	free(m->win_vals);
	m->win_vals = NULL;
	json_decref(m->ref_values);
	m->ref_values = NULL;
	dd_instance_free(m->inst);
	m->inst = NULL;
}

/* Host-level decisions on top of the detector's verdict. */
static void decide(struct dd_monitor *m, struct driftd_verdict *out)
{
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
		/* Bounded: far past h the size no longer matters, and the sum must stay finite to
		 * be snapshotted (a near-constant reference makes z huge). */
		double cap = m->conf->cusum_h * 1e6;
		m->cusum = !(sum > 0) ? 0 : sum < cap ? sum : cap;
		out->score = m->cusum;
		out->threshold = m->conf->cusum_h;
		out->p_value = (double)NAN;
		out->drift = m->cusum > m->conf->cusum_h;
	}
	m->verdicts++;
	m->drifts += out->drift;
}

/* Evaluate the detector's current window (and reset it for window kinds). 1 or -errno. */
static int close_window(struct dd_monitor *m, struct driftd_verdict *out)
{
	const struct driftd_detector_ops *ops = m->inst->ops;
	memset(out, 0, sizeof(*out));
	out->p_value = (double)NAN;
	int rc = ops->evaluate(&m->inst->ctx, out);
	if (driftd_kind_uses_reference(ops->kind)) {
		m->win_n = 0;
		if (ops->window_reset)
			ops->window_reset(&m->inst->ctx);
	}
	if (rc < 0)
		return rc;
	decide(m, out);
	return 1;
}

static void ring_push(struct dd_ring *r, double x, int64_t t)
{
	size_t at = (r->head + r->len) % r->cap;
	if (r->len == r->cap) {
		r->head = (r->head + 1) % r->cap;
		r->len--;
	}
	r->x[at] = x;
	r->t[at] = t;
	r->len++;
}

/* A sliding reference moves on: it becomes the newest reference_size values before the next
 * window. The detector cannot forget values, so a new instance takes the moved reference. */
static int slide_reference(struct dd_monitor *m)
{
	const struct dd_monitor_conf *c = m->conf;
	for (size_t i = 0; i < m->win_len; i++)
		ring_push(&m->ref_ring, m->win_vals[i], 0);
	m->win_len = 0;
	struct dd_instance *in = NULL;
	int rc = dd_instance_new(c->detector, c->params, &m->inst->ctx.shape, &in);
	for (size_t i = 0; rc == 0 && i < m->ref_ring.len; i++)
		rc = dd_instance_reference_number(
		    in, m->ref_ring.x[(m->ref_ring.head + i) % m->ref_ring.cap]);
	if (rc == 0 && in->ops->reference_done)
		rc = in->ops->reference_done(&in->ctx);
	if (rc < 0) {
		dd_instance_free(in);
		return rc;
	}
	dd_instance_free(m->inst);
	m->inst = in;
	return 0;
}

/* Sliding windows: the detector's window is rebuilt from the ring (values with time >= from). */
static int rebuild_window(struct dd_monitor *m, int64_t from, struct driftd_verdict *out)
{
	const struct driftd_detector_ops *ops = m->inst->ops;
	if (ops->window_reset)
		ops->window_reset(&m->inst->ctx);
	size_t used = 0;
	for (size_t i = 0; i < m->win_ring.len; i++) {
		size_t k = (m->win_ring.head + i) % m->win_ring.cap;
		if (m->win_ring.t[k] < from)
			continue;
		int rc = dd_instance_update_number(m->inst, m->win_ring.x[k]);
		if (rc < 0)
			return rc;
		used++;
	}
	if (used == 0)
		return 0;
	return close_window(m, out);
}

static int64_t align(int64_t t, int64_t step)
{
	int64_t q = t / step;
	if (t % step < 0)
		q--;
	return q * step;
}

/* Window policies after the reference phase; v is usable and ts_ms is the event time (-1
 * when the record had none). Returns 1 with *out when a verdict was reached. */
static int windowed(struct dd_monitor *m, const struct driftd_value *v, int64_t ts_ms,
                    struct driftd_verdict *out)
{
	const struct dd_monitor_conf *c = m->conf;
	const struct driftd_detector_ops *ops = m->inst->ops;
	int rc, produced = 0;

	if (c->window_duration_ms) {
		if (ts_ms < 0) {
			m->skipped[DD_SKIP_NO_TIME]++;
			return 0;
		}
		int64_t step = c->window_step_ms ? c->window_step_ms : c->window_duration_ms;
		int64_t b = align(ts_ms, step);
		if (!m->win_started) {
			m->win_start = b;
			m->win_started = true;
		}
		if (c->window_step_ms) {
			/* sliding by time: at each step boundary, the last `duration` of values */
			if (b > m->win_start) {
				produced = rebuild_window(m, b - c->window_duration_ms, out);
				if (produced < 0)
					return produced;
				m->win_start = b;
			}
			ring_push(&m->win_ring, v->num, ts_ms);
			m->used++;
			return produced;
		}
		/* tumbling by time: the record that crosses the boundary closes the window (its
		 * own value opens the next one); a late record joins the open window */
		if (b > m->win_start) {
			if (m->win_n > 0 && (produced = close_window(m, out)) < 0)
				return produced;
			m->win_start = b;
		}
		if ((rc = ops->update(&m->inst->ctx, v)) < 0)
			return rc == -EDOM ? (m->skipped[DD_SKIP_REJECTED]++, produced) : rc;
		m->used++;
		if (++m->win_n >= c->window_max && !produced)
			return close_window(m, out); /* bounded: a full window closes early */
		return produced;
	}

	if (c->window_step) {
		/* sliding by count: every `step` values, the last `size` values */
		ring_push(&m->win_ring, v->num, 0);
		m->used++;
		if (++m->since_eval < c->window_step || m->win_ring.len < c->window_size)
			return 0;
		m->since_eval = 0;
		return rebuild_window(m, INT64_MIN, out);
	}

	if ((rc = ops->update(&m->inst->ctx, v)) < 0)
		return rc == -EDOM ? (m->skipped[DD_SKIP_REJECTED]++, 0) : rc;
	m->used++;
	/* win_vals has window_size slots and win_len follows win_n; the bound is checked anyway
	 * (a window whose evaluation failed is not slid). */
	if (m->win_vals && m->win_len < c->window_size)
		m->win_vals[m->win_len++] = v->num;
	if (c->window_size && ++m->win_n < c->window_size)
		return 0;
	produced = close_window(m, out);
	if (produced < 0)
		m->win_len = 0;
	if (produced > 0 && c->reference_sliding && (rc = slide_reference(m)) < 0)
		return rc;
	return produced;
}

int dd_monitor_feed_event(struct dd_monitor *m, const struct driftd_event *ev,
                          struct driftd_verdict *out)
{
	const struct driftd_detector_ops *ops = m->inst->ops;
	if (!ops->update_event || driftd_kind_uses_reference(ops->kind))
		return dd_monitor_feed(m, ev->value, ev->ts_ms, out);
	/* Per-event detectors: one verdict per event, like streaming ones. A detector that
	 * reads only metadata (DRIFTD_FLAG_NO_FIELD) takes events whose field is absent. */
	const struct driftd_value *v = ev->value;
	m->matched++;
	if (v->type == DRIFTD_VALUE_NONE && !(ops->flags & DRIFTD_FLAG_NO_FIELD)) {
		m->skipped[DD_SKIP_MISSING]++;
		return 0;
	}
	if (v->type != DRIFTD_VALUE_NONE &&
	    (!(ops->accepts & DRIFTD_ACCEPTS(v->type)) ||
	     (v->type == DRIFTD_VALUE_NUMBER && !isfinite(v->num)))) {
		m->skipped[DD_SKIP_WRONG_TYPE]++;
		return 0;
	}
	int rc = ops->update_event(&m->inst->ctx, ev);
	if (rc == -EDOM) {
		m->skipped[DD_SKIP_REJECTED]++;
		return 0;
	}
	if (rc < 0)
		return rc;
	m->used++;
	return close_window(m, out);
}

int dd_monitor_feed(struct dd_monitor *m, const struct driftd_value *v, int64_t ts_ms,
                    struct driftd_verdict *out)
{
	const struct driftd_detector_ops *ops = m->inst->ops;
	struct driftd_ctx *ctx = &m->inst->ctx;
	m->matched++;
	if (v->type == DRIFTD_VALUE_NONE) {
		m->skipped[DD_SKIP_MISSING]++;
		return 0;
	}
	if (!(ops->accepts & DRIFTD_ACCEPTS(v->type)) ||
	    (v->type == DRIFTD_VALUE_NUMBER && !isfinite(v->num)) ||
	    (m->numeric_only && v->type != DRIFTD_VALUE_NUMBER)) {
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
		if (m->ref_ring.cap)
			ring_push(&m->ref_ring, v->num, 0);
		if (++m->ref_n == m->conf->reference_size)
			return reference_complete(m, m->ref_values);
		return 0;
	}
	if (driftd_kind_uses_reference(ops->kind))
		return windowed(m, v, ts_ms, out);

	int rc = ops->update(ctx, v);
	if (rc == -EDOM) {
		m->skipped[DD_SKIP_REJECTED]++;
		return 0;
	}
	if (rc < 0)
		return rc;
	m->used++;
	return close_window(m, out);
}

/* ---- state snapshots ----
 * A monitor's state is the host's policy state (phase, counters, rings, calibration, the
 * cumulative sum) plus the detector's own bytes (ops->snapshot), as one JSON object. Doubles
 * are written with 17 significant digits by the caller's dump, so they round-trip exactly.
 * Loading treats the object as hostile: every field is checked against the configuration. */

/* Append one NUL-terminated field of the canonical definition text. */
__attribute__((format(printf, 2, 3))) static void field(struct driftd_buf *b, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	driftd_buf_put(b, buf, (size_t)n < sizeof(buf) ? (size_t)n + 1 : sizeof(buf));
}

void dd_monitor_digest(const struct dd_monitor_conf *c, char out[65])
{
	struct driftd_buf b = {0};
	field(&b, "%s", c->name);
	field(&b, "%s", c->field ? c->field : "");
	field(&b, "%s/%" PRIu32, c->detector->name, c->detector->snapshot_version);
	for (size_t i = 0; i < c->detector->n_params; i++) {
		const struct driftd_param *p = &c->detector->params[i];
		if (p->type == DRIFTD_PARAM_STRING || p->type == DRIFTD_PARAM_POINTER) {
			/* text by content (the pointer differs between loads); unset is not "" */
			const char *t = dd_param_get_string(p, c->params);
			field(&b, "%s%s%s", p->name, t ? "=" : "", t ? t : "");
		} else if (p->type == DRIFTD_PARAM_LIST) {
			/* every item by content: a changed inventory or token list starts over */
			struct driftd_list l;
			memcpy(&l, (const char *)c->params + p->offset, sizeof(l));
			field(&b, "%s[%zu,%zu]", p->name, l.n, l.cols);
			for (size_t k = 0; k < l.n * l.cols; k++)
				field(&b, "%s", l.items[k]);
		} else {
			field(&b, "%s=%.17g", p->name, dd_param_get(p, c->params));
		}
	}
	field(&b, "%s|%s", c->match_model ? c->match_model : "",
	      c->match_version ? c->match_version : "");
	field(&b, "%zu|%d|%zu|%zu|%" PRId64 "|%" PRId64 "|%zu", c->reference_size,
	      (int)c->reference_sliding, c->window_size, c->window_step, c->window_duration_ms,
	      c->window_step_ms, c->window_max);
	field(&b, "%.17g|%.17g|%d|%.17g|%.17g", c->min_effect, c->calibrate_k, (int)c->cumulative,
	      c->cusum_k, c->cusum_h);
	field(&b, "%s", c->baseline ? dd_baseline_sha256(c->baseline) : "");
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(b.data ? b.data : (const uint8_t *)"", b.len, md);
	driftd_buf_free(&b);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static json_t *ring_save(const struct dd_ring *r)
{
	json_t *x = json_array(), *t = json_array();
	for (size_t i = 0; x && t && i < r->len; i++) {
		size_t k = (r->head + i) % r->cap;
		json_array_append_new(x, json_real(r->x[k]));
		json_array_append_new(t, json_integer(r->t[k]));
	}
	return json_pack("{s:o*, s:o*}", "x", x, "t", t);
}

static json_t *b64(const struct driftd_buf *b)
{
	size_t n = 4 * ((b->len + 2) / 3) + 1;
	char *s = malloc(n);
	if (!s)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, b->data ? b->data : (const uint8_t *)"", (int)b->len);
	json_t *j = json_string(s);
	free(s);
	return j;
}

json_t *dd_monitor_save(const struct dd_monitor *m)
{
	const struct driftd_detector_ops *ops = m->inst->ops;
	struct driftd_buf det = {0};
	if (!ops->snapshot || ops->snapshot(&m->inst->ctx, &det) < 0 || det.err) {
		driftd_buf_free(&det);
		return NULL;
	}
	json_t *skipped = json_array();
	for (int i = 0; skipped && i < DD_SKIP__MAX; i++)
		json_array_append_new(skipped, json_integer((json_int_t)m->skipped[i]));
	json_t *j = json_pack(
	    "{s:s, s:I, s:I, s:I, s:I, s:o*, s:I, s:I, s:b, s:f, s:b, s:I, s:I, s:f, s:f, s:f, "
	    "s:{s:s, s:I, s:o*}}",
	    "phase", m->phase == DD_MON_REFERENCE ? "reference" : "active", "ref_n",
	    (json_int_t)m->ref_n, "win_n", (json_int_t)m->win_n, "matched", (json_int_t)m->matched,
	    "used", (json_int_t)m->used, "skipped", skipped, "verdicts", (json_int_t)m->verdicts,
	    "drifts", (json_int_t)m->drifts, "calibrated", m->calibrated, "calibrated_threshold",
	    m->calibrated ? m->calibrated_threshold : 0.0, "win_started", m->win_started,
	    "win_start", (json_int_t)m->win_start, "since_eval", (json_int_t)m->since_eval, "cusum",
	    m->cusum, "cusum_mean", m->cusum_mean, "cusum_sd", m->cusum_sd, "detector", "name",
	    ops->name, "version", (json_int_t)ops->snapshot_version, "data", b64(&det));
	driftd_buf_free(&det);
	if (!j)
		return NULL;
	int rc = 0;
	if (m->ref_values)
		rc |= json_object_set(j, "ref_values", m->ref_values);
	if (m->model_version_hash) {
		char hash[17];
		snprintf(hash, sizeof(hash), "%016" PRIx64, m->model_version_hash);
		rc |= json_object_set_new(j, "model_version", json_string(m->model_version));
		rc |= json_object_set_new(j, "model_version_hash", json_string(hash));
	}
	if (m->win_ring.cap)
		rc |= json_object_set_new(j, "win_ring", ring_save(&m->win_ring));
	if (m->ref_ring.cap)
		rc |= json_object_set_new(j, "ref_ring", ring_save(&m->ref_ring));
	if (m->win_vals) {
		json_t *w = json_array();
		for (size_t i = 0; w && i < m->win_len; i++)
			json_array_append_new(w, json_real(m->win_vals[i]));
		rc |= json_object_set_new(j, "win_vals", w);
	}
	if (rc) {
		json_decref(j);
		return NULL;
	}
	return j;
}

__attribute__((format(printf, 3, 4))) static int bad(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static bool get_u64(const json_t *j, const char *k, uint64_t max, uint64_t *out)
{
	const json_t *v = json_object_get(j, k);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static bool get_num(const json_t *j, const char *k, double *out)
{
	const json_t *v = json_object_get(j, k);
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return false;
	*out = json_number_value(v);
	return true;
}

static int ring_load(struct dd_ring *r, const json_t *j, const char *name, char *why, size_t whysz)
{
	const json_t *x = json_object_get(j, "x"), *t = json_object_get(j, "t");
	if (!json_is_array(x) || !json_is_array(t) || json_array_size(x) != json_array_size(t) ||
	    json_array_size(x) > r->cap)
		return bad(why, whysz, "%s: not a ring of at most %zu values", name, r->cap);
	r->head = 0;
	r->len = json_array_size(x);
	for (size_t i = 0; i < r->len; i++) {
		const json_t *xi = json_array_get(x, i), *ti = json_array_get(t, i);
		if (!json_is_number(xi) || !isfinite(json_number_value(xi)) || !json_is_integer(ti))
			return bad(why, whysz, "%s: value %zu is not a finite number and a time",
			           name, i);
		r->x[i] = json_number_value(xi);
		r->t[i] = json_integer_value(ti);
	}
	return 0;
}

static int detector_load(struct dd_monitor *m, const json_t *d, char *why, size_t whysz)
{
	const struct driftd_detector_ops *ops = m->inst->ops;
	const char *name = json_string_value(json_object_get(d, "name"));
	const char *data = json_string_value(json_object_get(d, "data"));
	uint64_t version;
	if (!name || strcmp(name, ops->name) != 0 || !data ||
	    !get_u64(d, "version", UINT32_MAX, &version))
		return bad(why, whysz, "detector: not the state of a %s detector", ops->name);
	size_t n = strlen(data);
	if (n % 4 != 0)
		return bad(why, whysz, "detector: data is not base64");
	unsigned char *raw = malloc(n / 4 * 3 + 1);
	if (!raw)
		return -ENOMEM;
	int len = EVP_DecodeBlock(raw, (const unsigned char *)data, (int)n);
	if (len < 0) {
		free(raw);
		return bad(why, whysz, "detector: data is not base64");
	}
	/* DecodeBlock counts the padding as data. */
	for (size_t i = n; i > 0 && data[i - 1] == '=' && len > 0; i--)
		len--;
	int rc = ops->restore(&m->inst->ctx, (uint32_t)version, raw, (size_t)len);
	free(raw);
	if (rc < 0)
		return bad(why, whysz, "detector %s: state refused (%s)", ops->name, strerror(-rc));
	return 0;
}

int dd_monitor_load(struct dd_monitor *m, const json_t *j, char *why, size_t whysz)
{
	const struct dd_monitor_conf *c = m->conf;
	const struct driftd_detector_ops *ops = m->inst->ops;
	if (!json_is_object(j))
		return bad(why, whysz, "not an object");
	const char *phase = json_string_value(json_object_get(j, "phase"));
	bool uses_ref = driftd_kind_uses_reference(ops->kind);
	if (!phase || (strcmp(phase, "reference") != 0 && strcmp(phase, "active") != 0) ||
	    (!uses_ref && strcmp(phase, "reference") == 0))
		return bad(why, whysz, "phase: '%s' is not possible here", phase ? phase : "?");
	size_t win_cap = c->window_duration_ms ? c->window_max : c->window_size;
	uint64_t ref_n, win_n, since, win_start_u;
	const json_t *sk = json_object_get(j, "skipped");
	const json_t *ws = json_object_get(j, "win_start");
	if (!get_u64(j, "ref_n", c->reference_size, &ref_n) ||
	    !get_u64(j, "win_n", win_cap, &win_n) ||
	    !get_u64(j, "matched", INT64_MAX, &m->matched) ||
	    !get_u64(j, "used", INT64_MAX, &m->used) ||
	    !get_u64(j, "verdicts", INT64_MAX, &m->verdicts) ||
	    !get_u64(j, "drifts", INT64_MAX, &m->drifts) ||
	    !get_u64(j, "since_eval", c->window_step, &since) || !json_is_array(sk) ||
	    json_array_size(sk) != DD_SKIP__MAX || !json_is_integer(ws) ||
	    !json_is_boolean(json_object_get(j, "calibrated")) ||
	    !json_is_boolean(json_object_get(j, "win_started")) ||
	    !get_num(j, "calibrated_threshold", &m->calibrated_threshold) ||
	    !get_num(j, "cusum", &m->cusum) || !get_num(j, "cusum_mean", &m->cusum_mean) ||
	    !get_num(j, "cusum_sd", &m->cusum_sd))
		return bad(why, whysz, "counters: missing, of the wrong type or out of range");
	(void)win_start_u;
	m->phase = strcmp(phase, "reference") == 0 ? DD_MON_REFERENCE : DD_MON_ACTIVE;
	m->ref_n = ref_n;
	m->win_n = win_n;
	m->since_eval = since;
	m->win_start = json_integer_value(ws);
	m->win_started = json_is_true(json_object_get(j, "win_started"));
	m->calibrated = json_is_true(json_object_get(j, "calibrated"));
	if (m->calibrated && c->calibrate_k <= 0)
		return bad(why, whysz, "calibrated: this monitor does not calibrate");
	if (c->cumulative && m->phase == DD_MON_ACTIVE && !(m->cusum_sd > 0))
		return bad(why, whysz, "cusum_sd: must be positive");
	for (size_t i = 0; i < DD_SKIP__MAX; i++) {
		const json_t *v = json_array_get(sk, i);
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return bad(why, whysz, "skipped: not counts");
		m->skipped[i] = (uint64_t)json_integer_value(v);
	}
	const json_t *mv = json_object_get(j, "model_version");
	const char *mh = json_string_value(json_object_get(j, "model_version_hash"));
	char *end = NULL;
	m->model_version_hash = mh ? strtoull(mh, &end, 16) : 0;
	if (!mv != !mh ||
	    (mv && (!json_is_string(mv) || json_string_length(mv) > DD_MODEL_VERSION_MAX ||
	            strlen(json_string_value(mv)) != json_string_length(mv) || strlen(mh) != 16 ||
	            *end || m->model_version_hash == 0)))
		return bad(why, whysz, "model_version: not a version string and its hash");
	snprintf(m->model_version, sizeof(m->model_version), "%s", mv ? json_string_value(mv) : "");
	/* Calibration values: only while the reference is being learnt, never more than it. */
	const json_t *rv = json_object_get(j, "ref_values");
	if (m->ref_values) {
		if (m->phase == DD_MON_ACTIVE) {
			json_decref(m->ref_values);
			m->ref_values = NULL;
		} else if (!json_is_array(rv) || json_array_size(rv) != ref_n) {
			return bad(why, whysz, "ref_values: expected %" PRIu64 " values", ref_n);
		} else {
			json_array_clear(m->ref_values);
			if (json_array_extend(m->ref_values, (json_t *)rv) < 0)
				return -ENOMEM;
		}
	}
	int rc;
	if (m->win_ring.cap && (rc = ring_load(&m->win_ring, json_object_get(j, "win_ring"),
	                                       "win_ring", why, whysz)) < 0)
		return rc;
	if (m->ref_ring.cap && (rc = ring_load(&m->ref_ring, json_object_get(j, "ref_ring"),
	                                       "ref_ring", why, whysz)) < 0)
		return rc;
	if (m->win_vals) {
		const json_t *w = json_object_get(j, "win_vals");
		if (!json_is_array(w) || json_array_size(w) > c->window_size)
			return bad(why, whysz, "win_vals: not at most %zu values", c->window_size);
		m->win_len = json_array_size(w);
		if (m->win_len != m->win_n)
			return bad(why, whysz, "win_vals: %zu values for a window of %" PRIu64,
			           m->win_len, m->win_n);
		for (size_t i = 0; i < m->win_len; i++) {
			const json_t *v = json_array_get(w, i);
			if (!json_is_number(v) || !isfinite(json_number_value(v)))
				return bad(why, whysz, "win_vals: value %zu is not a finite number",
				           i);
			m->win_vals[i] = json_number_value(v);
		}
	}
	return detector_load(m, json_object_get(j, "detector"), why, whysz);
}
