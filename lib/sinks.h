/* The alert sinks driftd has: a static registry, one file per sink (sink_*.c). */
#ifndef DRIFTD_SINKS_H
#define DRIFTD_SINKS_H

#include <stddef.h>

#include <driftd/sink.h>

extern const struct driftd_sink_ops dd_sink_stdout;   /* JSONL on stdout */
extern const struct driftd_sink_ops dd_sink_file;     /* JSONL appended to a file */
extern const struct driftd_sink_ops dd_sink_journald; /* the systemd journal */
extern const struct driftd_sink_ops dd_sink_syslog;   /* RFC 5424/3164 over unix, UDP, TCP, TLS */
/* HTTP POST, Standard Webhooks signed, through a durable spool (sink_webhook.c) */
extern const struct driftd_sink_ops dd_sink_webhook;

const struct driftd_sink_ops *dd_sink_find(const char *name);
/* "stdout, file, ..." for messages. */
void dd_sink_names(char *buf, size_t size);

#endif
