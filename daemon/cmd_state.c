#define _GNU_SOURCE /* asprintf */
/* `driftd state`: inspect and restore the service's state snapshots (EN 304 223 5.2.1-3:
 * restore a known good state).
 *   list    generations, newest first: verified or why not, size, time, monitors, positions
 *   export  one generation's document as JSON on stdout (the newest usable by default)
 *   restore --generation N   make generation N the newest again (the next start uses it)
 *   import FILE              a document (from export) as the newest generation
 * restore and import check the document against the configuration first (it must load into
 * its monitors) and refuse while a driftd of the group runs (the state directory's lock). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "pipeline.h"
#include "snapfile.h"
#include "state_store.h"

static void usage(FILE *out)
{
	fputs("Usage: driftd state list -c FILE\n"
	      "       driftd state export -c FILE [--generation N]\n"
	      "       driftd state restore -c FILE --generation N\n"
	      "       driftd state import -c FILE DOCUMENT.json\n"
	      "\n"
	      "The monitors' state of `driftd run` lives in numbered generations under\n"
	      "state.dir/state/GROUP (the last three are kept). restore and import write a new "
	      "newest\n"
	      "generation that the next start of the service uses; stop the service first.\n",
	      out);
}

static char *group_dir(const struct dd_config *c)
{
	char *d = NULL;
	if (!c->has_kafka || asprintf(&d, "%s/state/%s", c->state_dir, c->kafka.group) < 0)
		return NULL;
	return d;
}

static void print_time(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *read_doc(const char *dir, uint64_t gen, uint64_t *got, char *why, size_t whysz)
{
	struct driftd_buf b = {0};
	unsigned skipped;
	int rc = dd_snap_read(dir, gen, DD_STATE_MAX_BYTES, &b, got, &skipped, why, whysz);
	json_t *doc = NULL;
	if (rc == 0) {
		json_error_t e;
		doc = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, &e);
		if (!doc)
			snprintf(why, whysz, "not JSON: %s", e.text);
	} else if (rc == -ENOENT) {
		snprintf(why, whysz, "no such generation in %s", dir);
	}
	driftd_buf_free(&b);
	return doc;
}

static int list(const struct dd_config *c, const char *dir)
{
	uint64_t *gens;
	size_t n;
	int rc = dd_snap_list(dir, &gens, &n);
	if (rc < 0 || n == 0) {
		printf("no state in %s%s%s\n", dir, rc < 0 ? ": " : "",
		       rc < 0 ? strerror(-rc) : "");
		free(gens);
		return rc < 0 && rc != -ENOENT ? DD_EXIT_FAIL : DD_EXIT_OK;
	}
	printf("%-12s %-22s %-10s %s\n", "generation", "saved", "partitions", "status");
	for (size_t i = 0; i < n; i++) {
		uint64_t got;
		char why[512] = "", when[32] = "-";
		json_t *doc = read_doc(dir, gens[i], &got, why, sizeof(why));
		if (!doc) {
			printf("%-12" PRIu64 " %-22s %-9s unusable: %s\n", gens[i], "-", "-", why);
			continue;
		}
		const json_t *saved = json_object_get(doc, "saved_ms");
		if (json_is_integer(saved))
			print_time(json_integer_value(saved), when, sizeof(when));
		struct dd_positions pos = {0};
		char pw[256] = "";
		bool pos_ok = dd_state_parse(doc, &pos, pw, sizeof(pw)) == 0;
		printf("%-12" PRIu64 " %-22s %-10zu %s%s", gens[i], when, pos.n, pos_ok ? "ok" : pw,
		       pos_ok && pos.seed ? " (with a seed for new partitions)" : "");
		for (size_t k = 0; pos_ok && k < pos.n; k++)
			printf("%s%s[%d]@%lld%s", k ? ", " : "; resumes ", pos.p[k].topic,
			       (int)pos.p[k].partition, (long long)pos.p[k].next,
			       pos.p[k].state ? "" : " (no state)");
		printf("\n");
		dd_positions_free(&pos);
		json_decref(doc);
	}
	free(gens);
	(void)c;
	return DD_EXIT_OK;
}

/* The document must load into the configuration's monitors: the same check a start does. */
static int check_doc(const struct dd_config *c, const json_t *doc, char *why, size_t whysz,
                     struct dd_restore_report *r)
{
	struct dd_pipeline *p = NULL;
	struct dd_pipeline_opts o = {.defer_sinks = true, .partitioned = true};
	int rc = dd_pipeline_new(c, &o, &p);
	if (rc < 0) {
		snprintf(why, whysz, "cannot build the pipeline: %s", strerror(-rc));
		return rc;
	}
	struct dd_positions pos = {0};
	*r = (struct dd_restore_report){0};
	rc = dd_state_parse(doc, &pos, why, whysz);
	if (rc == 0)
		rc = dd_state_load(p, &pos, r, why, whysz);
	dd_positions_free(&pos);
	dd_pipeline_free(p);
	return rc;
}

