/* Fuzz target: the configuration loader (libyaml -> jansson tree -> schema validation) on
 * arbitrary bytes. Diagnostics go to a memory stream so their formatting is exercised too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *diag = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&diag, &len);
	struct dd_config *c = NULL;
	if (dd_config_parse("fuzz.yaml", (const char *)data, size, DD_CONFIG_SKIP_BASELINES, f,
	                    &c) == 0)
		dd_config_free(c);
	if (f)
		fclose(f);
	free(diag);
	return 0;
}
