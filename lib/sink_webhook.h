/* The webhook sink's pieces that tests (and later the metrics endpoint) reach directly. The
 * sink itself is dd_sink_webhook (sinks.h); docs/alerts.md describes its behaviour. */
#ifndef DRIFTD_SINK_WEBHOOK_H
#define DRIFTD_SINK_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <driftd/detector.h>

#include "outbox.h"

/* Standard Webhooks secrets: `whsec_<base64 of 24..64 bytes>`; a file may hold several,
 * separated by white space (key rotation: every request is signed with each). */
#define DD_WEBHOOK_MAX_KEYS 4
#define DD_WEBHOOK_SIG_LEN  48 /* "v1," + 44 base64 characters + NUL */

struct dd_webhook_key {
	unsigned char k[64];
	size_t len;
};

int dd_webhook_parse_secrets(const char *text, size_t len, struct dd_webhook_key *keys, size_t *n,
                             char *why, size_t whysz);
/* "v1,<base64 HMAC-SHA256(key, "{id}.{ts}.{body}")>" */
void dd_webhook_sign(const struct dd_webhook_key *key, const char *id, int64_t ts, const void *body,
                     size_t len, char out[DD_WEBHOOK_SIG_LEN]);

/* The request for one alert in a format (native | alertmanager | slack | pagerduty), framed as
 * the sink's `format` returns it: the webhook-id, a newline, then the body. routing_key is
 * used by pagerduty only. */
int dd_webhook_render(const char *format, const char *routing_key, const json_t *alert,
                      struct driftd_buf *out);

/* What one attempt's outcome means: curl_code is a CURLcode (0 = a response arrived),
 * http_status the response's status. */
enum dd_webhook_outcome {
	DD_WEBHOOK_DELIVERED, /* 2xx: remove from the spool */
	DD_WEBHOOK_RETRY,     /* no response, 408, 429, 5xx: try again later */
	DD_WEBHOOK_DEAD,      /* other statuses: dead letter */
	DD_WEBHOOK_GONE,      /* 410: dead letter, and stop sending to this endpoint */
};
enum dd_webhook_outcome dd_webhook_classify(int curl_code, long http_status);

/* A snapshot of an open webhook sink's delivery counters (state as the host holds it). */
void dd_webhook_stats(void *state, struct dd_outbox_stats *out);

#endif
