/* psi against an independent numpy implementation (tests/oracle/gen_psi.py -> data/psi.json):
 * psi to 1e-12 relative, edges to 1e-12, bin counts exactly (read back from the documented
 * snapshot layout); error cases, merge laws, snapshot round trips and hostile snapshots. */
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

#define DATA_FILE DRIFTD_TEST_DATA "/detectors/data/psi.json"
#define PSI_TOL   1e-12
#define EDGE_TOL  1e-12

static const struct driftd_detector_ops *ops(void)
{
	const struct driftd_detector_ops *o = driftd_detector_find("psi");
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

static void *config_from(json_t *params)
{
	const struct driftd_detector_ops *o = ops();
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
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

static bool close_rel(double got, double want, double tol)
{
	return fabs(got - want) <= tol * fabs(want);
}

/* Edges and counts from the snapshot (layout documented in detectors/psi.c). */
static void check_summary(json_t *c, const struct dd_instance *in)
{
	size_t len;
	uint8_t *s = snap(in, &len);
	json_t *edges = json_object_get(c, "edges");
	json_t *rc = json_object_get(c, "ref_counts");
	json_t *cc = json_object_get(c, "cur_counts");
	size_t ne = json_array_size(edges);

	assert_true(len >= 16);
	assert_int_equal(get_le(s), 1);
	if (get_le(s + 8) != ne)
		fail_msg("%s: %zu edges, numpy has %zu", case_name(c), (size_t)get_le(s + 8), ne);
	assert_int_equal(len, 16 + 8 * ne + 16 * (ne + 1));
	const uint8_t *p = s + 16;
	for (size_t i = 0; i < ne; i++, p += 8) {
		double want = json_number_value(json_array_get(edges, i));
		double got = get_f64(p);
		if (fabs(got - want) > EDGE_TOL * fmax(1.0, fabs(want)))
			fail_msg("%s: edge %zu = %.17g, numpy %.17g", case_name(c), i, got, want);
	}
	for (size_t i = 0; i <= ne; i++, p += 8)
		if (get_le(p) != (uint64_t)json_integer_value(json_array_get(rc, i)))
			fail_msg("%s: reference bin %zu holds %llu, numpy %lld", case_name(c), i,
			         (unsigned long long)get_le(p),
			         (long long)json_integer_value(json_array_get(rc, i)));
	for (size_t i = 0; i <= ne; i++, p += 8)
		if (get_le(p) != (uint64_t)json_integer_value(json_array_get(cc, i)))
			fail_msg("%s: window bin %zu holds %llu, numpy %lld", case_name(c), i,
			         (unsigned long long)get_le(p),
			         (long long)json_integer_value(json_array_get(cc, i)));
	free(s);
}

static void check_verdict(json_t *c, const void *cfg, const struct driftd_verdict *v)
{
	double want = json_number_value(json_object_get(c, "psi"));
	if (!close_rel(v->score, want, PSI_TOL))
		fail_msg("%s: psi %.17g, numpy %.17g (rel %.3g)", case_name(c), v->score, want,
		         fabs(v->score - want) / fabs(want));
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
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	assert_true(dd_param_get(dd_param_find(o, "threshold"), cfg) == 0.1);
	assert_true(dd_param_get(dd_param_find(o, "bins"), cfg) == 10);
	assert_true(dd_param_get(dd_param_find(o, "binning"), cfg) == 0);
	assert_true(dd_param_get(dd_param_find(o, "empty_bin"), cfg) == 0);
	assert_true(dd_param_get(dd_param_find(o, "epsilon"), cfg) == 0.0001);

	assert_int_equal(dd_param_set_number(o, cfg, "bins", 1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "bins", 1001), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "bins", 2.5), -EINVAL);
	assert_int_equal(dd_param_set_number(o, cfg, "threshold", -0.1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "epsilon", 0), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "epsilon", 1.5), -ERANGE);
	assert_true(dd_param_get(dd_param_find(o, "out_of_range"), cfg) == 0);
	assert_int_equal(dd_param_set_choice(o, cfg, "binning", "scott"), -EINVAL);
	assert_int_equal(dd_param_set_choice(o, cfg, "empty_bin", "none"), -EINVAL);
	assert_int_equal(dd_param_set_choice(o, cfg, "out_of_range", "drop"), -EINVAL);
	assert_int_equal(dd_param_set_choice(o, cfg, "empty_bin", "dbl_min"), -EINVAL);
	assert_int_equal(dd_param_set_choice(o, cfg, "binning", "uniform"), 0);
	assert_int_equal(dd_param_set_choice(o, cfg, "empty_bin", "laplace"), 0);
	const char *why = NULL;
	assert_int_equal(o->check_config(cfg, &why), 0);

	/* check_config and init catch blocks that bypassed the table. */
	int64_t bins = 0;
	memcpy((char *)cfg + dd_param_find(o, "bins")->offset, &bins, sizeof(bins));
	assert_int_equal(o->check_config(cfg, &why), -EINVAL);
	assert_non_null(why);
	struct dd_instance *in = NULL;
	struct driftd_shape shape = {.reference_size = 10};
	assert_int_equal(dd_instance_new(o, cfg, &shape, &in), -EINVAL);
	/* A two-sample detector needs a reference size. */
	shape.reference_size = 0;
	assert_int_equal(dd_instance_new(o, NULL, &shape, &in), -EINVAL);
	free(cfg);
}

