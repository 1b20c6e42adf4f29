/* page_hinkley against River 0.26.1 (tests/oracle/gen_page_hinkley.py -> data/page_hinkley.json):
 * exact detection indices on every stream, the per-step statistic bit for bit where recorded,
 * rejected values, snapshot/restore mid-stream (also right on a drift, where the lazy reset is
 * pending) and hostile snapshots. */
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

#define DATA_FILE DRIFTD_TEST_DATA "/detectors/data/page_hinkley.json"

static const struct driftd_detector_ops *ops(void)
{
	const struct driftd_detector_ops *o = driftd_detector_find("page_hinkley");
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

/* A config block from a case's "params" object. */
static void *case_config(json_t *c)
{
	const struct driftd_detector_ops *o = ops();
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	json_t *p = json_object_get(c, "params");
	const char *key;
	json_t *val;
	json_object_foreach (p, key, val) {
		if (json_is_string(val))
			assert_int_equal(dd_param_set_choice(o, cfg, key, json_string_value(val)),
			                 0);
		else
			assert_int_equal(dd_param_set_number(o, cfg, key, json_number_value(val)),
			                 0);
	}
	return cfg;
}

static struct dd_instance *new_instance(const void *cfg)
{
	struct dd_instance *in = NULL;
	assert_int_equal(dd_instance_new(ops(), cfg, NULL, &in), 0);
	return in;
}

static double case_value(json_t *c, size_t i)
{
	return json_number_value(json_array_get(json_object_get(c, "values"), i));
}

static size_t case_len(json_t *c)
{
	return json_array_size(json_object_get(c, "values"));
}

/* Feed values [from, to) and append drift indices to idx; returns the new count. */
static size_t feed(struct dd_instance *in, json_t *c, size_t from, size_t to, size_t *idx,
                   size_t n_idx)
{
	for (size_t i = from; i < to; i++) {
		struct driftd_verdict v;
		assert_int_equal(dd_instance_update_number(in, case_value(c, i)), 0);
		assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
		if (v.drift)
			idx[n_idx++] = i;
	}
	return n_idx;
}

static void check_drifts(json_t *c, const size_t *idx, size_t n_idx, const char *what)
{
	json_t *want = json_object_get(c, "drifts");
	const char *name = json_string_value(json_object_get(c, "name"));
	if (n_idx != json_array_size(want))
		fail_msg("%s (%s): %zu drifts, River has %zu", name, what, n_idx,
		         json_array_size(want));
	for (size_t k = 0; k < n_idx; k++) {
		size_t w = (size_t)json_integer_value(json_array_get(want, k));
		if (idx[k] != w)
			fail_msg("%s (%s): drift #%zu at %zu, River at %zu", name, what, k, idx[k],
			         w);
	}
}

static uint8_t *snap(struct dd_instance *in, size_t *len)
{
	struct driftd_buf b = {0};
	assert_int_equal(in->ops->snapshot(&in->ctx, &b), 0);
	assert_int_equal(b.err, 0);
	*len = b.len;
	return b.data;
}

static void test_ops_table(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	assert_int_equal(o->abi_version, DRIFTD_DETECTOR_ABI);
	assert_int_equal(o->struct_size, sizeof(struct driftd_detector_ops));
	assert_int_equal(o->kind, DRIFTD_KIND_STREAMING);
	assert_int_equal(o->caps & DRIFTD_CAP_MERGE, 0);
	assert_null(o->merge);
	assert_null(o->reference_add);
	assert_int_equal(o->accepts, DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER));
	assert_int_equal(o->snapshot_version, 1);
	for (size_t i = 0; i < o->n_params; i++) {
		assert_non_null(o->params[i].description);
		assert_true(strlen(o->params[i].description) < 100);
	}
}

static void test_params(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	assert_true(dd_param_get(dd_param_find(o, "min_instances"), cfg) == 30);
	assert_true(dd_param_get(dd_param_find(o, "delta"), cfg) == 0.005);
	assert_true(dd_param_get(dd_param_find(o, "threshold"), cfg) == 50);
	assert_true(dd_param_get(dd_param_find(o, "alpha"), cfg) == 1 - 0.0001);
	assert_true(dd_param_get(dd_param_find(o, "mode"), cfg) == 0);

	assert_int_equal(dd_param_set_number(o, cfg, "alpha", 0), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "alpha", 1.5), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "alpha", 1), 0);
	assert_int_equal(dd_param_set_number(o, cfg, "threshold", -1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "delta", -0.1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "min_instances", 0), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "min_instances", 2.5), -EINVAL);
	assert_int_equal(dd_param_set_choice(o, cfg, "mode", "sideways"), -EINVAL);
	assert_int_equal(dd_param_set_choice(o, cfg, "mode", "down"), 0);
	assert_true(dd_param_get(dd_param_find(o, "mode"), cfg) == 2);
	free(cfg);
}

