/* Detector host: parameter tables applied to config blocks, and detector instances (config +
 * state + the ops that drive them). Used by monitors, by `driftd detectors` and by tests. */
#ifndef DRIFTD_HOST_H
#define DRIFTD_HOST_H

#include <stdbool.h>

#include <driftd/detector.h>

/* Fill a config block (ops->config_size bytes) with the table's defaults. */
void dd_params_defaults(const struct driftd_detector_ops *ops, void *config);
const struct driftd_param *dd_param_find(const struct driftd_detector_ops *ops, const char *name);
/* Set one parameter from a number (DOUBLE, INT, BOOL as 0/1). -ENOENT unknown name, -EINVAL
 * wrong type (non-integer for INT, ENUM), -ERANGE outside the bounds. */
int dd_param_set_number(const struct driftd_detector_ops *ops, void *config, const char *name,
                        double v);
/* Set an ENUM parameter by choice name: -ENOENT, -EINVAL (not an enum or unknown choice). */
int dd_param_set_choice(const struct driftd_detector_ops *ops, void *config, const char *name,
                        const char *choice);
/* Read a parameter back as a number (ENUM gives the index; NAN for text and lists). */
double dd_param_get(const struct driftd_param *p, const void *config);
/* STRING and POINTER parameters: stores the pointer, which the caller keeps alive as long as
 * the config block (config.c owns it per monitor). -ENOENT, -EINVAL (another type). */
int dd_param_set_string(const struct driftd_detector_ops *ops, void *config, const char *name,
                        const char *s);
const char *dd_param_get_string(const struct driftd_param *p, const void *config);
/* LIST parameters: stores the list (items owned by the caller, as above). -EINVAL when the
 * type or the number of columns does not match. */
int dd_param_set_list(const struct driftd_detector_ops *ops, void *config, const char *name,
                      const struct driftd_list *l);
/* Columns of a LIST parameter (1 for a plain list of strings). */
size_t dd_param_list_cols(const struct driftd_param *p);

struct dd_instance {
	const struct driftd_detector_ops *ops;
	struct driftd_ctx ctx;
};

/* Allocate an instance with a copy of `config` (NULL: the defaults) and init it. */
int dd_instance_new(const struct driftd_detector_ops *ops, const void *config,
                    const struct driftd_shape *shape, struct dd_instance **ret);
void dd_instance_free(struct dd_instance *in);

/* Convenience wrappers used by tests and the monitor. */
int dd_instance_update_number(struct dd_instance *in, double x);
int dd_instance_reference_number(struct dd_instance *in, double x);
/* update_event when the detector has one, else update with ev->value. */
int dd_instance_update_event(struct dd_instance *in, const struct driftd_event *ev);

#endif
