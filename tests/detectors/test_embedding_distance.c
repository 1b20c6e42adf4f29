/* embedding_distance against tests/oracle/gen_embedding_distance.py (data/embedding_distance.json):
 * reference and window means bit for bit (math.fsum(column) / n), distances to 1e-12 relative
 * [worst measured: printed by the test, 3.5e-16] against exact rational arithmetic, the drift
 * flag exactly. Then order independence, exact merge, errors and snapshots. */
#include <float.h>
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

#define DATA_FILE DRIFTD_TEST_DATA "/detectors/data/embedding_distance.json"
#define DIST_TOL  1e-12

static const struct driftd_detector_ops *ops(void)
{
	const struct driftd_detector_ops *o = driftd_detector_find("embedding_distance");
	assert_non_null(o);
	return o;
}

/* The reference mean from a ready snapshot (u64 phase, dim, n, then dim x f64). */
static void check_ref_mean(const struct dd_instance *in, json_t *want, const char *what)
{
	size_t len;
	uint8_t *s = mv_snap(in, &len);
	size_t d = json_array_size(want);
	assert_true(len >= 24 + 8 * d);
	assert_int_equal(mv_le(s), 1);
	assert_int_equal(mv_le(s + 8), d);
	for (size_t i = 0; i < d; i++) {
		double got = mv_f64(s + 24 + 8 * i);
		double w = json_number_value(json_array_get(want, i));
		if (memcmp(&got, &w, sizeof(double)) != 0)
			fail_msg("%s: mean[%zu] %.17g, fsum %.17g", what, i, got, w);
	}
	free(s);
}

static void test_ops_table(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	assert_int_equal(o->kind, DRIFTD_KIND_MULTIVARIATE);
	assert_int_equal(o->caps, DRIFTD_CAP_MERGE);
	assert_int_equal(o->accepts, DRIFTD_ACCEPTS(DRIFTD_VALUE_VECTOR));
	void *cfg = calloc(1, o->config_size);
	dd_params_defaults(o, cfg);
	assert_true(dd_param_get(dd_param_find(o, "metric"), cfg) == 0);
	assert_true(dd_param_get(dd_param_find(o, "threshold"), cfg) == 0.2);
	assert_true(dd_param_get(dd_param_find(o, "max_dim"), cfg) == 1024);
	assert_int_equal(dd_param_set_choice(o, cfg, "metric", "manhattan"), -EINVAL);
	assert_int_equal(dd_param_set_number(o, cfg, "threshold", -1), -ERANGE);
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
		size_t nr = json_array_size(ref);
		struct dd_instance *in = mv_new(ops(), cfg, nr, 1000, 1);
		mv_feed(in, ref, 0, nr, true);
		assert_int_equal(in->ops->reference_done(&in->ctx), 0);
		check_ref_mean(in, json_object_get(c, "reference_mean"), mv_name(c));
		size_t wi;
		json_t *w;
		json_array_foreach (json_object_get(c, "windows"), wi, w) {
			json_t *vecs = json_object_get(w, "vectors");
			size_t nv = json_array_size(vecs);
			mv_feed(in, vecs, 0, nv, false);
			struct driftd_verdict v;
			assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
			double want = json_number_value(json_object_get(w, "distance"));
			double err = want == 0 ? fabs(v.score) : mv_rel(v.score, want);
			if (err > worst)
				worst = err;
			if (getenv("MV_VERBOSE"))
				printf("  %s w%zu rel %.3g\n", mv_name(c), wi, err);
			if (err > DIST_TOL)
				fail_msg("%s w%zu: distance %.17g, exact %.17g (rel %.3g)",
				         mv_name(c), wi, v.score, want, err);
			assert_int_equal(v.drift, json_is_true(json_object_get(w, "drift")));
			assert_true(isnan(v.p_value));
			in->ops->window_reset(&in->ctx);

			/* the window's mean, bit for bit: the same vectors as a reference */
			struct dd_instance *wm = mv_new(ops(), cfg, nv, 1, 1);
			mv_feed(wm, vecs, 0, nv, true);
			assert_int_equal(wm->ops->reference_done(&wm->ctx), 0);
			check_ref_mean(wm, json_object_get(w, "mean"), mv_name(c));
			dd_instance_free(wm);
		}
		dd_instance_free(in);
		free(cfg);
	}
	printf("embedding_distance: worst distance relative error %.3g (tolerance %.0e)\n", worst,
	       DIST_TOL);
	json_decref(cases);
}

