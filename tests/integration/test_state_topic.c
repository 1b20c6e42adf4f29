/* The state topic (daemon/state_topic.c) against a real Apache Kafka broker, started by
 * test_state_topic.py, which passes its bootstrap address as argv[1] and stops or restarts the
 * broker when this program asks on stdout ("@@broker stop" / "@@broker start", answered "ok"
 * on stdin). Checks the topic's configuration independently with librdkafka's admin API, and
 * writes foreign records (other groups, garbage, oversized) with a plain producer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "state_topic.h"

struct ctx {
	const char *bootstrap;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ask the driver to stop or start the broker, and wait until it has. */
static void broker_ctl(const char *what)
{
	printf("@@broker %s\n", what);
	fflush(stdout);
	char line[64];
	assert_non_null(fgets(line, sizeof(line), stdin));
	assert_string_equal(line, "ok\n");
}

static rd_kafka_t *raw_client(const char *bootstrap, rd_kafka_type_t type)
{
	char err[512];
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	assert_int_equal(rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, err, sizeof(err)),
	                 RD_KAFKA_CONF_OK);
	if (type == RD_KAFKA_PRODUCER) {
		rd_kafka_conf_set(kc, "message.max.bytes", "100000000", err, sizeof(err));
		rd_kafka_conf_set(kc, "compression.type", "zstd", err, sizeof(err));
	} else {
		rd_kafka_conf_set(kc, "receive.message.max.bytes", "200000000", err, sizeof(err));
		rd_kafka_conf_set(kc, "group.id", "raw", err, sizeof(err));
		rd_kafka_conf_set(kc, "enable.partition.eof", "true", err, sizeof(err));
	}
	rd_kafka_t *rk = rd_kafka_new(type, kc, err, sizeof(err));
	if (!rk)
		fail_msg("rd_kafka_new: %s", err);
	if (type == RD_KAFKA_CONSUMER)
		rd_kafka_poll_set_consumer(rk);
	return rk;
}

/* A topic config value as the broker describes it. */
static void describe(const char *bootstrap, const char *topic, const char *name, char *out,
                     size_t outsz)
{
	rd_kafka_t *rk = raw_client(bootstrap, RD_KAFKA_PRODUCER);
	rd_kafka_ConfigResource_t *res =
	    rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
	assert_non_null(ev);
	assert_int_equal(rd_kafka_event_error(ev), 0);
	size_t n = 0, nc = 0;
	const rd_kafka_ConfigResource_t **rs = rd_kafka_DescribeConfigs_result_resources(
	    rd_kafka_event_DescribeConfigs_result(ev), &n);
	assert_int_equal(n, 1);
	assert_int_equal(rd_kafka_ConfigResource_error(rs[0]), 0);
	const rd_kafka_ConfigEntry_t **cs = rd_kafka_ConfigResource_configs(rs[0], &nc);
	out[0] = 0;
	for (size_t i = 0; i < nc; i++)
		if (!strcmp(rd_kafka_ConfigEntry_name(cs[i]), name))
			snprintf(out, outsz, "%s", rd_kafka_ConfigEntry_value(cs[i]));
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_ConfigResource_destroy(res);
	rd_kafka_destroy(rk);
}

/* Create a topic ourselves with the given configs (NULL-terminated name, value pairs). */
static void raw_create(const char *bootstrap, const char *topic, const char *const *configs)
{
	char err[256];
	rd_kafka_t *rk = raw_client(bootstrap, RD_KAFKA_PRODUCER);
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, err, sizeof(err));
	for (size_t i = 0; configs[i]; i += 2)
		rd_kafka_NewTopic_set_config(nt, configs[i], configs[i + 1]);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_operation_timeout(o, 20000, err, sizeof(err));
	rd_kafka_CreateTopics(rk, &nt, 1, o, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
	assert_non_null(ev);
	size_t n = 0;
	const rd_kafka_topic_result_t **res =
	    rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
	assert_int_equal(n, 1);
	if (rd_kafka_topic_result_error(res[0]))
		fail_msg("create %s: %s", topic, rd_kafka_topic_result_error_string(res[0]));
	rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_destroy(rk);
}

static void raw_produce(const char *bootstrap, const char *topic, const char *key, const void *val,
                        size_t len)
{
	rd_kafka_t *rk = raw_client(bootstrap, RD_KAFKA_PRODUCER);
	assert_int_equal(
	    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
	                      RD_KAFKA_V_VALUE((void *)(uintptr_t)val, len),
	                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
	    0);
	assert_int_equal(rd_kafka_flush(rk, 30000), 0);
	assert_int_equal(rd_kafka_outq_len(rk), 0);
	rd_kafka_destroy(rk);
}

