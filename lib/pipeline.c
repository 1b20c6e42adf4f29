/* The event pipeline. The per-record path (dd_pipeline_feed) does no allocation: one decode
 * that resolves every monitor's field in a single pass, then a loop over the monitors. Alerts
 * are rare and may allocate. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "baseline.h"
#include "host.h"
#include "jvalue.h"
#include "monitor.h"
#include "pipeline.h"
#include "sinks.h"
#include "telemetry.h"
#include "utf8cut.h"

struct sink {
	const struct driftd_sink_ops *ops;
	void *state;
	const char *name; /* the configuration's */
	bool open;
	bool overflowing; /* driftd.spool_overflow is firing for it */
	int64_t overflow_since_ms;
};

#define DD_RETRY_MAX 4096

struct retry {
	char *sink; /* the sink's name: sinks are reopened (and reindexed) by a reload */
	json_t *alert;
};

/* A shard: every monitor's detector, window and alert state, and its group rounds, for one
 * source partition (service mode: the Kafka Streams model, a partition is a task, so state
 * moves between instances with its partition), or for all records (replay, the demo). */
struct shard {
	char *topic; /* NULL: the unpartitioned shard */
	int32_t partition;
	struct dd_monitor *mons;
	struct dd_alert_state *alerts;
	struct dd_group **groups; /* one per configured group */
};

#define DD_SHARDS_MAX 65536 /* partitions one instance may hold at once */

struct counts {
	uint64_t matched, used, verdicts, drifts;
	uint64_t skipped[DD_SKIP__MAX];
};

/* base += m's counters (sign 1) or -= them (sign -1, modulo 2^64). */
static void count(struct counts *base, const struct dd_monitor *m, int sign)
{
	uint64_t k = sign > 0 ? 1 : UINT64_MAX; /* x * UINT64_MAX == -x modulo 2^64 */
	base->matched += k * m->matched;
	base->used += k * m->used;
	base->verdicts += k * m->verdicts;
	base->drifts += k * m->drifts;
	for (int r = 0; r < DD_SKIP__MAX; r++)
		base->skipped[r] += k * m->skipped[r];
}

struct dd_pipeline {
	const struct dd_config *conf;
	struct dd_pipeline_opts opts;
	struct dd_decoder *dec;
	struct dd_fieldset *fs;
	struct driftd_value *vals; /* one per monitor: its field; then the set aux pointers */
	/* Detectors' POINTER parameters (ABI 2): monitor i's values are aux[aux_base[i] ..
	 * aux_base[i + 1]), copied per event from vals[aux_slot[k]] (SIZE_MAX: unset). */
	struct driftd_value *aux;
	size_t *aux_slot;
	size_t *aux_base;
	struct shard **shards; /* live shards, in the order they were opened */
	size_t n_shards;
	struct shard *cur; /* the shard of the previous record */
	/* Per monitor: what this pipeline's counters (metrics, summary) add to the sum over its
	 * shards, so that they only grow while partitions' states come and go (a state that
	 * leaves adds its counts, one that arrives takes away what it brings). Unsigned
	 * arithmetic wraps: the sum comes out right. */
	struct counts *base;
	uint64_t *announced;           /* per monitor: the model version last announced */
	int64_t *repeated_ms;          /* per monitor: when its series was last notified */
	struct dd_pipeline_last *last; /* per monitor: its last verdict (metrics) */
	json_t **collected;            /* collect mode: per monitor */
	struct dd_decided *decided;    /* scratch for a group's decided round(s) */
	struct dd_telemetry *telemetry;
	int64_t last_tick_ms;
	size_t n_mons;
	struct sink *sinks;
	size_t n_sinks;
	struct dd_pipeline_stats st;
	/* Alerts a sink refused (full disk, a sink that failed to reopen), retried every tick,
	 * in order. While any wait, or one was ever lost, the caller must not let offsets past
	 * the records that raised them be committed (dd_pipeline_undelivered). */
	struct retry *retry;
	size_t n_retry;
	/* Topic names of restored held verdicts (their origin points here): owned, bounded. */
	char **topics;
	size_t n_topics;
	uint64_t lost; /* alerts dropped from a full retry queue: the state may never be saved */
	uint64_t detector_errors_logged;
	struct driftd_buf out;
	char hostname[256];
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int open_sinks(struct dd_pipeline *p);

void dd_pipeline_close_sinks(struct dd_pipeline *p)
{
	for (size_t i = 0; i < p->n_sinks; i++) {
		if (p->sinks[i].open)
			p->sinks[i].ops->close(p->sinks[i].state);
		free(p->sinks[i].state);
	}
	free(p->sinks);
	p->sinks = NULL;
	p->n_sinks = 0;
}

int dd_pipeline_open_sinks(struct dd_pipeline *p)
{
	if (p->sinks)
		return 0;
	int rc = open_sinks(p);
	if (rc < 0)
		dd_pipeline_close_sinks(p);
	return rc;
}

static int open_sinks(struct dd_pipeline *p)
{
	const struct dd_config *c = p->conf;
	p->sinks = calloc(c->n_sinks ? c->n_sinks : 1, sizeof(*p->sinks));
	if (!p->sinks)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_sinks; i++) {
		struct sink *s = &p->sinks[p->n_sinks++];
		s->ops = c->sinks[i].ops;
		s->name = c->sinks[i].name;
		s->state = calloc(1, s->ops->state_size ? s->ops->state_size : 1);
		if (!s->state)
			return -ENOMEM;
		struct driftd_sink_ctx ctx = {.spool_dir = c->spool_dir,
		                              .hostname = p->hostname,
		                              .name = c->sinks[i].name,
		                              .flush_timeout_ms = p->opts.flush_timeout_ms,
		                              .log = p->opts.log};
		int rc = s->ops->open(s->state, c->sinks[i].conf, &ctx);
		if (rc < 0) {
			if (p->opts.log)
				fprintf(p->opts.log, "driftd: cannot open sink %s: %s\n",
				        c->sinks[i].name, strerror(-rc));
			return rc;
		}
		s->open = true;
	}
	return 0;
}

static bool in_group(const struct dd_monitor_conf *mc, const struct dd_config *c)
{
	return mc->group >= 0 && (size_t)mc->group < c->n_groups;
}

static int open_groups(struct dd_pipeline *p, struct shard *sh)
{
	const struct dd_config *c = p->conf;
	sh->groups = calloc(c->n_groups + 1, sizeof(*sh->groups));
	size_t *members = calloc(p->n_mons + 1, sizeof(size_t));
	int rc = sh->groups && members ? 0 : -ENOMEM;
	for (size_t g = 0; rc == 0 && g < c->n_groups; g++) {
		size_t n = 0;
		for (size_t i = 0; i < p->n_mons; i++)
			if (in_group(&c->monitors[i], c) && (size_t)c->monitors[i].group == g)
				members[n++] = i;
		rc = dd_group_new(&c->groups[g], members, n, &sh->groups[g]);
	}
	free(members);
	return rc;
}

/* The seed is derived from the monitor's name so sampling detectors are deterministic per
 * monitor and independent of monitor order (and of restarts). */
static uint64_t monitor_seed(const char *name)
{
	uint64_t seed = 1469598103934665603ull;
	for (const char *s = name; *s; s++)
		seed = (seed ^ (unsigned char)*s) * 1099511628211ull;
	return seed;
}

static void shard_free(const struct dd_pipeline *p, struct shard *sh)
{
	if (!sh)
		return;
	for (size_t i = 0; sh->mons && i < p->n_mons; i++)
		dd_monitor_done(&sh->mons[i]);
	for (size_t g = 0; sh->groups && g < p->conf->n_groups; g++)
		dd_group_free(sh->groups[g]);
	free(sh->groups);
	free(sh->mons);
	free(sh->alerts);
	free(sh->topic);
	free(sh);
}

/* A shard with fresh monitors (not yet in the pipeline's list). */
static int shard_new(struct dd_pipeline *p, const char *topic, int32_t partition,
                     struct shard **ret)
{
	const struct dd_config *c = p->conf;
	struct shard *sh = calloc(1, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	sh->partition = topic ? partition : -1;
	sh->mons = calloc(p->n_mons + 1, sizeof(*sh->mons));
	sh->alerts = calloc(p->n_mons + 1, sizeof(*sh->alerts));
	int rc = sh->mons && sh->alerts && (!topic || (sh->topic = strdup(topic))) ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < p->n_mons; i++) {
		rc = dd_monitor_init(&sh->mons[i], &c->monitors[i],
		                     monitor_seed(c->monitors[i].name));
		if (rc < 0 && p->opts.log)
			fprintf(p->opts.log, "driftd: monitor %s: cannot start detector %s: %s\n",
			        c->monitors[i].name, c->monitors[i].detector->name, strerror(-rc));
		dd_alert_state_init(&sh->alerts[i], &c->monitors[i]);
	}
	if (rc == 0)
		rc = open_groups(p, sh);
	if (rc < 0) {
		shard_free(p, sh);
		return rc;
	}
	*ret = sh;
	return 0;
}

