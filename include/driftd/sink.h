/* driftd alert sink interface. A sink turns an alert (the JSON object of the alert contract)
 * into bytes with `format` and hands bytes on with `deliver`; the two are separate so formats
 * are tested offline. The host owns the `state_size` bytes of state, as for detectors. */
#ifndef DRIFTD_SINK_H
#define DRIFTD_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include <driftd/detector.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DRIFTD_SINK_ABI 1

struct driftd_sink_ctx {
	const char *spool_dir; /* alerts.spool_dir: where network sinks keep undelivered alerts */
	const char *hostname;
	const char *name; /* the sink's instance name, unique in the configuration */
	/* How long flush may wait for deliveries: 0 = the sink's default (30 s for network
	 * sinks), < 0 = do not wait (`replay --flush-timeout 0`). */
	int64_t flush_timeout_ms;
	/* Where a sink reports what it does on its own (delivery threads): retries, dead
	 * letters, recovered spools. NULL: quiet. */
	FILE *log;
};

/* What a sink that queues (network sinks) reports about its queue: for the spool-overflow
 * self-alert, metrics, STATUS= and health. Read from the pipeline thread while the sink's own
 * delivery thread runs. */
struct driftd_sink_status {
	uint64_t delivered;     /* messages the receiver took */
	uint64_t dead;          /* moved to dead letters */
	uint64_t retries;       /* failed attempts rescheduled */
	uint64_t overflow;      /* messages queued while the queue was over a bound */
	uint64_t write_errors;  /* messages deliver() could not queue (it returned the error) */
	uint64_t pending;       /* waiting now */
	uint64_t pending_bytes; /* ... their size */
	unsigned failing;       /* failed attempts in a row now (0: healthy) */
	bool over_bounds;       /* the queue is beyond a bound now */
	bool breaker_open;
	char last_error[256]; /* the last failure, "" when none */
};

struct driftd_sink_ops {
	uint32_t abi_version;
	uint32_t struct_size;
	const char *name;
	size_t state_size;
	/* Validate the sink's mapping from the configuration (also for `driftd check`): on a
	 * problem return -EINVAL with *key set to the offending key (NULL: the whole mapping) and
	 * a message in why. Unknown keys must be refused. */
	int (*check)(const json_t *conf, const char **key, char *why, size_t whysz);
	/* `conf` is the sink's mapping, already checked. `ctx` carries what the host offers every
	 * sink (spool directory, hostname); may be NULL in tests. */
	int (*open)(void *state, const json_t *conf, const struct driftd_sink_ctx *ctx);
	/* Alert -> bytes appended to out. Pure: no I/O. */
	int (*format)(const void *state, const json_t *alert, struct driftd_buf *out);
	/* Hand the bytes on. Returns 0, or a negative errno (-EAGAIN: retry later). */
	int (*deliver)(void *state, const uint8_t *data, size_t len);
	/* Wait (at most ctx->flush_timeout_ms) until what deliver accepted is handed on. */
	int (*flush)(void *state);
	/* Idempotent and safe on half-opened state. */
	void (*close)(void *state);
	/* Optional (NULL: the sink does not queue). Fills out; -EBADF when not open. */
	int (*status)(void *state, struct driftd_sink_status *out);
};

#ifdef __cplusplus
}
#endif
#endif
