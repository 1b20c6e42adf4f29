/* Internals shared by the format adapters (lib/adapt*.c). Not part of the library interface. */
#ifndef DRIFTD_ADAPT_INT_H
#define DRIFTD_ADAPT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "adapt.h"

/* Longest header value read (CloudEvents attributes, ids). */
#define DD_ADAPT_MAX_HEADER 4096
/* Deepest nesting of a tensor's data arrays. */
#define DD_ADAPT_MAX_RANK 32

/* What a payload looks like (dd_shape_of). */
enum dd_shape {
	DD_SHAPE_UNKNOWN,
	DD_SHAPE_NATIVE,     /* "model" object, or "input"/"output"/"ts" */
	DD_SHAPE_CLOUDEVENT, /* structured envelope: "specversion" string */
	DD_SHAPE_OIP_REQ,    /* "inputs" array */
	DD_SHAPE_OIP_RESP,   /* "outputs" array */
	DD_SHAPE_OIP_PAIR,   /* {"request": OIP request, "response": OIP response} */
	DD_SHAPE_V1_REQ,     /* "instances" */
	DD_SHAPE_V1_RESP,    /* "predictions" */
	DD_SHAPE_OPENAI,     /* chat completion, or {"request":..., "response":...} */
	DD_SHAPE_OPENAI_REQ, /* bare chat completion request ("messages" array) */
};

enum dd_shape dd_shape_of(const json_t *j);

/* One side of an inference: the mapped input (request) or output (response) object as compact
 * JSON text, plus metadata candidates. Strings are owned (malloc'd, NUL-free), NULL if absent. */
enum dd_side { DD_SIDE_REQUEST, DD_SIDE_RESPONSE };

struct dd_half {
	enum dd_side side;
	char *frag; /* "{...}" */
	size_t frag_len;
	/* from the data */
	char *model_id, *model_version, *request_id, *client_id;
	bool has_data_ts;
	int64_t data_ts;
	/* from the CloudEvent (if any) */
	char *ce_model_id; /* inferenceservicename, else source */
	char *ce_id;
	bool has_ce_ts;
	int64_t ce_ts;
	char *ce_info; /* "cloudevent" object as JSON text */
	/* from Kafka */
	int64_t kafka_ts; /* -1 none */
	uint32_t src;     /* record.src */
	int64_t offset;
	/* join table */
	char *key;
	size_t key_len;
	int64_t t; /* time for the TTL */
	bool has_t;
	size_t bytes;
	struct dd_half *older, *newer, *chain;
};

/* CloudEvents context attributes of the record being adapted (all NULL outside CloudEvents).
 * Borrowed strings, NUL-terminated, valid during one dd_adapt call. */
struct dd_ce {
	bool present;
	const char *id, *source, *type, *subject;
	const char *namespace_, *isvc, *component, *endpoint;
	bool has_time;
	int64_t time_ms;
};

struct dd_adapter {
	enum dd_format format;
	int64_t ttl;
	size_t max_pending, max_pending_bytes, max_record;
	/* output */
	char *out;
	size_t out_len, out_cap;
	bool out_over;
	/* newest time seen (Kafka or CloudEvents), for halves without their own */
	bool has_hwm;
	int64_t hwm;
	/* join table: a hash of chains plus a list from oldest to newest */
	struct dd_half **buckets;
	size_t n_buckets; /* power of two; 0 until first use */
	uint64_t seed;
	struct dd_half *oldest, *newest;
	size_t n_pending, pending_bytes;
	struct dd_adapter_stats st;
	/* the record being adapted: where its half comes from */
	uint32_t cur_src;
	int64_t cur_offset;
};

/* The result of adapting one record: reject reason (negative errno alongside) or success.
 * Adapters return 0 with *emitted set (event text in a->out) or not (consumed half). */
struct dd_res {
	int rc;
	enum dd_adapt_reject why;
};

/* ---- helpers in adapt.c ---- */

/* Parse JSON text (any value). DD_ADAPT_OK, NOT_JSON, BAD_PAYLOAD (duplicate keys), or
 * -ENOMEM via *rc. */
enum dd_adapt_reject dd_adapt_parse(const char *buf, size_t len, json_t **ret, int *rc);

/* Output buffer: reset, append, dump a JSON value (compact). Appends past max_record set
 * a->out_over instead of growing. */