static bool shard_is(const struct shard *sh, const char *topic, int32_t partition)
{
	if (!topic || !sh->topic)
		return !topic && !sh->topic;
	return sh->partition == partition && strcmp(sh->topic, topic) == 0;
}

static struct shard *shard_find(const struct dd_pipeline *p, const char *topic, int32_t partition)
{
	for (size_t k = 0; k < p->n_shards; k++)
		if (shard_is(p->shards[k], topic, partition))
			return p->shards[k];
	return NULL;
}

/* Whether another shard than sh has a notified episode of monitor i open. */
static bool others_firing(const struct dd_pipeline *p, const struct shard *sh, size_t i)
{
	for (size_t k = 0; k < p->n_shards; k++) {
		const struct dd_alert_state *a = &p->shards[k]->alerts[i];
		if (p->shards[k] != sh && a->firing && !a->muted)
			return true;
	}
	return false;
}

/* The shard at index k leaves the pipeline (freed); its counters go into the base. */
static void shard_leave(struct dd_pipeline *p, size_t k)
{
	struct shard *sh = p->shards[k];
	for (size_t i = 0; i < p->n_mons; i++)
		count(&p->base[i], &sh->mons[i], 1);
	if (p->cur == sh)
		p->cur = NULL;
	shard_free(p, sh);
}

