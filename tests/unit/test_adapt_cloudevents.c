/* lib/adapt, cloudevents: the Kafka protocol binding's binary and structured examples around
 * native events, KServe payload logging (the CloudEvents KServe's logger emits, V1 and V2,
 * joined by the CloudEvent id), OIP and OpenAI data, data_base64, header forms, auto
 * detection, every reject reason, and the interface's names and argument checks. */
#include "adapt_helpers.h"

enum {
	P_AMOUNT,
	P_SCORE,
	P_INST_0_0,
	P_INST_1,
	P_PRED_0,
	P_PREDS,
	P_NS,
	P_COMP,
	P_ENDPOINT,
	P_TYPE,
	P_SOURCE,
	P_LATENCY,
	P_IRIS,
	P_OUT,
	P_MSGS,
	P_TOTAL,
	P_TEXT,
	P__N
};
static const char *const ptrs[P__N] = {
    "/input/amount",         "/output/score",
    "/input/instances/0/0",  "/input/instances/1",
    "/output/predictions/0", "/output/predictions",
    "/cloudevent/namespace", "/cloudevent/component",
    "/cloudevent/endpoint",  "/cloudevent/type",
    "/cloudevent/source",    "/latency_ms",
    "/input/input-0",        "/output/output-0",
    "/input/messages",       "/output/usage/total_tokens",
    "/output/text",
};

static const char native_event[] = "{\"model\":{\"id\":\"fraud-scorer\",\"version\":\"3.2.0\"},"
                                   "\"input\":{\"amount\":129.5},\"output\":{\"score\":0.93}}";

/* Kafka protocol binding 3.2.5: binary content mode (the example's data is Avro; here JSON). */
static void test_binary_mode(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_CLOUDEVENTS, NULL, ptrs, P__N);
	const struct dd_header h[] = {
	    HDR("ce_specversion", "1.0"),
	    HDR("ce_type", "com.example.someevent"),
	    HDR("ce_source", "/mycontext/subcontext"),
	    HDR("ce_id", "1234-1234-1234"),
	    HDR("ce_time", "2018-04-05T03:56:24Z"),
	    HDR("content-type", "application/json"),
	};
	feed_event(c, native_event, h, NH(h), 1700000000000);
	want_model(c, "fraud-scorer", "3.2.0"); /* the data's model wins */
	want_request_id(c, "1234-1234-1234");
	want_ts(c, "2018-04-05T03:56:24Z"); /* ce_time, not the Kafka timestamp */
	want_num(c, P_AMOUNT, 129.5);
	want_num(c, P_SCORE, 0.93);
	want_str(c, P_TYPE, "com.example.someevent");
	want_str(c, P_SOURCE, "/mycontext/subcontext");

	/* The event's own fields win; the CloudEvent fills only what is missing. */
	feed_event(c,
	           "{\"model\":{\"version\":\"2\"},\"request_id\":\"own\",\"ts\":1000,"
	           "\"input\":{\"amount\":1}}",
	           h, NH(h), -1);
	want_model(c, "/mycontext/subcontext", "2");
	want_request_id(c, "own");
	want_ts(c, "1970-01-01T00:00:01Z");

	/* Without ce_time: the Kafka timestamp. */
	const struct dd_header nt[] = {HDR("ce_specversion", "1.0"), HDR("ce_type", "t"),
	                               HDR("ce_source", "s"), HDR("ce_id", "i")};
	feed_event(c, "{\"input\":{\"amount\":2}}", nt, NH(nt), 1700000000123);
	want_ts(c, "2023-11-14T22:13:20.123Z");
	want_model(c, "s", NULL);
	feed_event(c, "{\"input\":{\"amount\":2}}", nt, NH(nt), -1);
	want_ts(c, NULL);
	/* a Kafka timestamp past year 9999 has no RFC 3339 form: left out */
	feed_event(c, "{\"input\":{\"amount\":2}}", nt, NH(nt), 253402300800000);
	want_ts(c, NULL);

	/* HTTP-style names (a bridge copying ce- headers) and any case; the last of a name
	 * wins. */
	const struct dd_header http[] = {
	    HDR("Ce-Specversion", "1.0"),
	    HDR("Ce-Type", "t"),
	    HDR("Ce-Source", "old"),
	    HDR("ce-source", "new"),
	    HDR("Ce-Id", "abc"),
	    HDR("Content-Type", "text/json"),
	    HDR("ce_traceparent", "00-90a2951c292515b95056d5f778a7824b-d3c911c939c7bef6-00"),
	};
	feed_event(c, "{\"input\":{\"amount\":3}}", http, NH(http), -1);
	want_model(c, "new", NULL);
	want_request_id(c, "abc");
	/* the data is read as JSON whatever content-type says */
	const struct dd_header form[] = {HDR("ce_specversion", "1.0"), HDR("ce_type", "t"),
	                                 HDR("ce_source", "s"), HDR("ce_id", "i"),
	                                 HDR("content-type", "application/x-www-form-urlencoded")};
	feed_event(c, native_event, form, NH(form), -1);
	assert_int_equal(stats(c).adapted, 7);
	tctx_free(c);
}

