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

struct dd_partition_pos {
	char topic[DD_STATE_TOPIC_MAX + 1];
	int32_t partition;
	int64_t next; /* the next offset to read */
};

/* The positions the state covers; a small table (one entry per partition ever assigned). */
struct dd_positions {
	struct dd_partition_pos *p;
	size_t n, cap;
};
struct dd_partition_pos *dd_positions_find(struct dd_positions *ps, const char *topic,
                                           int32_t partition);
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
	bool found;          /* a generation was restored */
	uint64_t generation; /* which */
	unsigned skipped;    /* newer generations that did not verify (or load) */
	char why[1024];      /* why they were skipped */
	struct dd_load_report load;
};
/* Restore the newest generation that verifies and loads into p (monitors of the same name and
 * definition take their state) and whose positions fill pos. Nothing found is not an error
 * (r->found false). A generation that fails is skipped for the one before (r->skipped, r->why:
 * the caller raises a self-alert). -EBADMSG only when generations exist and none is usable. */
int dd_state_restore(struct dd_state_store *s, struct dd_pipeline *p, struct dd_positions *pos,
                     struct dd_restore_report *r);
/* Write the pipeline's state and the positions as a new generation, durably. */
int dd_state_save(struct dd_state_store *s, const struct dd_pipeline *p,
                  const struct dd_positions *pos, uint64_t *generation);

/* The state document of a pipeline and positions (also `driftd state export`). */
json_t *dd_state_document(const struct dd_pipeline *p, const struct dd_positions *pos);
/* The positions of a document (validated). */
int dd_state_positions(const json_t *doc, struct dd_positions *pos, char *why, size_t whysz);

#endif
