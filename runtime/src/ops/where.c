/* Where (code 99): y = cond ? x : y-input, the three broadcast together (numpy rules).
 * Generic over the dtype of x and y: elements move as 1, 2, 4 or 8-byte words. */
#include <stdlib.h>

#include "values.h"

typedef struct where_plan {
  pnn_bcast bcast;
  size_t size; /* bytes per element of x, y and the output */
} where_plan;

typedef struct where_job {
  const uint8_t *cond;
  const void *x, *y;
  void *out;
  size_t size;
} where_job;

#define PNN_WHERE_ROW(BITS)                                                                   \
  static void where_row_##BITS(const where_job *job, size_t n, const size_t *off, const size_t *step, \
                               size_t y_off) {                                                \
    const uint8_t *c = job->cond + off[0];                                                    \
    const uint##BITS##_t *x = (const uint##BITS##_t *)job->x + off[1];                        \
    const uint##BITS##_t *y = (const uint##BITS##_t *)job->y + off[2];                        \
    uint##BITS##_t *out = (uint##BITS##_t *)job->out + y_off;                                 \
    for (size_t i = 0; i < n; ++i) out[i] = c[i * step[0]] ? x[i * step[1]] : y[i * step[2]]; \
  }
PNN_WHERE_ROW(8)
PNN_WHERE_ROW(16)
PNN_WHERE_ROW(32)
PNN_WHERE_ROW(64)
#undef PNN_WHERE_ROW

static void where_row(const void *context, size_t n, const size_t *off, const size_t *step, size_t y_off) {
  const where_job *job = context;
  switch (job->size) {
    case 1: where_row_8(job, n, off, step, y_off); break;
    case 2: where_row_16(job, n, off, step, y_off); break;
    case 4: where_row_32(job, n, off, step, y_off); break;
    default: where_row_64(job, n, off, step, y_off); break;
  }
}

pnn_status pnn_op_where_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 3, 3, 1, 1, true, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *in[3] = {pnn_input_tensor(model, node, 0), pnn_input_tensor(model, node, 1),
                             pnn_input_tensor(model, node, 2)};
  const pnn_tensor *out = pnn_output_tensor(model, node, 0);
  size_t size = 0;
  if ((st = pnn_value_tensor(node, in[0], "condition", NULL, error)) != PNN_OK) return st;
  if ((st = pnn_want_dtype(node, in[0], PNN_DTYPE_BOOL, error)) != PNN_OK) return st;
  if ((st = pnn_value_tensor(node, in[1], "input", &size, error)) != PNN_OK) return st;
  if ((st = pnn_value_tensor(node, in[2], "input", NULL, error)) != PNN_OK) return st;
  if ((st = pnn_same_dtype(node, in[1], in[2], error)) != PNN_OK) return st;
  if ((st = pnn_same_dtype(node, in[1], out, error)) != PNN_OK) return st;
  where_plan *plan = calloc(1, sizeof(*plan));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->size = size;
  if ((st = pnn_bcast_prepare(model, node, in, 3, 0, &plan->bcast, error)) != PNN_OK) {
    free(plan);
    return st;
  }
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = "value-where/scalar";
  return PNN_OK;
}

void pnn_op_where_run(const pnn_model *model, const pnn_node *node, const void *const *in, void *const *out,
                      const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const where_plan *plan = node->params;
  const where_job job = {in[0], in[1], in[2], out[0], plan->size};
  pnn_bcast_for_each_row(&plan->bcast, where_row, &job);
}