/* Kafka protocol binding 3.3.4: structured content mode, JSON event format. */
static const char structured[] =
    "{\n"
    "    \"specversion\" : \"1.0\",\n"
    "    \"type\" : \"com.example.someevent\",\n"
    "    \"source\" : \"/mycontext/subcontext\",\n"
    "    \"id\" : \"1234-1234-1234\",\n"
    "    \"time\" : \"2018-04-05T03:56:24Z\",\n"
    "    \"datacontenttype\" : \"application/json\",\n"
    "    \"data\" : {\"input\": {\"amount\": 42.5}, \"output\": {\"score\": 0.1}}\n"
    "}";

static void test_structured_mode(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_CLOUDEVENTS, NULL, ptrs, P__N);
	const struct dd_header h[] = {
	    HDR("content-type", "application/cloudevents+json; charset=UTF-8")};
	feed_event(c, structured, h, NH(h), -1);
	want_model(c, "/mycontext/subcontext", NULL); /* no model in the data: ce source */
	want_request_id(c, "1234-1234-1234");
	want_ts(c, "2018-04-05T03:56:24Z");
	want_num(c, P_AMOUNT, 42.5);
	want_num(c, P_SCORE, 0.1);
	want_str(c, P_TYPE, "com.example.someevent");

	/* content-type is optional in structured mode; the bare media type is JSON too */
	feed_event(c, structured, NULL, 0, -1);
	want_num(c, P_AMOUNT, 42.5);
	const struct dd_header bare[] = {HDR("Content-Type", "APPLICATION/CLOUDEVENTS")};
	feed_event(c, structured, bare, NH(bare), -1);
	want_num(c, P_AMOUNT, 42.5);

	/* data_base64 */
	feed_event(c,
	           "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":\"b64\","
	           "\"data_base64\":\"eyJtb2RlbCI6eyJpZCI6ImZyYXVkLXNjb3JlciJ9LCJpbnB1dCI6eyJhbW91"
	           "bnQiOjEyOS41fX0=\"}",
	           h, NH(h), -1);
	want_model(c, "fraud-scorer", NULL);
	want_num(c, P_AMOUNT, 129.5);
	want_request_id(c, "b64");
	/* data as a string holding JSON text */
	feed_event(c,
	           "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":\"str\","
	           "\"data\":\"{\\\"input\\\":{\\\"amount\\\":7}}\"}",
	           h, NH(h), -1);
	want_num(c, P_AMOUNT, 7);
	/* extensions as top-level members */
	feed_event(c,
	           "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":\"x\","
	           "\"namespace\":\"prod\",\"inferenceservicename\":\"fraud\",\"component\":"
	           "\"predictor\",\"knativearrivaltime\":\"2023-04-05T07:39:53.504Z\",\"data\":"
	           "{\"input\":{\"amount\":8}}}",
	           h, NH(h), -1);
	want_model(c, "fraud", NULL);
	want_str(c, P_NS, "prod");
	want_str(c, P_COMP, "predictor");
	tctx_free(c);
}

/* KServe payload logging: the two CloudEvents of one inference of the sklearn-iris example
 * (KServe "Inference Logger" docs), as a Knative KafkaSink writes them (binary mode). */
#define KS_COMMON(type, time, ct)                                                                  \
	HDR("ce_specversion", "1.0"), HDR("ce_type", type),                                        \
	    HDR("ce_source", "http://localhost:9081/"),                                            \
	    HDR("ce_id", "689b15e7-84a1-4e89-9805-20809efc216d"), HDR("ce_time", time),            \
	    HDR("ce_component", "predictor"), HDR("ce_endpoint", ""),                              \
	    HDR("ce_inferenceservicename", "sklearn-iris"), HDR("ce_namespace", "default"),        \
	    HDR("ce_knativearrivaltime", "2023-04-05T07:39:53.504099918Z"),                        \
	    HDR("ce_traceparent", "00-25ba82c3ab23869bad83fd1b9c92da4a-b2f41360fa5eeebb-00"),      \
	    HDR("content-type", ct)

