/* `driftd demo`: librdkafka's mock cluster in this process, synthetic traffic for a
 * fraud-scoring model with a poisoning episode partway through, consumed through the normal
 * Kafka path of `driftd run` with an embedded configuration. Alerts go to stdout as in service
 * mode; the story and a summary go to stderr. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "kafka_source.h"
#include "pipeline.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static const char demo_config[] =
    "# driftd demo configuration (embedded); `brokers` is replaced by the in-process\n"
    "# mock cluster's address.\n"
    "source:\n"
    "  kafka: {brokers: mock, topics: [inference-logs], group: driftd-demo}\n"
    "monitors:\n"
    "  - name: amount-ks\n"
    "    match: {model: fraud-scorer}\n"
    "    field: /input/amount\n"
    "    detector: ks\n"
    "    params: {alpha: 0.001}\n"
    "    reference: {size: 2000}\n"
    "    window: {size: 500}\n"
    "    for: 2\n"
    "    resolve_after: 2\n"
    "    severity: critical\n"
    "  - name: amount-psi\n"
    "    field: /input/amount\n"
    "    detector: psi\n"
    "    params: {threshold: 0.25, bins: 10}\n"
    "    reference: {size: 2000}\n"
    "    window: {size: 500}\n"
    "  - name: age-ks\n"
    "    field: /input/age\n"
    "    detector: ks\n"
    "    params: {alpha: 0.001}\n"
    "    reference: {size: 2000}\n"
    "    window: {size: 500}\n"
    "  - name: tpd-psi\n"
    "    field: /input/txn_per_day\n"
    "    detector: psi\n"
    "    params: {threshold: 0.25}\n"
    "    reference: {size: 2000}\n"
    "    window: {size: 500}\n"
    "  - name: score-page-hinkley\n"
    "    field: /output/score\n"
    "    detector: page_hinkley\n"
    "    params: {threshold: 25, min_instances: 500}\n"
    "    resolve_after: 2000\n"
    "    severity: error\n";

#define DEMO_TOPIC "inference-logs"
/* One partition: monitors are not yet per partition (state per partition comes with the
 * snapshot work), and interleaved partitions would replay the episode once per partition. */
#define DEMO_PARTITIONS 1

/* Produce every line of the generated traffic, keyed by client, at DEMO_RATE events per
 * second (the traffic of a busy model, and slow enough that the mock cluster, which keeps only
 * the newest ~5 MB of a partition, never drops what the consumer has not read yet), and wait
 * until all are acknowledged. */
