/* Fuzz target for lib/decode: decode the input with a default and a tightly limited decoder,
 * read every byte of every returned string and vector (so ASan sees any bad pointer), check the
 * documented invariants, check that decoding the same bytes twice gives the same result, and
 * round-trip the input through the RFC 3339 parser and formatter when it parses as one. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const pointers[] = {
    "/input/amount",
    "/input/embedding",
    "/input/embedding/1",
    "/output/score",
    "/a/0/b",
    "",
    "/~0/~1",
    "/model",
    "/ts",
    "/0",
    "/input",
    "/model/id",
};
#define NPTR (sizeof(pointers) / sizeof(pointers[0]))

static struct dd_fieldset *fs;
static struct dd_decoder *dec_default, *dec_small;
static const struct dd_limits small_limits = {
    .max_record = 512, .max_depth = 4, .max_string = 16, .max_vector = 3};

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ull;
}

static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = mix(h, (unsigned char)p[i]);
	return h;
}

static uint64_t hash_double(uint64_t h, double x)
{
	uint64_t b;
	memcpy(&b, &x, sizeof(b));
	return mix(h, b);
}

/* Touch everything the decoder returned, check invariants, return a digest. */
static uint64_t digest(int rc, enum dd_reject why, const struct dd_meta *m,
                       const struct driftd_value *out, const struct dd_limits *lim)
{
	uint64_t h = mix(0xcbf29ce484222325ull, (uint64_t)(int64_t)rc);
	h = mix(h, (uint64_t)why);
	CHECK(why < DD_REJECT__MAX);
	CHECK(strcmp(dd_reject_name(why), "unknown") != 0);
	if (rc != 0) {
		CHECK(why != DD_REJECT_NONE);
		return h;
	}
	CHECK(why == DD_REJECT_NONE);
	CHECK(m->model_id && m->model_id_len > 0);
	const char *s[] = {m->model_id, m->model_version, m->model_sha256, m->client_id,
	                   m->request_id};
	size_t l[] = {m->model_id_len, m->model_version_len, m->model_sha256_len, m->client_id_len,
	              m->request_id_len};
	for (size_t i = 0; i < 5; i++) {
		CHECK(s[i] || l[i] == 0);
		CHECK(l[i] <= lim->max_string);
		h = hash_bytes(mix(h, l[i]), s[i], l[i]);
	}
	h = mix(h, m->has_ts);
	if (m->has_ts)
		h = mix(h, (uint64_t)m->ts_ms);
	for (size_t i = 0; i < NPTR; i++) {
		const struct driftd_value *v = &out[i];
		h = mix(h, (uint64_t)v->type);
		switch (v->type) {
		case DRIFTD_VALUE_NONE:
		case DRIFTD_VALUE_OTHER:
			break;
		case DRIFTD_VALUE_NUMBER:
			CHECK(isfinite(v->num));
			h = hash_double(h, v->num);
			break;
		case DRIFTD_VALUE_BOOL:
			CHECK(v->num == 0 || v->num == 1);
			h = hash_double(h, v->num);
			break;
		case DRIFTD_VALUE_STRING:
			CHECK(v->str || v->len == 0);
			CHECK(v->len <= lim->max_string);
			h = hash_bytes(mix(h, v->len), v->str, v->len);
			break;
		case DRIFTD_VALUE_VECTOR:
			CHECK(v->vec);
			CHECK(v->dim <= lim->max_vector);
			for (size_t k = 0; k < v->dim; k++) {
				CHECK(isfinite(v->vec[k]));
				h = hash_double(h, v->vec[k]);
			}
			break;
		default:
			abort();
		}
	}
	return h;
}

static uint64_t run(struct dd_decoder *d, const struct dd_limits *lim, const uint8_t *data,
                    size_t size)
{
	struct dd_meta meta;
	struct driftd_value out[NPTR];
	enum dd_reject why = DD_REJECT__MAX;
	int rc = dd_decode(d, fs, (const char *)data, size, &meta, out, &why);
	CHECK(rc == 0 || rc == -EBADMSG || rc == -E2BIG);
	if (rc == -E2BIG)
		CHECK(why == DD_REJECT_TOO_LARGE || why == DD_REJECT_TOO_DEEP ||
		      why == DD_REJECT_STRING_TOO_LONG);
	if (why == DD_REJECT_TOO_LARGE)
		CHECK(size > lim->max_record);
	return digest(rc, why, &meta, out, lim);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fs) {
		struct dd_limits def;
		dd_limits_default(&def);
		if (dd_fieldset_new(pointers, NPTR, &fs) < 0 ||
		    dd_decoder_new(&def, &dec_default) < 0 ||
		    dd_decoder_new(&small_limits, &dec_small) < 0)
			abort();
	}
	struct dd_limits def;
	dd_limits_default(&def);
	uint64_t a = run(dec_default, &def, data, size);
	uint64_t b = run(dec_small, &small_limits, data, size);
	/* Same bytes, same answer: nothing carries over from the previous record. */
	CHECK(run(dec_default, &def, data, size) == a);
	CHECK(run(dec_small, &small_limits, data, size) == b);

	int64_t ms;
	/* Offsets can move a parsed time just outside years 0000..9999, which has no RFC 3339
	 * form; inside, format and parse are inverse. */
	if (size < 64 && dd_parse_rfc3339((const char *)data, size, &ms) == 0 &&
	    ms >= -62167219200000LL && ms <= 253402300799999LL) {
		char buf[32], again[32];
		dd_format_rfc3339(ms, buf, sizeof(buf));
		int64_t ms2;
		CHECK(dd_parse_rfc3339(buf, strlen(buf), &ms2) == 0 && ms2 == ms);
		dd_format_rfc3339(ms2, again, sizeof(again));
		CHECK(strcmp(buf, again) == 0);
	}
	return 0;
}
