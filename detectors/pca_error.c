/* pca_error: PCA reconstruction error of each window relative to the reference's (NannyML's
 * data reconstruction drift, on vectors, without its per-feature standard scaling and with a
 * fixed threshold on the ratio instead of bands from reference chunks).
 *
 * Fit (reference_done). From the reference sample (at most max_samples vectors, evenly spaced
 * as in mmd: positions floor(k N / S) of the N = shape.reference_size reference vectors):
 * mean mu, covariance C = sum (x - mu)(x - mu)^T / (m - 1), and its eigen-decomposition with
 * GSL (gsl_eigen_symmv, sorted by decreasing eigenvalue). The first k eigenvectors are kept:
 *   n_components > 0: k = min(n_components, dim);
 *   n_components = 0: the smallest k whose eigenvalues explain more than explained_variance
 *                     of the total (scikit-learn's PCA(n_components=fraction) rule, which
 *                     NannyML uses with 0.65): k = 1 + #{i : c_i <= fraction}, c_i the
 *                     cumulative sums of lambda_i / sum(lambda), negative rounding residues of
 *                     lambda counted as 0; k = 0 when the reference has no variance at all.
 * Error of a vector x: e(x) = ||r||, r = z - V V^T z, z = x - mu, V the kept eigenvectors
 * (the Euclidean distance between x and its reconstruction, as NannyML; invariant to the
 * signs of the eigenvectors and, when eigenvalue k is separated from k + 1, to the
 * eigen-solver). ref_err = mean of e over the reference sample, fixed at reference_done.
 *
 * Verdict: score = (mean of e over the window) / ref_err, drift when score > threshold.
 * ref_err is measured on the data the PCA was fitted to, so it is optimistic and the ratio on
 * data from the reference distribution sits above 1: about 1.01 - 1.1 in simulations of
 * low-rank embeddings with noise (d = 16 - 1024), but 1.3 - 1.45 for isotropic 384-dimensional
 * noise with 500 - 1000 reference vectors, hence the default threshold 1.5; calibrate it on
 * your data. With k = dim every error is 0 (not rounding noise) and so is the score. Other
 * ways to a ref_err of 0 (a reference without variance) give a score of 0 for a window that
 * reconstructs exactly and +inf otherwise; with k at or above the rank of a reference sample
 * the reference errors are rounding noise and the ratio is meaningless.
 *
 * Costs: init allocates the reference sample (S x max_dim doubles, only the pages for the
 * actual dimension touched) and two vectors; reference_done O(S dim^2) for the covariance and
 * O(dim^3) for the eigen-decomposition (it allocates dim^2 doubles of scratch and keeps k x dim
 * for the components); update O(k dim) and no allocation; evaluate O(1).
 *
 * GSL: only views over our own buffers, and a symmv workspace whose (public) fields we
 * allocate ourselves, so that no GSL call can reach the GSL error handler (abort by default;
 * we install none) other than through a dimension mismatch, which cannot happen. The
 * covariance is checked to be finite first (QR iterations on NaN need not end).
 *
 * Errors: reference_add past reference_size -ENOSPC; reference_add/reference_done after
 * reference_done, update before it -EINVAL; fewer than two reference vectors (reference_done),
 * an empty window (evaluate) -ENODATA; a covariance that overflows -ERANGE; a window vector
 * whose error overflows (elements near 1e154 and beyond) -EDOM.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include <driftd/detector.h>

#include "mvec.h"

#define PCA_MAX_SAMPLES 100000
#define PCA_MAX_SIZE    0xffffffffull /* dd_mvec_keep works below 2^32 */

struct pca_config {
	double threshold;
	int64_t n_components;
	double explained_variance;
	int64_t max_samples;
	int64_t max_dim;
};

enum pca_phase {
	PCA_COLLECTING = 0,
	PCA_READY = 1,
};

