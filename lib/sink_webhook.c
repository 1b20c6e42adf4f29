/* The `webhook` sink: alerts as HTTP POSTs, signed per Standard Webhooks 1.0, in one of four
 * body formats (native = the alert itself, which falcosidekick accepts; Alertmanager's push API;
 * Slack incoming webhooks; PagerDuty Events v2).
 *
 * deliver() never touches the network: it writes the request durably into the sink's spool
 * (lib/spool.c, <spool_dir>/<instance name>/) and wakes the sink's delivery thread. The thread
 * sends spooled alerts oldest first with libcurl (multi interface, so close() can interrupt a
 * transfer with curl_multi_wakeup), deletes them on 2xx, retries no-response/408/429/5xx with
 * full-jitter exponential backoff and Retry-After, trips a circuit breaker after consecutive
 * failures, and moves refused alerts (other 4xx, 3xx) or alerts beyond the retry horizon to
 * dead/. Alerts left in the spool by a previous run are re-sent first, with their webhook-id. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include "config.h"
#include "outbox.h"
#include "sink_webhook.h"
#include "sinks.h"
#include "spool.h"

#define RESPONSE_MAX     (64 * 1024) /* response bytes read before the rest is dropped */
#define DEFAULT_FLUSH_MS 30000
#define SECRET_FILE_MAX  4096
#define SNIPPET          200

enum wh_format { WH_NATIVE, WH_ALERTMANAGER, WH_SLACK, WH_PAGERDUTY };
static const char *const format_names[] = {"native", "alertmanager", "slack", "pagerduty", NULL};

/* The settings, as check validates them and open uses them. */
struct wh_settings {
	char *url;
	enum wh_format format;
	char **headers; /* "Name: value", NULL-terminated */
	char *secret_file;
	char *routing_key_file;
	char *ca_file;
	int64_t timeout_ms;
	int64_t connect_timeout_ms;
	uint32_t max_attempts; /* 0: no limit (the horizon still applies) */
	int64_t retry_horizon_ms;
	int64_t retry_initial_ms;
	int64_t retry_max_delay_ms;
	uint64_t spool_max_bytes;
	uint64_t spool_max_files;
	/* loaded from the files */
	struct dd_webhook_key keys[DD_WEBHOOK_MAX_KEYS];
	size_t n_keys;
	char routing_key[129];
};

struct wh_result {
	int curl;
	long status;
	int64_t retry_after_s;
	size_t got;
	char snippet[SNIPPET + 1];
	char err[CURL_ERROR_SIZE];
	bool aborted;
};

struct webhook {
	struct wh_settings set;
	char name[64];      /* the sink's instance name */
	char endpoint[256]; /* scheme://host[:port] for messages: never the path (tokens) */
	FILE *log;
	struct dd_outbox *outbox; /* spool and delivery thread; the transport below is its */

	/* The delivery thread's own. */
	atomic_bool stopping; /* set by close: the transfer loop gives up */
	CURLM *multi;
	CURL *easy;
	struct wh_result res;
};

/* ---- small helpers ---- */

__attribute__((format(printf, 2, 3))) static void wlog(const struct webhook *w, const char *fmt,
                                                       ...)
{
	if (!w->log)
		return;
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(w->log, "driftd: %s sink (%s): %s\n", w->name, w->endpoint, msg);
}

static void settings_free(struct wh_settings *s)
{
	free(s->url);
	for (size_t i = 0; s->headers && s->headers[i]; i++)
		free(s->headers[i]);
	free(s->headers);
	free(s->secret_file);
	free(s->routing_key_file);
	free(s->ca_file);
	OPENSSL_cleanse(s->keys, sizeof(s->keys));
	OPENSSL_cleanse(s->routing_key, sizeof(s->routing_key));
	*s = (struct wh_settings){0};
}

/* ---- secrets ---- */

int dd_webhook_parse_secrets(const char *text, size_t len, struct dd_webhook_key *keys, size_t *n,
                             char *why, size_t whysz)
{
	*n = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len &&
		       (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
			i++;
		if (i == len)
			break;
		size_t start = i;
		while (i < len && text[i] != ' ' && text[i] != '\t' && text[i] != '\r' &&
		       text[i] != '\n')
			i++;
		const char *tok = text + start;
		size_t tl = i - start;
		if (*n == DD_WEBHOOK_MAX_KEYS) {
			snprintf(why, whysz, "more than %d secrets", DD_WEBHOOK_MAX_KEYS);
			return -EINVAL;
		}
		if (tl < 6 || memcmp(tok, "whsec_", 6) != 0) {
			snprintf(
			    why, whysz,
			    "secret %zu does not start with whsec_ (expected whsec_ followed by "
			    "the base64 of 24 to 64 random bytes)",
			    *n + 1);
			return -EINVAL;
		}
		const char *b64 = tok + 6;
		size_t bl = tl - 6;
		unsigned char out[96];
		int dl = -1;
		if (bl % 4 == 0 && bl / 4 * 3 <= sizeof(out))
			dl = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)bl);
		if (dl >= 0) /* EVP_DecodeBlock counts the padding as zero bytes */
			for (size_t p = bl; p > 0 && b64[p - 1] == '='; p--)
				dl--;
		if (dl < 24 || dl > 64) {
			snprintf(
			    why, whysz,
			    "secret %zu is not whsec_ followed by the base64 of 24 to 64 bytes",
			    *n + 1);
			OPENSSL_cleanse(out, sizeof(out));
			return -EINVAL;
		}
		memcpy(keys[*n].k, out, (size_t)dl);
		keys[*n].len = (size_t)dl;
		OPENSSL_cleanse(out, sizeof(out));
		(*n)++;
	}
	if (*n == 0) {
		snprintf(why, whysz, "no secret in it (expected whsec_<base64>)");
		return -EINVAL;
	}
	return 0;
}

