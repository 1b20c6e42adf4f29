/* Rank-based two-sample (and k-sample) statistics and their null distributions, computed as
 * scipy 1.17.1 computes them: Anderson-Darling k-sample (anderson_ksamp), Cramer-von Mises
 * two-sample (cramervonmises_2samp) and Mann-Whitney U (mannwhitneyu, two-sided). Every
 * function takes samples sorted ascending (finite values) and works in O(total size), apart
 * from the exact null distributions noted below. Used by the anderson, cvm and mannwhitney
 * detectors and tested directly. */
#ifndef DRIFTD_RANKTEST_H
#define DRIFTD_RANKTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Anderson-Darling k-sample (Scholz & Stephens 1987) ---- */

enum dd_ad_variant {
	DD_AD_MIDRANK = 0,    /* eq. 7, midrank ECDF: continuous and discrete data (default) */
	DD_AD_RIGHT = 1,      /* eq. 6, right-continuous ECDF: discrete data */
	DD_AD_CONTINUOUS = 2, /* eq. 3: continuous data (no ties) */
};

#define DD_AD_MAX_K 64

struct dd_ad_result {
	double a2kn;      /* the unnormalised statistic A2kN (or A2akN) */
	double statistic; /* (A2kN - (k - 1)) / sigma_N: what scipy reports */
	double p;         /* interpolated from the Table 2 critical values, in [0.001, 0.25] */
	int capped;       /* +1: p capped at 0.25, -1: floored at 0.001, 0: interpolated */
};

/* k (2..DD_AD_MAX_K) sorted samples of sizes n[i] >= 1. -EINVAL on bad arguments, fewer than 4
 * values in all (scipy's variance formula divides by (N - 1)(N - 2)(N - 3)), or fewer than two
 * distinct values (scipy raises). */
int dd_ad_ksamp(const double *const *samples, const size_t *n, size_t k, enum dd_ad_variant variant,
                struct dd_ad_result *out);

/* The p-value for a normalised statistic with k samples: the quadratic least-squares fit of
 * log(significance) against the seven critical values b0 + b1 / sqrt(k - 1) + b2 / (k - 1),
 * evaluated at `statistic`, or the cap / floor outside their range. */
double dd_ad_pvalue(double statistic, size_t k, int *capped);

/* ---- Cramer-von Mises two-sample (Anderson 1962; Csorgo & Faraway 1996) ---- */

enum dd_cvm_method {
	DD_CVM_AUTO = 0,       /* exact when max(m, n) <= 20, else asymptotic */
	DD_CVM_EXACT = 1,      /* lattice-path enumeration (Xiao, Gordon & Yakovlev 2006) */
	DD_CVM_ASYMPTOTIC = 2, /* limiting distribution of the normalised statistic */
};

/* Largest sample size the exact distribution takes (its state grows like C(m + n, m)). */
#define DD_CVM_EXACT_MAX 30

/* Statistic T (midranks for ties) and p-value of sorted x (m >= 2) and y (n >= 2). *exact (may
 * be NULL) tells which path gave p. -EINVAL on bad arguments (or exact with a size above
 * DD_CVM_EXACT_MAX), -ENOMEM. */
int dd_cvm2(const double *x, size_t m, const double *y, size_t n, enum dd_cvm_method method,
            double *t, double *p, bool *exact);

/* 1 - the limiting CDF of the one-sample statistic at x, clipped at 0, and 1 below x = 0.003:
 * the series of Csorgo & Faraway (1996) eq. 1.2 with K_{1/4} from GSL, summed until a term
 * drops below 1e-7 as scipy does. */
double dd_cvm_inf_sf(double x);

/* ---- Mann-Whitney U, two-sided ---- */

enum dd_mwu_method {
	DD_MWU_AUTO = 0,       /* exact if min(m, n) <= 8 and there are no ties, else asymptotic */
	DD_MWU_EXACT = 1,      /* null distribution of U without ties */
	DD_MWU_ASYMPTOTIC = 2, /* normal, tie-corrected, continuity-corrected */
};

struct dd_mwu_result {
	double u1; /* U of the first sample: pairs x > y, plus half the tied pairs */
	double p;
	bool exact; /* which path gave p */
	bool ties;  /* any tie in the pooled sample */
};

/* x (m >= 1) and y (n >= 1) sorted. The exact path counts arrangements with the Gaussian
 * binomial product, O(min(m, n) * m n / 2) steps and 24 bytes of scratch per value of U up to
 * m n / 2 (exact in 128-bit integers below 2^126 arrangements, long double above); scipy's own
 * recursion is O((m n)^2). -EINVAL on bad arguments (exact needs min(m, n) < 20), -ENOMEM. */
int dd_mwu(const double *x, size_t m, const double *y, size_t n, enum dd_mwu_method method,
           struct dd_mwu_result *out);

/* The exact two-sided p-value 2 P(U >= u), clipped to 1, for sizes m, n (min(m, n) < 20) and
 * an integer u <= m n, summed as scipy's cumulative sum of the probability masses (from the
 * left: P(U <= m n - u) by symmetry when u >= m n / 2). */
int dd_mwu_exact_p(size_t m, size_t n, uint64_t u, double *p);

#endif