/* Records now in partition 0 of `topic`, and its high watermark. */
static long count_records(const char *bootstrap, const char *topic, int64_t *hi_out)
{
	rd_kafka_t *rk = raw_client(bootstrap, RD_KAFKA_CONSUMER);
	int64_t lo, hi;
	assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 10000), 0);
	*hi_out = hi;
	long n = 0;
	if (hi > lo) {
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
		rd_kafka_assign(rk, l);
		rd_kafka_topic_partition_list_destroy(l);
		int64_t deadline = now_ms() + 20000;
		for (bool done = false; !done;) {
			assert_true(now_ms() < deadline);
			rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
			if (!m)
				continue;
			if (!m->err) {
				n += m->offset < hi;
				done = m->offset >= hi - 1;
			} else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				done = m->offset >= hi;
			}
			rd_kafka_message_destroy(m);
		}
	}
	rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	return n;
}

static struct dd_state_topic *open_ok(const char *bootstrap, const char *topic, const char *group,
                                      FILE *log)
{
	struct dd_state_topic *t = NULL;
	char err[512] = "";
	int64_t t0 = now_ms();
	int rc = dd_state_topic_open(bootstrap, topic, group, NULL, log, &t, err, sizeof(err));
	if (rc)
		fail_msg("open %s: %d %s", topic, rc, err);
	fprintf(stderr, "open %s (group %s): %lld ms\n", topic, group, (long long)(now_ms() - t0));
	return t;
}

static void put_str(struct dd_state_topic *t, const char *src, int32_t part, const char *v)
{
	assert_int_equal(dd_state_topic_put(t, src, part, v, v ? strlen(v) : 0), 0);
}

static void flush_ok(struct dd_state_topic *t)
{
	char why[512] = "";
	int rc = dd_state_topic_flush(t, 30000, why, sizeof(why));
	if (rc)
		fail_msg("flush: %d %s", rc, why);
}

static int fetch(struct dd_state_topic *t, const struct dd_tp *want, size_t n, json_t **out,
                 unsigned *bad, int timeout_ms, int64_t *ms)
{
	char why[512] = "";
	int64_t t0 = now_ms();
	int rc = dd_state_topic_fetch(t, want, n, out, bad, timeout_ms, why, sizeof(why));
	*ms = now_ms() - t0;
	if (rc)
		fprintf(stderr, "fetch: %d %s\n", rc, why);
	return rc;
}

static long gen_of(const json_t *j)
{
	return j ? (long)json_integer_value(json_object_get(j, "gen")) : -1;
}

/* Created compacted with the largest state allowed; opening again finds it; an existing topic
 * that is not compacted is used, with a warning on the log. */
static void test_create(void **state)
{
	const struct ctx *c = *state;
	char *logbuf = NULL;
	size_t loglen = 0;
	FILE *log = open_memstream(&logbuf, &loglen);
	struct dd_state_topic *t = open_ok(c->bootstrap, "st-create", "g", log);
	dd_state_topic_close(t);
	char v[64];
	describe(c->bootstrap, "st-create", "cleanup.policy", v, sizeof(v));
	assert_string_equal(v, "compact");
	describe(c->bootstrap, "st-create", "max.message.bytes", v, sizeof(v));
	assert_int_equal(strtoul(v, NULL, 10), DD_STATE_TOPIC_MAX_BATCH);
	t = open_ok(c->bootstrap, "st-create", "g", log); /* exists: TOPIC_ALREADY_EXISTS */
	dd_state_topic_close(t);
	fflush(log);
	assert_non_null(strstr(logbuf, "created topic st-create"));
	assert_null(strstr(logbuf, "not compact"));

	raw_create(c->bootstrap, "st-delete",
	           (const char *const[]){"cleanup.policy", "delete", NULL});
	t = open_ok(c->bootstrap, "st-delete", "g", log);
	dd_state_topic_close(t);
	fclose(log);
	fprintf(stderr, "%s", logbuf);
	assert_non_null(strstr(logbuf, "st-delete has cleanup.policy=delete, not compact"));
	free(logbuf);
}

/* An empty topic: nothing to wait for. */
static void test_empty(void **state)
{
	const struct ctx *c = *state;
	struct dd_state_topic *t = open_ok(c->bootstrap, "st-empty", "g", stderr);
	struct dd_tp want[] = {{"logs", 0}, {"logs", 1}};
	json_t *out[2] = {(json_t *)1, (json_t *)1};
	unsigned bad = 7;
	int64_t ms;
	assert_int_equal(fetch(t, want, 2, out, &bad, 10000, &ms), 0);
	fprintf(stderr, "fetch on an empty topic: %lld ms\n", (long long)ms);
	assert_null(out[0]);
	assert_null(out[1]);
	assert_int_equal(bad, 0);
	assert_true(ms < 2000);
	dd_state_topic_close(t);
}

