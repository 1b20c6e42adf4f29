/* lib/decode: value types, every reject reason, complete validation of unread parts, pointer
 * syntax and escapes, array index pointers, metadata and ts, RFC 3339, limits at their exact
 * boundaries, bounded nesting, isolation between records, and no allocation in the steady
 * state (counted by replacing malloc in this binary when no sanitizer owns it). */
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

#include "decode.h"

/* ---- allocation counting ---- */
#if defined(__SANITIZE_ADDRESS__)
#define DD_COUNT_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define DD_COUNT_ALLOCS 0
#endif
#endif
#ifndef DD_COUNT_ALLOCS
#define DD_COUNT_ALLOCS 1
#endif

#if DD_COUNT_ALLOCS
/* glibc's own entry points: replacing malloc/calloc/realloc/free with forwarders is the
 * documented way to observe allocations (operator new and simdjson go through malloc too). */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
static volatile unsigned long allocations;
void *malloc(size_t n)
{
	allocations++;
	return __libc_malloc(n);
}
void *calloc(size_t n, size_t m)
{
	allocations++;
	return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n)
{
	allocations++;
	return __libc_realloc(p, n);
}
void free(void *p)
{
	__libc_free(p);
}
#endif

/* ---- helpers ---- */

enum {
	P_A,
	P_AB,
	P_V,
	P_V1,
	P_N,
	P_S,
	P_X,
	P__N,
};
static const char *const ptrs[P__N] = {"/a", "/a/b", "/v", "/v/1", "/n", "/s", "/x"};

