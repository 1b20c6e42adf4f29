/* The sinks built into libdriftd. */
#ifndef DRIFTD_SINKS_H
#define DRIFTD_SINKS_H

#include <stdbool.h>

#include <driftd/sink.h>

/* JSONL to a file (conf {path: FILE}) or to stdout (no path). */
extern const struct driftd_sink_ops dd_sink_jsonl;

#endif
