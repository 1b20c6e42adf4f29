/* "HOST:PORT" listen addresses (metrics.listen): numeric IPv4, "[IPv6]" or "localhost", and a
 * port; no name resolution, so `driftd check` gives the same answer on every host. */
#ifndef DRIFTD_NETADDR_H
#define DRIFTD_NETADDR_H

#include <sys/socket.h>

/* Returns 0 with the address filled, or -EINVAL with a reason in why. */
int dd_parse_listen(const char *s, struct sockaddr_storage *out, socklen_t *len, char *why,
                    size_t whysz);

#endif
