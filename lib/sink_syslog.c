/* The `syslog` sink: alerts as syslog messages (RFC 5424 with structured data, RFC 5424 with
 * the alert JSON as MSG, or RFC 3164 for old receivers) over a unix datagram socket, UDP
 * (RFC 5426: one message per datagram), TCP (RFC 6587 octet counting) or TLS (RFC 5425).
 *
 * `format` is pure. `deliver` writes the message into the sink's durable outbox
 * (lib/outbox.c: spool under <spool_dir>/<instance name>/, one delivery thread, backoff,
 * circuit breaker, dead letters) and returns; the pipeline never waits on the receiver. The
 * transport below runs on the outbox's thread, strictly in order (syslog receivers keep
 * arrival order), one connection kept open; every wait is bounded by the sink's `timeout`:
 * sockets are non-blocking, connects and TLS handshakes are polled against a deadline.
 * Docs: docs/alerts.md (syslog), docs/configuration.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "outbox.h"
#include "sink_syslog.h"
#include "sinks.h"

#define RETRY_FIRST_MS   500
#define RETRY_MAX_MS     30000
#define RETRY_HORIZON_MS (24LL * 3600 * 1000)
#define QUEUE_DEFAULT    10000
#define QUEUE_MAX        1000000
#define QUEUE_BYTES_MAX  (256ull << 20)
#define TIMEOUT_DEFAULT  1000
#define TIMEOUT_MIN      10
#define TIMEOUT_MAX      30000

enum transport { TR_UNIX, TR_UDP, TR_TCP, TR_TLS };
enum format { FMT_RFC5424, FMT_RFC5424_JSON, FMT_RFC3164 };

struct target {
	enum transport tr;
	char host[256];
	char port[8];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

struct syslog_sink {
	bool opened;
	enum format fmt;
	int facility;
	char app_name[DD_SYSLOG_APPNAME_MAX + 1];
	char sd_id[DD_SYSLOG_SD_NAME_MAX + 1];
	char hostname[DD_SYSLOG_HOSTNAME_MAX + 1]; /* the host's, when the alert has none */
	char procid[24];
	struct target t;
	int64_t timeout_ms;
	struct addrinfo *ai;
	SSL_CTX *tls;
	SSL *ssl;
	int fd;
	int64_t flush_ms;
	uint64_t queue_max;
	struct dd_outbox *outbox;
	atomic_bool stopping; /* close: give up the message in progress */
	struct driftd_buf frame;
	/* The delivery thread's own, but for the counters tests and metrics read. */
	_Atomic uint64_t connects, failed;
	char last_error[400];
	bool cert_requested; /* this handshake: the server asked for a client certificate */
	bool got_ticket;     /* ... and sent a session ticket after it */
};

/* ---- names and limits ---- */

static const char *const facilities[] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "solaris-cron",
    "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7",
};

static const char *const severities[] = {"Emergency", "Alert",  "Critical",      "Error",
                                         "Warning",   "Notice", "Informational", "Debug"};

static const char *const settings[] = {"target",    "facility", "format", "sd_id",
                                       "app_name",  "timeout",  "queue",  "ca_file",
                                       "cert_file", "key_file", NULL};

int dd_syslog_facility(const char *name)
{
	for (int i = 0; i < (int)(sizeof(facilities) / sizeof(facilities[0])); i++)
		if (strcmp(facilities[i], name) == 0)
			return i;
	/* Other common spellings of 13 and 15. */
	if (strcmp(name, "audit") == 0)
		return 13;
	if (strcmp(name, "clock") == 0)
		return 15;
	return -1;
}

int dd_syslog_severity(const char *priority)
{
	for (int i = 0; i < 8; i++)
		if (strcasecmp(severities[i], priority) == 0)
			return i;
	return -1;
}

static bool printusascii(unsigned char c)
{
	return c >= 33 && c <= 126;
}

/* Copy text made of PRINTUSASCII, at most max bytes, every other character (a whole UTF-8
 * sequence counts as one) as '_'. Returns the length written (out has max + 1 bytes). */
static size_t print_ascii(const char *in, size_t inlen, size_t max, const char *also_bad, char *out)
{
	size_t n = 0;
	for (size_t i = 0; i < inlen && n < max; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x80 && c <= 0xbf && i > 0 && (unsigned char)in[i - 1] >= 0x80)
			continue; /* continuation byte of a sequence already replaced */
		out[n++] = printusascii(c) && !strchr(also_bad, c) ? (char)c : '_';
	}
	out[n] = '\0';
	return n;
}

size_t dd_syslog_sd_name(const char *in, char out[DD_SYSLOG_SD_NAME_MAX + 1])
{
	return print_ascii(in, strlen(in), DD_SYSLOG_SD_NAME_MAX, "= ]\"", out);
}

static void put(struct driftd_buf *b, const char *s)
{
	driftd_buf_put(b, s, strlen(s));
}

void dd_syslog_sd_value(struct driftd_buf *out, const char *s, size_t len)
{
	size_t run = 0; /* bytes copied as they are, in one put */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		bool esc = c == '"' || c == '\\' || c == ']';
		bool ctl = c < 0x20 || c == 0x7f;
		if (!esc && !ctl)
			continue;
		driftd_buf_put(out, s + run, i - run);
		run = i + 1;
		if (esc) {
			char e[2] = {'\\', (char)c};
			driftd_buf_put(out, e, 2);
		} else {
			driftd_buf_put(out, " ", 1);
		}
	}
	driftd_buf_put(out, s + run, len - run);
}

/* MSG text: UTF-8 as it is, control characters as spaces (a newline would split the message
 * for receivers that frame by lines). */
