/* The categorical detectors (chi2, ztest, tvd, new_category) and their shared category table
 * (detectors/categories.c) against scipy 1.17.1 / numpy (tests/detectors/data/categorical.json,
 * written by tests/oracle/gen_categorical.py), plus the plugin contract: errors, value types,
 * bounded strings, snapshots, hostile snapshots, merges.
 *
 * Tolerances (worst error measured on the 211 cases in brackets; test_oracle_cases prints it):
 *   the table (kept categories in rank order, reference and window counts): exact [exact];
 *   chi2 statistic, tvd, z, new-category share: 1e-12 relative [0: the same operations in the
 *   same order, numpy's pairwise sums included];
 *   p-values: 1e-12 relative [chi2 via GSL vs scipy's chdtrc: 1.2e-14 for normal doubles,
 *   2.0e-13 for a subnormal p of 2.4e-311; z-test via erfc vs scipy's ndtr: 5.7e-14]; where
 *   scipy underflows to 0 the p-value must be below DBL_MIN.
 */
#include <errno.h>
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
#include <jansson.h>

#include "host.h"

#define DATA_FILE DRIFTD_TEST_DATA "/detectors/data/categorical.json"
#define TOL       1e-12

static const char *const detector_names[] = {"chi2", "ztest", "tvd", "new_category"};
#define N_DETECTORS 4

static const struct driftd_detector_ops *ops_of(const char *name)
{
	const struct driftd_detector_ops *o = driftd_detector_find(name);
	assert_non_null(o);
	return o;
}

/* ---- oracle data ---- */

static json_t *g_root;

static json_t *load(void)
{
	if (!g_root) {
		json_error_t err;
		g_root = json_load_file(DATA_FILE, 0, &err);
		if (!g_root)
			fail_msg("%s:%d: %s", DATA_FILE, err.line, err.text);
	}
	return g_root;
}

static json_t *cases(void)
{
	json_t *c = json_object_get(load(), "cases");
	assert_true(json_array_size(c) > 100);
	return c;
}

