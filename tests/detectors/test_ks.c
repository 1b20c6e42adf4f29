/* ks detector: numbers against scipy 1.17.1 (tests/detectors/data/ks.json, written by
 * tests/oracle/gen_ks.py) and the plugin contract (errors, snapshots, parameters).
 *
 * Tolerances (worst error measured on the oracle data in brackets):
 *   D: 1e-14 absolute [0: the same count/size differences as scipy].
 *   exact p (alternating series, lattice paths): 1e-12 relative [0: the same operations].
 *   kstwo.sf branches smirnov, Ruben-Gambino, Pelz-Good and the trivial ones: 1e-12 [0].
 *   Durbin and Pomeranz: 1e-11 [1.8e-12]. scipy sums their matrix products and convolutions
 *   inside OpenBLAS, in an order that depends on the kernel (so the generator pins one), and
 *   we cannot reproduce it: the CDF agrees to a few ulps, and SF = 1 - CDF turns that into
 *   k * 1.1e-16 / SF relative, SF > 4e-4 in these branches (n <= 140 and n x^2 <= 4, or
 *   n x^2 < 2.2). 1e-11 allows some 45 ulps of CDF disagreement. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <driftd/detector.h>

#include "../../detectors/ksdist.h"
#include "host.h"

#define D_ABS_TOL   1e-14
#define P_EXACT_TOL 1e-12
#define P_ASYMP_TOL 1e-11

static json_t *g_doc;

static const struct driftd_detector_ops *ks_ops(void)
{
	const struct driftd_detector_ops *ops = driftd_detector_find("ks");
	assert_non_null(ops);
	return ops;
}

static double p_tolerance(const char *branch)
{
	if (strcmp(branch, "durbin") == 0 || strcmp(branch, "pomeranz") == 0)
		return P_ASYMP_TOL;
	return P_EXACT_TOL;
}

static double rel_err(double got, double want)
{
	if (got == want)
		return 0;
	if (want == 0)
		return INFINITY;
	return fabs(got - want) / fabs(want);
}

/* NaN from JSON null */
static double json_num(const json_t *v)
{
	return json_is_null(v) ? (double)NAN : json_number_value(v);
}

/* A sample: a list of numbers, or {"start", "step", "count"} for start + i * step. */
static double *load_sample(const json_t *spec, size_t *n)
{
	if (json_is_array(spec)) {
		*n = json_array_size(spec);
		double *a = malloc((*n ? *n : 1) * sizeof(double));
		assert_non_null(a);
		for (size_t i = 0; i < *n; i++)
			a[i] = json_number_value(json_array_get(spec, i));
		return a;
	}
	assert_true(json_is_object(spec));
	double start = json_number_value(json_object_get(spec, "start"));
	double step = json_number_value(json_object_get(spec, "step"));
	*n = (size_t)json_integer_value(json_object_get(spec, "count"));
	double *a = malloc(*n * sizeof(double));
	assert_non_null(a);
	for (size_t i = 0; i < *n; i++) {
		volatile double t = (double)i * step; /* numpy rounds the product, then the sum */
		a[i] = start + t;
	}
	return a;
}

static void *ks_config(const char *method, double alpha)
{
	const struct driftd_detector_ops *ops = ks_ops();
	void *cfg = calloc(1, ops->config_size);
	assert_non_null(cfg);
	dd_params_defaults(ops, cfg);
	assert_int_equal(dd_param_set_choice(ops, cfg, "method", method), 0);
	assert_int_equal(dd_param_set_number(ops, cfg, "alpha", alpha), 0);
	return cfg;
}

static struct dd_instance *ks_new(const char *method, size_t m, size_t n)
{
	void *cfg = ks_config(method, 0.05);
	struct driftd_shape shape = {.reference_size = m, .window_size = n, .seed = 1};
	struct dd_instance *in = NULL;
	assert_int_equal(dd_instance_new(ks_ops(), cfg, &shape, &in), 0);
	free(cfg);
	return in;
}

static int ks_eval(struct dd_instance *in, struct driftd_verdict *v)
{
	return in->ops->evaluate(&in->ctx, v);
}

