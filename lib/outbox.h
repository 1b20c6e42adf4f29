/* A durable outbox for a network sink: every message is written to a spool (lib/spool.c) before
 * the first attempt, and one delivery thread per outbox sends spooled messages through the
 * sink's transport, retrying with full-jitter exponential backoff (or the receiver's
 * Retry-After), tripping a circuit breaker after consecutive failures, and moving messages
 * that can never go (refused, corrupt, beyond the retry horizon) to dead/. Messages found in
 * the spool at open (an earlier run's) are sent first.
 *
 * The pipeline thread only ever writes the spool (dd_outbox_put); it never waits on the
 * network. The webhook and syslog sinks share this one piece; each brings a transport that
 * sends one message and says what the outcome means. */
#ifndef DRIFTD_OUTBOX_H
#define DRIFTD_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <driftd/detector.h>
#include <driftd/sink.h>

struct dd_outbox;

enum dd_outbox_verdict {
	DD_OUTBOX_DELIVERED, /* remove from the spool */
	DD_OUTBOX_RETRY,     /* try again later (backoff, breaker) */
	DD_OUTBOX_DEAD,      /* can never go: dead letter */
	DD_OUTBOX_GONE,      /* dead letter, and stop sending until the next start (HTTP 410) */
	DD_OUTBOX_ABORTED,   /* interrupted by close: the message stays in the spool, untouched */
};

struct dd_outbox_attempt {
	enum dd_outbox_verdict verdict;
	int64_t retry_after_s; /* > 0: the receiver asked everyone to wait this long */
	char what[512];        /* the outcome in words, for logs and dead-letter reasons */
};

/* The sink's side. send runs on the delivery thread only, one message at a time; interrupt
 * (optional) is called from the closing thread and must make a send in progress return soon
 * with DD_OUTBOX_ABORTED. */
struct dd_outbox_transport {
	void *state;
	void (*send)(void *state, const char *key, const struct driftd_buf *payload,
	             struct dd_outbox_attempt *out);
	void (*interrupt)(void *state);
};

struct dd_outbox_settings {
	uint32_t max_attempts; /* 0: no limit (the horizon still applies) */
	int64_t retry_horizon_ms;
	int64_t retry_initial_ms;
	int64_t retry_max_delay_ms;
	uint64_t max_files; /* bounds: beyond them messages are still spooled, and counted */
	uint64_t max_bytes;
	int64_t flush_ms; /* how long flush waits; < 0: not at all */
	/* Strict order (syslog): only the oldest message is ever attempted. Otherwise
	 * (webhook) the oldest message that is due goes first. */
	bool in_order;
};

struct dd_outbox_stats {
	uint64_t spooled;      /* messages written by put */
	uint64_t recovered;    /* found in the spool at open */
	uint64_t duplicates;   /* put of a key already pending: not spooled twice */
	uint64_t attempts;     /* sends made */
	uint64_t delivered;    /* sends that succeeded */
	uint64_t retries;      /* sends that failed and were rescheduled */
	uint64_t dead;         /* moved to dead/ */
	uint64_t corrupt;      /* spool files that failed verification (moved to dead/) */
	uint64_t overflow;     /* messages spooled while the spool was over a bound */
	uint64_t write_errors; /* put could not spool the message (returned the error) */
	uint64_t enospc;       /* ... of which for a full disk */
	uint64_t breaker_trips;
	uint64_t pending;       /* in the spool now */
	uint64_t pending_bytes; /* their size on disk */
	unsigned failing;       /* failed attempts in a row now (0: healthy) */
	bool over_bounds;       /* pending is beyond max_files or max_bytes now */
	bool breaker_open;
	bool disabled; /* DD_OUTBOX_GONE was seen */
	char last_error[512];
};

/* Full jitter: u01 (in [0, 1)) times min(cap, initial * 2^(failures - 1)). */
int64_t dd_outbox_backoff_ms(uint32_t failures, int64_t initial_ms, int64_t cap_ms, double u01);

/* Open the spool in dir (lib/spool.c: -EBUSY when another process holds it), queue what an
 * earlier run left there and start the delivery thread. label names the outbox in log lines
 * ("alerts sink (https://host)"); log may be NULL. The transport must be ready to send. */
int dd_outbox_open(const char *dir, const char *label, FILE *log,
                   const struct dd_outbox_settings *set, const struct dd_outbox_transport *tr,
                   struct dd_outbox **ret);
/* Spool one message under key (dd_spool_key_ok) durably and wake the thread. A key already
 * pending is not spooled again (counted). Returns 0 once the message is on disk. */
int dd_outbox_put(struct dd_outbox *o, const char *key, const void *data, size_t len);
/* Wait (at most the settings' flush_ms) until nothing is pending; logs a summary. Returns the
 * number of messages still pending (they stay in the spool for the next start). */
size_t dd_outbox_flush(struct dd_outbox *o);
/* Stop the thread (interrupting a send in progress) and free; messages stay spooled. */
void dd_outbox_close(struct dd_outbox *o);
void dd_outbox_stats(struct dd_outbox *o, struct dd_outbox_stats *out);
/* The same, as a sink reports it (driftd_sink_ops.status). */
void dd_outbox_status(struct dd_outbox *o, struct driftd_sink_status *out);
const char *dd_outbox_dir(const struct dd_outbox *o);

#endif
