/* The metrics endpoint's HTTP side (see metrics.h): one thread, one connection at a time (a
 * scraper or a health check, not a web server), requests and replies bounded in size and time.
 * The thread owns its socket and a copy of the sample; the only shared state is the published
 * sample and the error history behind one mutex, which the consume loop only ever try-locks. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "netaddr.h"
#include "version.h"

#define DD_HISTORY        256  /* error counters, one per publish (about 1/s) */
#define DD_REQUEST_MAX    8192 /* a scrape request is a few hundred bytes */
#define DD_IO_TIMEOUT_SEC 5

struct hist {
	int64_t mono_ms;
	uint64_t kafka_errors, sink_errors;
};

struct dd_metrics {
	int fd;
	int wake; /* eventfd: stop */
	FILE *log;
	struct dd_metrics_health health;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	/* Under mu: */
	struct dd_metrics_sample cur;
	bool have;
	struct hist hist[DD_HISTORY];
	size_t n_hist, next_hist;
	/* The thread's own. */
	struct dd_metrics_sample mine;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dd_metrics_publish(struct dd_metrics *m, const struct dd_metrics_sample *s)
{
	if (!m || pthread_mutex_trylock(&m->mu) != 0)
		return; /* the server is copying: the next tick publishes */
	if (dd_metrics_sample_copy(&m->cur, s) == 0) {
		m->have = true;
		m->hist[m->next_hist] = (struct hist){.mono_ms = s->mono_ms,
		                                      .kafka_errors = s->kafka.errors,
		                                      .sink_errors = dd_metrics_sink_errors(s)};
		m->next_hist = (m->next_hist + 1) % DD_HISTORY;
		if (m->n_hist < DD_HISTORY)
			m->n_hist++;
	}
	pthread_mutex_unlock(&m->mu);
}

/* Under mu: the health verdict now, with a reason when failing. */
static bool healthy(struct dd_metrics *m, int64_t now, char *why, size_t whysz)
{
	if (!m->have) {
		snprintf(why, whysz, "starting: no sample from the consume loop yet\n");
		return false;
	}
	if (now - m->cur.mono_ms > m->health.stall_ms) {
		snprintf(why, whysz, "the consume loop has not reported for %lld s\n",
		         (long long)((now - m->cur.mono_ms) / 1000));
		return false;
	}
	/* The oldest sample inside the window is the baseline for the error counts. */
	const struct hist *last = &m->hist[(m->next_hist + DD_HISTORY - 1) % DD_HISTORY];
	const struct hist *base = last;
	for (size_t k = 1; k <= m->n_hist; k++) {
		const struct hist *h = &m->hist[(m->next_hist + DD_HISTORY - k) % DD_HISTORY];
		if (last->mono_ms - h->mono_ms > m->health.error_window_ms)
			break;
		base = h;
	}
	/* Counters can go down across a reload (a removed sink's failures no longer count):
	 * a negative difference is no errors, not 2^64 of them. */
	uint64_t ke =
	    last->kafka_errors > base->kafka_errors ? last->kafka_errors - base->kafka_errors : 0;
	uint64_t se =
	    last->sink_errors > base->sink_errors ? last->sink_errors - base->sink_errors : 0;
	/* A window not yet full counts from the process start (counters start at zero). */
	if (base == &m->hist[(m->next_hist + DD_HISTORY - m->n_hist) % DD_HISTORY] &&
	    m->n_hist < DD_HISTORY) {
		ke = last->kafka_errors;
		se = last->sink_errors;
	}
	size_t off = 0;
	why[0] = '\0';
	if (ke > m->health.max_kafka_errors) {
		int n =
		    snprintf(why, whysz, "%llu Kafka errors in the last %lld s (limit %llu)\n",
		             (unsigned long long)ke, (long long)(m->health.error_window_ms / 1000),
		             (unsigned long long)m->health.max_kafka_errors);
		off = n > 0 ? (size_t)n : 0;
	}
	if (se > m->health.max_sink_errors && off < whysz)
		snprintf(why + off, whysz - off,
		         "%llu sink errors in the last %lld s (limit %llu)\n",
		         (unsigned long long)se, (long long)(m->health.error_window_ms / 1000),
		         (unsigned long long)m->health.max_sink_errors);
	return why[0] == '\0';
}

/* One connection: a whole request and its reply get one deadline (not one per read or write,
 * which a client trickling a byte at a time would stretch for hours). */
struct conn {
	int fd;
	int64_t deadline; /* monotonic ms */
};

static int64_t conn_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for the socket until the connection's deadline: true when ready. */
static bool conn_wait(const struct conn *c, short events)
{
	for (;;) {
		int64_t left = c->deadline - conn_now_ms();
		if (left <= 0)
			return false;
		struct pollfd p = {.fd = c->fd, .events = events};
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return true;
		if (n == 0 || errno != EINTR)
			return false;
	}
}

static void send_all(const struct conn *c, const char *data, size_t len)
{
	while (len && conn_wait(c, POLLOUT)) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

static void reply(const struct conn *fd, int status, const char *reason, const char *type,
                  const char *body, size_t len, bool head_only)
{
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
	                 status, reason, type, len);
	send_all(fd, hdr, (size_t)n);
	if (!head_only)
		send_all(fd, body, len);
}

static void serve(struct dd_metrics *m, const struct conn *fd)
{
	char req[DD_REQUEST_MAX + 1];
	size_t got = 0;
	/* The request line and headers; a body is never expected. */
	while (got < DD_REQUEST_MAX && conn_wait(fd, POLLIN)) {
		ssize_t n = recv(fd->fd, req + got, DD_REQUEST_MAX - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[got] = '\0';
	if (got == 0)
		return; /* said nothing before the timeout, or went away */
	if (got == DD_REQUEST_MAX) {
		static const char big[] = "request too large\n";
		reply(fd, 431, "Request Header Fields Too Large", "text/plain", big,
		      sizeof(big) - 1, false);
		return;
	}
	char method[8], target[256];
	if (sscanf(req, "%7s %255s HTTP/1.%*c", method, target) != 2) {
		static const char bad[] = "bad request\n";
		reply(fd, 400, "Bad Request", "text/plain", bad, sizeof(bad) - 1, false);
		return;
	}
	bool head_only = strcmp(method, "HEAD") == 0;
	if (!head_only && strcmp(method, "GET") != 0) {
		static const char bad[] = "only GET and HEAD\n";
		reply(fd, 405, "Method Not Allowed", "text/plain", bad, sizeof(bad) - 1, false);
		return;
	}
	char *q = strchr(target, '?');
	if (q)
		*q = '\0';
	bool metrics = strcmp(target, "/metrics") == 0;
	bool health = strcmp(target, "/healthz") == 0;
	if (!metrics && !health) {
		static const char idx[] = "driftd: GET /metrics (Prometheus), GET /healthz\n";
		if (strcmp(target, "/") == 0)
			reply(fd, 200, "OK", "text/plain; charset=utf-8", idx, sizeof(idx) - 1,
			      head_only);
		else
			reply(fd, 404, "Not Found", "text/plain", "not found\n", 10, head_only);
		return;
	}
	char why[512];
	pthread_mutex_lock(&m->mu);
	bool ok = healthy(m, mono_ms(), why, sizeof(why));
	bool have = m->have && dd_metrics_sample_copy(&m->mine, &m->cur) == 0;
	pthread_mutex_unlock(&m->mu);
	if (health) {
		if (ok)
			reply(fd, 200, "OK", "text/plain; charset=utf-8", "ok\n", 3, head_only);
		else
			reply(fd, 503, "Service Unavailable", "text/plain; charset=utf-8", why,
			      strlen(why), head_only);
		return;
	}
	if (!have) {
		reply(fd, 503, "Service Unavailable", "text/plain; charset=utf-8", why, strlen(why),
		      head_only);
		return;
	}
	char *body = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&body, &len);
	if (!out) {
		reply(fd, 500, "Internal Server Error", "text/plain", "out of memory\n", 14, false);
		return;
	}
	dd_metrics_render(&m->mine, ok, DRIFTD_VERSION, out);
	fclose(out);
	reply(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, len, head_only);
	free(body);
}

static void *run(void *arg)
{
	struct dd_metrics *m = arg;
	struct pollfd pfd[2] = {{.fd = m->fd, .events = POLLIN}, {.fd = m->wake, .events = POLLIN}};
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		int c = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			/* Out of descriptors: the listening socket stays readable, so back off
			 * instead of spinning. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				poll(NULL, 0, 100);
			continue;
		}
		/* A client that stalls holds the endpoint for this long at most, in all. */
		struct conn cn = {.fd = c, .deadline = conn_now_ms() + DD_IO_TIMEOUT_SEC * 1000};
		serve(m, &cn);
		/* Lingering close: read what the client still sends (briefly, boundedly), so the
		 * reply is not lost to a reset for unread input. */
		shutdown(c, SHUT_WR);
		struct timeval drain = {.tv_sec = 1};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &drain, sizeof(drain));
		char sink[4096];
		for (int k = 0; k < 16 && recv(c, sink, sizeof(sink), 0) > 0; k++)
			;
		close(c);
	}
	return NULL;
}

