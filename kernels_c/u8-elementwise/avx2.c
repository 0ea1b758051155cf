/* u8 Add for AVX2 (see pnn_kernels_s8.h and docs/QUANTIZATION.md), 32 bytes per step.
 *
 * Each branch is widened to int32 lanes, (x - z) * M is formed in 64-bit lanes for the
 * even and the odd lanes (vpmuldq), the two branches summed with the rounding term.
 * AVX2 has no 64-bit arithmetic shift: adding 2^63 as well makes the sum
 * non-negative, so a logical shift is the floor division, giving q + 2^(63-s); the low
 * 32 bits less (2^(63-s) mod 2^32) are q whenever q + zy fits in int32. The sum is at
 * most 510 * (2^31 - 1) in magnitude, so that holds for shifts >= 9 (|q| <= 510 * 2^22);
 * smaller shifts (a branch scale over 2^22 times the output's) take the scalar
 * reference.
 * Saturating packs and a byte min/max clamp to [lo, hi]; the tail takes the scalar
 * reference. A broadcast b adds its constant product to the rounding term. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#include "pnn_inline.h"

enum { BLOCK = 32, MIN_SHIFT = 9 };

typedef struct add_consts {
  __m256i a_zero_point, b_zero_point, a_multiplier, b_multiplier;
  __m256i rounding; /* 2^(s-1) + 2^63 (+ the broadcast b's product) */
  __m256i offset;   /* 2^(63-s) mod 2^32 less the output zero point */
  __m128i shift;
  __m256i lo, hi;
} add_consts;

/* (x - zero_point) * multiplier for the even and the odd int32 lanes of x. */
static PNN_ALWAYS_INLINE void products(__m256i x, __m256i zero_point, __m256i multiplier,
                                      __m256i *even, __m256i *odd) {
  const __m256i centered = _mm256_sub_epi32(x, zero_point);
  *even = _mm256_mul_epi32(centered, multiplier);
  *odd = _mm256_mul_epi32(_mm256_srli_epi64(centered, 32), multiplier);
}

static PNN_ALWAYS_INLINE __m256i widen8(const uint8_t *p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

/* 8 outputs as int32 q + zero_point (not yet clamped). */
static PNN_ALWAYS_INLINE __m256i add8(const add_consts *k, const uint8_t *a, const uint8_t *b,
                                      int broadcast) {
  __m256i even, odd;
  products(widen8(a), k->a_zero_point, k->a_multiplier, &even, &odd);
  even = _mm256_add_epi64(even, k->rounding);
  odd = _mm256_add_epi64(odd, k->rounding);
  if (!broadcast) {
    __m256i b_even, b_odd;
    products(widen8(b), k->b_zero_point, k->b_multiplier, &b_even, &b_odd);
    even = _mm256_add_epi64(even, b_even);
    odd = _mm256_add_epi64(odd, b_odd);
  }
  even = _mm256_srl_epi64(even, k->shift);
  odd = _mm256_srl_epi64(odd, k->shift);
  return _mm256_sub_epi32(_mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA), k->offset);
}

/* The whole 32-byte blocks of n; returns how many outputs were written. */
static PNN_ALWAYS_INLINE size_t add_blocks(const add_consts *k, size_t n, const uint8_t *a,
                                           const uint8_t *b, int broadcast, uint8_t *y) {
  /* packs/packus leave dwords [0-3, 8-11, 16-19, 24-27 | 4-7, 12-15, 20-23, 28-31]. */
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  size_t i = 0;
  for (; i + BLOCK <= n; i += BLOCK) {
    const uint8_t *bi = broadcast ? b : b + i; /* only read when not broadcast */
    const size_t step = broadcast ? 0 : 8;
    const __m256i q0 = add8(k, a + i, bi, broadcast), q1 = add8(k, a + i + 8, bi + step, broadcast);
    const __m256i q2 = add8(k, a + i + 16, bi + 2 * step, broadcast);
    const __m256i q3 = add8(k, a + i + 24, bi + 3 * step, broadcast);
    const __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
    const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, order);
    _mm256_storeu_si256((__m256i *)(y + i), _mm256_min_epu8(_mm256_max_epu8(ordered, k->lo), k->hi));
  }
  return i;
}

void pnn_u8_add_avx2(size_t n, const uint8_t *a, const uint8_t *b, size_t b_stride,
                     const pnn_u8_add_params *p, uint8_t *y) {
  if (p->shift < MIN_SHIFT || n < BLOCK) {
    pnn_u8_add_scalar(n, a, b, b_stride, p, y);
    return;
  }
  add_consts k;
  k.a_zero_point = _mm256_set1_epi32(p->a_zero_point);
  k.b_zero_point = _mm256_set1_epi32(p->b_zero_point);
  k.a_multiplier = _mm256_set1_epi64x(p->a_multiplier);
  k.b_multiplier = _mm256_set1_epi64x(p->b_multiplier);
  uint64_t rounding = ((uint64_t)1 << (p->shift - 1)) | ((uint64_t)1 << 63);
  if (b_stride == 0) rounding += (uint64_t)((int64_t)(b[0] - p->b_zero_point) * p->b_multiplier);
  k.rounding = _mm256_set1_epi64x((long long)rounding);
  const uint32_t offset = (uint32_t)((uint64_t)1 << (63 - p->shift)) - (uint32_t)p->zero_point;
  k.offset = _mm256_set1_epi32((int)offset);
  k.shift = _mm_cvtsi32_si128(p->shift);
  k.lo = _mm256_set1_epi8((char)p->lo);
  k.hi = _mm256_set1_epi8((char)p->hi);
  const size_t done = b_stride == 0 ? add_blocks(&k, n, a, b, 1, y) : add_blocks(&k, n, a, b, 0, y);
  pnn_u8_add_scalar(n - done, a + done, b + done * b_stride, b_stride, p, y + done);
}

PNN_TARGET_END()

#endif /* x86-64 */
