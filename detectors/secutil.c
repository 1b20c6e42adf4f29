/* Helpers shared by the security detectors (see secutil.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "secutil.h"

size_t dd_sec_copy(char *dst, size_t cap, const char *s, size_t len)
{
	if (cap == 0)
		return 0;
	size_t n = len < cap - 1 ? len : cap - 1;
	/* Back off over continuation bytes so the cut falls between code points. */
	if (n < len)
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	if (n)
		memcpy(dst, s, n);
	dst[n] = '\0';
	return n;
}

uint64_t dd_sec_hash(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull ^ seed;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	/* FNV alone mixes the last bytes poorly into the high bits the index uses. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

int dd_ctab_init(struct dd_ctab *t, size_t cap, size_t stride, uint64_t seed)
{
	memset(t, 0, sizeof(*t)); /* callbacks (on_evict, put, get) are set after init */
	if (cap == 0 || cap > (1u << 24))
		return -EINVAL;
	size_t isz = 1;
	while (isz < 2 * cap)
		isz <<= 1;
	t->cap = cap;
	t->stride = stride;
	t->mask = isz - 1;
	t->seed = seed;
	t->idx = calloc(isz, sizeof(*t->idx));
	t->key = calloc(cap + 1, sizeof(*t->key));
	t->id = calloc(cap + 1, sizeof(*t->id));
	t->weight = calloc(cap + 1, sizeof(*t->weight));
	t->payload = calloc(cap + 1, stride ? stride : 1);
	if (!t->idx || !t->key || !t->id || !t->weight || !t->payload) {
		dd_ctab_free(t);
		return -ENOMEM;
	}
	strcpy(t->id[cap], DD_SEC_OVERFLOW_ID);
	return 0;
}

void dd_ctab_free(struct dd_ctab *t)
{
	free(t->idx);
	free(t->key);
	free(t->id);
	free(t->weight);
	free(t->payload);
	t->idx = NULL;
	t->key = NULL;
	t->id = NULL;
	t->weight = NULL;
	t->payload = NULL;
	t->n = 0;
}

void dd_ctab_clear(struct dd_ctab *t)
{
	/* Slots at and beyond n have never been used since the last clear (n only grows, an
	 * eviction reuses a slot below it): only the used ones and the overflow need zeroing,
	 * which keeps restores of large tables cheap. */
	memset(t->idx, 0, (t->mask + 1) * sizeof(*t->idx));
	memset(t->key, 0, t->n * sizeof(*t->key));
	memset(t->id, 0, t->n * sizeof(*t->id));
	memset(t->weight, 0, t->n * sizeof(*t->weight));
	memset(t->payload, 0, t->n * t->stride);
	t->key[t->cap] = 0;
	t->weight[t->cap] = 0;
	memset(dd_ctab_payload(t, t->cap), 0, t->stride);
	strcpy(t->id[t->cap], DD_SEC_OVERFLOW_ID);
	t->n = 0;
	t->evictions = 0;
	t->overflowed = 0;
}

/* Index position holding slot+1 for key k, or the empty position where it would go. */
static size_t probe(const struct dd_ctab *t, uint64_t k)
{
	size_t i = (size_t)k & t->mask;
	while (t->idx[i] && t->key[t->idx[i] - 1] != k)
		i = (i + 1) & t->mask;
	return i;
}

/* Linear-probing deletion by backward shift (no tombstones, so probes stay short). */
static void idx_remove(struct dd_ctab *t, size_t i)
{
	size_t j = i;
	for (;;) {
		t->idx[i] = 0;
		for (;;) {
			j = (j + 1) & t->mask;
			if (!t->idx[j])
				return;
			size_t home = (size_t)t->key[t->idx[j] - 1] & t->mask;
			/* move j back to i unless its home lies cyclically in (i, j] */
			if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
				continue;
			break;
		}
		t->idx[i] = t->idx[j];
		i = j;
	}
}

