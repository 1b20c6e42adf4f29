/* lib/adapt, kserve-v2: Open Inference Protocol request/response records joined by id, with
 * the specification's and KServe's example payloads, read back through dd_decode with the
 * pointers a user writes; TTL expiry, eviction when full, duplicate ids, the pair-in-one-record
 * form, auto detection, and every reject reason the format can give. */
#include "adapt_helpers.h"

enum {
	P_IN0,
	P_IN0_3,
	P_IN1,
	P_OUT0,
	P_OUT0_1,
	P_IRIS,
	P_IRIS_4,
	P_PRED,
	P_PRED_0,
	P_S,
	P_B,
	P_BIN,
	P_BIG,
	P_EMPTY,
	P_LATENCY,
	P_EXACT,
	P__N
};
static const char *const ptrs[P__N] = {
    "/input/input0",     "/input/input0/3", "/input/input1",    "/output/output0",
    "/output/output0/1", "/input/input-0",  "/input/input-0/4", "/output/predict",
    "/output/predict/0", "/input/text",     "/input/flag",      "/input/raw",
    "/input/big",        "/input/none",     "/latency_ms",      "/input/exact",
};

/* Open Inference Protocol, "Inference Request Examples" (required_api.md): two inputs and one
 * requested output. Note input1: shape [3] but one BOOL element. */
static const char spec_request[] = "{\n"
                                   "  \"id\" : \"42\",\n"
                                   "  \"inputs\" : [\n"
                                   "    {\n"
                                   "      \"name\" : \"input0\",\n"
                                   "      \"shape\" : [ 2, 2 ],\n"
                                   "      \"datatype\" : \"UINT32\",\n"
                                   "      \"data\" : [ 1, 2, 3, 4 ]\n"
                                   "    },\n"
                                   "    {\n"
                                   "      \"name\" : \"input1\",\n"
                                   "      \"shape\" : [ 3 ],\n"
                                   "      \"datatype\" : \"BOOL\",\n"
                                   "      \"data\" : [ true ]\n"
                                   "    }\n"
                                   "  ],\n"
                                   "  \"outputs\" : [\n"
                                   "    {\n"
                                   "      \"name\" : \"output0\"\n"
                                   "    }\n"
                                   "  ]\n"
                                   "}";

/* The specification's response example verbatim: it lacks the comma after "id" (and the
 * required model_name). */
static const char spec_response_verbatim[] = "{\n"
                                             "  \"id\" : \"42\"\n"
                                             "  \"outputs\" : [\n"
                                             "    {\n"
                                             "      \"name\" : \"output0\",\n"
                                             "      \"shape\" : [ 3, 2 ],\n"
                                             "      \"datatype\"  : \"FP32\",\n"
                                             "      \"data\" : [ 1.0, 1.1, 2.0, 2.1, 3.0, 3.1 ]\n"
                                             "    }\n"
                                             "  ]\n"
                                             "}";

/* The same response as a server sends it ($inference_response: model_name, model_version,
 * id, outputs). */
static const char spec_response[] =
    "{\"model_name\":\"mymodel\",\"model_version\":\"1\",\"id\":\"42\",\"outputs\":[{\"name\":"
    "\"output0\",\"shape\":[3,2],\"datatype\":\"FP32\",\"data\":[1.0,1.1,2.0,2.1,3.0,3.1]}]}";

/* KServe V2 (sklearn iris) request with nested row-major data and its response. */
static const char iris_request[] =
    "{\"inputs\": [{\"name\": \"input-0\", \"shape\": [2, 4], \"datatype\": \"FP32\", \"data\": "
    "[[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}]}";
static const char iris_response[] =
    "{\"model_name\":\"sklearn-v2-iris\",\"model_version\":null,\"id\":\"823248cc-d770-4a51-"
    "9606-16803395569c\",\"parameters\":{},\"outputs\":[{\"name\":\"predict\",\"shape\":[2],"
    "\"datatype\":\"INT64\",\"parameters\":null,\"data\":[1,1]}]}";

