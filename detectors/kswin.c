/* kswin: Kolmogorov-Smirnov windowing (Raab et al. 2020), reproducing River 0.26.1's
 * river.drift.KSWIN step for step (same samples drawn, same test, same resets).
 *
 * The detector keeps the last window_size values. Once the window is full, every update
 *   - draws stat_size distinct positions among the window's oldest window_size - stat_size
 *     values with Python's random.Random(seed).sample(range(window_size - stat_size),
 *     stat_size) (CPython's MT19937 and sampling algorithm, detectors/pyrandom.c, so the draws
 *     are Python's),
 *   - runs the two-sample KS test of those values against the newest stat_size values as
 *     scipy.stats.ks_2samp(method="auto") does: equal sizes, so D = h / stat_size for an
 *     integer h and the p-value is exact (detectors/ksdist.c),
 *   - signals drift when p <= alpha and D > 0.1 (River's fixed floor on D).
 * Reset: as in River, the update after a drift first clears the window and re-seeds the
 * generator with the same seed, then takes its value as the first of a fresh window; so the
 * next test is window_size values later and draws the same positions as the first test did.
 * (River also shortens its window to the newest stat_size values on a drift, but that window
 * is cleared by the next update before it is used, so it changes nothing.)
 *
 * seed: River's seed. River's default (None) seeds from the operating system, which a daemon
 * that must be reproducible cannot do, so the default -1 uses the monitor's seed (derived from
 * its name) as Python would use that integer.
 *
 * The p-value depends only on h, so the stat_size + 1 possible values are computed once at init
 * (O(stat_size^2): 13 ms for 1000, 1.3 s for the largest, 10000). The newest values are kept
 * sorted as they slide (O(stat_size) per update); a test then costs the draw, a sort of the
 * sampled values and a merge: O(stat_size log stat_size), no allocation.
 *
 * Verdict: score D of the latest test (0 before the window first fills), threshold alpha,
 * p_value of the latest test (NAN before), drift as River's drift_detected. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <driftd/detector.h>

#include "ksdist.h"
#include "pyrandom.h"

/* River's second condition: D must also exceed this. */
#define KSWIN_MIN_D 0.1
/* Largest stat_size: keeps the p-value exact (scipy's auto method) and init at about 1 s. */
#define KSWIN_MAX_STAT   10000
#define KSWIN_MAX_WINDOW 1000000
#define KSWIN_NO_TEST    UINT64_MAX

struct kswin_config {
	double alpha;
	int64_t window_size;
	int64_t stat_size;
	int64_t seed;
};

struct kswin_state {
	struct dd_pyrandom rng;
	uint64_t seed;    /* the seed in use (config or monitor) */
	size_t w, k;      /* window_size, stat_size */
	double *win;      /* ring of w values, oldest at head */
	size_t head, len; /* len < w until the window first fills after a reset */
	double *pvalue;   /* k + 1 entries: the p-value of D = h / k */
	double *recent;   /* the newest min(len, k) values, sorted */
	double *sa;       /* the sampled values, sorted (scratch) */
	uint32_t *picks;  /* k sampled positions (scratch) */
	uint32_t *pool;   /* w - k zeroed words for the sampler (scratch) */
	uint64_t last_h;  /* h of the latest test, KSWIN_NO_TEST before one */
	bool drift;
};

static const struct driftd_param kswin_params[] = {
    {
        .name = "alpha",
        .type = DRIFTD_PARAM_DOUBLE,
        .offset = offsetof(struct kswin_config, alpha),
        .def = 0.005,
        .min = 0,
        .max = 1,
        .description = "Drift when the KS p-value is at most alpha (and D > 0.1).",
    },
    {
        .name = "window_size",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct kswin_config, window_size),
        .def = 100,
        .min = 2,
        .max = KSWIN_MAX_WINDOW,
        .description = "Values kept in the sliding window.",
    },
    {
        .name = "stat_size",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct kswin_config, stat_size),
        .def = 30,
        .min = 1,
        .max = KSWIN_MAX_STAT,
        .description = "Newest values tested, and values sampled from the rest; at most "
                       "half of window_size.",
    },
    {
        .name = "seed",
        .type = DRIFTD_PARAM_INT,
        .offset = offsetof(struct kswin_config, seed),
        .def = -1,
        .min = -1,
        .max = 9007199254740991.0,
        .description = "Seed of Python's random.Random for the sampling; -1: the monitor's "
                       "seed.",
    },
};