/* Two generations for three partitions, another group's key for the same partition written
 * last, a tombstone, a key wanted twice, a partition without state. */
static void test_generations(void **state)
{
	const struct ctx *c = *state;
	struct dd_state_topic *t = open_ok(c->bootstrap, "st-gen", "g1", stderr);
	struct dd_state_topic *o = open_ok(c->bootstrap, "st-gen", "g2", stderr);
	char v[64];
	for (int gen = 1; gen <= 2; gen++)
		for (int p = 0; p < 3; p++) {
			snprintf(v, sizeof(v), "{\"gen\": %d, \"p\": %d}", gen, p);
			put_str(t, "logs", p, v);
		}
	put_str(t, "logs", 4, "{\"gen\": 1}");
	put_str(t, "logs", 4, NULL); /* tombstone */
	put_str(t, "other", 0, "{\"gen\": 5}");
	flush_ok(t);
	put_str(o, "logs", 0, "{\"gen\": 99}");
	put_str(o, "logs", 3, "{\"gen\": 99}");
	flush_ok(o);
	raw_produce(c->bootstrap, "st-gen", "g1/logs", "{\"gen\": 98}", 11); /* not a key of ours */

	struct dd_tp want[] = {{"logs", 0}, {"logs", 1},  {"logs", 2}, {"logs", 3},
	                       {"logs", 4}, {"other", 0}, {"logs", 1}, {"other", 1}};
	size_t n = sizeof(want) / sizeof(want[0]);
	json_t *out[8];
	unsigned bad = 7;
	int64_t ms;
	assert_int_equal(fetch(t, want, n, out, &bad, 20000, &ms), 0);
	fprintf(stderr, "fetch of %zu keys over 12 records: %lld ms\n", n, (long long)ms);
	assert_int_equal(bad, 0);
	for (int p = 0; p < 3; p++) {
		assert_int_equal(gen_of(out[p]), 2);
		assert_int_equal(json_integer_value(json_object_get(out[p], "p")), p);
	}
	assert_null(out[3]); /* only g2 has logs[3] */
	assert_null(out[4]); /* tombstone */
	assert_int_equal(gen_of(out[5]), 5);
	assert_int_equal(gen_of(out[6]), 2);
	assert_ptr_not_equal(out[6], out[1]); /* each its own reference */
	assert_null(out[7]);
	for (size_t i = 0; i < n; i++)
		json_decref(out[i]);

	/* The other group sees its own. */
	json_t *oo[2];
	assert_int_equal(fetch(o, want, 2, oo, &bad, 20000, &ms), 0);
	assert_int_equal(gen_of(oo[0]), 99);
	assert_null(oo[1]);
	json_decref(oo[0]);
	dd_state_topic_close(o);
	dd_state_topic_close(t);
}

/* Untrusted values: not JSON, not an object, oversized (written by someone else) are counted;
 * a bad generation followed by a good one is not. */
static void test_bad_values(void **state)
{
	const struct ctx *c = *state;
	char *logbuf = NULL;
	size_t loglen = 0;
	FILE *log = open_memstream(&logbuf, &loglen);
	struct dd_state_topic *t = open_ok(c->bootstrap, "st-bad", "g", log);
	put_str(t, "logs", 0, "not json");
	put_str(t, "logs", 1, "[1, 2]");
	put_str(t, "logs", 2, "{\"gen\": 1, \"gen\": 2}"); /* duplicate key: ambiguous */
	put_str(t, "logs", 3, "{oops");
	put_str(t, "logs", 3, "{\"gen\": 3}");
	flush_ok(t);
	size_t big = DD_STATE_TOPIC_MAX_VALUE + 1;
	char *b = malloc(big);
	memset(b, ' ', big);
	b[0] = '{';
	b[big - 1] = '}';
	/* Refused on the way in... */
	assert_int_equal(dd_state_topic_put(t, "logs", 5, b, big), -EMSGSIZE);
	/* ...and on the way out, when another producer wrote it. */
	raw_produce(c->bootstrap, "st-bad", "g/logs/4", b, big);
	free(b);

	struct dd_tp want[] = {{"logs", 0}, {"logs", 1}, {"logs", 2},
	                       {"logs", 3}, {"logs", 4}, {"logs", 5}};
	json_t *out[6];
	unsigned bad = 0;
	int64_t ms;
	assert_int_equal(fetch(t, want, 6, out, &bad, 30000, &ms), 0);
	fprintf(stderr, "fetch with bad values (one of 64 MiB): %lld ms\n", (long long)ms);
	for (int i = 0; i < 6; i++)
		if (i != 3)
			assert_null(out[i]);
	assert_int_equal(gen_of(out[3]), 3);
	json_decref(out[3]);
	assert_int_equal(bad, 4);
	dd_state_topic_close(t);
	fclose(log);
	fprintf(stderr, "%s", logbuf);
	assert_non_null(strstr(logbuf, "g/logs/0 at st-bad offset 0: not JSON"));
	assert_non_null(strstr(logbuf, "g/logs/1 at st-bad offset 1: not a JSON object"));
	assert_non_null(strstr(logbuf, "g/logs/4 at st-bad offset 5: 67108865 bytes, over"));
	free(logbuf);
}