static json_t *find_case(const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach (cases(), i, c) {
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

static struct driftd_value value_of(json_t *j)
{
	struct driftd_value v = {0};
	if (json_is_string(j)) {
		v.type = DRIFTD_VALUE_STRING;
		v.str = json_string_value(j);
		v.len = json_string_length(j);
	} else if (json_is_boolean(j)) {
		v.type = DRIFTD_VALUE_BOOL;
		v.num = json_is_true(j);
	} else {
		assert_true(json_is_number(j));
		v.type = DRIFTD_VALUE_NUMBER;
		v.num = json_number_value(j);
	}
	return v;
}

/* A sample ([value, count] pairs) as a value stream, interleaved: one of each pair in turn
 * while counts remain, so categories arrive mixed as they would in a log. */
struct stream {
	struct driftd_value *v;
	size_t n;
};

static struct stream stream_of(const char *sample)
{
	json_t *pairs = json_object_get(json_object_get(load(), "samples"), sample);
	size_t np = json_array_size(pairs), total = 0;
	assert_true(np > 0);
	json_int_t *left = calloc(np, sizeof(*left));
	assert_non_null(left);
	for (size_t i = 0; i < np; i++) {
		left[i] = json_integer_value(json_array_get(json_array_get(pairs, i), 1));
		assert_true(left[i] > 0);
		total += (size_t)left[i];
	}
	struct stream s = {.v = malloc(total * sizeof(struct driftd_value)), .n = 0};
	assert_non_null(s.v);
	while (s.n < total) {
		for (size_t i = 0; i < np; i++) {
			if (left[i] == 0)
				continue;
			left[i]--;
			s.v[s.n++] = value_of(json_array_get(json_array_get(pairs, i), 0));
		}
	}
	free(left);
	return s;
}

static void *config_for(const struct driftd_detector_ops *o, json_t *params)
{
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	const char *key;
	json_t *val;
	json_object_foreach (params, key, val) {
		double x = json_is_boolean(val) ? json_is_true(val) : json_number_value(val);
		if (dd_param_set_number(o, cfg, key, x) != 0)
			fail_msg("%s: cannot set %s", o->name, key);
	}
	const char *why = NULL;
	assert_int_equal(o->check_config(cfg, &why), 0);
	return cfg;
}

static struct dd_instance *instance(const struct driftd_detector_ops *o, const void *cfg,
                                    size_t ref_size, uint64_t seed)
{
	struct dd_instance *in = NULL;
	struct driftd_shape shape = {.reference_size = ref_size, .window_size = 100, .seed = seed};
	assert_int_equal(dd_instance_new(o, cfg, &shape, &in), 0);
	return in;
}

static void feed_ref(struct dd_instance *in, const struct stream *s, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		assert_int_equal(in->ops->reference_add(&in->ctx, &s->v[i]), 0);
}

static void feed_win(struct dd_instance *in, const struct stream *s, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		assert_int_equal(in->ops->update(&in->ctx, &s->v[i]), 0);
}

/* One oracle case, loaded: detector, config, reference and window streams. */
struct kase {
	json_t *j;
	const struct driftd_detector_ops *o;
	void *cfg;
	struct stream ref, cur;
};

static struct kase kase_of(json_t *j)
{
	struct kase k = {.j = j};
	k.o = ops_of(json_string_value(json_object_get(j, "detector")));
	k.cfg = config_for(k.o, json_object_get(j, "params"));
	k.ref = stream_of(json_string_value(json_object_get(j, "ref")));
	k.cur = stream_of(json_string_value(json_object_get(j, "cur")));
	return k;
}

static void kase_free(struct kase *k)
{
	free(k->cfg);
	free(k->ref.v);
	free(k->cur.v);
}

/* An instance with the whole reference and cur[from, to) in its window. */
static struct dd_instance *kase_instance(const struct kase *k, size_t from, size_t to)
{
	struct dd_instance *in = instance(k->o, k->cfg, k->ref.n, 1);
	feed_ref(in, &k->ref, 0, k->ref.n);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	feed_win(in, &k->cur, from, to);
	return in;
}

/* ---- snapshots ---- */

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
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void put_le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Offsets into a ready snapshot (layout documented in detectors/categories.c). */
struct layout {
	size_t n_kept;
	size_t entry[64]; /* offsets of the first kept entries */
	size_t rest;      /* other count; n_other follows, then the hashes */
	size_t n_other;
	size_t win; /* window counts */
};

static struct layout layout_of(const uint8_t *s, size_t len, size_t max_length)
{
	struct layout l = {0};
	assert_true(len >= 24);
	assert_int_equal(get_le(s), 1);
	l.n_kept = get_le(s + 16);
	size_t off = 24;
	for (size_t i = 0; i < l.n_kept; i++) {
		if (i < 64)
			l.entry[i] = off;
		uint64_t klen = get_le(s + off + 8);
		off += 32 + (klen < max_length ? klen : max_length);
		assert_true(off <= len);
	}
	l.rest = off;
	l.n_other = get_le(s + off + 8);
	l.win = off + 16 + 8 * l.n_other;
	assert_int_equal(len, l.win + 8 * (l.n_kept + 2));
	return l;
}

static int64_t param_int(json_t *c, const char *name)
{
	return json_integer_value(json_object_get(json_object_get(c, "params"), name));
}

/* The kept categories (type and key), reference and window counts, as the oracle has them. */
static void check_table(json_t *c, const struct dd_instance *in)
{
	size_t len;
	uint8_t *s = snap(in, &len);
	size_t max_length = (size_t)param_int(c, "max_length");
	struct layout l = layout_of(s, len, max_length);
	json_t *kept = json_object_get(c, "kept");
	json_t *rr = json_object_get(c, "ref_row");
	json_t *wr = json_object_get(c, "win_row");

	if (l.n_kept != json_array_size(kept))
		fail_msg("%s: %zu kept, oracle %zu", case_name(c), l.n_kept, json_array_size(kept));
	for (size_t i = 0; i < l.n_kept; i++) {
		const uint8_t *e = s + l.entry[i < 64 ? i : 63];
		if (i >= 64)
			break; /* offsets of the first 64 are enough to check the ranking */
		json_t *k = json_array_get(kept, i);
		uint64_t tag = (uint64_t)json_integer_value(json_array_get(k, 0));
		json_t *val = json_array_get(k, 1);
		if (get_le(e) != tag)
			fail_msg("%s: kept %zu has type %llu, oracle %llu", case_name(c), i,
			         (unsigned long long)get_le(e), (unsigned long long)tag);
		uint64_t klen = get_le(e + 8);
		const uint8_t *key = e + 32;
		if (tag == DRIFTD_VALUE_NUMBER) {
			double x = json_number_value(val), y;
			uint64_t bits = get_le(key);
			memcpy(&y, &bits, sizeof(y));
			assert_int_equal(klen, 8);
			if (x != y || (y == 0 && signbit(y)))
				fail_msg("%s: kept %zu is %.17g, oracle %.17g", case_name(c), i, y,
				         x);
		} else if (tag == DRIFTD_VALUE_BOOL) {
			assert_int_equal(klen, 1);
			assert_int_equal(key[0], json_is_true(val));
		} else {
			const char *hex = json_string_value(val);
			size_t n = strlen(hex) / 2;
			assert_int_equal(klen, n);
			for (size_t b = 0; b < n && b < max_length; b++) {
				unsigned byte;
				assert_int_equal(sscanf(hex + 2 * b, "%2x", &byte), 1);
				if (key[b] != byte)
					fail_msg("%s: kept %zu differs at byte %zu", case_name(c),
					         i, b);
			}
		}
		if (get_le(e + 24) != (uint64_t)json_integer_value(json_array_get(rr, i)))
			fail_msg("%s: kept %zu has %llu reference values, oracle %lld",
			         case_name(c), i, (unsigned long long)get_le(e + 24),
			         (long long)json_integer_value(json_array_get(rr, i)));
	}
	assert_int_equal(get_le(s + l.rest), json_integer_value(json_array_get(rr, l.n_kept)));
	for (size_t i = 0; i < l.n_kept + 2; i++)
		if (get_le(s + l.win + 8 * i) !=
		    (uint64_t)json_integer_value(json_array_get(wr, i)))
			fail_msg("%s: window column %zu holds %llu, oracle %lld", case_name(c), i,
			         (unsigned long long)get_le(s + l.win + 8 * i),
			         (long long)json_integer_value(json_array_get(wr, i)));
	free(s);
}

static double rel_err(double got, double want)
{
	if (got == want)
		return 0;
	return fabs(got - want) / fabs(want);
}

static double worst_score, worst_p;

static void check_verdict(json_t *c, const struct driftd_verdict *v)
{
	const char *det = json_string_value(json_object_get(c, "detector"));
	double want = json_number_value(json_object_get(c, "score"));
	double e = rel_err(v->score, want);
	if (!(e <= TOL))
		fail_msg("%s: score %.17g, oracle %.17g (rel %.3g)", case_name(c), v->score, want,
		         e);
	worst_score = fmax(worst_score, e);
	json_t *p = json_object_get(c, "p");
	if (json_is_null(p)) {
		assert_true(isnan(v->p_value));
	} else {
		double wp = json_number_value(p);
		if (wp == 0) {
			if (!(v->p_value >= 0 && v->p_value < DBL_MIN))
				fail_msg("%s: p %.17g where scipy underflows to 0", case_name(c),
				         v->p_value);
		} else {
			double ep = rel_err(v->p_value, wp);
			if (!(ep <= TOL))
				fail_msg("%s: p %.17g, oracle %.17g (rel %.3g)", case_name(c),
				         v->p_value, wp, ep);
			worst_p = fmax(worst_p, ep);
		}
	}
	if (v->drift != json_is_true(json_object_get(c, "drift")))
		fail_msg("%s: drift %d, oracle %d", case_name(c), v->drift, !v->drift);
	assert_false(v->warning);
	json_t *params = json_object_get(c, "params");
	json_t *thr = json_object_get(
	    params, strcmp(det, "chi2") == 0 || strcmp(det, "ztest") == 0 ? "alpha" : "threshold");
	assert_true(v->threshold == json_number_value(thr));
}

static void evaluate_ok(struct dd_instance *in, struct driftd_verdict *v)
{
	*v = (struct driftd_verdict){.p_value = (double)NAN};
	assert_int_equal(in->ops->evaluate(&in->ctx, v), 0);
}

/* ---- tests ---- */

static void test_ops_tables(void **unused)
{
	for (int i = 0; i < N_DETECTORS; i++) {
		const struct driftd_detector_ops *o = ops_of(detector_names[i]);
		bool ptest = i < 2;
		assert_int_equal(o->kind, DRIFTD_KIND_CATEGORICAL);
		assert_int_equal(o->caps, DRIFTD_CAP_MERGE | (ptest ? DRIFTD_CAP_P_VALUE : 0));
		assert_int_equal(o->accepts, DRIFTD_ACCEPTS(DRIFTD_VALUE_STRING) |
		                                 DRIFTD_ACCEPTS(DRIFTD_VALUE_BOOL) |
		                                 DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER));
		assert_int_equal(o->snapshot_version, 1);
		assert_non_null(o->reference_done);
		assert_non_null(o->window_reset);
		for (size_t k = 0; k < o->n_params; k++)
			assert_true(strlen(o->params[k].description) < 100);

		void *cfg = calloc(1, o->config_size);
		assert_non_null(cfg);
		dd_params_defaults(o, cfg);
		assert_true(dd_param_get(dd_param_find(o, "max_categories"), cfg) == 64);
		assert_true(dd_param_get(dd_param_find(o, "max_length"), cfg) == 64);
		assert_int_equal(dd_param_set_number(o, cfg, "max_categories", 0), -ERANGE);
		assert_int_equal(dd_param_set_number(o, cfg, "max_categories", 65537), -ERANGE);
		assert_int_equal(dd_param_set_number(o, cfg, "max_categories", 2.5), -EINVAL);
		assert_int_equal(dd_param_set_number(o, cfg, "max_length", 7), -ERANGE);
		assert_int_equal(dd_param_set_number(o, cfg, "max_length", 1025), -ERANGE);
		if (ptest) {
			assert_true(dd_param_get(dd_param_find(o, "alpha"), cfg) == 0.05);
			assert_int_equal(dd_param_set_number(o, cfg, "alpha", 0), -ERANGE);
			assert_int_equal(dd_param_set_number(o, cfg, "alpha", 1), -ERANGE);
		} else {
			double def = i == 2 ? 0.1 : 0.01;
			assert_true(dd_param_get(dd_param_find(o, "threshold"), cfg) == def);
			assert_int_equal(dd_param_set_number(o, cfg, "threshold", -0.01), -ERANGE);
			assert_int_equal(dd_param_set_number(o, cfg, "threshold", 1.01), -ERANGE);
			assert_int_equal(dd_param_set_number(o, cfg, "threshold", 1),
			                 i == 2 ? 0 : -ERANGE);
			assert_int_equal(dd_param_set_number(o, cfg, "threshold", 0), 0);
		}
		if (i == 0)
			assert_true(dd_param_get(dd_param_find(o, "correction"), cfg) == 1);

		/* check_config and init catch blocks that bypassed the table */
		const char *why = NULL;
		assert_int_equal(o->check_config(cfg, &why), 0);
		int64_t bad = 0;
		memcpy((char *)cfg + dd_param_find(o, "max_categories")->offset, &bad, sizeof(bad));
		assert_int_equal(o->check_config(cfg, &why), -EINVAL);
		assert_non_null(why);
		struct dd_instance *in = NULL;
		struct driftd_shape shape = {.reference_size = 10};
		assert_int_equal(dd_instance_new(o, cfg, &shape, &in), -EINVAL);
		dd_params_defaults(o, cfg);
		bad = 4;
		memcpy((char *)cfg + dd_param_find(o, "max_length")->offset, &bad, sizeof(bad));
		assert_int_equal(o->check_config(cfg, &why), -EINVAL);
		/* a categorical detector needs a reference */
		shape.reference_size = 0;
		assert_int_equal(dd_instance_new(o, NULL, &shape, &in), -EINVAL);
		free(cfg);
	}
}

static void test_oracle_cases(void **unused)
{
	size_t i, n = 0;
	json_t *c;
	json_array_foreach (cases(), i, c) {
		struct kase k = kase_of(c);
		struct dd_instance *in = kase_instance(&k, 0, k.cur.n);
		struct driftd_verdict v;
		evaluate_ok(in, &v);
		check_verdict(c, &v);
		check_table(c, in);

		/* the next window starts empty and gives the same verdict on the same values */
		in->ops->window_reset(&in->ctx);
		assert_int_equal(in->ops->evaluate(&in->ctx, &v), -ENODATA);
		feed_win(in, &k.cur, 0, k.cur.n);
		evaluate_ok(in, &v);
		check_verdict(c, &v);
		dd_instance_free(in);
		kase_free(&k);
		n++;
	}
	printf("categorical cases: %zu, worst rel error: score %.3g, p %.3g\n", n, worst_score,
	       worst_p);
}

/* The published homogeneity numbers, independent of the data file. */
static void test_published(void **unused)
{
	static const int ref[6] = {16, 18, 16, 14, 12, 12}, cur[6] = {16, 16, 16, 16, 16, 8};
	const struct driftd_detector_ops *o = ops_of("chi2");
	struct dd_instance *in = instance(o, NULL, 88, 3);
	for (int pass = 0; pass < 2; pass++) {
		const int *cnt = pass ? cur : ref;
		for (int v = 1; v <= 6; v++)
			for (int k = 0; k < cnt[v - 1]; k++) {
				struct driftd_value x = {.type = DRIFTD_VALUE_NUMBER, .num = v};
				assert_int_equal(pass ? o->update(&in->ctx, &x)
				                      : o->reference_add(&in->ctx, &x),
				                 0);
			}
		if (!pass)
			assert_int_equal(o->reference_done(&in->ctx), 0);
	}
	struct driftd_verdict v;
	evaluate_ok(in, &v);
	assert_true(rel_err(v.score, 1.6224089635854342) <= 1e-15);
	assert_true(rel_err(v.p_value, 0.8985262394026607) <= 1e-14);
	assert_false(v.drift);
	dd_instance_free(in);
}

/* Values: types, canonical numbers, empty and unterminated strings, copies. */
static void test_values(void **unused)
{
	const struct driftd_detector_ops *o = ops_of("tvd");
	struct dd_instance *in = instance(o, NULL, 8, 5);
	char buf[8] = {'a', 'b', 'c', 'X', 'X', 'X', 'X', 'X'};
	const struct driftd_value ref[8] = {
	    {.type = DRIFTD_VALUE_STRING, .str = buf, .len = 3}, /* "abc", not terminated */
	    {.type = DRIFTD_VALUE_STRING, .str = NULL, .len = 0},
	    {.type = DRIFTD_VALUE_STRING, .str = "1", .len = 1},
	    {.type = DRIFTD_VALUE_NUMBER, .num = 1.0},
	    {.type = DRIFTD_VALUE_NUMBER, .num = -0.0},
	    {.type = DRIFTD_VALUE_BOOL, .num = 1},
	    {.type = DRIFTD_VALUE_BOOL, .num = 0},
	    {.type = DRIFTD_VALUE_STRING, .str = "true", .len = 4},
	};
	for (int i = 0; i < 8; i++)
		assert_int_equal(o->reference_add(&in->ctx, &ref[i]), 0);
	memset(buf, 'Z', sizeof(buf)); /* the table kept its own copy */
	assert_int_equal(o->reference_done(&in->ctx), 0);
	/* The same 8 categories, spelt otherwise: tvd 0 means every one matched. */
	const struct driftd_value win[8] = {
	    {.type = DRIFTD_VALUE_STRING, .str = "abc", .len = 3},
	    {.type = DRIFTD_VALUE_STRING, .str = "", .len = 0},
	    {.type = DRIFTD_VALUE_STRING, .str = "1", .len = 1},
	    {.type = DRIFTD_VALUE_NUMBER, .num = 1},
	    {.type = DRIFTD_VALUE_NUMBER, .num = 0.0},
	    {.type = DRIFTD_VALUE_BOOL, .num = 1},
	    {.type = DRIFTD_VALUE_BOOL, .num = 0},
	    {.type = DRIFTD_VALUE_STRING, .str = "true", .len = 4},
	};
	for (int i = 0; i < 8; i++)
		assert_int_equal(o->update(&in->ctx, &win[i]), 0);
	struct driftd_verdict v;
	evaluate_ok(in, &v);
	assert_true(v.score == 0);
	/* Everything else is unseen: other numbers, other case, prefixes, 2 as a bool. */
	o->window_reset(&in->ctx);
	const struct driftd_value unseen[6] = {
	    {.type = DRIFTD_VALUE_STRING, .str = "ab", .len = 2},
	    {.type = DRIFTD_VALUE_STRING, .str = "ABC", .len = 3},
	    {.type = DRIFTD_VALUE_STRING, .str = "abc\0", .len = 4},
	    {.type = DRIFTD_VALUE_NUMBER, .num = 1.0000000000000002},
	    {.type = DRIFTD_VALUE_NUMBER, .num = 5e-324},
	    {.type = DRIFTD_VALUE_STRING, .str = "TRUE", .len = 4},
	};
	for (int i = 0; i < 6; i++)
		assert_int_equal(o->update(&in->ctx, &unseen[i]), 0);
	evaluate_ok(in, &v);
	assert_true(v.score == 1);
	dd_instance_free(in);
}

static void test_errors(void **unused)
{
	static const double vec[] = {1, 2};
	const struct driftd_value bad[] = {
	    {.type = DRIFTD_VALUE_NUMBER, .num = (double)NAN},
	    {.type = DRIFTD_VALUE_NUMBER, .num = (double)INFINITY},
	    {.type = DRIFTD_VALUE_NUMBER, .num = -(double)INFINITY},
	    {.type = DRIFTD_VALUE_BOOL, .num = (double)NAN},
	    {.type = DRIFTD_VALUE_STRING, .str = NULL, .len = 3},
	    {.type = DRIFTD_VALUE_NONE},
	    {.type = DRIFTD_VALUE_VECTOR, .vec = vec, .dim = 2},
	    {.type = DRIFTD_VALUE_OTHER},
	};
	const size_t n_bad = sizeof(bad) / sizeof(bad[0]);
	const struct driftd_value a = {.type = DRIFTD_VALUE_STRING, .str = "a", .len = 1};
	for (int d = 0; d < N_DETECTORS; d++) {
		const struct driftd_detector_ops *o = ops_of(detector_names[d]);
		struct dd_instance *in = instance(o, NULL, 4, 9);
		struct driftd_verdict v;

		assert_int_equal(o->reference_done(&in->ctx), -ENODATA);
		assert_int_equal(o->evaluate(&in->ctx, &v), -EINVAL);
		assert_int_equal(o->update(&in->ctx, &a), -EINVAL);
		assert_int_equal(o->reference_add(&in->ctx, &a), 0);

		size_t l0, l1;
		uint8_t *s0 = snap(in, &l0);
		for (size_t i = 0; i < n_bad; i++)
			assert_int_equal(o->reference_add(&in->ctx, &bad[i]), -EDOM);
		uint8_t *s1 = snap(in, &l1);
		assert_int_equal(l0, l1);
		assert_memory_equal(s0, s1, l0);
		free(s0);
		free(s1);

		for (int i = 0; i < 3; i++)
			assert_int_equal(o->reference_add(&in->ctx, &a), 0);
		assert_int_equal(o->reference_add(&in->ctx, &a), -ENOSPC);
		assert_int_equal(o->reference_done(&in->ctx), 0);
		assert_int_equal(o->reference_done(&in->ctx), -EINVAL);
		assert_int_equal(o->reference_add(&in->ctx, &a), -EINVAL);
		assert_int_equal(o->evaluate(&in->ctx, &v), -ENODATA);

		assert_int_equal(o->update(&in->ctx, &a), 0);
		s0 = snap(in, &l0);
		for (size_t i = 0; i < n_bad; i++)
			assert_int_equal(o->update(&in->ctx, &bad[i]), -EDOM);
		s1 = snap(in, &l1);
		assert_int_equal(l0, l1);
		assert_memory_equal(s0, s1, l0);
		free(s0);
		free(s1);
		evaluate_ok(in, &v);
		assert_true(isfinite(v.score));

		o->done(&in->ctx);
		o->done(&in->ctx); /* idempotent */
		dd_instance_free(in);
	}
}

/* More distinct values than anything is bounded by: all counted, reference overflow into
 * other, unseen values beyond max_categories, long strings. */
static void test_bounds(void **unused)
{
	const struct driftd_detector_ops *o = ops_of("new_category");
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	assert_int_equal(dd_param_set_number(o, cfg, "max_categories", 4), 0);
	assert_int_equal(dd_param_set_number(o, cfg, "max_length", 8), 0);
	const size_t n_ref = 20000;
	struct dd_instance *in = instance(o, cfg, n_ref, 11);
	char s[64];
	for (size_t i = 0; i < n_ref; i++) { /* every reference value distinct */
		struct driftd_value v = {.type = DRIFTD_VALUE_NUMBER, .num = (double)i};
		assert_int_equal(o->reference_add(&in->ctx, &v), 0);
	}
	assert_int_equal(o->reference_done(&in->ctx), 0);
	/* the reference's values, all of them known (19996 of them as "other") */
	for (size_t i = 0; i < n_ref; i += 7) {
		struct driftd_value v = {.type = DRIFTD_VALUE_NUMBER, .num = (double)i};
		assert_int_equal(o->update(&in->ctx, &v), 0);
	}
	struct driftd_verdict v;
	evaluate_ok(in, &v);
	assert_true(v.score == 0);
	/* 1000 distinct unseen values, long ones sharing their stored prefix */
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(s, sizeof(s), "same-prefix-then-%d", i);
		struct driftd_value x = {.type = DRIFTD_VALUE_STRING, .str = s, .len = (size_t)n};
		assert_int_equal(o->update(&in->ctx, &x), 0);
	}
	size_t len;
	uint8_t *data = snap(in, &len);
	struct layout l = layout_of(data, len, 8);
	assert_int_equal(l.n_kept, 4);
	assert_int_equal(l.n_other, n_ref - 4);
	assert_int_equal(get_le(data + l.win), 1); /* 0: the only multiple of 7 kept */
	assert_int_equal(get_le(data + l.win + 8 * 4), (n_ref + 6) / 7 - 1);
	assert_int_equal(get_le(data + l.win + 8 * 5), 1000);
	free(data);
	evaluate_ok(in, &v);
	assert_true(rel_err(v.score, 1000.0 / (1000.0 + (double)((n_ref + 6) / 7))) <= 1e-15);
	dd_instance_free(in);

	/* Long reference strings: same first 8 bytes and length are still told apart. */
	in = instance(o, cfg, 3, 11);
	const char *const longs[3] = {"prefix__aaaa", "prefix__aaab", "prefix__aaab"};
	for (int i = 0; i < 3; i++) {
		struct driftd_value x = {.type = DRIFTD_VALUE_STRING, .str = longs[i], .len = 12};
		assert_int_equal(o->reference_add(&in->ctx, &x), 0);
	}
	assert_int_equal(o->reference_done(&in->ctx), 0);
	const char *const probe[4] = {"prefix__aaaa", "prefix__aaab", "prefix__aaac",
	                              "prefix__aaa"};
	for (int i = 0; i < 4; i++) {
		struct driftd_value x = {
		    .type = DRIFTD_VALUE_STRING, .str = probe[i], .len = strlen(probe[i])};
		assert_int_equal(o->update(&in->ctx, &x), 0);
	}
	data = snap(in, &len);
	l = layout_of(data, len, 8);
	assert_int_equal(l.n_kept, 2);
	assert_int_equal(get_le(data + l.entry[0] + 24), 2); /* aaab first: more frequent */
	assert_int_equal(get_le(data + l.win), 1);
	assert_int_equal(get_le(data + l.win + 8), 1);
	assert_int_equal(get_le(data + l.win + 24), 2); /* aaac and aaa unseen */
	free(data);
	dd_instance_free(in);
	free(cfg);
}

