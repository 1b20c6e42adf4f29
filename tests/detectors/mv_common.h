/* Shared by the multivariate detector tests (test_mmd.c, test_embedding_distance.c,
 * test_pca_error.c): oracle JSON loading, feeding vectors, snapshots, random vectors. Include
 * after <cmocka.h>. */
#ifndef DRIFTD_TEST_MV_COMMON_H
#define DRIFTD_TEST_MV_COMMON_H

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "host.h"

static inline json_t *mv_load(const char *path)
{
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err);
	if (!root)
		fail_msg("%s:%d: %s", path, err.line, err.text);
	json_t *cases = json_object_get(root, "cases");
	assert_true(json_is_array(cases));
	assert_true(json_array_size(cases) > 0);
	json_incref(cases);
	json_decref(root);
	return cases;
}

static inline const char *mv_name(json_t *c)
{
	return json_string_value(json_object_get(c, "name"));
}

static inline json_t *mv_find(json_t *cases, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach (cases, i, c) {
		if (strcmp(mv_name(c), name) == 0)
			return c;
	}
	fail_msg("no case %s", name);
	return NULL;
}

/* A config block from the defaults and the case's params (strings are enum choices; NULL
 * for none). */
static inline void *mv_config(const struct driftd_detector_ops *o, json_t *params)
{
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	const char *key;
	json_t *val;
	json_object_foreach (params, key, val) {
		int rc = json_is_string(val)
		             ? dd_param_set_choice(o, cfg, key, json_string_value(val))
		             : dd_param_set_number(o, cfg, key, json_number_value(val));
		if (rc != 0)
			fail_msg("param %s: %d", key, rc);
	}
	const char *why = NULL;
	assert_int_equal(o->check_config(cfg, &why), 0);
	return cfg;
}

static inline struct dd_instance *mv_new(const struct driftd_detector_ops *o, const void *cfg,
                                         size_t ref_size, size_t win_size, uint64_t seed)
{
	struct dd_instance *in = NULL;
	struct driftd_shape shape = {
	    .reference_size = ref_size, .window_size = win_size, .seed = seed};
	int rc = dd_instance_new(o, cfg, &shape, &in);
	if (rc != 0)
		fail_msg("%s: init %d", o->name, rc);
	return in;
}

/* Feed rows [from, to) of a JSON array of vectors as reference (ref) or window values. */
static inline void mv_feed(struct dd_instance *in, json_t *rows, size_t from, size_t to, bool ref)
{
	for (size_t i = from; i < to; i++) {
		json_t *row = json_array_get(rows, i);
		size_t d = json_array_size(row);
		double buf[512];
		assert_true(d <= 512);
		for (size_t k = 0; k < d; k++)
			buf[k] = json_number_value(json_array_get(row, k));
		struct driftd_value v = {.type = DRIFTD_VALUE_VECTOR, .vec = buf, .dim = d};
		int rc = ref ? in->ops->reference_add(&in->ctx, &v) : in->ops->update(&in->ctx, &v);
		if (rc != 0)
			fail_msg("%s: %s row %zu: %d", in->ops->name, ref ? "reference" : "window",
			         i, rc);
	}
}

static inline int mv_push(struct dd_instance *in, const double *x, size_t d, bool ref)
{
	struct driftd_value v = {.type = DRIFTD_VALUE_VECTOR, .vec = x, .dim = d};
	return ref ? in->ops->reference_add(&in->ctx, &v) : in->ops->update(&in->ctx, &v);
}

static inline uint8_t *mv_snap(const struct dd_instance *in, size_t *len)
{
	struct driftd_buf b = {0};
	assert_int_equal(in->ops->snapshot(&in->ctx, &b), 0);
	assert_int_equal(b.err, 0);
	*len = b.len;
	return b.data;
}

static inline bool mv_same_state(const struct dd_instance *a, const struct dd_instance *b)
{
	size_t la, lb;
	uint8_t *sa = mv_snap(a, &la), *sb = mv_snap(b, &lb);
	bool eq = la == lb && memcmp(sa, sb, la) == 0;
	free(sa);
	free(sb);
	return eq;
}

/* A copy of `in` made through snapshot and restore. */
static inline struct dd_instance *mv_clone(const struct dd_instance *in, const void *cfg)
{
	struct dd_instance *out = NULL;
	assert_int_equal(dd_instance_new(in->ops, cfg, &in->ctx.shape, &out), 0);
	size_t len;
	uint8_t *s = mv_snap(in, &len);
	assert_int_equal(in->ops->restore(&out->ctx, in->ops->snapshot_version, s, len), 0);
	free(s);
	assert_true(mv_same_state(in, out));
	return out;
}

static inline uint64_t mv_le(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline double mv_f64(const uint8_t *p)
{
	uint64_t u = mv_le(p);
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static inline double mv_rel(double got, double want)
{
	if (got == want)
		return 0;
	return fabs(got - want) / fabs(want);
}

/* Field by field: the struct has padding. */
static inline bool mv_same_verdict(const struct driftd_verdict *a, const struct driftd_verdict *b)
{
	return memcmp(&a->score, &b->score, sizeof(double)) == 0 &&
	       memcmp(&a->threshold, &b->threshold, sizeof(double)) == 0 &&
	       memcmp(&a->p_value, &b->p_value, sizeof(double)) == 0 && a->drift == b->drift &&
	       a->warning == b->warning;
}

/* Deterministic standard normal numbers (splitmix64 + Box-Muller). */
struct mv_rng {
	uint64_t s;
	double spare;
	bool has_spare;
};

static inline double mv_uniform(struct mv_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ull;
	uint64_t z = r->s;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static inline double mv_normal(struct mv_rng *r)
{
	if (r->has_spare) {
		r->has_spare = false;
		return r->spare;
	}
	double u = mv_uniform(r), v = mv_uniform(r);
	double rad = sqrt(-2 * log(u));
	r->spare = rad * sin(6.283185307179586 * v);
	r->has_spare = true;
	return rad * cos(6.283185307179586 * v);
}

#endif
