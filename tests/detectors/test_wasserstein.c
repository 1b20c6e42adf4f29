/* wasserstein detector: Evidently's normalised distance against scipy 1.17.1 and numpy
 * (tests/detectors/data/wasserstein.json, written by tests/oracle/gen_wasserstein.py),
 * parameters and the threshold rule. Buffer behaviour shared with the other detectors is
 * tested in test_sample.c.
 *
 * Tolerance: 1e-12 relative on the distance and the score [a few 1e-16 measured, printed]:
 * the same |F - G| * gap terms, summed compensated here and by BLAS / pairwise in numpy. */
#include "../../detectors/sample.h"
#include "twosample_util.h"

#define TOL 1e-12

static json_t *g_doc;

static int load(void **st)
{
	g_doc = ts_load_doc("wasserstein");
	return g_doc ? 0 : -1;
}

static int unload(void **st)
{
	json_decref(g_doc);
	return 0;
}

static void test_oracle_cases(void **st)
{
	const struct driftd_detector_ops *ops = ts_ops("wasserstein");
	json_t *cases = json_object_get(g_doc, "cases");
	assert_true(json_array_size(cases) > 30);
	double worst_d = 0, worst_s = 0;
	size_t i;
	json_t *c;
	json_array_foreach (cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		size_t m, n;
		double *x = ts_load_sample(json_object_get(c, "x"), &m);
		double *y = ts_load_sample(json_object_get(c, "y"), &n);
		double want_d = json_number_value(json_object_get(c, "distance"));
		double want_s = json_number_value(json_object_get(c, "score"));
		struct driftd_verdict v;
		assert_int_equal(ts_run(ops, NULL, x, m, y, n, &v), 0);
		double *xs = ts_sorted(x, m), *ys = ts_sorted(y, n);
		double l1, l2;
		dd_ecdf_distances(xs, m, ys, n, &l1, &l2);
		double ed = ts_rel_err(l1, want_d), es = ts_rel_err(v.score, want_s);
		if (want_d == 0)
			ed = l1 == 0 ? 0 : (double)INFINITY;
		if (ed > TOL || es > TOL)
			fail_msg(
			    "%s (%zu vs %zu): distance %.17g want %.17g, score %.17g want %.17g",
			    name, m, n, l1, want_d, v.score, want_s);
		worst_d = fmax(worst_d, ed);
		worst_s = fmax(worst_s, es);
		assert_true(isnan(v.p_value));
		assert_true(v.threshold == 0.1);
		assert_true(v.drift == (v.score >= 0.1));
		free(xs);
		free(ys);
		free(x);
		free(y);
	}
	printf("wasserstein cases: %zu, max rel err distance %.3g, score %.3g\n",
	       json_array_size(cases), worst_d, worst_s);
}

static void test_params_and_rule(void **st)
{
	const struct driftd_detector_ops *ops = ts_ops("wasserstein");
	assert_int_equal(ops->caps, 0);
	assert_int_equal(ops->n_params, 1);
	void *cfg = ts_config(ops);
	assert_true(dd_param_get(dd_param_find(ops, "threshold"), cfg) == 0.1);
	assert_int_equal(dd_param_set_number(ops, cfg, "threshold", -0.1), -ERANGE);
	assert_true(dd_param_set_number(ops, cfg, "threshold", INFINITY) < 0);
	/* reference 0..9 (std sqrt(8.25)), window shifted by 0.1 std: exactly at the threshold,
	 * which drifts (>=) */
	double x[10], y[10];
	double sd = sqrt(8.25);
	for (int i = 0; i < 10; i++) {
		x[i] = i;
		y[i] = i + 1.0;
	}
	assert_int_equal(dd_param_set_number(ops, cfg, "threshold", 1.0 / sd), 0);
	struct driftd_verdict v;
	assert_int_equal(ts_run(ops, cfg, x, 10, y, 10, &v), 0);
	assert_true(v.score == 1.0 / sd && v.drift);
	assert_int_equal(dd_param_set_number(ops, cfg, "threshold", nextafter(1.0 / sd, 1)), 0);
	assert_int_equal(ts_run(ops, cfg, x, 10, y, 10, &v), 0);
	assert_false(v.drift);
	free(cfg);
	/* a constant reference is normalised by 0.001 */
	double c[4] = {5, 5, 5, 5}, w[4] = {5, 5, 5, 5.004};
	assert_int_equal(ts_run(ops, NULL, c, 4, w, 4, &v), 0);
	assert_true(fabs(v.score - 1.0) < 1e-9 && v.drift);
}

/* The normalisation survives a snapshot round trip (it is recomputed, not stored). */
static void test_restore_norm(void **st)
{
	const struct driftd_detector_ops *ops = ts_ops("wasserstein");
	struct dd_instance *a = ts_new(ops, NULL, 50, 20), *b = ts_new(ops, NULL, 50, 20);
	for (int i = 0; i < 50; i++)
		assert_int_equal(dd_instance_reference_number(a, sin(i) * 3), 0);
	assert_int_equal(ops->reference_done(&a->ctx), 0);
	struct driftd_buf buf = {0};
	assert_int_equal(ops->snapshot(&a->ctx, &buf), 0);
	assert_int_equal(ops->restore(&b->ctx, 1, buf.data, buf.len), 0);
	driftd_buf_free(&buf);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(dd_instance_update_number(a, cos(i) + 0.5), 0);
		assert_int_equal(dd_instance_update_number(b, cos(i) + 0.5), 0);
	}
	struct driftd_verdict va, vb;
	assert_int_equal(ops->evaluate(&a->ctx, &va), 0);
	assert_int_equal(ops->evaluate(&b->ctx, &vb), 0);
	assert_true(va.score == vb.score && va.score > 0);
	dd_instance_free(a);
	dd_instance_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_params_and_rule),
	    cmocka_unit_test(test_restore_norm),
	    cmocka_unit_test(test_oracle_cases),
	};
	return cmocka_run_group_tests_name("wasserstein", tests, load, unload);
}
