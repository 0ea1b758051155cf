/* The u8 x u8 matrix product for x86 (contract in pnn_kernels_s8.h): the loops shared by
 * avx2.c and avx512.c, included inside their ISA region after they define
 *   VEC, LANES          the vector type and its int32 lanes (8 or 16)
 *   vec_zero(), vec_set1(int32), vec_load(const void *), vec_store(void *, VEC)
 *   vec_mac(acc, a, b)  acc + the int32 sums of adjacent int16 products of a and b
 * Both operands are centred to int16 once per call (the packing, in AVX2 code that both
 * ISAs run): B as panels of NR columns whose int32 lanes hold the pair (B[2g][n],
 * B[2g+1][n]), A a tile of MR rows at a time as plain int16 rows, so that the int32 at
 * A row r + 2g is the pair (A[r][2g], A[r][2g+1]). A micro-tile of MR x NR int32 sums
 * then costs, per pair of k, NV loads, MR broadcasts and MR * NV multiply-adds. Padding
 * (k past K, columns past N, rows past M) is 0 and adds nothing. The sums are
 * requantized with pnn_x86_requant.h, exact like the reference. */
#ifndef PNN_U8_MATMUL_X86_IMPL_H
#define PNN_U8_MATMUL_X86_IMPL_H

#include <immintrin.h>
#include <string.h>

#include "pnn_inline.h"
#include "pnn_x86_requant.h"

enum { MR = 6, NV = 2, NR = NV * LANES };

static size_t k_pairs(size_t K) { return (K + 1) / 2; }
static size_t n_tiles(size_t N) { return (N + NR - 1) / NR; }
/* int16 elements of the A tile, rounded up so that the sums tile after it stays aligned. */
static size_t a_tile_elements(size_t K) { return (MR * 2 * k_pairs(K) + 31) / 32 * 32; }

/* B panels, then the A tile, then the MR x NR sums. */
static size_t x86_scratch_size(size_t M, size_t N, size_t K) {
  (void)M;
  return (n_tiles(N) * NR * 2 * k_pairs(K) + a_tile_elements(K)) * sizeof(int16_t) + MR * NR * sizeof(int32_t);
}

/* panels[(t * pairs + g) * 2 NR + 2 j + i] = B[2g + i][t NR + j] - b_zero_point, 0 outside B. */
static void pack_b(size_t N, size_t K, const uint8_t *B, size_t ldb, uint8_t b_zero_point, int16_t *panels) {
  const size_t pairs = k_pairs(K), tiles = n_tiles(N);
  const __m256i zero_point = _mm256_set1_epi16(b_zero_point);
  for (size_t t = 0; t < tiles; ++t) {
    const size_t n0 = t * NR;
    for (size_t g = 0; g < pairs; ++g) {
      int16_t *out = panels + (t * pairs + g) * 2 * NR;
      const uint8_t *r0 = B + 2 * g * ldb + n0;
      const uint8_t *r1 = 2 * g + 1 < K ? r0 + ldb : NULL;
      size_t j = 0;
      for (; j + 16 <= NR && n0 + j + 16 <= N; j += 16) {
        const __m128i x0 = _mm_loadu_si128((const __m128i *)(r0 + j));
        const __m128i x1 = r1 ? _mm_loadu_si128((const __m128i *)(r1 + j)) : _mm_set1_epi8((char)b_zero_point);
        const __m256i lo = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_unpacklo_epi8(x0, x1)), zero_point);
        const __m256i hi = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_unpackhi_epi8(x0, x1)), zero_point);
        _mm256_storeu_si256((__m256i *)(out + 2 * j), lo);
        _mm256_storeu_si256((__m256i *)(out + 2 * j + 16), hi);
      }
      for (; j < NR; ++j) {
        const bool inside = n0 + j < N;
        out[2 * j] = (int16_t)(inside ? r0[j] - b_zero_point : 0);
        out[2 * j + 1] = (int16_t)(inside && r1 ? r1[j] - b_zero_point : 0);
      }
    }
  }
}

