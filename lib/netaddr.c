/* Listen addresses (see netaddr.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

int dd_parse_listen(const char *s, struct sockaddr_storage *out, socklen_t *len, char *why,
                    size_t whysz)
{
	char host[64];
	const char *colon;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':') {
			snprintf(why, whysz, "'%s' is not [IPV6]:PORT", s);
			return -EINVAL;
		}
		colon = close + 1;
		if ((size_t)(close - s - 1) >= sizeof(host)) {
			snprintf(why, whysz, "'%s': address too long", s);
			return -EINVAL;
		}
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host)) {
			snprintf(why, whysz, "'%s' is not HOST:PORT (e.g. 127.0.0.1:9464)", s);
			return -EINVAL;
		}
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || errno || port < 1 || port > 65535) {
		snprintf(why, whysz, "'%s': the port must be a number from 1 to 65535", s);
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (s[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		return 0;
	}
	if (s[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		return 0;
	}
	snprintf(why, whysz,
	         "'%s': the host must be an IPv4 address, [IPv6 address] or localhost (names are "
	         "not resolved)",
	         s);
	return -EINVAL;
}