struct ctx {
	struct dd_fieldset *fs;
	struct dd_decoder *d;
	struct driftd_value out[P__N];
	struct dd_meta meta;
	enum dd_reject why;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	assert_int_equal(dd_fieldset_new(ptrs, P__N, &c->fs), 0);
	assert_int_equal(dd_decoder_new(NULL, &c->d), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	dd_decoder_free(c->d);
	dd_fieldset_free(c->fs);
	free(c);
	return 0;
}

static int dec_n(struct ctx *c, const char *rec, size_t len)
{
	c->why = DD_REJECT__MAX;
	return dd_decode(c->d, c->fs, rec, len, &c->meta, c->out, &c->why);
}

static int dec(struct ctx *c, const char *rec)
{
	return dec_n(c, rec, strlen(rec));
}

/* Decode and require acceptance. */
static void ok(struct ctx *c, const char *rec)
{
	int rc = dec(c, rec);
	if (rc != 0)
		fail_msg("rejected (%d, %s): %s", rc, dd_reject_name(c->why), rec);
	assert_int_equal(c->why, DD_REJECT_NONE);
}

static void rejected_n(struct ctx *c, const char *rec, size_t len, enum dd_reject want)
{
	int rc = dec_n(c, rec, len);
	if (rc == 0 || c->why != want)
		fail_msg("want %s, got rc=%d %s: %.*s", dd_reject_name(want), rc,
		         dd_reject_name(c->why), (int)(len > 200 ? 200 : len), rec);
	int want_rc = (want == DD_REJECT_TOO_LARGE || want == DD_REJECT_TOO_DEEP ||
	               want == DD_REJECT_STRING_TOO_LONG)
	                  ? -E2BIG
	                  : -EBADMSG;
	assert_int_equal(rc, want_rc);
}

static void rejected(struct ctx *c, const char *rec, enum dd_reject want)
{
	rejected_n(c, rec, strlen(rec), want);
}

static void is_num(const struct driftd_value *v, double x)
{
	assert_int_equal(v->type, DRIFTD_VALUE_NUMBER);
	if (v->num != x)
		fail_msg("want %.17g got %.17g", x, v->num);
}

static void is_str(const struct driftd_value *v, const char *s)
{
	assert_int_equal(v->type, DRIFTD_VALUE_STRING);
	assert_int_equal(v->len, strlen(s));
	assert_memory_equal(v->str, s, v->len);
}

static void is_meta(const char *got, size_t len, const char *want)
{
	if (!want) {
		assert_null(got);
		assert_int_equal(len, 0);
		return;
	}
	assert_non_null(got);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
}

#define M "\"model\":{\"id\":\"m\"}"

/* ---- value types ---- */

static void test_types(void **state)
{
	struct ctx *c = *state;
	ok(c, "{" M ",\"a\":{\"b\":2.5},\"v\":[1,-2,3e2],\"n\":true,\"s\":\"h\\u00e9\\\"\\n\","
	      "\"x\":null}");
	assert_int_equal(c->out[P_A].type, DRIFTD_VALUE_OTHER);
	is_num(&c->out[P_AB], 2.5);
	assert_int_equal(c->out[P_V].type, DRIFTD_VALUE_VECTOR);
	assert_int_equal(c->out[P_V].dim, 3);
	assert_true(c->out[P_V].vec[0] == 1 && c->out[P_V].vec[1] == -2 &&
	            c->out[P_V].vec[2] == 300);
	is_num(&c->out[P_V1], -2);
	assert_int_equal(c->out[P_N].type, DRIFTD_VALUE_BOOL);
	assert_true(c->out[P_N].num == 1);
	is_str(&c->out[P_S], "h\xc3\xa9\"\n");
	assert_int_equal(c->out[P_X].type, DRIFTD_VALUE_OTHER);

	ok(c, "{" M ",\"n\":false,\"s\":\"plain\",\"a\":\"str where a number is expected\"}");
	assert_int_equal(c->out[P_N].type, DRIFTD_VALUE_BOOL);
	assert_true(c->out[P_N].num == 0);
	is_str(&c->out[P_S], "plain");
	is_str(&c->out[P_A], "str where a number is expected");
	assert_int_equal(c->out[P_AB].type, DRIFTD_VALUE_NONE);
	assert_int_equal(c->out[P_V].type, DRIFTD_VALUE_NONE);
	assert_int_equal(c->out[P_X].type, DRIFTD_VALUE_NONE);

	/* Arrays: mixed, nested, empty, with a number out of range. */
	ok(c, "{" M ",\"v\":[1,\"x\"]}");
	assert_int_equal(c->out[P_V].type, DRIFTD_VALUE_OTHER);
	is_str(&c->out[P_V1], "x");
	ok(c, "{" M ",\"v\":[1,[2,3]]}");
	assert_int_equal(c->out[P_V].type, DRIFTD_VALUE_OTHER);
	assert_int_equal(c->out[P_V1].type, DRIFTD_VALUE_VECTOR);
	assert_int_equal(c->out[P_V1].dim, 2);
	assert_true(c->out[P_V1].vec[0] == 2 && c->out[P_V1].vec[1] == 3);
	ok(c, "{" M ",\"v\":[]}");
	assert_int_equal(c->out[P_V].type, DRIFTD_VALUE_VECTOR);
	assert_int_equal(c->out[P_V].dim, 0);
	assert_int_equal(c->out[P_V1].type, DRIFTD_VALUE_NONE);
	ok(c, "{" M ",\"v\":[1,1e999]}");
	assert_int_equal(c->out[P_V].type, DRIFTD_VALUE_OTHER);
	assert_int_equal(c->out[P_V1].type, DRIFTD_VALUE_OTHER);
	ok(c, "{" M ",\"v\":[null]}");
	assert_int_equal(c->out[P_V].type, DRIFTD_VALUE_OTHER);
	ok(c, "{" M ",\"v\":{\"1\":7}}");
	assert_int_equal(c->out[P_V].type, DRIFTD_VALUE_OTHER);
	is_num(&c->out[P_V1], 7); /* "/v/1" is also member "1" of an object */
}

static void test_numbers(void **state)
{
	struct ctx *c = *state;
	ok(c, "{" M ",\"a\":-0}");
	is_num(&c->out[P_A], 0);
	assert_true(signbit(c->out[P_A].num));
	ok(c, "{" M ",\"a\":-0.0e0}");
	assert_true(signbit(c->out[P_A].num));
	ok(c, "{" M ",\"a\":9007199254740993}"); /* 2^53 + 1: nearest double */
	is_num(&c->out[P_A], 9007199254740992.0);
	ok(c, "{" M ",\"a\":18446744073709551615}");
	is_num(&c->out[P_A], 18446744073709551615.0);
	ok(c, "{" M ",\"a\":18446744073709551616}");
	is_num(&c->out[P_A], 18446744073709551616.0);
	ok(c, "{" M ",\"a\":-9223372036854775809}");
	is_num(&c->out[P_A], -9223372036854775808.0);
	ok(c, "{" M ",\"a\":123456789012345678901234567890}");
	is_num(&c->out[P_A], 1.2345678901234568e29);
	ok(c, "{" M ",\"a\":1.7976931348623157e308}");
	is_num(&c->out[P_A], 1.7976931348623157e308);
	ok(c, "{" M ",\"a\":1e-999}");
	is_num(&c->out[P_A], 0);
	ok(c, "{" M ",\"a\":4.9e-324}");
	is_num(&c->out[P_A], 4.9e-324);
	ok(c, "{" M ",\"a\":1E+2,\"n\":0.5e-1}");
	is_num(&c->out[P_A], 100);
	is_num(&c->out[P_N], 0.05);
	/* Valid JSON beyond double range: OTHER, not a rejection, not an infinity. */
	const char *big[] = {"1e999", "-1e999", "1.8e308"};
	for (size_t i = 0; i < 3; i++) {
		char rec[128];
		snprintf(rec, sizeof(rec), "{" M ",\"a\":%s}", big[i]);
		ok(c, rec);
		assert_int_equal(c->out[P_A].type, DRIFTD_VALUE_OTHER);
	}
	char rec[600];
	int n = snprintf(rec, sizeof(rec), "{" M ",\"a\":");
	for (int i = 0; i < 400; i++)
		rec[n++] = '9';
	snprintf(rec + n, sizeof(rec) - (size_t)n, "}");
	ok(c, rec);
	assert_int_equal(c->out[P_A].type, DRIFTD_VALUE_OTHER);
}

/* ---- rejections ---- */

static void test_reject_reasons(void **state)
{
	struct ctx *c = *state;
	rejected(c, "{\"a\":1", DD_REJECT_SYNTAX);
	rejected(c, "[1,2]", DD_REJECT_NOT_OBJECT);
	rejected(c, "{\"model\":{}}", DD_REJECT_NO_MODEL);
	rejected(c, "{" M ",\"ts\":\"yesterday\"}", DD_REJECT_BAD_TS);

	struct dd_limits l = {.max_record = 64, .max_depth = 3, .max_string = 8};
	struct dd_decoder *small;
	assert_int_equal(dd_decoder_new(&l, &small), 0);
	struct dd_decoder *keep = c->d;
	c->d = small;
	rejected(c, "{" M ",\"s\":\"0123456789012345678901234567890123456789012\"}",
	         DD_REJECT_TOO_LARGE);
	rejected(c, "{" M ",\"a\":[[[1]]]}", DD_REJECT_TOO_DEEP);
	rejected(c, "{" M ",\"s\":\"123456789\"}", DD_REJECT_STRING_TOO_LONG);
	c->d = keep;
	dd_decoder_free(small);

	/* Names: stable, distinct, snake_case. */
	const char *want[] = {"none",     "too_large",       "syntax",   "not_object",
	                      "too_deep", "string_too_long", "no_model", "bad_ts"};
	assert_int_equal(sizeof(want) / sizeof(want[0]), DD_REJECT__MAX);
	for (int r = 0; r < DD_REJECT__MAX; r++)
		assert_string_equal(dd_reject_name((enum dd_reject)r), want[r]);
	assert_string_equal(dd_reject_name(DD_REJECT__MAX), "unknown");
	assert_string_equal(dd_reject_name((enum dd_reject) - 1), "unknown");
}

static void test_syntax(void **state)
{
	struct ctx *c = *state;
	/* Everything after the fields we read must still be valid. */
	static const char *const bad[] = {
	    "",
	    " \n\t ",
	    "{",
	    "}",
	    "{" M,
	    "{" M ",",
	    "{" M ",}",
	    "{" M "}x",
	    "{" M "} x",
	    "{" M "}}",
	    "{" M "}]",
	    "{" M "}{}",
	    "{" M "} {\"model\":{\"id\":\"m\"}}",
	    "{" M "},",
	    "{" M ",\"z\":[1 2]}",
	    "{" M ",\"z\":[1,]}",
	    "{" M ",\"z\":[,1]}",
	    "{" M ",\"z\":[1,2}",
	    "{" M ",\"z\":{\"q\" 1}}",
	    "{" M ",\"z\":{\"q\"::1}}",
	    "{" M ",\"z\":{\"q\":1,}}",
	    "{" M ",\"z\":{1:1}}",
	    "{" M ",\"z\":{\"q\":1]}",
	    "{" M ",\"z\":\"b\":1}",
	    "{" M ",\"z\":1:2}",
	    "{" M " \"z\":1}",
	    "{" M ",\"z\"}",
	    "{" M ",\"z\":}",
	    "{" M ",\"z\":tru}",
	    "{" M ",\"z\":truex}",
	    "{" M ",\"z\":True}",
	    "{" M ",\"z\":nul}",
	    "{" M ",\"z\":nulll}",
	    "{" M ",\"z\":NaN}",
	    "{" M ",\"z\":-NaN}",
	    "{" M ",\"z\":nan}",
	    "{" M ",\"z\":Infinity}",
	    "{" M ",\"z\":-Infinity}",
	    "{" M ",\"z\":[NaN]}",
	    "{" M ",\"a\":NaN}",
	    "{" M ",\"z\":01}",
	    "{" M ",\"z\":-01}",
	    "{" M ",\"z\":1.}",
	    "{" M ",\"z\":.5}",
	    "{" M ",\"z\":+1}",
	    "{" M ",\"z\":-}",
	    "{" M ",\"z\":1e}",
	    "{" M ",\"z\":1e+}",
	    "{" M ",\"z\":0x10}",
	    "{" M ",\"z\":1e5x}",
	    "{" M ",\"z\":1e999x}",
	    "{" M ",\"z\":'s'}",
	    "{" M ",\"z\":\"\\x\"}",
	    "{" M ",\"z\":\"\\u12\"}",
	    "{" M ",\"z\":\"\\ud800\"}",
	    "{" M ",\"z\":\"\\udc00\\ud800\"}",
	    "{" M ",\"z\\q\":1}",
	    "{" M ",\"z\":\"unterminated}",
	    "{" M ",\"z\":\"tab\there\"}",
	    "{" M ",\"z\":\"nl\nhere\"}",
	    "{" M ",z:1}",
	    "{" M ",\"z\":[1,2]]}",
	    "{" M ",\"z\":{}}}",
	    "{" M "/* comment */}",
	    "[1,2",
	    "\"abc\" x",
	    "nul",
	    "1 2",
	    "-",
	    "tru",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		rejected(c, bad[i], DD_REJECT_SYNTAX);

	/* Invalid UTF-8 anywhere, including strings no pointer reads and keys. */
	static const char *const bad_utf8[] = {
	    "\xff",
	    "\xc3",
	    "\xc3\x28",
	    "\xc0\xaf",
	    "\xe0\x80\xaf",
	    "\xed\xa0\x80" /* UTF-8 encoded surrogate */,
	    "\xf4\x90\x80\x80" /* > U+10FFFF */,
	    "\xf8\x88\x80\x80\x80",
	    "\xe2\x82",
	    "\x80",
	};
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		char rec[128];
		snprintf(rec, sizeof(rec), "{" M ",\"unread\":\"a%sb\"}", bad_utf8[i]);
		rejected(c, rec, DD_REJECT_SYNTAX);
		snprintf(rec, sizeof(rec), "{" M ",\"k%s\":1}", bad_utf8[i]);
		rejected(c, rec, DD_REJECT_SYNTAX);
		snprintf(rec, sizeof(rec), "{" M ",\"s\":\"%s\"}", bad_utf8[i]);
		rejected(c, rec, DD_REJECT_SYNTAX);
	}
	/* Valid UTF-8 of every length is fine. */
	ok(c, "{" M ",\"s\":\"\x24\xc2\xa2\xe2\x82\xac\xf0\x90\x8d\x88\",\"\xc3\xa9\":1}");
	is_str(&c->out[P_S], "\x24\xc2\xa2\xe2\x82\xac\xf0\x90\x8d\x88");
	ok(c, "{" M ",\"s\":\"\\ud83d\\ude00\"}");
	is_str(&c->out[P_S], "\xf0\x9f\x98\x80");

	/* Bytes that C strings cannot carry: NUL inside and after the record. */
	static const char nul_in_string[] = "{" M ",\"s\":\"a\0b\"}";
	rejected_n(c, nul_in_string, sizeof(nul_in_string) - 1, DD_REJECT_SYNTAX);
	static const char nul_after[] = "{" M "}\0";
	rejected_n(c, nul_after, sizeof(nul_after) - 1, DD_REJECT_SYNTAX);
	static const char nul_between[] = "{" M ",\0\"a\":1}";
	rejected_n(c, nul_between, sizeof(nul_between) - 1, DD_REJECT_SYNTAX);
	/* A NUL right after a number, read or unread, is refused too. */
	static const char *const nul_after_number[] = {
	    "{" M ",\"a\":1\0}",     "{" M ",\"z\":1\0}",     "{" M ",\"v\":[1\0]}",
	    "{" M ",\"z\":[1\0,2]}", "{" M ",\"a\":1e999\0}", "{" M ",\"a\":true\0}",
	};
	for (size_t i = 0; i < sizeof(nul_after_number) / sizeof(nul_after_number[0]); i++) {
		const char *r = nul_after_number[i];
		size_t n = strlen(r);
		rejected_n(c, r, n + 1 + strlen(r + n + 1), DD_REJECT_SYNTAX);
	}
	rejected_n(c, "1\0", 2, DD_REJECT_SYNTAX);
	/* A byte order mark is not JSON (RFC 8259 8.1: senders MUST NOT add one). */
	rejected(c, "\xef\xbb\xbf{" M "}", DD_REJECT_SYNTAX);

	/* Whitespace anywhere JSON allows it is fine. */
	ok(c, " \t\r\n{ \"model\" : { \"id\" : \"m\" } ,\n\"a\"\t:\r1 , \"v\" : [ 1 , 2 ] } \n");
	is_num(&c->out[P_A], 1);
	assert_int_equal(c->out[P_V].dim, 2);
}

static void test_not_object(void **state)
{
	struct ctx *c = *state;
	static const char *const docs[] = {
	    "[]",      "[1,2]",       "[{\"model\":{\"id\":\"m\"}}]",
	    "1",       "-0.5",        "1e999",
	    "\"str\"", "\"\\u00e9\"", "true",
	    "false",   "null",        " null ",
	    "\t[ ]\n",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		rejected(c, docs[i], DD_REJECT_NOT_OBJECT);
	/* Invalid JSON that is not an object is a syntax error first. */
	rejected(c, "[1,]", DD_REJECT_SYNTAX);
	rejected(c, "\"\\x\"", DD_REJECT_SYNTAX);
	rejected(c, "[\"\xff\"]", DD_REJECT_SYNTAX);
	rejected(c, "01", DD_REJECT_SYNTAX);
	rejected(c, "NaN", DD_REJECT_SYNTAX);
}

/* ---- pointers ---- */

static void test_fieldset(void **state)
{
	(void)state;
	struct dd_fieldset *fs = NULL;
	static const char *const bad[] = {"a", "a/b", "/a~", "/a~2", "/~x", "/a/~"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dd_fieldset_new(&bad[i], 1, &fs), -EINVAL);
		assert_null(fs);
	}
	const char *with_null[] = {"/a", NULL};
	assert_int_equal(dd_fieldset_new(with_null, 2, &fs), -EINVAL);
	assert_int_equal(dd_fieldset_new(NULL, 1, &fs), -EINVAL);

	assert_int_equal(dd_fieldset_new(NULL, 0, &fs), 0);
	assert_int_equal(dd_fieldset_count(fs), 0);
	struct dd_decoder *d;
	assert_int_equal(dd_decoder_new(NULL, &d), 0);
	struct dd_meta meta;
	enum dd_reject why;
	const char *rec = "{\"model\":{\"id\":\"only-meta\"}}";
	assert_int_equal(dd_decode(d, fs, rec, strlen(rec), &meta, NULL, &why), 0);
	is_meta(meta.model_id, meta.model_id_len, "only-meta");
	/* meta and why are optional. */
	assert_int_equal(dd_decode(d, fs, rec, strlen(rec), NULL, NULL, NULL), 0);
	assert_int_equal(dd_decode(d, fs, "[]", 2, NULL, NULL, NULL), -EBADMSG);
	assert_int_equal(dd_decode(NULL, fs, rec, strlen(rec), NULL, NULL, &why), -EINVAL);
	assert_int_equal(dd_decode(d, NULL, rec, strlen(rec), NULL, NULL, &why), -EINVAL);
	dd_fieldset_free(fs);
	dd_fieldset_free(NULL);

	/* Duplicates and the root pointer. */
	const char *dup[] = {"/a", "", "/a", "/model/id", "/ts"};
	assert_int_equal(dd_fieldset_new(dup, 5, &fs), 0);
	assert_int_equal(dd_fieldset_count(fs), 5);
	struct driftd_value out[5];
	rec = "{\"model\":{\"id\":\"m\"},\"a\":\"x\",\"ts\":5}";
	assert_int_equal(dd_decode(d, fs, rec, strlen(rec), &meta, out, &why), 0);
	is_str(&out[0], "x");
	assert_int_equal(out[1].type, DRIFTD_VALUE_OTHER);
	is_str(&out[2], "x");
	assert_ptr_equal(out[0].str, out[2].str);
	is_str(&out[3], "m");
	is_num(&out[4], 5);
	assert_true(meta.has_ts);
	assert_int_equal(meta.ts_ms, 5);
	dd_fieldset_free(fs);
	dd_decoder_free(d);
}

static void test_pointer_escapes(void **state)
{
	(void)state;
	const char *p[] = {"/a~1b", "/m~0n", "/", "/~01", "/x/", "/q~1~0/r", "/\xc3\xa9"};
	enum { N = 7 };
	struct dd_fieldset *fs;
	struct dd_decoder *d;
	assert_int_equal(dd_fieldset_new(p, N, &fs), 0);
	assert_int_equal(dd_decoder_new(NULL, &d), 0);
	struct driftd_value out[N];
	enum dd_reject why;
	const char *rec = "{\"model\":{\"id\":\"m\"},\"a/b\":1,\"m~n\":2,\"\":3,\"~1\":4,"
	                  "\"x\":{\"\":5},\"q/~\":{\"r\":6},\"\xc3\xa9\":7,\"a\":{\"b\":0}}";
	assert_int_equal(dd_decode(d, fs, rec, strlen(rec), NULL, out, &why), 0);
	for (int i = 0; i < N; i++)
		is_num(&out[i], i + 1);
	/* Keys written with JSON escapes match their unescaped form. */
	rec = "{\"model\":{\"id\":\"m\"},\"a\\/b\":1,\"m\\u007en\":2,\"\":3,\"\\u007e1\":4,"
	      "\"\\u0078\":{\"\":5},\"q/\\u007e\":{\"\\u0072\":6},\"\\u00e9\":7}";
	assert_int_equal(dd_decode(d, fs, rec, strlen(rec), NULL, out, &why), 0);
	for (int i = 0; i < N; i++)
		is_num(&out[i], i + 1);
	/* Metadata keys too. */
	struct dd_meta meta;
	rec = "{\"m\\u006fdel\":{\"\\u0069d\":\"esc\\u0061ped\"}}";
	assert_int_equal(dd_decode(d, fs, rec, strlen(rec), &meta, out, &why), 0);
	is_meta(meta.model_id, meta.model_id_len, "escaped");
	dd_fieldset_free(fs);
	dd_decoder_free(d);
}

static void test_array_index(void **state)
{
	(void)state;
	const char *p[] = {"/v/0", "/v/10", "/v/01", "/v/-", "/m/1/x", "/0", "/m/0/0", "/v"};
	enum { N = 8 };
	struct dd_fieldset *fs;
	struct dd_decoder *d;
	assert_int_equal(dd_fieldset_new(p, N, &fs), 0);
	assert_int_equal(dd_decoder_new(NULL, &d), 0);
	struct driftd_value out[N];
	enum dd_reject why;
	const char *rec = "{\"model\":{\"id\":\"m\"},\"v\":[0,1,2,3,4,5,6,7,8,9,10,11],"
	                  "\"m\":[[\"deep\"],{\"x\":true}],\"0\":\"key zero\"}";
	assert_int_equal(dd_decode(d, fs, rec, strlen(rec), NULL, out, &why), 0);
	is_num(&out[0], 0);
	is_num(&out[1], 10);
	assert_int_equal(out[2].type, DRIFTD_VALUE_NONE); /* leading zero: not an index */
	assert_int_equal(out[3].type, DRIFTD_VALUE_NONE); /* "-" is past the end */
	assert_int_equal(out[4].type, DRIFTD_VALUE_BOOL);
	is_str(&out[5], "key zero");
	is_str(&out[6], "deep");
	assert_int_equal(out[7].type, DRIFTD_VALUE_VECTOR);
	assert_int_equal(out[7].dim, 12);
	for (size_t i = 0; i < 12; i++)
		assert_true(out[7].vec[i] == (double)i);
	/* Short array: the index is absent. */
	rec = "{\"model\":{\"id\":\"m\"},\"v\":[5]}";
	assert_int_equal(dd_decode(d, fs, rec, strlen(rec), NULL, out, &why), 0);
	is_num(&out[0], 5);
	assert_int_equal(out[1].type, DRIFTD_VALUE_NONE);
	/* An index segment also names an object member. */
	rec = "{\"model\":{\"id\":\"m\"},\"v\":{\"10\":1,\"01\":2,\"-\":3}}";
	assert_int_equal(dd_decode(d, fs, rec, strlen(rec), NULL, out, &why), 0);
	is_num(&out[1], 1);
	is_num(&out[2], 2);
	is_num(&out[3], 3);
	dd_fieldset_free(fs);
	dd_decoder_free(d);
}

/* Many pointers under one object: the sorted children are searched by bisection. */
static void test_wide_fieldset(void **state)
{
	(void)state;
	enum { N = 300 };
	char names[N][16];
	const char *p[N];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "/in/f%d", (i * 7919) % N);
		p[i] = names[i];
	}
	struct dd_fieldset *fs;
	struct dd_decoder *d;
	assert_int_equal(dd_fieldset_new(p, N, &fs), 0);
	assert_int_equal(dd_decoder_new(NULL, &d), 0);
	char *rec = malloc(16 * N + 64);
	assert_non_null(rec);
	size_t n = (size_t)sprintf(rec, "{\"model\":{\"id\":\"m\"},\"in\":{");
	for (int i = N - 1; i >= 0; i--)
		n += (size_t)sprintf(rec + n, "\"f%d\":%d%s", i, i, i ? "," : "");
	n += (size_t)sprintf(rec + n, "}}");
	struct driftd_value out[N];
	enum dd_reject why;
	assert_int_equal(dd_decode(d, fs, rec, n, NULL, out, &why), 0);
	for (int i = 0; i < N; i++)
		is_num(&out[i], (i * 7919) % N);
	free(rec);
	dd_fieldset_free(fs);
	dd_decoder_free(d);
}

