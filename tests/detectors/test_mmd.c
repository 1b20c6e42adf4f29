/* mmd against an independent numpy implementation (tests/oracle/gen_mmd.py -> data/mmd.json)
 * that also reproduces the permutation draws: MMD^2 to 1e-10 relative [worst measured on the
 * oracle data: printed by the test, 4.0e-13], the permutation count and hence the p-value
 * exactly, the drift flag exactly. Then statistical checks of the p-value on generated data
 * (uniform under the null, minimal under a shift), determinism, snapshots, errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mv_common.h"

#define DATA_FILE DRIFTD_TEST_DATA "/detectors/data/mmd.json"
#define MMD2_TOL  1e-10

static const struct driftd_detector_ops *ops(void)
{
	const struct driftd_detector_ops *o = driftd_detector_find("mmd");
	assert_non_null(o);
	return o;
}

static void test_ops_table(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	assert_int_equal(o->kind, DRIFTD_KIND_MULTIVARIATE);
	assert_int_equal(o->caps, DRIFTD_CAP_P_VALUE);
	assert_int_equal(o->accepts, DRIFTD_ACCEPTS(DRIFTD_VALUE_VECTOR));
	assert_null(o->merge);
	void *cfg = calloc(1, o->config_size);
	dd_params_defaults(o, cfg);
	assert_true(dd_param_get(dd_param_find(o, "alpha"), cfg) == 0.05);
	assert_true(dd_param_get(dd_param_find(o, "n_permutations"), cfg) == 100);
	assert_true(dd_param_get(dd_param_find(o, "max_samples"), cfg) == 500);
	assert_true(dd_param_get(dd_param_find(o, "max_dim"), cfg) == 1024);
	/* 19 permutations can give p = 1/20 at best, which is not below 0.05 */
	assert_int_equal(dd_param_set_number(o, cfg, "n_permutations", 19), 0);
	const char *why = NULL;
	assert_int_equal(o->check_config(cfg, &why), -EINVAL);
	assert_non_null(why);
	assert_int_equal(dd_param_set_number(o, cfg, "n_permutations", 20), 0);
	assert_int_equal(o->check_config(cfg, &why), 0);
	assert_int_equal(dd_param_set_number(o, cfg, "max_samples", 2001), -ERANGE);
	free(cfg);
}

static void test_oracle_cases(void **unused)
{
	json_t *cases = mv_load(DATA_FILE);
	double worst = 0;
	size_t ci;
	json_t *c;
	json_array_foreach (cases, ci, c) {
		void *cfg = mv_config(ops(), json_object_get(c, "params"));
		json_t *ref = json_object_get(c, "reference");
		json_t *wins = json_object_get(c, "windows");
		size_t rs = (size_t)json_integer_value(json_object_get(c, "reference_size"));
		size_t ws = (size_t)json_integer_value(json_object_get(c, "window_size"));
		uint64_t seed = strtoull(json_string_value(json_object_get(c, "seed")), NULL, 10);
		struct dd_instance *in = mv_new(ops(), cfg, rs, ws, seed);
		mv_feed(in, ref, 0, json_array_size(ref), true);
		assert_int_equal(in->ops->reference_done(&in->ctx), 0);
		size_t wi;
		json_t *w;
		json_array_foreach (wins, wi, w) {
			json_t *vecs = json_object_get(w, "vectors");
			size_t nv = json_array_size(vecs);
			mv_feed(in, vecs, 0, nv / 2, false);
			/* a restored copy must reach the same verdict */
			struct dd_instance *copy = mv_clone(in, cfg);
			mv_feed(in, vecs, nv / 2, nv, false);
			mv_feed(copy, vecs, nv / 2, nv, false);
			struct driftd_verdict v, v2;
			assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
			assert_int_equal(copy->ops->evaluate(&copy->ctx, &v2), 0);
			assert_true(mv_same_verdict(&v, &v2));
			/* evaluate does not consume anything */
			assert_int_equal(in->ops->evaluate(&in->ctx, &v2), 0);
			assert_true(mv_same_verdict(&v, &v2));

			double want = json_number_value(json_object_get(w, "mmd2"));
			double err = mv_rel(v.score, want);
			if (err > worst)
				worst = err;
			if (getenv("MV_VERBOSE"))
				printf("  %s w%zu rel %.3g\n", mv_name(c), wi, err);
			if (err > MMD2_TOL)
				fail_msg("%s w%zu: mmd2 %.17g, numpy %.17g (rel %.3g)", mv_name(c),
				         wi, v.score, want, err);
			double p = json_number_value(json_object_get(w, "p"));
			if (v.p_value != p)
				fail_msg("%s w%zu: p %.17g, oracle %.17g", mv_name(c), wi,
				         v.p_value, p);
			assert_int_equal(v.drift, json_is_true(json_object_get(w, "drift")));
			assert_true(v.threshold == json_number_value(json_object_get(
			                               json_object_get(c, "params"), "alpha")));
			assert_false(v.warning);
			in->ops->window_reset(&in->ctx);
			dd_instance_free(copy);
		}
		dd_instance_free(in);
		free(cfg);
	}
	printf("mmd: worst MMD^2 relative error vs the oracle %.3g (tolerance %.0e)\n", worst,
	       MMD2_TOL);
	json_decref(cases);
}

