/* extraction: PRADA (Juuti et al., 2019) per client. For each query x (the field: a feature
 * vector) of client c, d = the smallest L2 distance from x to c's earlier queries (the last
 * `history` of them); c's last `window` distances are kept. Benign clients' queries come from
 * the natural distribution and their distances look roughly normal; the synthetic queries of
 * an extraction attack (seed samples plus small, stepwise perturbations) give clumped,
 * many-modal distances. So c breaches when the Shapiro-Wilk W of its distance window falls
 * below `threshold` (checked every `every` queries once the window is full, which keeps the
 * O(window log window) test off most events).
 *
 * Cheap companions go into the evidence, not the decision: the distinct-input ratio of the
 * client's history (exact repeats); when `confidence` points at the model's confidence, the
 * client's share of low-confidence (near-boundary) answers next to the population's; when
 * `label` points at the predicted class, the entropy of the classes the client's answers
 * covered (classes hashed into 16 buckets, normalised to [0, 1]) next to the population's:
 * an extraction sweeps all classes evenly.
 *
 * The verdict stays on for `hold` events after the last breaching check and names the client.
 * Shapiro-Wilk follows scipy's swilk (AS R94); tests/oracle/gen_extraction.py checks W
 * against scipy.stats.shapiro.
 *
 * Memory: max_clients x (history x max_dim + window) doubles, allocated at init.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"
#include "secutil.h"

struct ex_config {
	const char *client;
	const char *confidence;
	const char *label;
	int64_t max_clients;
	int64_t max_dim;
	int64_t history;
	int64_t window;
	int64_t every;
	double threshold;
	double low_confidence;
	int64_t hold;
};

static const struct driftd_param ex_params[] = {
    {.name = "client",
     .type = DRIFTD_PARAM_POINTER,
     .offset = offsetof(struct ex_config, client),
     .description = "Where the client id is (default: the event's client.id)."},
    {.name = "confidence",
     .type = DRIFTD_PARAM_POINTER,
     .offset = offsetof(struct ex_config, confidence),
     .description = "Optional: the answer's confidence (max probability), for the "
                    "near-boundary share in the evidence."},
    {.name = "label",
     .type = DRIFTD_PARAM_POINTER,
     .offset = offsetof(struct ex_config, label),
     .description = "Optional: the predicted class, for the class-coverage entropy in the "
                    "evidence."},
    {.name = "max_clients",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct ex_config, max_clients),
     .def = 64,
     .min = 1,
     .max = 1 << 16,
     .description = "Clients tracked at once (the lightest is replaced when full)."},
    {.name = "max_dim",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct ex_config, max_dim),
     .def = 64,
     .min = 1,
     .max = 4096,
     .description = "Longest feature vector taken (memory is reserved for it)."},
    {.name = "history",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct ex_config, history),
     .def = 64,
     .min = 1,
     .max = 4096,
     .description = "Earlier queries per client a new query's distance is taken to."},
    {.name = "window",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct ex_config, window),
     .def = 50,
     .min = 8,
     .max = 5000,
     .description = "Distances per client the Shapiro-Wilk test sees."},
    {.name = "every",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct ex_config, every),
     .def = 5,
     .min = 1,
     .max = 1e6,
     .description = "Test a full window every this many queries of the client."},
    {.name = "threshold",
     .type = DRIFTD_PARAM_DOUBLE,
     .offset = offsetof(struct ex_config, threshold),
     .def = 0.65,
     .min = 0,
     .max = 1,
     .min_open = true,
     .description = "Breach when W of a client's distance window falls below this (PRADA's "
                    "delta)."},
    {.name = "low_confidence",
     .type = DRIFTD_PARAM_DOUBLE,
     .offset = offsetof(struct ex_config, low_confidence),
     .def = 0.6,
     .min = 0,
     .max = 1,
     .description = "An answer below this confidence is near the decision boundary."},
    {.name = "hold",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct ex_config, hold),
     .def = 200,
     .min = 1,
     .max = 1e9,
     .description = "Events a breach stays in force after the last breaching test."},
};

/* Per client; the vectors and distances follow in the same slot. */
struct ex_client {
	uint64_t queries;
	uint64_t low; /* answers below low_confidence */
	uint64_t rated;
	uint32_t classes[16]; /* answers per class bucket (label) */
	uint32_t next_q;      /* ring position in the query history */
	uint32_t next_d;      /* ring position in the distance window */
	uint64_t n_d;         /* distances so far */
	double w;             /* the last W (1 before any test) */
};

