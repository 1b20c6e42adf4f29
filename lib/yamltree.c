/* YAML -> jansson with positions. libyaml's event API is used (not its document API) so the
 * tree is built once, directly as jansson values, while positions go to a side table: jansson
 * has no room for them and shares some scalar singletons. Scalars follow the YAML 1.2 core
 * schema; aliases are expanded by copy under a node budget (no "billion laughs"). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "yamltree.h"

#define MAX_NODES 200000
#define MAX_DEPTH 64

struct place {
	const json_t *parent; /* object or array holding the value; NULL for the root */
	char *key;            /* object member name, or NULL */
	size_t idx;           /* array index */
	const json_t *self;   /* the value when it is a container, for dd_yaml_pos_node */
	struct dd_pos key_pos;
	struct dd_pos val_pos;
};

struct anchor {
	char *name;
	json_t *node;
};

struct dd_yaml_doc {
	char *name;
	json_t *root;
	struct place *places;
	size_t n_places, cap_places;
	struct anchor *anchors;
	size_t n_anchors;
	size_t n_nodes;
};

struct frame {
	json_t *node;
	char *pending_key; /* mappings: key read, value not yet */
	struct dd_pos key_pos;
};

static struct dd_pos mark_pos(yaml_mark_t m)
{
	return (struct dd_pos){.line = (int)m.line + 1, .col = (int)m.column + 1};
}

static int add_place(struct dd_yaml_doc *d, const struct place *p)
{
	if (d->n_places == d->cap_places) {
		size_t cap = d->cap_places ? d->cap_places * 2 : 64;
		struct place *n = realloc(d->places, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		d->places = n;
		d->cap_places = cap;
	}
	d->places[d->n_places++] = *p;
	return 0;
}

static bool all_digits(const char *s, int base)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (base == 10 && !(*s >= '0' && *s <= '9'))
			return false;
		if (base == 16 && !((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		                    (*s >= 'A' && *s <= 'F')))
			return false;
		if (base == 8 && !(*s >= '0' && *s <= '7'))
			return false;
	}
	return true;
}

static bool is_float(const char *s)
{
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	bool digits = false;
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits = true;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* Resolve a scalar per the YAML 1.2 core schema. Returns NULL with *why on a value jansson
 * cannot hold (non-finite, out-of-range integer). */
static json_t *resolve_scalar(const yaml_event_t *ev, const char **why)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

	if (strlen(v) != len) {
		*why = "NUL byte in scalar";
		return NULL;
	}
	if ((tag && strcmp(tag, YAML_STR_TAG) == 0) || !plain)
		return json_stringn(v, len);
	if (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	    strcmp(v, "NULL") == 0)
		return json_null();
	if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
		return json_true();
	if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0)
		return json_false();
	const char *digits = (v[0] == '-' || v[0] == '+') ? v + 1 : v;
	int base = 0;
	if (all_digits(digits, 10))
		base = 10;
	else if (strncmp(v, "0x", 2) == 0 && all_digits(v + 2, 16))
		base = 16;
	else if (strncmp(v, "0o", 2) == 0 && all_digits(v + 2, 8))
		base = 8;
	if (base) {
		errno = 0;
		const char *start = base == 10 ? v : v + 2;
		long long i = strtoll(start, NULL, base);
		if (errno == ERANGE) {
			*why = "integer out of range";
			return NULL;
		}
		return json_integer(i);
	}
	if (is_float(v))
		return json_real(strtod(v, NULL));
	const char *nf = digits;
	if (strcasecmp(nf, ".inf") == 0 || strcasecmp(v, ".nan") == 0) {
		*why = "non-finite numbers are not allowed";
		return NULL;
	}
	return json_stringn(v, len);
}

static void format_err(char *err, size_t errsz, const char *name, struct dd_pos pos,
                       const char *msg)
{
	snprintf(err, errsz, "%s:%d:%d: %s", name, pos.line, pos.col, msg);
}

static size_t count_nodes(const json_t *j)
{
	size_t n = 1;
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_object(j)) {
		json_object_foreach ((json_t *)j, k, v)
			n += count_nodes(v);
	} else if (json_is_array(j)) {
		json_array_foreach (j, i, v)
			n += count_nodes(v);
	}
	return n;
}

