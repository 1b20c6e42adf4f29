/* lib/adapt, openai-chat: the API reference's chat completion examples (default and function
 * calling) logged as {"request", "response"} and as bare responses, refusals, content parts,
 * Unicode lengths, API errors, read back through dd_decode with the pointers a user writes;
 * auto detection and every reject reason the format can give. */
#include "adapt_helpers.h"

enum {
	P_MSGS,
	P_CHARS,
	P_TEMP,
	P_MAXTOK,
	P_TOOLS,
	P_TEXT,
	P_LEN,
	P_FINISH,
	P_CALLS,
	P_REFUSAL,
	P_PROMPT_TOK,
	P_COMPL_TOK,
	P_TOTAL_TOK,
	P_REASON_TOK,
	P_CACHED_TOK,
	P_ERROR,
	P__N
};
static const char *const ptrs[P__N] = {
    "/input/messages",
    "/input/prompt_chars",
    "/input/temperature",
    "/input/max_tokens",
    "/input/tools",
    "/output/text",
    "/output/length",
    "/output/finish_reason",
    "/output/tool_calls",
    "/output/refusal",
    "/output/usage/prompt_tokens",
    "/output/usage/completion_tokens",
    "/output/usage/total_tokens",
    "/output/usage/reasoning_tokens",
    "/output/usage/cached_tokens",
    "/output/error",
};

/* API reference, "Create chat completion", Default example: request and response. */
static const char ref_request[] = "{\n"
                                  "    \"model\": \"gpt-4.1\",\n"
                                  "    \"messages\": [\n"
                                  "      {\n"
                                  "        \"role\": \"developer\",\n"
                                  "        \"content\": \"You are a helpful assistant.\"\n"
                                  "      },\n"
                                  "      {\n"
                                  "        \"role\": \"user\",\n"
                                  "        \"content\": \"Hello!\"\n"
                                  "      }\n"
                                  "    ]\n"
                                  "  }";
static const char ref_response[] = "{\n"
                                   "  \"id\": \"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\n"
                                   "  \"object\": \"chat.completion\",\n"
                                   "  \"created\": 1741569952,\n"
                                   "  \"model\": \"gpt-4.1-2025-04-14\",\n"
                                   "  \"choices\": [\n"
                                   "    {\n"
                                   "      \"index\": 0,\n"
                                   "      \"message\": {\n"
                                   "        \"role\": \"assistant\",\n"
                                   "        \"content\": \"Hello! How can I assist you today?\",\n"
                                   "        \"refusal\": null,\n"
                                   "        \"annotations\": []\n"
                                   "      },\n"
                                   "      \"logprobs\": null,\n"
                                   "      \"finish_reason\": \"stop\"\n"
                                   "    }\n"
                                   "  ],\n"
                                   "  \"usage\": {\n"
                                   "    \"prompt_tokens\": 19,\n"
                                   "    \"completion_tokens\": 10,\n"
                                   "    \"total_tokens\": 29,\n"
                                   "    \"prompt_tokens_details\": {\n"
                                   "      \"cached_tokens\": 0,\n"
                                   "      \"audio_tokens\": 0\n"
                                   "    },\n"
                                   "    \"completion_tokens_details\": {\n"
                                   "      \"reasoning_tokens\": 0,\n"
                                   "      \"audio_tokens\": 0,\n"
                                   "      \"accepted_prediction_tokens\": 0,\n"
                                   "      \"rejected_prediction_tokens\": 0\n"
                                   "    }\n"
                                   "  },\n"
                                   "  \"service_tier\": \"default\"\n"
                                   "}";

static void check_ref_output(struct tctx *c)
{
	want_model(c, "gpt-4.1-2025-04-14", NULL);
	want_request_id(c, "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT");
	want_ts(c, "2025-03-10T01:25:52Z"); /* created */
	want_str(c, P_TEXT, "Hello! How can I assist you today?");
	want_num(c, P_LEN, 34);
	want_str(c, P_FINISH, "stop");
	want_num(c, P_CALLS, 0);
	want_bool(c, P_REFUSAL, false); /* "refusal": null */
	want_num(c, P_PROMPT_TOK, 19);
	want_num(c, P_COMPL_TOK, 10);
	want_num(c, P_TOTAL_TOK, 29);
	want_num(c, P_REASON_TOK, 0);
	want_num(c, P_CACHED_TOK, 0);
	want_type(c, P_ERROR, DRIFTD_VALUE_NONE);
}