struct ex_state {
	struct dd_ctab t;
	const struct ex_config *config; /* for the snapshot codec */
	size_t stride;
	double *a;      /* Shapiro-Wilk coefficients for n = window */
	double *sorted; /* scratch */
	uint64_t dim;
	uint64_t events;
	uint64_t low, rated;  /* population */
	uint64_t classes[16]; /* population, per class bucket */
	double client_entropy;
	int64_t last_breach;
	double w;
	char client[DD_SEC_ID_MAX];
	double distinct, client_low;
	uint64_t client_queries;
	char what[200];
	struct driftd_evidence ev;
};

static size_t ex_stride(const struct ex_config *c)
{
	return sizeof(struct ex_client) +
	       (size_t)(c->history * c->max_dim + c->window) * sizeof(double);
}

static double *ex_queries(const struct ex_config *c, struct ex_client *p)
{
	(void)c;
	return (double *)(p + 1);
}

static double *ex_dists(const struct ex_config *c, struct ex_client *p)
{
	return (double *)(p + 1) + c->history * c->max_dim;
}

static void ex_put(const void *payload, struct driftd_buf *b, const void *arg);
static int ex_get(void *payload, struct driftd_reader *r, const void *arg);

static int ex_init(struct driftd_ctx *ctx)
{
	const struct ex_config *c = ctx->config;
	struct ex_state *st = ctx->state;
	st->last_breach = -1;
	st->w = 1;
	st->client_low = (double)NAN;
	st->client_entropy = (double)NAN;
	st->stride = ex_stride(c);
	st->a = calloc((size_t)c->window / 2 + 1, sizeof(double));
	st->sorted = calloc((size_t)c->window, sizeof(double));
	if (!st->a || !st->sorted)
		return -ENOMEM;
	int rc = dd_swilk_coef((size_t)c->window, st->a);
	if (rc < 0)
		return rc;
	st->config = c;
	rc = dd_ctab_init(&st->t, (size_t)c->max_clients, st->stride, ctx->shape.seed);
	st->t.put = ex_put;
	st->t.get = ex_get;
	st->t.codec_arg = st;
	return rc;
}

static void ex_done(struct driftd_ctx *ctx)
{
	struct ex_state *st = ctx->state;
	dd_ctab_free(&st->t);
	free(st->a);
	free(st->sorted);
	st->a = st->sorted = NULL;
}

/* Normalised entropy of bucket counts (0: one class, 1: all 16 buckets alike). */
static double bucket_entropy(const uint64_t *k)
{
	double n = 0, h = 0;
	for (int i = 0; i < 16; i++)
		n += (double)k[i];
	for (int i = 0; i < 16 && n > 0; i++)
		if (k[i])
			h -= (double)k[i] / n * log((double)k[i] / n);
	return n > 0 ? h / log(16) : (double)NAN;
}

