/* Per-update cost of the streaming detectors, as the host drives them (update, then evaluate).
 *
 *     bench_streaming [N]          (default N = 2000000 values per run)
 *
 * Streams: standard normal noise (charts re-learn after their false alarms, ADWIN's window
 * grows without bound) and the same noise with the mean moving by 2 every 5000 values (regular
 * drifts and resets). Also KSWIN at larger windows and its init cost (the p-value table). Build
 * in Release for meaningful numbers. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "host.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static double uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return ((double)(rng_state >> 11) + 0.5) * 0x1.0p-53;
}

static double gauss(void)
{
	return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform());
}

struct run {
	const char *name;
	const char *p1;
	double v1;
	const char *p2;
	double v2;
};

/* ns per value over the stream; *drifts counts the drifts seen. */
static double bench(const struct run *r, const double *x, size_t n, size_t *drifts)
{
	const struct driftd_detector_ops *o = driftd_detector_find(r->name);
	if (!o) {
		fprintf(stderr, "no detector %s\n", r->name);
		exit(1);
	}
	void *cfg = calloc(1, o->config_size);
	dd_params_defaults(o, cfg);
	if (r->p1 && dd_param_set_number(o, cfg, r->p1, r->v1) < 0)
		exit(1);
	if (r->p2 && dd_param_set_number(o, cfg, r->p2, r->v2) < 0)
		exit(1);
	struct driftd_shape shape = {.seed = 1};
	struct dd_instance *in;
	if (dd_instance_new(o, cfg, &shape, &in) < 0)
		exit(1);
	struct driftd_value v = {.type = DRIFTD_VALUE_NUMBER};
	struct driftd_verdict out;
	size_t d = 0;
	double t0 = now();
	for (size_t i = 0; i < n; i++) {
		v.num = x[i];
		o->update(&in->ctx, &v);
		o->evaluate(&in->ctx, &out);
		d += out.drift;
	}
	double t = now() - t0;
	dd_instance_free(in);
	free(cfg);
	*drifts = d;
	return t / (double)n * 1e9;
}

static double init_ms(const char *name, const char *p1, double v1, const char *p2, double v2)
{
	const struct driftd_detector_ops *o = driftd_detector_find(name);
	void *cfg = calloc(1, o->config_size);
	dd_params_defaults(o, cfg);
	dd_param_set_number(o, cfg, p1, v1);
	dd_param_set_number(o, cfg, p2, v2);
	struct dd_instance *in;
	double t0 = now();
	if (dd_instance_new(o, cfg, NULL, &in) < 0)
		exit(1);
	double t = now() - t0;
	dd_instance_free(in);
	free(cfg);
	return t * 1e3;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 2000000;
	double *noise = malloc(n * sizeof(double)), *shifts = malloc(n * sizeof(double));
	if (!noise || !shifts)
		return 1;
	for (size_t i = 0; i < n; i++) {
		noise[i] = gauss();
		shifts[i] = noise[i] + 2.0 * (double)((i / 5000) % 2);
	}
	const struct run runs[] = {
	    {"page_hinkley", NULL, 0, NULL, 0},
	    {"cusum", NULL, 0, NULL, 0},
	    {"ewma", NULL, 0, NULL, 0},
	    {"shewhart", NULL, 0, NULL, 0},
	    {"adwin", NULL, 0, NULL, 0},
	    {"adwin", "clock", 1, NULL, 0},
	    {"kswin", NULL, 0, NULL, 0},
	    {"kswin", "window_size", 1000, "stat_size", 100},
	    {"kswin", "window_size", 10000, "stat_size", 1000},
	};
	printf("%-12s %-32s %12s %8s %12s %8s\n", "detector", "params", "noise ns", "drifts",
	       "shifts ns", "drifts");
	for (size_t k = 0; k < sizeof(runs) / sizeof(runs[0]); k++) {
		const struct run *r = &runs[k];
		char params[64] = "defaults";
		if (r->p1 && r->p2)
			snprintf(params, sizeof(params), "%s=%g %s=%g", r->p1, r->v1, r->p2, r->v2);
		else if (r->p1)
			snprintf(params, sizeof(params), "%s=%g", r->p1, r->v1);
		size_t m = n;
		if (r->p1 && r->v1 >= 1000 && m > 200000)
			m = 200000; /* KSWIN at large windows is O(stat_size log stat_size) */
		size_t d1, d2;
		double a = bench(r, noise, m, &d1), b = bench(r, shifts, m, &d2);
		printf("%-12s %-32s %12.1f %8zu %12.1f %8zu\n", r->name, params, a, d1, b, d2);
	}
	printf("kswin init (p-value table): stat_size 30 %.3f ms, 1000 %.3f ms, 10000 %.1f ms\n",
	       init_ms("kswin", "window_size", 100, "stat_size", 30),
	       init_ms("kswin", "window_size", 2000, "stat_size", 1000),
	       init_ms("kswin", "window_size", 20000, "stat_size", 10000));
	free(noise);
	free(shifts);
	return 0;
}
