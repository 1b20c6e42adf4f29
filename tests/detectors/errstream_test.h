/* Shared body of the tests of the 0/1 error-stream detectors against River 0.26.1 (test_ddm.c,
 * test_eddm.c, test_hddm_a.c, test_hddm_w.c; oracle data from tests/oracle/gen_NAME.py):
 * exact drift and warning indices on every stream, fed as numbers and as booleans; driftd's
 * score and threshold bit for bit where recorded; the lazy reset after a drift; rejected values;
 * snapshot/restore mid-stream (also right after a drift, where the reset is pending, and inside
 * a warning) and hostile snapshots.
 *
 * The including file defines, before including this header:
 *   ES_NAME             the detector's name
 *   ES_SNAPSHOT_LEN     the length of its snapshots
 *   ES_FRESH_SCORE      score and threshold of a fresh instance (default parameters)
 *   ES_FRESH_THRESHOLD
 * and after it es_snapshot_patches(), then lists ES_TESTS and its own parameter tests in
 * main(). */
#ifndef ERRSTREAM_TEST_H
#define ERRSTREAM_TEST_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <jansson.h>

#include "host.h"

#define DATA_FILE DRIFTD_TEST_DATA "/detectors/data/" ES_NAME ".json"

/* One edit of a snapshot: the 8 bytes at `off` become `u` (an integer) or `d` (a double). */
struct es_patch {
	size_t off;
	bool is_f64;
	uint64_t u;
	double d;
};

/* Edits that make a snapshot of a populated state (fresh: of a fresh state) invalid. */
static const struct es_patch *es_snapshot_patches(bool fresh, size_t *n);

static const struct driftd_detector_ops *ops(void)
{
	const struct driftd_detector_ops *o = driftd_detector_find(ES_NAME);
	assert_non_null(o);
	return o;
}

static json_t *load_cases(void)
{
	json_error_t err;
	json_t *root = json_load_file(DATA_FILE, 0, &err);
	if (!root)
		fail_msg("%s:%d: %s", DATA_FILE, err.line, err.text);
	json_t *cases = json_object_get(root, "cases");
	json_t *streams = json_object_get(root, "streams");
	assert_true(json_is_array(cases));
	assert_true(json_array_size(cases) > 0);
	/* Resolve each case's stream name into its "values". */
	size_t i;
	json_t *c;
	json_array_foreach (cases, i, c) {
		json_t *v =
		    json_object_get(streams, json_string_value(json_object_get(c, "stream")));
		assert_true(json_is_array(v));
		assert_int_equal(json_object_set(c, "values", v), 0);
	}
	json_incref(cases);
	json_decref(root);
	return cases;
}

static const char *case_name(json_t *c)
{
	return json_string_value(json_object_get(c, "name"));
}

/* A config block from a case's "params" object (River's names, numbers and booleans). */
static void *case_config(json_t *c)
{
	const struct driftd_detector_ops *o = ops();
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	const char *key;
	json_t *val;
	json_object_foreach (json_object_get(c, "params"), key, val) {
		double x =
		    json_is_boolean(val) ? (json_is_true(val) ? 1 : 0) : json_number_value(val);
		if (dd_param_set_number(o, cfg, key, x) != 0)
			fail_msg("%s: parameter %s = %g refused", case_name(c), key, x);
	}
	return cfg;
}

static struct dd_instance *new_instance(const void *cfg)
{
	struct dd_instance *in = NULL;
	assert_int_equal(dd_instance_new(ops(), cfg, NULL, &in), 0);
	return in;
}

static size_t case_len(json_t *c)
{
	return json_array_size(json_object_get(c, "values"));
}

static double case_value(json_t *c, size_t i)
{
	return (double)json_integer_value(json_array_get(json_object_get(c, "values"), i));
}

static int update_bit(struct dd_instance *in, double x, enum driftd_value_type type)
{
	struct driftd_value v = {.type = type, .num = x};
	return in->ops->update(&in->ctx, &v);
}

/* Indices at which the verdict had drift / warning set. */
struct es_run {
	size_t *drifts, *warnings;
	size_t n_drifts, n_warnings;
};

static struct es_run run_new(size_t n)
{
	struct es_run r = {.drifts = calloc(n + 1, sizeof(size_t)),
	                   .warnings = calloc(n + 1, sizeof(size_t))};
	assert_non_null(r.drifts);
	assert_non_null(r.warnings);
	return r;
}

