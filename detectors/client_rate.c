/* client_rate: one client's share of the traffic departing from its own history and from the
 * population (flooding, the query volume of model extraction, rapid poisoning through an
 * exposed API; EN 304 223 5.2.2-2 asks for rate controls on such APIs).
 *
 * The field is the client id (a string, or a number). Events are counted per client in blocks
 * of `block` events. At each block end, for every client c with share s = count / block:
 *
 *   expected e = c's EWMA share over earlier blocks (a new client: the population's typical
 *                share, the EWMA of 1 / active clients)
 *   z = (s - e) / sqrt(e (1 - e) / block)              (binomial standard error, floored)
 *   S_c = max(0, S_c + z' - k),   z' = z when s >= min_share and s > population_factor x
 *                                       typical share, else min(z, 0)
 *
 * so a client only accumulates evidence while it is both above its own history and well above
 * the population; its own baseline is frozen while S_c >= threshold / 2 (an attack is not learnt).
 * The verdict (per event, refreshed at block ends) is the largest S_c against `threshold` and names
 * that client. Nothing alarms during the first warmup_blocks blocks.
 *
 * The client table is bounded (max_clients heavy hitters, Space-Saving style: a new client on
 * a full table replaces the one with the lowest decayed count) and evicted clients' counts go
 * to an overflow bucket "(overflow)" that is watched like a client, so a swarm of fresh ids
 * (one request each) still shows as the overflow bucket's share rising.
 *
 * Cost: O(1) per event (a hash lookup); O(max_clients) per block end.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "secutil.h"

struct cr_config {
	int64_t max_clients;
	int64_t block;
	int64_t warmup_blocks;
	double k;
	double threshold;
	double min_share;
	double population_factor;
	double alpha;
};

static const struct driftd_param cr_params[] = {
    {.name = "max_clients",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct cr_config, max_clients),
     .def = 256,
     .min = 1,
     .max = 1 << 20,
     .description = "Clients tracked individually; the rest share the overflow bucket."},
    {.name = "block",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct cr_config, block),
     .def = 100,
     .min = 10,
     .max = 1e9,
     .description = "Events per block: shares are measured, and the verdict refreshed, at "
                    "each block end."},
    {.name = "warmup_blocks",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct cr_config, warmup_blocks),
     .def = 5,
     .min = 0,
     .max = 1e6,
     .description = "Blocks learnt before any alarm."},
    {.name = "k",
     .type = DRIFTD_PARAM_DOUBLE,
     .offset = offsetof(struct cr_config, k),
     .def = 0.5,
     .min = 0,
     .max = 100,
     .description = "CUSUM allowance, in standard errors of a block share."},
    {.name = "threshold",
     .type = DRIFTD_PARAM_DOUBLE,
     .offset = offsetof(struct cr_config, threshold),
     .def = 8,
     .min = 0,
     .max = 1e9,
     .min_open = true,
     .description = "CUSUM decision interval: alarm when a client's sum exceeds it."},
    {.name = "min_share",
     .type = DRIFTD_PARAM_DOUBLE,
     .offset = offsetof(struct cr_config, min_share),
     .def = 0.05,
     .min = 0,
     .max = 1,
     .description = "A block share below this never adds evidence (small clients are "
                    "noisy)."},
    {.name = "population_factor",
     .type = DRIFTD_PARAM_DOUBLE,
     .offset = offsetof(struct cr_config, population_factor),
     .def = 3,
     .min = 1,
     .max = 1e6,
     .description = "A client adds evidence only above this multiple of the typical "
                    "client's share."},
    {.name = "alpha",
     .type = DRIFTD_PARAM_DOUBLE,
     .offset = offsetof(struct cr_config, alpha),
     .def = 0.1,
     .min = 0,
     .max = 1,
     .min_open = true,
     .description = "EWMA weight of the newest block in a client's own history."},
};

struct cr_client {
	double mu;       /* EWMA share (own history) */
	double S;        /* CUSUM */
	double last;     /* share in the last complete block */
	double rate;     /* events per second in the last complete block (0: no times) */
	double expected; /* the share expected of it in the last complete block */
	uint64_t cnt;    /* events in the open block */
	uint64_t total;  /* events ever */
	uint64_t blocks; /* quiet blocks learnt into mu */
};

struct cr_state {
	struct dd_ctab t;
	uint64_t events;
	uint64_t blocks;
	double typical; /* EWMA of 1 / active clients */
	int64_t block_t0, block_t1;
	/* the verdict of the last block end */
	double best_S;
	size_t best_slot;
	bool have_best;
	char best_id[DD_SEC_ID_MAX];
	struct cr_client best;
	char what[256];
	struct driftd_evidence ev;
};

static void cr_fold(void *overflow, const void *evicted)
{
	struct cr_client *o = overflow;
	const struct cr_client *e = evicted;
	o->cnt += e->cnt;
	o->total += e->total;
}

