/* Service-mode state: the pipeline's monitor and alert state together with the Kafka position
 * it covers (the next offset of every partition it has read), as one snapshot generation under
 * <state.dir>/state/<group>/ (lib/snapfile.c). The snapshot is the source of truth: offsets are
 * committed to Kafka only once a snapshot that covers them is durable, and a restart restores
 * the snapshot and resumes every partition at its offset, so nothing is counted twice and no
 * learnt reference or cumulative sum is lost. */
#ifndef DRIFTD_STATE_STORE_H
#define DRIFTD_STATE_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pipeline.h"

#define DD_STATE_KEEP      3          /* generations kept: `state restore --generation N` */
#define DD_STATE_MAX_BYTES (1u << 30) /* a larger snapshot is not read (hostile or corrupt) */
#define DD_STATE_TOPIC_MAX 249        /* Kafka's limit on topic names */
#define DD_STATE_HELD_MAX  (1u << 22) /* held halves per partition (the adapter's cap) */

/* One source partition the state knows: where it resumes and, while this instance does not
 * hold it (not assigned, or not yet), its saved state. */
struct dd_partition_pos {
	char topic[DD_STATE_TOPIC_MAX + 1];
	int32_t partition;
	int64_t next; /* the next offset to read (-1: unknown) */
	/* Request halves held for their response (kserve-v2, cloudevents) from below next: their
	 * offsets (ascending, owned), read again into the format adapter only after a restart or
	 * a move; resume is the first (-1: none). */
	int64_t *held;
	size_t n_held;
	int64_t resume;
	int64_t max_ts; /* newest Kafka timestamp read (the clock its held halves expire by) */
	bool replaying; /* reading [resume, next) again into the adapter only */
	bool restored;  /* live from a snapshot read at start: nothing of it in the adapter yet */
	bool live;      /* its shard is in the pipeline (the pipeline holds the state) */
	json_t *state;  /* otherwise its saved shard document, or NULL: none */
	int64_t published; /* `next` of its last record in the state topic (-1: none) */
	bool owned;        /* in the consumer's current assignment */
	bool restoring;    /* paused: waits for the state topic before its first record */
	int64_t pending;   /* `next` of its record put to the state topic, not yet acknowledged */
};

/* The partitions the state covers (a small table: one entry per partition ever held), and the
 * seed: a state for partitions that have none of their own (`replay --save-state`, or a
 * document of format 1, from before state was per partition). */
struct dd_positions {
	struct dd_partition_pos *p;
	size_t n, cap;
	json_t *seed;
};
struct dd_partition_pos *dd_positions_find(struct dd_positions *ps, const char *topic,
                                           int32_t partition);
/* Replace e's held offsets by a copy of v (sorted here); resume follows. -ENOMEM. */
int dd_partition_set_held(struct dd_partition_pos *e, const int64_t *v, size_t n);
/* Find or add (next = -1: unknown). NULL without memory. */
struct dd_partition_pos *dd_positions_get(struct dd_positions *ps, const char *topic,
                                          int32_t partition);
void dd_positions_free(struct dd_positions *ps);

struct dd_state_store;

/* Open <state_dir>/state/<group> (created 0700) and lock it: -EBUSY when another driftd uses it. */
int dd_state_open(const char *state_dir, const char *group, FILE *log, struct dd_state_store **ret);
void dd_state_close(struct dd_state_store *s);
const char *dd_state_dir(const struct dd_state_store *s);

struct dd_restore_report {
	bool found;                 /* a generation was restored */
	uint64_t generation;        /* which */
	unsigned skipped;           /* newer generations that did not verify (or load) */
	char why[1024];             /* why they were skipped */
	struct dd_load_report load; /* summed over the partitions (and the seed) */
	size_t partitions;          /* partitions whose state was restored */
	bool seed;                  /* the document has a seed */
};
/* Restore the newest generation that verifies and loads into p (partitioned: each partition's
 * state becomes its shard, monitors of the same name and definition take their state) and
 * fill pos. Nothing found is not an error (r->found false). A generation that fails is skipped
 * for the one before (r->skipped, r->why: the caller raises a self-alert). -EBADMSG only when
 * generations exist and none is usable. */
int dd_state_restore(struct dd_state_store *s, struct dd_pipeline *p, struct dd_positions *pos,
                     struct dd_restore_report *r);
/* Write the state of every partition (live ones from the pipeline, the others as kept) and
 * the seed as a new generation, durably. */
int dd_state_save(struct dd_state_store *s, const struct dd_pipeline *p,
                  const struct dd_positions *pos, uint64_t *generation);

/* The state document (format 2): {"format": 2, "saved_ms", "partitions": [PARTITION...],
 * "seed"?}, PARTITION = dd_state_partition(). An unpartitioned pipeline (replay) is saved as
 * the seed. Also `driftd state export`. */
#define DD_STATE_DOC_FORMAT 2
json_t *dd_state_document(const struct dd_pipeline *p, const struct dd_positions *pos);
/* One partition's entry {"topic", "partition", "next", "state"}: also the value of its record
 * in the state topic. The live state is taken from p; NULL without memory. */
json_t *dd_state_partition(const struct dd_pipeline *p, const struct dd_partition_pos *e);
/* Parse one partition entry (untrusted): fills *e (state: a new reference), -EBADMSG. */
int dd_state_partition_parse(const json_t *j, struct dd_partition_pos *e, char *why, size_t whysz);
/* Parse a document of format 2 or 1 (untrusted) into pos: entries with their saved state
 * (not live) and the seed. */
int dd_state_parse(const json_t *doc, struct dd_positions *pos, char *why, size_t whysz);
/* Load the parsed state into a partitioned pipeline: each entry's state becomes its shard
 * (live); the seed is loaded once to check it. All or nothing: on failure no shard of pos is
 * left in p. */
int dd_state_load(struct dd_pipeline *p, struct dd_positions *pos, struct dd_restore_report *r,
                  char *why, size_t whysz);
/* Put a partition's shard in place from doc (the state topic's), or else from its own saved
 * state, the seed, or fresh. A doc that does not load changes nothing (-EBADMSG, why); its own
 * state or the seed that does not load is replaced by a fresh state (-EBADMSG, why: the
 * caller reports; the partition is live). */
int dd_state_take(struct dd_pipeline *p, struct dd_positions *pos, struct dd_partition_pos *e,
                  const json_t *doc, struct dd_load_report *r, char *why, size_t whysz);
/* The partition leaves the pipeline: its state is kept in e (not live). */
int dd_state_release(struct dd_pipeline *p, struct dd_partition_pos *e);

#endif