void dd_webhook_sign(const struct dd_webhook_key *key, const char *id, int64_t ts, const void *body,
                     size_t len, char out[DD_WEBHOOK_SIG_LEN])
{
	/* HMAC over "{id}.{ts}.{body}", fed in pieces (EVP_MAC: OpenSSL 3's streaming HMAC). */
	char pre[DD_SPOOL_KEY_MAX + 32];
	int pl = snprintf(pre, sizeof(pre), "%s.%" PRId64 ".", id, ts);
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t ml = 0;
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
	                       OSSL_PARAM_construct_end()};
	bool ok = c && EVP_MAC_init(c, key->k, key->len, params) &&
	          EVP_MAC_update(c, (const unsigned char *)pre, (size_t)pl) &&
	          EVP_MAC_update(c, body, len) && EVP_MAC_final(c, mac, &ml, sizeof(mac)) &&
	          ml == 32;
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
	if (!ok) {
		/* Only when OpenSSL is broken: an unverifiable signature, never a crash. */
		snprintf(out, DD_WEBHOOK_SIG_LEN, "v1,");
		return;
	}
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, 32);
}

static int read_small_file(const char *path, char *buf, size_t size, size_t *len, char *why,
                           size_t whysz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whysz, "cannot read %s: %s", path, strerror(errno));
		return -EINVAL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size >= size) {
		snprintf(why, whysz, "%s is not a regular file of at most %zu bytes", path,
		         size - 1);
		close(fd);
		return -EINVAL;
	}
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, size - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, whysz, "cannot read %s: %s", path, strerror(errno));
			close(fd);
			return -EINVAL;
		}
		if (r == 0 || got + (size_t)r == size - 1) {
			got += (size_t)r;
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return 0;
}

static int load_secret_file(struct wh_settings *s, char *why, size_t whysz)
{
	char buf[SECRET_FILE_MAX + 1], sub[200];
	size_t len;
	if (read_small_file(s->secret_file, buf, sizeof(buf), &len, why, whysz) < 0)
		return -EINVAL;
	int rc = dd_webhook_parse_secrets(buf, len, s->keys, &s->n_keys, sub, sizeof(sub));
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc < 0)
		snprintf(why, whysz, "%s: %s", s->secret_file, sub);
	return rc;
}

static int load_routing_key(struct wh_settings *s, char *why, size_t whysz)
{
	char buf[SECRET_FILE_MAX + 1];
	size_t len;
	if (read_small_file(s->routing_key_file, buf, sizeof(buf), &len, why, whysz) < 0)
		return -EINVAL;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
	                   buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0 || len >= sizeof(s->routing_key) || !dd_spool_key_ok(buf, len)) {
		snprintf(why, whysz,
		         "%s must hold one PagerDuty routing key (integration key): 1 to %zu "
		         "printable characters without spaces",
		         s->routing_key_file, sizeof(s->routing_key) - 1);
		OPENSSL_cleanse(buf, sizeof(buf));
		return -EINVAL;
	}
	memcpy(s->routing_key, buf, len + 1);
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

/* ---- settings ---- */

static const char *const setting_keys[] = {
    "url",           "format",          "headers",         "secret_file",     "routing_key_file",
    "ca_file",       "timeout",         "connect_timeout", "max_attempts",    "retry_horizon",
    "retry_initial", "retry_max_delay", "spool_max_bytes", "spool_max_files", NULL};

/* A duration as the configuration writes them: "15s", "250ms", "24h", or seconds. */
static int get_duration(const json_t *conf, const char *key, int64_t lo, int64_t hi, int64_t *out,
                        char *why, size_t whysz)
{
	const json_t *j = json_object_get(conf, key);
	if (!j)
		return 0;
	int rc = -EINVAL;
	int64_t ms = 0;
	if (json_is_number(j)) {
		double s = json_number_value(j);
		if (s >= 0 && s < 9.2e12) {
			ms = (int64_t)llround(s * 1000);
			rc = 0;
		}
	} else if (json_is_string(j)) {
		rc = dd_parse_duration_ms(json_string_value(j), &ms);
	}
	if (rc < 0 || ms < lo || ms > hi) {
		snprintf(why, whysz,
		         "'%s' must be a duration from %" PRId64 "ms to %" PRId64
		         "s, such as 15s, 250ms or 24h",
		         key, lo, hi / 1000);
		return -EINVAL;
	}
	*out = ms;
	return 0;
}

static int get_count(const json_t *conf, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
                     char *why, size_t whysz)
{
	const json_t *j = json_object_get(conf, key);
	if (!j)
		return 0;
	if (!json_is_integer(j) || json_integer_value(j) < 0 ||
	    (uint64_t)json_integer_value(j) < lo || (uint64_t)json_integer_value(j) > hi) {
		snprintf(why, whysz, "'%s' must be an integer from %" PRIu64 " to %" PRIu64, key,
		         lo, hi);
		return -EINVAL;
	}
	*out = (uint64_t)json_integer_value(j);
	return 0;
}

static bool header_name_ok(const char *n)
{
	/* RFC 9110 token */
	if (!*n)
		return false;
	for (const char *c = n; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("!#$%&'*+-.^_`|~", *c)))
			return false;
	return true;
}

