/* The state topic (see state_topic.h). One idempotent producer per driftd, kept open: it writes
 * the states and is also the admin client that creates the topic. Restores use a consumer made
 * for each fetch and destroyed after it, because fetch runs inside the source consumer's
 * rebalance callback and must not touch that consumer (nor keep a second one fetching in the
 * background between restores). Not thread-safe: one thread calls at a time, which is how the
 * Kafka source runs (snapshots and rebalances both happen in its poll loop); librdkafka's
 * delivery and error callbacks run inside our own poll/flush calls, so they need no locks. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "state_topic.h"

#define LOGP "driftd: state topic: "

struct dd_state_topic {
	rd_kafka_t *rk; /* the producer, also the admin client */
	char *brokers, *topic, *group;
	json_t *props; /* own copy: the configuration it came from may be reloaded and freed */
	FILE *log;
	/* The first delivery error since the previous flush (dr_msg_cb). */
	bool failed;
	char first_err[512];
	/* The last error librdkafka raised outside of messages (broker down, authentication):
	 * it says why a flush or fetch timed out. */
	char last_err[512];
	uint64_t errors, errors_logged;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(int64_t deadline)
{
	int64_t r = deadline - now_ms();
	return r <= 0 ? 0 : r > INT32_MAX ? INT32_MAX : (int)r;
}

static void sleep_ms(int ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000},
	          NULL);
}

/* librdkafka's own log lines (it prints to stderr by default): onto our log, prefixed. Called
 * from librdkafka's threads; stdio locks the FILE. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	const struct dd_state_topic *t = rd_kafka_opaque(rk);
	if (t && t->log)
		fprintf(t->log, LOGP "librdkafka %s (%d): %s\n", fac, level, buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk;
	struct dd_state_topic *t = opaque;
	snprintf(t->last_err, sizeof(t->last_err), "%s: %s",
	         rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
	t->errors++;
	/* Rate-limited: a broker outage raises one per reconnection attempt. */
	if (!t->log || (t->errors_logged >= 10 && t->errors % 1000 != 0))
		return;
	t->errors_logged++;
	fprintf(t->log, LOGP "%s (errors so far: %" PRIu64 "; retrying)\n", t->last_err, t->errors);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct dd_state_topic *t = opaque;
	if (!m->err || t->failed)
		return;
	t->failed = true;
	snprintf(t->first_err, sizeof(t->first_err), "delivery of %.*s failed: %s",
	         m->key_len > 300 ? 300 : (int)m->key_len, m->key ? (const char *)m->key : "",
	         rd_kafka_err2str(m->err));
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

/* What the producer and the restore consumer share: our defaults, then the user's properties
 * (they may override the defaults, as for the source consumer), then the callbacks. All of
 * source.kafka.properties apply to both handles: librdkafka accepts every known property on any
 * configuration object and ignores a consumer-only one in a producer (a CONFWARN line at
 * warning level, below our default log_level), so nothing needs a list of which key is whose;
 * an unknown key or a bad value fails here just as it fails the source consumer. */
