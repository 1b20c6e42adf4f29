/* mannwhitney detector: numbers against scipy 1.17.1's mannwhitneyu (two-sided, method auto;
 * tests/detectors/data/mannwhitney.json, written by tests/oracle/gen_mannwhitney.py), the
 * exact distribution on its own, parameters and edge cases. Buffer behaviour shared with the
 * other detectors is tested in test_sample.c.
 *
 * Tolerances (worst error measured on the oracle data, printed by the test):
 *   U: exact [0: sums of midranks are exact].
 *   p: 1e-12 relative. Exact path [~1e-13 where scipy's counts pass 2^64 and it continues in
 *     floating point, 0 below; 1.1e-13 on the distribution points]; asymptotic [8e-15:
 *     glibc's erfc against cephes's, whose exp(-x^2) carries x^2 ulps in the far tail]. */
#include "../../detectors/ranktest.h"
#include "twosample_util.h"

#define P_TOL 1e-12

static json_t *g_doc;

static int load(void **st)
{
	g_doc = ts_load_doc("mannwhitney");
	return g_doc ? 0 : -1;
}

static int unload(void **st)
{
	json_decref(g_doc);
	return 0;
}

static void test_oracle_cases(void **st)
{
	const struct driftd_detector_ops *ops = ts_ops("mannwhitney");
	json_t *cases = json_object_get(g_doc, "cases");
	assert_true(json_array_size(cases) > 80);
	double worst_exact = 0, worst_asymp = 0;
	size_t i, nexact = 0;
	json_t *c;
	json_array_foreach (cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		bool want_exact =
		    strcmp(json_string_value(json_object_get(c, "path")), "exact") == 0;
		size_t m, n;
		double *x = ts_load_sample(json_object_get(c, "x"), &m);
		double *y = ts_load_sample(json_object_get(c, "y"), &n);
		double want_u = json_number_value(json_object_get(c, "U1"));
		double want_p = ts_json_num(json_object_get(c, "p"));

		struct driftd_verdict v;
		assert_int_equal(ts_run(ops, NULL, x, m, y, n, &v), 0);
		double *xs = ts_sorted(x, m), *ys = ts_sorted(y, n);
		struct dd_mwu_result r;
		assert_int_equal(dd_mwu(xs, m, ys, n, DD_MWU_AUTO, &r), 0);

		double ep = ts_rel_err(v.p_value, want_p);
		if (r.u1 != want_u || v.score != want_u / ((double)m * (double)n) || ep > P_TOL ||
		    r.exact != want_exact || r.p != v.p_value)
			fail_msg(
			    "%s (%zu vs %zu): U %.17g want %.17g, p %.17g want %.17g (rel %.3g), "
			    "exact %d want %d",
			    name, m, n, r.u1, want_u, v.p_value, want_p, ep, r.exact, want_exact);
		if (want_exact) {
			worst_exact = fmax(worst_exact, ep);
			nexact++;
		} else {
			worst_asymp = fmax(worst_asymp, ep);
		}
		assert_true(v.threshold == 0.05);
		assert_true(v.drift == (v.p_value < 0.05));
		assert_true(v.score >= 0 && v.score <= 1);
		free(xs);
		free(ys);
		free(x);
		free(y);
	}
	printf("mannwhitney cases: %zu (%zu exact), max rel dp %.3g exact, %.3g asymptotic\n",
	       json_array_size(cases), nexact, worst_exact, worst_asymp);
}

static void test_exact_points(void **st)
{
	json_t *pts = json_object_get(g_doc, "exact");
	assert_true(json_array_size(pts) > 100);
	double worst = 0;
	size_t i;
	json_t *c;
	json_array_foreach (pts, i, c) {
		size_t m = (size_t)json_integer_value(json_object_get(c, "m"));
		size_t n = (size_t)json_integer_value(json_object_get(c, "n"));
		uint64_t u = (uint64_t)json_integer_value(json_object_get(c, "u"));
		double want = json_number_value(json_object_get(c, "p"));
		/* two-sided: scipy takes the larger of U and m n - U */
		if (u < m * n - u)
			u = m * n - u;
		double p;
		assert_int_equal(dd_mwu_exact_p(m, n, u, &p), 0);
		double e = ts_rel_err(p, want);
		if (e > P_TOL)
			fail_msg("exact p(%zu, %zu, U = %llu) = %.17g, want %.17g", m, n,
			         (unsigned long long)u, p, want);
		worst = fmax(worst, e);
		/* symmetric in the sample order */
		double q;
		assert_int_equal(dd_mwu_exact_p(n, m, u, &q), 0);
		assert_true(p == q);
	}
	printf("exact distribution points: %zu, max rel err %.3g\n", json_array_size(pts), worst);
}

