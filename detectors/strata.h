/* Stratified class rates against a fixed reference, shared by conditional_rate (strata: input
 * values, classes: output labels) and label_flip (strata: feedback sources, classes: agree /
 * disagree).
 *
 * The first `reference` events overall form the reference: each stratum counts its classes,
 * and so does the pooled reference. Afterwards every event goes to its stratum's window (its
 * last `window` events). A stratum's window is compared with the stratum's own reference when
 * that has at least min_count events, else with the pooled one, so a stratum that first
 * appears after the reference (a new trigger value, a new feedback source) is measured against
 * the population and never learns from the attack itself (a fixed baseline, which is what
 * catches slow poisoning).
 *
 * Test per class j, once the window holds min_count events: the two-proportion z statistic
 * of the window's rate of j against the reference's; a breach is z > threshold with the rate
 * up by more than min_effect. */
#ifndef DRIFTD_STRATA_H
#define DRIFTD_STRATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secutil.h"

#define DD_STRATA_CLASSES   8 /* classes beyond the first 7 share "(other)" */
#define DD_STRATA_CLASS_MAX 48

struct dd_strata_params {
	int64_t max_strata;
	int64_t reference;
	int64_t window;
	int64_t min_count;
	double threshold;
	double min_effect;
};

/* The parameter rows both detectors share (config struct with a member `s` of this type). */
#define DD_STRATA_PARAMS(T, what)                                                                  \
	{.name = "max_strata",                                                                     \
	 .type = DRIFTD_PARAM_INT,                                                                 \
	 .offset = offsetof(T, s.max_strata),                                                      \
	 .def = 256,                                                                               \
	 .min = 1,                                                                                 \
	 .max = 1 << 16,                                                                           \
	 .description = "Most " what " tracked at once (the lightest is replaced)."},              \
	    {.name = "reference",                                                                  \
	     .type = DRIFTD_PARAM_INT,                                                             \
	     .offset = offsetof(T, s.reference),                                                   \
	     .def = 2000,                                                                          \
	     .min = 1,                                                                             \
	     .max = 1e12,                                                                          \
	     .description = "Events (overall) that form the fixed reference."},                    \
	    {.name = "window",                                                                     \
	     .type = DRIFTD_PARAM_INT,                                                             \
	     .offset = offsetof(T, s.window),                                                      \
	     .def = 100,                                                                           \
	     .min = 2,                                                                             \
	     .max = 4096,                                                                          \
	     .description = "Recent events per " what " compared with the reference."},            \
	    {.name = "min_count",                                                                  \
	     .type = DRIFTD_PARAM_INT,                                                             \
	     .offset = offsetof(T, s.min_count),                                                   \
	     .def = 50,                                                                            \
	     .min = 1,                                                                             \
	     .max = 1e9,                                                                           \
	     .description = "Events a window (and an own reference) needs before it counts."},     \
	    {.name = "threshold",                                                                  \
	     .type = DRIFTD_PARAM_DOUBLE,                                                          \
	     .offset = offsetof(T, s.threshold),                                                   \
	     .def = 6,                                                                             \
	     .min = 0,                                                                             \
	     .max = 1e6,                                                                           \
	     .description = "Two-proportion z above which a rate increase breaches."},             \
	{                                                                                          \
		.name = "min_effect", .type = DRIFTD_PARAM_DOUBLE,                                 \
		.offset = offsetof(T, s.min_effect), .def = 0.2, .min = 0, .max = 1,               \
		.description = "Smallest rate increase (absolute) that breaches."                  \
	}

struct dd_strata {
	struct dd_ctab t;
	size_t window;
	char classes[DD_STRATA_CLASSES][DD_STRATA_CLASS_MAX];
	uint64_t n_classes;
	uint64_t events;
	uint64_t ref_n, ref_k[DD_STRATA_CLASSES]; /* pooled reference */
	/* the last breach found by dd_strata_add */
	char key[DD_SEC_ID_MAX];
	uint64_t cls;
	double z, p_ref, p_win;
	uint64_t n_ref, n_win;
	bool pooled;
};

int dd_strata_init(struct dd_strata *s, const struct dd_strata_params *p, uint64_t seed);
void dd_strata_free(struct dd_strata *s);
/* The class index of a label (new labels get the next index; the last is "(other)").
 * Pure lookup when add is false: returns DD_STRATA_CLASSES when unknown. */
size_t dd_strata_class(struct dd_strata *s, const char *label, size_t len, bool add);
/* Count one event of stratum key with class cls. Returns 1 when the stratum's window breaches
 * for some class (details in s->key, cls, z, ...), else 0. */
int dd_strata_add(struct dd_strata *s, const struct dd_strata_params *p, const char *key,
                  size_t keylen, size_t cls);
/* Back to the state after init (keeps the memory). */
void dd_strata_reset(struct dd_strata *s);
void dd_strata_snapshot(const struct dd_strata *s, struct driftd_buf *b);
int dd_strata_restore(struct dd_strata *s, const struct dd_strata_params *p,
                      struct driftd_reader *r);

#endif
