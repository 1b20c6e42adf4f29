/* State per partition: a partitioned pipeline keeps one shard per source partition, and each
 * shard is exactly the pipeline that partition alone would have built (same verdicts to the
 * last bit); alerts stay one per fingerprint across partitions; a partition's state moves
 * between pipelines (instances) through the state document and goes on exactly; a document of
 * format 1 seeds partitions that have no state of their own. */
#define _GNU_SOURCE /* memmem */
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

#include <unistd.h>

#include "baseline.h"
#include "pipeline.h"
#include "state_store.h"

#define TOPIC "logs"

static const char yaml[] =
    "monitors:\n"
    "  - {name: ks-x, field: /x, detector: ks, params: {alpha: 0.001}, reference: {size: 200},"
    " window: {size: 100}}\n"
    "  - {name: ph-x, field: /x, detector: page_hinkley}\n"
    "alerts: {sinks: []}\n";

static struct dd_config *load(void)
{
	struct dd_config *c = NULL;
	if (dd_config_parse("t.yaml", yaml, strlen(yaml), 0, stderr, &c) < 0)
		fail_msg("config rejected");
	return c;
}

/* Record i of partition part: standard normal, shifted by 3 while shift_from <= i < shift_to. */
static void record(int part, int i, int shift_from, int shift_to, char *buf, size_t size)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) + (uint64_t)part * 7919u;
	s ^= s >> 31;
	s *= 0xbf58476d1ce4e5b9ull;
	s ^= s >> 29;
	double u = (double)((s >> 11) | 1) / 9007199254740992.0;
	s *= 0x94d049bb133111ebull;
	s ^= s >> 32;
	double v = (double)(s >> 11) / 9007199254740992.0;
	double x = sqrt(-2 * log(u)) * cos(2 * M_PI * v);
	if (i >= shift_from && i < shift_to)
		x += 3;
	snprintf(buf, size, "{\"ts\":%lld,\"model\":{\"id\":\"m\"},\"x\":%.17g}",
	         1795780800000LL + i * 1000LL, x);
}

struct run {
	struct dd_pipeline *p;
	char *trace;
	size_t tlen;
	FILE *tf;
	unsigned firing, resolved;
	unsigned ks_firing, ks_resolved; /* of monitor ks-x */
};

static void on_alert(void *arg, const json_t *a)
{
	struct run *r = arg;
	const char *rule = json_string_value(json_object_get(a, "rule"));
	if (!rule || strncmp(rule, "driftd.", 7) == 0)
		return;
	bool firing = strcmp(json_string_value(json_object_get(a, "status")), "firing") == 0;
	bool ks = strcmp(rule, "ks-x") == 0;
	r->firing += firing;
	r->resolved += !firing;
	r->ks_firing += firing && ks;
	r->ks_resolved += !firing && ks;
}

static void run_open(struct run *r, const struct dd_config *c, bool partitioned)
{
	*r = (struct run){0};
	r->tf = open_memstream(&r->trace, &r->tlen);
	struct dd_pipeline_opts o = {.trace = r->tf,
	                             .defer_sinks = true,
	                             .partitioned = partitioned,
	                             .on_alert = on_alert,
	                             .on_alert_arg = r};
	assert_int_equal(dd_pipeline_new(c, &o, &r->p), 0);
}

static void feed(struct run *r, int part, int from, int to, int shift_from, int shift_to)
{
	char rec[256];
	for (int i = from; i < to; i++) {
		record(part, i, shift_from, shift_to, rec, sizeof(rec));
		struct dd_origin at = {.kafka = true,
		                       .topic = TOPIC,
		                       .partition = part,
		                       .offset = i,
		                       .index = (uint64_t)i};
		assert_int_equal(dd_pipeline_feed(r->p, rec, strlen(rec), &at), 0);
	}
}

/* The trace lines of one partition (a new string). */
static char *lines_of(struct run *r, int part)
{
	fflush(r->tf);
	char key[48];
	snprintf(key, sizeof(key), "\"kafka.partition\":%d,", part);
	char *out = calloc(1, r->tlen + 1);
	size_t n = 0;
	for (const char *l = r->trace; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) + 1 : strlen(l);
		if (memmem(l, len, key, strlen(key))) {
			memcpy(out + n, l, len);
			n += len;
		}
		l += len;
	}
	return out;
}

static void run_close(struct run *r)
{
	dd_pipeline_free(r->p);
	fclose(r->tf);
	free(r->trace);
}

