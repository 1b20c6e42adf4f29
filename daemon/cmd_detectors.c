/* `driftd detectors`: the registry and each detector's parameter table, as text, JSON, or the
 * Markdown of docs/detectors.md (which a test keeps in step with this output). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <driftd/detector.h>

#include "cli.h"

static const char *kind_name(enum driftd_detector_kind k)
{
	switch (k) {
	case DRIFTD_KIND_STREAMING:
		return "streaming";
	case DRIFTD_KIND_TWO_SAMPLE:
		return "two-sample";
	case DRIFTD_KIND_MULTIVARIATE:
		return "multivariate";
	case DRIFTD_KIND_CATEGORICAL:
		return "categorical";
	case DRIFTD_KIND_SECURITY:
		return "security";
	}
	return "?";
}

static const char *type_name(enum driftd_param_type t)
{
	static const char *const n[] = {"number", "integer", "boolean", "enum",
	                                "string", "pointer", "list"};
	return (unsigned)t < 7 ? n[t] : "?";
}

static void fmt_num(char *buf, size_t size, double v, enum driftd_param_type t)
{
	if (isinf(v))
		snprintf(buf, size, "%s", v < 0 ? "-inf" : "inf");
	else if (t == DRIFTD_PARAM_INT)
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, "%.17g", v);
	/* Shortest form that reads back the same, for humans; whole numbers without exponent. */
	if (t != DRIFTD_PARAM_INT && !isinf(v) && v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, size, "%.0f", v);
	else if (t != DRIFTD_PARAM_INT && !isinf(v))
		for (int prec = 1; prec <= 17; prec++) {
			char tmp[64];
			snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
			if (strtod(tmp, NULL) == v) {
				snprintf(buf, size, "%s", tmp);
				break;
			}
		}
}

static void fmt_default(char *buf, size_t size, const struct driftd_param *p)
{
	if (p->type == DRIFTD_PARAM_STRING || p->type == DRIFTD_PARAM_POINTER)
		snprintf(buf, size, "%s", p->def_str ? p->def_str : "unset");
	else if (p->type == DRIFTD_PARAM_LIST)
		snprintf(buf, size, "[]");
	else if (p->type == DRIFTD_PARAM_ENUM)
		snprintf(buf, size, "%s", p->choices[(int)p->def]);
	else if (p->type == DRIFTD_PARAM_BOOL)
		snprintf(buf, size, "%s", p->def != 0 ? "true" : "false");
	else
		fmt_num(buf, size, p->def, p->type);
}

static void fmt_bounds(char *buf, size_t size, const struct driftd_param *p)
{
	if (p->type == DRIFTD_PARAM_STRING) {
		snprintf(buf, size, "text");
		return;
	}
	if (p->type == DRIFTD_PARAM_POINTER) {
		snprintf(buf, size, "JSON pointer");
		return;
	}
	if (p->type == DRIFTD_PARAM_LIST) {
		/* record lists: the columns; every list also reads from `<name>_file` */
		size_t off = (size_t)snprintf(buf, size, "list%s", p->choices ? " of {" : "");
		for (int i = 0; p->choices && p->choices[i] && off < size; i++) {
			int n =
			    snprintf(buf + off, size - off, "%s%s", i ? ", " : "", p->choices[i]);
			if (n > 0)
				off += (size_t)n;
		}
		if (off < size)
			snprintf(buf + off, size - off, "%s, or `%s_file`", p->choices ? "}" : "",
			         p->name);
		return;
	}
	if (p->type == DRIFTD_PARAM_ENUM) {
		size_t off = 0;
		buf[0] = '\0';
		for (int i = 0; p->choices[i]; i++) {
			int n =
			    snprintf(buf + off, size - off, "%s%s", i ? ", " : "", p->choices[i]);
			if (n > 0 && (size_t)n < size - off)
				off += (size_t)n;
		}
		return;
	}
	if (p->type == DRIFTD_PARAM_BOOL) {
		snprintf(buf, size, "true, false");
		return;
	}
	char lo[48], hi[48];
	fmt_num(lo, sizeof(lo), p->min, p->type);
	fmt_num(hi, sizeof(hi), p->max, p->type);
	snprintf(buf, size, "%s%s, %s%s", p->min_open ? "(" : "[", lo, hi, p->max_open ? ")" : "]");
}

