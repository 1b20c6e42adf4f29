/* conditional_rate: the rate of an output class conditional on an input value jumping against
 * a fixed reference, the runtime footprint of a backdoor (a trigger in the input flips the
 * prediction to the attacker's class) and of targeted poisoning.
 *
 * The field is the output class (string, number or boolean, compared as text); `input` points
 * at the conditioning input (a category, or a number binned by bin_width). Each input value is
 * a stratum (bounded table); see strata.h for the reference, windows and the test: a breach is
 * a class whose rate within one input value's recent window is above the reference by z >
 * threshold and by more than min_effect. A value never seen in the reference (a new trigger)
 * is compared with the pooled reference. Without `input` there is one stratum, which makes
 * this a plain output-class-rate monitor.
 *
 * Verdicts are per event: on while a breach was found within the last `hold` events; the
 * evidence names the input value, the class, both rates and z.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "strata.h"

struct cr2_config {
	const char *input;
	double bin_width;
	int64_t hold;
	struct dd_strata_params s;
};

static const struct driftd_param cr2_params[] = {
    {.name = "input",
     .type = DRIFTD_PARAM_POINTER,
     .offset = offsetof(struct cr2_config, input),
     .description = "The conditioning input (e.g. /input/country); unset: no condition."},
    {.name = "bin_width",
     .type = DRIFTD_PARAM_DOUBLE,
     .offset = offsetof(struct cr2_config, bin_width),
     .def = 0,
     .min = 0,
     .max = 1e300,
     .description = "Numeric inputs: width of the value bins (0: every value its own)."},
    {.name = "hold",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct cr2_config, hold),
     .def = 200,
     .min = 1,
     .max = 1e9,
     .description = "Events a breach stays in force after the last breaching event."},
    DD_STRATA_PARAMS(struct cr2_config, "input values"),
};

struct cr2_state {
	struct dd_strata s;
	int64_t last_breach;
	char key[DD_SEC_ID_MAX];
	char cls[DD_STRATA_CLASS_MAX];
	double z, p_ref, p_win;
	bool pooled;
	char what[300];
	struct driftd_evidence ev;
};

static int cr2_init(struct driftd_ctx *ctx)
{
	const struct cr2_config *c = ctx->config;
	struct cr2_state *st = ctx->state;
	st->last_breach = -1;
	return dd_strata_init(&st->s, &c->s, ctx->shape.seed);
}

static void cr2_done(struct driftd_ctx *ctx)
{
	struct cr2_state *st = ctx->state;
	dd_strata_free(&st->s);
}

/* A value as text: strings as they are, numbers (binned) and booleans formatted. */
static int as_text(const struct driftd_value *v, double bin, char *buf, size_t size, const char **s,
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
		*len = (size_t)snprintf(buf, size, "%.17g",
		                        bin > 0 ? floor(v->num / bin) * bin : v->num);
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

static int cr2_feed(struct driftd_ctx *ctx, const struct driftd_value *out,
                    const struct driftd_value *in)
{
	const struct cr2_config *c = ctx->config;
	struct cr2_state *st = ctx->state;
	char b1[32], b2[32];
	const char *label, *key = "(all)";
	size_t llen, klen = 5;
	if (as_text(out, 0, b1, sizeof(b1), &label, &llen) < 0)
		return -EDOM;
	if (in && in->type != DRIFTD_VALUE_NONE &&
	    as_text(in, c->bin_width, b2, sizeof(b2), &key, &klen) < 0)
		return -EDOM;
	if (in && in->type == DRIFTD_VALUE_NONE) {
		key = "(missing)";
		klen = 9;
	}
	size_t cls = dd_strata_class(&st->s, label, llen, true);
	if (dd_strata_add(&st->s, &c->s, key, klen, cls) == 1) {
		st->last_breach = (int64_t)st->s.events;
		memcpy(st->key, st->s.key, sizeof(st->key));
		memcpy(st->cls, st->s.classes[st->s.cls], sizeof(st->cls));
		st->z = st->s.z;
		st->p_ref = st->s.p_ref;
		st->p_win = st->s.p_win;
		st->pooled = st->s.pooled;
	}
	return 0;
}

static int cr2_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	return cr2_feed(ctx, v, NULL);
}

static int cr2_update_event(struct driftd_ctx *ctx, const struct driftd_event *e)
{
	return cr2_feed(ctx, e->value,
	                e->n_aux && ((const struct cr2_config *)ctx->config)->input ? &e->aux[0]
	                                                                            : NULL);
}

