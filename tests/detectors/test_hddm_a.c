/* hddm_a against River 0.26.1's HDDMA (tests/oracle/gen_hddm_a.py -> data/hddm_a.json): the
 * shared error-stream tests (errstream_test.h) and the parameter table. */
#define ES_NAME            "hddm_a"
#define ES_SNAPSHOT_LEN    (7 * 8)
#define ES_FRESH_SCORE     0.0
#define ES_FRESH_THRESHOLD HUGE_VAL

#include "errstream_test.h"

/* Layout: f64 n and mean of z, lo and hi, then u64 flags. */
static const struct es_patch patches[] = {
    {0, true, 0, 0.5}, /* counts are whole */
    {0, true, 0, -1.0},        {0, true, 0, 0x1p54},
    {0, true, 0, (double)NAN}, {0, true, 0, (double)INFINITY},
    {8, true, 0, 1.5},         {8, true, 0, -0.1},
    {8, true, 0, (double)NAN}, {16, true, 0, 0.0}, /* no cut point after values */
    {16, true, 0, 1e15},       {24, true, 0, 2.0},
    {32, true, 0, 0.0},        {32, true, 0, 1e15},
    {48, false, 4, 0},
};

static const struct es_patch fresh_patches[] = {
    {8, true, 0, 0.5}, /* a mean without values */
    {16, true, 0, 1.0},
    {48, false, 1, 0},
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
	assert_true(dd_param_get(dd_param_find(o, "two_sided_test"), cfg) == 0);

	assert_int_equal(dd_param_set_number(o, cfg, "drift_confidence", 0), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "drift_confidence", 1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "warning_confidence", 0), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "two_sided_test", 2), -EINVAL);
	assert_int_equal(dd_param_set_number(o, cfg, "two_sided_test", 1), 0);
	assert_true(dd_param_get(dd_param_find(o, "two_sided_test"), cfg) == 1);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {ES_TESTS, cmocka_unit_test(test_params)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
