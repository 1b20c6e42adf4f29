/* State snapshots of the whole pipeline: for every registered detector, and for each reference
 * and window policy, a pipeline stopped at event k, saved, dumped, parsed, loaded into a new
 * pipeline and fed the rest of the stream produces exactly the trace (every verdict, score to
 * the last bit) and the alerts of a pipeline that never stopped. Also: a changed definition
 * starts over, a bad document changes nothing and says where. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline.h"

#define N_EVENTS 900
#define SHIFT_AT 600

static struct dd_config *load(const char *text)
{
	struct dd_config *c = NULL;
	if (dd_config_parse("t.yaml", text, strlen(text), 0, stderr, &c) < 0)
		fail_msg("config rejected:\n%s", text);
	return c;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static double gauss(uint64_t *s)
{
	double u = unif(s), v = unif(s);
	return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

/* Event i: a number, a 0/1 error bit, a category and a 3-vector, all shifting at SHIFT_AT;
 * one second apart in event time. */
static void event(int i, char *buf, size_t size)
{
	uint64_t s = 0x5eed0000u + (uint64_t)i;
	double shift = i >= SHIFT_AT ? 1.5 : 0;
	double x = gauss(&s) + shift;
	int e = unif(&s) < (i >= SHIFT_AT ? 0.45 : 0.1);
	static const char *const cats[] = {"a", "b", "c", "d", "e"};
	int ci = (int)(unif(&s) * (i >= SHIFT_AT ? 5 : 3));
	snprintf(buf, size,
	         "{\"ts\":%lld,\"model\":{\"id\":\"m\"},\"input\":{\"x\":%.17g,\"e\":%d,"
	         "\"c\":\"%s\",\"v\":[%.17g,%.17g,%.17g]}}",
	         1795780800000LL + i * 1000LL, x, e, cats[ci], gauss(&s) + shift, gauss(&s),
	         gauss(&s) - shift);
}

struct run {
	struct dd_pipeline *p;
	char *trace, *alerts;
	size_t tlen, alen;
	FILE *tf, *af;
};

static void run_open(struct run *r, const struct dd_config *c)
{
	*r = (struct run){0};
	r->tf = open_memstream(&r->trace, &r->tlen);
	struct dd_pipeline_opts o = {.trace = r->tf, .defer_sinks = true};
	assert_int_equal(dd_pipeline_new(c, &o, &r->p), 0);
}

static void run_feed(struct run *r, int from, int to)
{
	char rec[512];
	for (int i = from; i < to; i++) {
		event(i, rec, sizeof(rec));
		struct dd_origin at = {
		    .input = "in", .line = (uint64_t)i + 1, .index = (uint64_t)i};
		assert_int_equal(dd_pipeline_feed(r->p, rec, strlen(rec), &at), 0);
	}
}

static void run_close(struct run *r)
{
	dd_pipeline_free(r->p);
	fclose(r->tf);
	free(r->trace);
}

