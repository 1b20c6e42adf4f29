/* Monitor groups: Bonferroni and Benjamini-Hochberg decisions per round, rounds formed by
 * arrival order, members running ahead, NaN p-values. (Adjusted p-values are compared with
 * scipy.stats.false_discovery_control end to end in tests/scenarios/e2e_replay.py.) */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "group.h"

static struct dd_held held(double p, uint64_t index)
{
	return (struct dd_held){.v = {.p_value = p}, .at = {.index = index}};
}

static void test_bh_round(void **unused)
{
	struct dd_group_conf gc = {
	    .name = (char *)"g", .correction = DD_CORRECTION_BH, .alpha = 0.05};
	const size_t members[] = {3, 5, 7, 9};
	struct dd_group *g;
	assert_int_equal(dd_group_new(&gc, members, 4, &g), 0);
	struct dd_decided out[4 * (DD_GROUP_MAX_PENDING + 1)];
	struct dd_held h = held(0.01, 10);
	assert_int_equal(dd_group_offer(g, 3, &h, out), 0);
	h = held(0.04, 11);
	assert_int_equal(dd_group_offer(g, 5, &h, out), 0);
	h = held(0.03, 12);
	assert_int_equal(dd_group_offer(g, 7, &h, out), 0);
	h = held(0.5, 13);
	assert_int_equal(dd_group_offer(g, 42, &h, out), 0); /* not a member: ignored */
	assert_int_equal(dd_group_offer(g, 9, &h, out), 4);
	/* sorted p: .01 .03 .04 .5 -> adjusted: min(.04, .04, .0533, .5) = .04 .0533 .0533 .5 */
	double want_q[10] = {0};
	want_q[3] = 0.04, want_q[7] = 0.04 * 4 / 3, want_q[5] = 0.04 * 4 / 3, want_q[9] = 0.5;
	for (int k = 0; k < 4; k++) {
		size_t mon = out[k].monitor;
		assert_true(fabs(out[k].p_adjusted - want_q[mon]) < 1e-15);
		assert_int_equal(out[k].held.v.drift, mon == 3);
	}
	dd_group_free(g);
}

static void test_bonferroni_and_nan(void **unused)
{
	struct dd_group_conf gc = {
	    .name = (char *)"g", .correction = DD_CORRECTION_BONFERRONI, .alpha = 0.1};
	const size_t members[] = {0, 1};
	struct dd_group *g;
	assert_int_equal(dd_group_new(&gc, members, 2, &g), 0);
	struct dd_decided out[2 * (DD_GROUP_MAX_PENDING + 1)];
	struct dd_held h = held(0.049, 1);
	dd_group_offer(g, 0, &h, out);
	h = held((double)NAN, 1);
	assert_int_equal(dd_group_offer(g, 1, &h, out), 2);
	for (int k = 0; k < 2; k++) {
		assert_true(out[k].held.v.threshold == 0.05);
		if (out[k].monitor == 0) {
			assert_true(out[k].held.v.drift);
			assert_true(fabs(out[k].p_adjusted - 0.098) < 1e-15);
		} else {
			assert_false(out[k].held.v.drift);
			assert_true(isnan(out[k].p_adjusted));
		}
	}
	dd_group_free(g);
}

static void test_member_running_ahead(void **unused)
{
	struct dd_group_conf gc = {
	    .name = (char *)"g", .correction = DD_CORRECTION_BH, .alpha = 0.05};
	const size_t members[] = {0, 1};
	struct dd_group *g;
	assert_int_equal(dd_group_new(&gc, members, 2, &g), 0);
	struct dd_decided out[2 * (DD_GROUP_MAX_PENDING + 1)];
	/* member 0 produces DD_GROUP_MAX_PENDING verdicts while member 1 is silent: held */
	for (int k = 0; k < DD_GROUP_MAX_PENDING; k++) {
		struct dd_held h = held(0.001, (uint64_t)k);
		assert_int_equal(dd_group_offer(g, 0, &h, out), 0);
	}
	/* one more forces the oldest round alone (m = 1) */
	struct dd_held h = held(0.001, 99);
	assert_int_equal(dd_group_offer(g, 0, &h, out), 1);
	assert_int_equal(out[0].held.at.index, 0);
	assert_true(out[0].held.v.drift);
	/* member 1 arrives: pairs with member 0's second verdict (index 1) */
	h = held(0.9, 500);
	assert_int_equal(dd_group_offer(g, 1, &h, out), 2);
	for (int k = 0; k < 2; k++)
		if (out[k].monitor == 0)
			assert_int_equal(out[k].held.at.index, 1);
	dd_group_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bh_round),
	    cmocka_unit_test(test_bonferroni_and_nan),
	    cmocka_unit_test(test_member_running_ahead),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