static void put_text(struct driftd_buf *out, const char *s, size_t len)
{
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != 0x7f)
			continue;
		driftd_buf_put(out, s + run, i - run);
		driftd_buf_put(out, " ", 1);
		run = i + 1;
	}
	driftd_buf_put(out, s + run, len - run);
}

void dd_syslog_frame(struct driftd_buf *out, const uint8_t *msg, size_t len)
{
	char n[24];
	snprintf(n, sizeof(n), "%zu ", len);
	put(out, n);
	driftd_buf_put(out, msg, len);
}

/* ---- time ---- */

struct stamp {
	int year, mon, day, hh, mm, ss;
	char frac[7]; /* at most 6 digits (RFC 5424 TIME-SECFRAC) */
	char off[7];  /* "Z" or "+hh:mm" */
};

static bool digits(const char *s, int n, int lo, int hi, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return v >= lo && v <= hi;
}

/* RFC 3339 as RFC 5424 restricts it (no leap second, upper-case T and Z; a longer fraction is
 * cut to microseconds). */
static bool parse_stamp(const char *s, struct stamp *t)
{
	if (!s || strlen(s) < 20)
		return false;
	if (!digits(s, 4, 0, 9999, &t->year) || s[4] != '-' || !digits(s + 5, 2, 1, 12, &t->mon) ||
	    s[7] != '-' || !digits(s + 8, 2, 1, 31, &t->day) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2, 0, 23, &t->hh) || s[13] != ':' ||
	    !digits(s + 14, 2, 0, 59, &t->mm) || s[16] != ':' || !digits(s + 17, 2, 0, 59, &t->ss))
		return false;
	s += 19;
	size_t nf = 0;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			if (nf < 6)
				t->frac[nf++] = *s;
			s++;
		}
		if (nf == 0)
			return false;
	}
	t->frac[nf] = '\0';
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0') {
		strcpy(t->off, "Z");
		return true;
	}
	int oh, om;
	if ((*s != '+' && *s != '-') || !digits(s + 1, 2, 0, 23, &oh) || s[3] != ':' ||
	    !digits(s + 4, 2, 0, 59, &om) || s[6] != '\0')
		return false;
	snprintf(t->off, sizeof(t->off), "%c%02d:%02d", *s, oh, om);
	return true;
}

/* ---- formats ---- */

static const char *str_of(const json_t *alert, const char *key)
{
	const char *v = json_string_value(json_object_get(alert, key));
	return v ? v : "";
}

static int alert_severity(const json_t *alert)
{
	if (strcmp(str_of(alert, "status"), "resolved") == 0)
		return DD_SEV_INFORMATIONAL;
	int sev = dd_syslog_severity(str_of(alert, "priority"));
	return sev < 0 ? DD_SEV_WARNING : sev;
}

/* A header field: PRINTUSASCII, at most max bytes, NILVALUE when empty. */
static void put_field(struct driftd_buf *out, const char *s, size_t max)
{
	char f[DD_SYSLOG_HOSTNAME_MAX + 1];
	size_t n = print_ascii(s, strlen(s), max < sizeof(f) - 1 ? max : sizeof(f) - 1, "", f);
	put(out, n ? f : "-");
}

static const char *alert_host(const struct syslog_sink *s, const json_t *alert)
{
	const char *h = str_of(alert, "hostname");
	return *h ? h : s->hostname;
}

/* The shortest text that reads back as the same double ("20", not "2e+01"). */
static void fmt_real(double d, char *buf, size_t size)
{
	if (d == floor(d) && fabs(d) < 1e15) {
		snprintf(buf, size, "%.0f", d);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

static void put_param(struct driftd_buf *out, const char *name, const char *v, size_t len)
{
	put(out, " ");
	put(out, name);
	put(out, "=\"");
	dd_syslog_sd_value(out, v, len);
	put(out, "\"");
}

/* One SD-PARAM from a JSON value; null leaves the parameter out. */
static void put_param_json(struct driftd_buf *out, const char *key, const json_t *v)
{
	char name[DD_SYSLOG_SD_NAME_MAX + 1], num[40];
	if (!v || json_is_null(v) || dd_syslog_sd_name(key, name) == 0)
		return;
	switch (json_typeof(v)) {
	case JSON_STRING:
		put_param(out, name, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		fmt_real(json_real_value(v), num, sizeof(num));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		strcpy(num, json_is_true(v) ? "true" : "false");
		break;
	default: {
		char *j = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
		if (!j) {
			out->err = out->err ? out->err : -ENOMEM;
			return;
		}
		put_param(out, name, j, strlen(j));
		free(j);
		return;
	}
	}
	put_param(out, name, num, strlen(num));
}

static void put_sd(const struct syslog_sink *s, const json_t *alert, struct driftd_buf *out)
{
	static const char *const top[] = {"id",       "fingerprint", "status", "rule",
	                                  "detector", "priority",    NULL};
	put(out, "[");
	put(out, s->sd_id);
	for (size_t i = 0; top[i]; i++)
		put_param_json(out, top[i], json_object_get(alert, top[i]));
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)json_object_get(alert, "output_fields"), k, v)
		put_param_json(out, k, v);
	const json_t *tags = json_object_get(alert, "tags");
	if (json_is_array(tags) && json_array_size(tags) > 0) {
		put(out, " tags=\"");
		size_t i;
		json_t *t;
		json_array_foreach (tags, i, t) {
			if (i)
				put(out, ",");
			if (json_is_string(t))
				dd_syslog_sd_value(out, json_string_value(t),
				                   json_string_length(t));
		}
		put(out, "\"");
	}
	if (json_is_true(json_object_get(alert, "dry_run")))
		put(out, " dry_run=\"true\"");
	put(out, "]");
}

static int format_rfc5424(const struct syslog_sink *s, const json_t *alert, int pri,
                          struct driftd_buf *out)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "<%d>1 ", pri);
	put(out, buf);
	struct stamp t = {0};
	if (parse_stamp(json_string_value(json_object_get(alert, "time")), &t)) {
		snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%s%s%s", t.year, t.mon,
		         t.day, t.hh, t.mm, t.ss, t.frac[0] ? "." : "", t.frac, t.off);
		put(out, buf);
	} else {
		put(out, "-");
	}
	put(out, " ");
	put_field(out, alert_host(s, alert), DD_SYSLOG_HOSTNAME_MAX);
	put(out, " ");
	put_field(out, s->app_name, DD_SYSLOG_APPNAME_MAX);
	put(out, " ");
	put_field(out, s->procid, DD_SYSLOG_PROCID_MAX);
	put(out, " ");
	put_field(out, str_of(alert, "rule"), DD_SYSLOG_MSGID_MAX);
	put(out, " ");
	if (s->fmt == FMT_RFC5424_JSON) {
		put(out, "- ");
		char *j = json_dumps(alert, JSON_COMPACT | JSON_REAL_PRECISION(17));
		if (!j)
			return -ENOMEM;
		put(out, j);
		free(j);
		return out->err;
	}
	put_sd(s, alert, out);
	const json_t *msg = json_object_get(alert, "output");
	if (json_is_string(msg) && json_string_length(msg) > 0) {
		put(out, " ");
		put_text(out, json_string_value(msg), json_string_length(msg));
	}
	return out->err;
}