size_t dd_ctab_get(struct dd_ctab *t, const char *id, size_t len, double evict_below, bool *fresh)
{
	uint64_t k = dd_sec_hash(id, len, t->seed);
	*fresh = false;
	size_t at = probe(t, k);
	if (t->idx[at])
		return t->idx[at] - 1;
	size_t slot;
	double inherited = 0;
	if (t->n < t->cap) {
		slot = t->n++;
	} else {
		/* Full: the lightest resident makes room if it is light enough. O(cap), but only
		 * for a new client on a full table. */
		slot = 0;
		for (size_t s = 1; s < t->cap; s++)
			if (t->weight[s] < t->weight[slot])
				slot = s;
		if (!(t->weight[slot] < evict_below)) {
			t->overflowed++;
			return t->cap;
		}
		idx_remove(t, probe(t, t->key[slot]));
		if (t->on_evict)
			t->on_evict(dd_ctab_payload(t, t->cap), dd_ctab_payload(t, slot));
		t->weight[t->cap] += t->weight[slot];
		t->evictions++;
		/* Space-Saving: the newcomer starts at the weight it displaced, so one client
		 * among a stream of one-off newcomers climbs above them and stays, instead of
		 * being the slot that rotates (an attacker hiding in churn). */
		inherited = t->weight[slot];
		at = probe(t, k);
	}
	t->key[slot] = k;
	dd_sec_copy(t->id[slot], DD_SEC_ID_MAX, id, len);
	t->weight[slot] = inherited;
	memset(dd_ctab_payload(t, slot), 0, t->stride);
	t->idx[at] = (uint32_t)(slot + 1);
	*fresh = true;
	return slot;
}

static void put_slot(const struct dd_ctab *t, size_t s, struct driftd_buf *b)
{
	size_t l = strnlen(t->id[s], DD_SEC_ID_MAX - 1);
	driftd_buf_put_u64(b, t->key[s]);
	driftd_buf_put_u64(b, l);
	driftd_buf_put(b, t->id[s], l);
	driftd_buf_put_f64(b, t->weight[s]);
	if (t->put)
		t->put(dd_ctab_payload(t, s), b, t->codec_arg);
	else
		driftd_buf_put(b, dd_ctab_payload(t, s), t->stride);
}

void dd_ctab_snapshot(const struct dd_ctab *t, struct driftd_buf *b)
{
	driftd_buf_put_u64(b, t->cap);
	driftd_buf_put_u64(b, t->n);
	driftd_buf_put_u64(b, t->evictions);
	driftd_buf_put_u64(b, t->overflowed);
	for (size_t s = 0; s < t->n; s++)
		put_slot(t, s, b);
	put_slot(t, t->cap, b);
}

static int get_slot(struct dd_ctab *t, size_t s, struct driftd_reader *r,
                    int (*check)(const void *, const void *), const void *config)
{
	uint64_t l;
	double w;
	if (driftd_rd_u64(r, &t->key[s]) < 0 || driftd_rd_u64(r, &l) < 0 || l >= DD_SEC_ID_MAX ||
	    driftd_rd(r, t->id[s], (size_t)l) < 0)
		return -EBADMSG;
	t->id[s][l] = '\0';
	if (driftd_rd_f64_finite(r, &w) < 0 || w < 0)
		return -EBADMSG;
	t->weight[s] = w;
	void *p = dd_ctab_payload(t, s);
	if (t->get ? t->get(p, r, t->codec_arg) < 0 : driftd_rd(r, p, t->stride) < 0)
		return -EBADMSG;
	if (check && check(p, config) < 0)
		return -EBADMSG;
	return 0;
}

int dd_ctab_restore(struct dd_ctab *t, struct driftd_reader *r,
                    int (*check)(const void *payload, const void *config), const void *config)
{
	uint64_t cap, n;
	dd_ctab_clear(t);
	if (driftd_rd_u64(r, &cap) < 0 || cap != t->cap || driftd_rd_u64(r, &n) < 0 || n > t->cap ||
	    driftd_rd_u64(r, &t->evictions) < 0 || driftd_rd_u64(r, &t->overflowed) < 0)
		goto bad;
	for (size_t s = 0; s < n; s++) {
		t->n = s + 1; /* so that a failure clears this slot too */
		if (get_slot(t, s, r, check, config) < 0)
			goto bad;
		size_t at = probe(t, t->key[s]);
		if (t->idx[at])
			goto bad; /* the same client twice */
		t->idx[at] = (uint32_t)(s + 1);
		t->n = s + 1;
	}
	if (get_slot(t, t->cap, r, check, config) < 0)
		goto bad;
	return 0;
bad:
	dd_ctab_clear(t);
	return -EBADMSG;
}

