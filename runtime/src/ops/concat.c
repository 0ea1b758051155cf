/* Concat (code 50): joins the inputs (of any one value dtype) along `axis`. Each input is
 * copied as [outer, dim_i * inner] blocks into the output's [outer, dim_out * inner] rows;
 * blocks are counted in bytes. */
#include <stdlib.h>

#include "values.h"

typedef struct concat_plan {
  size_t outer;     /* product of dims before the axis */
  size_t out_block; /* output bytes per outer index */
  size_t block[];   /* per input: bytes per outer index */
} concat_plan;

pnn_status pnn_op_concat_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  if (node->n_inputs < 1) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node '%s': Concat needs at least one input",
                         node->name);
  }
  pnn_status st = pnn_check_io(model, node, node->n_inputs, node->n_inputs, 1, 1, true, error);
  if (st != PNN_OK) return st;
  size_t size = 0;
  if ((st = pnn_same_value_io(model, node, &size, error)) != PNN_OK) return st;
  const pnn_tensor *first = pnn_input_tensor(model, node, 0);
  const int rank = first->rank;
  if (rank < 1) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': Concat of scalars", node->name);
  }
  int64_t axis = 0;
  if (!pnn_node_attr(node, "axis")) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node '%s': attribute 'axis' is required", node->name);
  }
  if ((st = pnn_ew_attr_int(node, "axis", 0, 0, rank - 1, &axis, error)) != PNN_OK) return st;

  int64_t dims[PNN_MAX_RANK];
  memcpy(dims, first->dims, sizeof(dims));
  dims[axis] = 0;
  for (uint32_t i = 0; i < node->n_inputs; ++i) {
    const pnn_tensor *t = pnn_input_tensor(model, node, i);
    if ((st = pnn_ew_check_dims(node, t, error)) != PNN_OK) return st;
    bool ok = t->rank == rank;
    for (int d = 0; ok && d < rank; ++d) ok = d == axis || t->dims[d] == first->dims[d];
    if (!ok) {
      return pnn_set_error(error, PNN_ERR_SHAPE,
                           "node '%s': Concat input %u does not match input 0 outside axis %lld",
                           node->name, (unsigned)i, (long long)axis);
    }
    dims[axis] += t->dims[axis];
  }
  if ((st = pnn_check_output_shape(model, node, 0, rank, dims, error)) != PNN_OK) return st;

  concat_plan *plan = malloc(sizeof(*plan) + node->n_inputs * sizeof(size_t));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  const size_t inner = pnn_ew_prod(dims, (int)axis + 1, rank) * size; /* bytes */
  plan->outer = pnn_ew_prod(dims, 0, (int)axis);
  plan->out_block = (size_t)dims[axis] * inner;
  for (uint32_t i = 0; i < node->n_inputs; ++i) {
    plan->block[i] = (size_t)pnn_input_tensor(model, node, i)->dims[axis] * inner;
  }
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = "copy";
  return PNN_OK;
}

void pnn_op_concat_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                       void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const concat_plan *plan = node->params;
  uint8_t *y = out[0];
  size_t offset = 0;
  for (uint32_t i = 0; i < node->n_inputs; ++i) {
    const uint8_t *x = in[i];
    const size_t block = plan->block[i];
    if (block == 0) continue;
    for (size_t o = 0; o < plan->outer; ++o) {
      memcpy(y + o * plan->out_block + offset, x + o * block, block);
    }
    offset += block;
  }
}
