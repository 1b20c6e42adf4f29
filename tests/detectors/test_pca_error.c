/* pca_error against an independent numpy implementation (tests/oracle/gen_pca_error.py ->
 * data/pca_error.json; numpy.linalg.eigh against our GSL gsl_eigen_symmv): the number of
 * components exactly, the reference error, the window error and the score to 1e-10 relative
 * [worst measured: printed by the test, 1.5e-15], the drift flag exactly. Then errors,
 * snapshots, degenerate references. */
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

#define DATA_FILE DRIFTD_TEST_DATA "/detectors/data/pca_error.json"
#define ERR_TOL   1e-10

static const struct driftd_detector_ops *ops(void)
{
	const struct driftd_detector_ops *o = driftd_detector_find("pca_error");
	assert_non_null(o);
	return o;
}

/* From a ready snapshot (u64 phase, dim, k, dim x f64 mean, k x dim x f64 components, f64
 * reference error, u64 window count, f64 window error sum). */
struct fitted {
	size_t dim, k;
	double ref_err, win_n, win_sum;
};

static struct fitted read_fit(const struct dd_instance *in)
{
	size_t len;
	uint8_t *s = mv_snap(in, &len);
	struct fitted f;
	assert_true(len >= 24);
	assert_int_equal(mv_le(s), 1);
	f.dim = (size_t)mv_le(s + 8);
	f.k = (size_t)mv_le(s + 16);
	size_t off = 24 + 8 * (f.dim + f.k * f.dim);
	assert_int_equal(len, off + 24);
	f.ref_err = mv_f64(s + off);
	f.win_n = (double)mv_le(s + off + 8);
	f.win_sum = mv_f64(s + off + 16);
	free(s);
	return f;
}

static double track(double *worst, double got, double want, const char *what, const char *name)
{
	double e = want == 0 ? fabs(got) : mv_rel(got, want);
	if (e > *worst)
		*worst = e;
	if (getenv("MV_VERBOSE"))
		printf("  %s %s rel %.3g\n", name, what, e);
	if (e > ERR_TOL)
		fail_msg("%s: %s %.17g, numpy %.17g (rel %.3g)", name, what, got, want, e);
	return e;
}

static void test_ops_table(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	assert_int_equal(o->kind, DRIFTD_KIND_MULTIVARIATE);
	assert_int_equal(o->caps, 0);
	assert_int_equal(o->accepts, DRIFTD_ACCEPTS(DRIFTD_VALUE_VECTOR));
	void *cfg = calloc(1, o->config_size);
	dd_params_defaults(o, cfg);
	assert_true(dd_param_get(dd_param_find(o, "threshold"), cfg) == 1.5);
	assert_true(dd_param_get(dd_param_find(o, "n_components"), cfg) == 0);
	assert_true(dd_param_get(dd_param_find(o, "explained_variance"), cfg) == 0.65);
	assert_true(dd_param_get(dd_param_find(o, "max_samples"), cfg) == 1000);
	assert_true(dd_param_get(dd_param_find(o, "max_dim"), cfg) == 1024);
	assert_int_equal(dd_param_set_number(o, cfg, "explained_variance", 1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "max_samples", 1), -ERANGE);
	free(cfg);
}

static void test_oracle_cases(void **unused)
{
	json_t *cases = mv_load(DATA_FILE);
	double worst = 0;
	size_t ci;
	json_t *c;
	json_array_foreach (cases, ci, c) {
		const char *name = mv_name(c);
		void *cfg = mv_config(ops(), json_object_get(c, "params"));
		json_t *ref = json_object_get(c, "reference");
		size_t nr = json_array_size(ref);
		struct dd_instance *in = mv_new(ops(), cfg, nr, 1000, 1);
		mv_feed(in, ref, 0, nr / 2, true);
		/* mid-reference snapshot round trip */
		struct dd_instance *copy = mv_clone(in, cfg);
		mv_feed(in, ref, nr / 2, nr, true);
		mv_feed(copy, ref, nr / 2, nr, true);
		assert_int_equal(in->ops->reference_done(&in->ctx), 0);
		assert_int_equal(copy->ops->reference_done(&copy->ctx), 0);
		assert_true(mv_same_state(in, copy));
		dd_instance_free(copy);

		struct fitted f = read_fit(in);
		if (f.k != (size_t)json_integer_value(json_object_get(c, "k")))
			fail_msg("%s: k %zu, numpy %lld", name, f.k,
			         (long long)json_integer_value(json_object_get(c, "k")));
		track(&worst, f.ref_err, json_number_value(json_object_get(c, "ref_err")),
		      "reference error", name);
		size_t wi;
		json_t *w;
		json_array_foreach (json_object_get(c, "windows"), wi, w) {
			json_t *vecs = json_object_get(w, "vectors");
			mv_feed(in, vecs, 0, json_array_size(vecs), false);
			struct driftd_verdict v;
			assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
			f = read_fit(in);
			track(&worst, f.win_sum / f.win_n,
			      json_number_value(json_object_get(w, "error")), "window error", name);
			track(&worst, v.score, json_number_value(json_object_get(w, "score")),
			      "score", name);
			assert_int_equal(v.drift, json_is_true(json_object_get(w, "drift")));
			assert_true(isnan(v.p_value));
			in->ops->window_reset(&in->ctx);
			assert_int_equal(in->ops->evaluate(&in->ctx, &v), -ENODATA);
		}
		dd_instance_free(in);
		free(cfg);
	}
	printf("pca_error: worst relative error vs numpy %.3g (tolerance %.0e)\n", worst, ERR_TOL);
	json_decref(cases);
}

