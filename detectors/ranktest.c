/* Rank-based two-sample statistics and null distributions (see ranktest.h).
 *
 * The statistics are evaluated with scipy's formulas, term by term in the same floating-point
 * operations, over the distinct pooled values of the sorted samples instead of numpy's
 * searchsorted arrays; sums of terms are compensated (sample.h), so they agree with numpy's
 * pairwise sums to a few ulps. Where scipy computes with Python integers (exact) and then
 * divides, the ratio is formed exactly here too (ratio_u128). Fused multiply-add contraction is
 * off so that each operation rounds as numpy's does. */
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

#include <gsl/gsl_errno.h>
#include <gsl/gsl_sf_bessel.h>

#include "ranktest.h"
#include "sample.h"

__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

/* p / q correctly rounded to double (q > 0), as Python's int / int. */
static double ratio_u128(u128 p, u128 q)
{
	if (p == 0)
		return 0.0;
	u128 quo = p / q, rem = p % q;
	/* 54 significant bits (53 and the rounding bit) plus a sticky bit */
	int bits = 0;
	for (u128 t = quo; t; t >>= 1)
		bits++;
	int exp2 = 0; /* value = mant * 2^exp2 */
	u128 mant = quo;
	bool sticky = false;
	if (bits > 54) {
		int drop = bits - 54;
		sticky = (mant & (((u128)1 << drop) - 1)) != 0 || rem != 0;
		mant >>= drop;
		exp2 = drop;
	} else {
		/* append fraction bits by long division until 54 significant bits */
		while (bits < 54) {
			rem <<= 1; /* rem < q < 2^127, so no overflow */
			mant <<= 1;
			if (rem >= q) {
				rem -= q;
				mant |= 1;
			}
			exp2--;
			if (mant)
				bits++;
		}
		sticky = rem != 0;
	}
	/* round to nearest, ties to even, on the lowest (54th) bit */
	u128 half = mant & 1;
	mant >>= 1;
	exp2++;
	if (half && (sticky || (mant & 1)))
		mant++;
	return ldexp((double)(uint64_t)mant, exp2);
}

/* numpy's float floor division (npy_floor_divide), as Python's // on floats. */
static double floor_divide(double a, double b)
{
	double mod = fmod(a, b);
	double div = (a - mod) / b;
	if (mod != 0) {
		if ((b < 0) != (mod < 0))
			div -= 1.0;
	}
	double fl;
	if (div != 0) {
		fl = floor(div);
		if (div - fl > 0.5)
			fl += 1.0;
	} else {
		fl = copysign(0.0, a / b);
	}
	return fl;
}

/* ======================================================================================== */
/* Anderson-Darling k-sample                                                                */

/* Table 2 of Scholz & Stephens (1987): critical values b0 + b1 / sqrt(m) + b2 / m for the
 * significance levels below, m = k - 1. */
static const double ad_b0[7] = {0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085};
static const double ad_b1[7] = {-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615};
static const double ad_b2[7] = {-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154};
static const double ad_sig[7] = {0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001};

/* Least-squares quadratic through (x[i], y[i]), i < 7: coefficients of x^2, x, 1 (np.polyfit's
 * order), by Householder QR of the column-scaled Vandermonde matrix as numpy scales it. */
