/* Kafka source (see kafka_source.h). Exactly-once effect on the monitors: each record's next
 * offset is noted in a positions table after dd_pipeline_feed returned for it; a snapshot
 * (daemon/state_store.c) writes the monitors' state and those positions together, and only
 * then are the offsets stored for commit (enable.auto.offset.store is off; auto-commit or
 * the explicit commits on revoke and shutdown send them). On assignment each partition
 * resumes at the snapshot's offset (or the group's commit, when another member read further;
 * a record below it means an offset reset, reported and processed). Without a state store
 * (tests, the demo) offsets are stored after each record: at least once.
 * Processing is synchronous in the poll loop, so the only queue is librdkafka's own, bounded
 * by queued.max.messages.kbytes: a slow pipeline slows fetching instead of growing memory. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <systemd/sd-daemon.h>

#include "adapt.h"
#include "alert.h"
#include "kafka_source.h"
#include "state_store.h"
#include "state_topic.h"

#define DD_STATUS_INTERVAL_MS 30000
/* The state topic (second tier): how long a flush or a restore may block the loop (the
 * watchdog is fed before each, and WatchdogSec is 30 s), and how often a topic that could not
 * be opened is tried again. */
#define DD_TOPIC_FLUSH_MS 5000
#define DD_TOPIC_FETCH_MS 20000
#define DD_TOPIC_RETRY_MS 60000
/* Headers beyond this many are ignored (CloudEvents needs about ten). */
#define DD_KAFKA_MAX_HEADERS 64

struct dd_kafka_source {
	const struct dd_config *conf;
	struct dd_kafka_opts opts;
	rd_kafka_t *rk;
	struct dd_adapter *adapter;
	struct dd_kafka_stats st;
	bool closed;
	uint64_t errors_logged;
	uint64_t watchdog_usec; /* systemd WatchdogSec, 0: off */
	int64_t last_watchdog_ms;
	int64_t last_status_ms;
	uint64_t last_status_records;
	int64_t last_tick_ms;
	/* State: the positions the monitors' state covers, and where it is written. */
	struct dd_state_store *state;
	struct dd_positions pos;
	struct dd_partition_pos *last_pos; /* the partition of the previous record */
	struct dd_pipeline *p;             /* the pipeline being fed (for revoke snapshots) */
	int64_t last_snapshot_ms;
	uint64_t records_at_snapshot;
	bool held_back;         /* snapshots wait for refused alerts */
	bool state_offsets_win; /* restored from a fallback generation (see rebalance) */
	/* The second tier (state.kafka_topic), opened when first needed; NULL until then. */
	struct dd_state_topic *topic;
	char *topic_name; /* state.kafka_topic at start (a reload does not change it), or NULL */
	int64_t topic_tried_ms;
	size_t restoring; /* partitions paused until the state topic can be read */
	/* Fault injection for tests (DRIFTD_FAULT_STATE_TOPIC_READS=N): the first N reads of the
	 * state topic fail as if it could not be reached. A real broker cannot be made to fail
	 * only its state topic's reads while the group goes on. */
	unsigned long fault_reads;
	int64_t restore_tried_ms;
	int64_t last_expire_ms;
	bool force_snapshot; /* partitions' states changed hands: write one even without records */
	bool local_failing;  /* the last local snapshot failed (the next one is forced) */
	bool topic_failing;  /* the last publish to the state topic failed */
	int64_t topic_fail_since_ms;
};

static void feed_watchdog(struct dd_kafka_source *s)
{
	if (s->watchdog_usec) {
		sd_notify(0, "WATCHDOG=1");
		s->last_watchdog_ms = dd_kafka_now_ms();
	}
}

/* The state topic, opened now if it is not yet (at most once a minute: an open that fails
 * waits out its timeout). NULL when not configured or not available. */
static struct dd_state_topic *state_topic(struct dd_kafka_source *s)
{
	if (s->topic || !s->state || !s->topic_name)
		return s->topic;
	int64_t now = dd_kafka_now_ms();
	if (s->topic_tried_ms && now - s->topic_tried_ms < DD_TOPIC_RETRY_MS)
		return NULL;
	s->topic_tried_ms = now;
	feed_watchdog(s);
	char err[512] = "";
	int rc = dd_state_topic_open(s->opts.brokers ? s->opts.brokers : s->conf->kafka.brokers,
	                             s->topic_name, s->conf->kafka.group, s->conf->kafka.properties,
	                             s->opts.log, &s->topic, err, sizeof(err));
	if (rc < 0 && s->opts.log)
		fprintf(s->opts.log,
		        "driftd: state topic %s: cannot open it: %s (tried again in %d s; until "
		        "then offsets are not committed and newly assigned partitions wait, "
		        "paused)\n",
		        s->topic_name, err[0] ? err : strerror(-rc), DD_TOPIC_RETRY_MS / 1000);
	else if (rc == 0 && s->opts.log)
		fprintf(s->opts.log, "driftd: state topic %s: open\n", s->topic_name);
	return s->topic;
}

int64_t dd_kafka_source_lag(struct dd_kafka_source *s)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	if (rd_kafka_assignment(s->rk, &parts) || !parts)
		return -1;
	int64_t total = -1;
	if (parts->cnt > 0 && rd_kafka_position(s->rk, parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		total = 0;
		for (int i = 0; i < parts->cnt; i++) {
			int64_t lo, hi;
			const rd_kafka_topic_partition_t *tp = &parts->elems[i];
			if (rd_kafka_get_watermark_offsets(s->rk, tp->topic, tp->partition, &lo,
			                                   &hi) ||
			    hi < 0)
				continue;
			int64_t pos = tp->offset >= 0 ? tp->offset : lo;
			if (hi > pos)
				total += hi - pos;
		}
	}
	rd_kafka_topic_partition_list_destroy(parts);
	return total;
}

