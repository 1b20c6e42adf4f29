/* Kolmogorov-Smirnov distributions, ported from scipy 1.17.1 so that driftd reports the same
 * p-values as scipy.stats.ks_2samp:
 *
 *   - two-sample exact: scipy.stats._stats_py._compute_prob_outside_square (m == n) and
 *     _stats_pythran._compute_outer_prob_inside_method (m != n, Hodges' inside method with
 *     Viehmann's recursion for 1 - p);
 *   - kstwo.sf: scipy.stats._ksstats._kolmogn (Simard & L'Ecuyer 2011 branch selection over
 *     Ruben-Gambino, Durbin/Marsaglia-Tsang-Wang, Pomeranz, Pelz-Good and 2 * smirnov);
 *   - smirnov: xsf/cephes/kolmogorov.h (double-double sums after van Mulbregt 2018).
 *
 * The arithmetic follows scipy operation by operation, including where numpy silently switches
 * to long double (scaling by the long double constant 2^128 in the Durbin and Pomeranz
 * routines). What cannot be matched bit for bit is numpy's BLAS matrix product, its
 * convolution and its SIMD exp/log/pow, so those branches agree to a few ulps, not exactly. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ksdist.h"

#define KS_LN2 0.693147180559945309417232121458176568
#define KS_PI  0x1.921fb54442d18p+1
/* scipy.stats._ksstats module constants, bit for bit. */
#define KS_SQRT2PI    0x1.40d931ff62705p+1
#define KS_LOG_2PI    0x1.d67f1c864beb4p+0
#define KS_SQRT3      0x1.bb67ae8584caap+0
#define KS_PI_SQUARED 0x1.3bd3cc9be45dep+3
#define KS_PI_FOUR    0x1.85a2e8c290824p+6
#define KS_PI_SIX     0x1.e0b1d11856df6p+9
/* cephes MINLOG: log(2^-1075) */
#define KS_MINLOG (-7.451332191019412076235245305675398106812E2)

/* ---------------------------------------------------------------------------------------- */
/* Double-double arithmetic (the subset of qd that smirnov uses). */

struct ddr {
	double hi, lo;
};

static inline struct ddr ddr_of(double hi)
{
	return (struct ddr){hi, 0.0};
}

static inline double quick_two_sum(double a, double b, double *err)
{
	double s = a + b;
	double c = s - a;
	*err = b - c;
	return s;
}

static inline double two_sum(double a, double b, double *err)
{
	double s = a + b;
	double c = s - a;
	double d = b - c;
	double e = s - c;
	*err = (a - e) + d;
	return s;
}

static inline double two_prod(double a, double b, double *err)
{
	double p = a * b;
	*err = fma(a, b, -p);
	return p;
}

static inline struct ddr ddr_neg(struct ddr x)
{
	return (struct ddr){-x.hi, -x.lo};
}

static inline struct ddr ddr_add(struct ddr l, struct ddr r)
{
	double s2, t2;
	double s1 = two_sum(l.hi, r.hi, &s2);
	double t1 = two_sum(l.lo, r.lo, &t2);
	s2 += t1;
	s1 = quick_two_sum(s1, s2, &s2);
	s2 += t2;
	s1 = quick_two_sum(s1, s2, &s2);
	return (struct ddr){s1, s2};
}

static inline struct ddr ddr_add_d(struct ddr l, double r)
{
	double s2;
	double s1 = two_sum(l.hi, r, &s2);
	s2 += l.lo;
	s1 = quick_two_sum(s1, s2, &s2);
	return (struct ddr){s1, s2};
}

static inline struct ddr ddr_sub(struct ddr l, struct ddr r)
{
	return ddr_add(l, ddr_neg(r));
}

static inline struct ddr ddr_sub_d(struct ddr l, double r)
{
	double s2;
	double s1 = two_sum(l.hi, -r, &s2);
	s2 += l.lo;
	s1 = quick_two_sum(s1, s2, &s2);
	return (struct ddr){s1, s2};
}

static inline struct ddr ddr_mul(struct ddr l, struct ddr r)
{
	double p2;
	double p1 = two_prod(l.hi, r.hi, &p2);
	p2 += (l.hi * r.lo + l.lo * r.hi);
	p1 = quick_two_sum(p1, p2, &p2);
	return (struct ddr){p1, p2};
}

static inline struct ddr ddr_mul_d(struct ddr l, double r)
{
	double e1, e2;
	double p1 = two_prod(l.hi, r, &e1);
	double p2 = two_prod(l.lo, r, &e2);
	p1 = quick_two_sum(p1, e2 + p2 + e1, &e1);
	return (struct ddr){p1, e1};
}

static inline struct ddr d_mul_ddr(double l, struct ddr r)
{
	double e1, e2;
	double p1 = two_prod(l, r.hi, &e1);
	double p2 = two_prod(l, r.lo, &e2);
	p1 = quick_two_sum(p1, e2 + p2 + e1, &e1);
	return (struct ddr){p1, e1};
}

static struct ddr ddr_div(struct ddr l, struct ddr r)
{
	double q1 = l.hi / r.hi;
	struct ddr rem = ddr_sub(l, ddr_mul_d(r, q1));
	double q2 = rem.hi / r.hi;
	rem = ddr_sub(rem, ddr_mul_d(r, q2));
	double q3 = rem.hi / r.hi;
	q1 = quick_two_sum(q1, q2, &q2);
	return ddr_add_d((struct ddr){q1, q2}, q3);
}

