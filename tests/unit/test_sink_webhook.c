/* The webhook sink offline: the four body formats against the documented shapes (Falco payload
 * for falcosidekick, Alertmanager's POST /api/v2/alerts, Slack incoming webhooks, PagerDuty
 * Events v2), Standard Webhooks signing against the specification's known answer, settings
 * validation, the retry policy, and the spool (write, read, update, dead letters, crash debris,
 * recovery at open, a failing disk). Delivery over HTTP is tests/integration/test_webhook.py. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include <cmocka.h>

#include "config.h"
#include "sink_webhook.h"
#include "sinks.h"
#include "spool.h"

/* An alert as lib/alert.c writes it (docs/alerts.md). */
static const char *const FIRING =
    "{\"id\":\"6a0c7f7e-5b1d-8f43-9a52-0c1e2d3f4a5b\",\"uuid\":\"6a0c7f7e-5b1d-8f43-9a52-"
    "0c1e2d3f4a5b\",\"fingerprint\":\"3f9a0c1d2e4b5a69\",\"status\":\"firing\",\"time\":\"2026-"
    "11-27T12:20:00.000Z\",\"rule\":\"amount-ks\",\"detector\":\"ks\",\"priority\":\"Critical\","
    "\"source\":\"driftd\",\"hostname\":\"scorer-01\",\"output\":\"Drift on /input/amount of "
    "fraud-scorer: ks score 0.2213 vs threshold 0.001, p=1.2e-19 (at event 12999)\",\"tags\":["
    "\"drift\",\"drift:input\",\"threat:data_poisoning\",\"etsi:5.4.2-2\"],\"output_fields\":{"
    "\"model.id\":\"fraud-scorer\",\"field\":\"/input/amount\",\"score\":0.2213,\"threshold\":"
    "0.001,\"p_value\":1.2e-19,\"event.index\":12999,\"episode.start_index\":12499,\"alerts."
    "suppressed\":0}}";

/* Its resolve: another id, priority Informational, and (monitor without match.model) another
 * event's model. */
static const char *const RESOLVED =
    "{\"id\":\"0b2e4c6d-1a3f-8e5d-a7c9-0d1e2f3a4b5c\",\"uuid\":\"0b2e4c6d-1a3f-8e5d-a7c9-"
    "0d1e2f3a4b5c\",\"fingerprint\":\"3f9a0c1d2e4b5a69\",\"status\":\"resolved\",\"time\":"
    "\"2026-11-27T12:40:00.000Z\",\"rule\":\"amount-ks\",\"detector\":\"ks\",\"priority\":"
    "\"Informational\",\"source\":\"driftd\",\"hostname\":\"scorer-01\",\"output\":\"Drift "
    "resolved on /input/amount of other-model: ks score 0.01 vs threshold 0.001 (at event "
    "14999)\",\"tags\":[\"drift\"],\"output_fields\":{\"model.id\":\"other-model\",\"field\":"
    "\"/input/amount\",\"score\":0.01,\"threshold\":0.001,\"p_value\":0.4,\"event.index\":"
    "14999,\"episode.start_index\":12499,\"alerts.suppressed\":0}}";

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("bad JSON in the test: %s", e.text);
	return j;
}

/* Render and split the framed output into id and body (parsed). */
static json_t *render(const char *format, const char *rk, const char *alert, char *id, size_t idsz,
                      char **raw)
{
	json_t *a = load(alert);
	struct driftd_buf out = {0};
	assert_int_equal(dd_webhook_render(format, rk, a, &out), 0);
	json_decref(a);
	const char *nl = memchr(out.data, '\n', out.len);
	assert_non_null(nl);
	size_t il = (size_t)(nl - (const char *)out.data);
	assert_true(il < idsz);
	memcpy(id, out.data, il);
	id[il] = '\0';
	size_t bl = out.len - il - 1;
	assert_null(memchr(nl + 1, '\n', bl)); /* one line: the body is compact JSON */
	json_error_t e;
	json_t *body = json_loadb(nl + 1, bl, 0, &e);
	if (!body)
		fail_msg("%s body is not JSON: %s", format, e.text);
	if (raw) {
		*raw = malloc(bl + 1);
		memcpy(*raw, nl + 1, bl);
		(*raw)[bl] = '\0';
	}
	driftd_buf_free(&out);
	return body;
}

static bool label_name_ok(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* native: the alert itself, byte for byte the stdout sink's line, and Falco's payload
 * (what falcosidekick's /  endpoint decodes: time, rule, priority, source, hostname,
 * output, tags, output_fields flat). */
static void test_native_is_the_alert(void **unused)
{
	char id[300], *raw;
	json_t *b = render("native", NULL, FIRING, id, sizeof(id), &raw);
	assert_string_equal(id, "6a0c7f7e-5b1d-8f43-9a52-0c1e2d3f4a5b");

	json_t *a = load(FIRING);
	char *line = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(17));
	assert_string_equal(raw, line);
	free(line);

	static const char *const falco_prio[] = {"Emergency",     "Alert",   "Critical",
	                                         "Error",         "Warning", "Notice",
	                                         "Informational", "Debug",   NULL};
	assert_true(json_is_string(json_object_get(b, "time")));
	assert_true(json_is_string(json_object_get(b, "rule")));
	assert_true(json_is_string(json_object_get(b, "source")));
	assert_true(json_is_string(json_object_get(b, "hostname")));
	assert_true(json_is_string(json_object_get(b, "output")));
	bool prio = false;
	for (size_t i = 0; falco_prio[i]; i++)
		prio |=
		    strcmp(json_string_value(json_object_get(b, "priority")), falco_prio[i]) == 0;
	assert_true(prio);
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(b, "tags"), i, v)
		assert_true(json_is_string(v));
	const char *k;
	json_object_foreach (json_object_get(b, "output_fields"), k, v)
		assert_false(json_is_object(v) || json_is_array(v));
	assert_string_equal(json_string_value(json_object_get(b, "uuid")), id);
	json_decref(a);
	json_decref(b);
	free(raw);
}