static void check_spec_event(struct tctx *c)
{
	want_model(c, "mymodel", "1");
	want_request_id(c, "42");
	const double in0[] = {1, 2, 3, 4};
	want_vec(c, P_IN0, in0, 4);
	want_num(c, P_IN0_3, 4);
	want_bool(c, P_IN1, true); /* one element: a scalar */
	const double out0[] = {1.0, 1.1, 2.0, 2.1, 3.0, 3.1};
	want_vec(c, P_OUT0, out0, 6);
	want_num(c, P_OUT0_1, 1.1);
	want_type(c, P_LATENCY, DRIFTD_VALUE_NONE);
	/* short decimals stay short (exact with fewer than 17 digits) */
	assert_non_null(strstr(c->ev_copy, "\"output0\":[1.0,1.1,2.0,2.1,3.0,3.1]"));
}

static void test_spec_join(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_KSERVE_V2, NULL, ptrs, P__N);
	feed_pending(c, spec_request, NULL, 0, 1764244800000);
	struct dd_adapter_stats s = stats(c);
	assert_int_equal(s.pending, 1);
	assert_int_equal(s.adapted, 0);
	feed_event(c, spec_response, NULL, 0, 1764244800250);
	check_spec_event(c);
	/* ts: the request's Kafka timestamp */
	want_ts(c, "2025-11-27T12:00:00.000Z");
	s = stats(c);
	assert_int_equal(s.pending, 0);
	assert_int_equal(s.adapted, 1);
	assert_int_equal(s.unpaired_expired + s.unpaired_evicted, 0);

	/* response first, then request */
	feed_pending(c, spec_response, NULL, 0, 1764244801000);
	feed_event(c, spec_request, NULL, 0, 1764244800900);
	check_spec_event(c);
	want_ts(c, "2025-11-27T12:00:00.900Z");

	/* the verbatim example is not JSON */
	feed_reject(c, spec_response_verbatim, NULL, 0, DD_ADAPT_NOT_JSON);
	assert_int_equal(stats(c).rejects[DD_ADAPT_NOT_JSON], 1);
	tctx_free(c);
}

static void test_iris_nested_and_header_id(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_KSERVE_V2, NULL, ptrs, P__N);
	/* No id in the request: the logger's x-request-id header pairs them (Seldon). */
	const struct dd_header h[] = {HDR("x-request-id", "823248cc-d770-4a51-9606-16803395569c")};
	feed_pending(c, iris_request, h, NH(h), -1);
	feed_event(c, iris_response, h, NH(h), -1);
	want_model(c, "sklearn-v2-iris", NULL); /* model_version null: no version */
	want_request_id(c, "823248cc-d770-4a51-9606-16803395569c");
	want_ts(c, NULL);
	const double iris[] = {6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6};
	want_vec(c, P_IRIS, iris, 8);
	want_num(c, P_IRIS_4, 6.0);
	const double pred[] = {1, 1};
	want_vec(c, P_PRED, pred, 2);
	want_num(c, P_PRED_0, 1);

	/* A ce_id header (KServe's logger through a Kafka sink) wins over the payload id. */
	const struct dd_header ce[] = {HDR("ce_id", "e58f1edd-43bc-42f6-a10a-d1adb5cab831")};
	feed_pending(c, iris_request, ce, NH(ce), -1);
	feed_event(c, iris_response, ce, NH(ce), -1);
	want_request_id(c, "823248cc-d770-4a51-9606-16803395569c"); /* the data's id */

	/* an empty id header is no id: the next source (the payload id) is used */
	const struct dd_header empty[] = {HDR("x-request-id", "")};
	feed_pending(c,
	             "{\"id\":\"body\",\"inputs\":[{\"name\":\"input-0\",\"shape\":[],"
	             "\"datatype\":\"FP32\",\"data\":5.5}]}",
	             empty, NH(empty), -1);
	feed_event(c, "{\"model_name\":\"m\",\"id\":\"body\",\"outputs\":[]}", NULL, 0, -1);
	want_num(c, P_IRIS, 5.5); /* data given as a bare scalar */

	/* no id anywhere: nothing to join by */
	feed_reject(c, iris_request, NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	/* an id header that is not UTF-8 */
	const struct dd_header bad[] = {HDR("x-request-id", "\xff\xfe")};
	feed_reject(c, iris_request, bad, NH(bad), DD_ADAPT_BAD_HEADER);
	const struct dd_header nul[] = {{.key = "x-request-id", .value = "a\0b", .len = 3}};
	feed_reject(c, iris_request, nul, NH(nul), DD_ADAPT_BAD_HEADER);
	tctx_free(c);
}