/* A periodic one-line status on the log: throughput, rejects by reason, lag, firing alerts. */
static void status_line(struct dd_kafka_source *s, struct dd_pipeline *p, int64_t now_ms)
{
	if (!s->last_status_ms)
		s->last_status_ms = now_ms; /* the first line comes one interval after start */
	if (!s->opts.log || now_ms - s->last_status_ms < DD_STATUS_INTERVAL_MS)
		return;
	double secs = (double)(now_ms - s->last_status_ms) / 1000.0;
	struct dd_pipeline_stats stats;
	dd_pipeline_stats(p, &stats);
	const struct dd_pipeline_stats *st = &stats;
	char rejects[256] = "";
	size_t off = 0;
	for (int r = 1; r < DD_REJECT__MAX; r++)
		if (st->rejects[r]) {
			int n = snprintf(rejects + off, sizeof(rejects) - off, " %s=%llu",
			                 dd_reject_name((enum dd_reject)r),
			                 (unsigned long long)st->rejects[r]);
			if (n > 0 && (size_t)n < sizeof(rejects) - off)
				off += (size_t)n;
		}
	fprintf(s->opts.log,
	        "driftd: status: %llu records (%.0f/s), %d partitions, lag %lld, %llu firing; "
	        "rejects:%s\n",
	        (unsigned long long)s->st.records,
	        (double)(s->st.records - s->last_status_records) / secs, s->st.assigned,
	        (long long)dd_kafka_source_lag(s), (unsigned long long)st->firing,
	        off ? rejects : " none");
	s->last_status_ms = now_ms;
	s->last_status_records = s->st.records;
}

static void restore_alert(struct dd_kafka_source *s, const char *where, const char *why);

/* The state topic's record of each of the n partitions (an array of n, entries NULL when
 * there is none), or NULL when it cannot be read now (not reachable, timed out). */
static json_t **fetch_remote(struct dd_kafka_source *s, const struct dd_tp *want, size_t n)
{
	struct dd_state_topic *t = state_topic(s);
	if (!t || n == 0)
		return NULL;
	if (s->fault_reads) {
		s->fault_reads--;
		if (s->opts.log)
			fprintf(s->opts.log,
			        "driftd: state topic %s: read failed (fault injection); the %zu "
			        "partitions wait (paused) until it can be read\n",
			        s->topic_name, n);
		return NULL;
	}
	json_t **out = calloc(n, sizeof(*out));
	if (!out)
		return NULL;
	char why[512] = "";
	unsigned bad = 0;
	feed_watchdog(s);
	int64_t t0 = dd_kafka_now_ms();
	int rc = dd_state_topic_fetch(t, want, n, out, &bad, DD_TOPIC_FETCH_MS, why, sizeof(why));
	feed_watchdog(s);
	if (rc < 0) {
		if (s->opts.log)
			fprintf(
			    s->opts.log,
			    "driftd: state topic %s: cannot read it: %s; the %zu partitions wait "
			    "(paused) until it can be read\n",
			    s->topic_name, why[0] ? why : strerror(-rc), n);
		free(out);
		return NULL;
	}
	if (s->opts.log) {
		size_t found = 0;
		for (size_t i = 0; i < n; i++)
			found += out[i] != NULL;
		fprintf(s->opts.log,
		        "driftd: state topic %s: read in %lld ms: %zu of %zu partitions have a "
		        "state there%s\n",
		        s->topic_name, (long long)(dd_kafka_now_ms() - t0), found, n,
		        bad ? " (some records were not valid: see above)" : "");
	}
	return out;
}

