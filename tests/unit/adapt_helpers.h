/* Shared by tests/unit/test_adapt_*.c: feed a record to an adapter, then put the adapted event
 * through dd_decode with the pointers a user would write, as the pipeline would. */
#ifndef DRIFTD_TEST_ADAPT_HELPERS_H
#define DRIFTD_TEST_ADAPT_HELPERS_H

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapt.h"
#include "decode.h"

#define MAX_PTRS 48

struct tctx {
	struct dd_adapter *a;
	struct dd_decoder *d;
	struct dd_fieldset *fs;
	const char *const *ptrs;
	size_t n_ptrs;
	/* last dd_adapt */
	int rc;
	enum dd_adapt_reject why;
	const char *ev;
	size_t ev_len;
	char ev_copy[1 << 16];
	/* last dd_decode */
	struct dd_meta meta;
	struct driftd_value out[MAX_PTRS];
};

static inline struct tctx *tctx_new(enum dd_format f, const struct dd_adapter_opts *o,
                                    const char *const *ptrs, size_t n)
{
	struct tctx *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	assert_true(n <= MAX_PTRS);
	assert_int_equal(dd_adapter_new(f, o, &c->a), 0);
	assert_int_equal(dd_decoder_new(NULL, &c->d), 0);
	assert_int_equal(dd_fieldset_new(ptrs, n, &c->fs), 0);
	c->ptrs = ptrs;
	c->n_ptrs = n;
	return c;
}

static inline void tctx_free(struct tctx *c)
{
	dd_adapter_free(c->a);
	dd_decoder_free(c->d);
	dd_fieldset_free(c->fs);
	free(c);
}

/* Adapt a record (value NULL: tombstone). */
static inline int feed_n(struct tctx *c, const char *value, size_t len, const struct dd_header *h,
                         size_t nh, int64_t ts)
{
	struct dd_record r = {
	    .value = value, .len = len, .headers = h, .n_headers = nh, .ts_ms = ts};
	c->why = DD_ADAPT__MAX;
	c->ev = NULL;
	c->ev_len = 0;
	c->rc = dd_adapt(c->a, &r, &c->ev, &c->ev_len, &c->why);
	if (c->rc == 0 && c->ev_len && c->ev_len < sizeof(c->ev_copy)) {
		memcpy(c->ev_copy, c->ev, c->ev_len);
		c->ev_copy[c->ev_len] = '\0';
	} else {
		c->ev_copy[0] = '\0';
	}
	return c->rc;
}

static inline int feed(struct tctx *c, const char *value, const struct dd_header *h, size_t nh,
                       int64_t ts)
{
	return feed_n(c, value, value ? strlen(value) : 0, h, nh, ts);
}

/* The record must produce an event that dd_decode accepts. */
static inline void feed_event(struct tctx *c, const char *value, const struct dd_header *h,
                              size_t nh, int64_t ts)
{
	int rc = feed(c, value, h, nh, ts);
	if (rc != 0 || c->ev_len == 0)
		fail_msg("adapt rc=%d why=%s len=%zu for: %.300s", rc,
		         c->why < DD_ADAPT__MAX ? dd_adapt_reject_name(c->why) : "-", c->ev_len,
		         value ? value : "(null)");
	assert_int_equal(c->why, DD_ADAPT_OK);
	enum dd_reject dwhy = DD_REJECT__MAX;
	rc = dd_decode(c->d, c->fs, c->ev, c->ev_len, &c->meta, c->out, &dwhy);
	if (rc != 0)
		fail_msg("decode rejected (%s): %.*s", dd_reject_name(dwhy), (int)c->ev_len, c->ev);
}

/* The record must be consumed without an event (first half of a pair). */
static inline void feed_pending(struct tctx *c, const char *value, const struct dd_header *h,
                                size_t nh, int64_t ts)
{
	int rc = feed(c, value, h, nh, ts);
	if (rc != 0 || c->ev_len != 0)
		fail_msg("want pending, got rc=%d why=%s len=%zu: %s", rc,
		         c->why < DD_ADAPT__MAX ? dd_adapt_reject_name(c->why) : "-", c->ev_len,
		         c->ev_copy);
	assert_int_equal(c->why, DD_ADAPT_OK);
}

static inline void feed_reject_n(struct tctx *c, const char *value, size_t len,
                                 const struct dd_header *h, size_t nh, enum dd_adapt_reject want)
{
	int rc = feed_n(c, value, len, h, nh, -1);
	if (rc >= 0 || c->why != want)
		fail_msg("want %s, got rc=%d why=%s: %.200s", dd_adapt_reject_name(want), rc,
		         c->why < DD_ADAPT__MAX ? dd_adapt_reject_name(c->why) : "-",
		         value ? value : "(null)");
	int want_rc = want == DD_ADAPT_TOMBSTONE   ? -ENODATA
	              : want == DD_ADAPT_TOO_LARGE ? -E2BIG
	                                           : -EBADMSG;
	assert_int_equal(rc, want_rc);
	assert_null(c->ev);
	assert_int_equal(c->ev_len, 0);
}

