/* `driftd baseline`: pin the reference of every monitor that takes one, from input logs, into a
 * baseline file that monitors load with `reference: {file: PATH}`. */
#include <getopt.h>
#include <string.h>

#include "baseline.h"
#include "cli.h"
#include "config.h"

int dd_cmd_baseline(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *config = NULL, *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			puts("Usage: driftd baseline -c FILE -o OUT INPUT...\n"
			     "\n"
			     "Collect the first reference.size usable values of every monitor that "
			     "takes a\n"
			     "reference from the JSONL INPUT files (in order) and write them to "
			     "OUT, with the\n"
			     "SHA-256 of each input. Monitors load it with `reference: {file: "
			     "OUT}`; alerts\n"
			     "then carry its SHA-256 as reference.sha256. Prints `SHA256  OUT` "
			     "(sha256sum\n"
			     "format) on stdout. A baseline is never updated automatically: "
			     "rebuilding it\n"
			     "is an explicit operator action.");
			return DD_EXIT_OK;
		default:
			return DD_EXIT_USAGE;
		}
	}
	if (!config || !out || optind >= argc) {
		fprintf(stderr, "Usage: driftd baseline -c FILE -o OUT INPUT...\n");
		return DD_EXIT_USAGE;
	}
	struct dd_config *conf = NULL;
	if (dd_config_load(config, DD_CONFIG_SKIP_BASELINES, stderr, &conf) < 0)
		return DD_EXIT_FAIL;
	for (size_t i = 0; i < conf->n_monitors; i++)
		if (driftd_kind_uses_reference(conf->monitors[i].detector->kind) &&
		    conf->monitors[i].reference_size == 0) {
			fprintf(stderr,
			        "driftd baseline: monitor %s: reference.size is needed to build a "
			        "baseline\n",
			        conf->monitors[i].name);
			dd_config_free(conf);
			return DD_EXIT_FAIL;
		}
	int rc = dd_baseline_build(conf, argv + optind, argc - optind, out, stderr);
	dd_config_free(conf);
	return rc == 0 ? DD_EXIT_OK : DD_EXIT_FAIL;
}