static void test_duplicate_keys(void **state)
{
	struct ctx *c = *state;
	ok(c, "{" M ",\"a\":1,\"a\":2,\"s\":\"first\",\"s\":\"second\"}");
	is_num(&c->out[P_A], 1);
	is_str(&c->out[P_S], "first");
	/* Pointers through a duplicated key see only the first occurrence. */
	ok(c, "{" M ",\"a\":{\"c\":1},\"a\":{\"b\":2}}");
	assert_int_equal(c->out[P_A].type, DRIFTD_VALUE_OTHER);
	assert_int_equal(c->out[P_AB].type, DRIFTD_VALUE_NONE);
	ok(c, "{" M ",\"a\":{\"b\":1,\"b\":2}}");
	is_num(&c->out[P_AB], 1);
	/* Metadata as well; a later duplicate cannot remove the model. */
	ok(c, "{\"model\":{\"id\":\"first\"},\"model\":{\"id\":\"second\"},\"model\":null}");
	is_meta(c->meta.model_id, c->meta.model_id_len, "first");
	ok(c, "{\"model\":{\"id\":\"m\",\"id\":7}}");
	is_meta(c->meta.model_id, c->meta.model_id_len, "m");
	rejected(c, "{\"model\":{\"id\":7,\"id\":\"m\"}}", DD_REJECT_NO_MODEL);
	/* A key written with an escape is the same key. */
	ok(c, "{" M ",\"a\":1,\"\\u0061\":2}");
	is_num(&c->out[P_A], 1);
}

