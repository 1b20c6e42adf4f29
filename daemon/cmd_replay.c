/* `driftd replay`: the pipeline over JSONL files or stdin. Every line is a record (event.index
 * counts them all, across inputs in order, malformed ones included); lib/reader.c splits the lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "kafka_replay.h"
#include "pipeline.h"
#include "reader.h"
#include "state_store.h"

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
	    "      --format NAME       input lines are native (default), cloudevents "
	    "(structured),\n"
	    "                          kserve-v2, openai-chat or auto records (docs/formats.md)\n"
	    "      --flush-timeout SEC wait at most SEC seconds for sinks at the end (default 30)\n"
	    "      --save-state FILE   write the monitors' state at the end as a state document\n"
	    "                          (`driftd state import` seeds the service with it)\n"
	    "  -q, --quiet             no summary on stderr\n"
	    "  -h, --help              this help\n"
	    "\n"
	    "Exit status: 0 when the input was processed (whatever it contained), 1 on a bad\n"
	    "configuration or an unreadable input, 2 on a bad command line.\n",
	    out);
}

/* The monitors' state after the replay, without Kafka positions: a service seeded with it
 * starts with the references (and sums) learnt offline, and reads Kafka from its committed
 * offsets. */
static int save(const struct dd_pipeline *p, const char *path)
{
	struct dd_positions none = {0};
	json_t *doc = dd_state_document(p, &none);
	int rc =
	    doc ? json_dump_file(doc, path, JSON_SORT_KEYS | JSON_REAL_PRECISION(17) | JSON_COMPACT)
	        : -1;
	json_decref(doc);
	if (rc < 0)
		fprintf(stderr, "driftd replay: cannot write the state to %s\n", path);
	return rc < 0 ? -EIO : 0;
}

int dd_cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"trace", required_argument, NULL, 't'},
	    {"format", required_argument, NULL, 'M'},
	    {"flush-timeout", required_argument, NULL, 'F'},
	    {"save-state", required_argument, NULL, 'S'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"kafka-topic", required_argument, NULL, 'K'},
	    {"brokers", required_argument, NULL, 'B'},
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *config = NULL, *trace = NULL, *save_state = NULL;
	enum dd_format format = DD_FORMAT_NATIVE;
	struct dd_adapter *adapter = NULL;
	bool quiet = false;
	int64_t flush_ms = 30000;
	struct dd_kafka_replay_opts kro = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:t:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'S':
			save_state = optarg;
			break;
		case 't':
			trace = optarg;
			break;
		case 'F': {
			char *end;
			double s = strtod(optarg, &end);
			if (end == optarg || *end || !(s >= 0) || s > 1e9) {
				fprintf(stderr, "driftd replay: --flush-timeout takes seconds\n");
				return DD_EXIT_USAGE;
			}
			/* 0: do not wait (the sinks' "-1"); a sub-millisecond wait is 1 ms. */
			flush_ms = s == 0 ? -1 : s * 1000 < 1 ? 1 : (int64_t)(s * 1000);
			break;
		}
		case 'q':
			quiet = true;
			break;
		case 'M':
			if (dd_format_parse(optarg, &format) < 0) {
				fprintf(stderr,
				        "driftd replay: --format takes native, cloudevents, "
				        "kserve-v2, openai-chat or auto\n");
				return DD_EXIT_USAGE;
			}
			break;
		case 'K':
			kro.topic = optarg;
			break;
		case 'B':
			kro.brokers = optarg;
			break;
		case 'f':
		case 'T':
			if (dd_kafka_bound_parse(optarg, c == 'f' ? &kro.from : &kro.to) < 0) {
				fprintf(stderr,
				        "driftd replay: --%s takes an offset or an RFC 3339 time\n",
				        c == 'f' ? "from" : "to");
				return DD_EXIT_USAGE;
			}
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
	if (dd_config_load(config, 0, stderr, &conf) < 0)
		return DD_EXIT_FAIL;

	int status = DD_EXIT_FAIL;
	FILE *tf = NULL;
	struct dd_pipeline *p = NULL;
	struct dd_reader r = {0};
	if (trace) {
		tf = fopen(trace, "we");
		if (!tf) {
			fprintf(stderr, "driftd replay: %s: %s\n", trace, strerror(errno));
			goto out;
		}
	}
	/* stdout carries only alerts, one per line: make it line-buffered even into a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct dd_pipeline_opts po = {.log = stderr, .trace = tf, .flush_timeout_ms = flush_ms};
	int rc = dd_pipeline_new(conf, &po, &p);
	if (rc < 0) {
		fprintf(stderr, "driftd replay: cannot start the pipeline: %s\n", strerror(-rc));
		goto out;
	}
	if (dd_reader_init(&r, conf->max_record) < 0)
		goto out;
	if (format != DD_FORMAT_NATIVE) {
		struct dd_adapter_opts ao = {.max_record = conf->max_record};
		if (dd_adapter_new(format, &ao, &adapter) < 0)
			goto out;
		r.adapter = adapter;
	}

	status = DD_EXIT_OK;
	if (kro.topic) {
		if (optind < argc) {
			fprintf(stderr,
			        "driftd replay: --kafka-topic reads Kafka, not INPUT files\n");
			status = DD_EXIT_USAGE;
		} else if (dd_kafka_replay(conf, &kro, p, stderr) < 0) {
			status = DD_EXIT_FAIL;
		}
		goto done;
	}
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
		rc = dd_reader_feed_fd(&r, fd, in, p);
		if (!is_stdin)
			close(fd);
		if (rc < 0) {
			fprintf(stderr, "driftd replay: %s: %s\n", in, strerror(-rc));
			status = DD_EXIT_FAIL;
			if (rc == -ENOMEM)
				break;
		}
	}
done:
	if (dd_pipeline_flush(p) < 0)
		status = DD_EXIT_FAIL;
	if (save_state && status == DD_EXIT_OK && save(p, save_state) < 0)
		status = DD_EXIT_FAIL;
	if (!quiet)
		dd_pipeline_summary(p, stderr);
out:
	dd_reader_done(&r);
	dd_adapter_free(adapter);
	dd_pipeline_free(p);
	if (tf && fclose(tf) != 0) {
		fprintf(stderr, "driftd replay: %s: %s\n", trace, strerror(errno));
		status = DD_EXIT_FAIL;
	}
	dd_config_free(conf);
	return status;
}
