/* Reference and window buffers for the two-sample detectors (see sample.h). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <driftd/detector.h>

#include "sample.h"

int dd_sample2_init(struct dd_sample2 *s, const struct driftd_shape *shape, size_t ref_min,
                    size_t win_min)
{
	size_t m = shape->reference_size, n = shape->window_size;
	if (ref_min < 1)
		ref_min = 1;
	if (win_min < 1)
		win_min = 1;
	/* the distributions take sizes below 2^31, and sizes fit doubles exactly */
	if (m < ref_min || n < win_min || m > INT32_MAX || n > INT32_MAX)
		return -EINVAL;
	*s = (struct dd_sample2){.ref_min = ref_min, .win_min = win_min};
	s->ref = malloc(m * sizeof(double));
	s->win = malloc(n * sizeof(double));
	if (!s->ref || !s->win) {
		dd_sample2_done(s);
		return -ENOMEM;
	}
	s->ref_cap = m;
	s->win_cap = n;
	return 0;
}

void dd_sample2_done(struct dd_sample2 *s)
{
	free(s->ref);
	free(s->win);
	s->ref = s->win = NULL;
	s->ref_cap = s->win_cap = s->ref_n = s->win_n = 0;
	s->ref_done = false;
}

static int sample_number(const struct driftd_value *v, double *x)
{
	if (v->type != DRIFTD_VALUE_NUMBER || !isfinite(v->num))
		return -EDOM;
	*x = v->num;
	return 0;
}

int dd_sample2_reference_add(struct dd_sample2 *s, const struct driftd_value *v)
{
	double x;
	int rc = sample_number(v, &x);
	if (rc < 0)
		return rc;
	if (s->ref_done)
		return -EINVAL;
	if (s->ref_n >= s->ref_cap)
		return -ENOSPC;
	s->ref[s->ref_n++] = x;
	return 0;
}

int dd_sample2_reference_done(struct dd_sample2 *s)
{
	if (s->ref_done)
		return 0;
	if (s->ref_n == 0)
		return -ENODATA;
	dd_sort_doubles(s->ref, s->ref_n);
	s->ref_done = true;
	return 0;
}

int dd_sample2_update(struct dd_sample2 *s, const struct driftd_value *v)
{
	double x;
	int rc = sample_number(v, &x);
	if (rc < 0)
		return rc;
	if (s->win_n >= s->win_cap)
		return -ENOSPC;
	s->win[s->win_n++] = x;
	return 0;
}

int dd_sample2_ready(struct dd_sample2 *s)
{
	if (!s->ref_done || s->ref_n < s->ref_min || s->win_n < s->win_min)
		return -ENODATA;
	dd_sort_doubles(s->win, s->win_n);
	return 0;
}

void dd_sample2_window_reset(struct dd_sample2 *s)
{
	s->win_n = 0;
}

int dd_sample2_snapshot(const struct dd_sample2 *s, struct driftd_buf *out)
{
	driftd_buf_put_u64(out, s->ref_done ? 1 : 0);
	driftd_buf_put_u64(out, s->ref_n);
	driftd_buf_put_u64(out, s->win_n);
	for (size_t i = 0; i < s->ref_n; i++)
		driftd_buf_put_f64(out, s->ref[i]);
	for (size_t i = 0; i < s->win_n; i++)
		driftd_buf_put_f64(out, s->win[i]);
	return out->err;
}

static int restore_body(struct dd_sample2 *s, struct driftd_reader *r)
{
	uint64_t done, rn, wn;
	if (driftd_rd_u64(r, &done) < 0 || driftd_rd_u64(r, &rn) < 0 || driftd_rd_u64(r, &wn) < 0)
		return -EBADMSG;
	if (done > 1 || rn > s->ref_cap || wn > s->win_cap || (done && rn == 0))
		return -EBADMSG;
	/* exact length check before reading: 8 bytes per value, nothing after them */
	if (r->left / 8 != rn + wn || r->left % 8 != 0)
		return -EBADMSG;
	for (uint64_t i = 0; i < rn; i++) {
		if (driftd_rd_f64_finite(r, &s->ref[i]) < 0)
			return -EBADMSG;
		if (done && i > 0 && s->ref[i] < s->ref[i - 1])
			return -EBADMSG;
	}
	for (uint64_t i = 0; i < wn; i++)
		if (driftd_rd_f64_finite(r, &s->win[i]) < 0)
			return -EBADMSG;
	if (r->left != 0)
		return -EBADMSG;
	s->ref_done = done == 1;
	s->ref_n = (size_t)rn;
	s->win_n = (size_t)wn;
	return 0;
}

