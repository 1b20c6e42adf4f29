/* Reference and window buffers of raw numbers, shared by the two-sample detectors that keep
 * both samples (ks, anderson, cvm, mannwhitney, wasserstein, energy), and the pooled-order
 * primitives they are computed from.
 *
 * Protocol (what the detectors' callbacks delegate to):
 *   init             buffers of shape.reference_size and shape.window_size values; -EINVAL
 *                    when a size is below the detector's minimum or 2^31 or more; -ENOMEM.
 *   reference_add    -EDOM for a non-number or non-finite value (state untouched), -EINVAL
 *                    once the reference is closed, -ENOSPC when it is full.
 *   reference_done   sorts the reference and closes it; -ENODATA while it is empty;
 *                    idempotent.
 *   update           -EDOM as above, -ENOSPC when the window is full. Allowed before
 *                    reference_done: the window does not depend on the reference.
 *   evaluate         dd_sample2_ready: -ENODATA unless the reference is closed and both
 *                    samples hold at least the detector's minimum; then sorts the window in
 *                    place (order within a window is irrelevant to every test here).
 *   window_reset     empties the window.
 *   snapshot v1      u64 closed (0/1), u64 reference count, u64 window count, then the
 *                    reference and the window values as f64 (a closed reference sorted).
 *   restore          hostile input: counts within the shape, finite values, a closed
 *                    reference non-empty and sorted, no trailing bytes; else -EBADMSG and
 *                    the state is as after init. */
#ifndef DRIFTD_SAMPLE_H
#define DRIFTD_SAMPLE_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <driftd/detector.h>

struct dd_sample2 {
	double *ref;
	double *win;
	size_t ref_cap, win_cap;
	size_t ref_n, win_n;
	size_t ref_min, win_min; /* fewest values evaluate accepts */
	bool ref_done;
};

int dd_sample2_init(struct dd_sample2 *s, const struct driftd_shape *shape, size_t ref_min,
                    size_t win_min);
/* Idempotent; safe on a zeroed or half-initialised state. */
void dd_sample2_done(struct dd_sample2 *s);
int dd_sample2_reference_add(struct dd_sample2 *s, const struct driftd_value *v);
int dd_sample2_reference_done(struct dd_sample2 *s);
int dd_sample2_update(struct dd_sample2 *s, const struct driftd_value *v);
int dd_sample2_ready(struct dd_sample2 *s);
void dd_sample2_window_reset(struct dd_sample2 *s);
int dd_sample2_snapshot(const struct dd_sample2 *s, struct driftd_buf *out);
/* Checks the version (1) too. */
int dd_sample2_restore(struct dd_sample2 *s, uint32_t version, const void *data, size_t len);

/* In-place ascending sort of finite doubles; O(n log n) worst case, no allocation. */
void dd_sort_doubles(double *a, size_t n);

/* Walk over the distinct values of two sorted samples in ascending order (-0.0 and 0.0 are one
 * value, as numpy's comparisons have it). Each step gives the value, how many times it occurs
 * in a and in b, and how many values of a and b lie below it. */
struct dd_merge {
	const double *a, *b;
	size_t m, n;
	size_t i, j; /* values of a and b consumed so far */
};

struct dd_tie {
	double v;
	size_t ca, cb;           /* multiplicity in a and in b */
	size_t below_a, below_b; /* values of a and b strictly below v */
};

static inline void dd_merge_start(struct dd_merge *it, const double *a, size_t m, const double *b,
                                  size_t n)
{
	*it = (struct dd_merge){.a = a, .b = b, .m = m, .n = n};
}

static inline bool dd_merge_next(struct dd_merge *it, struct dd_tie *t)
{
	if (it->i >= it->m && it->j >= it->n)
		return false;
	double v;
	if (it->j >= it->n || (it->i < it->m && it->a[it->i] <= it->b[it->j]))
		v = it->a[it->i];
	else
		v = it->b[it->j];
	t->v = v;
	t->below_a = it->i;
	t->below_b = it->j;
	while (it->i < it->m && it->a[it->i] <= v)
		it->i++;
	while (it->j < it->n && it->b[it->j] <= v)
		it->j++;
	t->ca = it->i - t->below_a;
	t->cb = it->j - t->below_b;
	return true;
}

/* Neumaier's compensated sum: error about one rounding of the exact sum whatever the order,
 * so results agree with numpy's pairwise sums to a few ulps. */
struct dd_ksum {
	double s, c;
};

static inline void dd_ksum_add(struct dd_ksum *k, double x)
{
	double t = k->s + x;
	if (fabs(k->s) >= fabs(x))
		k->c += (k->s - t) + x;
	else
		k->c += (x - t) + k->s;
	k->s = t;
}

static inline double dd_ksum_value(const struct dd_ksum *k)
{
	return k->s + k->c;
}

/* Integrals over the real line of |F - G| and (F - G)^2 for the right-continuous ECDFs F of a
 * and G of b (both sorted, non-empty): what scipy's wasserstein_distance and (before its
 * sqrt(2) sqrt(.)) energy_distance compute, with F = count / size at each pooled value. */
void dd_ecdf_distances(const double *a, size_t m, const double *b, size_t n, double *l1,
                       double *l2sq);

/* The two-sample KS statistic D = sup |F - G| over the pooled points, each difference
 * computed as scipy does (count_a / m - count_b / n); both sorted, non-empty. Used by ks and
 * confidence_shift. */
double dd_ks_statistic(const double *a, size_t m, const double *b, size_t n);

#endif
