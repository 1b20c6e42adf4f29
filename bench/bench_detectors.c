/* Detector micro-benchmarks: ns per update for the streaming and binned detectors, and time
 * per window evaluation for KS, on deterministic data. Prints one "name value unit" line per
 * figure for bench/run.py to tabulate next to the Python peers. */
#include <math.h>
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

static double val(unsigned long i)
{
	unsigned long long z = (i + 1) * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53;
}

static void streaming(const char *name, unsigned long n)
{
	const struct driftd_detector_ops *ops = driftd_detector_find(name);
	struct dd_instance *in;
	if (dd_instance_new(ops, NULL, NULL, &in) < 0)
		exit(1);
	double *xs = malloc(n * sizeof(double));
	for (unsigned long i = 0; i < n; i++)
		xs[i] = val(i);
	double t0 = now();
	unsigned long drifts = 0;
	for (unsigned long i = 0; i < n; i++) {
		struct driftd_value v = {.type = DRIFTD_VALUE_NUMBER, .num = xs[i]};
		struct driftd_verdict out;
		ops->update(&in->ctx, &v);
		ops->evaluate(&in->ctx, &out);
		drifts += out.drift;
	}
	double dt = now() - t0;
	printf("%s_update_evaluate %.2f ns (drifts %lu)\n", name, dt / (double)n * 1e9, drifts);
	free(xs);
	dd_instance_free(in);
}

static void windowed(const char *name, size_t ref, size_t win, int reps, double shift)
{
	const struct driftd_detector_ops *ops = driftd_detector_find(name);
	struct driftd_shape shape = {.reference_size = ref, .window_size = win};
	struct dd_instance *in;
	if (dd_instance_new(ops, NULL, &shape, &in) < 0)
		exit(1);
	for (size_t i = 0; i < ref; i++)
		dd_instance_reference_number(in, val(i));
	ops->reference_done(&in->ctx);
	double t_upd = 0, t_eval = 0;
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		for (size_t i = 0; i < win; i++)
			dd_instance_update_number(in, val(ref + (size_t)r * win + i) + shift);
		double t1 = now();
		struct driftd_verdict out;
		ops->evaluate(&in->ctx, &out);
		t_eval += now() - t1;
		t_upd += t1 - t0;
		ops->window_reset(&in->ctx);
	}
	printf("%s_update %.2f ns\n", name, t_upd / ((double)reps * (double)win) * 1e9);
	printf("%s_evaluate_%zux%zu%s %.1f us\n", name, ref, win, shift > 0 ? "_shifted" : "",
	       t_eval / reps * 1e6);
	dd_instance_free(in);
}

int main(void)
{
	streaming("page_hinkley", 20000000);
	windowed("psi", 5000, 5000, 200, 0);
	windowed("ks", 5000, 5000, 200, 0);
	windowed("ks", 5000, 5000, 50, 0.3);
	windowed("ks", 5000, 1000, 50, 0);
	return 0;
}
