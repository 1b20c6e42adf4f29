/* Monitor groups: false-alarm control across the p-values of several monitors (Bonferroni or
 * Benjamini-Hochberg). A member's verdict is held until every member has reached a verdict
 * for the same round (its k-th window); the round is then decided together. */
#ifndef DRIFTD_GROUP_H
#define DRIFTD_GROUP_H

#include <stdbool.h>
#include <stddef.h>

#include <driftd/detector.h>

#include "origin.h"

enum dd_correction {
	DD_CORRECTION_BH = 0,
	DD_CORRECTION_BONFERRONI = 1,
};

/* How far one member may run ahead of the slowest before a round is decided without the
 * missing members (with m = the members present). */
#define DD_GROUP_MAX_PENDING 16

struct dd_group_conf {
	char *name;
	enum dd_correction correction;
	double alpha;
};

/* A verdict waiting for its round, with what the alert needs later (the model id is copied:
 * the decoder's buffer is gone by then). */
struct dd_held {
	struct driftd_verdict v;
	struct dd_origin at;
	char model[128];
	bool has_model;
	int64_t now_ms;
};

/* A decided verdict: drift and threshold replaced by the group's decision. */
struct dd_decided {
	size_t monitor; /* index in the configuration */
	struct dd_held held;
	double p_adjusted; /* Bonferroni: min(1, p m); BH: the step-up adjusted p (q-value) */
};

struct dd_group;

int dd_group_new(const struct dd_group_conf *conf, const size_t *members, size_t n,
                 struct dd_group **ret);
void dd_group_free(struct dd_group *g);

/* Hold member monitor `monitor`'s verdict. When this completes one or more rounds, the decided
 * verdicts are written to out (room for n members * DD_GROUP_MAX_PENDING) and their number
 * returned; 0 when still waiting. */
size_t dd_group_offer(struct dd_group *g, size_t monitor, const struct dd_held *h,
                      struct dd_decided *out);
size_t dd_group_size(const struct dd_group *g);

/* State snapshots: member k's monitor index, the verdicts it holds for unfinished rounds
 * (oldest first, copied to out; returns how many), and putting such a queue back (n at most
 * DD_GROUP_MAX_PENDING, replacing what k held). */
size_t dd_group_member(const struct dd_group *g, size_t k);
size_t dd_group_pending(const struct dd_group *g, size_t k,
                        struct dd_held out[DD_GROUP_MAX_PENDING]);
int dd_group_set_pending(struct dd_group *g, size_t k, const struct dd_held *h, size_t n);

#endif