static void test_reference_example(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_OPENAI_CHAT, NULL, ptrs, P__N);
	char rec[4096];
	snprintf(rec, sizeof(rec), "{\"request\": %s, \"response\": %s}", ref_request,
	         ref_response);
	feed_event(c, rec, NULL, 0, 1741569953000);
	check_ref_output(c);
	want_num(c, P_MSGS, 2);
	want_num(c, P_CHARS, 28 + 6);
	want_num(c, P_TOOLS, 0);
	want_type(c, P_TEMP, DRIFTD_VALUE_NONE);
	want_type(c, P_MAXTOK, DRIFTD_VALUE_NONE);
	want_client(c, NULL);

	/* a bare response: no input */
	feed_event(c, ref_response, NULL, 0, -1);
	check_ref_output(c);
	want_type(c, P_MSGS, DRIFTD_VALUE_NONE);
	want_type(c, P_CHARS, DRIFTD_VALUE_NONE);
	/* {"response": ...} alone */
	snprintf(rec, sizeof(rec), "{\"response\": %s}", ref_response);
	feed_event(c, rec, NULL, 0, -1);
	check_ref_output(c);
	assert_int_equal(stats(c).adapted, 3);
	tctx_free(c);
}

/* API reference, Functions example. */
static const char fn_request[] =
    "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"What's the weather "
    "like in Boston today?\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
    "\"get_current_weather\",\"description\":\"Get the current weather in a given location\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\","
    "\"description\":\"The city and state, e.g. San Francisco, CA\"},\"unit\":{\"type\":"
    "\"string\",\"enum\":[\"celsius\",\"fahrenheit\"]}},\"required\":[\"location\"]}}}],"
    "\"tool_choice\":\"auto\"}";
static const char fn_response[] =
    "{\"id\":\"chatcmpl-abc123\",\"object\":\"chat.completion\",\"created\":1699896916,"
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":null,\"tool_calls\":[{\"id\":\"call_abc123\",\"type\":\"function\","
    "\"function\":{\"name\":\"get_current_weather\",\"arguments\":\"{\\n\\\"location\\\": "
    "\\\"Boston, MA\\\"\\n}\"}}]},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],"
    "\"usage\":{\"prompt_tokens\":82,\"completion_tokens\":17,\"total_tokens\":99,"
    "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"accepted_prediction_tokens\":0,"
    "\"rejected_prediction_tokens\":0}}}";

static void test_function_calling(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_OPENAI_CHAT, NULL, ptrs, P__N);
	char rec[4096];
	snprintf(rec, sizeof(rec), "{\"request\":%s,\"response\":%s}", fn_request, fn_response);
	feed_event(c, rec, NULL, 0, -1);
	want_model(c, "gpt-4o-mini", NULL);
	want_request_id(c, "chatcmpl-abc123");
	want_ts(c, "2023-11-13T17:35:16Z");
	want_num(c, P_MSGS, 1);
	want_num(c, P_CHARS, 40);
	want_num(c, P_TOOLS, 1);
	want_type(c, P_TEXT, DRIFTD_VALUE_NONE); /* content null */
	want_num(c, P_LEN, 0);
	want_str(c, P_FINISH, "tool_calls");
	want_num(c, P_CALLS, 1);
	want_type(c, P_REFUSAL, DRIFTD_VALUE_NONE); /* no refusal member */
	want_num(c, P_TOTAL_TOK, 99);
	want_num(c, P_REASON_TOK, 0);
	want_type(c, P_CACHED_TOK, DRIFTD_VALUE_NONE);

	/* the deprecated functions / function_call count too */
	feed_event(
	    c,
	    "{\"request\":{\"model\":\"gpt-3.5-turbo\",\"messages\":[],\"functions\":[{},{}],"
	    "\"tools\":[{}]},\"response\":{\"id\":\"x\",\"model\":\"gpt-3.5-turbo-0613\","
	    "\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":null,"
	    "\"function_call\":{\"name\":\"f\",\"arguments\":\"{}\"}},\"finish_reason\":"
	    "\"function_call\"}]}}",
	    NULL, 0, -1);
	want_num(c, P_TOOLS, 3);
	want_num(c, P_CALLS, 1);
	want_num(c, P_MSGS, 0);
	tctx_free(c);
}

