/* Pipeline and monitors: routing by `match`, reference then tumbling windows, per-monitor
 * skip counts, reject counting with locations, alerts on the file sink. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pipeline.h"

static struct dd_config *load(const char *text)
{
	struct dd_config *c = NULL;
	if (dd_config_parse("t.yaml", text, strlen(text), 0, stderr, &c) < 0)
		fail_msg("config rejected");
	return c;
}

static void feed(struct dd_pipeline *p, const char *rec, uint64_t *idx)
{
	struct dd_origin at = {.input = "in.jsonl", .line = *idx + 1, .index = *idx};
	assert_int_equal(dd_pipeline_feed(p, rec, strlen(rec), &at), 0);
	(*idx)++;
}

static void test_windows_and_routing(void **unused)
{
	char path[] = "/tmp/driftd-test-alerts-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	char text[1024];
	snprintf(
	    text, sizeof(text),
	    "monitors:\n"
	    "  - {name: a, match: {model: m1}, field: /input/x, detector: psi,\n"
	    "     params: {threshold: 0.5, bins: 4}, reference: {size: 8}, window: {size: 4}}\n"
	    "  - {name: b, match: {model: m2}, field: /input/x, detector: page_hinkley}\n"
	    "alerts: {sinks: [{file: {path: %s}}]}\n",
	    path);
	struct dd_config *c = load(text);
	char *log = NULL, *trace = NULL;
	size_t loglen = 0, tracelen = 0;
	FILE *lf = open_memstream(&log, &loglen), *tf = open_memstream(&trace, &tracelen);
	struct dd_pipeline_opts o = {.log = lf, .trace = tf, .reject_log_limit = 2};
	struct dd_pipeline *p;
	assert_int_equal(dd_pipeline_new(c, &o, &p), 0);
	uint64_t idx = 0;
	char rec[256];
	/* reference: 8 values 0..7 for m1 */
	for (int i = 0; i < 8; i++) {
		snprintf(rec, sizeof(rec), "{\"model\":{\"id\":\"m1\"},\"input\":{\"x\":%d}}", i);
		feed(p, rec, &idx);
	}
	feed(p, "{\"model\":{\"id\":\"m1\"},\"input\":{}}", &idx);            /* missing */
	feed(p, "{\"model\":{\"id\":\"m1\"},\"input\":{\"x\":\"a\"}}", &idx); /* wrong type */
	feed(p, "not json", &idx);                                            /* syntax */
	feed(p, "[]", &idx);                                                  /* not_object */
	feed(p, "{}", &idx);                                                  /* no_model */
	feed(p, "{\"model\":{\"id\":\"m2\"},\"input\":{\"x\":1}}", &idx);     /* routed to b */
	/* window 1: all values far above the reference: psi must breach 0.5 */
	for (int i = 0; i < 4; i++)
		feed(p, "{\"model\":{\"id\":\"m1\"},\"input\":{\"x\":100}}", &idx);
	/* window 2: like the reference: resolves */
	for (int i = 0; i < 4; i++) {
		snprintf(rec, sizeof(rec), "{\"model\":{\"id\":\"m1\"},\"input\":{\"x\":%d}}",
		         2 * i);
		feed(p, rec, &idx);
	}
	assert_int_equal(dd_pipeline_flush(p), 0);
	struct dd_pipeline_stats stats;
	dd_pipeline_stats(p, &stats);
	const struct dd_pipeline_stats *st = &stats;
	assert_int_equal(st->records, idx);
	assert_int_equal(st->accepted, idx - 3);
	assert_int_equal(st->rejects[DD_REJECT_SYNTAX], 1);
	assert_int_equal(st->rejects[DD_REJECT_NOT_OBJECT], 1);
	assert_int_equal(st->rejects[DD_REJECT_NO_MODEL], 1);
	assert_int_equal(st->verdicts, 2 + 1); /* two psi windows, one page_hinkley value */
	assert_int_equal(st->fired, 1);
	assert_int_equal(st->resolved, 1);
	dd_pipeline_summary(p, lf);
	dd_pipeline_free(p);
	fclose(lf);
	fclose(tf);
	assert_non_null(strstr(log, "in.jsonl:11: record rejected: syntax"));
	assert_non_null(strstr(log, "missing=1 wrong_type=1"));
	/* the first window closes at record 17 (0-based 8 ref + 6 others + 4 window - 1) */
	assert_non_null(strstr(trace, "{\"monitor\":\"a\",\"event.index\":17,"));
	assert_non_null(strstr(trace, "{\"monitor\":\"b\",\"event.index\":13,"));

	FILE *af = fopen(path, "r");
	char line[4096];
	assert_non_null(fgets(line, sizeof(line), af));
	assert_non_null(strstr(line, "\"status\":\"firing\""));
	assert_non_null(strstr(line, "\"event.index\":17"));
	assert_non_null(strstr(line, "\"model.id\":\"m1\""));
	assert_non_null(fgets(line, sizeof(line), af));
	assert_non_null(strstr(line, "\"status\":\"resolved\""));
	assert_null(fgets(line, sizeof(line), af));
	fclose(af);
	unlink(path);
	free(log);
	free(trace);
	dd_config_free(c);
}