static int format_rfc3164(const struct syslog_sink *s, const json_t *alert, int pri,
                          struct driftd_buf *out)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	size_t base = out->len;
	char buf[64];
	snprintf(buf, sizeof(buf), "<%d>", pri);
	put(out, buf);
	/* Without a valid TIMESTAMP there is no HEADER: a relay adds its own (RFC 3164 4.3.2). */
	struct stamp t = {0};
	if (parse_stamp(json_string_value(json_object_get(alert, "time")), &t)) {
		snprintf(buf, sizeof(buf), "%s %2d %02d:%02d:%02d ", months[t.mon - 1], t.day, t.hh,
		         t.mm, t.ss);
		put(out, buf);
		put_field(out, alert_host(s, alert), DD_SYSLOG_HOSTNAME_MAX);
		put(out, " ");
	}
	char tag[33];
	print_ascii(s->app_name, strlen(s->app_name), 32, "[]:", tag);
	put(out, tag);
	put(out, "[");
	put(out, s->procid);
	put(out, "]: ");
	const char *rule = str_of(alert, "rule"), *status = str_of(alert, "status");
	put_text(out, rule, strlen(rule));
	put(out, " ");
	put_text(out, status, strlen(status));
	put(out, ": ");
	const char *msg = str_of(alert, "output");
	put_text(out, msg, strlen(msg));
	if (out->err)
		return out->err;
	if (out->len - base > DD_SYSLOG_RFC3164_MAX) {
		size_t cut = DD_SYSLOG_RFC3164_MAX;
		while (cut > 0 && (out->data[base + cut] & 0xc0) == 0x80)
			cut--; /* not inside a UTF-8 sequence */
		out->len = base + cut;
	}
	return 0;
}

static int syslog_format(const void *state, const json_t *alert, struct driftd_buf *out)
{
	const struct syslog_sink *s = state;
	if (!json_is_object(alert))
		return -EINVAL;
	int pri = s->facility * 8 + alert_severity(alert);
	return s->fmt == FMT_RFC3164 ? format_rfc3164(s, alert, pri, out)
	                             : format_rfc5424(s, alert, pri, out);
}

/* ---- settings ---- */

static int parse_target(const char *v, struct target *t, char *why, size_t whysz)
{
	static const struct {
		const char *scheme;
		enum transport tr;
		const char *port;
	} schemes[] = {{"unix://", TR_UNIX, ""},
	               {"udp://", TR_UDP, "514"},
	               {"tcp://", TR_TCP, "514"},
	               {"tls://", TR_TLS, "6514"}};
	const char *rest = NULL;
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].scheme);
		if (strncmp(v, schemes[i].scheme, n) == 0) {
			rest = v + n;
			t->tr = schemes[i].tr;
			strcpy(t->port, schemes[i].port);
			break;
		}
	}
	if (!rest) {
		snprintf(why, whysz,
		         "target '%.64s' is not unix:///PATH, udp://HOST:PORT, tcp://HOST:PORT or "
		         "tls://HOST:PORT",
		         v);
		return -EINVAL;
	}
	if (t->tr == TR_UNIX) {
		if (rest[0] != '/' || strlen(rest) >= sizeof(t->path)) {
			snprintf(why, whysz,
			         "target '%.64s': a unix socket is an absolute path of at most %zu "
			         "bytes",
			         v, sizeof(t->path) - 1);
			return -EINVAL;
		}
		strcpy(t->path, rest);
		return 0;
	}
	const char *host = rest, *hend, *port = NULL;
	if (*rest == '[') {
		host = rest + 1;
		hend = strchr(host, ']');
		if (!hend || (hend[1] != '\0' && hend[1] != ':')) {
			snprintf(why, whysz, "target '%.64s': unbalanced '[' around an address", v);
			return -EINVAL;
		}
		if (hend[1] == ':')
			port = hend + 2;
	} else {
		const char *colon = strchr(rest, ':');
		if (colon && strchr(colon + 1, ':')) {
			snprintf(why, whysz, "target '%.64s': write an IPv6 address as [ADDR]:PORT",
			         v);
			return -EINVAL;
		}
		hend = colon ? colon : rest + strlen(rest);
		if (colon)
			port = colon + 1;
	}
	size_t hlen = (size_t)(hend - host);
	if (hlen == 0 || hlen >= sizeof(t->host)) {
		snprintf(why, whysz, "target '%.64s' needs a host", v);
		return -EINVAL;
	}
	for (size_t i = 0; i < hlen; i++)
		if (!printusascii((unsigned char)host[i]) || strchr("/@?#[]", host[i])) {
			snprintf(why, whysz, "target '%.64s': '%c' in the host", v, host[i]);
			return -EINVAL;
		}
	memcpy(t->host, host, hlen);
	t->host[hlen] = '\0';
	if (port) {
		long p = 0;
		size_t n = strlen(port);
		for (size_t i = 0; i < n && p <= 65535; i++)
			p = port[i] >= '0' && port[i] <= '9' ? p * 10 + (port[i] - '0') : 65536;
		if (n == 0 || n > 5 || p < 1 || p > 65535) {
			snprintf(why, whysz, "target '%.64s': the port is a number in 1..65535", v);
			return -EINVAL;
		}
		snprintf(t->port, sizeof(t->port), "%ld", p);
	}
	return 0;
}

