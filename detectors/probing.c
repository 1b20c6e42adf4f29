/* probing: many near-identical queries from one client, the footprint of membership inference
 * and of black-box adversarial search (stateful detection, Chen/Carlini/Wagner 2019;
 * Blacklight, 2022, matches hashed fingerprints of quantised inputs).
 *
 * Each query (the field: a feature vector or a text) becomes a MinHash signature of
 * `signature` 32-bit values over its elements:
 *   vector: the set {(j, floor(x_j / quantum))}: vectors that agree on most coordinates up to
 *           the quantum share most of the set;
 *   text:   the set of its byte 5-grams after lower-casing and collapsing whitespace.
 * Two queries are near-duplicates when the share of equal signature values (an estimate of
 * their Jaccard similarity) is at least `similarity`. Per client the detector keeps the last
 * `history` signatures and the outcome of its last `window` queries; the client's score is the
 * share of those queries that had a near-duplicate in its history. A client with at least
 * `window` queries and a score >= threshold breaches; the verdict stays on for `hold` events
 * after the last breaching query, and names the client.
 *
 * The client is the event's client.id, or the value at the `client` pointer. Clients live in
 * a bounded table (see secutil.h); a new client on a full table replaces the lightest.
 *
 * Cost per event: O(dim x signature) hashing + O(history x signature) comparisons.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secutil.h"

#define PR_SIG_MAX     64
#define PR_HISTORY_MAX 256

struct pr_config {
	const char *client;
	int64_t max_clients;
	int64_t history;
	int64_t window;
	int64_t signature;
	double quantum;
	double similarity;
	double threshold;
	int64_t hold;
};

static const struct driftd_param pr_params[] = {
    {.name = "client",
     .type = DRIFTD_PARAM_POINTER,
     .offset = offsetof(struct pr_config, client),
     .description = "Where the client id is (default: the event's client.id)."},
    {.name = "max_clients",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct pr_config, max_clients),
     .def = 128,
     .min = 1,
     .max = 1 << 16,
     .description = "Clients tracked at once (the lightest is replaced when full)."},
    {.name = "history",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct pr_config, history),
     .def = 32,
     .min = 1,
     .max = PR_HISTORY_MAX,
     .description = "Earlier queries per client a new query is compared with."},
    {.name = "window",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct pr_config, window),
     .def = 20,
     .min = 2,
     .max = 64,
     .description = "Recent queries per client over which the near-duplicate share is "
                    "measured (and the least a client must have sent)."},
    {.name = "signature",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct pr_config, signature),
     .def = 16,
     .min = 4,
     .max = PR_SIG_MAX,
     .description = "MinHash values per query (more: a finer similarity estimate)."},
    {.name = "quantum",
     .type = DRIFTD_PARAM_DOUBLE,
     .offset = offsetof(struct pr_config, quantum),
     .def = 0.05,
     .min = 0,
     .max = 1e300,
     .min_open = true,
     .description = "Vectors: the grid coordinates are quantised to before hashing."},
    {.name = "similarity",
     .type = DRIFTD_PARAM_DOUBLE,
     .offset = offsetof(struct pr_config, similarity),
     .def = 0.7,
     .min = 0,
     .max = 1,
     .min_open = true,
     .description = "Estimated Jaccard similarity at which two queries are near-duplicates."},
    {.name = "threshold",
     .type = DRIFTD_PARAM_DOUBLE,
     .offset = offsetof(struct pr_config, threshold),
     .def = 0.5,
     .min = 0,
     .max = 1,
     .min_open = true,
     .description = "Breach when this share of a client's recent queries were "
                    "near-duplicates."},
    {.name = "hold",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct pr_config, hold),
     .def = 200,
     .min = 1,
     .max = 1e9,
     .description = "Events a breach stays in force after the last breaching query."},
};

struct pr_client {
	uint64_t queries;
	uint64_t flags; /* bit i: query (queries - 1 - i) had a near-duplicate */
	uint32_t next;  /* ring position in sig */
	uint32_t sig[]; /* history x signature */
};

struct pr_state {
	struct dd_ctab t;
	size_t stride;
	uint32_t *scratch; /* one signature */
	uint64_t dim;      /* vectors: fixed by the first one (0: not yet) */
	uint64_t events;
	int64_t last_breach;
	double score;
	char client[DD_SEC_ID_MAX];
	uint64_t client_queries;
	char what[200];
	struct driftd_evidence ev;
};

static size_t pr_stride(const struct pr_config *c)
{
	size_t n =
	    sizeof(struct pr_client) + (size_t)(c->history * c->signature) * sizeof(uint32_t);
	return (n + 7) & ~(size_t)7; /* the next slot's counters stay aligned */
}