static void test_dry_run_goes_to_the_journal_only(void **unused)
{
	char path[] = "/tmp/driftd-test-dry-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	char text[512];
	snprintf(text, sizeof(text),
	         "monitors:\n"
	         "  - {name: a, field: /input/x, detector: page_hinkley, dry_run: true,\n"
	         "     params: {threshold: 1, min_instances: 5}}\n"
	         "alerts: {sinks: [{file: {path: %s}}]}\n",
	         path);
	struct dd_config *c = load(text);
	char *log = NULL;
	size_t len = 0;
	FILE *lf = open_memstream(&log, &len);
	struct dd_pipeline_opts o = {.log = lf};
	struct dd_pipeline *p;
	assert_int_equal(dd_pipeline_new(c, &o, &p), 0);
	uint64_t idx = 0;
	char rec[128];
	for (int i = 0; i < 40; i++) {
		snprintf(rec, sizeof(rec), "{\"model\":{\"id\":\"m\"},\"input\":{\"x\":%d}}",
		         i < 20 ? 0 : 10);
		feed(p, rec, &idx);
	}
	struct dd_pipeline_stats st;
	dd_pipeline_stats(p, &st);
	dd_pipeline_free(p);
	fclose(lf);
	assert_true(st.fired >= 1);
	assert_non_null(strstr(log, "driftd: dry-run a firing: "));
	FILE *af = fopen(path, "r");
	char line[64];
	assert_null(fgets(line, sizeof(line), af)); /* nothing reached the file sink */
	fclose(af);
	unlink(path);
	free(log);
	dd_config_free(c);
}

