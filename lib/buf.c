/* Snapshot byte buffers: the append side never fails silently (sticky error), the read side
 * treats its input as hostile and bounds-checks every read. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <driftd/detector.h>

void driftd_buf_put(struct driftd_buf *b, const void *p, size_t n)
{
	if (b->err)
		return;
	if (n > SIZE_MAX - b->len) {
		b->err = -EOVERFLOW;
		return;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		uint8_t *d = realloc(b->data, cap);
		if (!d) {
			b->err = -ENOMEM;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void driftd_buf_put_u64(struct driftd_buf *b, uint64_t v)
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	driftd_buf_put(b, le, sizeof(le));
}

void driftd_buf_put_f64(struct driftd_buf *b, double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	driftd_buf_put_u64(b, u);
}

void driftd_buf_free(struct driftd_buf *b)
{
	free(b->data);
	*b = (struct driftd_buf){0};
}

int driftd_rd(struct driftd_reader *r, void *out, size_t n)
{
	if (n > r->left)
		return -EBADMSG;
	if (n)
		memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return 0;
}

int driftd_rd_u64(struct driftd_reader *r, uint64_t *out)
{
	uint8_t le[8];
	int rc = driftd_rd(r, le, sizeof(le));
	if (rc < 0)
		return rc;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)le[i] << (8 * i);
	*out = v;
	return 0;
}

int driftd_rd_f64(struct driftd_reader *r, double *out)
{
	uint64_t u;
	int rc = driftd_rd_u64(r, &u);
	if (rc < 0)
		return rc;
	memcpy(out, &u, sizeof(*out));
	return 0;
}

int driftd_rd_f64_finite(struct driftd_reader *r, double *out)
{
	double v;
	int rc = driftd_rd_f64(r, &v);
	if (rc < 0)
		return rc;
	if (!isfinite(v))
		return -EBADMSG;
	*out = v;
	return 0;
}
