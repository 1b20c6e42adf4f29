/* CloudEvents Kafka protocol binding (structured and binary content mode) around native events,
 * KServe payload logging (OIP or V1 request/response, joined by the CloudEvent id), OIP
 * records, and OpenAI chat completions (docs/formats.md).
 *
 * Mode (Kafka binding 3.): a content-type header that starts with application/cloudevents
 * (case-insensitively) is structured mode; of those only the JSON event format is read
 * (application/cloudevents or application/cloudevents+json, with parameters); any other
 * event format is read as binary mode if ce_ headers are present, else unknown_format.
 * Without such a content-type: binary mode when a ce_specversion header is present; else a
 * value that is a JSON object with "specversion" is a structured event without content-type
 * (the binding makes that header optional); anything else is not a CloudEvent. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "adapt_int.h"
#include "decode.h"

static const struct dd_res no_memory = {-ENOMEM, DD_ADAPT_OK};

static struct dd_res rej(enum dd_adapt_reject why)
{
	return (struct dd_res){-EBADMSG, why};
}

#define CE_MEDIA    "application/cloudevents"
#define KSERVE_REQ  "org.kubeflow.serving.inference.request"
#define KSERVE_RESP "org.kubeflow.serving.inference.response"

enum {
	A_SPECVERSION,
	A_ID,
	A_SOURCE,
	A_TYPE,
	A_TIME,
	A_SUBJECT,
	A_NAMESPACE,
	A_ISVC,
	A_COMPONENT,
	A_ENDPOINT,
	N_ATTR
};
static const char *const attr_names[N_ATTR] = {
    "specversion",          "id",        "source",  "type", "time", "subject", "namespace",
    "inferenceservicename", "component", "endpoint"};

struct attrs {
	char *v[N_ATTR]; /* owned copies, NULL if absent or empty */
};

static void attrs_free(struct attrs *at)
{
	for (size_t i = 0; i < N_ATTR; i++)
		free(at->v[i]);
}

static bool ce_header_name(const char *key)
{
	return strncasecmp(key, "ce_", 3) == 0 || strncasecmp(key, "ce-", 3) == 0;
}

bool dd_cloudevents_headers(const struct dd_record *r)
{
	const struct dd_header *ct = dd_header_find(r, "content-type");
	if (ct && ct->value && ct->len >= strlen(CE_MEDIA) &&
	    strncasecmp(ct->value, CE_MEDIA, strlen(CE_MEDIA)) == 0)
		return true;
	return dd_header_find(r, "ce_specversion") || dd_header_find(r, "ce-specversion");
}

/* The rest of a content-type after "application/cloudevents": the JSON event format? */
static bool json_event_format(const char *rest)
{
	if (strncasecmp(rest, "+json", 5) == 0)
		rest += 5;
	return *rest == '\0' || *rest == ';' || *rest == ' ' || *rest == '\t';
}

/* Binary mode: every ce_ header is an attribute; all are checked, the known ones kept. */
static struct dd_res attrs_from_headers(const struct dd_record *r, struct attrs *at)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		const struct dd_header *h = &r->headers[i];
		if (!ce_header_name(h->key))
			continue;
		enum dd_adapt_reject why;
		char *v = dd_header_text(h, &why);
		if (!v)
			return why ? rej(why) : no_memory;
		size_t k = 0;
		while (k < N_ATTR && strcasecmp(h->key + 3, attr_names[k]) != 0)
			k++;
		if (k == N_ATTR || !*v) {
			free(v);
			continue;
		}
		free(at->v[k]); /* the last header of a name wins */
		at->v[k] = v;
	}
	return (struct dd_res){0};
}

static struct dd_res attrs_from_envelope(const json_t *env, struct attrs *at)
{
	for (size_t k = 0; k < N_ATTR; k++) {
		const json_t *v = json_object_get(env, attr_names[k]);
		if (v && !json_is_string(v))
			return rej(DD_ADAPT_BAD_PAYLOAD);
		int rc = dd_json_str(v, &at->v[k]);
		if (rc)
			return rc == -ENOMEM ? no_memory : rej(DD_ADAPT_BAD_PAYLOAD);
		if (at->v[k] && strlen(at->v[k]) > DD_ADAPT_MAX_HEADER)
			return rej(DD_ADAPT_BAD_PAYLOAD);
	}
	return (struct dd_res){0};
}

/* Required attributes and their forms (CloudEvents 1.0: id, source, specversion, type). */
static bool ce_from_attrs(const struct attrs *at, struct dd_ce *ce)
{
	*ce = (struct dd_ce){.present = true};
	if (!at->v[A_SPECVERSION] || strcmp(at->v[A_SPECVERSION], "1.0") != 0 || !at->v[A_ID] ||
	    !at->v[A_SOURCE] || !at->v[A_TYPE])
		return false;
	if (at->v[A_TIME]) {
		if (dd_parse_rfc3339(at->v[A_TIME], strlen(at->v[A_TIME]), &ce->time_ms) < 0)
			return false;
		ce->has_time = true;
	}
	ce->id = at->v[A_ID];
	ce->source = at->v[A_SOURCE];
	ce->type = at->v[A_TYPE];
	ce->subject = at->v[A_SUBJECT];
	ce->namespace_ = at->v[A_NAMESPACE];
	ce->isvc = at->v[A_ISVC];
	ce->component = at->v[A_COMPONENT];
	ce->endpoint = at->v[A_ENDPOINT];
	return true;
}

