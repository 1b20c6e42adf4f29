/* driftd detector plugin interface: the only header a detector includes.
 *
 * A detector is one `const struct driftd_detector_ops` with designated initialisers. The host
 * (lib/monitor.c) parses the detector's parameters from its `params[]` table into a config block
 * of `config_size` bytes, allocates `state_size` zeroed bytes of state, and drives the callbacks.
 * Every callback takes a context first and returns 0 or a negative errno. Detectors never log:
 * the host logs with the monitor's name.
 *
 * Life of an instance (one per monitor and partition):
 *   init -> [reference_add ... reference_done]      (two-sample and categorical kinds only)
 *        -> { update -> [evaluate] }*                (streaming: evaluate after every update;
 *                                                     window kinds: when the window closes,
 *                                                     followed by window_reset)
 *        -> done
 * update and reference_add must not allocate (checked by the contract suite); init may
 * allocate the buffers its shape asks for; evaluate may allocate scratch and must free it.
 */
#ifndef DRIFTD_DETECTOR_H
#define DRIFTD_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <driftd/event.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when a field is added to driftd_detector_ops. The host reads fields by struct_size,
 * so an older detector keeps working.
 * 2: string, pointer and list parameters (struct driftd_param grew `def_str`, so version-1
 *    tables have another stride and are refused); per-event input (update_event, flags,
 *    tags) and verdict evidence, for security detectors. */
#define DRIFTD_DETECTOR_ABI 2

enum driftd_detector_kind {
	DRIFTD_KIND_STREAMING = 0,  /* one verdict per observation (Page-Hinkley, ADWIN, ...) */
	DRIFTD_KIND_TWO_SAMPLE = 1, /* reference sample vs. window sample (KS, PSI, ...) */
	DRIFTD_KIND_MULTIVARIATE = 2,
	DRIFTD_KIND_CATEGORICAL = 3,
	DRIFTD_KIND_SECURITY = 4,
};

/* Whether the host must feed a reference before windows are evaluated. */
static inline bool driftd_kind_uses_reference(enum driftd_detector_kind k)
{
	return k == DRIFTD_KIND_TWO_SAMPLE || k == DRIFTD_KIND_MULTIVARIATE ||
	       k == DRIFTD_KIND_CATEGORICAL;
}

enum driftd_param_type {
	DRIFTD_PARAM_DOUBLE = 0, /* stored as double */
	DRIFTD_PARAM_INT = 1,    /* stored as int64_t */
	DRIFTD_PARAM_BOOL = 2,   /* stored as bool */
	DRIFTD_PARAM_ENUM = 3,   /* stored as int: index into choices[] */
	/* ABI 2. Text parameters are stored as `const char *` (NULL when unset) and list
	 * parameters as struct driftd_list; the memory belongs to the host's configuration and
	 * lives as long as the instance. The detector reads them through ctx->config only. */
	DRIFTD_PARAM_STRING = 4,
	/* A JSON pointer the host extracts from every event, in addition to the monitor's
	 * `field`: driftd_event.aux[k] is the value of the k-th POINTER parameter of the table
	 * (type NONE when the pointer is unset or absent from the event). */
	DRIFTD_PARAM_POINTER = 5,
	/* A list of strings, or of records when `choices` names the columns (then each item may
	 * be an object with those keys). The host also accepts `<name>_file`: a file with one
	 * item per line (single column; '#' comments), or a JSON/YAML list of objects. */
	DRIFTD_PARAM_LIST = 6,
};

/* A LIST parameter: n items of cols strings each, item i column c at items[i * cols + c]
 * (an absent column is ""). */
struct driftd_list {
	const char *const *items;
	size_t n;
	size_t cols;
};

/* One row of a detector's parameter table. The same table drives config parsing and
 * validation, `driftd detectors` and docs/detectors.md. Bounds are inclusive unless the
 * matching *_open flag is set. */
struct driftd_param {
	const char *name;
	enum driftd_param_type type;
	size_t offset; /* offsetof(config struct, member) */
	double def;    /* default; for ENUM the index of the default choice */
	double min;
	double max;
	bool min_open;
	bool max_open;
	const char *const *choices; /* ENUM: NULL-terminated; LIST: column names or NULL */
	const char *description;
	const char *def_str; /* STRING and POINTER: the default (NULL: unset) */
};

/* The outcome of one evaluation. p_value is NAN for tests without one. */
struct driftd_verdict {
	double score;     /* the statistic compared with the threshold */
	double threshold; /* the configured limit for score (or alpha for p-value tests) */
	double p_value;
	bool drift;
	bool warning; /* only meaningful with DRIFTD_CAP_WARNING */
	/* ABI 2: what an analyst needs to act on this verdict, or NULL. It points into the
	 * detector's state and stays valid until the next update. */
	const struct driftd_evidence *evidence;
};

/* Evidence of a verdict: output_fields and tags of the alert it raises. Strings are the
 * detector's own copies (never pointers into the event, which is gone after update). */
enum driftd_evidence_type {
	DRIFTD_EVIDENCE_STRING = 0,
	DRIFTD_EVIDENCE_NUMBER = 1,
	DRIFTD_EVIDENCE_INT = 2,
};

struct driftd_evidence_field {
	const char *key; /* output_fields key, e.g. "client.id" */
	enum driftd_evidence_type type;
	const char *str; /* STRING: NUL-terminated */
	double num;      /* NUMBER, and INT (exact up to 2^53) */
};

#define DRIFTD_EVIDENCE_MAX 10

struct driftd_evidence {
	const char *what;        /* one clause for the alert sentence, e.g. "client c-7 ..." */
	const char *const *tags; /* tags beyond the detector's own, NULL-terminated, or NULL */
	bool critical;           /* raise the alert to at least Critical (canary leaks) */
	size_t n;
	struct driftd_evidence_field f[DRIFTD_EVIDENCE_MAX];
};

