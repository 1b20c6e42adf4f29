/* Decode throughput on a JSONL workload (bench/gen_workload.py). The file is read into memory,
 * then every line is decoded with the 12-pointer fieldset of the reference workload (f0..f9,
 * country, score) plus the metadata, --passes times; the best pass is reported. Then the same
 * work with jansson (json_loadb, the same 12 values and the metadata, ts parsed) on the first
 * --peer-events lines, as the peer the design measured first.
 *
 * Output: one "name value unit [note]" line per figure (bench/run.py reads them), or one JSON
 * object with --json.
 *
 * usage: bench_decode FILE.jsonl [--passes N] [--pointers P1,P2,...] [--peer-events N] [--json]
 * (--pointers replaces the 12 reference pointers, e.g. to see what reading fewer fields costs;
 * the drift check then reads the 4th pointer. --peer-events 0 skips jansson.) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>

#include "decode.h"

#define MAXPTR 64
static const char *pointers[MAXPTR] = {
    "/input/f0", "/input/f1", "/input/f2", "/input/f3", "/input/f4",      "/input/f5",
    "/input/f6", "/input/f7", "/input/f8", "/input/f9", "/input/country", "/output/score",
};
static size_t nptr = 12;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long peak_rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
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

/* ---- jansson peer: the same values through json_object_get / json_array_get ---- */

struct jptr {
	char *copy;
	char *segs[16];
	size_t n;
};

static void jptr_compile(const char *p, struct jptr *j)
{
	char *copy = j->copy = strdup(p);
	j->n = 0;
	for (char *s = copy ? strtok(copy, "/") : NULL; s && j->n < 16; s = strtok(NULL, "/"))
		j->segs[j->n++] = s; /* the bench pointers have no ~ escapes */
}

static json_t *jptr_get(json_t *v, const struct jptr *j)
{
	for (size_t i = 0; v && i < j->n; i++) {
		if (json_is_object(v))
			v = json_object_get(v, j->segs[i]);
		else if (json_is_array(v))
			v = json_array_get(v, strtoul(j->segs[i], NULL, 10));
		else
			v = NULL;
	}
	return v;
}

/* Returns the number of records jansson accepted; sum folds the values in. */
static size_t jansson_pass(const char *data, const size_t *starts, const size_t *lens, size_t n,
                           double *sum)
{
	static const char *const meta[] = {"/model/id", "/model/version", "/model/sha256",
	                                   "/client/id", "/request_id"};
	struct jptr jp[MAXPTR], jm[5], jts;
	for (size_t k = 0; k < nptr; k++)
		jptr_compile(pointers[k], &jp[k]);
	for (size_t k = 0; k < 5; k++)
		jptr_compile(meta[k], &jm[k]);
	jptr_compile("/ts", &jts);
	size_t ok = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *root = json_loadb(data + starts[i], lens[i], JSON_DECODE_ANY, NULL);
		if (!root)
			continue;
		if (!json_is_object(root) || !json_is_string(jptr_get(root, &jm[0]))) {
			json_decref(root);
			continue;
		}
		for (size_t k = 1; k < 5; k++) {
			json_t *s = jptr_get(root, &jm[k]);
			*sum += s && json_is_string(s) ? (double)json_string_length(s) : 0;
		}
		json_t *ts = jptr_get(root, &jts);
		int64_t ms = 0;
		if (json_is_string(ts))
			dd_parse_rfc3339(json_string_value(ts), json_string_length(ts), &ms);
		*sum += (double)(ms & 1);
		for (size_t k = 0; k < nptr; k++) {
			json_t *v = jptr_get(root, &jp[k]);
			if (json_is_number(v))
				*sum += json_number_value(v);
			else if (json_is_string(v))
				*sum += (double)json_string_length(v);
		}
		json_decref(root);
		ok++;
	}
	for (size_t k = 0; k < nptr; k++)
		free(jp[k].copy);
	for (size_t k = 0; k < 5; k++)
		free(jm[k].copy);
	free(jts.copy);
	return ok;
}

