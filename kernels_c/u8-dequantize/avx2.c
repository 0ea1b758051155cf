/* u8 -> f32 DequantizeLinear for AVX2 (contract in pnn_kernels_s8.h), 32 values per step:
 * widen to int32, subtract the zero point, convert (exact: |x - zp| <= 255) and multiply
 * once, the reference's two roundings-free steps and its one rounding. The tail takes the
 * reference. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#include "pnn_x86_act.h" /* PNN_ALWAYS_INLINE */

static PNN_ALWAYS_INLINE void dequantize8(const uint8_t *x, __m256 scale, __m256i zero_point, float *y) {
  const __m256i wide = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)x));
  _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(wide, zero_point)), scale));
}

void pnn_u8_dequantize_f32_avx2(size_t n, const uint8_t *x, float scale, int32_t zero_point, float *y) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i z = _mm256_set1_epi32(zero_point);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    dequantize8(x + i, s, z, y + i);
    dequantize8(x + i + 8, s, z, y + i + 8);
    dequantize8(x + i + 16, s, z, y + i + 16);
    dequantize8(x + i + 24, s, z, y + i + 24);
  }
  pnn_u8_dequantize_f32_scalar(n - i, x + i, scale, zero_point, y + i);
}

PNN_TARGET_END()

#endif /* x86-64 */
