/* Helpers shared by the security detectors: bounded UTF-8-safe copies of event strings (the
 * evidence an alert carries), keyed hashing, and a bounded per-client table (heavy hitters
 * plus an overflow bucket) whose per-client payload each detector defines. */
#ifndef DRIFTD_SECUTIL_H
#define DRIFTD_SECUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <driftd/detector.h>

/* Copy at most cap-1 bytes of s[0..len) into dst and NUL-terminate, never cutting a UTF-8
 * sequence (evidence goes into JSON, which needs valid UTF-8). Returns the bytes copied. */
size_t dd_sec_copy(char *dst, size_t cap, const char *s, size_t len);

/* 64-bit hash of bytes (FNV-1a with a final avalanche), seeded. */
uint64_t dd_sec_hash(const void *p, size_t n, uint64_t seed);

#define DD_SEC_ID_MAX 64 /* bytes kept of a client id (evidence; the key hashes all of it) */
/* The id the overflow bucket reports. */
#define DD_SEC_OVERFLOW_ID "(overflow)"

/* Bounded client table. Slot cap is the overflow bucket: clients that find the table full
 * and cannot evict anyone (every resident is heavier) are accounted there, so memory stays
 * bounded whatever the number of distinct client ids. Eviction: the resident with the lowest
 * weight, when it is lighter than `evict_below` (callers keep weights as decayed counts). */
struct dd_ctab {
	size_t cap;    /* client slots, plus one overflow slot at index cap */
	size_t stride; /* payload bytes per slot */
	size_t n;      /* used client slots */
	size_t mask;   /* index size - 1 */
	uint32_t *idx; /* open addressing: 0 empty, else slot + 1 */
	uint64_t *key;
	char (*id)[DD_SEC_ID_MAX];
	double *weight;
	unsigned char *payload;
	uint64_t seed;
	uint64_t evictions;
	uint64_t overflowed; /* events accounted to the overflow bucket */
	/* Optional: fold an evicted client's payload into the overflow slot's. */
	void (*on_evict)(void *overflow, const void *evicted);
	/* Optional (set after init): write and read a payload compactly instead of as stride
	 * raw bytes (large, mostly unused payloads: extraction's query history). get validates
	 * (untrusted bytes) and returns 0 or -EBADMSG. */
	void (*put)(const void *payload, struct driftd_buf *b, const void *arg);
	int (*get)(void *payload, struct driftd_reader *r, const void *arg);
	const void *codec_arg;
};

int dd_ctab_init(struct dd_ctab *t, size_t cap, size_t stride, uint64_t seed);
void dd_ctab_free(struct dd_ctab *t);
/* Empty the table (keeps the memory). */
void dd_ctab_clear(struct dd_ctab *t);
/* The slot of client id (inserted when new: *fresh and a zeroed payload), or the overflow
 * slot (t->cap) when the table is full and no resident is lighter than evict_below. */
size_t dd_ctab_get(struct dd_ctab *t, const char *id, size_t len, double evict_below, bool *fresh);
static inline void *dd_ctab_payload(const struct dd_ctab *t, size_t slot)
{
	return t->payload + slot * t->stride;
}
/* Snapshot: every used slot and the overflow slot with its payload bytes. Restore rebuilds
 * the index; check() validates one payload (untrusted bytes): 0 or -EBADMSG. */
void dd_ctab_snapshot(const struct dd_ctab *t, struct driftd_buf *b);
int dd_ctab_restore(struct dd_ctab *t, struct driftd_reader *r,
                    int (*check)(const void *payload, const void *config), const void *config);

/* A verdict's evidence: start empty, then add fields (keys and strings must outlive the
 * verdict: static, or in the detector's state). */
void dd_ev_reset(struct driftd_evidence *ev);
void dd_ev_str(struct driftd_evidence *ev, const char *key, const char *s);
void dd_ev_num(struct driftd_evidence *ev, const char *key, double x);
void dd_ev_int(struct driftd_evidence *ev, const char *key, double x);

/* Shapiro-Wilk W (Royston 1992, algorithm AS R94 as in scipy's swilk): coefficients for a
 * sample size n in [3, 5000] are computed once (a[] holds n/2 values), then W of a sorted
 * sample. */
int dd_swilk_coef(size_t n, double *a);
double dd_swilk_w(const double *sorted, size_t n, const double *a);

#endif