static const struct dd_header ks_req[] = {KS_COMMON("org.kubeflow.serving.inference.request",
                                                    "2023-04-05T07:39:53.501752983Z",
                                                    "application/x-www-form-urlencoded")};
static const struct dd_header ks_resp[] = {KS_COMMON("org.kubeflow.serving.inference.response",
                                                     "2023-04-05T07:39:53.505997782Z",
                                                     "application/json")};
static const char ks_req_data[] =
    "{\"instances\": [[6.8,  2.8,  4.8,  1.4],[6.0,  3.4,  4.5,  1.6]]}";
static const char ks_resp_data[] = "{\n  \"predictions\": [\n    1,\n    1\n  ]\n}";

static void check_iris_v1(struct tctx *c)
{
	want_model(c, "sklearn-iris", NULL);
	want_request_id(c, "689b15e7-84a1-4e89-9805-20809efc216d");
	want_ts(c, "2023-04-05T07:39:53.501Z");
	want_num(c, P_LATENCY, 4); /* 505 - 501 ms between the logger's capture times */
	want_num(c, P_INST_0_0, 6.8);
	const double inst1[] = {6.0, 3.4, 4.5, 1.6};
	want_vec(c, P_INST_1, inst1, 4);
	want_num(c, P_PRED_0, 1);
	const double preds[] = {1, 1};
	want_vec(c, P_PREDS, preds, 2);
	want_str(c, P_NS, "default");
	want_str(c, P_COMP, "predictor");
	want_type(c, P_ENDPOINT, DRIFTD_VALUE_NONE); /* empty extension: absent */
	want_type(c, P_TYPE, DRIFTD_VALUE_NONE);     /* a pair has no single type */
	want_str(c, P_SOURCE, "http://localhost:9081/");
}

static void test_kserve_logger_v1(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_CLOUDEVENTS, NULL, ptrs, P__N);
	feed_pending(c, ks_req_data, ks_req, NH(ks_req), 1680680393510);
	feed_event(c, ks_resp_data, ks_resp, NH(ks_resp), 1680680393512);
	check_iris_v1(c);
	/* response first */
	feed_pending(c, ks_resp_data, ks_resp, NH(ks_resp), 1680680393512);
	feed_event(c, ks_req_data, ks_req, NH(ks_req), 1680680393510);
	check_iris_v1(c);
	/* the same id from another InferenceService does not pair */
	struct dd_header other[NH(ks_resp)];
	memcpy(other, ks_resp, sizeof(other));
	for (size_t i = 0; i < NH(other); i++)
		if (!strcmp(other[i].key, "ce_inferenceservicename"))
			other[i] = (struct dd_header)HDR("ce_inferenceservicename", "other");
	feed_pending(c, ks_req_data, ks_req, NH(ks_req), 1680680393510);
	feed_pending(c, ks_resp_data, other, NH(other), 1680680393512);
	assert_int_equal(stats(c).pending, 2);
	/* a request type with response data */
	feed_reject(c, ks_resp_data, ks_req, NH(ks_req), DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"foo\":1}", ks_resp, NH(ks_resp), DD_ADAPT_BAD_PAYLOAD);
	/* auto recognises the same records by their headers */
	struct tctx *au = tctx_new(DD_FORMAT_AUTO, NULL, ptrs, P__N);
	feed_pending(au, ks_req_data, ks_req, NH(ks_req), 1680680393510);
	feed_event(au, ks_resp_data, ks_resp, NH(ks_resp), 1680680393512);
	check_iris_v1(au);
	tctx_free(au);
	tctx_free(c);
}

