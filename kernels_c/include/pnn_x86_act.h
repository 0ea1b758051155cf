/* Vector forms of the fused activations and tail masks shared by the x86 kernels
 * (included inside a file's `PNN_TARGET_BEGIN` region, after defining
 * PNN_X86_ACT_AVX512 or PNN_X86_ACT_AVX2). NaN handling matches pnn_activate (NaN
 * propagates): MAXPS/MINPS return their second operand when either is NaN, so v is
 * always the second operand of a clamp; relu is a compare (not-less-or-equal, true for
 * NaN) and a mask, which also maps -0 to +0 as pnn_relu does. Sigmoid, tanh and swish
 * have no form here (their polynomials would swell every inlined micro-kernel):
 * callers give them a pass after the store (pnn_act_needs_scalar_pass) with the vector
 * pnn_f32_activate_avx512 / _avx2 (f32-unary/; the math itself is in
 * pnn_vhooks_<isa>.h, e.g. pnn_vm512_swish, for a kernel that wants it in registers). */
#ifndef PNN_F32_X86_ACT_H
#define PNN_F32_X86_ACT_H

#include <immintrin.h>

#include "pnn_kernels.h"

#include "pnn_inline.h"

#if defined(PNN_X86_ACT_AVX512)
static PNN_ALWAYS_INLINE __m512 pnn_act512(__m512 v, int kind, __m512 alpha, __m512 beta) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512 one = _mm512_set1_ps(1.0f);
  switch (kind) {
    case PNN_ACT_RELU: return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_NLE_UQ), v);
    case PNN_ACT_CLIP: return _mm512_min_ps(beta, _mm512_max_ps(alpha, v));
    case PNN_ACT_LEAKY_RELU: {
      __mmask16 negative = _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ);
      return _mm512_mask_mul_ps(v, negative, v, alpha);
    }
    case PNN_ACT_HARD_SIGMOID: {
      __m512 y = _mm512_fmadd_ps(alpha, v, beta);
      return _mm512_min_ps(one, _mm512_max_ps(zero, y));
    }
    case PNN_ACT_HARD_SWISH: {
      __m512 y = _mm512_fmadd_ps(v, _mm512_set1_ps(1.0f / 6.0f), _mm512_set1_ps(0.5f));
      y = _mm512_min_ps(one, _mm512_max_ps(zero, y));
      return _mm512_mul_ps(v, y);
    }
    default: return v;
  }
}

static inline __mmask16 pnn_mask16(size_t n) {
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}
#endif

#if defined(PNN_X86_ACT_AVX2)
static PNN_ALWAYS_INLINE __m256 pnn_act256(__m256 v, int kind, __m256 alpha, __m256 beta) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 one = _mm256_set1_ps(1.0f);
  switch (kind) {
    case PNN_ACT_RELU: return _mm256_and_ps(_mm256_cmp_ps(v, zero, _CMP_NLE_UQ), v);
    case PNN_ACT_CLIP: return _mm256_min_ps(beta, _mm256_max_ps(alpha, v));
    case PNN_ACT_LEAKY_RELU: {
      const __m256 negative = _mm256_cmp_ps(v, zero, _CMP_LT_OQ);
      return _mm256_blendv_ps(v, _mm256_mul_ps(v, alpha), negative);
    }
    case PNN_ACT_HARD_SIGMOID: {
      __m256 y = _mm256_fmadd_ps(alpha, v, beta);
      return _mm256_min_ps(one, _mm256_max_ps(zero, y));
    }
    case PNN_ACT_HARD_SWISH: {
      __m256 y = _mm256_fmadd_ps(v, _mm256_set1_ps(1.0f / 6.0f), _mm256_set1_ps(0.5f));
      y = _mm256_min_ps(one, _mm256_max_ps(zero, y));
      return _mm256_mul_ps(v, y);
    }
    default: return v;
  }
}

/* Lane i active when i < n (maskload/maskstore read the sign bit). */
static inline __m256i pnn_mask8(size_t n) {
  const int count = n >= 8 ? 8 : (int)n;
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The first n <= 8 lanes of v to p by plain stores: VMASKMOVPS stores are slow on AMD
 * cores. */
static PNN_ALWAYS_INLINE void pnn_store8_first(float *p, __m256 v, size_t n) {
  if (n >= 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  __m128 part = _mm256_castps256_ps128(v);
  if (n >= 4) {
    _mm_storeu_ps(p, part);
    part = _mm256_extractf128_ps(v, 1);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    _mm_storel_pi((__m64 *)p, part);
    part = _mm_movehl_ps(part, part);
    p += 2;
    n -= 2;
  }
  if (n) _mm_store_ss(p, part);
}
#endif

#endif /* PNN_F32_X86_ACT_H */