static int cr_init(struct driftd_ctx *ctx)
{
	const struct cr_config *c = ctx->config;
	struct cr_state *st = ctx->state;
	int rc =
	    dd_ctab_init(&st->t, (size_t)c->max_clients, sizeof(struct cr_client), ctx->shape.seed);
	st->t.on_evict = cr_fold;
	st->block_t0 = st->block_t1 = -1;
	return rc;
}

static void cr_done(struct driftd_ctx *ctx)
{
	struct cr_state *st = ctx->state;
	dd_ctab_free(&st->t);
}

static void block_end(const struct cr_config *c, struct cr_state *st)
{
	struct dd_ctab *t = &st->t;
	double B = (double)c->block, typical = st->typical > 0 ? st->typical : 1.0;
	bool armed = st->blocks >= (uint64_t)c->warmup_blocks;
	double secs = st->block_t0 >= 0 && st->block_t1 > st->block_t0
	                  ? (double)(st->block_t1 - st->block_t0) / 1000.0
	                  : 0;
	size_t active = 0;
	st->best_S = 0;
	st->have_best = false;
	for (size_t s = 0; s <= t->n; s++) {
		size_t slot = s == t->n ? t->cap : s; /* every client, then the overflow bucket */
		struct cr_client *cl = dd_ctab_payload(t, slot);
		double share = (double)cl->cnt / B;
		active += cl->cnt > 0;
		double e = cl->blocks ? cl->mu : typical;
		double var = e * (1 - e) / B, floor = 1 / (B * B);
		double z = (share - e) / sqrt(var > floor ? var : floor);
		bool suspicious = share >= c->min_share && share > c->population_factor * typical;
		double zz = suspicious ? z : (z < 0 ? z : 0);
		/* Capped at twice the threshold: the sum only has to say "above", and a cap lets
		 * the alert resolve a few blocks after the client calms down. */
		cl->S = armed ? fmin(2 * c->threshold, fmax(0, cl->S + zz - c->k)) : 0;
		cl->expected = e;
		/* Learn while the sum is well below the threshold: an attack is not learnt, but
		 * ordinary noise (which lifts the sum now and then) does not freeze the baseline
		 * at a low value either. */
		if (cl->S < c->threshold / 2) {
			cl->mu = cl->blocks ? (1 - c->alpha) * cl->mu + c->alpha * share : share;
			cl->blocks++;
		}
		cl->last = share;
		cl->rate = secs > 0 ? (double)cl->cnt / secs : 0;
		t->weight[slot] = t->weight[slot] / 2 + (double)cl->cnt;
		cl->cnt = 0;
		if (cl->S > st->best_S) {
			st->best_S = cl->S;
			st->best_slot = slot;
			st->have_best = true;
		}
	}
	if (active)
		st->typical =
		    st->typical > 0 ? 0.9 * st->typical + 0.1 / (double)active : 1 / (double)active;
	if (st->have_best) {
		memcpy(st->best_id, t->id[st->best_slot], DD_SEC_ID_MAX);
		st->best = *(struct cr_client *)dd_ctab_payload(t, st->best_slot);
	}
	st->blocks++;
	st->block_t0 = st->block_t1 = -1;
}

static int cr_count(struct driftd_ctx *ctx, const struct driftd_value *v, int64_t ts)
{
	const struct cr_config *c = ctx->config;
	struct cr_state *st = ctx->state;
	char num[32];
	const char *id;
	size_t len;
	if (v->type == DRIFTD_VALUE_STRING) {
		id = v->str;
		len = v->len;
	} else if (v->type == DRIFTD_VALUE_NUMBER && isfinite(v->num)) {
		len = (size_t)snprintf(num, sizeof(num), "%.17g", v->num);
		id = num;
	} else {
		return -EDOM;
	}
	bool fresh;
	size_t slot = dd_ctab_get(&st->t, id, len, INFINITY, &fresh);
	struct cr_client *cl = dd_ctab_payload(&st->t, slot);
	cl->cnt++;
	cl->total++;
	if (ts >= 0) {
		if (st->block_t0 < 0 || ts < st->block_t0)
			st->block_t0 = ts;
		if (ts > st->block_t1)
			st->block_t1 = ts;
	}
	if (++st->events % (uint64_t)c->block == 0)
		block_end(c, st);
	return 0;
}

static int cr_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	return cr_count(ctx, v, -1);
}

static int cr_update_event(struct driftd_ctx *ctx, const struct driftd_event *e)
{
	return cr_count(ctx, e->value, e->ts_ms);
}