static bool valid_sd_id(const char *v)
{
	char n[DD_SYSLOG_SD_NAME_MAX + 1];
	size_t len = strlen(v);
	if (len == 0 || len > DD_SYSLOG_SD_NAME_MAX || dd_syslog_sd_name(v, n) != len ||
	    strcmp(n, v) != 0)
		return false;
	const char *at = strchr(v, '@');
	if (!at || at == v || strchr(at + 1, '@') || at[1] == '\0')
		return false;
	/* The private enterprise number: digits, optionally dotted (32473 or 32473.1). */
	for (const char *p = at + 1; *p; p++)
		if (!((*p >= '0' && *p <= '9') ||
		      (*p == '.' && p[-1] != '.' && p[1] != '\0' && p[-1] != '@')))
			return false;
	return true;
}

static bool valid_app_name(const char *v)
{
	size_t len = strlen(v);
	if (len == 0 || len > DD_SYSLOG_APPNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!printusascii((unsigned char)v[i]))
			return false;
	return true;
}

static int parse_timeout(const json_t *v, int64_t *ms)
{
	if (json_is_number(v)) {
		double sec = json_number_value(v);
		if (!(sec >= 0 && sec <= 1e6))
			return -EINVAL;
		*ms = (int64_t)(sec * 1000.0 + 0.5);
	} else if (!json_is_string(v) || dd_parse_duration_ms(json_string_value(v), ms) < 0) {
		return -EINVAL;
	}
	return *ms >= TIMEOUT_MIN && *ms <= TIMEOUT_MAX ? 0 : -ERANGE;
}

static int bad(const char **key, const char *k, char *why, size_t whysz, const char *msg)
{
	*key = k;
	snprintf(why, whysz, "%s", msg);
	return -EINVAL;
}

static int syslog_check(const json_t *conf, const char **key, char *why, size_t whysz)
{
	const char *k;
	json_t *v;
	char msg[256];
	json_object_foreach ((json_t *)conf, k, v) {
		size_t i = 0;
		while (settings[i] && strcmp(settings[i], k) != 0)
			i++;
		if (!settings[i]) {
			snprintf(
			    msg, sizeof(msg),
			    "unknown key '%.40s' (the syslog sink takes target, facility, format, "
			    "sd_id, app_name, timeout, queue, ca_file, cert_file, key_file)",
			    k);
			return bad(key, k, why, whysz, msg);
		}
		bool is_queue = strcmp(k, "queue") == 0, is_timeout = strcmp(k, "timeout") == 0;
		if (!is_queue && !is_timeout && !json_is_string(v)) {
			snprintf(msg, sizeof(msg), "%s takes a string", k);
			return bad(key, k, why, whysz, msg);
		}
	}
	struct target t = {.tr = TR_UNIX};
	const json_t *v1 = json_object_get(conf, "target");
	if (v1 && parse_target(json_string_value(v1), &t, msg, sizeof(msg)) < 0)
		return bad(key, "target", why, whysz, msg);
	v1 = json_object_get(conf, "facility");
	if (v1 && dd_syslog_facility(json_string_value(v1)) < 0) {
		snprintf(
		    msg, sizeof(msg),
		    "facility '%.32s' is not one of kern, user, mail, daemon, auth, syslog, lpr, "
		    "news, uucp, cron, authpriv, ftp, ntp, security, console, solaris-cron, "
		    "local0..local7",
		    json_string_value(v1));
		return bad(key, "facility", why, whysz, msg);
	}
	v1 = json_object_get(conf, "format");
	if (v1 && strcmp(json_string_value(v1), "rfc5424") != 0 &&
	    strcmp(json_string_value(v1), "rfc5424-json") != 0 &&
	    strcmp(json_string_value(v1), "rfc3164") != 0) {
		snprintf(msg, sizeof(msg), "format '%.32s' is not rfc5424, rfc5424-json or rfc3164",
		         json_string_value(v1));
		return bad(key, "format", why, whysz, msg);
	}
	v1 = json_object_get(conf, "sd_id");
	if (v1 && !valid_sd_id(json_string_value(v1))) {
		snprintf(msg, sizeof(msg),
		         "sd_id '%.40s' is not NAME@PEN: at most 32 printable ASCII characters "
		         "without '=', ' ', ']' or '\"', with an enterprise number after '@' (e.g. "
		         "driftd@32473)",
		         json_string_value(v1));
		return bad(key, "sd_id", why, whysz, msg);
	}
	v1 = json_object_get(conf, "app_name");
	if (v1 && !valid_app_name(json_string_value(v1)))
		return bad(key, "app_name", why, whysz,
		           "app_name is 1 to 48 printable ASCII characters without spaces");
	v1 = json_object_get(conf, "timeout");
	int64_t ms;
	if (v1 && parse_timeout(v1, &ms) < 0)
		return bad(key, "timeout", why, whysz,
		           "timeout is a duration from 10ms to 30s (e.g. 500ms, 2s)");
	v1 = json_object_get(conf, "queue");
	if (v1 && (!json_is_integer(v1) || json_integer_value(v1) < 1 ||
	           json_integer_value(v1) > QUEUE_MAX))
		return bad(
		    key, "queue", why, whysz,
		    "queue is the number of undelivered alerts the spool holds before it raises "
		    "driftd.spool_overflow, 1 to 1000000");
	static const char *const files[] = {"ca_file", "cert_file", "key_file"};
	for (size_t i = 0; i < 3; i++) {
		v1 = json_object_get(conf, files[i]);
		if (!v1)
			continue;
		if (t.tr != TR_TLS) {
			snprintf(msg, sizeof(msg), "%s is for tls:// targets only", files[i]);
			return bad(key, files[i], why, whysz, msg);
		}
		const char *path = json_string_value(v1);
		if (!*path || access(path, R_OK) < 0) {
			snprintf(msg, sizeof(msg), "%s '%.100s': %s", files[i], path,
			         *path ? strerror(errno) : "empty path");
			return bad(key, files[i], why, whysz, msg);
		}
	}
	if (!json_object_get(conf, "cert_file") != !json_object_get(conf, "key_file"))
		return bad(key, json_object_get(conf, "cert_file") ? "cert_file" : "key_file", why,
		           whysz, "a client certificate needs both cert_file and key_file");
	return 0;
}