static bool b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* data_base64 (RFC 4648, padded, no whitespace) -> JSON. */
static struct dd_res data_from_base64(const json_t *b64, json_t **data)
{
	const char *s = json_string_value(b64);
	size_t n = json_string_length(b64), pad = 0;
	if (n % 4)
		return rej(DD_ADAPT_BAD_PAYLOAD);
	while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++)
		if (!b64_char((unsigned char)s[i]))
			return rej(DD_ADAPT_BAD_PAYLOAD);
	unsigned char *buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return no_memory;
	int got = n ? EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n) : 0;
	if (got < 0 || (size_t)got < pad) {
		free(buf);
		return rej(DD_ADAPT_BAD_PAYLOAD);
	}
	int rc = 0;
	enum dd_adapt_reject why = dd_adapt_parse((const char *)buf, (size_t)got - pad, data, &rc);
	free(buf);
	if (rc)
		return no_memory;
	return why ? rej(why) : (struct dd_res){0};
}

static struct dd_res data_from_envelope(const json_t *env, json_t **data)
{
	*data = NULL;
	json_t *d = json_object_get(env, "data");
	const json_t *b64 = json_object_get(env, "data_base64");
	if (d && !json_is_null(d)) {
		if (!json_is_string(d)) {
			*data = json_incref(d);
			return (struct dd_res){0};
		}
		/* JSON data sent as a string of JSON text */
		int rc = 0;
		enum dd_adapt_reject why =
		    dd_adapt_parse(json_string_value(d), json_string_length(d), data, &rc);
		if (rc)
			return no_memory;
		return why ? rej(why) : (struct dd_res){0};
	}
	if (json_is_string(b64))
		return data_from_base64(b64, data);
	return rej(DD_ADAPT_BAD_PAYLOAD); /* an event without data says nothing to monitor */
}

/* A native event in the data: the CloudEvent fills what the event leaves out. */
static struct dd_res native(struct dd_adapter *a, const struct dd_record *r, json_t *data,
                            const struct dd_ce *ce, bool *emitted)
{
	const char *mid = ce->isvc ? ce->isvc : ce->source;
	json_t *model = json_object_get(data, "model");
	int bad = 0;
	if (!model)
		bad |= json_object_set_new(data, "model", json_pack("{s:s}", "id", mid)) < 0;
	else if (json_is_object(model) && !json_object_get(model, "id"))
		bad |= json_object_set_new(model, "id", json_string(mid)) < 0;
	if (!json_object_get(data, "request_id"))
		bad |= json_object_set_new(data, "request_id", json_string(ce->id)) < 0;
	int64_t ts = ce->has_time ? ce->time_ms : r->ts_ms;
	if (!json_object_get(data, "ts") && (ce->has_time || r->ts_ms >= 0) && dd_adapt_ts_ok(ts)) {
		char buf[32];
		dd_format_rfc3339(ts, buf, sizeof(buf));
		bad |= json_object_set_new(data, "ts", json_string(buf)) < 0;
	}
	if (!json_object_get(data, "cloudevent"))
		bad |= json_object_set_new(data, "cloudevent", dd_ce_info(ce, true)) < 0;
	if (bad)
		return no_memory;
	dd_out_reset(a);
	if (dd_out_json(a, data) < 0)
		return no_memory;
	if (a->out_over)
		return (struct dd_res){-E2BIG, DD_ADAPT_TOO_LARGE};
	*emitted = true;
	return (struct dd_res){0};
}

static struct dd_res join_by_ce_id(struct dd_adapter *a, const struct dd_record *r,
                                   struct dd_half *h, const struct dd_ce *ce, bool *emitted)
{
	size_t len;
	char *key = NULL;
	if (dd_half_set_context(h, ce, r, false) || !(key = dd_join_key(ce, ce->id, &len))) {
		dd_half_free(h);
		return no_memory;
	}
	struct dd_res res = dd_join_offer(a, h, key, len, emitted);
	free(key);
	return res;
}

