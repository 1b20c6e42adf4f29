/* The syslog sink: exact bytes of every format on fixed alerts (PRI for every facility and
 * severity, header limits and NILVALUE, PARAM-VALUE escaping, SD-NAME sanitising, RFC 3164
 * truncation), check() problems naming their key, and the transports against sockets made
 * here: octet counting over TCP, one datagram per message over UDP and unix, reconnect after
 * the receiver closed, retries in order through the outbox, the spool bound (counted, nothing
 * dropped), recovery after a restart, timeouts that keep each attempt short. The real
 * rsyslog is in tests/integration/test_syslog.py. */
#define _GNU_SOURCE /* nftw */
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "sink_syslog.h"
#include "sinks.h"

static const char *const alert_text =
    "{\"id\":\"0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5b\","
    "\"uuid\":\"0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5b\",\"fingerprint\":\"a6e64d31cc0797a5\","
    "\"status\":\"firing\",\"time\":\"2026-11-27T12:00:00.123Z\",\"rule\":\"amount-drift\","
    "\"detector\":\"ks\",\"priority\":\"Warning\",\"source\":\"driftd\","
    "\"hostname\":\"scorer-1\",\"output\":\"Drift on /input/amount of fraud-scorer: ks score "
    "0.31 vs threshold 0.05, p=0.001 (at event 812)\",\"tags\":[\"drift\","
    "\"threat:data_poisoning\"],\"output_fields\":{\"model.id\":\"fraud-scorer\","
    "\"field\":\"/input/amount\",\"score\":0.31,\"threshold\":0.05,\"p_value\":0.001,"
    "\"event.index\":812,\"kafka.partition\":null}}";

static json_t *alert(void)
{
	json_error_t e;
	json_t *a = json_loads(alert_text, 0, &e);
	assert_non_null(a);
	return a;
}

/* Every sink opened here spools under one temporary directory, removed at the end. */
static char spool_root[] = "/tmp/driftd-syslog-spool-XXXXXX";

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void *sink_open_named(const char *conf_text, const char *hostname, const char *name)
{
	json_error_t e;
	json_t *conf = json_loads(conf_text, 0, &e);
	assert_non_null(conf);
	const char *key = NULL;
	char why[256] = "";
	assert_int_equal(dd_sink_syslog.check(conf, &key, why, sizeof(why)), 0);
	void *state = calloc(1, dd_sink_syslog.state_size);
	assert_non_null(state);
	struct driftd_sink_ctx ctx = {.hostname = hostname, .name = name, .spool_dir = spool_root};
	assert_int_equal(dd_sink_syslog.open(state, conf, &ctx), 0);
	json_decref(conf);
	return state;
}

static void *sink_open(const char *conf_text, const char *hostname)
{
	static unsigned n;
	char name[32];
	snprintf(name, sizeof(name), "syslog-%u", n++);
	return sink_open_named(conf_text, hostname, name);
}

static void sink_close(void *state)
{
	dd_sink_syslog.close(state);
	dd_sink_syslog.close(state); /* idempotent */
	free(state);
}

/* Format `a` with a sink opened on conf: a NUL-terminated copy to free. */
static char *format(const char *conf, const json_t *a)
{
	void *s = sink_open(conf, "host-from-ctx");
	struct driftd_buf b = {0};
	assert_int_equal(dd_sink_syslog.format(s, a, &b), 0);
	char *out = strndup((const char *)b.data, b.len);
	driftd_buf_free(&b);
	sink_close(s);
	return out;
}

