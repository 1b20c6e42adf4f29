/* Snapshot files: numbered generations of one opaque state document in a directory, written
 * with the protocol that survived 100 of 100 kill -9 runs (temp file, fsync, rename, directory
 * fsync; reference/reliability.md) and read back as hostile input.
 *
 * Layout of DIR (created 0700, files 0600):
 *   DIR/state-<16 hex generation>.snap   generations; the newest valid one is current
 *   DIR/.tmp-state-<...>.snap            being written (left behind by a crash: removed)
 * A file is a 64-byte header, then the payload:
 *   "DRIFTDSN" | u32 LE format version (1) | u32 LE flags (0) | u64 LE generation |
 *   u64 LE payload length | SHA-256 of the payload
 * A file whose header, length or checksum does not verify is never trusted: readers fall back
 * to the previous generation and say why. Older generations beyond `keep` are deleted after a
 * new one is durable, so a known good state can be restored (`driftd state restore
 * --generation N`). */
#ifndef DRIFTD_SNAPFILE_H
#define DRIFTD_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include <driftd/detector.h>

#define DD_SNAP_HEADER   64
#define DD_SNAP_VERSION  1
#define DD_SNAP_KEEP_MIN 2 /* the current generation and one to fall back to */

/* Write data as a new generation (newest + 1) durably, then delete generations older than the
 * `keep` newest (keep >= DD_SNAP_KEEP_MIN). *generation gets the new number. On failure
 * nothing new is left behind and the older generations are untouched. */
int dd_snap_write(const char *dir, const void *data, size_t len, unsigned keep,
                  uint64_t *generation);

/* Read a generation: `want` 0 means the newest that verifies; otherwise exactly that one.
 * Payloads longer than max_len are rejected. On success out holds the payload, *got its
 * generation and *skipped how many newer generations failed verification (each described in
 * why, "state-...snap: checksum mismatch; ..."). -ENOENT: no generation at all (or not
 * `want`); -EBADMSG: every candidate failed verification (why says how). */
int dd_snap_read(const char *dir, uint64_t want, uint64_t max_len, struct driftd_buf *out,
                 uint64_t *got, unsigned *skipped, char *why, size_t whysz);

/* The generations present, newest first (malloc'd; free it). Files are not verified. */
int dd_snap_list(const char *dir, uint64_t **gens, size_t *n);

/* Verify one file's bytes (header, length, checksum); on success *payload points into buf.
 * For readers and the fuzzer. Returns 0 or -EBADMSG with why set. */
int dd_snap_verify(const uint8_t *buf, size_t len, uint64_t max_len, uint64_t *generation,
                   const uint8_t **payload, size_t *plen, char *why, size_t whysz);

#endif