static int kswin_check_config(const void *config, const char **why)
{
	const struct kswin_config *c = config;
	if (!(c->alpha >= 0 && c->alpha <= 1)) {
		*why = "alpha must be in [0, 1]";
		return -EINVAL;
	}
	if (c->window_size < 2 || c->window_size > KSWIN_MAX_WINDOW || c->stat_size < 1 ||
	    c->stat_size > KSWIN_MAX_STAT || c->seed < -1) {
		*why = "window_size, stat_size or seed out of range";
		return -EINVAL;
	}
	/* random.sample(range(window_size - stat_size), stat_size) needs that many values */
	if (2 * c->stat_size > c->window_size) {
		*why = "stat_size must be at most half of window_size";
		return -EINVAL;
	}
	return 0;
}

static void kswin_reset(struct kswin_state *s)
{
	dd_pyrandom_seed(&s->rng, s->seed);
	s->head = 0;
	s->len = 0;
	s->last_h = KSWIN_NO_TEST;
	s->drift = false;
}

static void kswin_done(struct driftd_ctx *ctx)
{
	struct kswin_state *s = ctx->state;
	free(s->win);
	free(s->pvalue);
	free(s->recent);
	free(s->sa);
	free(s->picks);
	free(s->pool);
	s->win = s->pvalue = s->recent = s->sa = NULL;
	s->picks = s->pool = NULL;
	s->w = s->k = s->len = s->head = 0;
}

static int kswin_init(struct driftd_ctx *ctx)
{
	const struct kswin_config *c = ctx->config;
	struct kswin_state *s = ctx->state;
	const char *why;
	if (kswin_check_config(c, &why) < 0)
		return -EINVAL;
	s->w = (size_t)c->window_size;
	s->k = (size_t)c->stat_size;
	s->seed = c->seed < 0 ? ctx->shape.seed : (uint64_t)c->seed;
	s->win = malloc(s->w * sizeof(double));
	s->pvalue = malloc((s->k + 1) * sizeof(double));
	s->recent = malloc(s->k * sizeof(double));
	s->sa = malloc(s->k * sizeof(double));
	s->picks = malloc(s->k * sizeof(uint32_t));
	s->pool = calloc(s->w - s->k, sizeof(uint32_t));
	if (!s->win || !s->pvalue || !s->recent || !s->sa || !s->picks || !s->pool) {
		kswin_done(ctx);
		return -ENOMEM;
	}
	for (size_t h = 0; h <= s->k; h++) {
		double d = (double)h / (double)s->k;
		int rc = dd_ks2_pvalue((int64_t)s->k, (int64_t)s->k, &d, DD_KS2_AUTO, &s->pvalue[h],
		                       NULL);
		if (rc < 0) {
			kswin_done(ctx);
			return rc;
		}
	}
	kswin_reset(s);
	return 0;
}

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
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && a[child + 1] > a[child])
			child++;
		if (!(a[child] > a[root]))
			return;
		double t = a[root];
		a[root] = a[child];
		a[child] = t;
		root = child;
	}
}

static void heap_sort(double *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(a, i, n);
	for (size_t end = n - 1; end > 0; end--) {
		double t = a[0];
		a[0] = a[end];
		a[end] = t;
		sift_down(a, 0, end);
	}
}

/* In place, no allocation (glibc's qsort may allocate): quicksort with a median-of-three
 * pivot, recursing into the smaller part, heap sort when the partitions go bad. */
static void sort_doubles(double *a, size_t n, int depth)
{
	while (n > 16) {
		if (depth-- == 0) {
			heap_sort(a, n);
			return;
		}
		double x0 = a[0], x1 = a[n / 2], x2 = a[n - 1];
		double pivot = x0 < x1 ? (x1 < x2 ? x1 : (x0 < x2 ? x2 : x0))
		                       : (x0 < x2 ? x0 : (x1 < x2 ? x2 : x1));
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
			sort_doubles(a, left, depth);
			a += left;
			n -= left;
		} else {
			sort_doubles(a + left, n - left, depth);
			n = left;
		}
	}
	insertion_sort(a, n);
}

