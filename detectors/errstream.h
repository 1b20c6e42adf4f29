/* Input of the error-stream detectors (ddm, eddm, hddm_a, hddm_w): one 0/1 error indicator per
 * value (1 = the model's prediction was wrong), as a NUMBER that is exactly 0 or 1 or as a BOOL.
 * Header-only so that the check inlines into each update. */
#ifndef DRIFTD_ERRSTREAM_H
#define DRIFTD_ERRSTREAM_H

#include <errno.h>

#include <driftd/detector.h>

#define DD_ERRSTREAM_ACCEPTS                                                                       \
	(DRIFTD_ACCEPTS(DRIFTD_VALUE_NUMBER) | DRIFTD_ACCEPTS(DRIFTD_VALUE_BOOL))

/* 0.0 or 1.0 in *bit, or -EDOM for any other type or value (NaN included). -0.0 counts as 0. */
static inline int dd_errstream_bit(const struct driftd_value *v, double *bit)
{
	if (v->type != DRIFTD_VALUE_NUMBER && v->type != DRIFTD_VALUE_BOOL)
		return -EDOM;
	if (v->num == 1.0)
		*bit = 1.0;
	else if (v->num == 0.0)
		*bit = 0.0;
	else
		return -EDOM;
	return 0;
}

/* Snapshots store River's two flags in one word: bit 0 drift, bit 1 warning. */
#define DD_ERRSTREAM_DRIFT   UINT64_C(1)
#define DD_ERRSTREAM_WARNING UINT64_C(2)

#endif
