/* The metrics sample (taken on the consume loop's thread) and its Prometheus text exposition
 * (format 0.0.4). Names follow Prometheus conventions: counters end in _total, base units
 * (seconds, bytes). Label values are monitor and sink names from the configuration, so the
 * number of series is bounded by the configuration, never by the traffic. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "metrics.h"

static int grow(void **arr, size_t *cap, size_t want, size_t elem)
{
	if (want <= *cap)
		return 0;
	size_t n = *cap ? *cap : 4;
	while (n < want)
		n *= 2;
	void *a = realloc(*arr, n * elem);
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = n;
	return 0;
}

static void copy_name(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

int dd_metrics_collect(struct dd_metrics_sample *s, const struct dd_pipeline *p,
                       struct dd_kafka_source *src)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->mono_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	dd_pipeline_stats(p, &s->pipe);
	if (src) {
		dd_kafka_source_stats(src, &s->kafka);
		s->lag = dd_kafka_source_lag(src);
	} else {
		s->lag = -1;
	}
	struct dd_pipeline_monitor_stats ms;
	size_t n = 0;
	while (dd_pipeline_monitor_stats(p, n, &ms))
		n++;
	if (grow((void **)&s->monitors, &s->cap_monitors, n, sizeof(*s->monitors)) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n && dd_pipeline_monitor_stats(p, i, &ms); i++) {
		struct dd_metrics_monitor *m = &s->monitors[i];
		copy_name(m->name, sizeof(m->name), ms.name);
		copy_name(m->detector, sizeof(m->detector), ms.detector);
		m->matched = ms.matched;
		m->used = ms.used;
		m->verdicts = ms.verdicts;
		m->drifts = ms.drifts;
		m->firing = ms.firing;
		m->has_verdict = ms.last.set;
		m->drift = ms.last.v.drift;
		m->score = ms.last.v.score;
		m->threshold = ms.last.v.threshold;
		m->p_value = ms.last.v.p_value;
		struct driftd_verdict mv;
		size_t parts = 0;
		m->has_merged = dd_pipeline_merged(p, i, &mv, &parts) == 0;
		m->merged_drift = mv.drift;
		m->merged_score = mv.score;
		m->merged_p_value = mv.p_value;
		m->merged_partitions = (uint32_t)parts;
	}
	s->n_monitors = n;
	s->n_sinks = 0;
	const struct driftd_sink_ops *ops;
	const char *name;
	void *state;
	for (size_t i = 0; dd_pipeline_sink_at(p, i, &ops, &name, &state); i++) {
		/* Sinks that queue (webhook, syslog: a durable outbox each) report their queue;
		 * stdout, file and journald deliver synchronously and count in the pipeline. */
		if (!ops->status)
			continue;
		struct driftd_sink_status st = {0};
		if (ops->status(state, &st) < 0)
			continue;
		struct dd_metrics_sink k = {.delivered = st.delivered,
		                            .failed = st.retries,
		                            .dropped = st.dead,
		                            .queued = st.pending,
		                            .queued_bytes = st.pending_bytes,
		                            .spool = true,
		                            .breaker_open = st.breaker_open};
		copy_name(k.name, sizeof(k.name), name);
		copy_name(k.type, sizeof(k.type), ops->name);
		if (grow((void **)&s->sinks, &s->cap_sinks, s->n_sinks + 1, sizeof(*s->sinks)) < 0)
			return -ENOMEM;
		s->sinks[s->n_sinks++] = k;
	}
	return 0;
}

static void add_counters(struct dd_pipeline_stats *acc, const struct dd_pipeline_stats *x)
{
	acc->records += x->records;
	acc->accepted += x->accepted;
	for (int r = 0; r < DD_REJECT__MAX; r++)
		acc->rejects[r] += x->rejects[r];
	for (int r = 0; r < DD_ADAPT__MAX; r++)
		acc->format_rejects[r] += x->format_rejects[r];
	acc->verdicts += x->verdicts;
	acc->fired += x->fired;
	acc->resolved += x->resolved;
	acc->detector_errors += x->detector_errors;
	acc->sink_errors += x->sink_errors;
}

static struct dd_metrics_sink *find_sink(const struct dd_metrics_sample *s, const char *name)
{
	for (size_t i = 0; i < s->n_sinks; i++)
		if (strcmp(s->sinks[i].name, name) == 0)
			return &s->sinks[i];
	return NULL;
}

