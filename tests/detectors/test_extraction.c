/* extraction (PRADA): Shapiro-Wilk W against scipy.stats.shapiro (tests/oracle/
 * gen_extraction.py -> data/extraction.json) for n 3..5000 and several
 * shapes (5e-9: see TOL); the detector's own distance windows on a benign and an extraction-like
 * stream give scipy's W for every test; the attacker is named, the benign client never breaches;
 * hostile dimensions are refused; snapshots round-trip. */
#include <jansson.h>

#include "../../detectors/secutil.h"
#include "sec_common.h"

#define DATA_FILE DRIFTD_TEST_DATA "/detectors/data/extraction.json"
/* scipy's swilk takes the normal quantiles m_i from AS 241 PPND7 (about 7 digits); the C code
 * uses GSL's full-precision quantile, so W differs by up to ~1e-9 relative (8e-10 seen). */
#define TOL 5e-9

static const struct driftd_detector_ops *ops(void)
{
	return driftd_detector_find("extraction");
}

static json_t *load(void)
{
	json_error_t err;
	json_t *root = json_load_file(DATA_FILE, 0, &err);
	if (!root)
		fail_msg("%s: %s", DATA_FILE, err.text);
	return root;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void test_swilk_against_scipy(void **unused)
{
	json_t *root = load();
	size_t i;
	json_t *c;
	double worst = 0;
	json_array_foreach (json_object_get(root, "cases"), i, c) {
		json_t *xs = json_object_get(c, "x");
		size_t n = json_array_size(xs);
		double *x = calloc(n, sizeof(double)), *a = calloc(n / 2 + 1, sizeof(double));
		for (size_t k = 0; k < n; k++)
			x[k] = json_real_value(json_array_get(xs, k));
		qsort(x, n, sizeof(double), cmp);
		assert_int_equal(dd_swilk_coef(n, a), 0);
		double w = dd_swilk_w(x, n, a), want = json_real_value(json_object_get(c, "w"));
		double rel = fabs(w - want) / want;
		if (rel > TOL)
			fail_msg("case %zu (%s, n=%zu): W %.17g, scipy %.17g", i,
			         json_string_value(json_object_get(c, "kind")), n, w, want);
		if (rel > worst)
			print_message("  %s n=%zu: relative error %.3g\n",
			              json_string_value(json_object_get(c, "kind")), n, rel);
		worst = rel > worst ? rel : worst;
		free(x);
		free(a);
	}
	assert_true(i > 30);
	print_message("Shapiro-Wilk: %zu cases, worst relative error %.3g\n", i, worst);
	double a[4];
	assert_int_equal(dd_swilk_coef(2, a), -EINVAL);
	assert_int_equal(dd_swilk_coef(5001, a), -EINVAL);
	json_decref(root);
}

/* Replay one client's queries through the detector with the oracle's parameters; compare the
 * W of each test (the detector exposes it through the verdict only on breach, so the test
 * replays with threshold 1: every test breaches and reports its W). */
static void replay(const json_t *stream, const json_t *params, const char *client,
                   bool expect_breach)
{
	void *cfg = sec_config(ops());
	assert_int_equal(
	    dd_param_set_number(ops(), cfg, "history",
	                        (double)json_integer_value(json_object_get(params, "history"))),
	    0);
	assert_int_equal(
	    dd_param_set_number(ops(), cfg, "window",
	                        (double)json_integer_value(json_object_get(params, "window"))),
	    0);
	assert_int_equal(
	    dd_param_set_number(ops(), cfg, "every",
	                        (double)json_integer_value(json_object_get(params, "every"))),
	    0);
	assert_int_equal(dd_param_set_number(ops(), cfg, "threshold", 1), 0);
	assert_int_equal(dd_param_set_number(ops(), cfg, "hold", 1), 0);
	struct dd_instance *in = sec_new(ops(), cfg);
	/* and one with the default threshold for the decision */
	void *cfg2 = sec_config(ops());
	memcpy(cfg2, cfg, ops()->config_size);
	assert_int_equal(dd_param_set_number(ops(), cfg2, "threshold", 0.65), 0);
	struct dd_instance *dec = sec_new(ops(), cfg2);
	const json_t *qs = json_object_get(stream, "queries"), *ws = json_object_get(stream, "w");
	size_t i, k = 0, every = (size_t)json_integer_value(json_object_get(params, "every"));
	json_t *q;
	bool breached = false;
	double prev_w = -1;
	json_array_foreach (qs, i, q) {
		double x[16];
		size_t dim = json_array_size(q);
		for (size_t j = 0; j < dim; j++)
			x[j] = json_real_value(json_array_get(q, j));
		struct sec_ev e = {.client = client,
		                   .value = {.type = DRIFTD_VALUE_VECTOR, .vec = x, .dim = dim}};
		struct driftd_verdict v;
		assert_int_equal(sec_feed(in, &e, &v), 0);
		/* a test ran at this query when the W moved or a test is due (hold 1: only the
		 * query of the test breaches... and the next) */
		if (i >= 50 && (i - 50) % every == 0 && i > 0) {
			assert_true(v.drift);
			double want = json_real_value(json_array_get(ws, k));
			if (fabs(v.score - want) > TOL * want)
				fail_msg("%s query %zu (test %zu): W %.17g, scipy %.17g", client, i,
				         k, v.score, want);
			assert_string_equal(sec_str(&v, "client.id"), client);
			k++;
			prev_w = v.score;
		}
		assert_int_equal(sec_feed(dec, &e, &v), 0);
		breached |= v.drift;
	}
	(void)prev_w;
	assert_int_equal(k, json_array_size(ws));
	assert_int_equal(breached, expect_breach);
	struct dd_instance *c = sec_clone(dec, cfg2);
	dd_instance_free(c);
	dd_instance_free(in);
	dd_instance_free(dec);
	free(cfg);
	free(cfg2);
}

static void test_prada_streams(void **unused)
{
	json_t *root = load();
	const json_t *pr = json_object_get(root, "prada"), *params = json_object_get(pr, "params");
	replay(json_object_get(pr, "benign"), params, "alice", false);
	replay(json_object_get(pr, "attack"), params, "mallory", true);
	json_decref(root);
}

static void test_refused_values(void **unused)
{
	void *cfg = sec_config(ops());
	assert_int_equal(dd_param_set_number(ops(), cfg, "max_dim", 4), 0);
	struct dd_instance *in = sec_new(ops(), cfg);
	struct driftd_verdict v;
	double x[5] = {1, 2, 3, 4, 5}, bad[3] = {1, NAN, 2};
	struct sec_ev big = {.value = {.type = DRIFTD_VALUE_VECTOR, .vec = x, .dim = 5}};
	struct sec_ev ok = {.value = {.type = DRIFTD_VALUE_VECTOR, .vec = x, .dim = 3}};
	struct sec_ev other = {.value = {.type = DRIFTD_VALUE_VECTOR, .vec = x, .dim = 2}};
	struct sec_ev nan = {.value = {.type = DRIFTD_VALUE_VECTOR, .vec = bad, .dim = 3}};
	assert_int_equal(sec_feed(in, &big, &v), -EDOM);
	assert_int_equal(sec_feed(in, &nan, &v), -EDOM);
	assert_int_equal(sec_feed(in, &ok, &v), 0);
	assert_int_equal(sec_feed(in, &other, &v), -EDOM); /* the dimension is fixed */
	dd_instance_free(in);
	/* memory guard */
	assert_int_equal(dd_param_set_number(ops(), cfg, "max_clients", 65536), 0);
	assert_int_equal(dd_param_set_number(ops(), cfg, "max_dim", 4096), 0);
	const char *why = NULL;
	assert_int_equal(ops()->check_config(cfg, &why), -EINVAL);
	assert_non_null(why);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_swilk_against_scipy),
	    cmocka_unit_test(test_prada_streams),
	    cmocka_unit_test(test_refused_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
