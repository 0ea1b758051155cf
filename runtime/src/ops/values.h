/* Helpers of the operators on runtime values of any dtype (docs/OPS.md, "Value types"):
 * f32, f16, s8, u8, s32, s64 and bool tensors. The ops stay generic over the dtype in
 * two ways: data movement copies elements by size (1, 2, 4 or 8 bytes), and arithmetic
 * instantiates one loop per C type through the X-macro lists below.
 * Private to runtime/src/ops. */
#ifndef PNN_OPS_VALUES_H
#define PNN_OPS_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ew_common.h"

/* Numeric dtypes with their C type: X(DTYPE_SUFFIX, ctype, is_float). bool is u8-backed
 * and listed apart, f16 only crosses the model edge through Cast. */
#define PNN_NUMERIC_TYPES(X) \
  X(F32, float, 1)           \
  X(S8, int8_t, 0)           \
  X(U8, uint8_t, 0)          \
  X(S32, int32_t, 0)         \
  X(S64, int64_t, 0)

/* The input must exist and have one of the value dtypes; *size gets its element size. */
static inline pnn_status pnn_value_tensor(const pnn_node *node, const pnn_tensor *t, const char *what,
                                          size_t *size, pnn_error *error) {
  const size_t s = t ? pnn_value_dtype_size(t->dtype) : 0;
  if (s == 0) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': %s '%s' has dtype %s, not a value dtype",
                         node->name, what, t ? t->name : "?", t ? pnn_dtype_name(t->dtype) : "?");
  }
  if (t->encoding != PNN_ENCODING_DENSE) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': %s '%s' must be dense", node->name,
                         what, t->name);
  }
  if (size) *size = s;
  return PNN_OK;
}

/* a and b must have the same dtype. */
static inline pnn_status pnn_same_dtype(const pnn_node *node, const pnn_tensor *a, const pnn_tensor *b,
                                        pnn_error *error) {
  if (a->dtype != b->dtype) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': '%s' is %s but '%s' is %s", node->name,
                         a->name, pnn_dtype_name(a->dtype), b->name, pnn_dtype_name(b->dtype));
  }
  return PNN_OK;
}

/* t must have the dtype `want`. */
static inline pnn_status pnn_want_dtype(const pnn_node *node, const pnn_tensor *t, uint8_t want,
                                        pnn_error *error) {
  if (t->dtype != want) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': '%s' is %s, expected %s", node->name,
                         t->name, pnn_dtype_name(t->dtype), pnn_dtype_name(want));
  }
  return PNN_OK;
}

/* Every present input and output of the node has the same value dtype; *size gets its
 * element size. For the data-movement ops, which copy elements without reading them. */
static inline pnn_status pnn_same_value_io(const pnn_model *model, const pnn_node *node, size_t *size,
                                           pnn_error *error) {
  const pnn_tensor *first = pnn_output_tensor(model, node, 0);
  pnn_status st = pnn_value_tensor(node, first, "output", size, error);
  for (uint32_t i = 0; st == PNN_OK && i < node->n_inputs; ++i) {
    const pnn_tensor *t = pnn_input_tensor(model, node, i);
    if (t) st = pnn_same_dtype(node, t, first, error);
  }
  for (uint32_t i = 1; st == PNN_OK && i < node->n_outputs; ++i) {
    st = pnn_same_dtype(node, pnn_output_tensor(model, node, i), first, error);
  }
  return st;
}

/* dst[i] = src[i * stride] for i < n, elements of `size` bytes (1, 2, 4 or 8). */
static inline void pnn_copy_strided(size_t size, void *dst, const void *src, size_t n, ptrdiff_t stride) {
#define PNN_COPY_STRIDED_CASE(BITS)                                                   \
  case BITS / 8: {                                                                    \
    uint##BITS##_t *d = dst;                                                          \
    const uint##BITS##_t *s = src;                                                    \
    for (size_t i = 0; i < n; ++i) d[i] = s[(ptrdiff_t)i * stride];                   \
    break;                                                                            \
  }
  switch (size) {
    PNN_COPY_STRIDED_CASE(8)
    PNN_COPY_STRIDED_CASE(16)
    PNN_COPY_STRIDED_CASE(32)
    PNN_COPY_STRIDED_CASE(64)
    default: break;
  }
#undef PNN_COPY_STRIDED_CASE
}

/* ---- broadcasting of up to three inputs to one output (numpy rules) ---------------
 * The output is walked in rows of its last (merged) dim; each input advances by its own
 * stride, 0 where it broadcasts. */
enum { PNN_BCAST_MAX_INPUTS = 3 };

typedef struct pnn_bcast {
  int n_inputs;
  int rank;                                 /* merged dims, >= 1 */
  size_t dims[PNN_MAX_RANK];
  size_t stride[PNN_BCAST_MAX_INPUTS][PNN_MAX_RANK]; /* elements; 0 = broadcast */
  size_t total;                             /* output elements */
} pnn_bcast;

/* Plans out = broadcast(inputs...) and checks the output's shape in the table. */
pnn_status pnn_bcast_prepare(const pnn_model *model, const pnn_node *node, const pnn_tensor *const *inputs,
                             int n_inputs, uint32_t output, pnn_bcast *plan, pnn_error *error);

/* One row: n output elements from position `off[k]` of each input advancing by
 * `step[k]` (0 or 1) per element, written from output position `y_off`. */
typedef void (*pnn_bcast_row_fn)(const void *context, size_t n, const size_t *off, const size_t *step,
                                 size_t y_off);
/* Calls row() for every row of the output, in order. */
void pnn_bcast_for_each_row(const pnn_bcast *plan, pnn_bcast_row_fn row, const void *context);

/* ---- binary ops on values (value_binary.c) --------------------------------------- */
typedef struct pnn_value_binary_plan {
  pnn_bcast bcast;
  uint16_t op;    /* op code */
  uint8_t dtype;  /* of both inputs */
} pnn_value_binary_plan;

/* Validates a comparison, logic or integer-arithmetic node and plans it. */
pnn_status pnn_value_binary_plan_init(const pnn_model *model, const pnn_node *node, pnn_value_binary_plan *plan,
                                      pnn_error *error);
void pnn_value_binary_plan_run(const pnn_value_binary_plan *plan, const void *a, const void *b, void *y);

/* ---- float16 (IEEE binary16) <-> float32, round to nearest even ------------------- */
float pnn_f16_to_f32(uint16_t h);
uint16_t pnn_f32_to_f16(float f);

#endif /* PNN_OPS_VALUES_H */
