/* Oracle suite shared by the binned detectors (psi, js, kl, hellinger: detectors/binning.c).
 * A test file defines, then includes this file:
 *   BINNED_NAME           the detector ("js")
 *   BINNED_SCORE_KEY      key of the expected score in data/NAME.json ("score"; "psi" for psi)
 *   BINNED_EMPTY_DEFAULT  index of the default empty_bin choice
 *   BINNED_HAS_NONE       1 if empty_bin "none" is accepted
 *   BINNED_EXTRA_TESTS    (optional) more cmocka_unit_test(...) entries, comma-terminated
 * It checks every oracle case (score to 1e-12 relative, edges bitwise, counts exactly, read
 * back from the documented snapshot layout), error cases, merge laws and snapshot round trips
 * on every case, and hostile snapshots; the worst relative score error is printed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <jansson.h>

#include "host.h"

#define DATA_FILE DRIFTD_TEST_DATA "/detectors/data/" BINNED_NAME ".json"
#define SCORE_TOL 1e-12

#ifndef BINNED_EXTRA_TESTS
#define BINNED_EXTRA_TESTS
#endif

static const struct driftd_detector_ops *ops(void)
{
	const struct driftd_detector_ops *o = driftd_detector_find(BINNED_NAME);
	assert_non_null(o);
	return o;
}

/* The cases, with "ref" and "cur" resolved from sample names to value arrays. */
static json_t *load_cases(void)
{
	json_error_t err;
	json_t *root = json_load_file(DATA_FILE, 0, &err);
	if (!root)
		fail_msg("%s:%d: %s", DATA_FILE, err.line, err.text);
	json_t *cases = json_object_get(root, "cases");
	json_t *samples = json_object_get(root, "samples");
	assert_true(json_is_array(cases));
	assert_true(json_array_size(cases) > 0);
	size_t i;
	json_t *c;
	json_array_foreach (cases, i, c) {
		static const char *const keys[] = {"ref", "cur"};
		for (size_t k = 0; k < 2; k++) {
			const char *name = json_string_value(json_object_get(c, keys[k]));
			json_t *v = json_object_get(samples, name);
			assert_true(json_is_array(v));
			assert_int_equal(json_object_set(c, keys[k], v), 0);
		}
	}
	json_incref(cases);
	json_decref(root);
	return cases;
}

static json_t *find_case(json_t *cases, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach (cases, i, c) {
		if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			return c;
	}
	fail_msg("no case %s", name);
	return NULL;
}

static const char *case_name(json_t *c)
{
	return json_string_value(json_object_get(c, "name"));
}

static void *defaults(void)
{
	const struct driftd_detector_ops *o = ops();
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	return cfg;
}

static void *config_from(json_t *params)
{
	const struct driftd_detector_ops *o = ops();
	void *cfg = defaults();
	const char *key;
	json_t *val;
	json_object_foreach (params, key, val) {
		if (json_is_string(val))
			assert_int_equal(dd_param_set_choice(o, cfg, key, json_string_value(val)),
			                 0);
		else
			assert_int_equal(dd_param_set_number(o, cfg, key, json_number_value(val)),
			                 0);
	}
	const char *why = NULL;
	assert_int_equal(o->check_config(cfg, &why), 0);
	return cfg;
}

static struct dd_instance *new_instance(const void *cfg, size_t ref_size)
{
	struct dd_instance *in = NULL;
	struct driftd_shape shape = {.reference_size = ref_size, .window_size = 0, .seed = 1};
	assert_int_equal(dd_instance_new(ops(), cfg, &shape, &in), 0);
	return in;
}

static void feed_ref(struct dd_instance *in, json_t *arr, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		assert_int_equal(
		    dd_instance_reference_number(in, json_number_value(json_array_get(arr, i))), 0);
}

static void feed_cur(struct dd_instance *in, json_t *arr, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		assert_int_equal(
		    dd_instance_update_number(in, json_number_value(json_array_get(arr, i))), 0);
}

/* An instance of case c with the whole reference and cur[from, to) in its window. */
static struct dd_instance *case_instance(json_t *c, const void *cfg, size_t from, size_t to)
{
	json_t *ref = json_object_get(c, "ref");
	struct dd_instance *in = new_instance(cfg, json_array_size(ref));
	feed_ref(in, ref, 0, json_array_size(ref));
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	feed_cur(in, json_object_get(c, "cur"), from, to);
	return in;
}

static uint8_t *snap(const struct dd_instance *in, size_t *len)
{
	struct driftd_buf b = {0};
	assert_int_equal(in->ops->snapshot(&in->ctx, &b), 0);
	assert_int_equal(b.err, 0);
	*len = b.len;
	return b.data;
}