static void test_signals(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_OPENAI_CHAT, NULL, ptrs, P__N);
	/* refusal (structured outputs), sampling parameters, user, system_fingerprint, content
	 * parts, Unicode code points */
	feed_event(
	    c,
	    "{\"request\":{\"model\":\"gpt-4o\",\"temperature\":0.2,\"max_completion_tokens\":"
	    "256,\"max_tokens\":100,\"user\":\"tenant-42\",\"messages\":[{\"role\":\"user\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"What's in this image?\"},{\"type\":"
	    "\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}]},{\"role\":"
	    "\"user\",\"content\":\"h\\u00e9llo \\ud83d\\udc4b\"}]},\"response\":{\"id\":"
	    "\"chatcmpl-r\",\"object\":\"chat.completion\",\"created\":1723000000,\"model\":"
	    "\"gpt-4o-2024-08-06\",\"system_fingerprint\":\"fp_2f406b9113\",\"choices\":[{"
	    "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"refusal\":"
	    "\"I'm sorry, I cannot assist with that request.\"},\"finish_reason\":\"stop\"}],"
	    "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":12,\"total_tokens\":17,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":4}}}}",
	    NULL, 0, -1);
	want_model(c, "gpt-4o-2024-08-06", "fp_2f406b9113");
	want_client(c, "tenant-42");
	want_bool(c, P_REFUSAL, true);
	want_num(c, P_TEMP, 0.2);
	want_num(c, P_MAXTOK, 256); /* max_completion_tokens before the deprecated max_tokens */
	want_num(c, P_CHARS, 21 + 7);
	want_num(c, P_LEN, 0);
	want_num(c, P_CACHED_TOK, 4);
	want_type(c, P_REASON_TOK, DRIFTD_VALUE_NONE);

	feed_event(c,
	           "{\"request\":{\"model\":\"gpt-4o\",\"max_tokens\":100,\"messages\":[]},"
	           "\"response\":{\"id\":\"r2\",\"model\":\"gpt-4o\",\"choices\":[{\"message\":{"
	           "\"content\":\"\\u65e5\\u672c\\u8a9e\",\"refusal\":\"\"},\"finish_reason\":"
	           "\"length\"}]}}",
	           NULL, 0, 1700000000000);
	want_num(c, P_MAXTOK, 100);
	want_str(c, P_TEXT, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	want_num(c, P_LEN, 3);
	want_bool(c, P_REFUSAL, false); /* an empty refusal message is none */
	want_str(c, P_FINISH, "length");
	want_ts(c, "2023-11-14T22:13:20Z"); /* no created: the Kafka timestamp */

	/* no model in the response: the request's */
	feed_event(
	    c,
	    "{\"request\":{\"model\":\"my-llm\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}]},\"response\":{\"choices\":[]}}",
	    NULL, 0, -1);
	want_model(c, "my-llm", NULL);
	want_request_id(c, NULL);
	want_type(c, P_LEN, DRIFTD_VALUE_NONE); /* no choice: no answer signals */

	/* an API error */
	feed_event(
	    c,
	    "{\"request\":{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}]},\"response\":{\"error\":{\"message\":\"This model's maximum context "
	    "length is 128000 tokens.\",\"type\":\"invalid_request_error\",\"param\":"
	    "\"messages\",\"code\":\"context_length_exceeded\"}}}",
	    NULL, 0, -1);
	want_str(c, P_ERROR, "context_length_exceeded");
	want_model(c, "gpt-4o", NULL);
	feed_event(c,
	           "{\"request\":{\"model\":\"gpt-4o\",\"messages\":[]},\"response\":{\"error\":{"
	           "\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":null}}}",
	           NULL, 0, -1);
	want_str(c, P_ERROR, "requests");
	tctx_free(c);
}