/* ---- transport ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_error(struct syslog_sink *s, const char *what, int err)
{
	snprintf(s->last_error, sizeof(s->last_error), "%.300s: %s", what, strerror(err));
}

/* OpenSSL writes with write(2): a peer that went away would raise SIGPIPE, which the daemon
 * does not ignore. Block it on this thread around TLS calls and swallow what they raised. */
struct sigpipe_guard {
	sigset_t old;
	bool pending_before;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t set, pending;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pending);
	g->pending_before = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
	sigset_t set, pending;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (!g->pending_before && sigpending(&pending) == 0 &&
	    sigismember(&pending, SIGPIPE) == 1) {
		struct timespec zero = {0};
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static void conn_close(struct syslog_sink *s)
{
	if (s->ssl) {
		struct sigpipe_guard g;
		sigpipe_block(&g);
		SSL_shutdown(s->ssl); /* one non-blocking close_notify, no wait for the answer */
		SSL_free(s->ssl);
		sigpipe_restore(&g);
		s->ssl = NULL;
		ERR_clear_error();
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Wait until fd is ready for events, at most until deadline. */
/* Wait for fd until the deadline, in slices of at most 100 ms so that close (the outbox's
 * interrupt sets s->stopping) does not wait out a whole timeout: -ECANCELED then. */
static int wait_fd(struct syslog_sink *s, int fd, short events, int64_t deadline)
{
	for (;;) {
		if (atomic_load(&s->stopping))
			return -ECANCELED;
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, (int)(left < 100 ? left : 100));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int resolve(struct syslog_sink *s)
{
	if (s->ai)
		return 0;
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC,
	    .ai_socktype = s->t.tr == TR_UDP ? SOCK_DGRAM : SOCK_STREAM,
	};
	int rc = getaddrinfo(s->t.host, s->t.port, &hints, &s->ai);
	if (rc == 0)
		return 0;
	s->ai = NULL;
	snprintf(s->last_error, sizeof(s->last_error), "cannot resolve %.200s: %s", s->t.host,
	         gai_strerror(rc));
	return rc == EAI_SYSTEM ? -errno : rc == EAI_AGAIN ? -EAGAIN : -EHOSTUNREACH;
}

static int open_dgram(struct syslog_sink *s)
{
	if (s->t.tr == TR_UNIX) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		memcpy(sa.sun_path, s->t.path, strlen(s->t.path) + 1);
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			int err = errno;
			close(fd);
			set_error(s, s->t.path, err);
			return -err;
		}
		s->fd = fd;
		return 0;
	}
	int rc = resolve(s);
	if (rc < 0)
		return rc;
	rc = -EHOSTUNREACH;
	for (const struct addrinfo *a = s->ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			s->fd = fd;
			return 0;
		}
		rc = -errno;
		close(fd);
	}
	set_error(s, "udp connect", -rc);
	return rc;
}

static int open_stream(struct syslog_sink *s, int64_t deadline)
{
	int rc = resolve(s);
	if (rc < 0)
		return rc;
	rc = -EHOSTUNREACH;
	for (const struct addrinfo *a = s->ai; a && mono_ms() < deadline; a = a->ai_next) {
		int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			if (errno != EINPROGRESS) {
				rc = -errno;
				close(fd);
				continue;
			}
			rc = wait_fd(s, fd, POLLOUT, deadline);
			int err = 0;
			socklen_t len = sizeof(err);
			if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
			if (rc == 0 && err)
				rc = -err;
			if (rc < 0) {
				close(fd);
				continue;
			}
		}
		s->fd = fd;
		return 0;
	}
	char what[300];
	snprintf(what, sizeof(what), "connect to %.200s:%s", s->t.host, s->t.port);
	set_error(s, what, -rc);
	return rc;
}