static void assert_same_state(const struct dd_instance *a, const struct dd_instance *b)
{
	size_t la, lb;
	uint8_t *sa = snap(a, &la), *sb = snap(b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(sa, sb, la);
	free(sa);
	free(sb);
}

static uint64_t get_le(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static double get_f64(const uint8_t *p)
{
	uint64_t u = get_le(p);
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static void put_le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_f64(uint8_t *p, double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	put_le(p, u);
}

static bool out_of_range_bin(const void *cfg)
{
	return dd_param_get(dd_param_find(ops(), "out_of_range"), cfg) == 1;
}

/* Bins for ne edges (binning.c): ne + 1, or 3 under out_of_range bin with a single edge. */
static size_t bins_for(const void *cfg, size_t ne)
{
	return out_of_range_bin(cfg) && ne == 1 ? 3 : ne + 1;
}

/* Edges (bitwise) and counts (exactly) from the snapshot, layout documented in binning.c. */
static void check_summary(json_t *c, const void *cfg, const struct dd_instance *in)
{
	size_t len;
	uint8_t *s = snap(in, &len);
	json_t *edges = json_object_get(c, "edges");
	json_t *rc = json_object_get(c, "ref_counts");
	json_t *cc = json_object_get(c, "cur_counts");
	size_t ne = json_array_size(edges);
	size_t nb = bins_for(cfg, ne);

	assert_int_equal(json_array_size(rc), nb);
	assert_int_equal(json_array_size(cc), nb);
	assert_true(len >= 16);
	assert_int_equal(get_le(s), 1);
	if (get_le(s + 8) != ne)
		fail_msg("%s: %zu edges, numpy has %zu", case_name(c), (size_t)get_le(s + 8), ne);
	assert_int_equal(len, 16 + 8 * ne + 16 * nb);
	const uint8_t *p = s + 16;
	for (size_t i = 0; i < ne; i++, p += 8) {
		double want = json_number_value(json_array_get(edges, i));
		double got = get_f64(p);
		if (got != want)
			fail_msg("%s: edge %zu = %.17g, numpy %.17g", case_name(c), i, got, want);
	}
	for (size_t i = 0; i < nb; i++, p += 8)
		if (get_le(p) != (uint64_t)json_integer_value(json_array_get(rc, i)))
			fail_msg("%s: reference bin %zu holds %llu, numpy %lld", case_name(c), i,
			         (unsigned long long)get_le(p),
			         (long long)json_integer_value(json_array_get(rc, i)));
	for (size_t i = 0; i < nb; i++, p += 8)
		if (get_le(p) != (uint64_t)json_integer_value(json_array_get(cc, i)))
			fail_msg("%s: window bin %zu holds %llu, numpy %lld", case_name(c), i,
			         (unsigned long long)get_le(p),
			         (long long)json_integer_value(json_array_get(cc, i)));
	free(s);
}

static double worst_rel_err;
static const char *worst_case;

static void check_verdict(json_t *c, const void *cfg, const struct driftd_verdict *v)
{
	double want = json_number_value(json_object_get(c, BINNED_SCORE_KEY));
	double err = want == 0 ? fabs(v->score) : fabs(v->score - want) / fabs(want);
	if (!(err <= SCORE_TOL))
		fail_msg("%s: score %.17g, oracle %.17g (rel %.3g)", case_name(c), v->score, want,
		         err);
	if (err > worst_rel_err || !worst_case) {
		worst_rel_err = err;
		worst_case = case_name(c);
	}
	assert_int_equal(v->drift, json_is_true(json_object_get(c, "drift")));
	assert_true(v->threshold == dd_param_get(dd_param_find(ops(), "threshold"), cfg));
	assert_true(isnan(v->p_value));
	assert_false(v->warning);
}

static void test_ops_table(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	assert_int_equal(o->abi_version, DRIFTD_DETECTOR_ABI);
	assert_int_equal(o->struct_size, sizeof(struct driftd_detector_ops));
	assert_int_equal(o->kind, DRIFTD_KIND_TWO_SAMPLE);
	assert_int_equal(o->caps, DRIFTD_CAP_MERGE);
	assert_non_null(o->merge);
	assert_int_equal(o->accepts, DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER));
	assert_int_equal(o->snapshot_version, 1);
	for (size_t i = 0; i < o->n_params; i++) {
		assert_non_null(o->params[i].description);
		assert_true(strlen(o->params[i].description) < 100);
	}
}

static void test_params(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	void *cfg = defaults();
	assert_true(dd_param_get(dd_param_find(o, "threshold"), cfg) == 0.1);
	assert_true(dd_param_get(dd_param_find(o, "bins"), cfg) == 10);
	assert_true(dd_param_get(dd_param_find(o, "binning"), cfg) == 0);      /* quantile */
	assert_true(dd_param_get(dd_param_find(o, "out_of_range"), cfg) == 0); /* clamp */
	assert_true(dd_param_get(dd_param_find(o, "empty_bin"), cfg) == BINNED_EMPTY_DEFAULT);
	assert_true(dd_param_get(dd_param_find(o, "epsilon"), cfg) == 0.0001);

	assert_int_equal(dd_param_set_number(o, cfg, "bins", 1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "bins", 1001), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "bins", 2.5), -EINVAL);
	assert_int_equal(dd_param_set_number(o, cfg, "threshold", -0.1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "epsilon", 0), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "epsilon", 1.5), -ERANGE);
	assert_int_equal(dd_param_set_choice(o, cfg, "binning", "scott"), -EINVAL);
	assert_int_equal(dd_param_set_choice(o, cfg, "empty_bin", "dbl_min"), -EINVAL);
	assert_int_equal(dd_param_set_choice(o, cfg, "out_of_range", "drop"), -EINVAL);
	assert_int_equal(dd_param_set_choice(o, cfg, "empty_bin", "none"),
	                 BINNED_HAS_NONE ? 0 : -EINVAL);
	static const char *const binnings[] = {"quantile", "uniform", "doane", "sturges"};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(dd_param_set_choice(o, cfg, "binning", binnings[i]), 0);
		assert_true(dd_param_get(dd_param_find(o, "binning"), cfg) == i);
	}
	assert_int_equal(dd_param_set_choice(o, cfg, "out_of_range", "bin"), 0);
	assert_int_equal(dd_param_set_choice(o, cfg, "empty_bin", "laplace"), 0);
	const char *why = NULL;
	assert_int_equal(o->check_config(cfg, &why), 0);

	/* check_config and init catch blocks that bypassed the table. */
	struct {
		const char *name;
		int64_t i64;
		int i;
		double d;
	} bad[] = {
	    {"bins", 0, 0, 0},
	    {"bins", 1001, 0, 0},
	    {"binning", 0, 4, 0},
	    {"binning", 0, -1, 0},
	    {"out_of_range", 0, 2, 0},
	    {"empty_bin", 0, 3, 0},
	    {"empty_bin", 0, -1, 0},
	    {"epsilon", 0, 0, 0},
	    {"epsilon", 0, 0, (double)NAN},
	    {"threshold", 0, 0, -1},
	    {"threshold", 0, 0, (double)NAN},
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		void *b = defaults();
		const struct driftd_param *p = dd_param_find(o, bad[k].name);
		char *at = (char *)b + p->offset;
		if (p->type == DRIFTD_PARAM_INT)
			memcpy(at, &bad[k].i64, sizeof(int64_t));
		else if (p->type == DRIFTD_PARAM_ENUM)
			memcpy(at, &bad[k].i, sizeof(int));
		else
			memcpy(at, &bad[k].d, sizeof(double));
		why = NULL;
		if (o->check_config(b, &why) != -EINVAL)
			fail_msg("%s: bypassed value of %s accepted", BINNED_NAME, bad[k].name);
		assert_non_null(why);
		struct dd_instance *in = NULL;
		struct driftd_shape shape = {.reference_size = 10};
		assert_int_equal(dd_instance_new(o, b, &shape, &in), -EINVAL);
		free(b);
	}
	/* A two-sample detector needs a reference size. */
	struct dd_instance *in = NULL;
	struct driftd_shape shape = {.reference_size = 0};
	assert_int_equal(dd_instance_new(o, NULL, &shape, &in), -EINVAL);
	free(cfg);
}