int dd_metrics_start(const char *addr, const struct dd_metrics_health *h, FILE *log,
                     struct dd_metrics **ret)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char why[256];
	if (dd_parse_listen(addr, &ss, &len, why, sizeof(why)) < 0) {
		if (log)
			fprintf(log, "driftd: metrics: %s\n", why);
		return -EINVAL;
	}
	struct dd_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->log = log;
	m->health = *h;
	m->wake = -1;
	pthread_mutex_init(&m->mu, NULL);
	int rc;
	m->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->fd < 0)
		goto fail;
	int one = 1;
	setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(m->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(m->fd, (struct sockaddr *)&ss, len) < 0 || listen(m->fd, 16) < 0)
		goto fail;
	m->wake = eventfd(0, EFD_CLOEXEC);
	if (m->wake < 0)
		goto fail;
	rc = pthread_create(&m->thread, NULL, run, m);
	if (rc) {
		errno = rc;
		goto fail;
	}
	m->started = true;
	bool loopback = ss.ss_family == AF_INET
	                    ? (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127
	                    : IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
	if (!loopback && log)
		fprintf(log,
		        "driftd: metrics: %s is not a loopback address: anyone who can reach it "
		        "reads the metrics (no authentication); keep IPAddressAllow= narrow\n",
		        addr);
	*ret = m;
	return 0;
fail:
	rc = -errno;
	if (log)
		fprintf(log, "driftd: metrics: cannot listen on %s: %s\n", addr, strerror(errno));
	dd_metrics_stop(m);
	return rc;
}

void dd_metrics_stop(struct dd_metrics *m)
{
	if (!m)
		return;
	if (m->started) {
		uint64_t one = 1;
		if (write(m->wake, &one, sizeof(one)) < 0) {
			/* cannot happen with a valid eventfd; the join would hang */
		}
		pthread_join(m->thread, NULL);
	}
	if (m->fd >= 0)
		close(m->fd);
	if (m->wake >= 0)
		close(m->wake);
	pthread_mutex_destroy(&m->mu);
	dd_metrics_sample_free(&m->cur);
	dd_metrics_sample_free(&m->mine);
	free(m);
}