/* ---- metadata and ts ---- */

static void test_metadata(void **state)
{
	struct ctx *c = *state;
	ok(c, "{\"ts\":\"2026-11-27T12:00:00.123Z\",\"model\":{\"id\":\"fraud-scorer\","
	      "\"version\":\"3.2.0\",\"sha256\":\"ab12\"},\"request_id\":\"r-1\","
	      "\"client\":{\"id\":\"tenant-42\"},\"input\":{\"amount\":129.5}}");
	is_meta(c->meta.model_id, c->meta.model_id_len, "fraud-scorer");
	is_meta(c->meta.model_version, c->meta.model_version_len, "3.2.0");
	is_meta(c->meta.model_sha256, c->meta.model_sha256_len, "ab12");
	is_meta(c->meta.client_id, c->meta.client_id_len, "tenant-42");
	is_meta(c->meta.request_id, c->meta.request_id_len, "r-1");
	assert_true(c->meta.has_ts);
	assert_int_equal(c->meta.ts_ms, 1795780800123LL);

	/* Only model.id is required; metadata that is not a string reads as absent. */
	ok(c, "{\"model\":{\"id\":\"m\",\"version\":3},\"request_id\":17,\"client\":\"x\"}");
	is_meta(c->meta.model_id, c->meta.model_id_len, "m");
	is_meta(c->meta.model_version, c->meta.model_version_len, NULL);
	is_meta(c->meta.model_sha256, c->meta.model_sha256_len, NULL);
	is_meta(c->meta.client_id, c->meta.client_id_len, NULL);
	is_meta(c->meta.request_id, c->meta.request_id_len, NULL);
	assert_false(c->meta.has_ts);
	ok(c, "{\"model\":{\"id\":\"a\\u0000b\"}}");
	assert_int_equal(c->meta.model_id_len, 3);

	static const char *const no_model[] = {
	    "{}",
	    "{\"model\":null}",
	    "{\"model\":\"m\"}",
	    "{\"model\":[\"m\"]}",
	    "{\"model\":{}}",
	    "{\"model\":{\"id\":\"\"}}",
	    "{\"model\":{\"id\":null}}",
	    "{\"model\":{\"id\":42}}",
	    "{\"model\":{\"id\":[\"m\"]}}",
	    "{\"model\":{\"id\":{\"x\":\"m\"}}}",
	    "{\"model\":{\"ID\":\"m\"}}",
	    "{\"Model\":{\"id\":\"m\"}}",
	    "{\"x\":{\"model\":{\"id\":\"m\"}}}",
	};
	for (size_t i = 0; i < sizeof(no_model) / sizeof(no_model[0]); i++)
		rejected(c, no_model[i], DD_REJECT_NO_MODEL);
	/* Syntax comes first. */
	rejected(c, "{\"x\":1,}", DD_REJECT_SYNTAX);
}

