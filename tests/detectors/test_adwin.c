/* adwin against River 0.26.1 (tests/oracle/gen_adwin.py -> data/adwin.json): exact detection
 * indices on every stream and parameter set, snapshot/restore mid-stream (also on a drift,
 * where the reset is pending), rejected values and hostile snapshots. */
#include "stream_oracle.h"

#define DATA_FILE DRIFTD_TEST_DATA "/detectors/data/adwin.json"

static const struct driftd_detector_ops *ops(void)
{
	return so_ops("adwin");
}

static void test_ops_table(void **unused)
{
	so_check_ops_table(ops());
	assert_int_equal(ops()->caps, 0);
}

static void test_params(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	assert_true(so_default(o, "delta") == 0.002);
	assert_true(so_default(o, "clock") == 32);
	assert_true(so_default(o, "max_buckets") == 5);
	assert_true(so_default(o, "min_window_length") == 5);
	assert_true(so_default(o, "grace_period") == 10);

	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	assert_int_equal(dd_param_set_number(o, cfg, "delta", 0), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "delta", 1.5), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "delta", 1), 0);
	assert_int_equal(dd_param_set_number(o, cfg, "clock", 0), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "clock", 2.5), -EINVAL);
	assert_int_equal(dd_param_set_number(o, cfg, "max_buckets", 0), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "max_buckets", 1001), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "min_window_length", 0), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "grace_period", -1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "grace_period", 0), 0);
	const char *why = NULL;
	assert_int_equal(o->check_config(cfg, &why), 0);
	free(cfg);
}

static void test_river_streams(void **unused)
{
	json_t *root = so_load(DATA_FILE);
	assert_true(so_check_streams(ops(), root) > 20);
	json_decref(root);
}

/* River's docstring example. */
static void test_published(void **unused)
{
	json_t *root = so_load(DATA_FILE);
	json_t *c = so_case(root, "published");
	json_t *d = json_object_get(c, "drifts");
	assert_int_equal(json_array_size(d), 1);
	assert_int_equal(json_integer_value(json_array_get(d, 0)), 1023);
	json_decref(root);
}

static void test_snapshot_resume(void **unused)
{
	json_t *root = so_load(DATA_FILE);
	so_check_resume(ops(), root);
	json_decref(root);
}

/* The score is the largest |mean difference| / eps of the latest check: above 1 exactly when
 * a cut fires, kept between checks, 0 after a reset. */
static void test_score(void **unused)
{
	json_t *root = so_load(DATA_FILE);
	json_t *c = so_case(root, "multi");
	struct dd_instance *in = so_new(ops(), NULL);
	double prev = 0;
	size_t since_reset = 0;
	for (size_t i = 0; i < so_len(c); i++) {
		struct driftd_verdict v;
		assert_int_equal(dd_instance_update_number(in, so_value(c, i)), 0);
		assert_int_equal(ops()->evaluate(&in->ctx, &v), 0);
		since_reset++;
		assert_true(v.threshold == 1.0);
		assert_true(isnan(v.p_value));
		assert_true(v.score >= 0);
		if (since_reset % 32 != 0)
			assert_true(v.score == (since_reset < 32 ? 0.0 : prev));
		if (v.drift)
			assert_true(v.score >= 1.0);
		else
			assert_true(v.score <= 1.0);
		prev = v.score;
		if (v.drift) {
			since_reset = 0;
			prev = 0;
		}
	}
	dd_instance_free(in);
	json_decref(root);
}

static void test_rejected_values(void **unused)
{
	so_check_rejected_values(ops(), 100);
}

static void test_evaluate_fresh(void **unused)
{
	so_check_fresh_verdict(ops(), 0.0, 1.0);
}

static void test_restore_rejects(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	struct dd_instance *in = so_new(o, NULL);
	/* 77 values: several levels of buckets */
	for (int i = 0; i < 77; i++)
		assert_int_equal(dd_instance_update_number(in, (i * 7) % 11), 0);
	size_t len;
	uint8_t *good = so_snap(in, &len);
	so_check_hostile(o, NULL, good, len);

	/* Field by field. Layout: n, drift, score, total, variance, levels, {count, totals}. */
	uint8_t *bad = malloc(len);
	assert_non_null(bad);
	const double nonfinite[] = {(double)NAN, (double)INFINITY, -(double)INFINITY};
	for (size_t f = 2; f <= 4; f++)
		for (size_t k = 0; k < 3; k++) {
			memcpy(bad, good, len);
			so_put_f64(bad + 8 * f, nonfinite[k]);
			so_expect_rejected(o, NULL, bad, len, 1);
		}
	memcpy(bad, good, len);
	so_put_u64(bad, 78); /* n disagrees with the buckets */
	so_expect_rejected(o, NULL, bad, len, 1);
	memcpy(bad, good, len);
	so_put_u64(bad + 8, 1); /* a drift off the clock */
	so_expect_rejected(o, NULL, bad, len, 1);
	memcpy(bad, good, len);
	so_put_u64(bad + 8, 2);
	so_expect_rejected(o, NULL, bad, len, 1);
	memcpy(bad, good, len);
	so_put_f64(bad + 16, -1.0); /* negative score */
	so_expect_rejected(o, NULL, bad, len, 1);
	memcpy(bad, good, len);
	so_put_f64(bad + 32, -1.0); /* negative variance */
	so_expect_rejected(o, NULL, bad, len, 1);
	memcpy(bad, good, len);
	so_put_u64(bad + 40, 0); /* no level */
	so_expect_rejected(o, NULL, bad, len, 1);
	memcpy(bad, good, len);
	so_put_u64(bad + 40, 65);
	so_expect_rejected(o, NULL, bad, len, 1);
	memcpy(bad, good, len);
	so_put_u64(bad + 48, 6); /* more buckets than max_buckets on level 0 */
	so_expect_rejected(o, NULL, bad, len, 1);
	free(bad);

	/* A state that is due to drift restores as such and resets on the next value. */
	json_t *root = so_load(DATA_FILE);
	so_check_fresh_after_reject(o, so_case(root, "published"));
	json_decref(root);
	free(good);
	dd_instance_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_table),       cmocka_unit_test(test_params),
	    cmocka_unit_test(test_river_streams),   cmocka_unit_test(test_published),
	    cmocka_unit_test(test_snapshot_resume), cmocka_unit_test(test_score),
	    cmocka_unit_test(test_rejected_values), cmocka_unit_test(test_evaluate_fresh),
	    cmocka_unit_test(test_restore_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