struct pca_state {
	enum pca_phase phase;
	size_t max_dim;
	size_t dim;         /* 0 until the first vector */
	uint64_t ref_total; /* shape.reference_size */
	size_t ref_cap;     /* vectors kept at most */
	double *ref;        /* [ref_cap * max_dim], packed with stride dim */
	uint64_t ref_seen;  /* vectors accepted (kept or not) */
	size_t ref_n;       /* vectors kept */
	/* READY */
	size_t k;       /* components kept */
	double *mean;   /* [max_dim] */
	double *comp;   /* [k * dim], component c at comp + c * dim; NULL when k == 0 */
	double ref_err; /* mean reconstruction error over the reference sample */
	uint64_t win_n;
	double win_sum;  /* sum of the window's reconstruction errors */
	double *scratch; /* [max_dim] */
};

static const struct driftd_param pca_params[] = {
    {
        .name = "threshold",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct pca_config, threshold),
        .def = 1.5,
        .min = 0,
        .max = HUGE_VAL,
        .max_open = true,
        .description = "Drift when the window's mean reconstruction error exceeds the "
                       "reference's by this factor.",
    },
    {
        .name = "n_components",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct pca_config, n_components),
        .def = 0,
        .min = 0,
        .max = DD_MVEC_MAX_DIM_LIMIT,
        .description = "Principal components kept (at most the dimension); 0 chooses them by "
                       "explained_variance.",
    },
    {
        .name = "explained_variance",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct pca_config, explained_variance),
        .def = 0.65,
        .min = 0,
        .max = 1,
        .min_open = true,
        .max_open = true,
        .description = "With n_components 0, keep the fewest components explaining more than "
                       "this share of the variance.",
    },
    {
        .name = "max_samples",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct pca_config, max_samples),
        .def = 1000,
        .min = 2,
        .max = PCA_MAX_SAMPLES,
        .description = "Reference vectors the PCA is fitted to at most, evenly spaced over the "
                       "reference.",
    },
    {
        .name = "max_dim",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct pca_config, max_dim),
        .def = DD_MVEC_MAX_DIM_DEFAULT,
        .min = 1,
        .max = DD_MVEC_MAX_DIM_LIMIT,
        .description = "Largest accepted vector dimension (sizes the buffers).",
    },
};

/* ---- numerics ---- */

/* e(x) = ||z - V V^T z||, z = x - mean; tmp has dim doubles. */
static double recon_error(const struct pca_state *s, const double *x, double *tmp)
{
	size_t d = s->dim;
	if (s->k == d)
		return 0.0; /* every direction kept: the reconstruction is exact (up to rounding) */
	for (size_t j = 0; j < d; j++)
		tmp[j] = x[j] - s->mean[j];
	/* the projections all come from the centred vector: compute them before subtracting */
	for (size_t c = 0; c < s->k; c++) {
		const double *v = s->comp + c * d;
		double p = 0;
		for (size_t j = 0; j < d; j++)
			p += v[j] * (x[j] - s->mean[j]);
		for (size_t j = 0; j < d; j++)
			tmp[j] -= p * v[j];
	}
	double e = 0;
	for (size_t j = 0; j < d; j++)
		e += tmp[j] * tmp[j];
	return sqrt(e);
}

static size_t choose_k(const struct pca_config *c, const double *eval, size_t d)
{
	if (c->n_components > 0)
		return (uint64_t)c->n_components < d ? (size_t)c->n_components : d;
	double total = 0;
	for (size_t i = 0; i < d; i++)
		total += eval[i] > 0 ? eval[i] : 0;
	if (!(total > 0))
		return 0;
	double cum = 0;
	for (size_t i = 0; i < d; i++) {
		cum += (eval[i] > 0 ? eval[i] : 0) / total;
		if (cum > c->explained_variance)
			return i + 1;
	}
	return d;
}

