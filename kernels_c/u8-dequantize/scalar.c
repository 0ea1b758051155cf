/* u8 -> f32 DequantizeLinear, the reference (contract in pnn_kernels_s8.h). */
#include "pnn_kernels.h"

void pnn_u8_dequantize_f32_scalar(size_t n, const uint8_t *x, float scale, int32_t zero_point, float *y) {
  for (size_t i = 0; i < n; ++i) y[i] = (float)((int32_t)x[i] - zero_point) * scale;
}

void pnn_u8_dequantize_bias_f32_scalar(size_t rows, size_t cols, const uint8_t *x, float scale, int32_t zero_point,
                                       const float *bias, float *y) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      const float value = (float)((int32_t)x[r * cols + c] - zero_point) * scale;
      y[r * cols + c] = value + bias[c];
    }
  }
}
