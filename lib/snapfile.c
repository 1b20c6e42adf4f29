/* Snapshot generations (snapfile.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "durable.h"
#include "snapfile.h"

static const char MAGIC[8] = {'D', 'R', 'I', 'F', 'T', 'D', 'S', 'N'};

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void file_name(uint64_t gen, char out[40])
{
	snprintf(out, 40, "state-%016" PRIx64 ".snap", gen);
}

/* A generation's number from its file name, or 0 for any other name. */
static uint64_t parse_name(const char *n)
{
	if (strlen(n) != 6 + 16 + 5 || strncmp(n, "state-", 6) != 0 || strcmp(n + 22, ".snap") != 0)
		return 0;
	uint64_t g = 0;
	for (int i = 6; i < 22; i++) {
		char c = n[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return 0;
		g = g << 4 | (uint64_t)d;
	}
	return g;
}

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The generations in an open directory, newest first; temp files a crash left are removed
 * when clean_temps is set. */
static int list_fd(int dirfd, bool clean_temps, uint64_t **gens, size_t *n)
{
	*gens = NULL;
	*n = 0;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	size_t cap = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (clean_temps && strncmp(e->d_name, DD_DURABLE_TMP_PREFIX "state-",
		                           sizeof(DD_DURABLE_TMP_PREFIX "state-") - 1) == 0) {
			unlinkat(dirfd, e->d_name, 0);
			continue;
		}
		uint64_t g = parse_name(e->d_name);
		if (g == 0)
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			uint64_t *ng = realloc(*gens, nc * sizeof(*ng));
			if (!ng) {
				rc = -ENOMEM;
				break;
			}
			*gens = ng;
			cap = nc;
		}
		(*gens)[(*n)++] = g;
	}
	closedir(d);
	if (rc < 0) {
		free(*gens);
		*gens = NULL;
		*n = 0;
		return rc;
	}
	if (*n)
		qsort(*gens, *n, sizeof(**gens), cmp_desc);
	return 0;
}

int dd_snap_list(const char *dir, uint64_t **gens, size_t *n)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		*gens = NULL;
		*n = 0;
		return -errno;
	}
	int rc = list_fd(dirfd, false, gens, n);
	close(dirfd);
	return rc;
}

int dd_snap_write(const char *dir, const void *data, size_t len, unsigned keep,
                  uint64_t *generation)
{
	if (keep < DD_SNAP_KEEP_MIN)
		return -EINVAL;
	int rc = dd_mkdir_p(dir);
	if (rc < 0)
		return rc;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	uint64_t *gens;
	size_t n;
	if ((rc = list_fd(dirfd, true, &gens, &n)) < 0)
		goto out;
	if (n && gens[0] == UINT64_MAX) {
		/* A file named for the last generation (by hand): the next would wrap to 0. */
		free(gens);
		rc = -EOVERFLOW;
		goto out;
	}
	uint64_t gen = n ? gens[0] + 1 : 1;
	uint8_t hdr[DD_SNAP_HEADER] = {0};
	memcpy(hdr, MAGIC, sizeof(MAGIC));
	put_le(hdr + 8, DD_SNAP_VERSION, 4);
	put_le(hdr + 12, 0, 4);
	put_le(hdr + 16, gen, 8);
	put_le(hdr + 24, len, 8);
	SHA256(data, len, hdr + 32);
	char name[40];
	file_name(gen, name);
	struct iovec parts[] = {{hdr, sizeof(hdr)}, {(void *)data, len}};
	rc = dd_durable_write(dirfd, name, parts, 2);
	if (rc == 0) {
		*generation = gen;
		/* Only now that the new one is durable: the oldest go. */
		for (size_t i = keep - 1; i < n; i++) {
			file_name(gens[i], name);
			unlinkat(dirfd, name, 0);
		}
	}
	free(gens);
out:
	close(dirfd);
	return rc;
}