static struct dd_res dispatch(struct dd_adapter *a, const struct dd_record *r, json_t *data,
                              const struct dd_ce *ce, bool *emitted)
{
	enum dd_shape shape = dd_shape_of(data);
	bool kreq = strcmp(ce->type, KSERVE_REQ) == 0, kresp = strcmp(ce->type, KSERVE_RESP) == 0;
	struct dd_half *h = NULL;
	char *id = NULL;
	struct dd_res res;
	if (kreq || kresp) {
		/* KServe payload logging: request and response share the CloudEvent id. */
		if (kreq && (shape == DD_SHAPE_OIP_REQ || shape == DD_SHAPE_V1_REQ))
			res = dd_kserve_half(data, shape, &h, &id);
		else if (kreq && shape == DD_SHAPE_OPENAI_REQ)
			res = dd_openai_request(data, &h);
		else if (kresp && (shape == DD_SHAPE_OIP_RESP || shape == DD_SHAPE_V1_RESP))
			res = dd_kserve_half(data, shape, &h, &id);
		else if (kresp && shape == DD_SHAPE_OPENAI &&
		         !json_is_object(json_object_get(data, "response")))
			res = dd_openai_response(data, &h);
		else
			return rej(DD_ADAPT_BAD_PAYLOAD);
		free(id);
		return res.rc ? res : join_by_ce_id(a, r, h, ce, emitted);
	}
	switch (shape) {
	case DD_SHAPE_NATIVE:
		return native(a, r, data, ce, emitted);
	case DD_SHAPE_OIP_REQ:
	case DD_SHAPE_OIP_RESP:
	case DD_SHAPE_OIP_PAIR:
		return dd_kserve_adapt(a, r, data, ce, emitted);
	case DD_SHAPE_V1_REQ:
	case DD_SHAPE_V1_RESP:
		res = dd_kserve_half(data, shape, &h, &id);
		free(id);
		return res.rc ? res : join_by_ce_id(a, r, h, ce, emitted);
	case DD_SHAPE_OPENAI:
		return dd_openai_adapt(a, r, data, ce, emitted);
	default:
		return rej(DD_ADAPT_UNKNOWN_FORMAT);
	}
}

struct dd_res dd_cloudevents_adapt(struct dd_adapter *a, const struct dd_record *r, json_t *j,
                                   bool *emitted)
{
	*emitted = false;
	struct attrs at = {0};
	json_t *data = NULL;
	char *ct = NULL;
	struct dd_res res = {0};

	/* Header keys are UTF-8 strings in the binding; values are checked where read. */
	for (size_t i = 0; i < r->n_headers && !res.rc; i++) {
		json_t *k = r->headers[i].key ? json_string(r->headers[i].key) : NULL;
		if (!k)
			res = rej(DD_ADAPT_BAD_HEADER);
		json_decref(k);
	}
	const struct dd_header *cth = dd_header_find(r, "content-type");
	enum dd_adapt_reject why = DD_ADAPT_OK;
	if (!res.rc && cth && cth->value && !(ct = dd_header_text(cth, &why)))
		res = why ? rej(why) : no_memory;
	bool ce_media = ct && strncasecmp(ct, CE_MEDIA, strlen(CE_MEDIA)) == 0;
	bool structured = ce_media && json_event_format(ct + strlen(CE_MEDIA));
	bool binary = !structured &&
	              (dd_header_find(r, "ce_specversion") || dd_header_find(r, "ce-specversion"));
	if (!res.rc && ce_media && !structured && !binary)
		res =
		    rej(DD_ADAPT_UNKNOWN_FORMAT); /* another event format (avro, protobuf, batch) */

	if (!res.rc && !binary && !j) {
		int rc = 0;
		why = dd_adapt_parse(r->value, r->len, &j, &rc);
		res = rc ? no_memory : why ? rej(why) : res;
	}
	if (!res.rc && !binary && !structured) {
		if (dd_shape_of(j) == DD_SHAPE_CLOUDEVENT)
			structured = true;
		else
			res = rej(DD_ADAPT_UNKNOWN_FORMAT);
	}

	struct dd_ce ce = {0};
	if (!res.rc && binary) {
		res = attrs_from_headers(r, &at);
		if (!res.rc && !ce_from_attrs(&at, &ce))
			res = rej(DD_ADAPT_BAD_HEADER);
		if (!res.rc && j) {
			data = j; /* auto parsed the value: it is the data */
			j = NULL;
		} else if (!res.rc) {
			int rc = 0;
			why = dd_adapt_parse(r->value, r->len, &data, &rc);
			res = rc ? no_memory : why ? rej(why) : res;
		}
	} else if (!res.rc) {
		if (!json_is_object(j))
			res = rej(DD_ADAPT_BAD_PAYLOAD);
		if (!res.rc)
			res = attrs_from_envelope(j, &at);
		if (!res.rc && !ce_from_attrs(&at, &ce))
			res = rej(DD_ADAPT_BAD_PAYLOAD);
		if (!res.rc)
			res = data_from_envelope(j, &data);
	}
	if (!res.rc) {
		if (ce.has_time)
			dd_adapt_seen_time(a, ce.time_ms);
		res = dispatch(a, r, data, &ce, emitted);
	}
	json_decref(data);
	json_decref(j);
	attrs_free(&at);
	free(ct);
	return res;
}
