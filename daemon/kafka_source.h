/* The Kafka source: a librdkafka consumer in the configured group that feeds every record to
 * the pipeline, at least once (offsets are stored only after the record went through every
 * monitor), and shuts down cleanly on SIGTERM/SIGINT. */
#ifndef DRIFTD_KAFKA_SOURCE_H
#define DRIFTD_KAFKA_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "pipeline.h"

struct dd_kafka_source;

struct dd_kafka_opts {
	FILE *log;
	/* Overrides config's brokers (the demo points at its mock cluster). */
	const char *brokers;
	/* Stop by itself after this many records (0: run until signalled); the demo uses it. */
	uint64_t stop_after;
	/* File descriptor that becomes readable when the source must stop (signalfd), or -1. */
	int stop_fd;
	/* Service mode: stop_fd is a signalfd and SIGHUP reloads this configuration file. */
	const char *reload_path;
	/* Called on the consume loop's thread about once a second (the metrics endpoint takes
	 * its sample there, so a hung loop shows as a stale sample); NULL: none. */
	void (*tick)(void *arg, struct dd_kafka_source *s, struct dd_pipeline *p, int64_t now_ms);
	void *tick_arg;
	/* dd_serve: serve metrics.listen (driftd run; the demo does not). */
	bool serve_metrics;
	/* No state store (the demo: nothing to resume, nothing to keep). */
	bool stateless;
};

struct dd_kafka_stats {
	uint64_t records;
	uint64_t too_large;
	uint64_t errors;    /* consumer errors reported by librdkafka */
	uint64_t stored;    /* offsets stored for commit */
	uint64_t rewound;   /* records delivered below the state's position (offset reset) */
	uint64_t snapshots; /* state snapshots written */
	uint64_t snapshot_failures; /* ... that failed */
	uint64_t held_back;         /* ... that waited for alerts a sink refused */
	uint64_t generation;        /* the last one written */
	int64_t snapshot_fail_since_ms;
	int assigned;      /* partitions currently assigned */
	uint64_t pending;  /* request/response halves waiting for their other half */
	uint64_t unpaired; /* halves that never paired (expired or evicted) */
};

int dd_kafka_source_new(const struct dd_config *c, const struct dd_kafka_opts *o,
                        struct dd_kafka_source **ret, char *err, size_t errsz);
/* Consume until stopped: returns 1 when stop_fd became readable (the caller reads it: a
 * signal, a timer), 0 when stop_after was reached, or a negative errno. May be called again. */
int dd_kafka_source_run(struct dd_kafka_source *s, struct dd_pipeline *p);
/* After a reload: the source reads its limits from the new configuration (the Kafka settings
 * themselves take effect at the next start). */
void dd_kafka_source_set_config(struct dd_kafka_source *s, const struct dd_config *c);
/* Service mode: snapshots go to st, and partitions resume at `restored` (taken over) or at
 * the group's committed offset when that is further. */
struct dd_state_store;
struct dd_positions;
/* fell_back: the state came from an older generation than the newest (which failed): its
 * offsets then win over the group's commits, which a lost snapshot had covered. */
void dd_kafka_source_set_state(struct dd_kafka_source *s, struct dd_state_store *st,
                               struct dd_positions *restored, bool fell_back);
/* Write a snapshot of p with the positions now (a no-op when nothing changed, unless
 * commit_sync), then store its offsets for commit; commit_sync commits them at once (revoke,
 * shutdown). Without a state store: commit_sync commits what was stored. */
int dd_kafka_source_snapshot(struct dd_kafka_source *s, struct dd_pipeline *p, bool commit_sync);
int64_t dd_kafka_now_ms(void);
/* Commit what was stored and leave the group; idempotent. */
int dd_kafka_source_close(struct dd_kafka_source *s);
void dd_kafka_source_free(struct dd_kafka_source *s);
void dd_kafka_source_stats(const struct dd_kafka_source *s, struct dd_kafka_stats *out);
/* Consumer lag summed over the assigned partitions, from librdkafka's cached high watermarks
 * (no broker round trip); -1 when unknown (nothing assigned yet). */
int64_t dd_kafka_source_lag(struct dd_kafka_source *s);

/* One consumed record through the format adapter into the pipeline (shared by run and
 * replay --kafka-topic). Returns a negative errno only when the pipeline cannot go on. */
struct rd_kafka_message_s;
struct dd_adapter;
/* src: 1 + the index of the record's partition in the state's positions (0: none), so held
 * request halves can be found again (dd_adapter_held). hold_only: the record is below the
 * state's position and read again only so that the adapter holds its half again. */
int dd_kafka_feed(struct dd_adapter *a, struct dd_pipeline *p, const struct rd_kafka_message_s *m,
                  const struct dd_origin *at, size_t max_record, uint32_t src, bool hold_only);

#endif
