/* Vector input helpers for the multivariate detectors: see mvec.h. */
#include <errno.h>
#include <math.h>

#include "mvec.h"

int dd_mvec_check(const struct driftd_value *v, size_t dim, size_t max_dim)
{
	if (v->type != DRIFTD_VALUE_VECTOR || v->dim == 0 || !v->vec)
		return -EDOM;
	if (dim ? v->dim != dim : v->dim > max_dim)
		return -EDOM;
	for (size_t i = 0; i < v->dim; i++)
		if (!isfinite(v->vec[i]))
			return -EDOM;
	return 0;
}

bool dd_mvec_keep(uint64_t i, uint64_t n, uint64_t s)
{
	if (s >= n)
		return true;
	/* the smallest k with floor(k n / s) >= i is ceil(i s / n); i is kept when that k
	 * lands exactly on i */
	uint64_t k = (i * s + n - 1) / n;
	return k < s && k * n / s == i;
}

uint64_t dd_mvec_kept(uint64_t c, uint64_t n, uint64_t s)
{
	if (s >= n)
		return c;
	/* floor(k n / s) < c  <=>  k n / s < c  <=>  k < c s / n */
	uint64_t k = (c * s + n - 1) / n;
	return k < s ? k : s;
}