static void test_adopt_keeps_unchanged_monitors(void **unused)
{
	/* Both monitors learn a reference of 8 values; after a "reload" where 'a' only changed
	 * its severity and 'b' changed its detector parameters, 'a' reaches its first verdict
	 * after one window and 'b' starts over with a new reference. */
	/* 'leak' has a list parameter: equal by content across the two loads, so it is kept
	 * (with its state: the leak seen before the reload still holds) and must not point into
	 * the first configuration, which is freed. */
	const char *v1 = "monitors:\n"
	                 "  - {name: a, field: /x, detector: psi, reference: {size: 8},\n"
	                 "     window: {size: 4}}\n"
	                 "  - {name: b, field: /x, detector: psi, reference: {size: 8},\n"
	                 "     window: {size: 4}}\n"
	                 "  - {name: leak, field: /t, detector: canary, params: {tokens: [S3]}}\n";
	const char *v2 = "monitors:\n"
	                 "  - {name: a, field: /x, detector: psi, reference: {size: 8},\n"
	                 "     window: {size: 4}, severity: critical}\n"
	                 "  - {name: b, field: /x, detector: psi, reference: {size: 8},\n"
	                 "     window: {size: 4}, params: {bins: 4}}\n"
	                 "  - {name: leak, field: /t, detector: canary, params: {tokens: [S3]}}\n";
	struct dd_config *c1 = load(v1), *c2 = load(v2);
	struct dd_pipeline *p1, *p2;
	char *trace = NULL;
	size_t tlen = 0;
	FILE *tf = open_memstream(&trace, &tlen);
	struct dd_pipeline_opts o = {.trace = tf};
	assert_int_equal(dd_pipeline_new(c1, &o, &p1), 0);
	uint64_t idx = 0;
	char rec[128];
	for (int i = 0; i < 8; i++) {
		snprintf(rec, sizeof(rec), "{\"model\":{\"id\":\"m\"},\"x\":%d%s}", i,
		         i == 7 ? ",\"t\":\"a S3 leak\"" : "");
		feed(p1, rec, &idx);
	}
	assert_int_equal(dd_pipeline_new(c2, &o, &p2), 0);
	assert_int_equal(dd_pipeline_adopt(p2, p1), 2);
	dd_pipeline_free(p1);
	dd_config_free(c1);
	for (int i = 0; i < 4; i++) {
		snprintf(rec, sizeof(rec), "{\"model\":{\"id\":\"m\"},\"x\":%d,\"t\":\"%s\"}", i,
		         i == 3 ? "S3 again" : "fine");
		feed(p2, rec, &idx);
	}
	fflush(tf);
	assert_non_null(strstr(trace, "{\"monitor\":\"a\",\"event.index\":11,"));
	assert_null(strstr(trace, "\"monitor\":\"b\""));
	/* the leak at 7 still holds at 8 (state kept), and the tokens are the new config's */
	assert_non_null(strstr(trace, "{\"monitor\":\"leak\",\"event.index\":8,\"score\":1,"));
	assert_non_null(strstr(trace, "{\"monitor\":\"leak\",\"event.index\":11,\"score\":1,"));
	dd_pipeline_free(p2);
	fclose(tf);
	free(trace);
	dd_config_free(c2);
}

static void test_reject_log_is_rate_limited(void **unused)
{
	struct dd_config *c =
	    load("monitors: [{name: a, field: /input/x, detector: page_hinkley}]\n");
	char *log = NULL;
	size_t len = 0;
	FILE *lf = open_memstream(&log, &len);
	struct dd_pipeline_opts o = {.log = lf, .reject_log_limit = 3};
	struct dd_pipeline *p;
	assert_int_equal(dd_pipeline_new(c, &o, &p), 0);
	uint64_t idx = 0;
	for (int i = 0; i < 1000; i++)
		feed(p, "{", &idx);
	struct dd_pipeline_stats st;
	dd_pipeline_stats(p, &st);
	assert_int_equal(st.rejects[DD_REJECT_SYNTAX], 1000);
	dd_pipeline_free(p);
	fclose(lf);
	int lines = 0;
	for (char *s = log; (s = strchr(s, '\n')); s++)
		lines++;
	assert_int_equal(lines, 3);
	assert_non_null(strstr(log, "further rejects of this kind are only counted"));
	free(log);
	dd_config_free(c);
}

/* Security detectors through the pipeline: a field-less monitor, per-event verdicts, the
 * detector's tags instead of the drift tags, evidence in output_fields, a canary leak raised
 * to Critical. */
