/* canary: output text checked for leakage (indirect prompt injection, system-prompt or data
 * exfiltration). Two signals, each a breach at the event where it shows:
 *
 *  - canary tokens: strings planted in system prompts or documents that must never appear in
 *    an output (any occurrence, exact bytes);
 *  - exfiltration patterns: markdown images `![..](http(s)://HOST/..)` (rendered without a
 *    click, so the URL carries data out) and, with exfil_patterns = images_and_links, also
 *    links `[..](http(s)://HOST/..)`, to a HOST not on allow_hosts (exact, or a subdomain of
 *    an entry).
 *
 * A token leak is critical (the alert is raised to at least Critical); an exfiltration pattern
 * keeps the monitor's severity. Verdicts are per event: score 1 while a leak was seen within
 * the last `hold` events, else 0; threshold 0.5. The evidence names the token by index and
 * a redacted prefix (the alert must not spread the canary itself), the host, the client and
 * the request.
 *
 * Cost: O(len x tokens) per event with memmem; tokens are few.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "secutil.h"

struct canary_config {
	struct driftd_list tokens;
	struct driftd_list allow_hosts;
	int exfil;
	int64_t hold;
};

static const char *const canary_exfil[] = {"none", "images", "images_and_links", NULL};

static const struct driftd_param canary_params[] = {
    {
        .name = "tokens",
        .type = DRIFTD_PARAM_LIST,
        .offset = offsetof(struct canary_config, tokens),
        .description = "Canary strings that must never appear in the output (also "
                       "`tokens_file`: one per line).",
    },
    {
        .name = "allow_hosts",
        .type = DRIFTD_PARAM_LIST,
        .offset = offsetof(struct canary_config, allow_hosts),
        .description = "Hosts markdown images and links may point at (subdomains "
                       "included).",
    },
    {
        .name = "exfil_patterns",
        .type = DRIFTD_PARAM_ENUM,
        .offset = offsetof(struct canary_config, exfil),
        .def = 1,
        .choices = canary_exfil,
        .description = "Which markdown URLs to unknown hosts count as exfiltration.",
    },
    {
        .name = "hold",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct canary_config, hold),
        .def = 100,
        .min = 1,
        .max = 1e9,
        .description = "Events a leak stays in force (one alert per burst, not one per "
                       "event).",
    },
};

struct canary_state {
	uint64_t events;
	uint64_t leaks;
	int64_t last_leak; /* event number, -1: none */
	int64_t token;     /* index of the leaked token, -1: an exfiltration pattern */
	char token_hint[16];
	char host[128];
	char client[DD_SEC_ID_MAX];
	char request[DD_SEC_ID_MAX];
	char what[320];
	struct driftd_evidence ev;
};

static int canary_init(struct driftd_ctx *ctx)
{
	struct canary_state *st = ctx->state;
	st->last_leak = -1;
	st->token = -1;
	return 0;
}

static void canary_done(struct driftd_ctx *ctx)
{
	(void)ctx;
}

static bool host_allowed(const struct driftd_list *allow, const char *h, size_t n)
{
	for (size_t i = 0; i < allow->n; i++) {
		const char *a = allow->items[i];
		size_t l = strlen(a);
		if (l == n && strncasecmp(a, h, n) == 0)
			return true;
		/* a subdomain: "cdn.example.com" under "example.com" */
		if (l < n && h[n - l - 1] == '.' && strncasecmp(a, h + n - l, l) == 0)
			return true;
	}
	return false;
}

/* The host of an absolute URL at u (after spaces and an optional '<'), or NULL for a relative
 * one; its length in *n. The host ends at any of / \ ? # ) > : or a space: browsers read '\'
 * as '/', so "https://evil\@good" goes to evil. Userinfo before '@' is skipped. */
static const char *url_host(const char *u, const char *end, size_t *n)
{
	while (u < end && *u == ' ')
		u++;
	if (u < end && *u == '<')
		u++;
	size_t skip = 0;
	if ((size_t)(end - u) > 8 && strncasecmp(u, "https://", 8) == 0)
		skip = 8;
	else if ((size_t)(end - u) > 7 && strncasecmp(u, "http://", 7) == 0)
		skip = 7;
	else if ((size_t)(end - u) > 2 && (strncmp(u, "//", 2) == 0 || strncmp(u, "\\\\", 2) == 0))
		skip = 2;
	if (!skip)
		return NULL; /* relative: stays on the page's own host */
	const char *h = u + skip, *e = h;
	while (e < end && !strchr("/\\?#)> :\n", *e))
		e++;
	for (const char *at = h; at < e; at++)
		if (*at == '@')
			h = at + 1;
	*n = (size_t)(e - h);
	return e > h ? h : NULL;
}

