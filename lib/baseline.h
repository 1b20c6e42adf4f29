/* Baseline files: a pinned reference per monitor, built by `driftd baseline` from input logs
 * and loaded by monitors whose `reference` names a `file`. A baseline holds the reference
 * values themselves (not detector state), so detector parameters and window sizes can be
 * tuned without rebuilding it; it records the SHA-256 of every input, and its own SHA-256 is
 * carried on alerts as `reference.sha256`. A baseline is never updated automatically. */
#ifndef DRIFTD_BASELINE_H
#define DRIFTD_BASELINE_H

#include <stdio.h>

#include <jansson.h>

struct dd_baseline;
struct dd_config;

/* Read and validate a baseline file. On error returns a negative errno and a message in err. */
int dd_baseline_read(const char *path, struct dd_baseline **ret, char *err, size_t errsz);
void dd_baseline_free(struct dd_baseline *b);
/* The reference values recorded for a monitor (a JSON array, borrowed), and the field they
 * were read from; NULL when the baseline has no entry for it. */
const json_t *dd_baseline_values(const struct dd_baseline *b, const char *monitor,
                                 const char **field);
/* Hex SHA-256 of the file as read. */
const char *dd_baseline_sha256(const struct dd_baseline *b);

/* `driftd baseline`: collect the first `reference.size` usable values of every monitor with a
 * reference from INPUT files, write OUT atomically and print its SHA-256. Returns an exit
 * status. */
int dd_baseline_build(const struct dd_config *c, char *const *inputs, int n_inputs, const char *out,
                      FILE *log);

#endif
