/* `driftd report`: an audit summary of a replay, per model: which identities (version,
 * sha256) served it and when, which monitors watched it with which threats and EN 304 223
 * clauses, and the alerts raised, by threat, with their evidence. Markdown by default, JSON
 * with --json (the Markdown is rendered from the same JSON object).
 *
 * Two passes over the inputs: the pipeline (sinks closed, alerts collected through
 * dd_pipeline_opts.on_alert), then a light scan of the records' metadata for the per-model
 * coverage. Inputs must therefore be files, not stdin. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "decode.h"
#include "pipeline.h"
#include "reader.h"
#include "utf8cut.h"

#define REPORT_MAX_ALERTS 100 /* per model, listed with evidence (all are counted) */
#define REPORT_MAX_MODELS 1000

static void report_usage(FILE *out)
{
	fputs("Usage: driftd report -c FILE [--json] INPUT...\n"
	      "\n"
	      "Replay the monitors of FILE over JSONL inputs and print, per model, a coverage\n"
	      "and evidence summary for audits: identities seen, the monitors that watched it\n"
	      "(threats and EN 304 223 clauses), and the alerts raised, by threat, with their\n"
	      "evidence. Markdown on stdout, or JSON with --json. No sink is used.\n"
	      "\n"
	      "  -c, --config FILE   configuration (YAML or JSON)\n"
	      "  -j, --json          JSON instead of Markdown\n"
	      "  -h, --help          this help\n",
	      out);
}

struct report {
	json_t *models; /* id -> model object */
	json_t *alerts; /* every firing alert, in order */
};

static void collect_alert(void *arg, const json_t *alert)
{
	struct report *r = arg;
	const char *status = json_string_value(json_object_get(alert, "status"));
	if (status && strcmp(status, "firing") == 0)
		json_array_append(r->alerts, (json_t *)alert);
}

static json_t *model_obj(struct report *r, const char *id)
{
	json_t *m = json_object_get(r->models, id);
	if (m || json_object_size(r->models) >= REPORT_MAX_MODELS)
		return m;
	m = json_pack("{s:s, s:i, s:n, s:n, s:o, s:[], s:{}, s:[]}", "id", id, "events", 0,
	              "first_seen", "last_seen", "identities", json_object(), "monitors",
	              "alerts_by_threat", "alerts");
	json_object_set_new(r->models, id, m);
	return m;
}

/* The tags a monitor's alerts carry (lib/alert.c decides them; repeated here so coverage
 * lists a monitor's threats even when it never alerted). */
static json_t *monitor_tags(const struct dd_monitor_conf *mc)
{
	json_t *t = json_array();
	const struct driftd_detector_ops *ops = mc->detector;
	if (ops->tags) {
		for (size_t i = 0; ops->tags[i]; i++)
			json_array_append_new(t, json_string(ops->tags[i]));
	} else {
		bool named = false;
		for (size_t i = 0; i < mc->n_tags; i++)
			named |= strncmp(mc->tags[i], "threat:", 7) == 0;
		if (!named)
			json_array_append_new(t, json_string("threat:data_poisoning"));
		json_array_append_new(t, json_string("etsi:5.4.2-2"));
		if (ops->kind == DRIFTD_KIND_STREAMING)
			json_array_append_new(t, json_string("etsi:5.4.2-4"));
	}
	for (size_t i = 0; i < mc->n_tags; i++)
		json_array_append_new(t, json_string(mc->tags[i]));
	return t;
}

/* Pass 2: per-model events, time span and identities, from each record's metadata. */
static int scan(struct report *r, const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		json_t *j = json_loadb(line, (size_t)n, JSON_DECODE_ANY, NULL);
		json_t *model = json_object_get(j, "model");
		const char *id = json_string_value(json_object_get(model, "id"));
		json_t *m = id && *id ? model_obj(r, id) : NULL;
		if (m) {
			json_object_set_new(
			    m, "events",
			    json_integer(json_integer_value(json_object_get(m, "events")) + 1));
			json_t *ts = json_object_get(j, "ts");
			int64_t ms = -1;
			if (json_is_string(ts))
				dd_parse_rfc3339(json_string_value(ts), json_string_length(ts),
				                 &ms);
			else if (json_is_integer(ts))
				ms = json_integer_value(ts);
			if (ms >= 0) {
				char buf[40];
				dd_format_rfc3339(ms, buf, sizeof(buf));
				/* RFC 3339 UTC with fixed width sorts as text */
				const char *first =
				    json_string_value(json_object_get(m, "first_seen"));
				const char *last =
				    json_string_value(json_object_get(m, "last_seen"));
				if (!first || strcmp(buf, first) < 0)
					json_object_set_new(m, "first_seen", json_string(buf));
				if (!last || strcmp(buf, last) > 0)
					json_object_set_new(m, "last_seen", json_string(buf));
			}
			const char *ver = json_string_value(json_object_get(model, "version"));
			const char *sha = json_string_value(json_object_get(model, "sha256"));
			char vk[81], sk[101], key[256];
			snprintf(vk, sizeof(vk), "%s", ver ? ver : "-");
			snprintf(sk, sizeof(sk), "%s", sha ? sha : "-");
			dd_utf8_cut(vk);
			dd_utf8_cut(sk);
			snprintf(key, sizeof(key), "%s|%s", vk, sk);
			json_t *ids = json_object_get(m, "identities");
			json_t *e = json_object_get(ids, key);
			if (!e && json_object_size(ids) < 64) {
				e = json_pack("{s:s?, s:s?, s:i}", "version", ver, "sha256", sha,
				              "events", 0);
				/* set_new frees e when it refuses the key: e is then gone. */
				if (json_object_set_new(ids, key, e) < 0)
					e = NULL;
			}
			if (e)
				json_object_set_new(
				    e, "events",
				    json_integer(json_integer_value(json_object_get(e, "events")) +
				                 1));
		}
		json_decref(j);
	}
	free(line);
	int rc = ferror(f) ? -EIO : 0;
	fclose(f);
	return rc;
}

