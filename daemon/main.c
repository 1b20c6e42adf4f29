/* driftd entry point: dispatch to subcommands. `driftd -c FILE` with no subcommand is service
 * mode (`run`), as the systemd unit calls it. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "version.h"

static void usage(FILE *out)
{
	fputs(
	    "Usage: driftd [COMMAND] [OPTIONS]\n"
	    "\n"
	    "Monitor ML inference logs for drift, poisoning and abuse.\n"
	    "\n"
	    "Commands:\n"
	    "  run -c FILE                   service mode: consume Kafka, raise alerts\n"
	    "  replay -c FILE [INPUT...|-]   run the pipeline over JSONL files (alerts on stdout)\n"
	    "  check -c FILE                 validate a configuration\n"
	    "  report -c FILE INPUT...       coverage and evidence summary per model (audits)\n"
	    "  detectors [--json|--markdown] list detectors and their parameters\n"
	    "  demo                          synthetic model traffic with a poisoning episode\n"
	    "  state list|export|restore|import -c FILE   the service's state snapshots\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help      show help (also after a command: driftd replay --help)\n"
	    "  -V, --version   show the version\n",
	    out);
}

int main(int argc, char **argv)
{
	/* A receiver that goes away (syslog over TCP/TLS, webhooks) must be an error on the
	 * socket, not a signal that kills the daemon. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return DD_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("driftd %s\n", DRIFTD_VERSION);
		return DD_EXIT_OK;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return DD_EXIT_OK;
	}
	if (strcmp(cmd, "replay") == 0)
		return dd_cmd_replay(argc - 1, argv + 1);
	if (strcmp(cmd, "report") == 0)
		return dd_cmd_report(argc - 1, argv + 1);
	if (strcmp(cmd, "check") == 0)
		return dd_cmd_check(argc - 1, argv + 1);
	if (strcmp(cmd, "detectors") == 0)
		return dd_cmd_detectors(argc - 1, argv + 1);
	if (strcmp(cmd, "demo") == 0)
		return dd_cmd_demo(argc - 1, argv + 1);
	if (strcmp(cmd, "state") == 0)
		return dd_cmd_state(argc - 1, argv + 1);
	if (strcmp(cmd, "purge") == 0)
		return dd_cmd_purge(argc - 1, argv + 1);
	if (strcmp(cmd, "baseline") == 0)
		return dd_cmd_baseline(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return dd_cmd_run(argc - 1, argv + 1);
	if (cmd[0] == '-')
		return dd_cmd_run(argc, argv); /* driftd -c FILE */
	fprintf(stderr, "driftd: unknown command '%s'\n", cmd);
	usage(stderr);
	return DD_EXIT_USAGE;
}