static bool header_value_ok(const char *v)
{
	for (const unsigned char *c = (const unsigned char *)v; *c; c++)
		if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
			return false;
	return true;
}

static int parse_url(const char *url, char *endpoint, size_t esz, char *why, size_t whysz)
{
	CURLU *u = curl_url();
	if (!u) {
		snprintf(why, whysz, "out of memory");
		return -ENOMEM;
	}
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = -EINVAL;
	CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (uc != CURLUE_OK) {
		snprintf(why, whysz, "'url' is not a URL: %s", curl_url_strerror(uc));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
		snprintf(why, whysz, "'url' must be an http:// or https:// URL");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
		snprintf(why, whysz, "'url' has no host");
		goto out;
	}
	if (endpoint) {
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
			snprintf(endpoint, esz, "%s://%s:%s", scheme, host, port);
		else
			snprintf(endpoint, esz, "%s://%s", scheme, host);
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

static char *dup_string(const json_t *conf, const char *key)
{
	const json_t *j = json_object_get(conf, key);
	return j ? strdup(json_string_value(j)) : NULL;
}

static const char *const reserved_headers[] = {"content-type",
                                               "content-length",
                                               "host",
                                               "transfer-encoding",
                                               "connection",
                                               "expect",
                                               "webhook-id",
                                               "webhook-timestamp",
                                               "webhook-signature",
                                               NULL};

/* Validate everything (files included when load is set) into s; on a problem *key names the
 * setting (NULL: the whole mapping) and why says what is wrong. */
static int parse_settings(const json_t *conf, struct wh_settings *s, const char **key, char *why,
                          size_t whysz)
{
	*s = (struct wh_settings){
	    .format = WH_NATIVE,
	    .timeout_ms = 15000,
	    .connect_timeout_ms = 5000,
	    .retry_horizon_ms = 24LL * 3600 * 1000,
	    .retry_initial_ms = 5000,
	    .retry_max_delay_ms = 600000,
	    .spool_max_bytes = 64ull << 20,
	    .spool_max_files = 10000,
	};
	*key = NULL;
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)conf, k, v) {
		bool known = false;
		for (size_t i = 0; setting_keys[i]; i++)
			known |= strcmp(k, setting_keys[i]) == 0;
		if (!known) {
			*key = k;
			snprintf(
			    why, whysz,
			    "unknown key '%s' (the webhook sink takes url, format, headers, "
			    "secret_file, routing_key_file, ca_file, timeout, connect_timeout, "
			    "max_attempts, retry_horizon, retry_initial, retry_max_delay, "
			    "spool_max_bytes, spool_max_files)",
			    k);
			return -EINVAL;
		}
	}
	for (size_t i = 0; setting_keys[i]; i++) {
		k = setting_keys[i];
		v = json_object_get(conf, k);
		if (v && !json_is_string(v) &&
		    (strcmp(k, "url") == 0 || strcmp(k, "format") == 0 ||
		     strcmp(k, "secret_file") == 0 || strcmp(k, "routing_key_file") == 0 ||
		     strcmp(k, "ca_file") == 0)) {
			*key = k;
			snprintf(why, whysz, "'%s' must be a string", k);
			return -EINVAL;
		}
	}

	const json_t *url = json_object_get(conf, "url");
	if (!url) {
		snprintf(why, whysz,
		         "needs url: the http:// or https:// endpoint to POST alerts to");
		return -EINVAL;
	}
	*key = "url";
	if (parse_url(json_string_value(url), NULL, 0, why, whysz) < 0)
		return -EINVAL;

	const json_t *fmt = json_object_get(conf, "format");
	if (fmt) {
		*key = "format";
		size_t f = 0;
		while (format_names[f] && strcmp(format_names[f], json_string_value(fmt)) != 0)
			f++;
		if (!format_names[f]) {
			snprintf(
			    why, whysz,
			    "'format' must be native, alertmanager, slack or pagerduty, not '%s'",
			    json_string_value(fmt));
			return -EINVAL;
		}
		s->format = (enum wh_format)f;
	}

	const json_t *hdrs = json_object_get(conf, "headers");
	if (hdrs) {
		*key = "headers";
		if (!json_is_object(hdrs)) {
			snprintf(why, whysz,
			         "'headers' must be a mapping of header names to values");
			return -EINVAL;
		}
		s->headers = calloc(json_object_size(hdrs) + 1, sizeof(char *));
		if (!s->headers) {
			snprintf(why, whysz, "out of memory");
			return -ENOMEM;
		}
		size_t n = 0;
		json_object_foreach ((json_t *)hdrs, k, v) {
			if (!header_name_ok(k)) {
				snprintf(why, whysz, "headers: '%s' is not a valid header name", k);
				return -EINVAL;
			}
			for (size_t r = 0; reserved_headers[r]; r++)
				if (strcasecmp(k, reserved_headers[r]) == 0) {
					snprintf(why, whysz, "headers: '%s' is set by driftd", k);
					return -EINVAL;
				}
			if (!json_is_string(v) || !header_value_ok(json_string_value(v))) {
				snprintf(
				    why, whysz,
				    "headers: the value of '%s' must be a string without control "
				    "characters",
				    k);
				return -EINVAL;
			}
			size_t l = strlen(k) + json_string_length(v) + 3;
			if (!(s->headers[n] = malloc(l))) {
				snprintf(why, whysz, "out of memory");
				return -ENOMEM;
			}
			snprintf(s->headers[n++], l, "%s: %s", k, json_string_value(v));
		}
	}

	*key = "timeout";
	if (get_duration(conf, "timeout", 100, 600000, &s->timeout_ms, why, whysz) < 0)
		return -EINVAL;
	*key = "connect_timeout";
	if (get_duration(conf, "connect_timeout", 100, 600000, &s->connect_timeout_ms, why, whysz) <
	    0)
		return -EINVAL;
	if (s->connect_timeout_ms > s->timeout_ms) {
		snprintf(why, whysz, "'connect_timeout' must not be longer than 'timeout'");
		return -EINVAL;
	}
	*key = "retry_horizon";
	if (get_duration(conf, "retry_horizon", 1000, 365LL * 86400 * 1000, &s->retry_horizon_ms,
	                 why, whysz) < 0)
		return -EINVAL;
	/* The contract: a failed delivery is first retried within 10 s. */
	*key = "retry_initial";
	if (get_duration(conf, "retry_initial", 10, 10000, &s->retry_initial_ms, why, whysz) < 0)
		return -EINVAL;
	*key = "retry_max_delay";
	if (get_duration(conf, "retry_max_delay", 10, 86400000, &s->retry_max_delay_ms, why,
	                 whysz) < 0)
		return -EINVAL;
	if (s->retry_max_delay_ms < s->retry_initial_ms) {
		snprintf(why, whysz, "'retry_max_delay' must not be shorter than 'retry_initial'");
		return -EINVAL;
	}
	uint64_t u = 0;
	*key = "max_attempts";
	if (get_count(conf, "max_attempts", 0, 1000000, &u, why, whysz) < 0)
		return -EINVAL;
	s->max_attempts = (uint32_t)u;
	*key = "spool_max_bytes";
	if (get_count(conf, "spool_max_bytes", 4096, UINT64_C(1) << 50, &s->spool_max_bytes, why,
	              whysz) < 0)
		return -EINVAL;
	*key = "spool_max_files";
	if (get_count(conf, "spool_max_files", 1, 100000000, &s->spool_max_files, why, whysz) < 0)
		return -EINVAL;

	s->url = dup_string(conf, "url");
	s->secret_file = dup_string(conf, "secret_file");
	s->routing_key_file = dup_string(conf, "routing_key_file");
	s->ca_file = dup_string(conf, "ca_file");
	if (!s->url) {
		*key = NULL;
		snprintf(why, whysz, "out of memory");
		return -ENOMEM;
	}
	if (s->secret_file) {
		*key = "secret_file";
		if (load_secret_file(s, why, whysz) < 0)
			return -EINVAL;
	}
	if (s->routing_key_file && s->format != WH_PAGERDUTY) {
		*key = "routing_key_file";
		snprintf(why, whysz, "'routing_key_file' is for format: pagerduty");
		return -EINVAL;
	}
	if (s->format == WH_PAGERDUTY) {
		*key = s->routing_key_file ? "routing_key_file" : "format";
		if (!s->routing_key_file) {
			snprintf(why, whysz,
			         "format pagerduty needs routing_key_file: a file holding the "
			         "integration's routing key");
			return -EINVAL;
		}
		if (load_routing_key(s, why, whysz) < 0)
			return -EINVAL;
	}
	if (s->ca_file) {
		*key = "ca_file";
		if (access(s->ca_file, R_OK) < 0) {
			snprintf(why, whysz, "cannot read %s: %s", s->ca_file, strerror(errno));
			return -EINVAL;
		}
	}
	*key = NULL;
	return 0;
}