static int cmp_offset(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Note the offsets of the request halves the adapter holds for partition k, when it holds
 * them: not for a partition restored from disk and not yet read, paused, or still reading its
 * held halves again (then the noted ones stand). */
static void note_held(struct dd_kafka_source *s, size_t k)
{
	struct dd_partition_pos *e = &s->pos.p[k];
	if (!e->live || e->restored || e->restoring || e->replaying)
		return;
	size_t n = dd_adapter_held(s->adapter, (uint32_t)k + 1, NULL, 0);
	int64_t *v = n ? malloc(n * sizeof(*v)) : NULL;
	if (n && !v)
		return; /* no memory: the last noted ones stand */
	dd_adapter_held(s->adapter, (uint32_t)k + 1, v, n);
	dd_partition_set_held(e, v, n);
	free(v);
}

/* Put partition e's state in the pipeline (if it is not there yet): the state topic's record
 * when it is further than what this instance has and loads, else the local one, the seed, or
 * fresh. Returns the offset to resume at, or RD_KAFKA_OFFSET_INVALID (the group's commit or
 * auto.offset.reset). committed: the group's commit (-1 unknown). */
static int64_t take_partition(struct dd_kafka_source *s, struct dd_partition_pos *e,
                              const json_t *remote, int64_t committed)
{
	char where[300], why[512] = "";
	snprintf(where, sizeof(where), "%s[%d]", e->topic, (int)e->partition);
	/* Kept: held by this process since before the rebalance (its held request halves are
	 * in the adapter); a partition restored from disk at start is live but not kept, and
	 * one still reading its held halves again starts that over. */
	uint32_t src = (uint32_t)(e - s->pos.p) + 1;
	bool kept = e->live && !e->restored && !e->replaying;
	if (e->live && e->replaying)
		dd_adapter_drop(s->adapter, src);
	e->restored = e->replaying = false;
	const char *from = kept                  ? "kept"
	                   : e->live || e->state ? "the local snapshot"
	                   : s->pos.seed         ? "the seed"
	                                         : NULL;
	struct dd_partition_pos r = {0};
	int pr = remote ? dd_state_partition_parse(remote, &r, why, sizeof(why)) : -ENOENT;
	if (pr == 0 && (r.partition != e->partition || strcmp(r.topic, e->topic) != 0)) {
		snprintf(why, sizeof(why), "it names %s[%d]", r.topic, (int)r.partition);
		json_decref(r.state);
		pr = -EBADMSG;
	}
	if (pr == -EBADMSG && s->opts.log)
		fprintf(s->opts.log,
		        "driftd: state topic: the record of %s is not a partition state (%s): "
		        "ignored\n",
		        where, why);
	if (pr == 0 && r.state && r.next > e->next) {
		/* Another member (or this one before a crash) got further: its state and
		 * offset win over what this instance kept. One that does not load is ignored
		 * (and reported): the local state stays. */
		struct dd_load_report lr;
		int rc = dd_state_take(s->p, &s->pos, e, r.state, &lr, why, sizeof(why));
		if (rc == 0) {
			if (dd_partition_set_held(e, r.held, r.n_held) < 0 && s->opts.log)
				fprintf(s->opts.log,
				        "driftd: kafka: %s: no memory for its %zu waiting request "
				        "halves: they are not read again\n",
				        where, r.n_held);
			e->next = e->published = r.next;
			from = "the state topic";
			if (kept) /* what the adapter holds belongs to the replaced state */
				dd_adapter_drop(s->adapter, src);
			kept = false;
		} else if (rc == -EBADMSG) {
			char w[340];
			snprintf(w, sizeof(w), "%s (state topic)", where);
			restore_alert(s, w, why);
		}
	}
	if (pr == 0) {
		json_decref(r.state);
		free(r.held);
	}
	if (!e->live) {
		struct dd_load_report lr;
		why[0] = '\0';
		int rc = dd_state_take(s->p, &s->pos, e, NULL, &lr, why, sizeof(why));
		if (rc == -EBADMSG) {
			restore_alert(s, where, why);
			from = NULL;
		}
	}
	if (e->next < 0) {
		if (s->opts.log && from)
			fprintf(s->opts.log,
			        "driftd: kafka: %s starts from %s at the group's offset\n", where,
			        from);
		return RD_KAFKA_OFFSET_INVALID;
	}
	/* Unless the group committed further (another member owned the partition since, and
	 * its state did not reach us): then from there, as re-reading would count those
	 * records twice across the group. */
	if (committed > e->next) {
		if (s->opts.log)
			fprintf(s->opts.log,
			        "driftd: kafka: %s: the group committed %lld, past the state's "
			        "%lld: another member read it since\n",
			        where, (long long)committed, (long long)e->next);
		e->next = committed;
		if (e->n_held && s->opts.log)
			fprintf(
			    s->opts.log,
			    "driftd: kafka: %s: %zu request halves that waited for their response "
			    "in the state are not read again (the group read past them)\n",
			    where, e->n_held);
		dd_partition_set_held(e, NULL, 0);
	}
	/* Request halves that waited for their response when the state was saved: read again
	 * from the oldest (into the adapter only, up to next). A partition kept live still
	 * has them in the adapter. */
	e->replaying = !kept && e->n_held > 0 && e->resume < e->next;
	if (e->replaying) {
		if (s->opts.log)
			fprintf(
			    s->opts.log,
			    "driftd: kafka: %s resumes at offset %lld (the state snapshot's, %s); "
			    "%zu request halves waiting for their response read again from "
			    "%lld\n",
			    where, (long long)e->next, from ? from : "fresh", e->n_held,
			    (long long)e->resume);
		return e->resume;
	}
	if (s->opts.log)
		fprintf(s->opts.log,
		        "driftd: kafka: %s resumes at offset %lld (the state snapshot's, %s)\n",
		        where, (long long)e->next, from ? from : "fresh");
	return e->next;
}

/* The group's commit of each partition of list (-1 unknown), or NULL. */
static int64_t *committed_offsets(struct dd_kafka_source *s,
                                  const rd_kafka_topic_partition_list_t *list)
{
	rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(list);
	if (c && rd_kafka_committed(s->rk, c, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_topic_partition_list_destroy(c);
		c = NULL;
	}
	int64_t *out = c ? calloc((size_t)list->cnt + 1, sizeof(*out)) : NULL;
	for (int i = 0; out && i < list->cnt; i++)
		out[i] = c->elems[i].offset;
	if (c)
		rd_kafka_topic_partition_list_destroy(c);
	feed_watchdog(s);
	return out;
}

/* Partitions assigned: each one's state goes into the pipeline before its first record, and
 * it resumes where that state stops. With a state topic that cannot be read now, they stay
 * paused (restoring) until it can: processing on a state older than the topic's would
 * publish it over the newer one. */
static void assigned(struct dd_kafka_source *s, rd_kafka_topic_partition_list_t *parts)
{
	feed_watchdog(s);
	s->force_snapshot = true;
	/* Partitions held before and not assigned again leave (their state is kept, and
	 * written with the others). */
	for (size_t k = 0; k < s->pos.n; k++) {
		struct dd_partition_pos *e = &s->pos.p[k];
		e->owned = e->restoring = false;
		bool again = false;
		for (int i = 0; i < parts->cnt && !again; i++)
			again = parts->elems[i].partition == e->partition &&
			        strcmp(parts->elems[i].topic, e->topic) == 0;
		if (e->live && !again) {
			note_held(s, k);
			e->replaying = false;
			dd_adapter_drop(s->adapter, (uint32_t)k + 1);
			if (dd_state_release(s->p, e) < 0 && s->opts.log)
				fprintf(s->opts.log,
				        "driftd: state: %s[%d]: cannot keep its state\n", e->topic,
				        (int)e->partition);
			feed_watchdog(s);
		}
	}
	/* After a fallback to an older generation our own commits are ahead of the state (the
	 * newer snapshot that covered them was lost): then, at this first assignment, the
	 * state's offsets win and the records in between are read again. */
	int64_t *committed = s->state_offsets_win ? NULL : committed_offsets(s, parts);
	struct dd_tp *want = calloc((size_t)parts->cnt + 1, sizeof(*want));
	for (int i = 0; want && i < parts->cnt; i++)
		want[i] = (struct dd_tp){parts->elems[i].topic, parts->elems[i].partition};
	json_t **remote = want ? fetch_remote(s, want, (size_t)parts->cnt) : NULL;
	bool wait = s->topic_name && !remote;
	for (int i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &parts->elems[i];
		struct dd_partition_pos *e = dd_positions_get(&s->pos, tp->topic, tp->partition);
		if (!e)
			continue; /* no memory: the run loop opens it fresh */
		e->owned = true;
		if (wait) {
			e->restoring = true;
			s->restoring++;
			continue;
		}
		tp->offset =
		    take_partition(s, e, remote ? remote[i] : NULL, committed ? committed[i] : -1);
		feed_watchdog(s);
	}
	/* The fallback's offsets win at the first partitions taken only (paused ones take
	 * theirs in restore_paused). */
	if (!wait)
		s->state_offsets_win = false;
	for (int i = 0; remote && i < parts->cnt; i++)
		json_decref(remote[i]);
	free(remote);
	free(want);
	free(committed);
}

/* Partitions paused for the state topic (assigned while it could not be read): read it again,
 * take their states, seek and resume. Called from the loop, at most every few seconds. */
static void restore_paused(struct dd_kafka_source *s)
{
	int64_t now = dd_kafka_now_ms();
	if (!s->restoring || now - s->restore_tried_ms < 5000)
		return;
	s->restore_tried_ms = now;
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
	struct dd_tp *want = calloc(s->pos.n + 1, sizeof(*want));
	size_t n = 0;
	for (size_t k = 0; want && k < s->pos.n; k++)
		if (s->pos.p[k].restoring) {
			want[n++] = (struct dd_tp){s->pos.p[k].topic, s->pos.p[k].partition};
			rd_kafka_topic_partition_list_add(list, s->pos.p[k].topic,
			                                  s->pos.p[k].partition);
		}
	json_t **remote = want ? fetch_remote(s, want, n) : NULL;
	if (remote) {
		int64_t *committed = s->state_offsets_win ? NULL : committed_offsets(s, list);
		s->state_offsets_win = false;
		for (size_t i = 0; i < n; i++) {
			struct dd_partition_pos *e =
			    dd_positions_find(&s->pos, want[i].topic, want[i].partition);
			int64_t off =
			    take_partition(s, e, remote[i], committed ? committed[(int)i] : -1);
			list->elems[i].offset = off;
			e->restoring = false;
			json_decref(remote[i]);
		}
		free(committed);
		s->restoring = 0;
		s->force_snapshot = true;
		/* The whole assignment again, with each partition's start: the restored ones
		 * where their state says, the others at the next record they have not processed
		 * (what was fetched for them and not yet processed is fetched again; one still
		 * reading its held halves again starts that over). An explicit assignment sets
		 * the positions, where a seek could still fail for a partition whose fetch had
		 * not started. */
		rd_kafka_topic_partition_list_t *cur = NULL;
		rd_kafka_resp_err_t aerr = rd_kafka_assignment(s->rk, &cur);
		for (int i = 0; !aerr && i < cur->cnt; i++) {
			rd_kafka_topic_partition_t *tp = &cur->elems[i];
			const rd_kafka_topic_partition_t *r =
			    rd_kafka_topic_partition_list_find(list, tp->topic, tp->partition);
			struct dd_partition_pos *e =
			    dd_positions_find(&s->pos, tp->topic, tp->partition);
			tp->offset = RD_KAFKA_OFFSET_INVALID; /* the group's commit */
			if (r) {
				tp->offset = r->offset; /* restored now */
			} else if (e && e->replaying) {
				dd_adapter_drop(s->adapter, (uint32_t)(e - s->pos.p) + 1);
				tp->offset = e->resume;
			} else if (e && e->next >= 0) {
				tp->offset = e->next;
			}
		}
		if (!aerr)
			aerr = rd_kafka_assign(s->rk, cur);
		if (cur)
			rd_kafka_topic_partition_list_destroy(cur);
		rd_kafka_resume_partitions(s->rk, list);
		s->last_pos = NULL;
		if (s->opts.log) {
			if (aerr)
				fprintf(
				    s->opts.log,
				    "driftd: kafka: cannot set the restored partitions' offsets: "
				    "%s\n",
				    rd_kafka_err2str(aerr));
			fprintf(s->opts.log, "driftd: kafka: %zu partitions restored and resumed\n",
			        n);
		}
	}
	free(remote);
	free(want);
	rd_kafka_topic_partition_list_destroy(list);
}

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct dd_kafka_source *s = opaque;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		s->restoring = 0;
		if (s->state && s->p)
			assigned(s, parts);
		s->last_pos = NULL;
		rd_kafka_assign(rk, parts);
		if (s->restoring) {
			/* Paused until the state topic can be read (restore_paused). */
			rd_kafka_topic_partition_list_t *paused =
			    rd_kafka_topic_partition_list_new(parts->cnt);
			for (size_t k = 0; k < s->pos.n; k++)
				if (s->pos.p[k].restoring)
					rd_kafka_topic_partition_list_add(paused, s->pos.p[k].topic,
					                                  s->pos.p[k].partition);
			rd_kafka_pause_partitions(rk, paused);
			rd_kafka_topic_partition_list_destroy(paused);
			s->restore_tried_ms = dd_kafka_now_ms();
		}
		s->st.assigned = parts->cnt;
		if (s->opts.log)
			fprintf(s->opts.log, "driftd: kafka: assigned %d partition%s\n", parts->cnt,
			        parts->cnt == 1 ? "" : "s");
		return;
	}
	/* Revoked (or an error): snapshot and commit what was processed before the partitions
	 * go, so the next owner starts where we stopped rather than at the last commit. The
	 * shards stay until the next assignment says which partitions are ours again. When
	 * the assignment was lost (this member was dropped from the group: the partitions may
	 * have a new owner already) the state is written locally only: publishing it could
	 * overwrite the new owner's newer state. */
	bool lost = rd_kafka_assignment_lost(rk);
	for (size_t k = 0; lost && k < s->pos.n; k++)
		s->pos.p[k].owned = false;
	if (s->p)
		dd_kafka_source_snapshot(s, s->p, !lost);
	else if (!lost)
		rd_kafka_commit(rk, NULL, 0);
	for (size_t k = 0; k < s->pos.n; k++)
		s->pos.p[k].owned = s->pos.p[k].restoring = false;
	s->restoring = 0;
	rd_kafka_assign(rk, NULL);
	s->st.assigned = 0;
	if (s->opts.log)
		fprintf(s->opts.log, "driftd: kafka: partitions revoked (%s%s)\n",
		        rd_kafka_err2str(err), lost ? "; the assignment was lost" : "");
}