/* Put sh in the pipeline (in place of the shard of the same key, which is freed). */
static int shard_put(struct dd_pipeline *p, struct shard *sh)
{
	size_t k = 0;
	while (k < p->n_shards && !shard_is(p->shards[k], sh->topic, sh->partition))
		k++;
	if (k == p->n_shards) {
		if (p->n_shards >= DD_SHARDS_MAX)
			return -E2BIG;
		struct shard **ns = realloc(p->shards, (p->n_shards + 1) * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		p->shards = ns;
		p->n_shards++;
	} else {
		shard_leave(p, k);
	}
	p->shards[k] = sh;
	for (size_t i = 0; i < p->n_mons; i++)
		count(&p->base[i], &sh->mons[i], -1); /* what it brings was counted elsewhere */
	return 0;
}

int dd_pipeline_new(const struct dd_config *c, const struct dd_pipeline_opts *opts,
                    struct dd_pipeline **ret)
{
	struct dd_pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->conf = c;
	if (opts)
		p->opts = *opts;
	if (!p->opts.reject_log_limit)
		p->opts.reject_log_limit = 10;
	if (gethostname(p->hostname, sizeof(p->hostname) - 1) < 0)
		strcpy(p->hostname, "localhost");

	int rc = -ENOMEM;
	p->n_mons = c->n_monitors;
	size_t n_aux = 0;
	for (size_t i = 0; i < p->n_mons; i++)
		for (size_t k = 0; k < c->monitors[i].detector->n_params; k++)
			n_aux += c->monitors[i].detector->params[k].type == DRIFTD_PARAM_POINTER;
	const char **ptrs = calloc(p->n_mons + n_aux + 1, sizeof(char *));
	p->vals = calloc(p->n_mons + n_aux + 1, sizeof(*p->vals));
	p->aux = calloc(n_aux + 1, sizeof(*p->aux));
	p->aux_slot = calloc(n_aux + 1, sizeof(*p->aux_slot));
	p->aux_base = calloc(p->n_mons + 1, sizeof(*p->aux_base));
	p->base = calloc(p->n_mons + 1, sizeof(*p->base));
	p->announced = calloc(p->n_mons + 1, sizeof(*p->announced));
	p->repeated_ms = calloc(p->n_mons + 1, sizeof(*p->repeated_ms));
	p->collected = calloc(p->n_mons + 1, sizeof(*p->collected));
	p->last = calloc(p->n_mons + 1, sizeof(*p->last));
	/* Enough room for every member's whole queue to be decided at once. */
	p->decided = calloc((p->n_mons + 1) * (DD_GROUP_MAX_PENDING + 1), sizeof(*p->decided));
	if (!ptrs || !p->vals || !p->base || !p->announced || !p->repeated_ms || !p->collected ||
	    !p->aux || !p->aux_slot || !p->aux_base || !p->last || !p->decided)
		goto fail;
	for (size_t i = 0; p->opts.collect && i < p->n_mons; i++)
		if (!(p->collected[i] = json_array()))
			goto fail;
	/* A monitor without a field (metadata-only detectors) reads /model/id, which the
	 * decoder resolves anyway, so it costs nothing. */
	for (size_t i = 0; i < p->n_mons; i++)
		ptrs[i] = c->monitors[i].field ? c->monitors[i].field : "/model/id";
	size_t n_ptrs = p->n_mons, a = 0;
	for (size_t i = 0; i < p->n_mons; i++) {
		const struct dd_monitor_conf *mc = &c->monitors[i];
		p->aux_base[i] = a;
		for (size_t k = 0; k < mc->detector->n_params; k++) {
			const struct driftd_param *pp = &mc->detector->params[k];
			if (pp->type != DRIFTD_PARAM_POINTER)
				continue;
			const char *ptr = dd_param_get_string(pp, mc->params);
			p->aux_slot[a++] = ptr ? n_ptrs : SIZE_MAX;
			if (ptr)
				ptrs[n_ptrs++] = ptr;
		}
	}
	p->aux_base[p->n_mons] = a;
	rc = dd_fieldset_new(ptrs, n_ptrs, &p->fs);
	if (rc < 0)
		goto fail;
	struct dd_limits lim;
	dd_limits_default(&lim);
	lim.max_record = c->max_record;
	lim.max_depth = c->max_depth;
	lim.max_string = c->max_string;
	rc = dd_decoder_new(&lim, &p->dec);
	if (rc < 0)
		goto fail;
	/* Partitioned: shards open as partitions are assigned (or first seen). Otherwise the
	 * one unpartitioned shard; it also checks that every detector starts. */
	struct shard *sh = NULL;
	if ((rc = shard_new(p, NULL, -1, &sh)) < 0)
		goto fail;
	if (p->opts.partitioned)
		shard_free(p, sh);
	else if ((rc = shard_put(p, sh)) < 0) {
		shard_free(p, sh);
		goto fail;
	}
	rc = dd_telemetry_new(c->telemetry_gap_ms, &p->telemetry);
	if (rc < 0)
		goto fail;
	/* Collect mode raises no alert: its sinks stay closed (a network sink would take its
	 * spool from a running service and send that service's alerts). */
	rc = p->opts.collect || p->opts.defer_sinks ? 0 : open_sinks(p);
	if (rc < 0)
		goto fail;
	free(ptrs);
	*ret = p;
	return 0;
fail:
	free(ptrs);
	dd_pipeline_free(p);
	return rc;
}

void dd_pipeline_free(struct dd_pipeline *p)
{
	if (!p)
		return;
	for (size_t k = 0; k < p->n_shards; k++)
		shard_free(p, p->shards[k]);
	free(p->shards);
	dd_pipeline_close_sinks(p);
	for (size_t i = 0; i < p->n_retry; i++) {
		free(p->retry[i].sink);
		json_decref(p->retry[i].alert);
	}
	free(p->retry);
	for (size_t i = 0; i < p->n_topics; i++)
		free(p->topics[i]);
	free(p->topics);
	free(p->decided);
	dd_telemetry_free(p->telemetry);
	for (size_t i = 0; p->collected && i < p->n_mons; i++)
		json_decref(p->collected[i]);
	free(p->collected);
	free(p->base);
	free(p->announced);
	free(p->repeated_ms);
	free(p->last);
	free(p->vals);
	free(p->aux);
	free(p->aux_slot);
	free(p->aux_base);
	dd_fieldset_free(p->fs);
	dd_decoder_free(p->dec);
	driftd_buf_free(&p->out);
	free(p);
}

static void where(const struct dd_origin *at, char *buf, size_t size)
{
	if (at->kafka)
		snprintf(buf, size, "%s[%" PRId32 "]@%" PRId64, at->topic ? at->topic : "?",
		         at->partition, at->offset);
	else
		snprintf(buf, size, "%s:%" PRIu64, at->input ? at->input : "-", at->line);
}

void dd_pipeline_reject(struct dd_pipeline *p, enum dd_reject why, const struct dd_origin *at)
{
	p->st.records++;
	if ((unsigned)why >= DD_REJECT__MAX)
		why = DD_REJECT_SYNTAX;
	uint64_t n = ++p->st.rejects[why];
	if (!p->opts.log || n > p->opts.reject_log_limit)
		return;
	char w[160];
	where(at, w, sizeof(w));
	fprintf(p->opts.log, "driftd: %s: record rejected: %s%s\n", w, dd_reject_name(why),
	        n == p->opts.reject_log_limit ? " (further rejects of this kind are only counted)"
	                                      : "");
}

void dd_pipeline_reject_format(struct dd_pipeline *p, enum dd_adapt_reject why,
                               const struct dd_origin *at)
{
	p->st.records++;
	if ((unsigned)why >= DD_ADAPT__MAX)
		why = DD_ADAPT_BAD_PAYLOAD;
	uint64_t n = ++p->st.format_rejects[why];
	if (!p->opts.log || n > p->opts.reject_log_limit)
		return;
	char w[160];
	where(at, w, sizeof(w));
	fprintf(p->opts.log, "driftd: %s: record rejected by the format adapter: %s%s\n", w,
	        dd_adapt_reject_name(why),
	        n == p->opts.reject_log_limit ? " (further rejects of this kind are only counted)"
	                                      : "");
}

static void trace_verdict(struct dd_pipeline *p, const struct dd_monitor *m,
                          const struct driftd_verdict *v, const struct dd_origin *at,
                          double p_adjusted)
{
	FILE *t = p->opts.trace;
	/* Written by hand: this runs once per streaming update and jansson would dominate. The
	 * monitor name is validated to [A-Za-z0-9._-], so it needs no escaping. */
	fprintf(t, "{\"monitor\":\"%s\",\"event.index\":%" PRIu64, m->conf->name, at->index);
	if (at->kafka)
		fprintf(t, ",\"kafka.partition\":%" PRId32 ",\"kafka.offset\":%" PRId64,
		        at->partition, at->offset);
	if (isfinite(v->score))
		fprintf(t, ",\"score\":%.17g", v->score);
	else
		fputs(",\"score\":null", t);
	if (isfinite(v->threshold))
		fprintf(t, ",\"threshold\":%.17g", v->threshold);
	else
		fputs(",\"threshold\":null", t);
	if (m->conf->detector->caps & DRIFTD_CAP_P_VALUE) {
		if (isfinite(v->p_value))
			fprintf(t, ",\"p_value\":%.17g", v->p_value);
		else
			fputs(",\"p_value\":null", t);
	}
	if (in_group(m->conf, p->conf)) {
		if (isfinite(p_adjusted))
			fprintf(t, ",\"p_adjusted\":%.17g", p_adjusted);
		else
			fputs(",\"p_adjusted\":null", t);
	}
	fprintf(t, ",\"drift\":%s", v->drift ? "true" : "false");
	if (m->conf->detector->caps & DRIFTD_CAP_WARNING)
		fprintf(t, ",\"warning\":%s", v->warning ? "true" : "false");
	fputs("}\n", t);
}

static void deliver(struct dd_pipeline *p, json_t *alert);
static bool retry_later(struct dd_pipeline *p, const char *sink, json_t *alert);
static void deliver_to(struct dd_pipeline *p, json_t *alert, const struct driftd_sink_ops *only);

static void notify(struct dd_pipeline *p, struct shard *sh, size_t i, enum dd_transition tr,
                   const struct dd_held *h, double p_adjusted)
{
	struct dd_alert_state *a = &sh->alerts[i];
	const struct dd_monitor_conf *mc = &p->conf->monitors[i];
	struct dd_alert_info info = {
	    .monitor = mc,
	    .state = a,
	    .verdict = &h->v,
	    .transition = tr,
	    .model_id = h->has_model ? h->model : NULL,
	    .at = &h->at,
	    .time_ms = h->now_ms,
	    .hostname = p->hostname,
	    .suppressed = a->suppressed,
	    .group = in_group(mc, p->conf) ? p->conf->groups[mc->group].name : NULL,
	    .p_adjusted = p_adjusted,
	};
	json_t *alert = dd_alert_json(&info);
	if (!alert) {
		p->st.sink_errors++;
		return;
	}
	a->suppressed = 0;
	if (mc->dry_run) {
		/* dry_run: the journal only (and the log), so a monitor can be tried without
		 * paging anyone. */
		if (p->opts.log)
			fprintf(p->opts.log, "driftd: dry-run %s %s: %s\n", mc->name,
			        json_string_value(json_object_get(alert, "status")),
			        json_string_value(json_object_get(alert, "output")));
		deliver_to(p, alert, &dd_sink_journald);
		return;
	}
	deliver(p, alert);
}

static void deliver(struct dd_pipeline *p, json_t *alert)
{
	deliver_to(p, alert, NULL);
}

/* Hand one alert to every sink (only sinks of type `only`, when set), narrating it when asked;
 * takes the reference. */
static void deliver_to(struct dd_pipeline *p, json_t *alert, const struct driftd_sink_ops *only)
{
	const char *status = json_string_value(json_object_get(alert, "status"));
	bool firing = status && strcmp(status, "firing") == 0;
	if (p->opts.announce && p->opts.log)
		fprintf(p->opts.log, "driftd: %s %s [%s] %s\n", firing ? "FIRING  " : "RESOLVED",
		        json_string_value(json_object_get(alert, "rule")),
		        json_string_value(json_object_get(alert, "priority")),
		        json_string_value(json_object_get(alert, "output")));
	if (firing)
		p->st.fired++;
	else
		p->st.resolved++;
	if (p->opts.on_alert)
		p->opts.on_alert(p->opts.on_alert_arg, alert);
	for (size_t s = 0; s < p->n_sinks; s++) {
		struct sink *sk = &p->sinks[s];
		if (only && sk->ops != only)
			continue;
		p->out.len = 0;
		p->out.err = 0;
		int rc = sk->ops->format(sk->state, alert, &p->out);
		if (rc == 0)
			rc = sk->ops->deliver(sk->state, p->out.data, p->out.len);
		if (rc < 0) {
			p->st.sink_errors++;
			bool kept = rc != -EMSGSIZE && retry_later(p, sk->name, alert);
			if (p->opts.log)
				fprintf(p->opts.log,
				        "driftd: %s sink %s: cannot take alert %s: %s%s\n",
				        sk->ops->name, sk->name,
				        json_string_value(json_object_get(alert, "id")),
				        strerror(-rc), kept ? " (retried every second)" : "");
		}
	}
	json_decref(alert);
}

/* Keep an alert a sink refused for a later try; false when it cannot be kept (then it is
 * lost, and counted as such). */
static bool retry_later(struct dd_pipeline *p, const char *sink, json_t *alert)
{
	if (!p->retry)
		p->retry = calloc(DD_RETRY_MAX, sizeof(*p->retry));
	char *name = p->retry && p->n_retry < DD_RETRY_MAX ? strdup(sink) : NULL;
	if (!name) {
		if (p->lost++ == 0 && p->opts.log)
			fprintf(p->opts.log,
			        "driftd: alerts are being lost (sink %s refuses them and %d wait "
			        "already): state snapshots stop, so a restart raises them again\n",
			        sink, DD_RETRY_MAX);
		return false;
	}
	p->retry[p->n_retry++] = (struct retry){.sink = name, .alert = json_incref(alert)};
	return true;
}

/* Offer the refused alerts again, in order; those taken leave the queue. */
static void retry_now(struct dd_pipeline *p)
{
	size_t kept = 0;
	for (size_t i = 0; i < p->n_retry; i++) {
		struct retry *r = &p->retry[i];
		struct sink *sk = NULL;
		for (size_t s = 0; s < p->n_sinks; s++)
			if (p->sinks[s].open && strcmp(p->sinks[s].name, r->sink) == 0)
				sk = &p->sinks[s];
		int rc = -ENOENT;
		if (sk) {
			p->out.len = 0;
			p->out.err = 0;
			rc = sk->ops->format(sk->state, r->alert, &p->out);
			if (rc == 0)
				rc = sk->ops->deliver(sk->state, p->out.data, p->out.len);
		}
		if (rc == 0 || (!sk && p->sinks)) {
			/* taken, or its sink is no longer configured */
			if (!sk && p->opts.log)
				fprintf(
				    p->opts.log,
				    "driftd: alert %s for sink %s dropped: no such sink after a "
				    "reload\n",
				    json_string_value(json_object_get(r->alert, "id")), r->sink);
			free(r->sink);
			json_decref(r->alert);
			continue;
		}
		p->retry[kept++] = *r;
	}
	p->n_retry = kept;
}

uint64_t dd_pipeline_undelivered(const struct dd_pipeline *p)
{
	return p->n_retry + p->lost;
}

static void gap_alert(struct dd_pipeline *p, const struct dd_gap *g, int64_t now_ms)
{
	char out[320], episode[32];
	if (g->resolved)
		snprintf(out, sizeof(out), "Model %s is logging again after %.0f s of silence",
		         g->model, (double)g->silent_ms / 1000.0);
	else
		snprintf(
		    out, sizeof(out),
		    "Model %s stopped logging: no inference record for %.0f s (a telemetry gap "
		    "can hide an attack)",
		    g->model, (double)g->silent_ms / 1000.0);
	/* One episode per silence: it starts at the last record seen. */
	snprintf(episode, sizeof(episode), "%lld", (long long)g->last_seen_ms);
	char last[40];
	dd_format_rfc3339(g->last_seen_ms, last, sizeof(last));
	json_t *f = json_object();
	json_object_set_new(f, "model.id", json_string(g->model));
	json_object_set_new(f, "last_seen", json_string(last));
	json_object_set_new(f, "silent_s", json_real((double)g->silent_ms / 1000.0));
	json_object_set_new(f, "gap_s", json_real((double)p->conf->telemetry_gap_ms / 1000.0));
	static const char *const tags[] = {"threat:telemetry_gap", "etsi:5.4.2-1", NULL};
	struct dd_self_alert sa = {
	    .rule = "driftd.telemetry_gap",
	    .status = g->resolved ? "resolved" : "firing",
	    .severity = DD_SEV_ERROR,
	    .key = g->model,
	    .episode = episode,
	    .output = out,
	    .tags = tags,
	    .fields = f,
	    .time_ms = now_ms,
	};
	dd_pipeline_self_alert(p, &sa);
}

/* A sink's queue beyond its bounds: alerts still kept, but delivery is not keeping up (or
 * not happening), which an operator must hear about from the other sinks. */
static void overflow_alert(struct dd_pipeline *p, struct sink *sk,
                           const struct driftd_sink_status *st, int64_t now_ms)
{
	char out[512], episode[32];
	if (sk->overflowing)
		snprintf(out, sizeof(out),
		         "Alerts for sink %s pile up beyond its spool bounds: %" PRIu64
		         " undelivered (%" PRIu64 " bytes)%s%s",
		         sk->name, st->pending, st->pending_bytes,
		         st->last_error[0] ? "; last error: " : "", st->last_error);
	else
		snprintf(out, sizeof(out),
		         "The spool of sink %s is back within its bounds (%" PRIu64 " pending)",
		         sk->name, st->pending);
	snprintf(episode, sizeof(episode), "%lld", (long long)sk->overflow_since_ms);
	json_t *f = json_object();
	json_object_set_new(f, "sink", json_string(sk->name));
	json_object_set_new(f, "sink.type", json_string(sk->ops->name));
	json_object_set_new(f, "pending", json_integer((json_int_t)st->pending));
	json_object_set_new(f, "pending_bytes", json_integer((json_int_t)st->pending_bytes));
	json_object_set_new(f, "overflow", json_integer((json_int_t)st->overflow));
	json_object_set_new(f, "last_error", json_string(st->last_error));
	static const char *const tags[] = {"etsi:5.4.2-1", NULL};
	struct dd_self_alert sa = {
	    .rule = "driftd.spool_overflow",
	    .status = sk->overflowing ? "firing" : "resolved",
	    .severity = DD_SEV_ERROR,
	    .key = sk->name,
	    .episode = episode,
	    .output = out,
	    .tags = tags,
	    .fields = f,
	    .time_ms = now_ms,
	};
	dd_pipeline_self_alert(p, &sa);
}

static void check_sinks(struct dd_pipeline *p, int64_t now_ms)
{
	for (size_t i = 0; i < p->n_sinks; i++) {
		struct sink *sk = &p->sinks[i];
		struct driftd_sink_status st;
		if (!sk->open || !sk->ops->status || sk->ops->status(sk->state, &st) < 0 ||
		    st.over_bounds == sk->overflowing)
			continue;
		sk->overflowing = st.over_bounds;
		if (sk->overflowing)
			sk->overflow_since_ms = now_ms;
		overflow_alert(p, sk, &st, now_ms);
	}
}

void dd_pipeline_tick(struct dd_pipeline *p, int64_t now_ms)
{
	/* Once a second of whichever clock drives the pipeline is enough for gaps of minutes. */
	if (now_ms - p->last_tick_ms < 1000)
		return;
	p->last_tick_ms = now_ms;
	struct dd_gap gaps[16];
	size_t n;
	while ((n = dd_telemetry_check(p->telemetry, now_ms, gaps, 16)) > 0)
		for (size_t k = 0; k < n; k++)
			gap_alert(p, &gaps[k], now_ms);
	check_sinks(p, now_ms);
	if (p->n_retry)
		retry_now(p);
}

/* A verdict that is final (alone, or decided with its group): trace it and step its alert.
 * One notification per fingerprint across the shards: a partition that starts firing while
 * another already fires, or resolves while another still fires, is only counted. */
static void decided(struct dd_pipeline *p, struct shard *sh, size_t i, const struct dd_held *h,
                    double p_adjusted)
{
	const struct dd_monitor *m = &sh->mons[i];
	if (p->opts.trace)
		trace_verdict(p, m, &h->v, &h->at, p_adjusted);
	enum dd_transition tr = dd_alert_step(&sh->alerts[i], m->conf, &h->v, &h->at, h->now_ms);
	if ((tr == DD_TRANSITION_FIRING || tr == DD_TRANSITION_RESOLVED) && p->n_shards > 1 &&
	    others_firing(p, sh, i))
		tr = DD_TRANSITION_NONE;
	else if (tr == DD_TRANSITION_REPEAT && h->now_ms >= p->repeated_ms[i] &&
	         h->now_ms - p->repeated_ms[i] < m->conf->repeat_interval_ms)
		/* Another partition sent it: one repeat per interval. Partitions' event times
		 * differ (one may be catching up): one behind the last repeat is due, or its
		 * repeats would wait for its clock to catch up. */
		tr = DD_TRANSITION_NONE;
	if (tr == DD_TRANSITION_FIRING || tr == DD_TRANSITION_REPEAT)
		p->repeated_ms[i] = h->now_ms;
	if (tr != DD_TRANSITION_NONE)
		notify(p, sh, i, tr, h, p_adjusted);
}

static bool matches(const struct dd_monitor_conf *mc, const struct dd_meta *meta)
{
	if (mc->match_model && (!meta->model_id || meta->model_id_len != strlen(mc->match_model) ||
	                        memcmp(meta->model_id, mc->match_model, meta->model_id_len) != 0))
		return false;
	if (mc->match_version &&
	    (!meta->model_version || meta->model_version_len != strlen(mc->match_version) ||
	     memcmp(meta->model_version, mc->match_version, meta->model_version_len) != 0))
		return false;
	return true;
}

/* The hash on_model_change compares (0: no version): FNV-1a with a final mix, once per event. */
static uint64_t version_hash(const struct dd_meta *meta)
{
	if (!meta->model_version)
		return 0;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < meta->model_version_len; i++)
		h = (h ^ (unsigned char)meta->model_version[i]) * 1099511628211ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h | 1;
}

