/* client_rate: a flooding client is named within a block or two of its start, steady and
 * skewed-but-stable populations never alarm, the alarm resolves after the flood, the table
 * stays bounded (overflow bucket), snapshots round-trip. */
#include "sec_common.h"

static const struct driftd_detector_ops *ops(void)
{
	return driftd_detector_find("client_rate");
}

static uint64_t rng = 88172645463325252ull;
static double unit(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) * 0x1.0p-53;
}

/* Feed n events; clients from pick(); returns the first index with drift (or -1). */
static long run(struct dd_instance *in, long from, long n, const char *(*pick)(long),
                long *last_drift, const char **named)
{
	long first = -1;
	for (long i = from; i < from + n; i++) {
		const char *c = pick(i);
		struct sec_ev e = {.value = sec_text(c), .ts = 1000 * i};
		struct driftd_verdict v;
		assert_int_equal(sec_feed(in, &e, &v), 0);
		if (v.drift) {
			if (first < 0) {
				first = i;
				if (named)
					*named = sec_str(&v, "client.id");
				assert_true(v.score > v.threshold);
			}
			if (last_drift)
				*last_drift = i;
		}
	}
	return first;
}

static char buf[32];
static const char *steady(long i)
{
	(void)i;
	snprintf(buf, sizeof(buf), "c%d", (int)(unit() * 10));
	return buf;
}
static const char *skewed(long i)
{
	(void)i;
	double u = unit();
	if (u < 0.4)
		return "big"; /* a legitimately heavy client, always */
	snprintf(buf, sizeof(buf), "c%d", (int)(unit() * 10));
	return buf;
}
static const char *flood(long i)
{
	(void)i;
	return unit() < 0.5 ? "attacker" : steady(i);
}
static const char *swarm(long i)
{
	snprintf(buf, sizeof(buf), "one-off-%ld", i);
	return buf;
}

static void test_flood_named_and_resolved(void **unused)
{
	void *cfg = sec_config(ops());
	struct dd_instance *in = sec_new(ops(), cfg);
	long last = -1;
	const char *named = NULL;
	assert_int_equal(run(in, 0, 3000, steady, NULL, NULL), -1);
	long first = run(in, 3000, 500, flood, &last, &named);
	/* the first block end after the start: event 3099 */
	assert_int_equal(first, 3099);
	assert_string_equal(named, "attacker");
	struct dd_instance *c = sec_clone(in, cfg);
	/* after the flood: resolved within a few blocks, and stays clean */
	last = -1;
	run(in, 3500, 3000, steady, &last, NULL);
	assert_true(last >= 3500 && last < 3500 + 600);
	long last_c = -1;
	rng = 5; /* the clone gets other traffic: it must also calm down */
	run(c, 3500, 3000, steady, &last_c, NULL);
	assert_true(last_c < 3500 + 600);
	dd_instance_free(in);
	dd_instance_free(c);
	free(cfg);
}

static void test_no_false_alarm(void **unused)
{
	void *cfg = sec_config(ops());
	struct dd_instance *in = sec_new(ops(), cfg);
	assert_int_equal(run(in, 0, 50000, steady, NULL, NULL), -1);
	dd_instance_free(in);
	in = sec_new(ops(), cfg);
	assert_int_equal(run(in, 0, 50000, skewed, NULL, NULL), -1);
	dd_instance_free(in);
	free(cfg);
}

static void test_bounded_table(void **unused)
{
	void *cfg = sec_config(ops());
	assert_int_equal(dd_param_set_number(ops(), cfg, "max_clients", 16), 0);
	struct dd_instance *in = sec_new(ops(), cfg);
	assert_int_equal(run(in, 0, 2000, steady, NULL, NULL), -1);
	/* 5000 distinct one-off clients: the table stays at 16, evictions go to overflow */
	long last = -1;
	const char *named = NULL;
	long first = run(in, 2000, 5000, swarm, &last, &named);
	(void)first;
	struct driftd_buf b = {0};
	assert_int_equal(in->ops->snapshot(&in->ctx, &b), 0);
	/* bounded: 16 clients + overflow, whatever the number of ids seen */
	assert_true(b.len < 17 * (8 + 8 + 64 + 8 + 64) + 200);
	driftd_buf_free(&b);
	dd_instance_free(in);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flood_named_and_resolved),
	    cmocka_unit_test(test_no_false_alarm),
	    cmocka_unit_test(test_bounded_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
