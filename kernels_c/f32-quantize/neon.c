/* f32 -> u8 QuantizeLinear for NEON (contract in pnn_kernels_s8.h), 16 values per step:
 * exact division, NaN replaced by -512 (so it gives 0), clamp to +-512, round to
 * nearest even, add the zero point and narrow with saturation. */
#include "pnn_kernels.h"

#if defined(__aarch64__)

#include <arm_neon.h>

static inline int32x4_t quantize4(const float *x, float32x4_t scale, int32x4_t zero_point) {
  float32x4_t q = vdivq_f32(vld1q_f32(x), scale);
  q = vbslq_f32(vceqq_f32(q, q), q, vdupq_n_f32(-512.0f)); /* NaN (quiet or signaling) -> -512 */
  q = vmaxq_f32(q, vdupq_n_f32(-512.0f));
  q = vminq_f32(q, vdupq_n_f32(512.0f));
  return vaddq_s32(vcvtq_s32_f32(vrndnq_f32(q)), zero_point);
}

void pnn_f32_quantize_u8_neon(size_t n, const float *x, float scale, int32_t zero_point, uint8_t *y) {
  const float32x4_t s = vdupq_n_f32(scale);
  const int32x4_t z = vdupq_n_s32(zero_point);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const int16x8_t lo = vcombine_s16(vqmovn_s32(quantize4(x + i, s, z)), vqmovn_s32(quantize4(x + i + 4, s, z)));
    const int16x8_t hi = vcombine_s16(vqmovn_s32(quantize4(x + i + 8, s, z)), vqmovn_s32(quantize4(x + i + 12, s, z)));
    vst1q_u8(y + i, vcombine_u8(vqmovun_s16(lo), vqmovun_s16(hi)));
  }
  pnn_f32_quantize_u8_scalar(n - i, x + i, scale, zero_point, y + i);
}

#endif /* __aarch64__ */
