/* Helpers shared by the x86 s8 GEMM variants. Included inside each file's
 * `#pragma GCC target` region, so every function is compiled for that file's ISA:
 * the X panel packers need only SSE2 (the x86-64 baseline), the 8-lane
 * requantization needs AVX2.
 *
 * X panels (the scratch): the tile's pixels go in chunks of 16. For each group of k
 * (4 u8 for vpdpbusd, 2 widened i16 for vpmaddwd) and each chunk, 64 bytes hold
 * pixel 0's group, pixel 1's group, ... so one vector load gives 16 (zmm) or 8 (ymm)
 * pixels' groups, matching the broadcast weight group of one row. Pixels past the
 * tile's width and k past K are zero. */
#ifndef PNN_S8_GEMM_X86_IMPL_H
#define PNN_S8_GEMM_X86_IMPL_H

#include <immintrin.h>
#include <string.h>

#include "pnn_kernels.h"
#if defined(PNN_S8_X86_YMM)
#include "pnn_x86_requant.h"
#endif

#include "pnn_inline.h"

enum { PNN_S8_CHUNK = 16 /* pixels per 64-byte panel chunk */ };

static inline int32_t pnn_s8_load_i32(const void *p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* 16 pixels of one X row, zero past `valid` (fewer than 16 only in the last tile). */
static inline __m128i pnn_s8_load_pixels16(const uint8_t *row, size_t valid) {
  if (valid >= PNN_S8_CHUNK) return _mm_loadu_si128((const __m128i *)row);
  uint8_t buf[PNN_S8_CHUNK] = {0};
  memcpy(buf, row, valid);
  return _mm_loadu_si128((const __m128i *)buf);
}

/* Row k of the tile (X points at the tile's first pixel), zero past K. */
static inline __m128i pnn_s8_load_chunk(const uint8_t *X, size_t ldx, size_t K, size_t k,
                                        size_t chunk, size_t width) {
  if (k >= K) return _mm_setzero_si128();
  return pnn_s8_load_pixels16(X + k * ldx + chunk * PNN_S8_CHUNK, width - chunk * PNN_S8_CHUNK);
}

/* u8 quads: panel[(q * chunks + c) * 64 + 4 * p + j] = X[4q + j][16c + p]. */
static inline void pnn_s8_pack_x_quads(const uint8_t *X, size_t ldx, size_t K, size_t k_quads,
                                size_t width, size_t chunks, uint8_t *panel) {
  for (size_t q = 0; q < k_quads; ++q) {
    for (size_t c = 0; c < chunks; ++c) {
      const __m128i r0 = pnn_s8_load_chunk(X, ldx, K, 4 * q + 0, c, width);
      const __m128i r1 = pnn_s8_load_chunk(X, ldx, K, 4 * q + 1, c, width);
      const __m128i r2 = pnn_s8_load_chunk(X, ldx, K, 4 * q + 2, c, width);
      const __m128i r3 = pnn_s8_load_chunk(X, ldx, K, 4 * q + 3, c, width);
      const __m128i r01_lo = _mm_unpacklo_epi8(r0, r1), r01_hi = _mm_unpackhi_epi8(r0, r1);
      const __m128i r23_lo = _mm_unpacklo_epi8(r2, r3), r23_hi = _mm_unpackhi_epi8(r2, r3);
      __m128i *out = (__m128i *)(panel + (q * chunks + c) * 64);
      _mm_store_si128(out + 0, _mm_unpacklo_epi16(r01_lo, r23_lo)); /* pixels 0..3 */
      _mm_store_si128(out + 1, _mm_unpackhi_epi16(r01_lo, r23_lo)); /* pixels 4..7 */
      _mm_store_si128(out + 2, _mm_unpacklo_epi16(r01_hi, r23_hi)); /* pixels 8..11 */
      _mm_store_si128(out + 3, _mm_unpackhi_epi16(r01_hi, r23_hi)); /* pixels 12..15 */
    }
  }
}

#if defined(PNN_S8_X86_YMM)
/* ---- 8-lane (AVX2) requantization ------------------------------------------------
 * The rule of pnn_requantize on 8 int32 lanes, as two halves of 64-bit products (even
 * and odd lanes, _mm256_mul_epi32). AVX2 has no 64-bit arithmetic shift, so the sum
 * is biased by 2^62 first: acc * M + 2^(S-1) lies in (-2^62, 2^62 + 2^61) (|acc| <=
 * 2^31, M < 2^31), so the biased value is in (0, 2^63) and a logical shift floors it;
 * the bias leaves exactly 2^(62-S) behind (S <= 62), which the clamp bounds and the
 * final offset absorb. */
typedef struct pnn_s8_requant8_consts {
  __m256i mult_even, mult_odd;   /* multipliers in the low half of each 64-bit lane */
  __m256i shift_even, shift_odd; /* S per 64-bit lane */
  __m256i add_even, add_odd;     /* 2^62 + 2^(S-1) */
  __m256i lo_even, lo_odd;       /* lo - zero_point + 2^(62-S) */
  __m256i hi_even, hi_odd;       /* hi - zero_point + 2^(62-S) */
  __m256i off_even, off_odd;     /* 2^(62-S) - zero_point */
} pnn_s8_requant8_consts;

static PNN_ALWAYS_INLINE void pnn_s8_requant8_half(__m256i shift, const pnn_requant *rq,
                                                   __m256i *add, __m256i *lo, __m256i *hi,
                                                   __m256i *off) {
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i bias_step = _mm256_sllv_epi64(one, _mm256_sub_epi64(_mm256_set1_epi64x(62), shift));
  *add = _mm256_add_epi64(_mm256_set1_epi64x((int64_t)1 << 62),
                          _mm256_sllv_epi64(one, _mm256_sub_epi64(shift, one)));
  *lo = _mm256_add_epi64(bias_step, _mm256_set1_epi64x((int64_t)rq->lo - rq->zero_point));
  *hi = _mm256_add_epi64(bias_step, _mm256_set1_epi64x((int64_t)rq->hi - rq->zero_point));
  *off = _mm256_sub_epi64(bias_step, _mm256_set1_epi64x(rq->zero_point));
}

/* Constants for lanes with multipliers mult32 and shifts shift32 (int32 lanes). */
static PNN_ALWAYS_INLINE pnn_s8_requant8_consts
pnn_s8_requant8_make(__m256i mult32, __m256i shift32, const pnn_requant *rq) {
  pnn_s8_requant8_consts p;
  p.mult_even = mult32;
  p.mult_odd = _mm256_srli_epi64(mult32, 32);
  p.shift_even = _mm256_and_si256(shift32, _mm256_set1_epi64x(0xFFFFFFFF));
  p.shift_odd = _mm256_srli_epi64(shift32, 32);
  pnn_s8_requant8_half(p.shift_even, rq, &p.add_even, &p.lo_even, &p.hi_even, &p.off_even);
  pnn_s8_requant8_half(p.shift_odd, rq, &p.add_odd, &p.lo_odd, &p.hi_odd, &p.off_odd);
  return p;
}

static PNN_ALWAYS_INLINE __m256i pnn_s8_requant8_half_apply(__m256i product, __m256i add,
                                                            __m256i shift, __m256i lo,
                                                            __m256i hi, __m256i off) {
  __m256i v = _mm256_srlv_epi64(_mm256_add_epi64(product, add), shift);
  v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
  v = _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
  return _mm256_sub_epi64(v, off);
}

/* The 8 outputs (int32 in [lo, hi]) of 8 accumulators. */
static PNN_ALWAYS_INLINE __m256i pnn_s8_requant8_apply(__m256i acc,
                                                       const pnn_s8_requant8_consts *p) {
  const __m256i even = pnn_s8_requant8_half_apply(_mm256_mul_epi32(acc, p->mult_even),
                                                  p->add_even, p->shift_even, p->lo_even,
                                                  p->hi_even, p->off_even);
  const __m256i odd = pnn_s8_requant8_half_apply(
      _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), p->mult_odd), p->add_odd, p->shift_odd,
      p->lo_odd, p->hi_odd, p->off_odd);
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