/* on_model_change: the version this monitor sees now (vh, its hash) against the one its
 * state was built on. Returns 0, or -ENOMEM / a detector's error from restarting the monitor
 * (rescope). */
static int model_change(struct dd_pipeline *p, struct shard *sh, size_t i,
                        const struct dd_meta *meta, uint64_t vh, const struct dd_origin *at,
                        int64_t now_ms)
{
	struct dd_monitor *m = &sh->mons[i];
	const struct dd_monitor_conf *mc = m->conf;
	if (!vh || mc->match_version || m->model_version_hash == vh)
		return 0; /* (a monitor pinned to one version never sees another) */
	char now[DD_MODEL_VERSION_MAX + 1], before[DD_MODEL_VERSION_MAX + 1], out[640], loc[160];
	size_t l = meta->model_version_len < DD_MODEL_VERSION_MAX ? meta->model_version_len
	                                                          : DD_MODEL_VERSION_MAX;
	memcpy(now, meta->model_version, l);
	now[l] = '\0';
	dd_utf8_cut(now);                 /* it goes into JSON */
	if (m->model_version_hash == 0) { /* the first version this monitor sees */
		m->model_version_hash = vh;
		memcpy(m->model_version, now, sizeof(now));
		if (!p->announced[i])
			p->announced[i] = vh;
		return 0;
	}
	/* Every partition's shard sees the change; one alert says it (the first to see it). */
	bool announce = p->announced[i] != vh;
	p->announced[i] = vh;
	snprintf(before, sizeof(before), "%s", m->model_version);
	where(at, loc, sizeof(loc));
	static const char *const policy[] = {"alert", "rescope", "keep"};
	static const char *const then[] = {
	    "its state is kept, so the new version is judged against the old reference",
	    "the monitor starts over and learns the new version",
	    "expected by configuration (on_model_change: keep); the state is kept"};
	snprintf(
	    out, sizeof(out), "Model %.*s changed version from %s to %s (monitor %s, at %s): %s",
	    (int)(meta->model_id ? meta->model_id_len : 1), meta->model_id ? meta->model_id : "?",
	    before, now, mc->name, loc, then[mc->on_model_change]);
	json_t *f = json_object();
	json_object_set_new(f, "monitor", json_string(mc->name));
	json_object_set_new(f, "model.id",
	                    json_stringn(meta->model_id ? meta->model_id : "",
	                                 meta->model_id ? meta->model_id_len : 0));
	json_object_set_new(f, "model.version", json_string(now));
	json_object_set_new(f, "model.version.previous", json_string(before));
	json_object_set_new(f, "on_model_change", json_string(policy[mc->on_model_change]));
	static const char *const tags[] = {"threat:model_tampering", "etsi:5.2.1-2", NULL};
	char key[512];
	snprintf(key, sizeof(key), "%s|%s", mc->name, now);
	struct dd_self_alert sa = {
	    .rule = "driftd.model_changed",
	    .status = "firing",
	    .severity = mc->on_model_change == DD_MODEL_CHANGE_ALERT     ? DD_SEV_WARNING
	                : mc->on_model_change == DD_MODEL_CHANGE_RESCOPE ? DD_SEV_NOTICE
	                                                                 : DD_SEV_INFORMATIONAL,
	    .key = key,
	    .episode = before,
	    .output = out,
	    .tags = tags,
	    .fields = f,
	    .time_ms = now_ms >= 0 ? now_ms : wall_ms(),
	};
	if (announce)
		dd_pipeline_self_alert(p, &sa);
	else
		json_decref(f);
	if (mc->on_model_change == DD_MODEL_CHANGE_RESCOPE) {
		struct dd_monitor fresh;
		int rc = dd_monitor_init(&fresh, mc, monitor_seed(mc->name));
		if (rc < 0) {
			dd_monitor_done(&fresh);
			return rc;
		}
		count(&p->base[i], m, 1); /* the instance's counters go on */
		dd_monitor_done(m);
		*m = fresh;
		dd_alert_state_init(&sh->alerts[i], mc);
	}
	m->model_version_hash = vh;
	memcpy(m->model_version, now, sizeof(now));
	return 0;
}

