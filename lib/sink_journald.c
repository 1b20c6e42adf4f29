/* The `journald` sink: each alert is one journal entry with a fixed MESSAGE_ID per alert class
 * (`journalctl MESSAGE_ID=...` finds every drift alert, or every driftd self-alert), its
 * syslog PRIORITY, SYSLOG_IDENTIFIER=driftd, and the alert's fields as DRIFTD_* fields.
 * format() writes NUL-separated KEY=value entries (testable without a journal); deliver()
 * hands them to sd_journal_sendv. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <systemd/sd-journal.h>

#include "sinks.h"

/* MESSAGE_IDs: random 128-bit values, fixed forever (journal catalogues key on them). */
#define MID_DRIFT  "493460764bf04df897295ea5de776125"
#define MID_SELF   "64fed865a0fc4cf18df90e7634591f21"

#define MAX_FIELDS 64

struct journald_sink {
	int unused;
};

static int journald_check(const json_t *conf, const char **key, char *why, size_t whysz)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)conf, k, v) {
		*key = k;
		snprintf(why, whysz, "unknown key '%s' (the journald sink has no settings)", k);
		return -EINVAL;
	}
	return 0;
}

static int journald_open(void *state, const json_t *conf, const struct driftd_sink_ctx *ctx)
{
	return 0;
}

static int severity_of(const char *priority)
{
	static const char *const names[] = {"Emergency", "Alert",  "Critical",      "Error",
	                                    "Warning",   "Notice", "Informational", "Debug"};
	for (int i = 0; i < 8; i++)
		if (priority && strcmp(priority, names[i]) == 0)
			return i;
	return 4;
}

/* Journal field names: [A-Z0-9_], not starting with '_', at most 64 characters. */
static void field_name(const char *key, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "DRIFTD_");
	for (const char *k = key; *k && n + 1 < size && n < 64; k++)
		out[n++] = isalnum((unsigned char)*k) ? (char)toupper((unsigned char)*k) : '_';
	out[n] = '\0';
}

static void put_field(struct driftd_buf *b, const char *name, const char *value, size_t len)
{
	driftd_buf_put(b, name, strlen(name));
	driftd_buf_put(b, "=", 1);
	driftd_buf_put(b, value, len);
	driftd_buf_put(b, "", 1); /* NUL separates entries; values may hold newlines */
}

static void put_json(struct driftd_buf *b, const char *name, const json_t *v)
{
	if (json_is_string(v)) {
		put_field(b, name, json_string_value(v), json_string_length(v));
		return;
	}
	char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
	if (text) {
		put_field(b, name, text, strlen(text));
		free(text);
	}
}

static int journald_format(const void *state, const json_t *alert, struct driftd_buf *out)
{
	const char *rule = json_string_value(json_object_get(alert, "rule"));
	bool self = rule && strncmp(rule, "driftd.", 7) == 0;
	const char *msg = json_string_value(json_object_get(alert, "output"));
	char prio[4];
	snprintf(prio, sizeof(prio), "%d",
	         severity_of(json_string_value(json_object_get(alert, "priority"))));
	put_field(out, "MESSAGE", msg ? msg : "", msg ? strlen(msg) : 0);
	put_field(out, "MESSAGE_ID", self ? MID_SELF : MID_DRIFT, 32);
	put_field(out, "PRIORITY", prio, strlen(prio));
	put_field(out, "SYSLOG_IDENTIFIER", "driftd", 6);
	static const char *const top[] = {"id",   "fingerprint", "status",
	                                  "rule", "detector",    "tags"};
	char name[72];
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		const json_t *v = json_object_get(alert, top[i]);
		if (!v)
			continue;
		field_name(top[i], name, sizeof(name));
		put_json(out, name, v);
	}
	const char *key;
	json_t *v;
	size_t n = 0;
	json_object_foreach (json_object_get(alert, "output_fields"), key, v) {
		if (n++ >= MAX_FIELDS - 16)
			break; /* bounded: the whole alert is in DRIFTD_ALERT anyway */
		field_name(key, name, sizeof(name));
		put_json(out, name, v);
	}
	put_json(out, "DRIFTD_ALERT", alert);
	return out->err;
}

static int journald_deliver(void *state, const uint8_t *data, size_t len)
{
	struct iovec iov[MAX_FIELDS];
	int n = 0;
	for (size_t off = 0; off < len && n < MAX_FIELDS;) {
		const uint8_t *end = memchr(data + off, '\0', len - off);
		size_t l = end ? (size_t)(end - (data + off)) : len - off;
		iov[n++] = (struct iovec){.iov_base = (void *)(data + off), .iov_len = l};
		off += l + 1;
	}
	int rc = sd_journal_sendv(iov, n);
	return rc < 0 ? rc : 0;
}

static void journald_close(void *state)
{
}

const struct driftd_sink_ops dd_sink_journald = {
    .abi_version = DRIFTD_SINK_ABI,
    .struct_size = sizeof(struct driftd_sink_ops),
    .name = "journald",
    .state_size = sizeof(struct journald_sink),
    .check = journald_check,
    .open = journald_open,
    .format = journald_format,
    .deliver = journald_deliver,
    .close = journald_close,
};