static void ks_feed(struct dd_instance *in, const double *x, size_t m, const double *y, size_t n)
{
	for (size_t i = 0; i < m; i++)
		assert_int_equal(dd_instance_reference_number(in, x[i]), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(dd_instance_update_number(in, y[i]), 0);
}

static int load_doc(void **st)
{
	json_error_t err;
	g_doc = json_load_file(DRIFTD_TEST_DATA "/detectors/data/ks.json", 0, &err);
	if (!g_doc) {
		fprintf(stderr, "ks.json: %s:%d: %s\n", err.source, err.line, err.text);
		return -1;
	}
	return 0;
}

static int free_doc(void **st)
{
	json_decref(g_doc);
	g_doc = NULL;
	return 0;
}

/* ---------------------------------------------------------------------------------------- */

static void test_oracle_cases(void **st)
{
	json_t *cases = json_object_get(g_doc, "cases");
	assert_true(json_array_size(cases) > 100);
	double worst_d = 0, worst_exact = 0, worst_asymp = 0;
	size_t i;
	json_t *c;
	json_array_foreach (cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *method = json_string_value(json_object_get(c, "method"));
		const char *branch = json_string_value(json_object_get(c, "branch"));
		const char *path = json_string_value(json_object_get(c, "path"));
		size_t m, n;
		double *x = load_sample(json_object_get(c, "x"), &m);
		double *y = load_sample(json_object_get(c, "y"), &n);
		double want_d = json_number_value(json_object_get(c, "D"));
		double want_p = json_num(json_object_get(c, "p"));

		struct dd_instance *in = ks_new(method, m, n);
		ks_feed(in, x, m, y, n);
		struct driftd_verdict v;
		assert_int_equal(ks_eval(in, &v), 0);

		/* the same through the distribution API, which also reports the path */
		double d2 = v.score, p2;
		bool exact;
		enum dd_ks2_method mm = strcmp(method, "exact") == 0   ? DD_KS2_EXACT
		                        : strcmp(method, "asymp") == 0 ? DD_KS2_ASYMP
		                                                       : DD_KS2_AUTO;
		assert_int_equal(dd_ks2_pvalue((int64_t)m, (int64_t)n, &d2, mm, &p2, &exact), 0);

		double ed = fabs(v.score - want_d);
		double ep = isnan(want_p) ? (isnan(v.p_value) ? 0 : (double)INFINITY)
		                          : rel_err(v.p_value, want_p);
		double tol = p_tolerance(branch);
		if (ed > D_ABS_TOL || ep > tol || exact != (strcmp(path, "exact") == 0) ||
		    !(p2 == v.p_value || (isnan(p2) && isnan(v.p_value))))
			fail_msg("%s (%zu vs %zu, %s, %s): D %.17g want %.17g, p %.17g want %.17g "
			         "(rel %.3g, tol %.0e), exact %d",
			         name, m, n, method, branch, v.score, want_d, v.p_value, want_p, ep,
			         tol, exact);
		if (ed > worst_d)
			worst_d = ed;
		if (tol == P_EXACT_TOL && ep > worst_exact)
			worst_exact = ep;
		if (tol == P_ASYMP_TOL && ep > worst_asymp)
			worst_asymp = ep;
		assert_true(v.threshold == 0.05);
		assert_true(v.drift == (v.p_value < 0.05));
		dd_instance_free(in);
		free(x);
		free(y);
	}
	printf("ks cases: %zu, max |dD| %.3g, max rel dp %.3g (1e-12 class), %.3g (1e-11 class)\n",
	       json_array_size(cases), worst_d, worst_exact, worst_asymp);
}

static void test_kstwo_points(void **st)
{
	json_t *pts = json_object_get(g_doc, "kstwo");
	assert_true(json_array_size(pts) > 100);
	double worst_exact = 0, worst_asymp = 0;
	size_t i;
	json_t *c;
	json_array_foreach (pts, i, c) {
		int64_t n = json_integer_value(json_object_get(c, "n"));
		double x = json_number_value(json_object_get(c, "x"));
		double want = json_number_value(json_object_get(c, "sf"));
		const char *branch = json_string_value(json_object_get(c, "branch"));
		double got = dd_kolmogn_sf(n, x);
		double tol = p_tolerance(branch);
		double e = rel_err(got, want);
		if (e > tol)
			fail_msg("kstwo.sf(%.17g, %lld) [%s] = %.17g, want %.17g (rel %.3g)", x,
			         (long long)n, branch, got, want, e);
		if (tol == P_EXACT_TOL && e > worst_exact)
			worst_exact = e;
		if (tol == P_ASYMP_TOL && e > worst_asymp)
			worst_asymp = e;
	}
	printf("kstwo points: %zu, max rel err %.3g (1e-12 class), %.3g (1e-11 class)\n",
	       json_array_size(pts), worst_exact, worst_asymp);
}

static void test_smirnov_points(void **st)
{
	json_t *pts = json_object_get(g_doc, "smirnov");
	assert_true(json_array_size(pts) > 100);
	double worst = 0;
	size_t i;
	json_t *c;
	json_array_foreach (pts, i, c) {
		int n = (int)json_integer_value(json_object_get(c, "n"));
		double x = json_number_value(json_object_get(c, "x"));
		double want = json_number_value(json_object_get(c, "sf"));
		double got = dd_smirnov_sf(n, x);
		double e = rel_err(got, want);
		if (e > P_EXACT_TOL)
			fail_msg("smirnov(%d, %.17g) = %.17g, want %.17g (rel %.3g)", n, x, got,
			         want, e);
		if (e > worst)
			worst = e;
	}
	printf("smirnov points: %zu, max rel err %.3g\n", json_array_size(pts), worst);
}

/* The five ks_2samp values quoted in docs (scipy's own documentation and tests). */
static void test_published(void **st)
{
	static const struct {
		double x[16], y[16];
		size_t m, n;
		double d, p;
	} pub[] = {
	    {{1.01, 2.01}, {1, 2, 3}, 2, 3, 1.0 / 3, 1.0},
	    {{0.99, 1.99}, {1, 2, 3}, 2, 3, 2.0 / 3, 0.6},
	    {{1.01, 2.01}, {1, 2, 3, 4}, 2, 4, 2.0 / 4, 14.0 / 15},
	    {{2, 2, 2, 3, 3, 3, 3, 5, 5, 5, 5, 5, 6, 6, 6, 6},
	     {3, 3, 3, 4, 4, 4, 4, 6, 6, 6, 6, 6, 7, 7, 7, 7},
	     16,
	     16,
	     5.0 / 16,
	     0.4262934613454952},
	};
	for (size_t k = 0; k < sizeof(pub) / sizeof(pub[0]); k++) {
		struct dd_instance *in = ks_new("auto", pub[k].m, pub[k].n);
		ks_feed(in, pub[k].x, pub[k].m, pub[k].y, pub[k].n);
		struct driftd_verdict v;
		assert_int_equal(ks_eval(in, &v), 0);
		assert_true(fabs(v.score - pub[k].d) <= D_ABS_TOL);
		assert_true(rel_err(v.p_value, pub[k].p) <= P_EXACT_TOL);
		dd_instance_free(in);
	}
	/* linspace(1, 100, 100) vs linspace(1, 100, 110) + 20.1 */
	double x[100], y[110];
	for (int i = 0; i < 100; i++)
		x[i] = 1 + i * (99.0 / 99);
	for (int i = 0; i < 110; i++)
		y[i] = 1 + i * (99.0 / 109) + 20.1;
	y[109] = 100 + 20.1;
	struct dd_instance *in = ks_new("auto", 100, 110);
	ks_feed(in, x, 100, y, 110);
	struct driftd_verdict v;
	assert_int_equal(ks_eval(in, &v), 0);
	assert_true(fabs(v.score - 232.0 / 1100) <= D_ABS_TOL);
	/* detectors.md quotes 0.015739183865607353 (an older scipy); 1.17.1 gives ...606153 */
	assert_true(rel_err(v.p_value, 0.015739183865606153) <= P_EXACT_TOL);
	assert_true(rel_err(v.p_value, 0.015739183865607353) <= 1e-12);
	assert_true(v.drift);
	dd_instance_free(in);
}

/* ---------------------------------------------------------------------------------------- */

static void test_params(void **st)
{
	const struct driftd_detector_ops *ops = ks_ops();
	assert_int_equal(ops->abi_version, DRIFTD_DETECTOR_ABI);
	assert_int_equal(ops->struct_size, sizeof(struct driftd_detector_ops));
	assert_string_equal(ops->name, "ks");
	assert_int_equal(ops->kind, DRIFTD_KIND_TWO_SAMPLE);
	assert_int_equal(ops->caps, DRIFTD_CAP_P_VALUE | DRIFTD_CAP_EFFECT);
	assert_int_equal(ops->accepts, DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER));
	assert_null(ops->merge);
	assert_int_equal(ops->snapshot_version, 1);
	assert_int_equal(ops->n_params, 2);

	void *cfg = calloc(1, ops->config_size);
	assert_non_null(cfg);
	dd_params_defaults(ops, cfg);
	const struct driftd_param *alpha = dd_param_find(ops, "alpha");
	const struct driftd_param *method = dd_param_find(ops, "method");
	assert_non_null(alpha);
	assert_non_null(method);
	assert_true(dd_param_get(alpha, cfg) == 0.05);
	assert_true(dd_param_get(method, cfg) == 0);
	assert_string_equal(method->choices[(int)method->def], "auto");
	assert_non_null(alpha->description);
	assert_non_null(method->description);

	assert_int_equal(dd_param_set_number(ops, cfg, "alpha", 0.0), -ERANGE);
	assert_int_equal(dd_param_set_number(ops, cfg, "alpha", 1.0), -ERANGE);
	assert_int_equal(dd_param_set_number(ops, cfg, "alpha", -0.5), -ERANGE);
	assert_int_equal(dd_param_set_number(ops, cfg, "alpha", 1.5), -ERANGE);
	assert_int_equal(dd_param_set_number(ops, cfg, "alpha", NAN), -EINVAL);
	assert_true(dd_param_get(alpha, cfg) == 0.05);
	assert_int_equal(dd_param_set_number(ops, cfg, "alpha", 0.01), 0);
	assert_true(dd_param_get(alpha, cfg) == 0.01);
	assert_int_equal(dd_param_set_number(ops, cfg, "alpha", 1e-300), 0);
	assert_int_equal(dd_param_set_number(ops, cfg, "method", 1), -EINVAL);
	assert_int_equal(dd_param_set_choice(ops, cfg, "method", "exact"), 0);
	assert_true(dd_param_get(method, cfg) == 1);
	assert_int_equal(dd_param_set_choice(ops, cfg, "method", "asymp"), 0);
	assert_true(dd_param_get(method, cfg) == 2);
	assert_int_equal(dd_param_set_choice(ops, cfg, "method", "approx"), -EINVAL);
	assert_int_equal(dd_param_set_number(ops, cfg, "beta", 1), -ENOENT);

	const char *why = NULL;
	assert_int_equal(ops->check_config(cfg, &why), 0);
	dd_params_defaults(ops, cfg);
	assert_int_equal(ops->check_config(cfg, &why), 0);
	double bad_alpha = 1.0;
	memcpy((char *)cfg + alpha->offset, &bad_alpha, sizeof(bad_alpha));
	assert_int_equal(ops->check_config(cfg, &why), -EINVAL);
	assert_non_null(why);
	free(cfg);
}

