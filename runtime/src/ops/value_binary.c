/* Binary operators on runtime values of any numeric dtype, with numpy broadcasting
 * (docs/OPS.md, "Value types"): Equal, Less, Greater, LessOrEqual, GreaterOrEqual
 * (-> bool), And, Or, Xor (bool), and Add, Sub, Mul, Div, Max, Min on s8/u8/s32/s64 (the
 * f32 forms stay in binary.c, which hands integer nodes to pnn_value_binary_plan_init).
 *
 * Integer arithmetic wraps (two's complement, computed unsigned); integer Div truncates
 * toward zero like onnxruntime, and a division by zero gives 0 instead of a trap. One
 * loop per C type comes from PNN_NUMERIC_TYPES; the element operation is a switch
 * hoisted out of the loop. */
#include <stdlib.h>

#include "values.h"

typedef struct value_binary_job {
  const pnn_value_binary_plan *plan;
  const void *a, *b;
  void *y;
} value_binary_job;

/* Element operations of one C type T with suffix S. Integer ones go through uint64_t so
 * that overflow wraps instead of being undefined. */
#define PNN_DEFINE_SCALAR_OPS(S, T, IS_FLOAT)                                                  \
  static inline T add_##S(T x, T y) { return IS_FLOAT ? (T)(x + y) : (T)wrap_add((int64_t)x, (int64_t)y); } \
  static inline T sub_##S(T x, T y) { return IS_FLOAT ? (T)(x - y) : (T)wrap_sub((int64_t)x, (int64_t)y); } \
  static inline T mul_##S(T x, T y) { return IS_FLOAT ? (T)(x * y) : (T)wrap_mul((int64_t)x, (int64_t)y); } \
  static inline T div_##S(T x, T y) {                                                           \
    if (IS_FLOAT) return (T)(x / y);                                                            \
    if (y == 0) return 0;                                                                       \
    return (T)int_div((int64_t)x, (int64_t)y);                                                  \
  }

/* Two's complement wrap-around without signed overflow. */
static inline int64_t from_bits(uint64_t u) {
  int64_t v;
  memcpy(&v, &u, sizeof(v));
  return v;
}
static inline int64_t wrap_add(int64_t x, int64_t y) { return from_bits((uint64_t)x + (uint64_t)y); }
static inline int64_t wrap_sub(int64_t x, int64_t y) { return from_bits((uint64_t)x - (uint64_t)y); }
static inline int64_t wrap_mul(int64_t x, int64_t y) { return from_bits((uint64_t)x * (uint64_t)y); }
/* y != 0. INT64_MIN / -1 wraps to INT64_MIN. */
static inline int64_t int_div(int64_t x, int64_t y) { return y == -1 ? wrap_sub(0, x) : x / y; }

/* y[i] = OP(a[i * sa], b[i * sb]) for i < n, with the unit and zero strides of a row
 * (same shapes; a per-channel operand such as a ConvInteger's int32 bias) apart so the
 * compiler vectorizes them. */
#define PNN_BINARY_ROW_LOOP(OP)                                                                    \
  do {                                                                                             \
    if (sa == 1 && sb == 1) {                                                                      \
      for (size_t i = 0; i < n; ++i) y[i] = OP(a[i], b[i]);                                        \
    } else if (sa == 1 && sb == 0) {                                                               \
      for (size_t i = 0; i < n; ++i) y[i] = OP(a[i], b[0]);                                        \
    } else if (sa == 0 && sb == 1) {                                                               \
      for (size_t i = 0; i < n; ++i) y[i] = OP(a[0], b[i]);                                        \
    } else {                                                                                       \
      for (size_t i = 0; i < n; ++i) y[i] = OP(a[i * sa], b[i * sb]);                              \
    }                                                                                              \
  } while (0)