static inline void feed_reject(struct tctx *c, const char *value, const struct dd_header *h,
                               size_t nh, enum dd_adapt_reject want)
{
	feed_reject_n(c, value, value ? strlen(value) : 0, h, nh, want);
}

static inline const struct driftd_value *val(struct tctx *c, size_t i)
{
	assert_true(i < c->n_ptrs);
	return &c->out[i];
}

static inline void want_num(struct tctx *c, size_t i, double x)
{
	const struct driftd_value *v = val(c, i);
	if (v->type != DRIFTD_VALUE_NUMBER || v->num != x)
		fail_msg("%s: want number %.17g, got type %d num %.17g in %s", c->ptrs[i], x,
		         (int)v->type, v->num, c->ev_copy);
}

static inline void want_bool(struct tctx *c, size_t i, bool b)
{
	const struct driftd_value *v = val(c, i);
	if (v->type != DRIFTD_VALUE_BOOL || v->num != (b ? 1 : 0))
		fail_msg("%s: want bool %d, got type %d in %s", c->ptrs[i], b, (int)v->type,
		         c->ev_copy);
}

static inline void want_str(struct tctx *c, size_t i, const char *s)
{
	const struct driftd_value *v = val(c, i);
	if (v->type != DRIFTD_VALUE_STRING || v->len != strlen(s) || memcmp(v->str, s, v->len))
		fail_msg("%s: want \"%s\", got type %d \"%.*s\" in %s", c->ptrs[i], s, (int)v->type,
		         v->type == DRIFTD_VALUE_STRING ? (int)v->len : 0,
		         v->type == DRIFTD_VALUE_STRING ? v->str : "", c->ev_copy);
}

static inline void want_vec(struct tctx *c, size_t i, const double *x, size_t n)
{
	const struct driftd_value *v = val(c, i);
	if (v->type != DRIFTD_VALUE_VECTOR || v->dim != n)
		fail_msg("%s: want vector of %zu, got type %d dim %zu in %s", c->ptrs[i], n,
		         (int)v->type, v->dim, c->ev_copy);
	for (size_t k = 0; k < n; k++)
		if (v->vec[k] != x[k])
			fail_msg("%s[%zu]: want %.17g got %.17g", c->ptrs[i], k, x[k], v->vec[k]);
}

static inline void want_type(struct tctx *c, size_t i, enum driftd_value_type t)
{
	const struct driftd_value *v = val(c, i);
	if (v->type != t)
		fail_msg("%s: want type %d, got %d in %s", c->ptrs[i], (int)t, (int)v->type,
		         c->ev_copy);
}

static inline void want_meta_str(const char *got, size_t len, const char *want, const char *what,
                                 const char *ev)
{
	if (!want) {
		if (got)
			fail_msg("%s: want none, got \"%.*s\" in %s", what, (int)len, got, ev);
		return;
	}
	if (!got || len != strlen(want) || memcmp(got, want, len))
		fail_msg("%s: want \"%s\", got \"%.*s\" in %s", what, want, got ? (int)len : 0,
		         got ? got : "", ev);
}

static inline void want_model(struct tctx *c, const char *id, const char *version)
{
	want_meta_str(c->meta.model_id, c->meta.model_id_len, id, "model.id", c->ev_copy);
	want_meta_str(c->meta.model_version, c->meta.model_version_len, version, "model.version",
	              c->ev_copy);
}

static inline void want_request_id(struct tctx *c, const char *id)
{
	want_meta_str(c->meta.request_id, c->meta.request_id_len, id, "request_id", c->ev_copy);
}

static inline void want_client(struct tctx *c, const char *id)
{
	want_meta_str(c->meta.client_id, c->meta.client_id_len, id, "client.id", c->ev_copy);
}

static inline void want_ts(struct tctx *c, const char *rfc3339)
{
	if (!rfc3339) {
		if (c->meta.has_ts)
			fail_msg("want no ts in %s", c->ev_copy);
		return;
	}
	int64_t ms;
	assert_int_equal(dd_parse_rfc3339(rfc3339, strlen(rfc3339), &ms), 0);
	if (!c->meta.has_ts || c->meta.ts_ms != ms)
		fail_msg("ts: want %s (%lld), got %lld in %s", rfc3339, (long long)ms,
		         c->meta.has_ts ? (long long)c->meta.ts_ms : -1LL, c->ev_copy);
}

static inline struct dd_adapter_stats stats(struct tctx *c)
{
	struct dd_adapter_stats s;
	dd_adapter_stats(c->a, &s);
	return s;
}

/* A header from a C string. */
#define HDR(k, v)                                                                                  \
	{                                                                                          \
		.key = (k), .value = (v), .len = sizeof(v) - 1                                     \
	}
#define NH(a) (sizeof(a) / sizeof((a)[0]))

#endif
