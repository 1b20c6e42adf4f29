/* Vector (embedding) input shared by the multivariate detectors (mmd, embedding_distance,
 * pca_error): validation of DRIFTD_VALUE_VECTOR values and the deterministic evenly spaced
 * subsample that caps what a detector keeps of a reference or window. */
#ifndef DRIFTD_MVEC_H
#define DRIFTD_MVEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <driftd/event.h>

/* Default and largest accepted value of the `max_dim` parameter. */
#define DD_MVEC_MAX_DIM_DEFAULT 1024
#define DD_MVEC_MAX_DIM_LIMIT   65536

/* 0 when v is a VECTOR of finite numbers of dimension `dim`, or, when no dimension is fixed
 * yet (dim == 0), of any dimension from 1 to max_dim; -EDOM otherwise. */
int dd_mvec_check(const struct driftd_value *v, size_t dim, size_t max_dim);

/* The subsample of s of n positions 0..n-1 is {floor(k n / s) : 0 <= k < s} (every position
 * when s >= n). Sizes must be below 2^32 so that the products fit.
 * dd_mvec_keep: whether position i (< n) is in it; dd_mvec_kept: how many of the positions
 * 0..c-1 (c <= n) are. */
bool dd_mvec_keep(uint64_t i, uint64_t n, uint64_t s);
uint64_t dd_mvec_kept(uint64_t c, uint64_t n, uint64_t s);

#endif