static void quadfit7(const double *x, const double *y, double c[3])
{
	double a[7][3], b[7], scale[3] = {0, 0, 0};
	for (int i = 0; i < 7; i++) {
		a[i][0] = x[i] * x[i];
		a[i][1] = x[i];
		a[i][2] = 1.0;
		b[i] = y[i];
		for (int j = 0; j < 3; j++)
			scale[j] += a[i][j] * a[i][j];
	}
	for (int j = 0; j < 3; j++) {
		scale[j] = sqrt(scale[j]);
		for (int i = 0; i < 7; i++)
			a[i][j] /= scale[j];
	}
	for (int j = 0; j < 3; j++) {
		double norm = 0;
		for (int i = j; i < 7; i++)
			norm += a[i][j] * a[i][j];
		norm = sqrt(norm);
		double alpha = a[j][j] > 0 ? -norm : norm;
		double v[7];
		for (int i = 0; i < 7; i++)
			v[i] = i < j ? 0 : a[i][j];
		v[j] -= alpha;
		double vv = 0;
		for (int i = j; i < 7; i++)
			vv += v[i] * v[i];
		if (vv == 0)
			continue;
		for (int col = j; col < 3; col++) {
			double d = 0;
			for (int i = j; i < 7; i++)
				d += v[i] * a[i][col];
			d = 2 * d / vv;
			for (int i = j; i < 7; i++)
				a[i][col] -= d * v[i];
		}
		double d = 0;
		for (int i = j; i < 7; i++)
			d += v[i] * b[i];
		d = 2 * d / vv;
		for (int i = j; i < 7; i++)
			b[i] -= d * v[i];
	}
	for (int j = 2; j >= 0; j--) {
		double s = b[j];
		for (int col = j + 1; col < 3; col++)
			s -= a[j][col] * c[col];
		c[j] = s / a[j][j];
	}
	for (int j = 0; j < 3; j++)
		c[j] /= scale[j];
}

double dd_ad_pvalue(double statistic, size_t k, int *capped)
{
	double m = (double)(k - 1);
	double crit[7], logsig[7];
	double lo = INFINITY, hi = -INFINITY;
	for (int i = 0; i < 7; i++) {
		crit[i] = ad_b0[i] + ad_b1[i] / sqrt(m) + ad_b2[i] / m;
		logsig[i] = log(ad_sig[i]);
		lo = fmin(lo, crit[i]);
		hi = fmax(hi, crit[i]);
	}
	int cap = 0;
	double p;
	if (statistic < lo) {
		cap = 1;
		p = 0.25;
	} else if (statistic > hi) {
		cap = -1;
		p = 0.001;
	} else {
		double c[3];
		quadfit7(crit, logsig, c);
		p = exp((c[0] * statistic + c[1]) * statistic + c[2]);
	}
	if (capped)
		*capped = cap;
	return p;
}

int dd_ad_ksamp(const double *const *samples, const size_t *n, size_t k, enum dd_ad_variant variant,
                struct dd_ad_result *out)
{
	if (!samples || !n || !out || k < 2 || k > DD_AD_MAX_K || (unsigned)variant > 2)
		return -EINVAL;
	size_t N = 0;
	for (size_t i = 0; i < k; i++) {
		if (n[i] == 0 || !samples[i] || n[i] > INT32_MAX)
			return -EINVAL;
		N += n[i];
	}
	if (N < 4)
		return -EINVAL;

