/* Config loader: YAML/JSON into the schema, positions in every error, YAML core scalars,
 * aliases under a budget, defaults. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "host.h"
#include "yamltree.h"

/* Parse text; return the diagnostics (caller frees) and the config through *ret. */
static char *parse(const char *text, struct dd_config **ret, int *rc)
{
	char *diag = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&diag, &len);
	assert_non_null(f);
	*ret = NULL;
	*rc = dd_config_parse("t.yaml", text, strlen(text), 0, f, ret);
	fclose(f);
	return diag;
}

static void expect_error(const char *text, const char *needle)
{
	struct dd_config *c;
	int rc;
	char *diag = parse(text, &c, &rc);
	if (rc == 0 || !strstr(diag, needle))
		fail_msg("want error containing '%s', got rc=%d: %s", needle, rc, diag);
	assert_null(c);
	free(diag);
}

static void test_minimal_defaults(void **unused)
{
	struct dd_config *c;
	int rc;
	char *diag =
	    parse("monitors:\n  - {name: a, field: /input/x, detector: page_hinkley}\n", &c, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(diag, "");
	assert_int_equal(c->n_monitors, 1);
	assert_string_equal(c->monitors[0].name, "a");
	assert_string_equal(c->monitors[0].field, "/input/x");
	assert_int_equal(c->monitors[0].for_n, 1);
	assert_int_equal(c->monitors[0].resolve_after, 1);
	assert_int_equal(c->monitors[0].severity, DD_SEV_WARNING);
	/* default sink: stdout */
	assert_int_equal(c->n_sinks, 1);
	assert_string_equal(c->sinks[0].ops->name, "stdout");
	/* detector defaults from the parameter table */
	const struct driftd_param *p = dd_param_find(c->monitors[0].detector, "threshold");
	assert_non_null(p);
	assert_true(dd_param_get(p, c->monitors[0].params) == 50.0);
	assert_int_equal(c->max_record, 1 << 20);
	dd_config_free(c);
	free(diag);
}

static void test_params_applied(void **unused)
{
	struct dd_config *c;
	int rc;
	char *diag = parse("monitors:\n"
	                   "  - name: a\n"
	                   "    field: /input/x\n"
	                   "    detector: page_hinkley\n"
	                   "    params: {threshold: 7, mode: up, min_instances: 3}\n"
	                   "    severity: critical\n"
	                   "    for: 3\n"
	                   "    cooldown: 2m\n",
	                   &c, &rc);
	assert_int_equal(rc, 0);
	const struct dd_monitor_conf *m = &c->monitors[0];
	assert_true(dd_param_get(dd_param_find(m->detector, "threshold"), m->params) == 7.0);
	assert_true(dd_param_get(dd_param_find(m->detector, "mode"), m->params) == 1.0);
	assert_true(dd_param_get(dd_param_find(m->detector, "min_instances"), m->params) == 3.0);
	assert_int_equal(m->severity, DD_SEV_CRITICAL);
	assert_int_equal(m->for_n, 3);
	assert_int_equal(m->cooldown_ms, 120000);
	dd_config_free(c);
	free(diag);
}

static void test_errors_have_positions(void **unused)
{
	expect_error("monitors:\n  - name: a\n    feild: /x\n    detector: page_hinkley\n",
	             "t.yaml:3:5: unknown key 'feild' in monitor; did you mean 'field'?");
	expect_error("monitors:\n  - {name: a, field: /x, detector: page_hinkley, for: 0}\n",
	             "t.yaml:2:55: 'for' must be between 1 and 1000000, not 0");
	expect_error("monitors:\n  - {name: a, field: /x, detector: page_hinkley,\n"
	             "     params: {threshold: nope}}\n",
	             "t.yaml:3:26: 'threshold' must be a number, not a string");
	expect_error("monitors:\n  - {name: a, field: /x, detector: page_hinkley,\n"
	             "     params: {treshold: 1}}\n",
	             "t.yaml:3:15: unknown key 'treshold' in params of detector 'page_hinkley'; "
	             "did you mean 'threshold'?");
	expect_error("monitors: 3\n", "t.yaml:1:11: 'monitors' must be a list of monitors");
	expect_error("{}\n", "configuration: missing required key 'monitors'");
	expect_error("monitors: []\nmonitors: []\n", "t.yaml:2:1: duplicate key");
	expect_error("monitors:\n  - {name: driftd.x, field: /x, detector: page_hinkley}\n",
	             "reserved");
	expect_error("monitors:\n  - {name: a, field: /x, detector: page_hinkley}\n"
	             "alerts: {sinks: [{pigeon: {url: x}}]}\n",
	             "unknown sink type 'pigeon'");
	expect_error("monitors:\n  - {name: a, field: /x, detector: page_hinkley}\n"
	             "alerts: {sinks: [{webhook: {url: x}}]}\n",
	             "t.yaml:3:29: webhook sink: 'url' is not a URL");
	expect_error(
	    "monitors:\n  - {name: a, field: /x, detector: page_hinkley, cooldown: soon}\n",
	    "'cooldown' must be a duration");
	expect_error("monitors: [{name: a, field: /x, detector: page_hinkley,\n"
	             "  params: {threshold: .inf}}]\n",
	             "non-finite numbers are not allowed");
	expect_error("monitors:\n  - {name: a, field: /x, detector: page_hinkley}\n"
	             "alerts: {sinks: [{file: {paht: /tmp/x}}]}\n",
	             "t.yaml:3:26: file sink: unknown key 'paht'");
	expect_error("", "empty document");
	expect_error("a: 1\n---\nb: 2\n", "more than one document");
}

static void test_all_errors_reported(void **unused)
{
	struct dd_config *c;
	int rc;
	char *diag = parse("monitors:\n"
	                   "  - {name: a, field: x, detector: page_hinkley}\n"
	                   "  - {name: b, field: /y, detector: nope}\n",
	                   &c, &rc);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(diag, "t.yaml:2:22: field 'x' is not a JSON pointer"));
	assert_non_null(strstr(diag, "t.yaml:3:36: unknown detector 'nope'"));
	free(diag);
}

