/* model_identity: every event's model identity (model.id, model.version, model.sha256) must be
 * in the inventory of AI assets (EN 304 223 5.2.1-1/-2, hashes 5.2.4-1.2). An event that
 * matches no entry (a shadow model, a silent swap to other weights, a missing hash where the
 * inventory pins one) is a breach at that event.
 *
 * Inventory entries are {id, version, sha256}; an empty version or sha256 in an entry matches
 * anything (hashes compare case-insensitively). Without an inventory the detector trusts on
 * first use: the first identity seen per model id is recorded (at most max_models ids), and a
 * later version or hash for that id is the breach (a silent swap); ids beyond the bound are
 * not tracked, which the snapshot counts.
 *
 * Verdicts are per event: score 1 while an unexpected identity was seen within the last
 * `hold` events (so interleaved traffic from a shadow model keeps one alert firing instead of
 * flapping), else 0; threshold 0.5. The evidence names what was seen and what was expected.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secutil.h"

#define MI_ID_MAX  128
#define MI_VER_MAX 64
#define MI_SHA_MAX 72

struct mi_config {
	struct driftd_list inventory;
	int64_t hold;
	int64_t max_models;
	bool require_sha256;
};

static const char *const mi_columns[] = {"id", "version", "sha256", NULL};

static const struct driftd_param mi_params[] = {
    {
        .name = "inventory",
        .type = DRIFTD_PARAM_LIST,
        .offset = offsetof(struct mi_config, inventory),
        .choices = mi_columns,
        .description = "Known model identities {id, version, sha256} (empty version or "
                       "sha256: any). Empty: trust the first identity seen per model id.",
    },
    {
        .name = "hold",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct mi_config, hold),
        .def = 100,
        .min = 1,
        .max = 1e9,
        .description = "Events a breach stays in force after the last unexpected identity "
                       "(keeps one alert for interleaved shadow traffic).",
    },
    {
        .name = "max_models",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct mi_config, max_models),
        .def = 64,
        .min = 1,
        .max = 65536,
        .description = "Without an inventory: most model ids remembered on first use.",
    },
    {
        .name = "require_sha256",
        .type = DRIFTD_PARAM_BOOL,
        .offset = offsetof(struct mi_config, require_sha256),
        .def = 1,
        .description = "An event without model.sha256 breaches when its inventory entry "
                       "pins a hash.",
    },
};

struct mi_ident {
	char id[MI_ID_MAX]; /* cut copies, for the evidence */
	char version[MI_VER_MAX];
	char sha[MI_SHA_MAX];
	/* Hashes of the whole strings (0: absent), which trust on first use compares: an id
	 * or version longer than the copies must still match itself, and differ from another
	 * that shares the kept prefix. */
	uint64_t hid, hver, hsha;
};

struct mi_state {
	struct mi_ident *known; /* trust on first use: max_models entries */
	uint64_t n_known;
	uint64_t untracked; /* events of ids beyond max_models */
	uint64_t events;
	uint64_t breaches;
	int64_t last_breach; /* event number of the last breach, -1: none */
	/* the last breach, for the evidence */
	struct mi_ident seen;
	char expected_sha[MI_SHA_MAX];
	char expected_version[MI_VER_MAX];
	char reason[48];
	char what[400];
	struct driftd_evidence ev;
};

static bool eq_str(const struct driftd_str *s, const char *z, bool nocase)
{
	size_t l = strlen(z);
	if (!s->s || s->len != l)
		return false;
	return nocase ? strncasecmp(s->s, z, l) == 0 : memcmp(s->s, z, l) == 0;
}

/* 0 for an absent string; sha256 compares without case. */
static uint64_t mi_hash(const struct driftd_str *s, bool nocase)
{
	if (!s->s)
		return 0;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < s->len; i++) {
		unsigned char ch = (unsigned char)s->s[i];
		if (nocase && ch >= 'A' && ch <= 'Z')
			ch = (unsigned char)(ch - 'A' + 'a');
		h = (h ^ ch) * 1099511628211ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h | 1;
}

static void copy_str(char *dst, size_t cap, const struct driftd_str *s)
{
	dd_sec_copy(dst, cap, s->s ? s->s : "", s->s ? s->len : 0);
}

static int mi_init(struct driftd_ctx *ctx)
{
	const struct mi_config *c = ctx->config;
	struct mi_state *st = ctx->state;
	st->last_breach = -1;
	if (c->inventory.n == 0) {
		st->known = calloc((size_t)c->max_models, sizeof(*st->known));
		if (!st->known)
			return -ENOMEM;
	}
	return 0;
}

static void mi_done(struct driftd_ctx *ctx)
{
	struct mi_state *st = ctx->state;
	free(st->known);
	st->known = NULL;
}

static int mi_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	(void)ctx;
	(void)v;
	return -EDOM; /* it reads the event's metadata: only update_event has it */
}

