/* Conversions between extracted values and JSON (see jvalue.h). Doubles survive the trip
 * exactly when dumped with JSON_REAL_PRECISION(17). */
#include <errno.h>
#include <stdlib.h>

#include "jvalue.h"

json_t *dd_value_to_json(const struct driftd_value *v)
{
	switch (v->type) {
	case DRIFTD_VALUE_NUMBER:
		return json_real(v->num);
	case DRIFTD_VALUE_STRING:
		return json_stringn(v->str, v->len);
	case DRIFTD_VALUE_BOOL:
		return json_boolean(v->num != 0);
	case DRIFTD_VALUE_VECTOR: {
		json_t *a = json_array();
		for (size_t k = 0; a && k < v->dim; k++)
			if (json_array_append_new(a, json_real(v->vec[k])) < 0) {
				json_decref(a);
				return NULL;
			}
		return a;
	}
	default:
		return NULL;
	}
}

int dd_value_from_json(const json_t *j, struct driftd_value *v, double **vec, size_t *vec_cap)
{
	*v = (struct driftd_value){.type = DRIFTD_VALUE_OTHER};
	if (json_is_number(j)) {
		v->type = DRIFTD_VALUE_NUMBER;
		v->num = json_number_value(j);
	} else if (json_is_string(j)) {
		v->type = DRIFTD_VALUE_STRING;
		v->str = json_string_value(j);
		v->len = json_string_length(j);
	} else if (json_is_boolean(j)) {
		v->type = DRIFTD_VALUE_BOOL;
		v->num = json_is_true(j);
	} else if (json_is_array(j)) {
		size_t n = json_array_size(j);
		if (n > *vec_cap) {
			double *nv = realloc(*vec, n * sizeof(double));
			if (!nv)
				return -ENOMEM;
			*vec = nv;
			*vec_cap = n;
		}
		for (size_t k = 0; k < n; k++) {
			const json_t *e = json_array_get(j, k);
			if (!json_is_number(e))
				return 0; /* mixed array: OTHER */
			(*vec)[k] = json_number_value(e);
		}
		v->type = DRIFTD_VALUE_VECTOR;
		v->vec = *vec;
		v->dim = n;
	}
	return 0;
}