static void test_alpha_decides(void **st)
{
	/* p = 0.6 for published case 2: drift at alpha 0.7, not at 0.6 (strict) */
	double x[] = {0.99, 1.99}, y[] = {1, 2, 3};
	for (int k = 0; k < 2; k++) {
		void *cfg = ks_config("auto", k ? 0.6 : 0.7);
		struct driftd_shape shape = {.reference_size = 2, .window_size = 3};
		struct dd_instance *in = NULL;
		assert_int_equal(dd_instance_new(ks_ops(), cfg, &shape, &in), 0);
		free(cfg);
		ks_feed(in, x, 2, y, 3);
		struct driftd_verdict v;
		assert_int_equal(ks_eval(in, &v), 0);
		assert_true(v.p_value == 0.6);
		assert_true(v.threshold == (k ? 0.6 : 0.7));
		assert_true(v.drift == (k == 0));
		assert_true(v.score == 2.0 / 3);
		dd_instance_free(in);
	}
}

static void test_init_shape(void **st)
{
	struct dd_instance *in = NULL;
	struct driftd_shape s0 = {.reference_size = 0, .window_size = 10};
	struct driftd_shape s1 = {.reference_size = 10, .window_size = 0};
	struct driftd_shape s2 = {.reference_size = (size_t)INT32_MAX + 1, .window_size = 10};
	assert_int_equal(dd_instance_new(ks_ops(), NULL, &s0, &in), -EINVAL);
	assert_int_equal(dd_instance_new(ks_ops(), NULL, &s1, &in), -EINVAL);
	assert_int_equal(dd_instance_new(ks_ops(), NULL, &s2, &in), -EINVAL);
	assert_int_equal(dd_instance_new(ks_ops(), NULL, NULL, &in), -EINVAL);
}