/* alertmanager: POST /api/v2/alerts takes an array of postableAlert {labels, annotations,
 * startsAt, endsAt, generatorURL}; label and annotation names match [a-zA-Z_][a-zA-Z0-9_]*,
 * values are strings. The resolve must carry the same labels as the firing, or Alertmanager
 * sees two alerts and the first never resolves. */
static void test_alertmanager_shape(void **unused)
{
	char id[300];
	json_t *f = render("alertmanager", NULL, FIRING, id, sizeof(id), NULL);
	json_t *r = render("alertmanager", NULL, RESOLVED, id, sizeof(id), NULL);
	assert_string_equal(id, "0b2e4c6d-1a3f-8e5d-a7c9-0d1e2f3a4b5c");
	assert_true(json_is_array(f));
	assert_int_equal(json_array_size(f), 1);
	json_t *fa = json_array_get(f, 0), *ra = json_array_get(r, 0);
	const char *k;
	json_t *v;
	json_object_foreach (fa, k, v)
		assert_true(!strcmp(k, "labels") || !strcmp(k, "annotations") ||
		            !strcmp(k, "startsAt") || !strcmp(k, "endsAt") ||
		            !strcmp(k, "generatorURL"));
	json_t *labels = json_object_get(fa, "labels"), *ann = json_object_get(fa, "annotations");
	json_object_foreach (labels, k, v) {
		assert_true(label_name_ok(k));
		assert_true(json_is_string(v));
	}
	json_object_foreach (ann, k, v) {
		if (!label_name_ok(k))
			fail_msg("annotation name '%s'", k);
		assert_true(json_is_string(v));
	}
	assert_string_equal(json_string_value(json_object_get(labels, "alertname")), "amount-ks");
	assert_string_equal(json_string_value(json_object_get(labels, "field")), "/input/amount");
	assert_string_equal(json_string_value(json_object_get(labels, "fingerprint")),
	                    "3f9a0c1d2e4b5a69");
	assert_string_equal(json_string_value(json_object_get(ann, "summary")),
	                    "Drift on /input/amount of fraud-scorer: ks score 0.2213 vs threshold "
	                    "0.001, p=1.2e-19 (at event 12999)");
	assert_string_equal(json_string_value(json_object_get(ann, "model_id")), "fraud-scorer");
	assert_string_equal(json_string_value(json_object_get(ann, "priority")), "Critical");
	assert_string_equal(json_string_value(json_object_get(fa, "startsAt")),
	                    "2026-11-27T12:20:00.000Z");
	assert_null(json_object_get(fa, "endsAt"));
	/* resolved: endsAt set, labels identical */
	assert_string_equal(json_string_value(json_object_get(ra, "endsAt")),
	                    "2026-11-27T12:40:00.000Z");
	assert_true(json_equal(labels, json_object_get(ra, "labels")));
	json_decref(f);
	json_decref(r);
}

static void test_slack_shape(void **unused)
{
	char id[300];
	const char *tricky = "{\"id\":\"x1\",\"status\":\"firing\",\"rule\":\"r<1>&\",\"priority\":"
	                     "\"Warning\",\"output\":\"a <b> & c\",\"output_fields\":{\"model.id\":"
	                     "\"m\",\"score\":1.5}}";
	json_t *b = render("slack", NULL, tricky, id, sizeof(id), NULL);
	assert_string_equal(id, "x1");
	assert_string_equal(json_string_value(json_object_get(b, "text")),
	                    "[FIRING] r&lt;1&gt;&amp;: a &lt;b&gt; &amp; c");
	json_t *blocks = json_object_get(b, "blocks");
	assert_true(json_array_size(blocks) >= 1);
	json_t *sec = json_array_get(blocks, 0);
	assert_string_equal(json_string_value(json_object_get(sec, "type")), "section");
	json_t *t = json_object_get(sec, "text");
	assert_string_equal(json_string_value(json_object_get(t, "type")), "mrkdwn");
	assert_non_null(strstr(json_string_value(json_object_get(t, "text")), "(Warning)"));
	json_t *ctx = json_array_get(blocks, 1);
	assert_string_equal(json_string_value(json_object_get(ctx, "type")), "context");
	assert_non_null(strstr(json_string_value(json_object_get(
	                           json_array_get(json_object_get(ctx, "elements"), 0), "text")),
	                       "score `1.5`"));
	json_decref(b);
	b = render("slack", NULL, RESOLVED, id, sizeof(id), NULL);
	assert_true(strncmp(json_string_value(json_object_get(b, "text")), "[RESOLVED] amount-ks",
	                    20) == 0);
	json_decref(b);
}

