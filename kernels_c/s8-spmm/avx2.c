/* u8 x s8 group-sparse product for AVX2 (contract in pnn_kernels_sparse.h).
 *
 * Pixels run across lanes (x is channel-major). AVX2 has no exact u8 x s8 dot
 * product (vpmaddubsw saturates: 2 x 255 x 127 > 2^15), so the nonzeros of a group are
 * taken 2 at a time: their two x rows (16 pixels each) are interleaved and widened to
 * i16 pairs (pixel p's two inputs in one 32-bit lane), and vpmaddwd against the
 * broadcast pair of an output row's two weights adds both products in int32. One pair
 * of nonzeros costs 2 loads, 4 shuffles and 2 vpmaddwd + 2 vpaddd per output row, for
 * 16 pixels. An odd last nonzero is paired with weight 0. Up to 4 rows share the
 * shuffles (G = 8 runs as two passes of 4 rows): 8 accumulators.
 *
 * Tiles of 16 pixels, all groups per tile so the tile's x rows stay in L1; a pixel
 * tail narrower than 16 runs the scalar reference (no masked byte loads in AVX2).
 * Requantization in 64-bit lanes: AVX2 has no 64-bit arithmetic shift, so the sum is
 * biased by 2^62 first (|acc * M| < 2^62 and 2^(S-1) <= 2^61 keep it in (0, 2^64)),
 * shifted logically, clamped with the bias folded into the bounds, then unbiased.
 *
 * ISA flags are set per file; pnn_u8_spmm_select only picks this with cpu->avx2_fma. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>
#include <string.h>

#include "pnn_inline.h"

enum { TILE = 16, MAX_R = 4, CHUNK_PAIRS = 128 /* weight pairs staged at once */ };

#define PNN_U8_SPMM_ENTRY pnn_u8_spmm_avx2
#include "spmm_driver.h"

/* Rows [r0, r0 + 4) of a group's weights for nonzeros j, j+1 (v = values + j * G) as one
 * dword per row: the two weights as i16, nonzero j in the low half. */
static PNN_ALWAYS_INLINE void weight_pairs(const int8_t *v, size_t G, size_t r0,
                                           int32_t pairs[MAX_R]) {
  uint64_t first = 0, second = 0;
  memcpy(&first, v, G);
  memcpy(&second, v + G, G);
  const __m128i w0 = _mm_cvtepi8_epi16(_mm_cvtsi64_si128((long long)first));
  const __m128i w1 = _mm_cvtepi8_epi16(_mm_cvtsi64_si128((long long)second));
  _mm_storeu_si128((__m128i *)pairs, r0 ? _mm_unpackhi_epi16(w0, w1) : _mm_unpacklo_epi16(w0, w1));
}

/* The weight pairs of rows [r0, r0 + 4) for nonzeros [j0, j0 + count) (count <= 2 *
 * CHUNK_PAIRS; an odd last nonzero paired with weight 0), one pair per entry of wp.
 * Done once per group and tile ahead of the products, so the product loop broadcasts
 * each pair from memory (a load) instead of shuffling it out of a register (port 5,
 * shared with the x shuffles). */
static PNN_ALWAYS_INLINE void chunk_pairs(const int8_t *val, size_t j0, size_t count, size_t G,
                                          size_t r0, int32_t wp[][MAX_R]) {
  size_t q = 0;
  for (; 2 * q + 2 <= count; ++q) weight_pairs(val + (j0 + 2 * q) * G, G, r0, wp[q]);
  if (2 * q < count) {
    int8_t padded[2 * 8] = {0};
    memcpy(padded, val + (j0 + 2 * q) * G, G);
    weight_pairs(padded, G, r0, wp[q]);
  }
}

/* One pair of nonzeros: x rows xa, xb (at the tile's first pixel) into the R rows'
 * accumulators (acc[r][0]: pixels 0..7, acc[r][1]: 8..15). */
static PNN_ALWAYS_INLINE void pair_step(const uint8_t *xa, const uint8_t *xb,
                                        const int32_t pairs[MAX_R], size_t R,
                                        __m256i acc[MAX_R][2]) {
  const __m128i ra = _mm_loadu_si128((const __m128i *)xa);
  const __m128i rb = _mm_loadu_si128((const __m128i *)xb);
  const __m256i p0 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(ra, rb));
  const __m256i p1 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(ra, rb));