#define BRACKETS_MAX 32

/* The host of the first markdown image (or link, with exfil: links) in s to a host not
 * allowed; its length in *n, or NULL. One pass: '[' positions are kept on a small stack (per
 * line), so "](" finds the bracket it closes at once, nested brackets included; reference
 * definitions ("[r]: https://host/...") count as well, as an image can use them. */
static const char *find_exfil(const struct canary_config *c, const char *s, size_t len, size_t *n)
{
	const char *end = s + len, *open[BRACKETS_MAX];
	size_t depth = 0;
	bool line_start = true;
	/* In images-only mode a reference definition matters when an image uses a reference. */
	bool refs = c->exfil == 2 || (memmem(s, len, "![", 2) && memmem(s, len, "][", 2));
	for (const char *p = s; p < end; p++) {
		if (line_start) {
			/* a reference definition: optional spaces, "[label]:" and a URL */
			const char *q = p;
			while (q < end && *q == ' ')
				q++;
			if (refs && q < end && *q == '[') {
				const char *r = memchr(q, ']', (size_t)(end - q));
				const char *nl = memchr(q, '\n', (size_t)(end - q));
				if (r && (!nl || r < nl) && r + 1 < end && r[1] == ':') {
					const char *h = url_host(r + 2, end, n);
					if (h && !host_allowed(&c->allow_hosts, h, *n))
						return h;
				}
			}
			line_start = false;
		}
		switch (*p) {
		case '\n':
			depth = 0;
			line_start = true;
			break;
		case '[':
			if (depth ==
			    BRACKETS_MAX) { /* deeper than any real markdown: forget the oldest */
				memmove(open, open + 1, (BRACKETS_MAX - 1) * sizeof(*open));
				depth--;
			}
			open[depth++] = p;
			break;
		case ']': {
			if (depth == 0)
				break;
			const char *o = open[--depth];
			if (p + 1 >= end || p[1] != '(')
				break;
			bool image = o > s && o[-1] == '!';
			if (!image && c->exfil != 2)
				break;
			const char *h = url_host(p + 2, end, n);
			if (h && !host_allowed(&c->allow_hosts, h, *n))
				return h;
			break;
		}
		default:
			break;
		}
	}
	return NULL;
}

static int canary_scan(struct driftd_ctx *ctx, const struct driftd_value *v,
                       const struct driftd_event *e)
{
	const struct canary_config *c = ctx->config;
	struct canary_state *st = ctx->state;
	if (v->type != DRIFTD_VALUE_STRING)
		return -EDOM;
	st->events++;
	int64_t tok = -1;
	for (size_t i = 0; i < c->tokens.n; i++) {
		const char *t = c->tokens.items[i];
		size_t tl = strlen(t);
		if (tl && memmem(v->str, v->len, t, tl)) {
			tok = (int64_t)i;
			break;
		}
	}
	size_t hn = 0;
	const char *host = tok < 0 && c->exfil ? find_exfil(c, v->str, v->len, &hn) : NULL;
	if (tok < 0 && !host)
		return 0;
	st->leaks++;
	st->last_leak = (int64_t)st->events;
	st->token = tok;
	st->token_hint[0] = st->host[0] = '\0';
	if (tok >= 0) {
		/* a few leading bytes and an ellipsis: enough to tell tokens apart */
		const char *t = c->tokens.items[tok];
		size_t k = dd_sec_copy(st->token_hint, 4, t, strlen(t));
		snprintf(st->token_hint + k, sizeof(st->token_hint) - k, "...");
	} else {
		dd_sec_copy(st->host, sizeof(st->host), host, hn);
	}
	const struct driftd_str none = {0};
	const struct driftd_str *cl = e ? &e->client_id : &none, *rq = e ? &e->request_id : &none;
	dd_sec_copy(st->client, sizeof(st->client), cl->s ? cl->s : "", cl->s ? cl->len : 0);
	dd_sec_copy(st->request, sizeof(st->request), rq->s ? rq->s : "", rq->s ? rq->len : 0);
	return 0;
}

static int canary_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	return canary_scan(ctx, v, NULL);
}

static int canary_update_event(struct driftd_ctx *ctx, const struct driftd_event *e)
{
	return canary_scan(ctx, e->value, e);
}

static const char *const tags_token[] = {"leak:canary_token", NULL};
static const char *const tags_exfil[] = {"leak:exfiltration_url", NULL};

