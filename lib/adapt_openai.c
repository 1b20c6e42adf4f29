/* OpenAI chat completions (logged request and response) -> behaviour signals of a native event
 * (docs/formats.md): sizes and counts of the prompt, the answer's length, finish reason,
 * tool calls and refusal, and the token usage. Texts are measured in Unicode code points. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "adapt_int.h"

static const struct dd_res bad_payload = {-EBADMSG, DD_ADAPT_BAD_PAYLOAD};
static const struct dd_res no_memory = {-ENOMEM, DD_ADAPT_OK};

/* A message content: a string, or an array of parts of which the text parts count. */
static size_t content_chars(const json_t *c)
{
	if (json_is_string(c))
		return dd_utf8_chars(json_string_value(c), json_string_length(c));
	size_t n = 0, i;
	json_t *part;
	json_array_foreach (c, i, part) {
		const json_t *t = json_object_get(part, "text");
		if (json_is_string(t))
			n += dd_utf8_chars(json_string_value(t), json_string_length(t));
	}
	return n;
}

static size_t array_len(const json_t *j)
{
	return json_is_array(j) ? json_array_size(j) : 0;
}

static int set_count(json_t *o, const char *k, size_t n)
{
	return json_object_set_new(o, k, json_integer((json_int_t)n)) < 0 ? -ENOMEM : 0;
}

static struct dd_res finish(struct dd_half *h, json_t *frag, int rc, struct dd_half **ret)
{
	if (!rc && !(h->frag = dd_json_text(frag, &h->frag_len)))
		rc = -ENOMEM;
	json_decref(frag);
	if (rc) {
		dd_half_free(h);
		return rc == -ENOMEM ? no_memory : bad_payload;
	}
	*ret = h;
	return (struct dd_res){0};
}

struct dd_res dd_openai_request(const json_t *req, struct dd_half **ret)
{
	*ret = NULL;
	const json_t *msgs = json_object_get(req, "messages");
	if (!json_is_array(msgs))
		return bad_payload;
	struct dd_half *h = calloc(1, sizeof(*h));
	json_t *in = json_object();
	if (!h || !in) {
		free(h);
		json_decref(in);
		return no_memory;
	}
	h->side = DD_SIDE_REQUEST;
	h->kafka_ts = -1;
	size_t chars = 0, i;
	json_t *m;
	json_array_foreach (msgs, i, m)
		chars += content_chars(json_object_get(m, "content"));
	int rc = set_count(in, "messages", json_array_size(msgs));
	rc = rc ? rc : set_count(in, "prompt_chars", chars);
	json_t *t = json_object_get(req, "temperature");
	if (!rc && json_is_number(t) && json_object_set(in, "temperature", t) < 0)
		rc = -ENOMEM;
	json_t *max = json_object_get(req, "max_completion_tokens");
	if (!json_is_number(max))
		max = json_object_get(req, "max_tokens");
	if (!rc && json_is_number(max) && json_object_set(in, "max_tokens", max) < 0)
		rc = -ENOMEM;
	/* tools, plus the deprecated functions */
	rc = rc ? rc
	        : set_count(in, "tools",
	                    array_len(json_object_get(req, "tools")) +
	                        array_len(json_object_get(req, "functions")));
	rc = rc ? rc : dd_json_str(json_object_get(req, "model"), &h->model_id);
	rc = rc ? rc : dd_json_str(json_object_get(req, "user"), &h->client_id);
	return finish(h, in, rc, ret);
}

static int map_choice(const json_t *c0, json_t *out)
{
	const json_t *msg = json_object_get(c0, "message");
	if (!json_is_object(msg))
		return -EBADMSG;
	json_t *content = json_object_get(msg, "content");
	int rc = 0;
	if (json_is_string(content) && json_object_set(out, "text", content) < 0)
		rc = -ENOMEM;
	rc = rc ? rc : set_count(out, "length", content_chars(content));
	json_t *fr = json_object_get(c0, "finish_reason");
	if (!rc && json_is_string(fr) && json_object_set(out, "finish_reason", fr) < 0)
		rc = -ENOMEM;
	/* tool calls, plus the deprecated single function_call */
	size_t calls = array_len(json_object_get(msg, "tool_calls")) +
	               (json_is_object(json_object_get(msg, "function_call")) ? 1 : 0);
	rc = rc ? rc : set_count(out, "tool_calls", calls);
	/* Responses carry "refusal": null when the model answered: a refusal is a non-empty
	 * refusal message. */
	const json_t *refusal = json_object_get(msg, "refusal");
	if (!rc && refusal &&
	    json_object_set_new(
	        out, "refusal",
	        json_boolean(json_is_string(refusal) && json_string_length(refusal) > 0)) < 0)
		rc = -ENOMEM;
	return rc;
}