/* Two partitions interleaved: each one's verdicts are those of a pipeline that saw only it. */
static void test_partitions_are_separate(void **unused)
{
	(void)unused;
	struct dd_config *c = load();
	struct run both, alone0, alone1;
	run_open(&both, c, true);
	run_open(&alone0, c, false);
	run_open(&alone1, c, false);
	for (int k = 0; k < 1200; k += 50) {
		feed(&both, 0, k, k + 50, 600, 2000);
		feed(&both, 1, k, k + 50, 2000, 2000);
	}
	feed(&alone0, 0, 0, 1200, 600, 2000);
	feed(&alone1, 1, 0, 1200, 2000, 2000);
	struct dd_pipeline_stats st;
	dd_pipeline_stats(both.p, &st);
	assert_int_equal(st.shards, 2);
	for (int part = 0; part < 2; part++) {
		char *a = lines_of(&both, part), *b = lines_of(part ? &alone1 : &alone0, part);
		assert_true(strlen(a) > 1000);
		assert_string_equal(a, b);
		free(a);
		free(b);
	}
	/* Only partition 0 shifted. */
	assert_int_equal(alone0.firing, 2);
	assert_int_equal(alone1.firing, 0);
	run_close(&both);
	run_close(&alone0);
	run_close(&alone1);
	dd_config_free(c);
}

/* Both partitions shift, overlapping: one firing (the first) and one resolved (when the last
 * partition resolves) per monitor, not one per partition. */
static void test_one_alert_per_fingerprint(void **unused)
{
	(void)unused;
	struct dd_config *c = load();
	struct run r, solo;
	run_open(&r, c, true);
	run_open(&solo, c, true);
	for (int k = 0; k < 3000; k += 100) {
		feed(&r, 0, k, k + 100, 600, 1400);
		feed(&r, 1, k, k + 100, 800, 1800);
	}
	feed(&solo, 0, 0, 3000, 600, 1400);
	/* Each partition alone fires and resolves (ks and page_hinkley); together, once. */
	assert_true(solo.firing >= 1 && solo.resolved >= 1);
	unsigned ks_fired = 0;
	fflush(r.tf);
	for (const char *l = r.trace; (l = strstr(l, "\"monitor\":\"ks-x\"")); l++)
		ks_fired +=
		    strstr(l, "\"drift\":true") && strstr(l, "\"drift\":true") < strchr(l, '\n');
	assert_true(ks_fired > 4); /* many breaching verdicts in both partitions */
	/* Partition 0 alone: one episode. Both, overlapping: still one. */
	assert_int_equal(solo.ks_firing, 1);
	assert_int_equal(solo.ks_resolved, 1);
	assert_int_equal(r.ks_firing, 1);
	assert_int_equal(r.ks_resolved, 1);
	assert_int_equal(r.firing, r.resolved);
	struct dd_pipeline_stats st;
	dd_pipeline_stats(r.p, &st);
	assert_int_equal(st.firing, 0);
	run_close(&r);
	run_close(&solo);
	dd_config_free(c);
}

/* A partition moves to another instance at record k through the state document: the new
 * owner's verdicts from k on are those of the pipeline that kept it. */