/* The low bytes of 8 int32 lanes (values already in 0..255), in lane order. */
static PNN_ALWAYS_INLINE __m128i pnn_s8_narrow8(__m256i v) {
  const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                             -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1,
                                             -1, -1, -1, -1, -1, -1);
  const __m256i b = _mm256_shuffle_epi8(v, low_bytes);
  return _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
}

/* ---- per-row requantization of a micro-tile ---------------------------------------
 * A tile's vectors run across pixels, so one multiplier and shift serve a whole vector:
 * pnn_x86_requant.h's per-channel form, as in the depthwise kernel. */
/* 8 (v1 unused) or 16 int32 outputs in order as bytes, saturated and clamped to
 * [lo, hi] (lo, hi: the bounds in every byte). */
static PNN_ALWAYS_INLINE __m128i pnn_s8_row_bytes(size_t nv, __m256i v0, __m256i v1, __m128i lo,
                                                  __m128i hi) {
  __m128i bytes;
  if (nv > 1) {
    /* packs works within 128-bit halves: words [v0 0-3, v1 0-3 | v0 4-7, v1 4-7]. */
    const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8);
    bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
  } else {
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v0), _mm256_extracti128_si256(v0, 1));
    bytes = _mm_packus_epi16(words, words);
  }
  return _mm_min_epu8(_mm_max_epu8(bytes, lo), hi);
}

