/* `driftd run`: service mode. Signals are taken through a signalfd (blocked before librdkafka
 * starts its threads, so they all inherit the mask), which the consume loop polls: no signal
 * handler, no global flag. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "alert.h"

#include "cli.h"
#include "config.h"
#include "kafka_source.h"
#include "metrics.h"
#include "pipeline.h"
#include "state_store.h"

/* One line in the audit trail (EN 304 223 5.2.4-3): on stderr, which the journal keeps under
 * systemd, and as a journal entry of its own MESSAGE_ID when a journal is there. */
#define DD_AUDIT_MESSAGE_ID "2b0b99dd6ebf4c639f1182995b0e3f9c"
__attribute__((format(printf, 1, 2))) static void audit(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "driftd: audit: %s\n", msg);
	sd_journal_send("MESSAGE=driftd audit: %s", msg, "MESSAGE_ID=" DD_AUDIT_MESSAGE_ID,
	                "PRIORITY=5", "SYSLOG_IDENTIFIER=driftd", NULL);
}

static uint64_t monotonic_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* SIGHUP: validate the new configuration completely, then swap; monitors whose definition did
 * not change keep their detector and alert state. An invalid configuration keeps the running
 * one and raises driftd.reload_failed. */
static bool reload(const char *path, struct dd_config **conf, struct dd_pipeline **p,
                   struct dd_kafka_source *src, const struct dd_pipeline_opts *po)
{
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
	           (unsigned long long)monotonic_usec(), path);
	char *diag = NULL;
	size_t dlen = 0;
	FILE *df = open_memstream(&diag, &dlen);
	struct dd_config *nc = NULL;
	int rc = dd_config_load(path, 0, df ? df : stderr, &nc);
	if (df)
		fclose(df);
	while (diag && dlen && diag[dlen - 1] == '\n')
		diag[--dlen] = '\0';
	struct dd_pipeline *np = NULL;
	struct dd_pipeline_opts npo = *po;
	npo.defer_sinks = true;
	if (rc == 0 && (rc = dd_pipeline_new(nc, &npo, &np)) < 0 && diag == NULL)
		diag = strdup("cannot build the new pipeline");
	if (rc == 0) {
		/* The sinks change hands: the old ones deliver what they can and let go of their
		 * spools, then the new ones open; should they fail, the old ones come back. */
		dd_pipeline_flush(*p);
		dd_pipeline_close_sinks(*p);
		rc = dd_pipeline_open_sinks(np);
		if (rc < 0) {
			dd_pipeline_free(np);
			np = NULL;
			if (!diag)
				diag = strdup("cannot open the new configuration's sinks");
			if (dd_pipeline_open_sinks(*p) < 0)
				fprintf(stderr,
				        "driftd: cannot reopen the sinks: alerts go to the log "
				        "only\n");
		}
	}
	if (rc < 0) {
		if (diag && *diag)
			fprintf(stderr, "%s\n", diag);
		audit("reload of %s refused, the running configuration stays: %s", path,
		      diag ? diag : strerror(-rc));
		char out[512];
		snprintf(out, sizeof(out),
		         "Configuration reload refused; still running the previous one: %s",
		         diag ? diag : strerror(-rc));
		static const char *const tags[] = {"threat:monitor_integrity", "etsi:5.2.4-3",
		                                   NULL};
		char episode[32];
		snprintf(episode, sizeof(episode), "%lld", (long long)wall_ms());
		json_t *f = json_object();
		json_object_set_new(f, "config", json_string(path));
		json_object_set_new(f, "error", json_string(diag ? diag : strerror(-rc)));
		struct dd_self_alert sa = {.rule = "driftd.reload_failed",
		                           .status = "firing",
		                           .severity = DD_SEV_ERROR,
		                           .key = path,
		                           .episode = episode,
		                           .output = out,
		                           .tags = tags,
		                           .fields = f,
		                           .time_ms = wall_ms()};
		dd_pipeline_self_alert(*p, &sa);
		dd_config_free(nc);
		free(diag);
		sd_notify(0, "READY=1\nSTATUS=reload refused; previous configuration running");
		return false;
	}
	free(diag);
	size_t kept = dd_pipeline_adopt(np, *p);
	dd_pipeline_free(*p);
	if (nc->has_kafka && (strcmp(nc->kafka.brokers, (*conf)->kafka.brokers) ||
	                      strcmp(nc->kafka.group, (*conf)->kafka.group) ||
	                      strcmp(nc->kafka.format, (*conf)->kafka.format)))
		fprintf(stderr, "driftd: source.kafka changes take effect at the next restart\n");
	if (!(*conf)->state_kafka_topic != !nc->state_kafka_topic ||
	    (nc->state_kafka_topic &&
	     strcmp(nc->state_kafka_topic, (*conf)->state_kafka_topic) != 0))
		fprintf(stderr,
		        "driftd: state.kafka_topic changes take effect at the next restart\n");
	dd_kafka_source_set_config(src, nc);
	audit("configuration reloaded from %s: %zu monitors, %zu kept their state, %zu start over",
	      path, nc->n_monitors, kept, nc->n_monitors - kept);
	dd_config_free(*conf);
	*conf = nc;
	*p = np;
	sd_notify(0, "READY=1\nSTATUS=configuration reloaded");
	return true;
}