static int wh_check(const json_t *conf, const char **key, char *why, size_t whysz)
{
	struct wh_settings s;
	int rc = parse_settings(conf, &s, key, why, whysz);
	settings_free(&s);
	return rc;
}

/* ---- formats (pure) ---- */

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static bool is_firing(const json_t *alert)
{
	const char *st = str(alert, "status");
	return !st || strcmp(st, "resolved") != 0;
}

/* At most max bytes of s, cut on a UTF-8 character boundary, with "..." when cut. */
static json_t *truncated(const char *s, size_t max)
{
	size_t l = strlen(s);
	if (l <= max)
		return json_string(s);
	size_t n = max - 3;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	char *b = malloc(n + 4);
	if (!b)
		return NULL;
	memcpy(b, s, n);
	memcpy(b + n, "...", 4);
	json_t *j = json_string(b);
	free(b);
	return j;
}

/* A JSON scalar as annotation text; NULL for null, objects and arrays. */
static char *scalar_text(const json_t *v)
{
	char buf[64];
	if (!v)
		return NULL;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return strdup(json_string_value(v));
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return strdup(buf);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%.6g", json_real_value(v));
		return strdup(buf);
	case JSON_TRUE:
		return strdup("true");
	case JSON_FALSE:
		return strdup("false");
	default:
		return NULL;
	}
}