/* Stop at k, save, dump with 17 digits, parse, load into a new pipeline, go on: same trace. */
static void check_roundtrip(const char *yaml, int k)
{
	struct dd_config *c = load(yaml);
	struct run whole, first, second;
	run_open(&whole, c);
	run_feed(&whole, 0, k);
	fflush(whole.tf);
	size_t at_k = whole.tlen; /* what the uninterrupted run writes from here on must match */
	run_feed(&whole, k, N_EVENTS);
	fflush(whole.tf);

	run_open(&first, c);
	run_feed(&first, 0, k);
	json_t *doc;
	assert_int_equal(dd_pipeline_save(first.p, &doc), 0);
	char *text = json_dumps(doc, JSON_SORT_KEYS | JSON_REAL_PRECISION(17) | JSON_COMPACT);
	assert_non_null(text);
	json_decref(doc);
	/* Saving twice gives the same bytes (equal states, equal files). */
	assert_int_equal(dd_pipeline_save(first.p, &doc), 0);
	char *again = json_dumps(doc, JSON_SORT_KEYS | JSON_REAL_PRECISION(17) | JSON_COMPACT);
	assert_string_equal(text, again);
	free(again);
	json_decref(doc);
	run_close(&first);

	json_error_t e;
	json_t *parsed = json_loads(text, 0, &e);
	assert_non_null(parsed);
	run_open(&second, c);
	struct dd_load_report rep;
	char why[512] = "";
	if (dd_pipeline_load(second.p, parsed, &rep, why, sizeof(why)) != 0)
		fail_msg("load at %d: %s\n%s", k, why, yaml);
	assert_int_equal(rep.restored, c->n_monitors);
	assert_int_equal(rep.fresh, 0);
	json_decref(parsed);
	free(text);
	run_feed(&second, k, N_EVENTS);
	fflush(second.tf);

	/* Verdicts written after event k (a group decides rounds of earlier events later). */
	char *want = strdup(whole.trace + at_k);
	if (strcmp(want, second.trace) != 0) {
		/* The first line that differs, for the message. */
		const char *a = want, *b = second.trace;
		while (*a && *a == *b)
			a++, b++;
		while (a > want && a[-1] != '\n')
			a--, b--;
		fail_msg(
		    "stopped at %d: traces differ at\n  whole:   %.200s\n  resumed: %.200s\n%s", k,
		    a, b, yaml);
	}
	assert_true(strlen(want) > 0);
	free(want);
	run_close(&whole);
	run_close(&second);
	dd_config_free(c);
}

static const char *field_for(const struct driftd_detector_ops *ops)
{
	static const char *const errstream[] = {"ddm", "eddm", "hddm_a", "hddm_w", NULL};
	for (size_t i = 0; errstream[i]; i++)
		if (strcmp(ops->name, errstream[i]) == 0)
			return "/input/e";
	if (ops->flags & DRIFTD_FLAG_NO_FIELD)
		return ""; /* model_identity: the event's metadata */
	/* confidence_shift takes probability vectors; the stream's 3-vectors are not */
	if (strcmp(ops->name, "confidence_shift") == 0)
		return "/input/x";
	if (ops->accepts & DRIFTD_ACCEPTS(DRIFTD_VALUE_VECTOR))
		return "/input/v";
	if (ops->accepts & DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER))
		return "/input/x";
	if (ops->accepts & DRIFTD_ACCEPTS(DRIFTD_VALUE_STRING))
		return "/input/c";
	return NULL;
}

static void test_every_detector_resumes_exactly(void **unused)
{
	size_t tested = 0;
	for (size_t d = 0; d < driftd_n_detectors; d++) {
		const struct driftd_detector_ops *ops = driftd_detectors[d];
		const char *f = field_for(ops);
		if (!f)
			continue;
		char fk[64] = "";
		if (*f)
			snprintf(fk, sizeof(fk), "field: %s, ", f);
		char yaml[1024];
		if (driftd_kind_uses_reference(ops->kind))
			snprintf(yaml, sizeof(yaml),
			         "monitors:\n  - {name: m-%s, %sdetector: %s,\n"
			         "     reference: {size: 200}, window: {size: 50}}\n",
			         ops->name, fk, ops->name);
		else
			snprintf(yaml, sizeof(yaml),
			         "monitors:\n  - {name: m-%s, %sdetector: %s}\n", ops->name, fk,
			         ops->name);
		/* In the reference, at a window's edge, inside a window, after the shift. */
		static const int ks[] = {123, 250, 437, 777};
		for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
			check_roundtrip(yaml, ks[i]);
		tested++;
	}
	assert_true(tested >= 20);
}