/* What the consume loop publishes to the metrics endpoint once a second. */
struct run_metrics {
	struct dd_metrics *server;
	struct dd_metrics_sample sample;
	uint64_t reloads, reload_failures;
	int64_t start_ms;
	/* Counters of the pipelines and sinks that reloads replaced (dd_metrics_carry). */
	struct dd_metrics_sample base, old;
	/* systemd STATUS= every few seconds: records and time at the last one. */
	uint64_t status_records;
	int64_t status_ms;
};

#define DD_STATUS_NOTIFY_MS 5000

/* The one-line summary `systemctl status` shows. */
static void status_notify(struct run_metrics *rm, int64_t now_ms)
{
	const struct dd_metrics_sample *s = &rm->sample;
	if (rm->status_ms && now_ms - rm->status_ms < DD_STATUS_NOTIFY_MS)
		return;
	double rate = rm->status_ms && now_ms > rm->status_ms
	                  ? (double)(s->kafka.records - rm->status_records) * 1000.0 /
	                        (double)(now_ms - rm->status_ms)
	                  : 0.0;
	uint64_t spool = 0;
	for (size_t i = 0; i < s->n_sinks; i++)
		spool += s->sinks[i].queued;
	char lag[32] = "?";
	if (s->lag >= 0)
		snprintf(lag, sizeof(lag), "%lld", (long long)s->lag);
	sd_notifyf(0,
	           "STATUS=%.0f events/s, lag %s, %llu firing, spool %llu; %llu events, %d "
	           "partitions",
	           rate, lag, (unsigned long long)s->pipe.firing, (unsigned long long)spool,
	           (unsigned long long)s->kafka.records, s->kafka.assigned);
	rm->status_ms = now_ms;
	rm->status_records = s->kafka.records;
}

static void metrics_tick(void *arg, struct dd_kafka_source *src, struct dd_pipeline *p,
                         int64_t now_ms)
{
	struct run_metrics *rm = arg;
	if (dd_metrics_collect(&rm->sample, p, src) < 0)
		return;
	dd_metrics_rebase(&rm->sample, &rm->base);
	rm->sample.start_ms = rm->start_ms;
	rm->sample.reloads = rm->reloads;
	rm->sample.reload_failures = rm->reload_failures;
	dd_metrics_publish(rm->server, &rm->sample);
	if (now_ms > 0)
		status_notify(rm, now_ms);
}

/* Restore the newest usable snapshot of <state.dir>/state/<group> into the pipeline and hand its
 * positions to the source. A generation that does not verify is skipped for the one before,
 * with a self-alert: never a crash, never a silent reset. */
