/* metrics.listen addresses (lib/netaddr.c): what `driftd check` accepts and refuses. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "netaddr.h"

static void accepts(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	socklen_t len;
	char why[256];
	assert_int_equal(dd_parse_listen("127.0.0.1:9464", &ss, &len, why, sizeof(why)), 0);
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
	assert_int_equal(v4->sin_family, AF_INET);
	assert_int_equal(ntohs(v4->sin_port), 9464);
	assert_int_equal(ntohl(v4->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(len, sizeof(struct sockaddr_in));

	assert_int_equal(dd_parse_listen("localhost:1", &ss, &len, why, sizeof(why)), 0);
	assert_int_equal(ntohl(v4->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(dd_parse_listen("0.0.0.0:65535", &ss, &len, why, sizeof(why)), 0);
	assert_int_equal(ntohs(v4->sin_port), 65535);

	assert_int_equal(dd_parse_listen("[::1]:9464", &ss, &len, why, sizeof(why)), 0);
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;
	assert_int_equal(v6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(v6->sin6_port), 9464);
	assert_true(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr));
	assert_int_equal(len, sizeof(struct sockaddr_in6));
}

static void refuses(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "9464",
	    "127.0.0.1",
	    "127.0.0.1:",
	    "127.0.0.1:0",
	    "127.0.0.1:65536",
	    "127.0.0.1:-1",
	    "127.0.0.1:94x",
	    "127.0.0.1: 9464",
	    "example.org:80",
	    "::1:9464",
	    "[::1]9464",
	    "[127.0.0.1]:9464",
	    "[::1:9464",
	    "256.0.0.1:80",
	    "[fe80::1%lo]:80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		char why[256] = "";
		int rc = dd_parse_listen(bad[i], &ss, &len, why, sizeof(why));
		if (rc != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_true(strlen(why) > 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(accepts),
	    cmocka_unit_test(refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
