/* LayerNormalization (code 62): X viewed as [rows, n] with n = prod(dims[axis..r));
 * scale and the optional bias broadcast over the normalized dims. When they are
 * smaller than n (a real broadcast) they must be constants and are expanded to n
 * values once, at prepare, so the kernel always sees full rows. */
#include <math.h>
#include <stdlib.h>

#include "ew_common.h"
#include "nn_common.h"

typedef struct layernorm_plan {
  size_t rows, n;
  float epsilon;
  pnn_f32_layernorm_fn fn;
  int scale_expanded; /* scale values live in `expanded` (else: the input) */
  int bias_expanded;
  int has_bias;
  float expanded[];   /* scale (n) then bias (n), only for the expanded ones */
} layernorm_plan;

/* t broadcastable to the normalized dims (right-aligned; extra leading dims are 1). */
static bool broadcasts_to(const pnn_tensor *t, int norm_rank, const int64_t *norm_dims) {
  for (int k = 0; k < t->rank; ++k) {
    const int64_t td = t->dims[t->rank - 1 - k];
    if (k >= norm_rank) {
      if (td != 1) return false;
    } else if (td != 1 && td != norm_dims[norm_rank - 1 - k]) {
      return false;
    }
  }
  return true;
}

/* dst[i] for every normalized position i = t's value broadcast there. */
static void expand(const pnn_tensor *t, int norm_rank, const int64_t *norm_dims, size_t n,
                   float *dst) {
  const float *src = t->data;
  for (size_t i = 0; i < n; ++i) {
    size_t rest = i, src_index = 0, src_stride = 1;
    for (int k = 0; k < norm_rank; ++k) {
      const size_t dim = (size_t)norm_dims[norm_rank - 1 - k];
      const size_t coord = rest % dim;
      rest /= dim;
      if (k < t->rank) {
        const size_t td = (size_t)t->dims[t->rank - 1 - k];
        if (td != 1) src_index += coord * src_stride;
        src_stride *= td;
      }
    }
    dst[i] = src[src_index];
  }
}

pnn_status pnn_op_layernorm_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 2, 3, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  const pnn_tensor *scale = pnn_input_tensor(model, node, 1);
  const pnn_tensor *bias = pnn_input_tensor(model, node, 2);
  if ((st = pnn_ew_check_dims(node, x, error)) != PNN_OK) return st;
  if ((st = pnn_ew_check_dims(node, scale, error)) != PNN_OK) return st;
  if (bias && (st = pnn_ew_check_dims(node, bias, error)) != PNN_OK) return st;
  const int rank = x->rank;
  if (rank < 1) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': LayerNormalization of a scalar", node->name);
  }
  int64_t axis = 0;
  float epsilon = 0.0f;
  if ((st = pnn_ew_attr_int(node, "axis", rank - 1, 0, rank - 1, &axis, error)) != PNN_OK) return st;
  if ((st = pnn_ew_attr_float(node, "epsilon", 1e-5f, &epsilon, error)) != PNN_OK) return st;
  if (!(epsilon >= 0.0f) || !isfinite(epsilon)) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': epsilon %g", node->name,
                         (double)epsilon);
  }
  if ((st = pnn_check_output_shape(model, node, 0, rank, x->dims, error)) != PNN_OK) return st;

  const int norm_rank = rank - (int)axis;
  const int64_t *norm_dims = x->dims + axis;
  const size_t n = pnn_ew_prod(x->dims, (int)axis, rank);
  const pnn_tensor *params_in[2] = {scale, bias};
  int expanded[2] = {0, 0};
  for (int j = 0; j < 2; ++j) {
    const pnn_tensor *t = params_in[j];
    if (!t) continue;
    if (!broadcasts_to(t, norm_rank, norm_dims)) {
      return pnn_set_error(error, PNN_ERR_SHAPE,
                           "node '%s': %s does not broadcast to the normalized dims", node->name,
                           j == 0 ? "scale" : "bias");
    }
    if (t->numel != n) {
      if (t->kind != PNN_TENSOR_CONSTANT || !t->data) {
        return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                             "node '%s': a broadcast %s must be a constant", node->name,
                             j == 0 ? "scale" : "bias");
      }
      expanded[j] = 1;
    }
  }

  const size_t n_expanded = (size_t)(expanded[0] + expanded[1]) * n;
  layernorm_plan *plan = malloc(sizeof(*plan) + n_expanded * sizeof(float));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->n = n;
  plan->rows = n == 0 ? 0 : pnn_ew_prod(x->dims, 0, rank) / n;
  plan->epsilon = epsilon;
  plan->scale_expanded = expanded[0];
  plan->bias_expanded = expanded[1];
  plan->has_bias = bias != NULL;
  float *dst = plan->expanded;
  for (int j = 0; j < 2; ++j) {
    if (!expanded[j]) continue;
    expand(params_in[j], norm_rank, norm_dims, n, dst);
    dst += n;
  }
  node->params = plan;
  node->scratch_bytes = 0;
  const char *isa = "scalar";
  plan->fn = pnn_f32_layernorm_select(&model->cpu, &isa);
  node->kernel = PNN_KERNEL_NAME("f32-layernorm", isa);
  return PNN_OK;
}

void pnn_op_layernorm_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                          void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const layernorm_plan *p = node->params;
  const float *scale = p->scale_expanded ? p->expanded : in[1];
  const float *bias = NULL;
  if (p->has_bias) bias = p->bias_expanded ? p->expanded + (p->scale_expanded ? p->n : 0) : in[2];
  p->fn(p->rows, p->n, in[0], scale, bias, p->epsilon, out[0]);
}