static void test_oracle_cases(void **unused)
{
	json_t *cases = load_cases();
	size_t ci;
	json_t *c;
	worst_rel_err = 0;
	worst_case = NULL;
	json_array_foreach (cases, ci, c) {
		void *cfg = config_from(json_object_get(c, "params"));
		json_t *cur = json_object_get(c, "cur");
		struct dd_instance *in = case_instance(c, cfg, 0, json_array_size(cur));
		struct driftd_verdict v;
		assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
		check_verdict(c, cfg, &v);
		check_summary(c, cfg, in);

		/* A second window after window_reset gives the same verdict. */
		in->ops->window_reset(&in->ctx);
		assert_int_equal(in->ops->evaluate(&in->ctx, &v), -ENODATA);
		feed_cur(in, cur, 0, json_array_size(cur));
		assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
		check_verdict(c, cfg, &v);
		dd_instance_free(in);
		free(cfg);
	}
	print_message("%s: %zu oracle cases, worst relative score error %.3g (%s)\n", BINNED_NAME,
	              json_array_size(cases), worst_rel_err, worst_case);
	json_decref(cases);
}

static void test_errors(void **unused)
{
	json_t *cases = load_cases();
	json_t *c = find_case(cases, "shifted_normal");
	void *cfg = config_from(json_object_get(c, "params"));
	json_t *ref = json_object_get(c, "ref");
	size_t n_ref = json_array_size(ref);
	struct dd_instance *in = new_instance(cfg, n_ref);
	struct driftd_verdict v;
	static const double vec[] = {1, 2};
	const struct driftd_value bad[] = {
	    {.type = DRIFTD_VALUE_NUMBER, .num = (double)NAN},
	    {.type = DRIFTD_VALUE_NUMBER, .num = (double)INFINITY},
	    {.type = DRIFTD_VALUE_NUMBER, .num = -(double)INFINITY},
	    {.type = DRIFTD_VALUE_NONE},
	    {.type = DRIFTD_VALUE_STRING, .str = "1.5", .len = 3},
	    {.type = DRIFTD_VALUE_BOOL, .num = 1},
	    {.type = DRIFTD_VALUE_VECTOR, .vec = vec, .dim = 2},
	    {.type = DRIFTD_VALUE_OTHER},
	};
	const size_t n_bad = sizeof(bad) / sizeof(bad[0]);

	/* Nothing to evaluate or bin against before the reference is complete. */
	assert_int_equal(in->ops->reference_done(&in->ctx), -ENODATA);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), -EINVAL);
	assert_int_equal(dd_instance_update_number(in, 1.0), -EINVAL);

	feed_ref(in, ref, 0, n_ref / 2);
	size_t l0, l1;
	uint8_t *s0 = snap(in, &l0);
	for (size_t i = 0; i < n_bad; i++)
		assert_int_equal(in->ops->reference_add(&in->ctx, &bad[i]), -EDOM);
	uint8_t *s1 = snap(in, &l1);
	assert_int_equal(l0, l1);
	assert_memory_equal(s0, s1, l0);
	free(s0);
	free(s1);

	feed_ref(in, ref, n_ref / 2, n_ref);
	assert_int_equal(dd_instance_reference_number(in, 0.0), -ENOSPC);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), -EINVAL);
	assert_int_equal(dd_instance_reference_number(in, 0.0), -EINVAL);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), -ENODATA);

	feed_cur(in, json_object_get(c, "cur"), 0, 10);
	s0 = snap(in, &l0);
	for (size_t i = 0; i < n_bad; i++)
		assert_int_equal(in->ops->update(&in->ctx, &bad[i]), -EDOM);
	s1 = snap(in, &l1);
	assert_int_equal(l0, l1);
	assert_memory_equal(s0, s1, l0);
	free(s0);
	free(s1);

	/* Extreme but finite values land in the outer bins. */
	assert_int_equal(dd_instance_update_number(in, -1.7976931348623157e308), 0);
	assert_int_equal(dd_instance_update_number(in, 1.7976931348623157e308), 0);
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
	assert_true(isfinite(v.score) && v.score > 0);

	in->ops->done(&in->ctx);
	in->ops->done(&in->ctx); /* idempotent */
	dd_instance_free(in);
	free(cfg);
	json_decref(cases);
}

