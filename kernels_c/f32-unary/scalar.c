/* Scalar reference of the f32 element-wise unary functions and of the fused
 * activation. One loop per kind so that the switch is outside the loop. NaN in, NaN
 * out for every kind, as in onnxruntime (the comparisons below are false for NaN, so
 * each clamp returns its input). */
#include <math.h>

#include "pnn_kernels.h"

void pnn_f32_activate_scalar(float *x, size_t n, pnn_activation act) {
  if (act.kind == PNN_ACT_NONE) return;
  for (size_t i = 0; i < n; ++i) x[i] = pnn_activate(x[i], act);
}

/* Written so that neither branch overflows: e^-|x| <= 1. */
static inline float sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}

/* log(1 + e^x) = max(x, 0) + log1p(e^-|x|): exact for large |x|. */
static inline float softplus(float x) {
  return (x > 0.0f ? x : 0.0f) + log1pf(expf(-fabsf(x)));
}

void pnn_f32_unary_scalar(const pnn_unary_params *p, size_t n, const float *x, float *y) {
  const float alpha = p->alpha, beta = p->beta;
  size_t i;
  switch (p->kind) {
    case PNN_UNARY_RELU:
      for (i = 0; i < n; ++i) y[i] = pnn_relu(x[i]);
      break;
    case PNN_UNARY_CLIP:
      /* onnxruntime's order: max with the low bound first, then min with the high. */
      for (i = 0; i < n; ++i) {
        float v = x[i] < alpha ? alpha : x[i];
        y[i] = v > beta ? beta : v;
      }
      break;
    case PNN_UNARY_LEAKY_RELU:
      for (i = 0; i < n; ++i) y[i] = x[i] >= 0.0f ? x[i] : alpha * x[i];
      break;
    case PNN_UNARY_SIGMOID:
      for (i = 0; i < n; ++i) y[i] = sigmoid(x[i]);
      break;
    case PNN_UNARY_HARD_SIGMOID:
      for (i = 0; i < n; ++i) {
        float v = alpha * x[i] + beta;
        y[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
      }
      break;
    case PNN_UNARY_HARD_SWISH:
      for (i = 0; i < n; ++i) {
        float v = x[i] * (1.0f / 6.0f) + 0.5f;
        v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        y[i] = x[i] * v;
      }
      break;
    case PNN_UNARY_TANH:
      for (i = 0; i < n; ++i) y[i] = tanhf(x[i]);
      break;
    case PNN_UNARY_ERF:
      for (i = 0; i < n; ++i) y[i] = erff(x[i]);
      break;
    case PNN_UNARY_GELU:
      for (i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
      break;
    case PNN_UNARY_GELU_TANH:
      for (i = 0; i < n; ++i) {
        float v = x[i];
        float inner = 0.79788456080286536f * (v + 0.044715f * v * v * v); /* sqrt(2/pi) */
        y[i] = 0.5f * v * (1.0f + tanhf(inner));
      }
      break;
    case PNN_UNARY_EXP:
      for (i = 0; i < n; ++i) y[i] = expf(x[i]);
      break;
    case PNN_UNARY_SQRT:
      for (i = 0; i < n; ++i) y[i] = sqrtf(x[i]);
      break;
    case PNN_UNARY_ABS:
      for (i = 0; i < n; ++i) y[i] = fabsf(x[i]);
      break;
    case PNN_UNARY_NEG:
      for (i = 0; i < n; ++i) y[i] = -x[i];
      break;
    case PNN_UNARY_LOG:
      for (i = 0; i < n; ++i) y[i] = logf(x[i]);
      break;
    case PNN_UNARY_RECIPROCAL:
      for (i = 0; i < n; ++i) y[i] = 1.0f / x[i];
      break;
    case PNN_UNARY_SOFTPLUS:
      for (i = 0; i < n; ++i) y[i] = softplus(x[i]);
      break;
    case PNN_UNARY_ELU:
      for (i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : alpha * expm1f(x[i]);
      break;
    case PNN_UNARY_FLOOR:
      for (i = 0; i < n; ++i) y[i] = floorf(x[i]);
      break;
    case PNN_UNARY_CEIL:
      for (i = 0; i < n; ++i) y[i] = ceilf(x[i]);
      break;
    case PNN_UNARY_SIGN:
      /* x + 0 turns -0 into +0 and keeps NaN, as onnxruntime's Sign. */
      for (i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? 1.0f : (x[i] < 0.0f ? -1.0f : x[i] + 0.0f);
      break;
    default: /* PNN_UNARY_COPY */
      for (i = 0; i < n; ++i) y[i] = x[i];
      break;
  }
}
