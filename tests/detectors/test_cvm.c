/* cvm detector: numbers against scipy 1.17.1's cramervonmises_2samp (tests/detectors/data/
 * cvm.json, written by tests/oracle/gen_cvm.py), the published example, parameters and edge
 * cases. Buffer behaviour shared with the other detectors is tested in test_sample.c.
 *
 * Tolerances (worst error measured on the oracle data, printed by the test):
 *   T: 1e-12 relative [0: the rank sums are exact and the rest is the same operations].
 *   exact p: 1e-12 relative [0: the same path count over the same C(m + n, m)].
 *   asymptotic p: |dp| <= 1e-4 p + 1e-14. scipy forms p = 1 - (a series of about 1), so its
 *     absolute error is a few ulps of 1 whatever p is, and GSL's K_{1/4} and glibc's lgamma
 *     differ from scipy's AMOS and cephes in the last bits: the measured absolute error is
 *     printed [2.3e-15; relative 5.2e-5 at p = 2.8e-11, 4e-6 at 4e-10 in e2e_twosample], which
 *     is 1e-4 relative or better down to p of about 2e-11; below
 *     that neither value means more than its absolute error (scipy's series also stops at
 *     terms below 1e-7, which makes its own tail non-monotone beyond x = 4). */
#include "../../detectors/ranktest.h"
#include "twosample_util.h"

#define T_TOL       1e-12
#define P_EXACT_TOL 1e-12
#define P_ASYMP_REL 1e-4
#define P_ASYMP_ABS 1e-14

static json_t *g_doc;

static int load(void **st)
{
	g_doc = ts_load_doc("cvm");
	return g_doc ? 0 : -1;
}

static int unload(void **st)
{
	json_decref(g_doc);
	return 0;
}

static enum dd_cvm_method method_of(const char *m)
{
	if (strcmp(m, "auto") == 0)
		return DD_CVM_AUTO;
	if (strcmp(m, "exact") == 0)
		return DD_CVM_EXACT;
	assert_string_equal(m, "asymptotic");
	return DD_CVM_ASYMPTOTIC;
}

static void test_oracle_cases(void **st)
{
	const struct driftd_detector_ops *ops = ts_ops("cvm");
	json_t *cases = json_object_get(g_doc, "cases");
	assert_true(json_array_size(cases) > 80);
	double worst_t = 0, worst_exact = 0, worst_abs = 0, worst_rel = 0, worst_rel_p = 0;
	size_t i, nexact = 0;
	json_t *c;
	json_array_foreach (cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *method = json_string_value(json_object_get(c, "method"));
		bool want_exact =
		    strcmp(json_string_value(json_object_get(c, "path")), "exact") == 0;
		size_t m, n;
		double *x = ts_load_sample(json_object_get(c, "x"), &m);
		double *y = ts_load_sample(json_object_get(c, "y"), &n);
		double want_t = json_number_value(json_object_get(c, "T"));
		double want_p = ts_json_num(json_object_get(c, "p"));

		void *cfg = ts_config(ops);
		assert_int_equal(dd_param_set_choice(ops, cfg, "method", method), 0);
		struct driftd_verdict v;
		assert_int_equal(ts_run(ops, cfg, x, m, y, n, &v), 0);
		free(cfg);

		double *xs = ts_sorted(x, m), *ys = ts_sorted(y, n);
		double t2, p2;
		bool exact;
		assert_int_equal(dd_cvm2(xs, m, ys, n, method_of(method), &t2, &p2, &exact), 0);

		double et = ts_rel_err(v.score, want_t);
		double ep = fabs(v.p_value - want_p);
		bool ok = et <= T_TOL && exact == want_exact && t2 == v.score && p2 == v.p_value;
		if (want_exact)
			ok = ok && ts_rel_err(v.p_value, want_p) <= P_EXACT_TOL;
		else
			ok = ok && ep <= P_ASYMP_REL * want_p + P_ASYMP_ABS;
		if (!ok)
			fail_msg(
			    "%s (%zu vs %zu, %s): T %.17g want %.17g, p %.17g want %.17g, exact "
			    "%d",
			    name, m, n, method, v.score, want_t, v.p_value, want_p, exact);
		worst_t = fmax(worst_t, et);
		if (want_exact) {
			worst_exact = fmax(worst_exact, ts_rel_err(v.p_value, want_p));
			nexact++;
		} else {
			worst_abs = fmax(worst_abs, ep);
			if (want_p > 0 && ep / want_p > worst_rel) {
				worst_rel = ep / want_p;
				worst_rel_p = want_p;
			}
		}
		assert_true(v.threshold == 0.1);
		assert_true(v.drift == (v.p_value < 0.1));
		free(xs);
		free(ys);
		free(x);
		free(y);
	}
	printf("cvm cases: %zu (%zu exact), max rel dT %.3g, exact max rel dp %.3g, asymptotic "
	       "max |dp| %.3g, max rel dp %.3g (at p = %.3g)\n",
	       json_array_size(cases), nexact, worst_t, worst_exact, worst_abs, worst_rel,
	       worst_rel_p);
}