/* PagerDuty Events API v2: routing_key, event_action, dedup_key; a trigger carries payload
 * {summary (<= 1024), source, severity (critical|error|warning|info), timestamp, component,
 * group, class, custom_details}; a resolve needs only the dedup_key of the trigger. */
static void test_pagerduty_shape(void **unused)
{
	char id[300];
	json_t *b = render("pagerduty", "R0UTINGKEY", FIRING, id, sizeof(id), NULL);
	assert_string_equal(json_string_value(json_object_get(b, "routing_key")), "R0UTINGKEY");
	assert_string_equal(json_string_value(json_object_get(b, "event_action")), "trigger");
	assert_string_equal(json_string_value(json_object_get(b, "dedup_key")), "3f9a0c1d2e4b5a69");
	json_t *p = json_object_get(b, "payload");
	assert_string_equal(json_string_value(json_object_get(p, "severity")), "critical");
	assert_string_equal(json_string_value(json_object_get(p, "source")), "scorer-01");
	assert_string_equal(json_string_value(json_object_get(p, "timestamp")),
	                    "2026-11-27T12:20:00.000Z");
	assert_string_equal(json_string_value(json_object_get(p, "component")), "fraud-scorer");
	assert_string_equal(json_string_value(json_object_get(p, "group")), "amount-ks");
	assert_string_equal(json_string_value(json_object_get(p, "class")), "ks");
	assert_true(json_real_value(
	                json_object_get(json_object_get(p, "custom_details"), "score")) == 0.2213);
	json_decref(b);

	b = render("pagerduty", "R0UTINGKEY", RESOLVED, id, sizeof(id), NULL);
	assert_string_equal(json_string_value(json_object_get(b, "event_action")), "resolve");
	assert_string_equal(json_string_value(json_object_get(b, "dedup_key")), "3f9a0c1d2e4b5a69");
	assert_null(json_object_get(b, "payload"));
	json_decref(b);

	/* summary: at most 1024 bytes, cut between UTF-8 characters */
	json_t *a = load(FIRING);
	char longer[1400];
	memset(longer, 'x', sizeof(longer));
	for (size_t i = 1000; i + 2 < sizeof(longer); i += 2)
		memcpy(longer + i, "\xc3\xa9", 2); /* é */
	longer[sizeof(longer) - 1] = '\0';
	json_object_set_new(a, "output", json_string(longer));
	struct driftd_buf out = {0};
	assert_int_equal(dd_webhook_render("pagerduty", "k", a, &out), 0);
	const char *nl = memchr(out.data, '\n', out.len);
	json_t *bb =
	    json_loadb(nl + 1, out.len - (size_t)(nl + 1 - (const char *)out.data), 0, NULL);
	assert_non_null(bb); /* jansson refuses invalid UTF-8: the cut is clean */
	const char *sum =
	    json_string_value(json_object_get(json_object_get(bb, "payload"), "summary"));
	assert_true(strlen(sum) <= 1024);
	assert_string_equal(sum + strlen(sum) - 3, "...");
	json_decref(bb);
	json_decref(a);
	driftd_buf_free(&out);
}

static void test_id_fallback(void **unused)
{
	char id1[300], id2[300];
	const char *noid = "{\"status\":\"firing\",\"rule\":\"r\",\"output\":\"o\"}";
	json_t *b1 = render("native", NULL, noid, id1, sizeof(id1), NULL);
	json_t *b2 = render("native", NULL, noid, id2, sizeof(id2), NULL);
	assert_string_equal(id1, id2); /* derived from the content: stable */
	assert_int_equal(strncmp(id1, "msg_", 4), 0);
	assert_int_equal(strlen(id1), 36);
	/* an id unfit for a header (space, newline) is not used */
	json_decref(b1);
	b1 = render("native", NULL, "{\"id\":\"a b\\r\\nx: y\",\"rule\":\"r\"}", id1, sizeof(id1),
	            NULL);
	assert_int_equal(strncmp(id1, "msg_", 4), 0);
	json_decref(b1);
	json_decref(b2);
	struct driftd_buf out = {0};
	json_t *arr = json_array();
	assert_int_equal(dd_webhook_render("native", NULL, arr, &out), -EINVAL);
	assert_int_equal(dd_webhook_render("xml", NULL, arr, &out), -EINVAL);
	json_decref(arr);
	driftd_buf_free(&out);
}

/* The Standard Webhooks specification's example (also the test vector of its reference
 * libraries):
 *   python3 -c 'import hmac,hashlib,base64; k=base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
 *     print(base64.b64encode(hmac.new(k, b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330."
 *     b"{\"test\": 2432232314}", hashlib.sha256).digest()))'
 *   -> g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= */
