/* label_flip: feedback labels disagreeing with the model's predictions more than in the
 * reference, per feedback source: the footprint of label-flipping poisoning of data collected
 * for retraining (EN 304 223 5.2.1-4.1: check data again when models learn from feedback).
 *
 * The field is the prediction; `feedback` points at the feedback label and `source` at who
 * gave it (an annotator, a customer, a pipeline). Events without feedback are counted but not
 * tested. Each source is a stratum (bounded table) whose disagreement rate in its recent window
 * is tested against its own reference, or the pooled one for a source first seen after the
 * reference (strata.h): a breach is z > threshold and the rate up by more than min_effect.
 * Labels are compared as text (numbers formatted with %.17g, booleans as true/false).
 *
 * Verdicts are per event: on while a breach was found within the last `hold` events; the
 * evidence names the source and both disagreement rates.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "strata.h"

struct lf_config {
	const char *feedback;
	const char *source;
	int64_t hold;
	struct dd_strata_params s;
};

static const struct driftd_param lf_params[] = {
    {.name = "feedback",
     .type = DRIFTD_PARAM_POINTER,
     .offset = offsetof(struct lf_config, feedback),
     .def_str = "/feedback/label",
     .description = "The feedback (ground truth) label."},
    {.name = "source",
     .type = DRIFTD_PARAM_POINTER,
     .offset = offsetof(struct lf_config, source),
     .def_str = "/feedback/source",
     .description = "Who gave the feedback (absent: one source, \"(none)\")."},
    {.name = "hold",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct lf_config, hold),
     .def = 200,
     .min = 1,
     .max = 1e9,
     .description = "Events a breach stays in force after the last breaching event."},
    DD_STRATA_PARAMS(struct lf_config, "feedback sources"),
};

struct lf_state {
	struct dd_strata s;
	uint64_t events;
	int64_t last_breach;
	char source[DD_SEC_ID_MAX];
	double z, p_ref, p_win;
	bool pooled;
	char what[300];
	struct driftd_evidence ev;
};

static int lf_init(struct driftd_ctx *ctx)
{
	const struct lf_config *c = ctx->config;
	struct lf_state *st = ctx->state;
	st->last_breach = -1;
	int rc = dd_strata_init(&st->s, &c->s, ctx->shape.seed);
	/* classes 0 and 1, in this order */
	dd_strata_class(&st->s, "agree", 5, true);
	dd_strata_class(&st->s, "disagree", 8, true);
	return rc;
}

static void lf_done(struct driftd_ctx *ctx)
{
	struct lf_state *st = ctx->state;
	dd_strata_free(&st->s);
}

static int as_text(const struct driftd_value *v, char *buf, size_t size, const char **s,
                   size_t *len)
{
	switch (v->type) {
	case DRIFTD_VALUE_STRING:
		*s = v->str;
		*len = v->len;
		return 0;
	case DRIFTD_VALUE_NUMBER:
		if (!isfinite(v->num))
			return -EDOM;
		*len = (size_t)snprintf(buf, size, "%.17g", v->num);
		*s = buf;
		return 0;
	case DRIFTD_VALUE_BOOL:
		*s = v->num != 0 ? "true" : "false";
		*len = strlen(*s);
		return 0;
	default:
		return -EDOM;
	}
}

static int lf_feed(struct driftd_ctx *ctx, const struct driftd_value *pred,
                   const struct driftd_value *fb, const struct driftd_value *src)
{
	const struct lf_config *c = ctx->config;
	struct lf_state *st = ctx->state;
	char b1[32], b2[32], b3[32];
	const char *p, *f, *s = "(none)";
	size_t pl, fl, sl = 6;
	if (as_text(pred, b1, sizeof(b1), &p, &pl) < 0)
		return -EDOM;
	st->events++;
	if (!fb || as_text(fb, b2, sizeof(b2), &f, &fl) < 0)
		return 0; /* no feedback on this event: nothing to compare */
	if (src && src->type != DRIFTD_VALUE_NONE && as_text(src, b3, sizeof(b3), &s, &sl) < 0)
		s = "(none)", sl = 6;
	size_t cls = pl == fl && memcmp(p, f, pl) == 0 ? 0 : 1;
	if (dd_strata_add(&st->s, &c->s, s, sl, cls) == 1 && cls == 1) {
		st->last_breach = (int64_t)st->events;
		memcpy(st->source, st->s.key, sizeof(st->source));
		st->z = st->s.z;
		st->p_ref = st->s.p_ref;
		st->p_win = st->s.p_win;
		st->pooled = st->s.pooled;
	}
	return 0;
}

static int lf_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	return lf_feed(ctx, v, NULL, NULL);
}