/* References at the ends of the double range (wider than DBL_MAX, where numpy overflows) still
 * give finite, increasing edges under every binning and out-of-range policy. */
static void test_extreme_reference(void **unused)
{
	static const char *const binnings[] = {"quantile", "uniform", "doane", "sturges"};
	static const char *const oors[] = {"clamp", "bin"};
	static const double refs[][4] = {
	    {-1.7976931348623157e308, 0.0, 1.7976931348623157e308, 1.0},
	    {1.7976931348623157e308, 1.7976931348623157e308, 1.7e308, 1.6e308},
	    {1e300, 1e300, 1e300, 1e300},
	    {-5e-324, 0.0, 5e-324, 0.0},
	};
	for (size_t b = 0; b < 4; b++) {
		for (size_t o = 0; o < 2; o++) {
			for (size_t r = 0; r < sizeof(refs) / sizeof(refs[0]); r++) {
				const struct driftd_detector_ops *op = ops();
				void *cfg = defaults();
				assert_int_equal(
				    dd_param_set_choice(op, cfg, "binning", binnings[b]), 0);
				assert_int_equal(
				    dd_param_set_choice(op, cfg, "out_of_range", oors[o]), 0);
				struct dd_instance *in = new_instance(cfg, 4);
				for (int i = 0; i < 4; i++)
					assert_int_equal(
					    dd_instance_reference_number(in, refs[r][i]), 0);
				assert_int_equal(in->ops->reference_done(&in->ctx), 0);
				assert_int_equal(dd_instance_update_number(in, 1.0), 0);
				assert_int_equal(dd_instance_update_number(in, -1e308), 0);
				struct driftd_verdict v;
				assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
				assert_true(isfinite(v.score));
				size_t len;
				uint8_t *data = snap(in, &len);
				size_t ne = (size_t)get_le(data + 8);
				for (size_t i = 0; i < ne; i++)
					assert_true(isfinite(get_f64(data + 16 + 8 * i)));
				if (r == 0 && b < 2 && o == 0)
					assert_int_equal(ne, 9);
				struct dd_instance *back = new_instance(cfg, 4);
				assert_int_equal(back->ops->restore(&back->ctx, 1, data, len), 0);
				assert_same_state(in, back);
				free(data);
				dd_instance_free(back);
				dd_instance_free(in);
				free(cfg);
			}
		}
	}
}

