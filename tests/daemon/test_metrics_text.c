/* The metrics exposition and the counter carry-over across reloads (daemon/metrics_text.c),
 * on synthetic samples: what Prometheus will read, line by line. The live endpoint is tested
 * against a real broker and the official parser in tests/integration/test_metrics.py. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "metrics.h"

static char *render(const struct dd_metrics_sample *s, bool healthy)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	dd_metrics_render(s, healthy, "9.9.9", f);
	fclose(f);
	return buf;
}

static void has_line(const char *text, const char *line)
{
	char want[512];
	snprintf(want, sizeof(want), "\n%s\n", line);
	if (!strstr(text, want))
		fail_msg("missing line '%s' in:\n%s", line, text);
}

static void sample(struct dd_metrics_sample *s)
{
	*s = (struct dd_metrics_sample){.start_ms = 1795780800123, .lag = 42};
	s->pipe.records = 1000;
	s->pipe.accepted = 990;
	s->pipe.rejects[DD_REJECT_SYNTAX] = 7;
	s->pipe.format_rejects[DD_ADAPT_TOMBSTONE] = 3;
	s->pipe.fired = 2;
	s->pipe.resolved = 1;
	s->pipe.firing = 1;
	s->pipe.sink_errors = 4;
	s->kafka.records = 1000;
	s->kafka.errors = 5;
	s->kafka.assigned = 3;
	s->n_monitors = s->cap_monitors = 2;
	s->monitors = calloc(2, sizeof(*s->monitors));
	s->monitors[0] = (struct dd_metrics_monitor){.name = "ks-amount",
	                                             .detector = "ks",
	                                             .matched = 990,
	                                             .verdicts = 4,
	                                             .has_verdict = true,
	                                             .score = 0.25,
	                                             .threshold = 0.001,
	                                             .p_value = 1e-12,
	                                             .drift = true,
	                                             .firing = true};
	s->monitors[0].has_merged = true;
	s->monitors[0].merged_score = 0.5;
	s->monitors[0].merged_p_value = NAN;
	s->monitors[0].merged_partitions = 3;
	s->monitors[1] = (struct dd_metrics_monitor){
	    .name = "ph", .detector = "page_hinkley", .has_verdict = true, .p_value = NAN};
	s->n_sinks = s->cap_sinks = 1;
	s->sinks = calloc(1, sizeof(*s->sinks));
	s->sinks[0] = (struct dd_metrics_sink){.name = "webhook",
	                                       .type = "webhook",
	                                       .delivered = 2,
	                                       .failed = 6,
	                                       .dropped = 1,
	                                       .queued = 1,
	                                       .queued_bytes = 900,
	                                       .spool = true};
}

static void exposition(void **state)
{
	(void)state;
	struct dd_metrics_sample s;
	sample(&s);
	char *t = render(&s, true);
	has_line(t, "driftd_build_info{version=\"9.9.9\"} 1");
	has_line(t, "driftd_start_time_seconds 1795780800.123");
	has_line(t, "driftd_healthy 1");
	has_line(t, "# TYPE driftd_events_total counter");
	has_line(t, "driftd_events_total 1000");
	has_line(t, "driftd_events_rejected_total{stage=\"decode\",reason=\"syntax\"} 7");
	has_line(t, "driftd_events_rejected_total{stage=\"format\",reason=\"tombstone\"} 3");
	has_line(t, "driftd_kafka_consumer_lag 42");
	has_line(t, "driftd_kafka_assigned_partitions 3");
	has_line(t, "driftd_monitor_score{monitor=\"ks-amount\",detector=\"ks\"} 0.25");
	has_line(
	    t,
	    "driftd_monitor_p_value{monitor=\"ks-amount\",detector=\"ks\"} 9.9999999999999998e-13");
	has_line(t, "driftd_monitor_firing{monitor=\"ks-amount\",detector=\"ks\"} 1");
	has_line(t, "driftd_monitor_drift{monitor=\"ph\",detector=\"page_hinkley\"} 0");
	/* The merged view where there is one; none for a detector that does not merge. */
	has_line(t, "driftd_monitor_merged_score{monitor=\"ks-amount\",detector=\"ks\"} 0.5");
	has_line(t, "driftd_monitor_merged_partitions{monitor=\"ks-amount\",detector=\"ks\"} 3");
	assert_null(strstr(t, "driftd_monitor_merged_p_value{monitor=\"ks-amount\""));
	assert_null(strstr(t, "driftd_monitor_merged_score{monitor=\"ph\""));
	/* A verdict without a p-value has no p-value series (not NaN). */
	assert_null(strstr(t, "driftd_monitor_p_value{monitor=\"ph\""));
	has_line(t, "driftd_notifications_total 3");
	has_line(t, "driftd_spool_messages{sink=\"webhook\",type=\"webhook\"} 1");
	has_line(t, "driftd_spool_bytes{sink=\"webhook\",type=\"webhook\"} 900");
	has_line(t, "driftd_reloads_total{result=\"failure\"} 0");
	/* Every sample line belongs to a family announced by # TYPE before it. */
	char *save = NULL, *copy = strdup(t);
	char family[128] = "";
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "# TYPE ", 7) == 0) {
			sscanf(l + 7, "%127s", family);
			continue;
		}
		if (l[0] == '#')
			continue;
		assert_int_equal(strncmp(l, family, strlen(family)), 0);
	}
	free(copy);
	free(t);
	/* Unknown lag: no lag series rather than a made-up number. */
	s.lag = -1;
	t = render(&s, false);
	assert_null(strstr(t, "driftd_kafka_consumer_lag "));
	has_line(t, "driftd_healthy 0");
	free(t);
	dd_metrics_sample_free(&s);
}

