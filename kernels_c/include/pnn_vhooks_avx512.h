/* AVX-512 F hooks of pnn_vmath.h: the vector math as pnn_vm512_exp, _sigmoid, ...
 * Include inside a `PNN_TARGET_BEGIN("avx512f,...")` region (after <immintrin.h>). */
#ifndef PNN_VHOOKS_AVX512_H
#define PNN_VHOOKS_AVX512_H

#include <immintrin.h>
#include <math.h>

#include "pnn_inline.h"

#define PV_F __m512
#define PV_M __mmask16
#define PV_N 16
#define PV_load(p) _mm512_loadu_ps(p)
#define PV_store(p, v) _mm512_storeu_ps(p, v)
#define PV_splat(f) _mm512_set1_ps(f)
#define PV_add(a, b) _mm512_add_ps(a, b)
#define PV_sub(a, b) _mm512_sub_ps(a, b)
#define PV_mul(a, b) _mm512_mul_ps(a, b)
#define PV_div(a, b) _mm512_div_ps(a, b)
#define PV_fma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define PV_fnma(a, b, c) _mm512_fnmadd_ps(a, b, c)
#define PV_min(a, b) _mm512_min_ps(a, b)
#define PV_max(a, b) _mm512_max_ps(a, b)
#define PV_sqrt(a) _mm512_sqrt_ps(a)
#define PV_round(a) _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define PV_floor(a) _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
#define PV_ceil(a) _mm512_roundscale_ps(a, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC)
#define PV_abs(a) _mm512_abs_ps(a)
#define PV_lt(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)
#define PV_le(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ)
#define PV_gt(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ)
#define PV_ge(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ)
#define PV_eq(a, b) _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ)
#define PV_isnan(a) _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q)
#define PV_blend(m, t, f) _mm512_mask_blend_ps(m, f, t)
#define PV_neg(a) pnn_v512_neg(a)
#define PV_copysign(mag, sgn) pnn_v512_copysign(mag, sgn)
#define PV_exp2i(n) pnn_v512_exp2i(n)
#define PV_mantissa(a) pnn_v512_mantissa(a)
#define PV_exponent(a) pnn_v512_exponent(a)
#define PNN_VM(name) pnn_vm512_##name

static PNN_ALWAYS_INLINE __m512 pnn_v512_neg(__m512 a) {
  return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(INT32_MIN)));
}
/* |mag| with the sign of sgn: bits of sgn where the sign mask is set, else of mag. */
static PNN_ALWAYS_INLINE __m512 pnn_v512_copysign(__m512 mag, __m512 sgn) {
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_set1_epi32(INT32_MIN), _mm512_castps_si512(sgn),
                                                       _mm512_castps_si512(mag), 0xCA));
}
static PNN_ALWAYS_INLINE __m512 pnn_v512_exp2i(__m512 n) {
  const __m512i biased = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
  return _mm512_castsi512_ps(_mm512_slli_epi32(biased, 23));
}
static PNN_ALWAYS_INLINE __m512 pnn_v512_mantissa(__m512 a) {
  const __m512i bits = _mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x007FFFFF));
  return _mm512_castsi512_ps(_mm512_or_si512(bits, _mm512_set1_epi32(0x3F000000)));
}
static PNN_ALWAYS_INLINE __m512 pnn_v512_exponent(__m512 a) {
  const __m512i biased = _mm512_srli_epi32(_mm512_castps_si512(a), 23);
  return _mm512_cvtepi32_ps(_mm512_sub_epi32(biased, _mm512_set1_epi32(126)));
}

#include "pnn_vmath.h"

#endif /* PNN_VHOOKS_AVX512_H */