static int cr_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct cr_config *c = ctx->config;
	struct cr_state *st = ctx->state;
	bool on = st->have_best && st->best_S > c->threshold;
	*out = (struct driftd_verdict){
	    .score = st->best_S, .threshold = c->threshold, .p_value = (double)NAN, .drift = on};
	if (!on)
		return 0;
	struct driftd_evidence *ev = &st->ev;
	dd_ev_reset(ev);
	snprintf(st->what, sizeof(st->what),
	         "client %s sends %.1f%% of the traffic (expected %.1f%%, a typical client "
	         "%.1f%%)",
	         st->best_id, 100 * st->best.last, 100 * st->best.expected, 100 * st->typical);
	ev->what = st->what;
	dd_ev_str(ev, "client.id", st->best_id);
	dd_ev_num(ev, "client.share", st->best.last);
	dd_ev_num(ev, "client.expected_share", st->best.expected);
	dd_ev_num(ev, "population.typical_share", st->typical);
	if (st->best.rate > 0)
		dd_ev_num(ev, "client.rate_per_s", st->best.rate);
	dd_ev_int(ev, "client.events", (double)st->best.total);
	dd_ev_num(ev, "statistic", st->best_S);
	dd_ev_int(ev, "clients.evicted", (double)st->t.evictions);
	out->evidence = ev;
	return 0;
}

#define CR_SNAPSHOT_VERSION 1

static int cr_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *b)
{
	const struct cr_state *st = ctx->state;
	driftd_buf_put_u64(b, st->events);
	driftd_buf_put_u64(b, st->blocks);
	driftd_buf_put_f64(b, st->typical);
	driftd_buf_put_u64(b, (uint64_t)st->block_t0);
	driftd_buf_put_u64(b, (uint64_t)st->block_t1);
	dd_ctab_snapshot(&st->t, b);
	return b->err;
}

static int cr_check(const void *payload, const void *config)
{
	(void)config;
	struct cr_client cl;
	memcpy(&cl, payload, sizeof(cl));
	if (!(cl.mu >= 0 && cl.mu <= 1) || !(cl.S >= 0 && cl.S < 1e300) ||
	    !(cl.last >= 0 && cl.last <= 1) || !(cl.rate >= 0 && cl.rate < 1e300) ||
	    !(cl.expected >= 0 && cl.expected <= 1) || cl.cnt > cl.total)
		return -EBADMSG;
	return 0;
}

static void cr_reset(struct cr_state *st)
{
	struct dd_ctab t = st->t;
	dd_ctab_clear(&t);
	memset(st, 0, sizeof(*st));
	st->t = t;
	st->block_t0 = st->block_t1 = -1;
}

static int cr_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	const struct cr_config *c = ctx->config;
	struct cr_state *st = ctx->state;
	struct driftd_reader r = {data, len};
	uint64_t t0, t1;
	cr_reset(st);
	if (version != CR_SNAPSHOT_VERSION || driftd_rd_u64(&r, &st->events) < 0 ||
	    driftd_rd_u64(&r, &st->blocks) < 0 || driftd_rd_f64_finite(&r, &st->typical) < 0 ||
	    !(st->typical >= 0 && st->typical <= 1) || driftd_rd_u64(&r, &t0) < 0 ||
	    driftd_rd_u64(&r, &t1) < 0 || dd_ctab_restore(&st->t, &r, cr_check, c) < 0 || r.left ||
	    st->blocks != st->events / (uint64_t)c->block)
		goto bad;
	st->block_t0 = (int64_t)t0;
	st->block_t1 = (int64_t)t1;
	/* the verdict of the last block end, recomputed from the clients' sums */
	for (size_t s = 0; s <= st->t.n; s++) {
		size_t slot = s == st->t.n ? st->t.cap : s;
		const struct cr_client *cl = dd_ctab_payload(&st->t, slot);
		if (cl->S > st->best_S) {
			st->best_S = cl->S;
			st->best_slot = slot;
			st->have_best = true;
			memcpy(st->best_id, st->t.id[slot], DD_SEC_ID_MAX);
			st->best = *cl;
		}
	}
	return 0;
bad:
	cr_reset(st);
	return -EBADMSG;
}

static const char *const cr_tags[] = {"threat:abuse", "threat:model_extraction", "etsi:5.2.2-2",
                                      NULL};

const struct driftd_detector_ops driftd_detector_client_rate = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "client_rate",
    .summary = "Per-client share of traffic against its own history and the population "
               "(CUSUM), bounded client table: names the flooding client.",
    .kind = DRIFTD_KIND_SECURITY,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_STRING) | DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = cr_params,
    .n_params = sizeof(cr_params) / sizeof(cr_params[0]),
    .config_size = sizeof(struct cr_config),
    .state_size = sizeof(struct cr_state),
    .snapshot_version = CR_SNAPSHOT_VERSION,
    .init = cr_init,
    .update = cr_update,
    .evaluate = cr_evaluate,
    .snapshot = cr_snapshot,
    .restore = cr_restore,
    .done = cr_done,
    .tags = cr_tags,
    .update_event = cr_update_event,
};