/* Mean, covariance, eigenvectors and the reference error; sets k, mean, comp and ref_err. */
static int pca_fit(const struct pca_config *c, struct pca_state *s)
{
	size_t d = s->dim, m = s->ref_n;
	double *cov = calloc(d * d, sizeof(double));
	double *evec = malloc(d * d * sizeof(double));
	double *eval = malloc(d * sizeof(double));
	gsl_eigen_symmv_workspace ws = {
	    .size = d,
	    .d = malloc(d * sizeof(double)),
	    .sd = malloc(d * sizeof(double)),
	    .gc = malloc(d * sizeof(double)),
	    .gs = malloc(d * sizeof(double)),
	};
	int rc = -ENOMEM;
	if (!cov || !evec || !eval || !ws.d || !ws.sd || !ws.gc || !ws.gs)
		goto out;

	for (size_t j = 0; j < d; j++) {
		double sum = 0;
		for (size_t r = 0; r < m; r++)
			sum += s->ref[r * d + j];
		s->mean[j] = sum / (double)m;
	}
	/* upper triangle by rank-one updates: rows of the sample and of cov are contiguous */
	for (size_t r = 0; r < m; r++) {
		const double *x = s->ref + r * d;
		for (size_t j = 0; j < d; j++)
			s->scratch[j] = x[j] - s->mean[j];
		for (size_t i = 0; i < d; i++) {
			double zi = s->scratch[i];
			double *row = cov + i * d;
			for (size_t j = i; j < d; j++)
				row[j] += zi * s->scratch[j];
		}
	}
	rc = -ERANGE;
	for (size_t i = 0; i < d; i++)
		for (size_t j = i; j < d; j++) {
			double v = cov[i * d + j] / (double)(m - 1);
			if (!isfinite(v))
				goto out;
			cov[i * d + j] = cov[j * d + i] = v;
		}

	gsl_matrix_view a = gsl_matrix_view_array(cov, d, d);
	gsl_matrix_view v = gsl_matrix_view_array(evec, d, d);
	gsl_vector_view l = gsl_vector_view_array(eval, d);
	if (gsl_eigen_symmv(&a.matrix, &l.vector, &v.matrix, &ws) != GSL_SUCCESS ||
	    gsl_eigen_symmv_sort(&l.vector, &v.matrix, GSL_EIGEN_SORT_VAL_DESC) != GSL_SUCCESS) {
		rc = -EIO;
		goto out;
	}

	size_t k = choose_k(c, eval, d);
	double *comp = NULL;
	if (k > 0) {
		comp = malloc(k * d * sizeof(double));
		if (!comp) {
			rc = -ENOMEM;
			goto out;
		}
		/* eigenvectors are the columns of evec */
		for (size_t cc = 0; cc < k; cc++)
			for (size_t j = 0; j < d; j++)
				comp[cc * d + j] = evec[j * d + cc];
	}
	free(s->comp);
	s->comp = comp;
	s->k = k;
	double sum = 0;
	for (size_t r = 0; r < m; r++)
		sum += recon_error(s, s->ref + r * d, s->scratch);
	s->ref_err = sum / (double)m;
	rc = isfinite(s->ref_err) ? 0 : -ERANGE;
out:
	free(cov);
	free(evec);
	free(eval);
	free(ws.d);
	free(ws.sd);
	free(ws.gc);
	free(ws.gs);
	return rc;
}

/* ---- the detector ---- */

static int pca_check_config(const void *config, const char **why)
{
	const struct pca_config *c = config;
	if (!(c->threshold >= 0) || isinf(c->threshold)) {
		*why = "threshold must be a finite number >= 0";
		return -EINVAL;
	}
	if (c->n_components < 0 || c->n_components > DD_MVEC_MAX_DIM_LIMIT) {
		*why = "n_components must be between 0 and 65536";
		return -EINVAL;
	}
	if (!(c->explained_variance > 0 && c->explained_variance < 1)) {
		*why = "explained_variance must be in (0, 1)";
		return -EINVAL;
	}
	if (c->max_samples < 2 || c->max_samples > PCA_MAX_SAMPLES) {
		*why = "max_samples must be between 2 and 100000";
		return -EINVAL;
	}
	if (c->max_dim < 1 || c->max_dim > DD_MVEC_MAX_DIM_LIMIT) {
		*why = "max_dim must be between 1 and 65536";
		return -EINVAL;
	}
	return 0;
}

/* Back to the state right after init. */
static void pca_clear(struct pca_state *s)
{
	free(s->comp);
	s->comp = NULL;
	s->k = 0;
	s->phase = PCA_COLLECTING;
	s->dim = 0;
	s->ref_seen = 0;
	s->ref_n = 0;
	s->ref_err = 0;
	s->win_n = 0;
	s->win_sum = 0;
}

static void pca_done(struct driftd_ctx *ctx)
{
	struct pca_state *s = ctx->state;
	pca_clear(s);
	free(s->ref);
	free(s->mean);
	free(s->scratch);
	s->ref = s->mean = s->scratch = NULL;
	s->ref_cap = 0;
}

