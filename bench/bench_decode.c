/* Decode throughput on a JSONL workload (bench/gen_workload.py): the file is read into memory,
 * then every line is decoded with the 12-pointer fieldset of the reference workload (f0..f9,
 * country, score) plus the metadata, --passes times; the best pass is reported. Also prints
 * the mean of /input/f3 in each half as a sanity check on the workload's drift.
 *
 * usage: bench_decode FILE.jsonl [--passes N] [--json] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "decode.h"

static const char *const pointers[] = {
    "/input/f0", "/input/f1", "/input/f2", "/input/f3", "/input/f4",      "/input/f5",
    "/input/f6", "/input/f7", "/input/f8", "/input/f9", "/input/country", "/output/score",
};
#define NPTR (sizeof(pointers) / sizeof(pointers[0]))

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : (size_t)1 << 24;
			char *b = realloc(buf, cap);
			if (!b) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = b;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	*len = n;
	return buf;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int passes = 3;
	int json = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--passes") && i + 1 < argc)
			passes = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else {
			fprintf(stderr, "usage: %s FILE.jsonl [--passes N] [--json]\n", argv[0]);
			return 2;
		}
	}
	if (!path || passes < 1) {
		fprintf(stderr, "usage: %s FILE.jsonl [--passes N] [--json]\n", argv[0]);
		return 2;
	}
	size_t len;
	char *data = slurp(path, &len);
	if (!data) {
		fprintf(stderr, "bench_decode: %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* Line index up front, so the timed loop is decode only. */
	size_t nlines = 0, cap = 1 << 20;
	size_t *starts = malloc(cap * sizeof(*starts));
	size_t *lens = malloc(cap * sizeof(*lens));
	for (size_t off = 0; starts && lens && off < len;) {
		const char *nl = memchr(data + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - data) : len;
		if (nlines == cap) {
			cap *= 2;
			starts = realloc(starts, cap * sizeof(*starts));
			lens = realloc(lens, cap * sizeof(*lens));
			if (!starts || !lens)
				break;
		}
		starts[nlines] = off;
		lens[nlines++] = end - off;
		off = end + 1;
	}
	if (!starts || !lens) {
		fprintf(stderr, "bench_decode: out of memory\n");
		return 1;
	}

	struct dd_fieldset *fs;
	struct dd_decoder *d;
	int rc = dd_fieldset_new(pointers, NPTR, &fs);
	if (rc == 0)
		rc = dd_decoder_new(NULL, &d);
	if (rc < 0) {
		fprintf(stderr, "bench_decode: setup: %s\n", strerror(-rc));
		return 1;
	}
	struct driftd_value out[NPTR];
	struct dd_meta meta;
	double best = 0;
	size_t rejected = 0, missing = 0;
	double f3_sum[2] = {0, 0};
	size_t f3_n[2] = {0, 0};
	for (int p = 0; p < passes; p++) {
		rejected = missing = 0;
		f3_sum[0] = f3_sum[1] = 0;
		f3_n[0] = f3_n[1] = 0;
		double t0 = now();
		for (size_t i = 0; i < nlines; i++) {
			enum dd_reject why;
			if (dd_decode(d, fs, data + starts[i], lens[i], &meta, out, &why) != 0) {
				rejected++;
				continue;
			}
			for (size_t k = 0; k < NPTR; k++)
				missing += out[k].type == DRIFTD_VALUE_NONE;
			if (out[3].type == DRIFTD_VALUE_NUMBER) {
				int half = i >= nlines / 2;
				f3_sum[half] += out[3].num;
				f3_n[half]++;
			}
		}
		double dt = now() - t0;
		if (p == 0 || dt < best)
			best = dt;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double eps = (double)nlines / best;
	double mbs = (double)len / best / 1e6;
	double nse = best * 1e9 / (double)(nlines ? nlines : 1);
	double m0 = f3_n[0] ? f3_sum[0] / (double)f3_n[0] : 0;
	double m1 = f3_n[1] ? f3_sum[1] / (double)f3_n[1] : 0;
	if (json)
		printf("{\"bench\":\"decode\",\"events\":%zu,\"bytes\":%zu,\"passes\":%d,"
		       "\"events_per_s\":%.0f,\"ns_per_event\":%.1f,\"mb_per_s\":%.1f,"
		       "\"peak_rss_kb\":%ld,\"rejected\":%zu,\"missing\":%zu}\n",
		       nlines, len, passes, eps, nse, mbs, ru.ru_maxrss, rejected, missing);
	else
		printf("decode: %zu events, %.1f MB, best of %d passes\n"
		       "  events/s     %.0f\n"
		       "  ns/event     %.1f\n"
		       "  MB/s         %.1f\n"
		       "  peak RSS     %ld KiB (includes the input held in memory)\n"
		       "  rejected     %zu, missing values %zu\n"
		       "  mean f3      %.4f (first half), %.4f (second half)\n",
		       nlines, (double)len / 1e6, passes, eps, nse, mbs, ru.ru_maxrss, rejected,
		       missing, m0, m1);
	dd_decoder_free(d);
	dd_fieldset_free(fs);
	free(starts);
	free(lens);
	free(data);
	return rejected == nlines && nlines ? 1 : 0;
}
