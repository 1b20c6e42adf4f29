/* JSONL input for replay and baseline: lines split from large reads, over-long lines skipped
 * to their newline without being held in memory, every line a record. */
#ifndef DRIFTD_READER_H
#define DRIFTD_READER_H

#include <stddef.h>
#include <stdint.h>

#include "adapt.h"
#include "pipeline.h"

struct dd_reader {
	char *buf;
	size_t cap;
	size_t max_record;
	uint64_t index; /* next record's event.index, continued across inputs */
	/* Optional (replay --format): each line goes through this adapter first (a line is a
	 * record value without headers or Kafka time); NULL: native. */
	struct dd_adapter *adapter;
};

int dd_reader_init(struct dd_reader *r, size_t max_record);
void dd_reader_done(struct dd_reader *r);
/* Feed every line of fd to the pipeline (over-long ones as too_large rejects). Returns 0 or a
 * negative errno for a read error or a pipeline that cannot go on. */
int dd_reader_feed_fd(struct dd_reader *r, int fd, const char *name, struct dd_pipeline *p);

#endif