/* One row of the output for C type T: the op switch outside, the element loop inside. */
#define PNN_DEFINE_BINARY_ROW(S, T, IS_FLOAT)                                                     \
  PNN_DEFINE_SCALAR_OPS(S, T, IS_FLOAT)                                                           \
  static void row_##S(const void *context, size_t n, const size_t *off, const size_t *step,       \
                      size_t y_off) {                                                             \
    const value_binary_job *job = context;                                                        \
    const T *a = (const T *)job->a + off[0];                                                      \
    const T *b = (const T *)job->b + off[1];                                                      \
    const size_t sa = step[0], sb = step[1];                                                      \
    uint8_t *yb = (uint8_t *)job->y + y_off;                                                      \
    T *y = (T *)job->y + y_off;                                                                   \
    switch (job->plan->op) {                                                                      \
      case PNN_OP_ADD: PNN_BINARY_ROW_LOOP(add_##S); break;                                      \
      case PNN_OP_SUB: PNN_BINARY_ROW_LOOP(sub_##S); break;                                      \
      case PNN_OP_MUL: PNN_BINARY_ROW_LOOP(mul_##S); break;                                      \
      case PNN_OP_DIV: for (size_t i = 0; i < n; ++i) y[i] = div_##S(a[i * sa], b[i * sb]); break; \
      case PNN_OP_MAX:                                                                            \
        for (size_t i = 0; i < n; ++i) y[i] = a[i * sa] < b[i * sb] ? b[i * sb] : a[i * sa];      \
        break;                                                                                    \
      case PNN_OP_MIN:                                                                            \
        for (size_t i = 0; i < n; ++i) y[i] = b[i * sb] < a[i * sa] ? b[i * sb] : a[i * sa];      \
        break;                                                                                    \
      case PNN_OP_EQUAL: for (size_t i = 0; i < n; ++i) yb[i] = a[i * sa] == b[i * sb]; break;    \
      case PNN_OP_LESS: for (size_t i = 0; i < n; ++i) yb[i] = a[i * sa] < b[i * sb]; break;      \
      case PNN_OP_GREATER: for (size_t i = 0; i < n; ++i) yb[i] = a[i * sa] > b[i * sb]; break;   \
      case PNN_OP_LESS_OR_EQUAL: for (size_t i = 0; i < n; ++i) yb[i] = a[i * sa] <= b[i * sb]; break; \
      case PNN_OP_GREATER_OR_EQUAL: for (size_t i = 0; i < n; ++i) yb[i] = a[i * sa] >= b[i * sb]; break; \
      default: break;                                                                             \
    }                                                                                             \
  }
PNN_NUMERIC_TYPES(PNN_DEFINE_BINARY_ROW)
#undef PNN_DEFINE_BINARY_ROW
#undef PNN_DEFINE_SCALAR_OPS

/* bool operands: any non-zero byte is true, results are 0 or 1. */
static void row_bool(const void *context, size_t n, const size_t *off, const size_t *step, size_t y_off) {
  const value_binary_job *job = context;
  const uint8_t *a = (const uint8_t *)job->a + off[0];
  const uint8_t *b = (const uint8_t *)job->b + off[1];
  const size_t sa = step[0], sb = step[1];
  uint8_t *y = (uint8_t *)job->y + y_off;
  switch (job->plan->op) {
    case PNN_OP_AND: for (size_t i = 0; i < n; ++i) y[i] = (a[i * sa] != 0) & (b[i * sb] != 0); break;
    case PNN_OP_OR: for (size_t i = 0; i < n; ++i) y[i] = (a[i * sa] != 0) | (b[i * sb] != 0); break;
    case PNN_OP_XOR: for (size_t i = 0; i < n; ++i) y[i] = (a[i * sa] != 0) ^ (b[i * sb] != 0); break;
    case PNN_OP_EQUAL: for (size_t i = 0; i < n; ++i) y[i] = (a[i * sa] != 0) == (b[i * sb] != 0); break;
    default: break;
  }
}

static bool is_compare(uint16_t op) {
  return op == PNN_OP_EQUAL || op == PNN_OP_LESS || op == PNN_OP_GREATER || op == PNN_OP_LESS_OR_EQUAL ||
         op == PNN_OP_GREATER_OR_EQUAL;
}
static bool is_logic(uint16_t op) { return op == PNN_OP_AND || op == PNN_OP_OR || op == PNN_OP_XOR; }
static bool is_arith(uint16_t op) {
  return op == PNN_OP_ADD || op == PNN_OP_SUB || op == PNN_OP_MUL || op == PNN_OP_DIV || op == PNN_OP_MAX ||
         op == PNN_OP_MIN;
}

pnn_status pnn_value_binary_plan_init(const pnn_model *model, const pnn_node *node, pnn_value_binary_plan *plan,
                                      pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 2, 2, 1, 1, true, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *in[2] = {pnn_input_tensor(model, node, 0), pnn_input_tensor(model, node, 1)};
  const pnn_tensor *y = pnn_output_tensor(model, node, 0);
  if ((st = pnn_value_tensor(node, in[0], "input", NULL, error)) != PNN_OK) return st;
  if ((st = pnn_value_tensor(node, in[1], "input", NULL, error)) != PNN_OK) return st;
  if ((st = pnn_same_dtype(node, in[0], in[1], error)) != PNN_OK) return st;
  const uint8_t dtype = in[0]->dtype;
  const uint8_t y_dtype = (is_compare(node->op) || is_logic(node->op)) ? PNN_DTYPE_BOOL : dtype;
  if ((st = pnn_want_dtype(node, y, y_dtype, error)) != PNN_OK) return st;
  bool ok;
  if (is_logic(node->op)) {
    ok = dtype == PNN_DTYPE_BOOL;
  } else if (node->op == PNN_OP_EQUAL) {
    ok = dtype != PNN_DTYPE_F16;
  } else if (is_compare(node->op)) {
    ok = dtype != PNN_DTYPE_F16 && dtype != PNN_DTYPE_BOOL;
  } else {
    ok = is_arith(node->op) && dtype != PNN_DTYPE_F16 && dtype != PNN_DTYPE_BOOL;
  }
  if (!ok) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': op %u does not take %s inputs", node->name,
                         (unsigned)node->op, pnn_dtype_name(dtype));
  }
  if (pnn_node_attr(node, "act")) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': a fused activation needs f32", node->name);
  }
  plan->op = node->op;
  plan->dtype = dtype;
  return pnn_bcast_prepare(model, node, in, 2, 0, &plan->bcast, error);
}

void pnn_value_binary_plan_run(const pnn_value_binary_plan *plan, const void *a, const void *b, void *y) {
  const value_binary_job job = {plan, a, b, y};
  pnn_bcast_row_fn row = row_bool;
  switch (plan->dtype) {
#define PNN_PICK_ROW(S, T, IS_FLOAT) case PNN_DTYPE_##S: row = row_##S; break;
    PNN_NUMERIC_TYPES(PNN_PICK_ROW)
#undef PNN_PICK_ROW
    default: break;
  }
  pnn_bcast_for_each_row(&plan->bcast, row, &job);
}

pnn_status pnn_op_value_binary_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  if (!is_compare(node->op) && !is_logic(node->op)) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': op %u is not a comparison or logic op",
                         node->name, (unsigned)node->op);
  }
  pnn_value_binary_plan *plan = calloc(1, sizeof(*plan));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  pnn_status st = pnn_value_binary_plan_init(model, node, plan, error);
  if (st != PNN_OK) {
    free(plan);
    return st;
  }
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = "value-binary/scalar";
  return PNN_OK;
}

void pnn_op_value_binary_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                             void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  pnn_value_binary_plan_run(node->params, in[0], in[1], out[0]);
}