static void run_free(struct es_run *r)
{
	free(r->drifts);
	free(r->warnings);
}

/* Feed values [from, to) as `type` and record the flags after each. */
static void feed(struct dd_instance *in, json_t *c, size_t from, size_t to, struct es_run *r,
                 enum driftd_value_type type)
{
	for (size_t i = from; i < to; i++) {
		struct driftd_verdict v;
		assert_int_equal(update_bit(in, case_value(c, i), type), 0);
		assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
		if (v.drift)
			r->drifts[r->n_drifts++] = i;
		if (v.warning)
			r->warnings[r->n_warnings++] = i;
	}
}

static void check_list(json_t *c, const char *key, const size_t *idx, size_t n, const char *what)
{
	json_t *want = json_object_get(c, key);
	assert_true(json_is_array(want));
	for (size_t k = 0; k < n && k < json_array_size(want); k++) {
		size_t w = (size_t)json_integer_value(json_array_get(want, k));
		if (idx[k] != w)
			fail_msg("%s (%s): %s #%zu at %zu, River at %zu", case_name(c), what, key,
			         k, idx[k], w);
	}
	if (n != json_array_size(want))
		fail_msg("%s (%s): %zu %s, River has %zu", case_name(c), what, n, key,
		         json_array_size(want));
}

static void check_run(json_t *c, const struct es_run *r, const char *what)
{
	check_list(c, "drifts", r->drifts, r->n_drifts, what);
	check_list(c, "warnings", r->warnings, r->n_warnings, what);
}

static uint8_t *snap(struct dd_instance *in, size_t *len)
{
	struct driftd_buf b = {0};
	assert_int_equal(in->ops->snapshot(&in->ctx, &b), 0);
	assert_int_equal(b.err, 0);
	*len = b.len;
	return b.data;
}

static bool same_state(struct dd_instance *a, struct dd_instance *b)
{
	size_t la, lb;
	uint8_t *sa = snap(a, &la), *sb = snap(b, &lb);
	bool same = la == lb && memcmp(sa, sb, la) == 0;
	free(sa);
	free(sb);
	return same;
}

static void test_ops_table(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	assert_int_equal(o->abi_version, DRIFTD_DETECTOR_ABI);
	assert_int_equal(o->struct_size, sizeof(struct driftd_detector_ops));
	assert_int_equal(o->kind, DRIFTD_KIND_STREAMING);
	assert_int_equal(o->caps, DRIFTD_CAP_WARNING);
	assert_null(o->merge);
	assert_null(o->reference_add);
	assert_null(o->window_reset);
	assert_int_equal(o->accepts,
	                 DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER) | DRIFTD_ACCEPTS(DRIFTD_VALUE_BOOL));
	assert_int_equal(o->snapshot_version, 1);
	for (size_t i = 0; i < o->n_params; i++) {
		assert_non_null(o->params[i].description);
		assert_true(strlen(o->params[i].description) < 100);
	}
}

static void test_river_streams(void **unused)
{
	json_t *cases = load_cases();
	size_t ci, n_drifts = 0, n_warnings = 0;
	json_t *c;
	json_array_foreach (cases, ci, c) {
		void *cfg = case_config(c);
		size_t n = case_len(c);
		const enum driftd_value_type types[] = {DRIFTD_VALUE_NUMBER, DRIFTD_VALUE_BOOL};
		for (size_t t = 0; t < 2; t++) {
			struct dd_instance *in = new_instance(cfg);
			struct es_run r = run_new(n);
			feed(in, c, 0, n, &r, types[t]);
			check_run(c, &r, t == 0 ? "numbers" : "booleans");
			n_drifts += r.n_drifts;
			n_warnings += r.n_warnings;
			run_free(&r);
			dd_instance_free(in);
		}
		free(cfg);
	}
	/* The data exercise both flags. */
	assert_true(n_drifts > 0);
	assert_true(n_warnings > 0);
	json_decref(cases);
}

/* A recorded value: a number, or null for +inf (JSON has no infinity). */
static double recorded(json_t *v)
{
	return json_is_null(v) ? HUGE_VAL : json_number_value(v);
}