static rd_kafka_conf_t *base_conf(struct dd_state_topic *t, char *err, size_t errsz)
{
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	const char *defaults[][2] = {
	    {"bootstrap.servers", t->brokers},
	    {"client.id", "driftd-state"},
	    /* Errors come through on_error; librdkafka's own log keeps only critical ones. */
	    {"log_level", "2"},
	};
	int rc = 0;
	for (size_t i = 0; !rc && i < sizeof(defaults) / sizeof(defaults[0]); i++)
		rc = set(kc, defaults[i][0], defaults[i][1], err, errsz);
	const char *key;
	json_t *val;
	json_object_foreach (t->props, key, val) {
		if (rc)
			break;
		if (!json_is_string(val)) {
			snprintf(err, errsz, "librdkafka property %s: not a string", key);
			rc = -EINVAL;
			break;
		}
		rc = set(kc, key, json_string_value(val), err, errsz);
	}
	if (rc) {
		rd_kafka_conf_destroy(kc);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(kc, on_log);
	rd_kafka_conf_set_error_cb(kc, on_error);
	rd_kafka_conf_set_opaque(kc, t);
	return kc;
}

static char *make_key(const char *group, const char *topic, int32_t partition, size_t *len)
{
	size_t cap = strlen(group) + strlen(topic) + 16;
	char *k = malloc(cap);
	if (!k)
		return NULL;
	int n = snprintf(k, cap, "%s/%s/%" PRId32, group, topic, partition);
	*len = (size_t)n;
	return k;
}

/* The partitions of `topic`, once every one has a leader (a topic just created has none for a
 * moment, and watermark queries fail until then). -ENOENT when the broker does not know it:
 * at once, or at the deadline with `wait_unknown` (a topic just created may take a moment to
 * reach the broker that answers). */
static int topic_partitions(rd_kafka_t *rk, const char *topic, bool wait_unknown, int64_t deadline,
                            int32_t **ret, int *np, char *why, size_t whysz)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (!rkt) {
		snprintf(why, whysz, "topic %s: %s", topic,
		         rd_kafka_err2str(rd_kafka_last_error()));
		return -EINVAL;
	}
	int rc;
	snprintf(why, whysz, "no metadata for topic %s", topic);
	for (;;) {
		rc = -ETIMEDOUT;
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t e =
		    rd_kafka_metadata(rk, 0, rkt, &md, remaining_ms(deadline) + 1);
		if (e) {
			snprintf(why, whysz, "metadata for topic %s: %s", topic,
			         rd_kafka_err2str(e));
		} else if (md->topic_cnt != 1) {
			snprintf(why, whysz, "metadata for topic %s: %d topics", topic,
			         md->topic_cnt);
		} else if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
			snprintf(why, whysz, "topic %s does not exist", topic);
			rc = -ENOENT;
		} else if (md->topics[0].err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
			snprintf(why, whysz, "topic %s: %s", topic,
			         rd_kafka_err2str(md->topics[0].err));
			rc = -EACCES;
		} else if (md->topics[0].err) {
			snprintf(why, whysz, "topic %s: %s", topic,
			         rd_kafka_err2str(md->topics[0].err));
		} else {
			const struct rd_kafka_metadata_topic *mt = &md->topics[0];
			bool led = mt->partition_cnt > 0;
			for (int i = 0; i < mt->partition_cnt; i++)
				led =
				    led && mt->partitions[i].leader >= 0 && !mt->partitions[i].err;
			if (led) {
				int32_t *ps = malloc(sizeof(*ps) * (size_t)mt->partition_cnt);
				if (ps) {
					for (int i = 0; i < mt->partition_cnt; i++)
						ps[i] = mt->partitions[i].id;
					*ret = ps;
					*np = mt->partition_cnt;
				}
				rc = ps ? 0 : -ENOMEM;
			} else {
				snprintf(why, whysz, "topic %s: partitions without a leader",
				         topic);
			}
		}
		if (md)
			rd_kafka_metadata_destroy(md);
		if ((rc != -ETIMEDOUT && !(rc == -ENOENT && wait_unknown)) ||
		    remaining_ms(deadline) == 0)
			break;
		sleep_ms(remaining_ms(deadline) < 100 ? remaining_ms(deadline) : 100);
	}
	rd_kafka_topic_destroy(rkt);
	return rc;
}

/* Wait for an admin result; NULL when none came before the deadline. */
static rd_kafka_event_t *admin_result(rd_kafka_queue_t *q, int64_t deadline)
{
	return rd_kafka_queue_poll(q, remaining_ms(deadline) + 500);
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op,
                                              int64_t deadline)
{
	char e[256];
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
	int ms = remaining_ms(deadline);
	rd_kafka_AdminOptions_set_request_timeout(o, ms ? ms : 1, e, sizeof(e));
	if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS)
		/* The broker answers once the controller has created it (or at this timeout). */
		rd_kafka_AdminOptions_set_operation_timeout(o, ms ? ms : 1, e, sizeof(e));
	return o;
}