static struct dd_instance *restored(const struct dd_instance *from, const void *cfg, size_t n_ref,
                                    uint64_t seed)
{
	size_t len;
	uint8_t *data = snap(from, &len);
	struct dd_instance *to = instance(from->ops, cfg, n_ref, seed);
	assert_int_equal(to->ops->restore(&to->ctx, 1, data, len), 0);
	free(data);
	assert_same_state(from, to);
	return to;
}

static const char *const round_trip_cases[] = {
    "published_homogeneity",   "mixed_types_chi2", "tail_kept_10_chi2",  "long_ztest",
    "new_kept_3_new_category", "k300_same_tvd",    "const_new_no_yates", "ties_kept_3_ztest",
};

static void test_snapshot_round_trip(void **unused)
{
	for (size_t ci = 0; ci < sizeof(round_trip_cases) / sizeof(round_trip_cases[0]); ci++) {
		json_t *c = find_case(round_trip_cases[ci]);
		struct kase k = kase_of(c);
		size_t nr = k.ref.n, n = k.cur.n;
		struct driftd_verdict v;

		/* mid-reference: the distinct categories and counts travel */
		struct dd_instance *a = instance(k.o, k.cfg, nr, 1);
		feed_ref(a, &k.ref, 0, nr / 2);
		struct dd_instance *b = restored(a, k.cfg, nr, 1);
		feed_ref(b, &k.ref, nr / 2, nr);
		assert_int_equal(b->ops->reference_done(&b->ctx), 0);
		feed_win(b, &k.cur, 0, n);
		evaluate_ok(b, &v);
		check_verdict(c, &v);
		check_table(c, b);

		/* mid-window: the reference summary and counts travel; restore into a used one */
		struct dd_instance *d = kase_instance(&k, 0, n / 2);
		struct dd_instance *e = restored(d, k.cfg, nr, 1);
		feed_win(e, &k.cur, n / 2, n);
		evaluate_ok(e, &v);
		check_verdict(c, &v);
		size_t len;
		uint8_t *data = snap(d, &len);
		assert_int_equal(b->ops->restore(&b->ctx, 1, data, len), 0);
		assert_same_state(b, d);
		free(data);
		/* a collecting snapshot into an instance that is ready */
		data = snap(a, &len);
		assert_int_equal(e->ops->restore(&e->ctx, 1, data, len), 0);
		assert_same_state(e, a);
		free(data);
		/* another seed hashes otherwise: its snapshots are refused */
		struct dd_instance *f = instance(k.o, k.cfg, nr, 2);
		data = snap(d, &len);
		assert_int_equal(f->ops->restore(&f->ctx, 1, data, len), -EBADMSG);
		free(data);

		dd_instance_free(a);
		dd_instance_free(b);
		dd_instance_free(d);
		dd_instance_free(e);
		dd_instance_free(f);
		kase_free(&k);
	}
}

