/* js against scipy.spatial.distance.jensenshannon over numpy histograms
 * (tests/oracle/gen_js.py -> data/js.json), through the suite shared by the binned detectors
 * (binned_suite.h), plus the base parameter. */
#define BINNED_NAME          "js"
#define BINNED_SCORE_KEY     "score"
#define BINNED_EMPTY_DEFAULT 2 /* none */
#define BINNED_HAS_NONE      1

static void test_js_base(void **unused);
#define BINNED_EXTRA_TESTS cmocka_unit_test(test_js_base),

#include "binned_suite.h"

/* base e by default (Evidently), "2" as NannyML: the distance scales by 1 / sqrt(ln 2) and
 * reaches sqrt(ln 2), respectively 1, for disjoint histograms. */
static void test_js_base(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	void *cfg = defaults();
	assert_true(dd_param_get(dd_param_find(o, "base"), cfg) == 0);
	assert_int_equal(dd_param_set_choice(o, cfg, "base", "10"), -EINVAL);
	assert_int_equal(dd_param_set_number(o, cfg, "base", 2), -EINVAL);
	void *cfg2 = defaults();
	assert_int_equal(dd_param_set_choice(o, cfg2, "base", "2"), 0);
	assert_true(dd_param_get(dd_param_find(o, "base"), cfg2) == 1);
	int bad = 2;
	void *cfgx = defaults();
	memcpy((char *)cfgx + dd_param_find(o, "base")->offset, &bad, sizeof(bad));
	const char *why = NULL;
	assert_int_equal(o->check_config(cfgx, &why), -EINVAL);
	free(cfgx);

	double score[2][2];
	for (int k = 0; k < 2; k++) {
		for (int disjoint = 0; disjoint < 2; disjoint++) {
			struct dd_instance *in = new_instance(k ? cfg2 : cfg, 100);
			for (int i = 0; i < 100; i++)
				assert_int_equal(dd_instance_reference_number(in, i), 0);
			assert_int_equal(in->ops->reference_done(&in->ctx), 0);
			for (int i = 0; i < 50; i++)
				assert_int_equal(dd_instance_update_number(
				                     in, disjoint ? 1000.0 + i : i * 0.5 + 20),
				                 0);
			struct driftd_verdict v;
			assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
			score[k][disjoint] = v.score;
			dd_instance_free(in);
		}
	}
	assert_true(fabs(score[0][0] / score[1][0] - sqrt(log(2.0))) <= 1e-15);
	/* disjoint under clamp: the window sits in the top bin, 10 % of the reference */
	assert_true(score[0][1] < sqrt(log(2.0)));
	assert_true(fabs(score[0][1] / score[1][1] - sqrt(log(2.0))) <= 1e-15);
	free(cfg);
	free(cfg2);
}
