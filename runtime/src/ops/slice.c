/* Slice (code 52): out[i] = X[starts + i*steps] per dimension, with starts and steps
 * already resolved and clamped by the converter and the output shape from the table.
 * Prepare checks that the first and the last index of every dim lie inside X. Any value
 * dtype. */
#include <stdlib.h>

#include "values.h"

typedef struct slice_plan {
  int rank;
  size_t size;                     /* bytes per element */
  size_t rows;                     /* output elements / row_len */
  size_t row_len;                  /* output's last dim */
  ptrdiff_t base;                  /* input offset of the first output element */
  ptrdiff_t row_step;              /* input elements per step along the last dim */
  size_t out_dims[PNN_MAX_RANK];
  ptrdiff_t step[PNN_MAX_RANK];    /* input elements per output step, per dim */
} slice_plan;

/* Whether s, s+k, ..., s+(m-1)k all lie in [0, n), given 0 <= s < n and m >= 1. Done
 * by division in unsigned arithmetic so that hostile values (k = INT64_MIN) cannot
 * overflow. */
static bool pnn_slice_walk_fits(int64_t n, int64_t m, int64_t s, int64_t k) {
  const uint64_t magnitude = k > 0 ? (uint64_t)k : 0u - (uint64_t)k;
  const uint64_t room = (uint64_t)(k > 0 ? n - 1 - s : s); /* how far the walk may go */
  return (uint64_t)(m - 1) <= room / magnitude;
}

pnn_status pnn_op_slice_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, true, error);
  if (st != PNN_OK) return st;
  size_t size = 0;
  if ((st = pnn_same_value_io(model, node, &size, error)) != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  const pnn_tensor *y = pnn_output_tensor(model, node, 0);
  if ((st = pnn_ew_check_dims(node, x, error)) != PNN_OK) return st;
  if ((st = pnn_ew_check_dims(node, y, error)) != PNN_OK) return st;
  const int rank = x->rank;
  if (rank < 1 || y->rank != rank) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': Slice of rank %d to rank %d",
                         node->name, rank, y->rank);
  }
  const int64_t *starts = NULL, *steps = NULL;
  if ((st = pnn_ew_attr_ints(node, "starts", (uint32_t)rank, &starts, error)) != PNN_OK) return st;
  if ((st = pnn_ew_attr_ints(node, "steps", (uint32_t)rank, &steps, error)) != PNN_OK) return st;

  slice_plan plan;
  memset(&plan, 0, sizeof(plan));
  plan.rank = rank;
  plan.size = size;
  bool empty = false;
  size_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    const int64_t n = x->dims[d], m = y->dims[d], s = starts[d], k = steps[d];
    if (k == 0) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': Slice step 0 in dim %d",
                           node->name, d);
    }
    if (m == 0) {
      empty = true;
    } else {
      if (s < 0 || s >= n || !pnn_slice_walk_fits(n, m, s, k)) {
        return pnn_set_error(error, PNN_ERR_SHAPE,
                             "node '%s': Slice dim %d (start %lld, step %lld, %lld outputs) "
                             "leaves the input of size %lld",
                             node->name, d, (long long)s, (long long)k, (long long)m, (long long)n);
      }
      plan.base += (ptrdiff_t)(s * (int64_t)stride);
    }
    /* With one output (or none) the step is never taken; it may be any value, so it
     * is not multiplied. Otherwise |k| < n and the product is bounded. */
    plan.step[d] = m > 1 ? (ptrdiff_t)(k * (int64_t)stride) : 0;
    plan.out_dims[d] = (size_t)m;
    stride *= (size_t)n;
  }
  plan.row_len = plan.out_dims[rank - 1];
  plan.row_step = plan.step[rank - 1];
  plan.rows = empty ? 0 : pnn_ew_prod(y->dims, 0, rank - 1);

  slice_plan *params = malloc(sizeof(*params));
  if (!params) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  *params = plan;
  node->params = params;
  node->scratch_bytes = 0;
  node->kernel = "copy";
  return PNN_OK;
}

void pnn_op_slice_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                      void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const slice_plan *p = node->params;
  const uint8_t *x = in[0];
  uint8_t *y = out[0];
  size_t index[PNN_MAX_RANK] = {0};
  ptrdiff_t offset = p->base;
  for (size_t r = 0; r < p->rows; ++r, y += p->row_len * p->size) {
    const uint8_t *src = x + offset * (ptrdiff_t)p->size;
    if (p->row_step == 1) {
      memcpy(y, src, p->row_len * p->size);
    } else {
      pnn_copy_strided(p->size, y, src, p->row_len, p->row_step);
    }
    for (int d = p->rank - 2; d >= 0; --d) {
      offset += p->step[d];
      if (++index[d] < p->out_dims[d]) break;
      offset -= p->step[d] * (ptrdiff_t)p->out_dims[d];
      index[d] = 0;
    }
  }
}
