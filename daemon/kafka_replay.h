/* Backtesting from Kafka: `driftd replay --kafka-topic T [--from B] [--to B]`. */
#ifndef DRIFTD_KAFKA_REPLAY_H
#define DRIFTD_KAFKA_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "pipeline.h"

/* Where a replay starts or ends in every partition: an offset or a time. */
struct dd_kafka_bound {
	bool set;
	bool is_time;
	int64_t offset;
	int64_t time_ms;
};

/* "1234" is an offset, "2026-11-27T12:00:00Z" a time. -EINVAL otherwise. */
int dd_kafka_bound_parse(const char *s, struct dd_kafka_bound *out);

struct dd_kafka_replay_opts {
	const char *topic;
	const char *brokers; /* NULL: source.kafka.brokers */
	struct dd_kafka_bound from, to;
};

/* Read the range of every partition into the pipeline. 0 or a negative errno. */
int dd_kafka_replay(const struct dd_config *c, const struct dd_kafka_replay_opts *o,
                    struct dd_pipeline *p, FILE *log);

#endif