static void test_tensor_values(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_KSERVE_V2, NULL, ptrs, P__N);
	feed_pending(
	    c,
	    "{\"id\":\"t1\",\"inputs\":["
	    "{\"name\":\"text\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"hello\"]},"
	    "{\"name\":\"flag\",\"shape\":[1,1],\"datatype\":\"BOOL\",\"data\":[[false]]},"
	    "{\"name\":\"raw\",\"shape\":[4],\"datatype\":\"FP32\",\"parameters\":"
	    "{\"binary_data_size\":16}},"
	    "{\"name\":\"big\",\"shape\":[],\"datatype\":\"UINT64\",\"data\":"
	    "[18446744073709551615]},"
	    "{\"name\":\"none\",\"shape\":[0],\"datatype\":\"FP32\",\"data\":[]},"
	    "{\"name\":\"exact\",\"shape\":[5],\"datatype\":\"FP64\",\"data\":"
	    "[0.30000000000000004,0.1,1e300,5e-324,-0.0]}]}",
	    NULL, 0, 5);
	feed_event(c, "{\"model_name\":\"m\",\"id\":\"t1\",\"outputs\":[]}", NULL, 0, 6);
	want_str(c, P_S, "hello");
	want_bool(c, P_B, false);
	want_type(c, P_BIN, DRIFTD_VALUE_OTHER); /* binary extension: no JSON data */
	want_num(c, P_BIG, 18446744073709551615.0);
	want_vec(c, P_EMPTY, NULL, 0);
	/* every double reads back exactly, -0 included */
	const double exact[] = {0.30000000000000004, 0.1, 1e300, 5e-324, -0.0};
	want_vec(c, P_EXACT, exact, 5);
	assert_true(signbit(c->out[P_EXACT].vec[4]));
	want_model(c, "m", NULL);
	want_ts(c, "1970-01-01T00:00:00.005Z");
	tctx_free(c);
}

static void test_pair_in_one_record(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_KSERVE_V2, NULL, ptrs, P__N);
	char rec[4096];
	snprintf(rec, sizeof(rec), "{\"request\":%s,\"response\":%s}", spec_request, spec_response);
	feed_event(c, rec, NULL, 0, 1000);
	check_spec_event(c);
	want_ts(c, "1970-01-01T00:00:01.000Z");
	assert_int_equal(stats(c).pending, 0);
	tctx_free(c);
}

static void req_id(char *buf, size_t n, const char *id)
{
	snprintf(buf, n,
	         "{\"id\":\"%s\",\"inputs\":[{\"name\":\"input0\",\"shape\":[1],\"datatype\":"
	         "\"FP32\",\"data\":[0.5]}]}",
	         id);
}

static void resp_id(char *buf, size_t n, const char *id)
{
	snprintf(buf, n,
	         "{\"model_name\":\"m\",\"id\":\"%s\",\"outputs\":[{\"name\":\"output0\","
	         "\"shape\":[1],\"datatype\":\"FP32\",\"data\":[0.25]}]}",
	         id);
}