/* Collect mode: record the value as the reference would take it, up to reference.size. */
static int collect(struct dd_pipeline *p, size_t i)
{
	const struct dd_monitor_conf *mc = &p->conf->monitors[i];
	const struct driftd_value *v = &p->vals[i];
	if (!driftd_kind_uses_reference(mc->detector->kind) ||
	    json_array_size(p->collected[i]) >= mc->reference_size)
		return 0;
	if (!(mc->detector->accepts & DRIFTD_ACCEPTS(v->type)))
		return 0;
	json_t *j = dd_value_to_json(v);
	if (!j || json_array_append_new(p->collected[i], j) < 0)
		return -ENOMEM;
	return 0;
}

const json_t *dd_pipeline_collected(const struct dd_pipeline *p, size_t i)
{
	return p->collected ? p->collected[i] : NULL;
}

/* The shard a record goes to: its partition's (opened fresh when there is none: a partition
 * the source did not announce, or no state store), or the unpartitioned one. */
static int shard_for(struct dd_pipeline *p, const struct dd_origin *at, struct shard **ret)
{
	const char *topic = p->opts.partitioned && at->kafka ? at->topic : NULL;
	int32_t partition = topic ? at->partition : -1;
	if ((*ret = shard_find(p, topic, partition)))
		return 0;
	struct shard *sh;
	int rc = shard_new(p, topic, partition, &sh);
	if (rc == 0 && (rc = shard_put(p, sh)) < 0)
		shard_free(p, sh);
	*ret = rc == 0 ? sh : NULL;
	return rc;
}

int dd_pipeline_feed(struct dd_pipeline *p, const char *rec, size_t len, const struct dd_origin *at)
{
	struct dd_meta meta;
	enum dd_reject why = DD_REJECT_NONE;
	int rc = dd_decode(p->dec, p->fs, rec, len, &meta, p->vals, &why);
	if (rc < 0) {
		if (rc == -ENOMEM)
			return rc;
		dd_pipeline_reject(p, why == DD_REJECT_NONE ? DD_REJECT_SYNTAX : why, at);
		return 0;
	}
	p->st.records++;
	p->st.accepted++;
	int64_t now_ms = meta.has_ts ? meta.ts_ms : -1;
	uint64_t vh = version_hash(&meta);

	/* Telemetry: service mode watches arrival (wall clock), replay the records' own time. */
	int64_t seen_ms = p->opts.wall_clock ? wall_ms() : now_ms;
	if (seen_ms >= 0 && meta.model_id) {
		struct dd_gap g;
		if (dd_telemetry_seen(p->telemetry, meta.model_id, meta.model_id_len, seen_ms, &g))
			gap_alert(p, &g, seen_ms);
		if (!p->opts.wall_clock)
			dd_pipeline_tick(p, seen_ms);
	}

	struct shard *sh = p->cur;
	if (!sh ||
	    (p->opts.partitioned && !shard_is(sh, at->kafka ? at->topic : NULL, at->partition))) {
		if ((rc = shard_for(p, at, &sh)) < 0)
			return rc;
		p->cur = sh;
	}
	for (size_t i = 0; i < p->n_mons; i++) {
		struct dd_monitor *m = &sh->mons[i];
		if (!matches(m->conf, &meta))
			continue;
		if (p->opts.collect) {
			rc = collect(p, i);
			if (rc < 0)
				return rc;
			continue;
		}
		if ((rc = model_change(p, sh, i, &meta, vh, at, now_ms)) < 0)
			return rc;
		struct driftd_verdict v;
		struct driftd_event ev = {
		    .value = &p->vals[i],
		    .aux = p->aux + p->aux_base[i],
		    .n_aux = p->aux_base[i + 1] - p->aux_base[i],
		    .model_id = {meta.model_id, meta.model_id_len},
		    .model_version = {meta.model_version, meta.model_version_len},
		    .model_sha256 = {meta.model_sha256, meta.model_sha256_len},
		    .client_id = {meta.client_id, meta.client_id_len},
		    .request_id = {meta.request_id, meta.request_id_len},
		    .ts_ms = now_ms,
		};
		for (size_t k = p->aux_base[i]; k < p->aux_base[i + 1]; k++)
			p->aux[k] = p->aux_slot[k] == SIZE_MAX
			                ? (struct driftd_value){.type = DRIFTD_VALUE_NONE}
			                : p->vals[p->aux_slot[k]];
		rc = dd_monitor_feed_event(m, &ev, &v);
		if (rc < 0) {
			p->st.detector_errors++;
			if (p->opts.log && p->detector_errors_logged++ < p->opts.reject_log_limit)
				fprintf(p->opts.log, "driftd: monitor %s: detector %s failed: %s\n",
				        m->conf->name, m->conf->detector->name, strerror(-rc));
			continue;
		}
		if (rc == 0)
			continue;
		p->st.verdicts++;
		p->last[i] = (struct dd_pipeline_last){.v = v, .set = true};
		struct dd_held h = {.v = v, .at = *at, .now_ms = now_ms >= 0 ? now_ms : wall_ms()};
		if (meta.model_id) {
			size_t l = meta.model_id_len < sizeof(h.model) - 1 ? meta.model_id_len
			                                                   : sizeof(h.model) - 1;
			memcpy(h.model, meta.model_id, l);
			h.model[l] = '\0';
			dd_utf8_cut(h.model);
			h.has_model = true;
		}
		if (!in_group(m->conf, p->conf)) {
			decided(p, sh, i, &h, (double)NAN);
			continue;
		}
		/* A group may decide later, after the detector's state (which the evidence points
		 * into) has moved on; grouped detectors are p-value tests without evidence. */
		h.v.evidence = NULL;
		size_t n = dd_group_offer(sh->groups[m->conf->group], i, &h, p->decided);
		for (size_t k = 0; k < n; k++)
			decided(p, sh, p->decided[k].monitor, &p->decided[k].held,
			        p->decided[k].p_adjusted);
	}
	return 0;
}

