/* Element-wise unary operators, codes 10..29 (docs/OPS.md): one prepare/run pair that
 * maps the op code to a kernel kind and its attributes. */
#include <float.h>
#include <stdlib.h>

#include "ew_common.h"

/* Indexed by op code - 10. */
static const int UNARY_KIND[] = {
    PNN_UNARY_RELU,       PNN_UNARY_CLIP,       PNN_UNARY_LEAKY_RELU, PNN_UNARY_SIGMOID,
    PNN_UNARY_HARD_SIGMOID, PNN_UNARY_HARD_SWISH, PNN_UNARY_TANH,     PNN_UNARY_ERF,
    PNN_UNARY_GELU,       PNN_UNARY_EXP,        PNN_UNARY_SQRT,       PNN_UNARY_ABS,
    PNN_UNARY_NEG,        PNN_UNARY_LOG,        PNN_UNARY_RECIPROCAL, PNN_UNARY_SOFTPLUS,
    PNN_UNARY_ELU,        PNN_UNARY_FLOOR,      PNN_UNARY_CEIL,       PNN_UNARY_COPY,
};
#define UNARY_FIRST_CODE 10
#define UNARY_COUNT (sizeof(UNARY_KIND) / sizeof(UNARY_KIND[0]))

/* Reads the op's attributes into p->alpha / p->beta, with ONNX's defaults. */
static pnn_status read_unary_attrs(const pnn_node *node, pnn_unary_params *p, pnn_error *error) {
  pnn_status st = PNN_OK;
  p->alpha = 0.0f;
  p->beta = 0.0f;
  switch (p->kind) {
    case PNN_UNARY_CLIP:
      /* ONNX's defaults: the lowest and largest finite float (so -inf becomes -FLT_MAX). */
      st = pnn_ew_attr_float(node, "min", -FLT_MAX, &p->alpha, error);
      if (st == PNN_OK) st = pnn_ew_attr_float(node, "max", FLT_MAX, &p->beta, error);
      break;
    case PNN_UNARY_LEAKY_RELU:
      st = pnn_ew_attr_float(node, "alpha", 0.01f, &p->alpha, error);
      break;
    case PNN_UNARY_HARD_SIGMOID:
      st = pnn_ew_attr_float(node, "alpha", 0.2f, &p->alpha, error);
      if (st == PNN_OK) st = pnn_ew_attr_float(node, "beta", 0.5f, &p->beta, error);
      break;
    case PNN_UNARY_ELU:
      st = pnn_ew_attr_float(node, "alpha", 1.0f, &p->alpha, error);
      break;
    case PNN_UNARY_GELU: {
      int64_t approximate = 0;
      st = pnn_ew_attr_int(node, "approximate", 0, 0, 1, &approximate, error);
      if (approximate == 1) p->kind = PNN_UNARY_GELU_TANH;
      break;
    }
    default:
      break;
  }
  return st;
}

pnn_status pnn_op_unary_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  if (node->op < UNARY_FIRST_CODE || node->op >= UNARY_FIRST_CODE + UNARY_COUNT) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': op %u is not a unary op",
                         node->name, (unsigned)node->op);
  }
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  st = pnn_ew_check_dims(node, x, error);
  if (st != PNN_OK) return st;
  st = pnn_check_output_shape(model, node, 0, x->rank, x->dims, error);
  if (st != PNN_OK) return st;

  pnn_unary_params p;
  p.kind = UNARY_KIND[node->op - UNARY_FIRST_CODE];
  st = read_unary_attrs(node, &p, error);
  if (st != PNN_OK) return st;

  pnn_unary_params *params = malloc(sizeof(*params));
  if (!params) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  *params = p;
  node->params = params;
  node->scratch_bytes = 0;
  node->kernel = "f32-unary/scalar";
  return PNN_OK;
}

void pnn_op_unary_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                      void *const *out, const pnn_run_context *ctx) {
  (void)ctx;
  const pnn_unary_params *p = node->params;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  pnn_f32_unary_scalar(p, x->numel, in[0], out[0]);
}
