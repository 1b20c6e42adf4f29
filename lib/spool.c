/* The durable directory queue (spool.h). Every write goes to a temp file that is fsynced,
 * renamed into place and made durable by an fsync of the directory; a reader never sees half a
 * message, and a message the caller was told is written survives kill -9 and power loss. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "durable.h"
#include "spool.h"

#define MAGIC      "driftd-spool 1\n"
#define HEADER_MAX 4096

struct dd_spool {
	char *dir;
	int dirfd;
	int deadfd;
	int lockfd;
	atomic_uint seq;
	/* The largest time in a message name so far: names only grow, so the spool's order (the
	 * syslog sink's delivery order) survives a wall clock stepping back, across restarts. */
	_Atomic uint64_t last_us;
};

bool dd_spool_key_ok(const char *key, size_t len)
{
	if (len == 0 || len > DD_SPOOL_KEY_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
			return false;
	return true;
}

static int open_dir(int at, const char *path)
{
	int fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void remove_temps(struct dd_spool *s)
{
	int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, ".tmp-", 5) == 0)
			unlinkat(s->dirfd, e->d_name, 0);
	closedir(d);
}

int dd_spool_open(const char *dir, struct dd_spool **ret)
{
	struct dd_spool *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dirfd = s->deadfd = s->lockfd = -1;
	int rc = -ENOMEM;
	if (!(s->dir = strdup(dir)))
		goto fail;
	if ((rc = dd_mkdir_p(dir)) < 0)
		goto fail;
	if ((rc = s->dirfd = open_dir(AT_FDCWD, dir)) < 0)
		goto fail;
	if (mkdirat(s->dirfd, "dead", 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	if ((rc = s->deadfd = open_dir(s->dirfd, "dead")) < 0)
		goto fail;
	s->lockfd = openat(s->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0) {
		rc = -errno;
		goto fail;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	remove_temps(s);
	char **names;
	size_t n;
	if (dd_spool_list(s, &names, &n) == 0) {
		uint64_t last = 0;
		for (size_t i = 0; i < n; i++) {
			uint64_t us =
			    strtoull(names[i], NULL, 16); /* the 16 hex digits before '-' */
			if (us > last && us != UINT64_MAX)
				last = us;
		}
		atomic_store(&s->last_us, last);
		dd_spool_list_free(names, n);
	}
	*ret = s;
	return 0;
fail:
	dd_spool_close(s);
	return rc;
}

void dd_spool_close(struct dd_spool *s)
{
	if (!s)
		return;
	if (s->lockfd >= 0)
		close(s->lockfd); /* releases the flock */
	if (s->deadfd >= 0)
		close(s->deadfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->dir);
	free(s);
}

const char *dd_spool_dir(const struct dd_spool *s)
{
	return s->dir;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(data, len, md);
	hex(md, sizeof(md), out);
}

/* The header line (without the magic), or NULL on allocation failure. */
static char *header_json(const struct dd_spool_meta *m, const void *data, size_t len)
{
	char sum[65];
	sha256_hex(data, len, sum);
	json_t *h =
	    json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "key", m->key, "created",
	              (json_int_t)m->created_ms, "attempts", (json_int_t)m->attempts, "next",
	              (json_int_t)m->next_ms, "length", (json_int_t)len, "sha256", sum);
	char *txt = h ? json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(h);
	return txt;
}

static int write_file(struct dd_spool *s, const char *name, const struct dd_spool_meta *m,
                      const void *data, size_t len, uint64_t *size)
{
	if (!dd_spool_key_ok(m->key, strlen(m->key)))
		return -EINVAL;
	char *hdr = header_json(m, data, len);
	if (!hdr)
		return -ENOMEM;
	size_t hl = strlen(hdr);
	struct iovec parts[] = {
	    {(void *)MAGIC, sizeof(MAGIC) - 1}, {hdr, hl}, {(void *)"\n", 1}, {(void *)data, len}};
	int rc = dd_durable_write(s->dirfd, name, parts, sizeof(parts) / sizeof(parts[0]));
	if (rc == 0 && size)
		*size = sizeof(MAGIC) - 1 + hl + 1 + len;
	free(hdr);
	return rc;
}

int dd_spool_put(struct dd_spool *s, const struct dd_spool_meta *m, const void *data, size_t len,
                 char name[DD_SPOOL_NAME_MAX], uint64_t *size)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	uint64_t last = atomic_load(&s->last_us), us;
	do
		us = now > last ? now : last + 1;
	while (!atomic_compare_exchange_weak(&s->last_us, &last, us));
	unsigned seq = atomic_fetch_add(&s->seq, 1u);
	snprintf(name, DD_SPOOL_NAME_MAX, "%016" PRIx64 "-%08x.msg", us, seq);
	return write_file(s, name, m, data, len, size);
}

int dd_spool_update(struct dd_spool *s, const char *name, const struct dd_spool_meta *m,
                    const void *data, size_t len)
{
	return write_file(s, name, m, data, len, NULL);
}

static bool is_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

static bool get_int(const json_t *h, const char *k, int64_t lo, int64_t hi, int64_t *out)
{
	const json_t *v = json_object_get(h, k);
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return false;
	*out = json_integer_value(v);
	return true;
}

/* Parse and check the header; *body_off is where the payload starts. */
static int parse_header(const char *buf, size_t n, struct dd_spool_meta *m, size_t *body_off,
                        int64_t *length, char sum[65])
{
	const size_t ml = sizeof(MAGIC) - 1;
	if (n < ml || memcmp(buf, MAGIC, ml) != 0)
		return -EBADMSG;
	const char *nl = memchr(buf + ml, '\n', n - ml < HEADER_MAX ? n - ml : HEADER_MAX);
	if (!nl)
		return -EBADMSG;
	json_t *h = json_loadb(buf + ml, (size_t)(nl - (buf + ml)), JSON_REJECT_DUPLICATES, NULL);
	int rc = -EBADMSG;
	int64_t attempts;
	const json_t *key = json_object_get(h, "key"), *s = json_object_get(h, "sha256");
	if (!json_is_object(h) || !json_is_string(key) ||
	    !dd_spool_key_ok(json_string_value(key), json_string_length(key)) ||
	    !get_int(h, "created", INT64_MIN, INT64_MAX, &m->created_ms) ||
	    !get_int(h, "attempts", 0, UINT32_MAX, &attempts) ||
	    !get_int(h, "next", INT64_MIN, INT64_MAX, &m->next_ms) ||
	    !get_int(h, "length", 0, DD_SPOOL_MAX_FILE, length) || !json_is_string(s) ||
	    json_string_length(s) != 64 || !is_hex(json_string_value(s), 64))
		goto out;
	memcpy(m->key, json_string_value(key), json_string_length(key) + 1);
	m->attempts = (uint32_t)attempts;
	memcpy(sum, json_string_value(s), 65);
	*body_off = (size_t)(nl + 1 - buf);
	rc = 0;
out:
	json_decref(h);
	return rc;
}

int dd_spool_read(struct dd_spool *s, const char *name, struct dd_spool_meta *m,
                  struct driftd_buf *payload, uint64_t *size)
{
	int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ELOOP ? -EBADMSG : -errno;
	struct stat st;
	int rc = 0;
	char *buf = NULL;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)DD_SPOOL_MAX_FILE) {
		rc = -EBADMSG;
		goto out;
	}
	size_t want = (size_t)st.st_size;
	if (!payload && want > HEADER_MAX + sizeof(MAGIC))
		want = HEADER_MAX + sizeof(MAGIC);
	buf = malloc(want ? want : 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	size_t got = 0;
	while (got < want) {
		ssize_t r = read(fd, buf + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	size_t off;
	int64_t length;
	char sum[65];
	if ((rc = parse_header(buf, got, m, &off, &length, sum)) < 0)
		goto out;
	if ((uint64_t)st.st_size != off + (uint64_t)length) {
		rc = -EBADMSG; /* truncated, or something appended */
		goto out;
	}
	if (payload) {
		char have[65];
		sha256_hex(buf + off, (size_t)length, have);
		if (strcmp(have, sum) != 0) {
			rc = -EBADMSG;
			goto out;
		}
		payload->len = 0;
		payload->err = 0;
		driftd_buf_put(payload, buf + off, (size_t)length);
		rc = payload->err;
	}
	if (size)
		*size = (uint64_t)st.st_size;
out:
	free(buf);
	close(fd);
	return rc;
}

int dd_spool_remove(struct dd_spool *s, const char *name)
{
	if (unlinkat(s->dirfd, name, 0) < 0)
		return -errno;
	/* Not made durable: a message that reappears after a power cut is delivered again,
	 * which its key makes harmless. */
	return 0;
}

int dd_spool_bury(struct dd_spool *s, const char *name, const char *why)
{
	if (renameat(s->dirfd, name, s->deadfd, name) < 0)
		return -errno;
	/* Moved. If the move is lost to a power cut the message is simply tried (and buried)
	 * again, so a failing fsync here is not the caller's problem. */
	(void)(fsync(s->deadfd) == 0 && fsync(s->dirfd) == 0);
	char wn[DD_SPOOL_NAME_MAX + 300];
	snprintf(wn, sizeof(wn), "%s.why", name);
	int fd = openat(s->deadfd, wn, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		/* Best effort: the reason is for people, the dead letter itself is what counts. */
		if (dd_write_all(fd, why, strlen(why)) == 0)
			(void)dd_write_all(fd, "\n", 1);
		close(fd);
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dd_spool_list(struct dd_spool *s, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	/* A fresh open file description: readdir moves its offset. */
	int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || l < 5 || l >= DD_SPOOL_NAME_MAX ||
		    strcmp(e->d_name + l - 4, ".msg") != 0)
			continue;
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **nv = realloc(v, nc * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		if (!(v[cnt] = strdup(e->d_name))) {
			rc = -ENOMEM;
			break;
		}
		cnt++;
	}
	closedir(d);
	if (rc < 0) {
		dd_spool_list_free(v, cnt);
		return rc;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_names);
	*names = v;
	*n = cnt;
	return 0;
}

void dd_spool_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
