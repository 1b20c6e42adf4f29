/* Service-mode state (state_store.h). */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "durable.h"
#include "snapfile.h"
#include "state_store.h"

struct dd_state_store {
	char *dir;
	int lockfd;
	FILE *log;
};

struct dd_partition_pos *dd_positions_find(struct dd_positions *ps, const char *topic,
                                           int32_t partition)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->p[i].partition == partition && strcmp(ps->p[i].topic, topic) == 0)
			return &ps->p[i];
	return NULL;
}

struct dd_partition_pos *dd_positions_get(struct dd_positions *ps, const char *topic,
                                          int32_t partition)
{
	struct dd_partition_pos *e = dd_positions_find(ps, topic, partition);
	if (e)
		return e;
	if (strlen(topic) > DD_STATE_TOPIC_MAX)
		return NULL;
	if (ps->n == ps->cap) {
		size_t nc = ps->cap ? ps->cap * 2 : 16;
		struct dd_partition_pos *np = realloc(ps->p, nc * sizeof(*np));
		if (!np)
			return NULL;
		ps->p = np;
		ps->cap = nc;
	}
	e = &ps->p[ps->n++];
	snprintf(e->topic, sizeof(e->topic), "%s", topic);
	e->partition = partition;
	e->next = -1;
	return e;
}

void dd_positions_free(struct dd_positions *ps)
{
	free(ps->p);
	*ps = (struct dd_positions){0};
}

int dd_state_open(const char *state_dir, const char *group, FILE *log, struct dd_state_store **ret)
{
	*ret = NULL;
	/* The group names the folder: two consumers of different groups on one host keep
	 * apart, and a group name cannot climb out of it. */
	if (!*group || strchr(group, '/') || strcmp(group, ".") == 0 || strcmp(group, "..") == 0)
		return -EINVAL;
	struct dd_state_store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->log = log;
	s->lockfd = -1;
	if (asprintf(&s->dir, "%s/state/%s", state_dir, group) < 0) {
		free(s);
		return -ENOMEM;
	}
	int rc = dd_mkdir_p(s->dir);
	char lock[4200];
	snprintf(lock, sizeof(lock), "%s/.lock", s->dir);
	if (rc == 0 && (s->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		rc = -errno;
	if (rc == 0 && flock(s->lockfd, LOCK_EX | LOCK_NB) < 0)
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
	if (rc < 0) {
		dd_state_close(s);
		return rc;
	}
	*ret = s;
	return 0;
}

void dd_state_close(struct dd_state_store *s)
{
	if (!s)
		return;
	if (s->lockfd >= 0)
		close(s->lockfd);
	free(s->dir);
	free(s);
}

const char *dd_state_dir(const struct dd_state_store *s)
{
	return s->dir;
}

json_t *dd_state_document(const struct dd_pipeline *p, const struct dd_positions *pos)
{
	json_t *doc;
	if (dd_pipeline_save(p, &doc) < 0)
		return NULL;
	json_t *offs = json_array();
	for (size_t i = 0; offs && i < pos->n; i++)
		if (pos->p[i].next >= 0)
			json_array_append_new(offs,
			                      json_pack("{s:s, s:i, s:I}", "topic", pos->p[i].topic,
			                                "partition", (int)pos->p[i].partition,
			                                "next", (json_int_t)pos->p[i].next));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!offs || json_object_set_new(doc, "kafka", json_pack("{s:o}", "offsets", offs)) < 0 ||
	    json_object_set_new(doc, "saved_ms",
	                        json_integer((json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000)) <
	        0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int dd_state_positions(const json_t *doc, struct dd_positions *pos, char *why, size_t whysz)
{
	const json_t *offs = json_object_get(json_object_get(doc, "kafka"), "offsets");
	if (!json_is_array(offs)) {
		snprintf(why, whysz, "kafka.offsets: not a list");
		return -EBADMSG;
	}
	size_t i;
	const json_t *o;
	json_array_foreach (offs, i, o) {
		const char *topic = json_string_value(json_object_get(o, "topic"));
		const json_t *part = json_object_get(o, "partition"),
		             *next = json_object_get(o, "next");
		if (!topic || !*topic || strlen(topic) > DD_STATE_TOPIC_MAX ||
		    !json_is_integer(part) || json_integer_value(part) < 0 ||
		    json_integer_value(part) > INT32_MAX || !json_is_integer(next) ||
		    json_integer_value(next) < 0) {
			snprintf(why, whysz, "kafka.offsets[%zu]: not {topic, partition, next}", i);
			return -EBADMSG;
		}
		struct dd_partition_pos *e =
		    dd_positions_get(pos, topic, (int32_t)json_integer_value(part));
		if (!e)
			return -ENOMEM;
		e->next = json_integer_value(next);
	}
	return 0;
}

int dd_state_save(struct dd_state_store *s, const struct dd_pipeline *p,
                  const struct dd_positions *pos, uint64_t *generation)
{
	json_t *doc = dd_state_document(p, pos);
	if (!doc)
		return -ENOMEM;
	/* Sorted keys and 17 digits: doubles round-trip and equal states give equal bytes. */
	char *text = json_dumps(doc, JSON_SORT_KEYS | JSON_REAL_PRECISION(17) | JSON_COMPACT);
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	int rc = dd_snap_write(s->dir, text, strlen(text), DD_STATE_KEEP, generation);
	free(text);
	return rc;
}

int dd_state_restore(struct dd_state_store *s, struct dd_pipeline *p, struct dd_positions *pos,
                     struct dd_restore_report *r)
{
	*r = (struct dd_restore_report){0};
	uint64_t *gens;
	size_t n;
	int rc = dd_snap_list(s->dir, &gens, &n);
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	size_t used = 0;
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		struct driftd_buf b = {0};
		uint64_t got;
		unsigned skipped;
		char why[512] = "", sub[512] = "";
		int r1 = dd_snap_read(s->dir, gens[i], DD_STATE_MAX_BYTES, &b, &got, &skipped, why,
		                      sizeof(why));
		json_t *doc = NULL;
		struct dd_positions np = {0};
		if (r1 == 0) {
			json_error_t e;
			doc = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, &e);
			if (!doc) {
				snprintf(sub, sizeof(sub), "not JSON: %s", e.text);
				r1 = -EBADMSG;
			}
		} else {
			snprintf(sub, sizeof(sub), "%s", why);
		}
		if (r1 == 0)
			r1 = dd_state_positions(doc, &np, sub, sizeof(sub));
		if (r1 == 0)
			r1 = dd_pipeline_load(p, doc, &r->load, sub, sizeof(sub));
		json_decref(doc);
		driftd_buf_free(&b);
		if (r1 == 0) {
			dd_positions_free(pos);
			*pos = np;
			r->found = true;
			r->generation = gens[i];
			break;
		}
		dd_positions_free(&np);
		if (r1 == -ENOMEM) {
			rc = r1;
			break;
		}
		r->skipped++;
		if (sizeof(r->why) > used)
			used += (size_t)snprintf(r->why + used, sizeof(r->why) - used,
			                         "%sgeneration %" PRIu64 ": %s", used ? "; " : "",
			                         gens[i], sub);
		if (used >= sizeof(r->why))
			used = sizeof(r->why);
	}
	free(gens);
	if (rc == 0 && n > 0 && !r->found)
		rc = -EBADMSG;
	return rc;
}
