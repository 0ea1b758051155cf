/* Internal model representation shared by the loader, the planner, the executor and
 * the operators. Not installed; not part of the ABI. */
#ifndef PNN_INTERNAL_H
#define PNN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pocketnn.h"
#include "pnn_kernels.h"

enum pnn_attr_type {
  PNN_ATTR_INT = 1,    /* int64 */
  PNN_ATTR_FLOAT = 2,  /* float32 */
  PNN_ATTR_INTS = 3,   /* int64 list */
  PNN_ATTR_FLOATS = 4  /* float32 list */
};

enum pnn_tensor_kind {
  PNN_TENSOR_ACTIVATION = 0, /* lives in the arena: graph inputs and node outputs */
  PNN_TENSOR_CONSTANT = 1    /* data in the file's data section */
};

enum pnn_encoding {
  PNN_ENCODING_DENSE = 0,
  PNN_ENCODING_GROUP_SPARSE = 1,  /* constants: f32 (format 1.1) or s8 (1.3), see pnn_tensor_sparse_view */
  PNN_ENCODING_GROUP_SPARSE16 = 2, /* the same with u16 group_nnz and indices (format 1.7), widened at load */
  PNN_ENCODING_NARROW_INT = 3,    /* s32 constant stored as s8 or s16 (format 1.8); widened at load, after
                                     which the tensor reads as DENSE */
  PNN_ENCODING_GROUP_SPARSE_BITMASK = 4, /* group-sparse with one bitmask per group (format 1.9), widened at
                                            load into GROUP_SPARSE's u32 arrays */
  PNN_ENCODING_B1_DELTA = 5 /* b1 rows as tree deltas (format 1.10); decoded at load, after which the
                               tensor reads as DENSE (b1_delta.c) */
};

typedef struct pnn_attr {
  char *name;       /* owned, NUL-terminated */
  uint8_t type;     /* enum pnn_attr_type */
  uint32_t count;   /* list length (1 for scalars) */
  int64_t i;
  float f;
  int64_t *ints;    /* owned, `count` entries (INTS) */
  float *floats;    /* owned, `count` entries (FLOATS) */
} pnn_attr;

typedef struct pnn_tensor {
  char *name;       /* owned, NUL-terminated */
  uint8_t dtype;    /* pnn_dtype */
  uint8_t encoding; /* enum pnn_encoding */
  uint8_t kind;     /* enum pnn_tensor_kind */
  int rank;
  int64_t dims[PNN_MAX_RANK];
  size_t numel;
  size_t nbytes;        /* the dense size, whatever the encoding */
  const void *data;     /* CONSTANT: points into the model buffer, 64-byte aligned; for a
                           group-sparse tensor the encoded blob (read it through
                           pnn_tensor_sparse_view, never as dense data) */
  uint32_t *sparse_index; /* owned; GROUP_SPARSE16 and _BITMASK: group_nnz then indices as u32
                             at load (pnn_sparse_widen), so the kernels see one layout */
  int32_t *widened;       /* owned; NARROW_INT constants: the values sign-extended to s32 at load;
                             `data` points here */
  void *decoded;          /* owned; B1_DELTA constants: the plain rows decoded at load; `data`
                             points here */
  size_t arena_offset;  /* ACTIVATION: set by the planner */
  int32_t producer;     /* node index, -1 for graph inputs and constants */
  int32_t last_use;     /* last node index reading it; n_nodes for graph outputs */
} pnn_tensor;

typedef struct pnn_node {
  uint16_t op;         /* op code, docs/OPS.md */
  char *name;          /* owned */
  uint32_t n_inputs;
  uint32_t n_outputs;
  int32_t *inputs;     /* owned; tensor ids, -1 = absent optional input */
  int32_t *outputs;    /* owned; tensor ids */
  uint32_t n_attrs;
  pnn_attr *attrs;     /* owned */
  void *params;        /* set by prepare: one malloc'd block, freed with free() */
  size_t scratch_bytes;/* set by prepare: scratch one thread of the run needs */
  const char *kernel;  /* set by prepare: static string naming the kernel variant */
} pnn_node;

typedef struct pnn_meta {
  char *key;           /* owned */
  uint8_t type;        /* 1 string, 2 int64, 3 float64 */
  char *str;           /* owned (type 1) */
  int64_t i;
  double f;
} pnn_meta;