static void test_errors(void **unused)
{
	void *cfg = mv_config(ops(), NULL);
	struct dd_instance *in = NULL;
	struct driftd_shape shape = {.reference_size = 1};
	assert_int_equal(dd_instance_new(ops(), cfg, &shape, &in), -EINVAL);

	in = mv_new(ops(), cfg, 3, 0, 1);
	const double a[2] = {1, 2}, b[2] = {2, 1}, c[2] = {0, 0}, huge[2] = {1e200, 0};
	struct driftd_verdict v;
	assert_int_equal(mv_push(in, a, 2, false), -EINVAL);
	assert_int_equal(in->ops->reference_done(&in->ctx), -ENODATA);
	assert_int_equal(mv_push(in, a, 2, true), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), -ENODATA);
	assert_int_equal(mv_push(in, b, 3, true), -EDOM);
	assert_int_equal(mv_push(in, b, 2, true), 0);
	assert_int_equal(mv_push(in, c, 2, true), 0);
	assert_int_equal(mv_push(in, c, 2, true), -ENOSPC);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), -EINVAL);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), -EINVAL);
	assert_int_equal(mv_push(in, a, 2, true), -EINVAL);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), -ENODATA);
	/* an error that overflows is rejected, leaving the window as it was */
	assert_int_equal(mv_push(in, huge, 2, false), -EDOM);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), -ENODATA);
	assert_int_equal(mv_push(in, a, 2, false), 0);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
	assert_true(isfinite(v.score));
	dd_instance_free(in);

	/* a covariance that overflows */
	in = mv_new(ops(), cfg, 2, 0, 1);
	const double h1[2] = {1e200, 0}, h2[2] = {-1e200, 0};
	assert_int_equal(mv_push(in, h1, 2, true), 0);
	assert_int_equal(mv_push(in, h2, 2, true), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), -ERANGE);
	dd_instance_free(in);
	free(cfg);
}

/* A reference without variance keeps no component; every reference error is then 0, and a
 * window scores 0 when it sits on the reference point and +inf otherwise. */
static void test_constant_reference(void **unused)
{
	void *cfg = mv_config(ops(), NULL);
	struct dd_instance *in = mv_new(ops(), cfg, 5, 0, 1);
	const double p[3] = {1, -2, 0.5}, q[3] = {1, -2, 0.75};
	for (int i = 0; i < 5; i++)
		assert_int_equal(mv_push(in, p, 3, true), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	struct fitted f = read_fit(in);
	assert_int_equal(f.k, 0);
	assert_true(f.ref_err == 0);
	struct driftd_verdict v;
	assert_int_equal(mv_push(in, p, 3, false), 0);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
	assert_true(v.score == 0 && !v.drift);
	assert_int_equal(mv_push(in, q, 3, false), 0);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
	assert_true(isinf(v.score) && v.drift);
	dd_instance_free(in);
	free(cfg);
}

/* One dimension: the single component reconstructs everything, score 0. */
static void test_one_dimension(void **unused)
{
	void *cfg = mv_config(ops(), NULL);
	struct dd_instance *in = mv_new(ops(), cfg, 4, 0, 1);
	for (int i = 0; i < 4; i++) {
		double x = i * 0.5;
		assert_int_equal(mv_push(in, &x, 1, true), 0);
	}
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	double y = 100;
	assert_int_equal(mv_push(in, &y, 1, false), 0);
	struct driftd_verdict v;
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
	assert_true(v.score == 0 && !v.drift);
	assert_int_equal(read_fit(in).k, 1);
	dd_instance_free(in);
	free(cfg);
}

/* Hostile ready snapshots: sizes and values checked; an accepted one must be usable. */
static void test_snapshot_ready(void **unused)
{
	json_t *cases = mv_load(DATA_FILE);
	json_t *c = mv_find(cases, "lowrank_d8");
	void *cfg = mv_config(ops(), json_object_get(c, "params"));
	json_t *ref = json_object_get(c, "reference");
	size_t nr = json_array_size(ref);
	struct dd_instance *in = mv_new(ops(), cfg, nr, 0, 1);
	mv_feed(in, ref, 0, nr, true);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	json_t *w = json_object_get(json_array_get(json_object_get(c, "windows"), 1), "vectors");
	mv_feed(in, w, 0, 10, false);
	size_t len;
	uint8_t *s = mv_snap(in, &len);
	struct dd_instance *b = mv_new(ops(), cfg, nr, 0, 1);
	/* k larger than the dimension */
	uint8_t *t = malloc(len);
	memcpy(t, s, len);
	t[16] = 9;
	assert_int_equal(ops()->restore(&b->ctx, 1, t, len), -EBADMSG);
	/* negative reference error */
	memcpy(t, s, len);
	t[len - 17] |= 0x80;
	assert_int_equal(ops()->restore(&b->ctx, 1, t, len), -EBADMSG);
	/* the genuine one, then the same verdicts */
	assert_int_equal(ops()->restore(&b->ctx, 1, s, len), 0);
	mv_feed(in, w, 10, json_array_size(w), false);
	mv_feed(b, w, 10, json_array_size(w), false);
	struct driftd_verdict v1, v2;
	assert_int_equal(in->ops->evaluate(&in->ctx, &v1), 0);
	assert_int_equal(b->ops->evaluate(&b->ctx, &v2), 0);
	assert_true(mv_same_verdict(&v1, &v2));
	free(t);
	free(s);
	dd_instance_free(in);
	dd_instance_free(b);
	free(cfg);
	json_decref(cases);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_table),     cmocka_unit_test(test_oracle_cases),
	    cmocka_unit_test(test_errors),        cmocka_unit_test(test_constant_reference),
	    cmocka_unit_test(test_one_dimension), cmocka_unit_test(test_snapshot_ready),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
