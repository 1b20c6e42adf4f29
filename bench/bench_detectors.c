/* Per-detector cost, for every registered detector, on deterministic data: streaming kinds,
 * ns per update + evaluate; window kinds, ns per update and time per window evaluation with
 * reference = window = 1k / 10k / 100k values; and the bytes each instance allocates (state plus
 * the buffers init asks for, measured with mallinfo2). Prints "name value unit" lines that
 * bench/run.py tabulates next to River and scipy. Data: uniform numbers (a 0/1 error stream
 * for detectors that take booleans, small integers as categories, 16-dimensional vectors). */
#include <malloc.h>
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

static double unit(unsigned long i)
{
	unsigned long long z = (i + 1) * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53;
}

#define DIM 16

/* The value a detector of this kind expects, for stream position i. */
static struct driftd_value value(const struct driftd_detector_ops *ops, unsigned long i,
                                 double vec[DIM])
{
	double u = unit(i);
	if (ops->accepts & DRIFTD_ACCEPTS(DRIFTD_VALUE_BOOL))
		return (struct driftd_value){.type = DRIFTD_VALUE_BOOL, .num = u < 0.1};
	if (ops->kind == DRIFTD_KIND_CATEGORICAL)
		return (struct driftd_value){.type = DRIFTD_VALUE_NUMBER, .num = floor(u * 20)};
	if (ops->accepts == DRIFTD_ACCEPTS(DRIFTD_VALUE_STRING)) {
		/* text detectors (canary): a 60-byte answer */
		static const char t[] = "The parcel left the warehouse and arrives on Monday, sir.";
		return (struct driftd_value){
		    .type = DRIFTD_VALUE_STRING, .str = t, .len = sizeof(t) - 1};
	}
	if (!(ops->accepts & DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER))) {
		for (int k = 0; k < DIM; k++)
			vec[k] = unit(i * DIM + (unsigned long)k + 7);
		return (struct driftd_value){.type = DRIFTD_VALUE_VECTOR, .vec = vec, .dim = DIM};
	}
	return (struct driftd_value){.type = DRIFTD_VALUE_NUMBER, .num = u};
}

static size_t allocated(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static int make(const struct driftd_detector_ops *ops, size_t ref, size_t win,
                struct dd_instance **in, size_t *bytes)
{
	struct driftd_shape shape = {.reference_size = ref, .window_size = win, .seed = 1};
	size_t before = allocated();
	int rc = dd_instance_new(ops, NULL, &shape, in);
	*bytes = allocated() - before;
	return rc;
}

static void streaming(const struct driftd_detector_ops *ops)
{
	struct dd_instance *in;
	size_t bytes;
	if (make(ops, 0, 0, &in, &bytes) < 0)
		return;
	unsigned long n = strcmp(ops->name, "kswin") == 0 ? 200000 : 5000000;
	if (ops->update_event)
		n /= 10; /* the security detectors do more per event */
	double vec[DIM], t0 = now();
	unsigned long drifts = 0;
	/* Security detectors see events: 100 clients, one model identity. */
	static const char sha[] =
	    "9f2ca1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
	char client[16];
	for (unsigned long i = 0; i < n; i++) {
		struct driftd_value v = value(ops, i, vec);
		struct driftd_verdict out;
		if (ops->update_event) {
			int cl = snprintf(client, sizeof(client), "c%lu", (i * 7919) % 100);
			/* client_rate's field is the client id (a number here would be a new
			 * client per event: the worst case, a swarm, not the common one) */
			struct driftd_value idv = {
			    .type = DRIFTD_VALUE_STRING, .str = client, .len = (size_t)cl};
			if (strcmp(ops->name, "client_rate") == 0)
				v = idv;
			struct driftd_event ev = {.value = &v,
			                          .model_id = {"m", 1},
			                          .model_version = {"1", 1},
			                          .model_sha256 = {sha, sizeof(sha) - 1},
			                          .client_id = {client, (size_t)cl},
			                          .ts_ms = (int64_t)i};
			ops->update_event(&in->ctx, &ev);
		} else {
			ops->update(&in->ctx, &v);
		}
		ops->evaluate(&in->ctx, &out);
		drifts += out.drift;
	}
	double dt = now() - t0;
	printf("%s.update %.1f ns (streaming; %lu drifts on noise in %lu values)\n", ops->name,
	       dt / (double)n * 1e9, drifts, n);
	printf("%s.bytes %zu B\n", ops->name, bytes + ops->state_size);
	dd_instance_free(in);
}

static void windowed(const struct driftd_detector_ops *ops, size_t n)
{
	struct dd_instance *in;
	size_t bytes;
	if (make(ops, n, n, &in, &bytes) < 0)
		return;
	double vec[DIM];
	for (size_t i = 0; i < n; i++) {
		struct driftd_value v = value(ops, i, vec);
		ops->reference_add(&in->ctx, &v);
	}
	double t0 = now();
	if (ops->reference_done)
		ops->reference_done(&in->ctx);
	double t_ref = now() - t0;
	double t_upd = 0, t_eval = 0;
	int reps = n <= 1000 ? 20 : n <= 10000 ? 5 : 1;
	for (int r = 0; r < reps; r++) {
		t0 = now();
		for (size_t i = 0; i < n; i++) {
			struct driftd_value v = value(ops, n * (size_t)(r + 1) + i, vec);
			ops->update(&in->ctx, &v);
		}
		double t1 = now();
		struct driftd_verdict out = {.p_value = (double)NAN};
		ops->evaluate(&in->ctx, &out);
		t_eval += now() - t1;
		t_upd += t1 - t0;
		ops->window_reset(&in->ctx);
	}
	if (n == 1000)
		printf("%s.update %.1f ns\n", ops->name, t_upd / ((double)reps * (double)n) * 1e9);
	printf("%s.evaluate_%zu %.1f us (reference_done %.1f us)\n", ops->name, n,
	       t_eval / reps * 1e6, t_ref * 1e6);
	printf("%s.bytes_%zu %zu B\n", ops->name, n, bytes + ops->state_size);
	dd_instance_free(in);
}

int main(int argc, char **argv)
{
	/* An optional argument limits the run to one detector. */
	for (size_t d = 0; d < driftd_n_detectors; d++) {
		const struct driftd_detector_ops *ops = driftd_detectors[d];
		if (argc > 1 && strcmp(argv[1], ops->name) != 0)
			continue;
		if (!driftd_kind_uses_reference(ops->kind)) {
			streaming(ops);
			continue;
		}
		const size_t sizes[] = {1000, 10000, 100000};
		for (int k = 0; k < 3; k++)
			windowed(ops, sizes[k]);
		fflush(stdout);
	}
	return 0;
}
