/* The second state tier: the latest state of every source partition on a compacted Kafka topic
 * (state.kafka_topic), so that another driftd taking over a partition after a rebalance or a
 * crash restores it from there (the Kafka Streams changelog model). The local snapshot stays the
 * source of truth for the instance that wrote it; this topic carries state between hosts.
 *
 * One record per put, key "<group>/<source topic>/<partition>" (partition in decimal; a topic
 * name cannot hold '/', so the key is unambiguous read from the right), value the state
 * document of that partition (JSON object). Compaction keeps the latest record of each key. */
#ifndef DRIFTD_STATE_TOPIC_H
#define DRIFTD_STATE_TOPIC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* The largest value put or accepted from the topic. */
#define DD_STATE_TOPIC_MAX_VALUE (64u << 20)
/* The topic's max.message.bytes and the producer's message.max.bytes: the value plus room for
 * the key and the record batch framing, so that a value of exactly DD_STATE_TOPIC_MAX_VALUE
 * bytes that does not compress still fits in one batch. */
#define DD_STATE_TOPIC_MAX_BATCH (DD_STATE_TOPIC_MAX_VALUE + (64u << 10))
/* Bound on dd_state_topic_open's broker round trips (creation, metadata, config check). */
#define DD_STATE_TOPIC_OPEN_TIMEOUT_MS 15000

struct dd_state_topic;

/* A source partition. */
struct dd_tp {
	const char *topic;
	int32_t partition;
};

/* Connect to `brokers` (bootstrap.servers) and make sure `topic` exists: created when missing
 * with 1 partition, cleanup.policy=compact, max.message.bytes=DD_STATE_TOPIC_MAX_BATCH and the
 * broker's default replication factor. An existing topic is used as it is (a line on `log` when
 * its cleanup.policy is not compact). A broker that refuses the creation is an error (its
 * message in err) only when the topic then does not exist. `group` is the consumer group whose
 * keys are written and read. `props` (may be NULL): source.kafka.properties, a JSON object of
 * strings, applied to both the producer and the restore consumer so security settings carry
 * over; the settings this module depends on are applied after them and win. Bounded by
 * DD_STATE_TOPIC_OPEN_TIMEOUT_MS. -EINVAL (bad property), -EIO / -ETIMEDOUT (broker). */
int dd_state_topic_open(const char *brokers, const char *topic, const char *group,
                        const json_t *props, FILE *log, struct dd_state_topic **ret, char *err,
                        size_t errsz);

/* Queue the latest state of one source partition (bytes copied; val NULL with len 0 is a
 * tombstone). -EMSGSIZE over DD_STATE_TOPIC_MAX_VALUE, -ENOBUFS when the producer's queue is
 * full (flush first), -EIO after a fatal producer error. */
int dd_state_topic_put(struct dd_state_topic *t, const char *src_topic, int32_t partition,
                       const void *val, size_t len);

/* Wait until everything put so far is acknowledged by all in-sync replicas: 0, or -EIO (a
 * delivery failed) / -ETIMEDOUT (records still unacknowledged, they stay queued) with the first
 * delivery error since the previous flush, or the last broker error, in why. Never blocks much
 * longer than timeout_ms. */
int dd_state_topic_flush(struct dd_state_topic *t, int timeout_ms, char *why, size_t whysz);

/* Read the topic from the beginning to its end as of the start of the call (the high watermarks
 * then) and set out[i] to the value of the latest record keyed want[i] in this group, parsed:
 * a JSON object (new reference), or NULL when there is none or the latest is a tombstone.
 * Values are untrusted: one over DD_STATE_TOPIC_MAX_VALUE, not JSON or not an object gives NULL
 * and counts in *bad (bad may be NULL), and a line on the log. Uses its own consumer (never a
 * caller's: it runs inside the source's rebalance callback), assigned, never subscribed, and
 * commits nothing. Bounded by timeout_ms: -ETIMEDOUT with why; -ENOENT when the topic is gone;
 * -EIO on other errors. On error every out[i] is NULL. */
int dd_state_topic_fetch(struct dd_state_topic *t, const struct dd_tp *want, size_t n, json_t **out,
                         unsigned *bad, int timeout_ms, char *why, size_t whysz);

/* Flush for up to a few seconds, then free (what is still unacknowledged is dropped). NULL ok. */
void dd_state_topic_close(struct dd_state_topic *t);

#endif
