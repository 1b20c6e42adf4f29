/* Fuzz target: a state snapshot file (lib/snapfile.c) with whatever bytes a crash, a full disk,
 * a bad disk or a hand left in it: verified in memory, and read from disk as the newest
 * generation beside a good older one, which must then be what the reader returns. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void cleanup(void)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/state-0000000000000001.snap", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/state-0000000000000002.snap", dir);
	unlink(p);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/driftd-fuzz-snap-%d", (int)getpid());
		uint64_t g;
		if (dd_snap_write(dir, "good", 4, 2, &g) < 0 || g != 1)
			abort();
		atexit(cleanup);
	}
	uint64_t gen;
	const uint8_t *payload;
	size_t plen;
	char why[256];
	if (dd_snap_verify(data, size, 1 << 20, &gen, &payload, &plen, why, sizeof(why)) == 0 &&
	    (payload != data + DD_SNAP_HEADER || plen != size - DD_SNAP_HEADER))
		abort();

	char p[128];
	snprintf(p, sizeof(p), "%s/state-0000000000000002.snap", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	struct driftd_buf b = {0};
	unsigned skipped;
	int rc = dd_snap_read(dir, 0, 1 << 20, &b, &gen, &skipped, why, sizeof(why));
	/* Either the fuzzed file verified as generation 2, or the good one is returned. */
	if (rc != 0 || (gen == 1 && (skipped != 1 || b.len != 4 || memcmp(b.data, "good", 4))) ||
	    (gen != 1 && (gen != 2 || skipped != 0)))
		abort();
	driftd_buf_free(&b);
	return 0;
}