/* Alertmanager label names: [a-zA-Z_][a-zA-Z0-9_]*; "model.id" -> "model_id". */
static void label_name(const char *in, char *out, size_t size)
{
	size_t n = 0;
	for (const char *c = in; *c && n + 1 < size; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
		          (n > 0 && *c >= '0' && *c <= '9');
		out[n++] = ok ? *c : '_';
	}
	out[n] = '\0';
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

static json_t *alertmanager_body(const json_t *a)
{
	const json_t *f = json_object_get(a, "output_fields");
	const char *rule = str(a, "rule");
	/* Labels identify the alert in Alertmanager: only what is the same in the firing and
	 * the resolved notification of a series (priority and the event's model may differ). */
	json_t *labels = json_object();
	set_str(labels, "alertname", rule ? rule : "driftd");
	set_str(labels, "fingerprint", str(a, "fingerprint"));
	set_str(labels, "field", str(f, "field"));
	/* driftd's own alerts are keyed by model (their fingerprint covers it). */
	if (rule && strncmp(rule, "driftd.", 7) == 0)
		set_str(labels, "model", str(f, "model.id"));
	set_str(labels, "detector", str(a, "detector"));
	set_str(labels, "source", str(a, "source"));
	set_str(labels, "instance", str(a, "hostname"));

	json_t *ann = json_object();
	set_str(ann, "summary", str(a, "output"));
	set_str(ann, "status", str(a, "status"));
	set_str(ann, "priority", str(a, "priority"));
	set_str(ann, "id", str(a, "id"));
	const json_t *tags = json_object_get(a, "tags");
	if (json_array_size(tags)) {
		struct driftd_buf t = {0};
		size_t i;
		const json_t *tag;
		json_array_foreach (tags, i, tag) {
			if (!json_is_string(tag))
				continue;
			if (t.len)
				driftd_buf_put(&t, ",", 1);
			driftd_buf_put(&t, json_string_value(tag), json_string_length(tag));
		}
		driftd_buf_put(&t, "", 1);
		if (!t.err && t.len > 1)
			set_str(ann, "tags", (const char *)t.data);
		driftd_buf_free(&t);
	}
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)f, k, v) {
		char name[128];
		label_name(k, name, sizeof(name));
		if (!name[0] || json_object_get(ann, name))
			continue;
		char *txt = scalar_text(v);
		if (txt)
			json_object_set_new(ann, name, json_string(txt));
		free(txt);
	}

	json_t *o = json_object();
	json_object_set_new(o, "labels", labels);
	json_object_set_new(o, "annotations", ann);
	const char *t = str(a, "time");
	set_str(o, "startsAt", t);
	if (!is_firing(a))
		set_str(o, "endsAt", t);
	json_t *arr = json_array();
	json_array_append_new(arr, o);
	return arr;
}

/* Slack mrkdwn: &, < and > are control characters. */
static void slack_escape(struct driftd_buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '&')
			driftd_buf_put(b, "&amp;", 5);
		else if (*s == '<')
			driftd_buf_put(b, "&lt;", 4);
		else if (*s == '>')
			driftd_buf_put(b, "&gt;", 4);
		else if (*s == '`')
			driftd_buf_put(b, "'", 1);
		else
			driftd_buf_put(b, s, 1);
	}
}

static void slack_put(struct driftd_buf *b, const char *s)
{
	driftd_buf_put(b, s, strlen(s));
}

static json_t *slack_body(const json_t *a)
{
	const json_t *f = json_object_get(a, "output_fields");
	bool firing = is_firing(a);
	const char *rule = str(a, "rule") ? str(a, "rule") : "driftd";
	const char *icon = firing ? ":rotating_light:" : ":white_check_mark:";
	const char *word = firing ? "FIRING" : "RESOLVED";
	const char *prio = str(a, "priority");

	struct driftd_buf text = {0}, head = {0}, ctx = {0};
	slack_put(&text, "[");
	slack_put(&text, word);
	slack_put(&text, "] ");
	slack_escape(&text, rule);
	slack_put(&text, ": ");
	slack_escape(&text, str(a, "output"));
	driftd_buf_put(&text, "", 1);

	slack_put(&head, icon);
	slack_put(&head, " *[");
	slack_put(&head, word);
	slack_put(&head, "] ");
	slack_escape(&head, rule);
	slack_put(&head, "*");
	if (firing && prio) {
		slack_put(&head, " (");
		slack_escape(&head, prio);
		slack_put(&head, ")");
	}
	slack_put(&head, "\n");
	slack_escape(&head, str(a, "output"));
	driftd_buf_put(&head, "", 1);

	static const char *const shown[][2] = {{"model.id", "model"}, {"field", "field"},
	                                       {"score", "score"},    {"threshold", "threshold"},
	                                       {"p_value", "p"},      {NULL, NULL}};
	for (size_t i = 0; shown[i][0]; i++) {
		char *txt = scalar_text(json_object_get(f, shown[i][0]));
		if (!txt)
			continue;
		if (ctx.len)
			slack_put(&ctx, " | ");
		slack_put(&ctx, shown[i][1]);
		slack_put(&ctx, " `");
		slack_escape(&ctx, txt);
		slack_put(&ctx, "`");
		free(txt);
	}
	if (str(a, "hostname") && *str(a, "hostname")) {
		if (ctx.len)
			slack_put(&ctx, " | ");
		slack_put(&ctx, "host ");
		slack_escape(&ctx, str(a, "hostname"));
	}
	if (str(a, "id")) {
		if (ctx.len)
			slack_put(&ctx, " | ");
		slack_put(&ctx, "id ");
		slack_escape(&ctx, str(a, "id"));
	}
	driftd_buf_put(&ctx, "", 1);

	json_t *o = NULL;
	if (!text.err && !head.err && !ctx.err) {
		/* Slack caps a section's text at 3000 characters. */
		json_t *blocks = json_array();
		json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:o}}", "type", "section",
		                                        "text", "type", "mrkdwn", "text",
		                                        truncated((const char *)head.data, 3000)));
		if (ctx.len > 1)
			json_array_append_new(blocks,
			                      json_pack("{s:s, s:[{s:s, s:o}]}", "type", "context",
			                                "elements", "type", "mrkdwn", "text",
			                                truncated((const char *)ctx.data, 3000)));
		o = json_object();
		json_object_set_new(o, "text", truncated((const char *)text.data, 3000));
		json_object_set_new(o, "blocks", blocks);
	}
	driftd_buf_free(&text);
	driftd_buf_free(&head);
	driftd_buf_free(&ctx);
	return o;
}