static int map_usage(const json_t *u, json_t *out)
{
	if (!json_is_object(u))
		return 0;
	json_t *usage = json_object();
	if (!usage || json_object_set_new(out, "usage", usage) < 0)
		return -ENOMEM;
	static const char *const keys[][3] = {
	    {"prompt_tokens", NULL, "prompt_tokens"},
	    {"completion_tokens", NULL, "completion_tokens"},
	    {"total_tokens", NULL, "total_tokens"},
	    {"completion_tokens_details", "reasoning_tokens", "reasoning_tokens"},
	    {"prompt_tokens_details", "cached_tokens", "cached_tokens"},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(u, keys[i][0]);
		if (keys[i][1])
			v = json_object_get(v, keys[i][1]);
		if (json_is_number(v) && json_object_set(usage, keys[i][2], v) < 0)
			return -ENOMEM;
	}
	return 0;
}

struct dd_res dd_openai_response(const json_t *resp, struct dd_half **ret)
{
	*ret = NULL;
	const json_t *choices = json_object_get(resp, "choices");
	const json_t *err = json_object_get(resp, "error");
	if (!json_is_object(resp) || (!json_is_array(choices) && !json_is_object(err)))
		return bad_payload;
	struct dd_half *h = calloc(1, sizeof(*h));
	json_t *out = json_object();
	if (!h || !out) {
		free(h);
		json_decref(out);
		return no_memory;
	}
	h->side = DD_SIDE_RESPONSE;
	h->kafka_ts = -1;
	int rc = 0;
	if (json_is_array(choices)) {
		if (json_array_size(choices) > 0)
			rc = map_choice(json_array_get(choices, 0), out);
	} else {
		/* an API error: its code, else its type */
		json_t *e = json_object_get(err, "code");
		if (!json_is_string(e))
			e = json_object_get(err, "type");
		json_t *v = json_is_string(e) ? json_incref(e) : json_string("error");
		if (json_object_set_new(out, "error", v) < 0)
			rc = -ENOMEM;
	}
	rc = rc ? rc : map_usage(json_object_get(resp, "usage"), out);
	rc = rc ? rc : dd_json_str(json_object_get(resp, "model"), &h->model_id);
	rc = rc ? rc : dd_json_str(json_object_get(resp, "system_fingerprint"), &h->model_version);
	rc = rc ? rc : dd_json_str(json_object_get(resp, "id"), &h->request_id);
	const json_t *created = json_object_get(resp, "created");
	if (json_is_integer(created) && json_integer_value(created) >= -62167219200LL &&
	    json_integer_value(created) <= 253402300799LL) {
		h->has_data_ts = true;
		h->data_ts = (int64_t)json_integer_value(created) * 1000;
	}
	return finish(h, out, rc, ret);
}

struct dd_res dd_openai_adapt(struct dd_adapter *a, const struct dd_record *r, const json_t *j,
                              const struct dd_ce *ce, bool *emitted)
{
	*emitted = false;
	if (dd_shape_of(j) != DD_SHAPE_OPENAI)
		return bad_payload;
	const json_t *req = NULL, *resp = j;
	if (json_is_object(json_object_get(j, "response"))) {
		req = json_object_get(j, "request");
		resp = json_object_get(j, "response");
	}
	struct dd_half *q = NULL, *s = NULL;
	struct dd_res res = req ? dd_openai_request(req, &q) : (struct dd_res){0};
	if (!res.rc)
		res = dd_openai_response(resp, &s);
	if (!res.rc &&
	    ((q && dd_half_set_context(q, ce, r, true)) || dd_half_set_context(s, ce, r, true)))
		res = no_memory;
	if (!res.rc) {
		res = dd_emit_pair(a, q, s);
		*emitted = res.rc == 0;
	}
	dd_half_free(q);
	dd_half_free(s);
	return res;
}