static int open_state(const struct dd_config *conf, struct dd_pipeline *p,
                      struct dd_kafka_source *src, struct dd_state_store **ret)
{
	struct dd_state_store *st = NULL;
	int rc = dd_state_open(conf->state_dir, conf->kafka.group, stderr, &st);
	if (rc < 0) {
		fprintf(stderr, "driftd: state: cannot use %s/state/%s: %s\n", conf->state_dir,
		        conf->kafka.group,
		        rc == -EBUSY ? "another driftd of this group uses it" : strerror(-rc));
		return rc;
	}
	/* A large state takes a while to read: tell systemd the start goes on. */
	sd_notify(0, "EXTEND_TIMEOUT_USEC=120000000\nSTATUS=restoring state");
	struct dd_positions pos = {0};
	struct dd_restore_report r;
	rc = dd_state_restore(st, p, &pos, &r);
	/* -EBADMSG: generations exist and none is usable (reported below, fresh start). Any
	 * other error (cannot read the directory) must not start fresh: later snapshots would
	 * push the good generations out. */
	if (rc < 0 && rc != -EBADMSG) {
		fprintf(stderr, "driftd: state: %s\n", strerror(-rc));
		dd_state_close(st);
		return rc;
	}
	if (r.found)
		audit("state restored from %s generation %llu: %zu partitions resume; %zu monitor "
		      "states resume, %zu start over (%zu changed definition), %zu no longer "
		      "configured%s",
		      dd_state_dir(st), (unsigned long long)r.generation, pos.n, r.load.restored,
		      r.load.fresh, r.load.changed, r.load.dropped,
		      r.seed ? "; partitions without state start from the seed" : "");
	else if (rc == 0)
		fprintf(stderr, "driftd: state: none in %s yet: monitors start from scratch\n",
		        dd_state_dir(st));
	if (r.skipped) {
		audit("state: %u snapshot generation%s unusable (%s)%s", r.skipped,
		      r.skipped == 1 ? "" : "s", r.why,
		      r.found ? "" : ": no usable state, monitors start from scratch");
		char out[1400];
		if (r.found)
			snprintf(out, sizeof(out),
			         "State snapshot unusable, fell back to generation %llu: %s",
			         (unsigned long long)r.generation, r.why);
		else
			snprintf(out, sizeof(out),
			         "No usable state snapshot: monitors start from scratch (%s)",
			         r.why);
		json_t *f = json_object();
		json_object_set_new(f, "state.dir", json_string(dd_state_dir(st)));
		json_object_set_new(f, "skipped", json_integer(r.skipped));
		json_object_set_new(f, "generation", json_integer((json_int_t)r.generation));
		json_object_set_new(f, "error", json_string(r.why));
		static const char *const tags[] = {"threat:monitor_integrity", "etsi:5.2.1-3",
		                                   NULL};
		char episode[32];
		snprintf(episode, sizeof(episode), "%lld", (long long)wall_ms());
		struct dd_self_alert sa = {.rule = "driftd.state_restore_fallback",
		                           .status = "firing",
		                           .severity = r.found ? DD_SEV_WARNING : DD_SEV_CRITICAL,
		                           .key = dd_state_dir(st),
		                           .episode = episode,
		                           .output = out,
		                           .tags = tags,
		                           .fields = f,
		                           .time_ms = wall_ms()};
		dd_pipeline_self_alert(p, &sa);
	}
	dd_kafka_source_set_state(src, st, &pos, r.skipped > 0);
	*ret = st;
	return 0;
}

/* The whole service: pipeline + Kafka source until stopped; shared with the demo. Takes the
 * configuration (a reload replaces it). */
