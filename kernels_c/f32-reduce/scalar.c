/* Scalar reference of the f32 reductions (sum, max, min). Row sums accumulate in
 * double so that the reference stays accurate on long rows. Max and min are NaN when
 * any element is (onnxruntime's ReduceMax / ReduceMin). */
#include <math.h>

#include "pnn_kernels.h"

float pnn_f32_reduce_identity(int kind) {
  switch (kind) {
    case PNN_REDUCE_MAX: return -INFINITY;
    case PNN_REDUCE_MIN: return INFINITY;
    default: return 0.0f;
  }
}

float pnn_f32_reduce_row_scalar(int kind, size_t n, const float *x, float acc) {
  switch (kind) {
    case PNN_REDUCE_MAX:
      for (size_t i = 0; i < n; ++i) acc = pnn_max_nan(acc, x[i]);
      return acc;
    case PNN_REDUCE_MIN:
      for (size_t i = 0; i < n; ++i) acc = pnn_min_nan(acc, x[i]);
      return acc;
    default: {
      double sum = acc;
      for (size_t i = 0; i < n; ++i) sum += x[i];
      return (float)sum;
    }
  }
}

void pnn_f32_reduce_accumulate_scalar(int kind, size_t n, const float *x, float *acc) {
  switch (kind) {
    case PNN_REDUCE_MAX:
      for (size_t i = 0; i < n; ++i) acc[i] = pnn_max_nan(acc[i], x[i]);
      break;
    case PNN_REDUCE_MIN:
      for (size_t i = 0; i < n; ++i) acc[i] = pnn_min_nan(acc[i], x[i]);
      break;
    default:
      for (size_t i = 0; i < n; ++i) acc[i] += x[i];
      break;
  }
}