/* KServe payload logging of a V2 (Open Inference Protocol) model, structured mode. */
static void test_kserve_logger_v2_structured(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_CLOUDEVENTS, NULL, ptrs, P__N);
	const char *req =
	    "{\"specversion\":\"1.0\",\"type\":\"org.kubeflow.serving.inference.request\","
	    "\"source\":\"http://localhost:9081/\",\"id\":\"e58f1edd-43bc-42f6-a10a-d1adb5cab831\","
	    "\"time\":\"2023-01-30T10:45:00.000Z\",\"datacontenttype\":\"application/json\","
	    "\"inferenceservicename\":\"sklearn-v2-iris\",\"namespace\":\"default\",\"endpoint\":"
	    "\"\",\"data\":{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,4],\"datatype\":"
	    "\"FP32\","
	    "\"data\":[[6.8,2.8,4.8,1.4]]}]}}";
	const char *resp =
	    "{\"specversion\":\"1.0\",\"type\":\"org.kubeflow.serving.inference.response\","
	    "\"source\":\"http://localhost:9081/\",\"id\":\"e58f1edd-43bc-42f6-a10a-d1adb5cab831\","
	    "\"time\":\"2023-01-30T10:45:00.020Z\",\"datacontenttype\":\"application/json\","
	    "\"inferenceservicename\":\"sklearn-v2-iris\",\"namespace\":\"default\",\"endpoint\":"
	    "\"\",\"data\":{\"model_name\":\"sklearn-v2-iris\",\"model_version\":\"v1.0.0\","
	    "\"id\":\"9d7f2f6e-1b1c-4c3e-9d9e-0f6f3c2b1a00\",\"outputs\":[{\"name\":\"output-0\","
	    "\"shape\":[1],\"datatype\":\"INT32\",\"data\":[1]}]}}";
	const struct dd_header h[] = {HDR("content-type", "application/cloudevents+json")};
	feed_pending(c, req, h, NH(h), -1);
	feed_event(c, resp, h, NH(h), -1);
	want_model(c, "sklearn-v2-iris", "v1.0.0");
	/* the data's id (the server's) before the CloudEvent id */
	want_request_id(c, "9d7f2f6e-1b1c-4c3e-9d9e-0f6f3c2b1a00");
	want_ts(c, "2023-01-30T10:45:00.000Z");
	want_num(c, P_LATENCY, 20);
	const double iris[] = {6.8, 2.8, 4.8, 1.4};
	want_vec(c, P_IRIS, iris, 4);
	want_num(c, P_OUT, 1); /* one element: a scalar */
	tctx_free(c);
}

/* KServe's OpenAI-compatible endpoints (Hugging Face runtime) logged by the payload logger. */
static void test_kserve_logger_openai(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_CLOUDEVENTS, NULL, ptrs, P__N);
	const struct dd_header q[] = {
	    HDR("ce_specversion", "1.0"), HDR("ce_type", "org.kubeflow.serving.inference.request"),
	    HDR("ce_source", "http://localhost:9081/"), HDR("ce_id", "llm-1"),
	    HDR("ce_inferenceservicename", "huggingface-llama3")};
	const struct dd_header s[] = {
	    HDR("ce_specversion", "1.0"), HDR("ce_type", "org.kubeflow.serving.inference.response"),
	    HDR("ce_source", "http://localhost:9081/"), HDR("ce_id", "llm-1"),
	    HDR("ce_inferenceservicename", "huggingface-llama3")};
	feed_pending(
	    c,
	    "{\"model\":\"llama3\",\"messages\":[{\"role\":\"system\",\"content\":\"You "
	    "are an assistant that speaks like Shakespeare.\"},{\"role\":\"user\","
	    "\"content\":\"Write a poem about colors\"}],\"max_tokens\":30,\"stream\":false}",
	    q, NH(q), 1000);
	feed_event(
	    c,
	    "{\"id\":\"cmpl-9aad539128294069bf1e406a5cba03d3\",\"choices\":[{\"finish_reason\":"
	    "\"length\",\"index\":0,\"message\":{\"content\":\"  O, gentle eyes\","
	    "\"tool_calls\":null,\"role\":\"assistant\",\"function_call\":null}}],\"created\":"
	    "1718620153,\"model\":\"llama3\",\"system_fingerprint\":null,\"object\":"
	    "\"chat.completion\",\"usage\":{\"completion_tokens\":30,\"prompt_tokens\":37,"
	    "\"total_tokens\":67}}",
	    s, NH(s), 1500);
	want_model(c, "llama3", NULL);
	want_request_id(c, "cmpl-9aad539128294069bf1e406a5cba03d3");
	want_ts(c, "2024-06-17T10:29:13Z"); /* created, from the data */
	want_num(c, P_MSGS, 2);
	want_num(c, P_TOTAL, 67);
	want_str(c, P_TEXT, "  O, gentle eyes");
	tctx_free(c);
}

