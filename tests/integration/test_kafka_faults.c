/* Fault injection on the Kafka source with librdkafka's in-process mock cluster (a mock
 * because a real broker cannot be made to fail on cue): fetch and commit request errors and a
 * broker down for seconds in the middle of the stream. The source must neither crash nor lose
 * a record: every offset reaches the pipeline at least once, and the final commit covers all. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "config.h"
#include "kafka_source.h"
#include "pipeline.h"

#define TOPIC "faults"
#define N     3000
#define PARTS 2

/* Kafka protocol ApiKeys and error codes: the mock takes plain numbers. */
#define API_FETCH               1
#define API_OFFSET_COMMIT       8
#define ERR_NOT_LEADER          6
#define ERR_REQUEST_TIMED_OUT   7
#define ERR_COORDINATOR_LOADING 14

struct outage {
	rd_kafka_mock_cluster_t *mc;
};

static void *broker_outage(void *arg)
{
	struct outage *o = arg;
	nanosleep(&(struct timespec){.tv_nsec = 300 * 1000 * 1000}, NULL);
	rd_kafka_mock_broker_set_down(o->mc, 1);
	nanosleep(&(struct timespec){.tv_sec = 3}, NULL);
	rd_kafka_mock_broker_set_up(o->mc, 1);
	return NULL;
}

static void produce(const char *bootstraps)
{
	char err[256];
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	rd_kafka_conf_set(kc, "bootstrap.servers", bootstraps, err, sizeof(err));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
	assert_non_null(rk);
	for (int i = 0; i < N; i++) {
		char v[128];
		int n = snprintf(v, sizeof(v), "{\"model\":{\"id\":\"m\"},\"input\":{\"x\":%d}}",
		                 i % 7);
		assert_int_equal(
		    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(i % PARTS),
		                      RD_KAFKA_V_VALUE(v, (size_t)n),
		                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
		    0);
	}
	assert_int_equal(rd_kafka_flush(rk, 30000), 0);
	rd_kafka_destroy(rk);
}

static void test_faults(void **unused)
{
	char err[512];
	rd_kafka_conf_t *hc = rd_kafka_conf_new();
	rd_kafka_conf_set(hc, "log_level", "0", err, sizeof(err));
	rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, hc, err, sizeof(err));
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(host, 1);
	assert_non_null(mc);
	const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
	rd_kafka_mock_topic_create(mc, TOPIC, PARTS, 1);
	produce(bootstraps);

	/* Errors the broker will answer with, in order, to the next requests of each kind. */
	rd_kafka_mock_push_request_errors(mc, API_FETCH, 4, ERR_NOT_LEADER, ERR_REQUEST_TIMED_OUT,
	                                  ERR_NOT_LEADER, ERR_REQUEST_TIMED_OUT);
	rd_kafka_mock_push_request_errors(mc, API_OFFSET_COMMIT, 3, ERR_COORDINATOR_LOADING,
	                                  ERR_REQUEST_TIMED_OUT, ERR_COORDINATOR_LOADING);

	char text[512];
	snprintf(text, sizeof(text),
	         "source:\n  kafka: {brokers: \"%s\", topics: [" TOPIC "], group: gf,\n"
	         "          properties: {auto.commit.interval.ms: 200}}\n"
	         "monitors:\n  - {name: ph, field: /input/x, detector: page_hinkley}\n",
	         bootstraps);
	struct dd_config *c = NULL;
	assert_int_equal(dd_config_parse("faults.yaml", text, strlen(text), 0, stderr, &c), 0);
	char *trace = NULL;
	size_t tlen = 0;
	FILE *tf = open_memstream(&trace, &tlen);
	struct dd_pipeline_opts po = {.trace = tf, .wall_clock = true};
	struct dd_pipeline *p;
	assert_int_equal(dd_pipeline_new(c, &po, &p), 0);
	int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec deadline = {.it_value = {.tv_sec = 60}};
	timerfd_settime(tfd, 0, &deadline, NULL);
	struct dd_kafka_opts ko = {.stop_after = N, .stop_fd = tfd, .log = stderr};
	struct dd_kafka_source *src;
	assert_int_equal(dd_kafka_source_new(c, &ko, &src, err, sizeof(err)), 0);

	struct outage o = {.mc = mc};
	pthread_t t;
	pthread_create(&t, NULL, broker_outage, &o);
	assert_int_equal(dd_kafka_source_run(src, p), 0);
	pthread_join(t, NULL);
	dd_pipeline_flush(p);
	assert_int_equal(dd_kafka_source_close(src), 0);
	fclose(tf);

	/* Every offset of every partition reached the monitors. */
	static char seen[PARTS][N];
	memset(seen, 0, sizeof(seen));
	size_t lines = 0;
	for (char *l = trace; (l = strstr(l, "\"kafka.partition\":")); l++) {
		int part = atoi(l + 18);
		char *off = strstr(l, "\"kafka.offset\":");
		long o2 = atol(off + 15);
		assert_true(part >= 0 && part < PARTS && o2 >= 0 && o2 < N);
		seen[part][o2] = 1;
		lines++;
	}
	size_t distinct = 0;
	for (int q = 0; q < PARTS; q++)
		for (int i = 0; i < N / PARTS; i++)
			distinct += seen[q][i];
	if (distinct != N)
		fail_msg("%zu of %d offsets reached the pipeline (%zu lines)", distinct, N, lines);
	struct dd_kafka_stats ks;
	dd_kafka_source_stats(src, &ks);
	fprintf(stderr, "faults: %zu verdicts for %d records, %llu consumer errors\n", lines, N,
	        (unsigned long long)ks.errors);

	/* The final commit covers everything, despite the commit errors. */
	rd_kafka_conf_t *qc = rd_kafka_conf_new();
	rd_kafka_conf_set(qc, "bootstrap.servers", bootstraps, err, sizeof(err));
	rd_kafka_conf_set(qc, "group.id", "gf", err, sizeof(err));
	rd_kafka_t *q = rd_kafka_new(RD_KAFKA_CONSUMER, qc, err, sizeof(err));
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTS);
	for (int i = 0; i < PARTS; i++)
		rd_kafka_topic_partition_list_add(parts, TOPIC, i);
	assert_int_equal(rd_kafka_committed(q, parts, 10000), 0);
	for (int i = 0; i < PARTS; i++)
		assert_int_equal(parts->elems[i].offset, N / PARTS);
	rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_destroy(q);

	dd_kafka_source_free(src);
	dd_pipeline_free(p);
	dd_config_free(c);
	free(trace);
	close(tfd);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_faults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
