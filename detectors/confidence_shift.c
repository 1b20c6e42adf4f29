/* confidence_shift: the distribution of the model's confidence in its answers, window against
 * reference, as behaviour drift that suggests backdoor activation (triggered inputs are
 * answered with unusual certainty; STRIP looks for the same low entropy), a swapped model,
 * or adversarial queries near the decision boundary.
 *
 * The field is either one number (a confidence the model logs) or the vector of class
 * probabilities, reduced per event to `statistic`:
 *   max_prob  the largest probability
 *   entropy   -sum p ln p (nats; zero probabilities contribute 0)
 *   margin    the largest minus the second largest probability
 * Probabilities must be finite and non-negative; they are used as given (not renormalised).
 * The reduced values are compared with the two-sample Kolmogorov-Smirnov test exactly as
 * the `ks` detector does (scipy's ks_2samp, auto method); drift when p < alpha. The evidence
 * gives both means of the statistic, so an analyst sees the direction.
 *
 * Buffers and snapshots: detectors/sample.h (the reduced values). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ksdist.h"
#include "sample.h"
#include "secutil.h"

struct cs_config {
	double alpha;
	int statistic;
};

static const char *const cs_stats[] = {"max_prob", "entropy", "margin", NULL};

static const struct driftd_param cs_params[] = {
    {.name = "alpha",
     .type = DRIFTD_PARAM_DOUBLE,
     .offset = offsetof(struct cs_config, alpha),
     .def = 0.001,
     .min = 0,
     .max = 1,
     .min_open = true,
     .max_open = true,
     .description = "Significance level of the KS test: drift when the p-value is below it."},
    {.name = "statistic",
     .type = DRIFTD_PARAM_ENUM,
     .offset = offsetof(struct cs_config, statistic),
     .def = 0,
     .min = 0,
     .max = 2,
     .choices = cs_stats,
     .description = "What a probability vector is reduced to (a number is taken as is)."},
};

struct cs_state {
	struct dd_sample2 s;
	double ref_mean, win_mean;
	char what[200];
	struct driftd_evidence ev;
};

static int cs_check_config(const void *config, const char **why)
{
	const struct cs_config *c = config;
	if (!(c->alpha > 0 && c->alpha < 1) || c->statistic < 0 || c->statistic > 2) {
		*why = "alpha must be in (0, 1) and statistic one of max_prob, entropy, margin";
		return -EINVAL;
	}
	return 0;
}

static int cs_init(struct driftd_ctx *ctx)
{
	struct cs_state *st = ctx->state;
	return dd_sample2_init(&st->s, &ctx->shape, 1, 1);
}

static void cs_done(struct driftd_ctx *ctx)
{
	struct cs_state *st = ctx->state;
	dd_sample2_done(&st->s);
}

/* The value the test sees: -EDOM for what cannot be a confidence. */
static int reduce(const struct cs_config *c, const struct driftd_value *v, double *out)
{
	if (v->type == DRIFTD_VALUE_NUMBER) {
		if (!isfinite(v->num))
			return -EDOM;
		*out = v->num;
		return 0;
	}
	if (v->type != DRIFTD_VALUE_VECTOR || v->dim == 0)
		return -EDOM;
	double top = -1, second = -1, h = 0;
	for (size_t i = 0; i < v->dim; i++) {
		double p = v->vec[i];
		if (!isfinite(p) || p < 0)
			return -EDOM;
		if (p > top) {
			second = top;
			top = p;
		} else if (p > second) {
			second = p;
		}
		if (p > 0)
			h -= p * log(p);
	}
	*out = c->statistic == 0 ? top : c->statistic == 1 ? h : top - (second < 0 ? 0 : second);
	return 0;
}

static int cs_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct cs_state *st = ctx->state;
	struct driftd_value x = {.type = DRIFTD_VALUE_NUMBER};
	int rc = reduce(ctx->config, v, &x.num);
	return rc < 0 ? rc : dd_sample2_reference_add(&st->s, &x);
}

static int cs_reference_done(struct driftd_ctx *ctx)
{
	struct cs_state *st = ctx->state;
	return dd_sample2_reference_done(&st->s);
}

static int cs_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct cs_state *st = ctx->state;
	struct driftd_value x = {.type = DRIFTD_VALUE_NUMBER};
	int rc = reduce(ctx->config, v, &x.num);
	return rc < 0 ? rc : dd_sample2_update(&st->s, &x);
}

static double mean(const double *x, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += x[i];
	return n ? s / (double)n : (double)NAN;
}

static int cs_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct cs_config *c = ctx->config;
	struct cs_state *st = ctx->state;
	struct dd_sample2 *s = &st->s;
	int rc = dd_sample2_ready(s);
	if (rc < 0)
		return rc;
	double d = dd_ks_statistic(s->ref, s->ref_n, s->win, s->win_n), p;
	rc = dd_ks2_pvalue((int64_t)s->ref_n, (int64_t)s->win_n, &d, DD_KS2_AUTO, &p, NULL);
	if (rc < 0)
		return rc;
	*out = (struct driftd_verdict){
	    .score = d, .threshold = c->alpha, .p_value = p, .drift = p < c->alpha};
	if (!out->drift)
		return 0;
	st->ref_mean = mean(s->ref, s->ref_n);
	st->win_mean = mean(s->win, s->win_n);
	struct driftd_evidence *ev = &st->ev;
	dd_ev_reset(ev);
	snprintf(st->what, sizeof(st->what),
	         "the model's confidence (%s) moved: mean %.4g in the window vs %.4g in the "
	         "reference",
	         cs_stats[c->statistic], st->win_mean, st->ref_mean);
	ev->what = st->what;
	dd_ev_str(ev, "confidence.statistic", cs_stats[c->statistic]);
	dd_ev_num(ev, "confidence.reference_mean", st->ref_mean);
	dd_ev_num(ev, "confidence.window_mean", st->win_mean);
	dd_ev_num(ev, "statistic", d);
	out->evidence = ev;
	return 0;
}

static void cs_window_reset(struct driftd_ctx *ctx)
{
	struct cs_state *st = ctx->state;
	dd_sample2_window_reset(&st->s);
}

static int cs_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct cs_state *st = ctx->state;
	return dd_sample2_snapshot(&st->s, out);
}

static int cs_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct cs_state *st = ctx->state;
	return dd_sample2_restore(&st->s, version, data, len);
}

static const char *const cs_tags[] = {"threat:backdoor", "threat:model_tampering", "etsi:5.4.2-2",
                                      "etsi:5.4.2-3", NULL};

const struct driftd_detector_ops driftd_detector_confidence_shift = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "confidence_shift",
    .summary = "KS test of the model's confidence (a number, or max probability, entropy or "
               "margin of a probability vector), window against reference.",
    .kind = DRIFTD_KIND_TWO_SAMPLE,
    .caps = DRIFTD_CAP_P_VALUE | DRIFTD_CAP_EFFECT,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER) | DRIFTD_ACCEPTS(DRIFTD_VALUE_VECTOR),
    .params = cs_params,
    .n_params = sizeof(cs_params) / sizeof(cs_params[0]),
    .config_size = sizeof(struct cs_config),
    .state_size = sizeof(struct cs_state),
    .snapshot_version = 1,
    .check_config = cs_check_config,
    .init = cs_init,
    .reference_add = cs_reference_add,
    .reference_done = cs_reference_done,
    .update = cs_update,
    .evaluate = cs_evaluate,
    .window_reset = cs_window_reset,
    .snapshot = cs_snapshot,
    .restore = cs_restore,
    .done = cs_done,
    .tags = cs_tags,
};
