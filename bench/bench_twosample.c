/* Two-sample detector benchmark: milliseconds per window evaluation (the window sorted, the
 * statistic and the p-value) at reference = window = 1k, 10k, 100k, on the deterministic data
 * that bench/bench_twosample.py hands to scipy for the same figures. Also the update cost and
 * the Mann-Whitney exact path (8 window values against a large reference).
 *
 * usage: bench_twosample [detector ...]   (default: all six) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* uniform [0, 1) from a splitmix-style hash of i (bench_twosample.py computes the same) */
static double val(unsigned long long i)
{
	unsigned long long z = (i + 1) * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53;
}

static void windowed(const char *name, size_t ref, size_t win, int reps, double shift)
{
	const struct driftd_detector_ops *ops = driftd_detector_find(name);
	struct driftd_shape shape = {.reference_size = ref, .window_size = win};
	struct dd_instance *in;
	if (!ops || dd_instance_new(ops, NULL, &shape, &in) < 0) {
		fprintf(stderr, "%s: cannot create\n", name);
		exit(1);
	}
	for (size_t i = 0; i < ref; i++)
		dd_instance_reference_number(in, val(i));
	ops->reference_done(&in->ctx);
	double t_upd = 0, t_eval = 0, p = 0, score = 0;
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		for (size_t i = 0; i < win; i++)
			dd_instance_update_number(in, val(ref + i) + shift);
		double t1 = now();
		struct driftd_verdict out;
		if (ops->evaluate(&in->ctx, &out) < 0) {
			fprintf(stderr, "%s: evaluate failed\n", name);
			exit(1);
		}
		t_eval += now() - t1;
		t_upd += t1 - t0;
		p = out.p_value;
		score = out.score;
		ops->window_reset(&in->ctx);
	}
	printf("%-12s %7zu x %-7zu evaluate %10.3f ms   update %5.1f ns   score %.6g p %.6g\n",
	       name, ref, win, t_eval / reps * 1e3, t_upd / ((double)reps * (double)win) * 1e9,
	       score, p);
	dd_instance_free(in);
}

int main(int argc, char **argv)
{
	static const char *const all[] = {"ks",          "anderson",    "cvm",
	                                  "mannwhitney", "wasserstein", "energy"};
	const char *const *names = argc > 1 ? (const char *const *)(argv + 1) : all;
	size_t nn = argc > 1 ? (size_t)(argc - 1) : sizeof(all) / sizeof(all[0]);
	for (size_t k = 0; k < nn; k++) {
		windowed(names[k], 1000, 1000, 200, 0.01);
		windowed(names[k], 10000, 10000, 30, 0.01);
		windowed(names[k], 100000, 100000, 5, 0.01);
		if (strcmp(names[k], "mannwhitney") == 0) {
			windowed(names[k], 10000, 8, 30, 0.01);
			windowed(names[k], 100000, 8, 5, 0.01);
		}
	}
	return 0;
}
