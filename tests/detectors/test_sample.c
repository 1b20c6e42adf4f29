/* The shared reference/window buffers (detectors/sample.c) through every detector that uses
 * them, and the helper's primitives directly: value checks, capacity, phases, snapshot layout
 * and hostile restores, the sort, the pooled merge and the ECDF integrals. */
#include "../../detectors/sample.h"
#include "twosample_util.h"

static const char *const users[] = {"ks",          "anderson",    "cvm",
                                    "mannwhitney", "wasserstein", "energy"};
#define NUSERS (sizeof(users) / sizeof(users[0]))

static void snapshot_of(struct dd_instance *in, struct driftd_buf *b)
{
	*b = (struct driftd_buf){0};
	assert_int_equal(in->ops->snapshot(&in->ctx, b), 0);
}

static bool same_state(struct dd_instance *a, struct dd_instance *b)
{
	struct driftd_buf sa, sb;
	snapshot_of(a, &sa);
	snapshot_of(b, &sb);
	bool eq = sa.len == sb.len && memcmp(sa.data, sb.data, sa.len) == 0;
	driftd_buf_free(&sa);
	driftd_buf_free(&sb);
	return eq;
}

static void test_values_and_phases(void **st)
{
	for (size_t u = 0; u < NUSERS; u++) {
		const struct driftd_detector_ops *ops = ts_ops(users[u]);
		struct dd_instance *in = ts_new(ops, NULL, 4, 3), *ref = ts_new(ops, NULL, 4, 3);
		const double bad[] = {NAN, INFINITY, -INFINITY};
		struct driftd_value vs[] = {
		    {.type = DRIFTD_VALUE_STRING, .str = "1", .len = 1},
		    {.type = DRIFTD_VALUE_BOOL, .num = 1},
		    {.type = DRIFTD_VALUE_NONE},
		    {.type = DRIFTD_VALUE_VECTOR, .vec = bad, .dim = 1},
		};
		struct driftd_verdict v;
		assert_int_equal(ops->evaluate(&in->ctx, &v), -ENODATA);
		assert_int_equal(ops->reference_done(&in->ctx), -ENODATA);
		for (int phase = 0; phase < 2; phase++) {
			for (size_t k = 0; k < 3; k++) {
				assert_int_equal(dd_instance_reference_number(in, bad[k]), -EDOM);
				assert_int_equal(dd_instance_update_number(in, bad[k]), -EDOM);
			}
			for (size_t k = 0; k < 4; k++) {
				assert_int_equal(ops->reference_add(&in->ctx, &vs[k]), -EDOM);
				assert_int_equal(ops->update(&in->ctx, &vs[k]), -EDOM);
			}
			assert_true(same_state(in, ref));
			if (phase == 0)
				for (int i = 0; i < 4; i++) {
					assert_int_equal(dd_instance_reference_number(in, i * 1.5),
					                 0);
					assert_int_equal(dd_instance_reference_number(ref, i * 1.5),
					                 0);
				}
		}
		/* full reference; window before the reference closes is allowed */
		assert_int_equal(dd_instance_reference_number(in, 9), -ENOSPC);
		assert_int_equal(dd_instance_update_number(in, 0.25), 0);
		assert_int_equal(dd_instance_update_number(in, 2.25), 0);
		assert_int_equal(ops->evaluate(&in->ctx, &v), -ENODATA); /* not closed */
		assert_int_equal(ops->reference_done(&in->ctx), 0);
		assert_int_equal(ops->reference_done(&in->ctx), 0);
		assert_int_equal(dd_instance_reference_number(in, 1), -EINVAL);
		assert_int_equal(dd_instance_update_number(in, 4.5), 0);
		assert_int_equal(dd_instance_update_number(in, 5), -ENOSPC);
		assert_int_equal(ops->evaluate(&in->ctx, &v), 0);
		assert_true(isfinite(v.score));
		/* evaluate is repeatable */
		struct driftd_verdict v2;
		assert_int_equal(ops->evaluate(&in->ctx, &v2), 0);
		assert_memory_equal(&v.score, &v2.score, sizeof(double));
		assert_memory_equal(&v.p_value, &v2.p_value, sizeof(double));
		ops->window_reset(&in->ctx);
		assert_int_equal(ops->evaluate(&in->ctx, &v), -ENODATA);
		in->ops->done(&in->ctx);
		in->ops->done(&in->ctx);
		dd_instance_free(in);
		dd_instance_free(ref);
	}
}

static void test_shapes(void **st)
{
	for (size_t u = 0; u < NUSERS; u++) {
		const struct driftd_detector_ops *ops = ts_ops(users[u]);
		struct dd_instance *in = NULL;
		struct driftd_shape s0 = {.reference_size = 0, .window_size = 10};
		struct driftd_shape s1 = {.reference_size = 10, .window_size = 0};
		struct driftd_shape s2 = {.reference_size = (size_t)INT32_MAX + 1,
		                          .window_size = 10};
		assert_int_equal(dd_instance_new(ops, NULL, &s0, &in), -EINVAL);
		assert_int_equal(dd_instance_new(ops, NULL, &s1, &in), -EINVAL);
		assert_int_equal(dd_instance_new(ops, NULL, &s2, &in), -EINVAL);
	}
}