/* Create the topic. 1: created, 0: it exists already, <0: not created (reason in why). */
static int create_topic(struct dd_state_topic *t, int64_t deadline, char *why, size_t whysz)
{
	char e[256];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(t->topic, 1, -1, e, sizeof(e));
	if (!nt) {
		snprintf(why, whysz, "%s", e);
		return -EINVAL;
	}
	char mmb[32];
	snprintf(mmb, sizeof(mmb), "%u", DD_STATE_TOPIC_MAX_BATCH);
	rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
	rd_kafka_NewTopic_set_config(nt, "max.message.bytes", mmb);
	rd_kafka_queue_t *q = rd_kafka_queue_new(t->rk);
	rd_kafka_AdminOptions_t *o = admin_options(t->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, deadline);
	rd_kafka_CreateTopics(t->rk, &nt, 1, o, q);
	rd_kafka_event_t *ev = admin_result(q, deadline);
	int rc;
	if (!ev) {
		snprintf(why, whysz, "no answer to the topic creation");
		rc = -ETIMEDOUT;
	} else if (rd_kafka_event_error(ev)) {
		snprintf(why, whysz, "%s", rd_kafka_event_error_string(ev));
		rc = rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__TIMED_OUT ? -ETIMEDOUT : -EIO;
	} else {
		size_t n = 0;
		const rd_kafka_topic_result_t **res =
		    rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
		rd_kafka_resp_err_t te =
		    n == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
		const char *msg = n == 1 ? rd_kafka_topic_result_error_string(res[0]) : NULL;
		if (!te || te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
			rc = !te;
		} else {
			snprintf(why, whysz, "%s%s%s", rd_kafka_err2str(te), msg ? ": " : "",
			         msg ? msg : "");
			rc = te == RD_KAFKA_RESP_ERR__TIMED_OUT ||
			             te == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT
			         ? -ETIMEDOUT
			     : te == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
			             te == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED
			         ? -EACCES
			         : -EIO;
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
	return rc;
}

/* An existing topic that is not compacted loses the state of quiet partitions at its retention:
 * said on the log, not refused (the operator may compact it later, or keep a long retention). */
static void check_compacted(struct dd_state_topic *t, int64_t deadline)
{
	rd_kafka_ConfigResource_t *res =
	    rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t->topic);
	rd_kafka_queue_t *q = rd_kafka_queue_new(t->rk);
	rd_kafka_AdminOptions_t *o =
	    admin_options(t->rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, deadline);
	rd_kafka_DescribeConfigs(t->rk, &res, 1, o, q);
	rd_kafka_event_t *ev = admin_result(q, deadline);
	const char *policy = NULL, *fail = NULL;
	if (!ev)
		fail = "no answer";
	else if (rd_kafka_event_error(ev))
		fail = rd_kafka_event_error_string(ev);
	else {
		size_t n = 0;
		const rd_kafka_ConfigResource_t **rs = rd_kafka_DescribeConfigs_result_resources(
		    rd_kafka_event_DescribeConfigs_result(ev), &n);
		if (n != 1)
			fail = "no result";
		else if (rd_kafka_ConfigResource_error(rs[0]))
			fail = rd_kafka_ConfigResource_error_string(rs[0]);
		size_t nc = 0;
		const rd_kafka_ConfigEntry_t **cs =
		    n == 1 && !fail ? rd_kafka_ConfigResource_configs(rs[0], &nc) : NULL;
		for (size_t i = 0; i < nc; i++)
			if (!strcmp(rd_kafka_ConfigEntry_name(cs[i]), "cleanup.policy"))
				policy = rd_kafka_ConfigEntry_value(cs[i]);
		if (!fail && !policy)
			fail = "no cleanup.policy in the answer";
	}
	if (t->log && fail)
		fprintf(t->log, LOGP "cannot check the cleanup.policy of topic %s: %s\n", t->topic,
		        fail);
	else if (t->log && !strstr(policy, "compact"))
		fprintf(t->log,
		        LOGP "topic %s has cleanup.policy=%s, not compact: the broker will delete "
		             "the state of partitions that stay quiet longer than its retention\n",
		        t->topic, policy);
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_ConfigResource_destroy(res);
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	return d ? memcpy(d, s, n) : NULL;
}

int dd_state_topic_open(const char *brokers, const char *topic, const char *group,
                        const json_t *props, FILE *log, struct dd_state_topic **ret, char *err,
                        size_t errsz)
{
	*ret = NULL;
	if (!brokers || !*brokers || !topic || !*topic || !group || !*group ||
	    (props && !json_is_object(props))) {
		snprintf(err, errsz, "state topic: brokers, topic and group are required");
		return -EINVAL;
	}
	int64_t deadline = now_ms() + DD_STATE_TOPIC_OPEN_TIMEOUT_MS;
	struct dd_state_topic *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->log = log;
	t->brokers = dup_str(brokers);
	t->topic = dup_str(topic);
	t->group = dup_str(group);
	t->props = props ? json_deep_copy(props) : json_object();
	if (!t->brokers || !t->topic || !t->group || !t->props) {
		dd_state_topic_close(t);
		return -ENOMEM;
	}
	char e[512];
	rd_kafka_conf_t *kc = base_conf(t, e, sizeof(e));
	if (!kc) {
		snprintf(err, errsz, "state topic %s: %s", topic, e);
		dd_state_topic_close(t);
		return -EINVAL;
	}
	char mmb[32];
	snprintf(mmb, sizeof(mmb), "%u", DD_STATE_TOPIC_MAX_BATCH);
	/* What correctness rests on, after the user's properties so they cannot undo it: no
	 * duplicate or reordered states (idempotence), acknowledged by every in-sync replica,
	 * room for the largest state, and no topic created by a metadata request (with the
	 * broker's auto-creation on, a producer would otherwise recreate a deleted state topic
	 * with the default cleanup.policy=delete). */
	const char *fixed[][2] = {
	    {"enable.idempotence", "true"},
	    {"acks", "all"},
	    {"message.max.bytes", mmb},
	    {"allow.auto.create.topics", "false"},
	};
	int rc = 0;
	for (size_t i = 0; !rc && i < sizeof(fixed) / sizeof(fixed[0]); i++)
		rc = set(kc, fixed[i][0], fixed[i][1], e, sizeof(e));
	/* States are JSON: zstd shrinks them most; lz4 when this librdkafka lacks zstd. */
	if (!rc && set(kc, "compression.type", "zstd", e, sizeof(e)))
		rc = set(kc, "compression.type", "lz4", e, sizeof(e));
	if (rc) {
		snprintf(err, errsz, "state topic %s: %s", topic, e);
		rd_kafka_conf_destroy(kc);
		dd_state_topic_close(t);
		return rc;
	}
	rd_kafka_conf_set_dr_msg_cb(kc, on_delivery);
	t->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, e, sizeof(e));
	if (!t->rk) {
		snprintf(err, errsz, "state topic %s: cannot create the producer: %s", topic, e);
		rd_kafka_conf_destroy(kc);
		dd_state_topic_close(t);
		return -EINVAL;
	}

	char cwhy[512] = "", why[512] = "";
	int created = create_topic(t, deadline, cwhy, sizeof(cwhy));
	/* A refused creation (no CREATE right, a policy) is fine when the topic exists. */
	int32_t *parts = NULL;
	int np = 0;
	rc = topic_partitions(t->rk, topic, true, deadline, &parts, &np, why, sizeof(why));
	free(parts);
	if (rc < 0) {
		if (created < 0)
			snprintf(err, errsz, "state topic %s: cannot create it: %s (%s)", topic,
			         cwhy, why);
		else
			snprintf(err, errsz, "state topic %s: %s", topic, why);
		dd_state_topic_close(t);
		return rc == -ENOENT && created < 0 ? created : rc == -ENOENT ? -EIO : rc;
	}
	if (created == 1 && log)
		fprintf(log, LOGP "created topic %s (compacted, 1 partition)\n", topic);
	else if (created <= 0)
		check_compacted(t, deadline);
	*ret = t;
	return 0;
}

