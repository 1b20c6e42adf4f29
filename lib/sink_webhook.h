/* The webhook sink's pieces that tests (and later the metrics endpoint) reach directly. The
 * sink itself is dd_sink_webhook (sinks.h); docs/alerts.md describes its behaviour. */
#ifndef DRIFTD_SINK_WEBHOOK_H
#define DRIFTD_SINK_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <driftd/detector.h>

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

/* Full jitter: u01 (in [0, 1)) times min(cap, initial * 2^(failures - 1)). */
int64_t dd_webhook_backoff_ms(uint32_t failures, int64_t initial_ms, int64_t cap_ms, double u01);

struct dd_webhook_stats {
	uint64_t spooled;      /* alerts written to the spool by deliver() */
	uint64_t recovered;    /* found in the spool at open */
	uint64_t duplicates;   /* deliver() of an id already pending: not spooled twice */
	uint64_t attempts;     /* HTTP requests made */
	uint64_t delivered;    /* 2xx */
	uint64_t retries;      /* attempts that failed and were rescheduled */
	uint64_t dead;         /* moved to dead/ (refused, or beyond the retry horizon) */
	uint64_t corrupt;      /* spool files that failed verification (moved to dead/) */
	uint64_t overflow;     /* alerts spooled while the spool was over a bound */
	uint64_t write_errors; /* deliver() could not spool the alert (returned the error) */
	uint64_t enospc;       /* ... of which for a full disk */
	uint64_t breaker_trips;
	uint64_t pending;       /* in the spool now */
	uint64_t pending_bytes; /* their size on disk */
	bool breaker_open;
	bool disabled; /* the endpoint answered 410 */
};
/* A snapshot of an open webhook sink's counters (state as the host holds it). */
void dd_webhook_stats(void *state, struct dd_webhook_stats *out);

#endif