static char *expect(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *expect(const char *fmt, ...)
{
	static char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

static void test_rfc5424_exact(void **unused)
{
	json_t *a = alert();
	char *out = format("{\"facility\": \"local3\"}", a);
	/* local3 = 19, Warning = 4: 19 * 8 + 4 = 156. null output fields are left out. */
	assert_string_equal(
	    out,
	    expect("<156>1 2026-11-27T12:00:00.123Z scorer-1 driftd %d amount-drift "
	           "[driftd@32473 id=\"0f8e2a4c-1b3d-4e5f-8a9b-0c1d2e3f4a5b\" "
	           "fingerprint=\"a6e64d31cc0797a5\" status=\"firing\" rule=\"amount-drift\" "
	           "detector=\"ks\" priority=\"Warning\" model.id=\"fraud-scorer\" "
	           "field=\"/input/amount\" score=\"0.31\" threshold=\"0.05\" p_value=\"0.001\" "
	           "event.index=\"812\" tags=\"drift,threat:data_poisoning\"] Drift on "
	           "/input/amount of fraud-scorer: ks score 0.31 vs threshold 0.05, p=0.001 (at "
	           "event 812)",
	           (int)getpid()));
	free(out);

	/* Default facility daemon (3), a custom SD-ID and app name; resolved is Informational
	 * whatever the priority says. */
	json_object_set_new(a, "status", json_string("resolved"));
	json_object_set_new(a, "dry_run", json_true());
	out = format("{\"sd_id\": \"acme@32473.7\", \"app_name\": \"drift-prod\"}", a);
	const char *head = "<30>1 2026-11-27T12:00:00.123Z scorer-1 drift-prod ";
	assert_memory_equal(out, head, strlen(head));
	assert_non_null(strstr(out, "[acme@32473.7 id=\""));
	assert_non_null(strstr(out, "status=\"resolved\""));
	assert_non_null(
	    strstr(out, "tags=\"drift,threat:data_poisoning\" dry_run=\"true\"] Drift"));
	free(out);
	json_decref(a);
}

static void test_rfc5424_escaping(void **unused)
{
	json_t *a = alert();
	json_t *f = json_object_get(a, "output_fields");
	json_object_set_new(f, "model.id", json_string("evil\"model\\x]"));
	json_object_set_new(f, "note", json_string("a\nb\tc"));
	json_object_set_new(f, "nested", json_pack("{s:[i,s]}", "k", 1, "]"));
	json_object_set_new(f, "flag", json_false());
	json_object_set_new(f, "big", json_real(20.0));
	json_object_set_new(f, "tiny", json_real(1.5e-300));
	json_array_append_new(json_object_get(a, "tags"), json_string("tag\"with\\quote]"));
	json_object_set_new(a, "output", json_string("line one\nline \"two\" ]"));
	char *out = format("{}", a);
	assert_non_null(strstr(out, " model.id=\"evil\\\"model\\\\x\\]\" "));
	assert_non_null(strstr(out, " note=\"a b c\" "));
	assert_non_null(strstr(out, " nested=\"{\\\"k\\\":[1,\\\"\\]\\\"\\]}\" "));
	assert_non_null(strstr(out, " flag=\"false\" big=\"20\" tiny=\"1.5e-300\" "));
	assert_non_null(
	    strstr(out, "tags=\"drift,threat:data_poisoning,tag\\\"with\\\\quote\\]\"]"));
	/* MSG is not escaped (it is free text after SD), only control characters go. */
	const char *msg = strstr(out, "\"] ");
	assert_non_null(msg);
	assert_string_equal(msg, "\"] line one line \"two\" ]");
	free(out);
	json_decref(a);

	struct driftd_buf b = {0};
	dd_syslog_sd_value(&b, "\"\\]x\x7f", 5);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "\\\"\\\\\\]x ", 8);
	driftd_buf_free(&b);
}

static void test_sd_names(void **unused)
{
	char n[DD_SYSLOG_SD_NAME_MAX + 1];
	assert_int_equal(dd_syslog_sd_name("model.id", n), 8);
	assert_string_equal(n, "model.id");
	assert_int_equal(dd_syslog_sd_name("a b=c]d\"e", n), 9);
	assert_string_equal(n, "a_b_c_d_e");
	assert_int_equal(dd_syslog_sd_name("caf\xc3\xa9-\xe2\x80\x94-x\x01", n), 9);
	assert_string_equal(n, "caf_-_-x_");
	assert_int_equal(dd_syslog_sd_name("0123456789012345678901234567890123456789", n), 32);
	assert_string_equal(n, "01234567890123456789012345678901");
	assert_int_equal(dd_syslog_sd_name("", n), 0);

	/* In a message: sanitised names, empty keys left out. */
	json_t *a = alert();
	json_t *f = json_object_get(a, "output_fields");
	json_object_clear(f);
	json_object_set_new(f, "a b=c]d\"e", json_integer(1));
	json_object_set_new(f, "", json_integer(2));
	json_object_set_new(f, "k\xc3\xa9y", json_integer(3));
	json_object_set_new(f, "a-very-long-output-field-name-beyond-32", json_integer(4));
	json_object_set_new(a, "tags", json_array());
	char *out = format("{}", a);
	assert_non_null(strstr(out, " priority=\"Warning\" a_b_c_d_e=\"1\" k_y=\"3\" "
	                            "a-very-long-output-field-name-be=\"4\"] Drift"));
	free(out);
	json_decref(a);
}

static void test_header_limits(void **unused)
{
	json_t *a = alert();
	char host[301], rule[41];
	memset(host, 'h', 300);
	host[300] = '\0';
	host[3] = ' ';
	memset(rule, 'r', 40);
	rule[40] = '\0';
	rule[1] = '\xc3';
	rule[2] = '\xa9';
	json_object_set_new(a, "hostname", json_string(host));
	json_object_set_new(a, "rule", json_string(rule));
	json_object_set_new(a, "time", json_string("2026-11-27T12:00:00.123456789+02:00"));
	const char *app =
	    "{\"app_name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"; /* 48 */
	char *out = format(app, a);
	char want[1024], want_host[256];
	memcpy(want_host, host, 255);
	want_host[255] = '\0';
	want_host[3] = '_';
	snprintf(want, sizeof(want), "<28>1 2026-11-27T12:00:00.123456+02:00 %s %.48s %d r_%.30s [",
	         want_host, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", (int)getpid(),
	         rule + 3);
	assert_memory_equal(out, want, strlen(want));
	free(out);

	/* NILVALUE: no host anywhere, no rule, a time RFC 5424 does not allow, no output. */
	json_object_set_new(a, "hostname", json_string(""));
	json_object_del(a, "rule");
	json_object_set_new(a, "time", json_string("2026-11-27T12:00:60Z"));
	json_object_del(a, "output");
	void *s = sink_open("{}", NULL);
	struct driftd_buf b = {0};
	assert_int_equal(dd_sink_syslog.format(s, a, &b), 0);
	snprintf(want, sizeof(want), "<28>1 - - driftd %d - [driftd@32473 ", (int)getpid());
	assert_memory_equal(b.data, want, strlen(want));
	assert_int_equal(b.data[b.len - 1], ']'); /* no MSG */
	driftd_buf_free(&b);
	sink_close(s);

	/* Host from the context when the alert has none. */
	out = format("{}", a);
	snprintf(want, sizeof(want), "<28>1 - host-from-ctx driftd %d - [", (int)getpid());
	assert_memory_equal(out, want, strlen(want));
	free(out);

	static const char *const bad_times[] = {"2026-13-27T12:00:00Z",  "2026-11-27 12:00:00Z",
	                                        "2026-11-27T24:00:00Z",  "2026-11-27T12:00:00",
	                                        "2026-11-27T12:00:00.Z", "2026-11-27T12:00:00+2:00",
	                                        "12026-11-27T12:00:00Z", NULL};
	for (size_t i = 0; bad_times[i]; i++) {
		json_object_set_new(a, "time", json_string(bad_times[i]));
		out = format("{}", a);
		assert_memory_equal(out, "<28>1 - ", 8);
		free(out);
	}
	json_decref(a);
}

static void test_pri_every_facility_and_severity(void **unused)
{
	static const char *const fac[] = {"kern",         "user",   "mail",   "daemon",   "auth",
	                                  "syslog",       "lpr",    "news",   "uucp",     "cron",
	                                  "authpriv",     "ftp",    "ntp",    "security", "console",
	                                  "solaris-cron", "local0", "local1", "local2",   "local3",
	                                  "local4",       "local5", "local6", "local7"};
	static const char *const sev[] = {"Emergency", "Alert",  "Critical",      "Error",
	                                  "Warning",   "Notice", "Informational", "Debug"};
	json_t *a = alert();
	for (int f = 0; f < 24; f++) {
		assert_int_equal(dd_syslog_facility(fac[f]), f);
		char conf[64];
		snprintf(conf, sizeof(conf), "{\"facility\": \"%s\"}", fac[f]);
		void *s = sink_open(conf, NULL);
		for (int v = 0; v < 8; v++) {
			assert_int_equal(dd_syslog_severity(sev[v]), v);
			json_object_set_new(a, "priority", json_string(sev[v]));
			for (int fmt = 0; fmt < 2; fmt++) {
				struct driftd_buf b = {0};
				json_object_set_new(a, "status",
				                    json_string(fmt ? "resolved" : "firing"));
				assert_int_equal(dd_sink_syslog.format(s, a, &b), 0);
				char want[16];
				snprintf(want, sizeof(want), "<%d>1 ", f * 8 + (fmt ? 6 : v));
				assert_memory_equal(b.data, want, strlen(want));
				driftd_buf_free(&b);
			}
		}
		sink_close(s);
	}
	assert_int_equal(dd_syslog_facility("audit"), 13);
	assert_int_equal(dd_syslog_facility("clock"), 15);
	assert_int_equal(dd_syslog_facility("local8"), -1);
	assert_int_equal(dd_syslog_severity("warning"), 4);
	assert_int_equal(dd_syslog_severity("warn"), -1);
	/* An unknown priority is sent as Warning. */
	json_object_set_new(a, "status", json_string("firing"));
	json_object_set_new(a, "priority", json_string("Severe"));
	char *out = format("{\"facility\": \"kern\"}", a);
	assert_memory_equal(out, "<4>1 ", 5);
	free(out);
	json_decref(a);
}

static void test_rfc5424_json(void **unused)
{
	json_t *a = alert();
	char *out = format("{\"format\": \"rfc5424-json\", \"facility\": \"local0\"}", a);
	char want[256];
	snprintf(want, sizeof(want),
	         "<132>1 2026-11-27T12:00:00.123Z scorer-1 driftd %d amount-drift - {",
	         (int)getpid());
	assert_memory_equal(out, want, strlen(want));
	const char *msg = out + strlen(want) - 1;
	/* MSG is the alert JSON exactly as the stdout sink writes it. */
	char *j = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(17));
	assert_string_equal(msg, j);
	json_error_t e;
	json_t *back = json_loads(msg, 0, &e);
	assert_non_null(back);
	assert_true(json_equal(back, a));
	json_decref(back);
	free(j);
	free(out);
	json_decref(a);
}

