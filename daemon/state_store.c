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
	*e = (struct dd_partition_pos){.partition = partition,
	                               .next = -1,
	                               .resume = -1,
	                               .max_ts = -1,
	                               .published = -1,
	                               .pending = -1};
	snprintf(e->topic, sizeof(e->topic), "%s", topic);
	return e;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int dd_partition_set_held(struct dd_partition_pos *e, const int64_t *v, size_t n)
{
	int64_t *h = n ? malloc(n * sizeof(*h)) : NULL;
	if (n && !h)
		return -ENOMEM;
	if (n) {
		memcpy(h, v, n * sizeof(*h));
		qsort(h, n, sizeof(*h), cmp_i64);
	}
	free(e->held);
	e->held = h;
	e->n_held = n;
	e->resume = n ? h[0] : -1;
	return 0;
}

void dd_positions_free(struct dd_positions *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		json_decref(ps->p[i].state);
		free(ps->p[i].held);
	}
	free(ps->p);
	json_decref(ps->seed);
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

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

json_t *dd_state_partition(const struct dd_pipeline *p, const struct dd_partition_pos *e)
{
	json_t *state = NULL;
	if (e->live) {
		int rc = dd_pipeline_shard_save(p, e->topic, e->partition, &state);
		if (rc < 0 && rc != -ENOENT)
			return NULL;
	} else {
		state = json_incref(e->state);
	}
	json_t *j =
	    json_pack("{s:s, s:i, s:I, s:o}", "topic", e->topic, "partition", (int)e->partition,
	              "next", (json_int_t)e->next, "state", state ? state : json_null());
	json_t *held = j && e->n_held ? json_array() : NULL;
	for (size_t i = 0; held && i < e->n_held; i++)
		if (json_array_append_new(held, json_integer((json_int_t)e->held[i])) < 0) {
			json_decref(held);
			held = NULL;
		}
	if (j && e->n_held && (!held || json_object_set_new(j, "held", held) < 0)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

json_t *dd_state_document(const struct dd_pipeline *p, const struct dd_positions *pos)
{
	json_t *parts = json_array(), *seed = NULL;
	json_t *doc = json_pack("{s:i, s:I, s:o}", "format", DD_STATE_DOC_FORMAT, "saved_ms",
	                        (json_int_t)now_ms(), "partitions", parts);
	if (!doc)
		return NULL;
	for (size_t i = 0; i < pos->n; i++) {
		if (pos->p[i].next < 0)
			continue; /* nothing read yet: nothing to resume */
		json_t *e = dd_state_partition(p, &pos->p[i]);
		if (!e || json_array_append_new(parts, e) < 0)
			goto fail;
	}
	/* An unpartitioned pipeline (replay) is the seed; a service keeps the one it has. */
	if (dd_pipeline_save(p, &seed) < 0)
		seed = json_incref(pos->seed);
	if (seed && json_object_set_new(doc, "seed", seed) < 0)
		goto fail;
	return doc;
fail:
	json_decref(doc);
	return NULL;
}

int dd_state_partition_parse(const json_t *o, struct dd_partition_pos *e, char *why, size_t whysz)
{
	const char *topic = json_string_value(json_object_get(o, "topic"));
	const json_t *part = json_object_get(o, "partition"), *next = json_object_get(o, "next"),
	             *state = json_object_get(o, "state"), *held = json_object_get(o, "held");
	if (!topic || !*topic || strlen(topic) > DD_STATE_TOPIC_MAX || !json_is_integer(part) ||
	    json_integer_value(part) < 0 || json_integer_value(part) > INT32_MAX ||
	    !json_is_integer(next) || json_integer_value(next) < 0 ||
	    (state && !json_is_object(state) && !json_is_null(state)) ||
	    (held && (!json_is_array(held) || json_array_size(held) > DD_STATE_HELD_MAX))) {
		snprintf(why, whysz, "not {topic, partition, next, held, state}");
		return -EBADMSG;
	}
	/* Held halves: offsets below next, strictly ascending. */
	size_t nh = json_array_size(held);
	int64_t *hv = nh ? malloc(nh * sizeof(*hv)) : NULL;
	if (nh && !hv)
		return -ENOMEM;
	for (size_t i = 0; i < nh; i++) {
		const json_t *x = json_array_get(held, i);
		hv[i] = json_is_integer(x) ? json_integer_value(x) : -1;
		if (hv[i] < 0 || hv[i] >= json_integer_value(next) || (i && hv[i] <= hv[i - 1])) {
			free(hv);
			snprintf(why, whysz, "held[%zu]: not an offset below next, ascending", i);
			return -EBADMSG;
		}
	}
	*e = (struct dd_partition_pos){.partition = (int32_t)json_integer_value(part),
	                               .next = json_integer_value(next),
	                               .held = hv,
	                               .n_held = nh,
	                               .resume = nh ? hv[0] : -1,
	                               .max_ts = -1,
	                               .published = -1,
	                               .pending = -1,
	                               .state = json_is_object(state) ? json_incref((json_t *)state)
	                                                              : NULL};
	snprintf(e->topic, sizeof(e->topic), "%s", topic);
	return 0;
}

/* Append a parsed entry to pos (duplicates are checked once all are in: check_unique). */
static int add_entry(struct dd_positions *pos, struct dd_partition_pos *e)
{
	if (pos->n == pos->cap) {
		size_t nc = pos->cap ? pos->cap * 2 : 16;
		struct dd_partition_pos *np = realloc(pos->p, nc * sizeof(*np));
		if (!np) {
			json_decref(e->state);
			free(e->held);
			return -ENOMEM;
		}
		pos->p = np;
		pos->cap = nc;
	}
	pos->p[pos->n++] = *e;
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct dd_partition_pos *x = *(const struct dd_partition_pos *const *)a,
	                              *y = *(const struct dd_partition_pos *const *)b;
	int c = strcmp(x->topic, y->topic);
	return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* A partition listed twice is refused (sorted: a hostile document of many entries costs
 * n log n, not n^2). */
static int check_unique(const struct dd_positions *pos, char *why, size_t whysz)
{
	if (pos->n < 2)
		return 0;
	const struct dd_partition_pos **v = malloc(pos->n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < pos->n; i++)
		v[i] = &pos->p[i];
	qsort(v, pos->n, sizeof(*v), cmp_entry);
	int rc = 0;
	for (size_t i = 1; i < pos->n && rc == 0; i++)
		if (cmp_entry(&v[i - 1], &v[i]) == 0) {
			snprintf(why, whysz, "%s[%d] listed twice", v[i]->topic,
			         (int)v[i]->partition);
			rc = -EBADMSG;
		}
	free(v);
	return rc;
}

/* The partition entries of a list (`name` for messages), each once. */
static int parse_entries(const json_t *list, const char *name, struct dd_positions *pos, char *why,
                         size_t whysz)
{
	char sub[256] = "";
	size_t i;
	const json_t *o;
	json_array_foreach (list, i, o) {
		struct dd_partition_pos e;
		int rc = dd_state_partition_parse(o, &e, sub, sizeof(sub));
		if (rc == 0)
			rc = add_entry(pos, &e);
		if (rc == -EBADMSG)
			snprintf(why, whysz, "%s[%zu]: %s", name, i, sub);
		if (rc < 0)
			return rc;
	}
	return check_unique(pos, why, whysz);
}

int dd_state_parse(const json_t *doc, struct dd_positions *pos, char *why, size_t whysz)
{
	const json_t *fmt = json_object_get(doc, "format");
	if (json_is_integer(fmt) && json_integer_value(fmt) == DD_STATE_FORMAT) {
		/* Format 1 (one state for every partition, from before state was per
		 * partition, or a replay's): its state seeds each partition, which resume at
		 * its offsets. */
		const json_t *offs = json_object_get(json_object_get(doc, "kafka"), "offsets");
		if (offs && !json_is_array(offs)) {
			snprintf(why, whysz, "kafka.offsets: not a list");
			return -EBADMSG;
		}
		if (!json_is_object(json_object_get(doc, "monitors"))) {
			snprintf(why, whysz, "monitors: not an object");
			return -EBADMSG;
		}
		int rc = parse_entries(offs, "kafka.offsets", pos, why, whysz);
		if (rc < 0)
			return rc;
		json_decref(pos->seed);
		pos->seed = json_pack("{s:O, s:O, s:O*}", "format", fmt, "monitors",
		                      json_object_get(doc, "monitors"), "groups",
		                      json_object_get(doc, "groups"));
		return pos->seed ? 0 : -ENOMEM;
	}
	const json_t *parts = json_object_get(doc, "partitions"),
	             *seed = json_object_get(doc, "seed");
	if (!json_is_integer(fmt) || json_integer_value(fmt) != DD_STATE_DOC_FORMAT ||
	    !json_is_array(parts) || (seed && !json_is_object(seed))) {
		snprintf(why, whysz, "not a driftd state document of format %d or %d",
		         DD_STATE_DOC_FORMAT, DD_STATE_FORMAT);
		return -EBADMSG;
	}
	int rc = parse_entries(parts, "partitions", pos, why, whysz);
	if (rc < 0)
		return rc;
	json_decref(pos->seed);
	pos->seed = json_incref((json_t *)seed);
	return 0;
}

static void add_report(struct dd_load_report *sum, const struct dd_load_report *r)
{
	sum->restored += r->restored;
	sum->changed += r->changed;
	sum->fresh += r->fresh;
	sum->dropped += r->dropped;
}

int dd_state_load(struct dd_pipeline *p, struct dd_positions *pos, struct dd_restore_report *r,
                  char *why, size_t whysz)
{
	char sub[512] = "";
	int rc = 0;
	struct dd_load_report lr;
	if (pos->seed) {
		/* Checked once here (under a key no partition has), taken per partition. */
		rc = dd_pipeline_shard_load(p, "", 0, pos->seed, &lr, sub, sizeof(sub));
		if (rc < 0) {
			snprintf(why, whysz, "seed: %s", sub[0] ? sub : strerror(-rc));
			return rc;
		}
		dd_pipeline_shard_drop(p, "", 0);
		add_report(&r->load, &lr);
		r->seed = true;
	}
	for (size_t i = 0; i < pos->n; i++) {
		struct dd_partition_pos *e = &pos->p[i];
		if (!e->state)
			continue;
		rc = dd_pipeline_shard_load(p, e->topic, e->partition, e->state, &lr, sub,
		                            sizeof(sub));
		if (rc < 0) {
			snprintf(why, whysz, "%s[%d]: %s", e->topic, (int)e->partition,
			         sub[0] ? sub : strerror(-rc));
			break;
		}
		add_report(&r->load, &lr);
		r->partitions++;
		e->live = true;
		json_decref(e->state);
		e->state = NULL;
	}
	if (rc < 0)
		for (size_t i = 0; i < pos->n; i++)
			if (pos->p[i].live) {
				dd_pipeline_shard_drop(p, pos->p[i].topic, pos->p[i].partition);
				pos->p[i].live = false;
			}
	return rc;
}

int dd_state_take(struct dd_pipeline *p, struct dd_positions *pos, struct dd_partition_pos *e,
                  const json_t *doc, struct dd_load_report *r, char *why, size_t whysz)
{
	/* A document given (the state topic's) that does not load changes nothing: the
	 * caller goes on with what it has. Its own state or the seed that does not load is
	 * replaced by a fresh one: the partition must go on. */
	const json_t *from = doc ? doc : e->state ? e->state : pos->seed;
	int rc = dd_pipeline_shard_load(p, e->topic, e->partition, from, r, why, whysz);
	if (rc == -EBADMSG && doc)
		return rc;
	if (rc == -EBADMSG) {
		char unused[8];
		struct dd_load_report fresh;
		rc = dd_pipeline_shard_load(p, e->topic, e->partition, NULL, &fresh, unused,
		                            sizeof(unused));
		rc = rc < 0 ? rc : -EBADMSG;
	}
	if (rc == 0 || rc == -EBADMSG) {
		e->live = true;
		json_decref(e->state);
		e->state = NULL;
	}
	return rc;
}

int dd_state_release(struct dd_pipeline *p, struct dd_partition_pos *e)
{
	if (!e->live)
		return 0;
	json_t *state = NULL;
	int rc = dd_pipeline_shard_save(p, e->topic, e->partition, &state);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	json_decref(e->state);
	e->state = state;
	e->live = false;
	dd_pipeline_shard_drop(p, e->topic, e->partition);
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
			r1 = dd_state_parse(doc, &np, sub, sizeof(sub));
		if (r1 == 0) {
			r->load = (struct dd_load_report){0};
			r->partitions = 0;
			r->seed = false;
			r1 = dd_state_load(p, &np, r, sub, sizeof(sub));
		}
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