int dd_state_topic_put(struct dd_state_topic *t, const char *src_topic, int32_t partition,
                       const void *val, size_t len)
{
	if (len > DD_STATE_TOPIC_MAX_VALUE)
		return -EMSGSIZE;
	if (!val && len)
		return -EINVAL;
	if (rd_kafka_fatal_error(t->rk, NULL, 0))
		return -EIO;
	size_t klen;
	char *key = make_key(t->group, src_topic, partition, &klen);
	if (!key)
		return -ENOMEM;
	rd_kafka_resp_err_t e =
	    rd_kafka_producev(t->rk, RD_KAFKA_V_TOPIC(t->topic), RD_KAFKA_V_KEY(key, klen),
	                      RD_KAFKA_V_VALUE((void *)(uintptr_t)val, len),
	                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	free(key);
	rd_kafka_poll(t->rk, 0); /* serve delivery reports */
	switch (e) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		return 0;
	case RD_KAFKA_RESP_ERR__QUEUE_FULL:
		return -ENOBUFS;
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
		return -EMSGSIZE;
	default:
		if (t->log)
			fprintf(t->log, LOGP "cannot queue the state of %s[%" PRId32 "]: %s\n",
			        src_topic, partition, rd_kafka_err2str(e));
		return -EIO;
	}
}

