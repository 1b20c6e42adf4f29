/* Throughput with state per partition and snapshots on (`make bench`): the reference workload
 * (bench/workload.yaml, 12 monitors) through one pipeline, records spread over P partitions
 * as the Kafka source spreads them (one shard of monitor state each), with
 *   - one unpartitioned shard (replay's layout): the baseline,
 *   - P shards, no snapshots: the cost of keeping state per partition,
 *   - P shards and a durable snapshot of every partition (daemon/state_store.c: save, dump,
 *     temp file, fsync, rename, directory fsync) every K records: the cost of snapshots, and
 *     what it comes to at the default interval of 5 s.
 * Figures are printed, never asserted.
 * usage: bench_partitions WORKLOAD.jsonl CONFIG.yaml STATE_DIR [PARTITIONS] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline.h"
#include "snapfile.h"
#include "state_store.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct lines {
	char *buf;
	size_t *off, *len, n;
};

static int read_lines(const char *path, struct lines *l)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	rewind(f);
	l->buf = malloc((size_t)size + 1);
	if (!l->buf || fread(l->buf, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	size_t cap = 1 << 20;
	l->off = malloc(cap * sizeof(size_t));
	l->len = malloc(cap * sizeof(size_t));
	for (size_t i = 0, start = 0; i < (size_t)size; i++)
		if (l->buf[i] == '\n') {
			if (l->n == cap) {
				cap *= 2;
				l->off = realloc(l->off, cap * sizeof(size_t));
				l->len = realloc(l->len, cap * sizeof(size_t));
			}
			l->off[l->n] = start;
			l->len[l->n++] = i - start;
			start = i + 1;
		}
	return 0;
}

struct result {
	double secs, snap_s;
	unsigned snaps;
	size_t bytes;
};

/* Feed every line; partitions > 0 spreads them round-robin as Kafka partitions, and every
 * `every` records (0: never) writes a snapshot of every partition into st. */
static int run(const struct dd_config *c, const struct lines *l, int partitions, size_t every,
               struct dd_state_store *st, struct result *r)
{
	struct dd_pipeline *p = NULL;
	struct dd_pipeline_opts o = {.defer_sinks = true, .partitioned = partitions > 0};
	if (dd_pipeline_new(c, &o, &p) < 0)
		return -1;
	struct dd_positions pos = {0};
	for (int k = 0; k < partitions; k++) {
		struct dd_partition_pos *e = dd_positions_get(&pos, "logs", k);
		e->live = true;
	}
	*r = (struct result){0};
	double t0 = now_s();
	for (size_t i = 0; i < l->n; i++) {
		int part = partitions > 0 ? (int)(i % (size_t)partitions) : 0;
		struct dd_origin at = {.kafka = true,
		                       .topic = "logs",
		                       .partition = part,
		                       .offset =
		                           (int64_t)(i / (size_t)(partitions > 0 ? partitions : 1)),
		                       .index = i};
		if (dd_pipeline_feed(p, l->buf + l->off[i], l->len[i], &at) < 0)
			return -1;
		if (partitions > 0)
			pos.p[part].next = at.offset + 1;
		if (every && st && (i + 1) % every == 0) {
			double a = now_s();
			uint64_t gen;
			if (dd_state_save(st, p, &pos, &gen) < 0)
				return -1;
			r->snap_s += now_s() - a;
			r->snaps++;
		}
	}
	r->secs = now_s() - t0;
	if (st && partitions > 0) {
		json_t *doc = dd_state_document(p, &pos);
		char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
		r->bytes = text ? strlen(text) : 0;
		free(text);
		json_decref(doc);
	}
	dd_positions_free(&pos);
	dd_pipeline_free(p);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr,
		        "usage: bench_partitions WORKLOAD.jsonl CONFIG.yaml STATE_DIR [P]\n");
		return 2;
	}
	int parts = argc > 4 ? atoi(argv[4]) : 6;
	struct lines l = {0};
	struct dd_config *c = NULL;
	if (read_lines(argv[1], &l) < 0 || dd_config_load(argv[2], 0, stderr, &c) < 0)
		return 1;
	struct dd_state_store *st = NULL;
	if (dd_state_open(argv[3], "bench", NULL, &st) < 0)
		return 1;
	size_t every = 100000;
	struct result flat, sharded, snap;
	if (run(c, &l, 0, 0, NULL, &flat) < 0 || run(c, &l, parts, 0, NULL, &sharded) < 0 ||
	    run(c, &l, parts, every, st, &snap) < 0)
		return 1;
	double n = (double)l.n;
	printf("partitions_flat %.0f events/s (one shard, %zu events, %zu monitors)\n",
	       n / flat.secs, l.n, c->n_monitors);
	printf("partitions_sharded %.0f events/s (%d partitions, a shard each; %.2fx the flat "
	       "rate)\n",
	       n / sharded.secs, parts, flat.secs / sharded.secs);
	double per = snap.snaps ? snap.snap_s / snap.snaps : 0;
	printf("partitions_snapshots %.0f events/s (%d partitions, a durable snapshot every %zu "
	       "events: %u snapshots, %.1f ms each, %.0f KiB)\n",
	       n / snap.secs, parts, every, snap.snaps, per * 1e3, (double)snap.bytes / 1024.0);
	printf(
	    "partitions_snapshot_overhead_5s %.3f %% of one core at the default interval (5 s)\n",
	    per / 5.0 * 100.0);
	dd_state_close(st);
	/* Leave no bench files behind. */
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/state/bench", argv[3]);
	uint64_t *gens;
	size_t ng;
	if (dd_snap_list(dir, &gens, &ng) == 0) {
		for (size_t i = 0; i < ng; i++) {
			char f[4300];
			snprintf(f, sizeof(f), "%s/state-%016llx.snap", dir,
			         (unsigned long long)gens[i]);
			remove(f);
		}
		free(gens);
	}
	dd_config_free(c);
	free(l.buf);
	free(l.off);
	free(l.len);
	return 0;
}