static void test_yaml_scalars_and_aliases(void **unused)
{
	char err[256];
	struct dd_yaml_doc *d;
	const char *text = "a: 0x10\nb: 1e3\nc: '12'\nd: ~\ne: True\nf: &x [1, 2]\ng: *x\n"
	                   "h: -7\ni: 0o17\n";
	assert_int_equal(dd_yaml_load("t", text, strlen(text), &d, err, sizeof(err)), 0);
	json_t *r = dd_yaml_root(d);
	assert_int_equal(json_integer_value(json_object_get(r, "a")), 16);
	assert_true(json_real_value(json_object_get(r, "b")) == 1000.0);
	assert_string_equal(json_string_value(json_object_get(r, "c")), "12");
	assert_true(json_is_null(json_object_get(r, "d")));
	assert_true(json_is_true(json_object_get(r, "e")));
	assert_true(json_equal(json_object_get(r, "f"), json_object_get(r, "g")));
	assert_int_equal(json_integer_value(json_object_get(r, "h")), -7);
	assert_int_equal(json_integer_value(json_object_get(r, "i")), 15);
	struct dd_pos p = dd_yaml_pos_value(d, r, "c");
	assert_int_equal(p.line, 3);
	assert_int_equal(p.col, 4);
	p = dd_yaml_pos_item(d, json_object_get(r, "f"), 1);
	assert_int_equal(p.line, 6);
	assert_int_equal(p.col, 11);
	dd_yaml_doc_free(d);
}

static void test_alias_bomb_bounded(void **unused)
{
	/* Each level doubles: 2^30 nodes if expanded naively. */
	char text[4096] = "a0: &a0 [x, x]\n";
	for (int i = 1; i <= 30; i++) {
		char line[64];
		snprintf(line, sizeof(line), "a%d: &a%d [*a%d, *a%d]\n", i, i, i - 1, i - 1);
		strcat(text, line);
	}
	char err[256];
	struct dd_yaml_doc *d = NULL;
	assert_int_equal(dd_yaml_load("t", text, strlen(text), &d, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "too large"));
}

static void test_deep_nesting_bounded(void **unused)
{
	char text[400];
	memset(text, '[', 200);
	memset(text + 200, ']', 200);
	char err[256];
	struct dd_yaml_doc *d = NULL;
	assert_int_equal(dd_yaml_load("t", text, sizeof(text), &d, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "t:1:65: nesting too deep"));
}