static void test_every_policy_resumes_exactly(void **unused)
{
	static const char *const monitors[] = {
	    "{name: calib, field: /input/x, detector: ks, params: {calibrate: 3},"
	    " reference: {size: 200}, window: {size: 50}}",
	    "{name: cum, field: /input/x, detector: wasserstein, cumulative: {k: 0.5, h: 4},"
	    " reference: {size: 200}, window: {size: 50}}",
	    "{name: slide, field: /input/x, detector: ks, reference: {size: 200},"
	    " window: {size: 60, step: 20}}",
	    "{name: slideref, field: /input/x, detector: psi, reference: {size: 150, sliding: "
	    "true},"
	    " window: {size: 50}}",
	    "{name: tw, field: /input/x, detector: ks, reference: {size: 100},"
	    " window: {duration: 45s}}",
	    "{name: tws, field: /input/x, detector: ks, reference: {size: 100},"
	    " window: {duration: 60s, step: 20s}}",
	    "{name: alerting, field: /input/x, detector: page_hinkley, for: 3, resolve_after: 20,"
	    " cooldown: 1m, params: {threshold: 8}}",
	    "{name: effect, field: /input/x, detector: ks, params: {min_effect: 0.2},"
	    " reference: {size: 200}, window: {size: 40}}",
	};
	for (size_t i = 0; i < sizeof(monitors) / sizeof(monitors[0]); i++) {
		char yaml[1024];
		snprintf(yaml, sizeof(yaml), "monitors:\n  - %s\n", monitors[i]);
		static const int ks[] = {99, 201, 333, 650};
		for (size_t j = 0; j < sizeof(ks) / sizeof(ks[0]); j++)
			check_roundtrip(yaml, ks[j]);
	}
}

/* Group rounds wait for every member: a member with smaller windows runs ahead and holds its
 * verdicts. Stopped anywhere, the held verdicts are in the state, and the resumed pipeline
 * decides the same rounds with the same adjusted p-values. */
static void test_group_rounds_resume_exactly(void **unused)
{
	static const char yaml[] =
	    "groups:\n  g: {correction: bh, alpha: 0.05}\n"
	    "monitors:\n"
	    "  - {name: fast, field: /input/x, detector: ks, group: g, reference: {size: 200},"
	    " window: {size: 25}}\n"
	    "  - {name: slow, field: /input/x, detector: cvm, group: g, reference: {size: 200},"
	    " window: {size: 100}}\n"
	    "  - {name: cat, field: /input/c, detector: chi2, group: g, reference: {size: 200},"
	    " window: {size: 50}}\n";
	static const int ks[] = {230, 260, 333, 444, 650, 701};
	for (size_t j = 0; j < sizeof(ks) / sizeof(ks[0]); j++)
		check_roundtrip(yaml, ks[j]);
}

/* A reload (adopt) keeps the verdicts held for unfinished rounds of a group that keeps its
 * name, for members whose definition did not change. */
static void test_adopt_keeps_group_rounds(void **unused)
{
	static const char yaml[] =
	    "groups:\n  g: {correction: bonferroni, alpha: 0.05}\n"
	    "monitors:\n"
	    "  - {name: fast, field: /input/x, detector: ks, group: g, reference: {size: 100},"
	    " window: {size: 10}}\n"
	    "  - {name: slow, field: /input/x, detector: ks, group: g, reference: {size: 100},"
	    " window: {size: 60}}\n";
	struct dd_config *c = load(yaml), *c2 = load(yaml);
	struct run a, b;
	run_open(&a, c);
	run_feed(&a, 0, 150); /* fast has closed 5 windows, slow none */
	json_t *before, *after;
	assert_int_equal(dd_pipeline_save(a.p, &before), 0);
	const json_t *held =
	    json_object_get(json_object_get(json_object_get(before, "groups"), "g"), "fast");
	assert_int_equal(json_array_size(held), 5);
	run_open(&b, c2);
	dd_pipeline_adopt(b.p, a.p);
	assert_int_equal(dd_pipeline_save(b.p, &after), 0);
	assert_true(
	    json_equal(json_object_get(before, "groups"), json_object_get(after, "groups")));
	json_decref(before);
	json_decref(after);
	run_close(&a);
	run_close(&b);
	dd_config_free(c);
	dd_config_free(c2);
}

