/* Scalar reference of the f32 element-wise binary operations. The three operand
 * shapes share one element function; the switch sits outside the loops. Max and Min
 * are NaN when either operand is (onnxruntime's); ties keep a. */
#include <math.h>

#include "pnn_kernels.h"

#define PNN_BINARY_LOOPS(A, B)                                                    \
  switch (kind) {                                                                 \
    case PNN_BINARY_ADD: for (i = 0; i < n; ++i) y[i] = (A) + (B); break;         \
    case PNN_BINARY_SUB: for (i = 0; i < n; ++i) y[i] = (A) - (B); break;         \
    case PNN_BINARY_MUL: for (i = 0; i < n; ++i) y[i] = (A) * (B); break;         \
    case PNN_BINARY_DIV: for (i = 0; i < n; ++i) y[i] = (A) / (B); break;         \
    case PNN_BINARY_POW: for (i = 0; i < n; ++i) y[i] = powf((A), (B)); break;    \
    case PNN_BINARY_MAX:                                                          \
      for (i = 0; i < n; ++i) { float a_ = (A), b_ = (B); y[i] = a_ >= b_ || a_ != a_ ? a_ : b_; } \
      break;                                                                      \
    case PNN_BINARY_MIN:                                                          \
      for (i = 0; i < n; ++i) { float a_ = (A), b_ = (B); y[i] = a_ <= b_ || a_ != a_ ? a_ : b_; } \
      break;                                                                      \
    default: /* PNN_BINARY_PRELU */                                               \
      for (i = 0; i < n; ++i) { float a_ = (A), b_ = (B); y[i] = a_ >= 0.0f ? a_ : a_ * b_; } \
      break;                                                                      \
  }

void pnn_f32_binary_vv_scalar(int kind, size_t n, const float *a, const float *b, float *y) {
  size_t i;
  PNN_BINARY_LOOPS(a[i], b[i])
}

void pnn_f32_binary_vs_scalar(int kind, size_t n, const float *a, float b, float *y) {
  size_t i;
  PNN_BINARY_LOOPS(a[i], b)
}

void pnn_f32_binary_sv_scalar(int kind, size_t n, float a, const float *b, float *y) {
  size_t i;
  PNN_BINARY_LOOPS(a, b[i])
}
