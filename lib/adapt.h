/* Inference-log format adapters: one Kafka record (value + headers + timestamp) of a known
 * format in, one native event (design.md, "Native event") as JSON text out, which then goes
 * through dd_decode like any native record. docs/formats.md documents every mapping and the
 * JSON pointers users write for it.
 *
 *   native       passthrough (the record's own bytes, no copy, no parse)
 *   cloudevents  CloudEvents Kafka binding, structured and binary mode; the data is a native
 *                event, an Open Inference Protocol (KServe V2) or KServe V1 request/response
 *                (KServe payload logging), or an OpenAI chat completion
 *   kserve-v2    Open Inference Protocol JSON request and response records, joined by id
 *   openai-chat  a logged chat completion ({"request":..., "response":...} or a bare response)
 *   auto         per record: CloudEvents, OIP, OpenAI, else native
 *
 * Requests and responses that arrive as two records are joined by id in a bounded table:
 * at most max_pending halves and max_pending_bytes of their mapped text; the oldest half is
 * evicted (and counted) to make room; halves older than join_ttl_ms are expired by
 * dd_adapter_expire (and counted). Both halves must reach the same adapter.
 *
 * Nothing a record holds can crash an adapter: bad input is a reject reason. Adapters other
 * than native parse with jansson and build the event with jansson (compact dump); every
 * buffer is bounded by max_record (an adapted event longer than max_record is rejected as
 * too_large, as dd_decode would reject it).
 *
 * Threads: an adapter is used by one thread at a time. */
#ifndef DRIFTD_ADAPT_H
#define DRIFTD_ADAPT_H

#include <stddef.h>
#include <stdint.h>

/* Kafka record headers. key is NUL-terminated; value may be NULL (a null header). */
struct dd_header {
	const char *key;
	const void *value;
	size_t len;
};

struct dd_record {
	const char *value; /* NULL: a tombstone (no value) */
	size_t len;
	const struct dd_header *headers;
	size_t n_headers;
	int64_t ts_ms; /* Kafka timestamp, -1 none */
	/* Where it came from, for halves held across a state snapshot (dd_adapter_held):
	 * 1 + the caller's index of its partition (0: none), and its offset. */
	uint32_t src;
	int64_t offset;
};

enum dd_format {
	DD_FORMAT_NATIVE,
	DD_FORMAT_CLOUDEVENTS,
	DD_FORMAT_KSERVE_V2,
	DD_FORMAT_OPENAI_CHAT,
	DD_FORMAT_AUTO,
};

/* "native", "cloudevents", "kserve-v2", "openai-chat", "auto" (the config's source.kafka.format
 * values). 0, or -EINVAL for any other name (or NULL). */
int dd_format_parse(const char *name, enum dd_format *ret);
/* The name dd_format_parse accepts; "unknown" outside the enum. */
const char *dd_format_name(enum dd_format f);

/* Why a record was rejected. Values and names are stable (metrics, logs). */
enum dd_adapt_reject {
	DD_ADAPT_OK = 0,
	DD_ADAPT_TOMBSTONE,      /* "tombstone": the record has no value */
	DD_ADAPT_NOT_JSON,       /* "not_json": value (or CloudEvents data) is not JSON text */
	DD_ADAPT_UNKNOWN_FORMAT, /* "unknown_format": not a CloudEvent, an event format other
	                            than JSON, or CloudEvents data of no known shape */
	DD_ADAPT_BAD_HEADER,     /* "bad_header": a header key or a read header value is not
	                            UTF-8, holds NUL, is longer than 4 KiB, or a required
	                            CloudEvents attribute header is missing or malformed */
	DD_ADAPT_BAD_PAYLOAD,    /* "bad_payload": JSON, but not the format's shape */
	DD_ADAPT_TOO_LARGE,      /* "too_large": record or adapted event longer than max_record */
	DD_ADAPT__MAX
};

/* Stable snake_case name; "unknown" outside the enum. */
const char *dd_adapt_reject_name(enum dd_adapt_reject r);

struct dd_adapter_opts {
	int64_t join_ttl_ms;      /* request/response pairing window; 0: 60000 */
	size_t max_pending;       /* halves waiting for their partner; 0: 10000 */
	size_t max_record;        /* bytes of a record and of an adapted event; 0: 1 MiB */
	size_t max_pending_bytes; /* mapped text held by waiting halves; 0: 64 MiB */
};

#define DD_ADAPT_JOIN_TTL_DEFAULT      60000
#define DD_ADAPT_MAX_PENDING_DEFAULT   10000
#define DD_ADAPT_MAX_PENDING_BYTES_DEF ((size_t)64 << 20)
/* dd_adapter_new refuses larger values with -EINVAL. */
#define DD_ADAPT_MAX_PENDING_CAP ((size_t)1 << 22)

struct dd_adapter;

/* o NULL: defaults. -EINVAL: unknown format, negative ttl, a limit beyond its cap (max_record:
 * DD_LIMIT_MAX_RECORD_CAP). -ENOMEM. */
int dd_adapter_new(enum dd_format f, const struct dd_adapter_opts *o, struct dd_adapter **ret);
void dd_adapter_free(struct dd_adapter *a);

/* Adapt one record.
 *   0, *out_len > 0: *out is a native event as JSON text (not NUL-terminated). For native
 *      input (and auto records detected as native) these are the record's own bytes, no copy;
 *      otherwise adapter memory, valid until the next call on this adapter.
 *   0, *out_len == 0: consumed, nothing to emit yet (first half of a request/response pair).
 *   negative errno with *why on a rejected record: -ENODATA (tombstone), -E2BIG (too_large),
 *      -EBADMSG (the other reasons).
 *   -ENOMEM (*why DD_ADAPT_OK): out of memory; the record is lost, the adapter stays usable.
 *   -EINVAL: NULL adapter, record or out pointers.
 * why may be NULL. Rejects are counted in the stats. */
int dd_adapt(struct dd_adapter *a, const struct dd_record *r, const char **out, size_t *out_len,
             enum dd_adapt_reject *why);

/* The offsets of the halves held from src (record.src), in arrival order (up to max into out);
 * returns how many there are. A state snapshot notes them: a restart reads exactly these
 * records again, or the halves are lost. */
size_t dd_adapter_held(const struct dd_adapter *a, uint32_t src, int64_t *out, size_t max);
/* dd_adapter_expire for the halves of one source only, against that source's clock (a
 * partition catching up must not have its halves expired by another partition's time). */
size_t dd_adapter_expire_src(struct dd_adapter *a, uint32_t src, int64_t now_ms);
/* Forget the halves held from src (the partition went to another owner). Not counted as
 * unpaired: the partition's next owner reads them again. */
void dd_adapter_drop(struct dd_adapter *a, uint32_t src);
/* Expire unpaired halves older than the TTL: time + join_ttl_ms < now_ms, time being the
 * record's Kafka timestamp, else its CloudEvents time, else the newest time the adapter had
 * seen when the half arrived (halves with no time at all wait for eviction). now_ms is event or
 * Kafka time. Returns how many expired; also counted in stats. */
size_t dd_adapter_expire(struct dd_adapter *a, int64_t now_ms);

struct dd_adapter_stats {
	uint64_t adapted;          /* events emitted */
	uint64_t pending;          /* halves waiting now */
	uint64_t unpaired_expired; /* halves dropped by dd_adapter_expire or a late partner */
	uint64_t unpaired_evicted; /* halves dropped for room, or replaced by a same-id half */
	uint64_t rejects[DD_ADAPT__MAX];
};

void dd_adapter_stats(const struct dd_adapter *a, struct dd_adapter_stats *out);

#endif