static json_t *param_json(const struct driftd_param *p)
{
	json_t *j = json_object();
	json_object_set_new(j, "name", json_string(p->name));
	json_object_set_new(j, "type", json_string(type_name(p->type)));
	if (p->type == DRIFTD_PARAM_ENUM) {
		json_object_set_new(j, "default", json_string(p->choices[(int)p->def]));
		json_t *ch = json_array();
		for (int i = 0; p->choices[i]; i++)
			json_array_append_new(ch, json_string(p->choices[i]));
		json_object_set_new(j, "choices", ch);
	} else if (p->type == DRIFTD_PARAM_BOOL) {
		json_object_set_new(j, "default", json_boolean(p->def != 0));
	} else if (p->type == DRIFTD_PARAM_STRING || p->type == DRIFTD_PARAM_POINTER) {
		json_object_set_new(j, "default",
		                    p->def_str ? json_string(p->def_str) : json_null());
	} else if (p->type == DRIFTD_PARAM_LIST) {
		json_object_set_new(j, "default", json_array());
		json_t *cols = json_array();
		for (int i = 0; p->choices && p->choices[i]; i++)
			json_array_append_new(cols, json_string(p->choices[i]));
		json_object_set_new(j, "columns", cols);
	} else {
		json_object_set_new(j, "default",
		                    p->type == DRIFTD_PARAM_INT ? json_integer((json_int_t)p->def)
		                                                : json_real(p->def));
		if (isfinite(p->min))
			json_object_set_new(j, "min", json_real(p->min));
		if (isfinite(p->max))
			json_object_set_new(j, "max", json_real(p->max));
		json_object_set_new(j, "min_exclusive", json_boolean(p->min_open));
		json_object_set_new(j, "max_exclusive", json_boolean(p->max_open));
	}
	json_object_set_new(j, "description", json_string(p->description));
	return j;
}

static int print_json(void)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < driftd_n_detectors; i++) {
		const struct driftd_detector_ops *d = driftd_detectors[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(d->name));
		json_object_set_new(o, "kind", json_string(kind_name(d->kind)));
		json_object_set_new(o, "summary", json_string(d->summary));
		json_object_set_new(o, "p_value", json_boolean(d->caps & DRIFTD_CAP_P_VALUE));
		json_object_set_new(o, "warning", json_boolean(d->caps & DRIFTD_CAP_WARNING));
		json_object_set_new(o, "mergeable", json_boolean(d->caps & DRIFTD_CAP_MERGE));
		json_object_set_new(o, "effect_size", json_boolean(d->caps & DRIFTD_CAP_EFFECT));
		json_object_set_new(o, "needs_reference",
		                    json_boolean(driftd_kind_uses_reference(d->kind)));
		json_t *ps = json_array();
		for (size_t k = 0; k < d->n_params; k++)
			json_array_append_new(ps, param_json(&d->params[k]));
		json_object_set_new(o, "params", ps);
		json_array_append_new(arr, o);
	}
	int rc = json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
	putchar('\n');
	json_decref(arr);
	return rc == 0 ? DD_EXIT_OK : DD_EXIT_FAIL;
}

