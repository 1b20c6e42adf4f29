/* The security detectors' shared helpers (detectors/secutil.c): the bounded client table
 * against a brute-force model over long random insert/evict sequences (every resident found,
 * evicted ones gone, the lightest evicted, the overflow bucket when nobody is light enough),
 * snapshots (round trip, hostile input), UTF-8-safe copies. */
#include "../../detectors/secutil.h"
#include "sec_common.h"

static uint64_t rng = 77;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define CAP 37

static void test_table_against_model(void **unused)
{
	struct dd_ctab t;
	assert_int_equal(dd_ctab_init(&t, CAP, sizeof(uint64_t), 5), 0);
	/* model: which id sits in which slot */
	char model[CAP][16];
	size_t n = 0;
	for (int step = 0; step < 200000; step++) {
		char id[16];
		snprintf(id, sizeof(id), "k%llu", (unsigned long long)(next() % 120));
		size_t want = SIZE_MAX;
		for (size_t s = 0; s < n; s++)
			if (strcmp(model[s], id) == 0)
				want = s;
		/* the lightest resident (lowest slot on ties), as the table picks it */
		size_t light = 0;
		for (size_t s = 1; s < n; s++)
			if (t.weight[s] < t.weight[light])
				light = s;
		double before = n ? t.weight[light] : 0;
		bool fresh;
		double evict_below = (step % 3 == 0) ? 0.5 : (double)INFINITY;
		size_t got = dd_ctab_get(&t, id, strlen(id), evict_below, &fresh);
		if (want != SIZE_MAX) {
			assert_int_equal(got, want);
			assert_false(fresh);
		} else if (n < CAP) {
			assert_int_equal(got, n);
			assert_true(fresh);
			snprintf(model[n++], 16, "%s", id);
		} else if (!(before < evict_below)) {
			assert_int_equal(got, CAP); /* overflow */
			assert_false(fresh);
		} else {
			assert_int_equal(got, light);
			assert_true(fresh);
			assert_true(*(uint64_t *)dd_ctab_payload(&t, got) == 0);
			snprintf(model[light], 16, "%s", id);
		}
		assert_int_equal(t.n, n);
		t.weight[got] += 1 + (double)(next() % 3);
		*(uint64_t *)dd_ctab_payload(&t, got) += 1;
		/* every 1000 steps: all residents are found where the model says */
		if (step % 1000 == 0)
			for (size_t s = 0; s < n; s++) {
				bool f;
				assert_int_equal(dd_ctab_get(&t, model[s], strlen(model[s]), 0, &f),
				                 s);
				assert_string_equal(t.id[s], model[s]);
			}
		/* decay now and then, so evictions keep happening */
		if (step % 500 == 0)
			for (size_t s = 0; s < n; s++)
				t.weight[s] /= 4;
	}
	assert_true(t.evictions > 1000);
	assert_true(t.overflowed > 100);

	/* snapshot round trip, then every truncation and some bit flips are refused or sane */
	struct driftd_buf b = {0};
	dd_ctab_snapshot(&t, &b);
	assert_int_equal(b.err, 0);
	struct dd_ctab u;
	assert_int_equal(dd_ctab_init(&u, CAP, sizeof(uint64_t), 5), 0);
	struct driftd_reader r = {b.data, b.len};
	assert_int_equal(dd_ctab_restore(&u, &r, NULL, NULL), 0);
	assert_int_equal(r.left, 0);
	assert_int_equal(u.n, t.n);
	for (size_t s = 0; s < n; s++) {
		bool f;
		assert_int_equal(dd_ctab_get(&u, model[s], strlen(model[s]), 0, &f), s);
	}
	for (size_t cut = 0; cut < b.len; cut++) {
		struct driftd_reader rc = {b.data, cut};
		assert_int_equal(dd_ctab_restore(&u, &rc, NULL, NULL), -EBADMSG);
		assert_int_equal(u.n, 0);
	}
	/* a duplicated client is refused */
	struct dd_ctab small;
	assert_int_equal(dd_ctab_init(&small, 2, 0, 5), 0);
	bool f;
	dd_ctab_get(&small, "a", 1, 0, &f);
	dd_ctab_get(&small, "b", 1, 0, &f);
	struct driftd_buf sb = {0};
	dd_ctab_snapshot(&small, &sb);
	/* the second slot's key := the first's */
	memcpy(sb.data + 32 + 8 + 8 + 1 + 8, sb.data + 32, 8);
	struct driftd_reader sr = {sb.data, sb.len};
	assert_int_equal(dd_ctab_restore(&small, &sr, NULL, NULL), -EBADMSG);
	driftd_buf_free(&sb);
	dd_ctab_free(&small);
	driftd_buf_free(&b);
	dd_ctab_free(&u);
	dd_ctab_free(&t);
}

static void test_utf8_copy(void **unused)
{
	char out[6];
	/* "aé€" = 61 c3a9 e282ac: a cut inside € backs off to before it */
	assert_int_equal(dd_sec_copy(out, sizeof(out), "a\xc3\xa9\xe2\x82\xac", 6), 3);
	assert_string_equal(out, "a\xc3\xa9");
	assert_int_equal(dd_sec_copy(out, 3, "a\xc3\xa9", 3), 1);
	assert_string_equal(out, "a");
	assert_int_equal(dd_sec_copy(out, sizeof(out), "abc", 3), 3);
	assert_int_equal(dd_sec_copy(out, 1, "abc", 3), 0);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_against_model),
	    cmocka_unit_test(test_utf8_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