static inline struct ddr ddr_div_d(struct ddr l, double r)
{
	return ddr_div(l, ddr_of(r));
}

static inline struct ddr d_div_ddr(double l, struct ddr r)
{
	return ddr_div(ddr_of(l), r);
}

static inline bool ddr_is(struct ddr a, double v)
{
	return a.hi == v && a.lo == 0.0;
}

static struct ddr ddr_floor(struct ddr a)
{
	double hi = floor(a.hi);
	double lo = 0.0;
	if (hi == a.hi) {
		lo = floor(a.lo);
		hi = quick_two_sum(hi, lo, &lo);
	}
	return (struct ddr){hi, lo};
}

static inline struct ddr ddr_ldexp(struct ddr a, int e)
{
	return (struct ddr){ldexp(a.hi, e), ldexp(a.lo, e)};
}

static struct ddr ddr_frexp(struct ddr a, int *e)
{
	int ex;
	double man = frexp(a.hi, &ex);
	double b1 = ldexp(a.lo, -ex);
	if (fabs(man) == 0.5 && man * b1 < 0) {
		man *= 2;
		b1 *= 2;
		ex -= 1;
	}
	*e = ex;
	return (struct ddr){man, b1};
}

/* ---------------------------------------------------------------------------------------- */
/* smirnov(n, x): one-sided survival function, as xsf::cephes::smirnov. */

static double polevl(double x, const double *coef, int n)
{
	double ans = coef[0];
	for (int i = 1; i <= n; i++)
		ans = ans * x + coef[i];
	return ans;
}

/* cephes expm1 (not libm's: scipy calls this one). */
static double cephes_expm1(double x)
{
	static const double ep[3] = {
	    1.2617719307481059087798E-4,
	    3.0299440770744196129956E-2,
	    9.9999999999999999991025E-1,
	};
	static const double eq[4] = {
	    3.0019850513866445504159E-6,
	    2.5244834034968410419224E-3,
	    2.2726554820815502876593E-1,
	    2.0000000000000000000897E0,
	};
	if (!isfinite(x)) {
		if (isnan(x) || x > 0)
			return x;
		return -1.0;
	}
	if (x < -0.5 || x > 0.5)
		return exp(x) - 1.0;
	double xx = x * x;
	double r = x * polevl(xx, ep, 2);
	r = r / (polevl(xx, eq, 3) - r);
	return r + r;
}

/* a^m for a double-double a: pow() on the high word, first-order correction for the low. */
static struct ddr pow_ddr(struct ddr a, int m)
{
	if (m <= 0) {
		if (m == 0)
			return ddr_of(1.0);
		return d_div_ddr(1.0, pow_ddr(a, -m));
	}
	if (ddr_is(a, 0.0))
		return ddr_of(0.0);
	double ans = pow(a.hi, m);
	double r = a.lo / a.hi;
	double adj = m * r;
	if (fabs(adj) > 1e-8) {
		if (fabs(adj) < 1e-4)
			adj += (m * r) * ((m - 1) / 2.0 * r);
		else
			adj = cephes_expm1(m * log1p(r));
	}
	return ddr_add_d(ddr_of(ans), ans * adj);
}

static double pow2_d(double a, double b, int m)
{
	return pow_ddr(ddr_add_d(ddr_of(a), b), m).hi;
}

static double next_power_of_2(double x)
{
	double q = ldexp(x, 1 - DBL_MANT_DIG);
	double l = fabs(q + x);
	if (l == 0) {
		l = fabs(x);
	} else if (l < 2147483647.0) {
		int li = (int)l;
		if (li == l)
			l = li;
	}
	return l;
}

#define SM_MAX_EXPONENT 960

/* a^m as a significand in [0.5, 1) and a binary exponent. */
static struct ddr pow2scaled_ddr(struct ddr a, int m, int *pexp)
{
	int max_expt = SM_MAX_EXPONENT;
	int yexp, ans_e;
	if (m <= 0) {
		int e1, e2;
		if (m == 0) {
			*pexp = 0;
			return ddr_of(1.0);
		}
		struct ddr ans = pow2scaled_ddr(a, -m, &e1);
		ans = ddr_frexp(d_div_ddr(1.0, ans), &e2);
		*pexp = -e1 + e2;
		return ans;
	}
	struct ddr y = ddr_frexp(a, &yexp);
	if (m == 1) {
		*pexp = yexp;
		return y;
	}
	if (m * (y.hi - 1) / y.hi < -SM_MAX_EXPONENT * KS_LN2) {
		double lg2y = log(y.hi) / KS_LN2;
		double lg_ans = m * lg2y;
		if (lg_ans <= -SM_MAX_EXPONENT)
			max_expt = (int)(next_power_of_2(-SM_MAX_EXPONENT / lg2y + 1) / 2);
	}
	if (m <= max_expt) {
		struct ddr ans = ddr_frexp(pow_ddr(y, m), &ans_e);
		ans_e += m * yexp;
		*pexp = ans_e;
		return ans;
	}
	int q = m / max_expt;
	int r = m % max_expt;
	int y2r_e, y2m_e, y2mq_e;
	struct ddr y2r = pow2scaled_ddr(y, r, &y2r_e);
	struct ddr y2m = pow2scaled_ddr(y, max_expt, &y2m_e);
	struct ddr y2mq = pow2scaled_ddr(y2m, q, &y2mq_e);
	struct ddr ans = ddr_frexp(ddr_mul(y2r, y2mq), &ans_e);
	y2mq_e += y2m_e * q;
	ans_e += y2mq_e + y2r_e;
	ans_e += m * yexp;
	*pexp = ans_e;
	return ans;
}