static void test_partition_moves_exactly(void **unused)
{
	(void)unused;
	struct dd_config *c = load();
	const int k = 700;
	struct run whole, a, b;
	run_open(&whole, c, true);
	run_open(&a, c, true);
	run_open(&b, c, true);
	for (int i = 0; i < 1200; i += 100) {
		feed(&whole, 0, i, i + 100, 500, 2000);
		feed(&whole, 1, i, i + 100, 900, 2000);
	}
	for (int i = 0; i < k; i += 100) {
		feed(&a, 0, i, i + 100, 500, 2000);
		feed(&a, 1, i, i + 100, 900, 2000);
	}
	/* A writes its state (as a snapshot would), then gives partition 1 up. */
	struct dd_positions pa = {0};
	for (int part = 0; part < 2; part++) {
		struct dd_partition_pos *e = dd_positions_get(&pa, TOPIC, part);
		e->next = k;
		e->live = true;
	}
	json_t *doc = dd_state_document(a.p, &pa);
	assert_non_null(doc);
	char *text = json_dumps(doc, JSON_SORT_KEYS | JSON_REAL_PRECISION(17) | JSON_COMPACT);
	json_decref(doc);
	struct dd_pipeline_monitor_stats before, after;
	assert_true(dd_pipeline_monitor_stats(a.p, 1, &before));
	assert_int_equal(before.matched, 2 * k);
	assert_int_equal(dd_state_release(a.p, dd_positions_find(&pa, TOPIC, 1)), 0);
	struct dd_pipeline_stats st;
	dd_pipeline_stats(a.p, &st);
	assert_int_equal(st.shards, 1);
	/* Counters are what this pipeline counted: a partition that leaves does not take its
	 * counts along (a Prometheus counter must not go down). */
	assert_true(dd_pipeline_monitor_stats(a.p, 1, &after));
	assert_int_equal(after.matched, before.matched);
	assert_int_equal(after.verdicts, before.verdicts);

	/* B reads the document and takes partition 1 only. */
	json_error_t je;
	json_t *back = json_loads(text, 0, &je);
	free(text);
	struct dd_positions pb = {0};
	char why[512] = "";
	assert_int_equal(dd_state_parse(back, &pb, why, sizeof(why)), 0);
	json_decref(back);
	assert_int_equal(pb.n, 2);
	struct dd_partition_pos *e1 = dd_positions_find(&pb, TOPIC, 1);
	assert_non_null(e1->state);
	assert_int_equal(e1->next, k);
	struct dd_load_report lr;
	assert_int_equal(dd_state_take(b.p, &pb, e1, NULL, &lr, why, sizeof(why)), 0);
	assert_int_equal(lr.restored, 2);
	assert_true(e1->live && !e1->state);
	/* ... and one that arrives does not bring them: b counted nothing yet. */
	assert_true(dd_pipeline_monitor_stats(b.p, 1, &after));
	assert_int_equal(after.matched, 0);

	for (int i = k; i < 1200; i += 100) {
		feed(&a, 0, i, i + 100, 500, 2000);
		feed(&b, 1, i, i + 100, 900, 2000);
	}
	assert_true(dd_pipeline_monitor_stats(a.p, 1, &after));
	assert_int_equal(after.matched, 1200 + k);
	assert_true(dd_pipeline_monitor_stats(b.p, 1, &after));
	assert_int_equal(after.matched, 1200 - k);
	/* Partition 0 went on in A, partition 1 in B: both exactly as if never moved. */
	char *w0 = lines_of(&whole, 0), *a0 = lines_of(&a, 0);
	assert_string_equal(w0, a0);
	char *w1 = lines_of(&whole, 1), *a1 = lines_of(&a, 1), *b1 = lines_of(&b, 1);
	char *ab = malloc(strlen(a1) + strlen(b1) + 1);
	strcpy(ab, a1);
	strcat(ab, b1);
	assert_string_equal(w1, ab);
	free(ab);
	free(w0);
	free(a0);
	free(w1);
	free(a1);
	free(b1);
	dd_positions_free(&pa);
	dd_positions_free(&pb);
	run_close(&whole);
	run_close(&a);
	run_close(&b);
	dd_config_free(c);
}

/* A format-1 document (one state, from before state was per partition, or a replay's) seeds
 * every partition that has no state of its own; its offsets still say where each resumes. A
 * partition state that does not load starts fresh with -EBADMSG (the source alerts). */
static void test_seed_and_bad_partition(void **unused)
{
	(void)unused;
	struct dd_config *c = load();
	struct run flat, p;
	run_open(&flat, c, false);
	run_open(&p, c, true);
	feed(&flat, 0, 0, 400, 2000, 2000);
	json_t *doc = NULL;
	assert_int_equal(dd_pipeline_save(flat.p, &doc), 0);
	json_object_set_new(doc, "kafka",
	                    json_pack("{s:[{s:s, s:i, s:i}]}", "offsets", "topic", TOPIC,
	                              "partition", 3, "next", 400));
	struct dd_positions pos = {0};
	char why[512] = "";
	assert_int_equal(dd_state_parse(doc, &pos, why, sizeof(why)), 0);
	json_decref(doc);
	assert_non_null(pos.seed);
	struct dd_partition_pos *e = dd_positions_find(&pos, TOPIC, 3);
	assert_non_null(e);
	assert_int_equal(e->next, 400);
	assert_null(e->state);
	struct dd_restore_report rr = {0};
	assert_int_equal(dd_state_load(p.p, &pos, &rr, why, sizeof(why)), 0);
	assert_true(rr.seed);
	struct dd_load_report lr;
	assert_int_equal(dd_state_take(p.p, &pos, e, NULL, &lr, why, sizeof(why)), 0);
	assert_int_equal(lr.restored, 2);
	/* Partition 3 goes on from the seed like the unpartitioned pipeline it came from. */
	feed(&flat, 3, 400, 1000, 300, 2000);
	feed(&p, 3, 400, 1000, 300, 2000);
	char *a = lines_of(&flat, 3), *b = lines_of(&p, 3);
	assert_true(strlen(a) > 100);
	assert_string_equal(a, b);
	free(a);
	free(b);

	/* A partition whose saved state does not fit: fresh, and said so. */
	json_t *shard = NULL;
	assert_int_equal(dd_pipeline_shard_save(p.p, TOPIC, 3, &shard), 0);
	json_object_set_new(
	    json_object_get(json_object_get(json_object_get(shard, "monitors"), "ks-x"), "monitor"),
	    "ref_n", json_integer(5000));
	struct dd_partition_pos *e4 = dd_positions_get(&pos, TOPIC, 4);
	assert_int_equal(dd_state_take(p.p, &pos, e4, shard, &lr, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "ks-x"));
	assert_false(e4->live); /* a given document that does not load changes nothing */
	/* Its own saved state that does not load: fresh, live, and said so. */
	e4->state = shard;
	why[0] = '\0';
	assert_int_equal(dd_state_take(p.p, &pos, e4, NULL, &lr, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "ks-x"));
	assert_true(e4->live);
	assert_null(e4->state);
	/* A document listing a partition twice is refused. */
	json_t *twice = json_pack("{s:i, s:[{s:s, s:i, s:i, s:n}, {s:s, s:i, s:i, s:n}]}", "format",
	                          2, "partitions", "topic", "t", "partition", 0, "next", 1, "state",
	                          "topic", "t", "partition", 0, "next", 5, "state");
	struct dd_positions p2 = {0};
	assert_int_equal(dd_state_parse(twice, &p2, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "listed twice"));
	json_decref(twice);
	dd_positions_free(&p2);
	dd_positions_free(&pos);
	run_close(&flat);
	run_close(&p);
	dd_config_free(c);
}

