/* Scalar reference of the f32 reductions (sum, max, min). Row sums accumulate in
 * double so that the reference stays accurate on long rows. */
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
      for (size_t i = 0; i < n; ++i) acc = x[i] > acc ? x[i] : acc;
      return acc;
    case PNN_REDUCE_MIN:
      for (size_t i = 0; i < n; ++i) acc = x[i] < acc ? x[i] : acc;
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
      for (size_t i = 0; i < n; ++i) acc[i] = x[i] > acc[i] ? x[i] : acc[i];
      break;
    case PNN_REDUCE_MIN:
      for (size_t i = 0; i < n; ++i) acc[i] = x[i] < acc[i] ? x[i] : acc[i];
      break;
    default:
      for (size_t i = 0; i < n; ++i) acc[i] += x[i];
      break;
  }
}
