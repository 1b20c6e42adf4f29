/* Open Inference Protocol (KServe V2) and KServe V1 payloads as request/response halves, and the
 * kserve-v2 format: OIP JSON records joined by id (docs/formats.md).
 *
 * A tensor {name, shape, datatype, data} becomes one member <name> of the event's input (request)
 * or output (response): its elements in row-major order as a flat array (nested data is
 * flattened), or the element itself when there is exactly one. The element count is what the
 * data holds; shape is not checked against it (the specification's own example sends shape [3]
 * with one BOOL). A tensor without data (binary extension) is null. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "adapt_int.h"

static const struct dd_res bad_payload = {-EBADMSG, DD_ADAPT_BAD_PAYLOAD};
static const struct dd_res no_memory = {-ENOMEM, DD_ADAPT_OK};

static int flatten(json_t *v, json_t *flat, int depth)
{
	if (json_is_object(v))
		return -EBADMSG;
	if (!json_is_array(v))
		return json_array_append(flat, v) < 0 ? -ENOMEM : 0;
	if (depth >= DD_ADAPT_MAX_RANK)
		return -EBADMSG;
	size_t i;
	json_t *e;
	json_array_foreach (v, i, e) {
		int rc = flatten(e, flat, depth + 1);
		if (rc)
			return rc;
	}
	return 0;
}

/* The value of one tensor's data: new reference in *ret. */
static int tensor_value(json_t *data, json_t **ret)
{
	if (!data) {
		*ret = json_null();
		return 0;
	}
	if (json_is_object(data))
		return -EBADMSG;
	if (!json_is_array(data)) {
		*ret = json_incref(data);
		return 0;
	}
	json_t *flat = json_array();
	if (!flat)
		return -ENOMEM;
	int rc = flatten(data, flat, 1);
	if (rc) {
		json_decref(flat);
		return rc;
	}
	if (json_array_size(flat) == 1) {
		*ret = json_incref(json_array_get(flat, 0));
		json_decref(flat);
	} else {
		*ret = flat;
	}
	return 0;
}

static int tensors(const json_t *list, json_t *frag)
{
	size_t i;
	json_t *t;
	json_array_foreach (list, i, t) {
		const json_t *name = json_object_get(t, "name");
		if (!json_is_object(t) || !json_is_string(name) || json_string_length(name) == 0)
			return -EBADMSG;
		const char *n = json_string_value(name);
		size_t nlen = json_string_length(name);
		if (json_object_getn(frag, n, nlen))
			return -EBADMSG; /* two tensors of one name */
		json_t *v;
		int rc = tensor_value(json_object_get(t, "data"), &v);
		if (rc)
			return rc;
		if (json_object_setn_new(frag, n, nlen, v) < 0)
			return -ENOMEM;
	}
	return 0;
}

struct dd_res dd_kserve_half(const json_t *j, enum dd_shape shape, struct dd_half **ret,
                             char **data_id)
{
	*ret = NULL;
	*data_id = NULL;
	struct dd_half *h = calloc(1, sizeof(*h));
	json_t *frag = json_object();
	int rc = h && frag ? 0 : -ENOMEM;
	if (!rc)
		h->kafka_ts = -1;
	switch (shape) {
	case DD_SHAPE_OIP_REQ:
	case DD_SHAPE_OIP_RESP: {
		bool req = shape == DD_SHAPE_OIP_REQ;
		if (!rc)
			rc = tensors(json_object_get(j, req ? "inputs" : "outputs"), frag);
		if (!rc && !req)
			rc = dd_json_str(json_object_get(j, "model_name"), &h->model_id);
		if (!rc && !req)
			rc = dd_json_str(json_object_get(j, "model_version"), &h->model_version);
		if (!rc)
			rc = dd_json_str(json_object_get(j, "id"), &h->request_id);
		if (!rc && h->request_id && !(*data_id = strdup(h->request_id)))
			rc = -ENOMEM;
		if (!rc)
			h->side = req ? DD_SIDE_REQUEST : DD_SIDE_RESPONSE;
		break;
	}
	case DD_SHAPE_V1_REQ:
	case DD_SHAPE_V1_RESP: {
		const char *k = shape == DD_SHAPE_V1_REQ ? "instances" : "predictions";
		if (!rc && json_object_set(frag, k, json_object_get(j, k)) < 0)
			rc = -ENOMEM;
		if (!rc)
			h->side = shape == DD_SHAPE_V1_REQ ? DD_SIDE_REQUEST : DD_SIDE_RESPONSE;
		break;
	}
	default:
		rc = -EBADMSG;
		break;
	}
	if (!rc && !(h->frag = dd_json_text(frag, &h->frag_len)))
		rc = -ENOMEM;
	json_decref(frag);
	if (rc) {
		dd_half_free(h);
		free(*data_id);
		*data_id = NULL;
		return rc == -ENOMEM ? no_memory : bad_payload;
	}
	*ret = h;
	return (struct dd_res){0};
}