static void assert_same_verdict(const struct driftd_verdict *a, const struct driftd_verdict *b)
{
	assert_memory_equal(&a->score, &b->score, sizeof(double));
	assert_memory_equal(&a->threshold, &b->threshold, sizeof(double));
	assert_memory_equal(&a->p_value, &b->p_value, sizeof(double));
	assert_int_equal(a->drift, b->drift);
	assert_int_equal(a->warning, b->warning);
}

static void snapshot_of(struct dd_instance *in, struct driftd_buf *b)
{
	*b = (struct driftd_buf){0};
	assert_int_equal(in->ops->snapshot(&in->ctx, b), 0);
}

static void assert_same_state(struct dd_instance *a, struct dd_instance *b)
{
	struct driftd_buf sa, sb;
	snapshot_of(a, &sa);
	snapshot_of(b, &sb);
	assert_int_equal(sa.len, sb.len);
	assert_memory_equal(sa.data, sb.data, sa.len);
	driftd_buf_free(&sa);
	driftd_buf_free(&sb);
}

static void test_edom(void **st)
{
	struct dd_instance *in = ks_new("auto", 4, 4);
	struct dd_instance *ref = ks_new("auto", 4, 4);
	const double bad[] = {NAN, INFINITY, -INFINITY};
	assert_int_equal(dd_instance_reference_number(in, 1.0), 0);
	assert_int_equal(dd_instance_reference_number(ref, 1.0), 0);
	for (size_t k = 0; k < 3; k++)
		assert_int_equal(dd_instance_reference_number(in, bad[k]), -EDOM);
	struct driftd_value vs[] = {
	    {.type = DRIFTD_VALUE_STRING, .str = "1", .len = 1},
	    {.type = DRIFTD_VALUE_BOOL, .num = 1},
	    {.type = DRIFTD_VALUE_NONE},
	    {.type = DRIFTD_VALUE_OTHER},
	    {.type = DRIFTD_VALUE_VECTOR, .vec = bad, .dim = 1},
	};
	for (size_t k = 0; k < sizeof(vs) / sizeof(vs[0]); k++) {
		assert_int_equal(in->ops->reference_add(&in->ctx, &vs[k]), -EDOM);
		assert_int_equal(in->ops->update(&in->ctx, &vs[k]), -EDOM);
	}
	assert_same_state(in, ref);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	assert_int_equal(ref->ops->reference_done(&ref->ctx), 0);
	assert_int_equal(dd_instance_update_number(in, 2.0), 0);
	assert_int_equal(dd_instance_update_number(ref, 2.0), 0);
	for (size_t k = 0; k < 3; k++)
		assert_int_equal(dd_instance_update_number(in, bad[k]), -EDOM);
	assert_same_state(in, ref);
	struct driftd_verdict va, vb;
	assert_int_equal(ks_eval(in, &va), 0);
	assert_int_equal(ks_eval(ref, &vb), 0);
	assert_same_verdict(&va, &vb);
	assert_true(va.score == 1.0 && va.p_value == 1.0);
	/* after reference_done the reference is closed */
	assert_int_equal(dd_instance_reference_number(in, 3.0), -EINVAL);
	dd_instance_free(in);
	dd_instance_free(ref);
}

