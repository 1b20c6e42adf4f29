/* anderson detector and the k-sample helper: numbers against scipy 1.17.1's anderson_ksamp
 * (tests/detectors/data/anderson.json, written by tests/oracle/gen_anderson.py), the published
 * Scholz-Stephens values, parameters and edge cases. The shared buffer behaviour (errors,
 * snapshots) is tested for every sample-keeping detector in test_sample.c.
 *
 * Tolerances (worst error measured on the oracle data in brackets, printed by the test):
 *   statistic: 1e-12 relative to max(1, |statistic|) [~1e-15]: scipy's pairwise sums against
 *     compensated ones; the statistic is (A2kN - (k - 1)) / sigma, so near 0 the error is
 *     relative to the terms, not to the difference.
 *   p: 1e-9 absolute [~1e-16], well inside the 5e-4 the interpolation deserves: the same fit
 *     (QR here, LAPACK's SVD in numpy) of the same seven points.
 *   capped/floored: exactly as scipy warns. */
#include "../../detectors/ranktest.h"
#include "twosample_util.h"

#define STAT_TOL 1e-12
#define P_TOL    1e-9

static json_t *g_doc;

static int load(void **st)
{
	g_doc = ts_load_doc("anderson");
	return g_doc ? 0 : -1;
}

static int unload(void **st)
{
	json_decref(g_doc);
	return 0;
}

static enum dd_ad_variant variant_of(const char *v)
{
	if (strcmp(v, "midrank") == 0)
		return DD_AD_MIDRANK;
	if (strcmp(v, "right") == 0)
		return DD_AD_RIGHT;
	assert_string_equal(v, "continuous");
	return DD_AD_CONTINUOUS;
}

static double stat_err(double got, double want)
{
	return fabs(got - want) / fmax(1.0, fabs(want));
}

static void test_oracle_cases(void **st)
{
	const struct driftd_detector_ops *ops = ts_ops("anderson");
	json_t *cases = json_object_get(g_doc, "cases");
	assert_true(json_array_size(cases) > 100);
	double worst_s = 0, worst_p = 0;
	size_t i, ncap = 0, nfloor = 0;
	json_t *c;
	json_array_foreach (cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *variant = json_string_value(json_object_get(c, "variant"));
		size_t m, n;
		double *x = ts_load_sample(json_object_get(c, "x"), &m);
		double *y = ts_load_sample(json_object_get(c, "y"), &n);
		double want_s = json_number_value(json_object_get(c, "statistic"));
		double want_p = json_number_value(json_object_get(c, "p"));
		int want_cap = (int)json_integer_value(json_object_get(c, "capped"));

		void *cfg = ts_config(ops);
		assert_int_equal(dd_param_set_choice(ops, cfg, "variant", variant), 0);
		struct driftd_verdict v;
		assert_int_equal(ts_run(ops, cfg, x, m, y, n, &v), 0);
		free(cfg);

		/* the helper directly, which also tells whether p was capped */
		double *xs = ts_sorted(x, m), *ys = ts_sorted(y, n);
		const double *smp[2] = {xs, ys};
		size_t ns[2] = {m, n};
		struct dd_ad_result r;
		assert_int_equal(dd_ad_ksamp(smp, ns, 2, variant_of(variant), &r), 0);

		double es = stat_err(v.score, want_s), ep = fabs(v.p_value - want_p);
		if (es > STAT_TOL || ep > P_TOL || r.capped != want_cap || r.p != v.p_value ||
		    r.statistic != v.score)
			fail_msg(
			    "%s (%zu vs %zu, %s): statistic %.17g want %.17g (err %.3g), p %.17g "
			    "want %.17g, capped %d want %d",
			    name, m, n, variant, v.score, want_s, es, v.p_value, want_p, r.capped,
			    want_cap);
		worst_s = fmax(worst_s, es);
		worst_p = fmax(worst_p, ep);
		ncap += want_cap == 1;
		nfloor += want_cap == -1;
		assert_true(v.threshold == 0.1);
		assert_true(v.drift == (v.p_value < 0.1));
		assert_false(v.warning);
		free(xs);
		free(ys);
		free(x);
		free(y);
	}
	assert_true(ncap >= 5 && nfloor >= 5);
	printf("anderson cases: %zu (%zu capped, %zu floored), max statistic err %.3g, max |dp| "
	       "%.3g\n",
	       json_array_size(cases), ncap, nfloor, worst_s, worst_p);
}