static struct dd_instance *partial(const struct driftd_detector_ops *ops, bool close)
{
	struct dd_instance *in = ts_new(ops, NULL, 300, 200);
	for (int i = 0; i < 300; i++)
		assert_int_equal(dd_instance_reference_number(in, sin(i * 1.7) * 3), 0);
	if (close)
		assert_int_equal(ops->reference_done(&in->ctx), 0);
	for (int i = 0; i < 120; i++)
		assert_int_equal(dd_instance_update_number(in, cos(i * 0.3) * 2 + 0.4), 0);
	return in;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void expect_bad(const struct driftd_detector_ops *ops, struct dd_instance *fresh,
                       uint32_t version, const void *data, size_t len)
{
	struct dd_instance *in = ts_new(ops, NULL, 300, 200);
	assert_int_equal(dd_instance_reference_number(in, 5), 0);
	assert_int_equal(dd_instance_update_number(in, 5), 0);
	assert_int_equal(ops->restore(&in->ctx, version, data, len), -EBADMSG);
	assert_true(same_state(in, fresh));
	struct driftd_verdict v;
	assert_int_equal(ops->evaluate(&in->ctx, &v), -ENODATA);
	for (int i = 0; i < 5; i++)
		assert_int_equal(dd_instance_reference_number(in, i), 0);
	assert_int_equal(ops->reference_done(&in->ctx), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(dd_instance_update_number(in, i + 0.5), 0);
	assert_int_equal(ops->evaluate(&in->ctx, &v), 0);
	dd_instance_free(in);
}

static void test_snapshots(void **st)
{
	for (size_t u = 0; u < NUSERS; u++) {
		const struct driftd_detector_ops *ops = ts_ops(users[u]);
		assert_int_equal(ops->snapshot_version, 1);
		struct dd_instance *fresh = ts_new(ops, NULL, 300, 200);
		/* round trip, open and closed reference */
		for (int closed = 0; closed < 2; closed++) {
			struct dd_instance *a = partial(ops, closed);
			struct driftd_buf b;
			snapshot_of(a, &b);
			assert_int_equal(b.len, 8 * (3 + 300 + 120));
			struct dd_instance *c = ts_new(ops, NULL, 300, 200);
			assert_int_equal(ops->restore(&c->ctx, 1, b.data, b.len), 0);
			assert_true(same_state(a, c));
			if (!closed) {
				assert_int_equal(ops->reference_done(&a->ctx), 0);
				assert_int_equal(ops->reference_done(&c->ctx), 0);
			}
			for (int i = 0; i < 80; i++) {
				assert_int_equal(dd_instance_update_number(a, i * 0.01), 0);
				assert_int_equal(dd_instance_update_number(c, i * 0.01), 0);
			}
			struct driftd_verdict va, vc;
			assert_int_equal(ops->evaluate(&a->ctx, &va), 0);
			assert_int_equal(ops->evaluate(&c->ctx, &vc), 0);
			assert_memory_equal(&va.score, &vc.score, sizeof(double));
			assert_memory_equal(&va.p_value, &vc.p_value, sizeof(double));
			assert_int_equal(va.drift, vc.drift);
			/* not into a smaller shape */
			struct dd_instance *small = ts_new(ops, NULL, 299, 200);
			assert_int_equal(ops->restore(&small->ctx, 1, b.data, b.len), -EBADMSG);
			dd_instance_free(small);
			driftd_buf_free(&b);
			dd_instance_free(a);
			dd_instance_free(c);
		}
		/* hostile input */
		struct dd_instance *a = partial(ops, true);
		struct driftd_buf b;
		snapshot_of(a, &b);
		uint8_t *buf = malloc(b.len + 16);
		assert_non_null(buf);
		for (size_t len = 0; len < b.len; len += (len < 64 ? 1 : 397))
			expect_bad(ops, fresh, 1, b.data, len);
		memcpy(buf, b.data, b.len);
		memset(buf + b.len, 0, 16);
		expect_bad(ops, fresh, 1, buf, b.len + 8);
		expect_bad(ops, fresh, 1, NULL, 0);
		expect_bad(ops, fresh, 2, b.data, b.len);
		const size_t offs[] = {0, 8, 16};
		const uint64_t vals[] = {2, 301, 201};
		for (int k = 0; k < 3; k++) {
			memcpy(buf, b.data, b.len);
			put_u64(buf + offs[k], vals[k]);
			expect_bad(ops, fresh, 1, buf, b.len);
		}
		uint8_t empty_closed[24];
		put_u64(empty_closed, 1);
		put_u64(empty_closed + 8, 0);
		put_u64(empty_closed + 16, 0);
		expect_bad(ops, fresh, 1, empty_closed, sizeof(empty_closed));
		double nan = NAN;
		uint64_t nanbits;
		memcpy(&nanbits, &nan, 8);
		memcpy(buf, b.data, b.len);
		put_u64(buf + 24 + 8 * 17, nanbits);
		expect_bad(ops, fresh, 1, buf, b.len);
		memcpy(buf, b.data, b.len);
		put_u64(buf + 24 + 8 * 305, nanbits);
		expect_bad(ops, fresh, 1, buf, b.len);
		/* a closed reference must be sorted */
		memcpy(buf, b.data, b.len);
		memcpy(buf + 24, b.data + 24 + 8 * 299, 8);
		memcpy(buf + 24 + 8 * 299, b.data + 24, 8);
		expect_bad(ops, fresh, 1, buf, b.len);
		free(buf);
		driftd_buf_free(&b);
		dd_instance_free(a);
		dd_instance_free(fresh);
	}
}

/* ---- the primitives ---- */

static void test_merge_and_sort(void **st)
{
	enum { M = 700, N = 500 };
	static double x[M], y[N];
	uint64_t r = 99;
	for (int pat = 0; pat < 6; pat++) {
		for (int i = 0; i < M; i++) {
			r = r * 6364136223846793005u + 1442695040888963407u;
			double u = (double)(r >> 11) * 0x1p-53;
			const double v[6] = {u, i, M - i, 4, floor(u * 5), (i % 2) ? -0.0 : 0.0};
			x[i] = v[pat];
		}
		for (int i = 0; i < N; i++)
			y[i] = x[(i * 7) % M] + (pat % 2 ? 0.0 : 0.5);
		double *xs = ts_sorted(x, M), *ys = ts_sorted(y, N);
		dd_sort_doubles(x, M);
		dd_sort_doubles(y, N);
		for (int i = 0; i < M; i++)
			assert_true(x[i] == xs[i]);
		for (int i = 0; i < N; i++)
			assert_true(y[i] == ys[i]);
		/* every distinct pooled value once, ascending, with its counts */
		struct dd_merge it;
		struct dd_tie t;
		dd_merge_start(&it, x, M, y, N);
		size_t seen_a = 0, seen_b = 0;
		double prev = -INFINITY;
		while (dd_merge_next(&it, &t)) {
			assert_true(t.v > prev);
			prev = t.v;
			size_t ca = 0, cb = 0, ba = 0, bb = 0;
			for (int i = 0; i < M; i++) {
				ca += x[i] == t.v;
				ba += x[i] < t.v;
			}
			for (int i = 0; i < N; i++) {
				cb += y[i] == t.v;
				bb += y[i] < t.v;
			}
			assert_int_equal(t.ca, ca);
			assert_int_equal(t.cb, cb);
			assert_int_equal(t.below_a, ba);
			assert_int_equal(t.below_b, bb);
			assert_true(ca + cb > 0);
			seen_a += ca;
			seen_b += cb;
		}
		assert_int_equal(seen_a, M);
		assert_int_equal(seen_b, N);
		free(xs);
		free(ys);
	}
}

static void test_ecdf_distances(void **st)
{
	/* [0, 1, 3] vs [5, 6, 8]: the ECDFs differ by 1/3, 2/3, 1, 1, 2/3, 1/3 over gaps
	 * 1, 2, 2, 1, 2: W1 = 5 (scipy's example), integral of squares 33/9 */
	double a[3] = {0, 1, 3}, b[3] = {5, 6, 8}, l1, l2;
	dd_ecdf_distances(a, 3, b, 3, &l1, &l2);
	assert_true(l1 == 5.0);
	assert_true(fabs(l2 - 33.0 / 9) < 1e-15);
	dd_ecdf_distances(a, 3, a, 3, &l1, &l2);
	assert_true(l1 == 0 && l2 == 0);
	double c[1] = {7};
	dd_ecdf_distances(c, 1, c, 1, &l1, &l2);
	assert_true(l1 == 0 && l2 == 0);
	/* compensated sums against a brute-force integral over many gaps */
	enum { M = 2000 };
	static double x[M], y[M];
	for (int i = 0; i < M; i++) {
		x[i] = i / 1024.0; /* dyadic: every gap exactly 1/2048 */
		y[i] = i / 1024.0 + 1 / 2048.0;
	}
	dd_ecdf_distances(x, M, y, M, &l1, &l2);
	/* |F - G| is 1/M on the M gaps from x_i to y_i (1/2048 each), 0 on the others */
	assert_true(l1 == 1 / 2048.0);
	assert_true(fabs(l2 - 1 / 2048.0 / M) < 1e-20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shapes),         cmocka_unit_test(test_values_and_phases),
	    cmocka_unit_test(test_snapshots),      cmocka_unit_test(test_merge_and_sort),
	    cmocka_unit_test(test_ecdf_distances),
	};
	return cmocka_run_group_tests_name("sample", tests, NULL, NULL);
}