static void carry_over_reloads(void **state)
{
	(void)state;
	struct dd_metrics_sample old, base = {0}, now = {0};
	sample(&old);
	assert_int_equal(dd_metrics_carry(&base, &old), 0);
	assert_int_equal(dd_metrics_carry(&base, &old), 0); /* two reloads */
	assert_int_equal(dd_metrics_sample_copy(&now, &old), 0);
	now.pipe.firing = 1;
	dd_metrics_rebase(&now, &base);
	assert_int_equal(now.pipe.records, 3000);
	assert_int_equal(now.pipe.rejects[DD_REJECT_SYNTAX], 21);
	assert_int_equal(now.pipe.fired, 6);
	assert_int_equal(now.pipe.firing, 1); /* a gauge: not carried */
	assert_int_equal(now.sinks[0].delivered, 6);
	assert_int_equal(now.sinks[0].failed, 18);
	assert_int_equal(now.sinks[0].queued, 1); /* a gauge */
	assert_int_equal(dd_metrics_sink_errors(&now), 4 * 3 + 18 + 3);
	dd_metrics_sample_free(&old);
	dd_metrics_sample_free(&base);
	dd_metrics_sample_free(&now);
}

/* Figures, not assertions: what a publish (the copy under the try-lock, on the consume loop)
 * and a render (on the server thread) cost for 100 monitors and 4 sinks. */
static void cost(void **state)
{
	(void)state;
	struct dd_metrics_sample s = {.lag = 1}, dst = {0};
	s.n_monitors = s.cap_monitors = 100;
	s.monitors = calloc(100, sizeof(*s.monitors));
	for (int i = 0; i < 100; i++) {
		snprintf(s.monitors[i].name, sizeof(s.monitors[i].name), "monitor-%03d", i);
		snprintf(s.monitors[i].detector, sizeof(s.monitors[i].detector), "ks");
		s.monitors[i].has_verdict = true;
		s.monitors[i].score = 0.1 * i;
		s.monitors[i].p_value = 0.5;
	}
	s.n_sinks = s.cap_sinks = 4;
	s.sinks = calloc(4, sizeof(*s.sinks));
	for (int i = 0; i < 4; i++)
		snprintf(s.sinks[i].name, sizeof(s.sinks[i].name), "webhook#%d", i);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int k = 0; k < 1000; k++)
		assert_int_equal(dd_metrics_sample_copy(&dst, &s), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double copy_us =
	    ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1000 / 1e3;
	clock_gettime(CLOCK_MONOTONIC, &a);
	size_t bytes = 0;
	for (int k = 0; k < 100; k++) {
		char *t = render(&s, true);
		bytes = strlen(t);
		free(t);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double render_us =
	    ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 100 / 1e3;
	printf("# 100 monitors, 4 sinks: publish copy %.2f us, render %.0f us (%zu bytes)\n",
	       copy_us, render_us, bytes);
	dd_metrics_sample_free(&s);
	dd_metrics_sample_free(&dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(exposition),
	    cmocka_unit_test(carry_over_reloads),
	    cmocka_unit_test(cost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