static void test_ttl(void **state)
{
	(void)state;
	const struct dd_adapter_opts o = {.join_ttl_ms = 60000};
	struct tctx *c = tctx_new(DD_FORMAT_KSERVE_V2, &o, ptrs, P__N);
	char q[256], s[256];
	req_id(q, sizeof(q), "a");
	resp_id(s, sizeof(s), "a");
	/* exactly at the TTL still pairs */
	feed_pending(c, q, NULL, 0, 1000);
	feed_event(c, s, NULL, 0, 61000);
	want_num(c, P_IN0, 0.5);
	want_num(c, P_OUT0, 0.25);

	/* one millisecond late: the request is dropped as expired, the response waits */
	feed_pending(c, q, NULL, 0, 1000);
	feed_pending(c, s, NULL, 0, 61001);
	struct dd_adapter_stats st = stats(c);
	assert_int_equal(st.unpaired_expired, 1);
	assert_int_equal(st.pending, 1);
	/* the response's own TTL runs from its time */
	assert_int_equal(dd_adapter_expire(c->a, 121001), 0);
	assert_int_equal(dd_adapter_expire(c->a, 121002), 1);
	st = stats(c);
	assert_int_equal(st.unpaired_expired, 2);
	assert_int_equal(st.pending, 0);

	/* expire keeps the young, drops the old, whatever their order of arrival */
	char q2[256];
	req_id(q2, sizeof(q2), "b");
	feed_pending(c, q2, NULL, 0, 500000);
	req_id(q2, sizeof(q2), "c");
	feed_pending(c, q2, NULL, 0, 100000);
	req_id(q2, sizeof(q2), "d");
	feed_pending(c, q2, NULL, 0, 300000);
	assert_int_equal(dd_adapter_expire(c->a, 370000), 2); /* c and d */
	assert_int_equal(stats(c).pending, 1);
	resp_id(s, sizeof(s), "b");
	feed_event(c, s, NULL, 0, 500001);
	/* c expired: its response now waits alone */
	resp_id(s, sizeof(s), "c");
	feed_pending(c, s, NULL, 0, 100001);
	assert_int_equal(stats(c).unpaired_expired, 4);
	assert_int_equal(dd_adapter_expire(c->a, 160002), 1);

	/* no Kafka time: a half takes the newest time seen (500001) */
	req_id(q2, sizeof(q2), "e");
	feed_pending(c, q2, NULL, 0, -1);
	assert_int_equal(dd_adapter_expire(c->a, 500001 + 60000), 0);
	assert_int_equal(dd_adapter_expire(c->a, 500001 + 60001), 1);
	assert_int_equal(dd_adapter_expire(c->a, INT64_MIN), 0);
	assert_int_equal(dd_adapter_expire(NULL, 0), 0);
	tctx_free(c);
}

/* Where held halves came from: the offsets still held per source (what a state snapshot must
 * read again), and dropping a source's halves when its partition leaves. */
static int64_t oldest(struct tctx *c, uint32_t src)
{
	int64_t v[8];
	size_t n = dd_adapter_held(c->a, src, v, 8);
	int64_t lo = -1;
	for (size_t i = 0; i < n && i < 8; i++)
		if (lo < 0 || v[i] < lo)
			lo = v[i];
	return lo;
}

static void test_held_positions(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_KSERVE_V2, NULL, ptrs, P__N);
	char q[256], s[256];
	struct dd_record r = {.ts_ms = 1000};
	const char *ev;
	size_t len;
	static const struct {
		const char *id;
		uint32_t src;
		int64_t offset;
	} held[] = {{"a", 1, 10}, {"b", 1, 7}, {"c", 2, 3}, {"d", 1, 12}};
	for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++) {
		req_id(q, sizeof(q), held[i].id);
		r.value = q;
		r.len = strlen(q);
		r.src = held[i].src;
		r.offset = held[i].offset;
		assert_int_equal(dd_adapt(c->a, &r, &ev, &len, NULL), 0);
		assert_int_equal(len, 0);
	}
	assert_int_equal(dd_adapter_held(c->a, 1, NULL, 0), 3);
	assert_int_equal(oldest(c, 1), 7);
	assert_int_equal(oldest(c, 2), 3);
	assert_int_equal(oldest(c, 3), -1);
	assert_int_equal(oldest(c, 0), -1); /* no source: never tracked */
	/* b pairs (its response from anywhere): the oldest of source 1 is now a's */
	resp_id(s, sizeof(s), "b");
	r.value = s;
	r.len = strlen(s);
	r.src = 1;
	r.offset = 20;
	assert_int_equal(dd_adapt(c->a, &r, &ev, &len, NULL), 0);
	assert_true(len > 0);
	assert_int_equal(oldest(c, 1), 10);
	/* source 1's partition leaves: its halves go, not counted as unpaired */
	dd_adapter_drop(c->a, 1);
	assert_int_equal(oldest(c, 1), -1);
	assert_int_equal(oldest(c, 2), 3);
	struct dd_adapter_stats st = stats(c);
	assert_int_equal(st.pending, 1);
	assert_int_equal(st.unpaired_evicted + st.unpaired_expired, 0);
	tctx_free(c);
}