/* A state of exactly the largest size goes through the producer, the broker and the restore
 * consumer (the topic and producer limits leave room for the key and the batch framing). */
static void test_largest(void **state)
{
	const struct ctx *c = *state;
	struct dd_state_topic *t = open_ok(c->bootstrap, "st-large", "g", stderr);
	size_t n = DD_STATE_TOPIC_MAX_VALUE;
	char *v = malloc(n);
	/* Varied text so that compression keeps most of it. */
	uint64_t x = 88172645463325252u;
	memcpy(v, "{\"s\":\"", 6);
	for (size_t i = 6; i < n - 2; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		v[i] = (char)('A' + x % 58);
		if (v[i] == '\\' || (v[i] > 'Z' && v[i] < 'a'))
			v[i] = 'x';
	}
	memcpy(v + n - 2, "\"}", 2);
	int64_t t0 = now_ms();
	assert_int_equal(dd_state_topic_put(t, "logs", 0, v, n), 0);
	free(v);
	flush_ok(t);
	fprintf(stderr, "put+flush of %zu bytes: %lld ms\n", n, (long long)(now_ms() - t0));
	struct dd_tp want[] = {{"logs", 0}};
	json_t *out[1];
	unsigned bad = 9;
	int64_t ms;
	assert_int_equal(fetch(t, want, 1, out, &bad, 60000, &ms), 0);
	fprintf(stderr, "fetch of %zu bytes: %lld ms\n", n, (long long)ms);
	assert_int_equal(bad, 0);
	assert_non_null(out[0]);
	assert_int_equal(json_string_length(json_object_get(out[0], "s")), n - 8);
	json_decref(out[0]);
	dd_state_topic_close(t);
}

/* Hundreds of records: 600 generations of 60 partitions, read quickly. */
static void test_many(void **state)
{
	const struct ctx *c = *state;
	struct dd_state_topic *t = open_ok(c->bootstrap, "st-many", "g", stderr);
	enum { P = 60, G = 10 };
	char v[128];
	for (int g = 1; g <= G; g++)
		for (int p = 0; p < P; p++) {
			snprintf(v, sizeof(v), "{\"gen\": %d, \"pad\": \"%040d\"}", g, p);
			put_str(t, "logs", p, v);
		}
	flush_ok(t);
	struct dd_tp want[P];
	json_t *out[P];
	for (int p = 0; p < P; p++)
		want[p] = (struct dd_tp){"logs", p};
	unsigned bad;
	int64_t ms;
	assert_int_equal(fetch(t, want, P, out, &bad, 20000, &ms), 0);
	fprintf(stderr, "fetch of %d keys over %d records: %lld ms\n", P, P * G, (long long)ms);
	assert_int_equal(bad, 0);
	for (int p = 0; p < P; p++) {
		assert_int_equal(gen_of(out[p]), G);
		json_decref(out[p]);
	}
	assert_true(ms < 3000);
	dd_state_topic_close(t);
}