static void test_rfc3164(void **unused)
{
	json_t *a = alert();
	json_object_set_new(a, "time", json_string("2026-03-05T07:08:09.5Z"));
	char *out = format("{\"format\": \"rfc3164\", \"facility\": \"local7\"}", a);
	assert_string_equal(out, expect("<188>Mar  5 07:08:09 scorer-1 driftd[%d]: amount-drift "
	                                "firing: Drift on /input/amount of fraud-scorer: ks score "
	                                "0.31 vs threshold 0.05, p=0.001 (at event 812)",
	                                (int)getpid()));
	free(out);

	/* The whole packet stays within 1024 bytes, cut between UTF-8 characters; the tag has no
	 * '[', ']' or ':'. */
	char text[3001];
	for (size_t i = 0; i < 1500; i++)
		memcpy(text + 2 * i, "\xc3\xa9", 2);
	text[3000] = '\0';
	json_object_set_new(a, "output", json_string(text));
	out = format("{\"format\": \"rfc3164\", \"app_name\": \"d[1]:x\"}", a);
	assert_true(strlen(out) <= 1024 && strlen(out) >= 1023);
	assert_non_null(strstr(out, " d_1__x["));
	json_t *check = json_stringn(out, strlen(out)); /* valid UTF-8: not cut inside */
	assert_non_null(check);
	json_decref(check);
	free(out);

	/* No valid time: no HEADER at all (a relay adds its own). */
	json_object_set_new(a, "time", json_string("yesterday"));
	json_object_set_new(a, "output", json_string("x\ny"));
	out = format("{\"format\": \"rfc3164\"}", a);
	assert_string_equal(out, expect("<28>driftd[%d]: amount-drift firing: x y", (int)getpid()));
	free(out);
	json_decref(a);
}