static void test_river_streams(void **unused)
{
	json_t *cases = load_cases();
	size_t ci;
	json_t *c;
	json_array_foreach (cases, ci, c) {
		void *cfg = case_config(c);
		struct dd_instance *in = new_instance(cfg);
		size_t n = case_len(c);
		size_t *idx = calloc(n + 1, sizeof(size_t));
		assert_non_null(idx);
		size_t n_idx = feed(in, c, 0, n, idx, 0);
		check_drifts(c, idx, n_idx, "uninterrupted");
		free(idx);
		dd_instance_free(in);
		free(cfg);
	}
	json_decref(cases);
}

/* River's statistic after every step, bit for bit (same operations in the same order). */
static void test_river_scores(void **unused)
{
	json_t *cases = load_cases();
	size_t ci, n_checked = 0;
	json_t *c;
	json_array_foreach (cases, ci, c) {
		json_t *scores = json_object_get(c, "scores");
		if (!scores)
			continue;
		void *cfg = case_config(c);
		struct dd_instance *in = new_instance(cfg);
		assert_int_equal(json_array_size(scores), case_len(c));
		for (size_t i = 0; i < case_len(c); i++) {
			struct driftd_verdict v;
			assert_int_equal(dd_instance_update_number(in, case_value(c, i)), 0);
			assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
			double want = json_number_value(json_array_get(scores, i));
			if (v.score != want)
				fail_msg("%s: step %zu score %.17g, River %.17g",
				         json_string_value(json_object_get(c, "name")), i, v.score,
				         want);
			assert_true(isnan(v.p_value));
			assert_true(v.threshold ==
			            dd_param_get(dd_param_find(ops(), "threshold"), cfg));
			n_checked++;
		}
		dd_instance_free(in);
		free(cfg);
	}
	assert_true(n_checked > 0);
	json_decref(cases);
}

static void resume_at(json_t *c, const void *cfg, size_t cut)
{
	size_t n = case_len(c);
	size_t *idx = calloc(n + 1, sizeof(size_t));
	assert_non_null(idx);
	struct dd_instance *a = new_instance(cfg);
	size_t n_idx = feed(a, c, 0, cut, idx, 0);

	size_t len;
	uint8_t *data = snap(a, &len);
	struct dd_instance *b = new_instance(cfg);
	assert_int_equal(b->ops->restore(&b->ctx, 1, data, len), 0);

	/* The restored state snapshots to the same bytes and gives the same verdict. */
	size_t len2;
	uint8_t *data2 = snap(b, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(data, data2, len);
	struct driftd_verdict va, vb;
	assert_int_equal(a->ops->evaluate(&a->ctx, &va), 0);
	assert_int_equal(b->ops->evaluate(&b->ctx, &vb), 0);
	assert_true(va.score == vb.score && va.drift == vb.drift);

	n_idx = feed(b, c, cut, n, idx, n_idx);
	char what[64];
	snprintf(what, sizeof(what), "resumed after %zu values", cut);
	check_drifts(c, idx, n_idx, what);
	free(data);
	free(data2);
	free(idx);
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
		/* ... and right after the first few drifts (reset pending) and one value later. */
		json_t *drifts = json_object_get(c, "drifts");
		for (size_t k = 0; k < json_array_size(drifts) && k < 3; k++) {
			size_t d = (size_t)json_integer_value(json_array_get(drifts, k));
			resume_at(c, cfg, d + 1);
			if (d + 2 <= n)
				resume_at(c, cfg, d + 2);
		}
		free(cfg);
	}
	json_decref(cases);
}

static void test_rejected_values(void **unused)
{
	struct dd_instance *in = new_instance(NULL);
	for (int i = 0; i < 40; i++)
		assert_int_equal(dd_instance_update_number(in, i % 3), 0);
	size_t len0, len1;
	uint8_t *before = snap(in, &len0);

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
		assert_int_equal(in->ops->update(&in->ctx, &bad[i]), -EDOM);

	uint8_t *after = snap(in, &len1);
	assert_int_equal(len0, len1);
	assert_memory_equal(before, after, len0);
	free(before);
	free(after);
	dd_instance_free(in);
}

static void test_evaluate_fresh(void **unused)
{
	struct dd_instance *in = new_instance(NULL);
	struct driftd_verdict v;
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
	assert_true(v.score == 0.0);
	assert_true(v.threshold == 50.0);
	assert_true(isnan(v.p_value));
	assert_false(v.drift);
	in->ops->done(&in->ctx);
	in->ops->done(&in->ctx); /* idempotent */
	dd_instance_free(in);
}