int dd_metrics_carry(struct dd_metrics_sample *base, const struct dd_metrics_sample *old)
{
	add_counters(&base->pipe, &old->pipe);
	for (size_t i = 0; i < old->n_sinks; i++) {
		const struct dd_metrics_sink *o = &old->sinks[i];
		struct dd_metrics_sink *b = find_sink(base, o->name);
		if (!b) {
			if (grow((void **)&base->sinks, &base->cap_sinks, base->n_sinks + 1,
			         sizeof(*base->sinks)) < 0)
				return -ENOMEM;
			b = &base->sinks[base->n_sinks++];
			*b = (struct dd_metrics_sink){0};
			memcpy(b->name, o->name, sizeof(b->name));
		}
		b->delivered += o->delivered;
		b->failed += o->failed;
		b->dropped += o->dropped;
	}
	return 0;
}

void dd_metrics_rebase(struct dd_metrics_sample *s, const struct dd_metrics_sample *base)
{
	add_counters(&s->pipe, &base->pipe);
	for (size_t i = 0; i < s->n_sinks; i++) {
		const struct dd_metrics_sink *b = find_sink(base, s->sinks[i].name);
		if (b) {
			s->sinks[i].delivered += b->delivered;
			s->sinks[i].failed += b->failed;
			s->sinks[i].dropped += b->dropped;
		}
	}
}

int dd_metrics_sample_copy(struct dd_metrics_sample *dst, const struct dd_metrics_sample *src)
{
	if (grow((void **)&dst->monitors, &dst->cap_monitors, src->n_monitors,
	         sizeof(*dst->monitors)) < 0 ||
	    grow((void **)&dst->sinks, &dst->cap_sinks, src->n_sinks, sizeof(*dst->sinks)) < 0)
		return -ENOMEM;
	struct dd_metrics_monitor *mons = dst->monitors;
	struct dd_metrics_sink *sinks = dst->sinks;
	size_t cm = dst->cap_monitors, cs = dst->cap_sinks;
	*dst = *src;
	dst->monitors = mons;
	dst->sinks = sinks;
	dst->cap_monitors = cm;
	dst->cap_sinks = cs;
	if (src->n_monitors)
		memcpy(mons, src->monitors, src->n_monitors * sizeof(*mons));
	if (src->n_sinks)
		memcpy(sinks, src->sinks, src->n_sinks * sizeof(*sinks));
	return 0;
}

void dd_metrics_sample_free(struct dd_metrics_sample *s)
{
	free(s->monitors);
	free(s->sinks);
	*s = (struct dd_metrics_sample){0};
}

uint64_t dd_metrics_sink_errors(const struct dd_metrics_sample *s)
{
	uint64_t n = s->pipe.sink_errors;
	for (size_t i = 0; i < s->n_sinks; i++)
		n += s->sinks[i].failed + s->sinks[i].dropped;
	return n;
}