static void test_river_scores(void **unused)
{
	json_t *cases = load_cases();
	size_t ci, n_checked = 0;
	json_t *c;
	json_array_foreach (cases, ci, c) {
		json_t *scores = json_object_get(c, "scores");
		json_t *limits = json_object_get(c, "thresholds");
		if (!scores)
			continue;
		void *cfg = case_config(c);
		struct dd_instance *in = new_instance(cfg);
		assert_int_equal(json_array_size(scores), case_len(c));
		assert_int_equal(json_array_size(limits), case_len(c));
		for (size_t i = 0; i < case_len(c); i++) {
			struct driftd_verdict v;
			assert_int_equal(update_bit(in, case_value(c, i), DRIFTD_VALUE_NUMBER), 0);
			assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
			double ws = recorded(json_array_get(scores, i));
			double wt = recorded(json_array_get(limits, i));
			if (v.score != ws || v.threshold != wt)
				fail_msg("%s: step %zu score %.17g threshold %.17g, River's state "
				         "gives %.17g and %.17g",
				         case_name(c), i, v.score, v.threshold, ws, wt);
			assert_true(isnan(v.p_value));
			n_checked++;
		}
		dd_instance_free(in);
		free(cfg);
	}
	assert_true(n_checked > 0);
	json_decref(cases);
}

/* The flags of a drift stay up until the next update, which starts a fresh run with its value. */
static void test_lazy_reset(void **unused)
{
	json_t *cases = load_cases();
	size_t ci, n_checked = 0;
	json_t *c;
	json_array_foreach (cases, ci, c) {
		json_t *drifts = json_object_get(c, "drifts");
		if (json_array_size(drifts) == 0)
			continue;
		size_t d = (size_t)json_integer_value(json_array_get(drifts, 0));
		if (d + 1 >= case_len(c))
			continue;
		void *cfg = case_config(c);
		struct dd_instance *in = new_instance(cfg), *fresh = new_instance(cfg);
		struct es_run r = run_new(case_len(c));
		feed(in, c, 0, d + 1, &r, DRIFTD_VALUE_NUMBER);
		struct driftd_verdict v1, v2;
		assert_int_equal(in->ops->evaluate(&in->ctx, &v1), 0);
		assert_int_equal(in->ops->evaluate(&in->ctx, &v2), 0);
		assert_true(v1.drift && v2.drift);
		assert_true(v1.warning == v2.warning && v1.score == v2.score &&
		            v1.threshold == v2.threshold);
		assert_int_equal(update_bit(in, case_value(c, d + 1), DRIFTD_VALUE_NUMBER), 0);
		assert_int_equal(update_bit(fresh, case_value(c, d + 1), DRIFTD_VALUE_NUMBER), 0);
		assert_true(same_state(in, fresh));
		n_checked++;
		run_free(&r);
		dd_instance_free(in);
		dd_instance_free(fresh);
		free(cfg);
	}
	assert_true(n_checked > 0);
	json_decref(cases);
}

static void resume_at(json_t *c, const void *cfg, size_t cut)
{
	size_t n = case_len(c);
	struct es_run r = run_new(n);
	struct dd_instance *a = new_instance(cfg);
	feed(a, c, 0, cut, &r, DRIFTD_VALUE_NUMBER);

	size_t len;
	uint8_t *data = snap(a, &len);
	assert_int_equal(len, ES_SNAPSHOT_LEN);
	struct dd_instance *b = new_instance(cfg);
	assert_int_equal(b->ops->restore(&b->ctx, 1, data, len), 0);

	/* The restored state snapshots to the same bytes and gives the same verdict. */
	assert_true(same_state(a, b));
	struct driftd_verdict va, vb;
	assert_int_equal(a->ops->evaluate(&a->ctx, &va), 0);
	assert_int_equal(b->ops->evaluate(&b->ctx, &vb), 0);
	assert_true(va.score == vb.score && va.threshold == vb.threshold && va.drift == vb.drift &&
	            va.warning == vb.warning);

	feed(b, c, cut, n, &r, DRIFTD_VALUE_NUMBER);
	char what[64];
	snprintf(what, sizeof(what), "resumed after %zu values", cut);
	check_run(c, &r, what);
	free(data);
	run_free(&r);
	dd_instance_free(a);
	dd_instance_free(b);
}