static int remember_anchor(struct dd_yaml_doc *d, const yaml_char_t *name, json_t *node)
{
	if (!name)
		return 0;
	struct anchor *n = realloc(d->anchors, (d->n_anchors + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	d->anchors = n;
	d->anchors[d->n_anchors].name = strdup((const char *)name);
	if (!d->anchors[d->n_anchors].name)
		return -ENOMEM;
	d->anchors[d->n_anchors].node = json_incref(node);
	d->n_anchors++;
	return 0;
}

static json_t *find_anchor(struct dd_yaml_doc *d, const yaml_char_t *name)
{
	for (size_t i = d->n_anchors; i-- > 0;)
		if (strcmp(d->anchors[i].name, (const char *)name) == 0)
			return d->anchors[i].node;
	return NULL;
}

/* Attach a finished value to the frame on top of the stack (or make it the root). */
static int attach(struct dd_yaml_doc *d, struct frame *stack, size_t depth, json_t *val,
                  struct dd_pos pos, const char **why, struct dd_pos *why_pos)
{
	if (depth == 0) {
		d->root = val;
		struct place p = {.self = val, .val_pos = pos};
		return add_place(d, &p);
	}
	struct frame *top = &stack[depth - 1];
	struct place p = {.parent = top->node, .val_pos = pos};
	if (json_is_object(val) || json_is_array(val))
		p.self = val;
	if (json_is_array(top->node)) {
		p.idx = json_array_size(top->node);
		if (json_array_append_new(top->node, val) < 0)
			return -ENOMEM;
		return add_place(d, &p);
	}
	if (!top->pending_key) {
		/* A value in key position: only scalar keys are allowed. */
		if (!json_is_string(val)) {
			json_decref(val);
			*why = "mapping keys must be strings";
			*why_pos = pos;
			return -EINVAL;
		}
		top->pending_key = strdup(json_string_value(val));
		top->key_pos = pos;
		json_decref(val);
		return top->pending_key ? 0 : -ENOMEM;
	}
	if (json_object_get(top->node, top->pending_key)) {
		json_decref(val);
		*why = "duplicate key";
		*why_pos = top->key_pos;
		return -EINVAL;
	}
	if (json_object_set_new(top->node, top->pending_key, val) < 0)
		return -ENOMEM;
	p.key = top->pending_key;
	p.key_pos = top->key_pos;
	top->pending_key = NULL;
	return add_place(d, &p);
}

int dd_yaml_load(const char *name, const char *text, size_t len, struct dd_yaml_doc **ret,
                 char *err, size_t errsz)
{
	struct dd_yaml_doc *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->name = strdup(name);
	if (!d->name) {
		free(d);
		return -ENOMEM;
	}

	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		dd_yaml_doc_free(d);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

	struct frame stack[MAX_DEPTH + 1];
	size_t depth = 0;
	int rc = 0;
	const char *why = NULL;
	struct dd_pos why_pos = {0, 0};
	bool done = false;
	int docs = 0;
	char ctxmsg[256];

	while (!done) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			why = parser.problem ? parser.problem : "syntax error";
			why_pos = mark_pos(parser.problem_mark);
			if (parser.context) {
				struct dd_pos c = mark_pos(parser.context_mark);
				snprintf(ctxmsg, sizeof(ctxmsg), "%s (%s at line %d, column %d)",
				         why, parser.context, c.line, c.col);
				why = ctxmsg;
			}
			rc = -EINVAL;
			break;
		}
		struct dd_pos pos = mark_pos(ev.start_mark);
		json_t *val = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				why = "more than one document";
				why_pos = pos;
				rc = -EINVAL;
			}
			break;
		case YAML_SCALAR_EVENT:
			val = resolve_scalar(&ev, &why);
			if (!val) {
				why_pos = pos;
				rc = why ? -EINVAL : -ENOMEM;
				break;
			}
			if (++d->n_nodes > MAX_NODES) {
				json_decref(val);
				why = "document too large";
				why_pos = pos;
				rc = -E2BIG;
				break;
			}
			rc = remember_anchor(d, ev.data.scalar.anchor, val);
			if (rc == 0)
				rc = attach(d, stack, depth, val, pos, &why, &why_pos);
			else
				json_decref(val);
			break;
		case YAML_ALIAS_EVENT: {
			json_t *a = find_anchor(d, ev.data.alias.anchor);
			if (!a) {
				why = "unknown alias";
				why_pos = pos;
				rc = -EINVAL;
				break;
			}
			d->n_nodes += count_nodes(a);
			if (d->n_nodes > MAX_NODES) {
				why = "document too large (alias expansion)";
				why_pos = pos;
				rc = -E2BIG;
				break;
			}
			val = json_deep_copy(a);
			rc = val ? attach(d, stack, depth, val, pos, &why, &why_pos) : -ENOMEM;
			break;
		}
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth >= MAX_DEPTH) {
				why = "nesting too deep";
				why_pos = pos;
				rc = -E2BIG;
				break;
			}
			if (++d->n_nodes > MAX_NODES) {
				why = "document too large";
				why_pos = pos;
				rc = -E2BIG;
				break;
			}
			val = ev.type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object();
			if (!val) {
				rc = -ENOMEM;
				break;
			}
			/* Attach first so the container's own place is recorded with its position;
			 * it is filled in place afterwards. */
			json_incref(val);
			rc = attach(d, stack, depth, val, pos, &why, &why_pos);
			if (rc == 0) {
				const yaml_char_t *anchor = ev.type == YAML_SEQUENCE_START_EVENT
				                                ? ev.data.sequence_start.anchor
				                                : ev.data.mapping_start.anchor;
				stack[depth++] = (struct frame){.node = val};
				/* Anchored containers are copied when the alias is met, which
				 * happens after they are complete. */
				rc = remember_anchor(d, anchor, val);
			}
			json_decref(val);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			free(stack[depth].pending_key);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (rc < 0)
			break;
	}
	while (depth > 0)
		free(stack[--depth].pending_key);
	yaml_parser_delete(&parser);

	if (rc == 0 && !d->root) {
		rc = -EINVAL;
		why = "empty document";
		why_pos = (struct dd_pos){1, 1};
	}
	if (rc < 0) {
		format_err(err, errsz, name, why_pos, why ? why : strerror(-rc));
		dd_yaml_doc_free(d);
		return rc;
	}
	*ret = d;
	return 0;
}

