/* Gather (code 63): out[outer, j, inner] = data[outer, indices[j], inner] along `axis`;
 * indices are an s32 constant, resolved to >= 0 by the converter and checked here
 * once, then kept in the plan so run needs no checks. */
#include <stdlib.h>

#include "ew_common.h"

typedef struct gather_plan {
  size_t outer, axis_len, inner;
  size_t n_indices;
  size_t indices[];
} gather_plan;

pnn_status pnn_op_gather_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 2, 2, 1, 1, true, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *data = pnn_input_tensor(model, node, 0);
  const pnn_tensor *idx = pnn_input_tensor(model, node, 1);
  const pnn_tensor *y = pnn_output_tensor(model, node, 0);
  if (data->dtype != PNN_DTYPE_F32 || y->dtype != PNN_DTYPE_F32) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': Gather supports f32 data only",
                         node->name);
  }
  if (idx->dtype != PNN_DTYPE_S32 || idx->kind != PNN_TENSOR_CONSTANT || !idx->data) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                         "node '%s': Gather indices must be an s32 constant", node->name);
  }
  if ((st = pnn_ew_check_dims(node, data, error)) != PNN_OK) return st;
  if ((st = pnn_ew_check_dims(node, idx, error)) != PNN_OK) return st;
  const int rank = data->rank;
  if (rank < 1) return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': Gather from a scalar", node->name);
  if (rank + idx->rank - 1 > PNN_MAX_RANK) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': Gather output rank %d > %d",
                         node->name, rank + idx->rank - 1, PNN_MAX_RANK);
  }
  int64_t axis = 0;
  if ((st = pnn_ew_attr_int(node, "axis", 0, 0, rank - 1, &axis, error)) != PNN_OK) return st;

  int64_t dims[PNN_MAX_RANK];
  int out_rank = 0;
  for (int d = 0; d < axis; ++d) dims[out_rank++] = data->dims[d];
  for (int d = 0; d < idx->rank; ++d) dims[out_rank++] = idx->dims[d];
  for (int d = (int)axis + 1; d < rank; ++d) dims[out_rank++] = data->dims[d];
  if ((st = pnn_check_output_shape(model, node, 0, out_rank, dims, error)) != PNN_OK) return st;

  const size_t n_indices = pnn_ew_prod(idx->dims, 0, idx->rank);
  if (n_indices != idx->numel) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': indices element count mismatch", node->name);
  }
  const int32_t *values = idx->data;
  const int64_t limit = data->dims[axis];
  for (size_t j = 0; j < n_indices; ++j) {
    if (values[j] < 0 || values[j] >= limit) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': index %ld is %d, outside [0, %lld)",
                           node->name, (long)j, (int)values[j], (long long)limit);
    }
  }
  gather_plan *plan = malloc(sizeof(*plan) + n_indices * sizeof(size_t));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->outer = pnn_ew_prod(data->dims, 0, (int)axis);
  plan->axis_len = (size_t)limit;
  plan->inner = pnn_ew_prod(data->dims, (int)axis + 1, rank);
  plan->n_indices = n_indices;
  for (size_t j = 0; j < n_indices; ++j) plan->indices[j] = (size_t)values[j];
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = "copy";
  return PNN_OK;
}

void pnn_op_gather_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                       void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const gather_plan *p = node->params;
  const float *x = in[0];
  float *y = out[0];
  if (p->inner == 0) return;
  for (size_t o = 0; o < p->outer; ++o) {
    const float *block = x + o * p->axis_len * p->inner;
    for (size_t j = 0; j < p->n_indices; ++j, y += p->inner) {
      memcpy(y, block + p->indices[j] * p->inner, p->inner * sizeof(float));
    }
  }
}