static int lf_update_event(struct driftd_ctx *ctx, const struct driftd_event *e)
{
	return lf_feed(ctx, e->value, e->n_aux > 0 ? &e->aux[0] : NULL,
	               e->n_aux > 1 ? &e->aux[1] : NULL);
}

static int lf_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct lf_config *c = ctx->config;
	struct lf_state *st = ctx->state;
	bool on = st->last_breach >= 0 && (int64_t)st->events - st->last_breach <= c->hold;
	*out = (struct driftd_verdict){.score = on ? st->z : 0,
	                               .threshold = c->s.threshold,
	                               .p_value = (double)NAN,
	                               .drift = on};
	if (!on)
		return 0;
	struct driftd_evidence *ev = &st->ev;
	dd_ev_reset(ev);
	snprintf(st->what, sizeof(st->what),
	         "feedback from %s disagrees with the model %.1f%% of the time (reference "
	         "%.1f%%): possible label-flip poisoning",
	         st->source, 100 * st->p_win, 100 * st->p_ref);
	ev->what = st->what;
	dd_ev_str(ev, "feedback.source", st->source);
	dd_ev_num(ev, "disagreement.reference", st->p_ref);
	dd_ev_num(ev, "disagreement.window", st->p_win);
	dd_ev_num(ev, "statistic", st->z);
	dd_ev_str(ev, "reference", st->pooled ? "pooled" : "own");
	out->evidence = ev;
	return 0;
}

#define LF_SNAPSHOT_VERSION 1

static int lf_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *b)
{
	const struct lf_state *st = ctx->state;
	driftd_buf_put_u64(b, st->events);
	driftd_buf_put_u64(b, (uint64_t)st->last_breach);
	driftd_buf_put(b, st->source, sizeof(st->source));
	driftd_buf_put_f64(b, st->z);
	driftd_buf_put_f64(b, st->p_ref);
	driftd_buf_put_f64(b, st->p_win);
	driftd_buf_put_u64(b, st->pooled);
	dd_strata_snapshot(&st->s, b);
	return b->err;
}

static int lf_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	const struct lf_config *c = ctx->config;
	struct lf_state *st = ctx->state;
	struct driftd_reader r = {data, len};
	uint64_t last, pooled;
	if (version != LF_SNAPSHOT_VERSION || driftd_rd_u64(&r, &st->events) < 0 ||
	    driftd_rd_u64(&r, &last) < 0 || driftd_rd(&r, st->source, sizeof(st->source)) < 0 ||
	    !memchr(st->source, 0, sizeof(st->source)) || driftd_rd_f64_finite(&r, &st->z) < 0 ||
	    driftd_rd_f64_finite(&r, &st->p_ref) < 0 || driftd_rd_f64_finite(&r, &st->p_win) < 0 ||
	    driftd_rd_u64(&r, &pooled) < 0 || pooled > 1 ||
	    dd_strata_restore(&st->s, &c->s, &r) < 0 || r.left ||
	    (last != UINT64_MAX && last > st->events) || st->s.events > st->events ||
	    st->s.n_classes != 2 || strcmp(st->s.classes[0], "agree") != 0 ||
	    strcmp(st->s.classes[1], "disagree") != 0)
		goto bad;
	st->last_breach = (int64_t)last;
	st->pooled = pooled;
	return 0;
bad:
	dd_strata_reset(&st->s);
	dd_strata_class(&st->s, "agree", 5, true);
	dd_strata_class(&st->s, "disagree", 8, true);
	st->events = 0;
	st->last_breach = -1;
	st->source[0] = '\0';
	st->z = st->p_ref = st->p_win = 0;
	st->pooled = false;
	return -EBADMSG;
}

static const char *const lf_tags[] = {"threat:data_poisoning", "threat:label_flip",
                                      "etsi:5.2.1-4.1", "etsi:5.4.2-2", NULL};

const struct driftd_detector_ops driftd_detector_label_flip = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "label_flip",
    .summary = "Feedback labels disagreeing with predictions more than in the reference, per "
               "feedback source: label-flip poisoning of retraining data.",
    .kind = DRIFTD_KIND_SECURITY,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_STRING) | DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER) |
               DRIFTD_ACCEPTS(DRIFTD_VALUE_BOOL),
    .params = lf_params,
    .n_params = sizeof(lf_params) / sizeof(lf_params[0]),
    .config_size = sizeof(struct lf_config),
    .state_size = sizeof(struct lf_state),
    .snapshot_version = LF_SNAPSHOT_VERSION,
    .init = lf_init,
    .update = lf_update,
    .evaluate = lf_evaluate,
    .snapshot = lf_snapshot,
    .restore = lf_restore,
    .done = lf_done,
    .tags = lf_tags,
    .update_event = lf_update_event,
};