static void test_signature_known_answer(void **unused)
{
	struct dd_webhook_key keys[DD_WEBHOOK_MAX_KEYS];
	size_t n;
	char why[256];
	const char *secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n";
	assert_int_equal(
	    dd_webhook_parse_secrets(secret, strlen(secret), keys, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(keys[0].len, 24);
	char sig[DD_WEBHOOK_SIG_LEN];
	const char *body = "{\"test\": 2432232314}";
	dd_webhook_sign(&keys[0], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
	                sig);
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* any change to id, timestamp or body changes it */
	dd_webhook_sign(&keys[0], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, strlen(body),
	                sig);
	assert_string_not_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_secret_parsing(void **unused)
{
	struct dd_webhook_key keys[DD_WEBHOOK_MAX_KEYS];
	size_t n;
	char why[256];
	/* rotation: two secrets, white space between; 64 bytes is the upper bound */
	const char *two =
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw  "
	    "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
	    "MzQ1Njc4OTo7PD0+Pw==\r\n";
	assert_int_equal(dd_webhook_parse_secrets(two, strlen(two), keys, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(keys[1].len, 64);
	assert_int_equal(keys[1].k[63], 63);
	static const char *const bad[][2] = {
	    {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "does not start with whsec_"},
	    {"whsec_MfKQ9r8GKYqrTwjUPD8I", "base64 of 24 to 64"},     /* not a multiple of 4 */
	    {"whsec_AAECAwQFBgcICQoLDA0ODw==", "base64 of 24 to 64"}, /* 16 bytes */
	    {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La!aSw", "base64 of 24 to 64"},
	    {"  \n", "no secret"},
	    {NULL, NULL}};
	for (size_t i = 0; bad[i][0]; i++) {
		why[0] = '\0';
		assert_int_equal(dd_webhook_parse_secrets(bad[i][0], strlen(bad[i][0]), keys, &n,
		                                          why, sizeof(why)),
		                 -EINVAL);
		if (!strstr(why, bad[i][1]))
			fail_msg("'%s': want '%s', got '%s'", bad[i][0], bad[i][1], why);
	}
}

static char tmpdir[256];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void check_conf(const char *conf, const char *key, const char *needle)
{
	json_t *c = load(conf);
	const char *k = "untouched";
	char why[512] = "";
	int rc = dd_sink_webhook.check(c, &k, why, sizeof(why));
	if (!needle) {
		if (rc != 0)
			fail_msg("%s: want OK, got '%s'", conf, why);
	} else {
		if (rc != -EINVAL || !strstr(why, needle))
			fail_msg("%s: want '%s', got rc %d '%s'", conf, needle, rc, why);
		if (key ? (!k || strcmp(k, key) != 0) : k != NULL)
			fail_msg("%s: want key %s, got %s", conf, key ? key : "(null)",
			         k ? k : "(null)");
	}
	json_decref(c);
}

static void test_check(void **unused)
{
	char good[300], bad[300], rk[300], conf[1200];
	snprintf(good, sizeof(good), "%s/secret", tmpdir);
	snprintf(bad, sizeof(bad), "%s/bad-secret", tmpdir);
	snprintf(rk, sizeof(rk), "%s/routing-key", tmpdir);
	write_file(good, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
	write_file(bad, "hunter2\n");
	write_file(rk, "0123456789abcdef0123456789abcdef\n");

	check_conf("{\"url\":\"https://hooks.example/a\"}", NULL, NULL);
	snprintf(conf, sizeof(conf),
	         "{\"url\":\"http://127.0.0.1:9/x\",\"format\":\"alertmanager\",\"headers\":"
	         "{\"Authorization\":\"Bearer t\"},\"secret_file\":\"%s\",\"timeout\":\"20s\","
	         "\"connect_timeout\":2,\"max_attempts\":10,\"retry_horizon\":\"2h\","
	         "\"retry_initial\":\"1s\",\"retry_max_delay\":\"5m\",\"spool_max_bytes\":1048576,"
	         "\"spool_max_files\":100}",
	         good);
	check_conf(conf, NULL, NULL);
	snprintf(conf, sizeof(conf),
	         "{\"url\":\"https://events.pagerduty.com/v2/enqueue\",\"format\":\"pagerduty\","
	         "\"routing_key_file\":\"%s\"}",
	         rk);
	check_conf(conf, NULL, NULL);

	check_conf("{}", NULL, "needs url");
	check_conf("{\"url\":\"http://a/\",\"urll\":1}", "urll", "unknown key 'urll'");
	check_conf("{\"url\":\"ftp://a/\"}", "url", "http:// or https://");
	check_conf("{\"url\":\"not a url\"}", "url", "'url'");
	check_conf("{\"url\":5}", "url", "must be a string");
	check_conf("{\"url\":\"http://a/\",\"format\":\"xml\"}", "format",
	           "native, alertmanager, slack or pagerduty");
	check_conf("{\"url\":\"http://a/\",\"headers\":[1]}", "headers", "mapping");
	check_conf("{\"url\":\"http://a/\",\"headers\":{\"webhook-id\":\"x\"}}", "headers",
	           "set by driftd");
	check_conf("{\"url\":\"http://a/\",\"headers\":{\"a b\":\"x\"}}", "headers",
	           "not a valid header name");
	check_conf("{\"url\":\"http://a/\",\"headers\":{\"X\":\"a\\r\\nInjected: 1\"}}", "headers",
	           "control characters");
	check_conf("{\"url\":\"http://a/\",\"timeout\":\"soon\"}", "timeout", "'timeout'");
	check_conf("{\"url\":\"http://a/\",\"timeout\":\"2s\",\"connect_timeout\":\"5s\"}",
	           "connect_timeout", "not be longer than 'timeout'");
	check_conf("{\"url\":\"http://a/\",\"retry_initial\":\"30s\"}", "retry_initial",
	           "'retry_initial'");
	check_conf("{\"url\":\"http://a/\",\"max_attempts\":-1}", "max_attempts", "integer");
	check_conf("{\"url\":\"http://a/\",\"spool_max_files\":0}", "spool_max_files",
	           "integer from 1");
	check_conf("{\"url\":\"http://a/\",\"secret_file\":\"/nonexistent/secret\"}", "secret_file",
	           "cannot read /nonexistent/secret");
	snprintf(conf, sizeof(conf), "{\"url\":\"http://a/\",\"secret_file\":\"%s\"}", bad);
	check_conf(conf, "secret_file", "does not start with whsec_");
	check_conf("{\"url\":\"http://a/\",\"format\":\"pagerduty\"}", "format",
	           "needs routing_key_file");
	snprintf(conf, sizeof(conf), "{\"url\":\"http://a/\",\"routing_key_file\":\"%s\"}", rk);
	check_conf(conf, "routing_key_file", "for format: pagerduty");
	check_conf("{\"url\":\"http://a/\",\"ca_file\":\"/nonexistent/ca.pem\"}", "ca_file",
	           "cannot read");
}

/* Through the configuration loader: FILE:LINE:COL pointing at the key. */
static void test_check_in_config(void **unused)
{
	const char *text = "monitors:\n"
	                   "  - {name: a, field: /input/x, detector: page_hinkley}\n"
	                   "alerts:\n"
	                   "  sinks:\n"
	                   "    - webhook:\n"
	                   "        url: http://127.0.0.1:9/\n"
	                   "        secret_file: /nonexistent/webhook-secret\n";
	char *diag = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&diag, &len);
	struct dd_config *c = NULL;
	int rc = dd_config_parse("t.yaml", text, strlen(text), 0, f, &c);
	fclose(f);
	assert_true(rc < 0);
	if (!strstr(diag, "t.yaml:7:9: webhook sink: cannot read /nonexistent/webhook-secret"))
		fail_msg("got: %s", diag);
	free(diag);
	dd_config_free(c);
}

static void test_classify(void **unused)
{
	assert_int_equal(dd_webhook_classify(0, 200), DD_WEBHOOK_DELIVERED);
	assert_int_equal(dd_webhook_classify(0, 202), DD_WEBHOOK_DELIVERED);
	assert_int_equal(dd_webhook_classify(0, 204), DD_WEBHOOK_DELIVERED);
	assert_int_equal(dd_webhook_classify(7 /* CURLE_COULDNT_CONNECT */, 0), DD_WEBHOOK_RETRY);
	assert_int_equal(dd_webhook_classify(28 /* CURLE_OPERATION_TIMEDOUT */, 0),
	                 DD_WEBHOOK_RETRY);
	assert_int_equal(dd_webhook_classify(60 /* CURLE_PEER_FAILED_VERIFICATION */, 0),
	                 DD_WEBHOOK_RETRY);
	assert_int_equal(dd_webhook_classify(0, 408), DD_WEBHOOK_RETRY);
	assert_int_equal(dd_webhook_classify(0, 429), DD_WEBHOOK_RETRY);
	assert_int_equal(dd_webhook_classify(0, 500), DD_WEBHOOK_RETRY);
	assert_int_equal(dd_webhook_classify(0, 503), DD_WEBHOOK_RETRY);
	assert_int_equal(dd_webhook_classify(0, 400), DD_WEBHOOK_DEAD);
	assert_int_equal(dd_webhook_classify(0, 401), DD_WEBHOOK_DEAD);
	assert_int_equal(dd_webhook_classify(0, 404), DD_WEBHOOK_DEAD);
	assert_int_equal(dd_webhook_classify(0, 413), DD_WEBHOOK_DEAD);
	assert_int_equal(dd_webhook_classify(0, 301), DD_WEBHOOK_DEAD); /* never followed */
	assert_int_equal(dd_webhook_classify(0, 410), DD_WEBHOOK_GONE);
}

static void test_backoff(void **unused)
{
	/* first retry within retry_initial (<= 10 s by the contract), doubling, capped */
	assert_int_equal(dd_outbox_backoff_ms(1, 5000, 600000, 0.999999), 4999);
	assert_int_equal(dd_outbox_backoff_ms(2, 5000, 600000, 0.999999), 9999);
	assert_int_equal(dd_outbox_backoff_ms(3, 5000, 600000, 0.5), 10000);
	assert_int_equal(dd_outbox_backoff_ms(30, 5000, 600000, 0.5), 300000);
	assert_int_equal(dd_outbox_backoff_ms(4000000000u, 5000, 600000, 0.5), 300000);
	assert_int_equal(dd_outbox_backoff_ms(7, 5000, 600000, 0.0), 0); /* full jitter */
}

/* ---- spool ---- */

/* Names in dir matching an extended regular expression. */
static int count_files(const char *dir, const char *ere)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -c -E -- '%s'", dir, ere);
	FILE *p = popen(cmd, "r");
	int n = 0;
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

#define MSG "^[0-9a-f]{16}-[0-9a-f]{8}\\.msg$" /* a message, not a temp file */

static void test_spool_roundtrip(void **unused)
{
	char dir[300], path[600];
	snprintf(dir, sizeof(dir), "%s/spool-a/deep/er", tmpdir); /* parents are created */
	struct dd_spool *s;
	assert_int_equal(dd_spool_open(dir, &s), 0);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	/* one process per spool */
	struct dd_spool *s2;
	assert_int_equal(dd_spool_open(dir, &s2), -EBUSY);

	struct dd_spool_meta m = {
	    .key = "id-1", .created_ms = 1000, .attempts = 0, .next_ms = 1000};
	char n1[DD_SPOOL_NAME_MAX], n2[DD_SPOOL_NAME_MAX];
	uint64_t size;
	assert_int_equal(dd_spool_put(s, &m, "{\"a\":1}", 7, n1, &size), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, n1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, size);
	assert_int_equal(st.st_mode & 0777, 0600);
	strcpy(m.key, "id-2");
	assert_int_equal(dd_spool_put(s, &m, "", 0, n2, NULL), 0); /* empty payload is fine */
	assert_true(strcmp(n1, n2) < 0);                           /* names sort by age */
	char n3[DD_SPOOL_NAME_MAX];
	assert_int_equal(
	    dd_spool_put(s, &(struct dd_spool_meta){.key = "bad key"}, "x", 1, n3, NULL), -EINVAL);

	char **names;
	size_t n;
	assert_int_equal(dd_spool_list(s, &names, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], n1);
	dd_spool_list_free(names, n);

	struct dd_spool_meta r;
	struct driftd_buf b = {0};
	assert_int_equal(dd_spool_read(s, n1, &r, &b, NULL), 0);
	assert_string_equal(r.key, "id-1");
	assert_int_equal(r.created_ms, 1000);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.data, "{\"a\":1}", 7);

	/* bookkeeping rewritten in place, atomically */
	r.attempts = 3;
	r.next_ms = 99000;
	assert_int_equal(dd_spool_update(s, n1, &r, b.data, b.len), 0);
	struct dd_spool_meta r2;
	assert_int_equal(dd_spool_read(s, n1, &r2, NULL, NULL), 0);
	assert_int_equal(r2.attempts, 3);
	assert_int_equal(r2.next_ms, 99000);
	assert_int_equal(count_files(dir, MSG), 2);

	/* dead letters keep the file and say why */
	assert_int_equal(dd_spool_bury(s, n1, "HTTP 400: no"), 0);
	snprintf(path, sizeof(path), "%s/dead/%s.why", dir, n1);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[100] = "";
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_string_equal(line, "HTTP 400: no\n");
	snprintf(path, sizeof(path), "%s/dead", dir);
	assert_int_equal(count_files(path, MSG), 1);
	assert_int_equal(dd_spool_read(s, n1, &r, &b, NULL), -ENOENT);
	assert_int_equal(dd_spool_remove(s, n2), 0);
	assert_int_equal(count_files(dir, MSG), 0);

	/* crash debris: a temp file is removed at the next open */
	snprintf(path, sizeof(path), "%s/.tmp-0000000000000001-00000000.msg", dir);
	write_file(path, "driftd-spool 1\n{\"key\":");
	dd_spool_close(s);
	assert_int_equal(dd_spool_open(dir, &s), 0);
	assert_int_equal(access(path, F_OK), -1);
	dd_spool_close(s);
	driftd_buf_free(&b);
}

/* Names only grow: a message spooled after a restart sorts after every message already there,
 * even one named from a clock that was ahead (a wall clock that stepped back since). */
static void test_spool_order_survives_clock_steps(void **unused)
{
	char dir[300], from[600], to[600];
	snprintf(dir, sizeof(dir), "%s/spool-order", tmpdir);
	struct dd_spool *s;
	assert_int_equal(dd_spool_open(dir, &s), 0);
	struct dd_spool_meta m = {.key = "early", .created_ms = 1, .next_ms = 1};
	char name[DD_SPOOL_NAME_MAX];
	assert_int_equal(dd_spool_put(s, &m, "a", 1, name, NULL), 0);
	dd_spool_close(s);
	/* as if written when the clock read the year 2500 */
	snprintf(from, sizeof(from), "%s/%s", dir, name);
	snprintf(to, sizeof(to), "%s/%016llx-00000000.msg", dir, 16725225600000000ULL);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(dd_spool_open(dir, &s), 0);
	snprintf(m.key, sizeof(m.key), "later");
	assert_int_equal(dd_spool_put(s, &m, "b", 1, name, NULL), 0);
	char **names;
	size_t n;
	assert_int_equal(dd_spool_list(s, &names, &n), 0);
	assert_int_equal(n, 2);
	struct dd_spool_meta got;
	assert_int_equal(dd_spool_read(s, names[1], &got, NULL, NULL), 0);
	assert_string_equal(got.key, "later");
	dd_spool_list_free(names, n);
	dd_spool_close(s);
}

static void test_spool_corrupt(void **unused)
{
	char dir[300], path[600];
	snprintf(dir, sizeof(dir), "%s/spool-b", tmpdir);
	struct dd_spool *s;
	assert_int_equal(dd_spool_open(dir, &s), 0);
	struct dd_spool_meta m = {.key = "k", .created_ms = 5};
	char name[DD_SPOOL_NAME_MAX];
	uint64_t size;
	const char *payload = "{\"payload\":\"0123456789\"}";
	assert_int_equal(dd_spool_put(s, &m, payload, strlen(payload), name, &size), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	char *good = malloc(size + 1);
	assert_int_equal(fread(good, 1, size, f), size);
	fclose(f);

	struct dd_spool_meta r;
	struct driftd_buf b = {0};
	/* every proper prefix (a torn write) is refused */
	for (size_t cut = 0; cut < size; cut++) {
		f = fopen(path, "w");
		fwrite(good, 1, cut, f);
		fclose(f);
		if (dd_spool_read(s, name, &r, &b, NULL) != -EBADMSG)
			fail_msg("prefix of %zu bytes accepted", cut);
	}
	/* any flipped byte is refused (header fields, checksum, payload) */
	for (size_t at = 0; at < size; at++) {
		good[at] ^= 0x20;
		f = fopen(path, "w");
		fwrite(good, 1, size, f);
		fclose(f);
		int rc = dd_spool_read(s, name, &r, &b, NULL);
		good[at] ^= 0x20;
		/* Flipping a key's case leaves a valid, different key: the only accepted case. */
		if (rc == 0 && strcmp(r.key, "k") == 0)
			fail_msg("flip at %zu accepted", at);
	}
	/* garbage, something appended, a directory, a symlink */
	write_file(path, "\x7f"
	                 "ELF garbage");
	assert_int_equal(dd_spool_read(s, name, &r, &b, NULL), -EBADMSG);
	f = fopen(path, "w");
	fwrite(good, 1, size, f);
	fputs("tail", f);
	fclose(f);
	assert_int_equal(dd_spool_read(s, name, &r, &b, NULL), -EBADMSG);
	assert_int_equal(dd_spool_read(s, name, &r, NULL, NULL), -EBADMSG);
	unlink(path);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(dd_spool_read(s, name, &r, &b, NULL), -EBADMSG);
	unlink(path);
	f = fopen(path, "w");
	fwrite(good, 1, size, f);
	fclose(f);
	assert_int_equal(dd_spool_read(s, name, &r, &b, NULL), 0);
	assert_memory_equal(b.data, payload, strlen(payload));
	free(good);
	driftd_buf_free(&b);
	dd_spool_close(s);
}

/* ---- the sink end to end without a receiver ---- */

static void open_sink(void *state, const char *conf, const char *spool, int64_t flush_ms)
{
	json_t *c = load(conf);
	struct driftd_sink_ctx ctx = {
	    .spool_dir = spool, .hostname = "h", .name = "webhook", .flush_timeout_ms = flush_ms};
	const char *k;
	char why[300];
	assert_int_equal(dd_sink_webhook.check(c, &k, why, sizeof(why)), 0);
	assert_int_equal(dd_sink_webhook.open(state, c, &ctx), 0);
	json_decref(c);
}

static int deliver_alert(void *state, const char *alert)
{
	json_t *a = load(alert);
	struct driftd_buf out = {0};
	int rc = dd_sink_webhook.format(state, a, &out);
	if (rc == 0)
		rc = dd_sink_webhook.deliver(state, out.data, out.len);
	driftd_buf_free(&out);
	json_decref(a);
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Nothing listens on port 1: every attempt fails at once and alerts stay spooled. */
#define DOWN "{\"url\":\"http://127.0.0.1:1/\",\"retry_initial\":\"10s\"}"

static void test_sink_spool_and_recovery(void **unused)
{
	char spool[300], dir[400], path[600];
	snprintf(spool, sizeof(spool), "%s/sink-a", tmpdir);
	snprintf(dir, sizeof(dir), "%s/webhook", spool);
	void *state = calloc(1, dd_sink_webhook.state_size);

	open_sink(state, DOWN, spool, 0);
	assert_int_equal(deliver_alert(state, FIRING), 0);
	assert_int_equal(deliver_alert(state, RESOLVED), 0);
	assert_int_equal(deliver_alert(state, FIRING), 0); /* same id pending: not twice */
	struct dd_outbox_stats st;
	dd_webhook_stats(state, &st);
	assert_int_equal(st.spooled, 2);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.pending, 2);
	assert_int_equal(count_files(dir, MSG), 2);
	struct stat sb;
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	/* flush waits for its timeout at most, and the alerts stay in the spool */
	dd_sink_webhook.close(state);
	open_sink(state, DOWN, spool, 300);
	int64_t t0 = now_ms();
	assert_int_equal(dd_sink_webhook.flush(state), 0);
	int64_t waited = now_ms() - t0;
	assert_true(waited >= 250 && waited < 3000);
	dd_webhook_stats(state, &st);
	assert_int_equal(st.recovered, 2);
	assert_int_equal(st.pending, 2);
	dd_sink_webhook.close(state);
	dd_sink_webhook.close(state); /* idempotent */

	/* Debris of a crash beside them: garbage with a message's name (sorts first), a
	 * truncated copy of a real message, a stray temp file. */
	snprintf(path, sizeof(path), "%s/0000000000000000-00000000.msg", dir);
	write_file(path, "garbage\n");
	char **names;
	size_t n;
	struct dd_spool *s;
	assert_int_equal(dd_spool_open(dir, &s), 0);
	assert_int_equal(dd_spool_list(s, &names, &n), 0);
	assert_int_equal(n, 3);
	char src[600];
	snprintf(src, sizeof(src), "%s/%s", dir, names[1]);
	snprintf(path, sizeof(path), "%s/0000000000000001-00000000.msg", dir);
	FILE *in = fopen(src, "r"), *out = fopen(path, "w");
	char buf[4096];
	size_t got = fread(buf, 1, sizeof(buf), in);
	fwrite(buf, 1, got - 10, out);
	fclose(in);
	fclose(out);
	dd_spool_list_free(names, n);
	dd_spool_close(s);
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s/.tmp-0000000000000002-00000000.msg", dir);
	write_file(tmp, "half");

	open_sink(state, DOWN, spool, -1);
	assert_int_equal(dd_sink_webhook.flush(state), 0); /* -1: does not wait */
	dd_webhook_stats(state, &st);
	assert_int_equal(st.recovered, 2);
	assert_int_equal(st.corrupt, 2);
	assert_int_equal(st.dead, 2);
	dd_sink_webhook.close(state);
	snprintf(path, sizeof(path), "%s/dead", dir);
	assert_int_equal(count_files(path, MSG), 2);
	assert_int_equal(count_files(path, "\\.why$"), 2);
	assert_int_equal(count_files(dir, MSG), 2);
	assert_int_equal(access(tmp, F_OK), -1);
	free(state);
}

/* A receiver that accepts the connection and never answers: close() must not wait for the
 * 15 s request timeout. */
static void test_close_interrupts_transfer(void **unused)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(ls, 8), 0);
	socklen_t al = sizeof(a);
	getsockname(ls, (struct sockaddr *)&a, &al);
	char conf[200], spool[300];
	snprintf(conf, sizeof(conf), "{\"url\":\"http://127.0.0.1:%d/\"}", ntohs(a.sin_port));
	snprintf(spool, sizeof(spool), "%s/sink-hang", tmpdir);
	void *state = calloc(1, dd_sink_webhook.state_size);
	open_sink(state, conf, spool, 0);
	assert_int_equal(deliver_alert(state, FIRING), 0);
	usleep(300 * 1000); /* the request is on its way */
	int64_t t0 = now_ms();
	dd_sink_webhook.close(state);
	int64_t took = now_ms() - t0;
	if (took > 1000)
		fail_msg("close took %lld ms", (long long)took);
	/* the alert is still spooled, untouched */
	open_sink(state, DOWN, spool, -1);
	struct dd_outbox_stats st;
	dd_webhook_stats(state, &st);
	assert_int_equal(st.recovered, 1);
	dd_sink_webhook.close(state);
	close(ls);
	free(state);
}

/* A disk that refuses the write (here: the file size limit): deliver returns the error,
 * counts it, leaves nothing half-written behind, and the next alert goes through. */
static void test_write_failure(void **unused)
{
	char spool[300], dir[400];
	snprintf(spool, sizeof(spool), "%s/sink-full", tmpdir);
	snprintf(dir, sizeof(dir), "%s/webhook", spool);
	void *state = calloc(1, dd_sink_webhook.state_size);
	open_sink(state, DOWN, spool, -1);
	struct rlimit old, lim = {.rlim_cur = 100, .rlim_max = RLIM_INFINITY};
	getrlimit(RLIMIT_FSIZE, &old);
	lim.rlim_max = old.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int rc = deliver_alert(state, FIRING);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(rc, -EFBIG);
	struct dd_outbox_stats st;
	dd_webhook_stats(state, &st);
	assert_int_equal(st.write_errors, 1);
	assert_int_equal(st.pending, 0);
	assert_int_equal(count_files(dir, "msg$"), 0); /* no .msg, no .tmp- */
	assert_int_equal(deliver_alert(state, FIRING), 0);
	dd_webhook_stats(state, &st);
	assert_int_equal(st.pending, 1);
	dd_sink_webhook.close(state);
	free(state);
}

static void test_overflow_still_spools(void **unused)
{
	char spool[300];
	snprintf(spool, sizeof(spool), "%s/sink-small", tmpdir);
	void *state = calloc(1, dd_sink_webhook.state_size);
	open_sink(state, "{\"url\":\"http://127.0.0.1:1/\",\"spool_max_files\":1}", spool, -1);
	assert_int_equal(deliver_alert(state, FIRING), 0);
	assert_int_equal(deliver_alert(state, RESOLVED), 0);
	struct dd_outbox_stats st;
	dd_webhook_stats(state, &st);
	assert_int_equal(st.spooled, 2);
	assert_int_equal(st.overflow, 1);
	dd_sink_webhook.close(state);
	free(state);
}

static int setup(void **unused)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/driftd-test-webhook-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **unused)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_native_is_the_alert),
	    cmocka_unit_test(test_alertmanager_shape),
	    cmocka_unit_test(test_slack_shape),
	    cmocka_unit_test(test_pagerduty_shape),
	    cmocka_unit_test(test_id_fallback),
	    cmocka_unit_test(test_signature_known_answer),
	    cmocka_unit_test(test_secret_parsing),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_check_in_config),
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_spool_roundtrip),
	    cmocka_unit_test(test_spool_corrupt),
	    cmocka_unit_test(test_spool_order_survives_clock_steps),
	    cmocka_unit_test(test_sink_spool_and_recovery),
	    cmocka_unit_test(test_close_interrupts_transfer),
	    cmocka_unit_test(test_write_failure),
	    cmocka_unit_test(test_overflow_still_spools),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
