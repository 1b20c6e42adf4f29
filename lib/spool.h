/* A durable directory queue: one file per message, written with the protocol that survived
 * kill -9 (temp file, fsync, rename, directory fsync; reference/reliability.md), so a message
 * the caller was told is spooled survives a crash or a power cut. Knows nothing of HTTP: a
 * message is a key (the caller's idempotency key, e.g. a webhook-id), opaque payload bytes and
 * delivery bookkeeping (attempts, next attempt), all in the file.
 *
 * Layout of DIR (created 0700, files 0600):
 *   DIR/.lock                      flock()ed while open: one process per spool
 *   DIR/<16 hex us>-<8 hex>.msg    messages; names sort oldest first
 *   DIR/.tmp-<name>                being written (left behind by a crash: removed at open)
 *   DIR/dead/<name>[.why]          dead letters and a one-line reason beside each
 * A message file is
 *   "driftd-spool 1\n" {"key":..,"created":ms,"attempts":n,"next":ms,"length":n,"sha256":hex}
 *   "\n" payload
 * and is read as untrusted: a truncated or garbled file is reported as -EBADMSG, never trusted.
 *
 * Thread safety: calls on different messages may run on different threads at once; the caller
 * keeps one thread per message. */
#ifndef DRIFTD_SPOOL_H
#define DRIFTD_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <driftd/detector.h>

#define DD_SPOOL_NAME_MAX 40 /* "<16>-<8>.msg" plus room */
#define DD_SPOOL_KEY_MAX  255
#define DD_SPOOL_MAX_FILE (16u << 20) /* larger files are not read (corrupt) */

struct dd_spool;

struct dd_spool_meta {
	char key[DD_SPOOL_KEY_MAX + 1]; /* printable ASCII, no spaces, 1..255 bytes */
	int64_t created_ms;             /* wall clock when first spooled */
	uint32_t attempts;              /* delivery attempts made so far */
	int64_t next_ms;                /* wall clock of the next attempt (informational) */
};

/* A key the spool accepts (and an HTTP header value may carry): 1..255 bytes of 0x21..0x7e. */
bool dd_spool_key_ok(const char *key, size_t len);

/* Create DIR (and its parents, 0700) and DIR/dead, take the lock (-EBUSY when another process
 * holds it) and remove temp files a crash left behind. */
int dd_spool_open(const char *dir, struct dd_spool **ret);
void dd_spool_close(struct dd_spool *s);
const char *dd_spool_dir(const struct dd_spool *s);

/* Write a new message durably; on success its file name is in name and its size on disk in
 * *size. On failure (e.g. -ENOSPC) nothing is left behind. */
int dd_spool_put(struct dd_spool *s, const struct dd_spool_meta *m, const void *data, size_t len,
                 char name[DD_SPOOL_NAME_MAX], uint64_t *size);
/* Replace a message's bookkeeping (same payload), atomically and durably. */
int dd_spool_update(struct dd_spool *s, const char *name, const struct dd_spool_meta *m,
                    const void *data, size_t len);
/* Read and verify a message: -ENOENT when gone, -EBADMSG when truncated or garbled. payload may
 * be NULL to read the bookkeeping only (the checksum is then not verified). */
int dd_spool_read(struct dd_spool *s, const char *name, struct dd_spool_meta *m,
                  struct driftd_buf *payload, uint64_t *size);
int dd_spool_remove(struct dd_spool *s, const char *name);
/* Move a message to dead/ with a one-line reason beside it in dead/<name>.why (best effort).
 * Fails only when the message could not be moved. */
int dd_spool_bury(struct dd_spool *s, const char *name, const char *why);

/* The messages' names, oldest first (malloc'd array of malloc'd strings; free with
 * dd_spool_list_free). Other files are ignored. */
int dd_spool_list(struct dd_spool *s, char ***names, size_t *n);
void dd_spool_list_free(char **names, size_t n);

#endif
