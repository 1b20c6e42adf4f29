/* Alert engine and alert JSON. State transitions follow Alertmanager's vocabulary (firing,
 * resolved, fingerprint) and collectd's threshold plugin (Hits = `for`, an explicit OKAY =
 * `resolved`). Ids are content-derived so a notification keeps its id across retries and
 * restarts (it is the webhook-id). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "alert.h"
#include "baseline.h"
#include "decode.h"
#include "utf8cut.h"

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void dd_alert_fingerprint(const char *monitor, const char *model, const char *field, char out[17])
{
	const char *parts[3] = {monitor, model ? model : "*", field ? field : ""};
	unsigned char buf[1024], md[SHA256_DIGEST_LENGTH];
	size_t n = 0;
	/* NUL separators keep ("ab","c") and ("a","bc") apart; overlong parts are truncated, which
	 * is harmless for names this short in practice and keeps this allocation-free. */
	for (int i = 0; i < 3; i++) {
		size_t l = strnlen(parts[i], 300);
		memcpy(buf + n, parts[i], l);
		n += l;
		buf[n++] = 0;
	}
	SHA256(buf, n, md);
	hex(md, 8, out);
}

void dd_alert_state_init(struct dd_alert_state *a, const struct dd_monitor_conf *mc)
{
	*a = (struct dd_alert_state){0};
	dd_alert_fingerprint(mc->name, mc->match_model, mc->field, a->fingerprint);
}

/* While firing (and notified), Alertmanager-style: notify again every repeat_interval. */
static enum dd_transition repeat(struct dd_alert_state *a, const struct dd_monitor_conf *mc,
                                 int64_t now_ms)
{
	if (mc->repeat_interval_ms <= 0 || a->muted ||
	    now_ms - a->notified_ms < mc->repeat_interval_ms)
		return DD_TRANSITION_NONE;
	a->notified_ms = now_ms;
	a->repeats++;
	return DD_TRANSITION_REPEAT;
}

enum dd_transition dd_alert_step(struct dd_alert_state *a, const struct dd_monitor_conf *mc,
                                 const struct driftd_verdict *v, const struct dd_origin *at,
                                 int64_t now_ms)
{
	if (v->drift) {
		a->clean = 0;
		if (a->breaches == 0 && !a->firing) {
			a->episode = *at;
			snprintf(a->episode_topic, sizeof(a->episode_topic), "%s",
			         at->topic ? at->topic : "");
			a->episode.topic = NULL;
			a->episode.input = NULL;
		}
		if (a->breaches < UINT32_MAX)
			a->breaches++;
		if (a->firing)
			return repeat(a, mc, now_ms);
		if (a->breaches < mc->for_n)
			return DD_TRANSITION_NONE;
		a->firing = true;
		a->muted = mc->cooldown_ms > 0 && a->ever_resolved &&
		           now_ms - a->resolved_ms < mc->cooldown_ms;
		if (a->muted) {
			a->suppressed++;
			return DD_TRANSITION_NONE;
		}
		a->notified_ms = now_ms;
		a->repeats = 0;
		return DD_TRANSITION_FIRING;
	}
	a->breaches = 0;
	if (!a->firing)
		return DD_TRANSITION_NONE;
	if (++a->clean < mc->resolve_after)
		return repeat(a, mc, now_ms);
	a->firing = false;
	a->clean = 0;
	a->ever_resolved = true;
	a->resolved_ms = now_ms;
	if (a->muted) {
		/* Its firing was never sent; a lone resolve would only confuse receivers. */
		a->muted = false;
		a->suppressed++;
		return DD_TRANSITION_NONE;
	}
	return DD_TRANSITION_RESOLVED;
}

/* RFC 9562 version-8 (custom) UUID from SHA-256 of a string naming the notification. */
static void uuid_of(const char *buf, size_t n, char out[37])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)buf, n, md);
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x80);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	char h[33];
	hex(md, 16, h);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