/* Errors librdkafka raises outside of messages (all brokers down, authentication, ...):
 * counted for the status line and logged rate-limited; librdkafka keeps retrying. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct dd_kafka_source *s = opaque;
	s->st.errors++;
	if (!s->opts.log || (s->errors_logged >= 10 && s->st.errors % 1000 != 0))
		return;
	s->errors_logged++;
	fprintf(s->opts.log, "driftd: kafka: %s: %s (errors so far: %llu; retrying)\n",
	        rd_kafka_err2name((rd_kafka_resp_err_t)err), reason,
	        (unsigned long long)s->st.errors);
}

static int set(rd_kafka_conf_t *kc, const char *k, const char *v, char *err, size_t errsz)
{
	char e[256];
	if (rd_kafka_conf_set(kc, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errsz, "librdkafka property %s=%s: %s", k, v, e);
		return -EINVAL;
	}
	return 0;
}

int dd_kafka_source_new(const struct dd_config *c, const struct dd_kafka_opts *o,
                        struct dd_kafka_source **ret, char *err, size_t errsz)
{
	if (!c->has_kafka) {
		snprintf(err, errsz, "%s has no source.kafka", c->path);
		return -EINVAL;
	}
	struct dd_kafka_source *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->conf = c;
	s->opts = *o;
	enum dd_format fmt = DD_FORMAT_NATIVE;
	dd_format_parse(c->kafka.format, &fmt); /* validated by the config loader */
	struct dd_adapter_opts ao = {.max_record = c->max_record};
	int arc = dd_adapter_new(fmt, &ao, &s->adapter);
	if (arc < 0) {
		free(s);
		snprintf(err, errsz, "cannot set up the %s format: %s", c->kafka.format,
		         strerror(-arc));
		return arc;
	}
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	char fetch[32];
	/* librdkafka grows its fetch size for an oversized record; the application still
	 * checks each record against limits.max_record_bytes. */
	snprintf(fetch, sizeof(fetch), "%zu", c->max_record < 1048576 ? 1048576 : c->max_record);
	int rc =
	    set(kc, "bootstrap.servers", o->brokers ? o->brokers : c->kafka.brokers, err, errsz);
	if (!rc)
		rc = set(kc, "group.id", c->kafka.group, err, errsz);
	if (!rc)
		rc = set(kc, "enable.auto.offset.store", "false", err, errsz);
	/* Defaults the user may override through source.kafka.properties. */
	const char *defaults[][2] = {
	    {"enable.auto.commit", "true"},
	    {"auto.commit.interval.ms", "1000"}, /* fewer re-deliveries after a crash */
	    {"auto.offset.reset", "earliest"},   /* a new group monitors what is there */
	    {"enable.partition.eof", "false"},
	    {"queued.max.messages.kbytes", "65536"},
	    {"fetch.message.max.bytes", fetch},
	    {"session.timeout.ms", "10000"},
	    {"client.id", "driftd"},
	    /* Errors come through on_error; librdkafka's own log keeps only critical messages. */
	    {"log_level", "2"},
	};
	for (size_t i = 0; !rc && i < sizeof(defaults) / sizeof(defaults[0]); i++)
		rc = set(kc, defaults[i][0], defaults[i][1], err, errsz);
	const char *key;
	json_t *val;
	json_object_foreach (c->kafka.properties, key, val) {
		if (rc)
			break;
		rc = set(kc, key, json_string_value(val), err, errsz);
	}
	if (rc) {
		rd_kafka_conf_destroy(kc);
		dd_adapter_free(s->adapter);
		free(s);
		return rc;
	}
	rd_kafka_conf_set_rebalance_cb(kc, rebalance);
	rd_kafka_conf_set_error_cb(kc, on_error);
	rd_kafka_conf_set_opaque(kc, s);
	char e[512];
	s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, e, sizeof(e));
	if (!s->rk) {
		snprintf(err, errsz, "cannot create the Kafka consumer: %s", e);
		rd_kafka_conf_destroy(kc);
		dd_adapter_free(s->adapter);
		free(s);
		return -EINVAL;
	}
	rd_kafka_poll_set_consumer(s->rk);
	if (sd_watchdog_enabled(0, &s->watchdog_usec) <= 0)
		s->watchdog_usec = 0;
	rd_kafka_topic_partition_list_t *topics =
	    rd_kafka_topic_partition_list_new((int)c->kafka.n_topics);
	for (size_t i = 0; i < c->kafka.n_topics; i++)
		rd_kafka_topic_partition_list_add(topics, c->kafka.topics[i],
		                                  RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t kerr = rd_kafka_subscribe(s->rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (kerr) {
		snprintf(err, errsz, "cannot subscribe: %s", rd_kafka_err2str(kerr));
		dd_kafka_source_free(s);
		return -EINVAL;
	}
	const char *fault = getenv("DRIFTD_FAULT_STATE_TOPIC_READS");
	s->fault_reads = fault ? strtoul(fault, NULL, 10) : 0;
	if (c->state_kafka_topic && !o->stateless &&
	    !(s->topic_name = strdup(c->state_kafka_topic))) {
		dd_kafka_source_free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

int dd_kafka_feed(struct dd_adapter *a, struct dd_pipeline *p, const struct rd_kafka_message_s *m,
                  const struct dd_origin *at, size_t max_record, uint32_t src, bool hold_only)
{
	/* Size first: nothing is parsed or copied for an oversized record. */
	if (m->len > max_record) {
		if (!hold_only) /* counted when it was first read */
			dd_pipeline_reject(p, DD_REJECT_TOO_LARGE, at);
		return 0;
	}
	struct dd_header hs[DD_KAFKA_MAX_HEADERS];
	size_t nh = 0;
	rd_kafka_headers_t *hdrs = NULL;
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		const char *name;
		const void *val;
		size_t size;
		for (size_t i = 0; nh < DD_KAFKA_MAX_HEADERS &&
		                   !rd_kafka_header_get_all(hdrs, i, &name, &val, &size);
		     i++)
			hs[nh++] = (struct dd_header){.key = name, .value = val, .len = size};
	}
	rd_kafka_timestamp_type_t tt;
	int64_t ts = rd_kafka_message_timestamp(m, &tt);
	struct dd_record r = {.value = m->payload,
	                      .len = m->len,
	                      .headers = hs,
	                      .n_headers = nh,
	                      .ts_ms = tt == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts,
	                      .src = src,
	                      .offset = m->offset};
	const char *out;
	size_t out_len = 0;
	enum dd_adapt_reject why = DD_ADAPT_OK;
	int rc = dd_adapt(a, &r, &out, &out_len, &why);
	if (rc == -ENOMEM)
		return rc;
	if (hold_only)
		return 0; /* read again for its held half only: the rest went through before */
	if (rc < 0) {
		dd_pipeline_reject_format(p, why, at);
		return 0;
	}
	if (out_len == 0)
		return 0; /* half of a request/response pair, held for its other half */
	return dd_pipeline_feed(p, out, out_len, at);
}

static bool stop_requested(const struct dd_kafka_source *s)
{
	if (s->opts.stop_fd < 0)
		return false;
	struct pollfd pfd = {.fd = s->opts.stop_fd, .events = POLLIN};
	return poll(&pfd, 1, 0) > 0;
}

static void consumer_error(struct dd_kafka_source *s, const rd_kafka_message_t *m)
{
	s->st.errors++;
	/* Rate-limited: a broker outage produces an error per retry. */
	if (!s->opts.log || (s->errors_logged >= 10 && s->st.errors % 1000 != 0))
		return;
	s->errors_logged++;
	fprintf(s->opts.log, "driftd: kafka: %s%s%s (errors so far: %llu)\n",
	        rd_kafka_err2str(m->err), m->rkt ? " on " : "",
	        m->rkt ? rd_kafka_topic_name(m->rkt) : "", (unsigned long long)s->st.errors);
}

int dd_kafka_source_run(struct dd_kafka_source *s, struct dd_pipeline *p)
{
	unsigned polls = 0;
	s->p = p;
	if (!s->last_snapshot_ms)
		s->last_snapshot_ms = dd_kafka_now_ms();
	for (;;) {
		/* The signal check costs a syscall: do it every few polls, and on idle ones. */
		rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 100);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		dd_pipeline_tick(p, now_ms);
		status_line(s, p, now_ms);
		/* Idle partitions still get their snapshot (the last records' offsets). */
		if (!m && s->state && now_ms - s->last_snapshot_ms >= s->conf->snapshot_interval_ms)
			dd_kafka_source_snapshot(s, p, false);
		/* The watchdog is fed from this loop, so a hung pipeline stops feeding it. */
		if (s->watchdog_usec &&
		    (now_ms - s->last_watchdog_ms) * 2000 >= (int64_t)s->watchdog_usec) {
			sd_notify(0, "WATCHDOG=1");
			s->last_watchdog_ms = now_ms;
		}
		if (s->opts.tick && now_ms - s->last_tick_ms >= 1000) {
			s->opts.tick(s->opts.tick_arg, s, p, now_ms);
			s->last_tick_ms = now_ms;
		}
		if (s->restoring)
			restore_paused(s);
		/* Request halves whose response never came (kserve-v2, cloudevents), by each
		 * partition's own record time (a partition catching up a backlog must not lose
		 * halves whose partners are still ahead in it); without state, the wall clock. */
		if (!s->state) {
			dd_adapter_expire(s->adapter, now_ms);
		} else if (now_ms - s->last_expire_ms >= 1000) {
			s->last_expire_ms = now_ms;
			for (size_t k = 0; k < s->pos.n; k++)
				if (s->pos.p[k].live && s->pos.p[k].max_ts >= 0)
					dd_adapter_expire_src(s->adapter, (uint32_t)k + 1,
					                      s->pos.p[k].max_ts);
		}
		if ((!m || (++polls & 63) == 0) && stop_requested(s)) {
			if (m) {
				/* Not processed: seek back so the next run (after a reload) or the
				 * next owner reads it again. */
				rd_kafka_seek(m->rkt, m->partition, m->offset, 1000);
				rd_kafka_message_destroy(m);
			}
			return 1;
		}
		if (!m)
			continue;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				consumer_error(s, m);
			rd_kafka_message_destroy(m);
			continue;
		}
		struct dd_origin at = {
		    .kafka = true,
		    .topic = rd_kafka_topic_name(m->rkt),
		    .partition = m->partition,
		    .offset = m->offset,
		    .index = s->st.records,
		};
		struct dd_partition_pos *pp = NULL;
		if (s->state) {
			pp = s->last_pos && s->last_pos->partition == m->partition &&
			             strcmp(s->last_pos->topic, at.topic) == 0
			         ? s->last_pos
			         : dd_positions_get(&s->pos, at.topic, m->partition);
			if (!pp) {
				rd_kafka_message_destroy(m);
				return -ENOMEM;
			}
			s->last_pos = pp;
			if (pp->restoring) {
				/* Paused for the state topic; fetched before the pause took
				 * effect: read again after the restore's seek. */
				rd_kafka_message_destroy(m);
				continue;
			}
			if (!pp->live) {
				/* Not announced by an assignment (or its state could not be
				 * taken): the seed or fresh, and written with the others. */
				char why[256] = "";
				struct dd_load_report lr;
				int trc =
				    dd_state_take(p, &s->pos, pp, NULL, &lr, why, sizeof(why));
				if (trc < 0 && trc != -EBADMSG) {
					rd_kafka_message_destroy(m);
					return trc;
				}
				pp->owned = true;
			}
			if (pp->next > m->offset && !(pp->replaying && m->offset >= pp->resume)) {
				/* Partitions are assigned at the state's offsets, so a record
				 * below means the log moved under us (offset reset after
				 * truncation or a recreated topic): say so, and go on from
				 * here rather than skip what may be a whole new log. */
				s->st.rewound++;
				if (s->opts.log)
					fprintf(s->opts.log,
					        "driftd: kafka: %s[%d] delivered offset %lld below "
					        "the state's position %lld (offset reset?): "
					        "processing from there\n",
					        at.topic, (int)m->partition, (long long)m->offset,
					        (long long)pp->next);
			}
		}
		if (pp) {
			rd_kafka_timestamp_type_t tt;
			int64_t mts = rd_kafka_message_timestamp(m, &tt);
			if (tt != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && mts > pp->max_ts)
				pp->max_ts = mts;
		}
		if (pp && pp->replaying && m->offset >= pp->next)
			pp->replaying = false; /* past the records read again for held halves */
		if (pp && pp->replaying && m->offset >= pp->resume) {
			/* Below the state's position, read again only for the request halves that
			 * were waiting for their response when the state was saved: exactly those
			 * (the others went through before), into the adapter only. */
			int hrc = 0;
			if (bsearch(&m->offset, pp->held, pp->n_held, sizeof(*pp->held),
			            cmp_offset))
				hrc = dd_kafka_feed(s->adapter, p, m, &at, s->conf->max_record,
				                    (uint32_t)(pp - s->pos.p) + 1, true);
			rd_kafka_message_destroy(m);
			if (hrc < 0)
				return hrc;
			continue;
		}
		if (m->len > s->conf->max_record)
			s->st.too_large++;
		int rc = dd_kafka_feed(s->adapter, p, m, &at, s->conf->max_record,
		                       pp ? (uint32_t)(pp - s->pos.p) + 1 : 0, false);
		s->st.records++;
		if (rc == 0 && pp)
			pp->next = m->offset + 1;
		else if (rc == 0 && rd_kafka_offset_store(m->rkt, m->partition, m->offset) == 0)
			s->st.stored++;
		rd_kafka_message_destroy(m);
		if (rc < 0)
			return rc;
		if (s->state && now_ms - s->last_snapshot_ms >= s->conf->snapshot_interval_ms)
			dd_kafka_source_snapshot(s, p, false);
		if (s->opts.stop_after && s->st.records >= s->opts.stop_after)
			return 0;
	}
}

