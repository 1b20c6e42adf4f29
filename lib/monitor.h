/* A monitor instance: one configured monitor (per partition, later): it takes the extracted
 * value of each matching event, runs it through the reference and window policy and the
 * detector, and yields verdicts. */
#ifndef DRIFTD_MONITOR_H
#define DRIFTD_MONITOR_H

#include <stdint.h>

#include <jansson.h>

#include <driftd/detector.h>

#include "config.h"
#include "host.h"

enum dd_monitor_phase {
	DD_MON_REFERENCE = 0, /* collecting the first reference_size events */
	DD_MON_ACTIVE = 1,
};

/* Why a value did not reach the detector; counted per monitor. */
enum dd_skip {
	DD_SKIP_MISSING = 0, /* the field is absent */
	DD_SKIP_WRONG_TYPE,  /* present, but not a type the detector takes */
	DD_SKIP_REJECTED,    /* the detector refused it (e.g. non-finite) */
	DD_SKIP_NO_TIME,     /* time windows: the record has no `ts` */
	DD_SKIP__MAX,
};
const char *dd_skip_name(enum dd_skip s);

/* Values (and their event times) kept by the host for sliding policies. */
struct dd_ring {
	double *x;
	int64_t *t;
	size_t cap, head, len;
};

#define DD_MODEL_VERSION_MAX 128 /* bytes of a version kept for alerts (the hash has all) */

struct dd_monitor {
	const struct dd_monitor_conf *conf;
	struct dd_instance *inst;
	enum dd_monitor_phase phase;
	uint64_t ref_n; /* values in the reference so far */
	uint64_t win_n; /* values in the current window */
	uint64_t matched;
	uint64_t used;
	uint64_t skipped[DD_SKIP__MAX];
	uint64_t verdicts;
	uint64_t drifts;
	json_t *ref_values; /* calibrate: the reference values, until it is complete */
	bool calibrated;
	double calibrated_threshold;
	/* window policies */
	bool numeric_only;       /* sliding policies keep copies: numbers only */
	bool win_started;        /* time windows: win_start is set */
	int64_t win_start;       /* time windows: the open window's (or step's) aligned start */
	uint64_t since_eval;     /* sliding by count: values since the last verdict */
	struct dd_ring win_ring; /* sliding windows */
	struct dd_ring ref_ring; /* sliding reference */
	double *win_vals;        /* sliding reference: the current window's values */
	size_t win_len;
	/* cumulative: the sum and the reference chunks' score mean and scale */
	double cusum;
	double cusum_mean;
	double cusum_sd;
	/* on_model_change: the model version this monitor's state was built on: a hash of the
	 * whole string (0 until seen), compared per event, and a copy cut at a character for
	 * alerts and snapshots. */
	uint64_t model_version_hash;
	char model_version[DD_MODEL_VERSION_MAX + 1];
};

int dd_monitor_init(struct dd_monitor *m, const struct dd_monitor_conf *c, uint64_t seed);
void dd_monitor_done(struct dd_monitor *m);

/* Feed the monitor's value for one matching event, with its event time (-1: none). Returns 1 with
 * *out filled when a verdict was reached (streaming: every accepted value; window detectors: when a
 * window closes), 0 when none was, or a negative errno for a detector failure (counted by the
 * caller). */
int dd_monitor_feed(struct dd_monitor *m, const struct driftd_value *v, int64_t ts_ms,
                    struct driftd_verdict *out);

/* The same with the whole event (metadata and the detector's POINTER parameters): detectors
 * with update_event get it; others get ev->value through dd_monitor_feed. */
int dd_monitor_feed_event(struct dd_monitor *m, const struct driftd_event *ev,
                          struct driftd_verdict *out);

/* State snapshots. The digest identifies what builds the monitor's state (detector, parameters,
 * field, filters, reference and window policy, baseline): a state is restored only into a
 * monitor of the same digest. Alert-side settings (severity, for, cooldown, tags, ...) are
 * not part of it. out gets 64 hex digits. */
void dd_monitor_digest(const struct dd_monitor_conf *c, char out[65]);
/* The state as a JSON object, or NULL (no memory, or a detector without snapshot). */
json_t *dd_monitor_save(const struct dd_monitor *m);
/* Load a saved state into a monitor fresh from dd_monitor_init with the same definition.
 * The object is untrusted: -EBADMSG with why on anything out of place (the monitor must then
 * be re-initialised). */
int dd_monitor_load(struct dd_monitor *m, const json_t *j, char *why, size_t whysz);

#endif