static int cr2_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct cr2_config *c = ctx->config;
	struct cr2_state *st = ctx->state;
	bool on = st->last_breach >= 0 && (int64_t)st->s.events - st->last_breach <= c->hold;
	*out = (struct driftd_verdict){.score = on ? st->z : 0,
	                               .threshold = c->s.threshold,
	                               .p_value = (double)NAN,
	                               .drift = on};
	if (!on)
		return 0;
	struct driftd_evidence *ev = &st->ev;
	dd_ev_reset(ev);
	snprintf(st->what, sizeof(st->what),
	         "class %s jumped from %.1f%% to %.1f%% when %s is %s (possible backdoor trigger)",
	         st->cls, 100 * st->p_ref, 100 * st->p_win, c->input ? c->input : "(any input)",
	         st->key);
	ev->what = st->what;
	dd_ev_str(ev, "input.value", st->key);
	dd_ev_str(ev, "output.class", st->cls);
	dd_ev_num(ev, "rate.reference", st->p_ref);
	dd_ev_num(ev, "rate.window", st->p_win);
	dd_ev_num(ev, "statistic", st->z);
	dd_ev_str(ev, "reference", st->pooled ? "pooled" : "own");
	out->evidence = ev;
	return 0;
}

#define CR2_SNAPSHOT_VERSION 1

static int cr2_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *b)
{
	const struct cr2_state *st = ctx->state;
	driftd_buf_put_u64(b, (uint64_t)st->last_breach);
	driftd_buf_put(b, st->key, sizeof(st->key));
	driftd_buf_put(b, st->cls, sizeof(st->cls));
	driftd_buf_put_f64(b, st->z);
	driftd_buf_put_f64(b, st->p_ref);
	driftd_buf_put_f64(b, st->p_win);
	driftd_buf_put_u64(b, st->pooled);
	dd_strata_snapshot(&st->s, b);
	return b->err;
}

static int cr2_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	const struct cr2_config *c = ctx->config;
	struct cr2_state *st = ctx->state;
	struct driftd_reader r = {data, len};
	uint64_t last, pooled;
	if (version != CR2_SNAPSHOT_VERSION || driftd_rd_u64(&r, &last) < 0 ||
	    driftd_rd(&r, st->key, sizeof(st->key)) < 0 || !memchr(st->key, 0, sizeof(st->key)) ||
	    driftd_rd(&r, st->cls, sizeof(st->cls)) < 0 || !memchr(st->cls, 0, sizeof(st->cls)) ||
	    driftd_rd_f64_finite(&r, &st->z) < 0 || driftd_rd_f64_finite(&r, &st->p_ref) < 0 ||
	    driftd_rd_f64_finite(&r, &st->p_win) < 0 || driftd_rd_u64(&r, &pooled) < 0 ||
	    pooled > 1 || dd_strata_restore(&st->s, &c->s, &r) < 0 || r.left ||
	    (last != UINT64_MAX && last > st->s.events))
		goto bad;
	st->last_breach = (int64_t)last;
	st->pooled = pooled;
	return 0;
bad:
	dd_strata_reset(&st->s);
	st->last_breach = -1;
	st->key[0] = st->cls[0] = '\0';
	st->z = st->p_ref = st->p_win = 0;
	st->pooled = false;
	return -EBADMSG;
}

static const char *const cr2_tags[] = {"threat:backdoor", "threat:data_poisoning", "etsi:5.4.2-2",
                                       NULL};

const struct driftd_detector_ops driftd_detector_conditional_rate = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "conditional_rate",
    .summary = "Rate of an output class conditional on an input value against a fixed "
               "reference: backdoor triggers and targeted poisoning.",
    .kind = DRIFTD_KIND_SECURITY,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_STRING) | DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER) |
               DRIFTD_ACCEPTS(DRIFTD_VALUE_BOOL),
    .params = cr2_params,
    .n_params = sizeof(cr2_params) / sizeof(cr2_params[0]),
    .config_size = sizeof(struct cr2_config),
    .state_size = sizeof(struct cr2_state),
    .snapshot_version = CR2_SNAPSHOT_VERSION,
    .init = cr2_init,
    .update = cr2_update,
    .evaluate = cr2_evaluate,
    .snapshot = cr2_snapshot,
    .restore = cr2_restore,
    .done = cr2_done,
    .tags = cr2_tags,
    .update_event = cr2_update_event,
};