int64_t dd_kafka_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dd_kafka_source_set_state(struct dd_kafka_source *s, struct dd_state_store *st,
                               struct dd_positions *restored, bool fell_back)
{
	s->state = st;
	s->state_offsets_win = fell_back;
	dd_positions_free(&s->pos);
	s->pos = *restored;
	*restored = (struct dd_positions){0};
	for (size_t k = 0; k < s->pos.n; k++)
		s->pos.p[k].restored = s->pos.p[k].live;
	s->last_pos = NULL;
}

/* A failing state write is an alert (the monitors' memory is at risk), and its recovery too.
 * One series for the local snapshots (key: the state directory), one for the state topic. */
static void state_alert(struct dd_kafka_source *s, struct dd_pipeline *p, bool failing, bool topic,
                        int64_t since_ms, const char *what)
{
	char out[768], episode[32];
	const char *where = topic ? s->topic_name : dd_state_dir(s->state);
	if (failing)
		snprintf(
		    out, sizeof(out),
		    "Cannot write the state %s %s: %s; offsets are not committed past the last "
		    "state written there, so a restart (or the next owner) re-reads from there",
		    topic ? "to the state topic" : "snapshot in", where, what);
	else
		snprintf(out, sizeof(out), "State is written %s %s again",
		         topic ? "to the state topic" : "in", where);
	snprintf(episode, sizeof(episode), "%lld", (long long)since_ms);
	json_t *f = json_object();
	json_object_set_new(f, topic ? "state.kafka_topic" : "state.dir", json_string(where));
	json_object_set_new(f, "error", json_string(what));
	static const char *const tags[] = {"threat:monitor_integrity", "etsi:5.2.1-3", NULL};
	struct dd_self_alert sa = {.rule = "driftd.state_write_failed",
	                           .status = failing ? "firing" : "resolved",
	                           .severity = DD_SEV_ERROR,
	                           .key = where,
	                           .episode = episode,
	                           .output = out,
	                           .tags = tags,
	                           .fields = f,
	                           .time_ms = dd_kafka_now_ms()};
	dd_pipeline_self_alert(p, &sa);
}

