/* Shared checks for streaming detectors against their oracle files (tests/oracle/gen_NAME.py ->
 * tests/detectors/data/NAME.json: "streams" of values and "cases" with parameters, a stream
 * name and the expected 0-based drift indices, optionally per-step values). Included by the
 * test_NAME.c of adwin, kswin, cusum, ewma and shewhart; every function is static inline (unused
 * ones are fine). */
#ifndef DRIFTD_TEST_STREAM_ORACLE_H
#define DRIFTD_TEST_STREAM_ORACLE_H

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "host.h"

/* The seed the tests give every instance (only kswin's default seed uses it). */
#define SO_SEED 7

static inline const struct driftd_detector_ops *so_ops(const char *name)
{
	const struct driftd_detector_ops *o = driftd_detector_find(name);
	assert_non_null(o);
	return o;
}

/* The whole oracle document; each case gets its stream as "values". */
static inline json_t *so_load(const char *path)
{
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err);
	if (!root)
		fail_msg("%s:%d: %s", path, err.line, err.text);
	json_t *cases = json_object_get(root, "cases");
	json_t *streams = json_object_get(root, "streams");
	assert_true(json_is_array(cases));
	assert_true(json_array_size(cases) > 0);
	size_t i;
	json_t *c;
	json_array_foreach (cases, i, c) {
		json_t *v =
		    json_object_get(streams, json_string_value(json_object_get(c, "stream")));
		assert_true(json_is_array(v));
		assert_int_equal(json_object_set(c, "values", v), 0);
	}
	return root;
}

static inline json_t *so_cases(json_t *root)
{
	return json_object_get(root, "cases");
}

static inline const char *so_name(json_t *c)
{
	return json_string_value(json_object_get(c, "name"));
}

static inline json_t *so_case(json_t *root, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach (so_cases(root), i, c)
		if (strcmp(so_name(c), name) == 0)
			return c;
	fail_msg("no case %s", name);
	return NULL;
}

/* A config block from a case's "params" object. */
static inline void *so_config(const struct driftd_detector_ops *o, json_t *c)
{
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	const char *key;
	json_t *val;
	json_object_foreach (json_object_get(c, "params"), key, val) {
		int rc = json_is_string(val)
		             ? dd_param_set_choice(o, cfg, key, json_string_value(val))
		             : dd_param_set_number(o, cfg, key, json_number_value(val));
		if (rc != 0)
			fail_msg("%s: parameter %s rejected: %d", so_name(c), key, rc);
	}
	if (o->check_config) {
		const char *why = NULL;
		assert_int_equal(o->check_config(cfg, &why), 0);
	}
	return cfg;
}

static inline struct dd_instance *so_new(const struct driftd_detector_ops *o, const void *cfg)
{
	struct driftd_shape shape = {.seed = SO_SEED};
	struct dd_instance *in = NULL;
	assert_int_equal(dd_instance_new(o, cfg, &shape, &in), 0);
	return in;
}

static inline double so_value(json_t *c, size_t i)
{
	return json_number_value(json_array_get(json_object_get(c, "values"), i));
}

static inline size_t so_len(json_t *c)
{
	return json_array_size(json_object_get(c, "values"));
}

/* Feed values [from, to), evaluating after each; drift indices are appended to idx. */
static inline size_t so_feed(struct dd_instance *in, json_t *c, size_t from, size_t to, size_t *idx,
                             size_t n_idx)
{
	for (size_t i = from; i < to; i++) {
		struct driftd_verdict v;
		assert_int_equal(dd_instance_update_number(in, so_value(c, i)), 0);
		assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
		if (v.drift)
			idx[n_idx++] = i;
	}
	return n_idx;
}

static inline void so_check_drifts(json_t *c, const size_t *idx, size_t n_idx, const char *what)
{
	json_t *want = json_object_get(c, "drifts");
	for (size_t k = 0; k < n_idx && k < json_array_size(want); k++) {
		size_t w = (size_t)json_integer_value(json_array_get(want, k));
		if (idx[k] != w)
			fail_msg("%s (%s): drift #%zu at %zu, oracle at %zu", so_name(c), what, k,
			         idx[k], w);
	}
	if (n_idx != json_array_size(want))
		fail_msg("%s (%s): %zu drifts, oracle has %zu", so_name(c), what, n_idx,
		         json_array_size(want));
}

static inline uint8_t *so_snap(struct dd_instance *in, size_t *len)
{
	struct driftd_buf b = {0};
	assert_int_equal(in->ops->snapshot(&in->ctx, &b), 0);
	assert_int_equal(b.err, 0);
	*len = b.len;
	return b.data;
}