/* Whether two monitor definitions build the same detector state (the digest leaves out the
 * alert-side settings: severity, for, resolve_after, cooldown, repeat_interval, dry_run, tags,
 * group). */
static bool same_definition(const struct dd_monitor_conf *a, const struct dd_monitor_conf *b)
{
	char da[65], db[65];
	dd_monitor_digest(a, da);
	dd_monitor_digest(b, db);
	return strcmp(da, db) == 0;
}

static const char *intern_topic(struct dd_pipeline *p, const char *t);

/* Verdicts held for unfinished group rounds move with their monitor when the group keeps its
 * name and the monitor its definition (else they belong to a test that no longer exists). */
static void adopt_groups(struct dd_pipeline *p, struct shard *sh, const struct dd_pipeline *old,
                         const struct shard *osh)
{
	struct dd_held q[DD_GROUP_MAX_PENDING];
	for (size_t g = 0; g < p->conf->n_groups; g++)
		for (size_t og = 0; og < old->conf->n_groups; og++) {
			if (strcmp(p->conf->groups[g].name, old->conf->groups[og].name) != 0)
				continue;
			for (size_t k = 0; k < dd_group_size(sh->groups[g]); k++) {
				const struct dd_monitor_conf *mc =
				    &p->conf->monitors[dd_group_member(sh->groups[g], k)];
				for (size_t ok = 0; ok < dd_group_size(osh->groups[og]); ok++) {
					const struct dd_monitor_conf *oc =
					    &old->conf
					         ->monitors[dd_group_member(osh->groups[og], ok)];
					if (!same_definition(mc, oc))
						continue;
					size_t n = dd_group_pending(osh->groups[og], ok, q);
					/* the old pipeline's topic names go with it */
					for (size_t i = 0; i < n; i++)
						if (q[i].at.topic)
							q[i].at.topic =
							    intern_topic(p, q[i].at.topic);
					dd_group_set_pending(sh->groups[g], k, q, n);
					break;
				}
			}
		}
}

/* Move the state of every monitor of osh whose definition is unchanged into sh. */
static void adopt_shard(struct dd_pipeline *p, struct shard *sh, struct dd_pipeline *old,
                        struct shard *osh)
{
	for (size_t i = 0; i < p->n_mons; i++)
		for (size_t j = 0; j < old->n_mons; j++) {
			if (!same_definition(&p->conf->monitors[i], &old->conf->monitors[j]))
				continue;
			struct dd_monitor tmp = sh->mons[i];
			sh->mons[i] = osh->mons[j];
			osh->mons[j] = tmp;
			/* Each monitor points at the configuration that owns it. The adopted
			 * instance takes the new configuration's parameter block (equal values):
			 * text and list parameters point into the configuration, and the old one
			 * is freed after the reload. */
			sh->mons[i].conf = &p->conf->monitors[i];
			osh->mons[j].conf = &old->conf->monitors[j];
			memcpy((void *)sh->mons[i].inst->ctx.config, p->conf->monitors[i].params,
			       p->conf->monitors[i].detector->config_size);
			memcpy((void *)osh->mons[j].inst->ctx.config, old->conf->monitors[j].params,
			       old->conf->monitors[j].detector->config_size);
			sh->alerts[i] = osh->alerts[j];
			break;
		}
	adopt_groups(p, sh, old, osh);
}

size_t dd_pipeline_adopt(struct dd_pipeline *p, struct dd_pipeline *old)
{
	size_t kept = 0;
	/* Refused alerts wait on in the new pipeline (for the sink of the same name). */
	p->lost += old->lost;
	for (size_t i = 0; i < old->n_retry; i++) {
		if (!retry_later(p, old->retry[i].sink, old->retry[i].alert))
			p->lost++;
		free(old->retry[i].sink);
		json_decref(old->retry[i].alert);
	}
	old->n_retry = 0;
	/* Shard by shard: the new pipeline holds the same partitions as the old one. A shard
	 * that cannot be opened (no memory) starts fresh when its next record comes. */
	for (size_t k = 0; k < old->n_shards; k++) {
		struct shard *osh = old->shards[k], *sh = shard_find(p, osh->topic, osh->partition);
		if (!sh && shard_new(p, osh->topic, osh->partition, &sh) == 0 &&
		    shard_put(p, sh) < 0) {
			shard_free(p, sh);
			sh = NULL;
		}
		if (sh)
			adopt_shard(p, sh, old, osh);
	}
	/* What keeps its state, in every partition: monitors whose definition is unchanged;
	 * with it their counters, last verdict and announced model version. */
	for (size_t i = 0; i < p->n_mons; i++)
		for (size_t j = 0; j < old->n_mons; j++)
			if (same_definition(&p->conf->monitors[i], &old->conf->monitors[j])) {
				p->base[i] = old->base[j];
				p->last[i] = old->last[j];
				p->announced[i] = old->announced[j];
				kept++;
				break;
			}
	return kept;
}

/* ---- group rounds in the state: verdicts held for rounds not yet complete ---- */