static void test_numpy_cases(void **unused)
{
	json_t *cases = load_cases();
	size_t ci;
	json_t *c;
	json_array_foreach (cases, ci, c) {
		void *cfg = config_from(json_object_get(c, "params"));
		json_t *cur = json_object_get(c, "cur");
		struct dd_instance *in = case_instance(c, cfg, 0, json_array_size(cur));
		struct driftd_verdict v;
		assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
		check_verdict(c, cfg, &v);
		check_summary(c, in);

		/* A second window after window_reset gives the same verdict. */
		in->ops->window_reset(&in->ctx);
		assert_int_equal(in->ops->evaluate(&in->ctx, &v), -ENODATA);
		feed_cur(in, cur, 0, json_array_size(cur));
		assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
		check_verdict(c, cfg, &v);
		dd_instance_free(in);
		free(cfg);
	}
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

/* References spanning more than DBL_MAX still give finite, increasing edges. */
static void test_extreme_reference(void **unused)
{
	static const char *const binnings[] = {"quantile", "uniform"};
	for (size_t b = 0; b < 2; b++) {
		const struct driftd_detector_ops *o = ops();
		void *cfg = calloc(1, o->config_size);
		assert_non_null(cfg);
		dd_params_defaults(o, cfg);
		assert_int_equal(dd_param_set_choice(o, cfg, "binning", binnings[b]), 0);
		struct dd_instance *in = new_instance(cfg, 3);
		assert_int_equal(dd_instance_reference_number(in, -1.7976931348623157e308), 0);
		assert_int_equal(dd_instance_reference_number(in, 0.0), 0);
		assert_int_equal(dd_instance_reference_number(in, 1.7976931348623157e308), 0);
		assert_int_equal(in->ops->reference_done(&in->ctx), 0);
		assert_int_equal(dd_instance_update_number(in, 1.0), 0);
		struct driftd_verdict v;
		assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
		assert_true(isfinite(v.score));
		size_t len;
		uint8_t *data = snap(in, &len);
		assert_int_equal(get_le(data + 8), 9);
		struct dd_instance *back = new_instance(cfg, 3);
		assert_int_equal(back->ops->restore(&back->ctx, 1, data, len), 0);
		free(data);
		dd_instance_free(back);
		dd_instance_free(in);
		free(cfg);
	}
}

/* dst += src, both as instances. */
static void merge(struct dd_instance *dst, const struct dd_instance *src)
{
	assert_int_equal(dst->ops->merge(&dst->ctx, &src->ctx), 0);
}

static void test_merge_laws(void **unused)
{
	json_t *cases = load_cases();
	static const char *const names[] = {"shifted_normal", "heavy_ties_laplace",
	                                    "out_of_range_uniform", "bins_1000"};
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		json_t *c = find_case(cases, names[k]);
		void *cfg = config_from(json_object_get(c, "params"));
		size_t n = json_array_size(json_object_get(c, "cur"));
		size_t n_ref = json_array_size(json_object_get(c, "ref"));
		size_t m1 = n / 3, m2 = 2 * n / 3;
		struct dd_instance *whole = case_instance(c, cfg, 0, n);

		/* Two halves, both orders. */
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

	/* Different references cannot be merged, nor a half-built one. */
	json_t *c1 = find_case(cases, "shifted_normal");
	json_t *c3 = find_case(cases, "shifted_normal_uniform");
	void *cfg = config_from(json_object_get(c1, "params"));
	void *cfg3 = config_from(json_object_get(c3, "params"));
	struct dd_instance *x = case_instance(c1, cfg, 0, 10);
	struct dd_instance *y = case_instance(c3, cfg3, 0, 10);
	struct dd_instance *z = new_instance(cfg, 10);
	assert_int_equal(dd_instance_reference_number(z, 1.0), 0);
	size_t l0;
	uint8_t *s0 = snap(x, &l0);
	assert_int_equal(x->ops->merge(&x->ctx, &y->ctx), -EINVAL);
	assert_int_equal(x->ops->merge(&x->ctx, &z->ctx), -EINVAL);
	assert_int_equal(z->ops->merge(&z->ctx, &x->ctx), -EINVAL);
	size_t l1;
	uint8_t *s1 = snap(x, &l1);
	assert_int_equal(l0, l1);
	assert_memory_equal(s0, s1, l0);
	free(s0);
	free(s1);
	dd_instance_free(x);
	dd_instance_free(y);
	dd_instance_free(z);
	free(cfg);
	free(cfg3);
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

		/* Mid-reference: the raw values travel. */
		struct dd_instance *a = new_instance(cfg, n_ref);
		feed_ref(a, ref, 0, n_ref / 2);
		struct dd_instance *b = restored(a, cfg, n_ref);
		feed_ref(b, ref, n_ref / 2, n_ref);
		assert_int_equal(b->ops->reference_done(&b->ctx), 0);
		feed_cur(b, cur, 0, n);
		assert_int_equal(b->ops->evaluate(&b->ctx, &v), 0);
		check_verdict(c, cfg, &v);
		check_summary(c, b);

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

static void test_restore_rejects(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	assert_int_equal(dd_param_set_number(o, cfg, "bins", 4), 0);
	const size_t n_ref = 8;

	/* A ready snapshot: 3 edges, so 16 + 3*8 + 2*4*8 = 104 bytes. */
	struct dd_instance *in = new_instance(cfg, n_ref);
	for (size_t i = 0; i < n_ref; i++)
		assert_int_equal(dd_instance_reference_number(in, (double)(i * i)), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(dd_instance_update_number(in, i * 2.5), 0);
	size_t len;
	uint8_t *good = snap(in, &len);
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

#define MUTATE(stmt)                                                                               \
	do {                                                                                       \
		memcpy(buf, good, len);                                                            \
		stmt;                                                                              \
		expect_rejected(cfg, n_ref, buf, len, 1);                                          \
	} while (0)
	MUTATE(put_le(buf, 2));                           /* unknown phase */
	MUTATE(put_le(buf + 8, 0));                       /* no edges */
	MUTATE(put_le(buf + 8, 4));                       /* more edges than bins - 1 */
	MUTATE(put_le(buf + 8, UINT64_MAX));              /* absurd count */
	MUTATE(put_f64(buf + 16, (double)NAN));           /* non-finite edge */
	MUTATE(put_f64(buf + 24, (double)INFINITY));      /* non-finite edge */
	MUTATE(put_f64(buf + 24, get_f64(buf + 16)));     /* tied edges */
	MUTATE(put_f64(buf + 32, get_f64(buf + 16) - 1)); /* decreasing edges */
	MUTATE(memset(buf + 40, 0, 32));                  /* empty reference */
	MUTATE(put_le(buf + 40, UINT64_MAX); put_le(buf + 48, UINT64_MAX)); /* reference overflow */
	MUTATE(put_le(buf + 72, UINT64_MAX); put_le(buf + 80, UINT64_MAX)); /* window overflow */
	memcpy(buf, cgood, clen);
	put_le(buf + 8, n_ref + 1); /* more values than the reference holds */
	expect_rejected(cfg, n_ref, buf, clen, 1);
	memcpy(buf, cgood, clen);
	put_f64(buf + 24, (double)NAN);
	expect_rejected(cfg, n_ref, buf, clen, 1);

	/* A snapshot from a detector with more bins does not fit. */
	void *cfg20 = calloc(1, o->config_size);
	assert_non_null(cfg20);
	dd_params_defaults(o, cfg20);
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

	free(good);
	free(cgood);
	dd_instance_free(in);
	dd_instance_free(col);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_table),       cmocka_unit_test(test_params),
	    cmocka_unit_test(test_numpy_cases),     cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_merge_laws),      cmocka_unit_test(test_snapshot_round_trip),
	    cmocka_unit_test(test_restore_rejects), cmocka_unit_test(test_extreme_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