/* ((a + b) / (c + d))^m */
static struct ddr pow4_ddr(double a, double b, double c, double d, int m)
{
	if (m <= 0) {
		if (m == 0)
			return ddr_of(1.0);
		return pow4_ddr(c, d, a, b, -m);
	}
	struct ddr A = ddr_add_d(ddr_of(a), b);
	struct ddr C = ddr_add_d(ddr_of(c), d);
	if (ddr_is(A, 0.0))
		return ddr_is(C, 0.0) ? (struct ddr){NAN, NAN} : ddr_of(0.0);
	if (ddr_is(C, 0.0)) {
		double inf = (A.hi < 0 || (A.hi == 0 && A.lo < 0)) ? -INFINITY : INFINITY;
		return (struct ddr){inf, inf};
	}
	return pow_ddr(ddr_div(A, C), m);
}

/* floor(n x) and its remainder, computed exactly. */
static double mod_nx(int n, double x, int *nxfloor_out, double *nx_out)
{
	struct ddr nxd = d_mul_ddr((double)n, ddr_of(x));
	struct ddr nxfloord = ddr_floor(nxd);
	struct ddr alphad = ddr_sub(nxd, nxfloord);
	double alpha = alphad.hi;
	int nxfloor = (int)nxfloord.hi;
	if (alpha == 1) {
		nxfloor += 1;
		alpha = 0;
	}
	*nx_out = nxd.hi;
	*nxfloor_out = nxfloor;
	return alpha;
}

/* C(n, j+1) from C(n, j), as a double-double significand and an int exponent. */
static void update_binomial(struct ddr *cman, int *cexpt, int n, int j)
{
	int e;
	struct ddr rat = ddr_div_d(ddr_of((double)(n - j)), j + 1.0);
	struct ddr man2 = ddr_frexp(ddr_mul(*cman, rat), &e);
	*cexpt += e;
	*cman = man2;
}

/* A_v(n, x) = C(n, v) (1 - x - v/n)^(n - v) (x + v/n)^(v - 1) */
static struct ddr compute_av(int n, double x, int v, struct ddr cman, int cexpt)
{
	int t1e, t2e;
	struct ddr t2x = ddr_sub_d(ddr_div_d(ddr_of((double)(n - v)), n), x);
	struct ddr t2 = pow2scaled_ddr(t2x, n - v, &t2e);
	struct ddr t1x = ddr_add_d(ddr_div_d(ddr_of((double)v), n), x);
	struct ddr t1 = pow2scaled_ddr(t1x, v - 1, &t1e);
	struct ddr ans = ddr_mul(ddr_mul(t1, t2), cman);
	return ddr_ldexp(ans, cexpt + t1e + t2e);
}

static double clamp01(double p)
{
	if (p < 0.0)
		return 0.0;
	if (p > 1.0)
		return 1.0;
	return p;
}

double dd_smirnov_sf(int n, double x)
{
	if (isnan(x))
		return NAN;
	if (!(n > 0 && x >= 0.0 && x <= 1.0))
		return NAN;
	if (n == 1)
		return 1 - x;
	if (x == 0.0)
		return 1.0;
	if (x == 1.0)
		return 0.0;

	int nxfl;
	double nx;
	double alpha = mod_nx(n, x, &nxfl, &nx);
	int n1mxfl = n - nxfl - (alpha == 0 ? 0 : 1);
	int n1mxceil = n - nxfl;
	if (alpha == 0) {
		n1mxfl -= 1;
		n1mxceil += 1;
	}
	/* x <= 1/n */
	if (nxfl == 0 || (nxfl == 1 && alpha == 0)) {
		double t = pow2_d(1, x, n - 1);
		return 1 - x * t;
	}
	/* the survival function underflows */
	if (-2 * n * x * x < KS_MINLOG)
		return 0;
	/* x >= 1 - 1/n */
	if (nxfl >= n - 1)
		return pow2_d(1, -x, n);
	/* too many terms: approximation */
	if (n > 1000000) {
		double logp = -pow(6.0 * n * x + 1, 2) / 18.0 / n;
		if (logp < -KS_LN2)
			return exp(logp);
		return 1 - (-cephes_expm1(logp));
	}

	int n_upper_terms = n - n1mxceil + 1;
	bool upper = n_upper_terms <= 1 && x < 0.5;
	upper = upper || (n >= 10 && n_upper_terms <= 3 && x <= 0.5 / sqrt(n));

	int start = 0, step = 1, n_terms = n1mxfl + 1;
	int vmid = n / 2;
	struct ddr cman = ddr_of(1.0);
	int cexpt = 0;
	struct ddr aj, aj_sum = ddr_of(0.0);
	if (upper) {
		start = n;
		step = -1;
		n_terms = n - n1mxceil + 1;
		aj = pow4_ddr(1, x, 1, 0, n - 1);
	} else {
		aj = ddr_div_d(pow4_ddr(1, -x, 1, 0, n), x);
	}
	aj_sum = ddr_add(aj_sum, aj);
	update_binomial(&cman, &cexpt, n, 0);
	for (int j = 1; j < n_terms; j++) {
		int v = start + j * step;
		aj = compute_av(n, x, v, cman, cexpt);
		if (isfinite(aj.hi) && !ddr_is(aj, 0.0))
			aj_sum = ddr_add(aj_sum, aj);
		if (!ddr_is(aj, 0.0)) {
			if ((4 * (n_terms - j) * fabs(aj.hi)) < (DBL_EPSILON * aj_sum.hi) &&
			    j != n_terms - 1)
				break;
		} else if (j > vmid) {
			break;
		}
		update_binomial(&cman, &cexpt, n, j);
	}
	double prob = d_mul_ddr(x, aj_sum).hi;
	return clamp01(step < 0 ? 1 - prob : prob);
}