static json_t *num_or_null(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static json_t *held_save(const struct dd_held *h)
{
	const struct dd_origin *a = &h->at;
	return json_pack("{s:o, s:o, s:o, s:b, s:b, s:s?, s:I, s:{s:b, s:s?, s:i, s:I, s:I, s:I}}",
	                 "score", num_or_null(h->v.score), "threshold", num_or_null(h->v.threshold),
	                 "p_value", num_or_null(h->v.p_value), "drift", h->v.drift, "warning",
	                 h->v.warning, "model", h->has_model ? h->model : NULL, "now_ms",
	                 (json_int_t)h->now_ms, "at", "kafka", a->kafka, "topic", a->topic,
	                 "partition", (int)a->partition, "offset", (json_int_t)a->offset, "index",
	                 (json_int_t)a->index, "line", (json_int_t)a->line);
}

/* {group: {member monitor: [held, ...]}}, members with an empty queue left out. */
static json_t *save_groups(const struct dd_pipeline *p, const struct shard *sh)
{
	json_t *out = json_object();
	struct dd_held q[DD_GROUP_MAX_PENDING];
	for (size_t g = 0; out && g < p->conf->n_groups; g++) {
		json_t *members = json_object();
		for (size_t k = 0; members && k < dd_group_size(sh->groups[g]); k++) {
			size_t n = dd_group_pending(sh->groups[g], k, q);
			if (n == 0)
				continue;
			json_t *arr = json_array();
			for (size_t i = 0; arr && i < n; i++)
				if (json_array_append_new(arr, held_save(&q[i])) < 0) {
					json_decref(arr);
					arr = NULL;
				}
			size_t mi = dd_group_member(sh->groups[g], k);
			if (!arr ||
			    json_object_set_new(members, p->conf->monitors[mi].name, arr) < 0) {
				json_decref(members);
				members = NULL;
			}
		}
		if (!members || json_object_set_new(out, p->conf->groups[g].name, members) < 0) {
			json_decref(out);
			out = NULL;
		}
	}
	return out;
}

/* A topic name for a restored origin: one owned copy per name. */
static const char *intern_topic(struct dd_pipeline *p, const char *t)
{
	for (size_t i = 0; i < p->n_topics; i++)
		if (strcmp(p->topics[i], t) == 0)
			return p->topics[i];
	if (p->n_topics >= 1024)
		return NULL;
	char **nt = realloc(p->topics, (p->n_topics + 1) * sizeof(*nt));
	if (!nt)
		return NULL;
	p->topics = nt;
	if (!(p->topics[p->n_topics] = strdup(t)))
		return NULL;
	return p->topics[p->n_topics++];
}

static double num_of(const json_t *j)
{
	return json_is_number(j) ? json_number_value(j) : (double)NAN;
}

static int held_load(struct dd_pipeline *p, const json_t *j, struct dd_held *h)
{
	int drift, warning, kafka, partition;
	json_int_t now, offset, index, line;
	json_t *score, *threshold, *pv, *jmodel, *jtopic;
	json_error_t e;
	if (json_unpack_ex((json_t *)j, &e, JSON_STRICT,
	                   "{s:o, s:o, s:o, s:b, s:b, s:o, s:I, s:{s:b, s:o, s:i, s:I, s:I, s:I}}",
	                   "score", &score, "threshold", &threshold, "p_value", &pv, "drift",
	                   &drift, "warning", &warning, "model", &jmodel, "now_ms", &now, "at",
	                   "kafka", &kafka, "topic", &jtopic, "partition", &partition, "offset",
	                   &offset, "index", &index, "line", &line) < 0 ||
	    (!json_is_string(jmodel) && !json_is_null(jmodel)) ||
	    (!json_is_string(jtopic) && !json_is_null(jtopic)))
		return -EBADMSG;
	const char *model = json_string_value(jmodel), *topic = json_string_value(jtopic);
	if ((!json_is_number(score) && !json_is_null(score)) ||
	    (!json_is_number(threshold) && !json_is_null(threshold)) ||
	    (!json_is_number(pv) && !json_is_null(pv)) || index < 0 || line < 0 ||
	    (model && strlen(model) >= sizeof(h->model)))
		return -EBADMSG;
	*h = (struct dd_held){
	    .v = {.score = num_of(score),
	          .threshold = num_of(threshold),
	          .p_value = num_of(pv),
	          .drift = drift,
	          .warning = warning},
	    .at = {.kafka = kafka,
	           .topic = topic ? intern_topic(p, topic) : NULL,
	           .partition = partition,
	           .offset = offset,
	           .index = (uint64_t)index,
	           .line = (uint64_t)line},
	    .has_model = model != NULL,
	    .now_ms = now,
	};
	if (model)
		snprintf(h->model, sizeof(h->model), "%s", model);
	return 0;
}

/* Parse the document's group queues (all of them, before anything changes); members whose
 * monitor is not restored (changed definition) lose their queue: those verdicts belong to
 * the old definition. Queues are put in place by groups_apply. */
struct group_queues {
	struct dd_held (*q)[DD_GROUP_MAX_PENDING]; /* per group member, flattened */
	size_t *n;
	size_t total; /* members over all groups */
};

static int groups_parse(struct dd_pipeline *p, const struct shard *sh, const json_t *doc,
                        const bool *loaded, struct group_queues *gq, char *why, size_t whysz)
{
	const json_t *groups = json_object_get(doc, "groups");
	gq->total = 0;
	for (size_t g = 0; g < p->conf->n_groups; g++)
		gq->total += dd_group_size(sh->groups[g]);
	gq->q = calloc(gq->total + 1, sizeof(*gq->q));
	gq->n = calloc(gq->total + 1, sizeof(*gq->n));
	if (!gq->q || !gq->n)
		return -ENOMEM;
	if (!groups)
		return 0; /* a document from before groups were saved */
	if (!json_is_object(groups)) {
		snprintf(why, whysz, "groups: not an object");
		return -EBADMSG;
	}
	size_t base = 0;
	for (size_t g = 0; g < p->conf->n_groups; g++) {
		const json_t *members = json_object_get(groups, p->conf->groups[g].name);
		for (size_t k = 0; k < dd_group_size(sh->groups[g]); k++) {
			size_t mi = dd_group_member(sh->groups[g], k);
			const json_t *arr = json_object_get(members, p->conf->monitors[mi].name);
			if (!arr || !loaded[mi])
				continue;
			if (!json_is_array(arr) || json_array_size(arr) > DD_GROUP_MAX_PENDING) {
				snprintf(why, whysz,
				         "group %s: member %s: not a list of at most %d",
				         p->conf->groups[g].name, p->conf->monitors[mi].name,
				         DD_GROUP_MAX_PENDING);
				return -EBADMSG;
			}
			for (size_t i = 0; i < json_array_size(arr); i++)
				if (held_load(p, json_array_get(arr, i), &gq->q[base + k][i]) < 0) {
					snprintf(why, whysz,
					         "group %s: member %s: verdict %zu is not valid",
					         p->conf->groups[g].name,
					         p->conf->monitors[mi].name, i);
					return -EBADMSG;
				}
			gq->n[base + k] = json_array_size(arr);
		}
		base += dd_group_size(sh->groups[g]);
	}
	return 0;
}

static void groups_apply(struct dd_pipeline *p, struct shard *sh, const struct group_queues *gq)
{
	size_t base = 0;
	for (size_t g = 0; g < p->conf->n_groups; g++) {
		for (size_t k = 0; k < dd_group_size(sh->groups[g]); k++)
			dd_group_set_pending(sh->groups[g], k, gq->q[base + k], gq->n[base + k]);
		base += dd_group_size(sh->groups[g]);
	}
}

static int shard_save(const struct dd_pipeline *p, const struct shard *sh, json_t **out)
{
	*out = NULL;
	json_t *mons = json_object();
	if (!mons)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_mons; i++) {
		const struct dd_monitor_conf *mc = &p->conf->monitors[i];
		char digest[65];
		dd_monitor_digest(mc, digest);
		json_t *m = dd_monitor_save(&sh->mons[i]);
		json_t *a = dd_alert_state_save(&sh->alerts[i]);
		json_t *e = m && a ? json_pack("{s:s, s:o, s:o}", "digest", digest, "monitor", m,
		                               "alert", a)
		                   : NULL;
		if (!e || json_object_set_new(mons, mc->name, e) < 0) {
			if (!e) {
				json_decref(m);
				json_decref(a);
			}
			json_decref(mons);
			return -ENOMEM;
		}
	}
	json_t *groups = save_groups(p, sh);
	if (!groups) {
		json_decref(mons);
		return -ENOMEM;
	}
	*out = json_pack("{s:i, s:o, s:o}", "format", DD_STATE_FORMAT, "monitors", mons, "groups",
	                 groups);
	return *out ? 0 : -ENOMEM;
}

int dd_pipeline_shard_save(const struct dd_pipeline *p, const char *topic, int32_t partition,
                           json_t **out)
{
	const struct shard *sh = shard_find(p, topic, partition);
	if (!sh) {
		*out = NULL;
		return -ENOENT;
	}
	return shard_save(p, sh, out);
}

int dd_pipeline_save(const struct dd_pipeline *p, json_t **out)
{
	return dd_pipeline_shard_save(p, NULL, -1, out);
}

/* Load doc into the fresh shard sh (not yet in the pipeline). */
static int shard_load(struct dd_pipeline *p, struct shard *sh, const json_t *doc,
                      struct dd_load_report *r, char *why, size_t whysz)
{
	const json_t *mons = json_object_get(doc, "monitors");
	const json_t *fmt = json_object_get(doc, "format");
	if (!json_is_integer(fmt) || json_integer_value(fmt) != DD_STATE_FORMAT ||
	    !json_is_object(mons)) {
		snprintf(why, whysz, "not a driftd state document of format %d", DD_STATE_FORMAT);
		return -EBADMSG;
	}
	bool *loaded = calloc(p->n_mons + 1, sizeof(bool));
	int rc = loaded ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < p->n_mons; i++) {
		const struct dd_monitor_conf *mc = &p->conf->monitors[i];
		const json_t *e = json_object_get(mons, mc->name);
		if (!e) {
			r->fresh++;
			continue;
		}
		char digest[65], sub[400] = "";
		dd_monitor_digest(mc, digest);
		const char *d = json_string_value(json_object_get(e, "digest"));
		if (!d || strcmp(d, digest) != 0) {
			r->changed++;
			r->fresh++;
			continue;
		}
		rc = dd_monitor_load(&sh->mons[i], json_object_get(e, "monitor"), sub, sizeof(sub));
		if (rc == 0)
			rc = dd_alert_state_load(&sh->alerts[i], json_object_get(e, "alert"), sub,
			                         sizeof(sub));
		if (rc < 0) {
			snprintf(why, whysz, "monitor %s: %s", mc->name,
			         sub[0] ? sub : strerror(-rc));
			break;
		}
		loaded[i] = true;
		r->restored++;
	}
	struct group_queues gq = {0};
	if (rc == 0)
		rc = groups_parse(p, sh, doc, loaded, &gq, why, whysz);
	if (rc == 0) {
		groups_apply(p, sh, &gq);
		/* Monitors of the document no longer configured. */
		r->dropped = json_object_size(mons) - r->restored - r->changed;
	}
	free(loaded);
	free(gq.q);
	free(gq.n);
	return rc;
}