struct pnn_model {
  const uint8_t *data;   /* the file bytes */
  size_t size;
  void *owned_data;      /* non-NULL when the model owns the bytes */
  uint16_t version_major, version_minor;
  uint32_t n_meta;
  pnn_meta *meta;
  uint32_t n_tensors;
  pnn_tensor *tensors;
  uint32_t n_nodes;
  pnn_node *nodes;
  uint32_t n_inputs, n_outputs;
  int32_t *inputs;       /* tensor ids */
  int32_t *outputs;
  size_t arena_bytes;    /* activations, planned */
  size_t scratch_bytes;  /* max over nodes */
  uint32_t max_node_io;  /* largest n_inputs / n_outputs: executor pointer arrays */
  size_t max_memory;     /* pnn_load_options.max_memory, resolved (never 0) */
  pnn_cpu_features cpu;  /* detected, then capped by pnn_load_options.isa */
};

/* ---- threads ------------------------------------------------------------------
 * A session may own a pool of worker threads (runtime/src/threadpool.c). Ops split
 * their work into tasks; task i always computes the same part of the output whatever
 * the thread count, so results are identical for any number of threads. */
typedef struct pnn_threadpool pnn_threadpool;
/* Runs one task. `thread` in [0, pnn_threadpool_size) picks per-thread scratch. */
typedef void (*pnn_task_fn)(void *context, size_t task, size_t thread);
/* Creates a pool running `threads` threads in all (the caller's included), >= 1.
 * With 1 (or in a build without threads) no thread is started. */
pnn_status pnn_threadpool_create(uint32_t threads, pnn_threadpool **pool, pnn_error *error);
void pnn_threadpool_free(pnn_threadpool *pool);
/* 1 for a NULL pool. */
size_t pnn_threadpool_size(const pnn_threadpool *pool);
/* Runs fn(context, task, thread) for every task in [0, tasks) and returns when all
 * are done. The calling thread takes part. NULL pool: runs inline, thread 0. */
void pnn_parallel_for(pnn_threadpool *pool, size_t tasks, pnn_task_fn fn, void *context);
#if defined(PNN_POOL_TRACE)
/* Bench-only builds: marks the start of node `node` in the pool's trace file. */
void pnn_threadpool_trace_node(pnn_threadpool *pool, uint32_t node);
#endif

/* What a run function gets besides its tensors. */
typedef struct pnn_run_context {
  /* node->scratch_bytes for each thread: thread t's scratch starts at
   * scratch + t * scratch_stride (64-byte aligned). Thread 0's is `scratch`. */
  void *scratch;
  size_t scratch_stride;
  pnn_threadpool *pool;  /* NULL: single thread */
} pnn_run_context;

/* ---- operators --------------------------------------------------------------
 * prepare: validate the node completely (input count, dtypes, ranks, shapes,
 *   attribute values; the output shapes in the table must equal the ones the op
 *   computes), fill node->params, node->scratch_bytes and node->kernel. Runs once at
 *   load. Anything not validated here must not be trusted by run.
 * run: compute. `in[i]` is NULL for absent optional inputs. No allocation, no I/O.
 *   node->scratch_bytes is per thread: an op that splits work across the pool gives
 *   each task the scratch of the thread running it. */
typedef pnn_status (*pnn_prepare_fn)(pnn_model *model, pnn_node *node, pnn_error *error);
typedef void (*pnn_run_fn)(const pnn_model *model, const pnn_node *node,
                           const void *const *in, void *const *out,
                           const pnn_run_context *ctx);

typedef struct pnn_op_def {
  uint16_t code;
  const char *name;
  pnn_prepare_fn prepare;
  pnn_run_fn run;
} pnn_op_def;

/* The op codes, PNN_OP_CONV = 1 ... (ops/ops.def). */
enum pnn_op_code {
#define PNN_OP(code, id, name, family) PNN_OP_##id = code,
#include "ops/ops.def"
#undef PNN_OP
};

/* NULL for an unknown code. */
const pnn_op_def *pnn_op_lookup(uint16_t code);

/* ---- helpers (runtime/src/attrs.c, errors.c, shapes.c) ---------------------- */
/* A block of at least `size` bytes, freed with free(); NULL when out of memory. From
 * 2 MiB up on Linux it starts on a 2 MiB boundary and is advised onto transparent huge
 * pages (large_alloc.c): for the session arena, model bytes and prepared weights. */
void *pnn_alloc_large(size_t size);