static int pca_init(struct driftd_ctx *ctx)
{
	const struct pca_config *c = ctx->config;
	struct pca_state *s = ctx->state;
	const char *why;
	if (pca_check_config(c, &why) < 0)
		return -EINVAL;
	uint64_t rn = ctx->shape.reference_size;
	if (rn < 2 || rn > PCA_MAX_SIZE)
		return -EINVAL;
	s->max_dim = (size_t)c->max_dim;
	s->ref_total = rn;
	s->ref_cap = rn < (uint64_t)c->max_samples ? (size_t)rn : (size_t)c->max_samples;
	s->ref = malloc(s->ref_cap * s->max_dim * sizeof(double));
	s->mean = calloc(s->max_dim, sizeof(double));
	s->scratch = calloc(s->max_dim, sizeof(double));
	if (!s->ref || !s->mean || !s->scratch) {
		pca_done(ctx);
		return -ENOMEM;
	}
	pca_clear(s);
	return 0;
}

static int pca_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct pca_state *s = ctx->state;
	if (dd_mvec_check(v, s->dim, s->max_dim) < 0)
		return -EDOM;
	if (s->phase != PCA_COLLECTING)
		return -EINVAL;
	if (s->ref_seen >= s->ref_total)
		return -ENOSPC;
	s->dim = v->dim;
	if (dd_mvec_keep(s->ref_seen, s->ref_total, s->ref_cap))
		memcpy(s->ref + s->ref_n++ * s->dim, v->vec, s->dim * sizeof(double));
	s->ref_seen++;
	return 0;
}

static int pca_reference_done(struct driftd_ctx *ctx)
{
	struct pca_state *s = ctx->state;
	if (s->phase != PCA_COLLECTING)
		return -EINVAL;
	if (s->ref_n < 2)
		return -ENODATA;
	int rc = pca_fit(ctx->config, s);
	if (rc < 0) {
		free(s->comp);
		s->comp = NULL;
		s->k = 0;
		return rc;
	}
	s->phase = PCA_READY;
	s->win_n = 0;
	s->win_sum = 0;
	return 0;
}

static int pca_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	struct pca_state *s = ctx->state;
	if (dd_mvec_check(v, s->dim, s->max_dim) < 0)
		return -EDOM;
	if (s->phase != PCA_READY)
		return -EINVAL;
	double e = recon_error(s, v->vec, s->scratch);
	if (!isfinite(e) || !isfinite(s->win_sum + e))
		return -EDOM; /* too far out to measure */
	s->win_sum += e;
	s->win_n++;
	return 0;
}

static int pca_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct pca_config *c = ctx->config;
	const struct pca_state *s = ctx->state;
	if (s->phase != PCA_READY)
		return -EINVAL;
	if (s->win_n == 0)
		return -ENODATA;
	double err = s->win_sum / (double)s->win_n;
	double score;
	if (s->ref_err > 0)
		score = err / s->ref_err;
	else
		score = err > 0 ? HUGE_VAL : 0.0;
	*out = (struct driftd_verdict){
	    .score = score,
	    .threshold = c->threshold,
	    .p_value = (double)NAN,
	    .drift = score > c->threshold,
	    .warning = false,
	};
	return 0;
}

static void pca_window_reset(struct driftd_ctx *ctx)
{
	struct pca_state *s = ctx->state;
	s->win_n = 0;
	s->win_sum = 0;
}

/* Snapshot v1, little-endian: u64 phase (0 collecting, 1 ready), u64 dim, then
 *   collecting: u64 reference vectors accepted, the kept ones as dim x f64 each
 *   ready:      u64 k, dim x f64 mean, k x dim x f64 components (one after the other),
 *               f64 reference error, u64 window count, f64 window error sum
 * The raw reference is not part of a ready snapshot. */
