/* driftd values as detectors see them: one field of one event, already extracted and typed by
 * the host. Strings and vectors point into the decoder's buffers and are valid only for the
 * duration of the callback that receives them: copy what you keep. */
#ifndef DRIFTD_EVENT_H
#define DRIFTD_EVENT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum driftd_value_type {
	DRIFTD_VALUE_NONE = 0,   /* missing */
	DRIFTD_VALUE_NUMBER = 1, /* finite double (the host rejects NaN/Inf before detectors) */
	DRIFTD_VALUE_STRING = 2, /* UTF-8, not NUL-terminated */
	DRIFTD_VALUE_BOOL = 3,
	DRIFTD_VALUE_VECTOR = 4, /* array of numbers (embeddings) */
	DRIFTD_VALUE_OTHER = 5,  /* object, null or mixed array: no detector takes it */
};

#define DRIFTD_ACCEPTS(t) (1u << (t))

struct driftd_value {
	enum driftd_value_type type;
	double num; /* NUMBER, and BOOL as 0/1 */
	const char *str;
	size_t len;
	const double *vec;
	size_t dim;
};

#ifdef __cplusplus
}
#endif
#endif