void dd_ev_reset(struct driftd_evidence *ev)
{
	memset(ev, 0, sizeof(*ev));
}

static struct driftd_evidence_field *ev_add(struct driftd_evidence *ev, const char *key)
{
	if (ev->n >= DRIFTD_EVIDENCE_MAX)
		return NULL;
	struct driftd_evidence_field *f = &ev->f[ev->n++];
	f->key = key;
	return f;
}

void dd_ev_str(struct driftd_evidence *ev, const char *key, const char *s)
{
	struct driftd_evidence_field *f = ev_add(ev, key);
	if (f) {
		f->type = DRIFTD_EVIDENCE_STRING;
		f->str = s;
	}
}

void dd_ev_num(struct driftd_evidence *ev, const char *key, double x)
{
	struct driftd_evidence_field *f = ev_add(ev, key);
	if (f) {
		f->type = DRIFTD_EVIDENCE_NUMBER;
		f->num = x;
	}
}

void dd_ev_int(struct driftd_evidence *ev, const char *key, double x)
{
	struct driftd_evidence_field *f = ev_add(ev, key);
	if (f) {
		f->type = DRIFTD_EVIDENCE_INT;
		f->num = x;
	}
}

static double poly(const double *c, int nord, double x)
{
	double r = c[nord - 1];
	for (int i = nord - 2; i >= 0; i--)
		r = r * x + c[i];
	return r;
}

int dd_swilk_coef(size_t n, double *a)
{
	if (n < 3 || n > 5000)
		return -EINVAL;
	static const double c1[] = {0.0, 0.221157, -0.147981, -2.071190, 4.434685, -2.706056};
	static const double c2[] = {0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633};
	size_t nn2 = n / 2;
	if (n == 3) {
		a[0] = sqrt(0.5);
		return 0;
	}
	double an = (double)n, an25 = an + 0.25, summ2 = 0;
	/* m[i] (negative for the lower half) kept in a[] until the end */
	for (size_t i = 0; i < nn2; i++) {
		a[i] = gsl_cdf_ugaussian_Pinv(((double)(i + 1) - 0.375) / an25);
		summ2 += a[i] * a[i];
	}
	summ2 *= 2;
	double ssumm2 = sqrt(summ2), rsn = 1 / sqrt(an);
	double m1 = a[0], a1 = poly(c1, 6, rsn) - m1 / ssumm2, fac;
	size_t i1;
	if (n > 5) {
		double m2 = a[1], a2 = -m2 / ssumm2 + poly(c2, 6, rsn);
		fac = sqrt((summ2 - 2 * m1 * m1 - 2 * m2 * m2) / (1 - 2 * a1 * a1 - 2 * a2 * a2));
		a[1] = a2;
		i1 = 2;
	} else {
		fac = sqrt((summ2 - 2 * m1 * m1) / (1 - 2 * a1 * a1));
		i1 = 1;
	}
	a[0] = a1;
	for (size_t i = i1; i < nn2; i++)
		a[i] = -a[i] / fac;
	return 0;
}

double dd_swilk_w(const double *x, size_t n, const double *a)
{
	double mean = 0, ssq = 0, num = 0;
	for (size_t i = 0; i < n; i++)
		mean += x[i];
	mean /= (double)n;
	for (size_t i = 0; i < n; i++)
		ssq += (x[i] - mean) * (x[i] - mean);
	if (!(ssq > 0))
		return 1.0; /* a constant sample: no evidence against anything */
	for (size_t i = 0; i < n / 2; i++)
		num += a[i] * (x[n - 1 - i] - x[i]);
	double w = num * num / ssq;
	return w > 1 ? 1 : w;
}