void dd_out_reset(struct dd_adapter *a);
int dd_out_put(struct dd_adapter *a, const char *p, size_t n);
int dd_out_json(struct dd_adapter *a, const json_t *j);

/* Compact JSON text of j in a new NUL-terminated string (*len without the NUL), or NULL. */
char *dd_json_text(const json_t *j, size_t *len);
/* *out: a copy of j's value if j is a non-empty string, else NULL. -EBADMSG if the string
 * holds NUL (no metadata string may), -ENOMEM. */
int dd_json_str(const json_t *j, char **out);

/* Number of Unicode code points in UTF-8 text (jansson has validated it). */
size_t dd_utf8_chars(const char *s, size_t len);

/* Header lookup: the last header named `name` (ASCII case-insensitive). NULL if none. */
const struct dd_header *dd_header_find(const struct dd_record *r, const char *name);
/* A header value as a NUL-terminated copy after checking it: UTF-8, no NUL, at most
 * DD_ADAPT_MAX_HEADER bytes. NULL with *why BAD_HEADER, or NULL with *why OK on no memory. */
char *dd_header_text(const struct dd_header *h, enum dd_adapt_reject *why);

void dd_half_free(struct dd_half *h);

/* Join: offer a half under key (copied). Either it pairs with a waiting half of the other side
 * (the event is written to a->out, *emitted true) or it waits (*emitted false). Takes h. */
struct dd_res dd_join_offer(struct dd_adapter *a, struct dd_half *h, const char *key,
                            size_t key_len, bool *emitted);
/* Emit the event of req and/or resp (either may be NULL) into a->out. */
struct dd_res dd_emit_pair(struct dd_adapter *a, const struct dd_half *req,
                           const struct dd_half *resp);

/* Years 0000..9999: the times RFC 3339 (and dd_decode) can express; others are left out. */
bool dd_adapt_ts_ok(int64_t ms);

/* Note a record's time (Kafka or CloudEvents): the newest one stands in for halves without. */
void dd_adapt_seen_time(struct dd_adapter *a, int64_t t);

/* The join key of an id: the id alone, or within a CloudEvent the id scoped by the KServe
 * extensions (namespace, inferenceservicename, component, endpoint). NULL on no memory. */
char *dd_join_key(const struct dd_ce *ce, const char *id, size_t *len);

/* Fill a half's CloudEvents and Kafka fields from the record; with_type: the event is this one
 * record (a joined pair's two records have two types). 0 or -ENOMEM. */
int dd_half_set_context(struct dd_half *h, const struct dd_ce *ce, const struct dd_record *r,
                        bool with_type);
/* The "cloudevent" object of an event. NULL on no memory. */
json_t *dd_ce_info(const struct dd_ce *ce, bool with_type);

/* ---- per-format pieces ---- */

/* adapt_kserve.c: map an OIP request/response or V1 request/response payload into a new half.
 * The data id (OIP "id") is returned in *data_id (owned, may be NULL). */
struct dd_res dd_kserve_half(const json_t *j, enum dd_shape shape, struct dd_half **ret,
                             char **data_id);
/* kserve-v2 records (raw OIP, or an OIP pair); ce may be NULL. */
struct dd_res dd_kserve_adapt(struct dd_adapter *a, const struct dd_record *r, json_t *j,
                              const struct dd_ce *ce, bool *emitted);

/* adapt_openai.c: map a chat completion request or response into a new half. */
struct dd_res dd_openai_request(const json_t *req, struct dd_half **ret);
struct dd_res dd_openai_response(const json_t *resp, struct dd_half **ret);
/* openai-chat records (a wrapper or a bare response); ce may be NULL. */
struct dd_res dd_openai_adapt(struct dd_adapter *a, const struct dd_record *r, const json_t *j,
                              const struct dd_ce *ce, bool *emitted);

/* adapt_cloudevents.c: a record in the CloudEvents Kafka binding. j: the parsed value when
 * the caller already has it (auto; the call takes the reference), else NULL. */
struct dd_res dd_cloudevents_adapt(struct dd_adapter *a, const struct dd_record *r, json_t *j,
                                   bool *emitted);
/* True if the record's headers say CloudEvents (structured content-type or ce_specversion). */
bool dd_cloudevents_headers(const struct dd_record *r);

#endif