static void test_snapshot_resume(void **unused)
{
	json_t *cases = load_cases();
	size_t ci;
	json_t *c;
	json_array_foreach (cases, ci, c) {
		void *cfg = case_config(c);
		size_t n = case_len(c);
		/* Cut before anything, mid-stream, at the end ... */
		resume_at(c, cfg, 0);
		resume_at(c, cfg, 1);
		resume_at(c, cfg, n / 3);
		resume_at(c, cfg, n);
		/* ... right after the first few drifts (reset pending) and one value later ... */
		json_t *drifts = json_object_get(c, "drifts");
		for (size_t k = 0; k < json_array_size(drifts) && k < 3; k++) {
			size_t d = (size_t)json_integer_value(json_array_get(drifts, k));
			resume_at(c, cfg, d + 1);
			if (d + 2 <= n)
				resume_at(c, cfg, d + 2);
		}
		/* ... and inside the first warning. */
		json_t *warnings = json_object_get(c, "warnings");
		if (json_array_size(warnings) > 0)
			resume_at(c, cfg,
			          (size_t)json_integer_value(json_array_get(warnings, 0)) + 1);
		free(cfg);
	}
	json_decref(cases);
}

static void dirty(struct dd_instance *in, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(update_bit(in, (i * 7) % 5 < 2 ? 1 : 0, DRIFTD_VALUE_NUMBER), 0);
}

