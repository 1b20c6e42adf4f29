/* The JSONL sinks: `stdout` (the CLI contract: alerts only, one object per line, flushed line
 * by line) and `file` (appended, one object per line). Writes retry on EINTR and short writes
 * so a line is never torn by a signal. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "durable.h"
#include "sinks.h"

struct file_sink {
	int fd;
	bool owned;
};

static int stdout_check(const json_t *conf, const char **key, char *why, size_t whysz)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)conf, k, v) {
		*key = k;
		snprintf(why, whysz, "unknown key '%s' (the stdout sink has no settings)", k);
		return -EINVAL;
	}
	return 0;
}

static int file_check(const json_t *conf, const char **key, char *why, size_t whysz)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)conf, k, v) {
		if (strcmp(k, "path") != 0) {
			*key = k;
			snprintf(why, whysz, "unknown key '%s' (the file sink takes path)", k);
			return -EINVAL;
		}
	}
	const json_t *p = json_object_get(conf, "path");
	if (!json_is_string(p) || json_string_length(p) == 0) {
		*key = p ? "path" : NULL;
		snprintf(why, whysz, "needs path: a file to append alerts to");
		return -EINVAL;
	}
	return 0;
}

static int stdout_open(void *state, const json_t *conf, const struct driftd_sink_ctx *ctx)
{
	struct file_sink *s = state;
	s->fd = STDOUT_FILENO;
	return 0;
}

static int file_open(void *state, const json_t *conf, const struct driftd_sink_ctx *ctx)
{
	struct file_sink *s = state;
	const char *path = json_string_value(json_object_get(conf, "path"));
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	s->fd = fd;
	s->owned = true;
	return 0;
}

static int jsonl_format(const void *state, const json_t *alert, struct driftd_buf *out)
{
	char *line = json_dumps(alert, JSON_COMPACT | JSON_REAL_PRECISION(17));
	if (!line)
		return -ENOMEM;
	driftd_buf_put(out, line, strlen(line));
	driftd_buf_put(out, "\n", 1);
	free(line);
	return out->err;
}

static int file_deliver(void *state, const uint8_t *data, size_t len)
{
	struct file_sink *s = state;
	return dd_write_all(s->fd, data, len);
}

static void file_close(void *state)
{
	struct file_sink *s = state;
	if (s->owned && s->fd >= 0)
		close(s->fd);
	s->owned = false;
	s->fd = -1;
}

const struct driftd_sink_ops dd_sink_stdout = {
    .abi_version = DRIFTD_SINK_ABI,
    .struct_size = sizeof(struct driftd_sink_ops),
    .name = "stdout",
    .state_size = sizeof(struct file_sink),
    .check = stdout_check,
    .open = stdout_open,
    .format = jsonl_format,
    .deliver = file_deliver,
    .close = file_close,
};

const struct driftd_sink_ops dd_sink_file = {
    .abi_version = DRIFTD_SINK_ABI,
    .struct_size = sizeof(struct driftd_sink_ops),
    .name = "file",
    .state_size = sizeof(struct file_sink),
    .check = file_check,
    .open = file_open,
    .format = jsonl_format,
    .deliver = file_deliver,
    .close = file_close,
};
