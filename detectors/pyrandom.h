/* CPython's random module, as far as detectors need it to draw the same samples as Python code
 * (River's KSWIN): the MT19937 generator seeded from a non-negative int as random.Random(seed)
 * seeds it, getrandbits(k) for k <= 32, Random._randbelow and Random.sample(range(n), k).
 * Written against CPython 3.11 (the oracle's Python). */
#ifndef DRIFTD_PYRANDOM_H
#define DRIFTD_PYRANDOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DD_PYRANDOM_N 624

struct dd_pyrandom {
	uint32_t mt[DD_PYRANDOM_N];
	uint32_t index; /* next word of mt to temper; DD_PYRANDOM_N: regenerate first */
};

/* random.Random(seed) for an int seed (all its bits are used, so 2^32 and 0 differ). */
void dd_pyrandom_seed(struct dd_pyrandom *r, uint64_t seed);

/* Whether a state (e.g. read from a snapshot) can be used: index in range and the generator's
 * 19937 significant bits not all zero (the one state MT19937 never leaves, which would make
 * sampling loop for ever). */
bool dd_pyrandom_valid(const struct dd_pyrandom *r);

/* The next 32-bit output (genrand_uint32). */
uint32_t dd_pyrandom_u32(struct dd_pyrandom *r);

/* Random._randbelow(n) for 1 <= n <= 2^31: getrandbits(n.bit_length()) until below n. */
uint32_t dd_pyrandom_randbelow(struct dd_pyrandom *r, uint32_t n);

/* Random.sample(range(n), k) into out[0..k), in selection order, for k <= n <= 2^31 - 1.
 * Python picks between tracking a pool (small n) and a set of selections (n large compared
 * with k); both are reproduced. scratch holds n words that must be zero on entry and are zero
 * again on return, so a caller allocates it once and sampling never allocates; its cost is
 * O(k) (the pool branch only runs when n = O(k)). */
void dd_pyrandom_sample(struct dd_pyrandom *r, uint32_t n, uint32_t k, uint32_t *out,
                        uint32_t *scratch);

#endif