/* A string of event metadata: NULL when absent; not NUL-terminated. */
struct driftd_str {
	const char *s;
	size_t len;
};

/* ABI 2: one event as a detector with update_event sees it. Everything is valid only for the
 * duration of the call. */
struct driftd_event {
	const struct driftd_value *value; /* the monitor's `field` (NONE without one) */
	const struct driftd_value *aux;   /* one per POINTER parameter, in table order */
	size_t n_aux;
	struct driftd_str model_id, model_version, model_sha256, client_id, request_id;
	int64_t ts_ms; /* event time, -1 when the record had none */
};

/* What the host tells a detector about its monitor when it is created. */
struct driftd_shape {
	size_t reference_size; /* events in the reference (0 for streaming kinds) */
	size_t window_size;    /* events per window (0 for streaming kinds) */
	uint64_t seed;         /* deterministic per monitor, for detectors that sample */
};

/* Passed first to every callback. */
struct driftd_ctx {
	const void *config; /* the parsed parameter block (config_size bytes) */
	void *state;        /* state_size zeroed bytes owned by the host */
	struct driftd_shape shape;
};

/* Growable byte buffer for snapshots; helpers live in libdriftd and never fail silently:
 * a failed append sets `err` and later appends do nothing, so a snapshot callback can append
 * freely and check once. Values are written little-endian. */
struct driftd_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err;
};
void driftd_buf_put(struct driftd_buf *b, const void *p, size_t n);
void driftd_buf_put_u64(struct driftd_buf *b, uint64_t v);
void driftd_buf_put_f64(struct driftd_buf *b, double v);
void driftd_buf_free(struct driftd_buf *b);

/* Bounds-checked reader over untrusted snapshot bytes. Every read returns 0 or -EBADMSG. */
struct driftd_reader {
	const uint8_t *p;
	size_t left;
};
int driftd_rd(struct driftd_reader *r, void *out, size_t n);
int driftd_rd_u64(struct driftd_reader *r, uint64_t *out);
int driftd_rd_f64(struct driftd_reader *r, double *out);
/* A finite double (snapshots never legitimately hold NaN/Inf unless the detector says so). */
int driftd_rd_f64_finite(struct driftd_reader *r, double *out);

#define DRIFTD_CAP_MERGE   (1u << 0) /* merge() is implemented and exact */
#define DRIFTD_CAP_WARNING (1u << 1) /* verdicts carry a warning level */
#define DRIFTD_CAP_P_VALUE (1u << 2) /* verdicts carry a p-value */
#define DRIFTD_CAP_EFFECT  (1u << 3) /* verdict.score is an effect size (min_effect applies) */

/* driftd_detector_ops.flags (ABI 2) */
#define DRIFTD_FLAG_NO_FIELD (1u << 0) /* the monitor's `field` is optional (metadata only) */

struct driftd_detector_ops {
	uint32_t abi_version; /* DRIFTD_DETECTOR_ABI */
	uint32_t struct_size; /* sizeof(struct driftd_detector_ops) */
	const char *name;
	const char *summary;
	enum driftd_detector_kind kind;
	uint32_t caps;
	uint32_t accepts; /* mask of (1u << enum driftd_value_type) this detector takes */
	const struct driftd_param *params;
	size_t n_params;
	size_t config_size;
	size_t state_size;
	uint32_t snapshot_version;

	/* Optional: cross-parameter checks after the table has been applied. Returns -EINVAL and
	 * a static message in *why. */
	int (*check_config)(const void *config, const char **why);
	int (*init)(struct driftd_ctx *ctx);
	int (*reference_add)(struct driftd_ctx *ctx, const struct driftd_value *v);
	int (*reference_done)(struct driftd_ctx *ctx);
	/* -EDOM for NaN/Inf or a value the detector cannot take; the state is then unchanged. */
	int (*update)(struct driftd_ctx *ctx, const struct driftd_value *v);
	int (*evaluate)(struct driftd_ctx *ctx, struct driftd_verdict *out);
	void (*window_reset)(struct driftd_ctx *ctx);
	int (*snapshot)(const struct driftd_ctx *ctx, struct driftd_buf *out);
	/* Input is untrusted: validate everything; on error the state is left as after init. */
	int (*restore)(struct driftd_ctx *ctx, uint32_t version, const void *data, size_t len);
	/* Optional (DRIFTD_CAP_MERGE): dst += src. Associative, commutative, fresh state is the
	 * identity. */
	int (*merge)(struct driftd_ctx *dst, const struct driftd_ctx *src);
	/* Idempotent and safe on a state whose init failed half-way. */
	void (*done)(struct driftd_ctx *ctx);

	/* ---- ABI 2 ---- */
	uint32_t flags; /* DRIFTD_FLAG_* */
	/* Tags on every alert of this detector (e.g. "threat:model_tampering", "etsi:5.2.1-2"),
	 * NULL-terminated; when set they replace the generic drift tags. */
	const char *const *tags;
	/* Optional, streaming and security kinds: the host calls this instead of update, with
	 * the event's metadata and the POINTER parameters' values. Same rules as update: no
	 * allocation, -EDOM for a value it cannot take (state unchanged). */
	int (*update_event)(struct driftd_ctx *ctx, const struct driftd_event *ev);
};

/* The CMake-generated registry (lib/registry.c). */
extern const struct driftd_detector_ops *const driftd_detectors[];
extern const size_t driftd_n_detectors;
const struct driftd_detector_ops *driftd_detector_find(const char *name);

#ifdef __cplusplus
}
#endif
#endif