/* Record a breach: what was seen and why. */
static void breach(struct mi_state *st, const struct driftd_event *e, const char *reason,
                   const char *exp_version, const char *exp_sha)
{
	st->breaches++;
	st->last_breach = (int64_t)st->events;
	copy_str(st->seen.id, sizeof(st->seen.id), &e->model_id);
	copy_str(st->seen.version, sizeof(st->seen.version), &e->model_version);
	copy_str(st->seen.sha, sizeof(st->seen.sha), &e->model_sha256);
	snprintf(st->reason, sizeof(st->reason), "%s", reason);
	snprintf(st->expected_version, sizeof(st->expected_version), "%s",
	         exp_version ? exp_version : "");
	snprintf(st->expected_sha, sizeof(st->expected_sha), "%s", exp_sha ? exp_sha : "");
}

static void check_inventory(const struct mi_config *c, struct mi_state *st,
                            const struct driftd_event *e)
{
	const struct driftd_list *inv = &c->inventory;
	const char *reason = "unknown model id", *ev = NULL, *es = NULL;
	for (size_t i = 0; i < inv->n; i++) {
		const char *id = inv->items[i * 3], *ver = inv->items[i * 3 + 1],
		           *sha = inv->items[i * 3 + 2];
		if (!eq_str(&e->model_id, id, false))
			continue;
		if (*ver && !eq_str(&e->model_version, ver, false)) {
			if (!ev) {
				reason = "version not in inventory";
				ev = ver;
			}
			continue;
		}
		if (*sha && !e->model_sha256.s && !c->require_sha256)
			return;
		if (*sha && !eq_str(&e->model_sha256, sha, true)) {
			reason = e->model_sha256.s ? "sha256 not in inventory" : "sha256 missing";
			ev = ver;
			es = sha;
			continue;
		}
		return; /* a matching entry */
	}
	breach(st, e, reason, ev, es);
}

static void check_first_use(const struct mi_config *c, struct mi_state *st,
                            const struct driftd_event *e)
{
	uint64_t hid = mi_hash(&e->model_id, false), hver = mi_hash(&e->model_version, false),
	         hsha = mi_hash(&e->model_sha256, true);
	for (size_t i = 0; i < st->n_known; i++) {
		struct mi_ident *k = &st->known[i];
		if (k->hid != hid)
			continue;
		if (k->hver != hver)
			breach(st, e, "version changed", k->version, k->sha);
		else if (k->hsha != hsha)
			breach(st, e, "sha256 changed", k->version, k->sha);
		return;
	}
	if (st->n_known >= (uint64_t)c->max_models) {
		st->untracked++;
		return;
	}
	struct mi_ident *k = &st->known[st->n_known++];
	copy_str(k->id, sizeof(k->id), &e->model_id);
	copy_str(k->version, sizeof(k->version), &e->model_version);
	copy_str(k->sha, sizeof(k->sha), &e->model_sha256);
	k->hid = hid;
	k->hver = hver;
	k->hsha = hsha;
}

static int mi_update_event(struct driftd_ctx *ctx, const struct driftd_event *e)
{
	const struct mi_config *c = ctx->config;
	struct mi_state *st = ctx->state;
	if (!e->model_id.s)
		return -EDOM;
	st->events++;
	if (c->inventory.n)
		check_inventory(c, st, e);
	else
		check_first_use(c, st, e);
	return 0;
}

static int mi_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct mi_config *c = ctx->config;
	struct mi_state *st = ctx->state;
	bool on = st->last_breach >= 0 && (int64_t)st->events - st->last_breach <= c->hold;
	*out = (struct driftd_verdict){
	    .score = on ? 1 : 0, .threshold = 0.5, .p_value = (double)NAN, .drift = on};
	if (!on)
		return 0;
	struct driftd_evidence *ev = &st->ev;
	dd_ev_reset(ev);
	snprintf(st->what, sizeof(st->what),
	         "model identity not in the inventory (%s): id %s version %s sha256 %s", st->reason,
	         st->seen.id, st->seen.version[0] ? st->seen.version : "-",
	         st->seen.sha[0] ? st->seen.sha : "-");
	ev->what = st->what;
	dd_ev_str(ev, "identity.reason", st->reason);
	dd_ev_str(ev, "model.seen_id", st->seen.id);
	dd_ev_str(ev, "model.version", st->seen.version);
	dd_ev_str(ev, "model.sha256", st->seen.sha);
	if (st->expected_sha[0])
		dd_ev_str(ev, "model.expected_sha256", st->expected_sha);
	if (st->expected_version[0])
		dd_ev_str(ev, "model.expected_version", st->expected_version);
	dd_ev_int(ev, "identity.breaches", (double)st->breaches);
	out->evidence = ev;
	return 0;
}

#define MI_SNAPSHOT_VERSION 2 /* 2: whole-string hashes of known identities */

