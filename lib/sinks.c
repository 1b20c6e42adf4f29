/* Sink registry: one line per sink. */
#include <stdio.h>
#include <string.h>

#include "sinks.h"

static const struct driftd_sink_ops *const registry[] = {
    &dd_sink_stdout, &dd_sink_file, &dd_sink_journald, &dd_sink_syslog, &dd_sink_webhook,
};

const struct driftd_sink_ops *dd_sink_find(const char *name)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

void dd_sink_names(char *buf, size_t size)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		int n = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", registry[i]->name);
		if (n > 0 && (size_t)n < size - off)
			off += (size_t)n;
	}
}