/* dst += src, both as instances. */
static void merge(struct dd_instance *dst, const struct dd_instance *src)
{
	assert_int_equal(dst->ops->merge(&dst->ctx, &src->ctx), 0);
}

static void merge_laws(json_t *c)
{
	void *cfg = config_from(json_object_get(c, "params"));
	size_t n = json_array_size(json_object_get(c, "cur"));
	size_t n_ref = json_array_size(json_object_get(c, "ref"));
	size_t m1 = n / 3, m2 = 2 * n / 3;
	struct dd_instance *whole = case_instance(c, cfg, 0, n);

	/* Two parts, both orders. */
	struct dd_instance *a = case_instance(c, cfg, 0, m1);
	struct dd_instance *b = case_instance(c, cfg, m1, n);
	struct dd_instance *a2 = case_instance(c, cfg, 0, m1);
	struct dd_instance *b2 = case_instance(c, cfg, m1, n);
	merge(a, b);
	merge(b2, a2);
	assert_same_state(a, whole);
	assert_same_state(b2, whole);
	struct driftd_verdict v;
	assert_int_equal(a->ops->evaluate(&a->ctx, &v), 0);
	check_verdict(c, cfg, &v);

	/* Associativity over three parts. */
	struct dd_instance *p[2][3];
	for (int r = 0; r < 2; r++) {
		p[r][0] = case_instance(c, cfg, 0, m1);
		p[r][1] = case_instance(c, cfg, m1, m2);
		p[r][2] = case_instance(c, cfg, m2, n);
	}
	merge(p[0][0], p[0][1]); /* (x + y) + z */
	merge(p[0][0], p[0][2]);
	merge(p[1][1], p[1][2]); /* x + (y + z) */
	merge(p[1][0], p[1][1]);
	assert_same_state(p[0][0], whole);
	assert_same_state(p[1][0], whole);

	/* Identity: a fresh state (no reference yet) and an empty window. */
	struct dd_instance *fresh = new_instance(cfg, n_ref);
	struct dd_instance *empty = case_instance(c, cfg, 0, 0);
	struct dd_instance *w2 = case_instance(c, cfg, 0, n);
	merge(w2, fresh);
	assert_same_state(w2, whole);
	merge(w2, empty);
	assert_same_state(w2, whole);
	merge(fresh, whole);
	assert_same_state(fresh, whole);
	assert_int_equal(fresh->ops->evaluate(&fresh->ctx, &v), 0);
	check_verdict(c, cfg, &v);
	merge(empty, whole);
	assert_same_state(empty, whole);

	dd_instance_free(whole);
	dd_instance_free(a);
	dd_instance_free(b);
	dd_instance_free(a2);
	dd_instance_free(b2);
	for (int r = 0; r < 2; r++)
		for (int i = 0; i < 3; i++)
			dd_instance_free(p[r][i]);
	dd_instance_free(fresh);
	dd_instance_free(empty);
	dd_instance_free(w2);
	free(cfg);
}