static int ex_feed(struct driftd_ctx *ctx, const struct driftd_value *v,
                   const struct driftd_value *cl, const struct driftd_value *conf,
                   const struct driftd_value *label)
{
	const struct ex_config *c = ctx->config;
	struct ex_state *st = ctx->state;
	if (v->type != DRIFTD_VALUE_VECTOR || v->dim == 0 || v->dim > (size_t)c->max_dim ||
	    (st->dim && v->dim != st->dim))
		return -EDOM;
	for (size_t j = 0; j < v->dim; j++)
		if (!isfinite(v->vec[j]))
			return -EDOM;
	st->dim = v->dim;
	st->events++;
	char num[32];
	const char *id = "";
	size_t len = 0;
	if (cl && cl->type == DRIFTD_VALUE_STRING) {
		id = cl->str;
		len = cl->len;
	} else if (cl && cl->type == DRIFTD_VALUE_NUMBER) {
		len = (size_t)snprintf(num, sizeof(num), "%.17g", cl->num);
		id = num;
	}
	bool fresh;
	size_t slot = dd_ctab_get(&st->t, id, len, INFINITY, &fresh);
	struct ex_client *p = dd_ctab_payload(&st->t, slot);
	st->t.weight[slot] += 1;
	if (fresh)
		p->w = 1;
	if (label && (label->type == DRIFTD_VALUE_STRING || label->type == DRIFTD_VALUE_NUMBER)) {
		uint64_t h = label->type == DRIFTD_VALUE_STRING
		                 ? dd_sec_hash(label->str, label->len, 0)
		                 : dd_sec_hash(&label->num, sizeof(label->num), 0);
		if (p->classes[h & 15] < UINT32_MAX)
			p->classes[h & 15]++;
		st->classes[h & 15]++;
	}
	if (conf && conf->type == DRIFTD_VALUE_NUMBER) {
		bool low = conf->num < c->low_confidence;
		p->rated++;
		p->low += low;
		st->rated++;
		st->low += low;
	}
	size_t h = (size_t)c->history, dim = v->dim;
	size_t have = p->queries < h ? (size_t)p->queries : h;
	double *qs = ex_queries(c, p);
	double best = INFINITY;
	for (size_t q = 0; q < have; q++) {
		const double *y = qs + q * (size_t)c->max_dim;
		double s = 0;
		for (size_t j = 0; j < dim && s < best; j++)
			s += (v->vec[j] - y[j]) * (v->vec[j] - y[j]);
		if (s < best)
			best = s;
	}
	memcpy(qs + (size_t)p->next_q * (size_t)c->max_dim, v->vec, dim * sizeof(double));
	p->next_q = (uint32_t)((p->next_q + 1) % h);
	p->queries++;
	if (have == 0)
		return 0; /* the first query has no distance */
	double *ds = ex_dists(c, p);
	ds[p->next_d] = sqrt(best);
	p->next_d = (uint32_t)((p->next_d + 1) % (size_t)c->window);
	p->n_d++;
	if (p->n_d < (uint64_t)c->window || p->n_d % (uint64_t)c->every != 0)
		return 0;
	size_t n = (size_t)c->window;
	memcpy(st->sorted, ds, n * sizeof(double));
	dd_sort_doubles(st->sorted, n);
	p->w = dd_swilk_w(st->sorted, n, st->a);
	if (p->w < c->threshold) {
		st->last_breach = (int64_t)st->events;
		st->w = p->w;
		memcpy(st->client, st->t.id[slot], DD_SEC_ID_MAX);
		st->client_queries = p->queries;
		/* distinct inputs among the client's history: exact repeats */
		size_t kept = p->queries < h ? (size_t)p->queries : h, distinct = 0;
		for (size_t i = 0; i < kept; i++) {
			bool seen = false;
			for (size_t k = 0; k < i && !seen; k++)
				seen =
				    memcmp(qs + i * (size_t)c->max_dim, qs + k * (size_t)c->max_dim,
				           dim * sizeof(double)) == 0;
			distinct += !seen;
		}
		st->distinct = (double)distinct / (double)kept;
		st->client_low = p->rated ? (double)p->low / (double)p->rated : (double)NAN;
		uint64_t k[16];
		for (int i = 0; i < 16; i++)
			k[i] = p->classes[i];
		st->client_entropy = bucket_entropy(k);
	}
	return 0;
}

static int ex_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	return ex_feed(ctx, v, NULL, NULL, NULL);
}

static int ex_update_event(struct driftd_ctx *ctx, const struct driftd_event *e)
{
	struct driftd_value meta = {
	    .type = DRIFTD_VALUE_STRING, .str = e->client_id.s, .len = e->client_id.len};
	const struct driftd_value *cl = e->n_aux > 0 && e->aux[0].type != DRIFTD_VALUE_NONE
	                                    ? &e->aux[0]
	                                : e->client_id.s ? &meta
	                                                 : NULL;
	return ex_feed(ctx, e->value, cl, e->n_aux > 1 ? &e->aux[1] : NULL,
	               e->n_aux > 2 ? &e->aux[2] : NULL);
}

static int ex_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct ex_config *c = ctx->config;
	struct ex_state *st = ctx->state;
	bool on = st->last_breach >= 0 && (int64_t)st->events - st->last_breach <= c->hold;
	/* The score is W itself: drift when it is below the threshold. */
	*out = (struct driftd_verdict){.score = on ? st->w : 1,
	                               .threshold = c->threshold,
	                               .p_value = (double)NAN,
	                               .drift = on};
	if (!on)
		return 0;
	struct driftd_evidence *ev = &st->ev;
	dd_ev_reset(ev);
	snprintf(st->what, sizeof(st->what),
	         "client %s queries like a model-extraction attack (PRADA: Shapiro-Wilk W %.3f "
	         "of its query distances)",
	         st->client, st->w);
	ev->what = st->what;
	dd_ev_str(ev, "client.id", st->client);
	dd_ev_num(ev, "statistic", st->w);
	dd_ev_num(ev, "prada.w", st->w);
	dd_ev_int(ev, "client.queries", (double)st->client_queries);
	dd_ev_num(ev, "client.distinct_ratio", st->distinct);
	if (isfinite(st->client_entropy)) {
		dd_ev_num(ev, "client.class_entropy", st->client_entropy);
		dd_ev_num(ev, "population.class_entropy", bucket_entropy(st->classes));
	}
	if (isfinite(st->client_low)) {
		dd_ev_num(ev, "client.low_confidence_share", st->client_low);
		dd_ev_num(ev, "population.low_confidence_share",
		          st->rated ? (double)st->low / (double)st->rated : 0);
	}
	out->evidence = ev;
	return 0;
}