static void test_enospc(void **st)
{
	struct dd_instance *in = ks_new("auto", 3, 2);
	for (int i = 0; i < 3; i++)
		assert_int_equal(dd_instance_reference_number(in, i), 0);
	assert_int_equal(dd_instance_reference_number(in, 9), -ENOSPC);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	assert_int_equal(dd_instance_update_number(in, 0.5), 0);
	assert_int_equal(dd_instance_update_number(in, 1.5), 0);
	assert_int_equal(dd_instance_update_number(in, 2.5), -ENOSPC);
	struct driftd_verdict v;
	assert_int_equal(ks_eval(in, &v), 0);
	/* F_ref - G_win at 0, 0.5, 1, 1.5, 2: 1/3 - 0, 1/3 - 1/2, ... D = 1/3 */
	assert_true(fabs(v.score - 1.0 / 3) <= D_ABS_TOL);
	in->ops->window_reset(&in->ctx);
	assert_int_equal(ks_eval(in, &v), -ENODATA);
	assert_int_equal(dd_instance_update_number(in, 10), 0);
	assert_int_equal(dd_instance_update_number(in, 11), 0);
	assert_int_equal(ks_eval(in, &v), 0);
	assert_true(v.score == 1.0);
	dd_instance_free(in);
}

static void test_enodata(void **st)
{
	struct dd_instance *in = ks_new("auto", 3, 3);
	struct driftd_verdict v;
	assert_int_equal(ks_eval(in, &v), -ENODATA);
	assert_int_equal(in->ops->reference_done(&in->ctx), -ENODATA); /* empty reference */
	assert_int_equal(dd_instance_reference_number(in, 1), 0);
	assert_int_equal(dd_instance_update_number(in, 1), 0);
	assert_int_equal(ks_eval(in, &v), -ENODATA); /* reference not closed */
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0); /* idempotent */
	assert_int_equal(ks_eval(in, &v), 0);
	in->ops->window_reset(&in->ctx);
	assert_int_equal(ks_eval(in, &v), -ENODATA); /* empty window */
	/* done is idempotent; the host calls it again from dd_instance_free */
	in->ops->done(&in->ctx);
	in->ops->done(&in->ctx);
	dd_instance_free(in);
}

