/* Configuration schema and validation. Every section is checked completely (all problems are
 * reported, not just the first), unknown keys are errors with a "did you mean" hint, and
 * detector parameters are validated by the detector's own parameter table. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "config.h"
#include "host.h"
#include "netaddr.h"
#include "sinks.h"
#include "yamltree.h"

struct vctx {
	const struct dd_yaml_doc *doc;
	FILE *diag;
	unsigned flags;
	int errors;
};

__attribute__((format(printf, 3, 4))) static void verr(struct vctx *v, struct dd_pos pos,
                                                       const char *fmt, ...)
{
	v->errors++;
	if (!v->diag)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(v->diag, "%s:%d:%d: ", dd_yaml_name(v->doc), pos.line, pos.col);
	vfprintf(v->diag, fmt, ap);
	fputc('\n', v->diag);
	va_end(ap);
}

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "a mapping";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

/* Levenshtein distance, for "did you mean" on unknown keys. Keys are short. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return 99;
	size_t row[64];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t sub = prev + (a[i - 1] != b[j - 1]);
			size_t del = row[j] + 1, ins = row[j - 1] + 1;
			row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			prev = cur;
		}
	}
	return row[lb];
}

static void unknown_key(struct vctx *v, const json_t *obj, const char *key, const char *where,
                        const char *const *allowed)
{
	const char *best = NULL;
	size_t best_d = 3;
	char list[512] = "";
	size_t off = 0;
	for (size_t i = 0; allowed[i]; i++) {
		size_t d = edit_distance(key, allowed[i]);
		if (d < best_d) {
			best_d = d;
			best = allowed[i];
		}
		int n = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", allowed[i]);
		if (n > 0 && (size_t)n < sizeof(list) - off)
			off += (size_t)n;
	}
	struct dd_pos pos = dd_yaml_pos_key(v->doc, obj, key);
	if (best)
		verr(v, pos, "unknown key '%s' in %s; did you mean '%s'?", key, where, best);
	else
		verr(v, pos, "unknown key '%s' in %s (expected one of: %s)", key, where, list);
}

static void check_keys(struct vctx *v, const json_t *obj, const char *where,
                       const char *const *allowed)
{
	const char *key;
	json_t *val;
	json_object_foreach ((json_t *)obj, key, val) {
		bool ok = false;
		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = strcmp(allowed[i], key) == 0;
		if (!ok)
			unknown_key(v, obj, key, where, allowed);
	}
}

/* Typed getters: absent keys leave *out untouched and return false; a wrong type is an
 * error at the value. */
static const json_t *get_typed(struct vctx *v, const json_t *obj, const char *key, json_type want,
                               const char *want_name, bool required, const char *where)
{
	const json_t *j = json_object_get(obj, key);
	if (!j) {
		if (required)
			verr(v, dd_yaml_pos_node(v->doc, obj), "%s: missing required key '%s'",
			     where, key);
		return NULL;
	}
	bool ok = json_typeof(j) == want || (want == JSON_REAL && json_is_integer(j)) ||
	          (want == JSON_TRUE && json_is_boolean(j));
	if (!ok) {
		verr(v, dd_yaml_pos_value(v->doc, obj, key), "'%s' must be %s, not %s", key,
		     want_name, type_name(j));
		return NULL;
	}
	return j;
}

static bool get_string(struct vctx *v, const json_t *obj, const char *key, bool required,
                       const char *where, char **out)
{
	const json_t *j = get_typed(v, obj, key, JSON_STRING, "a string", required, where);
	if (!j)
		return false;
	if (json_string_length(j) == 0) {
		verr(v, dd_yaml_pos_value(v->doc, obj, key), "'%s' must not be empty", key);
		return false;
	}
	if (strlen(json_string_value(j)) != json_string_length(j)) {
		verr(v, dd_yaml_pos_value(v->doc, obj, key), "'%s' contains a NUL byte", key);
		return false;
	}
	free(*out);
	*out = strdup(json_string_value(j));
	return *out != NULL;
}

static bool get_uint(struct vctx *v, const json_t *obj, const char *key, bool required,
                     const char *where, uint64_t min, uint64_t max, uint64_t *out)
{
	const json_t *j = get_typed(v, obj, key, JSON_INTEGER, "an integer", required, where);
	if (!j)
		return false;
	json_int_t i = json_integer_value(j);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max) {
		verr(v, dd_yaml_pos_value(v->doc, obj, key),
		     "'%s' must be between %llu and %llu, not %lld", key, (unsigned long long)min,
		     (unsigned long long)max, (long long)i);
		return false;
	}
	*out = (uint64_t)i;
	return true;
}

static bool get_bool(struct vctx *v, const json_t *obj, const char *key, const char *where,
                     bool *out)
{
	const json_t *j = get_typed(v, obj, key, JSON_TRUE, "true or false", false, where);
	if (!j)
		return false;
	*out = json_is_true(j);
	return true;
}

int dd_parse_duration_ms(const char *s, int64_t *ret_ms)
{
	char *end;
	errno = 0;
	double n = strtod(s, &end);
	if (end == s || errno || !isfinite(n) || n < 0)
		return -EINVAL;
	double mult;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60e3;
	else if (strcmp(end, "h") == 0)
		mult = 3600e3;
	else if (strcmp(end, "d") == 0)
		mult = 86400e3;
	else
		return -EINVAL;
	double ms = n * mult;
	if (ms > 9.2e15)
		return -ERANGE;
	*ret_ms = (int64_t)llround(ms);
	return 0;
}

static bool get_duration(struct vctx *v, const json_t *obj, const char *key, int64_t *out)
{
	const json_t *j = json_object_get(obj, key);
	if (!j)
		return false;
	int rc;
	if (json_is_number(j)) {
		double s = json_number_value(j);
		rc = s >= 0 && s < 9.2e12 ? 0 : -ERANGE;
		if (rc == 0)
			*out = (int64_t)llround(s * 1000);
	} else if (json_is_string(j)) {
		rc = dd_parse_duration_ms(json_string_value(j), out);
	} else {
		rc = -EINVAL;
	}
	if (rc < 0)
		verr(v, dd_yaml_pos_value(v->doc, obj, key),
		     "'%s' must be a duration such as 30s, 5m, 1h or 250ms", key);
	return rc == 0;
}

static const json_t *get_object(struct vctx *v, const json_t *obj, const char *key, bool required,
                                const char *where)
{
	return get_typed(v, obj, key, JSON_OBJECT, "a mapping", required, where);
}

