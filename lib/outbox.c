/* The durable outbox shared by the network sinks: spool, delivery thread, backoff, circuit
 * breaker, dead letters. See outbox.h. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "outbox.h"
#include "spool.h"

#define BREAKER_THRESHOLD  5 /* consecutive failed attempts that open the circuit */
#define MAX_RETRY_AFTER_MS (24LL * 3600 * 1000)
#define OVERFLOW_LOG_EVERY 100

struct entry {
	char name[DD_SPOOL_NAME_MAX];
	char key[DD_SPOOL_KEY_MAX + 1];
	int64_t created_ms; /* wall clock */
	int64_t due;        /* monotonic ms of the next attempt */
	uint32_t attempts;
	uint64_t size;
};

struct dd_outbox {
	struct dd_outbox_settings set;
	struct dd_outbox_transport tr;
	char label[320];
	FILE *log;
	struct dd_spool *spool;

	pthread_mutex_t mu;
	pthread_cond_t wake; /* to the thread: new work, or stop */
	pthread_cond_t idle; /* from the thread: the queue shrank */
	bool started;
	pthread_t thread;
	bool stop;

	/* Under mu. The entries are individually allocated: the thread keeps a pointer to the one
	 * it is sending while put may grow the array. Oldest first. */
	struct entry **q;
	size_t nq, capq;
	uint64_t qbytes;
	unsigned consecutive; /* failed attempts in a row (any message) */
	unsigned trips;       /* times the circuit opened since the last success */
	bool breaker_open;
	int64_t not_before; /* monotonic ms: no attempt before (breaker, Retry-After) */
	bool disabled;
	struct dd_outbox_stats st;

	uint64_t rng; /* the thread's own */
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 2, 3))) static void olog(const struct dd_outbox *o, const char *fmt,
                                                       ...)
{
	if (!o->log)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(o->log, "driftd: %s: %s\n", o->label, msg);
}

