/* Hot-path event decoder: one native event (a JSON object) in, its metadata and the values at a
 * compiled set of JSON pointers out, in one forward pass over the record (simdjson On-Demand
 * behind a C interface; lib/decode.cc).
 *
 * Validation is complete: a record is accepted only if all of it is valid JSON (RFC 8259) and
 * valid UTF-8, including the parts no pointer reads. Nesting is walked with an explicit stack
 * bounded by max_depth, never by recursion.
 *
 * Threads: a fieldset is immutable once built and may be shared; a decoder is used by one
 * thread at a time. */
#ifndef DRIFTD_DECODE_H
#define DRIFTD_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <driftd/event.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A compiled set of JSON pointers (RFC 6901: "" is the whole record, "/a/b" member b of member
 * a, "~1" is '/', "~0" is '~'; a segment of digits without leading zeros also selects that
 * element of an array). The metadata pointers (/model/id, /model/version, /model/sha256, /ts,
 * /client/id, /request_id) are always part of the set. Duplicates are allowed: each of them
 * gets the same value. */
struct dd_fieldset;

/* -EINVAL: a pointer is NULL, non-empty without a leading '/', or has '~' not followed by 0 or
 * 1. -ENOMEM. pointers may be NULL when n is 0. */
int dd_fieldset_new(const char *const *pointers, size_t n, struct dd_fieldset **ret);
void dd_fieldset_free(struct dd_fieldset *fs);
/* Number of caller pointers (the length of the out[] array dd_decode fills). */
size_t dd_fieldset_count(const struct dd_fieldset *fs);

struct dd_limits {
	size_t max_record; /* bytes per record; default 1 MiB */
	size_t max_depth;  /* nesting of objects and arrays, the record itself is depth 1; 64 */
	size_t max_string; /* bytes of any string, key or value, as written (escapes count as
	                      written); default 64 KiB */
	size_t max_vector; /* elements of a VECTOR value; a longer array is OTHER; default 4096 */
};

#define DD_LIMIT_MAX_RECORD_DEFAULT ((size_t)1 << 20)
#define DD_LIMIT_MAX_DEPTH_DEFAULT  64
#define DD_LIMIT_MAX_STRING_DEFAULT ((size_t)64 << 10)
#define DD_LIMIT_MAX_VECTOR_DEFAULT 4096
/* Hard caps: dd_decoder_new refuses larger limits with -EINVAL. */
#define DD_LIMIT_MAX_RECORD_CAP ((size_t)1 << 30)
#define DD_LIMIT_MAX_DEPTH_CAP  4096

void dd_limits_default(struct dd_limits *l);

/* Why a record was rejected. Values and names are stable (metrics, logs). */
enum dd_reject {
	DD_REJECT_NONE = 0,
	DD_REJECT_TOO_LARGE,       /* "too_large": longer than max_record */
	DD_REJECT_SYNTAX,          /* "syntax": invalid JSON or UTF-8 anywhere, NaN/Infinity
	                              literals, trailing content, empty record */
	DD_REJECT_NOT_OBJECT,      /* "not_object": valid JSON, but not an object */
	DD_REJECT_TOO_DEEP,        /* "too_deep": nesting beyond max_depth */
	DD_REJECT_STRING_TOO_LONG, /* "string_too_long": a key or string beyond max_string */
	DD_REJECT_NO_MODEL,        /* "no_model": /model/id missing or not a non-empty string */
	DD_REJECT_BAD_TS,          /* "bad_ts": /ts present but neither an RFC 3339 string nor an
	                              integral epoch-ms number in years 0000..9999 */
	DD_REJECT__MAX
};

/* Stable snake_case name; "unknown" outside the enum. */
const char *dd_reject_name(enum dd_reject r);

/* Event metadata. Strings point into decoder memory (not NUL-terminated) and are NULL/0 when
 * absent or not a JSON string (e.g. a numeric request_id: ask for it with a pointer). */
struct dd_meta {
	const char *model_id;
	size_t model_id_len;
	const char *model_version;
	size_t model_version_len;
	const char *model_sha256;
	size_t model_sha256_len;
	const char *client_id;
	size_t client_id_len;
	const char *request_id;
	size_t request_id_len;
	bool has_ts;
	int64_t ts_ms; /* epoch milliseconds when has_ts */
};

struct dd_decoder;

/* l NULL: defaults; a zero field in *l also means its default. -EINVAL beyond the caps,
 * -ENOMEM. */
int dd_decoder_new(const struct dd_limits *l, struct dd_decoder **ret);
void dd_decoder_free(struct dd_decoder *d);

/* Decode one record: any bytes, neither NUL-terminated nor padded (they are copied into the
 * decoder's padded buffer). Fills *meta (may be NULL) and out[i] for each of the
 * dd_fieldset_count(fs) pointers (out may be NULL when that is 0):
 *   NUMBER  finite double (integers too; big integers rounded; -0 stays -0)
 *   STRING  unescaped UTF-8 in decoder memory
 *   BOOL    num 0 or 1
 *   VECTOR  array of numbers only, at most max_vector (an empty array is a VECTOR of dim 0)
 *   OTHER   object, null, array with a non-number or too long, number simdjson cannot
 *           convert (beyond double range: 1e999; exponents of 19+ digits)
 *   NONE    absent
 * The first occurrence of a duplicate key wins (for pointers through it as well). Strings and
 * vectors stay valid until the next dd_decode on this decoder.
 *
 * Returns 0, or a negative errno with *why (may be NULL) set: -E2BIG (TOO_LARGE, TOO_DEEP,
 * STRING_TOO_LONG), -EBADMSG (the other reasons), -ENOMEM (why NONE: buffers could not grow),
 * -EINVAL (NULL decoder or fieldset). On any error meta and out are unspecified and the record
 * must be skipped. The steady state allocates nothing: buffers grow only when a bigger record
 * or fieldset arrives, bounded by the limits. */
int dd_decode(struct dd_decoder *d, const struct dd_fieldset *fs, const char *rec, size_t len,
              struct dd_meta *meta, struct driftd_value *out, enum dd_reject *why);

/* Parse an RFC 3339 date-time, "2026-11-27T12:00:00.123Z" or with an offset "+01:00" /
 * "-05:30": 't'/'T' or a space between date and time, 'Z' or 'z', any number of fraction digits
 * (truncated to milliseconds), second 60 (leap second) counted as the next minute's first
 * second, years 0000..9999. -EINVAL otherwise. Also used by the config and CLI. */
int dd_parse_rfc3339(const char *s, size_t len, int64_t *ret_ms);

/* Format epoch ms as RFC 3339 UTC with milliseconds ("2026-11-27T12:00:00.123Z"); size >= 32
 * holds any int64 input (shorter buffers get a truncated, NUL-terminated string). */
void dd_format_rfc3339(int64_t ms, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