/* RFC 6901: "" or "/" followed by segments where '~' is only ever "~0" or "~1". */
static bool valid_pointer(const char *p)
{
	if (*p != '/')
		return false;
	for (; *p; p++)
		if (*p == '~' && p[1] != '0' && p[1] != '1')
			return false;
	return true;
}

static const char *const severity_names[] = {
    "emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug", NULL};

const char *dd_severity_name(enum dd_severity s)
{
	static const char *const falco[] = {"Emergency", "Alert",  "Critical",      "Error",
	                                    "Warning",   "Notice", "Informational", "Debug"};
	return (unsigned)s < 8 ? falco[s] : "Warning";
}

static bool parse_severity(const char *s, enum dd_severity *out)
{
	for (int i = 0; severity_names[i]; i++)
		if (strcasecmp(s, severity_names[i]) == 0) {
			*out = (enum dd_severity)i;
			return true;
		}
	if (strcasecmp(s, "info") == 0) {
		*out = DD_SEV_INFORMATIONAL;
		return true;
	}
	return false;
}

/* Parameters the host implements for every detector that qualifies (docs/configuration.md):
 * `min_effect`, a floor on an effect-size score, and `calibrate`, a threshold learnt from the
 * reference. */
static void parse_host_param(struct vctx *v, const json_t *params, const char *key,
                             struct dd_monitor_conf *m)
{
	const struct driftd_detector_ops *ops = m->detector;
	struct dd_pos pos = dd_yaml_pos_value(v->doc, params, key);
	const json_t *val = json_object_get(params, key);
	if (!json_is_number(val)) {
		verr(v, pos, "'%s' must be a number, not %s", key, type_name(val));
		return;
	}
	double d = json_number_value(val);
	if (strcmp(key, "min_effect") == 0) {
		if (!(ops->caps & DRIFTD_CAP_EFFECT))
			verr(v, pos,
			     "detector '%s' does not report an effect size, so 'min_effect' "
			     "cannot apply",
			     ops->name);
		else if (!(d >= 0))
			verr(v, pos, "'min_effect' must be >= 0, not %g", d);
		else
			m->min_effect = d;
		return;
	}
	if (!driftd_kind_uses_reference(ops->kind))
		verr(v, pos, "'calibrate' needs a detector with a reference; '%s' is streaming",
		     ops->name);
	else if (!(d > 0 && d <= 100))
		verr(v, pos, "'calibrate' (k in mean + k std) must be in (0, 100], not %g", d);
	else
		m->calibrate_k = d;
}

static char *resolve_path(const char *config_path, const char *file);

/* Text and list parameters point into memory the monitor's configuration owns (the config
 * block itself is copied by value into each instance). Returns p, or NULL after counting an
 * error when it could not be recorded (p is then freed). */
static void *own(struct vctx *v, struct dd_monitor_conf *m, void *p)
{
	void **n = p ? realloc(m->owned, (m->n_owned + 1) * sizeof(*n)) : NULL;
	if (!n) {
		free(p);
		v->errors++;
		return NULL;
	}
	m->owned = n;
	m->owned[m->n_owned++] = p;
	return p;
}

/* A LIST parameter from a JSON list: strings (first column) or, for record lists, objects
 * whose keys are the columns. `src` names where it came from in messages. */
static void list_from_json(struct vctx *v, struct dd_monitor_conf *m, const struct driftd_param *p,
                           const json_t *arr, struct dd_pos pos, const char *src, bool in_doc)
{
	size_t cols = dd_param_list_cols(p), n = json_array_size(arr);
	const char **items = own(v, m, calloc(n * cols + 1, sizeof(char *)));
	if (!items)
		return;
	size_t i;
	const json_t *it;
	json_array_foreach (arr, i, it) {
		/* inline lists: each item's own position; from a file: the key's */
		if (in_doc)
			pos = dd_yaml_pos_item(v->doc, arr, i);
		for (size_t c = 0; c < cols; c++)
			items[i * cols + c] = "";
		if (json_is_string(it)) {
			items[i * cols] = json_string_value(it);
		} else if (json_is_object(it) && p->choices) {
			const char *k;
			const json_t *val;
			json_object_foreach ((json_t *)it, k, val) {
				size_t c = 0;
				while (c < cols && strcmp(p->choices[c], k) != 0)
					c++;
				if (c == cols || !json_is_string(val)) {
					verr(v, pos,
					     "%s: item %zu of '%s': '%s' is not a text column", src,
					     i, p->name, k);
					continue;
				}
				items[i * cols + c] = json_string_value(val);
			}
		} else {
			verr(v, pos, "%s: item %zu of '%s' must be %s, not %s", src, i, p->name,
			     p->choices ? "a string or a mapping" : "a string", type_name(it));
			continue;
		}
		/* The strings live in a JSON tree the configuration keeps (own_json). */
	}
	struct driftd_list l = {.items = items, .n = n, .cols = cols};
	dd_param_set_list(m->detector, m->params, p->name, &l);
}

/* Keep a JSON tree alive as long as the configuration (list items point into it). */
static void own_json(struct dd_monitor_conf *m, json_t *j)
{
	json_t *keep = m->kept ? m->kept : (m->kept = json_array());
	if (keep)
		json_array_append_new(keep, j);
	else
		json_decref(j);
}

/* `<name>_file`: one item per line for plain lists ('#' starts a comment line), a JSON or YAML
 * list (of mappings, for record lists) otherwise. Relative to the configuration file. */