static struct dd_instance *with_reference(const void *cfg, json_t *c)
{
	json_t *ref = json_object_get(c, "reference");
	size_t nr = json_array_size(ref);
	struct dd_instance *in = mv_new(ops(), cfg, nr, 1000, 1);
	mv_feed(in, ref, 0, nr, true);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	return in;
}

/* Sums are exact: any order, any split over merged instances, the same bits. */
static void test_order_and_merge(void **unused)
{
	json_t *cases = mv_load(DATA_FILE);
	static const char *const names[] = {"gauss_d8_cosine", "cancellation_exact_sums",
	                                    "subnormal", "unit_d384_cosine"};
	for (size_t k = 0; k < 4; k++) {
		json_t *c = mv_find(cases, names[k]);
		void *cfg = mv_config(ops(), json_object_get(c, "params"));
		json_t *vecs =
		    json_object_get(json_array_get(json_object_get(c, "windows"), 0), "vectors");
		size_t nv = json_array_size(vecs);
		struct dd_instance *whole = with_reference(cfg, c);
		mv_feed(whole, vecs, 0, nv, false);
		struct driftd_verdict vw, v;
		assert_int_equal(whole->ops->evaluate(&whole->ctx, &vw), 0);

		/* reversed order */
		struct dd_instance *rev = with_reference(cfg, c);
		for (size_t i = nv; i-- > 0;)
			mv_feed(rev, vecs, i, i + 1, false);
		assert_int_equal(rev->ops->evaluate(&rev->ctx, &v), 0);
		assert_true(mv_same_verdict(&v, &vw));
		assert_true(mv_same_state(rev, whole));

		/* three parts merged as ((a + b) + c) and (c + (b + a)), and into a fresh state */
		struct dd_instance *p[3];
		for (int j = 0; j < 3; j++) {
			p[j] = with_reference(cfg, c);
			mv_feed(p[j], vecs, nv * (size_t)j / 3, nv * (size_t)(j + 1) / 3, false);
		}
		struct dd_instance *x = mv_clone(p[0], cfg), *y = mv_clone(p[2], cfg);
		struct dd_instance *ba = mv_clone(p[1], cfg);
		assert_int_equal(ops()->merge(&x->ctx, &p[1]->ctx), 0);
		assert_int_equal(ops()->merge(&x->ctx, &p[2]->ctx), 0);
		assert_int_equal(ops()->merge(&ba->ctx, &p[0]->ctx), 0);
		assert_int_equal(ops()->merge(&y->ctx, &ba->ctx), 0);
		assert_true(mv_same_state(x, y));
		assert_true(mv_same_state(x, whole));
		assert_int_equal(x->ops->evaluate(&x->ctx, &v), 0);
		assert_true(mv_same_verdict(&v, &vw));
		struct dd_instance *fresh = mv_new(ops(), cfg, 10, 10, 1);
		assert_int_equal(ops()->merge(&fresh->ctx, &x->ctx), 0);
		assert_true(mv_same_state(fresh, whole));

		for (int j = 0; j < 3; j++)
			dd_instance_free(p[j]);
		dd_instance_free(x);
		dd_instance_free(y);
		dd_instance_free(ba);
		dd_instance_free(fresh);
		dd_instance_free(whole);
		dd_instance_free(rev);
		free(cfg);
	}
	json_decref(cases);
}

static void test_merge_mismatch(void **unused)
{
	void *cfg = mv_config(ops(), NULL);
	struct dd_instance *a = mv_new(ops(), cfg, 2, 2, 1), *b = mv_new(ops(), cfg, 2, 2, 1);
	struct dd_instance *c = mv_new(ops(), cfg, 2, 2, 1), *e = mv_new(ops(), cfg, 2, 2, 1);
	const double x[3] = {1, 2, 3}, y[3] = {1, 2, 3.5};
	assert_int_equal(mv_push(a, x, 3, true), 0);
	assert_int_equal(mv_push(b, y, 3, true), 0);
	assert_int_equal(mv_push(c, x, 2, true), 0);
	/* a state still collecting its reference cannot be merged from */
	assert_int_equal(ops()->merge(&e->ctx, &a->ctx), -EINVAL);
	assert_int_equal(a->ops->reference_done(&a->ctx), 0);
	assert_int_equal(b->ops->reference_done(&b->ctx), 0);
	assert_int_equal(c->ops->reference_done(&c->ctx), 0);
	assert_int_equal(ops()->merge(&a->ctx, &b->ctx), -EINVAL); /* other reference */
	assert_int_equal(ops()->merge(&a->ctx, &c->ctx), -EINVAL); /* other dimension */
	assert_int_equal(ops()->merge(&a->ctx, &e->ctx), 0);       /* fresh: identity */
	dd_instance_free(a);
	dd_instance_free(b);
	dd_instance_free(c);
	dd_instance_free(e);
	free(cfg);
}

