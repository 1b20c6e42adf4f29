/* eddm against River 0.26.1's EDDM (tests/oracle/gen_eddm.py -> data/eddm.json): the shared
 * error-stream tests (errstream_test.h) and the parameter table. */
#define ES_NAME            "eddm"
#define ES_SNAPSHOT_LEN    (7 * 8)
#define ES_FRESH_SCORE     1.0
#define ES_FRESH_THRESHOLD 0.9

#include "errstream_test.h"

/* Layout: u64 n, last_error, n_errors, f64 mean, m2, q_max, u64 flags. */
static const struct es_patch patches[] = {
    {0, false, (UINT64_C(1) << 53) + 1, 0},
    {8, false, UINT64_C(1) << 60, 0},  /* last error after the last value */
    {16, false, UINT64_C(1) << 60, 0}, /* more errors than values */
    {16, false, 0, 0},                 /* no errors, but a last one */
    {24, true, 0, (double)NAN},
    {24, true, 0, (double)INFINITY},
    {24, true, 0, 0.5}, /* distances are at least 1 */
    {32, true, 0, -1.0},
    {32, true, 0, (double)NAN},
    {40, true, 0, 0.5},
    {40, true, 0, (double)NAN},
    {40, true, 0, (double)INFINITY},
    {48, false, 4, 0},
};

static const struct es_patch fresh_patches[] = {
    {8, false, 1, 0}, {24, true, 0, 1.0}, {32, true, 0, 1.0}, {40, true, 0, 2.0}, {48, false, 1, 0},
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
	assert_true(dd_param_get(dd_param_find(o, "alpha"), cfg) == 0.95);
	assert_true(dd_param_get(dd_param_find(o, "beta"), cfg) == 0.9);
	const char *why = NULL;
	assert_int_equal(o->check_config(cfg, &why), 0);

	assert_int_equal(dd_param_set_number(o, cfg, "warm_start", -1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "alpha", 1.5), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "beta", -0.1), -ERANGE);
	/* River refuses alpha < beta. */
	assert_int_equal(dd_param_set_number(o, cfg, "beta", 0.96), 0);
	assert_int_equal(o->check_config(cfg, &why), -EINVAL);
	assert_non_null(why);
	struct dd_instance *in = NULL;
	assert_int_equal(dd_instance_new(o, cfg, NULL, &in), -EINVAL);
	assert_int_equal(dd_param_set_number(o, cfg, "alpha", 0.96), 0);
	assert_int_equal(o->check_config(cfg, &why), 0);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {ES_TESTS, cmocka_unit_test(test_params)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