static void check_fails(const char *conf_text, const char *want_key, const char *want_why)
{
	json_error_t e;
	json_t *conf = json_loads(conf_text, 0, &e);
	assert_non_null(conf);
	const char *key = NULL;
	char why[256] = "";
	assert_int_equal(dd_sink_syslog.check(conf, &key, why, sizeof(why)), -EINVAL);
	if (!key || strcmp(key, want_key) != 0 || !strstr(why, want_why))
		fail_msg("%s: key %s, why '%s' (wanted %s, '%s')", conf_text, key ? key : "(null)",
		         why, want_key, want_why);
	json_decref(conf);
}

static void test_check(void **unused)
{
	check_fails("{\"targt\": \"udp://h:1\"}", "targt", "unknown key 'targt'");
	check_fails("{\"target\": 5}", "target", "target takes a string");
	check_fails("{\"target\": \"http://h\"}", "target", "is not unix:///PATH");
	check_fails("{\"target\": \"unix://dev/log\"}", "target", "absolute path");
	check_fails("{\"target\": \"udp://:514\"}", "target", "needs a host");
	check_fails("{\"target\": \"tcp://h:0\"}", "target", "1..65535");
	check_fails("{\"target\": \"tcp://h:65536\"}", "target", "1..65535");
	check_fails("{\"target\": \"tcp://h:51x\"}", "target", "1..65535");
	check_fails("{\"target\": \"tcp://::1:514\"}", "target", "[ADDR]:PORT");
	check_fails("{\"target\": \"tcp://[::1:514\"}", "target", "unbalanced");
	check_fails("{\"target\": \"tcp://h/x:514\"}", "target", "'/' in the host");
	check_fails("{\"facility\": \"local8\"}", "facility", "is not one of kern");
	check_fails("{\"format\": \"json\"}", "format", "rfc5424, rfc5424-json or rfc3164");
	check_fails("{\"sd_id\": \"driftd\"}", "sd_id", "NAME@PEN");
	check_fails("{\"sd_id\": \"drift d@32473\"}", "sd_id", "NAME@PEN");
	check_fails("{\"sd_id\": \"driftd@x\"}", "sd_id", "NAME@PEN");
	check_fails("{\"sd_id\": \"@32473\"}", "sd_id", "NAME@PEN");
	check_fails("{\"sd_id\": \"driftd@32473.\"}", "sd_id", "NAME@PEN");
	check_fails("{\"sd_id\": \"a-very-long-structured-data@32473\"}", "sd_id", "NAME@PEN");
	check_fails("{\"app_name\": \"\"}", "app_name", "1 to 48");
	check_fails("{\"app_name\": \"drift d\"}", "app_name", "1 to 48");
	check_fails("{\"app_name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	            "app_name", "1 to 48");
	check_fails("{\"timeout\": \"5ms\"}", "timeout", "10ms to 30s");
	check_fails("{\"timeout\": 31}", "timeout", "10ms to 30s");
	check_fails("{\"timeout\": \"soon\"}", "timeout", "10ms to 30s");
	check_fails("{\"queue\": 0}", "queue", "1 to 1000000");
	check_fails("{\"queue\": \"10\"}", "queue", "1 to 1000000");
	check_fails("{\"ca_file\": \"/etc/hostname\"}", "ca_file", "tls:// targets only");
	check_fails("{\"target\": \"tls://h\", \"ca_file\": \"/nonexistent/ca.pem\"}", "ca_file",
	            "No such file");
	check_fails("{\"target\": \"tls://h\", \"cert_file\": \"" DRIFTD_TEST_DATA
	            "/unit/test_sink_syslog.c\"}",
	            "cert_file", "both cert_file and key_file");

	static const char *const good[] = {
	    "{}",
	    "{\"target\": \"unix:///dev/log\", \"facility\": \"local0\", \"format\": \"rfc3164\"}",
	    "{\"target\": \"udp://[::1]:514\", \"sd_id\": \"x@1\", \"app_name\": \"a\"}",
	    "{\"target\": \"tcp://syslog.example.net\", \"timeout\": \"250ms\", \"queue\": 1}",
	    "{\"target\": \"tls://127.0.0.1\", \"timeout\": 2, \"queue\": 10000}",
	    NULL};
	for (size_t i = 0; good[i]; i++) {
		json_error_t e;
		json_t *conf = json_loads(good[i], 0, &e);
		const char *key = NULL;
		char why[256] = "";
		if (dd_sink_syslog.check(conf, &key, why, sizeof(why)) != 0)
			fail_msg("%s: %s", good[i], why);
		json_decref(conf);
	}
}

/* ---- transports ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int listener(int type, int *port)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t len = sizeof(sa);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static void *open_target(const char *scheme, int port, const char *extra)
{
	char conf[256];
	snprintf(conf, sizeof(conf), "{\"target\": \"%s://127.0.0.1:%d\"%s}", scheme, port, extra);
	return sink_open(conf, NULL);
}

static int deliver(void *s, const char *msg)
{
	return dd_sink_syslog.deliver(s, (const uint8_t *)msg, strlen(msg));
}

static struct dd_syslog_stats stats(void *s)
{
	struct dd_syslog_stats st;
	dd_syslog_stats(s, &st);
	return st;
}

static struct driftd_sink_status status(void *s)
{
	struct driftd_sink_status st;
	assert_int_equal(dd_sink_syslog.status(s, &st), 0);
	return st;
}

/* Wait (at most 10 s) until the delivery thread has done what `cond` says. */
#define WAIT_FOR(s, st, cond)                                                                      \
	do {                                                                                       \
		int64_t t0_ = now_ms();                                                            \
		for (;;) {                                                                         \
			(st) = stats(s);                                                           \
			if (cond)                                                                  \
				break;                                                             \
			if (now_ms() - t0_ > 10000)                                                \
				fail_msg("timed out waiting for %s", #cond);                       \
			usleep(5000);                                                              \
		}                                                                                  \
	} while (0)

/* Read exactly n bytes (the test's receiver side). */
static void read_n(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		assert_int_equal(poll(&p, 1, 10000), 1);
		ssize_t r = recv(fd, buf + got, n - got, 0);
		assert_true(r > 0);
		got += (size_t)r;
	}
	buf[n] = '\0';
}

static int accept_within(int l)
{
	struct pollfd p = {.fd = l, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 10000), 1);
	int c = accept(l, NULL, NULL);
	assert_true(c >= 0);
	return c;
}

