/* Where a record came from: an input file line in replay, a Kafka position in service mode.
 * Carried into reject reports, traces and alerts. */
#ifndef DRIFTD_ORIGIN_H
#define DRIFTD_ORIGIN_H

#include <stdbool.h>
#include <stdint.h>

struct dd_origin {
	bool kafka;
	/* replay */
	const char *input; /* file name, "-" for stdin */
	uint64_t line;     /* 1-based line in that input */
	uint64_t index;    /* 0-based record index across all inputs (the contract's event.index) */
	/* service mode */
	const char *topic;
	int32_t partition;
	int64_t offset;
};

#endif
