/* driftd configuration: loaded from YAML or JSON, validated completely against the schema in
 * config.c and the detectors' parameter tables, with every problem reported as
 * FILE:LINE:COL: message. The result is immutable and owned by struct dd_config. */
#ifndef DRIFTD_CONFIG_H
#define DRIFTD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include <driftd/detector.h>
#include <driftd/sink.h>

#include "group.h"

/* Syslog severities, also the alert's `priority`. */
enum dd_severity {
	DD_SEV_EMERGENCY = 0,
	DD_SEV_ALERT,
	DD_SEV_CRITICAL,
	DD_SEV_ERROR,
	DD_SEV_WARNING,
	DD_SEV_NOTICE,
	DD_SEV_INFORMATIONAL,
	DD_SEV_DEBUG,
};
const char *dd_severity_name(enum dd_severity s); /* "Warning" (Falco's spelling) */

/* What a monitor does when the model version it watches changes (`on_model_change`). Every
 * policy raises driftd.model_changed: a version change is never silent. */
enum dd_model_change {
	DD_MODEL_CHANGE_ALERT = 0, /* alert (Warning), keep the state: the new version is judged
	                            * against the old reference (a silent swap shows as drift) */
	DD_MODEL_CHANGE_RESCOPE,   /* alert (Notice), start over: learn the new version */
	DD_MODEL_CHANGE_KEEP,      /* expected (rolling deploys): Informational, keep the state */
};

struct dd_monitor_conf {
	char *name;
	char *field; /* JSON pointer */
	const struct driftd_detector_ops *detector;
	void *params; /* detector->config_size bytes */
	/* match: every set filter must equal the event's metadata */
	char *match_model;
	char *match_version;
	size_t reference_size; /* 0 for streaming detectors */
	char *reference_file;  /* baseline path (resolved), or NULL: the first N values */
	struct dd_baseline *baseline;
	const json_t *baseline_values; /* borrowed from baseline */
	size_t window_size;            /* 0 for streaming detectors */
	size_t window_step; /* sliding by count: a verdict every step values (0: tumbling) */
	int64_t window_duration_ms; /* windows by event time (0: by count) */
	int64_t window_step_ms;     /* sliding by time (0: tumbling) */
	size_t window_max;          /* time windows: most values one window holds */
	bool reference_sliding;     /* the reference follows the stream */
	enum dd_severity severity;
	unsigned for_n;             /* consecutive breaching verdicts before firing */
	unsigned resolve_after;     /* consecutive clean verdicts before resolving */
	int64_t cooldown_ms;        /* after a resolve, no new firing notification for this long */
	int64_t repeat_interval_ms; /* re-notify a still-firing alert this often (0: never) */
	bool dry_run;
	double min_effect;  /* params.min_effect: score floor for drift (0: off) */
	double calibrate_k; /* params.calibrate: threshold = mean + k std over reference chunks */
	bool cumulative;    /* cumulative: CUSUM of the window score against the reference */
	double cusum_k;     /* allowance, in reference-chunk standard deviations */
	double cusum_h;     /* decision interval, same unit */
	int group;          /* index into dd_config.groups, or -1 */
	enum dd_model_change on_model_change;
	char **tags; /* extra alert tags */
	size_t n_tags;
	/* what text and list parameters in `params` point at (freed with the config) */
	void **owned;
	size_t n_owned;
	json_t *kept;
};

struct dd_sink_conf {
	const struct driftd_sink_ops *ops;
	json_t *conf; /* the sink's mapping, checked by ops->check */
	char *name;   /* "TYPE" or "TYPE#N" for the N-th sink of a type */
};

struct dd_kafka_conf {
	char *brokers;
	char **topics;
	size_t n_topics;
	char *group;
	char *format;
	json_t *properties; /* string -> string, passed through to librdkafka */
};

struct dd_config {
	char *path;
	bool has_kafka;
	struct dd_kafka_conf kafka;
	struct dd_monitor_conf *monitors;
	size_t n_monitors;
	struct dd_sink_conf *sinks;
	size_t n_sinks;
	char *spool_dir; /* alerts.spool_dir */
	struct dd_group_conf *groups;
	size_t n_groups;
	int64_t telemetry_gap_ms; /* a model silent this long is a telemetry gap (0: off) */
	char *state_dir;
	int64_t snapshot_interval_ms;
	/* The second tier (multi-host): a compacted topic holding each partition's latest
	 * state, on the source's brokers; NULL: local state only. */
	char *state_kafka_topic;
	char *metrics_listen; /* HOST:PORT, or NULL: no metrics endpoint */
	/* /healthz fails when more Kafka or sink errors than these happened within the window. */
	int64_t metrics_error_window_ms;
	uint64_t metrics_max_kafka_errors;
	uint64_t metrics_max_sink_errors;
	/* input limits (bytes / levels) */
	size_t max_record;
	size_t max_depth;
	size_t max_string;
};

/* Flags for loading. */
#define DD_CONFIG_SKIP_BASELINES (1u << 0) /* do not read reference files (`driftd baseline`) */

/* Load and validate. On failure returns -EINVAL (or -errno for I/O) and writes every problem as
 * one "FILE:LINE:COL: message" line to diag (may be NULL). */
int dd_config_load(const char *path, unsigned flags, FILE *diag, struct dd_config **ret);
/* Same from memory; `name` is used in messages and to resolve relative paths. */
int dd_config_parse(const char *name, const char *text, size_t len, unsigned flags, FILE *diag,
                    struct dd_config **ret);
void dd_config_free(struct dd_config *c);

/* "30s", "5m", "1h", "250ms", "2d" or a bare number of seconds. */
int dd_parse_duration_ms(const char *s, int64_t *ret_ms);

#endif