	size_t idx[DD_AD_MAX_K], below[DD_AD_MAX_K];
	struct dd_ksum acc[DD_AD_MAX_K];
	memset(idx, 0, sizeof(idx));
	memset(acc, 0, sizeof(acc));
	double dN = (double)N;
	size_t distinct = 0, left = 0;
	while (left < N) {
		double v = INFINITY;
		bool have = false;
		for (size_t i = 0; i < k; i++)
			if (idx[i] < n[i] && (!have || samples[i][idx[i]] < v)) {
				v = samples[i][idx[i]];
				have = true;
			}
		size_t l = 0;
		for (size_t i = 0; i < k; i++) {
			below[i] = idx[i];
			while (idx[i] < n[i] && samples[i][idx[i]] <= v)
				idx[i]++;
			l += idx[i] - below[i];
		}
		distinct++;
		bool last = left + l == N;
		if (variant == DD_AD_MIDRANK) {
			/* midrank ECDFs at every distinct value */
			double bj = (double)left + (double)l / 2.;
			double den = bj * (dN - bj) - (double)(N * l) / 4.;
			double w = (double)l / dN;
			for (size_t i = 0; i < k; i++) {
				size_t f = idx[i] - below[i];
				double mij = (double)idx[i] - (double)f / 2.;
				double t = dN * mij - bj * (double)n[i];
				dd_ksum_add(&acc[i], w * (t * t) / den);
			}
		} else if (variant == DD_AD_RIGHT) {
			/* right-continuous ECDFs at every distinct value but the largest */
			if (!last) {
				size_t bj = left + l;
				double w = (double)l / dN;
				double den = (double)((u128)bj * (N - bj));
				for (size_t i = 0; i < k; i++) {
					i128 t = (i128)N * (i128)idx[i] - (i128)bj * (i128)n[i];
					dd_ksum_add(&acc[i], w * (double)(u128)(t * t) / den);
				}
			}
		} else {
			/* every pooled position j = 1..N-1, tied positions sharing their ECDF */
			for (size_t j = left + 1; j <= left + l && j < N; j++) {
				double den = (double)((u128)j * (N - j));
				for (size_t i = 0; i < k; i++) {
					i128 t = (i128)N * (i128)idx[i] - (i128)j * (i128)n[i];
					dd_ksum_add(&acc[i], (double)(u128)(t * t) / den);
				}
			}
		}
		left += l;
	}
	if (distinct < 2)
		return -EINVAL;

	double a2 = 0;
	for (size_t i = 0; i < k; i++)
		a2 += dd_ksum_value(&acc[i]) / (double)n[i];
	if (variant == DD_AD_MIDRANK)
		a2 *= (dN - 1.) / dN;
	else if (variant == DD_AD_CONTINUOUS)
		a2 /= dN;

	/* Variance of A2kN under the null (Scholz & Stephens eq. 4), with h and g accumulated in
	 * scipy's order: h_t = sum_{i=N-1-t}^{N-1} 1/i sequentially, g = sum_t h_t / (t + 2). */
	double H = 0;
	for (size_t i = 0; i < k; i++)
		H += 1. / (double)n[i];
	double hs = 0;
	struct dd_ksum gs = {0};
	for (size_t t = 0; t + 3 <= N; t++) {
		hs += 1. / (double)(N - 1 - t);
		dd_ksum_add(&gs, hs / (double)(t + 2));
	}
	double h = hs + 1;
	double g = dd_ksum_value(&gs);
	double dk = (double)k, k2 = (double)(k * k);
	double a = (4 * g - 6) * (dk - 1) + (10 - 6 * g) * H;
	double b = (2 * g - 4) * k2 + 8 * h * dk + (2 * g - 14 * h - 4) * H - 8 * h + 4 * g - 6;
	double c = (6 * h + 2 * g - 2) * k2 + (4 * h - 4 * g + 6) * dk + (2 * h - 6) * H + 4 * h;
	double d = (2 * h + 6) * k2 - 4 * h * dk;
	double n3 = (double)((u128)N * N * N), n2 = (double)((u128)N * N);
	double sigmasq = (a * n3 + b * n2 + c * dN + d) / ((dN - 1.) * (dN - 2.) * (dN - 3.));
	double stat = (a2 - (dk - 1)) / sqrt(sigmasq);

	out->a2kn = a2;
	out->statistic = stat;
	out->p = dd_ad_pvalue(stat, k, &out->capped);
	return 0;
}

/* ======================================================================================== */
/* Cramer-von Mises two-sample                                                              */

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* One lattice cell of the exact distribution: statistic values (capped) and path counts,
 * values strictly increasing. */
struct cvm_cell {
	uint64_t *val;
	uint64_t *cnt;
	size_t len;
};

static void cvm_cell_free(struct cvm_cell *c)
{
	free(c->val);
	free(c->cnt);
	*c = (struct cvm_cell){0};
}

