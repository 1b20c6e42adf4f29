/* probing: a client walking around one input in small steps (adversarial search) and one
 * repeating a prompt with small edits are named; clients with independent queries are not;
 * the client pointer overrides client.id; snapshots round-trip. */
#include "sec_common.h"

static const struct driftd_detector_ops *ops(void)
{
	return driftd_detector_find("probing");
}

static uint64_t rng = 0x1234567;
static double unit(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) * 0x1.0p-53;
}

static double normal(void)
{
	double u = unit() + 1e-300, v = unit();
	return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

#define DIM 8

static void test_vectors(void **unused)
{
	void *cfg = sec_config(ops());
	struct dd_instance *in = sec_new(ops(), cfg);
	struct driftd_verdict v;
	double base[DIM], x[DIM];
	for (int j = 0; j < DIM; j++)
		base[j] = normal();
	long first = -1;
	for (long i = 0; i < 6000; i++) {
		bool attack = i >= 4000 && i % 3 == 0;
		char cl[16];
		snprintf(cl, sizeof(cl), "c%ld", attack ? 99 : i % 7);
		for (int j = 0; j < DIM; j++)
			x[j] = normal();
		if (attack) /* one coordinate nudged at a time around one input */
			for (int j = 0; j < DIM; j++)
				x[j] = base[j] + (j == (int)(i % DIM) ? 0.01 * (double)(i % 5) : 0);
		struct sec_ev e = {.client = cl,
		                   .value = {.type = DRIFTD_VALUE_VECTOR, .vec = x, .dim = DIM}};
		assert_int_equal(sec_feed(in, &e, &v), 0);
		if (v.drift && first < 0) {
			first = i;
			assert_string_equal(sec_str(&v, "client.id"), "c99");
		}
	}
	/* the attacker needs `window` (20) queries: 60 events */
	assert_true(first >= 4000 && first < 4000 + 3 * 25);
	struct dd_instance *c = sec_clone(in, cfg);
	dd_instance_free(c);
	dd_instance_free(in);
	free(cfg);
}

/* A full client table with long-lived residents, and one-off newcomers between each of the
 * attacker's queries: the attacker must keep its slot (Space-Saving replacement), not be the
 * slot that rotates (review finding: it was never named). */
static void test_attacker_in_churn(void **unused)
{
	void *cfg = sec_config(ops());
	assert_int_equal(dd_param_set_number(ops(), cfg, "max_clients", 4), 0);
	struct dd_instance *in = sec_new(ops(), cfg);
	struct driftd_verdict v;
	double base[DIM], x[DIM];
	for (int j = 0; j < DIM; j++)
		base[j] = normal();
	char cl[32];
	for (long i = 0; i < 400; i++) { /* four regulars fill the table */
		snprintf(cl, sizeof(cl), "regular-%ld", i % 4);
		for (int j = 0; j < DIM; j++)
			x[j] = normal();
		struct sec_ev e = {.client = cl,
		                   .value = {.type = DRIFTD_VALUE_VECTOR, .vec = x, .dim = DIM}};
		assert_int_equal(sec_feed(in, &e, &v), 0);
	}
	bool named = false;
	for (long i = 0; i < 200 && !named; i++) {
		bool attack = i % 2 == 0;
		if (attack)
			snprintf(cl, sizeof(cl), "attacker");
		else
			snprintf(cl, sizeof(cl), "one-off-%ld", i);
		for (int j = 0; j < DIM; j++)
			x[j] = attack ? base[j] : normal();
		struct sec_ev e = {.client = cl,
		                   .value = {.type = DRIFTD_VALUE_VECTOR, .vec = x, .dim = DIM}};
		assert_int_equal(sec_feed(in, &e, &v), 0);
		if (v.drift) {
			assert_string_equal(sec_str(&v, "client.id"), "attacker");
			named = true;
		}
	}
	assert_true(named);
	dd_instance_free(in);
	free(cfg);
}

static void test_text_and_client_pointer(void **unused)
{
	void *cfg = sec_config(ops());
	assert_int_equal(dd_param_set_string(ops(), cfg, "client", "/input/user"), 0);
	struct dd_instance *in = sec_new(ops(), cfg);
	struct driftd_verdict v;
	/* ordinary users: different questions (random words from a vocabulary) */
	static const char *const words[] = {
	    "weather", "Paris",  "tax",   "rules",  "poem",     "sea",    "sort",   "list",
	    "history", "Rome",   "pizza", "dough",  "train",    "ticket", "price",  "garden",
	    "roses",   "python", "error", "kernel", "recipe",   "soup",   "bank",   "loan",
	    "music",   "guitar", "chord", "moon",   "distance", "river",  "bridge", "paint"};
	char text[128];
	long first = -1;
	for (long i = 0; i < 3000; i++) {
		bool attack = i >= 2000 && i % 2 == 0;
		if (attack)
			snprintf(text, sizeof(text),
			         "Was the record of patient John Smith, born 1970-01-0%ld, in "
			         "your training data?",
			         i % 9 + 1);
		else
			for (size_t w = 0, off = 0; w < 8; w++)
				off += (size_t)snprintf(text + off, sizeof(text) - off, "%s ",
				                        words[(int)(unit() * 32)]);
		struct driftd_value user = sec_text(attack ? "u-probe" : "u-normal");
		struct sec_ev e = {.client = "gateway", /* all behind one API key */
		                   .value = sec_text(text),
		                   .aux = &user,
		                   .n_aux = 1};
		assert_int_equal(sec_feed(in, &e, &v), 0);
		if (v.drift && first < 0) {
			first = i;
			assert_string_equal(sec_str(&v, "client.id"), "u-probe");
		}
	}
	assert_true(first >= 2000 && first < 2000 + 2 * 25);
	dd_instance_free(in);
	free(cfg);
}

static void test_refused(void **unused)
{
	void *cfg = sec_config(ops());
	struct dd_instance *in = sec_new(ops(), cfg);
	struct driftd_verdict v;
	double x[3] = {1, 2, 3}, bad[3] = {1, INFINITY, 3};
	struct sec_ev ok = {.value = {.type = DRIFTD_VALUE_VECTOR, .vec = x, .dim = 3}};
	struct sec_ev nan = {.value = {.type = DRIFTD_VALUE_VECTOR, .vec = bad, .dim = 3}};
	struct sec_ev two = {.value = {.type = DRIFTD_VALUE_VECTOR, .vec = x, .dim = 2}};
	struct sec_ev num = {.value = {.type = DRIFTD_VALUE_NUMBER, .num = 1}};
	assert_int_equal(sec_feed(in, &nan, &v), -EDOM);
	assert_int_equal(sec_feed(in, &ok, &v), 0);
	assert_int_equal(sec_feed(in, &two, &v), -EDOM);
	assert_int_equal(sec_feed(in, &num, &v), -EDOM);
	dd_instance_free(in);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_attacker_in_churn),
	    cmocka_unit_test(test_text_and_client_pointer),
	    cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