/* Other event types: the data's shape decides. */
static void test_generic_types(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_CLOUDEVENTS, NULL, ptrs, P__N);
	const struct dd_header q[] = {HDR("ce_specversion", "1.0"),
	                              HDR("ce_type", "com.acme.infer"), HDR("ce_source", "/fraud"),
	                              HDR("ce_id", "ev-1")};
	const struct dd_header s[] = {HDR("ce_specversion", "1.0"),
	                              HDR("ce_type", "com.acme.infer"), HDR("ce_source", "/fraud"),
	                              HDR("ce_id", "ev-2")};
	/* OIP halves in distinct events pair by the payload id */
	feed_pending(c,
	             "{\"id\":\"p1\",\"inputs\":[{\"name\":\"input-0\",\"shape\":[2],\"datatype\":"
	             "\"FP64\",\"data\":[1.5,2.5]}]}",
	             q, NH(q), 10);
	feed_event(c,
	           "{\"id\":\"p1\",\"outputs\":[{\"name\":\"output-0\",\"shape\":[1],\"datatype\":"
	           "\"FP64\",\"data\":[0.75]}]}",
	           s, NH(s), 11);
	want_model(c, "/fraud", NULL); /* no model_name: the source */
	want_request_id(c, "p1");
	const double in[] = {1.5, 2.5};
	want_vec(c, P_IRIS, in, 2);
	want_num(c, P_OUT, 0.75);
	/* an OpenAI chat completion is one event */
	feed_event(c,
	           "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o\","
	           "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
	           "\"hi\"},\"finish_reason\":\"stop\"}]}",
	           q, NH(q), 10);
	want_model(c, "gpt-4o", NULL);
	want_str(c, P_TEXT, "hi");
	want_str(c, P_TYPE, "com.acme.infer");
	/* V1 halves pair by the CloudEvent id */
	const struct dd_header v1[] = {HDR("ce_specversion", "1.0"), HDR("ce_type", "v1"),
	                               HDR("ce_source", "/s"), HDR("ce_id", "same")};
	feed_pending(c, "{\"instances\":[[1,2]]}", v1, NH(v1), 10);
	feed_event(c, "{\"predictions\":[3]}", v1, NH(v1), 11);
	want_num(c, P_PRED_0, 3);
	/* nothing known */
	feed_reject(c, "{\"foo\":1}", q, NH(q), DD_ADAPT_UNKNOWN_FORMAT);
	feed_reject(c, "[1,2,3]", q, NH(q), DD_ADAPT_UNKNOWN_FORMAT);
	feed_reject(c, "{\"messages\":[]}", q, NH(q), DD_ADAPT_UNKNOWN_FORMAT);
	feed_reject(c, structured, q, NH(q), DD_ADAPT_UNKNOWN_FORMAT); /* an envelope as data */
	tctx_free(c);
}