static void test_durations(void **unused)
{
	int64_t ms;
	assert_int_equal(dd_parse_duration_ms("30s", &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(dd_parse_duration_ms("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(dd_parse_duration_ms("1.5h", &ms), 0);
	assert_int_equal(ms, 5400000);
	assert_int_equal(dd_parse_duration_ms("2", &ms), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(dd_parse_duration_ms("-1s", &ms), -EINVAL);
	assert_int_equal(dd_parse_duration_ms("5 minutes", &ms), -EINVAL);
	assert_int_equal(dd_parse_duration_ms("", &ms), -EINVAL);
}

/* Text, pointer and list parameters (ABI 2): inline lists of strings and of records, files,
 * and the errors, with positions. */
static void test_list_params(void **unused)
{
	char tok[] = "/tmp/driftd-test-tokens-XXXXXX", inv[] = "/tmp/driftd-test-inv-XXXXXX";
	int fd = mkstemp(tok);
	assert_true(fd >= 0);
	const char tokens[] = "# canaries\nAAA-1\n\n  BBB-2  \r\n";
	assert_int_equal(write(fd, tokens, sizeof(tokens) - 1), (ssize_t)sizeof(tokens) - 1);
	close(fd);
	fd = mkstemp(inv);
	assert_true(fd >= 0);
	const char invs[] = "- {id: fraud, version: '1', sha256: ab}\n- {id: chat}\n";
	assert_int_equal(write(fd, invs, sizeof(invs) - 1), (ssize_t)sizeof(invs) - 1);
	close(fd);
	char text[1024];
	snprintf(text, sizeof(text),
	         "monitors:\n"
	         "  - {name: a, detector: model_identity,\n"
	         "     params: {inventory: [{id: m, sha256: x}, plain]}}\n"
	         "  - {name: b, detector: model_identity, params: {inventory_file: %s}}\n"
	         "  - {name: c, field: /output/text, detector: canary,\n"
	         "     params: {tokens_file: %s, allow_hosts: [example.com]}}\n",
	         inv, tok);
	struct dd_config *c;
	int rc;
	char *diag = parse(text, &c, &rc);
	if (rc != 0)
		fail_msg("%s", diag);
	const struct driftd_list *l;
	/* a: no field needed; records with absent columns as "" and a bare string as the id */
	assert_null(c->monitors[0].field);
	l = (const struct driftd_list *)((const char *)c->monitors[0].params +
	                                 dd_param_find(c->monitors[0].detector, "inventory")
	                                     ->offset);
	assert_int_equal(l->n, 2);
	assert_int_equal(l->cols, 3);
	assert_string_equal(l->items[0], "m");
	assert_string_equal(l->items[1], "");
	assert_string_equal(l->items[2], "x");
	assert_string_equal(l->items[3], "plain");
	l = (const struct driftd_list *)((const char *)c->monitors[1].params +
	                                 dd_param_find(c->monitors[1].detector, "inventory")
	                                     ->offset);
	assert_int_equal(l->n, 2);
	assert_string_equal(l->items[2], "ab");
	assert_string_equal(l->items[3], "chat");
	l = (const struct driftd_list *)((const char *)c->monitors[2].params +
	                                 dd_param_find(c->monitors[2].detector, "tokens")->offset);
	assert_int_equal(l->n, 2);
	assert_string_equal(l->items[0], "AAA-1");
	assert_string_equal(l->items[1], "BBB-2");
	dd_config_free(c);
	free(diag);
	unlink(tok);
	unlink(inv);

	expect_error("monitors:\n  - {name: a, detector: canary, params: {tokens: [x]}}\n",
	             "t.yaml:2:");
	expect_error("monitors:\n  - {name: a, field: /o, detector: canary, params: {tokens: x}}\n",
	             "'tokens' must be a list");
	expect_error(
	    "monitors:\n  - {name: a, field: /o, detector: canary, params: {tokens: [1]}}\n",
	    "item 0 of 'tokens' must be a string");
	expect_error("monitors:\n  - {name: a, detector: model_identity,\n"
	             "     params: {inventory: [{id: m, hash: x}]}}\n",
	             "'hash' is not a text column");
	expect_error("monitors:\n  - {name: a, field: /o, detector: canary,\n"
	             "     params: {tokens: [x], tokens_file: /nonexistent/t}}\n",
	             "both give the list");
	expect_error("monitors:\n  - {name: a, field: /o, detector: canary,\n"
	             "     params: {tokens_file: /nonexistent/t}}\n",
	             "cannot read /nonexistent/t");
	expect_error("monitors:\n  - {name: a, field: /o, detector: canary,\n"
	             "     params: {hold_file: x}}\n",
	             "hold_file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_minimal_defaults),
	    cmocka_unit_test(test_params_applied),
	    cmocka_unit_test(test_errors_have_positions),
	    cmocka_unit_test(test_all_errors_reported),
	    cmocka_unit_test(test_yaml_scalars_and_aliases),
	    cmocka_unit_test(test_alias_bomb_bounded),
	    cmocka_unit_test(test_deep_nesting_bounded),
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_list_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