static void print_markdown(void)
{
	puts(
	    "# Detector reference\n\n"
	    "<!-- Generated by `driftd detectors --markdown` from the detectors' parameter\n"
	    "     tables. Do not edit by hand: a test fails when this file is stale. -->\n\n"
	    "Each monitor names one detector and sets its parameters under `params`. Detectors\n"
	    "of kind *two-sample* compare a window of `window.size` values with a reference of\n"
	    "the first `reference.size` matching values and give one verdict per window;\n"
	    "*categorical* ones do the same with strings, booleans and numbers as categories;\n"
	    "*streaming* detectors give one verdict per value and take no reference or window.\n"
	    "*Multivariate* detectors work like two-sample ones on vector values (embeddings:\n"
	    "arrays of numbers); the first vector fixes the dimension, and vectors of another\n"
	    "dimension or with non-finite elements are skipped as rejected.\n\n"
	    "Two parameters are implemented by driftd itself for every detector that qualifies:\n\n"
	    "| parameter | applies to | meaning |\n"
	    "|---|---|---|\n"
	    "| `min_effect` | detectors whose score is an effect size (marked below) | drift also "
	    "needs score >= min_effect, so a significant but tiny difference on a large window is "
	    "not drift |\n"
	    "| `calibrate` | detectors with a reference | k: the threshold becomes mean + k std "
	    "(ddof 0) of the score over the reference cut into window-sized chunks, each scored "
	    "against the rest of the reference; drift is score > threshold |\n\n"
	    "| detector | kind | p-value | mergeable | summary |\n"
	    "|---|---|---|---|---|");
	for (size_t i = 0; i < driftd_n_detectors; i++) {
		const struct driftd_detector_ops *d = driftd_detectors[i];
		printf("| [`%s`](#%s) | %s | %s | %s | %s |\n", d->name, d->name,
		       kind_name(d->kind), d->caps & DRIFTD_CAP_P_VALUE ? "yes" : "no",
		       d->caps & DRIFTD_CAP_MERGE ? "yes" : "no", d->summary);
	}
	/* Which detectors merge, generated from the same capability flag as the column. */
	fputs(
	    "\n## Merging across partitions\n\n"
	    "State is per Kafka partition (docs/operations.md). Detectors marked *mergeable* "
	    "merge\n"
	    "exactly: the partitions' current windows (counts, sums) are added, and the merged "
	    "state\n"
	    "gives the verdict one detector would give over all of those records together "
	    "(tested\n"
	    "bit for bit in tests/daemon/test_partitions.c, and the merge laws for every such\n"
	    "detector in tests/detectors). Merging needs one reference for all partitions: give "
	    "the\n"
	    "monitor a pinned baseline (`reference: {file: ...}`). The metrics endpoint "
	    "reports the\n"
	    "merged view as `driftd_monitor_merged_*`; alerts stay per partition state, one "
	    "per\n"
	    "fingerprint across the instance's partitions. Not mergeable: rank and distance tests "
	    "on\n"
	    "samples (their windows are value lists), streaming detectors (a sequence has an "
	    "order\n"
	    "that partitions do not share) and security detectors (client tables).\n\n"
	    "Mergeable now:",
	    stdout);
	const char *sep = " ";
	for (size_t i = 0; i < driftd_n_detectors; i++)
		if (driftd_detectors[i]->caps & DRIFTD_CAP_MERGE) {
			printf("%s`%s`", sep, driftd_detectors[i]->name);
			sep = ", ";
		}
	puts(".");
	for (size_t i = 0; i < driftd_n_detectors; i++) {
		const struct driftd_detector_ops *d = driftd_detectors[i];
		printf("\n## %s\n\n%s\n\nKind: %s.%s%s\n\n", d->name, d->summary,
		       kind_name(d->kind),
		       d->caps & DRIFTD_CAP_P_VALUE ? " Verdicts carry a p-value." : "",
		       d->caps & DRIFTD_CAP_WARNING ? " Verdicts carry a warning level." : "");
		if (!d->n_params) {
			puts("No parameters.");
			continue;
		}
		puts("| parameter | type | default | allowed | description "
		     "|\n|---|---|---|---|---|");
		for (size_t k = 0; k < d->n_params; k++) {
			const struct driftd_param *p = &d->params[k];
			char def[64], bounds[256];
			fmt_default(def, sizeof(def), p);
			fmt_bounds(bounds, sizeof(bounds), p);
			printf("| `%s` | %s | `%s` | %s | %s |\n", p->name, type_name(p->type), def,
			       bounds, p->description);
		}
	}
}

static void print_text(void)
{
	for (size_t i = 0; i < driftd_n_detectors; i++) {
		const struct driftd_detector_ops *d = driftd_detectors[i];
		printf("%-14s %-12s %s\n", d->name, kind_name(d->kind), d->summary);
		for (size_t k = 0; k < d->n_params; k++) {
			const struct driftd_param *p = &d->params[k];
			char def[64], bounds[256];
			fmt_default(def, sizeof(def), p);
			fmt_bounds(bounds, sizeof(bounds), p);
			printf("    %-16s %-8s default %-10s %s\n", p->name, type_name(p->type),
			       def, bounds);
		}
	}
}

int dd_cmd_detectors(int argc, char **argv)
{
	if (argc > 2) {
		fprintf(stderr, "Usage: driftd detectors [--json|--markdown]\n");
		return DD_EXIT_USAGE;
	}
	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		return print_json();
	if (argc == 2 && strcmp(argv[1], "--markdown") == 0) {
		print_markdown();
		return DD_EXIT_OK;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		puts("Usage: driftd detectors [--json|--markdown]\n\nList the detectors, their "
		     "parameters, defaults and bounds.");
		return DD_EXIT_OK;
	}
	if (argc == 2) {
		fprintf(stderr, "Usage: driftd detectors [--json|--markdown]\n");
		return DD_EXIT_USAGE;
	}
	print_text();
	return DD_EXIT_OK;
}