static void test_frame(void **unused)
{
	struct driftd_buf b = {0};
	dd_syslog_frame(&b, (const uint8_t *)"hello", 5);
	dd_syslog_frame(&b, (const uint8_t *)"", 0);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.data, "5 hello0 ", 9);
	driftd_buf_free(&b);
}

/* deliver only spools: it returns at once, and the thread sends both on one connection. */
static void test_tcp_octet_counting(void **unused)
{
	int port = 0, l = listener(SOCK_STREAM, &port);
	void *s = open_target("tcp", port, "");
	json_t *a = alert();
	struct driftd_buf b = {0};
	assert_int_equal(dd_sink_syslog.format(s, a, &b), 0);
	assert_int_equal(dd_sink_syslog.deliver(s, b.data, b.len), 0);
	assert_int_equal(deliver(s, "<13>1 - - - - - - second\nline"), 0);
	int c = accept_within(l);
	char want[1024], got[1024];
	int n = snprintf(want, sizeof(want), "%zu %.*s29 <13>1 - - - - - - second\nline", b.len,
	                 (int)b.len, (const char *)b.data);
	read_n(c, got, (size_t)n);
	assert_string_equal(got, want);
	assert_int_equal(dd_sink_syslog.flush(s), 0);
	struct dd_syslog_stats st = stats(s);
	assert_int_equal(st.outbox.delivered, 2);
	assert_int_equal(st.outbox.pending, 0);
	assert_int_equal(st.connects, 1);
	/* The same alert handed over twice while pending is spooled once; once sent, again. */
	driftd_buf_free(&b);
	json_decref(a);
	sink_close(s);
	close(c);
	close(l);
}

