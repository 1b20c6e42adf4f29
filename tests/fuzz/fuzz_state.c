/* Fuzz target: a state document (what `driftd state import` reads and a snapshot holds) loaded
 * into a pipeline of several monitors: detectors with binary state, calibration, a cumulative
 * sum, sliding windows and a sliding reference. Whatever the bytes, load either refuses them
 * or leaves a pipeline that keeps working; the corpus (gen_state_corpus.py) holds real
 * documents of this configuration saved by `driftd replay --save-state`, alone (a partition's
 * state) and as whole state documents with partitions and a seed. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pipeline.h"
#include "state_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keep in step with gen_state_corpus.py. */
static const char config[] =
    "monitors:\n"
    "  - {name: ks, field: /input/x, detector: ks, params: {calibrate: 3},"
    " reference: {size: 60}, window: {size: 20}}\n"
    "  - {name: cum, field: /input/x, detector: wasserstein, cumulative: {k: 0.5, h: 4},"
    " reference: {size: 60}, window: {size: 20}}\n"
    "  - {name: slide, field: /input/x, detector: psi, reference: {size: 50, sliding: true},"
    " window: {size: 20}}\n"
    "  - {name: sw, field: /input/x, detector: ks, reference: {size: 40},"
    " window: {size: 20, step: 5}}\n"
    "  - {name: ph, field: /input/x, detector: page_hinkley}\n"
    "  - {name: ad, field: /input/x, detector: adwin}\n"
    "  - {name: cat, field: /input/c, detector: chi2, reference: {size: 40},"
    " window: {size: 20}}\n"
    "  - {name: emb, field: /input/v, detector: mmd, reference: {size: 30},"
    " window: {size: 10}}\n"
    "alerts: {sinks: []}\n";

static struct dd_config *conf;
static struct dd_pipeline *pipe_;

static void cleanup(void)
{
	dd_pipeline_free(pipe_);
	dd_config_free(conf);
}

/* A whole state document (what a snapshot generation holds): parsed, loaded into a
 * partitioned pipeline, each partition fed and the document saved again. */
static void whole_document(const json_t *doc)
{
	static const char rec[] =
	    "{\"model\":{\"id\":\"m\"},\"input\":{\"x\":0.5,\"c\":\"a\",\"v\":[1,2]}}";
	struct dd_pipeline *p = NULL;
	struct dd_pipeline_opts o = {.defer_sinks = true, .partitioned = true};
	if (dd_pipeline_new(conf, &o, &p) < 0)
		abort();
	struct dd_positions pos = {0};
	struct dd_restore_report r = {0};
	char why[512];
	int rc = dd_state_parse(doc, &pos, why, sizeof(why));
	if (rc == 0)
		rc = dd_state_load(p, &pos, &r, why, sizeof(why));
	if (getenv("FUZZ_STATE_VERBOSE"))
		fprintf(stderr, "document: %d partitions=%zu %s\n", rc, r.partitions,
		        rc ? why : "");
	if (rc == 0) {
		for (size_t k = 0; k < pos.n && k < 8; k++) {
			struct dd_load_report lr;
			int tr = dd_state_take(p, &pos, &pos.p[k], NULL, &lr, why, sizeof(why));
			if (tr < 0 && tr != -EBADMSG && tr != -ENOMEM)
				abort();
			for (int i = 0; i < 5; i++) {
				struct dd_origin at = {.kafka = true,
				                       .topic = pos.p[k].topic,
				                       .partition = pos.p[k].partition,
				                       .offset = i};
				if (dd_pipeline_feed(p, rec, sizeof(rec) - 1, &at) < 0)
					abort();
			}
		}
		json_t *again = dd_state_document(p, &pos);
		if (!again)
			abort();
		json_decref(again);
	} else if (rc != -EBADMSG && rc != -ENOMEM) {
		abort();
	}
	dd_positions_free(&pos);
	dd_pipeline_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!pipe_) {
		struct dd_pipeline_opts o = {.defer_sinks = true};
		if (dd_config_parse("<fuzz>", config, sizeof(config) - 1, 0, NULL, &conf) < 0 ||
		    dd_pipeline_new(conf, &o, &pipe_) < 0)
			abort();
		atexit(cleanup);
	}
	json_error_t e;
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);
	if (!doc)
		return 0;
	if (json_integer_value(json_object_get(doc, "format")) == DD_STATE_DOC_FORMAT) {
		whole_document(doc);
		json_decref(doc);
		return 0;
	}
	struct dd_load_report r;
	char why[512];
	int rc = dd_pipeline_load(pipe_, doc, &r, why, sizeof(why));
	json_decref(doc);
	/* To see what a corpus exercises: FUZZ_STATE_VERBOSE=1 fuzz_state_replay DIR */
	if (getenv("FUZZ_STATE_VERBOSE"))
		fprintf(stderr, "load: %d restored=%zu changed=%zu %s\n", rc, r.restored, r.changed,
		        rc ? why : "");
	if (rc == 0) {
		/* A loaded state must keep working and save again. */
		static const char *const recs[] = {
		    "{\"model\":{\"id\":\"m\"},\"input\":{\"x\":1.5,\"c\":\"a\",\"v\":[1,2]}}",
		    "{\"model\":{\"id\":\"m\"},\"input\":{\"x\":-3,\"c\":\"zz\",\"v\":[0,1]}}",
		    "{\"model\":{\"id\":\"m\"},\"input\":{\"x\":1e300,\"c\":\"b\",\"v\":[5,5]}}",
		};
		for (int i = 0; i < 30; i++) {
			struct dd_origin at = {.input = "fuzz", .index = (uint64_t)i};
			const char *rec = recs[i % 3];
			if (dd_pipeline_feed(pipe_, rec, strlen(rec), &at) < 0)
				abort();
		}
		json_t *again;
		if (dd_pipeline_save(pipe_, &again) < 0)
			abort();
		json_decref(again);
	} else if (rc != -EBADMSG && rc != -ENOMEM) {
		abort();
	}
	return 0;
}
