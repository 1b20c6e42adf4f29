/* Alert engine: `for`, `resolve_after`, cooldown, ids stable per episode and status, and the
 * alert JSON contract. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "alert.h"

extern const struct driftd_detector_ops driftd_detector_page_hinkley;

static struct dd_monitor_conf conf(unsigned for_n, unsigned resolve_after, int64_t cooldown)
{
	return (struct dd_monitor_conf){
	    .name = (char *)"m",
	    .field = (char *)"/input/x",
	    .detector = &driftd_detector_page_hinkley,
	    .for_n = for_n,
	    .resolve_after = resolve_after,
	    .cooldown_ms = cooldown,
	    .severity = DD_SEV_CRITICAL,
	};
}

/* Run a drift pattern ('1' breach, '0' clean) at 1 s per verdict; return transitions as a
 * string of 'F', 'R', '.'. */
static void run(struct dd_alert_state *a, const struct dd_monitor_conf *mc, const char *pat,
                char *out)
{
	for (size_t i = 0; pat[i]; i++) {
		struct driftd_verdict v = {.drift = pat[i] == '1', .p_value = NAN};
		struct dd_origin at = {.index = i};
		enum dd_transition t = dd_alert_step(a, mc, &v, &at, (int64_t)i * 1000);
		out[i] = t == DD_TRANSITION_FIRING     ? 'F'
		         : t == DD_TRANSITION_RESOLVED ? 'R'
		         : t == DD_TRANSITION_REPEAT   ? 'P'
		                                       : '.';
	}
	out[strlen(pat)] = '\0';
}

static void test_for_and_resolve(void **unused)
{
	char out[64];
	struct dd_alert_state a;
	struct dd_monitor_conf mc = conf(1, 1, 0);
	dd_alert_state_init(&a, &mc);
	run(&a, &mc, "0110011", out);
	assert_string_equal(out, ".F.R.F.");

	mc = conf(3, 2, 0);
	dd_alert_state_init(&a, &mc);
	run(&a, &mc, "11011101011100", out);
	assert_string_equal(out, ".....F.......R");
	/* The episode starts at the first breach of the run that fired. */
	assert_int_equal(a.episode.index, 3);
}

static void test_cooldown_counts_suppressed(void **unused)
{
	char out[64];
	struct dd_alert_state a;
	struct dd_monitor_conf mc = conf(1, 1, 5000);
	dd_alert_state_init(&a, &mc);
	/* fires at 1, resolves at 2; fires again at 4 (within 5 s of the resolve): muted,
	 * and its resolve at 5 too; at 13 the cooldown (from 5) is over. */
	run(&a, &mc, "01011000000001", out);
	assert_string_equal(out, ".FR..........F");
	assert_int_equal(a.suppressed, 2);
}

static void test_repeat_interval(void **unused)
{
	char out[64];
	struct dd_alert_state a;
	struct dd_monitor_conf mc = conf(1, 2, 0);
	mc.repeat_interval_ms = 3000;
	dd_alert_state_init(&a, &mc);
	/* fires at 1; still firing (drift, or clean but not yet resolved) -> repeats at 4, 7;
	 * resolves at 9 */
	run(&a, &mc, "0111111100", out);
	assert_string_equal(out, ".F..P..P.R");
	assert_int_equal(a.repeats, 2);
	/* each repeat is its own notification: its id differs from the firing's */
	struct driftd_verdict v = {.drift = true, .p_value = NAN};
	struct dd_origin at = {.index = 0};
	dd_alert_state_init(&a, &mc);
	assert_int_equal(dd_alert_step(&a, &mc, &v, &at, 0), DD_TRANSITION_FIRING);
	struct dd_alert_info info = {.monitor = &mc,
	                             .state = &a,
	                             .verdict = &v,
	                             .transition = DD_TRANSITION_FIRING,
	                             .at = &at};
	json_t *first = dd_alert_json(&info);
	assert_int_equal(dd_alert_step(&a, &mc, &v, &at, 3000), DD_TRANSITION_REPEAT);
	info.transition = DD_TRANSITION_REPEAT;
	json_t *again = dd_alert_json(&info);
	assert_string_not_equal(json_string_value(json_object_get(first, "id")),
	                        json_string_value(json_object_get(again, "id")));
	assert_string_equal(json_string_value(json_object_get(again, "status")), "firing");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(again, "output_fields"),
	                                                    "alert.repeat")),
	                 1);
	json_decref(first);
	json_decref(again);
}

static void test_alert_json(void **unused)
{
	struct dd_alert_state a;
	struct dd_monitor_conf mc = conf(1, 1, 0);
	dd_alert_state_init(&a, &mc);
	struct driftd_verdict v = {.drift = true, .score = 61.5, .threshold = 50, .p_value = NAN};
	struct dd_origin at = {.input = "x.jsonl", .line = 8, .index = 7};
	assert_int_equal(dd_alert_step(&a, &mc, &v, &at, 1795780800123), DD_TRANSITION_FIRING);
	struct dd_alert_info info = {.monitor = &mc,
	                             .state = &a,
	                             .verdict = &v,
	                             .transition = DD_TRANSITION_FIRING,
	                             .model_id = "fraud-scorer",
	                             .at = &at,
	                             .time_ms = 1795780800123,
	                             .hostname = "h1"};
	json_t *j = dd_alert_json(&info);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "firing");
	assert_string_equal(json_string_value(json_object_get(j, "rule")), "m");
	assert_string_equal(json_string_value(json_object_get(j, "priority")), "Critical");
	assert_string_equal(json_string_value(json_object_get(j, "source")), "driftd");
	assert_string_equal(json_string_value(json_object_get(j, "time")),
	                    "2026-11-27T12:00:00.123Z");
	assert_string_equal(json_string_value(json_object_get(j, "fingerprint")), a.fingerprint);
	assert_int_equal(strlen(a.fingerprint), 16);
	json_t *f = json_object_get(j, "output_fields");
	assert_int_equal(json_integer_value(json_object_get(f, "event.index")), 7);
	assert_string_equal(json_string_value(json_object_get(f, "model.id")), "fraud-scorer");
	assert_string_equal(json_string_value(json_object_get(f, "field")), "/input/x");
	assert_true(json_real_value(json_object_get(f, "score")) == 61.5);
	/* page_hinkley has no p-value: the key is absent rather than null */
	assert_null(json_object_get(f, "p_value"));
	const char *id = json_string_value(json_object_get(j, "id"));
	assert_int_equal(strlen(id), 36);

	/* Same episode and status -> same id (stable across retries and restarts); the
	 * resolve of the episode gets a different one. */
	json_t *j2 = dd_alert_json(&info);
	assert_string_equal(json_string_value(json_object_get(j2, "id")), id);
	info.transition = DD_TRANSITION_RESOLVED;
	json_t *j3 = dd_alert_json(&info);
	assert_string_not_equal(json_string_value(json_object_get(j3, "id")), id);
	assert_string_equal(json_string_value(json_object_get(j3, "status")), "resolved");
	json_decref(j);
	json_decref(j2);
	json_decref(j3);
}

static void test_fingerprint(void **unused)
{
	char a[17], b[17], c[17];
	dd_alert_fingerprint("m", "model", "/x", a);
	dd_alert_fingerprint("m", "model", "/x", b);
	dd_alert_fingerprint("mm", "odel", "/x", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_for_and_resolve),
	    cmocka_unit_test(test_cooldown_counts_suppressed),
	    cmocka_unit_test(test_repeat_interval),
	    cmocka_unit_test(test_alert_json),
	    cmocka_unit_test(test_fingerprint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