static void test_merge_laws(void **unused)
{
	json_t *cases = load_cases();
	size_t ci;
	json_t *c;
	json_array_foreach (cases, ci, c)
		merge_laws(c);

	/* Different references cannot be merged, nor a half-built one, nor a summary with the
	 * same edge count under another out-of-range policy. */
	json_t *c1 = find_case(cases, "shifted_normal");
	json_t *c3 = find_case(cases, "shifted_normal_uniform");
	void *cfg = config_from(json_object_get(c1, "params"));
	void *cfg3 = config_from(json_object_get(c3, "params"));
	void *cfg_bin = config_from(json_object_get(c1, "params"));
	assert_int_equal(dd_param_set_choice(ops(), cfg_bin, "out_of_range", "bin"), 0);
	struct dd_instance *x = case_instance(c1, cfg, 0, 10);
	struct dd_instance *y = case_instance(c3, cfg3, 0, 10);
	struct dd_instance *w = case_instance(c1, cfg_bin, 0, 10);
	struct dd_instance *z = new_instance(cfg, 10);
	assert_int_equal(dd_instance_reference_number(z, 1.0), 0);
	size_t l0;
	uint8_t *s0 = snap(x, &l0);
	assert_int_equal(x->ops->merge(&x->ctx, &y->ctx), -EINVAL);
	assert_int_equal(x->ops->merge(&x->ctx, &z->ctx), -EINVAL);
	assert_int_equal(x->ops->merge(&x->ctx, &w->ctx), -EINVAL);
	assert_int_equal(z->ops->merge(&z->ctx, &x->ctx), -EINVAL);
	size_t l1;
	uint8_t *s1 = snap(x, &l1);
	assert_int_equal(l0, l1);
	assert_memory_equal(s0, s1, l0);
	free(s0);
	free(s1);
	dd_instance_free(x);
	dd_instance_free(y);
	dd_instance_free(w);
	dd_instance_free(z);
	free(cfg);
	free(cfg3);
	free(cfg_bin);
	json_decref(cases);
}

static struct dd_instance *restored(const struct dd_instance *from, const void *cfg, size_t n_ref)
{
	size_t len;
	uint8_t *data = snap(from, &len);
	struct dd_instance *to = new_instance(cfg, n_ref);
	assert_int_equal(to->ops->restore(&to->ctx, 1, data, len), 0);
	free(data);
	assert_same_state(from, to);
	return to;
}

static void test_snapshot_round_trip(void **unused)
{
	json_t *cases = load_cases();
	size_t ci;
	json_t *c;
	json_array_foreach (cases, ci, c) {
		void *cfg = config_from(json_object_get(c, "params"));
		json_t *ref = json_object_get(c, "ref");
		json_t *cur = json_object_get(c, "cur");
		size_t n_ref = json_array_size(ref), n = json_array_size(cur);
		struct driftd_verdict v;

		/* Mid-reference: the raw values travel, in arrival order (doane depends on it). */
		struct dd_instance *a = new_instance(cfg, n_ref);
		feed_ref(a, ref, 0, n_ref / 2);
		struct dd_instance *b = restored(a, cfg, n_ref);
		feed_ref(b, ref, n_ref / 2, n_ref);
		assert_int_equal(b->ops->reference_done(&b->ctx), 0);
		feed_cur(b, cur, 0, n);
		assert_int_equal(b->ops->evaluate(&b->ctx, &v), 0);
		check_verdict(c, cfg, &v);
		check_summary(c, cfg, b);

		/* Mid-window: edges and counts travel; restore also works into a used instance. */
		struct dd_instance *d = case_instance(c, cfg, 0, n / 2);
		struct dd_instance *e = restored(d, cfg, n_ref);
		feed_cur(e, cur, n / 2, n);
		assert_int_equal(e->ops->evaluate(&e->ctx, &v), 0);
		check_verdict(c, cfg, &v);
		size_t len;
		uint8_t *data = snap(d, &len);
		assert_int_equal(b->ops->restore(&b->ctx, 1, data, len), 0);
		assert_same_state(b, d);
		free(data);

		/* Into an instance whose raw reference was already freed, a collecting snapshot. */
		data = snap(a, &len);
		assert_int_equal(e->ops->restore(&e->ctx, 1, data, len), 0);
		assert_same_state(e, a);
		free(data);

		dd_instance_free(a);
		dd_instance_free(b);
		dd_instance_free(d);
		dd_instance_free(e);
		free(cfg);
	}
	json_decref(cases);
}