static void test_inf_sf(void **st)
{
	json_t *pts = json_object_get(g_doc, "inf_sf");
	assert_true(json_array_size(pts) > 20);
	double worst_abs = 0;
	size_t i;
	json_t *c;
	json_array_foreach (pts, i, c) {
		double x = json_number_value(json_object_get(c, "x"));
		double want = json_number_value(json_object_get(c, "sf"));
		double got = dd_cvm_inf_sf(x);
		double e = fabs(got - want);
		if (e > P_ASYMP_REL * want + P_ASYMP_ABS)
			fail_msg("1 - cdf_inf(%.17g) = %.17g, want %.17g", x, got, want);
		worst_abs = fmax(worst_abs, e);
	}
	printf("limiting sf points: %zu, max |d| %.3g\n", json_array_size(pts), worst_abs);
	assert_true(dd_cvm_inf_sf(0.001) == 1.0);
	assert_true(dd_cvm_inf_sf((double)NAN) == 1.0); /* scipy's apply_where fill */
}

/* detectors.md: T = 0.2615740740740744, p = 0.18675430438453725 (exact path) */
static void test_published(void **st)
{
	const double x[] = {7.6, 8.4, 8.6, 8.7, 9.3, 9.9, 10.1, 10.6, 11.2};
	const double y[] = {5.2,  5.7,  5.9,  6.5,  6.8,  8.2,  9.1, 9.8,
	                    10.8, 11.3, 11.5, 12.3, 12.5, 13.4, 14.6};
	struct driftd_verdict v;
	assert_int_equal(ts_run(ts_ops("cvm"), NULL, x, 9, y, 15, &v), 0);
	assert_true(ts_rel_err(v.score, 0.2615740740740744) <= T_TOL);
	assert_true(ts_rel_err(v.p_value, 0.18675430438453725) <= P_EXACT_TOL);
	assert_false(v.drift);
}

static void test_params(void **st)
{
	const struct driftd_detector_ops *ops = ts_ops("cvm");
	assert_int_equal(ops->caps, DRIFTD_CAP_P_VALUE);
	assert_int_equal(ops->n_params, 2);
	void *cfg = ts_config(ops);
	assert_true(dd_param_get(dd_param_find(ops, "alpha"), cfg) == 0.1);
	assert_true(dd_param_get(dd_param_find(ops, "method"), cfg) == 0);
	assert_int_equal(dd_param_set_number(ops, cfg, "alpha", 1), -ERANGE);
	assert_int_equal(dd_param_set_choice(ops, cfg, "method", "asymp"), -EINVAL);
	assert_int_equal(dd_param_set_choice(ops, cfg, "method", "exact"), 0);
	/* exact needs both sizes <= 30, and every method needs 2 values per sample */
	struct driftd_shape big = {.reference_size = 31, .window_size = 10};
	struct dd_instance *in = NULL;
	assert_int_equal(dd_instance_new(ops, cfg, &big, &in), -EINVAL);
	big.reference_size = 30;
	assert_int_equal(dd_instance_new(ops, cfg, &big, &in), 0);
	dd_instance_free(in);
	struct driftd_shape one = {.reference_size = 10, .window_size = 1};
	assert_int_equal(dd_instance_new(ops, NULL, &one, &in), -EINVAL);
	free(cfg);
	double a[2] = {1, 2};
	double t, p;
	assert_int_equal(dd_cvm2(a, 1, a, 2, DD_CVM_AUTO, &t, &p, NULL), -EINVAL);
	assert_int_equal(dd_cvm2(a, 2, a, 2, (enum dd_cvm_method)3, &t, &p, NULL), -EINVAL);
}

/* The exact distribution sums to one: p(T >= min) = 1, and it matches brute force over all
 * C(m + n, m) arrangements for small sizes. */
static void test_exact_brute(void **st)
{
	for (size_t m = 2; m <= 6; m++)
		for (size_t n = 2; n <= 7; n++) {
			size_t N = m + n;
			/* every split of 0..N-1 into x (bitmask) and y gives one statistic */
			double ts[1 << 13];
			size_t cnt = 0;
			for (unsigned mask = 0; mask < (1u << N); mask++) {
				if ((size_t)__builtin_popcount(mask) != m)
					continue;
				double x[16], y[16];
				size_t a = 0, b = 0;
				for (size_t k = 0; k < N; k++) {
					if (mask & (1u << k))
						x[a++] = (double)k;
					else
						y[b++] = (double)k;
				}
				double p;
				assert_int_equal(
				    dd_cvm2(x, m, y, n, DD_CVM_EXACT, &ts[cnt], &p, NULL), 0);
				cnt++;
			}
			for (size_t k = 0; k < cnt; k += 7) {
				size_t ge = 0;
				for (size_t j = 0; j < cnt; j++)
					ge += ts[j] >= ts[k] - 1e-12;
				/* recompute p for arrangement k */
				unsigned seen = 0;
				for (unsigned mask = 0; mask < (1u << N); mask++) {
					if ((size_t)__builtin_popcount(mask) != m || seen++ != k)
						continue;
					double x[16], y[16], t, p;
					size_t a = 0, b = 0;
					for (size_t q = 0; q < N; q++) {
						if (mask & (1u << q))
							x[a++] = (double)q;
						else
							y[b++] = (double)q;
					}
					assert_int_equal(
					    dd_cvm2(x, m, y, n, DD_CVM_EXACT, &t, &p, NULL), 0);
					assert_true(fabs(p - (double)ge / (double)cnt) < 1e-15);
					break;
				}
			}
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_params),       cmocka_unit_test(test_published),
	    cmocka_unit_test(test_exact_brute),  cmocka_unit_test(test_inf_sf),
	    cmocka_unit_test(test_oracle_cases),
	};
	return cmocka_run_group_tests_name("cvm", tests, load, unload);
}
