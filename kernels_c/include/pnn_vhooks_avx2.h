/* AVX2 + FMA hooks of pnn_vmath.h: the vector math as pnn_vm256_exp, _sigmoid, ...
 * Include inside a `PNN_TARGET_BEGIN("avx2,fma")` region. */
#ifndef PNN_VHOOKS_AVX2_H
#define PNN_VHOOKS_AVX2_H

#include <immintrin.h>
#include <math.h>

#include "pnn_inline.h"

#define PV_F __m256
#define PV_M __m256
#define PV_N 8
#define PV_load(p) _mm256_loadu_ps(p)
#define PV_store(p, v) _mm256_storeu_ps(p, v)
#define PV_splat(f) _mm256_set1_ps(f)
#define PV_add(a, b) _mm256_add_ps(a, b)
#define PV_sub(a, b) _mm256_sub_ps(a, b)
#define PV_mul(a, b) _mm256_mul_ps(a, b)
#define PV_div(a, b) _mm256_div_ps(a, b)
#define PV_fma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define PV_fnma(a, b, c) _mm256_fnmadd_ps(a, b, c)
#define PV_min(a, b) _mm256_min_ps(a, b)
#define PV_max(a, b) _mm256_max_ps(a, b)
#define PV_sqrt(a) _mm256_sqrt_ps(a)
#define PV_round(a) _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define PV_floor(a) _mm256_round_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
#define PV_ceil(a) _mm256_round_ps(a, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC)
#define PV_abs(a) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a)
#define PV_neg(a) _mm256_xor_ps(a, _mm256_set1_ps(-0.0f))
#define PV_lt(a, b) _mm256_cmp_ps(a, b, _CMP_LT_OQ)
#define PV_le(a, b) _mm256_cmp_ps(a, b, _CMP_LE_OQ)
#define PV_gt(a, b) _mm256_cmp_ps(a, b, _CMP_GT_OQ)
#define PV_ge(a, b) _mm256_cmp_ps(a, b, _CMP_GE_OQ)
#define PV_eq(a, b) _mm256_cmp_ps(a, b, _CMP_EQ_OQ)
#define PV_isnan(a) _mm256_cmp_ps(a, a, _CMP_UNORD_Q)
#define PV_blend(m, t, f) _mm256_blendv_ps(f, t, m)
#define PV_copysign(mag, sgn) \
  _mm256_or_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), mag), _mm256_and_ps(_mm256_set1_ps(-0.0f), sgn))
#define PV_exp2i(n) pnn_v256_exp2i(n)
#define PV_mantissa(a) pnn_v256_mantissa(a)
#define PV_exponent(a) pnn_v256_exponent(a)
#define PNN_VM(name) pnn_vm256_##name

static PNN_ALWAYS_INLINE __m256 pnn_v256_exp2i(__m256 n) {
  const __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
  return _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23));
}
static PNN_ALWAYS_INLINE __m256 pnn_v256_mantissa(__m256 a) {
  const __m256i bits = _mm256_and_si256(_mm256_castps_si256(a), _mm256_set1_epi32(0x007FFFFF));
  return _mm256_castsi256_ps(_mm256_or_si256(bits, _mm256_set1_epi32(0x3F000000)));
}
static PNN_ALWAYS_INLINE __m256 pnn_v256_exponent(__m256 a) {
  const __m256i biased = _mm256_srli_epi32(_mm256_castps_si256(a), 23);
  return _mm256_cvtepi32_ps(_mm256_sub_epi32(biased, _mm256_set1_epi32(126)));
}

#include "pnn_vmath.h"

#endif /* PNN_VHOOKS_AVX2_H */
