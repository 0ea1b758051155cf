/* u8 x s8 GEMM with raw int32 output for AVX2 (contract in pnn_kernels_s8.h), exact
 * without VNNI: both operands widened to i16 and multiplied with vpmaddwd (x0*w0 + x1*w1
 * in an int32 lane; vpmaddubsw would saturate its i16 sums), as kernels_c/s8-gemm/avx2.c.
 * Weights in pack.h's blocks of 8 rows with k in i16 pairs; the X panel of a 16-pixel
 * tile holds per pair of k two ymm of i16 pairs (pixels 0-7, 8-15). A micro-tile is 4
 * rows x 16 pixels (8 accumulators); the sums are stored as they are, the pixel tail
 * with masked stores. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#include "../s8-gemm/pack.h"
#include "../s8-gemm/x86_impl.h"

enum {
  ROWS = 8,      /* rows per packed block */
  TILE_ROWS = 4, /* rows per micro-tile */
  PAIR_BYTES = 4 /* one row's pair of k as two i16 */
};

static size_t pairs_of(size_t K) { return (K + 1) / 2; }

static size_t s32_pack_size(size_t M, size_t K) {
  return pnn_s8_row_blocks(M, ROWS) * ROWS * PAIR_BYTES * pairs_of(K);
}

static void s32_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  pnn_s8_pack_blocks_s16(M, K, W, ROWS, 2, 2 * pairs_of(K), (int16_t *)packed);
}

static size_t s32_scratch_size(size_t N, size_t K) {
  (void)N;
  return 64 * pairs_of(K);
}

/* The tile's panel: per pair g, 64 bytes of i16 pairs (X[2g][p], X[2g+1][p]), p < 16. */
static void widen_panel(const uint8_t *X, size_t ldx, size_t K, size_t pairs, size_t width, uint8_t *panel) {
  for (size_t g = 0; g < pairs; ++g) {
    const __m128i even = pnn_s8_load_chunk(X, ldx, K, 2 * g, 0, width);
    const __m128i odd = pnn_s8_load_chunk(X, ldx, K, 2 * g + 1, 0, width);
    __m256i *out = (__m256i *)(panel + 64 * g);
    _mm256_store_si256(out, _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(even, odd)));
    _mm256_store_si256(out + 1, _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(even, odd)));
  }
}

static inline __m256i lane_mask(size_t n) {
  const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)), index);
}

/* Rows [0, rows) (at most TILE_ROWS) of a block tile (w: its first row's pairs) times the panel. */
static void micro_kernel(size_t pairs, const uint8_t *w, const uint8_t *panel, size_t rows, int32_t *y, size_t ldy,
                         size_t width) {
  __m256i acc[TILE_ROWS][2];
  for (size_t r = 0; r < TILE_ROWS; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (size_t g = 0; g < pairs; ++g) {
    const __m256i x0 = _mm256_load_si256((const __m256i *)(panel + 64 * g));
    const __m256i x1 = _mm256_load_si256((const __m256i *)(panel + 64 * g + 32));
    const uint8_t *wg = w + g * ROWS * PAIR_BYTES;
    for (size_t r = 0; r < TILE_ROWS; ++r) {
      const __m256i b = _mm256_set1_epi32(pnn_s8_load_i32(wg + PAIR_BYTES * r));
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x0, b));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x1, b));
    }
  }
  const __m256i mask0 = lane_mask(width), mask1 = lane_mask(width > 8 ? width - 8 : 0);
  for (size_t r = 0; r < rows; ++r) {
    _mm256_maskstore_epi32(y + r * ldy, mask0, acc[r][0]);
    if (width > 8) _mm256_maskstore_epi32(y + r * ldy + 8, mask1, acc[r][1]);
  }
}

static void s32_run(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end, const void *packed,
                    const uint8_t *X, size_t ldx, int32_t *Y, size_t ldy, void *scratch) {
  (void)M;
  const size_t pairs = pairs_of(K);
  uint8_t *panel = (uint8_t *)scratch;
  for (size_t n0 = 0; n0 < N; n0 += PNN_S8_CHUNK) {
    const size_t width = N - n0 < PNN_S8_CHUNK ? N - n0 : PNN_S8_CHUNK;
    widen_panel(X + n0, ldx, K, pairs, width, panel);
    for (size_t m0 = m_begin; m0 < m_end; m0 += ROWS) { /* m0 is a multiple of ROWS */
      const uint8_t *block = (const uint8_t *)packed + m0 * PAIR_BYTES * pairs;
      for (size_t t = 0; t < ROWS && m0 + t < m_end; t += TILE_ROWS) {
        const size_t rows = m_end - (m0 + t) < TILE_ROWS ? m_end - (m0 + t) : TILE_ROWS;
        micro_kernel(pairs, block + PAIR_BYTES * t, panel, rows, Y + (m0 + t) * ldy + n0, ldy, width);
      }
    }
  }
}

const pnn_s8_gemm_s32_kernel pnn_s8_gemm_s32_avx2 = {
    "avx2", ROWS, s32_pack_size, s32_pack, s32_scratch_size, s32_run,
};

PNN_TARGET_END()

#endif /* x86-64 */
