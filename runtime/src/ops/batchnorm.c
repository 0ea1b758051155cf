/* BatchNormalization (op code 5), inference form:
 * y = (x - mean) / sqrt(var + epsilon) * scale + bias, per channel (dim 1). */
#include <math.h>
#include <stdlib.h>

#include "nn_common.h"

typedef struct batchnorm_params {
  size_t batch, channels, inner; /* N, C, product of the dims after C */
  float epsilon;
} batchnorm_params;

pnn_status pnn_op_batchnorm_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 5, 5, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if (x->rank < 2) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (BatchNormalization): X must have rank >= 2",
                         node->name);
  }
  if ((st = pnn_nn_check_dims(node, x, "X", error)) != PNN_OK) return st;
  static const char *const names[4] = {"scale", "bias", "mean", "var"};
  for (uint32_t i = 1; i < 5; ++i) {
    const pnn_tensor *t = pnn_input_tensor(model, node, i);
    if (t->rank != 1 || t->dims[0] != x->dims[1]) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (BatchNormalization): %s must have shape [%lld]",
                           node->name, names[i - 1], (long long)x->dims[1]);
    }
  }
  batchnorm_params p;
  if ((st = pnn_nn_attr_float(node, "epsilon", 1e-5f, &p.epsilon, error)) != PNN_OK) return st;
  if ((st = pnn_check_output_shape(model, node, 0, x->rank, x->dims, error)) != PNN_OK) return st;
  p.batch = (size_t)x->dims[0];
  p.channels = (size_t)x->dims[1];
  p.inner = 1;
  for (int d = 2; d < x->rank; ++d) {
    if (!pnn_nn_mul(p.inner, (size_t)x->dims[d], &p.inner)) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (BatchNormalization): X too large", node->name);
    }
  }
  batchnorm_params *params = malloc(sizeof(*params));
  if (!params) {
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (BatchNormalization): out of memory",
                         node->name);
  }
  *params = p;
  node->params = params;
  node->scratch_bytes = 0;
  node->kernel = "scalar";
  return PNN_OK;
}

void pnn_op_batchnorm_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                          void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const batchnorm_params *p = node->params;
  const float *x = in[0];
  const float *scale = in[1], *bias = in[2], *mean = in[3], *var = in[4];
  float *y = out[0];
  for (size_t c = 0; c < p->channels; ++c) {
    /* Inputs may be runtime tensors, so the per-channel factor is recomputed each run
     * (C square roots, negligible next to the data). Subtracting the mean first, as
     * the definition does, avoids cancellation when x is close to it. */
    const float mul = scale[c] / sqrtf(var[c] + p->epsilon);
    const float m = mean[c], add = bias[c];
    for (size_t b = 0; b < p->batch; ++b) {
      const size_t base = (b * p->channels + c) * p->inner;
      for (size_t i = 0; i < p->inner; ++i) y[base + i] = (x[base + i] - m) * mul + add;
    }
  }
}