/* out = (a merged with b, counts of equal values added) + r, values capped at cap. */
static int cvm_cell_step(const struct cvm_cell *a, const struct cvm_cell *b, uint64_t r,
                         uint64_t cap, struct cvm_cell *out)
{
	size_t n = a->len + b->len;
	*out = (struct cvm_cell){0};
	if (n == 0)
		return 0;
	out->val = malloc(n * sizeof(uint64_t));
	out->cnt = malloc(n * sizeof(uint64_t));
	if (!out->val || !out->cnt) {
		cvm_cell_free(out);
		return -ENOMEM;
	}
	size_t i = 0, j = 0, o = 0;
	while (i < a->len || j < b->len) {
		uint64_t v, c;
		if (j >= b->len || (i < a->len && a->val[i] < b->val[j])) {
			v = a->val[i];
			c = a->cnt[i++];
		} else if (i >= a->len || b->val[j] < a->val[i]) {
			v = b->val[j];
			c = b->cnt[j++];
		} else {
			v = a->val[i];
			c = a->cnt[i++] + b->cnt[j++];
		}
		v += r;
		if (v > cap)
			v = cap;
		/* capping keeps the order but can make the last values equal */
		if (o > 0 && out->val[o - 1] == v) {
			out->cnt[o - 1] += c;
		} else {
			out->val[o] = v;
			out->cnt[o] = c;
			o++;
		}
	}
	out->len = o;
	return 0;
}

/* Number of the C(m + n, m) lattice paths whose statistic is >= threshold, for the exact
 * p-value (Xiao, Gordon & Yakovlev 2006, Algorithm 1): cell (u, v) holds the distribution of
 * sum (a v' - b u')^2 over the paths reaching it. Values at or above the threshold are merged
 * into one (they only grow along a path), which keeps the cells small. */
static int cvm_exact_count(uint64_t m, uint64_t n, uint64_t a, uint64_t b, uint64_t threshold,
                           uint64_t *count)
{
	struct cvm_cell *row = calloc(m + 1, sizeof(*row));
	struct cvm_cell *next = calloc(m + 1, sizeof(*next));
	int rc = 0;
	if (!row || !next) {
		rc = -ENOMEM;
		goto out;
	}
	row[0].val = malloc(sizeof(uint64_t));
	row[0].cnt = malloc(sizeof(uint64_t));
	if (!row[0].val || !row[0].cnt) {
		rc = -ENOMEM;
		goto out;
	}
	row[0].val[0] = 0;
	row[0].cnt[0] = 1;
	row[0].len = 1;
	for (uint64_t u = 0; u <= n; u++) {
		static const struct cvm_cell empty = {0};
		for (uint64_t v = 0; v <= m; v++) {
			int64_t d = (int64_t)(a * v) - (int64_t)(b * u);
			uint64_t r = (uint64_t)(d * d);
			rc = cvm_cell_step(v ? &next[v - 1] : &empty, &row[v], r, threshold,
			                   &next[v]);
			if (rc < 0)
				goto out;
		}
		for (uint64_t v = 0; v <= m; v++) {
			cvm_cell_free(&row[v]);
			row[v] = next[v];
			next[v] = (struct cvm_cell){0};
		}
	}
	*count = 0;
	for (size_t i = 0; i < row[m].len; i++)
		if (row[m].val[i] >= threshold)
			*count += row[m].cnt[i];
out:
	for (uint64_t v = 0; v <= m; v++) {
		if (row)
			cvm_cell_free(&row[v]);
		if (next)
			cvm_cell_free(&next[v]);
	}
	free(row);
	free(next);
	return rc;
}