static void test_no_time_waits_for_eviction(void **state)
{
	(void)state;
	const struct dd_adapter_opts o = {.max_pending = 2};
	struct tctx *c = tctx_new(DD_FORMAT_KSERVE_V2, &o, ptrs, P__N);
	char q[256];
	req_id(q, sizeof(q), "x");
	feed_pending(c, q, NULL, 0, -1);
	assert_int_equal(dd_adapter_expire(c->a, INT64_MAX), 0); /* no time: never expires */
	req_id(q, sizeof(q), "y");
	feed_pending(c, q, NULL, 0, -1);
	req_id(q, sizeof(q), "z");
	feed_pending(c, q, NULL, 0, -1);
	struct dd_adapter_stats st = stats(c);
	assert_int_equal(st.unpaired_evicted, 1);
	assert_int_equal(st.pending, 2);
	tctx_free(c);
}

static void test_eviction(void **state)
{
	(void)state;
	const struct dd_adapter_opts o = {.max_pending = 3};
	struct tctx *c = tctx_new(DD_FORMAT_KSERVE_V2, &o, ptrs, P__N);
	char q[256], s[256];
	const char *ids[] = {"r0", "r1", "r2", "r3", "r4"};
	for (int i = 0; i < 5; i++) {
		req_id(q, sizeof(q), ids[i]);
		feed_pending(c, q, NULL, 0, 1000 + i);
	}
	struct dd_adapter_stats st = stats(c);
	assert_int_equal(st.pending, 3);
	assert_int_equal(st.unpaired_evicted, 2); /* r0, r1: the oldest */
	/* r0 was evicted: its response waits (and evicts r2) */
	resp_id(s, sizeof(s), "r0");
	feed_pending(c, s, NULL, 0, 2000);
	assert_int_equal(stats(c).unpaired_evicted, 3);
	resp_id(s, sizeof(s), "r4");
	feed_event(c, s, NULL, 0, 2001);
	want_request_id(c, "r4");
	resp_id(s, sizeof(s), "r3");
	feed_event(c, s, NULL, 0, 2002);
	want_request_id(c, "r3");
	st = stats(c);
	assert_int_equal(st.pending, 1);
	assert_int_equal(st.adapted, 2);

	/* a second request with a waiting id replaces the first (counted as evicted) */
	req_id(q, sizeof(q), "dup");
	feed_pending(c, q, NULL, 0, 3000);
	feed_pending(c, q, NULL, 0, 3001);
	assert_int_equal(stats(c).unpaired_evicted, 4);
	resp_id(s, sizeof(s), "dup");
	feed_event(c, s, NULL, 0, 3002);
	want_ts(c, "1970-01-01T00:00:03.001Z");
	tctx_free(c);
}

static void test_eviction_by_bytes(void **state)
{
	(void)state;
	const struct dd_adapter_opts o = {.max_pending_bytes = 1200};
	struct tctx *c = tctx_new(DD_FORMAT_KSERVE_V2, &o, ptrs, P__N);
	char q[256];
	for (int i = 0; i < 20; i++) {
		char id[16];
		snprintf(id, sizeof(id), "b%d", i);
		req_id(q, sizeof(q), id);
		feed_pending(c, q, NULL, 0, 1000);
	}
	struct dd_adapter_stats st = stats(c);
	assert_true(st.pending >= 1 && st.pending < 20);
	assert_int_equal(st.pending + st.unpaired_evicted, 20);
	/* a half bigger than the whole budget is dropped at once */
	char big[2048];
	int n = snprintf(big, sizeof(big),
	                 "{\"id\":\"huge\",\"inputs\":[{\"name\":\"input0\",\"data\":[");
	for (int i = 0; i < 700; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "%s1", i ? "," : "");
	snprintf(big + n, sizeof(big) - (size_t)n, "]}]}");
	uint64_t before = stats(c).unpaired_evicted;
	feed_pending(c, big, NULL, 0, 1000);
	assert_int_equal(stats(c).unpaired_evicted, before + 1);
	tctx_free(c);
}

