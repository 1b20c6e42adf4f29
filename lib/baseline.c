/* Baseline files (see baseline.h). Format (JSON, sorted keys, doubles to 17 digits):
 *   {"driftd_baseline": 1, "driftd_version": "...", "created": RFC 3339,
 *    "inputs": [{"path", "bytes", "sha256"}],
 *    "monitors": {NAME: {"field", "detector", "count", "values": [...]}}}
 * Reading treats the file as hostile: sizes are bounded, every value is type-checked. */
#define _GNU_SOURCE /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "baseline.h"
#include "config.h"
#include "decode.h"
#include "pipeline.h"
#include "reader.h"

#define BASELINE_MAX_BYTES  ((size_t)1 << 30)
#define BASELINE_MAX_VALUES 10000000

struct dd_baseline {
	json_t *root;
	char sha256[65];
};

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* SHA-256 of a whole file, streamed. */
static int sha256_file(const char *path, char out[65], uint64_t *bytes)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		close(fd);
		return -ENOMEM;
	}
	static _Thread_local unsigned char buf[1 << 16];
	uint64_t total = 0;
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += (uint64_t)n;
	}
	unsigned char md[32];
	unsigned len = 0;
	if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &len) == 1)
		hex(md, 32, out);
	else if (rc == 0)
		rc = -EIO;
	EVP_MD_CTX_free(ctx);
	close(fd);
	if (bytes)
		*bytes = total;
	return rc;
}

int dd_baseline_read(const char *path, struct dd_baseline **ret, char *err, size_t errsz)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		snprintf(err, errsz, "cannot read baseline %s: %s", path, strerror(errno));
		return -errno;
	}
	if ((size_t)st.st_size > BASELINE_MAX_BYTES) {
		snprintf(err, errsz, "baseline %s is larger than 1 GiB", path);
		return -EFBIG;
	}
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errsz, "baseline %s: %d:%d: %s", path, je.line, je.column, je.text);
		return -EBADMSG;
	}
	const char *why = NULL;
	json_t *mons = json_object_get(root, "monitors");
	if (json_integer_value(json_object_get(root, "driftd_baseline")) != 1)
		why = "not a driftd baseline (version 1)";
	else if (!json_is_object(mons))
		why = "no monitors";
	const char *name;
	json_t *m;
	json_object_foreach (mons, name, m) {
		if (why)
			break;
		json_t *vals = json_object_get(m, "values");
		if (!json_is_string(json_object_get(m, "field")) || !json_is_array(vals) ||
		    json_array_size(vals) == 0 || json_array_size(vals) > BASELINE_MAX_VALUES)
			why = "a monitor entry lacks its field or values";
	}
	if (why) {
		snprintf(err, errsz, "baseline %s: %s", path, why);
		json_decref(root);
		return -EBADMSG;
	}
	struct dd_baseline *b = calloc(1, sizeof(*b));
	if (!b) {
		json_decref(root);
		return -ENOMEM;
	}
	b->root = root;
	int rc = sha256_file(path, b->sha256, NULL);
	if (rc < 0) {
		snprintf(err, errsz, "cannot read baseline %s: %s", path, strerror(-rc));
		dd_baseline_free(b);
		return rc;
	}
	*ret = b;
	return 0;
}

void dd_baseline_free(struct dd_baseline *b)
{
	if (!b)
		return;
	json_decref(b->root);
	free(b);
}

const json_t *dd_baseline_values(const struct dd_baseline *b, const char *monitor,
                                 const char **field)
{
	json_t *m = json_object_get(json_object_get(b->root, "monitors"), monitor);
	if (!m)
		return NULL;
	*field = json_string_value(json_object_get(m, "field"));
	return json_object_get(m, "values");
}

const char *dd_baseline_sha256(const struct dd_baseline *b)
{
	return b->sha256;
}

/* Write the file next to its final name, fsync, rename over, fsync the directory: a crash
 * leaves either the old baseline or the new one, never a torn file. */
static int write_atomic(const char *out, const char *text, size_t len)
{
	size_t plen = strlen(out);
	char *tmp = malloc(plen + 16);
	char *dirc = strdup(out);
	if (!tmp || !dirc) {
		free(tmp);
		free(dirc);
		return -ENOMEM;
	}
	snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", out);
	int rc = 0;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, out) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		goto out;
	}
	int dfd = open(dirname(dirc), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) < 0)
			rc = -errno;
		close(dfd);
	}
