/* label_flip: one feedback source flipping labels is named (its own reference, and a source
 * first seen after the reference against the pooled one); honest sources with ordinary
 * disagreement never breach; events without feedback are not tested. */
#include "sec_common.h"

static const struct driftd_detector_ops *ops(void)
{
	return driftd_detector_find("label_flip");
}

static uint64_t rng = 4242;
static double unit(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) * 0x1.0p-53;
}

/* Sources a0..a3 agree with the model 92% of the time; from `from`, `bad` flips 60% of its
 * labels. 30% of events carry no feedback. */
static long run(struct dd_instance *in, long n, long from, const char *bad, const char **named)
{
	long first = -1;
	for (long i = 0; i < n; i++) {
		char src[16];
		snprintf(src, sizeof(src), "a%d", (int)(unit() * 4));
		bool flipper = bad && i >= from && unit() < 0.25;
		if (flipper)
			snprintf(src, sizeof(src), "%s", bad);
		const char *pred = unit() < 0.5 ? "cat" : "dog";
		double flip = flipper ? 0.6 : 0.08;
		const char *fb = unit() < flip ? (strcmp(pred, "cat") == 0 ? "dog" : "cat") : pred;
		struct driftd_value aux[2] = {sec_text(fb), sec_text(src)};
		if (unit() < 0.3)
			aux[0] = (struct driftd_value){.type = DRIFTD_VALUE_NONE};
		struct sec_ev e = {.value = sec_text(pred), .aux = aux, .n_aux = 2};
		struct driftd_verdict v;
		assert_int_equal(sec_feed(in, &e, &v), 0);
		if (v.drift && first < 0) {
			first = i;
			*named = sec_str(&v, "feedback.source");
			assert_true(sec_num(&v, "disagreement.window") >
			            sec_num(&v, "disagreement.reference") + 0.2);
		}
	}
	return first;
}

static void test_clean(void **unused)
{
	void *cfg = sec_config(ops());
	struct dd_instance *in = sec_new(ops(), cfg);
	const char *named = NULL;
	assert_int_equal(run(in, 60000, 0, NULL, &named), -1);
	dd_instance_free(in);
	free(cfg);
}

static void test_flipping_source(void **unused)
{
	void *cfg = sec_config(ops());
	struct dd_instance *in = sec_new(ops(), cfg);
	const char *named = NULL;
	long first = run(in, 12000, 8000, "a2", &named); /* a known source turns bad */
	assert_true(first >= 8000 && first < 8000 + 800);
	assert_string_equal(named, "a2");
	struct dd_instance *c = sec_clone(in, cfg);
	dd_instance_free(c);
	dd_instance_free(in);
	in = sec_new(ops(), cfg);
	first = run(in, 12000, 8000, "newcomer", &named); /* a new source, bad from the start */
	assert_true(first >= 8000 && first < 8000 + 800);
	assert_string_equal(named, "newcomer");
	dd_instance_free(in);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clean),
	    cmocka_unit_test(test_flipping_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
