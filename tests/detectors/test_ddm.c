/* ddm against River 0.26.1's DDM (tests/oracle/gen_ddm.py -> data/ddm.json): the shared
 * error-stream tests (errstream_test.h) and the parameter table. */
#define ES_NAME            "ddm"
#define ES_SNAPSHOT_LEN    (6 * 8)
#define ES_FRESH_SCORE     0.0
#define ES_FRESH_THRESHOLD HUGE_VAL

#include "errstream_test.h"

/* Layout: u64 n, f64 p, p_min, s_min, ps_min, u64 flags (bit 0 drift, bit 1 warning). */
static const struct es_patch patches[] = {
    {0, false, (UINT64_C(1) << 53) + 1, 0},
    {0, false, 0, 0}, /* no values, but a minimum */
    {8, true, 0, (double)NAN},
    {8, true, 0, -0.1},
    {8, true, 0, 1.5},
    {16, true, 0, 2.0},
    {16, true, 0, (double)NAN},
    {24, true, 0, -1.0},
    {32, true, 0, 0.123}, /* not p_min + s_min */
    {32, true, 0, (double)NAN},
    {32, true, 0, -(double)INFINITY},
    {40, false, 3, 0}, /* drift and warning together */
    {40, false, 4, 0},
};

static const struct es_patch fresh_patches[] = {
    {8, true, 0, 0.5},                     /* an error rate before any value */
    {16, true, 0, 0.1},                    /* p_min without a minimum */
    {24, true, 0, 0.1}, {40, false, 1, 0}, /* flags before the warm start is over */
    {40, false, 2, 0},
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
	assert_true(dd_param_get(dd_param_find(o, "warm_start"), cfg) == 30);
	assert_true(dd_param_get(dd_param_find(o, "warning_threshold"), cfg) == 2.0);
	assert_true(dd_param_get(dd_param_find(o, "drift_threshold"), cfg) == 3.0);

	assert_int_equal(dd_param_set_number(o, cfg, "warm_start", -1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "warm_start", 2.5), -EINVAL);
	assert_int_equal(dd_param_set_number(o, cfg, "warm_start", 0), 0);
	assert_int_equal(dd_param_set_number(o, cfg, "warning_threshold", -0.5), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "drift_threshold", -1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "drift_threshold", 0), 0);
	assert_int_equal(dd_param_set_number(o, cfg, "min_instances", 3), -ENOENT);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {ES_TESTS, cmocka_unit_test(test_params)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