static void test_errors(void **unused)
{
	void *cfg = mv_config(ops(), NULL);
	struct dd_instance *in = mv_new(ops(), cfg, 3, 3, 1);
	const double a[2] = {1, 2}, big[2] = {DBL_MAX, 1};
	struct driftd_verdict v;
	assert_int_equal(in->ops->reference_done(&in->ctx), -ENODATA);
	assert_int_equal(mv_push(in, a, 2, false), -EINVAL);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), -EINVAL);
	assert_int_equal(mv_push(in, a, 2, true), 0);
	assert_int_equal(mv_push(in, a, 1, true), -EDOM);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), -EINVAL);
	assert_int_equal(mv_push(in, a, 2, true), -EINVAL);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), -ENODATA);
	/* sums of finite values may exceed DBL_MAX: exact, but the mean is not representable
	 * this way */
	assert_int_equal(mv_push(in, big, 2, false), 0);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
	assert_true(isfinite(v.score));
	assert_int_equal(mv_push(in, big, 2, false), 0);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), -ERANGE);
	const double nbig[2] = {-DBL_MAX, 1};
	assert_int_equal(mv_push(in, nbig, 2, false), 0);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0); /* back in range: DBL_MAX / 3 */
	assert_true(isfinite(v.score));
	dd_instance_free(in);

	assert_int_equal(dd_param_set_number(ops(), cfg, "max_dim", 1), 0);
	in = mv_new(ops(), cfg, 3, 3, 1);
	assert_int_equal(mv_push(in, a, 2, true), -EDOM);
	assert_int_equal(mv_push(in, a, 1, true), 0);
	dd_instance_free(in);
	free(cfg);
}

/* Hand-made snapshots: the accumulator must be in normal form. */
static void test_snapshot_normal_form(void **unused)
{
	void *cfg = mv_config(ops(), NULL);
	struct dd_instance *in = mv_new(ops(), cfg, 3, 3, 1);
	const double a[1] = {1.0};
	assert_int_equal(mv_push(in, a, 1, true), 0);
	size_t len;
	uint8_t *s = mv_snap(in, &len);
	/* phase 0, dim 1, n 1, lo, len 1, digit: 1.0 = 2^1074 units, digit 33 = 2^18 */
	assert_int_equal(len, 6 * 8);
	assert_int_equal(mv_le(s + 24), 33);
	assert_int_equal(mv_le(s + 32), 1);
	assert_int_equal(mv_le(s + 40), 1u << 18);
	struct dd_instance *b = mv_new(ops(), cfg, 3, 3, 1);
	assert_int_equal(ops()->restore(&b->ctx, 1, s, len), 0);
	assert_true(mv_same_state(in, b));
	/* a digit of 2^32 or more, a zero boundary digit, a sum without vectors: rejected */
	uint8_t t[6 * 8];
	memcpy(t, s, len);
	t[44] = 1; /* digit 2^32 + 2^18 */
	assert_int_equal(ops()->restore(&b->ctx, 1, t, len), -EBADMSG);
	memcpy(t, s, len);
	memset(t + 40, 0, 8);
	assert_int_equal(ops()->restore(&b->ctx, 1, t, len), -EBADMSG);
	memcpy(t, s, len);
	memset(t + 16, 0, 8);
	assert_int_equal(ops()->restore(&b->ctx, 1, t, len), -EBADMSG);
	/* rejected restores leave the state as after init */
	struct dd_instance *fresh = mv_new(ops(), cfg, 3, 3, 1);
	assert_true(mv_same_state(b, fresh));
	free(s);
	dd_instance_free(in);
	dd_instance_free(b);
	dd_instance_free(fresh);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_table),       cmocka_unit_test(test_oracle_cases),
	    cmocka_unit_test(test_order_and_merge), cmocka_unit_test(test_merge_mismatch),
	    cmocka_unit_test(test_errors),          cmocka_unit_test(test_snapshot_normal_form),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
