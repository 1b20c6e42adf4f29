/* Telemetry health: which models have been logging, and which went silent. A model that was
 * logging and stops is a `driftd.telemetry_gap` self-alert, because missing logs are how an
 * attack hides (EN 304 223 5.4.2-1). The model table is bounded; models beyond it are counted. */
#ifndef DRIFTD_TELEMETRY_H
#define DRIFTD_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

struct dd_telemetry;

#define DD_TELEMETRY_MAX_MODELS 1024

struct dd_gap {
	char model[128];
	int64_t last_seen_ms;
	int64_t silent_ms;
	bool resolved; /* false: went silent; true: logging again */
};

int dd_telemetry_new(int64_t gap_ms, struct dd_telemetry **ret);
void dd_telemetry_free(struct dd_telemetry *t);

/* A record of `model` at time now_ms. Returns 1 with *out filled when this ends a gap. */
int dd_telemetry_seen(struct dd_telemetry *t, const char *model, size_t len, int64_t now_ms,
                      struct dd_gap *out);
/* Models silent for longer than the gap at now_ms and not yet reported: up to max written to
 * out; returns how many. */
size_t dd_telemetry_check(struct dd_telemetry *t, int64_t now_ms, struct dd_gap *out, size_t max);
uint64_t dd_telemetry_overflow(const struct dd_telemetry *t);
size_t dd_telemetry_models(const struct dd_telemetry *t);

#endif