/* Many halves in a small table (chains share buckets), paired in reverse order; and events
 * larger than the output buffer's first sizes. */
static void test_many_pending(void **state)
{
	(void)state;
	const struct dd_adapter_opts o = {.max_pending = 64};
	struct tctx *c = tctx_new(DD_FORMAT_KSERVE_V2, &o, ptrs, P__N);
	char q[256], s[256];
	for (int i = 0; i < 64; i++) {
		char id[16];
		snprintf(id, sizeof(id), "m%d", i);
		req_id(q, sizeof(q), id);
		feed_pending(c, q, NULL, 0, 1000);
	}
	for (int i = 63; i >= 0; i--) {
		char id[16];
		snprintf(id, sizeof(id), "m%d", i);
		resp_id(s, sizeof(s), id);
		feed_event(c, s, NULL, 0, 1001);
		want_request_id(c, id);
	}
	struct dd_adapter_stats st = stats(c);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.adapted, 64);
	assert_int_equal(st.unpaired_evicted + st.unpaired_expired, 0);

	/* a 4000-element tensor: the event grows the output buffer several times */
	size_t cap = 64 * 1024, n = 0;
	char *big = malloc(cap);
	assert_non_null(big);
	n += (size_t)snprintf(big, cap,
	                      "{\"id\":\"big\",\"inputs\":[{\"name\":\"input0\",\"data\":[");
	for (int i = 0; i < 4000; i++)
		n += (size_t)snprintf(big + n, cap - n, "%s%d.5", i ? "," : "", i);
	snprintf(big + n, cap - n, "]}]}");
	feed_pending(c, big, NULL, 0, 2000);
	resp_id(s, sizeof(s), "big");
	feed_event(c, s, NULL, 0, 2001);
	assert_int_equal(c->out[P_IN0].type, DRIFTD_VALUE_VECTOR);
	assert_int_equal(c->out[P_IN0].dim, 4000);
	assert_true(c->out[P_IN0].vec[3999] == 3999.5);
	free(big);
	tctx_free(c);
}