/* p-values of one window of n vectors against a reference of m, dimension d, the window's
 * first element shifted by `shift`; fresh data per seed. */
static double run_once(const void *cfg, uint64_t seed, size_t m, size_t n, size_t d, double shift)
{
	struct mv_rng r = {.s = seed * 7919 + 17};
	struct dd_instance *in = mv_new(ops(), cfg, m, n, seed);
	double x[16];
	assert_true(d <= 16);
	for (size_t i = 0; i < m; i++) {
		for (size_t k = 0; k < d; k++)
			x[k] = mv_normal(&r);
		assert_int_equal(mv_push(in, x, d, true), 0);
	}
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < d; k++)
			x[k] = mv_normal(&r) + (k == 0 ? shift : 0);
		assert_int_equal(mv_push(in, x, d, false), 0);
	}
	struct driftd_verdict v;
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
	dd_instance_free(in);
	return v.p_value;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Under the null the permutation p-value is (super-)uniform: with B = 99 it takes values
 * j / 100 with P(p <= j / 100) = j / 100. 300 runs of 40 vs 40 vectors in 5 dimensions. */
static void test_null_uniform(void **unused)
{
	void *cfg = mv_config(ops(), NULL);
	assert_int_equal(dd_param_set_number(ops(), cfg, "n_permutations", 99), 0);
	enum { RUNS = 300 };
	double p[RUNS];
	size_t below = 0;
	double mean = 0;
	for (size_t i = 0; i < RUNS; i++) {
		p[i] = run_once(cfg, 1000 + i, 40, 40, 5, 0.0);
		below += p[i] <= 0.05;
		mean += p[i] / RUNS;
	}
	qsort(p, RUNS, sizeof(double), cmp_double);
	/* Kolmogorov distance to U(0, 1) (evaluated at the atoms j / 100) */
	double dmax = 0;
	for (size_t i = 0; i < RUNS; i++) {
		double lo = fabs((double)i / RUNS - p[i]), hi = fabs((double)(i + 1) / RUNS - p[i]);
		dmax = fmax(dmax, fmax(lo, hi));
	}
	printf("mmd null: %zu of %d p <= 0.05, mean p %.3f, KS distance to uniform %.3f\n", below,
	       RUNS, mean, dmax);
	/* binomial(300, 0.05): mean 15, sd 3.8; KS 5% critical value 0.078 at n = 300 */
	assert_true(below >= 5 && below <= 27);
	assert_true(mean > 0.44 && mean < 0.56);
	assert_true(dmax < 0.1);
	free(cfg);
}

/* A clear shift gives the smallest possible p-value, 1 / (1 + B), every time. */
static void test_shift_detected(void **unused)
{
	void *cfg = mv_config(ops(), NULL);
	for (uint64_t s = 0; s < 20; s++) {
		double p = run_once(cfg, 5000 + s, 100, 100, 4, 1.0);
		assert_true(p == 1.0 / 101);
	}
	free(cfg);
}

/* The same window under another window index or seed gets other permutations; the same index
 * and seed the same ones. */
static void test_permutation_streams(void **unused)
{
	json_t *cases = mv_load(DATA_FILE);
	json_t *c = mv_find(cases, "null_d4");
	void *cfg = mv_config(ops(), json_object_get(c, "params"));
	json_t *ref = json_object_get(c, "reference");
	json_t *vecs = json_object_get(json_array_get(json_object_get(c, "windows"), 0), "vectors");
	size_t nr = json_array_size(ref), nv = json_array_size(vecs);
	double p[2][4];
	for (uint64_t seed = 1; seed <= 2; seed++) {
		struct dd_instance *in = mv_new(ops(), cfg, nr, nv, seed);
		mv_feed(in, ref, 0, nr, true);
		assert_int_equal(in->ops->reference_done(&in->ctx), 0);
		for (int w = 0; w < 4; w++) {
			mv_feed(in, vecs, 0, nv, false);
			struct driftd_verdict v;
			assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
			p[seed - 1][w] = v.p_value;
			in->ops->window_reset(&in->ctx);
		}
		dd_instance_free(in);
	}
	/* seed 1, window 0 is the oracle case */
	assert_true(p[0][0] == json_number_value(json_object_get(
	                           json_array_get(json_object_get(c, "windows"), 0), "p")));
	int differ = 0;
	for (int w = 0; w < 4; w++) {
		differ += p[0][w] != p[1][w];
		if (w)
			differ += p[0][w] != p[0][0];
	}
	assert_true(differ >= 5);
	free(cfg);
	json_decref(cases);
}

