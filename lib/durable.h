/* Durable file writes, shared by the spool and the state snapshots: the protocol that survived
 * 100 of 100 kill -9 runs (reference/reliability.md): write a temp file beside the target,
 * fsync it, close, rename over the target, fsync the directory. A reader sees the old file or
 * the new one, never half of one. */
#ifndef DRIFTD_DURABLE_H
#define DRIFTD_DURABLE_H

#include <stddef.h>
#include <sys/uio.h>

#define DD_DURABLE_TMP_PREFIX ".tmp-"

/* mkdir -p with mode 0700 for every directory created. */
int dd_mkdir_p(const char *path);
/* write(2) until done (EINTR retried); 0 or -errno. */
int dd_write_all(int fd, const void *p, size_t n);
/* Write the concatenation of parts to dirfd/name durably (through dirfd/.tmp-name, mode 0600).
 * On failure the temp file is removed and the target is untouched. 0 or -errno. */
int dd_durable_write(int dirfd, const char *name, const struct iovec *parts, size_t nparts);

#endif