static int pca_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct pca_state *s = ctx->state;
	driftd_buf_put_u64(out, s->phase);
	driftd_buf_put_u64(out, s->dim);
	if (s->phase == PCA_COLLECTING) {
		driftd_buf_put_u64(out, s->ref_seen);
		for (size_t i = 0; i < s->ref_n * s->dim; i++)
			driftd_buf_put_f64(out, s->ref[i]);
		return out->err;
	}
	driftd_buf_put_u64(out, s->k);
	for (size_t i = 0; i < s->dim; i++)
		driftd_buf_put_f64(out, s->mean[i]);
	for (size_t i = 0; i < s->k * s->dim; i++)
		driftd_buf_put_f64(out, s->comp[i]);
	driftd_buf_put_f64(out, s->ref_err);
	driftd_buf_put_u64(out, s->win_n);
	driftd_buf_put_f64(out, s->win_sum);
	return out->err;
}

static int pca_parse(struct pca_state *s, struct driftd_reader *r)
{
	uint64_t phase, dim;
	if (driftd_rd_u64(r, &phase) < 0 || driftd_rd_u64(r, &dim) < 0)
		return -EBADMSG;
	if (phase > PCA_READY || dim > s->max_dim)
		return -EBADMSG;
	if (phase == PCA_COLLECTING) {
		uint64_t seen;
		if (driftd_rd_u64(r, &seen) < 0 || seen > s->ref_total || (dim == 0) != (seen == 0))
			return -EBADMSG;
		size_t n = (size_t)dd_mvec_kept(seen, s->ref_total, s->ref_cap);
		if (r->left % 8 != 0 || r->left / 8 != n * dim)
			return -EBADMSG;
		for (size_t i = 0; i < n * dim; i++)
			if (driftd_rd_f64_finite(r, &s->ref[i]) < 0)
				return -EBADMSG;
		s->dim = (size_t)dim;
		s->ref_seen = seen;
		s->ref_n = n;
		return 0;
	}
	uint64_t k, wn;
	double ref_err, wsum;
	if (dim == 0 || driftd_rd_u64(r, &k) < 0 || k > dim)
		return -EBADMSG;
	/* exact size: mean, components, then f64 u64 f64 */
	if (r->left % 8 != 0 || r->left / 8 != dim + k * dim + 3)
		return -EBADMSG;
	for (size_t i = 0; i < dim; i++)
		if (driftd_rd_f64_finite(r, &s->mean[i]) < 0)
			return -EBADMSG;
	if (k > 0) {
		s->comp = malloc(k * dim * sizeof(double));
		if (!s->comp)
			return -ENOMEM;
		for (size_t i = 0; i < k * dim; i++)
			if (driftd_rd_f64_finite(r, &s->comp[i]) < 0)
				return -EBADMSG;
	}
	if (driftd_rd_f64_finite(r, &ref_err) < 0 || driftd_rd_u64(r, &wn) < 0 ||
	    driftd_rd_f64_finite(r, &wsum) < 0 || ref_err < 0 || wsum < 0 || (wn == 0 && wsum != 0))
		return -EBADMSG;
	s->phase = PCA_READY;
	s->dim = (size_t)dim;
	s->k = (size_t)k;
	s->ref_err = ref_err;
	s->win_n = wn;
	s->win_sum = wsum;
	return 0;
}

static int pca_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	struct pca_state *s = ctx->state;
	pca_clear(s);
	if (version != 1 || (!data && len) || !s->ref || !s->mean || !s->scratch)
		return -EBADMSG;
	struct driftd_reader r = {.p = data, .left = len};
	int rc = pca_parse(s, &r);
	if (rc < 0) {
		pca_clear(s);
		return rc == -ENOMEM ? rc : -EBADMSG;
	}
	return 0;
}

const struct driftd_detector_ops driftd_detector_pca_error = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "pca_error",
    .summary = "PCA reconstruction error of each window relative to the reference's, with the "
               "PCA fitted to the reference.",
    .kind = DRIFTD_KIND_MULTIVARIATE,
    .caps = 0,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_VECTOR),
    .params = pca_params,
    .n_params = sizeof(pca_params) / sizeof(pca_params[0]),
    .config_size = sizeof(struct pca_config),
    .state_size = sizeof(struct pca_state),
    .snapshot_version = 1,
    .check_config = pca_check_config,
    .init = pca_init,
    .reference_add = pca_reference_add,
    .reference_done = pca_reference_done,
    .update = pca_update,
    .evaluate = pca_evaluate,
    .window_reset = pca_window_reset,
    .snapshot = pca_snapshot,
    .restore = pca_restore,
    .done = pca_done,
};