/* ---------------------------------------------------------------------------------------- */
/* kolmogn: the two-sided one-sample distribution (scipy.stats._ksstats). */

/* A probability that numpy may have promoted to long double (see the file comment). */
struct kprob {
	long double v;
	bool ld;
};

static struct kprob kp_d(double v)
{
	return (struct kprob){v, false};
}

/* 1 - p, in the precision numpy would use */
static struct kprob kp_one_minus(struct kprob p)
{
	if (p.ld)
		return (struct kprob){1.0L - p.v, true};
	return kp_d(1.0 - (double)p.v);
}

static struct kprob kp_clip(struct kprob p)
{
	if (p.v < 0)
		p.v = 0;
	else if (p.v > 1)
		p.v = 1;
	return p;
}

static double kp_double(struct kprob p)
{
	return (double)p.v;
}

/* log(n! / n^n) by Stirling's series */
static double log_nfactorial_div_n_pow_n(int64_t n)
{
	static const double stirling[8] = {
	    -2.955065359477124183e-2,  6.4102564102564102564e-3, -1.9175269175269175269e-3,
	    8.4175084175084175084e-4,  -5.952380952380952381e-4, 7.9365079365079365079e-4,
	    -2.7777777777777777778e-3, 8.3333333333333333333e-2,
	};
	double dn = (double)n;
	double rn = 1.0 / dn;
	double x = rn / dn;
	double y = 0.0;
	for (int i = 0; i < 8; i++)
		y = y * x + stirling[i];
	return log(dn) / 2 - dn + KS_LOG_2PI / 2 + rn * y;
}

/* C = A B for m x m row-major matrices, each entry summed in index order. */
static void matmul(const double *a, const double *b, double *c, int m)
{
	for (int i = 0; i < m; i++) {
		double *ci = c + (size_t)i * m;
		for (int j = 0; j < m; j++)
			ci[j] = 0.0;
		for (int k = 0; k < m; k++) {
			double aik = a[(size_t)i * m + k];
			const double *bk = b + (size_t)k * m;
			for (int j = 0; j < m; j++)
				ci[j] += aik * bk[j];
		}
	}
}

/* Pr(D_n <= d) by the Durbin matrix algorithm (Marsaglia, Tsang & Wang 2003). */
static int kolmogn_dmtw(int64_t n, double d, struct kprob *out)
{
	if (d >= 1.0) {
		*out = kp_d(1.0);
		return 0;
	}
	double nd = (double)n * d;
	if (nd <= 0.5) {
		*out = kp_d(0.0);
		return 0;
	}
	int k = (int)ceil(nd);
	double h = k - nd;
	int m = 2 * k - 1;
	size_t mm = (size_t)m * m;

	double *mem = malloc((3 * mm + 2 * (size_t)m) * sizeof(double));
	if (!mem)
		return -ENOMEM;
	double *H = mem, *hp = mem + mm, *tmp = mem + 2 * mm;
	double *v = mem + 3 * mm, *w = v + m;

	double fac = 1.0;
	for (int j = 1; j <= m; j++) {
		v[j - 1] = 1.0 - pow(h, j);
		w[j - 1] = fac;
		fac /= j;
		v[j - 1] *= fac;
	}
	double a = 2 * h - 1.0;
	double tt = (a > 0 ? pow(a, m) : 0.0) - 2 * pow(h, m);
	v[m - 1] = (1.0 + tt) * fac;

	memset(H, 0, mm * sizeof(double));
	for (int i = 1; i < m; i++)
		for (int r = i - 1; r < m; r++)
			H[(size_t)r * m + i] = w[r - (i - 1)];
	for (int r = 0; r < m; r++)
		H[(size_t)r * m] = v[r];
	for (int c = 0; c < m; c++)
		H[(size_t)(m - 1) * m + c] = v[m - 1 - c];

	memset(hp, 0, mm * sizeof(double));
	for (int i = 0; i < m; i++)
		hp[(size_t)i * m + i] = 1.0;
	int64_t nn = n, expnt = 0, hexpnt = 0;
	size_t kk = (size_t)(k - 1) * m + (size_t)(k - 1);
	while (nn > 0) {
		if (nn % 2) {
			matmul(hp, H, tmp, m);
			memcpy(hp, tmp, mm * sizeof(double));
			expnt += hexpnt;
		}
		matmul(H, H, tmp, m);
		memcpy(H, tmp, mm * sizeof(double));
		hexpnt *= 2;
		if (fabs(H[kk]) > 0x1p128) {
			for (size_t i = 0; i < mm; i++)
				H[i] *= 0x1p-128;
			hexpnt += 128;
		}
		nn /= 2;
	}
	double pd = hp[kk];
	free(mem);

	/* times n!/n^n; numpy continues in long double once it rescales */
	long double pl = 0;
	bool ld = false;
	for (int64_t i = 1; i <= n; i++) {
		if (!ld) {
			pd = (double)i * pd / (double)n;
			if (fabs(pd) < 0x1p-128) {
				pl = (long double)pd * 0x1p128L;
				ld = true;
				expnt -= 128;
			}
		} else {
			pl = (long double)i * pl / (long double)n;
			if (fabsl(pl) < 0x1p-128L) {
				pl *= 0x1p128L;
				expnt -= 128;
			}
		}
	}
	int e = expnt < -100000 ? -100000 : expnt > 100000 ? 100000 : (int)expnt;
	struct kprob p;
	if (ld)
		p = (struct kprob){expnt != 0 ? ldexpl(pl, e) : pl, true};
	else
		p = kp_d(expnt != 0 ? ldexp(pd, e) : pd);
	*out = kp_clip(p);
	return 0;
}