/* The receiver closes the connection between two alerts (a restart): the next message goes
 * out on a new connection, not into the dead one. */
static void test_tcp_reconnect_after_close(void **unused)
{
	int port = 0, l = listener(SOCK_STREAM, &port);
	void *s = open_target("tcp", port, "");
	char got[64];
	struct dd_syslog_stats st;
	assert_int_equal(deliver(s, "one"), 0);
	int c = accept_within(l);
	read_n(c, got, 5);
	assert_string_equal(got, "3 one");
	WAIT_FOR(s, st, st.outbox.delivered == 1);
	close(c);
	usleep(50 * 1000); /* the FIN arrives */
	assert_int_equal(deliver(s, "two"), 0);
	c = accept_within(l);
	read_n(c, got, 5);
	assert_string_equal(got, "3 two");
	WAIT_FOR(s, st, st.outbox.delivered == 2);
	assert_int_equal(st.connects, 2);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.outbox.retries, 0);
	sink_close(s);
	close(c);
	close(l);
}

/* No receiver: deliver still returns 0 at once (the alerts are on disk), the failure is
 * reported with its cause, and when the receiver is back the alerts go out in order. */
static void test_retry_in_order(void **unused)
{
	int port = 0, l = listener(SOCK_STREAM, &port);
	close(l); /* nobody listens there now */
	void *s = open_target("tcp", port, "");
	int64_t t0 = now_ms();
	assert_int_equal(deliver(s, "a1"), 0);
	assert_int_equal(deliver(s, "a2"), 0);
	assert_true(now_ms() - t0 < 1000);
	struct dd_syslog_stats st;
	WAIT_FOR(s, st, st.outbox.retries >= 1);
	struct driftd_sink_status ss = status(s);
	assert_true(ss.failing >= 1);
	assert_int_equal(ss.pending, 2);
	assert_int_equal(ss.delivered, 0);
	assert_non_null(strstr(ss.last_error, "Connection refused"));

	l = listener(SOCK_STREAM, &port);
	assert_int_equal(deliver(s, "a3"), 0);
	int c = accept_within(l);
	char got[64];
	read_n(c, got, 12);
	assert_string_equal(got, "2 a12 a22 a3");
	WAIT_FOR(s, st, st.outbox.delivered == 3);
	ss = status(s);
	assert_int_equal(ss.pending, 0);
	assert_int_equal(ss.failing, 0);
	assert_string_equal(ss.last_error, "");
	sink_close(s);
	close(c);
	close(l);
}