int dd_serve(struct dd_config *conf, const struct dd_kafka_opts *ko,
             const struct dd_pipeline_opts *po)
{
	struct dd_pipeline *p = NULL;
	struct dd_kafka_source *src = NULL;
	char err[512];
	int rc = dd_pipeline_new(conf, po, &p);
	if (rc < 0) {
		fprintf(stderr, "driftd: cannot start the pipeline: %s\n", strerror(-rc));
		dd_config_free(conf);
		return DD_EXIT_FAIL;
	}
	struct run_metrics rm = {.start_ms = wall_ms()};
	struct dd_kafka_opts kopts = *ko;
	if (ko->serve_metrics && conf->metrics_listen) {
		/* Metrics are a window on the service, not part of it: without them (the port
		 * is taken, say) the service still runs, and says so. */
		struct dd_metrics_health h = {.error_window_ms = conf->metrics_error_window_ms,
		                              .max_kafka_errors = conf->metrics_max_kafka_errors,
		                              .max_sink_errors = conf->metrics_max_sink_errors,
		                              .stall_ms = 30000};
		if (dd_metrics_start(conf->metrics_listen, &h, stderr, &rm.server) == 0) {
			fprintf(stderr, "driftd: metrics on http://%s/metrics\n",
			        conf->metrics_listen);
		} else {
			fprintf(stderr, "driftd: running without metrics\n");
		}
	}
	if (ko->serve_metrics) {
		/* Also the STATUS= summary, with or without the endpoint. */
		kopts.tick = metrics_tick;
		kopts.tick_arg = &rm;
	}
	ko = &kopts;
	rc = dd_kafka_source_new(conf, ko, &src, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "driftd: %s\n", err);
		dd_metrics_stop(rm.server);
		dd_pipeline_free(p);
		dd_config_free(conf);
		return DD_EXIT_FAIL;
	}
	struct dd_state_store *state = NULL;
	if (!ko->stateless && (rc = open_state(conf, p, src, &state)) < 0) {
		dd_metrics_stop(rm.server);
		dd_kafka_source_free(src);
		dd_pipeline_free(p);
		dd_config_free(conf);
		return DD_EXIT_FAIL;
	}
	if (kopts.tick)
		metrics_tick(&rm, src, p, 0); /* a first sample before READY */
	fprintf(stderr, "driftd: consuming %s from %s as group %s\n", conf->kafka.topics[0],
	        ko->brokers ? ko->brokers : conf->kafka.brokers, conf->kafka.group);
	/* Configuration loaded, monitors built, consumer subscribed: ready (systemd Type=notify;
	 * a no-op elsewhere). */
	sd_notifyf(0, "READY=1\nSTATUS=consuming %s as group %s", conf->kafka.topics[0],
	           conf->kafka.group);
	for (;;) {
		rc = dd_kafka_source_run(src, p);
		if (rc != 1 || !ko->reload_path)
			break;
		struct signalfd_siginfo si;
		if (read(ko->stop_fd, &si, sizeof(si)) != (ssize_t)sizeof(si) ||
		    si.ssi_signo != SIGHUP)
			break;
		if (kopts.tick)
			dd_metrics_collect(&rm.old, p, src);
		if (reload(ko->reload_path, &conf, &p, src, po)) {
			rm.reloads++;
			if (kopts.tick)
				dd_metrics_carry(&rm.base, &rm.old);
		} else
			rm.reload_failures++;
		if (kopts.tick)
			metrics_tick(&rm, src, p, 0);
	}
	sd_notify(0, "STOPPING=1");
	int status = rc < 0 ? DD_EXIT_FAIL : DD_EXIT_OK;
	if (rc < 0)
		fprintf(stderr, "driftd: consumer stopped: %s\n", strerror(-rc));
	/* Alerts first, then the state and its offsets: an offset is committed only for
	 * records whose alerts have been handed to the sinks and whose effect on the monitors
	 * is in a durable snapshot. */
	if (dd_pipeline_flush(p) < 0)
		status = DD_EXIT_FAIL;
	if (dd_kafka_source_snapshot(src, p, true) < 0)
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
	fprintf(stderr,
	        "driftd: state: %llu snapshots written (generation %llu), %llu failed, %llu "
	        "records below the state's position (offset resets)\n",
	        (unsigned long long)ks.snapshots, (unsigned long long)ks.generation,
	        (unsigned long long)ks.snapshot_failures, (unsigned long long)ks.rewound);
	dd_metrics_stop(rm.server);
	dd_metrics_sample_free(&rm.sample);
	dd_metrics_sample_free(&rm.base);
	dd_metrics_sample_free(&rm.old);
	dd_kafka_source_free(src);
	dd_state_close(state);
	dd_pipeline_free(p);
	dd_config_free(conf);
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
	sigaddset(&mask, SIGHUP); /* reload */
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
	struct dd_kafka_opts ko = {
	    .log = stderr, .stop_fd = sfd, .reload_path = config, .serve_metrics = true};
	/* Shutdown lets network sinks deliver for 5 s (the unit's TimeoutStopSec is 30 s); what
	 * is left stays in their spools for the next start. */
	struct dd_pipeline_opts po = {.log = stderr,
	                              .trace = tf,
	                              .wall_clock = true,
	                              .flush_timeout_ms = 5000,
	                              .partitioned = true};
	int status = dd_serve(conf, &ko, &po); /* takes conf */
	if (tf && fclose(tf) != 0)
		status = DD_EXIT_FAIL;
	close(sfd);
	return status;
}