#define DEMO_RATE 2000
static int produce_all(const char *bootstraps, const char *traffic, size_t len, FILE *log)
{
	char err[512];
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	if (rd_kafka_conf_set(kc, "bootstrap.servers", bootstraps, err, sizeof(err)) ||
	    rd_kafka_conf_set(kc, "linger.ms", "5", err, sizeof(err))) {
		fprintf(log, "driftd demo: producer: %s\n", err);
		rd_kafka_conf_destroy(kc);
		return -EINVAL;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
	if (!rk) {
		fprintf(log, "driftd demo: producer: %s\n", err);
		rd_kafka_conf_destroy(kc);
		return -EINVAL;
	}
	int rc = 0;
	unsigned long sent = 0;
	for (const char *line = traffic; line < traffic + len && rc == 0;) {
		const char *nl = memchr(line, '\n', (size_t)(traffic + len - line));
		size_t l = nl ? (size_t)(nl - line) : (size_t)(traffic + len - line);
		const char *key = strstr(line, "\"client\":{\"id\":\"");
		size_t klen = 0;
		if (key && key < line + l) {
			key += 16;
			const char *q = memchr(key, '"', (size_t)(line + l - key));
			klen = q ? (size_t)(q - key) : 0;
		}
		for (;;) {
			rd_kafka_resp_err_t e = rd_kafka_producev(
			    rk, RD_KAFKA_V_TOPIC(DEMO_TOPIC), RD_KAFKA_V_VALUE((void *)line, l),
			    RD_KAFKA_V_KEY((void *)key, klen),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				rd_kafka_poll(rk, 50);
				continue;
			}
			if (e) {
				fprintf(log, "driftd demo: produce: %s\n", rd_kafka_err2str(e));
				rc = -EIO;
			}
			break;
		}
		rd_kafka_poll(rk, 0);
		line += l + 1;
		if (++sent % (DEMO_RATE / 100) == 0)
			nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	if (rc == 0 && rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(log, "driftd demo: producer could not deliver everything in 30 s\n");
		rc = -ETIMEDOUT;
	}
	rd_kafka_destroy(rk);
	return rc;
}

struct producer_job {
	const char *bootstraps;
	const char *traffic;
	size_t len;
	int rc;
};

static void *producer_main(void *arg)
{
	struct producer_job *j = arg;
	j->rc = produce_all(j->bootstraps, j->traffic, j->len, stderr);
	return NULL;
}

int dd_cmd_demo(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		puts(
		    "Usage: driftd demo [--print-config]\n\n"
		    "Starts librdkafka's mock Kafka cluster in this process, produces synthetic "
		    "traffic\n"
		    "for a fraud-scoring model (20000 events, 3 partitions) with a poisoning "
		    "episode\n"
		    "from event 12000 to 16000 (transaction amounts inflated, scores rising), and\n"
		    "consumes it through the normal Kafka path of `driftd run`. Alerts appear on\n"
		    "stdout as JSON lines, the story and a summary on stderr.");
		return DD_EXIT_OK;
	}
	if (argc > 1 && strcmp(argv[1], "--print-config") == 0) {
		fputs(demo_config, stdout);
		return DD_EXIT_OK;
	}
	if (argc > 1) {
		fprintf(stderr, "Usage: driftd demo [--print-config]\n");
		return DD_EXIT_USAGE;
	}
	struct dd_config *conf = NULL;
	if (dd_config_parse("<demo>", demo_config, sizeof(demo_config) - 1, 0, stderr, &conf) < 0)
		return DD_EXIT_FAIL;

	char *traffic = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&traffic, &len);
	struct dd_synth_opts so = {.n = 20000, .shift = 12000, .seed = 42};
	if (!mem || dd_synth_write(&so, mem) < 0 || fclose(mem) != 0) {
		fprintf(stderr, "driftd demo: cannot generate traffic\n");
		dd_config_free(conf);
		return DD_EXIT_FAIL;
	}

	/* The mock cluster lives inside a client handle; a bare producer handle hosts it. */
	int status = DD_EXIT_FAIL;
	char err[512];
	rd_kafka_conf_t *hc = rd_kafka_conf_new();
	rd_kafka_conf_set(hc, "log_level", "3", err, sizeof(err));
	rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, hc, err, sizeof(err));
	rd_kafka_mock_cluster_t *mc = host ? rd_kafka_mock_cluster_new(host, 1) : NULL;
	if (!mc) {
		fprintf(stderr, "driftd demo: cannot start the mock Kafka cluster: %s\n",
		        host ? "mock cluster" : err);
		goto out;
	}
	const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
	rd_kafka_mock_topic_create(mc, DEMO_TOPIC, DEMO_PARTITIONS, 1);
	fprintf(stderr,
	        "driftd demo: mock Kafka cluster at %s, topic %s (%d partitions)\n"
	        "driftd demo: producing %llu events for model fraud-scorer at %d/s; poisoning "
	        "episode at events 12000-15999 (amount x1.9, scores rise)\n",
	        bootstraps, DEMO_TOPIC, DEMO_PARTITIONS, so.n, DEMO_RATE);
	/* Produce while consuming, as a model server and driftd would; a timer bounds the demo
	 * if records were ever lost on the way. */
	struct producer_job job = {.bootstraps = bootstraps, .traffic = traffic, .len = len};
	pthread_t producer;
	if (pthread_create(&producer, NULL, producer_main, &job) != 0) {
		fprintf(stderr, "driftd demo: cannot start the producer\n");
		goto out;
	}
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	struct itimerspec deadline = {.it_value = {.tv_sec = 55}};
	if (tfd >= 0)
		timerfd_settime(tfd, 0, &deadline, NULL);
	fprintf(stderr, "driftd demo: %zu monitors; alerts follow on stdout\n", conf->n_monitors);
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct dd_kafka_opts ko = {.log = stderr,
	                           .brokers = bootstraps,
	                           .stop_after = so.n,
	                           .stop_fd = tfd,
	                           .stateless = true};
	struct dd_pipeline_opts po = {.log = stderr, .announce = true, .wall_clock = true};
	status = dd_serve(conf, &ko, &po); /* takes conf */
	conf = NULL;
	pthread_join(producer, NULL);
	if (tfd >= 0)
		close(tfd);
	if (job.rc < 0)
		status = DD_EXIT_FAIL;
out:
	if (mc)
		rd_kafka_mock_cluster_destroy(mc);
	if (host)
		rd_kafka_destroy(host);
	free(traffic);
	dd_config_free(conf);
	return status;
}
