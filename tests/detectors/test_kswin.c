/* kswin against River 0.26.1 and scipy 1.17.1 (tests/oracle/gen_kswin.py -> data/kswin.json):
 * exact detection indices, River's KS statistic and p-value per step, CPython's generator and
 * sampler (detectors/pyrandom.c) draw for draw, snapshot/restore mid-stream, the monitor's seed
 * as default, rejected values and hostile snapshots. */
#include "stream_oracle.h"

#include "../../detectors/pyrandom.h"

#define DATA_FILE DRIFTD_TEST_DATA "/detectors/data/kswin.json"

/* scipy's exact p-value and ours follow the same operations; allow for libm differences. */
#define P_TOL 1e-12

static const struct driftd_detector_ops *ops(void)
{
	return so_ops("kswin");
}

static void test_ops_table(void **unused)
{
	so_check_ops_table(ops());
	assert_int_equal(ops()->caps, DRIFTD_CAP_P_VALUE);
}

static void test_params(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	assert_true(so_default(o, "alpha") == 0.005);
	assert_true(so_default(o, "window_size") == 100);
	assert_true(so_default(o, "stat_size") == 30);
	assert_true(so_default(o, "seed") == -1);

	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	assert_int_equal(dd_param_set_number(o, cfg, "alpha", -0.1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "alpha", 1.1), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "stat_size", 0), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "stat_size", 10001), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "seed", -2), -ERANGE);
	assert_int_equal(dd_param_set_number(o, cfg, "window_size", 1), -ERANGE);
	/* the sample needs stat_size candidates among the older window_size - stat_size */
	const char *why = NULL;
	assert_int_equal(dd_param_set_number(o, cfg, "stat_size", 51), 0);
	assert_int_equal(o->check_config(cfg, &why), -EINVAL);
	assert_non_null(why);
	struct dd_instance *in = NULL;
	assert_int_equal(dd_instance_new(o, cfg, NULL, &in), -EINVAL);
	assert_int_equal(dd_param_set_number(o, cfg, "stat_size", 50), 0);
	assert_int_equal(o->check_config(cfg, &why), 0);
	free(cfg);
}

static void test_river_streams(void **unused)
{
	json_t *root = so_load(DATA_FILE);
	assert_true(so_check_streams(ops(), root) > 50);
	json_decref(root);
}

/* River's docstring example. */
static void test_published(void **unused)
{
	json_t *root = so_load(DATA_FILE);
	json_t *d = json_object_get(so_case(root, "published"), "drifts");
	assert_int_equal(json_array_size(d), 1);
	assert_int_equal(json_integer_value(json_array_get(d, 0)), 1016);
	json_decref(root);
}

/* D exactly (both are h / stat_size), the p-value to P_TOL. */
static void test_statistic_and_p(void **unused)
{
	json_t *root = so_load(DATA_FILE);
	so_check_series(ops(), root, "d", so_field_score, 0.0, 0.0);
	so_check_series(ops(), root, "p", so_field_p, (double)NAN, P_TOL);
	json_decref(root);
}

/* CPython's random.Random(seed): getrandbits(32) and sample(range(n), k), draw for draw. */
static void test_python_random(void **unused)
{
	json_t *root = so_load(DATA_FILE);
	json_t *vectors = json_object_get(root, "random");
	assert_true(json_array_size(vectors) >= 5);
	size_t vi, n_samples = 0;
	json_t *vec;
	json_array_foreach (vectors, vi, vec) {
		struct dd_pyrandom r;
		/* jansson reads integers as int64: the oracle's seeds stay below 2^63 */
		uint64_t seed = (uint64_t)json_integer_value(json_object_get(vec, "seed"));
		dd_pyrandom_seed(&r, seed);
		assert_true(dd_pyrandom_valid(&r));
		json_t *u32 = json_object_get(vec, "u32");
		for (size_t i = 0; i < json_array_size(u32); i++)
			assert_int_equal(dd_pyrandom_u32(&r),
			                 (uint32_t)json_integer_value(json_array_get(u32, i)));
		size_t si;
		json_t *s;
		json_array_foreach (json_object_get(vec, "samples"), si, s) {
			uint32_t n = (uint32_t)json_integer_value(json_object_get(s, "n"));
			uint32_t k = (uint32_t)json_integer_value(json_object_get(s, "k"));
			json_t *picks = json_object_get(s, "picks");
			assert_int_equal(json_array_size(picks), k);
			uint32_t *out = calloc(k, sizeof(uint32_t));
			uint32_t *scratch = calloc(n, sizeof(uint32_t));
			assert_non_null(out);
			assert_non_null(scratch);
			dd_pyrandom_sample(&r, n, k, out, scratch);
			for (uint32_t i = 0; i < k; i++)
				if (out[i] !=
				    (uint32_t)json_integer_value(json_array_get(picks, i)))
					fail_msg("seed %llu sample(range(%u), %u)[%u] = %u, "
					         "Python %lld",
					         (unsigned long long)seed, n, k, i, out[i],
					         (long long)json_integer_value(
					             json_array_get(picks, i)));
			/* the scratch is handed back zeroed */
			for (uint32_t i = 0; i < n; i++)
				assert_int_equal(scratch[i], 0);
			free(out);
			free(scratch);
			n_samples++;
		}
	}
	assert_true(n_samples >= 15);
	json_decref(root);
}

