/* State snapshot cost (`make bench`): 1000 monitors of a realistic mix (two-sample detectors
 * with references of 1000 values, binned and categorical ones, streaming ones, a calibrated and
 * a cumulative policy), references learnt, a window half full. Prints the snapshot's size, the
 * time to build and write one generation durably (save + dump + temp/fsync/rename/dir fsync),
 * the time to restore it (read + verify + parse + load), and what a snapshot every 5 s costs
 * against the pipeline's ingest time. Figures are printed, never asserted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "pipeline.h"
#include "snapfile.h"

#define N_MON 1000

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp/driftd-bench-state";
	static const char *const kinds[] = {
	    "detector: ks, reference: {size: 1000}, window: {size: 500}",
	    "detector: psi, reference: {size: 1000}, window: {size: 500}",
	    "detector: wasserstein, reference: {size: 1000}, window: {size: 500}",
	    "detector: ks, params: {calibrate: 3}, reference: {size: 1000}, window: {size: 500}",
	    "detector: wasserstein, cumulative: {k: 1, h: 10}, reference: {size: 1000},"
	    " window: {size: 500}",
	    "detector: page_hinkley",
	    "detector: adwin",
	    "detector: cusum",
	};
	size_t nk = sizeof(kinds) / sizeof(kinds[0]);
	size_t cap = 256 + N_MON * 200, len = 0;
	char *yaml = malloc(cap);
	len += (size_t)snprintf(yaml + len, cap - len, "monitors:\n");
	for (int i = 0; i < N_MON; i++)
		len += (size_t)snprintf(yaml + len, cap - len,
		                        "  - {name: m%d, field: /input/f%d, %s}\n", i, i % 10,
		                        kinds[i % nk]);
	snprintf(yaml + len, cap - len, "alerts: {sinks: []}\n");
	struct dd_config *c = NULL;
	if (dd_config_parse("<bench>", yaml, strlen(yaml), 0, stderr, &c) < 0)
		return 1;
	struct dd_pipeline *p = NULL;
	struct dd_pipeline_opts o = {.defer_sinks = true};
	if (dd_pipeline_new(c, &o, &p) < 0)
		return 1;
	/* References full, the first window half full: the largest state these monitors hold. */
	char rec[512];
	unsigned long long seed = 7;
	double t0 = now_s();
	int n_events = 1250;
	for (int i = 0; i < n_events; i++) {
		int off = snprintf(rec, sizeof(rec), "{\"model\":{\"id\":\"m\"},\"input\":{");
		for (int f = 0; f < 10; f++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			double x = (double)(seed >> 11) / 9007199254740992.0;
			off += snprintf(rec + off, sizeof(rec) - (size_t)off, "%s\"f%d\":%.6f",
			                f ? "," : "", f, x);
		}
		snprintf(rec + off, sizeof(rec) - (size_t)off, "}}");
		struct dd_origin at = {.input = "bench", .index = (uint64_t)i};
		dd_pipeline_feed(p, rec, strlen(rec), &at);
	}
	double ingest_s = now_s() - t0;

	const int rounds = 5;
	double save_s = 0, write_s = 0, read_s = 0, load_s = 0;
	size_t bytes = 0;
	for (int r = 0; r < rounds; r++) {
		double a = now_s();
		json_t *doc;
		if (dd_pipeline_save(p, &doc) < 0)
			return 1;
		char *text =
		    json_dumps(doc, JSON_SORT_KEYS | JSON_REAL_PRECISION(17) | JSON_COMPACT);
		json_decref(doc);
		double b = now_s();
		uint64_t gen;
		if (!text || dd_snap_write(dir, text, strlen(text), 3, &gen) < 0)
			return 1;
		double d = now_s();
		bytes = strlen(text);
		free(text);
		struct driftd_buf buf = {0};
		uint64_t got;
		unsigned skipped;
		char why[256];
		if (dd_snap_read(dir, 0, 1ull << 32, &buf, &got, &skipped, why, sizeof(why)) < 0)
			return 1;
		json_error_t e;
		json_t *back = json_loadb((const char *)buf.data, buf.len, 0, &e);
		double f = now_s();
		struct dd_pipeline *q = NULL;
		struct dd_load_report rep;
		if (!back || dd_pipeline_new(c, &o, &q) < 0 ||
		    dd_pipeline_load(q, back, &rep, why, sizeof(why)) < 0 || rep.restored != N_MON)
			return 1;
		double g = now_s();
		dd_pipeline_free(q);
		json_decref(back);
		driftd_buf_free(&buf);
		save_s += b - a;
		write_s += d - b;
		read_s += f - d;
		load_s += g - f;
	}
	double snap_ms = (save_s + write_s) / rounds * 1e3;
	printf("state_monitors %d monitors (ks, psi, wasserstein, calibrated ks, cumulative "
	       "wasserstein: reference 1000, window 500; page_hinkley, adwin, cusum)\n",
	       N_MON);
	printf("state_snapshot_bytes %.0f bytes (%.1f KiB per monitor)\n", (double)bytes,
	       (double)bytes / 1024.0 / N_MON);
	printf("state_save_ms %.1f ms (monitors to JSON text)\n", save_s / rounds * 1e3);
	printf("state_write_ms %.1f ms (temp file, fsync, rename, directory fsync)\n",
	       write_s / rounds * 1e3);
	printf("state_restore_ms %.1f ms (read + verify %.1f, load into a new pipeline %.1f)\n",
	       (read_s + load_s) / rounds * 1e3, read_s / rounds * 1e3, load_s / rounds * 1e3);
	printf("state_overhead_5s %.2f %% of one core for a snapshot every 5 s (%.1f ms each)\n",
	       snap_ms / 5000.0 * 100.0, snap_ms);
	printf("state_ingest %.0f events/s while building the state (%d events x %d monitors)\n",
	       n_events / ingest_s, n_events, N_MON);
	dd_pipeline_free(p);
	dd_config_free(c);
	free(yaml);
	/* Leave no bench files behind. */
	uint64_t *gens;
	size_t ng;
	if (dd_snap_list(dir, &gens, &ng) == 0) {
		for (size_t i = 0; i < ng; i++) {
			char path[4200];
			snprintf(path, sizeof(path), "%s/state-%016llx.snap", dir,
			         (unsigned long long)gens[i]);
			unlink(path);
		}
		free(gens);
		rmdir(dir);
	}
	return 0;
}
