/* Reference-frozen histograms shared by the binned divergence detectors (psi, js, kl, hellinger).
 *
 * A detector using this helper puts `struct dd_bin_config` first in its config block and uses
 * `struct dd_binned` as its whole state, so that the dd_binned_* callbacks below can sit in its
 * ops table directly. The detector supplies check_config, init (its own checks, then
 * dd_binned_init), evaluate and the parameter table (DD_BIN_PARAMS). The semantics (edges,
 * out-of-range and empty-bin policies, snapshot layout, merge) are documented in binning.c.
 */
#ifndef DRIFTD_BINNING_H
#define DRIFTD_BINNING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <driftd/detector.h>

enum dd_binning {
	DD_BIN_QUANTILE = 0,
	DD_BIN_UNIFORM = 1,
	DD_BIN_DOANE = 2,
	DD_BIN_STURGES = 3,
};

enum dd_out_of_range {
	DD_OOR_CLAMP = 0, /* outer bins reach to -inf and +inf */
	DD_OOR_BIN = 1,   /* underflow and overflow bins, empty in the reference */
};

/* Index order matters: psi and kl offer only the first two (their sums are infinite with an
 * empty bin), js and hellinger all three. */
enum dd_empty_bin {
	DD_EMPTY_EPSILON = 0,
	DD_EMPTY_LAPLACE = 1,
	DD_EMPTY_NONE = 2,
};

#define DD_BIN_MAX_BINS 1000

struct dd_bin_config {
	int64_t bins;
	int binning;
	int out_of_range;
	int empty_bin;
	double epsilon;
};

extern const char *const dd_binning_choices[];
extern const char *const dd_out_of_range_choices[];
extern const char *const dd_empty_choices_finite[]; /* epsilon, laplace */
extern const char *const dd_empty_choices_all[];    /* epsilon, laplace, none */

/* Parameter-table rows for the config type cfg_t whose member `m` is the struct dd_bin_config; the
 * empty-bin default, choices (dd_empty_choices_*) and description are the detector's. */
/* clang-format off */
#define DD_BIN_PARAMS(cfg_t, m, empty_def, empty_choices, empty_desc)                               \
	{.name = "bins", .type = DRIFTD_PARAM_INT, .offset = offsetof(cfg_t, m.bins),               \
	 .def = 10, .min = 2, .max = DD_BIN_MAX_BINS,                                              \
	 .description = "Bins for quantile and uniform binning; tied edges collapse into fewer."}, \
	{.name = "binning", .type = DRIFTD_PARAM_ENUM, .offset = offsetof(cfg_t, m.binning),        \
	 .def = DD_BIN_QUANTILE, .choices = dd_binning_choices,                                    \
	 .description = "Edges from the reference: quantiles, equal widths, or numpy's doane or "  \
	                "sturges rule."},                                                          \
	{.name = "out_of_range", .type = DRIFTD_PARAM_ENUM,                                        \
	 .offset = offsetof(cfg_t, m.out_of_range), .def = DD_OOR_CLAMP,                            \
	 .choices = dd_out_of_range_choices,                                                       \
	 .description = "Values outside the reference range join the outer bins (clamp) or get "   \
	                "their own (bin)."},                                                       \
	{.name = "empty_bin", .type = DRIFTD_PARAM_ENUM, .offset = offsetof(cfg_t, m.empty_bin),    \
	 .def = (empty_def), .choices = (empty_choices), .description = (empty_desc)},             \
	{.name = "epsilon", .type = DRIFTD_PARAM_DOUBLE, .offset = offsetof(cfg_t, m.epsilon),      \
	 .def = 0.0001, .min = 0, .max = 1, .min_open = true,                                      \
	 .description = "Proportion used for an empty bin when empty_bin is epsilon."}
/* clang-format on */

/* Table-independent validation (for blocks that bypassed the table). max_empty is the highest
 * enum dd_empty_bin the detector accepts. -EINVAL with a static message in *why. */
int dd_bin_check_config(const struct dd_bin_config *c, int max_empty, const char **why);

enum dd_binned_phase {
	DD_BINNED_COLLECTING = 0, /* reference values being buffered (none yet: the fresh state) */
	DD_BINNED_READY = 1,      /* edges and reference counts frozen, windows can be fed */
};

struct dd_binned {
	enum dd_binned_phase phase;
	enum dd_out_of_range oor; /* copied from the config for the hot path */
	double *ref;              /* raw reference in arrival order, NULL once READY */
	size_t ref_len;
	size_t ref_cap;   /* shape.reference_size */
	size_t min_edges; /* bounds on n_edges for a valid summary (restore checks them) */
	size_t max_edges;
	size_t max_bins;
	size_t n_edges;     /* edges in use (clamp: inner edges; bin: all edges) */
	double *edges;      /* [max_edges] */
	uint64_t *ref_cnt;  /* [max_bins] */
	uint64_t *win_cnt;  /* [max_bins] */
	uint64_t ref_total; /* sum of ref_cnt */
	uint64_t win_total; /* sum of win_cnt */
	double *p, *q;      /* [max_bins] scratch for evaluate */
};

/* ops callbacks (the config block must start with struct dd_bin_config) */
int dd_binned_init(struct driftd_ctx *ctx);
int dd_binned_reference_add(struct driftd_ctx *ctx, const struct driftd_value *v);
int dd_binned_reference_done(struct driftd_ctx *ctx);
int dd_binned_update(struct driftd_ctx *ctx, const struct driftd_value *v);
void dd_binned_window_reset(struct driftd_ctx *ctx);
int dd_binned_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out);
int dd_binned_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len);
int dd_binned_merge(struct driftd_ctx *dst, const struct driftd_ctx *src);
void dd_binned_done(struct driftd_ctx *ctx);

/* Bins in use once READY. */
size_t dd_binned_nbins(const struct dd_binned *b);

/* For evaluate: -EINVAL before the reference is frozen, -ENODATA on an empty window, else 0
 * with the reference and window proportions under the empty-bin policy in b->p and b->q
 * (dd_binned_nbins values each). With `normalise` both are then divided by their sums, as
 * scipy.stats.entropy and scipy.spatial.distance.jensenshannon do. */
int dd_binned_proportions(struct dd_binned *b, const struct dd_bin_config *c, bool normalise);

/* np.sum of n doubles, bit for bit: numpy's pairwise summation (blocks of 128, 8 lanes). */
double dd_pairwise_sum(const double *x, size_t n);

/* scipy.special.rel_entr(x, y): x ln(x / y), 0 when x == 0 <= y, +inf otherwise. */
double dd_rel_entr(double x, double y);

#endif