static int cvm_exact_p(uint64_t m, uint64_t n, double u, double *p)
{
	uint64_t l = m / gcd_u64(m, n) * n;
	uint64_t a = l / m, b = l / n, mn = m * n;
	/* zeta as scipy forms it: float products of the exact integers, numpy floor division */
	double zeta =
	    floor_divide((double)(l * l * (m + n)) * (6 * u - (double)(mn * (4 * mn - 1))),
	                 (double)(6 * mn * mn));
	double comb = 1; /* C(m + n, m) < 2^64 for sizes <= DD_CVM_EXACT_MAX */
	uint64_t combi = 1;
	for (uint64_t i = 1; i <= m; i++)
		combi = combi * (n + i) / i; /* exact: C(n + i, i) at every step */
	comb = (double)combi;
	uint64_t count;
	if (!(zeta > 0)) {
		count = combi; /* every path has a statistic >= 0 */
	} else {
		double th = ceil(zeta);
		/* the largest statistic is below l^2 (m + n) */
		if (th > (double)(l * l * (m + n))) {
			count = 0;
		} else {
			int rc = cvm_exact_count(m, n, a, b, (uint64_t)th, &count);
			if (rc < 0)
				return rc;
		}
	}
	*p = (double)count / comb;
	return 0;
}

double dd_cvm_inf_sf(double x)
{
	if (!(x >= 0.003))
		return 1.0; /* as scipy, also for NaN: the CDF is below 1.3e-18 there */
	double tot = 0;
	for (int k = 0;; k++) {
		double u = exp(lgamma(k + 0.5) - lgamma(k + 1.0)) / (pow(M_PI, 1.5) * sqrt(x));
		double y = 4.0 * k + 1;
		double q = (y * y) / (16 * x);
		gsl_sf_result kr;
		gsl_error_handler_t *old = gsl_set_error_handler_off();
		int st = gsl_sf_bessel_Knu_e(0.25, q, &kr);
		gsl_set_error_handler(old);
		/* K underflows to 0 far out, where the term is negligible anyway */
		double bk = st == GSL_SUCCESS ? kr.val : 0.0;
		double z = u * sqrt(y) * exp(-q) * bk;
		tot += z;
		if (!(fabs(z) >= 1e-7) || k > 1000)
			break;
	}
	double p = 1. - tot;
	return p > 0 ? p : 0.0;
}

int dd_cvm2(const double *x, size_t m, const double *y, size_t n, enum dd_cvm_method method,
            double *t, double *p, bool *exact)
{
	if (!x || !y || !t || !p || m < 2 || n < 2 || m > INT32_MAX || n > INT32_MAX ||
	    (unsigned)method > 2)
		return -EINVAL;
	bool use_exact = method == DD_CVM_EXACT || (method == DD_CVM_AUTO && m <= 20 && n <= 20);
	if (use_exact && (m > DD_CVM_EXACT_MAX || n > DD_CVM_EXACT_MAX))
		return -EINVAL;

	/* U = m sum_i (r(x_i) - i)^2 + n sum_j (r(y_j) - j)^2 with midranks: every term is a
	 * multiple of 1/4, so the sums are exact while below 2^51. */
	struct dd_ksum sx = {0}, sy = {0};
	struct dd_merge it;
	struct dd_tie tie;
	dd_merge_start(&it, x, m, y, n);
	while (dd_merge_next(&it, &tie)) {
		size_t left = tie.below_a + tie.below_b, l = tie.ca + tie.cb;
		double r = (double)(left + 1) + (double)(l - 1) / 2;
		for (size_t i = tie.below_a + 1; i <= tie.below_a + tie.ca; i++) {
			double d = r - (double)i;
			dd_ksum_add(&sx, d * d);
		}
		for (size_t j = tie.below_b + 1; j <= tie.below_b + tie.cb; j++) {
			double d = r - (double)j;
			dd_ksum_add(&sy, d * d);
		}
	}
	double u = (double)m * dd_ksum_value(&sx) + (double)n * dd_ksum_value(&sy);
	u128 k = (u128)m * n, N = (u128)m + n;
	double T = u / (double)(k * N) - ratio_u128(4 * k - 1, 6 * N);
	*t = T;
	if (exact)
		*exact = use_exact;
	if (use_exact)
		return cvm_exact_p(m, n, u, p);

	/* mean and variance of T (Anderson 1962, eq. 11 and 14), exact integer ratios as scipy's
	 * Python integers give them */
	double dN = (double)N;
	double et = (1 + ratio_u128(1, N)) / 6;
	double vt;
	u128 num_a = 4 * k * N + 0, num_b = 3 * ((u128)m * m + (u128)n * n) + 2 * k;
	if (N < ((u128)1 << 24)) {
		vt = ratio_u128((N + 1) * (num_a - num_b), 45 * N * N * 4 * k);
	} else {
		/* out of the exact range (2^24 values): plain floating point */
		vt = (dN + 1) * ((double)num_a - (double)num_b) / (45 * dN * dN * 4 * (double)k);
	}
	double tn = 1. / 6 + (T - et) / sqrt(45 * vt);
	*p = dd_cvm_inf_sf(tn);
	return 0;
}