/* scipy's documented example: U = 17 of 20 pairs, p = 1/9 exactly (2 * 7 / 126). */
static void test_published(void **st)
{
	const double males[] = {19, 22, 16, 29, 24}, females[] = {20, 11, 17, 12};
	struct driftd_verdict v;
	assert_int_equal(ts_run(ts_ops("mannwhitney"), NULL, males, 5, females, 4, &v), 0);
	assert_true(v.score == 17.0 / 20);
	assert_true(ts_rel_err(v.p_value, 0.1111111111111111) <= P_TOL);
	assert_false(v.drift);
	double p;
	assert_int_equal(dd_mwu_exact_p(5, 4, 17, &p), 0);
	assert_true(p == 0.1111111111111111);
}

static void test_params(void **st)
{
	const struct driftd_detector_ops *ops = ts_ops("mannwhitney");
	assert_int_equal(ops->caps, DRIFTD_CAP_P_VALUE);
	assert_int_equal(ops->n_params, 1);
	void *cfg = ts_config(ops);
	assert_true(dd_param_get(dd_param_find(ops, "alpha"), cfg) == 0.05);
	assert_int_equal(dd_param_set_number(ops, cfg, "alpha", 0), -ERANGE);
	const char *why = NULL;
	assert_int_equal(ops->check_config(cfg, &why), 0);
	free(cfg);
	double p;
	assert_int_equal(dd_mwu_exact_p(0, 5, 0, &p), -EINVAL);
	assert_int_equal(dd_mwu_exact_p(20, 25, 300, &p), -EINVAL);
	assert_int_equal(dd_mwu_exact_p(3, 4, 13, &p), -EINVAL);
	struct dd_mwu_result r;
	double a[1] = {1};
	assert_int_equal(dd_mwu(a, 0, a, 1, DD_MWU_AUTO, &r), -EINVAL);
}

/* The Gaussian-binomial counts against brute force over every arrangement, and the 128-bit
 * path against the long double one where both apply. */
static void test_exact_brute(void **st)
{
	for (size_t m = 1; m <= 6; m++)
		for (size_t n = m; n <= 9; n++) {
			size_t N = m + n;
			uint64_t hist[64] = {0}, total = 0;
			for (unsigned mask = 0; mask < (1u << N); mask++) {
				if ((size_t)__builtin_popcount(mask) != m)
					continue;
				/* U of x: pairs with x above y, x at the set bits */
				uint64_t u = 0, ys = 0;
				for (size_t k = 0; k < N; k++) {
					if (mask & (1u << k))
						u += ys;
					else
						ys++;
				}
				hist[u]++;
				total++;
			}
			for (uint64_t u = (m * n + 1) / 2; u <= m * n; u++) {
				uint64_t ge = 0;
				for (uint64_t k = u; k <= m * n; k++)
					ge += hist[k];
				double p;
				assert_int_equal(dd_mwu_exact_p(m, n, u, &p), 0);
				double want = fmin(1.0, 2.0 * (double)ge / (double)total);
				assert_true(fabs(p - want) <= 1e-15);
			}
		}
}

static void test_effect_size(void **st)
{
	/* window entirely above the reference: score 0, entirely below: 1, same: 0.5 */
	double a[10], b[10];
	for (int i = 0; i < 10; i++) {
		a[i] = i;
		b[i] = 100 + i;
	}
	const struct driftd_detector_ops *ops = ts_ops("mannwhitney");
	struct driftd_verdict v;
	assert_int_equal(ts_run(ops, NULL, a, 10, b, 10, &v), 0);
	assert_true(v.score == 0 && v.drift);
	assert_int_equal(ts_run(ops, NULL, b, 10, a, 10, &v), 0);
	assert_true(v.score == 1 && v.drift);
	assert_int_equal(ts_run(ops, NULL, a, 10, a, 10, &v), 0);
	assert_true(v.score == 0.5 && !v.drift);
	/* all values equal: zero variance, scipy gives p = 1 (z = -inf) */
	double c[5] = {2, 2, 2, 2, 2};
	assert_int_equal(ts_run(ops, NULL, c, 5, c, 3, &v), 0);
	assert_true(v.score == 0.5 && v.p_value == 1.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_params),       cmocka_unit_test(test_published),
	    cmocka_unit_test(test_effect_size),  cmocka_unit_test(test_exact_brute),
	    cmocka_unit_test(test_exact_points), cmocka_unit_test(test_oracle_cases),
	};
	return cmocka_run_group_tests_name("mannwhitney", tests, load, unload);
}
