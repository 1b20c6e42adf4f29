/* Monitor instances: the reference and window policy between extracted values and a
 * detector. The reference policy here is "the first N matching values"; the window is a
 * tumbling window of W values. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "monitor.h"

const char *dd_skip_name(enum dd_skip s)
{
	static const char *const names[] = {"missing", "wrong_type", "rejected"};
	return (unsigned)s < DD_SKIP__MAX ? names[s] : "?";
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