/* ======================================================================================== */
/* Mann-Whitney U                                                                           */

/* scipy.special.binom(n, k) for integer 0 <= k < 20 <= n: the product formula. */
static double binom_small(double n, int k)
{
	double num = 1.0, den = 1.0;
	for (int i = 1; i <= k; i++) {
		num *= i + n - k;
		den *= i;
		if (fabs(num) > 1e50) {
			num /= den;
			den = 1.0;
		}
	}
	return num / den;
}

/* Coefficients c[0..kmax] of the Gaussian binomial [n1 + n2 choose n1]_q (the number of
 * arrangements with U = k), as prod_{j=1}^{n1} (1 - q^(n2 + j)) / (1 - q^j) truncated at
 * q^kmax: each factor is one pass over the array. Exact in 128-bit integers. */
static void gauss_binom_i128(size_t n1, size_t n2, size_t kmax, i128 *c)
{
	memset(c, 0, (kmax + 1) * sizeof(*c));
	c[0] = 1;
	for (size_t j = 1; j <= n1; j++) {
		size_t a = n2 + j;
		for (size_t k = kmax; k >= a && k <= kmax; k--)
			c[k] -= c[k - a];
		for (size_t k = j; k <= kmax; k++)
			c[k] += c[k - j];
	}
}

static void gauss_binom_ld(size_t n1, size_t n2, size_t kmax, long double *c)
{
	for (size_t k = 0; k <= kmax; k++)
		c[k] = 0;
	c[0] = 1;
	for (size_t j = 1; j <= n1; j++) {
		size_t a = n2 + j;
		for (size_t k = kmax; k >= a && k <= kmax; k--)
			c[k] -= c[k - a];
		for (size_t k = j; k <= kmax; k++)
			c[k] += c[k - j];
	}
}

/* Masses c[0..kmax] of U for sizes n1 <= n2 as doubles c / total, scipy's pmf. */
static double *mwu_pmf(size_t n1, size_t n2, size_t kmax, double total)
{
	double *pmf = malloc((kmax + 1) * sizeof(double));
	if (!pmf)
		return NULL;
	/* 2^126 paths and more are beyond 128-bit integers: C(n1 + n2, n1) <= (n1 + n2)^n1 */
	if ((double)n1 * log2((double)(n1 + n2)) < 126) {
		i128 *c = malloc((kmax + 1) * sizeof(*c));
		if (!c) {
			free(pmf);
			return NULL;
		}
		gauss_binom_i128(n1, n2, kmax, c);
		for (size_t k = 0; k <= kmax; k++)
			pmf[k] = (double)c[k] / total;
		free(c);
	} else {
		long double *c = malloc((kmax + 1) * sizeof(*c));
		if (!c) {
			free(pmf);
			return NULL;
		}
		gauss_binom_ld(n1, n2, kmax, c);
		for (size_t k = 0; k <= kmax; k++)
			pmf[k] = (double)c[k] / (double)total;
		free(c);
	}
	return pmf;
}

