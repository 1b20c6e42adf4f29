/* The event pipeline shared by replay, service mode and the demo: decode -> route -> monitors
 * -> alert engine -> sinks, with per-reason reject counts and an optional verdict trace. */
#ifndef DRIFTD_PIPELINE_H
#define DRIFTD_PIPELINE_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "adapt.h"
#include "config.h"
#include "decode.h"
#include "monitor.h"
#include "origin.h"

struct dd_self_alert;

struct dd_pipeline;

struct dd_pipeline_opts {
	FILE *log;   /* diagnostics (stderr); NULL = silent */
	FILE *trace; /* one JSON line per verdict; NULL = off */
	/* Also write each notification's one-line `output` to log (the demo's narration). */
	bool announce;
	/* Baseline collection: monitors with a reference only record their first reference.size
	 * usable values (dd_pipeline_collected); no detector runs, no alert is raised. */
	bool collect;
	/* Service mode: telemetry gaps are measured in arrival (wall-clock) time, and the source
	 * calls dd_pipeline_tick; otherwise in the records' event time, ticked by each record. */
	bool wall_clock;
	/* Rejects reported per reason before further ones are only counted. */
	unsigned reject_log_limit;
	/* How long dd_pipeline_flush lets network sinks deliver (driftd_sink_ctx): 0 = the
	 * sinks' default (30 s), < 0 = do not wait. */
	int64_t flush_timeout_ms;
	/* Do not open the sinks yet (a reload opens them once the old pipeline's are closed:
	 * network sinks hold their spool exclusively). */
	bool defer_sinks;
	/* Service mode: monitor state per source partition (dd_pipeline_shard_*): a record goes
	 * to its partition's shard, opened fresh when the partition has none. Otherwise one
	 * shard takes every record. */
	bool partitioned;
	/* Optional: sees every alert (drift, security and self-alerts) before the sinks do;
	 * `driftd report` collects them this way. The alert is borrowed for the call. */
	void (*on_alert)(void *arg, const json_t *alert);
	void *on_alert_arg;
};

struct dd_pipeline_stats {
	uint64_t records;  /* every record offered, rejected ones included */
	uint64_t accepted; /* decoded and routed */
	uint64_t rejects[DD_REJECT__MAX];
	uint64_t format_rejects[DD_ADAPT__MAX]; /* by the format adapters (Kafka) */
	uint64_t verdicts;
	uint64_t fired;
	uint64_t resolved;
	uint64_t suppressed;
	uint64_t firing; /* monitors whose alert is firing now (in any partition) */
	size_t shards;   /* partitions whose state this pipeline holds (1: unpartitioned) */
	uint64_t detector_errors;
	uint64_t sink_errors;
};

int dd_pipeline_new(const struct dd_config *c, const struct dd_pipeline_opts *opts,
                    struct dd_pipeline **ret);
void dd_pipeline_free(struct dd_pipeline *p);

/* Offer one record. Never fails on bad input: rejects are counted and reported. Returns a
 * negative errno only when the pipeline itself cannot go on (out of memory). */
int dd_pipeline_feed(struct dd_pipeline *p, const char *rec, size_t len,
                     const struct dd_origin *at);
/* Count a record the reader refused before decoding (e.g. a line over the size limit). */
void dd_pipeline_reject(struct dd_pipeline *p, enum dd_reject why, const struct dd_origin *at);
/* Count a record a format adapter refused (not JSON, a tombstone, a bad header, ...). */
void dd_pipeline_reject_format(struct dd_pipeline *p, enum dd_adapt_reject why,
                               const struct dd_origin *at);

int dd_pipeline_flush(struct dd_pipeline *p);
/* Alerts a sink refused that wait for a retry (every tick), plus any that could not be kept.
 * While non-zero, state snapshots (and so offset commits) must wait: after a restart the
 * records are read again and the alerts raised again. */
uint64_t dd_pipeline_undelivered(const struct dd_pipeline *p);
/* Reload: move the detector and alert state of every monitor of `old` whose definition is
 * unchanged in `p`'s configuration (same name and same detector-relevant settings) into `p`.
 * Returns how many monitors kept their state; `old` is left with fresh monitors in their place. */
size_t dd_pipeline_adopt(struct dd_pipeline *p, struct dd_pipeline *old);
/* Sinks opened late (defer_sinks) or closed early (a reload hands over the spools). */
int dd_pipeline_open_sinks(struct dd_pipeline *p);
void dd_pipeline_close_sinks(struct dd_pipeline *p);
/* Deliver one of driftd's own alerts (reload failures, ...) to the sinks. */
/* State snapshots (service mode): every monitor's detector, policy and alert state as one JSON
 * document {"format": 1, "monitors": {NAME: {"digest", "monitor", "alert"}}}; the caller adds
 * what it owns (Kafka offsets) and writes it (lib/snapfile.c). */