/* A partition's saved state that does not load: it starts fresh, and an operator hears it. */
static void restore_alert(struct dd_kafka_source *s, const char *where, const char *why)
{
	char out[1024], episode[32];
	snprintf(out, sizeof(out),
	         "The saved state of %s does not load (%s): its monitors start from scratch", where,
	         why);
	if (s->opts.log)
		fprintf(s->opts.log, "driftd: state: %s\n", out);
	snprintf(episode, sizeof(episode), "%lld", (long long)dd_kafka_now_ms());
	json_t *f = json_object();
	json_object_set_new(f, "partition", json_string(where));
	json_object_set_new(f, "error", json_string(why));
	static const char *const tags[] = {"threat:monitor_integrity", "etsi:5.2.1-3", NULL};
	struct dd_self_alert sa = {.rule = "driftd.state_restore_fallback",
	                           .status = "firing",
	                           .severity = DD_SEV_CRITICAL,
	                           .key = where,
	                           .episode = episode,
	                           .output = out,
	                           .tags = tags,
	                           .fields = f,
	                           .time_ms = dd_kafka_now_ms()};
	dd_pipeline_self_alert(s->p, &sa);
}

/* The second tier: each partition held (owned) whose state moved since its last record goes
 * to the state topic, and must be acknowledged (acks=all) before its offset is committed:
 * another member taking the partition over restores from there. A partition that cannot be
 * written (over the record limit) holds back only its own offsets. Returns 0, 1 when skipped
 * (the assignment was lost), or a negative errno with why. */
