/* Stratified class rates against a fixed reference (see strata.h). */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "strata.h"

struct stratum {
	uint64_t ref_n, win_n, pos;
	uint64_t ref_k[DD_STRATA_CLASSES];
	uint64_t win_k[DD_STRATA_CLASSES];
	uint8_t ring[]; /* window class indices */
};

static size_t stride(size_t window)
{
	return (sizeof(struct stratum) + window + 7) & ~(size_t)7;
}

int dd_strata_init(struct dd_strata *s, const struct dd_strata_params *p, uint64_t seed)
{
	s->window = (size_t)p->window;
	strcpy(s->classes[DD_STRATA_CLASSES - 1], "(other)");
	return dd_ctab_init(&s->t, (size_t)p->max_strata, stride(s->window), seed);
}

void dd_strata_free(struct dd_strata *s)
{
	dd_ctab_free(&s->t);
}

size_t dd_strata_class(struct dd_strata *s, const char *label, size_t len, bool add)
{
	for (size_t i = 0; i < s->n_classes; i++)
		if (strlen(s->classes[i]) == len && memcmp(s->classes[i], label, len) == 0)
			return i;
	if (!add)
		return DD_STRATA_CLASSES;
	/* labels longer than the slot are kept truncated: they could merge, which only costs
	 * resolution, never correctness of the counts */
	if (s->n_classes < DD_STRATA_CLASSES - 1 && len < DD_STRATA_CLASS_MAX) {
		dd_sec_copy(s->classes[s->n_classes], DD_STRATA_CLASS_MAX, label, len);
		return s->n_classes++;
	}
	return DD_STRATA_CLASSES - 1;
}

static double z2(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2)
{
	double p1 = (double)k1 / (double)n1, p2 = (double)k2 / (double)n2;
	double p = (double)(k1 + k2) / (double)(n1 + n2);
	double se = sqrt(p * (1 - p) * (1 / (double)n1 + 1 / (double)n2));
	if (!(se > 0))
		return p2 > p1 ? 1e9 : 0;
	return (p2 - p1) / se;
}

int dd_strata_add(struct dd_strata *s, const struct dd_strata_params *p, const char *key,
                  size_t keylen, size_t cls)
{
	bool fresh;
	size_t slot = dd_ctab_get(&s->t, key, keylen, INFINITY, &fresh);
	struct stratum *st = dd_ctab_payload(&s->t, slot);
	s->t.weight[slot] += 1;
	s->events++;
	if (s->events <= (uint64_t)p->reference) {
		st->ref_n++;
		st->ref_k[cls]++;
		s->ref_n++;
		s->ref_k[cls]++;
		return 0;
	}
	if (st->win_n == s->window)
		st->win_k[st->ring[st->pos]]--;
	else
		st->win_n++;
	st->ring[st->pos] = (uint8_t)cls;
	st->win_k[cls]++;
	st->pos = (st->pos + 1) % s->window;
	if (st->win_n < (uint64_t)p->min_count)
		return 0;
	bool own = st->ref_n >= (uint64_t)p->min_count;
	uint64_t rn = own ? st->ref_n : s->ref_n;
	const uint64_t *rk = own ? st->ref_k : s->ref_k;
	if (rn == 0)
		return 0;
	/* only the class of this event can have gone up with it */
	double z = z2(rk[cls], rn, st->win_k[cls], st->win_n);
	double pr = (double)rk[cls] / (double)rn, pw = (double)st->win_k[cls] / (double)st->win_n;
	if (!(z > p->threshold && pw - pr > p->min_effect))
		return 0;
	memcpy(s->key, s->t.id[slot], DD_SEC_ID_MAX);
	s->cls = cls;
	s->z = z > 1e9 ? 1e9 : z;
	s->p_ref = pr;
	s->p_win = pw;
	s->n_ref = rn;
	s->n_win = st->win_n;
	s->pooled = !own;
	return 1;
}

void dd_strata_snapshot(const struct dd_strata *s, struct driftd_buf *b)
{
	driftd_buf_put_u64(b, s->n_classes);
	for (size_t i = 0; i < s->n_classes; i++)
		driftd_buf_put(b, s->classes[i], DD_STRATA_CLASS_MAX);
	driftd_buf_put_u64(b, s->events);
	driftd_buf_put_u64(b, s->ref_n);
	for (size_t i = 0; i < DD_STRATA_CLASSES; i++)
		driftd_buf_put_u64(b, s->ref_k[i]);
	dd_ctab_snapshot(&s->t, b);
}

static int check(const void *payload, const void *config)
{
	const struct dd_strata_params *p = config;
	const struct stratum *st = payload;
	uint64_t rs = 0, ws = 0, counted[DD_STRATA_CLASSES] = {0};
	if (st->win_n > (uint64_t)p->window || st->pos >= (uint64_t)p->window)
		return -EBADMSG;
	for (size_t i = 0; i < DD_STRATA_CLASSES; i++) {
		rs += st->ref_k[i];
		ws += st->win_k[i];
	}
	if (rs != st->ref_n || ws != st->win_n)
		return -EBADMSG;
	/* the ring must hold exactly the window's counts (window_k is decremented from it) */
	for (uint64_t i = 0; i < st->win_n; i++) {
		size_t at = (size_t)((st->pos + (uint64_t)p->window - 1 - i) % (uint64_t)p->window);
		if (st->ring[at] >= DD_STRATA_CLASSES)
			return -EBADMSG;
		counted[st->ring[at]]++;
	}
	if (st->win_n < (uint64_t)p->window && st->pos != st->win_n % (uint64_t)p->window)
		return -EBADMSG;
	for (size_t i = 0; i < DD_STRATA_CLASSES; i++)
		if (counted[i] != st->win_k[i])
			return -EBADMSG;
	return 0;
}

int dd_strata_restore(struct dd_strata *s, const struct dd_strata_params *p,
                      struct driftd_reader *r)
{
	uint64_t rs = 0;
	memset(s->classes, 0, sizeof(s->classes));
	strcpy(s->classes[DD_STRATA_CLASSES - 1], "(other)");
	if (driftd_rd_u64(r, &s->n_classes) < 0 || s->n_classes > DD_STRATA_CLASSES - 1)
		goto bad;
	for (size_t i = 0; i < s->n_classes; i++)
		if (driftd_rd(r, s->classes[i], DD_STRATA_CLASS_MAX) < 0 ||
		    !memchr(s->classes[i], '\0', DD_STRATA_CLASS_MAX))
			goto bad;
	if (driftd_rd_u64(r, &s->events) < 0 || driftd_rd_u64(r, &s->ref_n) < 0)
		goto bad;
	for (size_t i = 0; i < DD_STRATA_CLASSES; i++) {
		if (driftd_rd_u64(r, &s->ref_k[i]) < 0)
			goto bad;
		rs += s->ref_k[i];
	}
	if (rs != s->ref_n || s->ref_n > s->events || dd_ctab_restore(&s->t, r, check, p) < 0)
		goto bad;
	return 0;
bad:
	dd_strata_reset(s);
	return -EBADMSG;
}

void dd_strata_reset(struct dd_strata *s)
{
	dd_ctab_clear(&s->t);
	memset(s->classes, 0, sizeof(s->classes));
	strcpy(s->classes[DD_STRATA_CLASSES - 1], "(other)");
	s->n_classes = s->events = s->ref_n = 0;
	memset(s->ref_k, 0, sizeof(s->ref_k));
}
