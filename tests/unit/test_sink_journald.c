/* journald sink, offline (this machine's PID 1 is not systemd): the entry's fields. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "alert.h"
#include "sinks.h"

extern const struct driftd_detector_ops driftd_detector_ks;

/* Field value by name from the NUL-separated entries, or NULL. */
static const char *field(const struct driftd_buf *b, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	for (size_t off = 0; off < b->len;) {
		const char *e = (const char *)b->data + off;
		size_t l = strnlen(e, b->len - off);
		if (l > nl && memcmp(e, name, nl) == 0 && e[nl] == '=') {
			snprintf(out, size, "%.*s", (int)(l - nl - 1), e + nl + 1);
			return out;
		}
		off += l + 1;
	}
	return NULL;
}

static void test_entry(void **unused)
{
	struct dd_monitor_conf mc = {.name = (char *)"amount-ks",
	                             .field = (char *)"/input/amount",
	                             .detector = &driftd_detector_ks,
	                             .for_n = 1,
	                             .resolve_after = 1,
	                             .severity = DD_SEV_CRITICAL};
	struct dd_alert_state a;
	dd_alert_state_init(&a, &mc);
	struct driftd_verdict v = {
	    .drift = true, .score = 0.4, .threshold = 0.001, .p_value = 1e-9};
	struct dd_origin at = {.index = 41};
	dd_alert_step(&a, &mc, &v, &at, 1795780800000);
	struct dd_alert_info info = {.monitor = &mc,
	                             .state = &a,
	                             .verdict = &v,
	                             .transition = DD_TRANSITION_FIRING,
	                             .model_id = "fraud-scorer",
	                             .at = &at,
	                             .time_ms = 1795780800000,
	                             .hostname = "h"};
	json_t *alert = dd_alert_json(&info);
	struct driftd_buf b = {0};
	assert_int_equal(dd_sink_journald.format(NULL, alert, &b), 0);
	char val[4096];
	assert_string_equal(field(&b, "MESSAGE_ID", val, sizeof(val)),
	                    "493460764bf04df897295ea5de776125");
	assert_string_equal(field(&b, "PRIORITY", val, sizeof(val)), "2"); /* Critical */
	assert_string_equal(field(&b, "SYSLOG_IDENTIFIER", val, sizeof(val)), "driftd");
	assert_string_equal(field(&b, "DRIFTD_MODEL_ID", val, sizeof(val)), "fraud-scorer");
	assert_string_equal(field(&b, "DRIFTD_EVENT_INDEX", val, sizeof(val)), "41");
	assert_string_equal(field(&b, "DRIFTD_RULE", val, sizeof(val)), "amount-ks");
	assert_string_equal(field(&b, "DRIFTD_FINGERPRINT", val, sizeof(val)), a.fingerprint);
	assert_non_null(strstr(field(&b, "MESSAGE", val, sizeof(val)), "Drift on /input/amount"));
	assert_non_null(field(&b, "DRIFTD_ALERT", val, sizeof(val)));
	/* every field name is [A-Z0-9_], not starting with '_', at most 64 characters */
	for (size_t off = 0; off < b.len;) {
		const char *e = (const char *)b.data + off;
		const char *eq = strchr(e, '=');
		assert_non_null(eq);
		assert_true(eq - e > 0 && eq - e <= 64 && e[0] != '_');
		for (const char *c = e; c < eq; c++)
			assert_true(isupper((unsigned char)*c) || isdigit((unsigned char)*c) ||
			            *c == '_');
		off += strlen(e) + 1;
	}
	driftd_buf_free(&b);
	json_decref(alert);

	/* a self-alert has the other MESSAGE_ID */
	struct dd_self_alert sa = {.rule = "driftd.telemetry_gap",
	                           .status = "firing",
	                           .severity = DD_SEV_ERROR,
	                           .key = "m",
	                           .episode = "1",
	                           .output = "Model m stopped logging",
	                           .time_ms = 0};
	alert = dd_self_alert_json(&sa);
	b = (struct driftd_buf){0};
	assert_int_equal(dd_sink_journald.format(NULL, alert, &b), 0);
	assert_string_equal(field(&b, "MESSAGE_ID", val, sizeof(val)),
	                    "64fed865a0fc4cf18df90e7634591f21");
	assert_string_equal(field(&b, "PRIORITY", val, sizeof(val)), "3");
	driftd_buf_free(&b);
	json_decref(alert);
}

static void test_check(void **unused)
{
	const char *key = NULL;
	char why[128];
	json_t *c = json_pack("{s:i}", "x", 1);
	assert_int_equal(dd_sink_journald.check(c, &key, why, sizeof(why)), -EINVAL);
	assert_string_equal(key, "x");
	json_decref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_entry),
	    cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