static int usage(const char *argv0)
{
	fprintf(stderr,
	        "usage: %s FILE.jsonl [--passes N] [--pointers LIST] [--peer-events N] [--json]\n",
	        argv0);
	return 2;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int passes = 3;
	long peer_events = 200000;
	int json = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--passes") && i + 1 < argc)
			passes = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--peer-events") && i + 1 < argc)
			peer_events = atol(argv[++i]);
		else if (!strcmp(argv[i], "--pointers") && i + 1 < argc) {
			nptr = 0;
			for (char *tok = strtok(argv[++i], ","); tok && nptr < MAXPTR;
			     tok = strtok(NULL, ","))
				pointers[nptr++] = tok;
		} else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else
			return usage(argv[0]);
	}
	if (!path || passes < 1 || peer_events < 0)
		return usage(argv[0]);
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
	if (!nlines) {
		fprintf(stderr, "bench_decode: %s: no records\n", path);
		return 1;
	}

	struct dd_fieldset *fs;
	struct dd_decoder *d;
	int rc = dd_fieldset_new(pointers, nptr, &fs);
	if (rc == 0)
		rc = dd_decoder_new(NULL, &d);
	if (rc < 0) {
		fprintf(stderr, "bench_decode: setup: %s\n", strerror(-rc));
		return 1;
	}
	struct driftd_value out[MAXPTR];
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
			for (size_t k = 0; k < nptr; k++)
				missing += out[k].type == DRIFTD_VALUE_NONE;
			if (nptr > 3 && out[3].type == DRIFTD_VALUE_NUMBER) {
				int half = i >= nlines / 2;
				f3_sum[half] += out[3].num;
				f3_n[half]++;
			}
		}
		double dt = now() - t0;
		if (p == 0 || dt < best)
			best = dt;
	}
	long rss = peak_rss_kib();
	double eps = (double)nlines / best;
	double mbs = (double)len / best / 1e6;
	double nse = best * 1e9 / (double)nlines;
	double shift = (f3_n[0] ? f3_sum[0] / (double)f3_n[0] : 0) -
	               (f3_n[1] ? f3_sum[1] / (double)f3_n[1] : 0);
	dd_decoder_free(d);
	dd_fieldset_free(fs);

	size_t pn = (size_t)peer_events < nlines ? (size_t)peer_events : nlines;
	double jeps = 0, jnse = 0, jsum = 0;
	size_t jok = 0;
	if (pn) {
		double t0 = now();
		jok = jansson_pass(data, starts, lens, pn, &jsum);
		double dt = now() - t0;
		jeps = (double)pn / dt;
		jnse = dt * 1e9 / (double)pn;
	}

	if (json) {
		printf(
		    "{\"bench\":\"decode\",\"events\":%zu,\"bytes\":%zu,\"pointers\":%zu,"
		    "\"passes\":%d,\"decode_events_per_s\":%.0f,\"decode_ns_per_event\":%.1f,"
		    "\"decode_mb_per_s\":%.1f,\"decode_peak_rss_kib\":%ld,\"decode_rejected\":%zu,"
		    "\"decode_missing\":%zu,\"f3_shift\":%.4f,\"jansson_events\":%zu,"
		    "\"jansson_events_per_s\":%.0f,\"jansson_ns_per_event\":%.1f}\n",
		    nlines, len, nptr, passes, eps, nse, mbs, rss, rejected, missing, -shift, pn,
		    jeps, jnse);
	} else {
		printf("decode_events %zu events (%.1f MB, %zu pointers + metadata, best of %d "
		       "passes)\n",
		       nlines, (double)len / 1e6, nptr, passes);
		printf("decode_events_per_s %.0f ev/s\n", eps);
		printf("decode_ns_per_event %.1f ns\n", nse);
		printf("decode_mb_per_s %.1f MB/s\n", mbs);
		printf("decode_peak_rss %.1f MiB (includes the input held in memory)\n",
		       (double)rss / 1024);
		printf("decode_rejected %zu records (missing values: %zu)\n", rejected, missing);
		if (nptr > 3)
			printf("decode_f3_shift %.4f (second half minus first half of %s)\n",
			       -shift, pointers[3]);
		if (pn) {
			printf(
			    "jansson_events_per_s %.0f ev/s (json_loadb + the same values, first "
			    "%zu events, %zu accepted)\n",
			    jeps, pn, jok);
			printf("jansson_ns_per_event %.1f ns\n", jnse);
			printf("decode_vs_jansson %.1f x\n", eps / jeps);
		}
	}
	free(starts);
	free(lens);
	free(data);
	return rejected == nlines ? 1 : 0;
}
