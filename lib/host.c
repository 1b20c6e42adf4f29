/* Detector host: the parameter table is the single source of truth for config parsing,
 * validation, `driftd detectors` and docs; instances own config and state memory so that
 * detectors never allocate their own bookkeeping. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

static void param_store(const struct driftd_param *p, void *config, double v)
{
	char *at = (char *)config + p->offset;
	switch (p->type) {
	case DRIFTD_PARAM_DOUBLE:
		memcpy(at, &v, sizeof(double));
		break;
	case DRIFTD_PARAM_INT: {
		int64_t i = (int64_t)v;
		memcpy(at, &i, sizeof(i));
		break;
	}
	case DRIFTD_PARAM_BOOL: {
		bool b = v != 0;
		memcpy(at, &b, sizeof(b));
		break;
	}
	case DRIFTD_PARAM_ENUM: {
		int e = (int)v;
		memcpy(at, &e, sizeof(e));
		break;
	}
	case DRIFTD_PARAM_STRING:
	case DRIFTD_PARAM_POINTER:
	case DRIFTD_PARAM_LIST:
		break; /* not numbers: dd_param_set_string / dd_param_set_list */
	}
}

double dd_param_get(const struct driftd_param *p, const void *config)
{
	const char *at = (const char *)config + p->offset;
	switch (p->type) {
	case DRIFTD_PARAM_DOUBLE: {
		double d;
		memcpy(&d, at, sizeof(d));
		return d;
	}
	case DRIFTD_PARAM_INT: {
		int64_t i;
		memcpy(&i, at, sizeof(i));
		return (double)i;
	}
	case DRIFTD_PARAM_BOOL: {
		bool b;
		memcpy(&b, at, sizeof(b));
		return b;
	}
	case DRIFTD_PARAM_ENUM: {
		int e;
		memcpy(&e, at, sizeof(e));
		return e;
	}
	case DRIFTD_PARAM_STRING:
	case DRIFTD_PARAM_POINTER:
	case DRIFTD_PARAM_LIST:
		break;
	}
	return (double)NAN;
}

size_t dd_param_list_cols(const struct driftd_param *p)
{
	size_t n = 0;
	while (p->choices && p->choices[n])
		n++;
	return n ? n : 1;
}

void dd_params_defaults(const struct driftd_detector_ops *ops, void *config)
{
	memset(config, 0, ops->config_size);
	for (size_t i = 0; i < ops->n_params; i++) {
		const struct driftd_param *p = &ops->params[i];
		if (p->type == DRIFTD_PARAM_STRING || p->type == DRIFTD_PARAM_POINTER) {
			memcpy((char *)config + p->offset, &p->def_str, sizeof(p->def_str));
		} else if (p->type == DRIFTD_PARAM_LIST) {
			/* an empty list of the declared width */
			struct driftd_list l = {.cols = dd_param_list_cols(p)};
			memcpy((char *)config + p->offset, &l, sizeof(l));
		} else {
			param_store(p, config, p->def);
		}
	}
}

int dd_param_set_string(const struct driftd_detector_ops *ops, void *config, const char *name,
                        const char *s)
{
	const struct driftd_param *p = dd_param_find(ops, name);
	if (!p)
		return -ENOENT;
	if (p->type != DRIFTD_PARAM_STRING && p->type != DRIFTD_PARAM_POINTER)
		return -EINVAL;
	memcpy((char *)config + p->offset, &s, sizeof(s));
	return 0;
}

int dd_param_set_list(const struct driftd_detector_ops *ops, void *config, const char *name,
                      const struct driftd_list *l)
{
	const struct driftd_param *p = dd_param_find(ops, name);
	if (!p)
		return -ENOENT;
	if (p->type != DRIFTD_PARAM_LIST || l->cols != dd_param_list_cols(p))
		return -EINVAL;
	memcpy((char *)config + p->offset, l, sizeof(*l));
	return 0;
}

const char *dd_param_get_string(const struct driftd_param *p, const void *config)
{
	const char *s = NULL;
	if (p->type == DRIFTD_PARAM_STRING || p->type == DRIFTD_PARAM_POINTER)
		memcpy(&s, (const char *)config + p->offset, sizeof(s));
	return s;
}

