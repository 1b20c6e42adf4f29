/* driftd alert sink interface. A sink turns an alert (the JSON object of the alert contract)
 * into bytes with `format` and hands bytes on with `deliver`; the two are separate so formats
 * are tested offline. The host owns the `state_size` bytes of state, as for detectors. */
#ifndef DRIFTD_SINK_H
#define DRIFTD_SINK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <driftd/detector.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DRIFTD_SINK_ABI 1

struct driftd_sink_ops {
	uint32_t abi_version;
	uint32_t struct_size;
	const char *name;
	size_t state_size;
	/* `conf` is the sink's mapping from the config (validated by the host). */
	int (*open)(void *state, const json_t *conf);
	/* Alert -> bytes appended to out. Pure: no I/O. */
	int (*format)(const void *state, const json_t *alert, struct driftd_buf *out);
	/* Hand the bytes on. Returns 0, or a negative errno (-EAGAIN: retry later). */
	int (*deliver)(void *state, const uint8_t *data, size_t len);
	int (*flush)(void *state);
	/* Idempotent and safe on half-opened state. */
	void (*close)(void *state);
};

#ifdef __cplusplus
}
#endif
#endif