static int publish(struct dd_kafka_source *s, struct dd_pipeline *p, char *why, size_t whysz)
{
	struct dd_state_topic *t = state_topic(s);
	if (!t) {
		snprintf(why, whysz, "not available");
		return -EIO;
	}
	if (rd_kafka_assignment_lost(s->rk))
		return 1; /* dropped from the group: the partitions' new owners write now */
	size_t n = 0;
	int ret = 0;
	for (size_t k = 0; k < s->pos.n; k++)
		s->pos.p[k].pending = -1;
	for (size_t k = 0; k < s->pos.n; k++) {
		struct dd_partition_pos *e = &s->pos.p[k];
		if (!e->owned || !e->live || e->restoring || e->next < 0 || e->next == e->published)
			continue;
		json_t *j = dd_state_partition(p, e);
		char *text =
		    j ? json_dumps(j, JSON_SORT_KEYS | JSON_REAL_PRECISION(17) | JSON_COMPACT)
		      : NULL;
		json_decref(j);
		int rc = text ? dd_state_topic_put(t, e->topic, e->partition, text, strlen(text))
		              : -ENOMEM;
		free(text);
		if (rc < 0) {
			if (ret == 0)
				snprintf(why, whysz, "%s[%d]: %s", e->topic, (int)e->partition,
				         rc == -EMSGSIZE ? "its state is over the record limit"
				                         : strerror(-rc));
			ret = rc;
			continue;
		}
		e->pending = e->next;
		n++;
	}
	if (n) {
		feed_watchdog(s);
		char sub[400] = "";
		int rc = dd_state_topic_flush(t, DD_TOPIC_FLUSH_MS, sub, sizeof(sub));
		feed_watchdog(s);
		if (rc < 0) {
			snprintf(why, whysz, "%s", sub[0] ? sub : strerror(-rc));
			for (size_t k = 0; k < s->pos.n; k++)
				s->pos.p[k].pending = -1;
			return rc;
		}
		for (size_t k = 0; k < s->pos.n; k++)
			if (s->pos.p[k].pending >= 0) {
				s->pos.p[k].published = s->pos.p[k].pending;
				s->pos.p[k].pending = -1;
			}
	}
	return ret;
}