static void test_security_alerts(void **unused)
{
	char path[] = "/tmp/driftd-test-alerts-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	char text[1024];
	snprintf(text, sizeof(text),
	         "monitors:\n"
	         "  - {name: id, detector: model_identity,\n"
	         "     params: {inventory: [{id: m, sha256: aa}]}}\n"
	         "  - {name: leak, field: /output/text, detector: canary,\n"
	         "     params: {tokens: [SECRET-CANARY]}, severity: notice, tags: [team:llm]}\n"
	         "alerts: {sinks: [{file: {path: %s}}]}\n",
	         path);
	struct dd_config *c = load(text);
	struct dd_pipeline_opts o = {0};
	struct dd_pipeline *p;
	assert_int_equal(dd_pipeline_new(c, &o, &p), 0);
	uint64_t idx = 0;
	for (int i = 0; i < 5; i++)
		feed(p,
		     "{\"model\":{\"id\":\"m\",\"sha256\":\"AA\"},\"client\":{\"id\":\"k1\"},"
		     "\"output\":{\"text\":\"hello\"}}",
		     &idx);
	feed(p,
	     "{\"model\":{\"id\":\"m\",\"sha256\":\"aa\"},\"client\":{\"id\":\"k2\"},"
	     "\"output\":{\"text\":\"psst SECRET-CANARY\"}}",
	     &idx);
	feed(p, "{\"model\":{\"id\":\"m\",\"sha256\":\"bb\"},\"output\":{\"text\":\"x\"}}", &idx);
	assert_int_equal(dd_pipeline_flush(p), 0);
	dd_pipeline_free(p);
	dd_config_free(c);

	FILE *af = fopen(path, "r");
	char line[4096];
	assert_non_null(fgets(line, sizeof(line), af));
	assert_non_null(strstr(line, "\"rule\":\"leak\""));
	assert_non_null(strstr(line, "\"priority\":\"Critical\""));
	assert_non_null(strstr(line, "\"event.index\":5"));
	assert_non_null(strstr(line, "\"client.id\":\"k2\""));
	assert_non_null(strstr(line, "\"canary.token\":\"SEC...\""));
	assert_null(strstr(line, "SECRET-CANARY"));
	assert_non_null(strstr(line, "\"tags\":[\"security\",\"threat:prompt_injection\""));
	assert_non_null(strstr(line, "\"team:llm\""));
	assert_null(strstr(line, "threat:data_poisoning"));
	assert_non_null(fgets(line, sizeof(line), af));
	assert_non_null(strstr(line, "\"rule\":\"id\""));
	assert_non_null(strstr(line, "\"event.index\":6"));
	assert_non_null(strstr(line, "\"model.sha256\":\"bb\""));
	assert_non_null(strstr(line, "\"field\":null"));
	assert_non_null(strstr(line, "\"threat:model_tampering\""));
	assert_non_null(strstr(line, "\"etsi:5.2.1-2\""));
	assert_null(fgets(line, sizeof(line), af));
	fclose(af);
	unlink(path);
}

/* A model version change is always an alert; the policy decides what happens to the state. */
static void test_on_model_change(void **unused)
{
	char path[] = "/tmp/driftd-test-omc-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	char text[1024];
	snprintf(
	    text, sizeof(text),
	    "monitors:\n"
	    "  - {name: a, field: /input/x, detector: page_hinkley}\n"
	    "  - {name: r, field: /input/x, detector: page_hinkley, on_model_change: rescope}\n"
	    "  - {name: k, field: /input/x, detector: page_hinkley, on_model_change: keep}\n"
	    "  - {name: pinned, match: {model_version: '1'}, field: /input/x,"
	    " detector: page_hinkley}\n"
	    "alerts: {sinks: [{file: {path: %s}}]}\n",
	    path);
	struct dd_config *c = load(text);
	struct dd_pipeline_opts o = {0};
	struct dd_pipeline *p;
	assert_int_equal(dd_pipeline_new(c, &o, &p), 0);
	uint64_t idx = 0;
	char rec[256];
	for (int i = 0; i < 60; i++) {
		snprintf(rec, sizeof(rec),
		         "{\"model\":{\"id\":\"m\",\"version\":\"%s\"},\"input\":{\"x\":%d}}",
		         i < 30 ? "1" : "2", i % 3);
		feed(p, rec, &idx);
	}
	assert_int_equal(dd_pipeline_flush(p), 0);
	json_t *doc;
	assert_int_equal(dd_pipeline_save(p, &doc), 0);
	const json_t *mons = json_object_get(doc, "monitors");
#define MATCHED(name)                                                                              \
	json_integer_value(                                                                        \
	    json_object_get(json_object_get(json_object_get(mons, name), "monitor"), "matched"))
	assert_int_equal(MATCHED("a"), 60);
	assert_int_equal(MATCHED("r"), 30); /* started over at the change */
	assert_int_equal(MATCHED("k"), 60);
	assert_int_equal(MATCHED("pinned"), 30);
#undef MATCHED
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_object_get(mons, "a"), "monitor"), "model_version")),
	    "2");
	json_decref(doc);
	dd_pipeline_free(p);
	dd_config_free(c);

	json_error_t e;
	FILE *f = fopen(path, "r");
	char line[4096];
	const char *want_prio[] = {"Warning", "Notice", "Informational"};
	const char *want_mon[] = {"a", "r", "k"};
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		json_t *a = json_loads(line, 0, &e);
		assert_non_null(a);
		if (strcmp(json_string_value(json_object_get(a, "rule")), "driftd.model_changed")) {
			json_decref(a);
			continue;
		}
		assert_true(n < 3);
		const json_t *of = json_object_get(a, "output_fields");
		assert_string_equal(json_string_value(json_object_get(of, "monitor")), want_mon[n]);
		assert_string_equal(json_string_value(json_object_get(a, "priority")),
		                    want_prio[n]);
		assert_string_equal(
		    json_string_value(json_object_get(of, "model.version.previous")), "1");
		assert_string_equal(json_string_value(json_object_get(of, "model.version")), "2");
		assert_non_null(strstr(json_string_value(json_object_get(a, "output")),
		                       "changed version from 1 to 2"));
		json_decref(a);
		n++;
	}
	fclose(f);
	unlink(path);
	assert_int_equal(n, 3);
}

