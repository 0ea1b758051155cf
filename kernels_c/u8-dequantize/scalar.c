/* u8 -> f32 DequantizeLinear, the reference (contract in pnn_kernels_s8.h). */
#include "pnn_kernels.h"

void pnn_u8_dequantize_f32_scalar(size_t n, const uint8_t *x, float scale, int32_t zero_point, float *y) {
  for (size_t i = 0; i < n; ++i) y[i] = (float)((int32_t)x[i] - zero_point) * scale;
}