static bool ip_literal(const char *h)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

static int tls_error(struct syslog_sink *s, const char *what)
{
	long vr = s->ssl ? SSL_get_verify_result(s->ssl) : X509_V_OK;
	unsigned long e = ERR_peek_last_error();
	if (vr != X509_V_OK) {
		snprintf(s->last_error, sizeof(s->last_error), "%s: certificate: %s", what,
		         X509_verify_cert_error_string(vr));
		ERR_clear_error();
		return -EKEYREJECTED;
	}
	if (e) {
		char buf[120];
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(s->last_error, sizeof(s->last_error), "%s: %s", what, buf);
	} else {
		snprintf(s->last_error, sizeof(s->last_error), "%s: connection closed", what);
	}
	ERR_clear_error();
	return -EPROTO;
}

/* One TLS step against the deadline: 1 done, 0 call again, < 0 failed. */
static int tls_step(struct syslog_sink *s, int r, int64_t deadline, const char *what)
{
	if (r > 0)
		return 1;
	int e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		int rc = wait_fd(s, s->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
		if (rc < 0) {
			set_error(s, what, -rc);
			return rc;
		}
		return 0;
	}
	if (e == SSL_ERROR_SYSCALL && errno && ERR_peek_last_error() == 0) {
		int err = errno;
		set_error(s, what, err);
		return -err;
	}
	return tls_error(s, what);
}

static void tls_observe(int write_p, int version, int content_type, const void *buf, size_t len,
                        SSL *ssl, void *arg)
{
	struct syslog_sink *s = arg;
	const unsigned char *b = buf;
	if (write_p || content_type != SSL3_RT_HANDSHAKE || len == 0)
		return;
	if (b[0] == SSL3_MT_CERTIFICATE_REQUEST)
		s->cert_requested = true;
	else if (b[0] == SSL3_MT_NEWSESSION_TICKET)
		s->got_ticket = true;
}

/* TLS 1.3 ends the client's handshake before the server has checked the client's certificate
 * (or its absence): a rejection is an alert that comes after, and every message written into
 * that connection would be lost. When the server asked for a certificate, wait (within the
 * deadline) for its verdict: a session ticket (accepted) or an alert (rejected). A server that
 * sends no ticket costs the timeout once per connection and is taken as accepting. */
static int tls_client_verdict(struct syslog_sink *s, int64_t deadline)
{
	if (!s->cert_requested || SSL_version(s->ssl) != TLS1_3_VERSION)
		return 0;
	while (!s->got_ticket) {
		int rc = wait_fd(s, s->fd, POLLIN, deadline);
		if (rc == -ETIMEDOUT)
			return 0;
		if (rc < 0)
			return rc;
		char buf[256];
		ERR_clear_error();
		int r = SSL_read(s->ssl, buf, sizeof(buf));
		if (r > 0)
			return 0; /* a receiver that talks: it accepted us */
		int e = SSL_get_error(s->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			tls_error(s, "TLS: the server rejected the client certificate");
			return -EKEYREJECTED;
		}
	}
	return 0;
}

static int tls_handshake(struct syslog_sink *s, int64_t deadline)
{
	s->ssl = SSL_new(s->tls);
	if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1)
		return tls_error(s, "TLS setup");
	SSL_set_mode(s->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE);
	s->cert_requested = s->got_ticket = false;
	SSL_set_msg_callback(s->ssl, tls_observe);
	SSL_set_msg_callback_arg(s->ssl, s);
	if (ip_literal(s->t.host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), s->t.host) != 1)
			return tls_error(s, "TLS setup");
	} else if (SSL_set_tlsext_host_name(s->ssl, s->t.host) != 1 ||
	           SSL_set1_host(s->ssl, s->t.host) != 1) {
		return tls_error(s, "TLS setup");
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int rc = tls_step(s, SSL_connect(s->ssl), deadline, "TLS handshake");
		if (rc < 0)
			return rc;
		if (rc > 0)
			return tls_client_verdict(s, deadline);
	}
}

static int conn_open(struct syslog_sink *s, int64_t deadline)
{
	if (s->t.tr == TR_UNIX || s->t.tr == TR_UDP)
		return open_dgram(s);
	int rc = open_stream(s, deadline);
	if (rc == 0 && s->t.tr == TR_TLS) {
		struct sigpipe_guard g;
		sigpipe_block(&g);
		rc = tls_handshake(s, deadline);
		sigpipe_restore(&g);
	}
	if (rc < 0)
		conn_close(s);
	return rc;
}

/* A stream receiver never talks: anything readable on the socket is its close (or an error),
 * seen here before a message is written into a connection that is gone. For TLS, records
 * such as session tickets are read and ignored. */
static bool peer_gone(struct syslog_sink *s)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	if (poll(&p, 1, 0) <= 0)
		return false;
	if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
		return true;
	char buf[512];
	if (!s->ssl) {
		ssize_t n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
		return n == 0 ||
		       (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
	}
	struct sigpipe_guard g;
	sigpipe_block(&g);
	bool gone = false;
	for (int i = 0; i < 16; i++) {
		ERR_clear_error();
		int r = SSL_read(s->ssl, buf, sizeof(buf));
		if (r > 0)
			continue;
		int e = SSL_get_error(s->ssl, r);
		gone = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
		break;
	}
	ERR_clear_error();
	sigpipe_restore(&g);
	return gone;
}