static void test_ts(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *ts;
		int64_t ms;
	} good[] = {
	    {"\"2026-11-27T12:00:00.123Z\"", 1795780800123LL},
	    {"\"2026-11-27T13:00:00.123+01:00\"", 1795780800123LL},
	    {"\"1970-01-01T00:00:00Z\"", 0},
	    {"1764244800123", 1764244800123LL},
	    {"0", 0},
	    {"-1", -1},
	    {"1.764244800123e12", 1764244800123LL},
	    {"1764244800123.0", 1764244800123LL},
	    {"253402300799999", 253402300799999LL},
	    {"-62167219200000", -62167219200000LL},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char rec[128];
		snprintf(rec, sizeof(rec), "{" M ",\"ts\":%s}", good[i].ts);
		ok(c, rec);
		assert_true(c->meta.has_ts);
		assert_int_equal(c->meta.ts_ms, good[i].ms);
	}
	static const char *const bad[] = {
	    "null",
	    "true",
	    "{}",
	    "[1764244800123]",
	    "\"\"",
	    "\"1764244800123\"",
	    "\"2026-11-27\"",
	    "\"2026-11-27T12:00:00\"",
	    "\"2026-13-27T12:00:00Z\"",
	    "\"2026-11-27T12:00:00.Z\"",
	    "\"2026-11-27T12:00:00.123Zjunk\"",
	    "1764244800123.5",
	    "253402300800000",
	    "-62167219200001",
	    "1e300",
	    "1e999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char rec[128];
		snprintf(rec, sizeof(rec), "{" M ",\"ts\":%s}", bad[i]);
		rejected(c, rec, DD_REJECT_BAD_TS);
	}
	/* The model check comes first. */
	rejected(c, "{\"ts\":null}", DD_REJECT_NO_MODEL);
}

/* ---- RFC 3339 ---- */

static int64_t parse(const char *s)
{
	int64_t ms = INT64_MIN;
	if (dd_parse_rfc3339(s, strlen(s), &ms) != 0)
		fail_msg("cannot parse %s", s);
	return ms;
}