#define DD_STATE_FORMAT 1
int dd_pipeline_save(const struct dd_pipeline *p, json_t **out);
struct dd_load_report {
	size_t restored; /* monitors that took their saved state */
	size_t changed;  /* saved under a different definition: they start over */
	size_t fresh;    /* configured monitors that start over (changed or not in the document) */
	size_t dropped;  /* saved monitors no longer configured */
};
/* Load a document (untrusted) into a pipeline built from the configuration: monitors of the
 * same name and definition digest take their state, others start over. All or nothing: on
 * -EBADMSG (why says which monitor and what) the pipeline is unchanged. */
int dd_pipeline_load(struct dd_pipeline *p, const json_t *doc, struct dd_load_report *r, char *why,
                     size_t whysz);
void dd_pipeline_self_alert(struct dd_pipeline *p, const struct dd_self_alert *sa);
/* Time passes (service mode: call about once a second): raise telemetry-gap alerts. */
void dd_pipeline_tick(struct dd_pipeline *p, int64_t now_ms);
/* Partitioned pipelines (opts.partitioned): state per source partition, a shard each. The
 * unpartitioned forms above (dd_pipeline_save/load) work on the one shard of a pipeline that
 * is not partitioned. dd_pipeline_shard_load builds the shard from doc (NULL: fresh) and puts
 * it in place of the partition's current one, all or nothing; -EINVAL for a topic on an
 * unpartitioned pipeline or the reverse. save: -ENOENT when the partition has no shard. */
int dd_pipeline_shard_save(const struct dd_pipeline *p, const char *topic, int32_t partition,
                           json_t **out);
int dd_pipeline_shard_load(struct dd_pipeline *p, const char *topic, int32_t partition,
                           const json_t *doc, struct dd_load_report *r, char *why, size_t whysz);
/* The partition went to another owner: its state leaves (save it first). Its open alert
 * episodes leave without a resolve: the next owner carries them on. */
void dd_pipeline_shard_drop(struct dd_pipeline *p, const char *topic, int32_t partition);
/* In collect mode: the values recorded for monitor i (a JSON array, borrowed). */
const json_t *dd_pipeline_collected(const struct dd_pipeline *p, size_t i);
void dd_pipeline_stats(const struct dd_pipeline *p, struct dd_pipeline_stats *out);
/* Monitor i's counters and last verdict, for the metrics endpoint; false past the last one.
 * The strings are borrowed from the pipeline's configuration. */
struct dd_pipeline_last {
	struct driftd_verdict v;
	bool set; /* no verdict yet (reference still filling, first window open) */
};
struct dd_pipeline_monitor_stats {
	const char *name;
	const char *detector;
	/* What this pipeline counted (partitions' states that arrive or leave do not move
	 * them: they only grow, as counters must). */
	uint64_t matched, used, verdicts, drifts;
	uint64_t skipped[DD_SKIP__MAX];
	bool firing;     /* in any of them */
	size_t learning; /* partitions still learning the reference */
	struct dd_pipeline_last last;
};
bool dd_pipeline_monitor_stats(const struct dd_pipeline *p, size_t i,
                               struct dd_pipeline_monitor_stats *out);
/* The merged view of monitor i across the partitions this instance holds: every partition's
 * detector state merged (detectors with DRIFTD_CAP_MERGE, exact) and evaluated, into out;
 * parts: how many partitions it covers. -EOPNOTSUPP: the detector does not merge; -EINVAL:
 * the partitions' references differ (merging is exact only over one reference: give the
 * monitor a reference file); -EAGAIN: every partition is still learning its reference. */
int dd_pipeline_merged(const struct dd_pipeline *p, size_t i, struct driftd_verdict *out,
                       size_t *parts);
/* Open sink i (its ops, instance name and state): the metrics endpoint reads the webhook and
 * syslog sinks' own counters through it. False past the last one. */
bool dd_pipeline_sink_at(const struct dd_pipeline *p, size_t i, const struct driftd_sink_ops **ops,
                         const char **name, void **state);
/* Human summary: records, rejects by reason, per-monitor counts, alerts. */
void dd_pipeline_summary(const struct dd_pipeline *p, FILE *out);

#endif
