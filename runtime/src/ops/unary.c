/* Element-wise unary operators, codes 10..29 (docs/OPS.md): one prepare/run pair that
 * maps the op code to a kernel kind and its attributes. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "values.h"

typedef struct unary_plan {
  pnn_unary_params params;
  pnn_f32_unary_fn fn; /* chosen at load for this CPU */
} unary_plan;

/* The kernel's kind for a unary op code; false for any other code. */
static bool unary_kind(uint16_t op, int *kind) {
  switch (op) {
    case PNN_OP_RELU: *kind = PNN_UNARY_RELU; return true;
    case PNN_OP_CLIP: *kind = PNN_UNARY_CLIP; return true;
    case PNN_OP_LEAKY_RELU: *kind = PNN_UNARY_LEAKY_RELU; return true;
    case PNN_OP_SIGMOID: *kind = PNN_UNARY_SIGMOID; return true;
    case PNN_OP_HARD_SIGMOID: *kind = PNN_UNARY_HARD_SIGMOID; return true;
    case PNN_OP_HARD_SWISH: *kind = PNN_UNARY_HARD_SWISH; return true;
    case PNN_OP_TANH: *kind = PNN_UNARY_TANH; return true;
    case PNN_OP_ERF: *kind = PNN_UNARY_ERF; return true;
    case PNN_OP_GELU: *kind = PNN_UNARY_GELU; return true;
    case PNN_OP_EXP: *kind = PNN_UNARY_EXP; return true;
    case PNN_OP_SQRT: *kind = PNN_UNARY_SQRT; return true;
    case PNN_OP_ABS: *kind = PNN_UNARY_ABS; return true;
    case PNN_OP_NEG: *kind = PNN_UNARY_NEG; return true;
    case PNN_OP_LOG: *kind = PNN_UNARY_LOG; return true;
    case PNN_OP_RECIPROCAL: *kind = PNN_UNARY_RECIPROCAL; return true;
    case PNN_OP_SOFTPLUS: *kind = PNN_UNARY_SOFTPLUS; return true;
    case PNN_OP_ELU: *kind = PNN_UNARY_ELU; return true;
    case PNN_OP_FLOOR: *kind = PNN_UNARY_FLOOR; return true;
    case PNN_OP_CEIL: *kind = PNN_UNARY_CEIL; return true;
    case PNN_OP_SIGN: *kind = PNN_UNARY_SIGN; return true;
    case PNN_OP_IDENTITY: *kind = PNN_UNARY_COPY; return true;
    default: return false;
  }
}

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
  int kind;
  if (!unary_kind(node->op, &kind)) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': op %u is not a unary op",
                         node->name, (unsigned)node->op);
  }
  /* Identity copies any value dtype; the math needs f32. */
  const bool copy = kind == PNN_UNARY_COPY;
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, copy, error);
  if (st != PNN_OK) return st;
  size_t size = 0;
  if (copy && (st = pnn_same_value_io(model, node, &size, error)) != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  st = pnn_ew_check_dims(node, x, error);
  if (st != PNN_OK) return st;
  st = pnn_check_output_shape(model, node, 0, x->rank, x->dims, error);
  if (st != PNN_OK) return st;

  pnn_unary_params p;
  p.kind = kind;
  st = read_unary_attrs(node, &p, error);
  if (st != PNN_OK) return st;

  unary_plan *plan = malloc(sizeof(*plan));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->params = p;
  const char *isa = "scalar";
  plan->fn = pnn_f32_unary_select(&model->cpu, NULL, &isa);
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = PNN_KERNEL_NAME("f32-unary", isa);
  return PNN_OK;
}

void pnn_op_unary_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                      void *const *out, const pnn_run_context *ctx) {
  (void)ctx;
  const unary_plan *plan = node->params;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if (plan->params.kind == PNN_UNARY_COPY) {
    if (x->nbytes > 0 && in[0] != out[0]) memcpy(out[0], in[0], x->nbytes);
    return;
  }
  plan->fn(&plan->params, x->numel, in[0], out[0]);
}