int dd_state_topic_flush(struct dd_state_topic *t, int timeout_ms, char *why, size_t whysz)
{
	rd_kafka_flush(t->rk, timeout_ms < 0 ? 0 : timeout_ms);
	int left = rd_kafka_outq_len(t->rk);
	char fe[512];
	if (rd_kafka_fatal_error(t->rk, fe, sizeof(fe))) {
		snprintf(why, whysz, "the state producer failed: %s", fe);
		return -EIO;
	}
	if (t->failed) {
		snprintf(why, whysz, "%s", t->first_err);
		t->failed = false;
		return -EIO;
	}
	if (left > 0) {
		snprintf(why, whysz, "%d state record%s not acknowledged after %d ms%s%s", left,
		         left == 1 ? "" : "s", timeout_ms, t->last_err[0] ? "; last error: " : "",
		         t->last_err);
		return -ETIMEDOUT;
	}
	t->last_err[0] = 0; /* older errors say nothing about the next flush */
	return 0;
}

/* One wanted key. Entries sorted by key; a key wanted twice shares the first entry's value. */
struct want {
	char *key;
	size_t klen;
	size_t idx;  /* into want[] / out[] */
	size_t base; /* the entry (in sorted order) that holds the value */
	enum { W_NONE, W_VALUE, W_TOMBSTONE, W_TOO_LARGE } state;
	char *val;
	size_t len;
	int64_t offset;
};

static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : (al > bl) - (al < bl);
}

static int want_cmp(const void *a, const void *b)
{
	const struct want *x = a, *y = b;
	return key_cmp(x->key, x->klen, y->key, y->klen);
}

static struct want *want_find(struct want *w, size_t n, const void *key, size_t klen)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(w[mid].key, w[mid].klen, key, klen);
		if (c == 0)
			return &w[w[mid].base];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void take(struct want *w, const rd_kafka_message_t *m)
{
	free(w->val);
	w->val = NULL;
	w->len = m->len;
	w->offset = m->offset;
	if (!m->payload) {
		w->state = W_TOMBSTONE;
	} else if (m->len > DD_STATE_TOPIC_MAX_VALUE) {
		w->state = W_TOO_LARGE; /* nothing copied */
	} else {
		/* Raw bytes only: every generation but the last would be parsed for nothing. */
		w->val = malloc(m->len ? m->len : 1);
		if (w->val)
			memcpy(w->val, m->payload, m->len);
		w->state = w->val ? W_VALUE : W_NONE;
	}
}

/* A state topic partition being read, up to its high watermark at the start. */
struct part {
	int32_t id;
	int64_t hi;
	int64_t at; /* the last offset seen */
	bool done;
};

/* The restore consumer. A group.id is required by librdkafka's consumer poll even when the
 * group is never joined; the source's own group is used because its ACLs exist already. It
 * only assigns, never subscribes, and commits nothing. */