/* Coverage and alerts into each model object. */
static void assemble(struct report *r, const struct dd_config *conf)
{
	const char *id;
	json_t *m;
	json_object_foreach (r->models, id, m) {
		/* identities as a list */
		json_t *list = json_array(), *e;
		const char *k;
		json_object_foreach (json_object_get(m, "identities"), k, e)
			json_array_append(list, e);
		json_object_set_new(m, "identities", list);
		json_t *mons = json_object_get(m, "monitors");
		for (size_t i = 0; i < conf->n_monitors; i++) {
			const struct dd_monitor_conf *mc = &conf->monitors[i];
			if (mc->match_model && strcmp(mc->match_model, id) != 0)
				continue;
			json_array_append_new(
			    mons,
			    json_pack("{s:s, s:s, s:s, s:s?, s:o, s:b}", "name", mc->name,
			              "detector", mc->detector->name, "kind",
			              mc->detector->tags ? "security" : "drift", "field", mc->field,
			              "tags", monitor_tags(mc), "dry_run", mc->dry_run));
		}
	}
	size_t i;
	json_t *a;
	json_array_foreach (r->alerts, i, a) {
		json_t *f = json_object_get(a, "output_fields");
		const char *mid = json_string_value(json_object_get(f, "model.id"));
		m = model_obj(r, mid ? mid : "(none)");
		if (!m)
			continue;
		json_t *by = json_object_get(m, "alerts_by_threat"), *t;
		size_t k;
		json_array_foreach (json_object_get(a, "tags"), k, t) {
			const char *tag = json_string_value(t);
			if (tag && strncmp(tag, "threat:", 7) == 0)
				json_object_set_new(
				    by, tag + 7,
				    json_integer(json_integer_value(json_object_get(by, tag + 7)) +
				                 1));
		}
		json_t *al = json_object_get(m, "alerts");
		if (json_array_size(al) < REPORT_MAX_ALERTS)
			json_array_append_new(al,
			                      json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "time",
			                                json_object_get(a, "time"), "rule",
			                                json_object_get(a, "rule"), "priority",
			                                json_object_get(a, "priority"), "output",
			                                json_object_get(a, "output"), "tags",
			                                json_object_get(a, "tags"), "evidence", f));
	}
}

/* Text from the logs (client ids, model output, evidence) as inert Markdown: every character
 * Markdown or HTML could read as syntax is backslash-escaped, so an attacker's client id cannot
 * become a link or an image in an audit report; line breaks and control characters become
 * spaces (a table cell is one line). */
static void md_escape(const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (strchr("\\`*_{}[]()<>#+-.!|~&", c) && c)
			putchar('\\');
		putchar(c < 0x20 || c == 0x7f ? ' ' : c);
	}
}