static void test_ksamp(void **st)
{
	json_t *cases = json_object_get(g_doc, "ksamp");
	assert_true(json_array_size(cases) >= 12);
	double worst_s = 0, worst_p = 0;
	size_t i;
	json_t *c;
	json_array_foreach (cases, i, c) {
		json_t *samples = json_object_get(c, "samples");
		size_t k = json_array_size(samples);
		const double *smp[DD_AD_MAX_K];
		double *own[DD_AD_MAX_K];
		size_t ns[DD_AD_MAX_K];
		for (size_t j = 0; j < k; j++) {
			double *raw = ts_load_sample(json_array_get(samples, j), &ns[j]);
			own[j] = ts_sorted(raw, ns[j]);
			smp[j] = own[j];
			free(raw);
		}
		struct dd_ad_result r;
		const char *variant = json_string_value(json_object_get(c, "variant"));
		assert_int_equal(dd_ad_ksamp(smp, ns, k, variant_of(variant), &r), 0);
		double want_s = json_number_value(json_object_get(c, "statistic"));
		double want_p = json_number_value(json_object_get(c, "p"));
		double es = stat_err(r.statistic, want_s), ep = fabs(r.p - want_p);
		if (es > STAT_TOL || ep > P_TOL ||
		    r.capped != (int)json_integer_value(json_object_get(c, "capped")))
			fail_msg("%s k=%zu %s: statistic %.17g want %.17g, p %.17g want %.17g",
			         json_string_value(json_object_get(c, "name")), k, variant,
			         r.statistic, want_s, r.p, want_p);
		worst_s = fmax(worst_s, es);
		worst_p = fmax(worst_p, ep);
		for (size_t j = 0; j < k; j++)
			free(own[j]);
	}
	printf("k-sample cases: %zu, max statistic err %.3g, max |dp| %.3g\n",
	       json_array_size(cases), worst_s, worst_p);
}

/* Scholz & Stephens (1987) Table 4 as quoted in detectors.md: 4.449 (right), 4.480 (midrank),
 * p about 0.0021-0.0023 depending on the scipy version. */
static void test_published(void **st)
{
	static const double labs[4][8] = {
	    {38.7, 41.5, 43.8, 44.5, 45.5, 46.0, 47.7, 58.0},
	    {39.2, 39.3, 39.7, 41.4, 41.8, 42.9, 43.3, 45.8},
	    {34.0, 35.0, 39.0, 40.0, 43.0, 43.0, 44.0, 45.0},
	    {34.0, 34.8, 34.8, 35.4, 37.2, 37.8, 41.2, 42.8},
	};
	const double *smp[4] = {labs[0], labs[1], labs[2], labs[3]};
	size_t ns[4] = {8, 8, 8, 8};
	struct dd_ad_result r;
	assert_int_equal(dd_ad_ksamp(smp, ns, 4, DD_AD_RIGHT, &r), 0);
	assert_true(fabs(r.statistic - 4.449) < 5e-4);
	assert_true(r.p > 0.0021 && r.p < 0.0024 && r.capped == 0);
	assert_int_equal(dd_ad_ksamp(smp, ns, 4, DD_AD_MIDRANK, &r), 0);
	assert_true(fabs(r.statistic - 4.480) < 5e-4);
	assert_true(r.p > 0.0021 && r.p < 0.0024);
	/* scipy 1.17.1's exact outputs for the same */
	assert_true(stat_err(r.statistic, 4.479780627135335) <= STAT_TOL);
	assert_true(fabs(r.p - 0.002225442310933593) <= P_TOL);
	assert_int_equal(dd_ad_ksamp(smp, ns, 4, DD_AD_RIGHT, &r), 0);
	assert_true(stat_err(r.statistic, 4.449262232403134) <= STAT_TOL);
	assert_true(fabs(r.p - 0.002311750079827184) <= P_TOL);
}

static void test_pvalue_table(void **st)
{
	/* k = 2: the critical values are b0 + b1 + b2; at them the fit comes close to the
	 * tabulated significance levels, and outside them p is capped / floored */
	static const double crit[7] = {0.325, 1.226, 1.961, 2.718, 3.752, 4.592, 6.546};
	static const double sig[7] = {0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001};
	int cap;
	for (int i = 0; i < 7; i++) {
		/* nudged inside: b0 + b1 + b2 rounds a little off the decimal */
		double p = dd_ad_pvalue(crit[i] + (i == 0 ? 1e-9 : i == 6 ? -1e-9 : 0), 2, &cap);
		assert_int_equal(cap, 0);
		assert_true(fabs(log(p / sig[i])) < 0.15);
	}
	assert_true(dd_ad_pvalue(0.3249, 2, &cap) == 0.25 && cap == 1);
	assert_true(dd_ad_pvalue(-3, 2, &cap) == 0.25 && cap == 1);
	assert_true(dd_ad_pvalue(6.5461, 2, &cap) == 0.001 && cap == -1);
	assert_true(dd_ad_pvalue(1e9, 2, &cap) == 0.001 && cap == -1);
	/* decreasing in the statistic */
	double prev = 1;
	for (double a = 0.3251; a <= 6.545; a += 0.01) {
		double p = dd_ad_pvalue(a, 2, &cap);
		assert_true(p < prev);
		prev = p;
	}
}