static void test_rejects(void **state)
{
	(void)state;
	const struct dd_adapter_opts o = {.max_record = 600};
	struct tctx *c = tctx_new(DD_FORMAT_CLOUDEVENTS, &o, ptrs, P__N);
	const struct dd_header ok[] = {HDR("ce_specversion", "1.0"), HDR("ce_type", "t"),
	                               HDR("ce_source", "s"), HDR("ce_id", "i")};
	const char *ev = "{\"input\":{\"amount\":1}}";
	const struct dd_header st[] = {HDR("content-type", "application/cloudevents+json")};

	/* tombstone: binary mode without a value */
	feed_reject(c, NULL, ok, NH(ok), DD_ADAPT_TOMBSTONE);

	/* not_json */
	const struct dd_header avro[] = {HDR("ce_specversion", "1.0"), HDR("ce_type", "t"),
	                                 HDR("ce_source", "s"), HDR("ce_id", "i"),
	                                 HDR("content-type", "application/avro")};
	feed_reject_n(c,
	              "\x02\x06"
	              "abc",
	              5, avro, NH(avro), DD_ADAPT_NOT_JSON);
	feed_reject(c, "{\"specversion\":", st, NH(st), DD_ADAPT_NOT_JSON);
	feed_reject(c, "not json", NULL, 0, DD_ADAPT_NOT_JSON);
	feed_reject(c,
	            "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":\"i\","
	            "\"data_base64\":\"bm90IGpzb24=\"}",
	            st, NH(st), DD_ADAPT_NOT_JSON);
	feed_reject(c,
	            "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":\"i\","
	            "\"data\":\"not json\"}",
	            st, NH(st), DD_ADAPT_NOT_JSON);

	/* unknown_format */
	feed_reject(c, ev, NULL, 0, DD_ADAPT_UNKNOWN_FORMAT); /* no CloudEvent at all */
	const struct dd_header avro_st[] = {HDR("content-type", "application/cloudevents+avro")};
	feed_reject(c, ev, avro_st, NH(avro_st), DD_ADAPT_UNKNOWN_FORMAT);
	const struct dd_header batch[] = {
	    HDR("content-type", "application/cloudevents-batch+json")};
	feed_reject(c, "[]", batch, NH(batch), DD_ADAPT_UNKNOWN_FORMAT);

	/* bad_header */
	const struct dd_header badkey[] = {HDR("ce_specversion", "1.0"), HDR("ce_type", "t"),
	                                   HDR("ce_source", "s"), HDR("ce_id", "i"),
	                                   HDR("x-\xff", "v")};
	feed_reject(c, ev, badkey, NH(badkey), DD_ADAPT_BAD_HEADER);
	const struct dd_header nullkey[] = {HDR("ce_specversion", "1.0"),
	                                    HDR("ce_type", "t"),
	                                    HDR("ce_source", "s"),
	                                    HDR("ce_id", "i"),
	                                    {.key = NULL, .value = "v", .len = 1}};
	feed_reject(c, ev, nullkey, NH(nullkey), DD_ADAPT_BAD_HEADER);
	const struct dd_header badval[] = {HDR("ce_specversion", "1.0"),
	                                   HDR("ce_type", "t\xc0\xaf"), HDR("ce_source", "s"),
	                                   HDR("ce_id", "i")};
	feed_reject(c, ev, badval, NH(badval), DD_ADAPT_BAD_HEADER);
	const struct dd_header badext[] = {HDR("ce_specversion", "1.0"), HDR("ce_type", "t"),
	                                   HDR("ce_source", "s"), HDR("ce_id", "i"),
	                                   HDR("ce_traceparent", "\xed\xa0\x80")};
	feed_reject(c, ev, badext, NH(badext), DD_ADAPT_BAD_HEADER);
	const struct dd_header nul[] = {HDR("ce_specversion", "1.0"),
	                                HDR("ce_type", "t"),
	                                HDR("ce_source", "s"),
	                                {.key = "ce_id", .value = "a\0b", .len = 3}};
	feed_reject(c, ev, nul, NH(nul), DD_ADAPT_BAD_HEADER);
	const struct dd_header nullval[] = {HDR("ce_specversion", "1.0"),
	                                    HDR("ce_type", "t"),
	                                    HDR("ce_source", "s"),
	                                    {.key = "ce_id", .value = NULL}};
	feed_reject(c, ev, nullval, NH(nullval), DD_ADAPT_BAD_HEADER);
	const struct dd_header noid[] = {HDR("ce_specversion", "1.0"), HDR("ce_type", "t"),
	                                 HDR("ce_source", "s")};
	feed_reject(c, ev, noid, NH(noid), DD_ADAPT_BAD_HEADER);
	const struct dd_header emptyid[] = {HDR("ce_specversion", "1.0"), HDR("ce_type", "t"),
	                                    HDR("ce_source", "s"), HDR("ce_id", "")};
	feed_reject(c, ev, emptyid, NH(emptyid), DD_ADAPT_BAD_HEADER);
	const struct dd_header v03[] = {HDR("ce_specversion", "0.3"), HDR("ce_type", "t"),
	                                HDR("ce_source", "s"), HDR("ce_id", "i")};
	feed_reject(c, ev, v03, NH(v03), DD_ADAPT_BAD_HEADER);
	const struct dd_header badtime[] = {HDR("ce_specversion", "1.0"), HDR("ce_type", "t"),
	                                    HDR("ce_source", "s"), HDR("ce_id", "i"),
	                                    HDR("ce_time", "yesterday")};
	feed_reject(c, ev, badtime, NH(badtime), DD_ADAPT_BAD_HEADER);
	char longv[4096 + 2]; /* one byte over the 4 KiB a header value may hold */
	memset(longv, 'x', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	const struct dd_header longh[] = {HDR("ce_specversion", "1.0"),
	                                  HDR("ce_type", "t"),
	                                  HDR("ce_source", "s"),
	                                  {.key = "ce_id", .value = longv, .len = strlen(longv)}};
	feed_reject(c, ev, longh, NH(longh), DD_ADAPT_BAD_HEADER);
	const struct dd_header badct[] = {HDR("content-type", "application/cloudevents\xff")};
	feed_reject(c, structured, badct, NH(badct), DD_ADAPT_BAD_HEADER);

	/* bad_payload */
	feed_reject(c, "[1]", st, NH(st), DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":\"i\"}", st,
	            NH(st), DD_ADAPT_BAD_PAYLOAD); /* no data */
	feed_reject(c,
	            "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":\"i\","
	            "\"data\":null}",
	            st, NH(st), DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"data\":{}}", st,
	            NH(st), DD_ADAPT_BAD_PAYLOAD); /* no id */
	feed_reject(c,
	            "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":5,"
	            "\"data\":{}}",
	            st, NH(st), DD_ADAPT_BAD_PAYLOAD);
	feed_reject(
	    c,
	    "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":\"i\",\"time\":"
	    "\"2018-13-05T03:56:24Z\",\"data\":{}}",
	    st, NH(st), DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c,
	            "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":\"i\","
	            "\"data_base64\":\"@@@@\"}",
	            st, NH(st), DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c,
	            "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":\"i\","
	            "\"data_base64\":\"abc\"}",
	            st, NH(st), DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c,
	            "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":\"i\","
	            "\"data_base64\":\"a===\"}",
	            st, NH(st), DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c,
	            "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":\"i\","
	            "\"source\":\"s2\",\"data\":{}}",
	            st, NH(st), DD_ADAPT_BAD_PAYLOAD); /* duplicate member */

	feed_reject(c,
	            "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\",\"id\":\"i\","
	            "\"namespace\":\"a\\u0000b\",\"data\":{}}",
	            st, NH(st), DD_ADAPT_BAD_PAYLOAD); /* NUL in an attribute */
	{
		/* an attribute longer than 4 KiB (in a bigger adapter) */
		struct tctx *w = tctx_new(DD_FORMAT_CLOUDEVENTS, NULL, ptrs, P__N);
		char env[5000];
		int k = snprintf(env, sizeof(env),
		                 "{\"specversion\":\"1.0\",\"type\":\"t\",\"source\":\"s\","
		                 "\"data\":{},\"id\":\"");
		memset(env + k, 'x', 4097);
		snprintf(env + k + 4097, sizeof(env) - (size_t)k - 4097, "\"}");
		feed_reject(w, env, st, NH(st), DD_ADAPT_BAD_PAYLOAD);
		tctx_free(w);
	}

	/* too_large: the record, and an event the CloudEvent's fields push over the limit */
	char big[700];
	memset(big, ' ', sizeof(big));
	feed_reject_n(c, big, 601, ok, NH(ok), DD_ADAPT_TOO_LARGE);
	char fits[601];
	int n = snprintf(fits, sizeof(fits), "{\"input\":{\"s\":\"");
	memset(fits + n, 'a', 600 - (size_t)n - 4);
	memcpy(fits + 596, "\"}}", 4);
	assert_int_equal(strlen(fits), 599);
	feed_reject(c, fits, ok, NH(ok), DD_ADAPT_TOO_LARGE);

	struct dd_adapter_stats s = stats(c);
	assert_int_equal(s.rejects[DD_ADAPT_TOMBSTONE], 1);
	assert_int_equal(s.rejects[DD_ADAPT_NOT_JSON], 5);
	assert_int_equal(s.rejects[DD_ADAPT_UNKNOWN_FORMAT], 3);
	assert_int_equal(s.rejects[DD_ADAPT_BAD_HEADER], 12);
	assert_int_equal(s.rejects[DD_ADAPT_BAD_PAYLOAD], 11);
	assert_int_equal(s.rejects[DD_ADAPT_TOO_LARGE], 2);
	assert_int_equal(s.adapted, 0);
	tctx_free(c);
}

static void test_auto(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_AUTO, NULL, ptrs, P__N);
	/* structured without content-type: the envelope */
	feed_event(c, structured, NULL, 0, -1);
	want_num(c, P_AMOUNT, 42.5);
	want_request_id(c, "1234-1234-1234");
	/* structured by content-type */
	const struct dd_header st[] = {HDR("content-type", "application/cloudevents+json")};
	feed_event(c, structured, st, NH(st), -1);
	want_num(c, P_AMOUNT, 42.5);
	/* binary by headers */
	const struct dd_header h[] = {HDR("ce_specversion", "1.0"), HDR("ce_type", "t"),
	                              HDR("ce_source", "s"), HDR("ce_id", "i")};
	feed_event(c, native_event, h, NH(h), -1);
	want_request_id(c, "i");
	/* native: the record's own bytes */
	assert_int_equal(feed(c, native_event, NULL, 0, -1), 0);
	assert_ptr_equal(c->ev, native_event);
	assert_int_equal(c->ev_len, strlen(native_event));
	/* unknown shapes go to dd_decode as they are */
	assert_int_equal(feed(c, "{\"foo\":1}", NULL, 0, -1), 0);
	assert_int_equal(c->ev_len, 9);
	feed_reject(c, "nope", NULL, 0, DD_ADAPT_NOT_JSON);
	feed_reject(c, NULL, NULL, 0, DD_ADAPT_TOMBSTONE);
	const struct dd_header badkey[] = {HDR("ce_specversion", "1.0"), HDR("\xfe", "x")};
	feed_reject(c, ks_req_data, badkey, NH(badkey), DD_ADAPT_BAD_HEADER);
	tctx_free(c);
}