/* After compaction the offsets have gaps: the read still ends at the high watermark, at once. */
static void test_compacted(void **state)
{
	const struct ctx *c = *state;
	/* Tiny segments and an eager cleaner, so the broker compacts within its cleaner backoff
	 * (15 s). */
	raw_create(c->bootstrap, "st-compact",
	           (const char *const[]){"cleanup.policy", "compact", "segment.bytes", "400",
	                                 "min.cleanable.dirty.ratio", "0.01", "delete.retention.ms",
	                                 "100", NULL});
	struct dd_state_topic *t = open_ok(c->bootstrap, "st-compact", "g", stderr);
	char v[128];
	/* One batch per record (a flush each), so the records spread over many segments. */
	for (int g = 1; g <= 40; g++)
		for (int p = 0; p < 3; p++) {
			snprintf(v, sizeof(v), "{\"gen\": %d, \"p\": %d}", g, p);
			put_str(t, "logs", p, v);
			flush_ok(t);
		}
	int64_t hi = 0, t0 = now_ms();
	long n;
	while ((n = count_records(c->bootstrap, "st-compact", &hi)) >= hi) {
		if (now_ms() - t0 > 90000)
			fail_msg("no compaction after 90 s (%ld records, high watermark %lld)", n,
			         (long long)hi);
		nanosleep(&(struct timespec){.tv_sec = 2}, NULL);
	}
	fprintf(stderr, "compacted after %lld ms: %ld records below offset %lld\n",
	        (long long)(now_ms() - t0), n, (long long)hi);
	struct dd_tp want[] = {{"logs", 0}, {"logs", 1}, {"logs", 2}};
	json_t *out[3];
	unsigned bad;
	int64_t ms;
	assert_int_equal(fetch(t, want, 3, out, &bad, 20000, &ms), 0);
	fprintf(stderr, "fetch over the compacted topic: %lld ms\n", (long long)ms);
	for (int p = 0; p < 3; p++) {
		assert_int_equal(gen_of(out[p]), 40);
		json_decref(out[p]);
	}
	assert_true(ms < 3000);
	dd_state_topic_close(t);
}

/* The broker stops: flush gives up within its timeout, with a reason; the state queued then is
 * delivered once the broker is back; a fetch meanwhile times out within its bound too. */
static void test_broker_down(void **state)
{
	const struct ctx *c = *state;
	struct dd_state_topic *t = open_ok(c->bootstrap, "st-down", "g", stderr);
	put_str(t, "logs", 0, "{\"gen\": 1}");
	flush_ok(t);
	broker_ctl("stop");
	put_str(t, "logs", 0, "{\"gen\": 2}");
	char why[512] = "";
	int64_t t0 = now_ms();
	int rc = dd_state_topic_flush(t, 2000, why, sizeof(why));
	int64_t ms = now_ms() - t0;
	fprintf(stderr, "flush with the broker down: %d after %lld ms: %s\n", rc, (long long)ms,
	        why);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_true(ms >= 1900 && ms < 2500);
	assert_non_null(strstr(why, "not acknowledged"));

	struct dd_tp want[] = {{"logs", 0}};
	json_t *out[1] = {NULL};
	unsigned bad;
	t0 = now_ms();
	rc = dd_state_topic_fetch(t, want, 1, out, &bad, 2000, why, sizeof(why));
	ms = now_ms() - t0;
	fprintf(stderr, "fetch with the broker down: %d after %lld ms: %s\n", rc, (long long)ms,
	        why);
	assert_true(rc == -ETIMEDOUT);
	assert_null(out[0]);
	assert_true(ms < 2700);

	broker_ctl("start");
	flush_ok(t);
	int64_t fms;
	assert_int_equal(fetch(t, want, 1, out, &bad, 30000, &fms), 0);
	assert_int_equal(gen_of(out[0]), 2);
	json_decref(out[0]);
	dd_state_topic_close(t);
}

/* Nothing listens: open gives up within its bound. */
static void test_no_broker(void **state)
{
	(void)state;
	struct dd_state_topic *t = (void *)1;
	char err[512] = "";
	int64_t t0 = now_ms();
	int rc =
	    dd_state_topic_open("127.0.0.1:1", "st-none", "g", NULL, NULL, &t, err, sizeof(err));
	int64_t ms = now_ms() - t0;
	fprintf(stderr, "open without a broker: %d after %lld ms: %s\n", rc, (long long)ms, err);
	assert_true(rc < 0);
	assert_null(t);
	assert_true(ms < DD_STATE_TOPIC_OPEN_TIMEOUT_MS + 2000);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s BOOTSTRAP (run by test_state_topic.py)\n", argv[0]);
		return 2;
	}
	struct ctx c = {.bootstrap = argv[1]};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_prestate(test_create, &c),
	    cmocka_unit_test_prestate(test_empty, &c),
	    cmocka_unit_test_prestate(test_generations, &c),
	    cmocka_unit_test_prestate(test_bad_values, &c),
	    cmocka_unit_test_prestate(test_largest, &c),
	    cmocka_unit_test_prestate(test_many, &c),
	    cmocka_unit_test_prestate(test_compacted, &c),
	    cmocka_unit_test_prestate(test_broker_down, &c),
	    cmocka_unit_test_prestate(test_no_broker, &c),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