/* The id: fingerprint, episode start (first breaching record) and status. */
static void alert_id(const struct dd_alert_state *a, const char *status, char out[37])
{
	char buf[256];
	const struct dd_origin *e = &a->episode;
	int n = e->kafka
	            ? snprintf(buf, sizeof(buf), "%s|kafka|%s|%" PRId32 "|%" PRId64 "|%s",
	                       a->fingerprint, a->episode_topic, e->partition, e->offset, status)
	            : snprintf(buf, sizeof(buf), "%s|replay|%" PRIu64 "|%s", a->fingerprint,
	                       e->index, status);
	/* A repeat is a notification of its own: receivers must not drop it as a retry. */
	if (a->repeats && strcmp(status, "firing") == 0 && n > 0 && (size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "|repeat%" PRIu32, a->repeats);
	uuid_of(buf, n > 0 ? (size_t)n : 0, out);
}

json_t *dd_self_alert_json(const struct dd_self_alert *sa)
{
	char fp[17], id[37], ts[40], buf[512];
	dd_alert_fingerprint(sa->rule, sa->key, NULL, fp);
	int n = snprintf(buf, sizeof(buf), "%s|%s|%s", fp, sa->episode, sa->status);
	uuid_of(buf, n > 0 ? (size_t)n : 0, id);
	dd_format_rfc3339(sa->time_ms, ts, sizeof(ts));
	json_t *tags = json_array();
	json_array_append_new(tags, json_string("self"));
	for (size_t i = 0; sa->tags && sa->tags[i]; i++)
		json_array_append_new(tags, json_string(sa->tags[i]));
	bool firing = strcmp(sa->status, "firing") == 0;
	json_t *a = json_object();
	json_object_set_new(a, "id", json_string(id));
	json_object_set_new(a, "uuid", json_string(id));
	json_object_set_new(a, "fingerprint", json_string(fp));
	json_object_set_new(a, "status", json_string(sa->status));
	json_object_set_new(a, "time", json_string(ts));
	json_object_set_new(a, "rule", json_string(sa->rule));
	json_object_set_new(a, "detector", json_string("driftd"));
	json_object_set_new(
	    a, "priority",
	    json_string(dd_severity_name(firing ? sa->severity : DD_SEV_INFORMATIONAL)));
	json_object_set_new(a, "source", json_string("driftd"));
	json_object_set_new(a, "hostname", json_string(sa->hostname ? sa->hostname : ""));
	json_object_set_new(a, "output", json_string(sa->output));
	json_object_set_new(a, "tags", tags);
	json_object_set_new(a, "output_fields", sa->fields ? sa->fields : json_object());
	return a;
}

static json_t *number_or_null(double d)
{
	return isfinite(d) ? json_real(d) : json_null();
}

/* Detectors that declare their own tags (security detectors: threat and EN 304 223 clause)
 * replace the generic drift tags; a verdict's evidence may add more (which threat a client's
 * behaviour suggests). */
static json_t *tags_json(const struct dd_monitor_conf *mc, const struct driftd_evidence *ev)
{
	json_t *tags = json_array();
	if (mc->detector->tags) {
		/* a detector that names its threats is a security monitor, whatever its kind
		 * (confidence_shift is a two-sample test) */
		json_array_append_new(tags, json_string("security"));
		for (size_t i = 0; mc->detector->tags[i]; i++)
			json_array_append_new(tags, json_string(mc->detector->tags[i]));
		for (size_t i = 0; ev && ev->tags && ev->tags[i]; i++)
			json_array_append_new(tags, json_string(ev->tags[i]));
		for (size_t i = 0; i < mc->n_tags; i++)
			json_array_append_new(tags, json_string(mc->tags[i]));
		return tags;
	}
	json_array_append_new(tags, json_string("drift"));
	if (mc->field && strncmp(mc->field, "/input/", 7) == 0)
		json_array_append_new(tags, json_string("drift:input"));
	else if (mc->field && strncmp(mc->field, "/output/", 8) == 0)
		json_array_append_new(tags, json_string("drift:output"));
	/* The generic threat is a guess; a monitor that names its threat in `tags` (an LLM
	 * refusal-rate monitor: threat:jailbreak) replaces it. */
	bool named = false;
	for (size_t i = 0; i < mc->n_tags; i++)
		named |= strncmp(mc->tags[i], "threat:", 7) == 0;
	if (!named)
		json_array_append_new(tags, json_string("threat:data_poisoning"));
	json_array_append_new(tags, json_string("etsi:5.4.2-2"));
	if (mc->detector->kind == DRIFTD_KIND_STREAMING)
		json_array_append_new(tags, json_string("etsi:5.4.2-4"));
	for (size_t i = 0; i < mc->n_tags; i++)
		json_array_append_new(tags, json_string(mc->tags[i]));
	return tags;
}

static void sentence_(const struct dd_alert_info *in, char *buf, size_t size);

/* The alert's sentence, cut at a character when it is longer than the buffer. */
static void sentence(const struct dd_alert_info *in, char *buf, size_t size)
{
	sentence_(in, buf, size);
	dd_utf8_cut(buf);
}

static void sentence_(const struct dd_alert_info *in, char *buf, size_t size)
{
	const struct dd_monitor_conf *mc = in->monitor;
	const struct driftd_verdict *v = in->verdict;
	const char *model = in->model_id ? in->model_id : "any model";
	char where[96];
	if (in->at->kafka)
		snprintf(where, sizeof(where), "%s[%" PRId32 "]@%" PRId64,
		         in->at->topic ? in->at->topic : "?", in->at->partition, in->at->offset);
	else
		snprintf(where, sizeof(where), "event %" PRIu64, in->at->index);
	char pv[48] = "";
	if (!isnan(v->p_value))
		snprintf(pv, sizeof(pv), ", p=%.4g", v->p_value);
	if (mc->detector->kind == DRIFTD_KIND_SECURITY) {
		const struct driftd_evidence *ev = v->evidence;
		snprintf(buf, size, "%s on %s: %s (%s score %.4g vs threshold %.4g, at %s)",
		         in->transition == DD_TRANSITION_RESOLVED ? "Security alert resolved"
		                                                  : "Security alert",
		         model, ev && ev->what ? ev->what : mc->name, mc->detector->name, v->score,
		         v->threshold, where);
		return;
	}
	if (in->transition != DD_TRANSITION_RESOLVED)
		snprintf(buf, size, "Drift on %s of %s: %s score %.4g vs threshold %.4g%s (at %s)",
		         mc->field, model, mc->detector->name, v->score, v->threshold, pv, where);
	else
		snprintf(buf, size,
		         "Drift resolved on %s of %s: %s score %.4g vs threshold %.4g%s (at %s)",
		         mc->field, model, mc->detector->name, v->score, v->threshold, pv, where);
}

json_t *dd_alert_json(const struct dd_alert_info *in)
{
	const struct dd_monitor_conf *mc = in->monitor;
	const struct driftd_verdict *v = in->verdict;
	const char *status = in->transition == DD_TRANSITION_RESOLVED ? "resolved" : "firing";
	char id[37], ts[40], out[512];
	alert_id(in->state, status, id);
	dd_format_rfc3339(in->time_ms, ts, sizeof(ts));
	sentence(in, out, sizeof(out));

	json_t *f = json_object();
	json_object_set_new(f, "model.id", in->model_id ? json_string(in->model_id) : json_null());
	json_object_set_new(f, "field", mc->field ? json_string(mc->field) : json_null());
	json_object_set_new(f, "score", number_or_null(v->score));
	json_object_set_new(f, "threshold", number_or_null(v->threshold));
	if (mc->detector->caps & DRIFTD_CAP_P_VALUE)
		json_object_set_new(f, "p_value", number_or_null(v->p_value));
	if (in->group) {
		json_object_set_new(f, "group", json_string(in->group));
		json_object_set_new(f, "p_adjusted", number_or_null(in->p_adjusted));
	}
	if (in->at->kafka) {
		json_object_set_new(f, "kafka.topic",
		                    json_string(in->at->topic ? in->at->topic : ""));
		json_object_set_new(f, "kafka.partition", json_integer(in->at->partition));
		json_object_set_new(f, "kafka.offset", json_integer(in->at->offset));
	} else {
		json_object_set_new(f, "event.index", json_integer((json_int_t)in->at->index));
		json_object_set_new(f, "episode.start_index",
		                    json_integer((json_int_t)in->state->episode.index));
	}
	json_object_set_new(f, "alerts.suppressed", json_integer((json_int_t)in->suppressed));
	if (in->transition == DD_TRANSITION_REPEAT)
		json_object_set_new(f, "alert.repeat",
		                    json_integer((json_int_t)in->state->repeats));
	if (mc->baseline)
		json_object_set_new(f, "reference.sha256",
		                    json_string(dd_baseline_sha256(mc->baseline)));
	/* The detector's evidence (client id, seen hash, matched token, ...); it does not
	 * override the contract keys above. */
	const struct driftd_evidence *ev = v->evidence;
	for (size_t i = 0; ev && i < ev->n && i < DRIFTD_EVIDENCE_MAX; i++) {
		const struct driftd_evidence_field *e = &ev->f[i];
		if (!e->key || json_object_get(f, e->key))
			continue;
		json_t *val =
		    e->type == DRIFTD_EVIDENCE_STRING ? json_string(e->str ? e->str : "")
		    : e->type == DRIFTD_EVIDENCE_INT
		        ? (e->num >= -9.2e18 && e->num <= 9.2e18 ? json_integer((json_int_t)e->num)
		                                                 : number_or_null(e->num))
		        : number_or_null(e->num);
		json_object_set_new(f, e->key, val);
	}
	/* A canary leak is critical whatever the monitor's default severity. */
	enum dd_severity sev = mc->severity;
	if (ev && ev->critical && sev > DD_SEV_CRITICAL)
		sev = DD_SEV_CRITICAL;

	json_t *a = json_object();
	json_object_set_new(a, "id", json_string(id));
	json_object_set_new(a, "uuid", json_string(id));
	json_object_set_new(a, "fingerprint", json_string(in->state->fingerprint));
	json_object_set_new(a, "status", json_string(status));
	json_object_set_new(a, "time", json_string(ts));
	json_object_set_new(a, "rule", json_string(mc->name));
	json_object_set_new(a, "detector", json_string(mc->detector->name));
	json_object_set_new(a, "priority",
	                    json_string(in->transition == DD_TRANSITION_RESOLVED
	                                    ? dd_severity_name(DD_SEV_INFORMATIONAL)
	                                    : dd_severity_name(sev)));
	json_object_set_new(a, "source", json_string("driftd"));
	json_object_set_new(a, "hostname", json_string(in->hostname ? in->hostname : ""));
	json_object_set_new(a, "output", json_string(out));
	json_object_set_new(a, "tags", tags_json(mc, ev));
	json_object_set_new(a, "output_fields", f);
	if (mc->dry_run)
		json_object_set_new(a, "dry_run", json_true());
	return a;
}

json_t *dd_alert_state_save(const struct dd_alert_state *a)
{
	const struct dd_origin *e = &a->episode;
	return json_pack(
	    "{s:I, s:I, s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:{s:b, s:s, s:i, s:I, "
	    "s:I, s:I}}",
	    "breaches", (json_int_t)a->breaches, "clean", (json_int_t)a->clean, "firing", a->firing,
	    "muted", a->muted, "ever_resolved", a->ever_resolved, "resolved_ms",
	    (json_int_t)a->resolved_ms, "suppressed", (json_int_t)a->suppressed, "notified_ms",
	    (json_int_t)a->notified_ms, "repeats", (json_int_t)a->repeats, "episode", "kafka",
	    e->kafka, "topic", a->episode_topic, "partition", (int)e->partition, "offset",
	    (json_int_t)e->offset, "index", (json_int_t)e->index, "line", (json_int_t)e->line);
}

int dd_alert_state_load(struct dd_alert_state *a, const json_t *j, char *why, size_t whysz)
{
	json_int_t breaches, clean, repeats, partition, resolved, suppressed, notified, offset,
	    index, line;
	int firing, muted, ever, kafka;
	const char *topic;
	json_error_t err;
	if (json_unpack_ex((json_t *)j, &err, JSON_STRICT,
	                   "{s:I, s:I, s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:{s:b, s:s, s:I, s:I, "
	                   "s:I, s:I}}",
	                   "breaches", &breaches, "clean", &clean, "firing", &firing, "muted",
	                   &muted, "ever_resolved", &ever, "resolved_ms", &resolved, "suppressed",
	                   &suppressed, "notified_ms", &notified, "repeats", &repeats, "episode",
	                   "kafka", &kafka, "topic", &topic, "partition", &partition, "offset",
	                   &offset, "index", &index, "line", &line) < 0) {
		snprintf(why, whysz, "alert state: %s", err.text);
		return -EBADMSG;
	}
	if (breaches < 0 || breaches > UINT32_MAX || clean < 0 || clean > UINT32_MAX ||
	    repeats < 0 || repeats > UINT32_MAX || suppressed < 0 || partition < INT32_MIN ||
	    partition > INT32_MAX || index < 0 || line < 0 || strlen(topic) >= 256 ||
	    (muted && !firing)) {
		snprintf(why, whysz, "alert state: a value out of range");
		return -EBADMSG;
	}
	a->breaches = (unsigned)breaches;
	a->clean = (unsigned)clean;
	a->firing = firing;
	a->muted = muted;
	a->ever_resolved = ever;
	a->resolved_ms = resolved;
	a->suppressed = (uint64_t)suppressed;
	a->notified_ms = notified;
	a->repeats = (uint32_t)repeats;
	a->episode = (struct dd_origin){.kafka = kafka,
	                                .partition = (int32_t)partition,
	                                .offset = offset,
	                                .index = (uint64_t)index,
	                                .line = (uint64_t)line};
	snprintf(a->episode_topic, sizeof(a->episode_topic), "%s", topic);
	return 0;
}
