/* The warm-up shared by the control charts (cusum, ewma, shewhart): the first min_instances
 * values of a run estimate a reference mean and standard deviation (Welford; ddof 1, 0 for a
 * single value), frozen at value min_instances, which is also the first value charted. The
 * snapshot layout (u64 n, f64 mean, m2, mu, sigma) opens each chart's snapshot. */
#ifndef DRIFTD_WARMUP_H
#define DRIFTD_WARMUP_H

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include <driftd/detector.h>

struct dd_warmup {
	uint64_t n;   /* values since the last reset */
	double mean;  /* warm-up mean */
	double m2;    /* warm-up sum of squared deviations */
	double mu;    /* frozen reference mean */
	double sigma; /* frozen reference standard deviation */
};

static inline bool dd_warmup_frozen(const struct dd_warmup *w, uint64_t min_instances)
{
	return w->n >= min_instances;
}

/* Count x. Returns true when x is to be charted (the reference is frozen, at x or before). */
static inline bool dd_warmup_add(struct dd_warmup *w, double x, uint64_t min_instances)
{
	w->n++;
	if (w->n > min_instances)
		return true;
	double d = x - w->mean;
	w->mean += d / (double)w->n;
	w->m2 += d * (x - w->mean);
	if (w->n < min_instances)
		return false;
	w->mu = w->mean;
	double var = w->n > 1 ? w->m2 / (double)(w->n - 1) : 0.0;
	w->sigma = sqrt(var > 0 ? var : 0.0);
	return true;
}

static inline void dd_warmup_put(const struct dd_warmup *w, struct driftd_buf *b)
{
	driftd_buf_put_u64(b, w->n);
	driftd_buf_put_f64(b, w->mean);
	driftd_buf_put_f64(b, w->m2);
	driftd_buf_put_f64(b, w->mu);
	driftd_buf_put_f64(b, w->sigma);
}

/* Read and validate (hostile input): counts bounded, moments finite and consistent with the
 * phase (before freezing there is no reference; before any value no moments). */
static inline int dd_warmup_read(struct driftd_reader *r, struct dd_warmup *w,
                                 uint64_t min_instances)
{
	if (driftd_rd_u64(r, &w->n) < 0 || driftd_rd_f64_finite(r, &w->mean) < 0 ||
	    driftd_rd_f64_finite(r, &w->m2) < 0 || driftd_rd_f64_finite(r, &w->mu) < 0 ||
	    driftd_rd_f64_finite(r, &w->sigma) < 0)
		return -EBADMSG;
	if (w->n > (UINT64_C(1) << 53) || !(w->m2 >= 0) || !(w->sigma >= 0))
		return -EBADMSG;
	if (!dd_warmup_frozen(w, min_instances) && (w->mu != 0 || w->sigma != 0))
		return -EBADMSG;
	if (w->n == 0 && (w->mean != 0 || w->m2 != 0))
		return -EBADMSG;
	return 0;
}

#endif
