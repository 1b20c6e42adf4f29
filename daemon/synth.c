/* Synthetic inference traffic for the demo, the end-to-end tests and the benchmark: a fraud
 * scorer with several input features, a score and a label, many clients, and an optional
 * poisoning episode during which `amount` and `score` shift. Deterministic for a seed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "decode.h"

struct rng {
	uint64_t s;
};

static uint64_t next_u64(struct rng *r)
{
	/* splitmix64: small, fast, good enough for test traffic. */
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double uniform(struct rng *r)
{
	return (double)(next_u64(r) >> 11) * 0x1.0p-53;
}

static double normal(struct rng *r)
{
	double u1 = uniform(r), u2 = uniform(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int dd_synth_write(const struct dd_synth_opts *o, FILE *out)
{
	static const char *const countries[] = {"FR", "DE", "US", "GB", "ES", "IT", "NL", "PL"};
	static const double country_w[] = {0.3, 0.2, 0.15, 0.1, 0.1, 0.07, 0.05, 0.03};
	struct rng r = {o->seed};
	const int64_t t0 = 1795780800000; /* 2026-11-27T12:00:00Z */
	/* The episode lasts a third of the stream after its start, so the demo also shows the
	 * alerts resolving. */
	unsigned long long end = o->shift + (o->n - (o->shift < o->n ? o->shift : o->n)) / 2;
	for (unsigned long long i = 0; i < o->n; i++) {
		bool poisoned = i >= o->shift && i < end;
		double amount = exp(4.0 + 0.8 * normal(&r)) * (poisoned ? 1.9 : 1.0);
		double age = 40.0 + 12.0 * normal(&r);
		double tpd = floor(fabs(3.0 + 2.0 * normal(&r)));
		double u = uniform(&r), acc = 0;
		int c = 0;
		for (; c < 7 && u > acc + country_w[c]; c++)
			acc += country_w[c];
		double z = -3.0 + 0.012 * amount - 0.01 * (age - 40) + 0.2 * tpd + 0.5 * normal(&r);
		double score = 1.0 / (1.0 + exp(-z));
		char ts[40];
		dd_format_rfc3339(t0 + (int64_t)i * 100, ts, sizeof(ts));
		int client = (int)(next_u64(&r) % 20) + 1;
		if (fprintf(
		        out,
		        "{\"ts\":\"%s\",\"model\":{\"id\":\"fraud-scorer\",\"version\":\"3.2.0\"},"
		        "\"request_id\":\"r-%llu\",\"client\":{\"id\":\"tenant-%d\"},"
		        "\"input\":{\"amount\":%.2f,\"age\":%.1f,\"txn_per_day\":%.0f,"
		        "\"country\":\"%s\"},"
		        "\"output\":{\"score\":%.4f,\"label\":\"%s\"},\"latency_ms\":%.1f}\n",
		        ts, i, client, amount, age, tpd, countries[c], score,
		        score > 0.5 ? "fraud" : "legit", 8.0 + 2.0 * fabs(normal(&r))) < 0)
			return -1;
	}
	return 0;
}
