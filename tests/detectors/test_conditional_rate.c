/* conditional_rate: a trigger value (new, or seen in the reference) that flips the class is
 * named with the class and both rates; ordinary traffic and a class-mix that stays within
 * min_effect do not breach; snapshots round-trip. */
#include "sec_common.h"

static const struct driftd_detector_ops *ops(void)
{
	return driftd_detector_find("conditional_rate");
}

static uint64_t rng = 99991;
static double unit(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) * 0x1.0p-53;
}

/* n events from i0; trigger(i) says whether event i carries the trigger; returns the first
 * breaching index (or -1) and checks the evidence there. */
static long run(struct dd_instance *in, long i0, long n, bool (*trigger)(long),
                const char *want_value)
{
	static const char *const countries[] = {"FR", "DE", "IT", "ES", "NL"};
	long first = -1;
	for (long i = i0; i < i0 + n; i++) {
		bool t = trigger(i);
		const char *country = t ? "ZZ" : countries[(int)(unit() * 5)];
		/* the model says fraud 10% of the time; the backdoor makes it say legit */
		const char *label = t ? "legit" : (unit() < 0.1 ? "fraud" : "legit");
		if (t && want_value && strcmp(want_value, "FR") == 0) {
			country = "FR";
			label = "fraud";
		}
		struct driftd_value in_v = sec_text(country);
		struct sec_ev e = {.value = sec_text(label), .aux = &in_v, .n_aux = 1};
		struct driftd_verdict v;
		assert_int_equal(sec_feed(in, &e, &v), 0);
		if (v.drift && first < 0) {
			first = i;
			if (want_value)
				assert_string_equal(sec_str(&v, "input.value"), want_value);
		}
	}
	return first;
}

static bool never(long i)
{
	(void)i;
	return false;
}
static bool new_trigger(long i)
{
	return i >= 5000 && i % 4 == 0;
}
static bool fr_trigger(long i)
{
	return i >= 5000 && i % 3 == 0;
}

static void *config(void)
{
	void *cfg = sec_config(ops());
	assert_int_equal(dd_param_set_string(ops(), cfg, "input", "/input/country"), 0);
	return cfg;
}

static void test_clean(void **unused)
{
	void *cfg = config();
	struct dd_instance *in = sec_new(ops(), cfg);
	assert_int_equal(run(in, 0, 40000, never, NULL), -1);
	dd_instance_free(in);
	free(cfg);
}

static void test_new_trigger_value(void **unused)
{
	void *cfg = config();
	struct dd_instance *in = sec_new(ops(), cfg);
	/* "ZZ" never occurs in the reference: compared with the pooled rate of "legit" (90%);
	 * 100% legit under ZZ is +10 points: below min_effect 0.2, so no breach... */
	assert_int_equal(run(in, 0, 8000, new_trigger, NULL), -1);
	dd_instance_free(in);
	free(cfg);
}

static void test_trigger_flips_class(void **unused)
{
	void *cfg = config();
	struct dd_instance *in = sec_new(ops(), cfg);
	/* "FR" with the trigger: fraud jumps from 10% to ~70% among FR events */
	long first = run(in, 0, 8000, fr_trigger, "FR");
	assert_true(first >= 5000 && first < 5000 + 150);
	struct dd_instance *c = sec_clone(in, cfg);
	struct driftd_verdict v;
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
	struct driftd_verdict w;
	assert_int_equal(c->ops->evaluate(&c->ctx, &w), 0);
	assert_int_equal(v.drift, w.drift);
	assert_true(v.score == w.score);
	if (v.drift) {
		assert_string_equal(sec_str(&v, "output.class"), "fraud");
		assert_true(sec_num(&v, "rate.window") > sec_num(&v, "rate.reference") + 0.2);
	}
	dd_instance_free(c);
	dd_instance_free(in);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clean),
	    cmocka_unit_test(test_new_trigger_value),
	    cmocka_unit_test(test_trigger_flips_class),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
