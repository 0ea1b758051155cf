/* Gather (code 63): out[outer, j, inner] = data[outer, indices[j], inner] along `axis`,
 * for data of any value dtype (rows move by memcpy).
 * Constant indices are s32, resolved to >= 0 by the converter and checked here once,
 * then kept in the plan so run needs no checks. Runtime indices (s32 or s64, e.g. token
 * ids into an embedding) are checked at run: a negative index counts from the end
 * (ONNX), and one still outside [0, axis) gives a row of zeros, never a read out of
 * bounds. */
#include <stdlib.h>

#include "values.h"

typedef struct gather_plan {
  size_t outer, axis_len, inner;
  size_t elem_size;     /* bytes per data element */
  uint8_t index_dtype;  /* runtime indices: s32 or s64; 0: the constant indices below */
  size_t n_indices;
  size_t indices[];
} gather_plan;

pnn_status pnn_op_gather_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 2, 2, 1, 1, true, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *data = pnn_input_tensor(model, node, 0);
  const pnn_tensor *idx = pnn_input_tensor(model, node, 1);
  const pnn_tensor *y = pnn_output_tensor(model, node, 0);
  size_t elem_size = 0;
  if ((st = pnn_value_tensor(node, data, "data", &elem_size, error)) != PNN_OK) return st;
  if ((st = pnn_same_dtype(node, data, y, error)) != PNN_OK) return st;
  if ((st = pnn_value_tensor(node, idx, "indices", NULL, error)) != PNN_OK) return st;
  const bool constant = idx->kind == PNN_TENSOR_CONSTANT && idx->dtype == PNN_DTYPE_S32;
  if (!constant && idx->dtype != PNN_DTYPE_S32 && idx->dtype != PNN_DTYPE_S64) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': Gather indices '%s' are %s, expected s32 or s64",
                         node->name, idx->name, pnn_dtype_name(idx->dtype));
  }
  if (constant && !idx->data) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node '%s': constant indices without data", node->name);
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
  for (size_t j = 0; constant && j < n_indices; ++j) {
    if (values[j] < 0 || values[j] >= limit) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': index %ld is %d, outside [0, %lld)",
                           node->name, (long)j, (int)values[j], (long long)limit);
    }
  }
  gather_plan *plan = malloc(sizeof(*plan) + (constant ? n_indices : 0) * sizeof(size_t));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->outer = pnn_ew_prod(data->dims, 0, (int)axis);
  plan->axis_len = (size_t)limit;
  plan->inner = pnn_ew_prod(data->dims, (int)axis + 1, rank);
  plan->elem_size = elem_size;
  plan->index_dtype = constant ? 0 : idx->dtype;
  plan->n_indices = n_indices;
  for (size_t j = 0; constant && j < n_indices; ++j) plan->indices[j] = (size_t)values[j];
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = "copy";
  return PNN_OK;
}

/* Runtime index j resolved into [0, axis_len), or axis_len when out of range. */
static size_t runtime_index(const gather_plan *p, const void *indices, size_t j) {
  int64_t v = p->index_dtype == PNN_DTYPE_S32 ? (int64_t)((const int32_t *)indices)[j]
                                              : ((const int64_t *)indices)[j];
  const int64_t len = (int64_t)p->axis_len;
  if (v < 0 && v >= -len) v += len;
  return (v >= 0 && v < len) ? (size_t)v : p->axis_len;
}

void pnn_op_gather_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                       void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const gather_plan *p = node->params;
  const uint8_t *x = in[0];
  uint8_t *y = out[0];
  const size_t row = p->inner * p->elem_size;
  if (row == 0) return;
  for (size_t o = 0; o < p->outer; ++o) {
    const uint8_t *block = x + o * p->axis_len * row;
    for (size_t j = 0; j < p->n_indices; ++j, y += row) {
      const size_t k = p->index_dtype ? runtime_index(p, in[1], j) : p->indices[j];
      if (k < p->axis_len) {
        memcpy(y, block + k * row, row);
      } else {
        memset(y, 0, row);
      }
    }
  }
}
