/* Split (code 51): cuts the input along `axis` into the outputs, whose sizes along
 * the axis come from the tensor table. The mirror image of Concat, in bytes, for any value
 * dtype. */
#include <stdlib.h>

#include "values.h"

typedef struct split_plan {
  size_t outer;    /* product of dims before the axis */
  size_t in_block; /* input bytes per outer index */
  size_t block[];  /* per output: bytes per outer index */
} split_plan;

pnn_status pnn_op_split_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  if (node->n_outputs < 1) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node '%s': Split needs at least one output",
                         node->name);
  }
  pnn_status st = pnn_check_io(model, node, 1, 1, node->n_outputs, node->n_outputs, true, error);
  if (st != PNN_OK) return st;
  size_t size = 0;
  if ((st = pnn_same_value_io(model, node, &size, error)) != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if ((st = pnn_ew_check_dims(node, x, error)) != PNN_OK) return st;
  const int rank = x->rank;
  if (rank < 1) return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': Split of a scalar", node->name);
  int64_t axis = 0;
  if ((st = pnn_ew_attr_int(node, "axis", 0, 0, rank - 1, &axis, error)) != PNN_OK) return st;

  /* Each output's size along the axis is taken from the table; everything else must
   * match the input, and the sizes must add up. */
  int64_t total = 0;
  int64_t dims[PNN_MAX_RANK];
  memcpy(dims, x->dims, sizeof(dims));
  for (uint32_t i = 0; i < node->n_outputs; ++i) {
    const pnn_tensor *t = pnn_output_tensor(model, node, i);
    if (t->rank != rank || t->dims[axis] < 0 || t->dims[axis] > x->dims[axis]) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': Split output %u has a bad shape",
                           node->name, (unsigned)i);
    }
    dims[axis] = t->dims[axis];
    if ((st = pnn_check_output_shape(model, node, i, rank, dims, error)) != PNN_OK) return st;
    total += t->dims[axis];
  }
  if (total != x->dims[axis]) {
    return pnn_set_error(error, PNN_ERR_SHAPE,
                         "node '%s': Split pieces add up to %lld along axis %lld, input has %lld",
                         node->name, (long long)total, (long long)axis, (long long)x->dims[axis]);
  }

  split_plan *plan = malloc(sizeof(*plan) + node->n_outputs * sizeof(size_t));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  const size_t inner = pnn_ew_prod(x->dims, (int)axis + 1, rank) * size; /* bytes */
  plan->outer = pnn_ew_prod(x->dims, 0, (int)axis);
  plan->in_block = (size_t)x->dims[axis] * inner;
  for (uint32_t i = 0; i < node->n_outputs; ++i) {
    plan->block[i] = (size_t)pnn_output_tensor(model, node, i)->dims[axis] * inner;
  }
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = "copy";
  return PNN_OK;
}

void pnn_op_split_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                      void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const split_plan *plan = node->params;
  const uint8_t *x = in[0];
  size_t offset = 0;
  for (uint32_t i = 0; i < node->n_outputs; ++i) {
    uint8_t *y = out[i];
    const size_t block = plan->block[i];
    if (block == 0) continue;
    for (size_t o = 0; o < plan->outer; ++o) {
      memcpy(y + o * block, x + o * plan->in_block + offset, block);
    }
    offset += block;
  }
}