static void merge_ok(struct dd_instance *dst, const struct dd_instance *src)
{
	assert_int_equal(dst->ops->merge(&dst->ctx, &src->ctx), 0);
}

static void test_merge(void **unused)
{
	for (size_t ci = 0; ci < sizeof(round_trip_cases) / sizeof(round_trip_cases[0]); ci++) {
		json_t *c = find_case(round_trip_cases[ci]);
		struct kase k = kase_of(c);
		size_t n = k.cur.n, m1 = n / 3, m2 = 2 * n / 3;
		struct driftd_verdict v;
		struct dd_instance *whole = kase_instance(&k, 0, n);

		struct dd_instance *p[2][3];
		for (int r = 0; r < 2; r++) {
			p[r][0] = kase_instance(&k, 0, m1);
			p[r][1] = kase_instance(&k, m1, m2);
			p[r][2] = kase_instance(&k, m2, n);
		}
		merge_ok(p[0][0], p[0][1]); /* (x + y) + z */
		merge_ok(p[0][0], p[0][2]);
		merge_ok(p[1][2], p[1][1]); /* (z + y) + x */
		merge_ok(p[1][2], p[1][0]);
		assert_same_state(p[0][0], whole);
		assert_same_state(p[1][2], whole);
		evaluate_ok(p[0][0], &v);
		check_verdict(c, &v);

		/* identity: a fresh state and an empty window; a fresh state takes a copy */
		struct dd_instance *fresh = instance(k.o, k.cfg, k.ref.n, 1);
		struct dd_instance *empty = kase_instance(&k, 0, 0);
		merge_ok(whole, fresh);
		merge_ok(whole, empty);
		assert_same_state(whole, p[0][0]);
		merge_ok(fresh, whole);
		assert_same_state(fresh, whole);
		evaluate_ok(fresh, &v);
		check_verdict(c, &v);
		check_table(c, fresh);
		merge_ok(empty, whole);
		assert_same_state(empty, whole);

		/* refused: another reference, a half-built one, another seed */
		json_t *c2 = find_case(ci == 0 ? "mixed_types_chi2" : "published_homogeneity");
		struct kase k2 = kase_of(c2);
		struct dd_instance *other = instance(k.o, k.cfg, k2.ref.n, 1);
		feed_ref(other, &k2.ref, 0, k2.ref.n);
		assert_int_equal(other->ops->reference_done(&other->ctx), 0);
		struct dd_instance *half = instance(k.o, k.cfg, k.ref.n, 1);
		feed_ref(half, &k.ref, 0, 1);
		struct dd_instance *seeded = instance(k.o, k.cfg, k.ref.n, 99);
		feed_ref(seeded, &k.ref, 0, k.ref.n);
		assert_int_equal(seeded->ops->reference_done(&seeded->ctx), 0);
		size_t l0, l1;
		uint8_t *s0 = snap(whole, &l0);
		assert_int_equal(k.o->merge(&whole->ctx, &other->ctx), -EINVAL);
		assert_int_equal(k.o->merge(&whole->ctx, &half->ctx), -EINVAL);
		assert_int_equal(k.o->merge(&half->ctx, &whole->ctx), -EINVAL);
		assert_int_equal(k.o->merge(&whole->ctx, &seeded->ctx), -EINVAL);
		struct dd_instance *fresh99 = instance(k.o, k.cfg, k.ref.n, 99);
		assert_int_equal(k.o->merge(&fresh99->ctx, &whole->ctx), -EINVAL);
		/* nor into a table of another shape */
		void *cfg7 = config_for(k.o, json_object_get(c, "params"));
		assert_int_equal(dd_param_set_number(k.o, cfg7, "max_categories", 7 + (double)ci),
		                 0);
		struct dd_instance *fresh7 = instance(k.o, cfg7, k.ref.n, 1);
		assert_int_equal(k.o->merge(&fresh7->ctx, &whole->ctx), -EINVAL);
		dd_instance_free(fresh7);
		free(cfg7);
		uint8_t *s1 = snap(whole, &l1);
		assert_int_equal(l0, l1);
		assert_memory_equal(s0, s1, l0);
		free(s0);
		free(s1);

		for (int r = 0; r < 2; r++)
			for (int i = 0; i < 3; i++)
				dd_instance_free(p[r][i]);
		dd_instance_free(whole);
		dd_instance_free(fresh);
		dd_instance_free(empty);
		dd_instance_free(other);
		dd_instance_free(half);
		dd_instance_free(seeded);
		dd_instance_free(fresh99);
		kase_free(&k2);
		kase_free(&k);
	}
}