int dd_kafka_source_snapshot(struct dd_kafka_source *s, struct dd_pipeline *p, bool commit_sync)
{
	s->last_snapshot_ms = dd_kafka_now_ms();
	if (!s->state) {
		if (commit_sync)
			rd_kafka_commit(s->rk, NULL, 0);
		return 0;
	}
	if (dd_pipeline_undelivered(p) > 0) {
		/* An alert a sink refused waits for a retry: the state (and the offsets) must not
		 * move past the record that raised it, or a crash would lose it. */
		if (!s->held_back && s->opts.log)
			fprintf(s->opts.log,
			        "driftd: state: %llu alerts not yet taken by their sinks: "
			        "snapshots and commits wait\n",
			        (unsigned long long)dd_pipeline_undelivered(p));
		s->held_back = true;
		s->st.held_back++;
		if (commit_sync)
			rd_kafka_commit(s->rk, NULL, 0); /* what earlier snapshots covered */
		return 0;
	}
	s->held_back = false;
	/* Tier one: the local snapshot of every partition (a new generation only when records
	 * were read, partitions changed hands, or the last one failed). */
	/* Where each partition must be read again from for the request halves still waiting
	 * (kept as restored while that re-reading is under way). */
	for (size_t k = 0; k < s->pos.n; k++)
		note_held(s, k);
	uint64_t gen = 0;
	int rc = 0;
	if (s->st.records != s->records_at_snapshot || s->force_snapshot || s->local_failing)
		rc = dd_state_save(s->state, p, &s->pos, &gen);
	if (rc < 0) {
		s->st.snapshot_failures++;
		if (!s->local_failing) {
			s->local_failing = true;
			s->st.snapshot_fail_since_ms = s->last_snapshot_ms;
			if (s->opts.log)
				fprintf(s->opts.log,
				        "driftd: state: cannot write a snapshot in %s: %s\n",
				        dd_state_dir(s->state), strerror(-rc));
			state_alert(s, p, true, false, s->st.snapshot_fail_since_ms, strerror(-rc));
		}
		return rc;
	}
	if (gen) {
		s->st.snapshots++;
		s->st.generation = gen;
		s->records_at_snapshot = s->st.records;
		s->force_snapshot = false;
		if (s->local_failing) {
			s->local_failing = false;
			if (s->opts.log)
				fprintf(
				    s->opts.log,
				    "driftd: state: snapshots written again (generation %llu)\n",
				    (unsigned long long)gen);
			state_alert(s, p, false, false, s->st.snapshot_fail_since_ms, "");
		}
	}
	/* Tier two: the state topic. */
	char what[600] = "";
	int trc = s->topic_name ? publish(s, p, what, sizeof(what)) : 0;
	if (trc < 0) {
		s->st.snapshot_failures++;
		if (!s->topic_failing) {
			s->topic_failing = true;
			s->topic_fail_since_ms = s->last_snapshot_ms;
			if (s->opts.log)
				fprintf(s->opts.log, "driftd: state topic %s: cannot write: %s\n",
				        s->topic_name, what);
			state_alert(s, p, true, true, s->topic_fail_since_ms, what);
		}
	} else if (trc == 0 && s->topic_failing) {
		s->topic_failing = false;
		if (s->opts.log)
			fprintf(s->opts.log, "driftd: state topic %s: written again\n",
			        s->topic_name);
		state_alert(s, p, false, true, s->topic_fail_since_ms, "");
	}
	/* The state is durable: its offsets may now be committed, for the partitions still
	 * assigned (storing another owner's offset is refused anyway), not waiting for the
	 * state topic, and (with a state topic) whose state there covers them. */
	rd_kafka_topic_partition_list_t *parts = NULL;
	if (rd_kafka_assignment(s->rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
		int n = 0;
		for (int i = 0; i < parts->cnt; i++) {
			rd_kafka_topic_partition_t *tp = &parts->elems[i];
			struct dd_partition_pos *pp =
			    dd_positions_find(&s->pos, tp->topic, tp->partition);
			bool ok = pp && pp->next >= 0 && !pp->restoring &&
			          (!s->topic_name || pp->published == pp->next);
			tp->offset = ok ? pp->next : RD_KAFKA_OFFSET_INVALID;
			n += ok;
		}
		if (n && rd_kafka_offsets_store(s->rk, parts) == RD_KAFKA_RESP_ERR_NO_ERROR)
			s->st.stored += (uint64_t)n;
		rd_kafka_topic_partition_list_destroy(parts);
	}
	if (commit_sync) {
		rd_kafka_resp_err_t e = rd_kafka_commit(s->rk, NULL, 0);
		if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET && s->opts.log)
			fprintf(s->opts.log, "driftd: kafka: commit: %s\n", rd_kafka_err2str(e));
	}
	return trc < 0 ? trc : 0;
}

int dd_kafka_source_close(struct dd_kafka_source *s)
{
	if (!s || s->closed)
		return 0;
	s->closed = true;
	/* Commit stored offsets synchronously, then leave the group. */
	rd_kafka_resp_err_t e = rd_kafka_commit(s->rk, NULL, 0);
	if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET && s->opts.log)
		fprintf(s->opts.log, "driftd: kafka: final commit: %s\n", rd_kafka_err2str(e));
	rd_kafka_resp_err_t ce = rd_kafka_consumer_close(s->rk);
	return (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) || ce ? -EIO : 0;
}

void dd_kafka_source_set_config(struct dd_kafka_source *s, const struct dd_config *c)
{
	s->conf = c;
}

void dd_kafka_source_free(struct dd_kafka_source *s)
{
	if (!s)
		return;
	dd_adapter_free(s->adapter);
	if (s->rk) {
		dd_kafka_source_close(s);
		rd_kafka_destroy(s->rk);
	}
	dd_state_topic_close(s->topic);
	free(s->topic_name);
	dd_positions_free(&s->pos);
	free(s);
}

void dd_kafka_source_stats(const struct dd_kafka_source *s, struct dd_kafka_stats *out)
{
	*out = s->st;
	struct dd_adapter_stats as;
	dd_adapter_stats(s->adapter, &as);
	out->pending = as.pending;
	out->unpaired = as.unpaired_expired + as.unpaired_evicted;
}
