/* energy detector: scipy 1.17.1's energy_distance (tests/detectors/data/energy.json, written by
 * tests/oracle/gen_energy.py), parameters and the threshold rule. Buffer behaviour shared with
 * the other detectors is tested in test_sample.c.
 *
 * Tolerance: 1e-12 relative [a few 1e-16 measured, printed]: the same (F - G)^2 * gap terms,
 * summed compensated here and by BLAS in numpy, then the same two square roots. */
#include "twosample_util.h"

#define TOL 1e-12

static json_t *g_doc;

static int load(void **st)
{
	g_doc = ts_load_doc("energy");
	return g_doc ? 0 : -1;
}

static int unload(void **st)
{
	json_decref(g_doc);
	return 0;
}

static void test_oracle_cases(void **st)
{
	const struct driftd_detector_ops *ops = ts_ops("energy");
	json_t *cases = json_object_get(g_doc, "cases");
	assert_true(json_array_size(cases) > 30);
	double worst = 0;
	size_t i;
	json_t *c;
	json_array_foreach (cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		size_t m, n;
		double *x = ts_load_sample(json_object_get(c, "x"), &m);
		double *y = ts_load_sample(json_object_get(c, "y"), &n);
		double want = json_number_value(json_object_get(c, "distance"));
		struct driftd_verdict v;
		assert_int_equal(ts_run(ops, NULL, x, m, y, n, &v), 0);
		double e =
		    want == 0 ? (v.score == 0 ? 0 : (double)INFINITY) : ts_rel_err(v.score, want);
		if (e > TOL)
			fail_msg("%s (%zu vs %zu): distance %.17g want %.17g (rel %.3g)", name, m,
			         n, v.score, want, e);
		worst = fmax(worst, e);
		assert_true(isnan(v.p_value));
		assert_true(v.threshold == 0.1);
		assert_true(v.drift == (v.score > 0.1));
		free(x);
		free(y);
	}
	printf("energy cases: %zu, max rel err %.3g\n", json_array_size(cases), worst);
}

static void test_params_and_rule(void **st)
{
	const struct driftd_detector_ops *ops = ts_ops("energy");
	assert_int_equal(ops->caps, 0);
	assert_int_equal(ops->n_params, 1);
	void *cfg = ts_config(ops);
	assert_true(dd_param_get(dd_param_find(ops, "threshold"), cfg) == 0.1);
	assert_int_equal(dd_param_set_number(ops, cfg, "threshold", -1), -ERANGE);
	/* scipy's example: energy_distance([0], [2]) = 2.0000000000000004 = sqrt(2) sqrt(2);
	 * strictly above the threshold drifts, equal does not (Evidently's rule) */
	double x[1] = {0}, y[1] = {2};
	struct driftd_verdict v;
	assert_int_equal(ts_run(ops, cfg, x, 1, y, 1, &v), 0);
	assert_true(v.score == 2.0000000000000004 && v.drift);
	assert_int_equal(dd_param_set_number(ops, cfg, "threshold", 2.0000000000000004), 0);
	assert_int_equal(ts_run(ops, cfg, x, 1, y, 1, &v), 0);
	assert_false(v.drift);
	free(cfg);
	/* scale: multiplying every value by 4 doubles the distance */
	double a[5] = {0, 1, 3, 4, 9}, b[4] = {2, 2.5, 7, 8}, a4[5], b4[4];
	for (int i = 0; i < 5; i++)
		a4[i] = 4 * a[i];
	for (int i = 0; i < 4; i++)
		b4[i] = 4 * b[i];
	struct driftd_verdict v4;
	assert_int_equal(ts_run(ops, NULL, a, 5, b, 4, &v), 0);
	assert_int_equal(ts_run(ops, NULL, a4, 5, b4, 4, &v4), 0);
	assert_true(fabs(v4.score - 2 * v.score) < 1e-14);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_params_and_rule),
	    cmocka_unit_test(test_oracle_cases),
	};
	return cmocka_run_group_tests_name("energy", tests, load, unload);
}