#pragma GCC unroll 4
  for (size_t r = 0; r < MAX_R; ++r) {
    if (r < R) {
      const __m256i w = _mm256_set1_epi32(pairs[r]);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(p0, w));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(p1, w));
    }
  }
}

/* Per-row constants of the biased requantization (see the top). */
typedef struct row_requant {
  __m256i multiplier, add, lo, hi, offset; /* 64-bit lanes */
  __m128i shift;
} row_requant;

static PNN_ALWAYS_INLINE __m256i requant_half(__m256i product, const row_requant *p) {
  __m256i v = _mm256_srl_epi64(_mm256_add_epi64(product, p->add), p->shift);
  v = _mm256_blendv_epi8(v, p->lo, _mm256_cmpgt_epi64(p->lo, v));
  v = _mm256_blendv_epi8(v, p->hi, _mm256_cmpgt_epi64(v, p->hi));
  return _mm256_sub_epi64(v, p->offset);
}

/* pnn_requantize on 8 int32 lanes of one row (results in [lo, hi]). */
static PNN_ALWAYS_INLINE __m256i requant8(__m256i acc, const row_requant *p) {
  const __m256i even = requant_half(_mm256_mul_epi32(acc, p->multiplier), p);
  const __m256i odd = requant_half(_mm256_mul_epi32(_mm256_srli_epi64(acc, 32), p->multiplier), p);
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

/* Rows [m0, m0 + valid) (valid <= R; rows r0.. of their group, G per group) of the
 * 16-pixel tile at p0; the group's nnz nonzeros start at idx and val. R is a constant
 * at every call site, so the accumulators unroll into registers. */
static PNN_ALWAYS_INLINE void tile_rows(const uint32_t *idx, const int8_t *val, size_t nnz,
                                        size_t G, size_t R, size_t r0, size_t m0, size_t valid,
                                        size_t p0, const spmm_args *a) {
  __m256i acc[MAX_R][2];
#pragma GCC unroll 4
  for (size_t r = 0; r < MAX_R; ++r) {
    if (r < R) {
      acc[r][0] = acc[r][1] = a->bias && r < valid ? _mm256_set1_epi32(a->bias[m0 + r])
                                                   : _mm256_setzero_si256();
    }
  }
  const uint8_t *x = a->x + p0;
  const size_t xs = a->x_stride;
  int32_t wp[CHUNK_PAIRS][MAX_R];
  for (size_t j0 = 0; j0 < nnz; j0 += 2 * CHUNK_PAIRS) {
    const size_t end = nnz - j0 < 2 * CHUNK_PAIRS ? nnz : j0 + 2 * CHUNK_PAIRS;
    chunk_pairs(val, j0, end - j0, G, r0, wp);
    size_t j = j0;
    for (; j + 2 <= end; j += 2)
      pair_step(x + idx[j] * xs, x + idx[j + 1] * xs, wp[(j - j0) / 2], R, acc);
    if (j < end) /* the odd last nonzero; its pair's weight 0 reads the same x row */
      pair_step(x + idx[j] * xs, x + idx[j] * xs, wp[(j - j0) / 2], R, acc);
  }
  const pnn_requant *rq = a->rq;
#pragma GCC unroll 4
  for (size_t r = 0; r < MAX_R; ++r) {
    if (r < R && r < valid) {
      const size_t m = m0 + r;
      const int32_t shift = rq->shift[m];
      const int64_t residue = (int64_t)1 << (62 - shift); /* what the bias leaves */
      row_requant p;
      p.multiplier = _mm256_set1_epi64x(rq->multiplier[m]);
      p.add = _mm256_set1_epi64x(((int64_t)1 << 62) + ((int64_t)1 << (shift - 1)));
      p.lo = _mm256_set1_epi64x(residue + rq->lo - rq->zero_point);
      p.hi = _mm256_set1_epi64x(residue + rq->hi - rq->zero_point);
      p.offset = _mm256_set1_epi64x(residue - rq->zero_point);
      p.shift = _mm_cvtsi32_si128(shift);
      /* packs keeps the lane halves apart: words 0..3, 8..11 | 4..7, 12..15. */
      const __m256i words = _mm256_permute4x64_epi64(
          _mm256_packs_epi32(requant8(acc[r][0], &p), requant8(acc[r][1], &p)),
          _MM_SHUFFLE(3, 1, 2, 0));
      const __m128i bytes =
          _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
      _mm_storeu_si128((__m128i *)(a->y + m * a->y_stride + p0), bytes);
    }
  }
}


PNN_TARGET_END()

#endif /* x86-64 */