static int send_dgram(struct syslog_sink *s, const uint8_t *data, size_t len, int64_t deadline)
{
	for (;;) {
		ssize_t n = send(s->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			return (size_t)n == len ? 0 : -EMSGSIZE;
		int err = errno;
		if (err == EINTR)
			continue;
		if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
			/* The receiver's queue is full: wait for room, briefly. */
			int rc = wait_fd(s, s->fd, POLLOUT, deadline);
			if (rc == 0)
				continue;
			err = -rc;
		}
		set_error(s, "send", err);
		return -err;
	}
}

static int send_stream(struct syslog_sink *s, const uint8_t *data, size_t len, int64_t deadline)
{
	s->frame.len = 0;
	s->frame.err = 0;
	dd_syslog_frame(&s->frame, data, len);
	if (s->frame.err)
		return s->frame.err;
	const uint8_t *p = s->frame.data;
	size_t left = s->frame.len;
	struct sigpipe_guard g;
	if (s->ssl)
		sigpipe_block(&g);
	int rc = 0;
	while (left > 0 && rc == 0) {
		if (s->ssl) {
			ERR_clear_error();
			errno = 0;
			int r = SSL_write(s->ssl, p, left > INT32_MAX ? INT32_MAX : (int)left);
			rc = tls_step(s, r, deadline, "TLS write");
			if (rc > 0) {
				p += r;
				left -= (size_t)r;
				rc = 0;
			}
			continue;
		}
		ssize_t n = send(s->fd, p, left, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0) {
			p += n;
			left -= (size_t)n;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			rc = wait_fd(s, s->fd, POLLOUT, deadline);
			if (rc < 0)
				set_error(s, "send", -rc);
		} else if (errno != EINTR) {
			rc = -errno;
			set_error(s, "send", errno);
		}
	}
	if (s->ssl)
		sigpipe_restore(&g);
	return rc;
}

/* Send one message, connecting when needed. A connection that fails under a message is
 * replaced once at once (the receiver restarted since the last alert); a fresh one that fails
 * is the outbox's to retry later. -EMSGSIZE: this message can never go. */
static int transmit(struct syslog_sink *s, const uint8_t *data, size_t len)
{
	bool stream = s->t.tr == TR_TCP || s->t.tr == TR_TLS;
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh = false;
		if (s->fd >= 0 && stream && peer_gone(s))
			conn_close(s);
		if (s->fd < 0) {
			int rc = conn_open(s, mono_ms() + s->timeout_ms);
			if (rc < 0) {
				s->failed++;
				return rc;
			}
			s->connects++;
			fresh = true;
		}
		int64_t deadline = mono_ms() + s->timeout_ms;
		int rc = stream ? send_stream(s, data, len, deadline)
		                : send_dgram(s, data, len, deadline);
		if (rc == 0)
			return 0;
		s->failed++;
		if (rc == -EMSGSIZE) {
			set_error(s, "send", EMSGSIZE);
			return rc;
		}
		conn_close(s);
		if (fresh || atomic_load(&s->stopping))
			return rc;
	}
	return -EAGAIN;
}

static void syslog_send(void *state, const char *key, const struct driftd_buf *msg,
                        struct dd_outbox_attempt *out)
{
	struct syslog_sink *s = state;
	s->last_error[0] = '\0';
	int rc = transmit(s, msg->data, msg->len);
	if (rc == 0) {
		out->verdict = DD_OUTBOX_DELIVERED;
		snprintf(out->what, sizeof(out->what), "sent");
		return;
	}
	if (atomic_load(&s->stopping) && rc != -EMSGSIZE) {
		out->verdict = DD_OUTBOX_ABORTED;
		return;
	}
	out->verdict = rc == -EMSGSIZE ? DD_OUTBOX_DEAD : DD_OUTBOX_RETRY;
	snprintf(out->what, sizeof(out->what), "%s",
	         s->last_error[0] ? s->last_error : strerror(-rc));
}

static void syslog_interrupt(void *state)
{
	struct syslog_sink *s = state;
	atomic_store(&s->stopping, true);
}

/* The outbox's key for a message: its content hash. The formatted message holds the alert's
 * id and time, so equal bytes are the same alert handed over twice. */
static void message_key(const uint8_t *data, size_t len, char key[33])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(data, len, md);
	for (int i = 0; i < 16; i++)
		snprintf(key + 2 * i, 3, "%02x", md[i]);
}

static int syslog_deliver(void *state, const uint8_t *data, size_t len)
{
	struct syslog_sink *s = state;
	if (!s->outbox)
		return -EBADF;
	char key[33];
	message_key(data, len, key);
	return dd_outbox_put(s->outbox, key, data, len);
}

static int syslog_flush(void *state)
{
	struct syslog_sink *s = state;
	if (s->outbox)
		dd_outbox_flush(s->outbox);
	/* Undelivered alerts are safe in the spool: not an error of the run. */
	return 0;
}

static int syslog_status(void *state, struct driftd_sink_status *out)
{
	struct syslog_sink *s = state;
	if (!s->outbox)
		return -EBADF;
	dd_outbox_status(s->outbox, out);
	return 0;
}

static void syslog_close(void *state)
{
	struct syslog_sink *s = state;
	if (!s->opened)
		return;
	/* The outbox first: its thread uses the connection until it is joined. */
	dd_outbox_close(s->outbox);
	s->outbox = NULL;
	conn_close(s);
	if (s->ai)
		freeaddrinfo(s->ai);
	s->ai = NULL;
	SSL_CTX_free(s->tls);
	s->tls = NULL;
	driftd_buf_free(&s->frame);
	s->opened = false;
}

