/* Detector host: parameter tables applied to config blocks (defaults, types, bounds, enums)
 * and the snapshot byte buffers. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host.h"

struct cfg {
	double d;
	int64_t i;
	bool b;
	int e;
};
static const char *const choices[] = {"one", "two", NULL};
static const struct driftd_param params[] = {
    {.name = "d",
     .type = DRIFTD_PARAM_DOUBLE,
     .offset = offsetof(struct cfg, d),
     .def = 0.5,
     .min = 0,
     .max = 1,
     .min_open = true,
     .description = "a probability"},
    {.name = "i",
     .type = DRIFTD_PARAM_INT,
     .offset = offsetof(struct cfg, i),
     .def = 3,
     .min = 1,
     .max = 10,
     .description = "a count"},
    {.name = "b",
     .type = DRIFTD_PARAM_BOOL,
     .offset = offsetof(struct cfg, b),
     .def = 1,
     .description = "a switch"},
    {.name = "e",
     .type = DRIFTD_PARAM_ENUM,
     .offset = offsetof(struct cfg, e),
     .def = 1,
     .choices = choices,
     .description = "a choice"},
};
static const struct driftd_detector_ops ops = {
    .abi_version = DRIFTD_DETECTOR_ABI,
    .struct_size = sizeof(struct driftd_detector_ops),
    .name = "fake",
    .params = params,
    .n_params = 4,
    .config_size = sizeof(struct cfg),
};

static void test_defaults_and_set(void **unused)
{
	struct cfg c;
	dd_params_defaults(&ops, &c);
	assert_true(c.d == 0.5);
	assert_int_equal(c.i, 3);
	assert_true(c.b);
	assert_int_equal(c.e, 1);
	assert_int_equal(dd_param_set_number(&ops, &c, "d", 1.0), 0);
	assert_true(c.d == 1.0);
	assert_int_equal(dd_param_set_number(&ops, &c, "d", 0.0), -ERANGE); /* open bound */
	assert_int_equal(dd_param_set_number(&ops, &c, "d", 1.5), -ERANGE);
	assert_int_equal(dd_param_set_number(&ops, &c, "d", NAN), -EINVAL);
	assert_int_equal(dd_param_set_number(&ops, &c, "i", 2.5), -EINVAL);
	assert_int_equal(dd_param_set_number(&ops, &c, "i", 11), -ERANGE);
	assert_int_equal(dd_param_set_number(&ops, &c, "i", 10), 0);
	assert_int_equal(c.i, 10);
	assert_int_equal(dd_param_set_number(&ops, &c, "b", 0), 0);
	assert_false(c.b);
	assert_int_equal(dd_param_set_number(&ops, &c, "b", 2), -EINVAL);
	assert_int_equal(dd_param_set_number(&ops, &c, "e", 0), -EINVAL);
	assert_int_equal(dd_param_set_choice(&ops, &c, "e", "one"), 0);
	assert_int_equal(c.e, 0);
	assert_int_equal(dd_param_set_choice(&ops, &c, "e", "three"), -EINVAL);
	assert_int_equal(dd_param_set_choice(&ops, &c, "d", "one"), -EINVAL);
	assert_int_equal(dd_param_set_number(&ops, &c, "nope", 1), -ENOENT);
	assert_true(dd_param_get(dd_param_find(&ops, "i"), &c) == 10.0);
}

static void test_abi_checked(void **unused)
{
	struct driftd_detector_ops old = ops;
	old.abi_version = 99;
	struct dd_instance *in = NULL;
	assert_int_equal(dd_instance_new(&old, NULL, NULL, &in), -EPROTO);
	assert_null(in);
}

static void test_buf_and_reader(void **unused)
{
	struct driftd_buf b = {0};
	for (int i = 0; i < 1000; i++)
		driftd_buf_put_u64(&b, (uint64_t)i * 0x0101010101010101ull);
	driftd_buf_put_f64(&b, -0.0);
	driftd_buf_put_f64(&b, INFINITY);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, 1002 * 8);
	assert_int_equal(b.data[8], 1); /* little-endian */
	struct driftd_reader r = {.p = b.data, .left = b.len};
	for (int i = 0; i < 1000; i++) {
		uint64_t v;
		assert_int_equal(driftd_rd_u64(&r, &v), 0);
		assert_true(v == (uint64_t)i * 0x0101010101010101ull);
	}
	double d;
	assert_int_equal(driftd_rd_f64(&r, &d), 0);
	assert_true(d == 0 && signbit(d));
	assert_int_equal(driftd_rd_f64_finite(&r, &d), -EBADMSG);
	assert_int_equal(driftd_rd_f64(&r, &d), -EBADMSG); /* exhausted */
	driftd_buf_free(&b);
	assert_null(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_and_set),
	    cmocka_unit_test(test_abi_checked),
	    cmocka_unit_test(test_buf_and_reader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