static double rand01(uint64_t *s)
{
	/* xorshift64*: jitter needs spread, not secrecy. */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

int64_t dd_outbox_backoff_ms(uint32_t failures, int64_t initial_ms, int64_t cap_ms, double u01)
{
	int64_t ceil_ms = initial_ms;
	for (uint32_t i = 1; i < failures && ceil_ms < cap_ms; i++)
		ceil_ms = ceil_ms > INT64_MAX / 2 ? INT64_MAX : ceil_ms * 2;
	if (ceil_ms > cap_ms)
		ceil_ms = cap_ms;
	return (int64_t)(u01 * (double)ceil_ms);
}

static void abs_deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* ---- the queue (callers hold mu) ---- */

static bool over_bounds(const struct dd_outbox *o)
{
	return o->nq > o->set.max_files || o->qbytes > o->set.max_bytes;
}

static int queue_add(struct dd_outbox *o, struct entry *e)
{
	if (o->nq == o->capq) {
		size_t nc = o->capq ? o->capq * 2 : 64;
		struct entry **nq = realloc(o->q, nc * sizeof(*nq));
		if (!nq)
			return -ENOMEM;
		o->q = nq;
		o->capq = nc;
	}
	o->q[o->nq++] = e;
	o->qbytes += e->size;
	return 0;
}

static void queue_drop(struct dd_outbox *o, struct entry *e)
{
	for (size_t i = 0; i < o->nq; i++)
		if (o->q[i] == e) {
			memmove(&o->q[i], &o->q[i + 1], (o->nq - i - 1) * sizeof(*o->q));
			o->nq--;
			o->qbytes -= e->size;
			free(e);
			break;
		}
	pthread_cond_broadcast(&o->idle);
}

/* The next message to send, or NULL with *until set to when to look again. */
static struct entry *pick(struct dd_outbox *o, int64_t now, int64_t *until)
{
	*until = INT64_MAX;
	if (o->nq == 0 || o->disabled)
		return NULL;
	if (now < o->not_before) {
		*until = o->not_before;
		return NULL;
	}
	if (o->set.in_order) {
		if (o->breaker_open || o->q[0]->due <= now)
			return o->q[0];
		*until = o->q[0]->due;
		return NULL;
	}
	struct entry *best = NULL;
	if (o->breaker_open) {
		/* Half-open: one probe, the message that has waited longest for its retry (so a
		 * payload the receiver chokes on does not keep the circuit open by itself). */
		for (size_t i = 0; i < o->nq; i++)
			if (!best || o->q[i]->due < best->due)
				best = o->q[i];
		return best;
	}
	for (size_t i = 0; i < o->nq; i++) {
		if (o->q[i]->due <= now)
			return o->q[i]; /* oldest first */
		if (o->q[i]->due < *until)
			*until = o->q[i]->due;
	}
	return NULL;
}

/* ---- the delivery thread ---- */

static void bury(struct dd_outbox *o, struct entry *e, const char *why)
{
	int rc = dd_spool_bury(o->spool, e->name, why);
	if (rc < 0 && rc != -ENOENT)
		olog(o,
		     "alert %s (%s) not sent any more (%s), but it cannot move to dead/: %s; it "
		     "stays in %s and is tried again at the next start",
		     e->key, e->name, why, strerror(-rc), dd_spool_dir(o->spool));
	else
		olog(o, "alert %s moved to %s/dead/%s: %s", e->key, dd_spool_dir(o->spool), e->name,
		     why);
	pthread_mutex_lock(&o->mu);
	o->st.dead += rc == 0 || rc == -ENOENT;
	queue_drop(o, e);
	pthread_mutex_unlock(&o->mu);
}

static void failed(struct dd_outbox *o, struct entry *e, struct dd_spool_meta *m,
                   const struct driftd_buf *body, const char *what, int64_t retry_after_s,
                   bool probe)
{
	uint32_t attempts = e->attempts + 1;
	int64_t now_wall = wall_ms();
	pthread_mutex_lock(&o->mu);
	snprintf(o->st.last_error, sizeof(o->st.last_error), "%s", what);
	pthread_mutex_unlock(&o->mu);
	if ((o->set.max_attempts && attempts >= o->set.max_attempts) ||
	    now_wall - e->created_ms >= o->set.retry_horizon_ms) {
		char why[640];
		snprintf(why, sizeof(why), "gave up after %" PRIu32 " attempts over %.0f s: %s",
		         attempts, (double)(now_wall - e->created_ms) / 1000.0, what);
		pthread_mutex_lock(&o->mu);
		o->consecutive++;
		pthread_mutex_unlock(&o->mu);
		bury(o, e, why);
		return;
	}
	int64_t delay;
	if (retry_after_s > 0)
		delay = retry_after_s * 1000 > MAX_RETRY_AFTER_MS ? MAX_RETRY_AFTER_MS
		                                                  : retry_after_s * 1000;
	else
		delay = dd_outbox_backoff_ms(attempts, o->set.retry_initial_ms,
		                             o->set.retry_max_delay_ms, rand01(&o->rng));
	/* The bookkeeping goes to the file too (attempts count across restarts); if that
	 * fails the message is still in the spool and the count lives on in memory. */
	m->attempts = attempts;
	m->next_ms = now_wall + delay;
	int rc = body ? dd_spool_update(o->spool, e->name, m, body->data, body->len) : 0;
	if (rc < 0)
		olog(o, "cannot update %s: %s", e->name, strerror(-rc));

	int64_t now = mono_ms();
	pthread_mutex_lock(&o->mu);
	e->attempts = attempts;
	e->due = now + delay;
	o->st.retries++;
	bool first = o->consecutive == 0;
	o->consecutive++;
	if (retry_after_s > 0 && now + delay > o->not_before)
		o->not_before = now + delay; /* the receiver asked everyone to wait */
	bool opened = false;
	if (probe || o->consecutive >= BREAKER_THRESHOLD) {
		opened = !o->breaker_open;
		o->breaker_open = true;
		o->st.breaker_trips++;
		o->trips++;
		/* Equal jitter on the breaker's own exponential cooldown. */
		int64_t c = dd_outbox_backoff_ms(o->trips, o->set.retry_initial_ms,
		                                 o->set.retry_max_delay_ms, 1.0);
		int64_t cool = c / 2 + (int64_t)(rand01(&o->rng) * (double)(c - c / 2));
		if (now + cool > o->not_before)
			o->not_before = now + cool;
	}
	size_t pending = o->nq;
	int64_t wait = o->not_before - now;
	unsigned consecutive = o->consecutive;
	pthread_mutex_unlock(&o->mu);
	if (first)
		olog(o, "delivery of %s failed: %s; retrying in %.1f s", e->key, what,
		     (double)delay / 1000.0);
	if (opened)
		olog(o,
		     "circuit open after %u failures in a row (last: %s); %zu alerts wait in the "
		     "spool, next probe in %.1f s",
		     consecutive, what, pending, (double)wait / 1000.0);
}

static void attempt(struct dd_outbox *o, struct entry *e, bool probe)
{
	struct driftd_buf body = {0};
	struct dd_spool_meta m;
	int rc = dd_spool_read(o->spool, e->name, &m, &body, NULL);
	if (rc == -EBADMSG) {
		pthread_mutex_lock(&o->mu);
		o->st.corrupt++;
		pthread_mutex_unlock(&o->mu);
		bury(o, e, "corrupt spool file (truncated or garbled): not sent");
		goto out;
	}
	if (rc == -ENOENT) { /* removed by hand */
		pthread_mutex_lock(&o->mu);
		queue_drop(o, e);
		pthread_mutex_unlock(&o->mu);
		goto out;
	}
	if (rc < 0) {
		char what[128];
		snprintf(what, sizeof(what), "cannot read the spool file: %s", strerror(-rc));
		/* Not read: the file is left as it is (NULL body), only the schedule moves. */
		m = (struct dd_spool_meta){.created_ms = e->created_ms};
		snprintf(m.key, sizeof(m.key), "%s", e->key);
		failed(o, e, &m, NULL, what, 0, probe);
		goto out;
	}
	if (body.len == 0)
		driftd_buf_put(&body, "", 0); /* transports get a buffer, even for no bytes */
	struct dd_outbox_attempt r = {.verdict = DD_OUTBOX_RETRY};
	o->tr.send(o->tr.state, m.key, &body, &r);
	if (r.verdict == DD_OUTBOX_ABORTED)
		goto out; /* stopping: the message stays in the spool, untouched */
	pthread_mutex_lock(&o->mu);
	o->st.attempts++;
	pthread_mutex_unlock(&o->mu);
	switch (r.verdict) {
	case DD_OUTBOX_DELIVERED: {
		rc = dd_spool_remove(o->spool, e->name);
		if (rc < 0 && rc != -ENOENT)
			olog(o, "cannot remove %s: %s", e->name, strerror(-rc));
		pthread_mutex_lock(&o->mu);
		bool was_failing = o->breaker_open || o->consecutive > 0;
		o->st.delivered++;
		o->consecutive = 0;
		o->breaker_open = false;
		o->trips = 0;
		queue_drop(o, e);
		size_t pending = o->nq;
		pthread_mutex_unlock(&o->mu);
		if (was_failing)
			olog(o, "delivering again (%s); %zu alerts pending", r.what, pending);
		break;
	}
	case DD_OUTBOX_RETRY:
		failed(o, e, &m, &body, r.what, r.retry_after_s, probe);
		break;
	case DD_OUTBOX_DEAD: {
		char why[sizeof(r.what) + 64];
		snprintf(why, sizeof(why), "refused by the receiver: %s", r.what);
		bury(o, e, why);
		break;
	}
	case DD_OUTBOX_GONE: {
		char why[sizeof(r.what) + 64];
		snprintf(why, sizeof(why), "endpoint gone: %s", r.what);
		bury(o, e, why);
		pthread_mutex_lock(&o->mu);
		o->disabled = true;
		pthread_cond_broadcast(&o->idle);
		pthread_mutex_unlock(&o->mu);
		olog(o,
		     "the receiver is gone for good (%s): sending stops until driftd restarts; "
		     "alerts stay in %s",
		     r.what, dd_spool_dir(o->spool));
		break;
	}
	case DD_OUTBOX_ABORTED:
		break;
	}
out:
	driftd_buf_free(&body);
}

static void *deliver_thread(void *arg)
{
	struct dd_outbox *o = arg;
	pthread_mutex_lock(&o->mu);
	while (!o->stop) {
		int64_t now = mono_ms(), until;
		struct entry *e = pick(o, now, &until);
		if (!e) {
			if (until == INT64_MAX) {
				pthread_cond_wait(&o->wake, &o->mu);
			} else {
				struct timespec ts;
				abs_deadline(&ts, until - now);
				pthread_cond_timedwait(&o->wake, &o->mu, &ts);
			}
			continue;
		}
		bool probe = o->breaker_open;
		pthread_mutex_unlock(&o->mu);
		attempt(o, e, probe);
		pthread_mutex_lock(&o->mu);
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

/* ---- open, put, flush, close ---- */

static int recover(struct dd_outbox *o)
{
	char **names;
	size_t n;
	int rc = dd_spool_list(o->spool, &names, &n);
	if (rc < 0)
		return rc;
	int64_t now = mono_ms();
	for (size_t i = 0; i < n; i++) {
		struct dd_spool_meta m;
		uint64_t size = 0;
		rc = dd_spool_read(o->spool, names[i], &m, NULL, &size);
		if (rc == -EBADMSG) {
			o->st.corrupt++;
			o->st.dead++;
			dd_spool_bury(o->spool, names[i],
			              "corrupt spool file (truncated or garbled): not sent");
			olog(o, "%s/%s is corrupt: moved to dead/", dd_spool_dir(o->spool),
			     names[i]);
			continue;
		}
		if (rc < 0) {
			olog(o, "cannot read %s/%s: %s (left alone)", dd_spool_dir(o->spool),
			     names[i], strerror(-rc));
			continue;
		}
		struct entry *e = calloc(1, sizeof(*e));
		if (!e) {
			rc = -ENOMEM;
			break;
		}
		snprintf(e->name, sizeof(e->name), "%s", names[i]);
		memcpy(e->key, m.key, sizeof(e->key));
		e->created_ms = m.created_ms;
		e->attempts = m.attempts;
		e->due = now; /* re-sent first, right away */
		e->size = size;
		if ((rc = queue_add(o, e)) < 0) {
			free(e);
			break;
		}
		o->st.recovered++;
		rc = 0;
	}
	dd_spool_list_free(names, n);
	if (rc == 0 && o->st.recovered)
		olog(o,
		     "%" PRIu64 " undelivered alerts from an earlier run in %s: sending them "
		     "first",
		     o->st.recovered, dd_spool_dir(o->spool));
	return rc;
}

int dd_outbox_open(const char *dir, const char *label, FILE *log,
                   const struct dd_outbox_settings *set, const struct dd_outbox_transport *tr,
                   struct dd_outbox **ret)
{
	*ret = NULL;
	struct dd_outbox *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->set = *set;
	o->tr = *tr;
	o->log = log;
	snprintf(o->label, sizeof(o->label), "%s", label);
	int rc = dd_spool_open(dir, &o->spool);
	if (rc < 0) {
		olog(o, "cannot open the spool %s: %s", dir,
		     rc == -EBUSY ? "in use by another driftd" : strerror(-rc));
		free(o);
		return rc;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->wake, &ca);
	pthread_cond_init(&o->idle, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = recover(o)) < 0)
		goto fail;
	if (getrandom(&o->rng, sizeof(o->rng), 0) != sizeof(o->rng) || o->rng == 0)
		o->rng = (uint64_t)wall_ms() | 1;

	/* The thread takes no signals: they are the main thread's business. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&o->thread, NULL, deliver_thread, o);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		goto fail;
	o->started = true;
	*ret = o;
	return 0;
fail:
	dd_outbox_close(o);
	return rc;
}

int dd_outbox_put(struct dd_outbox *o, const char *key, const void *data, size_t len)
{
	size_t klen = strlen(key);
	if (!dd_spool_key_ok(key, klen))
		return -EINVAL;
	struct dd_spool_meta m = {.created_ms = wall_ms()};
	memcpy(m.key, key, klen + 1);
	m.next_ms = m.created_ms;

	pthread_mutex_lock(&o->mu);
	for (size_t i = 0; i < o->nq; i++)
		if (strcmp(o->q[i]->key, key) == 0) {
			/* Already waiting (same content-derived id): the receiver would drop it. */
			o->st.duplicates++;
			pthread_mutex_unlock(&o->mu);
			return 0;
		}
	bool over = o->nq + 1 > o->set.max_files || o->qbytes + len + 512 > o->set.max_bytes;
	uint64_t ov = over ? ++o->st.overflow : 0;
	pthread_mutex_unlock(&o->mu);
	/* Over a bound the message is still spooled (dropping an alert would be the one thing
	 * worse); the count is the signal, and the pipeline raises driftd.spool_overflow. */
	if (over && (ov == 1 || ov % OVERFLOW_LOG_EVERY == 0))
		olog(o,
		     "spool over its bounds (%" PRIu64 " files / %" PRIu64 " bytes): %" PRIu64
		     " alerts spooled beyond them so far",
		     o->set.max_files, o->set.max_bytes, ov);

	struct entry *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	int rc = dd_spool_put(o->spool, &m, data, len, e->name, &e->size);
	if (rc < 0) {
		free(e);
		pthread_mutex_lock(&o->mu);
		o->st.write_errors++;
		o->st.enospc += rc == -ENOSPC;
		pthread_mutex_unlock(&o->mu);
		return rc;
	}
	memcpy(e->key, m.key, sizeof(e->key));
	e->created_ms = m.created_ms;
	e->due = mono_ms();
	pthread_mutex_lock(&o->mu);
	rc = queue_add(o, e);
	if (rc == 0) {
		o->st.spooled++;
		pthread_cond_signal(&o->wake);
	}
	pthread_mutex_unlock(&o->mu);
	if (rc < 0) {
		/* Spooled but not queued: the next start sends it. */
		free(e);
		return rc;
	}
	return 0;
}

size_t dd_outbox_flush(struct dd_outbox *o)
{
	struct timespec dl;
	abs_deadline(&dl, o->set.flush_ms > 0 ? o->set.flush_ms : 0);
	pthread_mutex_lock(&o->mu);
	while (o->nq > 0 && !o->disabled && o->started)
		if (pthread_cond_timedwait(&o->idle, &o->mu, &dl) == ETIMEDOUT)
			break;
	struct dd_outbox_stats st = o->st;
	size_t pending = o->nq;
	pthread_mutex_unlock(&o->mu);
	if (st.spooled || st.recovered || pending)
		olog(o,
		     "%" PRIu64 " delivered, %zu pending in %s%s, %" PRIu64
		     " dead-lettered, %" PRIu64 " retries%s%s",
		     st.delivered, pending, dd_spool_dir(o->spool),
		     pending ? " (sent on the next start)" : "", st.dead, st.retries,
		     pending && st.last_error[0] ? "; last error: " : "",
		     pending ? st.last_error : "");
	return pending;
}

void dd_outbox_close(struct dd_outbox *o)
{
	if (!o)
		return;
	if (o->started) {
		pthread_mutex_lock(&o->mu);
		o->stop = true;
		pthread_cond_broadcast(&o->wake);
		pthread_mutex_unlock(&o->mu);
		if (o->tr.interrupt)
			o->tr.interrupt(o->tr.state);
		pthread_join(o->thread, NULL);
	}
	for (size_t i = 0; i < o->nq; i++)
		free(o->q[i]);
	free(o->q);
	pthread_cond_destroy(&o->wake);
	pthread_cond_destroy(&o->idle);
	pthread_mutex_destroy(&o->mu);
	dd_spool_close(o->spool);
	free(o);
}

void dd_outbox_stats(struct dd_outbox *o, struct dd_outbox_stats *out)
{
	pthread_mutex_lock(&o->mu);
	*out = o->st;
	out->pending = o->nq;
	out->pending_bytes = o->qbytes;
	out->failing = o->consecutive;
	out->over_bounds = over_bounds(o);
	out->breaker_open = o->breaker_open;
	out->disabled = o->disabled;
	pthread_mutex_unlock(&o->mu);
}

void dd_outbox_status(struct dd_outbox *o, struct driftd_sink_status *out)
{
	struct dd_outbox_stats st;
	dd_outbox_stats(o, &st);
	*out = (struct driftd_sink_status){
	    .delivered = st.delivered,
	    .dead = st.dead,
	    .retries = st.retries,
	    .overflow = st.overflow,
	    .write_errors = st.write_errors,
	    .pending = st.pending,
	    .pending_bytes = st.pending_bytes,
	    .failing = st.failing,
	    .over_bounds = st.over_bounds,
	    .breaker_open = st.breaker_open,
	};
	snprintf(out->last_error, sizeof(out->last_error), "%.255s",
	         st.failing ? st.last_error : "");
}

const char *dd_outbox_dir(const struct dd_outbox *o)
{
	return dd_spool_dir(o->spool);
}