int dd_sample2_restore(struct dd_sample2 *s, uint32_t version, const void *data, size_t len)
{
	s->ref_n = s->win_n = 0;
	s->ref_done = false;
	if (version != 1 || (!data && len) || !s->ref || !s->win)
		return -EBADMSG;
	struct driftd_reader r = {.p = data, .left = len};
	int rc = restore_body(s, &r);
	if (rc < 0) {
		s->ref_n = s->win_n = 0;
		s->ref_done = false;
	}
	return rc;
}

/* Quicksort (median of three, recursion on the smaller side) with insertion sort for short
 * runs and heapsort once the recursion gets too deep: O(n log n) on any input, in place. */
static void insertion_sort(double *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		double x = a[i];
		size_t j = i;
		while (j > 0 && a[j - 1] > x) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = x;
	}
}

static void sift_down(double *a, size_t root, size_t n)
{
	double x = a[root];
	for (;;) {
		size_t c = 2 * root + 1;
		if (c >= n)
			break;
		if (c + 1 < n && a[c + 1] > a[c])
			c++;
		if (!(a[c] > x))
			break;
		a[root] = a[c];
		root = c;
	}
	a[root] = x;
}

static void heap_sort(double *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(a, i, n);
	for (size_t i = n; i-- > 1;) {
		double t = a[0];
		a[0] = a[i];
		a[i] = t;
		sift_down(a, 0, i);
	}
}

static void sort_depth(double *a, size_t n, int depth)
{
	while (n > 24) {
		if (depth-- == 0) {
			heap_sort(a, n);
			return;
		}
		size_t mid = n / 2;
		double x0 = a[0], x1 = a[mid], x2 = a[n - 1];
		double pivot = x0 < x1 ? (x1 < x2 ? x1 : (x0 < x2 ? x2 : x0))
		                       : (x0 < x2 ? x0 : (x1 < x2 ? x2 : x1));
		/* Hoare partition: [0, j] <= pivot <= [j + 1, n) */
		size_t i = 0, j = n - 1;
		for (;;) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i >= j)
				break;
			double t = a[i];
			a[i] = a[j];
			a[j] = t;
			i++;
			j--;
		}
		size_t left = j + 1;
		if (left < n - left) {
			sort_depth(a, left, depth);
			a += left;
			n -= left;
		} else {
			sort_depth(a + left, n - left, depth);
			n = left;
		}
	}
	insertion_sort(a, n);
}

void dd_sort_doubles(double *a, size_t n)
{
	int depth = 0;
	for (size_t k = n; k > 1; k >>= 1)
		depth += 2;
	sort_depth(a, n, depth);
}

/* sup |F - G| over the pooled points, each difference computed as scipy does
 * (count_ref / m - count_win / n); both arrays sorted. */
double dd_ks_statistic(const double *a, size_t m, const double *b, size_t n)
{
	double dm = (double)m, dn = (double)n;
	double maxd = -INFINITY, mind = INFINITY;
	struct dd_merge it;
	struct dd_tie t;
	dd_merge_start(&it, a, m, b, n);
	while (dd_merge_next(&it, &t)) {
		double diff = (double)(t.below_a + t.ca) / dm - (double)(t.below_b + t.cb) / dn;
		if (diff > maxd)
			maxd = diff;
		if (diff < mind)
			mind = diff;
	}
	double min_s = -mind;
	if (min_s < 0)
		min_s = 0;
	else if (min_s > 1)
		min_s = 1;
	return min_s > maxd ? min_s : maxd;
}

void dd_ecdf_distances(const double *a, size_t m, const double *b, size_t n, double *l1,
                       double *l2sq)
{
	/* scipy integrates over the gaps between consecutive pooled values: the ECDFs are
	 * constant there, at their values at the left end. Gaps between tied values are zero and
	 * add nothing, so the distinct values suffice. */
	struct dd_ksum s1 = {0}, s2 = {0};
	struct dd_merge it;
	struct dd_tie t;
	double dm = (double)m, dn = (double)n;
	dd_merge_start(&it, a, m, b, n);
	bool have = dd_merge_next(&it, &t);
	while (have) {
		double v = t.v;
		double d = (double)(t.below_a + t.ca) / dm - (double)(t.below_b + t.cb) / dn;
		have = dd_merge_next(&it, &t);
		if (!have)
			break;
		double gap = t.v - v;
		dd_ksum_add(&s1, fabs(d) * gap);
		dd_ksum_add(&s2, (d * d) * gap);
	}
	*l1 = dd_ksum_value(&s1);
	*l2sq = dd_ksum_value(&s2);
}
