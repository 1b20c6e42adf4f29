/* `driftd replay`: the pipeline over JSONL files or stdin. Lines are read in large chunks and
 * split with memchr; a line longer than the record limit is skipped to its newline without
 * being held in memory, and counted as too_large. Every line is a record (event.index counts
 * them all, across inputs in order, malformed ones included). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "pipeline.h"

static void replay_usage(FILE *out)
{
	fputs(
	    "Usage: driftd replay -c FILE [--trace FILE] [INPUT...|-]\n"
	    "\n"
	    "Run the monitors of FILE over JSONL inference logs (stdin when no INPUT or '-').\n"
	    "Alerts go to the configured sinks (default: stdout, one JSON object per line);\n"
	    "rejected records and a summary go to stderr. Deterministic: event time comes\n"
	    "from the records.\n"
	    "\n"
	    "  -c, --config FILE       configuration (YAML or JSON)\n"
	    "  -t, --trace FILE        write one JSON line per detector verdict to FILE\n"
	    "      --flush-timeout SEC wait at most SEC seconds for sinks at the end (default 30)\n"
	    "  -q, --quiet             no summary on stderr\n"
	    "  -h, --help              this help\n"
	    "\n"
	    "Exit status: 0 when the input was processed (whatever it contained), 1 on a bad\n"
	    "configuration or an unreadable input, 2 on a bad command line.\n",
	    out);
}

struct reader {
	char *buf;
	size_t cap;
	uint64_t index; /* next record's event.index */
};

/* Feed every line of fd. Returns 0 or a negative errno for a read error. */
static int replay_fd(struct dd_pipeline *p, struct reader *r, int fd, const char *name,
                     size_t max_record)
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
		bool eof = n == 0;
		have += (size_t)n;
		size_t off = 0;
		for (;;) {
			char *nl = memchr(r->buf + off, '\n', have - off);
			if (!nl)
				break;
			size_t len = (size_t)(nl - (r->buf + off));
			struct dd_origin at = {.input = name, .line = ++line, .index = r->index++};
			if (skipping) {
				skipping = false;
				dd_pipeline_reject(p, DD_REJECT_TOO_LARGE, &at);
			} else {
				if (len && r->buf[off + len - 1] == '\r')
					len--;
				if (len > max_record)
					dd_pipeline_reject(p, DD_REJECT_TOO_LARGE, &at);
				else {
					int rc = dd_pipeline_feed(p, r->buf + off, len, &at);
					if (rc < 0)
						return rc;
				}
			}
			off = (size_t)(nl - r->buf) + 1;
		}
		memmove(r->buf, r->buf + off, have - off);
		have -= off;
		if (eof) {
			if (skipping || have > 0) {
				/* The last line has no newline: still a record. */
				struct dd_origin at = {
				    .input = name, .line = ++line, .index = r->index++};
				if (skipping || have > max_record)
					dd_pipeline_reject(p, DD_REJECT_TOO_LARGE, &at);
				else {
					int rc = dd_pipeline_feed(p, r->buf, have, &at);
					if (rc < 0)
						return rc;
				}
			}
			return 0;
		}
		if (have == r->cap) {
			/* The buffer holds more than max_record without a newline: drop it and
			 * skip to the end of this line. */
			skipping = true;
			have = 0;
		}
	}
}

int dd_cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"trace", required_argument, NULL, 't'},
	    {"flush-timeout", required_argument, NULL, 'F'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *config = NULL, *trace = NULL;
	bool quiet = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:t:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 't':
			trace = optarg;
			break;
		case 'F': {
			char *end;
			double s = strtod(optarg, &end);
			if (*end || s < 0) {
				fprintf(stderr, "driftd replay: --flush-timeout takes seconds\n");
				return DD_EXIT_USAGE;
			}
			break;
		}
		case 'q':
			quiet = true;
			break;
		case 'h':
			replay_usage(stdout);
			return DD_EXIT_OK;
		default:
			replay_usage(stderr);
			return DD_EXIT_USAGE;
		}
	}
	if (!config) {
		fprintf(stderr, "driftd replay: -c FILE is required\n");
		replay_usage(stderr);
		return DD_EXIT_USAGE;
	}

	struct dd_config *conf = NULL;
	if (dd_config_load(config, stderr, &conf) < 0)
		return DD_EXIT_FAIL;

	int status = DD_EXIT_FAIL;
	FILE *tf = NULL;
	struct dd_pipeline *p = NULL;
	struct reader r = {0};
	if (trace) {
		tf = fopen(trace, "we");
		if (!tf) {
			fprintf(stderr, "driftd replay: %s: %s\n", trace, strerror(errno));
			goto out;
		}
	}
	/* stdout carries only alerts, one per line: make it line-buffered even into a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct dd_pipeline_opts po = {.log = stderr, .trace = tf};
	int rc = dd_pipeline_new(conf, &po, &p);
	if (rc < 0) {
		fprintf(stderr, "driftd replay: cannot start the pipeline: %s\n", strerror(-rc));
		goto out;
	}
	/* A chunk holds at least one maximal record plus its newline. */
	r.cap = conf->max_record + 2 > (4u << 20) ? conf->max_record + 2 : (4u << 20);
	r.buf = malloc(r.cap);
	if (!r.buf)
		goto out;

	status = DD_EXIT_OK;
	static char *const stdin_only[] = {(char *)"-"};
	char *const *inputs = optind < argc ? argv + optind : stdin_only;
	int n_inputs = optind < argc ? argc - optind : 1;
	for (int i = 0; i < n_inputs; i++) {
		const char *in = inputs[i];
		bool is_stdin = strcmp(in, "-") == 0;
		int fd = is_stdin ? STDIN_FILENO : open(in, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "driftd replay: %s: %s\n", in, strerror(errno));
			status = DD_EXIT_FAIL;
			continue;
		}
		rc = replay_fd(p, &r, fd, in, conf->max_record);
		if (!is_stdin)
			close(fd);
		if (rc < 0) {
			fprintf(stderr, "driftd replay: %s: %s\n", in, strerror(-rc));
			status = DD_EXIT_FAIL;
			if (rc == -ENOMEM)
				break;
		}
	}
	if (dd_pipeline_flush(p) < 0)
		status = DD_EXIT_FAIL;
	if (!quiet)
		dd_pipeline_summary(p, stderr);
out:
	free(r.buf);
	dd_pipeline_free(p);
	if (tf && fclose(tf) != 0) {
		fprintf(stderr, "driftd replay: %s: %s\n", trace, strerror(errno));
		status = DD_EXIT_FAIL;
	}
	dd_config_free(conf);
	return status;
}
