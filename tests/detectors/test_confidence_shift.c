/* confidence_shift: each reduction (max probability, entropy, margin) fed through the detector
 * gives exactly the verdict of `ks` fed with the same reduced values computed here (ks itself
 * is checked against scipy in test_ks.c); a backdoor-like shift to certain answers is found,
 * with the direction in the evidence; impossible probabilities are refused. */
#include "sec_common.h"

static uint64_t rng = 31337;
static double unit(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) * 0x1.0p-53;
}

#define K 4

/* A probability vector: softmax of random logits, sharper with `temp` small. */
static void probs(double *p, double temp)
{
	double s = 0;
	for (int i = 0; i < K; i++)
		s += p[i] = exp((unit() * 4 - 2) / temp);
	for (int i = 0; i < K; i++)
		p[i] /= s;
}

static double reduce(const double *p, int which)
{
	double top = -1, second = -1, h = 0;
	for (int i = 0; i < K; i++) {
		if (p[i] > top) {
			second = top;
			top = p[i];
		} else if (p[i] > second) {
			second = p[i];
		}
		if (p[i] > 0)
			h -= p[i] * log(p[i]);
	}
	return which == 0 ? top : which == 1 ? h : top - second;
}

static void run(int which)
{
	static const char *const names[] = {"max_prob", "entropy", "margin"};
	const struct driftd_detector_ops *cs = driftd_detector_find("confidence_shift"),
	                                 *ks = driftd_detector_find("ks");
	void *cfg = sec_config(cs);
	assert_int_equal(dd_param_set_choice(cs, cfg, "statistic", names[which]), 0);
	struct driftd_shape shape = {.reference_size = 300, .window_size = 100, .seed = 1};
	struct dd_instance *a = NULL, *b = NULL;
	assert_int_equal(dd_instance_new(cs, cfg, &shape, &a), 0);
	assert_int_equal(dd_instance_new(ks, NULL, &shape, &b), 0);
	double p[K];
	for (int i = 0; i < 300; i++) {
		probs(p, 1.0);
		struct driftd_value v = {.type = DRIFTD_VALUE_VECTOR, .vec = p, .dim = K};
		assert_int_equal(cs->reference_add(&a->ctx, &v), 0);
		assert_int_equal(dd_instance_reference_number(b, reduce(p, which)), 0);
	}
	assert_int_equal(cs->reference_done(&a->ctx), 0);
	assert_int_equal(ks->reference_done(&b->ctx), 0);
	bool found = false;
	for (int w = 0; w < 6; w++) {
		for (int i = 0; i < 100; i++) {
			probs(p, w < 3 ? 1.0 : 0.2); /* from window 3: near-certain answers */
			struct driftd_value v = {.type = DRIFTD_VALUE_VECTOR, .vec = p, .dim = K};
			assert_int_equal(cs->update(&a->ctx, &v), 0);
			assert_int_equal(dd_instance_update_number(b, reduce(p, which)), 0);
		}
		struct driftd_verdict x = {0}, y = {0};
		assert_int_equal(cs->evaluate(&a->ctx, &x), 0);
		assert_int_equal(ks->evaluate(&b->ctx, &y), 0);
		cs->window_reset(&a->ctx);
		ks->window_reset(&b->ctx);
		assert_true(x.score == y.score);
		assert_true(x.p_value == y.p_value);
		if (w < 3)
			assert_false(x.drift); /* alpha 0.001 */
		if (x.drift) {
			found = true;
			double rm = sec_num(&x, "confidence.reference_mean");
			double wm = sec_num(&x, "confidence.window_mean");
			/* certain answers: max_prob and margin up, entropy down */
			assert_true(which == 1 ? wm < rm : wm > rm);
			assert_string_equal(sec_str(&x, "confidence.statistic"), names[which]);
		}
	}
	assert_true(found);
	/* impossible inputs */
	double bad[2] = {0.5, -0.1};
	struct driftd_value v = {.type = DRIFTD_VALUE_VECTOR, .vec = bad, .dim = 2};
	assert_int_equal(cs->update(&a->ctx, &v), -EDOM);
	v.dim = 0;
	assert_int_equal(cs->update(&a->ctx, &v), -EDOM);
	struct driftd_value s = sec_text("x");
	assert_int_equal(cs->update(&a->ctx, &s), -EDOM);
	dd_instance_free(a);
	dd_instance_free(b);
	free(cfg);
}

static void test_max_prob(void **unused)
{
	run(0);
}
static void test_entropy(void **unused)
{
	run(1);
}
static void test_margin(void **unused)
{
	run(2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_max_prob),
	    cmocka_unit_test(test_entropy),
	    cmocka_unit_test(test_margin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