static struct dd_config *parse(const char *text, unsigned flags)
{
	struct dd_config *c = NULL;
	if (dd_config_parse("t.yaml", text, strlen(text), flags, stderr, &c) < 0)
		fail_msg("config rejected:\n%s", text);
	return c;
}

/* The merged view: with one pinned reference (a baseline file), the partitions' windows merge
 * exactly: the view equals one pipeline that saw every partition's records. With references
 * learnt per partition it is refused (-EINVAL), and a detector that does not merge says so. */
static void test_merged_view(void **unused)
{
	(void)unused;
	char dir[] = "/tmp/driftd-merged-XXXXXX", in[300], base[300], text[1200];
	assert_non_null(mkdtemp(dir));
	snprintf(in, sizeof(in), "%s/ref.jsonl", dir);
	snprintf(base, sizeof(base), "%s/ref.baseline", dir);
	FILE *f = fopen(in, "w");
	char rec[256];
	for (int i = 0; i < 500; i++) {
		record(9, i, 2000, 2000, rec, sizeof(rec));
		fprintf(f, "%s\n", rec);
	}
	fclose(f);
	snprintf(text, sizeof(text),
	         "monitors:\n"
	         "  - {name: psi-x, field: /x, detector: psi, reference: {size: 500, file: %s},"
	         " window: {size: 5000}}\n"
	         "  - {name: psi-learnt, field: /x, detector: psi, reference: {size: 100},"
	         " window: {size: 5000}}\n"
	         "  - {name: ks-x, field: /x, detector: ks, reference: {size: 100},"
	         " window: {size: 100}}\n"
	         "alerts: {sinks: []}\n",
	         base);
	struct dd_config *c0 = parse(text, DD_CONFIG_SKIP_BASELINES);
	char *inputs[] = {in};
	assert_int_equal(dd_baseline_build(c0, inputs, 1, base, stderr), 0);
	dd_config_free(c0);
	struct dd_config *c = parse(text, 0);
	struct run parts, one;
	run_open(&parts, c, true);
	run_open(&one, c, false);
	feed(&parts, 0, 0, 300, 100, 2000);
	feed(&parts, 1, 0, 200, 2000, 2000);
	feed(&one, 0, 0, 300, 100, 2000);
	feed(&one, 1, 0, 200, 2000, 2000);
	struct driftd_verdict a, b;
	size_t na, nb;
	assert_int_equal(dd_pipeline_merged(parts.p, 0, &a, &na), 0);
	assert_int_equal(dd_pipeline_merged(one.p, 0, &b, &nb), 0);
	assert_int_equal(na, 2);
	assert_int_equal(nb, 1);
	assert_memory_equal(&a.score, &b.score, sizeof(double)); /* exact */
	assert_int_equal(a.drift, b.drift);
	assert_true(a.drift); /* partition 0 shifted from record 100 */
	assert_int_equal(dd_pipeline_merged(parts.p, 1, &a, &na), -EINVAL);
	assert_int_equal(dd_pipeline_merged(parts.p, 2, &a, &na), -EOPNOTSUPP);
	run_close(&parts);
	run_close(&one);
	dd_config_free(c);
	unlink(in);
	unlink(base);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_partitions_are_separate),
	    cmocka_unit_test(test_one_alert_per_fingerprint),
	    cmocka_unit_test(test_partition_moves_exactly),
	    cmocka_unit_test(test_seed_and_bad_partition),
	    cmocka_unit_test(test_merged_view),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