int dd_mwu_exact_p(size_t m, size_t n, uint64_t u, double *p)
{
	size_t n1 = m < n ? m : n, n2 = m < n ? n : m;
	/* binom_small covers scipy's binom only below 20 */
	if (!p || n1 == 0 || n1 >= 20 || n2 > INT32_MAX)
		return -EINVAL;
	uint64_t mn = (uint64_t)n1 * n2;
	if (u > mn)
		return -EINVAL;
	double total = binom_small((double)(n1 + n2), (int)n1);
	/* scipy's sf(u), summing from the left where the mass is: P(U <= kc) with kc = mn - u
	 * for u >= kc (symmetry), else 1 - P(U <= u) + P(U = u) */
	uint64_t kc = mn - u;
	bool upper = !(u < kc);
	size_t kmax = (size_t)(upper ? kc : u);
	double *pmf = mwu_pmf(n1, n2, kmax, total);
	if (!pmf)
		return -ENOMEM;
	double cdf = 0;
	for (size_t k = 0; k <= kmax; k++)
		cdf += pmf[k];
	double sf = upper ? cdf : 1. - cdf + pmf[kmax];
	free(pmf);
	double r = sf * 2;
	*p = r > 1 ? 1.0 : (r < 0 ? 0.0 : r);
	return 0;
}

/* scipy.special.ndtr: the standard normal CDF, through erf near 0 and erfc in the tails. */
static double ndtr(double a)
{
	double x = a * M_SQRT1_2;
	double z = fabs(x);
	if (z < 1.0)
		return 0.5 + 0.5 * erf(x);
	double y = 0.5 * erfc(z);
	return x > 0 ? 1.0 - y : y;
}

int dd_mwu(const double *x, size_t m, const double *y, size_t n, enum dd_mwu_method method,
           struct dd_mwu_result *out)
{
	if (!x || !y || !out || m == 0 || n == 0 || m > INT32_MAX || n > INT32_MAX ||
	    (unsigned)method > 2)
		return -EINVAL;
	/* rank sum of x with midranks (multiples of 1/2: exact), and the tie term sum(t^3 - t) */
	struct dd_ksum r1 = {0}, tie = {0};
	bool ties = false;
	struct dd_merge it;
	struct dd_tie t;
	dd_merge_start(&it, x, m, y, n);
	while (dd_merge_next(&it, &t)) {
		size_t l = t.ca + t.cb;
		double r = (double)(t.below_a + t.below_b + 1) + (double)(l - 1) / 2;
		dd_ksum_add(&r1, (double)t.ca * r);
		double dl = (double)l;
		dd_ksum_add(&tie, dl * dl * dl - dl);
		ties |= l > 1;
	}
	double dm = (double)m, dn = (double)n;
	double u1 = dd_ksum_value(&r1) - dm * (dm + 1) / 2;
	double u2 = dm * dn - u1;
	double u = u1 > u2 ? u1 : u2;
	bool use_exact =
	    method == DD_MWU_EXACT || (method == DD_MWU_AUTO && !(m > 8 && n > 8) && !ties);
	out->u1 = u1;
	out->ties = ties;
	out->exact = use_exact;
	if (use_exact) {
		/* the exact distribution ignores ties; with ties U need not be an integer, and
		 * scipy truncates it to int64 */
		return dd_mwu_exact_p(m, n, (uint64_t)u, &out->p);
	}
	double N = dm + dn;
	double mu = dm * dn / 2;
	double s = sqrt(dm * dn / 12 * ((N + 1) - dd_ksum_value(&tie) / (N * (N - 1))));
	double z = (u - mu - 0.5) / s;
	double p = 2 * ndtr(-z);
	out->p = p > 1 ? 1.0 : (p < 0 ? 0.0 : p);
	return 0;
}