static void test_rejected_values(void **unused)
{
	struct dd_instance *in = new_instance(NULL);
	dirty(in, 60);
	size_t len0, len1;
	uint8_t *before = snap(in, &len0);

	const double bad_numbers[] = {(double)NAN, (double)INFINITY, -(double)INFINITY, 0.5, 2,
	                              -1,          1e-300,           1 + 0x1p-52};
	for (size_t i = 0; i < sizeof(bad_numbers) / sizeof(bad_numbers[0]); i++) {
		assert_int_equal(update_bit(in, bad_numbers[i], DRIFTD_VALUE_NUMBER), -EDOM);
		assert_int_equal(update_bit(in, bad_numbers[i], DRIFTD_VALUE_BOOL), -EDOM);
	}
	static const double vec[] = {0, 1};
	const struct driftd_value bad[] = {
	    {.type = DRIFTD_VALUE_NONE},
	    {.type = DRIFTD_VALUE_STRING, .str = "1", .len = 1},
	    {.type = DRIFTD_VALUE_VECTOR, .vec = vec, .dim = 2},
	    {.type = DRIFTD_VALUE_OTHER},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(in->ops->update(&in->ctx, &bad[i]), -EDOM);

	uint8_t *after = snap(in, &len1);
	assert_int_equal(len0, len1);
	assert_memory_equal(before, after, len0);

	/* -0 is a 0. */
	struct dd_instance *zero = new_instance(NULL), *negzero = new_instance(NULL);
	for (int i = 0; i < 50; i++) {
		double x = i % 3 == 0 ? 1 : 0;
		assert_int_equal(update_bit(zero, x, DRIFTD_VALUE_NUMBER), 0);
		assert_int_equal(update_bit(negzero, x == 0 ? -0.0 : x, DRIFTD_VALUE_NUMBER), 0);
	}
	assert_true(same_state(zero, negzero));
	free(before);
	free(after);
	dd_instance_free(zero);
	dd_instance_free(negzero);
	dd_instance_free(in);
}

static void test_evaluate_fresh(void **unused)
{
	struct dd_instance *in = new_instance(NULL);
	struct driftd_verdict v;
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
	assert_true(v.score == ES_FRESH_SCORE);
	assert_true(v.threshold == ES_FRESH_THRESHOLD);
	assert_true(isnan(v.p_value));
	assert_false(v.drift);
	assert_false(v.warning);
	in->ops->done(&in->ctx);
	in->ops->done(&in->ctx); /* idempotent */
	dd_instance_free(in);
}

/* The "published" case (default parameters) on a state that has been through a failed
 * restore: it must behave as a fresh detector. */
static void assert_behaves_fresh(struct dd_instance *in)
{
	json_t *cases = load_cases();
	json_t *c = json_array_get(cases, 0);
	assert_string_equal(case_name(c), "published");
	assert_int_equal(json_object_size(json_object_get(c, "params")), ops()->n_params);
	struct es_run r = run_new(case_len(c));
	feed(in, c, 0, case_len(c), &r, DRIFTD_VALUE_NUMBER);
	check_run(c, &r, "after a rejected restore");
	run_free(&r);
	json_decref(cases);
}

static void put_le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void apply(uint8_t *dst, const uint8_t *src, size_t len, const struct es_patch *p)
{
	memcpy(dst, src, len);
	assert_true(p->off + 8 <= len);
	if (p->is_f64) {
		uint64_t u;
		memcpy(&u, &p->d, sizeof(u));
		put_le(dst + p->off, u);
	} else {
		put_le(dst + p->off, p->u);
	}
}

static void expect_rejected(const uint8_t *data, size_t len, uint32_t version)
{
	struct dd_instance *in = new_instance(NULL);
	/* Dirty the state first: a failed restore must leave it as after init. */
	dirty(in, 80);
	assert_int_equal(in->ops->restore(&in->ctx, version, data, len), -EBADMSG);
	struct dd_instance *fresh = new_instance(NULL);
	assert_true(same_state(in, fresh));
	dd_instance_free(fresh);
	dd_instance_free(in);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void test_restore_rejects(void **unused)
{
	/* A populated state: a run with a drift behind it, in the middle of the next one. */
	struct dd_instance *in = new_instance(NULL);
	dirty(in, 200);
	for (int i = 0; i < 300; i++)
		assert_int_equal(update_bit(in, i % 3 != 0 ? 1 : 0, DRIFTD_VALUE_BOOL), 0);
	size_t len;
	uint8_t *good = snap(in, &len);
	assert_int_equal(len, ES_SNAPSHOT_LEN);
	struct dd_instance *check = new_instance(NULL);
	assert_int_equal(check->ops->restore(&check->ctx, 1, good, len), 0);
	dd_instance_free(check);

	/* Every truncation, a trailing byte, other versions. */
	for (size_t l = 0; l < len; l++)
		expect_rejected(good, l, 1);
	uint8_t *longer = calloc(1, len + 1);
	assert_non_null(longer);
	memcpy(longer, good, len);
	expect_rejected(longer, len + 1, 1);
	expect_rejected(good, len, 0);
	expect_rejected(good, len, 2);
	expect_rejected(NULL, 0, 1);

	/* Field by field, on the populated state and on a fresh one. */
	uint8_t *bad = malloc(len);
	assert_non_null(bad);
	size_t n_patches;
	const struct es_patch *patches = es_snapshot_patches(false, &n_patches);
	assert_true(n_patches > 0);
	for (size_t i = 0; i < n_patches; i++) {
		apply(bad, good, len, &patches[i]);
		expect_rejected(bad, len, 1);
	}
	struct dd_instance *fresh = new_instance(NULL);
	size_t flen;
	uint8_t *fdata = snap(fresh, &flen);
	assert_int_equal(flen, len);
	patches = es_snapshot_patches(true, &n_patches);
	assert_true(n_patches > 0);
	for (size_t i = 0; i < n_patches; i++) {
		apply(bad, fdata, len, &patches[i]);
		expect_rejected(bad, len, 1);
	}

	/* Deterministic garbage of assorted lengths and of the right length. */
	uint64_t x = 0x9e3779b97f4a7c15u;
	uint8_t junk[256];
	for (int round = 0; round < 4000; round++) {
		size_t l = round < 2000 ? (size_t)(round % 200) : len;
		for (size_t i = 0; i < l; i++)
			junk[i] = (uint8_t)xorshift(&x);
		expect_rejected(junk, l, 1);
	}

	/* The initial state round-trips, and a rejected restore leaves a working fresh detector. */
	assert_int_equal(fresh->ops->restore(&fresh->ctx, 1, fdata, flen), 0);
	assert_int_equal(fresh->ops->restore(&fresh->ctx, 1, good, len - 1), -EBADMSG);
	assert_behaves_fresh(fresh);

	free(bad);
	free(fdata);
	free(longer);
	free(good);
	dd_instance_free(fresh);
	dd_instance_free(in);
}

#define ES_TESTS                                                                                   \
	cmocka_unit_test(test_ops_table), cmocka_unit_test(test_river_streams),                    \
	    cmocka_unit_test(test_river_scores), cmocka_unit_test(test_lazy_reset),                \
	    cmocka_unit_test(test_snapshot_resume), cmocka_unit_test(test_rejected_values),        \
	    cmocka_unit_test(test_evaluate_fresh), cmocka_unit_test(test_restore_rejects)

#endif