static rd_kafka_t *restore_consumer(struct dd_state_topic *t, char *why, size_t whysz)
{
	char e[512];
	rd_kafka_conf_t *kc = base_conf(t, e, sizeof(e));
	if (!kc) {
		snprintf(why, whysz, "%s", e);
		return NULL;
	}
	char fmb[32], rmb[32];
	snprintf(fmb, sizeof(fmb), "%u", DD_STATE_TOPIC_MAX_BATCH);
	/* receive.message.max.bytes also caps librdkafka's buffer for a decompressed batch, which
	 * it finds by doubling a guess (2x the compressed size for zstd): the last guess under
	 * the cap can be just over half of it, so a batch holding a state of the largest size
	 * decompresses only with twice that room ("Invalid compressed data" otherwise). */
	snprintf(rmb, sizeof(rmb), "%u", 2 * DD_STATE_TOPIC_MAX_BATCH + (1u << 20));
	const char *fixed[][2] = {
	    {"group.id", t->group},
	    {"enable.auto.commit", "false"},
	    {"enable.auto.offset.store", "false"},
	    {"enable.partition.eof", "true"},
	    {"auto.offset.reset", "earliest"}, /* compaction moved the log start: from there */
	    /* Our producer is not transactional: read_committed could only make the read wait
	     * at someone else's open transaction, below the high watermark it aims for. */
	    {"isolation.level", "read_uncommitted"},
	    {"fetch.max.bytes", fmb},
	    {"receive.message.max.bytes", rmb},
	    {"allow.auto.create.topics", "false"},
	};
	int rc = 0;
	for (size_t i = 0; !rc && i < sizeof(fixed) / sizeof(fixed[0]); i++)
		rc = set(kc, fixed[i][0], fixed[i][1], e, sizeof(e));
	if (rc) {
		snprintf(why, whysz, "%s", e);
		rd_kafka_conf_destroy(kc);
		return NULL;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, e, sizeof(e));
	if (!rk) {
		snprintf(why, whysz, "cannot create the restore consumer: %s", e);
		rd_kafka_conf_destroy(kc);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

/* Read the topic to the watermarks into w[]. 0, or -errno with why. */
static int read_topic(struct dd_state_topic *t, rd_kafka_t *rk, struct want *w, size_t n,
                      int64_t deadline, char *why, size_t whysz)
{
	int32_t *ids = NULL;
	int np = 0;
	int rc = topic_partitions(rk, t->topic, false, deadline, &ids, &np, why, whysz);
	if (rc < 0)
		return rc;
	struct part *ps = calloc((size_t)np, sizeof(*ps));
	rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(np);
	if (!ps || !assign) {
		free(ids);
		free(ps);
		if (assign)
			rd_kafka_topic_partition_list_destroy(assign);
		return -ENOMEM;
	}
	int todo = 0;
	for (int i = 0; i < np && !rc; i++) {
		int64_t lo = -1, hi = -1;
		rd_kafka_resp_err_t e;
		/* Transient failures (a leader moving) are retried until the deadline. */
		while ((e = rd_kafka_query_watermark_offsets(rk, t->topic, ids[i], &lo, &hi,
		                                             remaining_ms(deadline) + 1)) &&
		       remaining_ms(deadline) > 0)
			sleep_ms(50);
		if (e) {
			snprintf(why, whysz, "high watermark of %s[%" PRId32 "]: %s", t->topic,
			         ids[i], rd_kafka_err2str(e));
			rc = e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__TRANSPORT
			         ? -ETIMEDOUT
			         : -EIO;
			break;
		}
		ps[i] = (struct part){.id = ids[i], .hi = hi, .at = -1, .done = hi <= lo};
		if (ps[i].done)
			continue; /* empty: nothing to wait for */
		rd_kafka_topic_partition_list_add(assign, t->topic, ids[i])->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
		todo++;
	}
	free(ids);
	rd_kafka_resp_err_t e = !rc && todo ? rd_kafka_assign(rk, assign) : 0;
	rd_kafka_topic_partition_list_destroy(assign);
	if (e) {
		snprintf(why, whysz, "assign %s: %s", t->topic, rd_kafka_err2str(e));
		rc = -EIO;
	}
	char last[512] = "";
	while (!rc && todo > 0) {
		int ms = remaining_ms(deadline);
		if (ms == 0) {
			int off = snprintf(why, whysz,
			                   "state topic %s not read to its end in time:", t->topic);
			for (int i = 0; i < np && off >= 0 && (size_t)off < whysz; i++)
				if (!ps[i].done)
					off += snprintf(why + off, whysz - (size_t)off,
					                " [%" PRId32 "] at %" PRId64 " of %" PRId64,
					                ps[i].id, ps[i].at, ps[i].hi);
			if (off >= 0 && (size_t)off < whysz && (last[0] || t->last_err[0]))
				snprintf(why + off, whysz - (size_t)off, "; last error: %s",
				         last[0] ? last : t->last_err);
			rc = -ETIMEDOUT;
			break;
		}
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, ms < 100 ? ms : 100);
		if (!m)
			continue;
		struct part *p = NULL;
		for (int i = 0; i < np; i++)
			if (ps[i].id == m->partition)
				p = &ps[i];
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			/* The end, past transaction markers a last record would not show. */
			if (p && !p->done && m->offset >= p->hi) {
				p->done = true;
				todo--;
			}
		} else if (m->err) {
			snprintf(last, sizeof(last), "%s", rd_kafka_message_errstr(m));
			if (m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
			    m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
				snprintf(why, whysz, "reading %s: %s", t->topic, last);
				rc = m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? -ENOENT
				                                                       : -EIO;
			}
		} else if (p && !p->done && m->offset < p->hi) {
			p->at = m->offset;
			struct want *x = m->key ? want_find(w, n, m->key, m->key_len) : NULL;
			if (x)
				take(x, m);
			/* Offsets of a compacted partition have gaps: the end is the offset, not
			 * a count of records. */
			if (m->offset >= p->hi - 1) {
				p->done = true;
				todo--;
			}
		}
		rd_kafka_message_destroy(m);
	}
	free(ps);
	return rc;
}