#define EX_SNAPSHOT_VERSION 1

static int ex_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *b)
{
	const struct ex_state *st = ctx->state;
	driftd_buf_put_u64(b, st->dim);
	driftd_buf_put_u64(b, st->events);
	driftd_buf_put_u64(b, st->low);
	driftd_buf_put_u64(b, st->rated);
	driftd_buf_put_u64(b, (uint64_t)st->last_breach);
	driftd_buf_put_f64(b, st->w);
	driftd_buf_put(b, st->client, sizeof(st->client));
	driftd_buf_put_f64(b, st->distinct);
	driftd_buf_put_f64(b, isfinite(st->client_low) ? st->client_low : -1);
	driftd_buf_put_u64(b, st->client_queries);
	for (int i = 0; i < 16; i++)
		driftd_buf_put_u64(b, st->classes[i]);
	driftd_buf_put_f64(b, isfinite(st->client_entropy) ? st->client_entropy : -1);
	dd_ctab_snapshot(&st->t, b);
	return b->err;
}

/* Snapshots hold only the filled part of a client's history (min(queries, history) vectors
 * of the monitor's dimension, min(distances, window) distances), not the whole reserved
 * slot: a slot is sized for max_dim, most of which a typical feature vector never uses. */
static void ex_put(const void *payload, struct driftd_buf *b, const void *arg)
{
	const struct ex_state *st = arg;
	const struct ex_config *c = st->config;
	const struct ex_client *p = payload;
	driftd_buf_put(b, p, sizeof(*p));
	size_t hq = p->queries < (uint64_t)c->history ? (size_t)p->queries : (size_t)c->history;
	size_t hd = p->n_d < (uint64_t)c->window ? (size_t)p->n_d : (size_t)c->window;
	const double *qs = (const double *)(p + 1);
	for (size_t q = 0; q < hq; q++)
		driftd_buf_put(b, qs + q * (size_t)c->max_dim, (size_t)st->dim * sizeof(double));
	driftd_buf_put(b, qs + c->history * c->max_dim, hd * sizeof(double));
}

static int ex_get(void *payload, struct driftd_reader *r, const void *arg)
{
	const struct ex_state *st = arg;
	const struct ex_config *c = st->config;
	struct ex_client *p = payload;
	if (driftd_rd(r, p, sizeof(*p)) < 0)
		return -EBADMSG;
	uint64_t h = (uint64_t)c->history, w = (uint64_t)c->window;
	/* ring positions follow from the counts; each query after the first has a distance */
	if (p->low > p->rated || p->rated > p->queries || !(p->w >= 0 && p->w <= 1) ||
	    p->n_d + 1 != (p->queries ? p->queries : 1) || (p->queries == 0 && p->n_d) ||
	    p->next_q != p->queries % h || p->next_d != p->n_d % w || (p->queries && !st->dim))
		return -EBADMSG;
	uint64_t labelled = 0;
	for (int i = 0; i < 16; i++)
		labelled += p->classes[i];
	if (labelled > p->queries)
		return -EBADMSG;
	size_t hq = p->queries < h ? (size_t)p->queries : (size_t)h;
	size_t hd = p->n_d < w ? (size_t)p->n_d : (size_t)w;
	double *qs = (double *)(p + 1);
	for (size_t q = 0; q < hq; q++)
		if (driftd_rd(r, qs + q * (size_t)c->max_dim, (size_t)st->dim * sizeof(double)) < 0)
			return -EBADMSG;
	if (driftd_rd(r, qs + c->history * c->max_dim, hd * sizeof(double)) < 0)
		return -EBADMSG;
	for (size_t q = 0; q < hq; q++)
		for (size_t j = 0; j < st->dim; j++)
			if (!isfinite(qs[q * (size_t)c->max_dim + j]))
				return -EBADMSG;
	for (size_t i = 0; i < hd; i++)
		if (!(qs[c->history * c->max_dim + (int64_t)i] >= 0) ||
		    !isfinite(qs[c->history * c->max_dim + (int64_t)i]))
			return -EBADMSG;
	return 0;
}