pnn_status pnn_set_error(pnn_error *error, pnn_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
const pnn_attr *pnn_node_attr(const pnn_node *node, const char *name);
/* Scalar getters return the default when absent; a present attribute of the wrong
 * type also returns the default: prepare validates types with pnn_attr_check. */
int64_t pnn_attr_int(const pnn_node *node, const char *name, int64_t dflt);
float pnn_attr_float(const pnn_node *node, const char *name, float dflt);
/* List getters: NULL and *count = 0 when absent or of another type. */
const int64_t *pnn_attr_ints(const pnn_node *node, const char *name, uint32_t *count);
const float *pnn_attr_floats(const pnn_node *node, const char *name, uint32_t *count);
/* Reads an INTS attribute that must have exactly `count` entries into out; absent ->
 * copies dflt (may be NULL: then absence is an error). */
pnn_status pnn_attr_ints_exact(const pnn_node *node, const char *name, uint32_t count,
                               const int64_t *dflt, int64_t *out, pnn_error *error);

static inline const pnn_tensor *pnn_input_tensor(const pnn_model *m, const pnn_node *n, uint32_t i) {
  return (i < n->n_inputs && n->inputs[i] >= 0) ? &m->tensors[n->inputs[i]] : NULL;
}
static inline const pnn_tensor *pnn_output_tensor(const pnn_model *m, const pnn_node *n, uint32_t i) {
  return &m->tensors[n->outputs[i]];
}
/* Checks n_inputs within [min_in, max_in], n_outputs within [min_out, max_out],
 * required inputs (index < min_in) present, every present input and output f32 unless
 * the op says otherwise (pass allow_non_f32 = true and check yourself). */
pnn_status pnn_check_io(const pnn_model *m, const pnn_node *n, uint32_t min_in, uint32_t max_in,
                        uint32_t min_out, uint32_t max_out, bool allow_non_f32, pnn_error *error);
/* Bytes per element of a dtype a runtime value may have (f32, f16, s8, u8, s32, s64,
 * bool); 0 for the packed-only dtypes (s4, b1) and unknown codes. */
size_t pnn_value_dtype_size(uint8_t dtype);
/* "f32", "bool", ...; "?" for an unknown code. */
const char *pnn_dtype_name(uint8_t dtype);
/* Output `i` of the node must have exactly this shape. */
pnn_status pnn_check_output_shape(const pnn_model *m, const pnn_node *n, uint32_t i, int rank,
                                  const int64_t *dims, pnn_error *error);
/* numpy broadcasting of a and b into out; PNN_ERR_SHAPE when incompatible. */
pnn_status pnn_broadcast_shape(int rank_a, const int64_t *a, int rank_b, const int64_t *b,
                               int *rank_out, int64_t *out);

/* ---- group-sparse constants (runtime/src/sparse.c, docs/FORMAT.md) ----------------
 * A constant with encoding PNN_ENCODING_GROUP_SPARSE holds its data as a validated
 * blob; ops read it through pnn_tensor_sparse_view and hand the view to the SpMM
 * kernels. */
/* pnn_sparse_f32 comes with pnn_kernels.h (pnn_kernels_sparse.h) */

/* Whether a tensor is stored group-sparse, with either index width. */
static inline bool pnn_tensor_is_sparse(const pnn_tensor *t) { return t->encoding != PNN_ENCODING_DENSE; }
/* Checks a group-sparse blob of `size` bytes (64-byte aligned) against the tensor's
 * dtype, kind, rank and dims (already parsed); PNN_ERR_FORMAT naming the tensor when
 * anything is inconsistent. The loader calls it before anything else sees the tensor. */
pnn_status pnn_sparse_validate(const pnn_tensor *t, const uint8_t *blob, size_t size, pnn_error *error);
/* For a validated GROUP_SPARSE16 or GROUP_SPARSE_BITMASK tensor: allocates t->sparse_index,
 * the u32 group_nnz and column indices of encoding 1 decoded from its u16 arrays or bitmasks
 * (PNN_ERR_OUT_OF_MEMORY naming the tensor); nothing for other encodings. */
pnn_status pnn_sparse_widen(pnn_tensor *t, pnn_error *error);
/* Validates a B1_DELTA constant's blob and decodes it into t->decoded (b1_delta.c). */
pnn_status pnn_b1_delta_decode(pnn_tensor *t, const uint8_t *blob, size_t size, pnn_error *error);
/* The view of a loaded group-sparse constant of dtype f32 (s8);
 * PNN_ERR_INVALID_ARGUMENT when `t` is not one. Pointers point into the model buffer. */
pnn_status pnn_tensor_sparse_view(const pnn_tensor *t, pnn_sparse_f32 *view);
pnn_status pnn_tensor_sparse_s8_view(const pnn_tensor *t, pnn_sparse_s8 *view);
/* Whether `node`'s op reads its input `input` when that input is stored group-sparse
 * (through one of the views). The loader refuses every other use of a sparse
 * tensor with PNN_ERR_UNSUPPORTED naming the node, before the op's prepare runs. */
bool pnn_input_may_be_sparse(const pnn_node *node, uint32_t input);

#endif /* PNN_INTERNAL_H */