static void list_from_file(struct vctx *v, struct dd_monitor_conf *m, const struct driftd_param *p,
                           const char *file, struct dd_pos pos)
{
	char *path = resolve_path(dd_yaml_name(v->doc), file);
	FILE *f = path ? fopen(path, "r") : NULL;
	if (!f) {
		verr(v, pos, "cannot read %s for '%s': %s", path ? path : file, p->name,
		     strerror(errno));
		free(path);
		return;
	}
	const size_t cap = 16 << 20;
	char *buf = malloc(cap + 1);
	size_t len = buf ? fread(buf, 1, cap + 1, f) : 0;
	int read_err = ferror(f) ? errno : 0;
	fclose(f);
	json_t *arr = NULL;
	if (read_err || (buf && len <= cap && memchr(buf, '\0', len))) {
		verr(v, pos, "cannot read %s for '%s': %s", path, p->name,
		     read_err ? strerror(read_err) : "not a text file");
	} else if (!buf || len > cap) {
		verr(v, pos, "%s: too large for '%s'", path, p->name);
	} else if (!p->choices) {
		buf[len] = '\0';
		arr = json_array();
		unsigned lineno = 0;
		for (char *line = buf, *next; arr && line && *line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			lineno++;
			size_t l = strlen(line);
			while (l &&
			       (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
				line[--l] = '\0';
			while (*line == ' ' || *line == '\t')
				line++;
			if (!*line || *line == '#')
				continue;
			json_t *item = json_string(line);
			if (!item) {
				/* a token that silently vanished would be a canary never watched */
				verr(v, pos, "%s:%u: not valid UTF-8 (for '%s')", file, lineno,
				     p->name);
				continue;
			}
			json_array_append_new(arr, item);
		}
	} else {
		struct dd_yaml_doc *doc = NULL;
		char err[512];
		if (dd_yaml_load(path, buf, len, &doc, err, sizeof(err)) < 0)
			verr(v, pos, "%s", err);
		else if (!json_is_array(dd_yaml_root(doc)))
			verr(v, pos, "%s must hold a list for '%s'", path, p->name);
		else
			arr = json_incref(dd_yaml_root(doc));
		dd_yaml_doc_free(doc);
	}
	free(buf);
	if (arr) {
		own_json(m, arr);
		list_from_json(v, m, p, arr, pos, path, false);
	}
	free(path);
}

/* STRING, POINTER and LIST parameters (ABI 2). */
static void parse_text_param(struct vctx *v, const json_t *params, const char *key,
                             const struct driftd_param *p, bool from_file,
                             struct dd_monitor_conf *m)
{
	struct dd_pos pos = dd_yaml_pos_value(v->doc, params, key);
	const json_t *val = json_object_get(params, key);
	if (from_file || p->type != DRIFTD_PARAM_LIST) {
		if (!json_is_string(val)) {
			verr(v, pos, "'%s' must be a string, not %s", key, type_name(val));
			return;
		}
		const char *str = json_string_value(val);
		if (from_file) {
			list_from_file(v, m, p, str, pos);
			return;
		}
		if (p->type == DRIFTD_PARAM_POINTER && !valid_pointer(str)) {
			verr(v, pos, "'%s' = '%s' is not a JSON pointer (e.g. /client/id)", key,
			     str);
			return;
		}
		char *copy = own(v, m, strdup(str));
		if (copy)
			dd_param_set_string(m->detector, m->params, key, copy);
		return;
	}
	if (!json_is_array(val)) {
		verr(v, pos, "'%s' must be a list, not %s (or use '%s_file')", key, type_name(val),
		     key);
		return;
	}
	own_json(m, json_incref((json_t *)val));
	list_from_json(v, m, p, val, pos, "params", true);
}

static void parse_params(struct vctx *v, const json_t *mon, struct dd_monitor_conf *m)
{
	const struct driftd_detector_ops *ops = m->detector;
	m->params = calloc(1, ops->config_size ? ops->config_size : 1);
	if (!m->params) {
		v->errors++;
		return;
	}
	dd_params_defaults(ops, m->params);
	const json_t *params = get_object(v, mon, "params", false, "monitor");
	if (!params)
		return;
	const char *key;
	json_t *val;
	json_object_foreach ((json_t *)params, key, val) {
		struct dd_pos pos = dd_yaml_pos_value(v->doc, params, key);
		if (strcmp(key, "min_effect") == 0 || strcmp(key, "calibrate") == 0) {
			parse_host_param(v, params, key, m);
			continue;
		}
		const struct driftd_param *p = dd_param_find(ops, key);
		bool from_file = false;
		size_t kl = strlen(key);
		if (!p && kl > 5 && strcmp(key + kl - 5, "_file") == 0) {
			char base[128];
			snprintf(base, sizeof(base), "%.*s", (int)(kl - 5), key);
			p = dd_param_find(ops, base);
			from_file = p && p->type == DRIFTD_PARAM_LIST;
			if (!from_file)
				p = NULL;
			else if (json_object_get(params, base))
				verr(v, pos, "'%s' and '%s' both give the list; use one", base,
				     key);
		}
		if (p && p->type >= DRIFTD_PARAM_STRING) {
			parse_text_param(v, params, key, p, from_file, m);
			continue;
		}
		if (!p) {
			const char *names[64];
			size_t n = 0;
			for (; n < ops->n_params && n < 61; n++)
				names[n] = ops->params[n].name;
			if (ops->caps & DRIFTD_CAP_EFFECT)
				names[n++] = "min_effect";
			if (driftd_kind_uses_reference(ops->kind))
				names[n++] = "calibrate";
			names[n] = NULL;
			char where[96];
			snprintf(where, sizeof(where), "params of detector '%s'", ops->name);
			unknown_key(v, params, key, where, names);
			continue;
		}
		int rc;
		if (p->type == DRIFTD_PARAM_ENUM) {
			if (!json_is_string(val)) {
				verr(v, pos,
				     "'%s' must be one of the names listed by `driftd detectors`",
				     key);
				continue;
			}
			rc = dd_param_set_choice(ops, m->params, key, json_string_value(val));
			if (rc < 0) {
				char list[256] = "";
				size_t off = 0;
				for (int i = 0; p->choices[i]; i++) {
					int k = snprintf(list + off, sizeof(list) - off, "%s%s",
					                 i ? ", " : "", p->choices[i]);
					if (k > 0 && (size_t)k < sizeof(list) - off)
						off += (size_t)k;
				}
				verr(v, pos, "'%s' must be one of: %s", key, list);
			}
			continue;
		}
		double num;
		if (p->type == DRIFTD_PARAM_BOOL) {
			if (!json_is_boolean(val)) {
				verr(v, pos, "'%s' must be true or false, not %s", key,
				     type_name(val));
				continue;
			}
			num = json_is_true(val);
		} else if (json_is_number(val)) {
			num = json_number_value(val);
		} else {
			verr(v, pos, "'%s' must be a number, not %s", key, type_name(val));
			continue;
		}
		rc = dd_param_set_number(ops, m->params, key, num);
		if (rc == -ERANGE)
			verr(v, pos, "'%s' = %g is out of range: must be in %s%g, %g%s", key, num,
			     p->min_open ? "(" : "[", p->min, p->max, p->max_open ? ")" : "]");
		else if (rc < 0)
			verr(v, pos, "'%s' must be %s", key,
			     p->type == DRIFTD_PARAM_INT ? "an integer" : "a finite number");
	}
	if (ops->check_config) {
		const char *why = "invalid parameters";
		if (ops->check_config(m->params, &why) < 0)
			verr(v, dd_yaml_pos_node(v->doc, params), "params of '%s': %s", ops->name,
			     why);
	}
}

/* A relative baseline path is taken relative to the configuration file's directory, so a
 * unit's working directory does not matter. */
static char *resolve_path(const char *config_path, const char *file)
{
	if (file[0] == '/' || !strchr(config_path, '/'))
		return strdup(file);
	size_t dir = (size_t)(strrchr(config_path, '/') - config_path);
	size_t n = dir + 1 + strlen(file) + 1;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%.*s/%s", (int)dir, config_path, file);
	return p;
}

static void parse_reference_file(struct vctx *v, const json_t *blk, struct dd_monitor_conf *m)
{
	char *file = NULL;
	if (!get_string(v, blk, "file", false, "reference", &file))
		return;
	m->reference_file = resolve_path(dd_yaml_name(v->doc), file);
	free(file);
	if (!m->reference_file || (v->flags & DD_CONFIG_SKIP_BASELINES))
		return;
	struct dd_pos pos = dd_yaml_pos_value(v->doc, blk, "file");
	char err[512];
	if (dd_baseline_read(m->reference_file, &m->baseline, err, sizeof(err)) < 0) {
		verr(v, pos, "%s", err);
		return;
	}
	const char *field = NULL;
	m->baseline_values = dd_baseline_values(m->baseline, m->name ? m->name : "", &field);
	if (!m->baseline_values)
		verr(v, pos,
		     "baseline %s has no reference for monitor '%s' (build it with `driftd "
		     "baseline -c CONFIG INPUT... -o FILE`)",
		     m->reference_file, m->name ? m->name : "");
	else if (m->field && strcmp(field, m->field) != 0)
		verr(v, pos, "baseline %s was built from field %s; monitor '%s' reads %s",
		     m->reference_file, field, m->name, m->field);
	else
		m->reference_size = json_array_size(m->baseline_values);
}

static void parse_reference(struct vctx *v, const json_t *mon, struct dd_monitor_conf *m)
{
	const json_t *blk = get_object(v, mon, "reference", true, "monitor");
	if (!blk)
		return;
	static const char *const keys[] = {"size", "file", "sliding", NULL};
	check_keys(v, blk, "reference", keys);
	bool has_file = json_object_get(blk, "file") != NULL;
	/* With a file, `size` only tells `driftd baseline` how many values to collect. */
	uint64_t n = 0;
	if (get_uint(v, blk, "size", !has_file, "reference", 1, 10000000, &n))
		m->reference_size = (size_t)n;
	get_bool(v, blk, "sliding", "reference", &m->reference_sliding);
	if (has_file && m->reference_sliding)
		verr(v, dd_yaml_pos_key(v->doc, blk, "sliding"),
		     "a pinned baseline (file) does not slide; use one or the other");
	else if (has_file)
		parse_reference_file(v, blk, m);
}

static void parse_window(struct vctx *v, const json_t *mon, struct dd_monitor_conf *m)
{
	const json_t *blk = get_object(v, mon, "window", true, "monitor");
	if (!blk)
		return;
	static const char *const keys[] = {"size", "step", "duration", "max_size", NULL};
	check_keys(v, blk, "window", keys);
	bool by_time = json_object_get(blk, "duration") != NULL;
	uint64_t n = 0;
	if (!by_time) {
		if (get_uint(v, blk, "size", true, "window", 1, 10000000, &n))
			m->window_size = (size_t)n;
		if (get_uint(v, blk, "step", false, "window", 1, 10000000, &n)) {
			if (n > m->window_size)
				verr(v, dd_yaml_pos_value(v->doc, blk, "step"),
				     "'step' (%llu) must not exceed 'size' (%zu)",
				     (unsigned long long)n, m->window_size);
			else if (n < m->window_size)
				m->window_step = (size_t)n; /* step == size is tumbling */
		}
		if (json_object_get(blk, "max_size"))
			verr(v, dd_yaml_pos_key(v->doc, blk, "max_size"),
			     "'max_size' bounds windows by time; count windows have 'size'");
		return;
	}
	if (json_object_get(blk, "size"))
		verr(v, dd_yaml_pos_key(v->doc, blk, "size"),
		     "a window is by count (size) or by time (duration), not both");
	if (get_duration(v, blk, "duration", &m->window_duration_ms) && m->window_duration_ms <= 0)
		verr(v, dd_yaml_pos_value(v->doc, blk, "duration"), "'duration' must be positive");
	const json_t *st = json_object_get(blk, "step");
	if (st && get_duration(v, blk, "step", &m->window_step_ms)) {
		if (m->window_step_ms <= 0 || m->window_step_ms > m->window_duration_ms)
			verr(v, dd_yaml_pos_value(v->doc, blk, "step"),
			     "'step' must be a positive duration no longer than 'duration'");
		else if (m->window_step_ms == m->window_duration_ms)
			m->window_step_ms = 0;
	}
	m->window_max = 100000;
	if (get_uint(v, blk, "max_size", false, "window", 2, 10000000, &n))
		m->window_max = (size_t)n;
}

/* Sliding policies keep host copies of the values; they take numbers only. */
static void check_policies(struct vctx *v, const json_t *mon, struct dd_monitor_conf *m)
{
	bool sliding = m->window_step || m->window_step_ms || m->reference_sliding;
	if (!sliding)
		return;
	struct dd_pos pos =
	    dd_yaml_pos_key(v->doc, mon, m->reference_sliding ? "reference" : "window");
	if (!(m->detector->accepts & DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER)))
		verr(v, pos, "sliding windows and references take numbers; detector '%s' does not",
		     m->detector->name);
	if (m->reference_sliding && (m->window_step || m->window_duration_ms))
		verr(v, pos, "a sliding reference moves by tumbling count windows ({size: N})");
	if (m->reference_sliding && (m->calibrate_k > 0 || m->cumulative))
		verr(v, pos,
		     "'calibrate' and 'cumulative' measure against a fixed reference; "
		     "a sliding reference moves");
}

static void parse_tags(struct vctx *v, const json_t *mon, struct dd_monitor_conf *m)
{
	const json_t *tags =
	    get_typed(v, mon, "tags", JSON_ARRAY, "a list of strings", false, "monitor");
	if (!tags)
		return;
	m->tags = calloc(json_array_size(tags) + 1, sizeof(char *));
	if (!m->tags) {
		v->errors++;
		return;
	}
	size_t i;
	json_t *t;
	json_array_foreach (tags, i, t) {
		if (!json_is_string(t) || json_string_length(t) == 0 ||
		    strlen(json_string_value(t)) != json_string_length(t)) {
			verr(v, dd_yaml_pos_item(v->doc, tags, i),
			     "tags must be non-empty strings");
			continue;
		}
		m->tags[m->n_tags] = strdup(json_string_value(t));
		if (m->tags[m->n_tags])
			m->n_tags++;
	}
}

static bool valid_name(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return false;
	return *s != '\0';
}

static void parse_cumulative(struct vctx *v, const json_t *mon, struct dd_monitor_conf *m)
{
	const json_t *cu = get_object(v, mon, "cumulative", false, "monitor");
	if (!cu)
		return;
	struct dd_pos pos = dd_yaml_pos_key(v->doc, mon, "cumulative");
	if (!driftd_kind_uses_reference(m->detector->kind)) {
		verr(v, pos,
		     "'cumulative' sums window scores against a reference; detector '%s' "
		     "is streaming",
		     m->detector->name);
		return;
	}
	static const char *const keys[] = {"k", "h", NULL};
	check_keys(v, cu, "cumulative", keys);
	m->cumulative = true;
	/* Defaults chosen on simulated slow ramps (KS, 8 reference chunks): k 0.5 / h 5 gave a
	 * false alarm on a third of clean streams, k 1 / h 10 on none of 30 while catching a ramp
	 * of +1 std per 10000 events within 6-14 windows. */
	m->cusum_k = 1;
	m->cusum_h = 10;
	const struct {
		const char *key;
		double *out;
	} nums[] = {{"k", &m->cusum_k}, {"h", &m->cusum_h}};
	for (size_t i = 0; i < 2; i++) {
		const json_t *j =
		    get_typed(v, cu, nums[i].key, JSON_REAL, "a number", false, "cumulative");
		if (!j)
			continue;
		double d = json_number_value(j);
		if (!(d >= 0 && d <= 1e6))
			verr(v, dd_yaml_pos_value(v->doc, cu, nums[i].key),
			     "'%s' must be between 0 and 1000000, not %g", nums[i].key, d);
		else
			*nums[i].out = d;
	}
	if (m->window_size && m->reference_size < 2 * m->window_size)
		verr(v, pos,
		     "'cumulative' scores the reference in chunks of one window: the reference "
		     "(%zu) "
		     "must hold at least two windows (%zu)",
		     m->reference_size, 2 * m->window_size);
}

static void parse_monitor_group(struct vctx *v, const json_t *mon, struct dd_monitor_conf *m,
                                const struct dd_config *c)
{
	m->group = -1;
	char *g = NULL;
	if (!get_string(v, mon, "group", false, "monitor", &g))
		return;
	struct dd_pos pos = dd_yaml_pos_value(v->doc, mon, "group");
	for (size_t i = 0; i < c->n_groups; i++)
		if (strcmp(c->groups[i].name, g) == 0)
			m->group = (int)i;
	if (m->group < 0)
		verr(v, pos, "group '%s' is not defined under the top-level 'groups'", g);
	else if (m->cumulative)
		verr(v, pos, "a cumulative monitor has no p-value, so it cannot join group '%s'",
		     g);
	else if (m->detector && !(m->detector->caps & DRIFTD_CAP_P_VALUE))
		verr(v, pos, "detector '%s' has no p-value, so it cannot join group '%s'",
		     m->detector->name, g);
	free(g);
}

static void parse_monitor(struct vctx *v, const json_t *mon, struct dd_monitor_conf *m)
{
	static const char *const keys[] = {"name",          "match",           "field",
	                                   "detector",      "params",          "reference",
	                                   "window",        "severity",        "for",
	                                   "resolve_after", "repeat_interval", "cooldown",
	                                   "dry_run",       "group",           "on_model_change",
	                                   "tags",          "cumulative",      NULL};
	check_keys(v, mon, "monitor", keys);

	if (get_string(v, mon, "name", true, "monitor", &m->name)) {
		struct dd_pos pos = dd_yaml_pos_value(v->doc, mon, "name");
		if (!valid_name(m->name))
			verr(v, pos,
			     "monitor name '%s' may only use letters, digits, '-', '_', '.'",
			     m->name);
		else if (strncmp(m->name, "driftd.", 7) == 0)
			verr(v, pos,
			     "monitor names starting with 'driftd.' are reserved for "
			     "driftd's own alerts");
	}

	char *det = NULL;
	if (get_string(v, mon, "detector", true, "monitor", &det)) {
		m->detector = driftd_detector_find(det);
		if (!m->detector)
			verr(v, dd_yaml_pos_value(v->doc, mon, "detector"),
			     "unknown detector '%s' (see `driftd detectors`)", det);
	}
	free(det);

	/* A detector that reads only the event's metadata (model_identity) needs no field. */
	bool need_field = !(m->detector && (m->detector->flags & DRIFTD_FLAG_NO_FIELD) != 0);
	if (get_string(v, mon, "field", need_field, "monitor", &m->field) &&
	    !valid_pointer(m->field))
		verr(v, dd_yaml_pos_value(v->doc, mon, "field"),
		     "field '%s' is not a JSON pointer (e.g. /input/amount; '~' only as ~0 or ~1)",
		     m->field);

	const json_t *match = get_object(v, mon, "match", false, "monitor");
	if (match) {
		static const char *const mkeys[] = {"model", "model_version", NULL};
		check_keys(v, match, "match", mkeys);
		get_string(v, match, "model", false, "match", &m->match_model);
		get_string(v, match, "model_version", false, "match", &m->match_version);
	}

	if (m->detector) {
		parse_params(v, mon, m);
		bool windowed = driftd_kind_uses_reference(m->detector->kind);
		if (windowed) {
			parse_reference(v, mon, m);
			parse_window(v, mon, m);
		} else {
			static const char *const blocks[] = {"reference", "window"};
			for (int b = 0; b < 2; b++)
				if (json_object_get(mon, blocks[b]))
					verr(v, dd_yaml_pos_key(v->doc, mon, blocks[b]),
					     "detector '%s' is streaming and takes no '%s'",
					     m->detector->name, blocks[b]);
		}
		parse_cumulative(v, mon, m);
		if (windowed)
			check_policies(v, mon, m);
		if (m->cumulative && m->calibrate_k > 0)
			verr(v, dd_yaml_pos_key(v->doc, mon, "cumulative"),
			     "'cumulative' and params.calibrate both set the threshold; use one");
		if (m->calibrate_k > 0 && m->window_size && m->reference_size < 2 * m->window_size)
			verr(v,
			     dd_yaml_pos_value(v->doc, json_object_get(mon, "params"), "calibrate"),
			     "'calibrate' scores the reference in chunks of one window: the "
			     "reference "
			     "(%zu) must hold at least two windows (%zu)",
			     m->reference_size, 2 * m->window_size);
	}

	m->severity = DD_SEV_WARNING;
	char *sev = NULL;
	if (get_string(v, mon, "severity", false, "monitor", &sev) &&
	    !parse_severity(sev, &m->severity))
		verr(v, dd_yaml_pos_value(v->doc, mon, "severity"),
		     "severity '%s' must be one of emergency, alert, critical, error, warning, "
		     "notice, informational, debug",
		     sev);
	free(sev);

	uint64_t n = 1;
	m->for_n = 1;
	if (get_uint(v, mon, "for", false, "monitor", 1, 1000000, &n))
		m->for_n = (unsigned)n;
	m->resolve_after = 1;
	if (get_uint(v, mon, "resolve_after", false, "monitor", 1, 1000000, &n))
		m->resolve_after = (unsigned)n;
	get_duration(v, mon, "cooldown", &m->cooldown_ms);
	get_duration(v, mon, "repeat_interval", &m->repeat_interval_ms);
	get_bool(v, mon, "dry_run", "monitor", &m->dry_run);
	parse_tags(v, mon, m);

	char *omc = NULL;
	if (get_string(v, mon, "on_model_change", false, "monitor", &omc)) {
		if (strcmp(omc, "alert") == 0)
			m->on_model_change = DD_MODEL_CHANGE_ALERT;
		else if (strcmp(omc, "rescope") == 0)
			m->on_model_change = DD_MODEL_CHANGE_RESCOPE;
		else if (strcmp(omc, "keep") == 0)
			m->on_model_change = DD_MODEL_CHANGE_KEEP;
		else
			verr(v, dd_yaml_pos_value(v->doc, mon, "on_model_change"),
			     "on_model_change '%s' must be alert, rescope or keep", omc);
	}
	free(omc);
}

static void parse_kafka(struct vctx *v, const json_t *k, struct dd_kafka_conf *kc)
{
	static const char *const keys[] = {"brokers", "topics",     "group",
	                                   "format",  "properties", NULL};
	check_keys(v, k, "source.kafka", keys);
	get_string(v, k, "brokers", true, "source.kafka", &kc->brokers);
	kc->group = strdup("driftd");
	get_string(v, k, "group", false, "source.kafka", &kc->group);
	kc->format = strdup("native");
	if (get_string(v, k, "format", false, "source.kafka", &kc->format)) {
		static const char *const formats[] = {"native",      "cloudevents", "kserve-v2",
		                                      "openai-chat", "auto",        NULL};
		bool ok = false;
		for (size_t i = 0; formats[i]; i++)
			ok |= strcmp(formats[i], kc->format) == 0;
		if (!ok)
			verr(v, dd_yaml_pos_value(v->doc, k, "format"),
			     "format '%s' must be one of native, cloudevents, kserve-v2, "
			     "openai-chat, auto",
			     kc->format);
	}
	const json_t *topics =
	    get_typed(v, k, "topics", JSON_ARRAY, "a list of topic names", true, "source.kafka");
	if (topics) {
		if (json_array_size(topics) == 0)
			verr(v, dd_yaml_pos_value(v->doc, k, "topics"),
			     "'topics' must not be empty");
		kc->topics = calloc(json_array_size(topics) + 1, sizeof(char *));
		size_t i;
		json_t *t;
		json_array_foreach (topics, i, t) {
			if (!json_is_string(t) || json_string_length(t) == 0) {
				verr(v, dd_yaml_pos_item(v->doc, topics, i),
				     "topic names must be non-empty strings");
				continue;
			}
			if (kc->topics)
				kc->topics[kc->n_topics++] = strdup(json_string_value(t));
		}
	}
	const json_t *props = get_object(v, k, "properties", false, "source.kafka");
	if (props) {
		kc->properties = json_object();
		const char *key;
		json_t *val;
		json_object_foreach ((json_t *)props, key, val) {
			/* librdkafka takes strings; numbers and booleans are written naturally in
			 * YAML, so convert rather than make the user quote them. */
			char buf[64];
			const char *s = NULL;
			if (json_is_string(val))
				s = json_string_value(val);
			else if (json_is_integer(val))
				snprintf(buf, sizeof(buf), "%lld",
				         (long long)json_integer_value(val)),
				    s = buf;
			else if (json_is_boolean(val))
				s = json_is_true(val) ? "true" : "false";
			if (!s) {
				verr(
				    v, dd_yaml_pos_value(v->doc, props, key),
				    "librdkafka property '%s' must be a string, integer or boolean",
				    key);
				continue;
			}
			json_object_set_new(kc->properties, key, json_string(s));
			struct dd_pos pos = dd_yaml_pos_key(v->doc, props, key);
			if (strcmp(key, "partition.assignment.strategy") == 0 &&
			    strstr(s, "cooperative-sticky"))
				/* librdkafka 2.0.2 aborts when a cooperative consumer closes before
				 * its first assignment (upstream #4381, fixed in 2.3.0). */
				verr(v, pos,
				     "cooperative-sticky aborts librdkafka 2.0.2 on a close before "
				     "the first assignment (upstream bug #4381); use "
				     "range,roundrobin");
			if (strcmp(key, "enable.auto.offset.store") == 0 ||
			    strcmp(key, "group.id") == 0 || strcmp(key, "bootstrap.servers") == 0)
				verr(v, pos,
				     "'%s' is set by driftd (at-least-once delivery; use "
				     "source.kafka.group and .brokers)",
				     key);
		}
	}
}

static void parse_sinks(struct vctx *v, const json_t *alerts, struct dd_config *c)
{
	const json_t *sinks =
	    get_typed(v, alerts, "sinks", JSON_ARRAY, "a list of sinks", false, "alerts");
	if (!sinks)
		return;
	c->sinks = calloc(json_array_size(sinks) + 1, sizeof(*c->sinks));
	if (!c->sinks) {
		v->errors++;
		return;
	}
	size_t i;
	json_t *s;
	json_array_foreach (sinks, i, s) {
		struct dd_pos pos = dd_yaml_pos_item(v->doc, sinks, i);
		if (!json_is_object(s) || json_object_size(s) != 1) {
			verr(v, pos,
			     "each sink is a mapping with one key naming its type, e.g. "
			     "{stdout: {}} or {file: {path: /var/log/driftd/alerts.jsonl}}");
			continue;
		}
		const char *type = json_object_iter_key(json_object_iter((json_t *)s));
		const json_t *body = json_object_get(s, type);
		struct dd_sink_conf *sc = &c->sinks[c->n_sinks];
		if (!json_is_object(body) && !json_is_null(body)) {
			verr(v, dd_yaml_pos_value(v->doc, s, type), "sink '%s' takes a mapping",
			     type);
			continue;
		}
		sc->ops = dd_sink_find(type);
		if (!sc->ops) {
			char names[256];
			dd_sink_names(names, sizeof(names));
			verr(v, dd_yaml_pos_key(v->doc, s, type),
			     "unknown sink type '%s' (this version has: %s)", type, names);
			continue;
		}
		sc->conf = json_is_object(body) ? json_deep_copy(body) : json_object();
		const char *key = NULL;
		char why[256] = "invalid settings";
		if (sc->ops->check && sc->ops->check(sc->conf, &key, why, sizeof(why)) < 0) {
			struct dd_pos pos2 =
			    key && json_is_object(body) && json_object_get(body, key)
			        ? dd_yaml_pos_key(v->doc, body, key)
			        : dd_yaml_pos_value(v->doc, s, type);
			verr(v, pos2, "%s sink: %s", type, why);
			json_decref(sc->conf);
			sc->conf = NULL;
			continue;
		}
		/* Instance names tell several sinks of one type apart (spool folders, logs). */
		size_t same = 0;
		for (size_t k = 0; k < c->n_sinks; k++)
			same += c->sinks[k].ops == sc->ops;
		char name[64];
		if (same)
			snprintf(name, sizeof(name), "%s#%zu", type, same + 1);
		else
			snprintf(name, sizeof(name), "%s", type);
		sc->name = strdup(name);
		c->n_sinks++;
	}
}

static void parse_groups(struct vctx *v, const json_t *root, struct dd_config *c)
{
	const json_t *groups = get_object(v, root, "groups", false, "top level");
	if (!groups)
		return;
	c->groups = calloc(json_object_size(groups) + 1, sizeof(*c->groups));
	if (!c->groups) {
		v->errors++;
		return;
	}
	const char *name;
	json_t *g;
	json_object_foreach ((json_t *)groups, name, g) {
		struct dd_pos pos = dd_yaml_pos_value(v->doc, groups, name);
		if (!json_is_object(g)) {
			verr(v, pos,
			     "group '%s' must be a mapping {correction: bh | bonferroni, alpha}",
			     name);
			continue;
		}
		static const char *const keys[] = {"correction", "alpha", NULL};
		check_keys(v, g, "group", keys);
		struct dd_group_conf *gc = &c->groups[c->n_groups++];
		gc->name = strdup(name);
		gc->correction = DD_CORRECTION_BH;
		gc->alpha = 0.05;
		char *corr = NULL;
		if (get_string(v, g, "correction", false, "group", &corr)) {
			if (strcmp(corr, "bonferroni") == 0)
				gc->correction = DD_CORRECTION_BONFERRONI;
			else if (strcmp(corr, "bh") != 0)
				verr(
				    v, dd_yaml_pos_value(v->doc, g, "correction"),
				    "correction '%s' must be bh (Benjamini-Hochberg) or bonferroni",
				    corr);
		}
		free(corr);
		const json_t *a = get_typed(v, g, "alpha", JSON_REAL, "a number", false, "group");
		if (a) {
			gc->alpha = json_number_value(a);
			if (!(gc->alpha > 0 && gc->alpha < 1))
				verr(v, dd_yaml_pos_value(v->doc, g, "alpha"),
				     "'alpha' must be in (0, 1), not %g", gc->alpha);
		}
	}
}

/* metrics: {listen, error_window, max_kafka_errors, max_sink_errors}. `listen: off` turns the
 * endpoint off; an address is checked here so `driftd check` catches it. */
static void parse_metrics(struct vctx *v, const json_t *root, struct dd_config *c)
{
	c->metrics_listen = strdup("127.0.0.1:9464");
	c->metrics_error_window_ms = 60000;
	c->metrics_max_kafka_errors = 10;
	c->metrics_max_sink_errors = 10;
	const json_t *met = get_object(v, root, "metrics", false, "top level");
	if (!met)
		return;
	static const char *const mkeys[] = {"listen", "error_window", "max_kafka_errors",
	                                    "max_sink_errors", NULL};
	check_keys(v, met, "metrics", mkeys);
	const json_t *l = json_object_get(met, "listen");
	if (json_is_false(l) || (json_is_string(l) && strcmp(json_string_value(l), "off") == 0)) {
		free(c->metrics_listen);
		c->metrics_listen = NULL;
	} else if (get_string(v, met, "listen", false, "metrics", &c->metrics_listen)) {
		struct sockaddr_storage ss;
		socklen_t len;
		char why[256];
		if (dd_parse_listen(c->metrics_listen, &ss, &len, why, sizeof(why)) < 0)
			verr(v, dd_yaml_pos_value(v->doc, met, "listen"), "metrics.listen: %s",
			     why);
	}
	if (json_object_get(met, "error_window") &&
	    get_duration(v, met, "error_window", &c->metrics_error_window_ms) &&
	    (c->metrics_error_window_ms < 1000 || c->metrics_error_window_ms > 240000))
		verr(v, dd_yaml_pos_value(v->doc, met, "error_window"),
		     "'error_window' must be between 1s and 4m");
	get_uint(v, met, "max_kafka_errors", false, "metrics", 0, 1000000000,
	         &c->metrics_max_kafka_errors);
	get_uint(v, met, "max_sink_errors", false, "metrics", 0, 1000000000,
	         &c->metrics_max_sink_errors);
}

static void parse_root(struct vctx *v, const json_t *root, struct dd_config *c)
{
	if (!json_is_object(root)) {
		verr(v, dd_yaml_pos_node(v->doc, root), "the configuration must be a mapping");
		return;
	}
	static const char *const keys[] = {"source", "monitors", "alerts",    "state", "metrics",
	                                   "groups", "limits",   "telemetry", NULL};
	check_keys(v, root, "the top level", keys);

	const json_t *src = get_object(v, root, "source", false, "top level");
	if (src) {
		static const char *const skeys[] = {"kafka", NULL};
		check_keys(v, src, "source", skeys);
		const json_t *k = get_object(v, src, "kafka", false, "source");
		if (k) {
			c->has_kafka = true;
			parse_kafka(v, k, &c->kafka);
		}
	}

	parse_groups(v, root, c);
	c->telemetry_gap_ms = 300000;
	const json_t *tel = get_object(v, root, "telemetry", false, "top level");
	if (tel) {
		static const char *const tkeys[] = {"gap", NULL};
		check_keys(v, tel, "telemetry", tkeys);
		get_duration(v, tel, "gap", &c->telemetry_gap_ms);
	}

	const json_t *mons =
	    get_typed(v, root, "monitors", JSON_ARRAY, "a list of monitors", true, "configuration");
	if (mons) {
		c->monitors = calloc(json_array_size(mons) + 1, sizeof(*c->monitors));
		if (!c->monitors) {
			v->errors++;
			return;
		}
		size_t i;
		json_t *m;
		json_array_foreach (mons, i, m) {
			if (!json_is_object(m)) {
				verr(v, dd_yaml_pos_item(v->doc, mons, i),
				     "a monitor is a mapping, not %s", type_name(m));
				continue;
			}
			struct dd_monitor_conf *mc = &c->monitors[c->n_monitors++];
			parse_monitor(v, m, mc);
			parse_monitor_group(v, m, mc, c);
			for (size_t j = 0; mc->name && j + 1 < c->n_monitors; j++)
				if (c->monitors[j].name &&
				    strcmp(c->monitors[j].name, mc->name) == 0)
					verr(v, dd_yaml_pos_value(v->doc, m, "name"),
					     "duplicate monitor name '%s'", mc->name);
		}
	}

	const json_t *alerts = get_object(v, root, "alerts", false, "top level");
	if (alerts) {
		static const char *const akeys[] = {"sinks", "spool_dir", NULL};
		check_keys(v, alerts, "alerts", akeys);
		parse_sinks(v, alerts, c);
		get_string(v, alerts, "spool_dir", false, "alerts", &c->spool_dir);
	}
	if (!c->spool_dir)
		c->spool_dir = strdup("/var/lib/driftd/spool");
	if (c->n_sinks == 0) {
		/* Default: alerts on stdout, as the CLI contract promises. */
		free(c->sinks);
		c->sinks = calloc(1, sizeof(*c->sinks));
		if (c->sinks) {
			c->sinks[0] = (struct dd_sink_conf){.ops = dd_sink_find("stdout"),
			                                    .conf = json_object(),
			                                    .name = strdup("stdout")};
			c->n_sinks = 1;
		}
	}

	c->state_dir = strdup("/var/lib/driftd");
	c->snapshot_interval_ms = 5000;
	const json_t *st = get_object(v, root, "state", false, "top level");
	if (st) {
		static const char *const stkeys[] = {"dir", "snapshot_interval", "kafka_topic",
		                                     NULL};
		check_keys(v, st, "state", stkeys);
		get_string(v, st, "dir", false, "state", &c->state_dir);
		get_duration(v, st, "snapshot_interval", &c->snapshot_interval_ms);
		if (get_string(v, st, "kafka_topic", false, "state", &c->state_kafka_topic)) {
			/* Kafka's own rule for topic names, checked here rather than at the
			 * first snapshot. */
			const char *t = c->state_kafka_topic;
			bool ok = strlen(t) <= 249 && strcmp(t, ".") != 0 && strcmp(t, "..") != 0;
			for (const char *q = t; ok && *q; q++)
				ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
				     (*q >= '0' && *q <= '9') || *q == '.' || *q == '_' ||
				     *q == '-';
			if (!ok)
				verr(v, dd_yaml_pos_value(v->doc, st, "kafka_topic"),
				     "'kafka_topic' is not a Kafka topic name (up to 249 of "
				     "[A-Za-z0-9._-])");
		}
	}
	parse_metrics(v, root, c);

	c->max_record = 1 << 20;
	c->max_depth = 64;
	c->max_string = 64 << 10;
	const json_t *lim = get_object(v, root, "limits", false, "top level");
	if (lim) {
		static const char *const lkeys[] = {"max_record_bytes", "max_depth",
		                                    "max_string_bytes", NULL};
		check_keys(v, lim, "limits", lkeys);
		uint64_t n;
		if (get_uint(v, lim, "max_record_bytes", false, "limits", 64, 64 << 20, &n))
			c->max_record = n;
		if (get_uint(v, lim, "max_depth", false, "limits", 4, 1024, &n))
			c->max_depth = n;
		if (get_uint(v, lim, "max_string_bytes", false, "limits", 16, 16 << 20, &n))
			c->max_string = n;
	}
}

int dd_config_parse(const char *name, const char *text, size_t len, unsigned flags, FILE *diag,
                    struct dd_config **ret)
{
	char err[1024];
	struct dd_yaml_doc *doc = NULL;
	int rc = dd_yaml_load(name, text, len, &doc, err, sizeof(err));
	if (rc < 0) {
		if (diag)
			fprintf(diag, "%s\n", err);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	struct dd_config *c = calloc(1, sizeof(*c));
	if (!c) {
		dd_yaml_doc_free(doc);
		return -ENOMEM;
	}
	c->path = strdup(name);
	struct vctx v = {.doc = doc, .diag = diag, .flags = flags};
	parse_root(&v, dd_yaml_root(doc), c);
	dd_yaml_doc_free(doc);
	if (v.errors) {
		dd_config_free(c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

int dd_config_load(const char *path, unsigned flags, FILE *diag, struct dd_config **ret)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		if (diag)
			fprintf(diag, "%s: %s\n", path, strerror(e));
		return -e;
	}
	char *buf = NULL;
	size_t len = 0;
	/* Configs are small; cap them so a wrong path (a log file) fails fast. */
	const size_t cap = 16 << 20;
	buf = malloc(cap + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(buf, 1, cap + 1, f);
	int e = ferror(f) ? EIO : 0;
	fclose(f);
	if (e || len > cap) {
		if (diag)
			fprintf(diag, "%s: %s\n", path,
			        e ? strerror(e) : "file too large for a config");
		free(buf);
		return e ? -e : -EFBIG;
	}
	int rc = dd_config_parse(path, buf, len, flags, diag, ret);
	free(buf);
	return rc;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void dd_config_free(struct dd_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_monitors; i++) {
		struct dd_monitor_conf *m = &c->monitors[i];
		free(m->name);
		free(m->field);
		free(m->params);
		for (size_t k = 0; k < m->n_owned; k++)
			free(m->owned[k]);
		free(m->owned);
		json_decref(m->kept);
		free(m->match_model);
		free(m->match_version);
		free(m->reference_file);
		dd_baseline_free(m->baseline);
		free_strv(m->tags, m->n_tags);
	}
	free(c->monitors);
	for (size_t i = 0; i < c->n_sinks; i++) {
		json_decref(c->sinks[i].conf);
		free(c->sinks[i].name);
	}
	free(c->spool_dir);
	for (size_t i = 0; i < c->n_groups; i++)
		free(c->groups[i].name);
	free(c->groups);
	free(c->sinks);
	free(c->kafka.brokers);
	free_strv(c->kafka.topics, c->kafka.n_topics);
	free(c->kafka.group);
	free(c->kafka.format);
	json_decref(c->kafka.properties);
	free(c->state_dir);
	free(c->state_kafka_topic);
	free(c->metrics_listen);
	free(c->path);
	free(c);
}