/* restore must answer -EBADMSG and leave the state as after init (and usable). */
static void expect_rejected(const void *cfg, const uint8_t *data, size_t len, uint32_t version)
{
	const struct driftd_detector_ops *o = ops_of("chi2");
	struct dd_instance *in = instance(o, cfg, 6, 1);
	const struct driftd_value x = {.type = DRIFTD_VALUE_STRING, .str = "x", .len = 1};
	for (int i = 0; i < 6; i++)
		assert_int_equal(o->reference_add(&in->ctx, &x), 0);
	assert_int_equal(o->reference_done(&in->ctx), 0);
	assert_int_equal(o->update(&in->ctx, &x), 0);

	assert_int_equal(o->restore(&in->ctx, version, data, len), -EBADMSG);
	struct dd_instance *fresh = instance(o, cfg, 6, 1);
	assert_same_state(in, fresh);
	for (int i = 0; i < 6; i++)
		assert_int_equal(o->reference_add(&in->ctx, &x), 0);
	assert_int_equal(o->reference_done(&in->ctx), 0);
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
	const struct driftd_detector_ops *o = ops_of("chi2");
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	assert_int_equal(dd_param_set_number(o, cfg, "max_categories", 2), 0);
	assert_int_equal(dd_param_set_number(o, cfg, "max_length", 8), 0);

	/* Ready: kept "b" x3 and the number 2 x2, "c" x1 as other. */
	struct dd_instance *in = instance(o, cfg, 6, 1);
	const struct driftd_value b = {.type = DRIFTD_VALUE_STRING, .str = "b", .len = 1};
	const struct driftd_value two = {.type = DRIFTD_VALUE_NUMBER, .num = 2};
	const struct driftd_value c = {.type = DRIFTD_VALUE_STRING, .str = "c", .len = 1};
	const struct driftd_value t = {.type = DRIFTD_VALUE_BOOL, .num = 1};
	const struct driftd_value *refv[6] = {&b, &two, &b, &c, &two, &b};
	for (int i = 0; i < 6; i++)
		assert_int_equal(o->reference_add(&in->ctx, refv[i]), 0);
	size_t clen;
	uint8_t *cgood = snap(in, &clen); /* collecting: 3 entries */
	assert_int_equal(clen, 32 + (32 + 1) + (32 + 8) + (32 + 1));
	assert_int_equal(o->reference_done(&in->ctx), 0);
	assert_int_equal(o->update(&in->ctx, &c), 0);
	assert_int_equal(o->update(&in->ctx, &t), 0);
	size_t len;
	uint8_t *good = snap(in, &len);
	/* 24 + "b" entry 33 + number entry 40 + rest 8 + n_other 8 + 1 hash + 4 counts */
	assert_int_equal(len, 24 + 33 + 40 + 16 + 8 + 32);
	const size_t e0 = 24, e1 = 24 + 33, rest = e1 + 40, hashes = rest + 16, win = hashes + 8;

	for (size_t l = 0; l < len; l++)
		expect_rejected(cfg, good, l, 1);
	for (size_t l = 0; l < clen; l++)
		expect_rejected(cfg, cgood, l, 1);
	uint8_t buf[512];
	memcpy(buf, good, len);
	buf[len] = 0;
	expect_rejected(cfg, buf, len + 1, 1);
	expect_rejected(cfg, good, len, 0);
	expect_rejected(cfg, good, len, 2);
	expect_rejected(cfg, NULL, 0, 1);

#define MUTATE(src, n, stmt)                                                                       \
	do {                                                                                       \
		memcpy(buf, src, n);                                                               \
		stmt;                                                                              \
		expect_rejected(cfg, buf, n, 1);                                                   \
	} while (0)
	MUTATE(good, len, put_le(buf, 2));           /* unknown phase */
	MUTATE(good, len, buf[8] ^= 1);              /* key check (another seed) */
	MUTATE(good, len, put_le(buf + 16, 0));      /* nothing kept */
	MUTATE(good, len, put_le(buf + 16, 3));      /* more than max_categories */
	MUTATE(good, len, put_le(buf + e0, 4));      /* unknown type */
	MUTATE(good, len, put_le(buf + e0, 3));      /* a bool that is not 0/1 */
	MUTATE(good, len, buf[e0 + 32] = 'z');       /* key not matching its hash */
	MUTATE(good, len, put_le(buf + e0 + 24, 0)); /* zero count */
	MUTATE(good, len, put_le(buf + e0 + 24, 1)); /* out of rank order */
	MUTATE(good, len, put_le(buf + e0 + 24, 5)); /* more than the reference */
	MUTATE(good, len, put_le(buf + e1 + 32, 0x8000000000000000ull)); /* -0 */
	MUTATE(good, len, put_le(buf + e1 + 32, 0x7ff8000000000000ull)); /* NaN */
	MUTATE(good, len, put_le(buf + e1 + 8, 7));                      /* a number of 7 bytes */
	MUTATE(good, len, put_le(buf + rest, 0));                        /* others without values */
	MUTATE(good, len, put_le(buf + rest, 3));              /* an other above the kept */
	MUTATE(good, len, put_le(buf + rest + 8, 0));          /* a count without others */
	MUTATE(good, len, put_le(buf + rest + 8, UINT64_MAX)); /* absurd count */
	MUTATE(good, len, put_le(buf + win, UINT64_MAX); put_le(buf + win + 8, UINT64_MAX));
	/* bool value 2 */
	struct dd_instance *bi = instance(o, cfg, 6, 1);
	assert_int_equal(o->reference_add(&bi->ctx, &t), 0);
	size_t blen;
	uint8_t *bgood = snap(bi, &blen);
	MUTATE(bgood, blen, buf[blen - 1] = 2);
	MUTATE(bgood, blen, put_le(buf + 16, 2)); /* more values than entries hold */
	MUTATE(bgood, blen, put_le(buf + 16, 7)); /* more than the reference */
	MUTATE(bgood, blen, put_le(buf + 24, 2)); /* more entries than values */
	MUTATE(cgood, clen, put_le(buf + 16, 5)); /* counts not adding up */
	MUTATE(cgood, clen, memcpy(buf + 32 + 33 + 40, buf + 32, 33)); /* a duplicate entry */
	free(bgood);
	dd_instance_free(bi);

	/* A ready snapshot with more categories than this table holds. */
	struct dd_instance *big = instance(o, NULL, 6, 1);
	for (int i = 0; i < 6; i++)
		assert_int_equal(o->reference_add(&big->ctx, refv[i]), 0);
	assert_int_equal(o->reference_done(&big->ctx), 0);
	uint8_t *bigs = snap(big, &blen);
	expect_rejected(cfg, bigs, blen, 1);
	free(bigs);
	dd_instance_free(big);

	/* Deterministic garbage of assorted lengths, and of the right lengths. */
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int round = 0; round < 500; round++) {
		size_t l = (size_t)(round % 200);
		xorshift_fill(&x, buf, l);
		expect_rejected(cfg, buf, l, 1);
		xorshift_fill(&x, buf, len);
		memcpy(buf, good, 16); /* plausible phase and key check */
		expect_rejected(cfg, buf, len, 1);
	}

	free(good);
	free(cgood);
	dd_instance_free(in);
	free(cfg);
}

static int teardown(void **unused)
{
	json_decref(g_root);
	g_root = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_tables),
	    cmocka_unit_test(test_oracle_cases),
	    cmocka_unit_test(test_published),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_snapshot_round_trip),
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_restore_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
