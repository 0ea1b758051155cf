/* Range (code 106) whose start and delta are runtime scalars: y[i] = start + i * delta for
 * the output's static length n (fixed at convert time from the limit, which must fold to
 * a constant there; the limit input is not read at run). Floats accumulate delta like
 * onnxruntime does; integers wrap. */
#include <stdlib.h>

#include "values.h"

typedef struct range_plan {
  uint8_t dtype;
  size_t n;
} range_plan;

pnn_status pnn_op_range_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 3, 3, 1, 1, true, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *y = pnn_output_tensor(model, node, 0);
  if ((st = pnn_value_tensor(node, y, "output", NULL, error)) != PNN_OK) return st;
  if (y->dtype == PNN_DTYPE_F16 || y->dtype == PNN_DTYPE_BOOL) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': Range of %s", node->name, pnn_dtype_name(y->dtype));
  }
  for (uint32_t i = 0; i < 3; ++i) {
    const pnn_tensor *t = pnn_input_tensor(model, node, i);
    if ((st = pnn_value_tensor(node, t, "input", NULL, error)) != PNN_OK) return st;
    if ((st = pnn_same_dtype(node, t, y, error)) != PNN_OK) return st;
    if (t->numel != 1) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': Range input '%s' is not a scalar", node->name, t->name);
    }
  }
  if (y->rank != 1) return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': Range output rank %d", node->name, y->rank);
  range_plan *plan = malloc(sizeof(*plan));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->dtype = y->dtype;
  plan->n = (size_t)y->dims[0];
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = "value-range/scalar";
  return PNN_OK;
}

#define PNN_DEFINE_RANGE(S, T, IS_FLOAT)                                             \
  static void range_##S(size_t n, const void *start, const void *delta, void *vy) {  \
    T *y = vy;                                                                       \
    T value = *(const T *)start;                                                     \
    const T step = *(const T *)delta;                                                \
    for (size_t i = 0; i < n; ++i) {                                                 \
      y[i] = value;                                                                  \
      value = IS_FLOAT ? (T)(value + step) : (T)((uint64_t)value + (uint64_t)step);  \
    }                                                                                \
  }
PNN_NUMERIC_TYPES(PNN_DEFINE_RANGE)
#undef PNN_DEFINE_RANGE

void pnn_op_range_run(const pnn_model *model, const pnn_node *node, const void *const *in, void *const *out,
                      const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const range_plan *p = node->params;
  switch (p->dtype) {
#define PNN_CASE(S, T, IS_FLOAT) case PNN_DTYPE_##S: range_##S(p->n, in[0], in[2], out[0]); break;
    PNN_NUMERIC_TYPES(PNN_CASE)
#undef PNN_CASE
    default: break;
  }
}
