/* Shared by the security detectors' tests: instances with list parameters, events with
 * metadata, and verdict evidence lookups. */
#ifndef DRIFTD_TEST_SEC_COMMON_H
#define DRIFTD_TEST_SEC_COMMON_H

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

#include "host.h"

static inline void *sec_config(const struct driftd_detector_ops *ops)
{
	void *cfg = calloc(1, ops->config_size);
	assert_non_null(cfg);
	dd_params_defaults(ops, cfg);
	return cfg;
}

static inline struct dd_instance *sec_new(const struct driftd_detector_ops *ops, const void *cfg)
{
	struct driftd_shape shape = {.seed = 11};
	struct dd_instance *in = NULL;
	assert_int_equal(dd_instance_new(ops, cfg, &shape, &in), 0);
	return in;
}

struct sec_ev {
	const char *model, *version, *sha, *client, *request;
	struct driftd_value value;
	const struct driftd_value *aux;
	size_t n_aux;
	int64_t ts;
};

static inline struct driftd_str sec_s(const char *s)
{
	return (struct driftd_str){s, s ? strlen(s) : 0};
}

/* update_event with e, then evaluate into *v; returns update's result. */
static inline int sec_feed(struct dd_instance *in, const struct sec_ev *e, struct driftd_verdict *v)
{
	struct driftd_event ev = {
	    .value = &e->value,
	    .aux = e->aux,
	    .n_aux = e->n_aux,
	    .model_id = sec_s(e->model ? e->model : "m"),
	    .model_version = sec_s(e->version),
	    .model_sha256 = sec_s(e->sha),
	    .client_id = sec_s(e->client),
	    .request_id = sec_s(e->request),
	    .ts_ms = e->ts,
	};
	int rc = in->ops->update_event(&in->ctx, &ev);
	if (rc < 0)
		return rc;
	*v = (struct driftd_verdict){.p_value = NAN};
	assert_int_equal(in->ops->evaluate(&in->ctx, v), 0);
	return 0;
}

static inline struct driftd_value sec_text(const char *s)
{
	return (struct driftd_value){.type = DRIFTD_VALUE_STRING, .str = s, .len = strlen(s)};
}

static inline const struct driftd_evidence_field *sec_field(const struct driftd_verdict *v,
                                                            const char *key)
{
	if (!v->evidence)
		return NULL;
	for (size_t i = 0; i < v->evidence->n; i++)
		if (strcmp(v->evidence->f[i].key, key) == 0)
			return &v->evidence->f[i];
	return NULL;
}

static inline const char *sec_str(const struct driftd_verdict *v, const char *key)
{
	const struct driftd_evidence_field *f = sec_field(v, key);
	if (!f) /* said so the optimiser sees it: cmocka's assert does not return */
		fail_msg("no evidence field %s", key);
	if (!f)
		return NULL;
	assert_int_equal(f->type, DRIFTD_EVIDENCE_STRING);
	return f->str;
}

static inline double sec_num(const struct driftd_verdict *v, const char *key)
{
	const struct driftd_evidence_field *f = sec_field(v, key);
	if (!f)
		fail_msg("no evidence field %s", key);
	if (!f)
		return 0;
	return f->num;
}

/* Snapshot a, restore into a fresh instance, and check the snapshots agree. */
static inline struct dd_instance *sec_clone(struct dd_instance *a, const void *cfg)
{
	struct driftd_buf b = {0};
	assert_int_equal(a->ops->snapshot(&a->ctx, &b), 0);
	struct dd_instance *c = sec_new(a->ops, cfg);
	assert_int_equal(a->ops->restore(&c->ctx, a->ops->snapshot_version, b.data, b.len), 0);
	struct driftd_buf b2 = {0};
	assert_int_equal(c->ops->snapshot(&c->ctx, &b2), 0);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	driftd_buf_free(&b);
	driftd_buf_free(&b2);
	return c;
}

#endif
