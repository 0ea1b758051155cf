/* Softmax / LogSoftmax (code 57) over one axis: the tensor is viewed as
 * [outer, axis_len, inner]. */
#include <stdlib.h>
#include <string.h>

#include "ew_common.h"

typedef struct softmax_plan {
  size_t outer, axis_len, inner;
  int log_softmax;
  pnn_f32_softmax_fn fn; /* chosen at load for this CPU */
} softmax_plan;

pnn_status pnn_op_softmax_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if ((st = pnn_ew_check_dims(node, x, error)) != PNN_OK) return st;
  const int rank = x->rank;
  if (rank < 1) return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': Softmax of a scalar", node->name);
  int64_t axis = 0, log_flag = 0;
  if ((st = pnn_ew_attr_int(node, "axis", rank - 1, 0, rank - 1, &axis, error)) != PNN_OK) return st;
  if ((st = pnn_ew_attr_int(node, "log", 0, 0, 1, &log_flag, error)) != PNN_OK) return st;
  if ((st = pnn_check_output_shape(model, node, 0, rank, x->dims, error)) != PNN_OK) return st;

  softmax_plan *plan = malloc(sizeof(*plan));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->outer = pnn_ew_prod(x->dims, 0, (int)axis);
  plan->axis_len = (size_t)x->dims[axis];
  plan->inner = pnn_ew_prod(x->dims, (int)axis + 1, rank);
  plan->log_softmax = (int)log_flag;
  node->params = plan;
  /* Per-column max and sum when the axis is strided. */
  node->scratch_bytes = plan->inner > 1 ? 2 * plan->inner * sizeof(float) : 0;
  const char *isa = "scalar";
  plan->fn = pnn_f32_softmax_select(&model->cpu, &isa);
  node->kernel = PNN_KERNEL_NAME("f32-softmax", isa);
  return PNN_OK;
}

void pnn_op_softmax_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                        void *const *out, const pnn_run_context *ctx) {
  void *scratch = ctx->scratch;
  (void)model;
  const softmax_plan *p = node->params;
  p->fn(p->outer, p->axis_len, p->inner, in[0], out[0], p->log_softmax, scratch);
}
