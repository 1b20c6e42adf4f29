/* `driftd replay --kafka-topic T`: backtesting from Kafka. Every partition of T is read from a
 * start (an offset, a time, or the beginning) to an end fixed when the replay starts (an
 * offset, a time, or the high watermark), with manual assignment: no consumer group, nothing
 * committed, the topic's consumers undisturbed. Records are offered to the pipeline in the
 * order librdkafka delivers them; within a partition that is offset order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "adapt.h"
#include "cli.h"
#include "decode.h"
#include "kafka_replay.h"
#include "kafka_source.h"

/* A bound: a plain integer is an offset, anything else an RFC 3339 time. */
int dd_kafka_bound_parse(const char *s, struct dd_kafka_bound *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*s && *end == '\0' && v >= 0) {
		*out = (struct dd_kafka_bound){.set = true, .offset = v};
		return 0;
	}
	int64_t ms;
	if (dd_parse_rfc3339(s, strlen(s), &ms) < 0)
		return -EINVAL;
	*out = (struct dd_kafka_bound){.set = true, .is_time = true, .time_ms = ms};
	return 0;
}

/* Resolve a bound to an offset per partition (times through the broker's time index). */
static int resolve(rd_kafka_t *rk, const char *topic, rd_kafka_topic_partition_list_t *parts,
                   const struct dd_kafka_bound *b, bool is_end, char *err, size_t errsz)
{
	for (int i = 0; i < parts->cnt; i++) {
		int64_t lo, hi;
		rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
		    rk, topic, parts->elems[i].partition, &lo, &hi, 10000);
		if (e) {
			snprintf(err, errsz, "watermarks of %s[%d]: %s", topic,
			         parts->elems[i].partition, rd_kafka_err2str(e));
			return -EIO;
		}
		int64_t o = is_end ? hi : lo;
		if (b->set && !b->is_time)
			o = b->offset < lo ? lo : b->offset > hi ? hi : b->offset;
		parts->elems[i].offset = b->set && b->is_time ? b->time_ms : o;
	}
	if (b->set && b->is_time) {
		rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, parts, 10000);
		if (e) {
			snprintf(err, errsz, "offsets for time in %s: %s", topic,
			         rd_kafka_err2str(e));
			return -EIO;
		}
		/* No record at or after the time: the partition's end. */
		for (int i = 0; i < parts->cnt; i++)
			if (parts->elems[i].offset < 0) {
				int64_t lo, hi;
				rd_kafka_query_watermark_offsets(
				    rk, topic, parts->elems[i].partition, &lo, &hi, 10000);
				parts->elems[i].offset = hi;
			}
	}
	return 0;
}

int dd_kafka_replay(const struct dd_config *c, const struct dd_kafka_replay_opts *o,
                    struct dd_pipeline *p, FILE *log)
{
	char err[512];
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	const char *brokers = o->brokers ? o->brokers : c->has_kafka ? c->kafka.brokers : NULL;
	if (!brokers) {
		fprintf(log,
		        "driftd replay: --kafka-topic needs --brokers or source.kafka.brokers\n");
		rd_kafka_conf_destroy(kc);
		return -EINVAL;
	}
	if (rd_kafka_conf_set(kc, "bootstrap.servers", brokers, err, sizeof(err)) ||
	    rd_kafka_conf_set(kc, "group.id", "driftd-replay", err, sizeof(err)) ||
	    rd_kafka_conf_set(kc, "enable.auto.commit", "false", err, sizeof(err)) ||
	    rd_kafka_conf_set(kc, "enable.partition.eof", "true", err, sizeof(err))) {
		fprintf(log, "driftd replay: %s\n", err);
		rd_kafka_conf_destroy(kc);
		return -EINVAL;
	}
	/* The user's properties too (SASL/SSL), except the group and offset settings above. */
	const char *key;
	json_t *val;
	json_object_foreach (c->kafka.properties, key, val)
		if (strncmp(key, "enable.", 7) != 0 && strcmp(key, "group.id") != 0)
			rd_kafka_conf_set(kc, key, json_string_value(val), err, sizeof(err));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
	if (!rk) {
		fprintf(log, "driftd replay: %s\n", err);
		rd_kafka_conf_destroy(kc);
		return -EINVAL;
	}
	int rc = 0;
	rd_kafka_topic_partition_list_t *start = NULL, *end = NULL;
	enum dd_format fmt = DD_FORMAT_NATIVE;
	if (c->has_kafka)
		dd_format_parse(c->kafka.format, &fmt);
	struct dd_adapter_opts ao = {.max_record = c->max_record};
	struct dd_adapter *adapter = NULL;
	if (dd_adapter_new(fmt, &ao, &adapter) < 0) {
		rd_kafka_destroy(rk);
		return -ENOMEM;
	}
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
	if (e || md->topic_cnt != 1 || md->topics[0].err) {
		fprintf(log, "driftd replay: topic %s: %s\n", o->topic,
		        rd_kafka_err2str(e               ? e
		                         : md->topic_cnt ? md->topics[0].err
		                                         : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
		rc = -ENOENT;
		goto out;
	}
	int n = md->topics[0].partition_cnt;
	start = rd_kafka_topic_partition_list_new(n);
	end = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++) {
		rd_kafka_topic_partition_list_add(start, o->topic, md->topics[0].partitions[i].id);
		rd_kafka_topic_partition_list_add(end, o->topic, md->topics[0].partitions[i].id);
	}
	if (resolve(rk, o->topic, start, &o->from, false, err, sizeof(err)) < 0 ||
	    resolve(rk, o->topic, end, &o->to, true, err, sizeof(err)) < 0) {
		fprintf(log, "driftd replay: %s\n", err);
		rc = -EIO;
		goto out;
	}
	/* Only partitions with records in range are read; the others are done already. */
	rd_kafka_topic_partition_list_t *todo = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++) {
		if (start->elems[i].offset < end->elems[i].offset)
			rd_kafka_topic_partition_list_add(todo, o->topic, start->elems[i].partition)
			    ->offset = start->elems[i].offset;
		else
			end->elems[i].err = RD_KAFKA_RESP_ERR__PARTITION_EOF;
	}
	int open = todo->cnt;
	fprintf(log, "driftd replay: %s: %d partition%s with records in range\n", o->topic, open,
	        open == 1 ? "" : "s");
	rd_kafka_assign(rk, todo);
	rd_kafka_topic_partition_list_destroy(todo);
	uint64_t index = 0;
	while (open > 0) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
		if (!m)
			continue;
		rd_kafka_topic_partition_t *stop =
		    rd_kafka_topic_partition_list_find(end, o->topic, m->partition);
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
		    (!m->err && stop && m->offset >= stop->offset)) {
			/* This partition is done: stop fetching it. */
			if (stop && stop->err == 0) {
				stop->err = RD_KAFKA_RESP_ERR__PARTITION_EOF;
				open--;
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err) {
			fprintf(log, "driftd replay: kafka: %s\n", rd_kafka_err2str(m->err));
			rd_kafka_message_destroy(m);
			continue;
		}
		struct dd_origin at = {.kafka = true,
		                       .topic = o->topic,
		                       .partition = m->partition,
		                       .offset = m->offset,
		                       .index = index++};
		rc = dd_kafka_feed(adapter, p, m, &at, c->max_record, 0, false);
		rd_kafka_message_destroy(m);
		if (rc < 0)
			break;
	}
out:
	if (start)
		rd_kafka_topic_partition_list_destroy(start);
	if (end)
		rd_kafka_topic_partition_list_destroy(end);
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	dd_adapter_free(adapter);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}
