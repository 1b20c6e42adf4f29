/* Helpers shared by the tests of the sample-keeping two-sample detectors: oracle samples from
 * JSON (tests/oracle/twosample_common.py describes the forms), instances fed through the host
 * protocol, error measures. Header-only: each test includes it once. */
#ifndef DRIFTD_TWOSAMPLE_UTIL_H
#define DRIFTD_TWOSAMPLE_UTIL_H

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

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

#include "host.h"

static inline double ts_rel_err(double got, double want)
{
	if (got == want || (isnan(got) && isnan(want)))
		return 0;
	if (want == 0)
		return INFINITY;
	return fabs(got - want) / fabs(want);
}

static inline double ts_json_num(const json_t *v)
{
	return json_is_null(v) ? (double)NAN : json_number_value(v);
}

static inline uint64_t ts_splitmix(uint64_t x)
{
	uint64_t z = x + 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A sample from its JSON form; free() the result. */
static inline double *ts_load_sample(const json_t *spec, size_t *n)
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
	*n = (size_t)json_integer_value(json_object_get(spec, "count"));
	double *a = malloc((*n ? *n : 1) * sizeof(double));
	assert_non_null(a);
	if (json_object_get(spec, "mix")) {
		uint64_t seed = (uint64_t)json_integer_value(json_object_get(spec, "mix"));
		double off = json_number_value(json_object_get(spec, "offset"));
		double scale = json_number_value(json_object_get(spec, "scale"));
		double levels = (double)json_integer_value(json_object_get(spec, "levels"));
		for (size_t i = 0; i < *n; i++) {
			double u = (double)(ts_splitmix(seed + i) >> 11) * 0x1p-53;
			if (levels > 0)
				u = floor(u * levels) / levels;
			a[i] = off + scale * u;
		}
		return a;
	}
	double start = json_number_value(json_object_get(spec, "start"));
	double step = json_number_value(json_object_get(spec, "step"));
	for (size_t i = 0; i < *n; i++) {
		double t = (double)i * step; /* numpy rounds the product, then the sum */
		a[i] = start + t;
	}
	return a;
}

static inline int ts_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* a sorted copy */
static inline double *ts_sorted(const double *x, size_t n)
{
	double *a = malloc((n ? n : 1) * sizeof(double));
	assert_non_null(a);
	memcpy(a, x, n * sizeof(double));
	qsort(a, n, sizeof(double), ts_cmp_double);
	return a;
}

static inline const struct driftd_detector_ops *ts_ops(const char *name)
{
	const struct driftd_detector_ops *ops = driftd_detector_find(name);
	assert_non_null(ops);
	return ops;
}

/* A config block with defaults, for the caller to adjust; free() it. */
static inline void *ts_config(const struct driftd_detector_ops *ops)
{
	void *cfg = calloc(1, ops->config_size);
	assert_non_null(cfg);
	dd_params_defaults(ops, cfg);
	return cfg;
}

static inline struct dd_instance *ts_new(const struct driftd_detector_ops *ops, const void *cfg,
                                         size_t m, size_t n)
{
	struct driftd_shape shape = {.reference_size = m, .window_size = n, .seed = 1};
	struct dd_instance *in = NULL;
	int rc = dd_instance_new(ops, cfg, &shape, &in);
	if (rc < 0)
		fail_msg("%s: init (%zu, %zu) failed: %d", ops->name, m, n, rc);
	return in;
}

/* reference x, closed, then window y */
static inline void ts_feed(struct dd_instance *in, const double *x, size_t m, const double *y,
                           size_t n)
{
	for (size_t i = 0; i < m; i++)
		assert_int_equal(dd_instance_reference_number(in, x[i]), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(dd_instance_update_number(in, y[i]), 0);
}

/* One evaluation of reference x against window y; returns evaluate's code. */
static inline int ts_run(const struct driftd_detector_ops *ops, const void *cfg, const double *x,
                         size_t m, const double *y, size_t n, struct driftd_verdict *v)
{
	struct dd_instance *in = ts_new(ops, cfg, m, n);
	ts_feed(in, x, m, y, n);
	*v = (struct driftd_verdict){.p_value = (double)NAN};
	int rc = in->ops->evaluate(&in->ctx, v);
	dd_instance_free(in);
	return rc;
}

static inline json_t *ts_load_doc(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/detectors/data/%s.json", DRIFTD_TEST_DATA, name);
	json_error_t err;
	json_t *doc = json_load_file(path, 0, &err);
	if (!doc)
		fprintf(stderr, "%s: %s:%d: %s\n", path, err.source, err.line, err.text);
	return doc;
}

#endif