static void expect_rejected(const void *cfg, size_t n_ref, const uint8_t *data, size_t len,
                            uint32_t version)
{
	struct dd_instance *in = new_instance(cfg, n_ref);
	/* Dirty the state first: a failed restore must leave it as after init. */
	for (size_t i = 0; i < n_ref; i++)
		assert_int_equal(dd_instance_reference_number(in, (double)i), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	assert_int_equal(dd_instance_update_number(in, 3.0), 0);

	assert_int_equal(in->ops->restore(&in->ctx, version, data, len), -EBADMSG);
	struct dd_instance *fresh = new_instance(cfg, n_ref);
	assert_same_state(in, fresh);
	/* ... and usable. */
	for (size_t i = 0; i < n_ref; i++)
		assert_int_equal(dd_instance_reference_number(in, (double)i), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	dd_instance_free(fresh);
	dd_instance_free(in);
}

static void xorshift_fill(uint64_t *x, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		*x ^= *x << 13;
		*x ^= *x >> 7;
		*x ^= *x << 17;
		p[i] = (uint8_t)*x;
	}
}

/* A ready snapshot of 8 reference values i^2 and 20 window values under cfg. */
static uint8_t *ready_snapshot(const void *cfg, size_t *len)
{
	struct dd_instance *in = new_instance(cfg, 8);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(dd_instance_reference_number(in, (double)(i * i)), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(dd_instance_update_number(in, i * 2.5 - 1), 0);
	uint8_t *s = snap(in, len);
	dd_instance_free(in);
	return s;
}

static void test_restore_rejects(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	void *cfg = defaults();
	assert_int_equal(dd_param_set_number(o, cfg, "bins", 4), 0);
	const size_t n_ref = 8;

	/* A ready snapshot: 3 edges, so 16 + 3*8 + 2*4*8 = 104 bytes. */
	size_t len;
	uint8_t *good = ready_snapshot(cfg, &len);
	assert_int_equal(len, 104);
	/* A collecting snapshot: 3 values. */
	struct dd_instance *col = new_instance(cfg, n_ref);
	for (int i = 0; i < 3; i++)
		assert_int_equal(dd_instance_reference_number(col, i), 0);
	size_t clen;
	uint8_t *cgood = snap(col, &clen);
	assert_int_equal(clen, 16 + 24);

	for (size_t l = 0; l < len; l++)
		expect_rejected(cfg, n_ref, good, l, 1);
	for (size_t l = 0; l < clen; l++)
		expect_rejected(cfg, n_ref, cgood, l, 1);
	uint8_t buf[256];
	memcpy(buf, good, len);
	buf[len] = 0;
	expect_rejected(cfg, n_ref, buf, len + 1, 1);
	memcpy(buf, cgood, clen);
	memset(buf + clen, 0, 8);
	expect_rejected(cfg, n_ref, buf, clen + 8, 1); /* a value beyond the declared count */
	expect_rejected(cfg, n_ref, good, len, 0);
	expect_rejected(cfg, n_ref, good, len, 2);
	expect_rejected(cfg, n_ref, NULL, 0, 1);

#define MUTATE(c, g, n, stmt)                                                                      \
	do {                                                                                       \
		memcpy(buf, g, n);                                                                 \
		stmt;                                                                              \
		expect_rejected(c, n_ref, buf, n, 1);                                              \
	} while (0)
	MUTATE(cfg, good, len, put_le(buf, 2));                           /* unknown phase */
	MUTATE(cfg, good, len, put_le(buf + 8, 0));                       /* no edges */
	MUTATE(cfg, good, len, put_le(buf + 8, 4));                       /* more than bins - 1 */
	MUTATE(cfg, good, len, put_le(buf + 8, UINT64_MAX));              /* absurd count */
	MUTATE(cfg, good, len, put_f64(buf + 16, (double)NAN));           /* non-finite edge */
	MUTATE(cfg, good, len, put_f64(buf + 24, (double)INFINITY));      /* non-finite edge */
	MUTATE(cfg, good, len, put_f64(buf + 24, get_f64(buf + 16)));     /* tied edges */
	MUTATE(cfg, good, len, put_f64(buf + 32, get_f64(buf + 16) - 1)); /* decreasing edges */
	MUTATE(cfg, good, len, memset(buf + 40, 0, 32));                  /* empty reference */
	MUTATE(cfg, good, len, put_le(buf + 40, UINT64_MAX); put_le(buf + 48, UINT64_MAX));
	MUTATE(cfg, good, len, put_le(buf + 72, UINT64_MAX); put_le(buf + 80, UINT64_MAX));
	memcpy(buf, cgood, clen);
	put_le(buf + 8, n_ref + 1); /* more values than the reference holds */
	expect_rejected(cfg, n_ref, buf, clen, 1);
	memcpy(buf, cgood, clen);
	put_f64(buf + 24, (double)NAN);
	expect_rejected(cfg, n_ref, buf, clen, 1);

	/* A snapshot from a detector with more bins does not fit. */
	void *cfg20 = defaults();
	assert_int_equal(dd_param_set_number(o, cfg20, "bins", 20), 0);
	struct dd_instance *in20 = new_instance(cfg20, 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(dd_instance_reference_number(in20, i), 0);
	assert_int_equal(in20->ops->reference_done(&in20->ctx), 0);
	size_t len20;
	uint8_t *s20 = snap(in20, &len20);
	expect_rejected(cfg, n_ref, s20, len20, 1);
	free(s20);
	dd_instance_free(in20);
	free(cfg20);

	/* Under out_of_range bin: 5 edges (the reference's ends included), 6 bins, 152 bytes;
	 * the reference's underflow and overflow bins must be empty. */
	void *cfgb = defaults();
	assert_int_equal(dd_param_set_number(o, cfgb, "bins", 4), 0);
	assert_int_equal(dd_param_set_choice(o, cfgb, "out_of_range", "bin"), 0);
	size_t blen;
	uint8_t *bgood = ready_snapshot(cfgb, &blen);
	assert_int_equal(blen, 16 + 5 * 8 + 2 * 6 * 8);
	assert_int_equal(get_le(bgood + 56), 0);
	assert_int_equal(get_le(bgood + 96), 0);
	assert_true(get_le(bgood + 104) > 0); /* window underflow (-1) */
	struct dd_instance *bi = new_instance(cfgb, n_ref);
	assert_int_equal(bi->ops->restore(&bi->ctx, 1, bgood, blen), 0);
	dd_instance_free(bi);
	/* The clamp snapshot has the wrong length for the bin configuration, and back. */
	expect_rejected(cfgb, n_ref, good, len, 1);
	expect_rejected(cfg, n_ref, bgood, blen, 1);
	MUTATE(cfgb, bgood, blen, put_le(buf + 56, 1)); /* reference underflow */
	MUTATE(cfgb, bgood, blen, put_le(buf + 96, 1)); /* reference overflow */
	MUTATE(cfgb, bgood, blen, put_le(buf + 8, 6));  /* more than bins + 1 edges */
	MUTATE(cfgb, bgood, blen, put_le(buf + 8, 0));  /* no edges */
	for (size_t l = 0; l < blen; l++)
		expect_rejected(cfgb, n_ref, bgood, l, 1);

	/* Under doane/sturges with clamp a single bin (no edges) is a valid summary (a constant
	 * reference); under quantile it is not (see above). */
	void *cfgd = defaults();
	assert_int_equal(dd_param_set_choice(o, cfgd, "binning", "doane"), 0);
	uint8_t one[32];
	put_le(one, 1);
	put_le(one + 8, 0);
	put_le(one + 16, 5);
	put_le(one + 24, 3);
	struct dd_instance *di = new_instance(cfgd, n_ref);
	assert_int_equal(di->ops->restore(&di->ctx, 1, one, sizeof(one)), 0);
	struct driftd_verdict v;
	assert_int_equal(di->ops->evaluate(&di->ctx, &v), 0);
	assert_true(v.score == 0);
	assert_int_equal(dd_instance_update_number(di, 1e300), 0);
	dd_instance_free(di);
	expect_rejected(cfg, n_ref, one, sizeof(one), 1);
	put_le(one + 16, 0);
	expect_rejected(cfgd, n_ref, one, sizeof(one), 1); /* empty reference */

	/* Deterministic garbage of assorted lengths, and of the right length. */
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int round = 0; round < 1000; round++) {
		size_t l = (size_t)(round % 200);
		xorshift_fill(&x, buf, l);
		expect_rejected(cfg, n_ref, buf, l, 1);
	}
	for (int round = 0; round < 1000; round++) {
		xorshift_fill(&x, buf, len);
		expect_rejected(cfg, n_ref, buf, len, 1);
	}
	for (int round = 0; round < 300; round++) {
		xorshift_fill(&x, buf, blen);
		expect_rejected(cfgb, n_ref, buf, blen, 1);
	}

	free(good);
	free(cgood);
	free(bgood);
	dd_instance_free(col);
	free(cfg);
	free(cfgb);
	free(cfgd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_ops_table),
	                                   cmocka_unit_test(test_params),
	                                   cmocka_unit_test(test_oracle_cases),
	                                   cmocka_unit_test(test_errors),
	                                   cmocka_unit_test(test_merge_laws),
	                                   cmocka_unit_test(test_snapshot_round_trip),
	                                   cmocka_unit_test(test_restore_rejects),
	                                   cmocka_unit_test(test_extreme_reference),
	                                   BINNED_EXTRA_TESTS};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