static int pr_init(struct driftd_ctx *ctx)
{
	const struct pr_config *c = ctx->config;
	struct pr_state *st = ctx->state;
	st->last_breach = -1;
	st->stride = pr_stride(c);
	st->scratch = calloc(PR_SIG_MAX, sizeof(uint32_t));
	if (!st->scratch)
		return -ENOMEM;
	return dd_ctab_init(&st->t, (size_t)c->max_clients, st->stride, ctx->shape.seed);
}

static void pr_done(struct driftd_ctx *ctx)
{
	struct pr_state *st = ctx->state;
	dd_ctab_free(&st->t);
	free(st->scratch);
	st->scratch = NULL;
}

static inline uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Fold one set element's hash into the signature: sig[k] = min over elements of the k-th
 * derived hash. */
static inline void fold(uint32_t *sig, size_t k, uint64_t h)
{
	for (size_t i = 0; i < k; i++) {
		uint32_t v = (uint32_t)(mix(h + 0x9e3779b97f4a7c15ull * (i + 1)) >> 32);
		if (v < sig[i])
			sig[i] = v;
	}
}

static int signature(const struct pr_config *c, const struct driftd_value *v, uint32_t *sig,
                     uint64_t *dim)
{
	size_t k = (size_t)c->signature;
	for (size_t i = 0; i < k; i++)
		sig[i] = UINT32_MAX;
	if (v->type == DRIFTD_VALUE_VECTOR) {
		if (v->dim == 0 || (*dim && v->dim != *dim))
			return -EDOM; /* one monitor, one feature space */
		for (size_t j = 0; j < v->dim; j++)
			if (!isfinite(v->vec[j]))
				return -EDOM;
		for (size_t j = 0; j < v->dim; j++) {
			double q = floor(v->vec[j] / c->quantum);
			if (!(fabs(q) < 9e18))
				q = q < 0 ? -9e18 : 9e18;
			fold(sig, k, mix((uint64_t)j * 0x100000001b3ull ^ (uint64_t)(int64_t)q));
		}
		*dim = v->dim;
		return 0;
	}
	if (v->type != DRIFTD_VALUE_STRING)
		return -EDOM;
	/* byte 5-grams of the normalised text, computed on the fly over a small window */
	unsigned char win[5] = {0};
	size_t n = 0;
	bool space = true;
	uint64_t seen = 0;
	for (size_t i = 0; i <= v->len; i++) {
		unsigned char ch = i < v->len ? (unsigned char)v->str[i] : ' ';
		if (isspace(ch)) {
			if (space)
				continue;
			ch = ' ';
			space = true;
		} else {
			space = false;
			ch = (unsigned char)tolower(ch);
		}
		memmove(win, win + 1, 4);
		win[4] = ch;
		if (++n >= 5) {
			fold(sig, k, dd_sec_hash(win, 5, 0));
			seen++;
		}
	}
	if (!seen) /* shorter than a 5-gram: the whole text is the one element */
		fold(sig, k, dd_sec_hash(win + 5 - (n < 5 ? n : 5), n < 5 ? n : 5, 1));
	return 0;
}

static int pr_feed(struct driftd_ctx *ctx, const struct driftd_value *v,
                   const struct driftd_value *cl)
{
	const struct pr_config *c = ctx->config;
	struct pr_state *st = ctx->state;
	int rc = signature(c, v, st->scratch, &st->dim);
	if (rc < 0)
		return rc;
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
	struct pr_client *p = dd_ctab_payload(&st->t, slot);
	size_t k = (size_t)c->signature, h = (size_t)c->history;
	size_t have = p->queries < h ? (size_t)p->queries : h;
	size_t need = (size_t)ceil(c->similarity * (double)k);
	bool dup = false;
	for (size_t q = 0; q < have && !dup; q++) {
		const uint32_t *s = p->sig + q * k;
		size_t eq = 0;
		for (size_t i = 0; i < k; i++)
			eq += s[i] == st->scratch[i];
		dup = eq >= need;
	}
	memcpy(p->sig + (size_t)p->next * k, st->scratch, k * sizeof(uint32_t));
	p->next = (uint32_t)((p->next + 1) % h);
	p->flags = (p->flags << 1) | (dup ? 1u : 0u);
	p->queries++;
	st->t.weight[slot] += 1;
	if (p->queries < (uint64_t)c->window)
		return 0;
	uint64_t mask = c->window >= 64 ? UINT64_MAX : ((1ull << c->window) - 1);
	double score = (double)__builtin_popcountll(p->flags & mask) / (double)c->window;
	if (score >= c->threshold) {
		st->last_breach = (int64_t)st->events;
		st->score = score;
		memcpy(st->client, st->t.id[slot], DD_SEC_ID_MAX);
		st->client_queries = p->queries;
	}
	return 0;
}

static int pr_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	return pr_feed(ctx, v, NULL);
}

