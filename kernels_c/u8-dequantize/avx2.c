/* u8 -> f32 DequantizeLinear for AVX2 (contract in pnn_kernels_s8.h), 32 values per step:
 * widen to int32, subtract the zero point, convert (exact: |x - zp| <= 255) and multiply
 * once, the reference's two roundings-free steps and its one rounding. The bias form adds
 * the bias after the product (a separate rounding, as the reference). Tails take the
 * reference. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#include "pnn_x86_act.h" /* PNN_ALWAYS_INLINE */

static PNN_ALWAYS_INLINE __m256 dequantize8(const uint8_t *x, __m256 scale, __m256i zero_point) {
  const __m256i wide = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)x));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(wide, zero_point)), scale);
}

void pnn_u8_dequantize_f32_avx2(size_t n, const uint8_t *x, float scale, int32_t zero_point, float *y) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i z = _mm256_set1_epi32(zero_point);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (size_t j = 0; j < 32; j += 8) _mm256_storeu_ps(y + i + j, dequantize8(x + i + j, s, z));
  }
  pnn_u8_dequantize_f32_scalar(n - i, x + i, scale, zero_point, y + i);
}

void pnn_u8_dequantize_bias_f32_avx2(size_t rows, size_t cols, const uint8_t *x, float scale, int32_t zero_point,
                                     const float *bias, float *y) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i z = _mm256_set1_epi32(zero_point);
  for (size_t r = 0; r < rows; ++r, x += cols, y += cols) {
    size_t c = 0;
    for (; c + 8 <= cols; c += 8)
      _mm256_storeu_ps(y + c, _mm256_add_ps(dequantize8(x + c, s, z), _mm256_loadu_ps(bias + c)));
    pnn_u8_dequantize_bias_f32_scalar(1, cols - c, x + c, scale, zero_point, bias + c, y + c);
  }
}

PNN_TARGET_END()

#endif /* x86-64 */