const struct driftd_param *dd_param_find(const struct driftd_detector_ops *ops, const char *name)
{
	for (size_t i = 0; i < ops->n_params; i++)
		if (strcmp(ops->params[i].name, name) == 0)
			return &ops->params[i];
	return NULL;
}

int dd_param_set_number(const struct driftd_detector_ops *ops, void *config, const char *name,
                        double v)
{
	const struct driftd_param *p = dd_param_find(ops, name);
	if (!p)
		return -ENOENT;
	if (p->type == DRIFTD_PARAM_ENUM || p->type >= DRIFTD_PARAM_STRING || !isfinite(v))
		return -EINVAL;
	if (p->type == DRIFTD_PARAM_INT && (v != floor(v) || fabs(v) > 9007199254740992.0))
		return -EINVAL;
	if (p->type == DRIFTD_PARAM_BOOL && v != 0 && v != 1)
		return -EINVAL;
	if (p->type != DRIFTD_PARAM_BOOL) {
		if (v < p->min || (p->min_open && v == p->min))
			return -ERANGE;
		if (v > p->max || (p->max_open && v == p->max))
			return -ERANGE;
	}
	param_store(p, config, v);
	return 0;
}

int dd_param_set_choice(const struct driftd_detector_ops *ops, void *config, const char *name,
                        const char *choice)
{
	const struct driftd_param *p = dd_param_find(ops, name);
	if (!p)
		return -ENOENT;
	if (p->type != DRIFTD_PARAM_ENUM || !p->choices)
		return -EINVAL;
	for (int i = 0; p->choices[i]; i++)
		if (strcmp(p->choices[i], choice) == 0) {
			param_store(p, config, i);
			return 0;
		}
	return -EINVAL;
}

void dd_instance_free(struct dd_instance *in)
{
	if (!in)
		return;
	if (in->ctx.state && in->ops->done)
		in->ops->done(&in->ctx);
	free(in->ctx.state);
	free((void *)in->ctx.config);
	free(in);
}

int dd_instance_new(const struct driftd_detector_ops *ops, const void *config,
                    const struct driftd_shape *shape, struct dd_instance **ret)
{
	/* Version-1 parameter tables have another stride (driftd_param grew in 2): refused. */
	if (ops->abi_version != DRIFTD_DETECTOR_ABI ||
	    ops->struct_size < sizeof(struct driftd_detector_ops))
		return -EPROTO;
	struct dd_instance *in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->ops = ops;
	void *cfg = calloc(1, ops->config_size ? ops->config_size : 1);
	in->ctx.state = calloc(1, ops->state_size ? ops->state_size : 1);
	in->ctx.config = cfg;
	if (!cfg || !in->ctx.state) {
		free(cfg);
		free(in->ctx.state);
		free(in);
		return -ENOMEM;
	}
	if (config)
		memcpy(cfg, config, ops->config_size);
	else
		dd_params_defaults(ops, cfg);
	if (shape)
		in->ctx.shape = *shape;
	int rc = ops->init ? ops->init(&in->ctx) : 0;
	if (rc < 0) {
		dd_instance_free(in);
		return rc;
	}
	*ret = in;
	return 0;
}

int dd_instance_update_number(struct dd_instance *in, double x)
{
	struct driftd_value v = {.type = DRIFTD_VALUE_NUMBER, .num = x};
	return in->ops->update(&in->ctx, &v);
}

int dd_instance_update_event(struct dd_instance *in, const struct driftd_event *ev)
{
	if (in->ops->update_event)
		return in->ops->update_event(&in->ctx, ev);
	return in->ops->update(&in->ctx, ev->value);
}

int dd_instance_reference_number(struct dd_instance *in, double x)
{
	if (!in->ops->reference_add)
		return -EOPNOTSUPP;
	struct driftd_value v = {.type = DRIFTD_VALUE_NUMBER, .num = x};
	return in->ops->reference_add(&in->ctx, &v);
}