static int canary_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct canary_config *c = ctx->config;
	struct canary_state *st = ctx->state;
	bool on = st->last_leak >= 0 && (int64_t)st->events - st->last_leak <= c->hold;
	*out = (struct driftd_verdict){
	    .score = on ? 1 : 0, .threshold = 0.5, .p_value = (double)NAN, .drift = on};
	if (!on)
		return 0;
	struct driftd_evidence *ev = &st->ev;
	dd_ev_reset(ev);
	if (st->token >= 0) {
		snprintf(st->what, sizeof(st->what),
		         "canary token #%lld (%s) leaked in an output%s%s", (long long)st->token,
		         st->token_hint, st->client[0] ? " to client " : "", st->client);
		ev->critical = true;
		ev->tags = tags_token;
		dd_ev_int(ev, "canary.index", (double)st->token);
		dd_ev_str(ev, "canary.token", st->token_hint);
	} else {
		snprintf(st->what, sizeof(st->what),
		         "output carries a markdown URL to unlisted host %s%s%s", st->host,
		         st->client[0] ? " for client " : "", st->client);
		ev->tags = tags_exfil;
		dd_ev_str(ev, "exfil.host", st->host);
	}
	ev->what = st->what;
	if (st->client[0])
		dd_ev_str(ev, "client.id", st->client);
	if (st->request[0])
		dd_ev_str(ev, "request_id", st->request);
	dd_ev_int(ev, "canary.leaks", (double)st->leaks);
	out->evidence = ev;
	return 0;
}

#define CANARY_SNAPSHOT_VERSION 1

static int canary_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *b)
{
	const struct canary_state *st = ctx->state;
	driftd_buf_put_u64(b, st->events);
	driftd_buf_put_u64(b, st->leaks);
	driftd_buf_put_u64(b, (uint64_t)st->last_leak);
	driftd_buf_put_u64(b, (uint64_t)st->token);
	driftd_buf_put(b, st->token_hint, sizeof(st->token_hint));
	driftd_buf_put(b, st->host, sizeof(st->host));
	driftd_buf_put(b, st->client, sizeof(st->client));
	driftd_buf_put(b, st->request, sizeof(st->request));
	return b->err;
}

static int rd_text(struct driftd_reader *r, char *dst, size_t n)
{
	if (driftd_rd(r, dst, n) < 0 || !memchr(dst, '\0', n))
		return -EBADMSG;
	return 0;
}

static int canary_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	const struct canary_config *c = ctx->config;
	struct canary_state *st = ctx->state;
	struct driftd_reader r = {data, len};
	uint64_t last, tok;
	memset(st, 0, sizeof(*st));
	if (version != CANARY_SNAPSHOT_VERSION || driftd_rd_u64(&r, &st->events) < 0 ||
	    driftd_rd_u64(&r, &st->leaks) < 0 || driftd_rd_u64(&r, &last) < 0 ||
	    driftd_rd_u64(&r, &tok) < 0 ||
	    rd_text(&r, st->token_hint, sizeof(st->token_hint)) < 0 ||
	    rd_text(&r, st->host, sizeof(st->host)) < 0 ||
	    rd_text(&r, st->client, sizeof(st->client)) < 0 ||
	    rd_text(&r, st->request, sizeof(st->request)) < 0 || r.left ||
	    (last != UINT64_MAX && last > st->events) ||
	    (tok != UINT64_MAX && tok >= c->tokens.n) || st->leaks > st->events)
		goto bad;
	st->last_leak = (int64_t)last;
	st->token = (int64_t)tok;
	return 0;
bad:
	memset(st, 0, sizeof(*st));
	canary_init(ctx);
	return -EBADMSG;
}

static const char *const canary_tags[] = {"threat:prompt_injection", "etsi:5.4.2-2", "etsi:5.4.2-3",
                                          NULL};

const struct driftd_detector_ops driftd_detector_canary = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "canary",
    .summary = "Canary tokens and markdown exfiltration URLs in output text: a critical alert "
               "at the leaking event.",
    .kind = DRIFTD_KIND_SECURITY,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_STRING),
    .params = canary_params,
    .n_params = sizeof(canary_params) / sizeof(canary_params[0]),
    .config_size = sizeof(struct canary_config),
    .state_size = sizeof(struct canary_state),
    .snapshot_version = CANARY_SNAPSHOT_VERSION,
    .init = canary_init,
    .update = canary_update,
    .evaluate = canary_evaluate,
    .snapshot = canary_snapshot,
    .restore = canary_restore,
    .done = canary_done,
    .tags = canary_tags,
    .update_event = canary_update_event,
};
