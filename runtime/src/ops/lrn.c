/* LRN (op 64): X [N,C,...], attrs size (odd or even, >= 1), alpha, beta, bias. */
#include <stdlib.h>

#include "ops.h"

typedef struct lrn_params {
  size_t batch, channels, pixels, size;
  float alpha, beta, bias;
} lrn_params;

pnn_status pnn_op_lrn_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status status = pnn_check_io(model, node, 1, 1, 1, 1, false, error);
  if (status != PNN_OK) return status;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if (x->rank < 3) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (LRN): input rank %d, expected >= 3",
                         node->name, x->rank);
  }
  const int64_t size = pnn_attr_int(node, "size", 0);
  if (size < 1 || size > 65535) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (LRN): size %lld must be in [1, 65535]",
                         node->name, (long long)size);
  }
  status = pnn_check_output_shape(model, node, 0, x->rank, x->dims, error);
  if (status != PNN_OK) return status;
  lrn_params *p = malloc(sizeof(*p));
  if (p == NULL) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "out of memory");
  p->batch = (size_t)x->dims[0];
  p->channels = (size_t)x->dims[1];
  p->pixels = (p->batch != 0 && p->channels != 0) ? x->numel / (p->batch * p->channels) : 0;
  p->size = (size_t)size;
  p->alpha = pnn_attr_float(node, "alpha", 1e-4f);
  p->beta = pnn_attr_float(node, "beta", 0.75f);
  p->bias = pnn_attr_float(node, "bias", 1.0f);
  node->params = p;
  node->kernel = "scalar";
  return PNN_OK;
}

void pnn_op_lrn_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                    void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const lrn_params *p = node->params;
  const size_t image = p->channels * p->pixels;
  for (size_t n = 0; n < p->batch; ++n) {
    pnn_f32_lrn_scalar((const float *)in[0] + n * image, (float *)out[0] + n * image, p->channels,
                       p->pixels, p->size, p->alpha, p->beta, p->bias);
  }
}