static void test_changed_and_bad_documents(void **unused)
{
	struct dd_config *c = load("monitors:\n"
	                           "  - {name: a, field: /input/x, detector: ks,"
	                           " reference: {size: 100}, window: {size: 50}}\n"
	                           "  - {name: b, field: /input/x, detector: page_hinkley}\n");
	struct run r;
	run_open(&r, c);
	run_feed(&r, 0, 300);
	json_t *doc;
	assert_int_equal(dd_pipeline_save(r.p, &doc), 0);
	run_close(&r);

	/* a's window changes: a starts over, b keeps its state; an unknown monitor is dropped. */
	struct dd_config *c2 = load("monitors:\n"
	                            "  - {name: a, field: /input/x, detector: ks,"
	                            " reference: {size: 100}, window: {size: 40}}\n"
	                            "  - {name: b, field: /input/x, detector: page_hinkley,"
	                            " severity: critical}\n");
	json_object_set(json_object_get(doc, "monitors"), "gone",
	                json_object_get(json_object_get(doc, "monitors"), "b"));
	struct run r2;
	run_open(&r2, c2);
	struct dd_load_report rep;
	char why[512] = "";
	assert_int_equal(dd_pipeline_load(r2.p, doc, &rep, why, sizeof(why)), 0);
	assert_int_equal(rep.restored, 1);
	assert_int_equal(rep.changed, 1);
	assert_int_equal(rep.fresh, 1);
	assert_int_equal(rep.dropped, 1);
	run_close(&r2);

	/* Hostile documents: refused with the monitor and the problem; nothing changes. */
	struct {
		const char *path, *key;
		json_t *value;
		const char *why;
	} cases[] = {
	    {"a/monitor", "ref_n", json_integer(101), "counters"},
	    {"a/monitor", "phase", json_string("sideways"), "phase"},
	    {"a/monitor", "cusum", json_string("x"), "counters"},
	    {"a/monitor/detector", "data", json_string("!!!!"), "detector"},
	    {"a/monitor/detector", "data", json_string("AAAA"), "state refused"},
	    {"a/monitor/detector", "name", json_string("psi"), "not the state of a ks"},
	    {"b/alert", "breaches", json_integer(-1), "alert state"},
	    {"b/alert", "extra", json_true(), "alert state"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *bad = json_deep_copy(doc);
		json_t *at = json_object_get(bad, "monitors");
		char path[64];
		snprintf(path, sizeof(path), "%s", cases[i].path);
		for (char *tok = strtok(path, "/"); tok; tok = strtok(NULL, "/"))
			at = json_object_get(at, tok);
		assert_non_null(at);
		json_object_set_new(at, cases[i].key, cases[i].value);
		struct run r3;
		run_open(&r3, c);
		run_feed(&r3, 0, 10);
		why[0] = '\0';
		assert_int_equal(dd_pipeline_load(r3.p, bad, &rep, why, sizeof(why)), -EBADMSG);
		if (!strstr(why, cases[i].why) || strncmp(why, "monitor ", 8) != 0)
			fail_msg("case %zu: why '%s', wanted '%s'", i, why, cases[i].why);
		/* Unchanged: the pipeline goes on from its own 10 events. */
		json_t *mine;
		assert_int_equal(dd_pipeline_save(r3.p, &mine), 0);
		assert_int_equal(
		    json_integer_value(json_object_get(
		        json_object_get(json_object_get(json_object_get(mine, "monitors"), "a"),
		                        "monitor"),
		        "ref_n")),
		    10);
		json_decref(mine);
		run_close(&r3);
		json_decref(bad);
	}
	json_t *fmt = json_pack("{s:i, s:{}}", "format", 99, "monitors");
	struct run r4;
	run_open(&r4, c);
	assert_int_equal(dd_pipeline_load(r4.p, fmt, &rep, why, sizeof(why)), -EBADMSG);
	run_close(&r4);
	json_decref(fmt);
	json_decref(doc);
	dd_config_free(c);
	dd_config_free(c2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_detector_resumes_exactly),
	    cmocka_unit_test(test_every_policy_resumes_exactly),
	    cmocka_unit_test(test_group_rounds_resume_exactly),
	    cmocka_unit_test(test_adopt_keeps_group_rounds),
	    cmocka_unit_test(test_changed_and_bad_documents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
