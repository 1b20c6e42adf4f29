/* Group decisions. Rounds are formed by order of arrival per member (the k-th verdict of every
 * member), which is what "per window" means when windows count values: members fed by the same
 * events close their windows on the same record. */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"

struct member {
	size_t monitor;
	struct dd_held q[DD_GROUP_MAX_PENDING]; /* ring */
	size_t head, len;
};

struct dd_group {
	struct dd_group_conf conf;
	struct member *m;
	size_t n;
	/* scratch for one round, sized n */
	size_t *order;
	struct dd_held *round;
	bool *present;
};

int dd_group_new(const struct dd_group_conf *conf, const size_t *members, size_t n,
                 struct dd_group **ret)
{
	struct dd_group *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->conf = *conf;
	g->n = n;
	g->m = calloc(n ? n : 1, sizeof(*g->m));
	g->order = calloc(n ? n : 1, sizeof(*g->order));
	g->round = calloc(n ? n : 1, sizeof(*g->round));
	g->present = calloc(n ? n : 1, sizeof(*g->present));
	if (!g->m || !g->order || !g->round || !g->present) {
		dd_group_free(g);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		g->m[i].monitor = members[i];
	*ret = g;
	return 0;
}

void dd_group_free(struct dd_group *g)
{
	if (!g)
		return;
	free(g->m);
	free(g->order);
	free(g->round);
	free(g->present);
	free(g);
}

size_t dd_group_size(const struct dd_group *g)
{
	return g->n;
}

static int by_p(const void *a, const void *b, void *arg)
{
	/* Total order: NaN p-values (no test possible) sort last; ties by member index. */
	const struct dd_group *g = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	double pi = g->round[i].v.p_value, pj = g->round[j].v.p_value;
	bool ni = isnan(pi), nj = isnan(pj);
	if (ni != nj)
		return ni ? 1 : -1;
	if (!ni && pi != pj)
		return pi < pj ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* Decide the round made of the fronts of every non-empty queue. */
static size_t decide(struct dd_group *g, struct dd_decided *out)
{
	size_t m = 0;
	for (size_t i = 0; i < g->n; i++) {
		struct member *mb = &g->m[i];
		g->present[i] = mb->len > 0;
		if (!g->present[i])
			continue;
		g->round[i] = mb->q[mb->head];
		mb->head = (mb->head + 1) % DD_GROUP_MAX_PENDING;
		mb->len--;
		g->order[m++] = i;
	}
	double alpha = g->conf.alpha, dm = (double)m;
	if (g->conf.correction == DD_CORRECTION_BH)
		qsort_r(g->order, m, sizeof(*g->order), by_p, g);
	/* BH step-up: q_(k) = min over j >= k of p_(j) m / j, computed from the largest rank. */
	double running = 1.0;
	for (size_t r = m; r-- > 0;) {
		size_t i = g->order[r];
		struct dd_held *h = &g->round[i];
		double p = h->v.p_value, q;
		if (g->conf.correction == DD_CORRECTION_BONFERRONI) {
			q = isnan(p) ? (double)NAN : fmin(1.0, p * dm);
			h->v.threshold = alpha / dm;
		} else {
			if (!isnan(p))
				running = fmin(running, fmin(1.0, p * dm / (double)(r + 1)));
			q = isnan(p) ? (double)NAN : running;
			h->v.threshold = alpha * (double)(r + 1) / dm;
		}
		h->v.drift = !isnan(q) && q <= alpha;
		out[r] =
		    (struct dd_decided){.monitor = g->m[i].monitor, .held = *h, .p_adjusted = q};
	}
	return m;
}

size_t dd_group_offer(struct dd_group *g, size_t monitor, const struct dd_held *h,
                      struct dd_decided *out)
{
	struct member *mb = NULL;
	for (size_t i = 0; i < g->n && !mb; i++)
		if (g->m[i].monitor == monitor)
			mb = &g->m[i];
	if (!mb)
		return 0;
	size_t produced = 0;
	if (mb->len == DD_GROUP_MAX_PENDING)
		produced += decide(g, out); /* the slow members are absent from this round */
	mb->q[(mb->head + mb->len) % DD_GROUP_MAX_PENDING] = *h;
	mb->len++;
	for (;;) {
		bool complete = true;
		for (size_t i = 0; i < g->n && complete; i++)
			complete = g->m[i].len > 0;
		if (!complete)
			break;
		produced += decide(g, out + produced);
	}
	return produced;
}

size_t dd_group_member(const struct dd_group *g, size_t k)
{
	return g->m[k].monitor;
}

size_t dd_group_pending(const struct dd_group *g, size_t k,
                        struct dd_held out[DD_GROUP_MAX_PENDING])
{
	const struct member *mb = &g->m[k];
	for (size_t i = 0; i < mb->len; i++)
		out[i] = mb->q[(mb->head + i) % DD_GROUP_MAX_PENDING];
	return mb->len;
}

int dd_group_set_pending(struct dd_group *g, size_t k, const struct dd_held *h, size_t n)
{
	if (k >= g->n || n > DD_GROUP_MAX_PENDING)
		return -EINVAL;
	struct member *mb = &g->m[k];
	mb->head = 0;
	mb->len = n;
	for (size_t i = 0; i < n; i++)
		mb->q[i] = h[i];
	return 0;
}
