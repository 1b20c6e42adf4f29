/* Monitor instances: the reference and window policy between extracted values and a
 * detector. The reference policy here is "the first N matching values"; the window is a
 * tumbling window of W values. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "monitor.h"

const char *dd_skip_name(enum dd_skip s)
{
	static const char *const names[] = {"missing", "wrong_type", "rejected"};
	return (unsigned)s < DD_SKIP__MAX ? names[s] : "?";
}

/* Feed a pinned reference (baseline file) through reference_add, as if it had been read from
 * the stream. The config loader made sure the file is a baseline for this monitor and field;
 * values the detector refuses are counted like any other. */
static int load_baseline(struct dd_monitor *m)
{
	const struct driftd_detector_ops *ops = m->inst->ops;
	const json_t *vals = m->conf->baseline_values;
	double *vec = NULL;
	size_t i;
	json_t *j;
	int rc = 0;
	json_array_foreach (vals, i, j) {
		struct driftd_value v = {.type = DRIFTD_VALUE_OTHER};
		if (json_is_number(j)) {
			v.type = DRIFTD_VALUE_NUMBER;
			v.num = json_number_value(j);
		} else if (json_is_string(j)) {
			v.type = DRIFTD_VALUE_STRING;
			v.str = json_string_value(j);
			v.len = json_string_length(j);
		} else if (json_is_boolean(j)) {
			v.type = DRIFTD_VALUE_BOOL;
			v.num = json_is_true(j);
		} else if (json_is_array(j) && json_array_size(j) > 0) {
			free(vec);
			vec = calloc(json_array_size(j), sizeof(double));
			if (!vec) {
				rc = -ENOMEM;
				break;
			}
			v.type = DRIFTD_VALUE_VECTOR;
			v.vec = vec;
			v.dim = json_array_size(j);
			for (size_t k = 0; k < v.dim; k++) {
				json_t *e = json_array_get(j, k);
				if (!json_is_number(e))
					v.type = DRIFTD_VALUE_OTHER;
				vec[k] = json_number_value(e);
			}
		}
		if (!(ops->accepts & DRIFTD_ACCEPTS(v.type))) {
			m->skipped[DD_SKIP_WRONG_TYPE]++;
			continue;
		}
		rc = ops->reference_add(&m->inst->ctx, &v);
		if (rc == -EDOM) {
			m->skipped[DD_SKIP_REJECTED]++;
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		m->ref_n++;
	}
	free(vec);
	if (rc < 0)
		return rc;
	if (m->ref_n == 0)
		return -ENODATA;
	rc = ops->reference_done ? ops->reference_done(&m->inst->ctx) : 0;
	if (rc == 0)
		m->phase = DD_MON_ACTIVE;
	return rc;
}

int dd_monitor_init(struct dd_monitor *m, const struct dd_monitor_conf *c, uint64_t seed)
{
	*m = (struct dd_monitor){.conf = c};
	struct driftd_shape shape = {
	    .reference_size = c->reference_size,
	    .window_size = c->window_size,
	    .seed = seed,
	};
	int rc = dd_instance_new(c->detector, c->params, &shape, &m->inst);
	if (rc < 0)
		return rc;
	m->phase = driftd_kind_uses_reference(c->detector->kind) ? DD_MON_REFERENCE : DD_MON_ACTIVE;
	if (m->phase == DD_MON_REFERENCE && c->baseline_values)
		return load_baseline(m);
	return 0;
}

void dd_monitor_done(struct dd_monitor *m)
{
	dd_instance_free(m->inst);
	m->inst = NULL;
}

int dd_monitor_feed(struct dd_monitor *m, const struct driftd_value *v, struct driftd_verdict *out)
{
	const struct driftd_detector_ops *ops = m->inst->ops;
	struct driftd_ctx *ctx = &m->inst->ctx;
	m->matched++;
	if (v->type == DRIFTD_VALUE_NONE) {
		m->skipped[DD_SKIP_MISSING]++;
		return 0;
	}
	if (!(ops->accepts & DRIFTD_ACCEPTS(v->type)) ||
	    (v->type == DRIFTD_VALUE_NUMBER && !isfinite(v->num))) {
		m->skipped[DD_SKIP_WRONG_TYPE]++;
		return 0;
	}

	if (m->phase == DD_MON_REFERENCE) {
		int rc = ops->reference_add(ctx, v);
		if (rc == -EDOM) {
			m->skipped[DD_SKIP_REJECTED]++;
			return 0;
		}
		if (rc < 0)
			return rc;
		m->used++;
		if (++m->ref_n == m->conf->reference_size) {
			rc = ops->reference_done ? ops->reference_done(ctx) : 0;
			if (rc < 0)
				return rc;
			m->phase = DD_MON_ACTIVE;
		}
		return 0;
	}

	int rc = ops->update(ctx, v);
	if (rc == -EDOM) {
		m->skipped[DD_SKIP_REJECTED]++;
		return 0;
	}
	if (rc < 0)
		return rc;
	m->used++;
	if (m->conf->window_size && ++m->win_n < m->conf->window_size)
		return 0;

	memset(out, 0, sizeof(*out));
	out->p_value = (double)NAN;
	rc = ops->evaluate(ctx, out);
	if (m->conf->window_size) {
		m->win_n = 0;
		if (ops->window_reset)
			ops->window_reset(ctx);
	}
	if (rc < 0)
		return rc;
	m->verdicts++;
	m->drifts += out->drift;
	return 1;
}
