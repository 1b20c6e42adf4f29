/* hddm_w against River 0.26.1's HDDMW (tests/oracle/gen_hddm_w.py -> data/hddm_w.json): the
 * shared error-stream tests (errstream_test.h) and the parameter table. */
#define ES_NAME            "hddm_w"
#define ES_SNAPSHOT_LEN    (18 * 8)
#define ES_FRESH_SCORE     0.0
#define ES_FRESH_THRESHOLD HUGE_VAL

#include "errstream_test.h"

/* Layout: f64 ewma, f64 ibc, u64 init for total, s1_incr, s2_incr, s1_decr, s2_decr (24 bytes
 * each), then f64 incr_cut, f64 decr_cut, u64 flags. */
static const struct es_patch patches[] = {
    {0, true, 0, (double)NAN},
    {0, true, 0, -0.1},
    {0, true, 0, 1.5},
    {8, true, 0, 0.0},
    {8, true, 0, 1.5},
    {8, true, 0, (double)NAN},
    {16, false, 2, 0},
    {16, false, 0, 0}, /* an empty sample with an average */
    {24 + 16, false, 0, 0},
    {72 + 8, true, 0, -(double)INFINITY},
    {120, true, 0, (double)NAN},
    {120, true, 0, (double)INFINITY}, /* no cut point after values */
    {120, true, 0, -(double)INFINITY},
    {128, true, 0, (double)NAN},
    {128, true, 0, -(double)INFINITY},
    {128, true, 0, (double)INFINITY},
    {136, false, 4, 0},
};

static const struct es_patch fresh_patches[] = {
    {16, false, 1, 0},                          /* values but no cut points */
    {48 + 16, false, 1, 0}, {72, true, 0, 0.5}, /* an average without values */
    {120, true, 0, 0.5},    {128, true, 0, 0.5}, {136, false, 1, 0},
};

static const struct es_patch *es_snapshot_patches(bool fresh, size_t *n)
{
	*n = fresh ? sizeof(fresh_patches) / sizeof(fresh_patches[0])
	           : sizeof(patches) / sizeof(patches[0]);
	return fresh ? fresh_patches : patches;
}

static void test_params(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	assert_true(dd_param_get(dd_param_find(o, "drift_confidence"), cfg) == 0.001);
	assert_true(dd_param_get(dd_param_find(o, "warning_confidence"), cfg) == 0.005);
	assert_true(dd_param_get(dd_param_find(o, "lambda_val"), cfg) == 0.05);
	assert_true(dd_param_get(dd_param_find(o, "two_sided_test"), cfg) == 0);

	assert_int_equal(dd_param_set_number(o, cfg, "drift_confidence", 0), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "warning_confidence", 1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "lambda_val", -0.1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "lambda_val", 1.1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "two_sided_test", 0.5), -EINVAL);

	/* The extremes of lambda_val work (lambda 0: the first value stays the average). */
	const double lambdas[] = {0, 1};
	for (size_t k = 0; k < 2; k++) {
		assert_int_equal(dd_param_set_number(o, cfg, "lambda_val", lambdas[k]), 0);
		struct dd_instance *in = new_instance(cfg);
		dirty(in, 500);
		dd_instance_free(in);
	}
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {ES_TESTS, cmocka_unit_test(test_params)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