static void ex_reset(struct ex_state *st)
{
	dd_ctab_clear(&st->t);
	st->dim = st->events = st->low = st->rated = st->client_queries = 0;
	st->last_breach = -1;
	st->w = 1;
	st->client[0] = '\0';
	st->distinct = 0;
	st->client_low = (double)NAN;
	memset(st->classes, 0, sizeof(st->classes));
	st->client_entropy = (double)NAN;
}

static int ex_rd_classes(struct driftd_reader *r, struct ex_state *st)
{
	uint64_t sum = 0;
	double e;
	for (int i = 0; i < 16; i++) {
		if (driftd_rd_u64(r, &st->classes[i]) < 0)
			return -EBADMSG;
		sum += st->classes[i];
	}
	if (sum > st->events || driftd_rd_f64_finite(r, &e) < 0 || !(e == -1 || (e >= 0 && e <= 1)))
		return -EBADMSG;
	st->client_entropy = e < 0 ? (double)NAN : e;
	return 0;
}

static int ex_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	const struct ex_config *c = ctx->config;
	struct ex_state *st = ctx->state;
	struct driftd_reader r = {data, len};
	uint64_t last;
	double cl;
	ex_reset(st);
	if (version != EX_SNAPSHOT_VERSION || driftd_rd_u64(&r, &st->dim) < 0 ||
	    st->dim > (uint64_t)c->max_dim || driftd_rd_u64(&r, &st->events) < 0 ||
	    driftd_rd_u64(&r, &st->low) < 0 || driftd_rd_u64(&r, &st->rated) < 0 ||
	    st->low > st->rated || driftd_rd_u64(&r, &last) < 0 ||
	    driftd_rd_f64_finite(&r, &st->w) < 0 || !(st->w >= 0 && st->w <= 1) ||
	    driftd_rd(&r, st->client, sizeof(st->client)) < 0 ||
	    !memchr(st->client, '\0', sizeof(st->client)) ||
	    driftd_rd_f64_finite(&r, &st->distinct) < 0 || driftd_rd_f64_finite(&r, &cl) < 0 ||
	    driftd_rd_u64(&r, &st->client_queries) < 0 || ex_rd_classes(&r, st) < 0 ||
	    (last != UINT64_MAX && last > st->events) ||
	    dd_ctab_restore(&st->t, &r, NULL, NULL) < 0 || r.left)
		goto bad;
	st->last_breach = (int64_t)last;
	st->client_low = cl < 0 ? (double)NAN : cl;
	return 0;
bad:
	ex_reset(st);
	return -EBADMSG;
}

static int ex_check_config(const void *config, const char **why)
{
	const struct ex_config *c = config;
	if (c->history > (int64_t)UINT32_MAX || c->window > 5000) {
		*why = "history or window too large";
		return -EINVAL;
	}
	/* per-client memory: refuse configurations that would reserve more than 1 GiB */
	if ((double)c->max_clients * (double)(c->history * c->max_dim + c->window) * 8 >
	    1073741824.0) {
		*why = "max_clients x (history x max_dim + window) doubles exceed 1 GiB";
		return -EINVAL;
	}
	return 0;
}

static const char *const ex_tags[] = {"threat:model_extraction", "etsi:5.2.2-2", NULL};

const struct driftd_detector_ops driftd_detector_extraction = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "extraction",
    .summary = "PRADA per client: Shapiro-Wilk W of each query's distance to the client's "
               "earlier queries; low W suggests synthetic extraction queries.",
    .kind = DRIFTD_KIND_SECURITY,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_VECTOR),
    .params = ex_params,
    .n_params = sizeof(ex_params) / sizeof(ex_params[0]),
    .config_size = sizeof(struct ex_config),
    .state_size = sizeof(struct ex_state),
    .snapshot_version = EX_SNAPSHOT_VERSION,
    .check_config = ex_check_config,
    .init = ex_init,
    .update = ex_update,
    .evaluate = ex_evaluate,
    .snapshot = ex_snapshot,
    .restore = ex_restore,
    .done = ex_done,
    .tags = ex_tags,
    .update_event = ex_update_event,
};
