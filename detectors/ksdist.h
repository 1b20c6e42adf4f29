/* Kolmogorov-Smirnov distributions, computed as scipy 1.17.1 computes them (GSL has none).
 * Used by the ks detector; kept separate so that other detectors (KSWIN) can share it. */
#ifndef DRIFTD_KSDIST_H
#define DRIFTD_KSDIST_H

#include <stdbool.h>
#include <stdint.h>

/* P(D_n >= x) for the two-sided one-sample KS statistic of n observations:
 * scipy.stats.kstwo.sf(x, n). NAN for n < 1 or x NaN. */
double dd_kolmogn_sf(int64_t n, double x);

/* P(D+_n >= x) for the one-sided statistic: scipy.special.smirnov(n, x). */
double dd_smirnov_sf(int n, double x);

/* How the two-sample p-value is computed, as scipy.stats.ks_2samp(method=...). */
enum dd_ks2_method {
	DD_KS2_AUTO = 0,  /* exact when max(m, n) <= 10000, else asymptotic */
	DD_KS2_EXACT = 1, /* exact unless lcm(m, n) is too large or the computation fails */
	DD_KS2_ASYMP = 2, /* kstwo.sf(d, round(m n / (m + n))) */
};

/* Two-sided p-value *p of the two-sample statistic d for sizes m, n >= 1 (both < 2^31), exactly
 * as ks_2samp. When the exact path is attempted *d is replaced by round(d lcm) / lcm, as scipy
 * reports it. *exact (may be NULL) tells whether the exact distribution gave the p-value.
 * *p is NaN where scipy's is (method asymp with m = n = 1). 0, -EINVAL or -ENOMEM. */
int dd_ks2_pvalue(int64_t m, int64_t n, double *d, enum dd_ks2_method method, double *p,
                  bool *exact);

#endif