/* Label values: backslash, double quote and newline escaped (the text format's rules). */
static void label(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', out), fputc(*v, out);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static void head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *out, const char *name, const char *type, const char *help, uint64_t v)
{
	head(out, name, type, help);
	fprintf(out, "%s %" PRIu64 "\n", name, v);
}

static void num(FILE *out, double v)
{
	if (isnan(v))
		fputs("NaN", out);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", out);
	else
		fprintf(out, "%.17g", v);
}

/* A per-monitor family: `pick` returns false for monitors without a value. */
typedef bool (*mon_value)(const struct dd_metrics_monitor *m, double *v);
static void per_monitor(FILE *out, const struct dd_metrics_sample *s, const char *name,
                        const char *type, const char *help, mon_value pick)
{
	head(out, name, type, help);
	for (size_t i = 0; i < s->n_monitors; i++) {
		const struct dd_metrics_monitor *m = &s->monitors[i];
		double v;
		if (!pick(m, &v))
			continue;
		fprintf(out, "%s{monitor=\"", name);
		label(out, m->name);
		fputs("\",detector=\"", out);
		label(out, m->detector);
		fputs("\"} ", out);
		num(out, v);
		fputc('\n', out);
	}
}

static bool m_matched(const struct dd_metrics_monitor *m, double *v)
{
	*v = (double)m->matched;
	return true;
}
static bool m_used(const struct dd_metrics_monitor *m, double *v)
{
	*v = (double)m->used;
	return true;
}
static bool m_verdicts(const struct dd_metrics_monitor *m, double *v)
{
	*v = (double)m->verdicts;
	return true;
}
static bool m_drifts(const struct dd_metrics_monitor *m, double *v)
{
	*v = (double)m->drifts;
	return true;
}
static bool m_firing(const struct dd_metrics_monitor *m, double *v)
{
	*v = m->firing;
	return true;
}
static bool m_score(const struct dd_metrics_monitor *m, double *v)
{
	*v = m->score;
	return m->has_verdict;
}
static bool m_threshold(const struct dd_metrics_monitor *m, double *v)
{
	*v = m->threshold;
	return m->has_verdict;
}
static bool m_p_value(const struct dd_metrics_monitor *m, double *v)
{
	*v = m->p_value;
	return m->has_verdict && !isnan(m->p_value);
}
static bool m_drift(const struct dd_metrics_monitor *m, double *v)
{
	*v = m->drift;
	return m->has_verdict;
}

static bool m_merged_score(const struct dd_metrics_monitor *m, double *v)
{
	*v = m->merged_score;
	return m->has_merged;
}
static bool m_merged_p_value(const struct dd_metrics_monitor *m, double *v)
{
	*v = m->merged_p_value;
	return m->has_merged && !isnan(m->merged_p_value);
}
static bool m_merged_drift(const struct dd_metrics_monitor *m, double *v)
{
	*v = m->merged_drift;
	return m->has_merged;
}
static bool m_merged_partitions(const struct dd_metrics_monitor *m, double *v)
{
	*v = m->merged_partitions;
	return m->has_merged;
}

typedef uint64_t (*sink_value)(const struct dd_metrics_sink *k);
static void per_sink(FILE *out, const struct dd_metrics_sample *s, const char *name,
                     const char *type, const char *help, bool spool_only, sink_value pick)
{
	head(out, name, type, help);
	for (size_t i = 0; i < s->n_sinks; i++) {
		const struct dd_metrics_sink *k = &s->sinks[i];
		if (spool_only && !k->spool)
			continue;
		fprintf(out, "%s{sink=\"", name);
		label(out, k->name);
		fprintf(out, "\",type=\"%s\"} %" PRIu64 "\n", k->type, pick(k));
	}
}

static uint64_t k_delivered(const struct dd_metrics_sink *k)
{
	return k->delivered;
}
static uint64_t k_failed(const struct dd_metrics_sink *k)
{
	return k->failed;
}
static uint64_t k_dropped(const struct dd_metrics_sink *k)
{
	return k->dropped;
}
static uint64_t k_queued(const struct dd_metrics_sink *k)
{
	return k->queued;
}
static uint64_t k_queued_bytes(const struct dd_metrics_sink *k)
{
	return k->queued_bytes;
}
static uint64_t k_breaker(const struct dd_metrics_sink *k)
{
	return k->breaker_open;
}

void dd_metrics_render(const struct dd_metrics_sample *s, bool healthy, const char *version,
                       FILE *out)
{
	const struct dd_pipeline_stats *st = &s->pipe;
	head(out, "driftd_build_info", "gauge", "driftd's version; always 1.");
	fputs("driftd_build_info{version=\"", out);
	label(out, version);
	fputs("\"} 1\n", out);
	head(out, "driftd_start_time_seconds", "gauge", "When the process started (Unix time).");
	fprintf(out, "driftd_start_time_seconds %.3f\n", (double)s->start_ms / 1000.0);
	one(out, "driftd_healthy", "gauge",
	    "1 when /healthz answers 200: the loop is making progress and Kafka and sink errors "
	    "are within their limits.",
	    healthy);

	one(out, "driftd_events_total", "counter",
	    "Records offered to the pipeline, rejected ones included.", st->records);
	one(out, "driftd_events_accepted_total", "counter", "Records decoded and routed.",
	    st->accepted);
	head(out, "driftd_events_rejected_total", "counter",
	     "Records refused, by stage (format adapter or decoder) and reason.");
	for (int r = 1; r < DD_ADAPT__MAX; r++)
		fprintf(out,
		        "driftd_events_rejected_total{stage=\"format\",reason=\"%s\"} %" PRIu64
		        "\n",
		        dd_adapt_reject_name((enum dd_adapt_reject)r), st->format_rejects[r]);
	for (int r = 1; r < DD_REJECT__MAX; r++)
		fprintf(out,
		        "driftd_events_rejected_total{stage=\"decode\",reason=\"%s\"} %" PRIu64
		        "\n",
		        dd_reject_name((enum dd_reject)r), st->rejects[r]);

	one(out, "driftd_kafka_records_total", "counter", "Records consumed from Kafka.",
	    s->kafka.records);
	one(out, "driftd_kafka_errors_total", "counter",
	    "Consumer errors reported by librdkafka (brokers down, authentication, ...).",
	    s->kafka.errors);
	one(out, "driftd_kafka_offsets_stored_total", "counter",
	    "Offsets stored for commit (records fully processed).", s->kafka.stored);
	one(out, "driftd_kafka_assigned_partitions", "gauge", "Partitions assigned to this member.",
	    (uint64_t)(s->kafka.assigned > 0 ? s->kafka.assigned : 0));
	if (s->lag >= 0)
		one(out, "driftd_kafka_consumer_lag", "gauge",
		    "Records behind the high watermark, summed over the assigned partitions.",
		    (uint64_t)s->lag);

	per_monitor(out, s, "driftd_monitor_events_total", "counter",
	            "Events that matched the monitor.", m_matched);
	per_monitor(out, s, "driftd_monitor_values_total", "counter",
	            "Values that reached the monitor's detector.", m_used);
	per_monitor(out, s, "driftd_monitor_verdicts_total", "counter",
	            "Verdicts the monitor's detector reached.", m_verdicts);
	per_monitor(out, s, "driftd_monitor_drifts_total", "counter", "Verdicts that found drift.",
	            m_drifts);
	per_monitor(out, s, "driftd_monitor_score", "gauge",
	            "The detector's statistic at its last verdict.", m_score);
	per_monitor(out, s, "driftd_monitor_threshold", "gauge",
	            "The limit the score was compared with at the last verdict.", m_threshold);
	per_monitor(out, s, "driftd_monitor_p_value", "gauge",
	            "The p-value of the last verdict (tests that have one).", m_p_value);
	per_monitor(out, s, "driftd_monitor_drift", "gauge", "1 when the last verdict found drift.",
	            m_drift);
	per_monitor(out, s, "driftd_monitor_firing", "gauge",
	            "1 while the monitor's alert is firing.", m_firing);
	per_monitor(out, s, "driftd_monitor_merged_score", "gauge",
	            "The statistic over the current windows of every partition held, merged "
	            "(mergeable detectors with one reference).",
	            m_merged_score);
	per_monitor(out, s, "driftd_monitor_merged_p_value", "gauge",
	            "The p-value of the merged view (tests that have one).", m_merged_p_value);
	per_monitor(out, s, "driftd_monitor_merged_drift", "gauge",
	            "1 when the merged view finds drift.", m_merged_drift);
	per_monitor(out, s, "driftd_monitor_merged_partitions", "gauge",
	            "Partitions the merged view covers.", m_merged_partitions);

	one(out, "driftd_verdicts_total", "counter", "Detector verdicts, all monitors.",
	    st->verdicts);
	one(out, "driftd_alerts_fired_total", "counter",
	    "Firing notifications (self-alerts included).", st->fired);
	one(out, "driftd_alerts_resolved_total", "counter", "Resolved notifications.",
	    st->resolved);
	one(out, "driftd_alerts_firing", "gauge", "Monitors whose alert is firing now.",
	    st->firing);
	one(out, "driftd_alerts_suppressed", "gauge",
	    "Notifications held back by cooldowns, carried by the next notification.",
	    st->suppressed);
	one(out, "driftd_notifications_total", "counter",
	    "Alerts handed to the sinks (firing and resolved).", st->fired + st->resolved);
	one(out, "driftd_sink_errors_total", "counter",
	    "Alerts a sink could not take (formatting or spooling failed).", st->sink_errors);
	one(out, "driftd_detector_errors_total", "counter", "Detector failures.",
	    st->detector_errors);

	per_sink(out, s, "driftd_sink_delivered_total", "counter",
	         "Alerts the receiver accepted (webhook 2xx, syslog sent).", false, k_delivered);
	per_sink(out, s, "driftd_sink_failures_total", "counter",
	         "Delivery attempts that failed and are retried.", false, k_failed);
	per_sink(out, s, "driftd_sink_dropped_total", "counter", "Alerts given up: dead letters.",
	         false, k_dropped);
	per_sink(out, s, "driftd_sink_queue_depth", "gauge", "Alerts waiting for the receiver.",
	         false, k_queued);
	per_sink(out, s, "driftd_spool_messages", "gauge", "Alerts in the durable spool.", true,
	         k_queued);
	per_sink(out, s, "driftd_spool_bytes", "gauge", "Size of the durable spool on disk.", true,
	         k_queued_bytes);
	per_sink(out, s, "driftd_sink_circuit_open", "gauge",
	         "1 while the sink's circuit breaker is open (or the endpoint answered 410).", true,
	         k_breaker);

	head(out, "driftd_reloads_total", "counter", "Configuration reloads (SIGHUP) by result.");
	fprintf(out, "driftd_reloads_total{result=\"success\"} %" PRIu64 "\n", s->reloads);
	fprintf(out, "driftd_reloads_total{result=\"failure\"} %" PRIu64 "\n", s->reload_failures);
}