static void pomeranz_j1j2(int64_t i, int64_t n, int64_t ll, int ceilf, int roundf, int64_t *j1,
                          int64_t *j2)
{
	int64_t a, b;
	if (i == 0) {
		a = -ll - ceilf - 1;
		b = ll + ceilf - 1;
	} else {
		int64_t half = (i + 1) / 2;
		if ((i + 1) % 2 == 0) {
			if (half == n + 1) {
				a = n - ll - ceilf - 1;
				b = n + ll + ceilf - 1;
			} else {
				a = half - 1 - ll - roundf - 1;
				b = half + ll - 1 + ceilf - 1;
			}
		} else {
			a = half - 1 - ll - 1;
			b = half + ll + roundf - 1;
		}
	}
	*j1 = a + 2 > 0 ? a + 2 : 0;
	*j2 = b < n ? b : n;
}

#define POMERANZ_MAX 64

/* Pr(D_n <= x) by Pomeranz's recursion; scipy only uses it for n <= 140 and n x^2 <= 4, where
 * at most 2 (floor(n x) + 1) <= 48 powers are needed. -EDOM outside that range. */
static int kolmogn_pomeranz(int64_t n, double x, struct kprob *out)
{
	double t = (double)n * x;
	int64_t ll = (int64_t)floor(t);
	double f = 1.0 * (t - (double)ll);
	double g = (1.0 - f < f) ? 1.0 - f : f;
	int ceilf = f > 0 ? 1 : 0;
	int roundf = f > 0.5 ? 1 : 0;
	int64_t npwrs = 2 * (ll + 1);
	if (ll < 0 || npwrs > POMERANZ_MAX)
		return -EDOM;

	double gpower[POMERANZ_MAX], twogpower[POMERANZ_MAX], onem2gpower[POMERANZ_MAX];
	double va[POMERANZ_MAX] = {0}, vb[POMERANZ_MAX] = {0};
	double *v0 = va, *v1 = vb;
	gpower[0] = twogpower[0] = onem2gpower[0] = 1.0;
	double g_over_n = g / (double)n, two_g_over_n = 2 * g / (double)n;
	double one_minus_two_g_over_n = (1 - 2 * g) / (double)n;
	for (int64_t m = 1; m < npwrs; m++) {
		gpower[m] = gpower[m - 1] * g_over_n / (double)m;
		twogpower[m] = twogpower[m - 1] * two_g_over_n / (double)m;
		onem2gpower[m] = onem2gpower[m - 1] * one_minus_two_g_over_n / (double)m;
	}
	v1[0] = 1;
	int64_t v0s = 0, v1s = 0, expnt = 0, j1, j2;
	pomeranz_j1j2(0, n, ll, ceilf, roundf, &j1, &j2);
	for (int64_t i = 1; i < 2 * n + 2; i++) {
		int64_t k1 = j1;
		double *sw = v0;
		v0 = v1;
		v1 = sw;
		int64_t s = v0s;
		v0s = v1s;
		v1s = s;
		memset(v1, 0, sizeof(va));
		pomeranz_j1j2(i, n, ll, ceilf, roundf, &j1, &j2);
		const double *pw = (i == 1 || i == 2 * n + 1) ? gpower
		                   : (i % 2)                  ? twogpower
		                                              : onem2gpower;
		int64_t ln2 = j2 - k1 + 1;
		if (ln2 <= 0)
			continue;
		/* full convolution of v0[k1 - v0s ..][0, ln2) with pw[0, ln2), entries
		 * [j1 - k1, j1 - k1 + conv_len) of it */
		int64_t off = k1 - v0s;
		int64_t conv_start = j1 - k1, conv_len = j2 - j1 + 1;
		if (off < 0 || off + ln2 > npwrs || ln2 > npwrs || conv_start < 0 || conv_len < 0 ||
		    conv_len > npwrs || conv_start + conv_len > 2 * ln2 - 1)
			return -EDOM;
		const double *a = v0 + off;
		double mx = 0;
		for (int64_t c = 0; c < conv_len; c++) {
			int64_t idx = conv_start + c;
			int64_t lo = idx - ln2 + 1 > 0 ? idx - ln2 + 1 : 0;
			int64_t hi = idx < ln2 - 1 ? idx : ln2 - 1;
			double sum = 0;
			for (int64_t q = lo; q <= hi; q++)
				sum += a[q] * pw[idx - q];
			v1[c] = sum;
		}
		for (int64_t c = 0; c < npwrs; c++)
			if (c == 0 || v1[c] > mx)
				mx = v1[c];
		if (0 < mx && mx < 0x1p-128) {
			for (int64_t c = 0; c < npwrs; c++)
				v1[c] *= 0x1p128;
			expnt -= 128;
		}
		v1s = v0s + j1 - k1;
	}
	int64_t at = n - v1s;
	if (at < 0 || at >= npwrs)
		return -EDOM;
	double ad = v1[at];
	long double al = 0;
	bool ld = false;
	for (int64_t m = 1; m <= n; m++) {
		if (!ld) {
			if (fabs(ad) > 0x1p128) {
				al = (long double)ad * 0x1p-128L;
				ld = true;
				expnt += 128;
				al *= (long double)m;
			} else {
				ad *= (double)m;
			}
		} else {
			if (fabsl(al) > 0x1p128L) {
				al *= 0x1p-128L;
				expnt += 128;
			}
			al *= (long double)m;
		}
	}
	int e = expnt < -100000 ? -100000 : expnt > 100000 ? 100000 : (int)expnt;
	struct kprob p;
	if (ld)
		p = (struct kprob){expnt != 0 ? ldexpl(al, e) : al, true};
	else
		p = kp_d(expnt != 0 ? ldexp(ad, e) : ad);
	*out = kp_clip(p);
	return 0;
}