/* A version longer than the copy kept (multi-byte, cut at a character): the same version is
 * never a change, one differing only in its last byte is, and the state still saves. */
static void test_long_model_version(void **unused)
{
	struct dd_config *c =
	    load("monitors:\n  - {name: a, field: /input/x, detector: page_hinkley}\n"
	         "alerts: {sinks: []}\n");
	char *log = NULL;
	size_t loglen = 0;
	FILE *lf = open_memstream(&log, &loglen);
	struct dd_pipeline_opts o = {.log = lf, .announce = true};
	struct dd_pipeline *p;
	assert_int_equal(dd_pipeline_new(c, &o, &p), 0);
	char v1[256] = "", v2[256], rec[512];
	for (int i = 0; i < 100; i++)
		strcat(v1, "\xc3\xa9");
	strcpy(v2, v1);
	v2[strlen(v2) - 1] = '\xa8'; /* the last character differs */
	uint64_t idx = 0;
	for (int i = 0; i < 40; i++) {
		snprintf(rec, sizeof(rec),
		         "{\"model\":{\"id\":\"m\",\"version\":\"%s\"},\"input\":{\"x\":1}}",
		         i < 30 ? v1 : v2);
		feed(p, rec, &idx);
	}
	json_t *doc;
	assert_int_equal(dd_pipeline_save(p, &doc), 0);
	json_decref(doc);
	dd_pipeline_free(p);
	dd_config_free(c);
	fclose(lf);
	int n = 0;
	for (const char *q = log; (q = strstr(q, "driftd.model_changed")); q++)
		n++;
	assert_int_equal(n, 1);
	free(log);
}

/* A model id longer than the alert keeps, made of multi-byte characters: the alert is cut at
 * a character, never left without its sentence or model.id (jansson refuses broken UTF-8). */
static void test_long_multibyte_model_id(void **unused)
{
	char path[] = "/tmp/driftd-test-utf8-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	char text[512];
	snprintf(text, sizeof(text),
	         "monitors:\n  - {name: a, field: /input/x, detector: page_hinkley,"
	         " params: {threshold: 5, min_instances: 5}}\n"
	         "alerts: {sinks: [{file: {path: %s}}]}\n",
	         path);
	struct dd_config *c = load(text);
	struct dd_pipeline_opts o = {0};
	struct dd_pipeline *p;
	assert_int_equal(dd_pipeline_new(c, &o, &p), 0);
	char id[300] = "", rec[512];
	for (int i = 0; i < 140; i++)
		strcat(id, "\xc3\xa9"); /* é */
	uint64_t idx = 0;
	for (int i = 0; i < 60; i++) {
		snprintf(rec, sizeof(rec), "{\"model\":{\"id\":\"%s\"},\"input\":{\"x\":%d}}", id,
		         i < 30 ? 0 : 50);
		feed(p, rec, &idx);
	}
	assert_int_equal(dd_pipeline_flush(p), 0);
	dd_pipeline_free(p);
	dd_config_free(c);
	FILE *f = fopen(path, "r");
	char line[8192];
	int n = 0;
	json_error_t e;
	while (fgets(line, sizeof(line), f)) {
		json_t *a = json_loads(line, 0, &e);
		assert_non_null(a);
		const char *out = json_string_value(json_object_get(a, "output"));
		const char *mid = json_string_value(
		    json_object_get(json_object_get(a, "output_fields"), "model.id"));
		assert_non_null(out);
		assert_non_null(mid);
		assert_true(strlen(mid) > 0 && strncmp(mid, id, strlen(mid)) == 0);
		json_decref(a);
		n++;
	}
	fclose(f);
	unlink(path);
	assert_true(n >= 1);
}

