/* Telemetry health (see telemetry.h). A linear table: models are few (one per deployed model)
 * and the per-record lookup compares the last hit first, which is the common case. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry.h"

struct model {
	char id[128];
	size_t len;
	int64_t last_ms;
	bool silent;
};

struct dd_telemetry {
	int64_t gap_ms;
	struct model *m;
	size_t n;
	size_t last; /* index of the last hit */
	uint64_t overflow;
};

int dd_telemetry_new(int64_t gap_ms, struct dd_telemetry **ret)
{
	struct dd_telemetry *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->m = calloc(DD_TELEMETRY_MAX_MODELS, sizeof(*t->m));
	if (!t->m) {
		free(t);
		return -ENOMEM;
	}
	t->gap_ms = gap_ms;
	*ret = t;
	return 0;
}

void dd_telemetry_free(struct dd_telemetry *t)
{
	if (!t)
		return;
	free(t->m);
	free(t);
}

static void fill(struct dd_gap *g, const struct model *m, int64_t now_ms, bool resolved)
{
	memcpy(g->model, m->id, m->len + 1);
	g->last_seen_ms = m->last_ms;
	g->silent_ms = now_ms - m->last_ms;
	g->resolved = resolved;
}

int dd_telemetry_seen(struct dd_telemetry *t, const char *model, size_t len, int64_t now_ms,
                      struct dd_gap *out)
{
	if (len >= sizeof(t->m[0].id))
		len = sizeof(t->m[0].id) - 1; /* long ids are tracked by their prefix */
	struct model *m = NULL;
	if (t->n && t->m[t->last].len == len && memcmp(t->m[t->last].id, model, len) == 0)
		m = &t->m[t->last];
	for (size_t i = 0; !m && i < t->n; i++)
		if (t->m[i].len == len && memcmp(t->m[i].id, model, len) == 0) {
			m = &t->m[i];
			t->last = i;
		}
	if (!m) {
		if (t->n == DD_TELEMETRY_MAX_MODELS) {
			t->overflow++;
			return 0;
		}
		m = &t->m[t->n];
		t->last = t->n++;
		memcpy(m->id, model, len);
		m->id[len] = '\0';
		m->len = len;
		m->last_ms = now_ms;
		return 0;
	}
	int ended = 0;
	if (m->silent) {
		fill(out, m, now_ms, true);
		m->silent = false;
		ended = 1;
	}
	if (now_ms > m->last_ms)
		m->last_ms = now_ms;
	return ended;
}

size_t dd_telemetry_check(struct dd_telemetry *t, int64_t now_ms, struct dd_gap *out, size_t max)
{
	size_t k = 0;
	if (t->gap_ms <= 0)
		return 0;
	for (size_t i = 0; i < t->n && k < max; i++) {
		struct model *m = &t->m[i];
		if (m->silent || now_ms - m->last_ms <= t->gap_ms)
			continue;
		m->silent = true;
		fill(&out[k++], m, now_ms, false);
	}
	return k;
}

uint64_t dd_telemetry_overflow(const struct dd_telemetry *t)
{
	return t->overflow;
}

size_t dd_telemetry_models(const struct dd_telemetry *t)
{
	return t->n;
}
