/* The alert engine: per fingerprint, consecutive-breach (`for`) and consecutive-clean
 * (`resolve_after`) counting, firing/resolved transitions, cooldown after a resolve; and the
 * alert JSON of the contract (design.md, docs/alerts.md). */
#ifndef DRIFTD_ALERT_H
#define DRIFTD_ALERT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <driftd/detector.h>

#include "config.h"
#include "origin.h"

struct dd_alert_state {
	char fingerprint[17]; /* 16 hex digits, as Alertmanager's */
	unsigned breaches;    /* consecutive breaching verdicts */
	unsigned clean;       /* consecutive clean verdicts while firing */
	bool firing;
	bool muted; /* this episode fired during cooldown: not notified */
	/* First breaching record of the current episode. Its strings are not kept (they belong
	 * to the record): the topic is copied into episode_topic. */
	struct dd_origin episode;
	char episode_topic[256];
	bool ever_resolved;
	int64_t resolved_ms;
	uint64_t suppressed; /* notifications held back since the last one sent */
	int64_t notified_ms; /* when the current episode was last notified */
	uint32_t repeats;    /* repeat notifications of the current episode */
};

enum dd_transition {
	DD_TRANSITION_NONE = 0,
	DD_TRANSITION_FIRING,
	DD_TRANSITION_RESOLVED,
	DD_TRANSITION_REPEAT, /* still firing after repeat_interval: notify again */
};

/* Fingerprint of (monitor, model, field): the first 8 bytes of SHA-256 in hex. */
void dd_alert_fingerprint(const char *monitor, const char *model, const char *field, char out[17]);
void dd_alert_state_init(struct dd_alert_state *a, const struct dd_monitor_conf *mc);

/* Apply one verdict reached at record `at` (event time now_ms). Returns the transition that
 * must be notified; transitions held back by the cooldown are counted in a->suppressed and
 * return NONE. */
enum dd_transition dd_alert_step(struct dd_alert_state *a, const struct dd_monitor_conf *mc,
                                 const struct driftd_verdict *v, const struct dd_origin *at,
                                 int64_t now_ms);

struct dd_alert_info {
	const struct dd_monitor_conf *monitor;
	const struct dd_alert_state *state;
	const struct driftd_verdict *verdict;
	enum dd_transition transition;
	const char *model_id; /* of the event that produced the verdict, may be NULL */
	const struct dd_origin *at;
	int64_t time_ms;
	const char *hostname;
	uint64_t suppressed; /* carried on this notification */
	const char *group;   /* the monitor's group, or NULL */
	double p_adjusted;   /* the group-corrected p-value when grouped */
};

/* Build the alert object (new reference). */
json_t *dd_alert_json(const struct dd_alert_info *info);

/* driftd's alerts about itself (design.md: rule names start with "driftd.", tag "self"). */
struct dd_self_alert {
	const char *rule;   /* e.g. "driftd.telemetry_gap" */
	const char *status; /* "firing" or "resolved" */
	enum dd_severity severity;
	const char *key;     /* what the series is about (a model id): part of the fingerprint */
	const char *episode; /* what identifies the episode: part of the id */
	const char *output;  /* one readable sentence */
	const char *const *tags; /* besides "self"; NULL-terminated, may be NULL */
	json_t *fields;          /* output_fields; stolen */
	int64_t time_ms;
	const char *hostname;
};
json_t *dd_self_alert_json(const struct dd_self_alert *sa);

/* Alert state snapshots: the lifecycle (breaches, firing, cooldown, suppression counter,
 * episode) as a JSON object; load checks everything and leaves the fingerprint as init set it.
 * -EBADMSG with why for a bad object. */
json_t *dd_alert_state_save(const struct dd_alert_state *a);
int dd_alert_state_load(struct dd_alert_state *a, const json_t *j, char *why, size_t whysz);

#endif