static void test_params(void **st)
{
	const struct driftd_detector_ops *ops = ts_ops("anderson");
	assert_int_equal(ops->kind, DRIFTD_KIND_TWO_SAMPLE);
	assert_int_equal(ops->caps, DRIFTD_CAP_P_VALUE);
	assert_int_equal(ops->accepts, DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER));
	assert_int_equal(ops->n_params, 2);
	assert_null(ops->merge);
	void *cfg = ts_config(ops);
	const struct driftd_param *alpha = dd_param_find(ops, "alpha");
	const struct driftd_param *variant = dd_param_find(ops, "variant");
	assert_true(dd_param_get(alpha, cfg) == 0.1);
	assert_string_equal(variant->choices[(int)dd_param_get(variant, cfg)], "midrank");
	assert_int_equal(dd_param_set_number(ops, cfg, "alpha", 0.001), -ERANGE);
	assert_int_equal(dd_param_set_number(ops, cfg, "alpha", 0.2501), -ERANGE);
	assert_int_equal(dd_param_set_number(ops, cfg, "alpha", 0.25), 0);
	assert_int_equal(dd_param_set_choice(ops, cfg, "variant", "right"), 0);
	assert_int_equal(dd_param_set_choice(ops, cfg, "variant", "continuous"), 0);
	assert_int_equal(dd_param_set_choice(ops, cfg, "variant", "discrete"), -EINVAL);
	const char *why = NULL;
	assert_int_equal(ops->check_config(cfg, &why), 0);
	double bad = 0.0005;
	memcpy((char *)cfg + alpha->offset, &bad, sizeof(bad));
	assert_int_equal(ops->check_config(cfg, &why), -EINVAL);
	assert_non_null(why);
	free(cfg);
}

static void test_edges(void **st)
{
	const struct driftd_detector_ops *ops = ts_ops("anderson");
	/* fewer than 4 values in all: scipy's variance is undefined */
	struct driftd_shape small = {.reference_size = 2, .window_size = 1};
	struct dd_instance *in = NULL;
	assert_int_equal(dd_instance_new(ops, NULL, &small, &in), -EINVAL);
	/* a single distinct value: -EDOM, and the instance goes on */
	double x[3] = {2, 2, 2}, y[2] = {2, 2};
	struct driftd_verdict v;
	assert_int_equal(ts_run(ops, NULL, x, 3, y, 2, &v), -EDOM);
	double y2[2] = {2, 3};
	assert_int_equal(ts_run(ops, NULL, x, 3, y2, 2, &v), 0);
	assert_true(isfinite(v.score) && v.p_value > 0);
	/* the helper's argument checks */
	const double *smp[2] = {x, y};
	size_t ns[2] = {3, 0};
	struct dd_ad_result r;
	assert_int_equal(dd_ad_ksamp(smp, ns, 2, DD_AD_MIDRANK, &r), -EINVAL);
	ns[1] = 2;
	assert_int_equal(dd_ad_ksamp(smp, ns, 1, DD_AD_MIDRANK, &r), -EINVAL);
	assert_int_equal(dd_ad_ksamp(smp, ns, 2, (enum dd_ad_variant)3, &r), -EINVAL);
	assert_int_equal(dd_ad_ksamp(smp, ns, 2, DD_AD_MIDRANK, &r), -EINVAL); /* one value */
	/* disjoint samples: floored p, drift */
	double a[20], b[20];
	for (int i = 0; i < 20; i++) {
		a[i] = i;
		b[i] = 100 + i;
	}
	assert_int_equal(ts_run(ops, NULL, a, 20, b, 20, &v), 0);
	assert_true(v.p_value == 0.001 && v.drift);
	/* the same sample: capped p, no drift */
	assert_int_equal(ts_run(ops, NULL, a, 20, a, 20, &v), 0);
	assert_true(v.p_value == 0.25 && !v.drift && v.score < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_params),       cmocka_unit_test(test_edges),
	    cmocka_unit_test(test_pvalue_table), cmocka_unit_test(test_published),
	    cmocka_unit_test(test_ksamp),        cmocka_unit_test(test_oracle_cases),
	};
	return cmocka_run_group_tests_name("anderson", tests, load, unload);
}