/* Stores the first `count` (1..16) bytes. */
static PNN_ALWAYS_INLINE void pnn_s8_store_bytes(uint8_t *y, __m128i bytes, size_t count) {
  if (count >= 16) {
    _mm_storeu_si128((__m128i *)y, bytes);
  } else if (count == 8) {
    _mm_storel_epi64((__m128i *)y, bytes);
  } else {
    uint8_t buf[16];
    _mm_storeu_si128((__m128i *)buf, bytes);
    memcpy(y, buf, count);
  }
}

/* s8 weights of 32 bytes of s4 nibbles (pack.h): the low nibbles, then the high ones,
 * sign-extended by a 16-entry vpshufb table. */
static PNN_ALWAYS_INLINE void pnn_s4_unpack32(__m256i v, __m256i *lo, __m256i *hi) {
  const __m256i table = _mm256_broadcastsi128_si256(
      _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1));
  const __m256i mask = _mm256_set1_epi8(0x0F);
  *lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, mask));
  *hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), mask));
}

/* Requantizes rows [0, rows) of a GEMV group (sums: int32 per row, bias not yet added)
 * 8 rows at a time and writes them down the single output column (stride ldy). */
static inline void pnn_s8_gemv_store8(size_t rows, const int32_t *sums, const int32_t *bias,
                               const pnn_requant *rq, size_t m0, uint8_t *Y, size_t ldy) {
  for (size_t i = 0; i < rows; i += 8) {
    const size_t count = rows - i < 8 ? rows - i : 8;
    int32_t lane_bias[8] = {0}, lane_mult[8] = {0}, lane_shift[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    memcpy(lane_bias, bias + m0 + i, count * sizeof(int32_t));
    memcpy(lane_mult, rq->multiplier + m0 + i, count * sizeof(int32_t));
    memcpy(lane_shift, rq->shift + m0 + i, count * sizeof(int32_t));
    const pnn_s8_requant8_consts p = pnn_s8_requant8_make(
        _mm256_loadu_si256((const __m256i *)lane_mult),
        _mm256_loadu_si256((const __m256i *)lane_shift), rq);
    const __m256i acc = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(sums + i)),
                                         _mm256_loadu_si256((const __m256i *)lane_bias));
    uint8_t out[16];
    _mm_storeu_si128((__m128i *)out, pnn_s8_narrow8(pnn_s8_requant8_apply(acc, &p)));
    for (size_t r = 0; r < count; ++r) Y[(m0 + i + r) * ldy] = out[r];
  }
}
#endif /* PNN_S8_X86_YMM */

#endif /* PNN_S8_GEMM_X86_IMPL_H */
