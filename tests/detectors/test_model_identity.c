/* model_identity: inventory matching (id, version, hash; empty columns match anything; hashes
 * case-insensitive), trust on first use, the hold period, evidence, snapshots. */
#include "sec_common.h"

static const struct driftd_detector_ops *ops(void)
{
	return driftd_detector_find("model_identity");
}

static const char *const inv_items[] = {
    "fraud", "3.2.0", "ABCD", /* pinned hash */
    "fraud", "3.3.0", "",     /* any hash */
    "chat",  "",      "",     /* any version */
};

static void *inv_config(int64_t hold)
{
	void *cfg = sec_config(ops());
	struct driftd_list l = {.items = inv_items, .n = 3, .cols = 3};
	assert_int_equal(dd_param_set_list(ops(), cfg, "inventory", &l), 0);
	assert_int_equal(dd_param_set_number(ops(), cfg, "hold", (double)hold), 0);
	return cfg;
}

static void test_list_param_width(void **unused)
{
	void *cfg = sec_config(ops());
	struct driftd_list l = {.items = inv_items, .n = 1, .cols = 1};
	assert_int_equal(dd_param_set_list(ops(), cfg, "inventory", &l), -EINVAL);
	assert_int_equal(dd_param_set_number(ops(), cfg, "inventory", 1), -EINVAL);
	free(cfg);
}

static void test_inventory(void **unused)
{
	void *cfg = inv_config(1);
	struct dd_instance *in = sec_new(ops(), cfg);
	struct driftd_verdict v;
	struct {
		const char *model, *version, *sha;
		bool breach;
		const char *reason;
	} cases[] = {
	    {"fraud", "3.2.0", "abcd", false, NULL}, /* case-insensitive hash */
	    {"fraud", "3.2.0", "ABCD", false, NULL},
	    {"fraud", "3.3.0", "ffff", false, NULL},
	    {"chat", "9", NULL, false, NULL},
	    {"fraud", "3.2.0", "beef", true, "sha256 not in inventory"},
	    {"fraud", "3.2.0", NULL, true, "sha256 missing"},
	    {"fraud", "4.0.0", "abcd", true, "version not in inventory"},
	    {"shadow", "1", "abcd", true, "unknown model id"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* a clean event between cases lets hold=1 expire */
		struct sec_ev ok = {.model = "chat", .value = {.type = DRIFTD_VALUE_NONE}};
		assert_int_equal(sec_feed(in, &ok, &v), 0);
		assert_int_equal(sec_feed(in, &ok, &v), 0);
		assert_false(v.drift);
		struct sec_ev e = {.model = cases[i].model,
		                   .version = cases[i].version,
		                   .sha = cases[i].sha,
		                   .value = {.type = DRIFTD_VALUE_NONE}};
		assert_int_equal(sec_feed(in, &e, &v), 0);
		if (v.drift != cases[i].breach)
			fail_msg("case %zu: drift %d", i, v.drift);
		if (!cases[i].breach) {
			assert_null(v.evidence);
			continue;
		}
		assert_string_equal(sec_str(&v, "identity.reason"), cases[i].reason);
		assert_string_equal(sec_str(&v, "model.seen_id"), cases[i].model);
		assert_string_equal(sec_str(&v, "model.sha256"), cases[i].sha ? cases[i].sha : "");
		assert_non_null(strstr(v.evidence->what, cases[i].model));
	}
	dd_instance_free(in);
	free(cfg);
}

static void test_require_sha256_off(void **unused)
{
	void *cfg = inv_config(1);
	assert_int_equal(dd_param_set_number(ops(), cfg, "require_sha256", 0), 0);
	struct dd_instance *in = sec_new(ops(), cfg);
	struct driftd_verdict v;
	struct sec_ev e = {.model = "fraud", .version = "3.2.0", .value = {0}};
	assert_int_equal(sec_feed(in, &e, &v), 0);
	assert_false(v.drift);
	dd_instance_free(in);
	free(cfg);
}

static void test_first_use_and_hold(void **unused)
{
	void *cfg = sec_config(ops());
	assert_int_equal(dd_param_set_number(ops(), cfg, "hold", 3), 0);
	assert_int_equal(dd_param_set_number(ops(), cfg, "max_models", 2), 0);
	struct dd_instance *in = sec_new(ops(), cfg);
	struct driftd_verdict v;
	struct sec_ev a = {.model = "fraud", .version = "1", .sha = "aa"};
	struct sec_ev b = {.model = "fraud", .version = "1", .sha = "bb"};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sec_feed(in, &a, &v), 0);
		assert_false(v.drift);
	}
	assert_int_equal(sec_feed(in, &b, &v), 0); /* the swap, event 6 */
	assert_true(v.drift);
	assert_string_equal(sec_str(&v, "identity.reason"), "sha256 changed");
	assert_string_equal(sec_str(&v, "model.expected_sha256"), "aa");
	assert_string_equal(sec_str(&v, "model.sha256"), "bb");
	/* held for 3 more events, then clean */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sec_feed(in, &a, &v), 0);
		assert_true(v.drift);
	}
	struct dd_instance *c = sec_clone(in, cfg);
	assert_int_equal(sec_feed(in, &a, &v), 0);
	assert_false(v.drift);
	assert_int_equal(sec_feed(c, &a, &v), 0);
	assert_false(v.drift);
	/* ids beyond max_models are not tracked: never a breach */
	struct sec_ev x = {.model = "x", .sha = "1"}, y = {.model = "y", .sha = "1"},
	              y2 = {.model = "y", .sha = "2"};
	assert_int_equal(sec_feed(in, &x, &v), 0);
	assert_int_equal(sec_feed(in, &y, &v), 0);
	assert_int_equal(sec_feed(in, &y2, &v), 0);
	assert_false(v.drift);
	/* an event without a model id is refused */
	struct sec_ev none = {.model = NULL};
	struct driftd_event ev = {.value = &none.value};
	assert_int_equal(in->ops->update_event(&in->ctx, &ev), -EDOM);
	dd_instance_free(in);
	dd_instance_free(c);
	free(cfg);
}

/* Ids and versions longer than the copies kept for the evidence: a model matches itself, and
 * a version that differs only past the kept prefix is still a change (review finding). */
static void test_first_use_long_strings(void **unused)
{
	void *cfg = sec_config(ops());
	assert_int_equal(dd_param_set_number(ops(), cfg, "hold", 1), 0);
	struct dd_instance *in = sec_new(ops(), cfg);
	char id[200], v1[120], v2[120];
	memset(id, 'm', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	memset(v1, 'v', sizeof(v1) - 1);
	v1[sizeof(v1) - 1] = '\0';
	memcpy(v2, v1, sizeof(v1));
	v2[sizeof(v2) - 2] = 'X'; /* differs in the last byte, far past the kept 63 */
	struct sec_ev a = {.model = id, .version = v1, .sha = "aa"};
	struct sec_ev b = {.model = id, .version = v2, .sha = "aa"};
	struct driftd_verdict v;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sec_feed(in, &a, &v), 0);
		assert_false(v.drift);
	}
	assert_int_equal(sec_feed(in, &b, &v), 0);
	assert_true(v.drift);
	assert_string_equal(sec_str(&v, "identity.reason"), "version changed");
	dd_instance_free(in);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_param_width),
	    cmocka_unit_test(test_inventory),
	    cmocka_unit_test(test_require_sha256_off),
	    cmocka_unit_test(test_first_use_and_hold),
	    cmocka_unit_test(test_first_use_long_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
