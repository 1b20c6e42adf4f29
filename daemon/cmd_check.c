/* `driftd check`: validate a configuration; every problem as FILE:LINE:COL: message. */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "config.h"

int dd_cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *config = NULL;
	bool quiet = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			puts("Usage: driftd check -c FILE [-q]\n"
			     "\n"
			     "Validate FILE completely (schema, detector parameters, JSON "
			     "pointers).\n"
			     "Problems are printed as FILE:LINE:COL: message. Exit 0 when valid, 1 "
			     "when\n"
			     "not, 2 on a bad command line.");
			return DD_EXIT_OK;
		default:
			return DD_EXIT_USAGE;
		}
	}
	if (!config || optind != argc) {
		fprintf(stderr, "Usage: driftd check -c FILE\n");
		return DD_EXIT_USAGE;
	}
	struct dd_config *conf = NULL;
	if (dd_config_load(config, 0, stderr, &conf) < 0)
		return DD_EXIT_FAIL;
	if (!quiet)
		printf("%s: ok (%zu monitor%s)\n", config, conf->n_monitors,
		       conf->n_monitors == 1 ? "" : "s");
	dd_config_free(conf);
	return DD_EXIT_OK;
}
