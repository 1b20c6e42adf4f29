/* Subcommands of the driftd binary; each returns the process exit status. */
#ifndef DRIFTD_CLI_H
#define DRIFTD_CLI_H

#include <stdio.h>

/* Exit statuses shared by every subcommand. */
enum {
	DD_EXIT_OK = 0,
	DD_EXIT_FAIL = 1,  /* bad config, unreadable input, runtime failure */
	DD_EXIT_USAGE = 2, /* bad command line */
};

int dd_cmd_replay(int argc, char **argv);
int dd_cmd_check(int argc, char **argv);
int dd_cmd_detectors(int argc, char **argv);
int dd_cmd_demo(int argc, char **argv);
int dd_cmd_run(int argc, char **argv);
int dd_cmd_baseline(int argc, char **argv);
int dd_cmd_purge(int argc, char **argv);
int dd_cmd_report(int argc, char **argv);
int dd_cmd_state(int argc, char **argv);

struct dd_config;
struct dd_kafka_opts;
struct dd_pipeline_opts;
/* Service mode over a loaded config (run, demo), which it takes over (SIGHUP reloads replace
 * it) and frees: returns an exit status. */
int dd_serve(struct dd_config *conf, const struct dd_kafka_opts *ko,
             const struct dd_pipeline_opts *po);

/* The demo's synthetic traffic, also used by the end-to-end tests and the benchmark. */
struct dd_synth_opts {
	unsigned long long n;     /* events */
	unsigned long long shift; /* index where the poisoning episode starts (>= n: none) */
	unsigned long long seed;
};
int dd_synth_write(const struct dd_synth_opts *o, FILE *out);

#endif