static const char *pagerduty_severity(const char *priority)
{
	if (!priority)
		return "warning";
	if (!strcmp(priority, "Emergency") || !strcmp(priority, "Alert") ||
	    !strcmp(priority, "Critical"))
		return "critical";
	if (!strcmp(priority, "Error"))
		return "error";
	if (!strcmp(priority, "Warning"))
		return "warning";
	return "info";
}

static json_t *pagerduty_body(const json_t *a, const char *routing_key)
{
	const char *fp = str(a, "fingerprint") ? str(a, "fingerprint") : str(a, "id");
	json_t *o = json_object();
	json_object_set_new(o, "routing_key", json_string(routing_key ? routing_key : ""));
	json_object_set_new(o, "event_action", json_string(is_firing(a) ? "trigger" : "resolve"));
	/* One PagerDuty incident per alert series: its resolve closes the trigger's incident. */
	json_object_set_new(o, "dedup_key", json_string(fp ? fp : ""));
	if (!is_firing(a))
		return o;
	const json_t *f = json_object_get(a, "output_fields");
	const char *host = str(a, "hostname");
	json_t *details = json_object();
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)f, k, v)
		json_object_set(details, k, v);
	set_str(details, "id", str(a, "id"));
	set_str(details, "fingerprint", str(a, "fingerprint"));
	if (json_object_get(a, "tags"))
		json_object_set(details, "tags", json_object_get(a, "tags"));
	json_t *p = json_object();
	json_object_set_new(p, "summary",
	                    truncated(str(a, "output") ? str(a, "output") : "", 1024));
	json_object_set_new(p, "source", json_string(host && *host ? host : "driftd"));
	json_object_set_new(p, "severity", json_string(pagerduty_severity(str(a, "priority"))));
	set_str(p, "timestamp", str(a, "time"));
	set_str(p, "component", str(f, "model.id"));
	set_str(p, "group", str(a, "rule"));
	set_str(p, "class", str(a, "detector"));
	json_object_set_new(p, "custom_details", details);
	json_object_set_new(o, "payload", p);
	json_object_set_new(o, "client", json_string("driftd"));
	return o;
}

int dd_webhook_render(const char *format, const char *routing_key, const json_t *alert,
                      struct driftd_buf *out)
{
	if (!json_is_object(alert))
		return -EINVAL;
	json_t *body = NULL;
	const json_t *dump = alert;
	if (strcmp(format, "native") == 0)
		dump = alert;
	else if (strcmp(format, "alertmanager") == 0)
		dump = body = alertmanager_body(alert);
	else if (strcmp(format, "slack") == 0)
		dump = body = slack_body(alert);
	else if (strcmp(format, "pagerduty") == 0)
		dump = body = pagerduty_body(alert, routing_key);
	else
		return -EINVAL;
	/* Same flags as the stdout sink: the native body is byte for byte the alert line. */
	char *txt = dump ? json_dumps(dump, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(body);
	if (!txt)
		return -ENOMEM;
	const json_t *id = json_object_get(alert, "id");
	if (json_is_string(id) && dd_spool_key_ok(json_string_value(id), json_string_length(id))) {
		driftd_buf_put(out, json_string_value(id), json_string_length(id));
	} else {
		/* Not a driftd alert id: one derived from the body is still stable. */
		unsigned char md[SHA256_DIGEST_LENGTH];
		SHA256((const unsigned char *)txt, strlen(txt), md);
		char h[40] = "msg_";
		for (int i = 0; i < 16; i++)
			snprintf(h + 4 + 2 * i, 3, "%02x", md[i]);
		driftd_buf_put(out, h, strlen(h));
	}
	driftd_buf_put(out, "\n", 1);
	driftd_buf_put(out, txt, strlen(txt));
	free(txt);
	return out->err;
}

static int wh_format(const void *state, const json_t *alert, struct driftd_buf *out)
{
	const struct webhook *w = state;
	return dd_webhook_render(format_names[w->set.format], w->set.routing_key, alert, out);
}

/* ---- delivery policy (pure) ---- */

enum dd_webhook_outcome dd_webhook_classify(int curl_code, long http_status)
{
	if (curl_code != CURLE_OK || http_status == 0)
		return DD_WEBHOOK_RETRY; /* no usable response: refused, timed out, TLS, DNS */
	if (http_status >= 200 && http_status < 300)
		return DD_WEBHOOK_DELIVERED;
	if (http_status == 408 || http_status == 429 || (http_status >= 500 && http_status < 600))
		return DD_WEBHOOK_RETRY;
	if (http_status == 410)
		return DD_WEBHOOK_GONE;
	/* 1xx as a final status, 3xx (redirects are not followed), other 4xx: the receiver
	 * refuses this request and will refuse it again. */
	return DD_WEBHOOK_DEAD;
}

/* ---- HTTP ---- */

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct wh_result *r = ud;
	size_t len = sz * n;
	if (r->got < SNIPPET) {
		size_t c = SNIPPET - r->got < len ? SNIPPET - r->got : len;
		memcpy(r->snippet + r->got, p, c);
		r->snippet[r->got + c] = '\0';
	}
	r->got += len;
	/* Bounded read: enough is enough; the status is already known. */
	return r->got > RESPONSE_MAX ? 0 : len;
}