static void test_rfc3339_parse(void **state)
{
	(void)state;
	assert_int_equal(parse("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(parse("1970-01-01T00:00:00.001Z"), 1);
	assert_int_equal(parse("1969-12-31T23:59:59.999Z"), -1);
	assert_int_equal(parse("2000-03-01T00:00:00Z"), 951868800000LL);
	assert_int_equal(parse("2026-11-27T12:00:00.123Z"), 1795780800123LL);
	/* Separators and case. */
	assert_int_equal(parse("2026-11-27t12:00:00.123z"), 1795780800123LL);
	assert_int_equal(parse("2026-11-27 12:00:00.123Z"), 1795780800123LL);
	/* Offsets: local time minus offset. */
	assert_int_equal(parse("2026-11-27T17:30:00.123+05:30"), 1795780800123LL);
	assert_int_equal(parse("2026-11-27T04:00:00.123-08:00"), 1795780800123LL);
	assert_int_equal(parse("2026-11-27T12:00:00.123-00:00"), 1795780800123LL);
	assert_int_equal(parse("2026-11-28T00:00:00.123+12:00"), 1795780800123LL);
	assert_int_equal(parse("1970-01-01T00:00:00+23:59"), -86340000LL);
	/* Fractions: any number of digits, truncated to ms. */
	assert_int_equal(parse("1970-01-01T00:00:00.1Z"), 100);
	assert_int_equal(parse("1970-01-01T00:00:00.12Z"), 120);
	assert_int_equal(parse("1970-01-01T00:00:00.123456Z"), 123);
	assert_int_equal(parse("1970-01-01T00:00:00.999999999Z"), 999);
	assert_int_equal(parse("1970-01-01T00:00:00.0000000000001Z"), 0);
	/* Leap years. */
	assert_int_equal(parse("2024-02-29T00:00:00Z"), 1709164800000LL);
	assert_int_equal(parse("2000-02-29T00:00:00Z"), 951782400000LL);
	assert_int_equal(parse("2024-03-01T00:00:00Z") - parse("2024-02-28T00:00:00Z"),
	                 2 * 86400000LL);
	assert_int_equal(parse("2023-03-01T00:00:00Z") - parse("2023-02-28T00:00:00Z"), 86400000LL);
	assert_int_equal(parse("2024-12-31T00:00:00Z") - parse("2024-01-01T00:00:00Z"),
	                 365 * 86400000LL);
	/* Leap second: the first second of the next minute. */
	assert_int_equal(parse("2016-12-31T23:59:60Z"), parse("2017-01-01T00:00:00Z"));
	/* Range ends. */
	assert_int_equal(parse("0000-01-01T00:00:00Z"), -62167219200000LL);
	assert_int_equal(parse("9999-12-31T23:59:59.999Z"), 253402300799999LL);

	static const char *const bad[] = {
	    "",
	    "2026-11-27",
	    "2026-11-27T12:00:00",
	    "2026-11-27T12:00Z",
	    "2026-11-27T12:00:00.Z",
	    "2026-11-27T12:00:00.123",
	    "2026-11-27T12:00:00.123ZZ",
	    "2026-11-27T12:00:00.123Z ",
	    " 2026-11-27T12:00:00Z",
	    "2026-11-27X12:00:00Z",
	    "2026/11/27T12:00:00Z",
	    "26-11-27T12:00:00Z",
	    "+2026-11-27T12:00:00Z",
	    "2026-00-27T12:00:00Z",
	    "2026-13-27T12:00:00Z",
	    "2026-11-00T12:00:00Z",
	    "2026-11-31T12:00:00Z",
	    "2026-04-31T12:00:00Z",
	    "2023-02-29T12:00:00Z",
	    "1900-02-29T12:00:00Z",
	    "2100-02-29T12:00:00Z",
	    "2026-11-27T24:00:00Z",
	    "2026-11-27T12:60:00Z",
	    "2026-11-27T12:00:61Z",
	    "2026-11-27T12:00:00+24:00",
	    "2026-11-27T12:00:00+01:60",
	    "2026-11-27T12:00:00+0100",
	    "2026-11-27T12:00:00+01",
	    "2026-11-27T12:00:00+01:00:00",
	    "2026-11-27T1:00:00Z",
	    "2026-11-27T12:00:00,123Z",
	    "2026-1a-27T12:00:00Z",
	    "2026-11-27T12:00:00\xc2\xa0Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = 42;
		if (dd_parse_rfc3339(bad[i], strlen(bad[i]), &ms) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
	}
	/* Not NUL-terminated: only len bytes count. */
	const char *s = "1970-01-01T00:00:01Zjunk";
	int64_t ms;
	assert_int_equal(dd_parse_rfc3339(s, 20, &ms), 0);
	assert_int_equal(ms, 1000);
	assert_int_equal(dd_parse_rfc3339(s, 19, &ms), -EINVAL);
	assert_int_equal(dd_parse_rfc3339(NULL, 0, &ms), -EINVAL);
}

static void test_rfc3339_format(void **state)
{
	(void)state;
	char buf[32];
	static const struct {
		int64_t ms;
		const char *s;
	} cases[] = {
	    {0, "1970-01-01T00:00:00.000Z"},
	    {1795780800123LL, "2026-11-27T12:00:00.123Z"},
	    {-1, "1969-12-31T23:59:59.999Z"},
	    {951782400000LL, "2000-02-29T00:00:00.000Z"},
	    {1709164800000LL, "2024-02-29T00:00:00.000Z"},
	    {-62167219200000LL, "0000-01-01T00:00:00.000Z"},
	    {253402300799999LL, "9999-12-31T23:59:59.999Z"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dd_format_rfc3339(cases[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].s);
		assert_int_equal(parse(buf), cases[i].ms);
	}
	/* Round trips over the whole range, every day of a leap-year span, odd milliseconds. */
	uint64_t z = 88172645463325252ull;
	for (int i = 0; i < 200000; i++) {
		z ^= z << 13;
		z ^= z >> 7;
		z ^= z << 17;
		int64_t ms = (int64_t)(z % (uint64_t)(253402300799999LL + 62167219200000LL + 1)) -
		             62167219200000LL;
		dd_format_rfc3339(ms, buf, sizeof(buf));
		assert_int_equal(strlen(buf), 24);
		assert_int_equal(parse(buf), ms);
	}
	for (int64_t day = -800; day < 800; day++) {
		int64_t ms = parse("2024-01-01T00:00:00Z") + day * 86400000LL + 86399999;
		dd_format_rfc3339(ms, buf, sizeof(buf));
		assert_int_equal(parse(buf), ms);
	}
	/* Offsets come back as UTC. */
	dd_format_rfc3339(parse("2024-02-29T01:30:00.5+02:00"), buf, sizeof(buf));
	assert_string_equal(buf, "2024-02-28T23:30:00.500Z");
	/* Extremes fit in 32 bytes; short buffers are truncated, terminated. */
	dd_format_rfc3339(INT64_MIN, buf, sizeof(buf));
	assert_true(strlen(buf) < sizeof(buf));
	dd_format_rfc3339(INT64_MAX, buf, sizeof(buf));
	assert_true(strlen(buf) < sizeof(buf));
	char small[8];
	dd_format_rfc3339(0, small, sizeof(small));
	assert_string_equal(small, "1970-01");
	dd_format_rfc3339(0, small, 0);
}

/* ---- limits ---- */

static struct dd_decoder *decoder_with(size_t max_record, size_t max_depth, size_t max_string,
                                       size_t max_vector)
{
	struct dd_limits l = {max_record, max_depth, max_string, max_vector};
	struct dd_decoder *d = NULL;
	assert_int_equal(dd_decoder_new(&l, &d), 0);
	return d;
}

static void test_limits(void **state)
{
	struct ctx *c = *state;
	struct dd_limits l;
	dd_limits_default(&l);
	assert_int_equal(l.max_record, 1 << 20);
	assert_int_equal(l.max_depth, 64);
	assert_int_equal(l.max_string, 64 << 10);
	assert_int_equal(l.max_vector, 4096);
	struct dd_decoder *d = NULL;
	l.max_depth = DD_LIMIT_MAX_DEPTH_CAP + 1;
	assert_int_equal(dd_decoder_new(&l, &d), -EINVAL);
	dd_limits_default(&l);
	l.max_record = DD_LIMIT_MAX_RECORD_CAP + 1;
	assert_int_equal(dd_decoder_new(&l, &d), -EINVAL);
	assert_null(d);

	struct dd_decoder *keep = c->d;
	/* max_record: exactly the limit passes, one byte more is too large. */
	enum { REC = 100 };
	char rec[REC + 2];
	int n = snprintf(rec, sizeof(rec), "{" M ",\"s\":\"");
	memset(rec + n, 'x', (size_t)(REC - n - 2));
	memcpy(rec + REC - 2, "\"}", 3);
	assert_int_equal(strlen(rec), REC);
	c->d = decoder_with(REC, 0, 0, 0);
	ok(c, rec);
	assert_int_equal(c->out[P_S].len, REC - n - 2);
	rec[REC - 2] = 'x';
	memcpy(rec + REC - 1, "\"}", 3);
	rejected(c, rec, DD_REJECT_TOO_LARGE);
	/* Too large is decided before parsing: even garbage. */
	rejected_n(c, "\xff\xff\xff\xff", REC + 1, DD_REJECT_TOO_LARGE);
	dd_decoder_free(c->d);

	/* max_string: values and keys, unread ones too, escapes counted as written. */
	c->d = decoder_with(0, 0, 5, 0);
	ok(c, "{" M ",\"s\":\"12345\",\"k2345\":\"\",\"u\":\"\\n\\n\"}");
	rejected(c, "{" M ",\"s\":\"123456\"}", DD_REJECT_STRING_TOO_LONG);
	rejected(c, "{" M ",\"unread\":\"123456\"}", DD_REJECT_STRING_TOO_LONG);
	rejected(c, "{" M ",\"k23456\":1}", DD_REJECT_STRING_TOO_LONG);
	rejected(c, "{" M ",\"u\":\"\\n\\n\\n\"}", DD_REJECT_STRING_TOO_LONG);
	rejected(c, "{" M ",\"a\":[{\"b\":\"123456\"}]}", DD_REJECT_STRING_TOO_LONG);
	dd_decoder_free(c->d);

	/* max_vector: a longer array is OTHER, not a rejection. */
	c->d = decoder_with(0, 0, 0, 3);
	ok(c, "{" M ",\"v\":[1,2,3]}");
	assert_int_equal(c->out[P_V].type, DRIFTD_VALUE_VECTOR);
	assert_int_equal(c->out[P_V].dim, 3);
	ok(c, "{" M ",\"v\":[1,2,3,4]}");
	assert_int_equal(c->out[P_V].type, DRIFTD_VALUE_OTHER);
	is_num(&c->out[P_V1], 2);
	dd_decoder_free(c->d);

	/* max_depth: the record is depth 1. */
	c->d = decoder_with(0, 3, 0, 0);
	ok(c, "{" M ",\"a\":{\"b\":[1]}}");
	ok(c, "{" M ",\"a\":[[]]}");
	rejected(c, "{" M ",\"a\":{\"b\":[[1]]}}", DD_REJECT_TOO_DEEP);
	rejected(c, "{" M ",\"a\":[[{}]]}", DD_REJECT_TOO_DEEP);
	rejected(c, "[[[[]]]]", DD_REJECT_TOO_DEEP);
	dd_decoder_free(c->d);
	c->d = keep;
}

static char *nested(size_t depth, const char *open, const char *close, const char *prefix)
{
	size_t lo = strlen(open), lc = strlen(close), lp = strlen(prefix);
	char *s = malloc(lp + depth * (lo + lc) + 2);
	assert_non_null(s);
	memcpy(s, prefix, lp);
	char *p = s + lp;
	for (size_t i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	for (size_t i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p++ = '}';
	*p = 0;
	return s;
}

static void test_deep_nesting(void **state)
{
	struct ctx *c = *state;
	/* Default limit 64: the record plus 63 levels pass, 64 do not. */
	char *s = nested(63, "[", "]", "{" M ",\"a\":");
	ok(c, s);
	free(s);
	s = nested(64, "[", "]", "{" M ",\"a\":");
	rejected(c, s, DD_REJECT_TOO_DEEP);
	free(s);
	s = nested(64, "{\"k\":", "}", "{" M ",\"a\":");
	rejected(c, s, DD_REJECT_TOO_DEEP);
	free(s);
	/* Very deep input: rejected without recursing on the C stack. */
	s = nested(100000, "[", "]", "{" M ",\"a\":");
	rejected(c, s, DD_REJECT_TOO_DEEP);
	free(s);
	s = nested(100000, "{\"a\":", "}", "{" M ",\"a\":");
	rejected(c, s, DD_REJECT_TOO_DEEP);
	free(s);
	/* Unbalanced deep input is still rejected (as syntax or depth, whichever comes first). */
	s = nested(100000, "[", "", "{" M ",\"a\":");
	assert_int_not_equal(dec(c, s), 0);
	free(s);
	/* At the hard cap, 4096 levels are walked iteratively. */
	struct dd_decoder *keep = c->d;
	c->d = decoder_with(0, DD_LIMIT_MAX_DEPTH_CAP, 0, 0);
	s = nested(DD_LIMIT_MAX_DEPTH_CAP - 1, "[", "]", "{" M ",\"a\":");
	ok(c, s);
	free(s);
	s = nested(DD_LIMIT_MAX_DEPTH_CAP, "[", "]", "{" M ",\"a\":");
	rejected(c, s, DD_REJECT_TOO_DEEP);
	free(s);
	dd_decoder_free(c->d);
	c->d = keep;
}

/* ---- isolation and reuse ---- */

static void test_no_leak_between_records(void **state)
{
	struct ctx *c = *state;
	ok(c, "{\"model\":{\"id\":\"m\",\"version\":\"1\",\"sha256\":\"h\"},\"client\":{\"id\":"
	      "\"c\"},\"request_id\":\"r\",\"ts\":5,\"a\":{\"b\":1},\"v\":[1,2],\"n\":true,"
	      "\"s\":\"x\",\"x\":null}");
	for (int i = 0; i < P__N; i++)
		assert_int_not_equal(c->out[i].type, DRIFTD_VALUE_NONE);
	assert_true(c->meta.has_ts);
	ok(c, "{\"model\":{\"id\":\"m2\"}}");
	for (int i = 0; i < P__N; i++)
		assert_int_equal(c->out[i].type, DRIFTD_VALUE_NONE);
	is_meta(c->meta.model_id, c->meta.model_id_len, "m2");
	is_meta(c->meta.model_version, c->meta.model_version_len, NULL);
	is_meta(c->meta.model_sha256, c->meta.model_sha256_len, NULL);
	is_meta(c->meta.client_id, c->meta.client_id_len, NULL);
	is_meta(c->meta.request_id, c->meta.request_id_len, NULL);
	assert_false(c->meta.has_ts);
	/* A rejected record in between does not leave values behind either. */
	ok(c, "{" M ",\"a\":1}");
	rejected(c, "{" M ",\"a\":2,}", DD_REJECT_SYNTAX);
	ok(c, "{" M "}");
	assert_int_equal(c->out[P_A].type, DRIFTD_VALUE_NONE);
}

static void test_not_nul_terminated(void **state)
{
	struct ctx *c = *state;
	/* The record is a prefix of a larger buffer: only len bytes are read. */
	const char buf[] = "{" M ",\"a\":12}{\"garbage\":";
	size_t len = strlen("{" M ",\"a\":12}");
	assert_int_equal(dec_n(c, buf, len), 0);
	is_num(&c->out[P_A], 12);
	assert_int_equal(dec_n(c, buf, len - 2), -EBADMSG); /* "...\"a\":1" */
	/* A record ending exactly at the end of a heap block (ASan watches the edge). */
	char *exact = malloc(len);
	assert_non_null(exact);
	memcpy(exact, buf, len);
	assert_int_equal(dec_n(c, exact, len), 0);
	is_num(&c->out[P_A], 12);
	free(exact);
}

/* Strings point into decoder memory that stays put until the next decode. */
static void test_string_lifetime(void **state)
{
	struct ctx *c = *state;
	char *rec = strdup("{" M ",\"s\":\"abc\",\"a\":\"\\u00e9t\\u00e9\"}");
	assert_non_null(rec);
	assert_int_equal(dec(c, rec), 0);
	memset(rec, 'X', strlen(rec)); /* the caller's buffer may be reused at once */
	free(rec);
	is_str(&c->out[P_S], "abc");
	is_str(&c->out[P_A], "\xc3\xa9t\xc3\xa9");
	is_meta(c->meta.model_id, c->meta.model_id_len, "m");
}

static void test_many_records(void **state)
{
	struct ctx *c = *state;
	char rec[8192];
	for (int i = 0; i < 20000; i++) {
		int pad = (i * 37) % 3000; /* sizes go up and down */
		int n = snprintf(rec, sizeof(rec),
		                 "{\"model\":{\"id\":\"m%d\"},\"ts\":%d,\"a\":%d,\"s\":\"%*s\"",
		                 i % 7, i, i, pad, "");
		if (i % 3 == 0)
			n += snprintf(rec + n, sizeof(rec) - (size_t)n, ",\"v\":[%d,%d]", i, -i);
		if (i % 11 == 0)
			n += snprintf(rec + n, sizeof(rec) - (size_t)n, ",\"bad\":[1,]");
		snprintf(rec + n, sizeof(rec) - (size_t)n, "}");
		int rc = dec(c, rec);
		if (i % 11 == 0) {
			assert_int_equal(rc, -EBADMSG);
			assert_int_equal(c->why, DD_REJECT_SYNTAX);
			continue;
		}
		assert_int_equal(rc, 0);
		is_num(&c->out[P_A], i);
		assert_int_equal(c->out[P_S].len, pad);
		assert_int_equal(c->meta.ts_ms, i);
		char want[8];
		snprintf(want, sizeof(want), "m%d", i % 7);
		is_meta(c->meta.model_id, c->meta.model_id_len, want);
		if (i % 3 == 0) {
			assert_int_equal(c->out[P_V].type, DRIFTD_VALUE_VECTOR);
			assert_int_equal(c->out[P_V].dim, 2);
			assert_true(c->out[P_V].vec[0] == i && c->out[P_V].vec[1] == -i);
		} else {
			assert_int_equal(c->out[P_V].type, DRIFTD_VALUE_NONE);
		}
	}
}

/* One decoder, several fieldsets of different sizes, interleaved. */
static void test_fieldsets_share_decoder(void **state)
{
	struct ctx *c = *state;
	enum { N = 200 };
	char names[N][16];
	const char *p[N];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "/k%d", i);
		p[i] = names[i];
	}
	struct dd_fieldset *big;
	assert_int_equal(dd_fieldset_new(p, N, &big), 0);
	struct driftd_value out[N];
	const char *rec = "{" M ",\"k7\":7,\"a\":1,\"k199\":199}";
	for (int round = 0; round < 3; round++) {
		assert_int_equal(dd_decode(c->d, big, rec, strlen(rec), NULL, out, NULL), 0);
		is_num(&out[7], 7);
		is_num(&out[199], 199);
		assert_int_equal(out[8].type, DRIFTD_VALUE_NONE);
		ok(c, rec);
		is_num(&c->out[P_A], 1);
	}
	dd_fieldset_free(big);
}

static void test_no_allocation_steady_state(void **state)
{
	struct ctx *c = *state;
#if DD_COUNT_ALLOCS
	static const char *const recs[] = {
	    "{\"ts\":\"2026-11-27T12:00:00.123Z\",\"model\":{\"id\":\"m\",\"version\":\"1\"},"
	    "\"a\":{\"b\":1.5},\"v\":[1,2,3,4],\"s\":\"\\u00e9scaped\",\"x\":[{\"y\":null}]}",
	    "{" M ",\"a\":2}",
	    "{" M ",\"a\":2,}",
	    "[1,2,3]",
	};
	/* Warm up (buffers grow to the largest record), then count. */
	for (size_t i = 0; i < 4; i++)
		dec(c, recs[i]);
	allocations = 0;
	for (int k = 0; k < 1000; k++)
		for (size_t i = 0; i < 4; i++)
			dec(c, recs[i]);
	unsigned long n = allocations;
	assert_int_equal(n, 0);
	/* A bigger record grows the buffers once; the same size again allocates nothing. */
	char big[20000];
	int len = snprintf(big, sizeof(big), "{" M ",\"s\":\"%*s\"}", 19000, "");
	allocations = 0;
	dec_n(c, big, (size_t)len);
	n = allocations;
	assert_true(n > 0); /* the counter works */
	allocations = 0;
	dec_n(c, big, (size_t)len);
	n = allocations;
	assert_int_equal(n, 0);
#else
	(void)c;
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reject_reasons, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syntax, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_object, setup, teardown),
	    cmocka_unit_test(test_fieldset),
	    cmocka_unit_test(test_pointer_escapes),
	    cmocka_unit_test(test_array_index),
	    cmocka_unit_test(test_wide_fieldset),
	    cmocka_unit_test_setup_teardown(test_duplicate_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ts, setup, teardown),
	    cmocka_unit_test(test_rfc3339_parse),
	    cmocka_unit_test(test_rfc3339_format),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_leak_between_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_nul_terminated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_string_lifetime, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fieldsets_share_decoder, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_allocation_steady_state, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
