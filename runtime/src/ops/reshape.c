/* Reshape (code 53; also Flatten, Squeeze, Unsqueeze): the same elements under the
 * output's shape from the table. A plain copy, of any value dtype. */
#include "values.h"

pnn_status pnn_op_reshape_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, true, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  const pnn_tensor *y = pnn_output_tensor(model, node, 0);
  if ((st = pnn_value_tensor(node, x, "input", NULL, error)) != PNN_OK) return st;
  if ((st = pnn_same_dtype(node, x, y, error)) != PNN_OK) return st;
  if ((st = pnn_ew_check_dims(node, x, error)) != PNN_OK) return st;
  if ((st = pnn_ew_check_dims(node, y, error)) != PNN_OK) return st;
  if (pnn_ew_prod(x->dims, 0, x->rank) != pnn_ew_prod(y->dims, 0, y->rank) || x->numel != y->numel) {
    return pnn_set_error(error, PNN_ERR_SHAPE,
                         "node '%s': Reshape from %zu to %zu elements", node->name,
                         pnn_ew_prod(x->dims, 0, x->rank), pnn_ew_prod(y->dims, 0, y->rank));
  }
  node->params = NULL;
  node->scratch_bytes = 0;
  node->kernel = "copy";
  return PNN_OK;
}

void pnn_op_reshape_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                        void *const *out, const pnn_run_context *ctx) {
  (void)ctx;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if (in[0] != out[0] && x->nbytes > 0) memcpy(out[0], in[0], x->nbytes);
}