/* A partly filled instance: 300 reference values, 120 of 200 window values. */
static struct dd_instance *partial_instance(bool close_reference)
{
	struct dd_instance *in = ks_new("auto", 300, 200);
	for (int i = 0; i < 300; i++)
		assert_int_equal(dd_instance_reference_number(in, sin(i * 1.7) * 3), 0);
	if (close_reference)
		assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	for (int i = 0; i < 120; i++)
		assert_int_equal(dd_instance_update_number(in, cos(i * 0.3) * 2 + 0.4), 0);
	return in;
}

static void test_snapshot_roundtrip(void **st)
{
	for (int closed = 0; closed < 2; closed++) {
		struct dd_instance *a = partial_instance(closed);
		struct driftd_buf b;
		snapshot_of(a, &b);
		assert_int_equal(b.len, 8 * (3 + 300 + 120));
		struct dd_instance *c = ks_new("auto", 300, 200);
		assert_int_equal(c->ops->restore(&c->ctx, 1, b.data, b.len), 0);
		assert_same_state(a, c);
		if (!closed) {
			assert_int_equal(a->ops->reference_done(&a->ctx), 0);
			assert_int_equal(c->ops->reference_done(&c->ctx), 0);
		}
		for (int i = 0; i < 50; i++) {
			assert_int_equal(dd_instance_update_number(a, i * 0.01), 0);
			assert_int_equal(dd_instance_update_number(c, i * 0.01), 0);
		}
		struct driftd_verdict va, vc;
		assert_int_equal(ks_eval(a, &va), 0);
		assert_int_equal(ks_eval(c, &vc), 0);
		assert_same_verdict(&va, &vc);
		assert_true(va.score > 0 && va.p_value < 1);
		driftd_buf_free(&b);
		dd_instance_free(a);
		dd_instance_free(c);
	}
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* restore must fail with -EBADMSG and leave the state as after init */
static void expect_bad(struct dd_instance *fresh, uint32_t version, const void *data, size_t len)
{
	struct dd_instance *in = ks_new("auto", 300, 200);
	/* dirty it first, so that "as after init" is checked */
	assert_int_equal(dd_instance_reference_number(in, 5), 0);
	assert_int_equal(dd_instance_update_number(in, 5), 0);
	assert_int_equal(in->ops->restore(&in->ctx, version, data, len), -EBADMSG);
	assert_same_state(in, fresh);
	struct driftd_verdict v;
	assert_int_equal(ks_eval(in, &v), -ENODATA);
	/* still usable */
	assert_int_equal(dd_instance_reference_number(in, 1), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	assert_int_equal(dd_instance_update_number(in, 2), 0);
	assert_int_equal(ks_eval(in, &v), 0);
	dd_instance_free(in);
}

static void test_restore_rejects(void **st)
{
	struct dd_instance *fresh = ks_new("auto", 300, 200);
	struct dd_instance *a = partial_instance(true);
	struct driftd_buf b;
	snapshot_of(a, &b);
	uint8_t *buf = malloc(b.len + 16);
	assert_non_null(buf);

	/* every truncation, and trailing bytes */
	for (size_t len = 0; len < b.len; len += (len < 64 ? 1 : 97))
		expect_bad(fresh, 1, b.data, len);
	expect_bad(fresh, 1, b.data, b.len - 1);
	memcpy(buf, b.data, b.len);
	memset(buf + b.len, 0, 16);
	expect_bad(fresh, 1, buf, b.len + 8);
	expect_bad(fresh, 1, buf, b.len + 3);
	expect_bad(fresh, 1, NULL, 0);
	/* wrong version */
	expect_bad(fresh, 0, b.data, b.len);
	expect_bad(fresh, 2, b.data, b.len);
	/* bad flag, counts over capacity, closed but empty reference */
	memcpy(buf, b.data, b.len);
	put_u64(buf, 2);
	expect_bad(fresh, 1, buf, b.len);
	memcpy(buf, b.data, b.len);
	put_u64(buf + 8, 301);
	expect_bad(fresh, 1, buf, b.len);
	memcpy(buf, b.data, b.len);
	put_u64(buf + 16, 201);
	expect_bad(fresh, 1, buf, b.len);
	memcpy(buf, b.data, b.len);
	put_u64(buf + 8, UINT64_MAX);
	expect_bad(fresh, 1, buf, b.len);
	uint8_t empty_closed[24];
	put_u64(empty_closed, 1);
	put_u64(empty_closed + 8, 0);
	put_u64(empty_closed + 16, 0);
	expect_bad(fresh, 1, empty_closed, sizeof(empty_closed));
	/* non-finite values in the reference and in the window */
	const double nonfinite[] = {NAN, INFINITY, -INFINITY};
	for (int k = 0; k < 3; k++) {
		uint64_t u;
		memcpy(&u, &nonfinite[k], sizeof(u));
		memcpy(buf, b.data, b.len);
		put_u64(buf + 24 + 8 * 17, u);
		expect_bad(fresh, 1, buf, b.len);
		memcpy(buf, b.data, b.len);
		put_u64(buf + 24 + 8 * (300 + 5), u);
		expect_bad(fresh, 1, buf, b.len);
	}
	/* a closed reference must be sorted: swap two distinct neighbours */
	memcpy(buf, b.data, b.len);
	uint8_t t[8];
	memcpy(t, buf + 24, 8);
	memcpy(buf + 24, buf + 24 + 8 * 299, 8);
	memcpy(buf + 24 + 8 * 299, t, 8);
	expect_bad(fresh, 1, buf, b.len);
	/* garbage */
	for (size_t i = 0; i < b.len; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	expect_bad(fresh, 1, buf, b.len);
	memset(buf, 0xff, b.len);
	expect_bad(fresh, 1, buf, b.len);

	/* an open (unsorted) reference is accepted */
	struct dd_instance *o = partial_instance(false);
	struct driftd_buf ob;
	snapshot_of(o, &ob);
	struct dd_instance *c = ks_new("auto", 300, 200);
	assert_int_equal(c->ops->restore(&c->ctx, 1, ob.data, ob.len), 0);
	assert_same_state(o, c);
	/* but not into a smaller shape */
	struct dd_instance *small = ks_new("auto", 299, 200);
	assert_int_equal(small->ops->restore(&small->ctx, 1, ob.data, ob.len), -EBADMSG);

	driftd_buf_free(&ob);
	dd_instance_free(o);
	dd_instance_free(c);
	dd_instance_free(small);
	free(buf);
	driftd_buf_free(&b);
	dd_instance_free(a);
	dd_instance_free(fresh);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* D by brute force: ECDFs (count of values <= v) at every pooled value v */
static double brute_d(const double *x, size_t m, const double *y, size_t n)
{
	double best_max = -INFINITY, best_min = INFINITY;
	for (size_t k = 0; k < m + n; k++) {
		double v = k < m ? x[k] : y[k - m];
		size_t i = 0, j = 0;
		for (size_t a = 0; a < m; a++)
			i += x[a] <= v;
		for (size_t b = 0; b < n; b++)
			j += y[b] <= v;
		double diff = (double)i / (double)m - (double)j / (double)n;
		best_max = fmax(best_max, diff);
		best_min = fmin(best_min, diff);
	}
	double min_s = fmin(fmax(-best_min, 0), 1);
	return min_s > best_max ? min_s : best_max;
}

/* The in-place sort and the merge against brute force on orders that trouble quicksorts. */
static void test_sort_patterns(void **st)
{
	enum { M = 700, N = 500 };
	static double x[M], y[N], xs[M];
	uint64_t r = 12345;
	for (int pat = 0; pat < 8; pat++) {
		for (int i = 0; i < M; i++) {
			r = r * 6364136223846793005u + 1442695040888963407u;
			double u = (double)(r >> 11) * 0x1p-53;
			/* random, sorted, reversed, constant, three values, organ pipe, signed
			 * zeros, nearly sorted */
			const double v[8] = {u,
			                     i,
			                     M - i,
			                     4,
			                     floor(u * 3),
			                     i < M / 2 ? i : M - i,
			                     (i % 2) ? -0.0 : 0.0,
			                     i % 7 == 0 ? u : i};
			x[i] = v[pat];
		}
		for (int i = 0; i < N; i++)
			y[i] = x[(i * 7) % M] + (pat % 2 ? 0.0 : 0.25);
		struct dd_instance *in = ks_new("auto", M, N);
		ks_feed(in, x, M, y, N);
		struct driftd_verdict v;
		assert_int_equal(ks_eval(in, &v), 0);
		double d = brute_d(x, M, y, N), p;
		assert_int_equal(dd_ks2_pvalue(M, N, &d, DD_KS2_AUTO, &p, NULL), 0);
		assert_true(v.score == d);
		assert_true(v.p_value == p);
		/* the snapshot holds the reference sorted */
		struct driftd_buf b = {0};
		assert_int_equal(in->ops->snapshot(&in->ctx, &b), 0);
		memcpy(xs, x, sizeof(x));
		qsort(xs, M, sizeof(double), cmp_double);
		for (int i = 0; i < M; i++) {
			double got;
			memcpy(&got, b.data + 24 + 8 * i, sizeof(got));
			assert_true(got == xs[i]);
		}
		driftd_buf_free(&b);
		dd_instance_free(in);
	}
}

static void test_distribution_api(void **st)
{
	double d = 0.5, p;
	assert_int_equal(dd_ks2_pvalue(0, 5, &d, DD_KS2_AUTO, &p, NULL), -EINVAL);
	assert_int_equal(dd_ks2_pvalue(5, 5, &d, (enum dd_ks2_method)7, &p, NULL), -EINVAL);
	d = NAN;
	assert_int_equal(dd_ks2_pvalue(5, 5, &d, DD_KS2_AUTO, &p, NULL), -EINVAL);
	d = 1.5;
	assert_int_equal(dd_ks2_pvalue(5, 5, &d, DD_KS2_AUTO, &p, NULL), -EINVAL);
	/* D = 0 gives p = 1 on every path */
	for (int mth = 0; mth < 3; mth++) {
		d = 0;
		assert_int_equal(dd_ks2_pvalue(40, 70, &d, (enum dd_ks2_method)mth, &p, NULL), 0);
		assert_true(p == 1.0);
	}
	/* equal sizes, D = 1: 2 / C(2n, n) */
	d = 1;
	bool exact;
	assert_int_equal(dd_ks2_pvalue(10, 10, &d, DD_KS2_AUTO, &p, &exact), 0);
	assert_true(exact);
	assert_true(rel_err(p, 2.0 / 184756) <= 1e-15);
	/* the asymptotic branch is kstwo.sf(D, round(m n / (m + n))) */
	d = 0.3;
	assert_int_equal(dd_ks2_pvalue(12000, 11000, &d, DD_KS2_AUTO, &p, &exact), 0);
	assert_false(exact);
	assert_true(p == dd_kolmogn_sf(5739, 0.3));
	assert_true(isnan(dd_kolmogn_sf(0, 0.3)));
	assert_true(isnan(dd_kolmogn_sf(5, NAN)));
	assert_true(dd_kolmogn_sf(5, 0.1) == 1.0);
	assert_true(dd_kolmogn_sf(5, 1.0) == 0.0);
	assert_true(isnan(dd_smirnov_sf(0, 0.5)));
	assert_true(isnan(dd_smirnov_sf(5, 1.5)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_params),
	    cmocka_unit_test(test_alpha_decides),
	    cmocka_unit_test(test_init_shape),
	    cmocka_unit_test(test_edom),
	    cmocka_unit_test(test_enospc),
	    cmocka_unit_test(test_enodata),
	    cmocka_unit_test(test_snapshot_roundtrip),
	    cmocka_unit_test(test_restore_rejects),
	    cmocka_unit_test(test_sort_patterns),
	    cmocka_unit_test(test_distribution_api),
	    cmocka_unit_test(test_published),
	    cmocka_unit_test(test_smirnov_points),
	    cmocka_unit_test(test_kstwo_points),
	    cmocka_unit_test(test_oracle_cases),
	};
	return cmocka_run_group_tests_name("ks", tests, load_doc, free_doc);
}
