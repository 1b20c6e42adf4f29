/* CPython-compatible random numbers for detectors that must draw what Python draws.
 *
 * The generator is MT19937 (Matsumoto & Nishimura 1998) with its reference init_by_array
 * seeding, which is what CPython's _random module uses. CPython turns an int seed into the
 * key for init_by_array by splitting its absolute value into 32-bit words, least significant
 * first, using as many words as the value needs (one word for 0). */
#include "pyrandom.h"

#include <string.h>

#define MT_M     397
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu

static void init_genrand(struct dd_pyrandom *r, uint32_t s)
{
	r->mt[0] = s;
	for (uint32_t i = 1; i < DD_PYRANDOM_N; i++)
		r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + i;
	r->index = DD_PYRANDOM_N;
}

static void init_by_array(struct dd_pyrandom *r, const uint32_t *key, uint32_t len)
{
	uint32_t *mt = r->mt;
	uint32_t i = 1, j = 0;
	init_genrand(r, 19650218u);
	for (uint32_t k = DD_PYRANDOM_N > len ? DD_PYRANDOM_N : len; k; k--) {
		mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] + j;
		i++;
		j++;
		if (i >= DD_PYRANDOM_N) {
			mt[0] = mt[DD_PYRANDOM_N - 1];
			i = 1;
		}
		if (j >= len)
			j = 0;
	}
	for (uint32_t k = DD_PYRANDOM_N - 1; k; k--) {
		mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - i;
		i++;
		if (i >= DD_PYRANDOM_N) {
			mt[0] = mt[DD_PYRANDOM_N - 1];
			i = 1;
		}
	}
	mt[0] = 0x80000000u; /* a non-zero initial state whatever the key */
	r->index = DD_PYRANDOM_N;
}

void dd_pyrandom_seed(struct dd_pyrandom *r, uint64_t seed)
{
	uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
	init_by_array(r, key, key[1] ? 2 : 1);
}

bool dd_pyrandom_valid(const struct dd_pyrandom *r)
{
	if (r->index > DD_PYRANDOM_N)
		return false;
	if (r->mt[0] & MT_UPPER)
		return true;
	for (size_t i = 1; i < DD_PYRANDOM_N; i++)
		if (r->mt[i])
			return true;
	return false;
}

static uint32_t twist(uint32_t u, uint32_t v)
{
	uint32_t y = (u & MT_UPPER) | (v & MT_LOWER);
	return (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
}

static void regenerate(uint32_t *mt)
{
	size_t k;
	for (k = 0; k < DD_PYRANDOM_N - MT_M; k++)
		mt[k] = mt[k + MT_M] ^ twist(mt[k], mt[k + 1]);
	for (; k < DD_PYRANDOM_N - 1; k++)
		mt[k] = mt[k + MT_M - DD_PYRANDOM_N] ^ twist(mt[k], mt[k + 1]);
	mt[DD_PYRANDOM_N - 1] = mt[MT_M - 1] ^ twist(mt[DD_PYRANDOM_N - 1], mt[0]);
}

uint32_t dd_pyrandom_u32(struct dd_pyrandom *r)
{
	if (r->index >= DD_PYRANDOM_N) {
		regenerate(r->mt);
		r->index = 0;
	}
	uint32_t y = r->mt[r->index++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	y ^= y >> 18;
	return y;
}

uint32_t dd_pyrandom_randbelow(struct dd_pyrandom *r, uint32_t n)
{
	/* k = n.bit_length() (not that of n - 1, so a power of two wastes half the draws, as in
	 * Python); getrandbits(k) keeps the top k bits of one output. */
	int k = 32 - __builtin_clz(n);
	uint32_t v;
	do
		v = dd_pyrandom_u32(r) >> (32 - k);
	while (v >= n);
	return v;
}

/* Python's threshold between the two strategies: an n-entry list is used while it is no larger
 * than a k-entry set would be (setsize = 21 + 4^ceil(log4(3k)) for k > 5). The exponent is
 * found in integers: 3k is never a power of 4, so this equals the floating-point ceil(log()). */
static uint64_t set_size(uint32_t k)
{
	uint64_t size = 21;
	if (k > 5) {
		uint64_t p = 1;
		while (p < 3 * (uint64_t)k)
			p *= 4;
		size += p;
	}
	return size;
}

void dd_pyrandom_sample(struct dd_pyrandom *r, uint32_t n, uint32_t k, uint32_t *out,
                        uint32_t *scratch)
{
	if (n <= set_size(k)) {
		/* Partial Fisher-Yates over a pool; the last unpicked entry fills each hole. */
		uint32_t *pool = scratch;
		for (uint32_t i = 0; i < n; i++)
			pool[i] = i;
		for (uint32_t i = 0; i < k; i++) {
			uint32_t j = dd_pyrandom_randbelow(r, n - i);
			out[i] = pool[j];
			pool[j] = pool[n - i - 1];
		}
		memset(pool, 0, (size_t)n * sizeof(*pool));
		return;
	}
	/* Rejection against the selections so far (Python keeps them in a set; here a mark per
	 * candidate, cleared again afterwards). */
	for (uint32_t i = 0; i < k; i++) {
		uint32_t j = dd_pyrandom_randbelow(r, n);
		while (scratch[j])
			j = dd_pyrandom_randbelow(r, n);
		scratch[j] = 1;
		out[i] = j;
	}
	for (uint32_t i = 0; i < k; i++)
		scratch[out[i]] = 0;
}