/* The published stream on a state that has been through a failed restore: must be fresh. */
static void assert_behaves_fresh(struct dd_instance *in)
{
	json_t *cases = load_cases();
	json_t *c = json_array_get(cases, 0);
	assert_string_equal(json_string_value(json_object_get(c, "name")), "published");
	size_t n = case_len(c);
	size_t *idx = calloc(n + 1, sizeof(size_t));
	assert_non_null(idx);
	size_t n_idx = feed(in, c, 0, n, idx, 0);
	check_drifts(c, idx, n_idx, "after a rejected restore");
	free(idx);
	json_decref(cases);
}

static void put_le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_f64(uint8_t *p, double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	put_le(p, u);
}

static void expect_rejected(const uint8_t *data, size_t len, uint32_t version)
{
	struct dd_instance *in = new_instance(NULL);
	/* Dirty the state first: a failed restore must leave it as after init. */
	for (int i = 0; i < 50; i++)
		assert_int_equal(dd_instance_update_number(in, i), 0);
	assert_int_equal(in->ops->restore(&in->ctx, version, data, len), -EBADMSG);
	struct dd_instance *fresh = new_instance(NULL);
	size_t l1, l2;
	uint8_t *s1 = snap(in, &l1), *s2 = snap(fresh, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(s1, s2, l1);
	free(s1);
	free(s2);
	dd_instance_free(fresh);
	dd_instance_free(in);
}

static void test_restore_rejects(void **unused)
{
	struct dd_instance *in = new_instance(NULL);
	for (int i = 0; i < 100; i++)
		assert_int_equal(dd_instance_update_number(in, (i * 7) % 11), 0);
	size_t len;
	uint8_t *good = snap(in, &len);
	assert_int_equal(len, 7 * 8);

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

	/* Field by field. Layout: n, mean, sum_inc, sum_dec, min_inc, max_dec, drift. */
	uint8_t bad[7 * 8];
	const double nonfinite[] = {(double)NAN, (double)INFINITY, -(double)INFINITY};
	for (size_t f = 1; f <= 5; f++)
		for (size_t k = 0; k < 3; k++) {
			memcpy(bad, good, len);
			put_f64(bad + 8 * f, nonfinite[k]);
			expect_rejected(bad, len, 1);
		}
	memcpy(bad, good, len);
	put_le(bad + 48, 2);
	expect_rejected(bad, len, 1);
	memcpy(bad, good, len);
	put_le(bad, (UINT64_C(1) << 53) + 1);
	expect_rejected(bad, len, 1);
	memcpy(bad, good, len);
	put_f64(bad + 32, 1e300); /* min_inc above sum_inc */
	expect_rejected(bad, len, 1);
	memcpy(bad, good, len);
	put_f64(bad + 40, -1e300); /* max_dec below sum_dec and -1 */
	expect_rejected(bad, len, 1);
	/* n = 0 with a non-initial state. */
	memset(bad, 0, sizeof(bad));
	put_f64(bad + 32, (double)INFINITY);
	put_f64(bad + 40, -1.0);
	put_le(bad + 48, 1);
	expect_rejected(bad, len, 1);
	put_le(bad + 48, 0);
	put_f64(bad + 8, 3.0);
	expect_rejected(bad, len, 1);

	/* Deterministic garbage of assorted lengths. */
	uint64_t x = 0x9e3779b97f4a7c15u;
	uint8_t junk[128];
	for (int round = 0; round < 2000; round++) {
		size_t l = (size_t)(round % 120);
		for (size_t i = 0; i < l; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			junk[i] = (uint8_t)x;
		}
		expect_rejected(junk, l, 1);
	}
	for (int round = 0; round < 2000; round++) {
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			junk[i] = (uint8_t)x;
		}
		expect_rejected(junk, len, 1);
	}

	/* The initial state round-trips, and a rejected restore leaves a working fresh detector. */
	struct dd_instance *fresh = new_instance(NULL);
	size_t flen;
	uint8_t *fdata = snap(fresh, &flen);
	assert_int_equal(fresh->ops->restore(&fresh->ctx, 1, fdata, flen), 0);
	assert_int_equal(fresh->ops->restore(&fresh->ctx, 1, good, len - 1), -EBADMSG);
	assert_behaves_fresh(fresh);

	free(fdata);
	free(longer);
	free(good);
	dd_instance_free(fresh);
	dd_instance_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_table),       cmocka_unit_test(test_params),
	    cmocka_unit_test(test_river_streams),   cmocka_unit_test(test_river_scores),
	    cmocka_unit_test(test_snapshot_resume), cmocka_unit_test(test_rejected_values),
	    cmocka_unit_test(test_evaluate_fresh),  cmocka_unit_test(test_restore_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