/* numpy's pairwise summation (np.sum of a contiguous float64 array), for n <= 128 */
static double np_sum(const double *a, int n)
{
	if (n < 8) {
		double res = 0.;
		for (int i = 0; i < n; i++)
			res += a[i];
		return res;
	}
	double r[8];
	int i;
	for (i = 0; i < 8; i++)
		r[i] = a[i];
	for (i = 8; i < n - (n % 8); i += 8)
		for (int j = 0; j < 8; j++)
			r[j] += a[i + j];
	double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
	for (; i < n; i++)
		res += a[i];
	return res;
}

/* Pelz-Good approximation to Pr(D_n <= x). */
static double kolmogn_pelzgood(int64_t n, double x)
{
	if (x <= 0.0)
		return 0.0;
	if (x >= 1.0)
		return 1.0;
	double z = sqrt((double)n) * x;
	double zsquared = pow(z, 2), zthree = pow(z, 3), zfour = pow(z, 4), zsix = pow(z, 6);
	double qlog = -KS_PI_SQUARED / 8 / zsquared;
	if (qlog < -708)
		return 0.0;
	double q = exp(qlog);

	double k1a = -zsquared;
	double k1b = KS_PI_SQUARED / 4;
	double k2a = 6 * zsix + 2 * zfour;
	double k2b = (2 * zfour - 5 * zsquared) * KS_PI_SQUARED / 4;
	double k2c = KS_PI_FOUR * (1 - 2 * zsquared) / 16;
	double k3d = KS_PI_SIX * (5 - 30 * zsquared) / 64;
	double k3c = KS_PI_FOUR * (-60 * zsquared + 212 * zfour) / 16;
	double k3b = KS_PI_SQUARED * (135 * zfour - 96 * zsix) / 4;
	double k3a = -30 * zsix - 90 * pow(z, 8);

	double K[4] = {0, 0, 0, 0};
	int maxk = (int)ceil(16 * z / KS_PI);
	for (int k = maxk; k > 0; k--) {
		double m = 2 * k - 1;
		double msq = m * m, mfour = msq * msq, msix = mfour * msq;
		double qpower = pow(q, 8 * k);
		double c[4] = {
		    1.0,
		    k1a + k1b * msq,
		    k2a + k2b * msq + k2c * mfour,
		    k3a + k3b * msq + k3c * mfour + k3d * msix,
		};
		for (int i = 0; i < 4; i++) {
			K[i] *= qpower;
			K[i] += c[i];
		}
	}
	double div[4] = {z, 6 * zfour, 72 * pow(z, 7), 6480 * pow(z, 10)};
	for (int i = 0; i < 4; i++) {
		K[i] *= q;
		K[i] *= KS_SQRT2PI;
		K[i] /= div[i];
	}

	/* maxk <= ceil(16 sqrt(18) / pi) = 22 where scipy calls this */
	double t2[64], t3[64];
	if (maxk > 64)
		return NAN;
	q = exp(-KS_PI_SQUARED / 2 / zsquared);
	double sqrt3z = KS_SQRT3 * z;
	for (int i = 0; i < maxk; i++) {
		double k = maxk - i;
		double ksq = k * k;
		double kspi = KS_PI * k;
		double qp = pow(q, ksq);
		t2[i] = ksq * qp;
		t3[i] = (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp;
	}
	double k2extra = np_sum(t2, maxk);
	k2extra *= KS_PI_SQUARED * KS_SQRT2PI / (-36 * zthree);
	K[2] += k2extra;
	double k3extra = np_sum(t3, maxk);
	k3extra *= KS_PI_SQUARED * KS_SQRT2PI / (216 * zsix);
	K[3] += k3extra;
	double dn = (double)n;
	double pn[4] = {pow(dn, 0.0), pow(dn, 0.5), pow(dn, 1.0), pow(dn, 1.5)};
	double sum = 0;
	for (int i = 0; i < 4; i++)
		sum += K[i] / pn[i];
	return sum;
}

/* scipy _kolmogn(n, x, cdf=False) */
static int kolmogn_sf(int64_t n, double x, double *out)
{
	struct kprob p;
	int rc;
	if (x >= 1.0) {
		*out = 0.0;
		return 0;
	}
	if (x <= 0.0) {
		*out = 1.0;
		return 0;
	}
	double dn = (double)n;
	double t = dn * x;
	if (t <= 1.0) {
		if (t <= 0.5) {
			*out = 1.0;
			return 0;
		}
		double prob;
		if (n <= 140) {
			double inv = 1.0 / dn, base = 2 * t - 1;
			prob = 1.0 * inv * base;
			for (int64_t i = 2; i <= n; i++)
				prob *= (double)i * inv * base;
		} else {
			prob = exp(log_nfactorial_div_n_pow_n(n) + dn * log(2 * t - 1));
		}
		*out = clamp01(1.0 - prob);
		return 0;
	}
	if (t >= dn - 1) {
		*out = clamp01(2 * pow(1.0 - x, dn));
		return 0;
	}
	if (x >= 0.5) {
		*out = clamp01(2 * dd_smirnov_sf((int)n, x));
		return 0;
	}
	double nxsquared = t * x;
	if (n <= 140) {
		if (nxsquared <= 0.754693)
			rc = kolmogn_dmtw(n, x, &p);
		else if (nxsquared <= 4)
			rc = kolmogn_pomeranz(n, x, &p);
		else {
			*out = clamp01(2 * dd_smirnov_sf((int)n, x));
			return 0;
		}
		if (rc < 0)
			return rc;
		*out = kp_double(kp_clip(kp_one_minus(kp_clip(p))));
		return 0;
	}
	if (nxsquared >= 370.0) {
		*out = 0.0;
		return 0;
	}
	if (nxsquared >= 2.2) {
		*out = clamp01(2 * dd_smirnov_sf((int)n, x));
		return 0;
	}
	if (n <= 100000 && dn * pow(x, 1.5) <= 1.4) {
		rc = kolmogn_dmtw(n, x, &p);
		if (rc < 0)
			return rc;
	} else {
		p = kp_d(kolmogn_pelzgood(n, x));
	}
	*out = kp_double(kp_clip(kp_one_minus(p)));
	return 0;
}

/* kstwo.sf(x, n): rv_continuous handles the support [0.5/n, 1] before _kolmogn. */
static int kstwo_sf(int64_t n, double x, double *out)
{
	if (n < 1 || isnan(x)) {
		*out = NAN;
		return 0;
	}
	if (x <= 0.5 / (double)n) {
		*out = 1.0;
		return 0;
	}
	if (x >= 1.0) {
		*out = 0.0;
		return 0;
	}
	return kolmogn_sf(n, x, out);
}

double dd_kolmogn_sf(int64_t n, double x)
{
	double p;
	if (n > INT32_MAX)
		return NAN;
	if (kstwo_sf(n, x, &p) < 0)
		return NAN;
	return p;
}

/* ---------------------------------------------------------------------------------------- */
/* Two-sample exact distribution. */

/* Pr(D_{n,n} >= h/n) = 2 (C(2n, n-h) - C(2n, n-2h) + ...) / C(2n, n), Horner-like. O(n + h). */
static double prob_outside_square(int64_t n, int64_t h)
{
	double P = 0.0;
	int64_t k = (int64_t)floor((double)n / (double)h);
	while (k >= 0) {
		double p1 = 1.0;
		for (int64_t j = 0; j < h; j++)
			p1 = (double)(n - k * h - j) * p1 / (double)(n + k * h + j + 1);
		P = p1 * (1.0 - P);
		k -= 1;
	}
	return 2 * P;
}

/* Rows [lo, hi) of lattice column i inside the band |n x - m y| < h g (scipy's minj, maxj). */
static void band_rows(int64_t i, int64_t n, int64_t mg, int64_t ng, int64_t h, int64_t *lo,
                      int64_t *hi)
{
	int64_t a = (int64_t)floor((double)(ng * i - h) / (double)mg) + 1;
	if (a < 0)
		a = 0;
	if (a > n)
		a = n;
	int64_t b = (int64_t)ceil((double)(ng * i + h) / (double)mg);
	if (b > n + 1)
		b = n + 1;
	*lo = a;
	*hi = b;
}

#define KS_LANES 8

/* One cell, with scipy's operations and rounding. */
static inline void band_cell(double *arr, int64_t j, double di, int64_t i, double *val)
{
	double v = (arr[j] * di + *val * (double)j) / (double)(i + j);
	arr[j] = v;
	*val = v;
}

/* Proportion of lattice paths from (0,0) to (m,n) leaving |x/m - y/n| < h/lcm(m,n), as scipy's
 * _compute_outer_prob_inside_method: cell (i, j) of the band is
 *     A(i, j) = (A(i-1, j) i + A(i, j-1) j) / (i + j),
 * 1 outside the band, and the answer is A(m, n). Every cell is computed with scipy's four
 * operations; only the order of independent cells differs: KS_LANES columns advance together
 * along a skewed front (column c at row t - c), so that their division chains overlap instead
 * of each cell waiting for the previous one (4-6x faster; results bit-identical). Cost
 * O(max(m,n) * band), band <= 2h/mg + 2, i.e. about 2 D min(m,n) rows: some 5 ms for 10000 vs
 * 9999 under the null, 150 ms at D = 0.5 (where subnormal intermediates are also slow). */
static int outer_prob_inside(int64_t m, int64_t n, int64_t g, int64_t h, double *out)
{
	if (m < n) {
		int64_t t = m;
		m = n;
		n = t;
	}
	int64_t mg = m / g, ng = n / g;
	int64_t lo, hi;
	/* scipy returns 1 at the first column with an empty band */
	for (int64_t i = 1; i <= m; i++) {
		band_rows(i, n, mg, ng, h, &lo, &hi);
		if (hi <= lo) {
			*out = 1.0;
			return 0;
		}
	}
	int64_t hi0 = (int64_t)ceil((double)h / (double)mg);
	if (hi0 > n + 1)
		hi0 = n + 1;
	/* arr[j]: the latest column's value at row j; rows above every band so far are outside */
	double *arr = malloc((size_t)(n + 1) * sizeof(double));
	if (!arr)
		return -ENOMEM;
	for (int64_t j = 0; j <= n; j++)
		arr[j] = j < hi0 ? 0.0 : 1.0;

	for (int64_t i = 1; i <= m; i += KS_LANES) {
		int k = m - i + 1 < KS_LANES ? (int)(m - i + 1) : KS_LANES;
		int64_t clo[KS_LANES] = {0}, chi[KS_LANES] = {0}, ci[KS_LANES] = {0};
		double cd[KS_LANES] = {0}, val[KS_LANES] = {0};
		int64_t full_from = INT64_MIN, full_to = INT64_MAX;
		for (int c = 0; c < k; c++) {
			ci[c] = i + c;
			cd[c] = (double)ci[c];
			band_rows(ci[c], n, mg, ng, h, &clo[c], &chi[c]);
			val[c] = clo[c] == 0 ? 0.0 : 1.0;
			if (clo[c] + c > full_from)
				full_from = clo[c] + c;
			if (chi[c] + c < full_to)
				full_to = chi[c] + c;
		}
		int64_t t_first = clo[0], t_end = chi[k - 1] + k - 1;
		if (k < KS_LANES || full_from >= full_to)
			full_from = full_to = t_end;
		/* the ragged start, where some columns have not reached their band yet */
		for (int64_t t = t_first; t < full_from; t++)
			for (int c = 0; c < k; c++) {
				int64_t j = t - c;
				if (j < clo[c] || j >= chi[c])
					continue;
				band_cell(arr, j, cd[c], ci[c], &val[c]);
			}
		/* every column inside its band */
		for (int64_t t = full_from; t < full_to; t++)
			for (int c = 0; c < KS_LANES; c++) {
				int64_t j = t - c;
				band_cell(arr, j, cd[c], ci[c], &val[c]);
			}
		/* the ragged end */
		for (int64_t t = full_to; t < t_end; t++)
			for (int c = 0; c < k; c++) {
				int64_t j = t - c;
				if (j < clo[c] || j >= chi[c])
					continue;
				band_cell(arr, j, cd[c], ci[c], &val[c]);
			}
	}
	band_rows(m, n, mg, ng, h, &lo, &hi);
	*out = arr[hi - 1];
	free(arr);
	return 0;
}

static int64_t gcd64(int64_t a, int64_t b)
{
	while (b) {
		int64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

int dd_ks2_pvalue(int64_t n1, int64_t n2, double *dp, enum dd_ks2_method method, double *p,
                  bool *exact)
{
	if (!dp || !p || n1 < 1 || n2 < 1 || n1 > INT32_MAX || n2 > INT32_MAX)
		return -EINVAL;
	double d = *dp;
	if (!(d >= 0.0 && d <= 1.0))
		return -EINVAL;
	int64_t g = gcd64(n1, n2);
	int64_t n1g = n1 / g, n2g = n2 / g;
	bool use_exact;
	switch (method) {
	case DD_KS2_AUTO:
		use_exact = (n1 > n2 ? n1 : n2) <= 10000;
		break;
	case DD_KS2_EXACT:
		use_exact = !((double)n1g >= 2147483647.0 / (double)n2g);
		break;
	case DD_KS2_ASYMP:
		use_exact = false;
		break;
	default:
		return -EINVAL;
	}
	double prob = NAN;
	if (use_exact) {
		int64_t lcm = n1g * n2;
		int64_t h = (int64_t)nearbyint(d * (double)lcm);
		d = (double)h * 1.0 / (double)lcm;
		if (h == 0) {
			prob = 1.0;
		} else if (n1 == n2) {
			prob = prob_outside_square(n1, h);
		} else {
			int rc = outer_prob_inside(n1, n2, g, h, &prob);
			if (rc == -ENOMEM)
				return rc;
			if (rc < 0)
				prob = NAN;
		}
		/* scipy falls back to the asymptotic distribution (with the rounded d) when the
		 * exact value is not a probability, e.g. 1 + 2^-52 for m == n and h == 1 */
		if (!(0 <= prob && prob <= 1))
			use_exact = false;
	}
	if (!use_exact) {
		double a = (double)(n1 > n2 ? n1 : n2), b = (double)(n1 > n2 ? n2 : n1);
		double en = a * b / (a + b);
		int rc = kstwo_sf((int64_t)nearbyint(en), d, &prob);
		if (rc < 0)
			return rc == -EDOM ? -EINVAL : rc;
	}
	if (prob < 0)
		prob = 0;
	else if (prob > 1)
		prob = 1;
	*dp = d;
	*p = prob;
	if (exact)
		*exact = use_exact;
	return 0;
}