out:
	free(tmp);
	free(dirc);
	return rc;
}

int dd_baseline_build(const struct dd_config *c, char *const *inputs, int n_inputs, const char *out,
                      FILE *log)
{
	struct dd_pipeline_opts po = {.log = log, .collect = true};
	struct dd_pipeline *p = NULL;
	struct dd_reader r = {0};
	json_t *root = json_object(), *ins = json_array(), *mons = json_object();
	int status = 1;
	int rc = dd_pipeline_new(c, &po, &p);
	if (rc < 0 || dd_reader_init(&r, c->max_record) < 0) {
		fprintf(log, "driftd baseline: cannot start: %s\n",
		        strerror(rc < 0 ? -rc : ENOMEM));
		goto out;
	}
	for (int i = 0; i < n_inputs; i++) {
		char sha[65];
		uint64_t bytes = 0;
		rc = sha256_file(inputs[i], sha, &bytes);
		int fd = rc == 0 ? open(inputs[i], O_RDONLY | O_CLOEXEC) : -1;
		if (fd < 0) {
			fprintf(log, "driftd baseline: %s: %s\n", inputs[i],
			        strerror(rc < 0 ? -rc : errno));
			goto out;
		}
		rc = dd_reader_feed_fd(&r, fd, inputs[i], p);
		close(fd);
		if (rc < 0) {
			fprintf(log, "driftd baseline: %s: %s\n", inputs[i], strerror(-rc));
			goto out;
		}
		json_t *in = json_object();
		json_object_set_new(in, "path", json_string(inputs[i]));
		json_object_set_new(in, "bytes", json_integer((json_int_t)bytes));
		json_object_set_new(in, "sha256", json_string(sha));
		json_array_append_new(ins, in);
	}
	bool complete = true;
	for (size_t i = 0; i < c->n_monitors; i++) {
		const struct dd_monitor_conf *m = &c->monitors[i];
		if (!driftd_kind_uses_reference(m->detector->kind))
			continue;
		const json_t *vals = dd_pipeline_collected(p, i);
		size_t n = json_array_size(vals);
		if (n < m->reference_size) {
			fprintf(
			    log,
			    "driftd baseline: monitor %s: the inputs hold %zu usable values, the "
			    "reference needs %zu\n",
			    m->name, n, m->reference_size);
			complete = false;
			continue;
		}
		json_t *e = json_object();
		json_object_set_new(e, "field", json_string(m->field));
		json_object_set_new(e, "detector", json_string(m->detector->name));
		json_object_set_new(e, "count", json_integer((json_int_t)n));
		json_object_set_new(e, "values", json_deep_copy(vals));
		json_object_set_new(mons, m->name, e);
	}
	if (!complete)
		goto out;
	if (json_object_size(mons) == 0) {
		fprintf(log, "driftd baseline: no monitor in %s takes a reference\n", c->path);
		goto out;
	}
	char created[40];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	dd_format_rfc3339((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, created,
	                  sizeof(created));
	json_object_set_new(root, "driftd_baseline", json_integer(1));
	json_object_set_new(root, "created", json_string(created));
	json_object_set(root, "inputs", ins);
	json_object_set(root, "monitors", mons);
	char *text = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(17));
	if (!text)
		goto out;
	size_t len = strlen(text);
	char *withnl = realloc(text, len + 2);
	if (!withnl) {
		free(text);
		goto out;
	}
	withnl[len] = '\n';
	rc = write_atomic(out, withnl, len + 1);
	free(withnl);
	if (rc < 0) {
		fprintf(log, "driftd baseline: cannot write %s: %s\n", out, strerror(-rc));
		goto out;
	}
	char sha[65];
	if (sha256_file(out, sha, NULL) == 0) {
		/* sha256sum format, so `sha256sum -c OUT.sha256` checks it. */
		printf("%s  %s\n", sha, out);
		fprintf(log, "driftd baseline: wrote %s (%zu monitors, sha256 %s)\n", out,
		        json_object_size(mons), sha);
	}
	status = 0;
out:
	dd_reader_done(&r);
	dd_pipeline_free(p);
	json_decref(ins);
	json_decref(mons);
	json_decref(root);
	return status;
}
