/* YAML (and JSON, which libyaml reads as flow YAML) into a jansson tree that remembers where
 * every node came from, so validation errors can say FILE:LINE:COL. */
#ifndef DRIFTD_YAMLTREE_H
#define DRIFTD_YAMLTREE_H

#include <stdio.h>

#include <jansson.h>

struct dd_pos {
	int line; /* 1-based */
	int col;  /* 1-based */
};

struct dd_yaml_doc;

/* Parse a whole document. On a syntax error returns -EINVAL and writes
 * "FILE:LINE:COL: message" into err. */
int dd_yaml_load(const char *name, const char *text, size_t len, struct dd_yaml_doc **ret,
                 char *err, size_t errsz);
void dd_yaml_doc_free(struct dd_yaml_doc *doc);
json_t *dd_yaml_root(const struct dd_yaml_doc *doc);
const char *dd_yaml_name(const struct dd_yaml_doc *doc);

/* Where a node was written. Containers are found by identity; scalars (which jansson may share,
 * e.g. json_true()) by their place: the key in an object or the index in an array. Unknown
 * places give {0, 0}. */
struct dd_pos dd_yaml_pos_node(const struct dd_yaml_doc *doc, const json_t *container);
struct dd_pos dd_yaml_pos_value(const struct dd_yaml_doc *doc, const json_t *obj, const char *key);
struct dd_pos dd_yaml_pos_key(const struct dd_yaml_doc *doc, const json_t *obj, const char *key);
struct dd_pos dd_yaml_pos_item(const struct dd_yaml_doc *doc, const json_t *arr, size_t idx);

#endif