static void put_ident(struct driftd_buf *b, const struct mi_ident *k)
{
	driftd_buf_put(b, k->id, sizeof(k->id));
	driftd_buf_put(b, k->version, sizeof(k->version));
	driftd_buf_put(b, k->sha, sizeof(k->sha));
	driftd_buf_put_u64(b, k->hid);
	driftd_buf_put_u64(b, k->hver);
	driftd_buf_put_u64(b, k->hsha);
}

static int mi_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *b)
{
	const struct mi_state *st = ctx->state;
	driftd_buf_put_u64(b, st->events);
	driftd_buf_put_u64(b, st->breaches);
	driftd_buf_put_u64(b, (uint64_t)st->last_breach);
	driftd_buf_put_u64(b, st->untracked);
	put_ident(b, &st->seen);
	driftd_buf_put(b, st->expected_sha, sizeof(st->expected_sha));
	driftd_buf_put(b, st->expected_version, sizeof(st->expected_version));
	driftd_buf_put(b, st->reason, sizeof(st->reason));
	driftd_buf_put_u64(b, st->known ? st->n_known : 0);
	for (size_t i = 0; st->known && i < st->n_known; i++)
		put_ident(b, &st->known[i]);
	return b->err;
}

/* Fixed-size text from an untrusted snapshot: must be NUL-terminated within its size. */
static int rd_text(struct driftd_reader *r, char *dst, size_t n)
{
	if (driftd_rd(r, dst, n) < 0 || !memchr(dst, '\0', n))
		return -EBADMSG;
	return 0;
}

static int rd_ident(struct driftd_reader *r, struct mi_ident *k)
{
	if (rd_text(r, k->id, sizeof(k->id)) < 0 ||
	    rd_text(r, k->version, sizeof(k->version)) < 0 ||
	    rd_text(r, k->sha, sizeof(k->sha)) < 0 || driftd_rd_u64(r, &k->hid) < 0 ||
	    driftd_rd_u64(r, &k->hver) < 0 || driftd_rd_u64(r, &k->hsha) < 0)
		return -EBADMSG;
	return 0;
}

static void mi_reset(struct driftd_ctx *ctx)
{
	struct mi_state *st = ctx->state;
	struct mi_ident *known = st->known;
	memset(st, 0, sizeof(*st));
	st->known = known;
	st->last_breach = -1;
}

static int mi_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	const struct mi_config *c = ctx->config;
	struct mi_state *st = ctx->state;
	struct driftd_reader r = {data, len};
	uint64_t last, n;
	mi_reset(ctx);
	if (version != MI_SNAPSHOT_VERSION || driftd_rd_u64(&r, &st->events) < 0 ||
	    driftd_rd_u64(&r, &st->breaches) < 0 || driftd_rd_u64(&r, &last) < 0 ||
	    driftd_rd_u64(&r, &st->untracked) < 0 || rd_ident(&r, &st->seen) < 0 ||
	    rd_text(&r, st->expected_sha, sizeof(st->expected_sha)) < 0 ||
	    rd_text(&r, st->expected_version, sizeof(st->expected_version)) < 0 ||
	    rd_text(&r, st->reason, sizeof(st->reason)) < 0 || driftd_rd_u64(&r, &n) < 0)
		goto bad;
	/* last_breach is -1 (none) or an event already counted */
	if (last != UINT64_MAX && last > st->events)
		goto bad;
	st->last_breach = (int64_t)last;
	if (n > (st->known ? (uint64_t)c->max_models : 0))
		goto bad;
	for (uint64_t i = 0; i < n; i++)
		if (rd_ident(&r, &st->known[i]) < 0)
			goto bad;
	st->n_known = n;
	if (r.left)
		goto bad;
	return 0;
bad:
	mi_reset(ctx);
	return -EBADMSG;
}

static const char *const mi_tags[] = {"threat:model_tampering", "etsi:5.2.1-1", "etsi:5.2.1-2",
                                      "etsi:5.2.4-1.2", NULL};

const struct driftd_detector_ops driftd_detector_model_identity = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "model_identity",
    .summary = "Model id, version and sha256 of every event checked against the inventory "
               "(or the first identity seen): shadow models and silent swaps.",
    .kind = DRIFTD_KIND_SECURITY,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_STRING) | DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = mi_params,
    .n_params = sizeof(mi_params) / sizeof(mi_params[0]),
    .config_size = sizeof(struct mi_config),
    .state_size = sizeof(struct mi_state),
    .snapshot_version = MI_SNAPSHOT_VERSION,
    .init = mi_init,
    .update = mi_update,
    .evaluate = mi_evaluate,
    .snapshot = mi_snapshot,
    .restore = mi_restore,
    .done = mi_done,
    .flags = DRIFTD_FLAG_NO_FIELD,
    .tags = mi_tags,
    .update_event = mi_update_event,
};