/* Beyond `queue` alerts are still kept (counted, and the status says so); flush is bounded;
 * what is left is sent by the next run, in order. */
static void test_spool_bound_and_restart(void **unused)
{
	int port = 0, l = listener(SOCK_STREAM, &port);
	close(l);
	char conf[128];
	snprintf(conf, sizeof(conf),
	         "{\"target\": \"tcp://127.0.0.1:%d\", \"queue\": 2, \"timeout\": \"200ms\"}",
	         port);
	void *s = sink_open_named(conf, NULL, "bounded");
	for (int i = 1; i <= 4; i++) {
		char m[8];
		snprintf(m, sizeof(m), "m%d", i);
		assert_int_equal(deliver(s, m), 0);
	}
	struct driftd_sink_status ss = status(s);
	assert_int_equal(ss.pending, 4);
	assert_int_equal(ss.overflow, 2);
	assert_true(ss.over_bounds);
	int64_t t0 = now_ms();
	assert_int_equal(dd_sink_syslog.flush(s), 0);
	assert_true(now_ms() - t0 < 3000);
	sink_close(s);

	l = listener(SOCK_STREAM, &port);
	s = sink_open_named(conf, NULL, "bounded");
	struct dd_syslog_stats st = stats(s);
	assert_int_equal(st.outbox.recovered, 4);
	int c = accept_within(l);
	char got[64];
	read_n(c, got, 16);
	assert_string_equal(got, "2 m12 m22 m32 m4");
	WAIT_FOR(s, st, st.outbox.delivered == 4);
	assert_false(status(s).over_bounds);
	sink_close(s);
	close(c);
	close(l);
}

/* A receiver that does not read: each attempt gives up after `timeout`, close is prompt. */
static void test_tcp_send_timeout(void **unused)
{
	int port = 0, l = listener(SOCK_STREAM, &port);
	void *s = open_target("tcp", port, ", \"timeout\": \"100ms\"");
	size_t big = 1 << 20;
	char *msg = malloc(big + 1);
	memset(msg, 'x', big);
	struct dd_syslog_stats st = stats(s);
	for (int i = 0; i < 64 && st.outbox.retries == 0; i++) {
		snprintf(msg, 16, "%08d", i); /* distinct keys */
		msg[8] = 'x';
		msg[big] = '\0';
		assert_int_equal(deliver(s, msg), 0);
		st = stats(s);
	}
	WAIT_FOR(s, st, st.outbox.retries >= 1);
	assert_non_null(strstr(status(s).last_error, "timed out"));
	free(msg);
	int64_t t0 = now_ms();
	sink_close(s);
	assert_true(now_ms() - t0 < 2000);
	close(l);
}