/* Every case, uninterrupted: exact drift indices. Returns the number of drifts checked. */
static inline size_t so_check_streams(const struct driftd_detector_ops *o, json_t *root)
{
	size_t ci, total = 0;
	json_t *c;
	json_array_foreach (so_cases(root), ci, c) {
		void *cfg = so_config(o, c);
		struct dd_instance *in = so_new(o, cfg);
		size_t n = so_len(c);
		size_t *idx = calloc(n + 1, sizeof(size_t));
		assert_non_null(idx);
		size_t n_idx = so_feed(in, c, 0, n, idx, 0);
		so_check_drifts(c, idx, n_idx, "uninterrupted");
		total += n_idx;
		free(idx);
		dd_instance_free(in);
		free(cfg);
	}
	return total;
}

/* Snapshot after `cut` values, restore into a fresh instance, go on: same drifts. */
static inline void so_resume_at(const struct driftd_detector_ops *o, json_t *c, const void *cfg,
                                size_t cut)
{
	size_t n = so_len(c);
	size_t *idx = calloc(n + 1, sizeof(size_t));
	assert_non_null(idx);
	struct dd_instance *a = so_new(o, cfg);
	size_t n_idx = so_feed(a, c, 0, cut, idx, 0);

	size_t len, len2;
	uint8_t *data = so_snap(a, &len);
	struct dd_instance *b = so_new(o, cfg);
	int rc = o->restore(&b->ctx, o->snapshot_version, data, len);
	if (rc != 0)
		fail_msg("%s: restore after %zu values failed: %d", so_name(c), cut, rc);

	/* the restored state snapshots to the same bytes and gives the same verdict */
	uint8_t *data2 = so_snap(b, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(data, data2, len);
	struct driftd_verdict va, vb;
	assert_int_equal(o->evaluate(&a->ctx, &va), 0);
	assert_int_equal(o->evaluate(&b->ctx, &vb), 0);
	assert_memory_equal(&va.score, &vb.score, sizeof(double));
	assert_memory_equal(&va.threshold, &vb.threshold, sizeof(double));
	assert_memory_equal(&va.p_value, &vb.p_value, sizeof(double));
	assert_true(va.drift == vb.drift && va.warning == vb.warning);

	n_idx = so_feed(b, c, cut, n, idx, n_idx);
	char what[64];
	snprintf(what, sizeof(what), "resumed after %zu values", cut);
	so_check_drifts(c, idx, n_idx, what);
	free(data);
	free(data2);
	free(idx);
	dd_instance_free(a);
	dd_instance_free(b);
}

/* Cuts before anything, early, mid-stream, at the end, and right on and after drifts (where
 * the reset is pending). */
static inline void so_check_resume(const struct driftd_detector_ops *o, json_t *root)
{
	size_t ci;
	json_t *c;
	json_array_foreach (so_cases(root), ci, c) {
		void *cfg = so_config(o, c);
		size_t n = so_len(c);
		so_resume_at(o, c, cfg, 0);
		so_resume_at(o, c, cfg, 1);
		so_resume_at(o, c, cfg, n / 3);
		so_resume_at(o, c, cfg, n);
		json_t *drifts = json_object_get(c, "drifts");
		for (size_t k = 0; k < json_array_size(drifts) && k < 3; k++) {
			size_t d = (size_t)json_integer_value(json_array_get(drifts, k));
			so_resume_at(o, c, cfg, d + 1);
			if (d + 2 <= n)
				so_resume_at(o, c, cfg, d + 2);
			if (d >= 5)
				so_resume_at(o, c, cfg, d - 5);
		}
		free(cfg);
	}
}

static inline double so_rel_err(double got, double want)
{
	if (got == want)
		return 0;
	double scale = fmax(fabs(got), fabs(want));
	return fabs(got - want) / scale;
}

/* A per-step array of the case ("score", "threshold", "p", ...) against the verdict field
 * picked by `field`; JSON null stands for `null_is` (NAN or a number). Relative tolerance tol;
 * returns the worst error. */
static inline double so_check_series(const struct driftd_detector_ops *o, json_t *root,
                                     const char *key,
                                     double (*field)(const struct driftd_verdict *), double null_is,
                                     double tol)
{
	size_t ci, n_checked = 0;
	double worst = 0;
	json_t *c;
	json_array_foreach (so_cases(root), ci, c) {
		json_t *want = json_object_get(c, key);
		if (!want)
			continue;
		void *cfg = so_config(o, c);
		struct dd_instance *in = so_new(o, cfg);
		assert_int_equal(json_array_size(want), so_len(c));
		for (size_t i = 0; i < so_len(c); i++) {
			struct driftd_verdict v;
			assert_int_equal(dd_instance_update_number(in, so_value(c, i)), 0);
			assert_int_equal(o->evaluate(&in->ctx, &v), 0);
			json_t *w = json_array_get(want, i);
			double got = field(&v);
			if (json_is_null(w)) {
				if (isnan(null_is) ? !isnan(got) : got != null_is)
					fail_msg("%s: step %zu %s %.17g, oracle none", so_name(c),
					         i, key, got);
				continue;
			}
			double e = so_rel_err(got, json_number_value(w));
			if (!(e <= tol))
				fail_msg("%s: step %zu %s %.17g, oracle %.17g (rel err %.3g)",
				         so_name(c), i, key, got, json_number_value(w), e);
			if (e > worst)
				worst = e;
			n_checked++;
		}
		dd_instance_free(in);
		free(cfg);
	}
	assert_true(n_checked > 0);
	print_message("%s %s: %zu steps, worst relative error %.3g\n", o->name, key, n_checked,
	              worst);
	return worst;
}

/* NaN, infinities and other value types: -EDOM, state untouched. */
static inline void so_check_rejected_values(const struct driftd_detector_ops *o, size_t warm)
{
	struct dd_instance *in = so_new(o, NULL);
	for (size_t i = 0; i < warm; i++)
		assert_int_equal(dd_instance_update_number(in, (double)(i % 7)), 0);
	size_t len0, len1;
	uint8_t *before = so_snap(in, &len0);

	assert_int_equal(dd_instance_update_number(in, (double)NAN), -EDOM);
	assert_int_equal(dd_instance_update_number(in, (double)INFINITY), -EDOM);
	assert_int_equal(dd_instance_update_number(in, -(double)INFINITY), -EDOM);
	static const double vec[] = {1, 2};
	const struct driftd_value bad[] = {
	    {.type = DRIFTD_VALUE_NONE},
	    {.type = DRIFTD_VALUE_STRING, .str = "1.5", .len = 3},
	    {.type = DRIFTD_VALUE_BOOL, .num = 1},
	    {.type = DRIFTD_VALUE_VECTOR, .vec = vec, .dim = 2},
	    {.type = DRIFTD_VALUE_OTHER},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(o->update(&in->ctx, &bad[i]), -EDOM);

	uint8_t *after = so_snap(in, &len1);
	assert_int_equal(len0, len1);
	assert_memory_equal(before, after, len0);
	free(before);
	free(after);
	dd_instance_free(in);
}

/* A restore of these bytes must fail and leave the state as after init. */
static inline void so_expect_rejected(const struct driftd_detector_ops *o, const void *cfg,
                                      const uint8_t *data, size_t len, uint32_t version)
{
	struct dd_instance *in = so_new(o, cfg);
	for (int i = 0; i < 150; i++)
		assert_int_equal(dd_instance_update_number(in, (double)(i % 13)), 0);
	int rc = o->restore(&in->ctx, version, data, len);
	if (rc != -EBADMSG)
		fail_msg("%s: hostile snapshot (%zu bytes) gave %d", o->name, len, rc);
	struct dd_instance *fresh = so_new(o, cfg);
	size_t l1, l2;
	uint8_t *s1 = so_snap(in, &l1), *s2 = so_snap(fresh, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(s1, s2, l1);
	free(s1);
	free(s2);
	dd_instance_free(fresh);
	dd_instance_free(in);
}

/* Every truncation, a trailing byte, other versions, NULL; then garbage of assorted lengths
 * and of the right length, which must be rejected or, if accepted, give a working detector. */
static inline void so_check_hostile(const struct driftd_detector_ops *o, const void *cfg,
                                    const uint8_t *good, size_t len)
{
	for (size_t l = 0; l < len; l++)
		so_expect_rejected(o, cfg, good, l, o->snapshot_version);
	uint8_t *longer = calloc(1, len + 1);
	assert_non_null(longer);
	memcpy(longer, good, len);
	so_expect_rejected(o, cfg, longer, len + 1, o->snapshot_version);
	so_expect_rejected(o, cfg, good, len, 0);
	so_expect_rejected(o, cfg, good, len, o->snapshot_version + 1);
	so_expect_rejected(o, cfg, NULL, 0, o->snapshot_version);
	free(longer);

	uint64_t x = 0x9e3779b97f4a7c15u;
	uint8_t *junk = malloc(len + 128);
	assert_non_null(junk);
	for (int round = 0; round < 600; round++) {
		size_t l = round < 300 ? (size_t)(round % 120) : len;
		for (size_t i = 0; i < l; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			junk[i] = (uint8_t)x;
		}
		/* bit flips of the good snapshot for the second half */
		if (round >= 450) {
			memcpy(junk, good, len);
			junk[x % len] ^= (uint8_t)(1u << (x >> 61));
		}
		struct dd_instance *in = so_new(o, cfg);
		if (o->restore(&in->ctx, o->snapshot_version, junk, l) == 0) {
			/* accepted: must work on */
			for (int i = 0; i < 100; i++) {
				struct driftd_verdict v;
				assert_int_equal(dd_instance_update_number(in, (double)(i % 5)), 0);
				assert_int_equal(o->evaluate(&in->ctx, &v), 0);
			}
		}
		dd_instance_free(in);
	}
	free(junk);
}

/* A fresh instance snapshots and restores, and after a rejected restore behaves as new on the
 * given case. */
static inline void so_check_fresh_after_reject(const struct driftd_detector_ops *o, json_t *c)
{
	void *cfg = so_config(o, c);
	struct dd_instance *in = so_new(o, cfg);
	size_t flen;
	uint8_t *fdata = so_snap(in, &flen);
	assert_int_equal(o->restore(&in->ctx, o->snapshot_version, fdata, flen), 0);
	assert_int_equal(o->restore(&in->ctx, o->snapshot_version, fdata, flen ? flen - 1 : 0),
	                 -EBADMSG);
	size_t n = so_len(c);
	size_t *idx = calloc(n + 1, sizeof(size_t));
	assert_non_null(idx);
	size_t n_idx = so_feed(in, c, 0, n, idx, 0);
	so_check_drifts(c, idx, n_idx, "after a rejected restore");
	free(idx);
	free(fdata);
	dd_instance_free(in);
	free(cfg);
}

/* Verdict before any value: no drift, no p-value unless the detector has one (then NAN). */
static inline void so_check_fresh_verdict(const struct driftd_detector_ops *o, double score,
                                          double threshold)
{
	struct dd_instance *in = so_new(o, NULL);
	struct driftd_verdict v;
	assert_int_equal(o->evaluate(&in->ctx, &v), 0);
	assert_true(v.score == score);
	assert_true(isnan(threshold) ? isnan(v.threshold) : v.threshold == threshold);
	assert_true(isnan(v.p_value));
	assert_false(v.drift);
	assert_false(v.warning);
	o->done(&in->ctx);
	o->done(&in->ctx); /* idempotent */
	dd_instance_free(in);
}

static inline void so_check_ops_table(const struct driftd_detector_ops *o)
{
	assert_int_equal(o->abi_version, DRIFTD_DETECTOR_ABI);
	assert_int_equal(o->struct_size, sizeof(struct driftd_detector_ops));
	assert_int_equal(o->kind, DRIFTD_KIND_STREAMING);
	assert_int_equal(o->caps & (DRIFTD_CAP_MERGE | DRIFTD_CAP_WARNING), 0);
	assert_null(o->merge);
	assert_null(o->reference_add);
	assert_null(o->window_reset);
	assert_int_equal(o->accepts, DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER));
	assert_int_equal(o->snapshot_version, 1);
	for (size_t i = 0; i < o->n_params; i++) {
		assert_non_null(o->params[i].description);
		assert_true(strlen(o->params[i].description) < 100);
	}
}

/* Parameter default by name. */
static inline double so_default(const struct driftd_detector_ops *o, const char *name)
{
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	const struct driftd_param *p = dd_param_find(o, name);
	assert_non_null(p);
	double v = dd_param_get(p, cfg);
	free(cfg);
	return v;
}

static inline double so_field_score(const struct driftd_verdict *v)
{
	return v->score;
}

static inline double so_field_threshold(const struct driftd_verdict *v)
{
	return v->threshold;
}

static inline double so_field_p(const struct driftd_verdict *v)
{
	return v->p_value;
}

static inline void so_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void so_put_f64(uint8_t *p, double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	so_put_u64(p, u);
}

/* Control charts (cusum, ewma, shewhart): a constant warm-up has sigma 0, so the first
 * different value is a drift and equal ones never are; the next value starts a new warm-up. */
static inline void so_check_constant_warmup(const struct driftd_detector_ops *o)
{
	struct dd_instance *in = so_new(o, NULL);
	struct driftd_verdict v;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(dd_instance_update_number(in, 0.1), 0);
		assert_int_equal(o->evaluate(&in->ctx, &v), 0);
		assert_false(v.drift);
	}
	assert_true(v.threshold == 0.0 && v.score == 0.0);
	assert_int_equal(dd_instance_update_number(in, 0.1 + 1e-12), 0);
	assert_int_equal(o->evaluate(&in->ctx, &v), 0);
	assert_true(v.drift);
	assert_int_equal(dd_instance_update_number(in, 0.1), 0);
	assert_int_equal(o->evaluate(&in->ctx, &v), 0);
	assert_false(v.drift);
	assert_true(isnan(v.threshold));
	dd_instance_free(in);
}

#endif