void dd_yaml_doc_free(struct dd_yaml_doc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_places; i++)
		free(d->places[i].key);
	free(d->places);
	for (size_t i = 0; i < d->n_anchors; i++) {
		free(d->anchors[i].name);
		json_decref(d->anchors[i].node);
	}
	free(d->anchors);
	json_decref(d->root);
	free(d->name);
	free(d);
}

json_t *dd_yaml_root(const struct dd_yaml_doc *d)
{
	return d->root;
}

const char *dd_yaml_name(const struct dd_yaml_doc *d)
{
	return d->name;
}

struct dd_pos dd_yaml_pos_node(const struct dd_yaml_doc *d, const json_t *container)
{
	for (size_t i = 0; i < d->n_places; i++)
		if (d->places[i].self == container)
			return d->places[i].val_pos;
	return (struct dd_pos){0, 0};
}

static const struct place *find_member(const struct dd_yaml_doc *d, const json_t *obj,
                                       const char *key)
{
	for (size_t i = 0; i < d->n_places; i++)
		if (d->places[i].parent == obj && d->places[i].key &&
		    strcmp(d->places[i].key, key) == 0)
			return &d->places[i];
	return NULL;
}

struct dd_pos dd_yaml_pos_value(const struct dd_yaml_doc *d, const json_t *obj, const char *key)
{
	const struct place *p = find_member(d, obj, key);
	return p ? p->val_pos : dd_yaml_pos_node(d, obj);
}

struct dd_pos dd_yaml_pos_key(const struct dd_yaml_doc *d, const json_t *obj, const char *key)
{
	const struct place *p = find_member(d, obj, key);
	return p ? p->key_pos : dd_yaml_pos_node(d, obj);
}

struct dd_pos dd_yaml_pos_item(const struct dd_yaml_doc *d, const json_t *arr, size_t idx)
{
	for (size_t i = 0; i < d->n_places; i++)
		if (d->places[i].parent == arr && !d->places[i].key && d->places[i].idx == idx)
			return d->places[i].val_pos;
	return dd_yaml_pos_node(d, arr);
}