int dd_pipeline_shard_load(struct dd_pipeline *p, const char *topic, int32_t partition,
                           const json_t *doc, struct dd_load_report *r, char *why, size_t whysz)
{
	*r = (struct dd_load_report){0};
	if (!topic != !p->opts.partitioned) {
		snprintf(why, whysz, "%s",
		         topic ? "this pipeline is not partitioned"
		               : "a partitioned pipeline has no unpartitioned state");
		return -EINVAL;
	}
	/* Into a fresh shard: the pipeline changes only if the whole document loads. */
	struct shard *sh;
	int rc = shard_new(p, topic, partition, &sh);
	if (rc < 0)
		return rc;
	if (doc)
		rc = shard_load(p, sh, doc, r, why, whysz);
	else
		r->fresh = p->n_mons;
	if (rc == 0)
		rc = shard_put(p, sh);
	if (rc < 0) {
		shard_free(p, sh);
		*r = (struct dd_load_report){0};
	}
	return rc;
}

int dd_pipeline_load(struct dd_pipeline *p, const json_t *doc, struct dd_load_report *r, char *why,
                     size_t whysz)
{
	return dd_pipeline_shard_load(p, NULL, -1, doc, r, why, whysz);
}

void dd_pipeline_shard_drop(struct dd_pipeline *p, const char *topic, int32_t partition)
{
	for (size_t k = 0; k < p->n_shards; k++) {
		struct shard *sh = p->shards[k];
		if (!shard_is(sh, topic, partition))
			continue;
		/* Its open episodes go with it: the partition's next owner carries them on. */
		shard_leave(p, k);
		memmove(&p->shards[k], &p->shards[k + 1],
		        (p->n_shards - k - 1) * sizeof(*p->shards));
		p->n_shards--;
		return;
	}
}

void dd_pipeline_self_alert(struct dd_pipeline *p, const struct dd_self_alert *sa)
{
	struct dd_self_alert copy = *sa;
	if (!copy.hostname)
		copy.hostname = p->hostname;
	json_t *a = dd_self_alert_json(&copy);
	if (a)
		deliver(p, a);
}

int dd_pipeline_flush(struct dd_pipeline *p)
{
	int ret = 0;
	if (p->n_retry)
		retry_now(p);
	if (p->n_retry && p->opts.log)
		fprintf(
		    p->opts.log,
		    "driftd: %zu alerts still refused by their sinks; they are raised again when "
		    "the records are read again (their offsets are not committed)\n",
		    p->n_retry);
	for (size_t s = 0; s < p->n_sinks; s++)
		if (p->sinks[s].ops->flush) {
			int rc = p->sinks[s].ops->flush(p->sinks[s].state);
			if (rc < 0 && ret == 0)
				ret = rc;
		}
	if (p->opts.trace && fflush(p->opts.trace) != 0 && ret == 0)
		ret = -errno;
	return ret;
}

void dd_pipeline_stats(const struct dd_pipeline *p, struct dd_pipeline_stats *out)
{
	*out = p->st;
	/* Derived from the alert states rather than kept in step with them. */
	for (size_t i = 0; i < p->n_mons; i++) {
		bool firing = false;
		for (size_t k = 0; k < p->n_shards; k++) {
			out->suppressed += p->shards[k]->alerts[i].suppressed;
			firing |= p->shards[k]->alerts[i].firing;
		}
		out->firing += firing;
	}
	out->shards = p->n_shards;
}

bool dd_pipeline_monitor_stats(const struct dd_pipeline *p, size_t i,
                               struct dd_pipeline_monitor_stats *out)
{
	if (i >= p->n_mons)
		return false;
	const struct dd_monitor_conf *mc = &p->conf->monitors[i];
	/* What this pipeline counted: the partitions it holds, plus the base. */
	struct counts c = p->base[i];
	*out = (struct dd_pipeline_monitor_stats){
	    .name = mc->name, .detector = mc->detector->name, .last = p->last[i]};
	for (size_t k = 0; k < p->n_shards; k++) {
		const struct dd_monitor *m = &p->shards[k]->mons[i];
		count(&c, m, 1);
		out->firing |= p->shards[k]->alerts[i].firing;
		out->learning += m->phase == DD_MON_REFERENCE;
	}
	out->matched = c.matched;
	out->used = c.used;
	out->verdicts = c.verdicts;
	out->drifts = c.drifts;
	memcpy(out->skipped, c.skipped, sizeof(out->skipped));
	return true;
}

int dd_pipeline_merged(const struct dd_pipeline *p, size_t i, struct driftd_verdict *out,
                       size_t *parts)
{
	*parts = 0;
	if (i >= p->n_mons || p->n_shards == 0)
		return -ENOENT;
	const struct dd_monitor_conf *mc = &p->conf->monitors[i];
	const struct driftd_detector_ops *ops = mc->detector;
	if (!(ops->caps & DRIFTD_CAP_MERGE) || !ops->merge)
		return -EOPNOTSUPP;
	/* References learnt per partition differ: a merge over them would compare each
	 * partition's window with someone else's reference (and with one partition active it
	 * would be that partition's verdict, not a merged one). */
	if (!mc->reference_file)
		return -EINVAL;
	/* A scratch instance, the identity of merge, takes every partition's state in turn;
	 * the shards are only read. The verdict is the detector's own (no calibration, no
	 * cumulative sum: those are per partition). */
	struct dd_instance *acc = NULL;
	int rc = dd_instance_new(ops, mc->params, &p->shards[0]->mons[i].inst->ctx.shape, &acc);
	for (size_t k = 0; rc == 0 && k < p->n_shards; k++) {
		const struct dd_monitor *m = &p->shards[k]->mons[i];
		if (m->phase == DD_MON_REFERENCE)
			continue; /* still learning: nothing to add yet */
		rc = ops->merge(&acc->ctx, &m->inst->ctx);
		*parts += rc == 0;
	}
	if (rc == 0)
		rc = *parts ? ops->evaluate(&acc->ctx, out) : -EAGAIN;
	dd_instance_free(acc);
	return rc;
}

bool dd_pipeline_sink_at(const struct dd_pipeline *p, size_t i, const struct driftd_sink_ops **ops,
                         const char **name, void **state)
{
	if (i >= p->n_sinks || !p->sinks[i].open)
		return false;
	*ops = p->sinks[i].ops;
	*name = p->conf->sinks[i].name;
	*state = p->sinks[i].state;
	return true;
}

void dd_pipeline_summary(const struct dd_pipeline *p, FILE *out)
{
	struct dd_pipeline_stats stats;
	dd_pipeline_stats(p, &stats);
	const struct dd_pipeline_stats *st = &stats;
	uint64_t rejected = st->records - st->accepted;
	fprintf(out, "driftd: %" PRIu64 " records, %" PRIu64 " accepted, %" PRIu64 " rejected",
	        st->records, st->accepted, rejected);
	for (int r = 1; r < DD_REJECT__MAX; r++)
		if (st->rejects[r])
			fprintf(out, " %s=%" PRIu64, dd_reject_name((enum dd_reject)r),
			        st->rejects[r]);
	fprintf(out, "; alerts: %" PRIu64 " firing, %" PRIu64 " resolved", st->fired, st->resolved);
	if (st->suppressed)
		fprintf(out, ", %" PRIu64 " suppressed", st->suppressed);
	if (st->detector_errors || st->sink_errors)
		fprintf(out, "; errors: detector=%" PRIu64 " sink=%" PRIu64, st->detector_errors,
		        st->sink_errors);
	fputc('\n', out);
	for (size_t i = 0; i < p->n_mons; i++) {
		const struct dd_monitor_conf *mc = &p->conf->monitors[i];
		struct dd_pipeline_monitor_stats ms;
		dd_pipeline_monitor_stats(p, i, &ms);
		uint64_t ref_n = 0;
		for (size_t k = 0; k < p->n_shards; k++)
			if (p->shards[k]->mons[i].phase == DD_MON_REFERENCE)
				ref_n = p->shards[k]->mons[i].ref_n;
		fprintf(out,
		        "driftd:   %-24s %-13s matched=%" PRIu64 " used=%" PRIu64
		        " verdicts=%" PRIu64 " drift=%" PRIu64 "%s",
		        mc->name, mc->detector->name, ms.matched, ms.used, ms.verdicts, ms.drifts,
		        ms.firing ? " FIRING" : "");
		for (int s = 0; s < DD_SKIP__MAX; s++)
			if (ms.skipped[s])
				fprintf(out, " %s=%" PRIu64, dd_skip_name((enum dd_skip)s),
				        ms.skipped[s]);
		if (ms.learning && p->n_shards == 1)
			fprintf(out, " (reference incomplete: %" PRIu64 "/%zu)", ref_n,
			        mc->reference_size);
		else if (ms.learning)
			fprintf(out, " (reference incomplete in %zu of %zu partitions)",
			        ms.learning, p->n_shards);
		fputc('\n', out);
	}
}