/* tile[r * 2 pairs + k] = A[r][k] - a_zero_point for r < rows, 0 past K and for rows >= rows. */
static void pack_a(size_t rows, size_t K, const uint8_t *A, size_t lda, uint8_t a_zero_point, int16_t *tile) {
  const size_t width = 2 * k_pairs(K);
  const __m256i zero_point = _mm256_set1_epi16(a_zero_point);
  for (size_t r = 0; r < MR; ++r) {
    int16_t *out = tile + r * width;
    size_t k = 0;
    if (r < rows) {
      const uint8_t *a = A + r * lda;
      for (; k + 16 <= K; k += 16) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(a + k));
        _mm256_storeu_si256((__m256i *)(out + k), _mm256_sub_epi16(_mm256_cvtepu8_epi16(x), zero_point));
      }
      for (; k < K; ++k) out[k] = (int16_t)(a[k] - a_zero_point);
    }
    for (; k < width; ++k) out[k] = 0;
  }
}

/* sums[r * NR + n] = sum over the pairs of tile row r times panel column n. */
static PNN_ALWAYS_INLINE void micro_tile(size_t pairs, const int16_t *tile, const int16_t *panel, int32_t *sums) {
  VEC acc[MR][NV];
  for (size_t r = 0; r < MR; ++r)
    for (size_t v = 0; v < NV; ++v) acc[r][v] = vec_zero();
  for (size_t g = 0; g < pairs; ++g) {
    VEC b[NV];
    for (size_t v = 0; v < NV; ++v) b[v] = vec_load(panel + (g * NR + v * LANES) * 2);
    for (size_t r = 0; r < MR; ++r) {
      int32_t pair;
      memcpy(&pair, tile + r * 2 * pairs + 2 * g, sizeof pair);
      const VEC a = vec_set1(pair);
      for (size_t v = 0; v < NV; ++v) acc[r][v] = vec_mac(acc[r][v], a, b[v]);
    }
  }
  for (size_t r = 0; r < MR; ++r)
    for (size_t v = 0; v < NV; ++v) vec_store(sums + r * NR + v * LANES, acc[r][v]);
}

/* y[0, cols) = the requantized sums, 16 at a time, the rest by the reference rule. */
static void store_row(size_t cols, const int32_t *sums, const pnn_x86_requant8 *k, const pnn_requant *rq,
                      uint8_t *y) {
  const __m128i lo = _mm_set1_epi8((char)rq->lo), hi = _mm_set1_epi8((char)rq->hi);
  size_t j = 0;
  for (; j + 16 <= cols; j += 16) {
    const __m256i q0 = pnn_x86_requant8_apply(_mm256_loadu_si256((const __m256i *)(sums + j)), k);
    const __m256i q1 = pnn_x86_requant8_apply(_mm256_loadu_si256((const __m256i *)(sums + j + 8)), k);
    const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
    const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
    _mm_storeu_si128((__m128i *)(y + j), _mm_min_epu8(_mm_max_epu8(bytes, lo), hi));
  }
  for (; j < cols; ++j) {
    y[j] = (uint8_t)pnn_requantize(sums[j], rq->multiplier[0], rq->shift[0], rq->zero_point, rq->lo, rq->hi);
  }
}

static void x86_run(size_t M, size_t N, size_t K, const uint8_t *A, size_t lda, uint8_t a_zero_point,
                    const uint8_t *B, size_t ldb, uint8_t b_zero_point, const pnn_requant *rq, uint8_t *Y,
                    size_t ldy, void *scratch) {
  if (M == 0 || N == 0) return;
  const size_t pairs = k_pairs(K), tiles = n_tiles(N);
  int16_t *panels = scratch;
  int16_t *tile = panels + tiles * NR * 2 * pairs;
  int32_t *sums = (int32_t *)(void *)(tile + a_tile_elements(K));
  const pnn_x86_requant8 k = pnn_x86_requant8_make(rq->multiplier[0], rq->shift[0], rq->zero_point);
  pack_b(N, K, B, ldb, b_zero_point, panels);
  for (size_t m0 = 0; m0 < M; m0 += MR) {
    const size_t rows = M - m0 < MR ? M - m0 : MR;
    pack_a(rows, K, A + m0 * lda, lda, a_zero_point, tile);
    for (size_t t = 0; t < tiles; ++t) {
      const size_t n0 = t * NR, cols = N - n0 < NR ? N - n0 : NR;
      micro_tile(pairs, tile, panels + t * NR * 2 * pairs, sums);
      for (size_t r = 0; r < rows; ++r) store_row(cols, sums + r * NR, &k, rq, Y + (m0 + r) * ldy + n0);
    }
  }
}

#endif /* PNN_U8_MATMUL_X86_IMPL_H */
