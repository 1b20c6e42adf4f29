/* Spool write cost per alert: dd_spool_put (temp file, write, fsync, rename, directory fsync)
 * of an alert-sized payload, next to the same system calls without the two fsyncs, so the
 * share of the fsyncs shows. Prints "name value unit" lines like the other benchmarks.
 *
 * usage: bench_spool DIR [N]   (DIR on the file system the spool will live on) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_spool DIR [N]\n");
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 1000;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/bench-spool", argv[1]);
	struct dd_spool *s;
	int rc = dd_spool_open(dir, &s);
	if (rc < 0) {
		fprintf(stderr, "bench_spool: %s: %s\n", dir, strerror(-rc));
		return 1;
	}
	/* A native alert as driftd sends it: about 750 bytes. */
	char payload[760];
	memset(payload, 'x', sizeof(payload));
	struct dd_spool_meta m = {.key = "6a0c7f7e-5b1d-8f43-9a52-0c1e2d3f4a5b", .created_ms = 1};
	char(*names)[DD_SPOOL_NAME_MAX] = calloc((size_t)n, DD_SPOOL_NAME_MAX);

	double t0 = now_s();
	for (int i = 0; i < n; i++)
		if ((rc = dd_spool_put(s, &m, payload, sizeof(payload), names[i], NULL)) < 0) {
			fprintf(stderr, "bench_spool: put: %s\n", strerror(-rc));
			return 1;
		}
	double put = (now_s() - t0) / n;

	t0 = now_s();
	for (int i = 0; i < n; i++)
		dd_spool_remove(s, names[i]);
	double rm = (now_s() - t0) / n;

	/* The same steps without fsync: what the durability costs. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		char tmp[64], name[64];
		snprintf(tmp, sizeof(tmp), ".tmp-nofsync-%d", i);
		snprintf(name, sizeof(name), "nofsync-%d", i);
		int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, payload, sizeof(payload) + 0) < 0 ||
		    write(fd, payload, 200) < 0 || close(fd) < 0 ||
		    renameat(dfd, tmp, dfd, name) < 0) {
			perror("bench_spool: nofsync");
			return 1;
		}
	}
	double nofsync = (now_s() - t0) / n;
	for (int i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof(name), "nofsync-%d", i);
		unlinkat(dfd, name, 0);
	}
	close(dfd);
	dd_spool_close(s);
	free(names);

	printf("spool_put %.1f us/alert (temp file, fsync, rename, directory fsync; %d alerts of "
	       "%zu bytes)\n",
	       put * 1e6, n, sizeof(payload));
	printf("spool_put_nofsync %.1f us/alert (same steps without the two fsyncs)\n",
	       nofsync * 1e6);
	printf("spool_fsync_share %.0f %% (of spool_put)\n", 100.0 * (put - nofsync) / put);
	printf("spool_remove %.1f us/alert (after delivery)\n", rm * 1e6);
	printf("spool_put_rate %.0f alerts/s (one thread)\n", 1.0 / put);
	return 0;
}
