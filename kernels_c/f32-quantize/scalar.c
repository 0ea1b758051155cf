/* f32 -> u8 QuantizeLinear, the reference (contract in pnn_kernels_s8.h). */
#include "pnn_kernels.h"

static uint8_t quantize_one(float x, float scale, int32_t zero_point) {
  /* Adding and subtracting 1.5 * 2^23 rounds ties to even (the default rounding mode)
   * for |q| < 2^22, like nearbyintf without libm. q is first clamped to +-512, which
   * changes no result (512 + zp >= 255, -512 + zp < 0); NaN fails the first
   * comparison and becomes -512, so it gives 0. */
  const float round_bias = 12582912.0f;
  float q = x / scale; /* float32 division, as the contract */
  q = q >= -512.0f ? q : -512.0f;
  q = q <= 512.0f ? q : 512.0f;
  const int32_t v = (int32_t)((q + round_bias) - round_bias) + zero_point;
  return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

void pnn_f32_quantize_u8_scalar(size_t n, const float *x, float scale, int32_t zero_point, uint8_t *y) {
  for (size_t i = 0; i < n; ++i) y[i] = quantize_one(x[i], scale, zero_point);
}