static void sort_all(double *a, size_t n)
{
	int depth = 0;
	for (size_t m = n; m > 1; m >>= 1)
		depth += 2;
	sort_doubles(a, n, depth);
}

/* First index in the sorted a[0..n) whose value is not below x. */
static size_t lower_bound(const double *a, size_t n, double x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The newest block slides: `out` leaves it (when it was full), `in` joins it. */
static void recent_slide(double *r, size_t n, bool full, double out, double in)
{
	if (full) {
		size_t at = lower_bound(r, n, out); /* present: it was inserted before */
		memmove(r + at, r + at + 1, (n - at - 1) * sizeof(double));
		n--;
	}
	size_t at = lower_bound(r, n, in);
	memmove(r + at + 1, r + at, (n - at) * sizeof(double));
	r[at] = in;
}

/* Position p of the window (0 oldest) in the ring. */
static size_t ring(const struct kswin_state *s, size_t p)
{
	size_t i = s->head + p;
	return i >= s->w ? i - s->w : i;
}

/* max |i - j| over the pooled values v, i = #{a <= v}, j = #{b <= v}: D times the common
 * size. scipy computes D in floating point and then rounds D * lcm back to this integer. */
static uint64_t ks_h(const double *a, const double *b, size_t n)
{
	size_t i = 0, j = 0, h = 0;
	while (i < n || j < n) {
		double v = (j >= n || (i < n && a[i] <= b[j])) ? a[i] : b[j];
		while (i < n && a[i] <= v)
			i++;
		while (j < n && b[j] <= v)
			j++;
		size_t diff = i > j ? i - j : j - i;
		if (diff > h)
			h = diff;
	}
	return h;
}

static double kswin_d(const struct kswin_state *s, uint64_t h)
{
	return (double)h * 1.0 / (double)s->k;
}

static bool kswin_decide(const struct kswin_config *c, const struct kswin_state *s, uint64_t h)
{
	return s->pvalue[h] <= c->alpha && kswin_d(s, h) > KSWIN_MIN_D;
}

static int kswin_update(struct driftd_ctx *ctx, const struct driftd_value *v)
{
	const struct kswin_config *c = ctx->config;
	struct kswin_state *s = ctx->state;
	if (v->type != DRIFTD_VALUE_NUMBER || !isfinite(v->num))
		return -EDOM;
	if (!s->win)
		return -EINVAL;
	if (s->drift)
		kswin_reset(s);

	size_t w = s->w, k = s->k;
	/* the value at window position len - k leaves the newest block */
	bool block_full = s->len >= k;
	double leaving = block_full ? s->win[ring(s, s->len - k)] : 0.0;
	if (s->len < w) {
		s->win[ring(s, s->len)] = v->num;
		s->len++;
	} else {
		s->win[s->head] = v->num;
		s->head = ring(s, 1);
	}
	recent_slide(s->recent, block_full ? k : s->len - 1, block_full, leaving, v->num);
	if (s->len < w) {
		s->drift = false;
		return 0;
	}

	dd_pyrandom_sample(&s->rng, (uint32_t)(w - k), (uint32_t)k, s->picks, s->pool);
	for (size_t i = 0; i < k; i++)
		s->sa[i] = s->win[ring(s, s->picks[i])];
	sort_all(s->sa, k);
	s->last_h = ks_h(s->sa, s->recent, k);
	s->drift = kswin_decide(c, s, s->last_h);
	return 0;
}

static int kswin_evaluate(struct driftd_ctx *ctx, struct driftd_verdict *out)
{
	const struct kswin_config *c = ctx->config;
	const struct kswin_state *s = ctx->state;
	bool tested = s->last_h != KSWIN_NO_TEST;
	*out = (struct driftd_verdict){
	    .score = tested ? kswin_d(s, s->last_h) : 0.0,
	    .threshold = c->alpha,
	    .p_value = tested ? s->pvalue[s->last_h] : (double)NAN,
	    .drift = s->drift,
	    .warning = false,
	};
	return 0;
}

/* Snapshot v1: u64 values in the window (n), u64 h of the latest test (2^64 - 1: none),
 * u64 drift (0/1), u64 generator index, 312 u64 holding the generator's 624 words two by two
 * (low word first), then the n window values oldest first as f64. The seed and the parameters
 * come from the configuration. */
static int kswin_snapshot(const struct driftd_ctx *ctx, struct driftd_buf *out)
{
	const struct kswin_state *s = ctx->state;
	driftd_buf_put_u64(out, s->len);
	driftd_buf_put_u64(out, s->last_h);
	driftd_buf_put_u64(out, s->drift ? 1 : 0);
	driftd_buf_put_u64(out, s->rng.index);
	for (size_t i = 0; i < DD_PYRANDOM_N; i += 2)
		driftd_buf_put_u64(out, s->rng.mt[i] | (uint64_t)s->rng.mt[i + 1] << 32);
	for (size_t i = 0; i < s->len; i++)
		driftd_buf_put_f64(out, s->win[ring(s, i)]);
	return out->err;
}

static int kswin_parse(const struct kswin_config *c, struct kswin_state *s, struct driftd_reader *r)
{
	uint64_t len, h, drift, index;
	if (driftd_rd_u64(r, &len) < 0 || driftd_rd_u64(r, &h) < 0 ||
	    driftd_rd_u64(r, &drift) < 0 || driftd_rd_u64(r, &index) < 0)
		return -EBADMSG;
	if (len > s->w || drift > 1 || index > DD_PYRANDOM_N)
		return -EBADMSG;
	/* a full window has always just been tested, a partial one never */
	if ((len == s->w) != (h != KSWIN_NO_TEST) || (h != KSWIN_NO_TEST && h > s->k))
		return -EBADMSG;
	if (drift != (h != KSWIN_NO_TEST && kswin_decide(c, s, h)))
		return -EBADMSG;
	if (r->left != 8 * (DD_PYRANDOM_N / 2 + len))
		return -EBADMSG;
	struct dd_pyrandom rng = {.index = (uint32_t)index};
	for (size_t i = 0; i < DD_PYRANDOM_N; i += 2) {
		uint64_t u;
		if (driftd_rd_u64(r, &u) < 0)
			return -EBADMSG;
		rng.mt[i] = (uint32_t)u;
		rng.mt[i + 1] = (uint32_t)(u >> 32);
	}
	if (!dd_pyrandom_valid(&rng))
		return -EBADMSG;
	for (size_t i = 0; i < len; i++)
		if (driftd_rd_f64_finite(r, &s->win[i]) < 0)
			return -EBADMSG;
	if (r->left != 0)
		return -EBADMSG;
	s->rng = rng;
	s->head = 0;
	s->len = (size_t)len;
	size_t nr = s->len < s->k ? s->len : s->k;
	memcpy(s->recent, s->win + (s->len - nr), nr * sizeof(double));
	sort_all(s->recent, nr);
	s->last_h = h;
	s->drift = drift == 1;
	return 0;
}

static int kswin_restore(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len)
{
	const struct kswin_config *c = ctx->config;
	struct kswin_state *s = ctx->state;
	if (!s->win)
		return -EBADMSG;
	kswin_reset(s);
	if (version != 1 || (!data && len))
		return -EBADMSG;
	struct driftd_reader r = {.p = data, .left = len};
	if (kswin_parse(c, s, &r) < 0) {
		kswin_reset(s);
		return -EBADMSG;
	}
	return 0;
}

const struct driftd_detector_ops driftd_detector_kswin = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "kswin",
    .summary = "Kolmogorov-Smirnov windowing: newest values vs a sample of older ones (as "
               "River).",
    .kind = DRIFTD_KIND_STREAMING,
    .caps = DRIFTD_CAP_P_VALUE,
    .accepts = DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER),
    .params = kswin_params,
    .n_params = sizeof(kswin_params) / sizeof(kswin_params[0]),
    .config_size = sizeof(struct kswin_config),
    .state_size = sizeof(struct kswin_state),
    .snapshot_version = 1,
    .check_config = kswin_check_config,
    .init = kswin_init,
    .update = kswin_update,
    .evaluate = kswin_evaluate,
    .snapshot = kswin_snapshot,
    .restore = kswin_restore,
    .done = kswin_done,
};
