/* kl against scipy.stats.entropy over numpy histograms (tests/oracle/gen_kl.py -> data/kl.json),
 * through the suite shared by the binned detectors (binned_suite.h). */
#define BINNED_NAME          "kl"
#define BINNED_SCORE_KEY     "score"
#define BINNED_EMPTY_DEFAULT 0 /* epsilon */
#define BINNED_HAS_NONE      0

static void test_kl_direction(void **unused);
#define BINNED_EXTRA_TESTS cmocka_unit_test(test_kl_direction),

#include "binned_suite.h"

/* D(ref || cur) is not symmetric: a reference with mass where the window has none (and the
 * window's mass inside one reference bin) weighs by the reference's proportions. */
static void test_kl_direction(void **unused)
{
	void *cfg = defaults();
	assert_int_equal(dd_param_set_number(ops(), cfg, "bins", 2), 0);
	struct dd_instance *in = new_instance(cfg, 4);
	static const double ref[] = {0, 1, 2, 3}; /* edge 1.5: bins (-inf, 1.5), [1.5, inf) */
	for (int i = 0; i < 4; i++)
		assert_int_equal(dd_instance_reference_number(in, ref[i]), 0);
	assert_int_equal(in->ops->reference_done(&in->ctx), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(dd_instance_update_number(in, 0.0), 0);
	assert_int_equal(dd_instance_update_number(in, 3.0), 0);
	struct driftd_verdict v;
	assert_int_equal(in->ops->evaluate(&in->ctx, &v), 0);
	/* p = (1/2, 1/2), q = (3/4, 1/4): D(p || q) = 1/2 ln(2/3) + 1/2 ln 2 = 1/2 ln(4/3). */
	assert_true(fabs(v.score - 0.5 * log(4.0 / 3.0)) <= 1e-15);
	dd_instance_free(in);
	free(cfg);
}
