/* f32 -> u8 QuantizeLinear for AVX2 (contract in pnn_kernels_s8.h), 32 values per step:
 * exact float32 division, clamp to +-512 (maxps returns its second operand for NaN, so
 * NaN becomes -512 and then 0), round to nearest even, add the zero point in int32 and
 * saturate to u8 with the packs. The tail takes the reference. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#include "pnn_x86_act.h" /* PNN_ALWAYS_INLINE */

static PNN_ALWAYS_INLINE __m256i quantize8(const float *x, __m256 scale, __m256i zero_point) {
  __m256 q = _mm256_div_ps(_mm256_loadu_ps(x), scale);
  q = _mm256_max_ps(q, _mm256_set1_ps(-512.0f));
  q = _mm256_min_ps(q, _mm256_set1_ps(512.0f));
  q = _mm256_round_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm256_add_epi32(_mm256_cvtps_epi32(q), zero_point);
}

void pnn_f32_quantize_u8_avx2(size_t n, const float *x, float scale, int32_t zero_point, uint8_t *y) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i z = _mm256_set1_epi32(zero_point);
  /* packs work per 128-bit lane: this puts the four groups of 8 back in order. */
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a = quantize8(x + i, s, z), b = quantize8(x + i + 8, s, z);
    const __m256i c = quantize8(x + i + 16, s, z), d = quantize8(x + i + 24, s, z);
    const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd), order);
    _mm256_storeu_si256((__m256i *)(y + i), bytes);
  }
  pnn_f32_quantize_u8_scalar(n - i, x + i, scale, zero_point, y + i);
}

PNN_TARGET_END()

#endif /* x86-64 */
