/* `driftd demo`: an embedded configuration and synthetic traffic for a fraud-scoring model
 * with a poisoning episode partway through, run through the normal replay pipeline. Alerts go
 * to stdout as in replay; the story and a summary go to stderr. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "pipeline.h"

static const char demo_config[] = "# driftd demo configuration (embedded)\n"
                                  "monitors:\n"
                                  "  - name: amount-ks\n"
                                  "    match: {model: fraud-scorer}\n"
                                  "    field: /input/amount\n"
                                  "    detector: ks\n"
                                  "    params: {alpha: 0.001}\n"
                                  "    reference: {size: 2000}\n"
                                  "    window: {size: 500}\n"
                                  "    for: 2\n"
                                  "    resolve_after: 2\n"
                                  "    severity: critical\n"
                                  "  - name: amount-psi\n"
                                  "    field: /input/amount\n"
                                  "    detector: psi\n"
                                  "    params: {threshold: 0.25, bins: 10}\n"
                                  "    reference: {size: 2000}\n"
                                  "    window: {size: 500}\n"
                                  "  - name: age-ks\n"
                                  "    field: /input/age\n"
                                  "    detector: ks\n"
                                  "    params: {alpha: 0.001}\n"
                                  "    reference: {size: 2000}\n"
                                  "    window: {size: 500}\n"
                                  "  - name: tpd-psi\n"
                                  "    field: /input/txn_per_day\n"
                                  "    detector: psi\n"
                                  "    params: {threshold: 0.25}\n"
                                  "    reference: {size: 2000}\n"
                                  "    window: {size: 500}\n"
                                  "  - name: score-page-hinkley\n"
                                  "    field: /output/score\n"
                                  "    detector: page_hinkley\n"
                                  "    params: {threshold: 25, min_instances: 500}\n"
                                  "    resolve_after: 2000\n"
                                  "    severity: error\n";

int dd_cmd_demo(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		puts(
		    "Usage: driftd demo [--print-config]\n\n"
		    "Synthetic traffic for a fraud-scoring model (20000 events, one every 100 ms) "
		    "with\n"
		    "a poisoning episode from event 12000 to 16000: transaction amounts are "
		    "inflated\n"
		    "and scores rise. Alerts appear on stdout as JSON lines; a summary on stderr.");
		return DD_EXIT_OK;
	}
	if (argc > 1 && strcmp(argv[1], "--print-config") == 0) {
		fputs(demo_config, stdout);
		return DD_EXIT_OK;
	}
	if (argc > 1) {
		fprintf(stderr, "Usage: driftd demo [--print-config]\n");
		return DD_EXIT_USAGE;
	}
	struct dd_config *conf = NULL;
	if (dd_config_parse("<demo>", demo_config, sizeof(demo_config) - 1, 0, stderr, &conf) < 0)
		return DD_EXIT_FAIL;

	char *traffic = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&traffic, &len);
	struct dd_synth_opts so = {.n = 20000, .shift = 12000, .seed = 42};
	if (!mem || dd_synth_write(&so, mem) < 0 || fclose(mem) != 0) {
		fprintf(stderr, "driftd demo: cannot generate traffic\n");
		dd_config_free(conf);
		return DD_EXIT_FAIL;
	}
	fprintf(stderr,
	        "driftd demo: model fraud-scorer, %llu events; poisoning episode at events "
	        "12000-15999 (amount x1.9, scores rise)\n"
	        "driftd demo: %zu monitors; alerts follow on stdout\n",
	        so.n, conf->n_monitors);

	setvbuf(stdout, NULL, _IOLBF, 0);
	struct dd_pipeline *p = NULL;
	struct dd_pipeline_opts po = {.log = stderr, .announce = true};
	int status = DD_EXIT_FAIL;
	if (dd_pipeline_new(conf, &po, &p) == 0) {
		struct dd_origin at = {.input = "<demo>"};
		char *line = traffic;
		while (line < traffic + len) {
			char *nl = memchr(line, '\n', (size_t)(traffic + len - line));
			size_t l = nl ? (size_t)(nl - line) : (size_t)(traffic + len - line);
			at.line++;
			if (dd_pipeline_feed(p, line, l, &at) < 0)
				break;
			at.index++;
			line += l + 1;
		}
		dd_pipeline_flush(p);
		dd_pipeline_summary(p, stderr);
		status = DD_EXIT_OK;
	}
	dd_pipeline_free(p);
	free(traffic);
	dd_config_free(conf);
	return status;
}