static int setup_easy(struct webhook *w)
{
	CURL *h = w->easy;
	const struct wh_settings *s = &w->set;
	bool ok = curl_easy_setopt(h, CURLOPT_URL, s->url) == CURLE_OK &&
	          curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	          curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)s->connect_timeout_ms) ==
	              CURLE_OK &&
	          curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms) == CURLE_OK &&
	          curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	          curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
	          curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	          curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	          curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK &&
	          curl_easy_setopt(h, CURLOPT_USERAGENT, "driftd") == CURLE_OK &&
	          curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
	          curl_easy_setopt(h, CURLOPT_WRITEDATA, &w->res) == CURLE_OK &&
	          curl_easy_setopt(h, CURLOPT_ERRORBUFFER, w->res.err) == CURLE_OK;
	if (ok && s->ca_file)
		ok = curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file) == CURLE_OK;
	return ok ? 0 : -EINVAL;
}

/* One POST; the outcome in w->res. Runs on the delivery thread without the lock. */
static void send_one(struct webhook *w, const char *id, const struct driftd_buf *body)
{
	struct wh_result *r = &w->res;
	*r = (struct wh_result){0};
	int64_t ts = (int64_t)time(NULL);
	struct curl_slist *h = NULL, *t;
	char line[DD_SPOOL_KEY_MAX + 64];
	bool ok = true;
#define ADD(s)                                                                                     \
	do {                                                                                       \
		if (ok && (t = curl_slist_append(h, (s))) != NULL)                                 \
			h = t;                                                                     \
		else                                                                               \
			ok = false;                                                                \
	} while (0)
	ADD("Content-Type: application/json");
	ADD("Expect:"); /* no 100-continue round trip */
	snprintf(line, sizeof(line), "webhook-id: %s", id);
	ADD(line);
	snprintf(line, sizeof(line), "webhook-timestamp: %" PRId64, ts);
	ADD(line);
	if (w->set.n_keys) {
		char sigs[DD_WEBHOOK_MAX_KEYS * DD_WEBHOOK_SIG_LEN + 32] = "webhook-signature: ";
		for (size_t i = 0; i < w->set.n_keys; i++) {
			char sig[DD_WEBHOOK_SIG_LEN];
			dd_webhook_sign(&w->set.keys[i], id, ts, body->data, body->len, sig);
			if (i)
				strcat(sigs, " ");
			strcat(sigs, sig);
		}
		ADD(sigs);
	}
	for (size_t i = 0; w->set.headers && w->set.headers[i]; i++)
		ADD(w->set.headers[i]);
#undef ADD
	if (!ok) {
		curl_slist_free_all(h);
		r->curl = CURLE_OUT_OF_MEMORY;
		snprintf(r->err, sizeof(r->err), "out of memory");
		return;
	}
	curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, (const char *)body->data);
	curl_easy_setopt(w->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);

	curl_multi_add_handle(w->multi, w->easy);
	int running = 1;
	r->curl = -1;
	while (running) {
		if (atomic_load(&w->stopping)) {
			r->aborted = true;
			break;
		}
		if (curl_multi_perform(w->multi, &running) != CURLM_OK) {
			r->curl = CURLE_FAILED_INIT;
			break;
		}
		if (running)
			curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
	}
	int left;
	CURLMsg *m;
	while ((m = curl_multi_info_read(w->multi, &left)) != NULL)
		if (m->msg == CURLMSG_DONE)
			r->curl = m->data.result;
	if (r->curl < 0)
		r->curl = CURLE_FAILED_INIT;
	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &r->status);
	curl_off_t ra = 0;
	if (curl_easy_getinfo(w->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		r->retry_after_s = (int64_t)ra;
	/* Our own bounded read ended the transfer: the response itself arrived. */
	if (r->curl == CURLE_WRITE_ERROR && r->got > RESPONSE_MAX && r->status > 0)
		r->curl = CURLE_OK;
	curl_multi_remove_handle(w->multi, w->easy);
	curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
}

static void describe(const struct wh_result *r, char *buf, size_t size)
{
	if (r->curl != CURLE_OK)
		snprintf(buf, size, "%s", r->err[0] ? r->err : curl_easy_strerror(r->curl));
	else if (r->status == 0)
		snprintf(buf, size, "no HTTP status");
	else {
		char snip[SNIPPET + 1];
		size_t n = 0;
		for (const char *c = r->snippet; *c && n < SNIPPET; c++)
			snip[n++] = (*c == '\n' || *c == '\r' || *c == '\t') ? ' ' : *c;
		snip[n] = '\0';
		snprintf(buf, size, "HTTP %ld%s%s", r->status, n ? ": " : "", snip);
	}
}

/* ---- the transport (runs on the outbox's delivery thread) ---- */

static enum dd_outbox_verdict verdict_of(enum dd_webhook_outcome o)
{
	switch (o) {
	case DD_WEBHOOK_DELIVERED:
		return DD_OUTBOX_DELIVERED;
	case DD_WEBHOOK_DEAD:
		return DD_OUTBOX_DEAD;
	case DD_WEBHOOK_GONE:
		return DD_OUTBOX_GONE;
	case DD_WEBHOOK_RETRY:
		break;
	}
	return DD_OUTBOX_RETRY;
}

static void wh_send(void *state, const char *key, const struct driftd_buf *body,
                    struct dd_outbox_attempt *out)
{
	struct webhook *w = state;
	send_one(w, key, body);
	struct wh_result *r = &w->res;
	if (r->aborted) {
		out->verdict = DD_OUTBOX_ABORTED;
		return;
	}
	describe(r, out->what, sizeof(out->what));
	out->verdict = verdict_of(dd_webhook_classify(r->curl, r->status));
	out->retry_after_s = r->retry_after_s;
}

static void wh_interrupt(void *state)
{
	struct webhook *w = state;
	atomic_store(&w->stopping, true);
	curl_multi_wakeup(w->multi);
}

/* ---- the sink ops ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void wh_close(void *state);

static int wh_open(void *state, const json_t *conf, const struct driftd_sink_ctx *ctx)
{
	struct webhook *w = state;
	*w = (struct webhook){0};
	const char *key;
	char why[512];
	if (!ctx || !ctx->spool_dir || !ctx->name)
		return -EINVAL;
	w->log = ctx->log;
	snprintf(w->name, sizeof(w->name), "%s", ctx->name);
	int rc = parse_settings(conf, &w->set, &key, why, sizeof(why));
	if (rc < 0) {
		snprintf(w->endpoint, sizeof(w->endpoint), "-");
		wlog(w, "%s%s%s", key ? key : "", key ? ": " : "", why);
		goto fail;
	}
	parse_url(w->set.url, w->endpoint, sizeof(w->endpoint), why, sizeof(why));

	pthread_once(&curl_once, curl_init);
	rc = -ENOMEM;
	if (curl_init_rc != CURLE_OK || !(w->multi = curl_multi_init()) ||
	    !(w->easy = curl_easy_init()))
		goto fail;
	if ((rc = setup_easy(w)) < 0)
		goto fail;

	char dir[4096], label[sizeof(w->name) + sizeof(w->endpoint) + 16];
	snprintf(dir, sizeof(dir), "%s/%s", ctx->spool_dir, ctx->name);
	snprintf(label, sizeof(label), "%s sink (%s)", w->name, w->endpoint);
	struct dd_outbox_settings os = {
	    .max_attempts = w->set.max_attempts,
	    .retry_horizon_ms = w->set.retry_horizon_ms,
	    .retry_initial_ms = w->set.retry_initial_ms,
	    .retry_max_delay_ms = w->set.retry_max_delay_ms,
	    .max_files = w->set.spool_max_files,
	    .max_bytes = w->set.spool_max_bytes,
	    .flush_ms = ctx->flush_timeout_ms > 0   ? ctx->flush_timeout_ms
	                : ctx->flush_timeout_ms < 0 ? -1
	                                            : DEFAULT_FLUSH_MS,
	};
	struct dd_outbox_transport tr = {.state = w, .send = wh_send, .interrupt = wh_interrupt};
	if ((rc = dd_outbox_open(dir, label, w->log, &os, &tr, &w->outbox)) < 0)
		goto fail;
	return 0;
fail:
	wh_close(w);
	return rc < 0 ? rc : -EINVAL;
}

/* The formatted request is "<webhook-id>\n<body>": the id is the spool's key. */
static int wh_deliver(void *state, const uint8_t *data, size_t len)
{
	struct webhook *w = state;
	if (!w->outbox)
		return -EBADF;
	const uint8_t *nl = memchr(data, '\n', len);
	char key[DD_SPOOL_KEY_MAX + 1];
	if (!nl || !dd_spool_key_ok((const char *)data, (size_t)(nl - data)))
		return -EINVAL;
	memcpy(key, data, (size_t)(nl - data));
	key[nl - data] = '\0';
	return dd_outbox_put(w->outbox, key, nl + 1, len - (size_t)(nl + 1 - data));
}

static int wh_flush(void *state)
{
	struct webhook *w = state;
	if (w->outbox)
		dd_outbox_flush(w->outbox);
	/* Undelivered alerts are safe in the spool: not an error of the run. */
	return 0;
}

static int wh_status(void *state, struct driftd_sink_status *out)
{
	struct webhook *w = state;
	if (!w->outbox)
		return -EBADF;
	dd_outbox_status(w->outbox, out);
	return 0;
}

static void wh_close(void *state)
{
	struct webhook *w = state;
	/* The outbox first: its thread uses the curl handles until it is joined. */
	dd_outbox_close(w->outbox);
	w->outbox = NULL;
	if (w->easy)
		curl_easy_cleanup(w->easy);
	if (w->multi)
		curl_multi_cleanup(w->multi);
	w->easy = NULL;
	w->multi = NULL;
	settings_free(&w->set);
}

void dd_webhook_stats(void *state, struct dd_outbox_stats *out)
{
	struct webhook *w = state;
	if (w->outbox)
		dd_outbox_stats(w->outbox, out);
	else
		*out = (struct dd_outbox_stats){0};
}

const struct driftd_sink_ops dd_sink_webhook = {
    .abi_version = DRIFTD_SINK_ABI,
    .struct_size = sizeof(struct driftd_sink_ops),
    .name = "webhook",
    .state_size = sizeof(struct webhook),
    .check = wh_check,
    .open = wh_open,
    .format = wh_format,
    .deliver = wh_deliver,
    .flush = wh_flush,
    .close = wh_close,
    .status = wh_status,
};
