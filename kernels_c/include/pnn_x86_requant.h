/* AVX2 requantization of int32 accumulators that share one channel's multiplier and
 * shift (the rule of pnn_requantize): the u8 depthwise kernel (s8-dwconv/avx2.c) and
 * the s8 GEMM micro-tiles (s8-gemm/x86_impl.h), whose vectors run across pixels. AVX2
 * has no 64-bit arithmetic shift: with acc clamped to pnn_requant_acc_bound the result
 * q fits in int32, and adding 2^63 to the rounded product makes it non-negative, so a
 * logical shift is a floor division: (p + 2^(S-1) + 2^63) >>> S = q + 2^(63-S) exactly;
 * its low 32 bits less (2^(63-S) mod 2^32) are q. The clamp to [lo, hi] is left to the
 * caller's saturating packs and a byte min/max.
 *
 * Include inside an AVX2 target region (the functions take that file's ISA). */
#ifndef PNN_X86_REQUANT_H
#define PNN_X86_REQUANT_H

#include <immintrin.h>
#include <stdint.h>

#include "pnn_kernels_s8.h"
#include "pnn_inline.h"

typedef struct pnn_x86_requant8 {
  __m256i bound, neg_bound, multiplier, rounding, offset;
  __m128i shift;
} pnn_x86_requant8;

static PNN_ALWAYS_INLINE pnn_x86_requant8 pnn_x86_requant8_make(int32_t multiplier, int32_t shift,
                                                                int32_t zero_point) {
  pnn_x86_requant8 k;
  const int32_t bound = pnn_requant_acc_bound(multiplier, shift);
  k.bound = _mm256_set1_epi32(bound);
  k.neg_bound = _mm256_set1_epi32(-bound);
  k.multiplier = _mm256_set1_epi64x(multiplier);
  const uint64_t rounding = ((uint64_t)1 << (shift - 1)) | ((uint64_t)1 << 63);
  k.rounding = _mm256_set1_epi64x((long long)rounding);
  /* The low 32 bits of 2^(63-S) less the zero point (mod 2^32): subtracting it leaves
   * q + zero_point. */
  const uint32_t offset = (uint32_t)((uint64_t)1 << (63 - shift)) - (uint32_t)zero_point;
  k.offset = _mm256_set1_epi32((int)offset);
  k.shift = _mm_cvtsi32_si128(shift);
  return k;
}

/* q + zero_point of 8 accumulators as int32, not yet clamped to [lo, hi]. */
static PNN_ALWAYS_INLINE __m256i pnn_x86_requant8_apply(__m256i acc, const pnn_x86_requant8 *k) {
  acc = _mm256_min_epi32(_mm256_max_epi32(acc, k->neg_bound), k->bound);
  __m256i even = _mm256_mul_epi32(acc, k->multiplier);
  __m256i odd = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), k->multiplier);
  even = _mm256_srl_epi64(_mm256_add_epi64(even, k->rounding), k->shift);
  odd = _mm256_srl_epi64(_mm256_add_epi64(odd, k->rounding), k->shift);
  return _mm256_sub_epi32(_mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA), k->offset);
}

#endif /* PNN_X86_REQUANT_H */