static void test_udp_datagrams(void **unused)
{
	int port = 0, u = listener(SOCK_DGRAM, &port);
	void *s = open_target("udp", port, "");
	json_t *a = alert();
	struct driftd_buf b = {0};
	assert_int_equal(dd_sink_syslog.format(s, a, &b), 0);
	assert_int_equal(dd_sink_syslog.deliver(s, b.data, b.len), 0);
	assert_int_equal(deliver(s, "second"), 0);
	char got[4096];
	ssize_t n = recv(u, got, sizeof(got), 0);
	assert_int_equal(n, (ssize_t)b.len); /* one message per datagram, no framing */
	assert_memory_equal(got, b.data, b.len);
	n = recv(u, got, sizeof(got), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(got, "second", 6);
	/* Too large for a datagram: a dead letter with the reason, the socket stays usable. */
	size_t big = 70000;
	char *msg = malloc(big + 1);
	memset(msg, 'x', big);
	msg[big] = '\0';
	assert_int_equal(deliver(s, msg), 0);
	free(msg);
	assert_int_equal(deliver(s, "third"), 0);
	n = recv(u, got, sizeof(got), 0);
	assert_int_equal(n, 5);
	struct dd_syslog_stats st;
	WAIT_FOR(s, st, st.outbox.delivered == 3);
	assert_int_equal(st.outbox.dead, 1);
	assert_int_equal(st.outbox.pending, 0);
	driftd_buf_free(&b);
	json_decref(a);
	sink_close(s);
	close(u);
}

static void test_unix_datagrams(void **unused)
{
	char dir[] = "/tmp/driftd-syslog-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128], conf[256];
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(conf, sizeof(conf), "{\"target\": \"unix://%s\"}", path);
	void *s = sink_open(conf, NULL);
	/* No socket yet: a retry with the reason, not a crash or a wait. */
	assert_int_equal(deliver(s, "early"), 0);
	struct dd_syslog_stats st;
	WAIT_FOR(s, st, st.outbox.retries >= 1);
	assert_non_null(strstr(status(s).last_error, "No such file"));

	int u = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(u, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(deliver(s, "late"), 0);
	char got[64];
	assert_int_equal(recv(u, got, sizeof(got), 0), 5);
	assert_memory_equal(got, "early", 5);
	assert_int_equal(recv(u, got, sizeof(got), 0), 4);
	assert_memory_equal(got, "late", 4);
	sink_close(s);
	close(u);
	unlink(path);
	rmdir(dir);
}

/* TLS against a server that never answers the handshake, and one that hangs up: each
 * attempt bounded by the timeout, reported with its cause. */
static void test_tls_handshake_bounded(void **unused)
{
	int port = 0, l = listener(SOCK_STREAM, &port);
	void *s = open_target("tls", port, ", \"timeout\": \"200ms\"");
	assert_int_equal(deliver(s, "x"), 0);
	struct dd_syslog_stats st;
	WAIT_FOR(s, st, st.outbox.retries >= 1);
	assert_non_null(strstr(status(s).last_error, "TLS handshake"));
	int64_t t0 = now_ms();
	sink_close(s);
	assert_true(now_ms() - t0 < 1000);
	/* Drop the connections the attempts left in the backlog. */
	for (struct pollfd p = {.fd = l, .events = POLLIN}; poll(&p, 1, 0) == 1;)
		close(accept(l, NULL, NULL));

	s = open_target("tls", port, ", \"timeout\": \"2s\"");
	int pid = fork();
	if (pid == 0) {
		int cc = accept(l, NULL, NULL);
		char buf[512];
		(void)!recv(cc, buf, sizeof(buf), 0);
		close(cc);
		_exit(0);
	}
	assert_int_equal(deliver(s, "x"), 0);
	WAIT_FOR(s, st, st.outbox.retries >= 1);
	struct driftd_sink_status ss = status(s);
	if (!strstr(ss.last_error, "TLS handshake"))
		fail_msg("last error: %s", ss.last_error);
	assert_int_equal(ss.delivered, 0);
	waitpid(pid, NULL, 0);
	sink_close(s);
	close(l);
}

/* The registry has it, and the configuration reports its problems at the offending key. */
static void test_registry_and_config(void **unused)
{
	assert_ptr_equal(dd_sink_find("syslog"), &dd_sink_syslog);
	static const char yaml[] = "monitors:\n"
	                           "  - {name: m, field: /input/x, detector: page_hinkley}\n"
	                           "alerts:\n"
	                           "  sinks:\n"
	                           "    - syslog:\n"
	                           "        target: udp://127.0.0.1:514\n"
	                           "        facility: local9\n";
	char *diag = NULL;
	size_t dlen = 0;
	FILE *f = open_memstream(&diag, &dlen);
	struct dd_config *c = NULL;
	assert_int_equal(dd_config_parse("t.yaml", yaml, sizeof(yaml) - 1, 0, f, &c), -EINVAL);
	fclose(f);
	assert_non_null(strstr(diag, "t.yaml:7:9: syslog sink: facility 'local9'"));
	free(diag);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc5424_exact),
	    cmocka_unit_test(test_rfc5424_escaping),
	    cmocka_unit_test(test_sd_names),
	    cmocka_unit_test(test_header_limits),
	    cmocka_unit_test(test_pri_every_facility_and_severity),
	    cmocka_unit_test(test_rfc5424_json),
	    cmocka_unit_test(test_rfc3164),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_frame),
	    cmocka_unit_test(test_tcp_octet_counting),
	    cmocka_unit_test(test_tcp_reconnect_after_close),
	    cmocka_unit_test(test_retry_in_order),
	    cmocka_unit_test(test_spool_bound_and_restart),
	    cmocka_unit_test(test_tcp_send_timeout),
	    cmocka_unit_test(test_udp_datagrams),
	    cmocka_unit_test(test_unix_datagrams),
	    cmocka_unit_test(test_tls_handshake_bounded),
	    cmocka_unit_test(test_registry_and_config),
	};
	if (!mkdtemp(spool_root))
		return 1;
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	nftw(spool_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
