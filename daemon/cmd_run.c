/* `driftd run`: service mode. The Kafka source lands with issue #3; until then this validates
 * the configuration and says plainly that service mode is not available in this build. */
#include <getopt.h>

#include "cli.h"
#include "config.h"

int dd_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *config = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			puts("Usage: driftd [run] -c FILE\n\nService mode: consume inference logs "
			     "from "
			     "Kafka and raise alerts.");
			return DD_EXIT_OK;
		default:
			return DD_EXIT_USAGE;
		}
	}
	if (!config) {
		fprintf(stderr, "Usage: driftd [run] -c FILE\n");
		return DD_EXIT_USAGE;
	}
	struct dd_config *conf = NULL;
	if (dd_config_load(config, 0, stderr, &conf) < 0)
		return DD_EXIT_FAIL;
	dd_config_free(conf);
	fprintf(stderr, "driftd run: the Kafka source is not part of this build yet; use "
	                "`driftd replay` on exported logs\n");
	return DD_EXIT_FAIL;
}
