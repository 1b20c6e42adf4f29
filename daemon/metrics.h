/* The metrics endpoint (metrics.listen): Prometheus text exposition on GET /metrics and a
 * health verdict on GET /healthz, served by a thread of its own from the last sample the
 * consume loop published. The loop never waits for a scrape: publishing skips a turn when the
 * server is copying the sample. The metric names are listed in docs/operations.md. */
#ifndef DRIFTD_METRICS_H
#define DRIFTD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kafka_source.h"
#include "pipeline.h"

#define DD_METRICS_NAME_MAX 128

struct dd_metrics_monitor {
	char name[DD_METRICS_NAME_MAX];
	char detector[32];
	uint64_t matched, used, verdicts, drifts;
	bool firing;
	bool has_verdict; /* score, threshold, p_value and drift are the last verdict's */
	bool drift;
	double score, threshold, p_value;
	/* The merged view across the partitions held (mergeable detectors, one reference). */
	bool has_merged;
	bool merged_drift;
	double merged_score, merged_p_value;
	uint32_t merged_partitions;
};

/* Sinks that queue and report it through driftd_sink_ops.status (webhook, syslog). */
struct dd_metrics_sink {
	char name[64];
	char type[16];
	uint64_t delivered; /* accepted by the receiver (webhook 2xx, syslog sent) */
	uint64_t failed;    /* attempts that failed and will be retried */
	uint64_t dropped;   /* given up: dead letters */
	uint64_t queued;    /* waiting now, in the sink's spool */
	uint64_t queued_bytes;
	bool spool; /* queued is a durable spool */
	bool breaker_open;
};

struct dd_metrics_sample {
	int64_t mono_ms;  /* when taken (CLOCK_MONOTONIC): a stale sample is a stuck loop */
	int64_t start_ms; /* process start, wall clock */
	struct dd_pipeline_stats pipe;
	struct dd_kafka_stats kafka;
	int64_t lag; /* -1: unknown */
	uint64_t reloads, reload_failures;
	size_t n_monitors, cap_monitors;
	struct dd_metrics_monitor *monitors;
	size_t n_sinks, cap_sinks;
	struct dd_metrics_sink *sinks;
};

/* Fill s from the pipeline and the source (on the loop's thread). The arrays grow as needed and
 * are kept for the next call. */
int dd_metrics_collect(struct dd_metrics_sample *s, const struct dd_pipeline *p,
                       struct dd_kafka_source *src);
/* A reload starts a new pipeline and new sinks, whose counters start at zero; Prometheus
 * counters must not go back. The service keeps a base: dd_metrics_carry adds the replaced
 * pipeline's counters (a raw sample taken just before the swap) to it, dd_metrics_rebase adds it
 * to every new sample. Gauges (firing, queues, spool) are not carried. Sinks match by name. */
int dd_metrics_carry(struct dd_metrics_sample *base, const struct dd_metrics_sample *old);
void dd_metrics_rebase(struct dd_metrics_sample *s, const struct dd_metrics_sample *base);
/* Copy src into dst (dst's arrays grow as needed). */
int dd_metrics_sample_copy(struct dd_metrics_sample *dst, const struct dd_metrics_sample *src);
void dd_metrics_sample_free(struct dd_metrics_sample *s);

struct dd_metrics_health {
	int64_t error_window_ms;
	uint64_t max_kafka_errors, max_sink_errors;
	int64_t stall_ms; /* a sample older than this: the loop is stuck */
};
/* Errors the health verdict counts: sinks' delivery failures and refusals, and the pipeline's. */
uint64_t dd_metrics_sink_errors(const struct dd_metrics_sample *s);

/* The exposition (text format 0.0.4) of s. healthy is the /healthz verdict at the same moment.
 */
void dd_metrics_render(const struct dd_metrics_sample *s, bool healthy, const char *version,
                       FILE *out);

struct dd_metrics;
/* Listen on addr (metrics.listen) and start the server thread. */
int dd_metrics_start(const char *addr, const struct dd_metrics_health *h, FILE *log,
                     struct dd_metrics **ret);
/* Hand the server a new sample; returns without waiting when the server is busy with one. */
void dd_metrics_publish(struct dd_metrics *m, const struct dd_metrics_sample *s);
/* Stop the thread and close the socket; NULL is fine. */
void dd_metrics_stop(struct dd_metrics *m);

#endif
