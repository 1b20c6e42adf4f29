/* cusum against an independent numpy implementation of the two-sided tabular CUSUM
 * (tests/oracle/gen_cusum.py -> data/cusum.json): exact detection indices, per-step S and
 * limit to 1e-9 relative (numpy's two-pass mean/std vs Welford here), snapshot/restore
 * mid-stream, rejected values and hostile snapshots. */
#include "stream_oracle.h"

#define DATA_FILE DRIFTD_TEST_DATA "/detectors/data/cusum.json"
#define TOL       1e-9

static const struct driftd_detector_ops *ops(void)
{
	return so_ops("cusum");
}

static void test_ops_table(void **unused)
{
	so_check_ops_table(ops());
	assert_int_equal(ops()->caps, 0);
}

static void test_params(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	assert_true(so_default(o, "min_instances") == 30);
	assert_true(so_default(o, "slack") == 0.5);
	assert_true(so_default(o, "threshold") == 5);
	assert_true(so_default(o, "mode") == 0);

	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	assert_int_equal(dd_param_set_number(o, cfg, "min_instances", 0), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "min_instances", 1.5), -EINVAL);
	assert_int_equal(dd_param_set_number(o, cfg, "slack", -0.1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "slack", 0), 0);
	assert_int_equal(dd_param_set_number(o, cfg, "threshold", 0), -ERANGE);
	assert_int_equal(dd_param_set_choice(o, cfg, "mode", "sideways"), -EINVAL);
	assert_int_equal(dd_param_set_choice(o, cfg, "mode", "down"), 0);
	assert_true(dd_param_get(dd_param_find(o, "mode"), cfg) == 2);
	const char *why = NULL;
	assert_int_equal(o->check_config(cfg, &why), 0);
	free(cfg);
}

static void test_oracle_streams(void **unused)
{
	json_t *root = so_load(DATA_FILE);
	assert_true(so_check_streams(ops(), root) > 100);
	json_decref(root);
}

static void test_oracle_series(void **unused)
{
	json_t *root = so_load(DATA_FILE);
	so_check_series(ops(), root, "score", so_field_score, 0.0, TOL);
	so_check_series(ops(), root, "threshold", so_field_threshold, (double)NAN, TOL);
	json_decref(root);
}

static void test_constant_warmup(void **unused)
{
	so_check_constant_warmup(ops());
}

static void test_snapshot_resume(void **unused)
{
	json_t *root = so_load(DATA_FILE);
	so_check_resume(ops(), root);
	json_decref(root);
}

static void test_rejected_values(void **unused)
{
	so_check_rejected_values(ops(), 10);
	so_check_rejected_values(ops(), 100);
}

static void test_evaluate_fresh(void **unused)
{
	so_check_fresh_verdict(ops(), 0.0, (double)NAN);
}

static void test_restore_rejects(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	struct dd_instance *in = so_new(o, NULL);
	for (int i = 0; i < 100; i++)
		assert_int_equal(dd_instance_update_number(in, (i * 7) % 11), 0);
	size_t len;
	uint8_t *good = so_snap(in, &len);
	/* n, mean, m2, mu, sigma, sum_inc, sum_dec, drift */
	assert_int_equal(len, 8 * 8);
	so_check_hostile(o, NULL, good, len);

	uint8_t bad[64];
	const double nonfinite[] = {(double)NAN, (double)INFINITY, -(double)INFINITY};
	for (size_t f = 1; f <= 6; f++)
		for (size_t k = 0; k < 3; k++) {
			memcpy(bad, good, len);
			so_put_f64(bad + 8 * f, nonfinite[k]);
			so_expect_rejected(o, NULL, bad, len, 1);
		}
	for (size_t f = 2; f <= 6; f++) { /* m2, sigma, S+, S- are never negative */
		if (f == 3)
			continue;
		memcpy(bad, good, len);
		so_put_f64(bad + 8 * f, -1.0);
		so_expect_rejected(o, NULL, bad, len, 1);
	}
	memcpy(bad, good, len);
	so_put_u64(bad + 56, 2);
	so_expect_rejected(o, NULL, bad, len, 1);
	memcpy(bad, good, len);
	so_put_f64(bad + 40, 1e6); /* S+ far above the limit without a drift */
	so_expect_rejected(o, NULL, bad, len, 1);
	memcpy(bad, good, len);
	so_put_u64(bad, (UINT64_C(1) << 53) + 1);
	so_expect_rejected(o, NULL, bad, len, 1);
	/* during the warm-up nothing is frozen or charted yet */
	memcpy(bad, good, len);
	so_put_u64(bad, 10);
	so_expect_rejected(o, NULL, bad, len, 1);
	memset(bad, 0, sizeof(bad));
	so_put_u64(bad, 10);
	so_put_f64(bad + 40, 1.0);
	so_expect_rejected(o, NULL, bad, len, 1);
	memset(bad, 0, sizeof(bad));
	so_put_f64(bad + 8, 3.0); /* n = 0 with a mean */
	so_expect_rejected(o, NULL, bad, len, 1);

	json_t *root = so_load(DATA_FILE);
	so_check_fresh_after_reject(o, so_case(root, "multi"));
	json_decref(root);
	free(good);
	dd_instance_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_table),       cmocka_unit_test(test_params),
	    cmocka_unit_test(test_oracle_streams),  cmocka_unit_test(test_oracle_series),
	    cmocka_unit_test(test_constant_warmup), cmocka_unit_test(test_snapshot_resume),
	    cmocka_unit_test(test_rejected_values), cmocka_unit_test(test_evaluate_fresh),
	    cmocka_unit_test(test_restore_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
