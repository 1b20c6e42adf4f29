/* JSONL reader shared by `replay` and `baseline`. Lines are found with memchr in chunks of at
 * least 4 MiB; a line longer than the record limit is counted as too_large and skipped up to
 * its newline without growing the buffer, so a hostile input cannot make driftd allocate. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"

int dd_reader_init(struct dd_reader *r, size_t max_record)
{
	*r = (struct dd_reader){.max_record = max_record};
	/* A chunk holds at least one maximal record plus its newline. */
	r->cap = max_record + 2 > (4u << 20) ? max_record + 2 : (4u << 20);
	r->buf = malloc(r->cap);
	return r->buf ? 0 : -ENOMEM;
}

void dd_reader_done(struct dd_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

static int one(struct dd_reader *r, struct dd_pipeline *p, const char *name, uint64_t *line,
               const char *rec, size_t len, bool too_large)
{
	struct dd_origin at = {.input = name, .line = ++*line, .index = r->index++};
	if (!too_large && len && rec[len - 1] == '\r')
		len--;
	if (too_large || len > r->max_record) {
		dd_pipeline_reject(p, DD_REJECT_TOO_LARGE, &at);
		return 0;
	}
	if (r->adapter) {
		/* A request/response pair spread over two lines is emitted at the second, which
		 * is then the event's index. */
		struct dd_record record = {.value = rec, .len = len, .ts_ms = -1};
		const char *out;
		size_t out_len;
		enum dd_adapt_reject why = DD_ADAPT_OK;
		int rc = dd_adapt(r->adapter, &record, &out, &out_len, &why);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0) {
			dd_pipeline_reject_format(p, why, &at);
			return 0;
		}
		return out_len ? dd_pipeline_feed(p, out, out_len, &at) : 0;
	}
	return dd_pipeline_feed(p, rec, len, &at);
}

int dd_reader_feed_fd(struct dd_reader *r, int fd, const char *name, struct dd_pipeline *p)
{
	size_t have = 0;       /* bytes in buf not yet consumed */
	bool skipping = false; /* inside an over-long line */
	uint64_t line = 0;
	for (;;) {
		ssize_t n = read(fd, r->buf + have, r->cap - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		have += (size_t)n;
		size_t off = 0;
		char *nl;
		while ((nl = memchr(r->buf + off, '\n', have - off))) {
			size_t len = (size_t)(nl - (r->buf + off));
			int rc = one(r, p, name, &line, r->buf + off, len, skipping);
			if (rc < 0)
				return rc;
			skipping = false;
			off += len + 1;
		}
		memmove(r->buf, r->buf + off, have - off);
		have -= off;
		if (n == 0) {
			/* The last line has no newline: still a record. */
			if (skipping || have > 0)
				return one(r, p, name, &line, r->buf, have, skipping);
			return 0;
		}
		if (have == r->cap) {
			/* A full buffer without a newline: longer than any record may be. */
			skipping = true;
			have = 0;
		}
	}
}
