/* The syslog sink's pure helpers, exposed for the unit tests (tests/unit/test_sink_syslog.c).
 * The sink itself is dd_sink_syslog in sinks.h. */
#ifndef DRIFTD_SINK_SYSLOG_H
#define DRIFTD_SINK_SYSLOG_H

#include <stddef.h>
#include <stdint.h>

#include <driftd/detector.h>

#include "outbox.h"

#define DD_SYSLOG_SD_NAME_MAX  32
#define DD_SYSLOG_HOSTNAME_MAX 255
#define DD_SYSLOG_APPNAME_MAX  48
#define DD_SYSLOG_PROCID_MAX   128
#define DD_SYSLOG_MSGID_MAX    32
#define DD_SYSLOG_RFC3164_MAX  1024 /* RFC 3164 4.1: the whole packet */

/* Facility number for a name (kern .. local7), or -1. */
int dd_syslog_facility(const char *name);
/* Severity 0..7 for an alert `priority` (Emergency .. Debug, any case), or -1. */
int dd_syslog_severity(const char *priority);
/* An SD-NAME from any text: at most 32 printable US-ASCII characters without '=', ' ', ']'
 * and '"' (each offending character, or UTF-8 sequence, becomes '_'). out has room for 33
 * bytes; returns the length (0 for empty input). */
size_t dd_syslog_sd_name(const char *in, char out[DD_SYSLOG_SD_NAME_MAX + 1]);
/* A PARAM-VALUE: '"', '\' and ']' escaped with '\', control characters as spaces. */
void dd_syslog_sd_value(struct driftd_buf *out, const char *s, size_t len);
/* RFC 6587 octet counting: "LEN SP MSG". */
void dd_syslog_frame(struct driftd_buf *out, const uint8_t *msg, size_t len);

/* The transport's counters next to the outbox's (sent = outbox.delivered). */
struct dd_syslog_stats {
	uint64_t connects; /* connections (or datagram sockets) opened */
	uint64_t failed;   /* failed connects and sends */
	struct dd_outbox_stats outbox;
};
/* A snapshot of an open sink's counters; safe while its delivery thread runs. */
void dd_syslog_stats(void *state, struct dd_syslog_stats *out);

#endif
