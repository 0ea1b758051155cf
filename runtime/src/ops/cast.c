/* Cast (code 100) between f32, f16, s8, u8, s32, s64 and bool, and Not (code 95) on
 * bool (docs/OPS.md). One loop per (source, target) pair, generated from the type list:
 * an element is loaded as float (float sources) or int64 (integer and bool sources),
 * then stored into the target type:
 *   float -> integer truncates toward zero and saturates at the type's range (NaN -> 0;
 *     onnxruntime leaves out-of-range values undefined), float -> bool is x != 0;
 *   integer -> narrower integer wraps (two's complement), integer -> float rounds;
 *   anything -> f16 rounds to nearest even (overflow -> inf). */
#include <math.h>
#include <stdlib.h>

#include "values.h"

/* Loads: float for floating sources, int64 for the others. */
static inline float load_F32(const float *p) { return *p; }
static inline float load_F16(const uint16_t *p) { return pnn_f16_to_f32(*p); }
static inline int64_t load_BOOL(const uint8_t *p) { return *p != 0; }
#define PNN_INT_LOAD(S, T) \
  static inline int64_t load_##S(const T *p) { return (int64_t)*p; }
PNN_INT_LOAD(S8, int8_t)
PNN_INT_LOAD(U8, uint8_t)
PNN_INT_LOAD(S32, int32_t)
PNN_INT_LOAD(S64, int64_t)
#undef PNN_INT_LOAD

/* Stores from float (_f) and from int64 (_i). */
static inline float store_F32_f(float v) { return v; }
static inline float store_F32_i(int64_t v) { return (float)v; }
static inline uint16_t store_F16_f(float v) { return pnn_f32_to_f16(v); }
static inline uint16_t store_F16_i(int64_t v) { return pnn_f32_to_f16((float)v); }
static inline uint8_t store_BOOL_f(float v) { return v != 0.0f; }
static inline uint8_t store_BOOL_i(int64_t v) { return v != 0; }
#define PNN_INT_STORE(S, T, LO, HI)                                         \
  static inline T store_##S##_f(float v) {                                  \
    const double d = (double)v;                                             \
    if (isnan(d)) return 0;                                                 \
    if (d <= (double)(LO)) return (LO);                                     \
    if (d >= (double)(HI) + 1.0) return (HI);                               \
    return (T)d;                                                            \
  }                                                                         \
  static inline T store_##S##_i(int64_t v) { return (T)(uint64_t)v; }
PNN_INT_STORE(S8, int8_t, INT8_MIN, INT8_MAX)
PNN_INT_STORE(U8, uint8_t, 0, UINT8_MAX)
PNN_INT_STORE(S32, int32_t, INT32_MIN, INT32_MAX)
PNN_INT_STORE(S64, int64_t, INT64_MIN, INT64_MAX)
#undef PNN_INT_STORE

#define PNN_STORE(S, v) _Generic((v), float: store_##S##_f, int64_t: store_##S##_i)(v)

/* The dtypes Cast converts between, with their storage type. */
#define PNN_CAST_SOURCES(X, DS, DT) \
  X(F32, float, DS, DT)             \
  X(F16, uint16_t, DS, DT)          \
  X(S8, int8_t, DS, DT)             \
  X(U8, uint8_t, DS, DT)            \
  X(S32, int32_t, DS, DT)           \
  X(S64, int64_t, DS, DT)           \
  X(BOOL, uint8_t, DS, DT)
#define PNN_CAST_TARGETS(X) \
  X(F32, float)             \
  X(F16, uint16_t)          \
  X(S8, int8_t)             \
  X(U8, uint8_t)            \
  X(S32, int32_t)           \
  X(S64, int64_t)           \
  X(BOOL, uint8_t)

typedef void (*cast_fn)(size_t n, const void *x, void *y);

#define PNN_CAST_LOOP(SS, ST, DS, DT)                                 \
  static void cast_##SS##_to_##DS(size_t n, const void *vx, void *vy) { \
    const ST *x = vx;                                                   \
    DT *y = vy;                                                         \
    for (size_t i = 0; i < n; ++i) y[i] = PNN_STORE(DS, load_##SS(&x[i])); \
  }
#define PNN_CAST_LOOPS_TO(DS, DT) PNN_CAST_SOURCES(PNN_CAST_LOOP, DS, DT)
PNN_CAST_TARGETS(PNN_CAST_LOOPS_TO)
#undef PNN_CAST_LOOPS_TO
#undef PNN_CAST_LOOP

static cast_fn cast_function(uint8_t from, uint8_t to) {
#define PNN_CAST_CASE(SS, ST, DS, DT) \
  if (from == PNN_DTYPE_##SS && to == PNN_DTYPE_##DS) return cast_##SS##_to_##DS;
#define PNN_CAST_CASES_TO(DS, DT) PNN_CAST_SOURCES(PNN_CAST_CASE, DS, DT)
  PNN_CAST_TARGETS(PNN_CAST_CASES_TO)
#undef PNN_CAST_CASES_TO
#undef PNN_CAST_CASE
  return NULL;
}

static void not_bool(size_t n, const void *vx, void *vy) {
  const uint8_t *x = vx;
  uint8_t *y = vy;
  for (size_t i = 0; i < n; ++i) y[i] = x[i] == 0;
}

typedef struct cast_plan {
  cast_fn fn;
  size_t numel;
} cast_plan;

pnn_status pnn_op_cast_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, true, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  const pnn_tensor *y = pnn_output_tensor(model, node, 0);
  if ((st = pnn_value_tensor(node, x, "input", NULL, error)) != PNN_OK) return st;
  if ((st = pnn_value_tensor(node, y, "output", NULL, error)) != PNN_OK) return st;
  if ((st = pnn_ew_check_dims(node, x, error)) != PNN_OK) return st;
  if ((st = pnn_check_output_shape(model, node, 0, x->rank, x->dims, error)) != PNN_OK) return st;
  cast_fn fn;
  if (node->op == PNN_OP_NOT) {
    if ((st = pnn_want_dtype(node, x, PNN_DTYPE_BOOL, error)) != PNN_OK) return st;
    if ((st = pnn_want_dtype(node, y, PNN_DTYPE_BOOL, error)) != PNN_OK) return st;
    fn = not_bool;
  } else if (node->op == PNN_OP_CAST) {
    fn = cast_function(x->dtype, y->dtype);
  } else {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': op %u is not Cast or Not", node->name,
                         (unsigned)node->op);
  }
  cast_plan *plan = malloc(sizeof(*plan));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->fn = fn;
  plan->numel = x->numel;
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = "value-cast/scalar";
  return PNN_OK;
}

void pnn_op_cast_run(const pnn_model *model, const pnn_node *node, const void *const *in, void *const *out,
                     const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const cast_plan *plan = node->params;
  plan->fn(plan->numel, in[0], out[0]);
}