static void print_markdown(const json_t *doc)
{
	printf("# driftd report\n\nConfiguration: `%s`; inputs: ",
	       json_string_value(json_object_get(doc, "config")));
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(doc, "inputs"), i, v)
		printf("%s`%s`", i ? ", " : "", json_string_value(v));
	printf(".\n");
	json_array_foreach (json_object_get(doc, "models"), i, v) {
		printf("\n## Model `%s`\n\n", json_string_value(json_object_get(v, "id")));
		const char *first = json_string_value(json_object_get(v, "first_seen"));
		const char *last = json_string_value(json_object_get(v, "last_seen"));
		printf("%lld events, from %s to %s.\n\n",
		       (long long)json_integer_value(json_object_get(v, "events")),
		       first ? first : "?", last ? last : "?");
		size_t k;
		json_t *e;
		if (json_array_size(json_object_get(v, "identities"))) {
			puts("| version | sha256 | events |\n|---|---|---|");
			json_array_foreach (json_object_get(v, "identities"), k, e) {
				const char *ver = json_string_value(json_object_get(e, "version"));
				const char *sha = json_string_value(json_object_get(e, "sha256"));
				printf("| %s | %s | %lld |\n", ver ? ver : "-", sha ? sha : "-",
				       (long long)json_integer_value(json_object_get(e, "events")));
			}
			putchar('\n');
		}
		puts("### Coverage\n\n| monitor | detector | kind | field | threats and clauses "
		     "|\n|---|---|---|---|---|");
		json_array_foreach (json_object_get(v, "monitors"), k, e) {
			const char *field = json_string_value(json_object_get(e, "field"));
			printf("| %s%s | %s | %s | %s | ",
			       json_string_value(json_object_get(e, "name")),
			       json_is_true(json_object_get(e, "dry_run")) ? " (dry run)" : "",
			       json_string_value(json_object_get(e, "detector")),
			       json_string_value(json_object_get(e, "kind")),
			       field ? field : "(metadata)");
			size_t t;
			json_t *tag;
			json_array_foreach (json_object_get(e, "tags"), t, tag)
				printf("%s`%s`", t ? " " : "", json_string_value(tag));
			puts(" |");
		}
		json_t *by = json_object_get(v, "alerts_by_threat");
		printf("\n### Alerts\n\n");
		if (!json_object_size(by)) {
			puts("No alert.");
			continue;
		}
		const char *threat;
		json_t *n;
		puts("| threat | firing alerts |\n|---|---|");
		json_object_foreach (by, threat, n)
			printf("| %s | %lld |\n", threat, (long long)json_integer_value(n));
		puts("\n| time | rule | priority | what | evidence |\n|---|---|---|---|---|");
		json_array_foreach (json_object_get(v, "alerts"), k, e) {
			printf("| %s | %s | %s | ", json_string_value(json_object_get(e, "time")),
			       json_string_value(json_object_get(e, "rule")),
			       json_string_value(json_object_get(e, "priority")));
			md_escape(json_string_value(json_object_get(e, "output")));
			fputs(" | ", stdout);
			char *ev = json_dumps(json_object_get(e, "evidence"), JSON_COMPACT);
			md_escape(ev);
			free(ev);
			puts(" |");
		}
	}
}

int dd_cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *config = NULL;
	bool as_json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			report_usage(stdout);
			return DD_EXIT_OK;
		default:
			report_usage(stderr);
			return DD_EXIT_USAGE;
		}
	}
	if (!config || optind >= argc) {
		fprintf(stderr,
		        "driftd report: -c FILE and at least one INPUT file are required\n");
		report_usage(stderr);
		return DD_EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++)
		if (strcmp(argv[i], "-") == 0) {
			fprintf(stderr, "driftd report: reads its inputs twice: files only\n");
			return DD_EXIT_USAGE;
		}
	struct dd_config *conf = NULL;
	if (dd_config_load(config, 0, stderr, &conf) < 0)
		return DD_EXIT_FAIL;

	int status = DD_EXIT_OK;
	struct report r = {.models = json_object(), .alerts = json_array()};
	struct dd_pipeline *p = NULL;
	struct dd_reader rd = {0};
	/* No sink: the report is the output; alerts are collected. */
	struct dd_pipeline_opts po = {
	    .log = stderr, .defer_sinks = true, .on_alert = collect_alert, .on_alert_arg = &r};
	int rc = dd_pipeline_new(conf, &po, &p);
	if (rc < 0 || dd_reader_init(&rd, conf->max_record) < 0) {
		fprintf(stderr, "driftd report: cannot start the pipeline: %s\n",
		        strerror(rc < 0 ? -rc : ENOMEM));
		status = DD_EXIT_FAIL;
		goto out;
	}
	for (int i = optind; i < argc && status == DD_EXIT_OK; i++) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (rc = dd_reader_feed_fd(&rd, fd, argv[i], p)) < 0 ||
		    (rc = scan(&r, argv[i])) < 0) {
			fprintf(stderr, "driftd report: %s: %s\n", argv[i],
			        strerror(fd < 0 ? errno : -rc));
			status = DD_EXIT_FAIL;
		}
		if (fd >= 0)
			close(fd);
	}
	if (status != DD_EXIT_OK)
		goto out;
	assemble(&r, conf);
	json_t *inputs = json_array(), *models = json_array();
	for (int i = optind; i < argc; i++)
		json_array_append_new(inputs, json_string(argv[i]));
	const char *k;
	json_t *m;
	json_object_foreach (r.models, k, m)
		json_array_append(models, m);
	json_t *doc = json_pack("{s:s, s:s, s:o, s:o}", "report", "driftd", "config", config,
	                        "inputs", inputs, "models", models);
	if (as_json) {
		char *s = json_dumps(doc, JSON_INDENT(1));
		if (s)
			puts(s);
		free(s);
	} else {
		print_markdown(doc);
	}
	json_decref(doc);
out:
	dd_reader_done(&rd);
	dd_pipeline_free(p);
	json_decref(r.models);
	json_decref(r.alerts);
	dd_config_free(conf);
	return status;
}