int dd_state_topic_fetch(struct dd_state_topic *t, const struct dd_tp *want, size_t n, json_t **out,
                         unsigned *bad, int timeout_ms, char *why, size_t whysz)
{
	int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	if (bad)
		*bad = 0;
	struct want *w = calloc(n ? n : 1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		w[i].key = make_key(t->group, want[i].topic, want[i].partition, &w[i].klen);
		w[i].idx = i;
		if (!w[i].key)
			rc = -ENOMEM;
	}
	if (!rc) {
		qsort(w, n, sizeof(*w), want_cmp);
		for (size_t i = 0; i < n; i++)
			w[i].base = i > 0 && !want_cmp(&w[i - 1], &w[i]) ? w[i - 1].base : i;
	}
	rd_kafka_t *rk = NULL;
	if (!rc && n > 0) {
		rk = restore_consumer(t, why, whysz);
		if (!rk)
			rc = -EINVAL;
	}
	int64_t t0 = now_ms();
	if (rk)
		rc = read_topic(t, rk, w, n, deadline, why, whysz);
	/* Nothing was joined and nothing is to be committed: no consumer close round trip. */
	if (rk)
		rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	/* Parse only the winners, and each once (a key wanted twice parses twice: two refs). */
	unsigned nbad = 0, found = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct want *b = &w[w[i].base];
		const char *what = NULL;
		char jwhat[256];
		if (b->state == W_TOO_LARGE) {
			snprintf(jwhat, sizeof(jwhat), "%zu bytes, over the limit of %u", b->len,
			         DD_STATE_TOPIC_MAX_VALUE);
			what = jwhat;
		} else if (b->state == W_VALUE) {
			json_error_t je;
			json_t *j = json_loadb(b->val, b->len, JSON_REJECT_DUPLICATES, &je);
			if (!j) {
				snprintf(jwhat, sizeof(jwhat), "not JSON (%d:%d: %s)", je.line,
				         je.column, je.text);
				what = jwhat;
			} else if (!json_is_object(j)) {
				json_decref(j);
				what = "not a JSON object";
			} else {
				out[w[i].idx] = j;
				found++;
			}
		}
		if (what) {
			nbad++;
			if (t->log)
				fprintf(t->log, LOGP "%.*s at %s offset %" PRId64 ": %s; ignored\n",
				        (int)w[i].klen, w[i].key, t->topic, b->offset, what);
		}
	}
	if (!rc && t->log && n > 0)
		fprintf(t->log,
		        LOGP "read %s in %" PRId64 " ms: %u of %zu partition states found%s\n",
		        t->topic, now_ms() - t0, found, n, nbad ? " (some unusable)" : "");
	for (size_t i = 0; i < n; i++) {
		free(w[i].key);
		free(w[i].val);
	}
	free(w);
	if (rc < 0)
		for (size_t i = 0; i < n; i++) {
			json_decref(out[i]);
			out[i] = NULL;
		}
	else if (bad)
		*bad = nbad;
	return rc;
}

void dd_state_topic_close(struct dd_state_topic *t)
{
	if (!t)
		return;
	if (t->rk) {
		char why[512];
		int rc = dd_state_topic_flush(t, 3000, why, sizeof(why));
		if (rc < 0 && t->log)
			fprintf(t->log, LOGP "closing with states not written: %s\n", why);
		/* What is left would otherwise hold rd_kafka_destroy until its message timeout. */
		rd_kafka_purge(t->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(t->rk, 0);
		rd_kafka_destroy(t->rk);
	}
	json_decref(t->props);
	free(t->brokers);
	free(t->topic);
	free(t->group);
	free(t);
}