static void test_rejects(void **state)
{
	(void)state;
	const struct dd_adapter_opts o = {.max_record = 300};
	struct tctx *c = tctx_new(DD_FORMAT_OPENAI_CHAT, &o, ptrs, P__N);
	feed_reject(c, NULL, NULL, 0, DD_ADAPT_TOMBSTONE);
	feed_reject(c, "data: {\"choices\":[]}", NULL, 0, DD_ADAPT_NOT_JSON); /* SSE */
	feed_reject(c, "{\"choices\":[]", NULL, 0, DD_ADAPT_NOT_JSON);
	feed_reject(c, "[]", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"id\":\"x\"}", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"object\":\"chat.completion\"}", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{}}]}", NULL,
	            0, DD_ADAPT_BAD_PAYLOAD); /* a stream chunk has no message */
	feed_reject(c, "{\"choices\":[1]}", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"choices\":[{\"message\":\"hi\"}]}", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"request\":5,\"response\":{\"choices\":[]}}", NULL, 0,
	            DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"request\":{\"model\":\"m\"},\"response\":{\"choices\":[]}}", NULL, 0,
	            DD_ADAPT_BAD_PAYLOAD); /* a request without messages */
	feed_reject(c, "{\"messages\":[]}", NULL, 0, DD_ADAPT_BAD_PAYLOAD); /* a request alone */
	feed_reject(c, "{\"error\":{\"code\":\"x\"}}", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"model\":\"a\\u0000b\",\"choices\":[]}", NULL, 0, DD_ADAPT_BAD_PAYLOAD);
	feed_reject(c, "{\"model\":\"a\",\"model\":\"b\",\"choices\":[]}", NULL, 0,
	            DD_ADAPT_BAD_PAYLOAD);
	char big[400];
	memset(big, ' ', sizeof(big));
	feed_reject_n(c, big, 301, NULL, 0, DD_ADAPT_TOO_LARGE);
	/* fits as a record, not as an event (the counts are added) */
	char rec[301];
	int n = snprintf(rec, sizeof(rec), "{\"choices\":[{\"message\":{\"content\":\"");
	memset(rec + n, 'a', 295 - (size_t)n);
	memcpy(rec + 295, "\"}}]}", 6);
	assert_int_equal(strlen(rec), 300);
	feed_reject(c, rec, NULL, 0, DD_ADAPT_TOO_LARGE);
	/* headers are not read */
	const struct dd_header h[] = {HDR("x-\xff", "\xff")};
	feed_event(c, "{\"model\":\"m\",\"choices\":[]}", h, NH(h), -1);

	struct dd_adapter_stats s = stats(c);
	assert_int_equal(s.rejects[DD_ADAPT_TOMBSTONE], 1);
	assert_int_equal(s.rejects[DD_ADAPT_NOT_JSON], 2);
	assert_int_equal(s.rejects[DD_ADAPT_BAD_PAYLOAD], 12);
	assert_int_equal(s.rejects[DD_ADAPT_TOO_LARGE], 2);
	assert_int_equal(s.rejects[DD_ADAPT_BAD_HEADER] + s.rejects[DD_ADAPT_UNKNOWN_FORMAT], 0);
	assert_int_equal(s.adapted, 1);
	tctx_free(c);
}

static void test_auto(void **state)
{
	(void)state;
	struct tctx *c = tctx_new(DD_FORMAT_AUTO, NULL, ptrs, P__N);
	char rec[4096];
	snprintf(rec, sizeof(rec), "{\"request\":%s,\"response\":%s}", ref_request, ref_response);
	feed_event(c, rec, NULL, 0, -1);
	check_ref_output(c);
	feed_event(c, ref_response, NULL, 0, -1);
	check_ref_output(c);
	/* a request alone is no known shape: dd_decode judges it (no model object) */
	assert_int_equal(feed(c, ref_request, NULL, 0, -1), 0);
	assert_ptr_equal(c->ev, ref_request);
	tctx_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reference_example),
	    cmocka_unit_test(test_function_calling),
	    cmocka_unit_test(test_signals),
	    cmocka_unit_test(test_rejects),
	    cmocka_unit_test(test_auto),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