/* A sink that refuses alerts (here a full disk: /dev/full) does not lose them: they wait in
 * the pipeline, dd_pipeline_undelivered says so (state snapshots wait), a reload hands them to
 * the new pipeline, and the next tick delivers them to the sink of the same name. */
static void test_refused_alerts_are_retried(void **unused)
{
	static const char mons[] =
	    "monitors:\n  - {name: a, field: /input/x, detector: page_hinkley,"
	    " params: {threshold: 5, min_instances: 5}}\n";
	char text[512];
	snprintf(text, sizeof(text), "%salerts: {sinks: [{file: {path: /dev/full}}]}\n", mons);
	struct dd_config *c = load(text);
	char *log = NULL;
	size_t loglen = 0;
	FILE *lf = open_memstream(&log, &loglen);
	struct dd_pipeline_opts o = {.log = lf};
	struct dd_pipeline *p;
	assert_int_equal(dd_pipeline_new(c, &o, &p), 0);
	uint64_t idx = 0;
	char rec[256];
	for (int i = 0; i < 60; i++) {
		snprintf(rec, sizeof(rec),
		         "{\"ts\":%d000,\"model\":{\"id\":\"m\"},\"input\":{\"x\":%d}}", i,
		         i < 30 ? 0 : 50);
		feed(p, rec, &idx);
	}
	struct dd_pipeline_stats st;
	dd_pipeline_stats(p, &st);
	assert_true(st.fired >= 1);
	uint64_t waiting = dd_pipeline_undelivered(p);
	assert_int_equal(waiting, st.fired + st.resolved);
	fflush(lf);
	assert_non_null(strstr(log, "No space left on device (retried every second)"));

	/* A reload to a working file sink of the same name: the new pipeline takes them over
	 * and delivers them at its next tick. */
	char path[] = "/tmp/driftd-test-retry-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	snprintf(text, sizeof(text), "%salerts: {sinks: [{file: {path: %s}}]}\n", mons, path);
	struct dd_config *c2 = load(text);
	struct dd_pipeline *p2;
	assert_int_equal(dd_pipeline_new(c2, &o, &p2), 0);
	dd_pipeline_adopt(p2, p);
	assert_int_equal(dd_pipeline_undelivered(p), 0);
	assert_int_equal(dd_pipeline_undelivered(p2), waiting);
	dd_pipeline_free(p);
	dd_pipeline_tick(p2, 1795780800000LL);
	assert_int_equal(dd_pipeline_undelivered(p2), 0);
	assert_int_equal(dd_pipeline_flush(p2), 0);
	FILE *f = fopen(path, "r");
	char line[4096];
	uint64_t n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "\"rule\":\"a\"") != NULL;
	fclose(f);
	unlink(path);
	assert_int_equal(n, waiting);
	dd_pipeline_free(p2);
	dd_config_free(c);
	dd_config_free(c2);
	fclose(lf);
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_windows_and_routing),
	    cmocka_unit_test(test_reject_log_is_rate_limited),
	    cmocka_unit_test(test_on_model_change),
	    cmocka_unit_test(test_long_multibyte_model_id),
	    cmocka_unit_test(test_long_model_version),
	    cmocka_unit_test(test_refused_alerts_are_retried),
	    cmocka_unit_test(test_dry_run_goes_to_the_journal_only),
	    cmocka_unit_test(test_adopt_keeps_unchanged_monitors),
	    cmocka_unit_test(test_security_alerts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