/* The all-zero generator state would make the sampler loop for ever: never valid. */
static void test_pyrandom_valid(void **unused)
{
	struct dd_pyrandom r;
	memset(&r, 0, sizeof(r));
	assert_false(dd_pyrandom_valid(&r));
	r.mt[0] = 0x7fffffff; /* only the ignored low bits of word 0 */
	assert_false(dd_pyrandom_valid(&r));
	r.mt[0] = 0x80000000;
	assert_true(dd_pyrandom_valid(&r));
	r.index = DD_PYRANDOM_N + 1;
	assert_false(dd_pyrandom_valid(&r));
}

/* seed -1 takes the monitor's seed, all 64 bits of it, as Python takes an int. */
static void test_monitor_seed(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	json_t *root = so_load(DATA_FILE);
	json_t *c = so_case(root, "seed_2p32");
	void *cfg = so_config(o, c);
	assert_int_equal(dd_param_set_number(o, cfg, "seed", -1), 0);
	struct driftd_shape shape = {.seed = UINT64_C(1) << 32};
	struct dd_instance *in = NULL;
	assert_int_equal(dd_instance_new(o, cfg, &shape, &in), 0);
	size_t n = so_len(c);
	size_t *idx = calloc(n + 1, sizeof(size_t));
	assert_non_null(idx);
	size_t n_idx = so_feed(in, c, 0, n, idx, 0);
	so_check_drifts(c, idx, n_idx, "seed from the monitor");
	/* another monitor seed draws other samples */
	dd_instance_free(in);
	shape.seed = 99;
	assert_int_equal(dd_instance_new(o, cfg, &shape, &in), 0);
	size_t n_other = so_feed(in, c, 0, n, idx, 0);
	json_t *want = json_object_get(c, "drifts");
	bool same = n_other == json_array_size(want);
	for (size_t k = 0; same && k < n_other; k++)
		same = idx[k] == (size_t)json_integer_value(json_array_get(want, k));
	assert_false(same);
	free(idx);
	dd_instance_free(in);
	free(cfg);
	json_decref(root);
}

static void test_snapshot_resume(void **unused)
{
	json_t *root = so_load(DATA_FILE);
	so_check_resume(ops(), root);
	json_decref(root);
}

static void test_rejected_values(void **unused)
{
	so_check_rejected_values(ops(), 150);
}

static void test_evaluate_fresh(void **unused)
{
	so_check_fresh_verdict(ops(), 0.0, 0.005);
}

static void test_restore_rejects(void **unused)
{
	const struct driftd_detector_ops *o = ops();
	void *cfg = calloc(1, o->config_size);
	assert_non_null(cfg);
	dd_params_defaults(o, cfg);
	/* a small window keeps the exhaustive truncation loop quick */
	assert_int_equal(dd_param_set_number(o, cfg, "window_size", 20), 0);
	assert_int_equal(dd_param_set_number(o, cfg, "stat_size", 5), 0);
	assert_int_equal(dd_param_set_number(o, cfg, "alpha", 0.01), 0);
	struct dd_instance *in = so_new(o, cfg);
	for (int i = 0; i < 57; i++)
		assert_int_equal(dd_instance_update_number(in, (i * 7) % 11), 0);
	size_t len;
	uint8_t *good = so_snap(in, &len);
	/* len, h, drift, index, 312 generator words, 20 values */
	assert_int_equal(len, 8 * (4 + 312 + 20));
	so_check_hostile(o, cfg, good, len);

	uint8_t *bad = malloc(len);
	assert_non_null(bad);
	memcpy(bad, good, len);
	so_put_u64(bad, 21); /* more values than the window holds */
	so_expect_rejected(o, cfg, bad, len, 1);
	memcpy(bad, good, len);
	so_put_u64(bad, 19); /* a partial window that was tested */
	so_expect_rejected(o, cfg, bad, len - 8, 1);
	memcpy(bad, good, len);
	so_put_u64(bad + 8, 6); /* h above stat_size */
	so_expect_rejected(o, cfg, bad, len, 1);
	memcpy(bad, good, len);
	so_put_u64(bad + 8, UINT64_MAX); /* a full window never tested */
	so_expect_rejected(o, cfg, bad, len, 1);
	memcpy(bad, good, len);
	so_put_u64(bad + 8, 5); /* D = 1, p = 2/252 <= 0.01: must be a drift */
	so_put_u64(bad + 16, 0);
	so_expect_rejected(o, cfg, bad, len, 1);
	memcpy(bad, good, len);
	so_put_u64(bad + 8, 1); /* D = 0.2, p = 1: cannot be a drift */
	so_put_u64(bad + 16, 1);
	so_expect_rejected(o, cfg, bad, len, 1);
	memcpy(bad, good, len);
	so_put_u64(bad + 24, 625); /* generator index */
	so_expect_rejected(o, cfg, bad, len, 1);
	memcpy(bad, good, len);
	memset(bad + 32, 0, 312 * 8); /* the degenerate generator state */
	so_expect_rejected(o, cfg, bad, len, 1);
	memcpy(bad, good, len);
	so_put_f64(bad + len - 8, (double)NAN);
	so_expect_rejected(o, cfg, bad, len, 1);

	json_t *root = so_load(DATA_FILE);
	so_check_fresh_after_reject(o, so_case(root, "published"));
	json_decref(root);
	free(bad);
	free(good);
	free(cfg);
	dd_instance_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ops_table),       cmocka_unit_test(test_params),
	    cmocka_unit_test(test_river_streams),   cmocka_unit_test(test_published),
	    cmocka_unit_test(test_statistic_and_p), cmocka_unit_test(test_python_random),
	    cmocka_unit_test(test_pyrandom_valid),  cmocka_unit_test(test_monitor_seed),
	    cmocka_unit_test(test_snapshot_resume), cmocka_unit_test(test_rejected_values),
	    cmocka_unit_test(test_evaluate_fresh),  cmocka_unit_test(test_restore_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