int dd_snap_verify(const uint8_t *buf, size_t len, uint64_t max_len, uint64_t *generation,
                   const uint8_t **payload, size_t *plen, char *why, size_t whysz)
{
	if (len < DD_SNAP_HEADER) {
		snprintf(why, whysz, "truncated header (%zu bytes)", len);
		return -EBADMSG;
	}
	if (memcmp(buf, MAGIC, sizeof(MAGIC)) != 0) {
		snprintf(why, whysz, "not a driftd snapshot (bad magic)");
		return -EBADMSG;
	}
	uint64_t version = get_le(buf + 8, 4), flags = get_le(buf + 12, 4);
	if (version != DD_SNAP_VERSION || flags != 0) {
		snprintf(why, whysz, "format version %" PRIu64 " flags %" PRIu64 " not supported",
		         version, flags);
		return -EBADMSG;
	}
	uint64_t plen64 = get_le(buf + 24, 8);
	if (plen64 > max_len) {
		snprintf(why, whysz, "payload of %" PRIu64 " bytes is over the limit of %" PRIu64,
		         plen64, max_len);
		return -EBADMSG;
	}
	if (plen64 != len - DD_SNAP_HEADER) {
		snprintf(why, whysz, "length %" PRIu64 " but %zu bytes follow the header", plen64,
		         len - DD_SNAP_HEADER);
		return -EBADMSG;
	}
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(buf + DD_SNAP_HEADER, (size_t)plen64, md);
	if (memcmp(md, buf + 32, sizeof(md)) != 0) {
		snprintf(why, whysz, "checksum mismatch");
		return -EBADMSG;
	}
	*generation = get_le(buf + 16, 8);
	*payload = buf + DD_SNAP_HEADER;
	*plen = (size_t)plen64;
	return 0;
}

/* Read one whole file, at most max bytes (more: -EFBIG). */
static int slurp(int dirfd, const char *name, uint64_t max, struct driftd_buf *out)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = -EBADMSG;
	else if ((uint64_t)st.st_size > max)
		rc = -EFBIG;
	char chunk[65536];
	while (rc == 0) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = -errno;
		else if (r == 0)
			break;
		else if (out->len + (size_t)r > max)
			rc = -EFBIG; /* grew while read */
		else if (driftd_buf_put(out, chunk, (size_t)r), out->err)
			rc = out->err;
	}
	close(fd);
	return rc;
}

int dd_snap_read(const char *dir, uint64_t want, uint64_t max_len, struct driftd_buf *out,
                 uint64_t *got, unsigned *skipped, char *why, size_t whysz)
{
	*skipped = 0;
	if (whysz)
		why[0] = '\0';
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	uint64_t *gens;
	size_t n;
	int rc = list_fd(dirfd, false, &gens, &n);
	if (rc < 0)
		goto out;
	rc = -ENOENT;
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		if (want && gens[i] != want)
			continue;
		char name[40], reason[200];
		file_name(gens[i], name);
		struct driftd_buf file = {0};
		int r = slurp(dirfd, name, max_len + DD_SNAP_HEADER, &file);
		const uint8_t *payload;
		size_t plen;
		uint64_t g = 0;
		if (r == -EFBIG)
			snprintf(reason, sizeof(reason),
			         "larger than the limit of %" PRIu64 " bytes", max_len);
		else if (r < 0)
			snprintf(reason, sizeof(reason), "%s", strerror(-r));
		else if ((r = dd_snap_verify(file.data, file.len, max_len, &g, &payload, &plen,
		                             reason, sizeof(reason))) == 0 &&
		         g != gens[i]) {
			/* A file renamed by hand: its name and its content disagree. */
			snprintf(reason, sizeof(reason), "holds generation %" PRIu64, g);
			r = -EBADMSG;
		}
		if (r == 0) {
			out->len = 0;
			out->err = 0;
			driftd_buf_put(out, payload, plen);
			rc = out->err ? out->err : 0;
			*got = g;
			driftd_buf_free(&file);
			break;
		}
		driftd_buf_free(&file);
		(*skipped)++;
		rc = -EBADMSG;
		if (whysz > used)
			used += (size_t)snprintf(why + used, whysz - used, "%s%s: %s",
			                         used ? "; " : "", name, reason);
		if (used >= whysz)
			used = whysz;
	}
	free(gens);
out:
	close(dirfd);
	return rc;
}