static void test_native_and_interface(void **state)
{
	(void)state;
	struct tctx *c =
	    tctx_new(DD_FORMAT_NATIVE, &(struct dd_adapter_opts){.max_record = 64}, ptrs, P__N);
	/* passthrough: no copy, no parse (dd_decode judges) */
	assert_int_equal(feed(c, "{not json", NULL, 0, -1), 0);
	assert_int_equal(c->ev_len, 9);
	feed_event(c, "{\"model\":{\"id\":\"m\"},\"input\":{\"amount\":5}}", NULL, 0, -1);
	want_num(c, P_AMOUNT, 5);
	feed_reject(c, NULL, NULL, 0, DD_ADAPT_TOMBSTONE);
	char big[65];
	memset(big, '{', sizeof(big));
	feed_reject_n(c, big, 65, NULL, 0, DD_ADAPT_TOO_LARGE);
	feed_n(c, big, 64, NULL, 0, -1);
	assert_int_equal(c->rc, 0);
	struct dd_adapter_stats s = stats(c);
	assert_int_equal(s.adapted, 3);
	assert_int_equal(s.rejects[DD_ADAPT_TOMBSTONE] + s.rejects[DD_ADAPT_TOO_LARGE], 2);

	/* argument checks */
	const char *out;
	size_t len;
	struct dd_record r = {.value = "{}", .len = 2, .ts_ms = -1};
	assert_int_equal(dd_adapt(NULL, &r, &out, &len, NULL), -EINVAL);
	assert_int_equal(dd_adapt(c->a, NULL, &out, &len, NULL), -EINVAL);
	assert_int_equal(dd_adapt(c->a, &r, NULL, &len, NULL), -EINVAL);
	assert_int_equal(dd_adapt(c->a, &r, &out, NULL, NULL), -EINVAL);
	r.n_headers = 1;
	assert_int_equal(dd_adapt(c->a, &r, &out, &len, NULL), -EINVAL);
	r.n_headers = 0;
	assert_int_equal(dd_adapt(c->a, &r, &out, &len, NULL), 0); /* why may be NULL */
	tctx_free(c);

	struct dd_adapter *a = NULL;
	assert_int_equal(dd_adapter_new((enum dd_format)99, NULL, &a), -EINVAL);
	assert_int_equal(dd_adapter_new(DD_FORMAT_AUTO, NULL, NULL), -EINVAL);
	assert_int_equal(
	    dd_adapter_new(DD_FORMAT_AUTO, &(struct dd_adapter_opts){.join_ttl_ms = -1}, &a),
	    -EINVAL);
	assert_int_equal(
	    dd_adapter_new(DD_FORMAT_AUTO,
	                   &(struct dd_adapter_opts){.max_record = DD_LIMIT_MAX_RECORD_CAP + 1},
	                   &a),
	    -EINVAL);
	assert_int_equal(
	    dd_adapter_new(DD_FORMAT_AUTO,
	                   &(struct dd_adapter_opts){.max_pending = DD_ADAPT_MAX_PENDING_CAP + 1},
	                   &a),
	    -EINVAL);
	assert_null(a);
	dd_adapter_free(NULL);
	dd_adapter_stats(NULL, NULL);

	static const char *const names[] = {"native", "cloudevents", "kserve-v2", "openai-chat",
	                                    "auto"};
	for (int i = 0; i < 5; i++) {
		enum dd_format f;
		assert_int_equal(dd_format_parse(names[i], &f), 0);
		assert_int_equal(f, i);
		assert_string_equal(dd_format_name(f), names[i]);
	}
	enum dd_format f;
	assert_int_equal(dd_format_parse("Native", &f), -EINVAL);
	assert_int_equal(dd_format_parse("kserve", &f), -EINVAL);
	assert_int_equal(dd_format_parse(NULL, &f), -EINVAL);
	assert_string_equal(dd_format_name((enum dd_format)5), "unknown");

	static const char *const reasons[] = {
	    "ok",         "tombstone",   "not_json", "unknown_format",
	    "bad_header", "bad_payload", "too_large"};
	for (int i = 0; i < DD_ADAPT__MAX; i++)
		assert_string_equal(dd_adapt_reject_name((enum dd_adapt_reject)i), reasons[i]);
	assert_string_equal(dd_adapt_reject_name(DD_ADAPT__MAX), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_binary_mode),
	    cmocka_unit_test(test_structured_mode),
	    cmocka_unit_test(test_kserve_logger_v1),
	    cmocka_unit_test(test_kserve_logger_v2_structured),
	    cmocka_unit_test(test_kserve_logger_openai),
	    cmocka_unit_test(test_generic_types),
	    cmocka_unit_test(test_rejects),
	    cmocka_unit_test(test_auto),
	    cmocka_unit_test(test_native_and_interface),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