/* The join id of a raw OIP record: the loggers' pairing headers first (ce_id: KServe's payload
 * logger through a Kafka sink; x-request-id: Seldon), then the payload's id. */
static struct dd_res raw_key(const struct dd_record *r, const char *data_id, char **key)
{
	static const char *const names[] = {"ce_id", "x-request-id"};
	*key = NULL;
	for (size_t i = 0; i < 2; i++) {
		const struct dd_header *h = dd_header_find(r, names[i]);
		if (!h)
			continue;
		enum dd_adapt_reject why;
		*key = dd_header_text(h, &why);
		if (!*key)
			return why ? (struct dd_res){-EBADMSG, why} : no_memory;
		if (**key)
			return (struct dd_res){0};
		free(*key);
		*key = NULL;
	}
	if (!data_id)
		return bad_payload; /* nothing to join it by */
	*key = strdup(data_id);
	return *key ? (struct dd_res){0} : no_memory;
}

struct dd_res dd_kserve_adapt(struct dd_adapter *a, const struct dd_record *r, json_t *j,
                              const struct dd_ce *ce, bool *emitted)
{
	*emitted = false;
	enum dd_shape shape = dd_shape_of(j);
	struct dd_half *req = NULL, *resp = NULL;
	char *id = NULL, *id2 = NULL;
	struct dd_res res = bad_payload;
	if (shape == DD_SHAPE_OIP_PAIR) {
		res = dd_kserve_half(json_object_get(j, "request"), DD_SHAPE_OIP_REQ, &req, &id);
		if (!res.rc)
			res = dd_kserve_half(json_object_get(j, "response"), DD_SHAPE_OIP_RESP,
			                     &resp, &id2);
		if (!res.rc && (dd_half_set_context(req, ce, r, true) ||
		                dd_half_set_context(resp, ce, r, true)))
			res = no_memory;
		if (!res.rc) {
			res = dd_emit_pair(a, req, resp);
			*emitted = res.rc == 0;
		}
		dd_half_free(req);
		dd_half_free(resp);
		free(id);
		free(id2);
		return res;
	}
	if (shape != DD_SHAPE_OIP_REQ && shape != DD_SHAPE_OIP_RESP)
		return bad_payload;
	struct dd_half *h;
	res = dd_kserve_half(j, shape, &h, &id);
	if (res.rc)
		return res;
	if (dd_half_set_context(h, ce, r, false)) {
		res = no_memory;
		goto out;
	}
	char *key = NULL;
	size_t key_len = 0;
	if (ce && ce->present) {
		key = dd_join_key(ce, id ? id : ce->id, &key_len);
		if (!key)
			res = no_memory;
	} else {
		res = raw_key(r, id, &key);
		key_len = key ? strlen(key) : 0;
	}
	if (!res.rc) {
		res = dd_join_offer(a, h, key, key_len, emitted);
		h = NULL;
	}
	free(key);
out:
	dd_half_free(h);
	free(id);
	return res;
}
