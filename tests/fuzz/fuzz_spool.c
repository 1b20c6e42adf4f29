/* Fuzz target: reading a spool file (lib/spool.c) whatever a crash, a full disk or a hand left
 * in it: arbitrary bytes under a message's name, read with and without the payload. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dd_spool *spool;
static char dir[64];

static void cleanup(void)
{
	char p[128];
	dd_spool_close(spool);
	snprintf(p, sizeof(p), "%s/0000000000000000-00000000.msg", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/.lock", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/dead", dir);
	rmdir(p);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!spool) {
		snprintf(dir, sizeof(dir), "/tmp/driftd-fuzz-spool-%d", (int)getpid());
		if (dd_spool_open(dir, &spool) < 0)
			abort();
		atexit(cleanup);
	}
	char p[128];
	snprintf(p, sizeof(p), "%s/0000000000000000-00000000.msg", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	struct dd_spool_meta m;
	struct driftd_buf b = {0};
	uint64_t sz;
	int rc = dd_spool_read(spool, "0000000000000000-00000000.msg", &m, &b, &sz);
	if (rc == 0 && (!dd_spool_key_ok(m.key, strlen(m.key)) || b.len > size))
		abort();
	rc = dd_spool_read(spool, "0000000000000000-00000000.msg", &m, NULL, NULL);
	if (rc == 0 && !dd_spool_key_ok(m.key, strlen(m.key)))
		abort();
	driftd_buf_free(&b);
	return 0;
}
