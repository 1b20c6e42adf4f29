/* `driftd run`: service mode. Signals are taken through a signalfd (blocked before librdkafka
 * starts its threads, so they all inherit the mask), which the consume loop polls: no signal
 * handler, no global flag. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "cli.h"
#include "config.h"
#include "kafka_source.h"
#include "pipeline.h"

/* The whole service: pipeline + Kafka source until stopped; shared with the demo. */
int dd_serve(const struct dd_config *conf, const struct dd_kafka_opts *ko,
             const struct dd_pipeline_opts *po)
{
	struct dd_pipeline *p = NULL;
	struct dd_kafka_source *src = NULL;
	char err[512];
	int rc = dd_pipeline_new(conf, po, &p);
	if (rc < 0) {
		fprintf(stderr, "driftd: cannot start the pipeline: %s\n", strerror(-rc));
		return DD_EXIT_FAIL;
	}
	rc = dd_kafka_source_new(conf, ko, &src, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "driftd: %s\n", err);
		dd_pipeline_free(p);
		return DD_EXIT_FAIL;
	}
	fprintf(stderr, "driftd: consuming %s from %s as group %s\n", conf->kafka.topics[0],
	        ko->brokers ? ko->brokers : conf->kafka.brokers, conf->kafka.group);
	/* Configuration loaded, monitors built, consumer subscribed: ready (systemd Type=notify;
	 * a no-op elsewhere). */
	sd_notifyf(0, "READY=1\nSTATUS=consuming %s as group %s", conf->kafka.topics[0],
	           conf->kafka.group);
	rc = dd_kafka_source_run(src, p);
	sd_notify(0, "STOPPING=1");
	int status = rc < 0 ? DD_EXIT_FAIL : DD_EXIT_OK;
	if (rc < 0)
		fprintf(stderr, "driftd: consumer stopped: %s\n", strerror(-rc));
	/* Alerts first, then offsets: an offset is committed only for records whose alerts
	 * have been handed to the sinks. */
	if (dd_pipeline_flush(p) < 0)
		status = DD_EXIT_FAIL;
	if (dd_kafka_source_close(src) < 0)
		status = DD_EXIT_FAIL;
	struct dd_kafka_stats ks;
	dd_kafka_source_stats(src, &ks);
	dd_pipeline_summary(p, stderr);
	fprintf(stderr,
	        "driftd: kafka: %llu records, %llu offsets stored, %llu consumer errors, %llu "
	        "unpaired halves (%llu still pending)\n",
	        (unsigned long long)ks.records, (unsigned long long)ks.stored,
	        (unsigned long long)ks.errors, (unsigned long long)ks.unpaired,
	        (unsigned long long)ks.pending);
	dd_kafka_source_free(src);
	dd_pipeline_free(p);
	return status;
}

int dd_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"trace", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *config = NULL, *trace = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 't':
			trace = optarg;
			break;
		case 'h':
			puts("Usage: driftd [run] -c FILE [--trace FILE]\n"
			     "\n"
			     "Service mode: consume inference logs from source.kafka (a consumer "
			     "in group\n"
			     "source.kafka.group), run the monitors, raise alerts. At least once: "
			     "a record's\n"
			     "offset is committed only after it went through every monitor. "
			     "SIGTERM or\n"
			     "SIGINT: stop fetching, finish the record in hand, flush sinks, "
			     "commit, exit 0.");
			return DD_EXIT_OK;
		default:
			return DD_EXIT_USAGE;
		}
	}
	if (!config) {
		fprintf(stderr, "Usage: driftd [run] -c FILE\n");
		return DD_EXIT_USAGE;
	}
	struct dd_config *conf = NULL;
	if (dd_config_load(config, 0, stderr, &conf) < 0)
		return DD_EXIT_FAIL;
	if (!conf->has_kafka) {
		fprintf(stderr,
		        "driftd run: %s has no source.kafka; use `driftd replay` for files\n",
		        config);
		dd_config_free(conf);
		return DD_EXIT_FAIL;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		fprintf(stderr, "driftd run: signalfd: %s\n", strerror(errno));
		dd_config_free(conf);
		return DD_EXIT_FAIL;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	FILE *tf = NULL;
	if (trace) {
		tf = fopen(trace, "ae");
		if (!tf) {
			fprintf(stderr, "driftd run: %s: %s\n", trace, strerror(errno));
			close(sfd);
			dd_config_free(conf);
			return DD_EXIT_FAIL;
		}
		/* Line by line: a verdict is in the file before its offset can be committed. */
		setvbuf(tf, NULL, _IOLBF, 0);
	}
	struct dd_kafka_opts ko = {.log = stderr, .stop_fd = sfd};
	/* Shutdown lets network sinks deliver for 5 s (the unit's TimeoutStopSec is 30 s); what
	 * is left stays in their spools for the next start. */
	struct dd_pipeline_opts po = {
	    .log = stderr, .trace = tf, .wall_clock = true, .flush_timeout_ms = 5000};
	int status = dd_serve(conf, &ko, &po);
	if (tf && fclose(tf) != 0)
		status = DD_EXIT_FAIL;
	close(sfd);
	dd_config_free(conf);
	return status;
}
