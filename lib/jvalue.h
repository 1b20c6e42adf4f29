/* driftd values <-> JSON, for references kept outside a detector: baseline files, the values
 * kept for calibration, baseline collection. */
#ifndef DRIFTD_JVALUE_H
#define DRIFTD_JVALUE_H

#include <jansson.h>

#include <driftd/event.h>

/* New reference, or NULL for types with no JSON form here (NONE, OTHER) or out of memory. */
json_t *dd_value_to_json(const struct driftd_value *v);

/* A value view of j. Vectors are copied into *vec (grown as needed, caller frees); strings
 * point into j. Returns 0, or -ENOMEM; j of no usable shape gives DRIFTD_VALUE_OTHER. */
int dd_value_from_json(const json_t *j, struct driftd_value *v, double **vec, size_t *vec_cap);

#endif