static int write_doc(const struct dd_config *c, json_t *doc, const char *what)
{
	char why[1024] = "";
	struct dd_restore_report r;
	if (check_doc(c, doc, why, sizeof(why), &r) < 0) {
		fprintf(stderr, "driftd state: %s does not fit this configuration: %s\n", what,
		        why);
		return DD_EXIT_FAIL;
	}
	struct dd_state_store *st = NULL;
	int rc = dd_state_open(c->state_dir, c->kafka.group, NULL, &st);
	if (rc < 0) {
		fprintf(stderr, "driftd state: %s/state/%s: %s\n", c->state_dir, c->kafka.group,
		        rc == -EBUSY ? "in use by a running driftd: stop it first" : strerror(-rc));
		return DD_EXIT_FAIL;
	}
	char *text = json_dumps(doc, JSON_SORT_KEYS | JSON_REAL_PRECISION(17) | JSON_COMPACT);
	uint64_t gen = 0;
	rc = text ? dd_snap_write(dd_state_dir(st), text, strlen(text), DD_STATE_KEEP, &gen)
	          : -ENOMEM;
	free(text);
	if (rc < 0)
		fprintf(stderr, "driftd state: cannot write the new generation: %s\n",
		        strerror(-rc));
	else
		printf("%s written as generation %" PRIu64 " in %s: %zu partitions, %zu monitor "
		       "states will resume, %zu start over%s; the next start of driftd uses it\n",
		       what, gen, dd_state_dir(st), r.partitions, r.load.restored, r.load.fresh,
		       r.seed ? " (and a seed for partitions without state)" : "");
	dd_state_close(st);
	return rc < 0 ? DD_EXIT_FAIL : DD_EXIT_OK;
}

int dd_cmd_state(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"generation", required_argument, NULL, 'g'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *config = NULL;
	uint64_t gen = 0;
	int c;
	optind = 1;
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			usage(stdout);
			return DD_EXIT_OK;
		}
		usage(stderr);
		return DD_EXIT_USAGE;
	}
	const char *sub = argv[1];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "c:g:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'g': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || *end || v == 0) {
				fprintf(stderr, "driftd state: --generation takes a number >= 1\n");
				return DD_EXIT_USAGE;
			}
			gen = v;
			break;
		}
		case 'h':
			usage(stdout);
			return DD_EXIT_OK;
		default:
			return DD_EXIT_USAGE;
		}
	}
	bool known = !strcmp(sub, "list") || !strcmp(sub, "export") || !strcmp(sub, "restore") ||
	             !strcmp(sub, "import");
	if (!config || !known || (!strcmp(sub, "restore") && !gen) ||
	    (!strcmp(sub, "import") ? optind != argc - 1 : optind != argc)) {
		usage(stderr);
		return DD_EXIT_USAGE;
	}
	struct dd_config *conf = NULL;
	if (dd_config_load(config, 0, stderr, &conf) < 0)
		return DD_EXIT_FAIL;
	char *dir = group_dir(conf);
	int status = DD_EXIT_FAIL;
	if (!dir) {
		fprintf(stderr, "driftd state: %s has no source.kafka: state belongs to `run`\n",
		        config);
		goto out;
	}
	if (!strcmp(sub, "list")) {
		status = list(conf, dir);
	} else if (!strcmp(sub, "export") || !strcmp(sub, "restore")) {
		uint64_t got = 0;
		char why[512] = "";
		json_t *doc = read_doc(dir, gen, &got, why, sizeof(why));
		if (!doc) {
			fprintf(stderr, "driftd state: %s: %s\n", dir, why[0] ? why : "no state");
			goto out;
		}
		if (!strcmp(sub, "export")) {
			status = json_dumpf(doc, stdout,
			                    JSON_SORT_KEYS | JSON_REAL_PRECISION(17) |
			                        JSON_INDENT(1)) == 0
			             ? DD_EXIT_OK
			             : DD_EXIT_FAIL;
			putchar('\n');
		} else {
			char what[64];
			snprintf(what, sizeof(what), "generation %" PRIu64, got);
			status = write_doc(conf, doc, what);
		}
		json_decref(doc);
	} else {
		json_error_t e;
		json_t *doc = json_load_file(argv[optind], JSON_REJECT_DUPLICATES, &e);
		if (!doc) {
			fprintf(stderr, "driftd state: %s:%d:%d: %s\n", argv[optind], e.line,
			        e.column, e.text);
			goto out;
		}
		/* A seed alone (`replay --save-state`) seeds partitions without state of their
		 * own: it goes into the newest generation in place of its seed, and the partitions
		 * there keep their state. */
		struct dd_positions in = {0};
		char why[512] = "";
		uint64_t got = 0;
		json_t *newest = NULL;
		if (dd_state_parse(doc, &in, why, sizeof(why)) == 0 && in.n == 0 && in.seed &&
		    (newest = read_doc(dir, 0, &got, why, sizeof(why))) &&
		    json_object_set(newest, "seed", in.seed) == 0) {
			printf("the seed in %s replaces the seed of generation %" PRIu64
			       "; its partitions keep their own state\n",
			       argv[optind], got);
			json_decref(doc);
			doc = newest;
		} else {
			json_decref(newest);
		}
		dd_positions_free(&in);
		status = write_doc(conf, doc, argv[optind]);
		json_decref(doc);
	}
out:
	free(dir);
	dd_config_free(conf);
	return status;
}