static int tls_context(struct syslog_sink *s, const json_t *conf)
{
	const char *ca = json_string_value(json_object_get(conf, "ca_file"));
	const char *cert = json_string_value(json_object_get(conf, "cert_file"));
	const char *key = json_string_value(json_object_get(conf, "key_file"));
	s->tls = SSL_CTX_new(TLS_client_method());
	if (!s->tls)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(s->tls, TLS1_2_VERSION);
	SSL_CTX_set_verify(s->tls, SSL_VERIFY_PEER, NULL);
	int ok = ca ? SSL_CTX_load_verify_locations(s->tls, ca, NULL)
	            : SSL_CTX_set_default_verify_paths(s->tls);
	if (ok == 1 && cert)
		ok = SSL_CTX_use_certificate_chain_file(s->tls, cert) == 1 &&
		     SSL_CTX_use_PrivateKey_file(s->tls, key, SSL_FILETYPE_PEM) == 1 &&
		     SSL_CTX_check_private_key(s->tls) == 1;
	if (ok != 1) {
		tls_error(s, "TLS files");
		return -EBADMSG;
	}
	return 0;
}

static int syslog_open(void *state, const json_t *conf, const struct driftd_sink_ctx *ctx)
{
	struct syslog_sink *s = state;
	memset(s, 0, sizeof(*s));
	s->opened = true;
	s->fd = -1;
	char why[256];
	const char *key;
	if (syslog_check(conf, &key, why, sizeof(why)) < 0)
		return -EINVAL;
	const char *v = json_string_value(json_object_get(conf, "target"));
	char v_target[300];
	snprintf(v_target, sizeof(v_target), "%s", v ? v : "unix:///dev/log");
	parse_target(v_target, &s->t, why, sizeof(why));
	v = json_string_value(json_object_get(conf, "facility"));
	s->facility = dd_syslog_facility(v ? v : "daemon");
	v = json_string_value(json_object_get(conf, "format"));
	s->fmt = !v || strcmp(v, "rfc5424") == 0 ? FMT_RFC5424
	         : strcmp(v, "rfc3164") == 0     ? FMT_RFC3164
	                                         : FMT_RFC5424_JSON;
	v = json_string_value(json_object_get(conf, "sd_id"));
	snprintf(s->sd_id, sizeof(s->sd_id), "%s", v ? v : "driftd@32473");
	v = json_string_value(json_object_get(conf, "app_name"));
	snprintf(s->app_name, sizeof(s->app_name), "%s", v ? v : "driftd");
	s->timeout_ms = TIMEOUT_DEFAULT;
	const json_t *j = json_object_get(conf, "timeout");
	if (j)
		parse_timeout(j, &s->timeout_ms);
	j = json_object_get(conf, "queue");
	s->queue_max = j ? (uint64_t)json_integer_value(j) : QUEUE_DEFAULT;
	if (ctx && ctx->hostname)
		snprintf(s->hostname, sizeof(s->hostname), "%s", ctx->hostname);
	snprintf(s->procid, sizeof(s->procid), "%ld", (long)getpid());
	if (s->t.tr == TR_TLS) {
		int rc = tls_context(s, conf);
		if (rc < 0) {
			syslog_close(s);
			return rc;
		}
	}
	/* Resolve now, when blocking is harmless; a failure is retried at the first connect. */
	if (s->t.tr != TR_UNIX)
		resolve(s);

	/* Flush gives the receiver a few timeouts (1..30 s) unless the host says otherwise. */
	int64_t flush = 5 * s->timeout_ms;
	flush = flush < 1000 ? 1000 : flush > 30000 ? 30000 : flush;
	struct dd_outbox_settings os = {
	    .retry_horizon_ms = RETRY_HORIZON_MS,
	    .retry_initial_ms = RETRY_FIRST_MS,
	    .retry_max_delay_ms = RETRY_MAX_MS,
	    .max_files = s->queue_max,
	    .max_bytes = QUEUE_BYTES_MAX,
	    .flush_ms = !ctx || ctx->flush_timeout_ms == 0 ? flush
	                : ctx->flush_timeout_ms < 0        ? -1
	                                                   : ctx->flush_timeout_ms,
	    .in_order = true,
	};
	if (!ctx || !ctx->spool_dir || !ctx->name) {
		syslog_close(s);
		return -EINVAL;
	}
	char dir[4096], label[400];
	snprintf(dir, sizeof(dir), "%s/%s", ctx->spool_dir, ctx->name);
	snprintf(label, sizeof(label), "%s sink (%s)", ctx->name, v_target);
	struct dd_outbox_transport tr = {
	    .state = s, .send = syslog_send, .interrupt = syslog_interrupt};
	int rc = dd_outbox_open(dir, label, ctx->log, &os, &tr, &s->outbox);
	if (rc < 0) {
		syslog_close(s);
		return rc;
	}
	return 0;
}

void dd_syslog_stats(void *state, struct dd_syslog_stats *out)
{
	struct syslog_sink *s = state;
	*out = (struct dd_syslog_stats){.connects = s->connects, .failed = s->failed};
	if (s->outbox)
		dd_outbox_stats(s->outbox, &out->outbox);
}

const struct driftd_sink_ops dd_sink_syslog = {
    .abi_version = DRIFTD_SINK_ABI,
    .struct_size = sizeof(struct driftd_sink_ops),
    .name = "syslog",
    .state_size = sizeof(struct syslog_sink),
    .check = syslog_check,
    .open = syslog_open,
    .format = syslog_format,
    .deliver = syslog_deliver,
    .flush = syslog_flush,
    .close = syslog_close,
    .status = syslog_status,
};
