/* Scalar reference of layer normalization: two passes (mean, then variance of the
 * centred values) in double, which avoids the cancellation of E[x^2] - E[x]^2. */
#include <math.h>

#include "pnn_kernels.h"

void pnn_f32_layernorm_scalar(size_t rows, size_t n, const float *x, const float *scale,
                              const float *bias, float epsilon, float *y) {
  if (n == 0) return;
  for (size_t r = 0; r < rows; ++r, x += n, y += n) {
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += x[i];
    const double mean = sum / (double)n;
    double sq = 0.0;
    for (size_t i = 0; i < n; ++i) {
      double d = x[i] - mean;
      sq += d * d;
    }
    const float inv_std = (float)(1.0 / sqrt(sq / (double)n + (double)epsilon));
    const float fmean = (float)mean;
    if (bias) {
      for (size_t i = 0; i < n; ++i) y[i] = (x[i] - fmean) * inv_std * scale[i] + bias[i];
    } else {
      for (size_t i = 0; i < n; ++i) y[i] = (x[i] - fmean) * inv_std * scale[i];
    }
  }
}
