/* Scalar reference of softmax / log-softmax along the middle axis of
 * [outer, axis_len, inner]. Numerically stable: the maximum is subtracted first, and
 * sums are accumulated in double. */
#include <math.h>

#include "pnn_kernels.h"

/* inner == 1: each row is contiguous. */
static void softmax_rows(size_t rows, size_t n, const float *x, float *y, int log_softmax) {
  for (size_t r = 0; r < rows; ++r, x += n, y += n) {
    if (n == 0) continue;
    float max = x[0];
    for (size_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
    if (log_softmax) {
      double sum = 0.0;
      for (size_t i = 0; i < n; ++i) sum += expf(x[i] - max);
      float shift = max + (float)log(sum);
      for (size_t i = 0; i < n; ++i) y[i] = x[i] - shift;
    } else {
      double sum = 0.0;
      for (size_t i = 0; i < n; ++i) {
        float e = expf(x[i] - max);
        y[i] = e;
        sum += e;
      }
      float inv = (float)(1.0 / sum);
      for (size_t i = 0; i < n; ++i) y[i] *= inv;
    }
  }
}

void pnn_f32_softmax_scalar(size_t outer, size_t axis_len, size_t inner, const float *x,
                            float *y, int log_softmax, float *scratch) {
  if (inner == 1) {
    softmax_rows(outer, axis_len, x, y, log_softmax);
    return;
  }
  if (axis_len == 0) return;
  /* Strided axis: sweep whole [inner] rows so the memory access stays contiguous;
   * per-column max and sum live in scratch. */
  float *max = scratch;
  float *sum = scratch + inner;
  const size_t block = axis_len * inner;
  for (size_t o = 0; o < outer; ++o, x += block, y += block) {
    for (size_t j = 0; j < inner; ++j) max[j] = x[j];
    for (size_t k = 1; k < axis_len; ++k) {
      const float *row = x + k * inner;
      for (size_t j = 0; j < inner; ++j) max[j] = row[j] > max[j] ? row[j] : max[j];
    }
    for (size_t j = 0; j < inner; ++j) sum[j] = 0.0f;
    for (size_t k = 0; k < axis_len; ++k) {
      const float *row = x + k * inner;
      float *out = y + k * inner;
      for (size_t j = 0; j < inner; ++j) {
        float e = expf(row[j] - max[j]);
        sum[j] += e;
        if (!log_softmax) out[j] = e;
      }
    }
    if (log_softmax) {
      for (size_t j = 0; j < inner; ++j) max[j] += logf(sum[j]);
      for (size_t k = 0; k < axis_len; ++k) {
        const float *row = x + k * inner;
        float *out = y + k * inner;
        for (size_t j = 0; j < inner; ++j) out[j] = row[j] - max[j];
      }
    } else {
      for (size_t j = 0; j < inner; ++j) sum[j] = 1.0f / sum[j];
      for (size_t k = 0; k < axis_len; ++k) {
        float *out = y + k * inner;
        for (size_t j = 0; j < inner; ++j) out[j] *= sum[j];
      }
    }
  }
}
