/* Fuzz target for lib/adapt: split the input into a Kafka record (a few headers, a timestamp,
 * a value or a tombstone) and adapt it with every format, through adapters that keep their
 * join state across inputs (pairs, evictions, expiry) and through fresh tightly limited ones
 * (twice: same record, same answer). Checks: return codes and reject reasons agree, an event is
 * never longer than max_record, an event the adapter built is always a JSON object to
 * dd_decode (only passthrough records may be anything), every byte of it is readable, and the
 * join table stays within its bounds.
 *
 * Input layout (tests/fuzz/gen_adapt_corpus.py writes the corpus):
 *   byte 0      bits 0-1: number of headers (0-3); bit 2: tombstone; bit 3: timestamp follows
 *   [8 bytes]   timestamp, little-endian int64 (if bit 3)
 *   per header  key length (1 byte), key, value length (1 byte; 255: null value), value
 *   rest        the record's value
 * A short input simply ends early. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapt.h"
#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

#define N_FORMATS 5
static const struct dd_adapter_opts keep_opts = {
    .join_ttl_ms = 1000, .max_pending = 8, .max_record = 1 << 16, .max_pending_bytes = 4096};
static const struct dd_adapter_opts small_opts = {.max_pending = 2, .max_record = 512};

static struct dd_adapter *keep[N_FORMATS];
static struct dd_decoder *dec;
static struct dd_fieldset *fs;
static const char *const pointers[] = {"/input", "/output", "/output/usage/total_tokens",
                                       "/cloudevent/type", "/latency_ms"};
#define NPTR (sizeof(pointers) / sizeof(pointers[0]))

struct parsed {
	struct dd_header h[3];
	char keys[3][256];
	size_t n;
	struct dd_record r;
};

static void split(const uint8_t *p, size_t n, struct parsed *o)
{
	memset(o, 0, sizeof(*o));
	o->r.ts_ms = -1;
	if (n == 0) {
		o->r.value = "";
		return;
	}
	uint8_t flags = p[0];
	size_t i = 1;
	if ((flags & 8) && n - i >= 8) {
		uint64_t t = 0;
		for (int k = 0; k < 8; k++)
			t |= (uint64_t)p[i + (size_t)k] << (8 * k);
		o->r.ts_ms = (int64_t)t;
		i += 8;
	}
	for (size_t h = 0; h < (size_t)(flags & 3) && i < n; h++) {
		size_t kl = p[i++];
		if (kl > n - i)
			kl = n - i;
		memcpy(o->keys[h], p + i, kl);
		o->keys[h][kl] = '\0'; /* a key with NUL inside is just shorter */
		i += kl;
		o->h[h].key = o->keys[h];
		if (i < n) {
			size_t vl = p[i++];
			if (vl == 255) {
				o->h[h].value = NULL;
			} else {
				if (vl > n - i)
					vl = n - i;
				o->h[h].value = p + i;
				o->h[h].len = vl;
				i += vl;
			}
		}
		o->n = h + 1;
	}
	o->r.headers = o->h;
	o->r.n_headers = o->n;
	o->r.value = (flags & 4) ? NULL : (const char *)p + i;
	o->r.len = (flags & 4) ? 0 : n - i;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ull;
}

/* Adapt r with a, check the invariants, return a digest of the answer. */
static uint64_t run(struct dd_adapter *a, const struct dd_adapter_opts *o,
                    const struct dd_record *r)
{
	const char *out = (const char *)1;
	size_t len = 12345;
	enum dd_adapt_reject why = DD_ADAPT__MAX;
	int rc = dd_adapt(a, r, &out, &len, &why);
	uint64_t h = mix(0xcbf29ce484222325ull, (uint64_t)(int64_t)rc);
	h = mix(h, (uint64_t)why);
	CHECK(why < DD_ADAPT__MAX);
	CHECK(strcmp(dd_adapt_reject_name(why), "unknown") != 0);
	if (rc < 0) {
		CHECK(out == NULL && len == 0);
		CHECK(why != DD_ADAPT_OK);
		CHECK(rc == (why == DD_ADAPT_TOMBSTONE   ? -ENODATA
		             : why == DD_ADAPT_TOO_LARGE ? -E2BIG
		                                         : -EBADMSG));
		if (why == DD_ADAPT_TOMBSTONE)
			CHECK(r->value == NULL);
		return h;
	}
	CHECK(rc == 0 && why == DD_ADAPT_OK);
	CHECK(r->value != NULL);
	if (len == 0)
		return h; /* a half waiting for its partner */
	CHECK(out != NULL && len <= o->max_record);
	bool passthrough = out == r->value;
	if (passthrough)
		CHECK(len == r->len);
	for (size_t i = 0; i < len; i++)
		h = mix(h, (unsigned char)out[i]);
	if (!passthrough) {
		struct dd_meta m;
		struct driftd_value v[NPTR];
		enum dd_reject dwhy = DD_REJECT__MAX;
		int drc = dd_decode(dec, fs, out, len, &m, v, &dwhy);
		CHECK(drc == 0 || (dwhy != DD_REJECT_SYNTAX && dwhy != DD_REJECT_NOT_OBJECT &&
		                   dwhy != DD_REJECT_TOO_LARGE));
	}
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dec) {
		if (dd_decoder_new(NULL, &dec) < 0 || dd_fieldset_new(pointers, NPTR, &fs) < 0)
			abort();
		for (int f = 0; f < N_FORMATS; f++)
			if (dd_adapter_new((enum dd_format)f, &keep_opts, &keep[f]) < 0)
				abort();
	}
	struct parsed p;
	split(data, size, &p);
	for (int f = 0; f < N_FORMATS; f++) {
		run(keep[f], &keep_opts, &p.r);
		struct dd_adapter_stats st;
		dd_adapter_stats(keep[f], &st);
		CHECK(st.pending <= keep_opts.max_pending);
		if (p.r.ts_ms >= 0)
			dd_adapter_expire(keep[f], p.r.ts_ms);

		struct dd_adapter *a, *b;
		CHECK(dd_adapter_new((enum dd_format)f, &small_opts, &a) == 0);
		CHECK(dd_adapter_new((enum dd_format)f, &small_opts, &b) == 0);
		uint64_t x = run(a, &small_opts, &p.r);
		CHECK(run(b, &small_opts, &p.r) == x);
		dd_adapter_free(a);
		dd_adapter_free(b);
	}
	return 0;
}