static int pr_update_event(struct driftd_ctx *ctx, const struct driftd_event *e)
{
	struct driftd_value meta = {
	    .type = DRIFTD_VALUE_STRING, .str = e->client_id.s, .len = e->client_id.len};
	const struct driftd_value *cl = e->n_aux && e->aux[0].type != DRIFTD_VALUE_NONE ? &e->aux[0]
	                                : e->client_id.s                                ? &meta
	                                                                                : NULL;
	return pr_feed(ctx, e->value, cl);
}

static int pr_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct pr_config *c = ctx->config;
	struct pr_state *st = ctx->state;
	bool on = st->last_breach >= 0 && (int64_t)st->events - st->last_breach <= c->hold;
	*out = (struct driftd_verdict){.score = on ? st->score : 0,
	                               .threshold = c->threshold,
	                               .p_value = (double)NAN,
	                               .drift = on};
	if (!on)
		return 0;
	struct driftd_evidence *ev = &st->ev;
	dd_ev_reset(ev);
	snprintf(st->what, sizeof(st->what),
	         "client %s sent near-duplicate queries (%.0f%% of its last %lld)", st->client,
	         100 * st->score, (long long)c->window);
	ev->what = st->what;
	dd_ev_str(ev, "client.id", st->client);
	dd_ev_num(ev, "client.near_duplicate_share", st->score);
	dd_ev_int(ev, "client.queries", (double)st->client_queries);
	dd_ev_num(ev, "statistic", st->score);
	dd_ev_num(ev, "similarity", c->similarity);
	out->evidence = ev;
	return 0;
}

#define PR_SNAPSHOT_VERSION 1

static int pr_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *b)
{
	const struct pr_state *st = ctx->state;
	driftd_buf_put_u64(b, st->dim);
	driftd_buf_put_u64(b, st->events);
	driftd_buf_put_u64(b, (uint64_t)st->last_breach);
	driftd_buf_put_f64(b, st->score);
	driftd_buf_put(b, st->client, sizeof(st->client));
	driftd_buf_put_u64(b, st->client_queries);
	dd_ctab_snapshot(&st->t, b);
	return b->err;
}

static int pr_check(const void *payload, const void *config)
{
	const struct pr_config *c = config;
	struct pr_client p;
	memcpy(&p, payload, sizeof(p));
	return p.next < (uint64_t)c->history ? 0 : -EBADMSG;
}

static int pr_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	const struct pr_config *c = ctx->config;
	struct pr_state *st = ctx->state;
	struct driftd_reader r = {data, len};
	uint64_t last;
	st->events = 0;
	st->last_breach = -1;
	st->score = 0;
	st->client[0] = '\0';
	if (version != PR_SNAPSHOT_VERSION || driftd_rd_u64(&r, &st->dim) < 0 ||
	    st->dim > (1u << 20) || driftd_rd_u64(&r, &st->events) < 0 ||
	    driftd_rd_u64(&r, &last) < 0 || driftd_rd_f64_finite(&r, &st->score) < 0 ||
	    !(st->score >= 0 && st->score <= 1) ||
	    driftd_rd(&r, st->client, sizeof(st->client)) < 0 ||
	    !memchr(st->client, '\0', sizeof(st->client)) ||
	    driftd_rd_u64(&r, &st->client_queries) < 0 ||
	    (last != UINT64_MAX && last > st->events) ||
	    dd_ctab_restore(&st->t, &r, pr_check, c) < 0 || r.left)
		goto bad;
	st->last_breach = (int64_t)last;
	return 0;
bad:
	dd_ctab_clear(&st->t);
	st->dim = 0;
	st->events = 0;
	st->last_breach = -1;
	st->score = 0;
	st->client[0] = '\0';
	st->client_queries = 0;
	return -EBADMSG;
}

static const char *const pr_tags[] = {"threat:probing", "threat:membership_inference",
                                      "etsi:5.2.2-2", NULL};

const struct driftd_detector_ops driftd_detector_probing = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "probing",
    .summary = "Near-duplicate queries per client (MinHash fingerprints of vectors or text): "
               "membership inference and adversarial search.",
    .kind = DRIFTD_KIND_SECURITY,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_VECTOR) | DRIFTD_ACCEPTS(DRIFTD_VALUE_STRING),
    .params = pr_params,
    .n_params = sizeof(pr_params) / sizeof(pr_params[0]),
    .config_size = sizeof(struct pr_config),
    .state_size = sizeof(struct pr_state),
    .snapshot_version = PR_SNAPSHOT_VERSION,
    .init = pr_init,
    .update = pr_update,
    .evaluate = pr_evaluate,
    .snapshot = pr_snapshot,
    .restore = pr_restore,
    .done = pr_done,
    .tags = pr_tags,
    .update_event = pr_update_event,
};