static void test_errors(void **unused)
{
	void *cfg = mv_config(ops(), NULL);
	struct dd_instance *in = NULL;
	struct driftd_shape shape = {.reference_size = 1, .window_size = 5};
	assert_int_equal(dd_instance_new(ops(), cfg, &shape, &in), -EINVAL);
	shape = (struct driftd_shape){.reference_size = 5, .window_size = 1};
	assert_int_equal(dd_instance_new(ops(), cfg, &shape, &in), -EINVAL);

	in = mv_new(ops(), cfg, 4, 3, 9);
	const double a[3] = {1, 2, 3}, b[3] = {1, 2, 4};
	struct driftd_verdict v;
	assert_int_equal(mv_push(in, a, 3, false), -EINVAL);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), -EINVAL);
	assert_int_equal(in->ops->reference_done(&in->ctx), -ENODATA);
	assert_int_equal(mv_push(in, a, 3, true), 0);
	assert_int_equal(mv_push(in, a, 2, true), -EDOM); /* dimension fixed at 3 */
	assert_int_equal(in->ops->reference_done(&in->ctx), -ENODATA);
	assert_int_equal(mv_push(in, b, 3, true), 0);
	assert_int_equal(mv_push(in, a, 3, true), 0);
	assert_int_equal(mv_push(in, b, 3, true), 0);
	assert_int_equal(mv_push(in, b, 3, true), -ENOSPC);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), -EINVAL);
	assert_int_equal(mv_push(in, a, 3, true), -EINVAL);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), -ENODATA);
	assert_int_equal(mv_push(in, a, 3, false), 0);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), -ENODATA);
	assert_int_equal(mv_push(in, b, 3, false), 0);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
	assert_true(v.p_value > 0 && v.p_value <= 1);
	assert_int_equal(mv_push(in, b, 3, false), 0);
	assert_int_equal(mv_push(in, b, 3, false), -ENOSPC);
	dd_instance_free(in);

	/* max_dim bounds the first vector's dimension */
	assert_int_equal(dd_param_set_number(ops(), cfg, "max_dim", 2), 0);
	in = mv_new(ops(), cfg, 4, 3, 9);
	assert_int_equal(mv_push(in, a, 3, true), -EDOM);
	assert_int_equal(mv_push(in, a, 2, true), 0);
	dd_instance_free(in);
	free(cfg);
}

/* Huge finite elements: a reference whose distances overflow has no bandwidth. */
static void test_extreme_values(void **unused)
{
	void *cfg = mv_config(ops(), NULL);
	struct dd_instance *in = mv_new(ops(), cfg, 3, 3, 1);
	const double big[2] = {1e300, -1e300}, neg[2] = {-1e300, 1e300}, z[2] = {0, 0};
	assert_int_equal(mv_push(in, big, 2, true), 0);
	assert_int_equal(mv_push(in, neg, 2, true), 0);
	assert_int_equal(mv_push(in, big, 2, true), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), -ERANGE);
	dd_instance_free(in);

	/* tiny bandwidth: duplicates in the window still give finite kernels */
	in = mv_new(ops(), cfg, 3, 3, 1);
	const double t1[2] = {0, 1e-300}, t2[2] = {0, 2e-300};
	assert_int_equal(mv_push(in, z, 2, true), 0);
	assert_int_equal(mv_push(in, t1, 2, true), 0);
	assert_int_equal(mv_push(in, t2, 2, true), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(mv_push(in, z, 2, false), 0);
	struct driftd_verdict v;
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
	assert_true(isfinite(v.score) && v.p_value > 0 && v.p_value <= 1);
	dd_instance_free(in);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_table),           cmocka_unit_test(test_oracle_cases),
	    cmocka_unit_test(test_null_uniform),        cmocka_unit_test(test_shift_detected),
	    cmocka_unit_test(test_permutation_streams), cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_extreme_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