static void test_rejects(void **state)
{
	(void)state;
	const struct dd_adapter_opts o = {.max_record = 400};
	struct tctx *c = tctx_new(DD_FORMAT_KSERVE_V2, &o, ptrs, P__N);
	feed_reject(c, NULL, NULL, 0, DD_ADAPT_TOMBSTONE);
	feed_reject(c, "", NULL, 0, DD_ADAPT_NOT_JSON);
	feed_reject(c, "{\"inputs\":[", NULL, 0, DD_ADAPT_NOT_JSON);
	feed_reject(c, "{\"id\":\"1\",\"inputs\":[]} x", NULL, 0, DD_ADAPT_NOT_JSON);
	feed_reject(c, "{\"s\":\"\xc3\x28\"}", NULL, 0, DD_ADAPT_NOT_JSON); /* bad UTF-8 */
	feed_reject(c, "[1,2]", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "42", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"model\":{\"id\":\"m\"}}", NULL, 0, DD_ADAPT_BAD_PAYLOAD); /* native */
	feed_reject(c, "{\"inputs\":{}}", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"id\":\"1\",\"inputs\":[1]}", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"id\":\"1\",\"inputs\":[{\"data\":[1]}]}", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"id\":\"1\",\"inputs\":[{\"name\":\"\",\"data\":[1]}]}", NULL, 0,
	            DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"id\":\"1\",\"inputs\":[{\"name\":\"a\",\"data\":[1]},{\"name\":\"a\"}]}",
	            NULL, 0, DD_ADAPT_BAD_PAYLOAD); /* two tensors of one name */
	feed_reject(c, "{\"id\":\"1\",\"inputs\":[{\"name\":\"a\",\"data\":[{\"x\":1}]}]}", NULL, 0,
	            DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"id\":\"1\",\"inputs\":[{\"name\":\"a\",\"data\":{\"x\":1}}]}", NULL, 0,
	            DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"id\":\"1\",\"id\":\"2\",\"inputs\":[]}", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"id\":\"a\\u0000b\",\"inputs\":[]}", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	/* rank beyond 32 */
	char deep[512];
	int n = snprintf(deep, sizeof(deep), "{\"id\":\"1\",\"inputs\":[{\"name\":\"a\",\"data\":");
	for (int i = 0; i < 40; i++)
		deep[n++] = '[';
	deep[n++] = '1';
	for (int i = 0; i < 40; i++)
		deep[n++] = ']';
	snprintf(deep + n, sizeof(deep) - (size_t)n, "}]}");
	feed_reject(c, deep, NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	/* too large: the record, then an event whose halves fit but together do not */
	char big[512];
	memset(big, ' ', sizeof(big));
	feed_reject_n(c, big, 401, NULL, 0, DD_ADAPT_TOO_LARGE);
	char q[400], s[400];
	n = snprintf(q, sizeof(q), "{\"id\":\"L\",\"inputs\":[{\"name\":\"a\",\"data\":[");
	for (int i = 0; i < 100; i++)
		n += snprintf(q + n, sizeof(q) - (size_t)n, "%s1", i ? "," : "");
	snprintf(q + n, sizeof(q) - (size_t)n, "]}]}");
	n = snprintf(s, sizeof(s), "{\"id\":\"L\",\"outputs\":[{\"name\":\"b\",\"data\":[");
	for (int i = 0; i < 100; i++)
		n += snprintf(s + n, sizeof(s) - (size_t)n, "%s2", i ? "," : "");
	snprintf(s + n, sizeof(s) - (size_t)n, "]}]}");
	feed_pending(c, q, NULL, 0, 1);
	feed_reject(c, s, NULL, 0, DD_ADAPT_TOO_LARGE);
	assert_int_equal(stats(c).pending, 0);

	struct dd_adapter_stats st = stats(c);
	assert_int_equal(st.rejects[DD_ADAPT_TOMBSTONE], 1);
	assert_int_equal(st.rejects[DD_ADAPT_NOT_JSON], 4);
	assert_int_equal(st.rejects[DD_ADAPT_BAD_PAYLOAD], 13);
	assert_int_equal(st.rejects[DD_ADAPT_TOO_LARGE], 2);
	assert_int_equal(st.adapted, 0);
	tctx_free(c);
}

/* auto: OIP records are recognised by shape and joined like kserve-v2 records. */
static void test_auto(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_AUTO, NULL, ptrs, P__N);
	feed_pending(c, spec_request, NULL, 0, 10);
	feed_event(c, spec_response, NULL, 0, 20);
	check_spec_event(c);
	/* a native event passes through as the same bytes */
	const char *native = "{\"model\":{\"id\":\"m\"},\"input\":{\"input0\":[1,2,3,4]}}";
	assert_int_equal(feed(c, native, NULL, 0, -1), 0);
	assert_ptr_equal(c->ev, native);
	tctx_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spec_join),     cmocka_unit_test(test_iris_nested_and_header_id),
	    cmocka_unit_test(test_tensor_values), cmocka_unit_test(test_pair_in_one_record),
	    cmocka_unit_test(test_ttl),           cmocka_unit_test(test_no_time_waits_for_eviction),
	    cmocka_unit_test(test_eviction),      cmocka_unit_test(test_eviction_by_bytes),
	    cmocka_unit_test(test_many_pending),  cmocka_unit_test(test_rejects),
	    cmocka_unit_test(test_auto),          cmocka_unit_test(test_held_positions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
