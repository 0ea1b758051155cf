/* u8 x s8 GEMM with raw int32 output for AVX-512 VNNI (contract in pnn_kernels_s8.h).
 *
 * The layout of the s8 GEMM of the same ISA (kernels_c/s8-gemm/avx512vnni.c), reused
 * through its headers: weights in blocks of 8 rows with k in quads (pack.h), X panels of
 * 16-pixel u8 quads (x86_impl.h). vpdpbusd adds four u8 x s8 products to an int32 lane
 * without saturation, so any s8 weight (-128 included) is exact. The micro-tile is 8
 * rows x up to 48 pixels (24 accumulators); the sums are stored as they are, the pixel
 * tail with masked stores. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")

#include <immintrin.h>

#include "../s8-gemm/pack.h"
#include "../s8-gemm/x86_impl.h"

enum {
  ROWS = 8,        /* rows per block and micro-tile */
  TILE_CHUNKS = 3  /* 16-pixel vectors per micro-tile */
};

static size_t padded_k(size_t K) { return pnn_s8_round_up(K, 4); }

static size_t s32_pack_size(size_t M, size_t K) { return pnn_s8_row_blocks(M, ROWS) * ROWS * padded_k(K); }

static void s32_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  pnn_s8_pack_blocks(M, K, W, ROWS, 4, padded_k(K), (int8_t *)packed);
}

static size_t s32_scratch_size(size_t N, size_t K) {
  const size_t chunks = (N + PNN_S8_CHUNK - 1) / PNN_S8_CHUNK;
  return padded_k(K) / 4 * (chunks < TILE_CHUNKS ? chunks : TILE_CHUNKS) * 64;
}

static inline __mmask16 lane_mask(size_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* Rows [0, rows) of one block (w) times the panel of `chunks` vectors, stored at y. */
static PNN_ALWAYS_INLINE void micro_kernel(size_t chunks, size_t quads, const int8_t *w, const uint8_t *panel,
                                           size_t rows, int32_t *y, size_t ldy, size_t width) {
  __m512i acc[ROWS][TILE_CHUNKS];
  for (size_t r = 0; r < ROWS; ++r)
    for (size_t c = 0; c < chunks; ++c) acc[r][c] = _mm512_setzero_si512();
  for (size_t q = 0; q < quads; ++q) {
    __m512i x[TILE_CHUNKS];
    for (size_t c = 0; c < chunks; ++c) x[c] = _mm512_load_si512((const void *)(panel + (q * chunks + c) * 64));
    const int8_t *wq = w + q * ROWS * 4;
    for (size_t r = 0; r < ROWS; ++r) {
      const __m512i b = _mm512_set1_epi32(pnn_s8_load_i32(wq + 4 * r));
      for (size_t c = 0; c < chunks; ++c) acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], x[c], b);
    }
  }
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < chunks; ++c)
      _mm512_mask_storeu_epi32(y + r * ldy + c * PNN_S8_CHUNK, lane_mask(width - c * PNN_S8_CHUNK), acc[r][c]);
}

static void s32_run(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end, const void *packed,
                    const uint8_t *X, size_t ldx, int32_t *Y, size_t ldy, void *scratch) {
  (void)M;
  const size_t quads = padded_k(K) / 4;
  uint8_t *panel = (uint8_t *)scratch;
  for (size_t n0 = 0; n0 < N; n0 += TILE_CHUNKS * PNN_S8_CHUNK) {
    const size_t width = N - n0 < TILE_CHUNKS * PNN_S8_CHUNK ? N - n0 : TILE_CHUNKS * PNN_S8_CHUNK;
    const size_t chunks = (width + PNN_S8_CHUNK - 1) / PNN_S8_CHUNK;
    pnn_s8_pack_x_quads(X + n0, ldx, K, quads, width, chunks, panel);
    for (size_t m0 = m_begin; m0 < m_end; m0 += ROWS) { /* m0 is a multiple of ROWS */
      const int8_t *w = (const int8_t *)packed + m0 * 4 * quads;
      const size_t rows = m_end - m0 < ROWS ? m_end - m0 : ROWS;
      int32_t *y = Y + m0 * ldy + n0;
      switch (chunks) {
        case 1: micro_kernel(1, quads, w, panel, rows, y, ldy, width); break;
        case 2: micro_kernel(2, quads, w, panel, rows, y, ldy, width); break;
        default: micro_kernel(3, quads, w, panel, rows, y, ldy, width); break;
      }
    }
  }
}

const pnn_s8_gemm_s32_kernel pnn_s8_gemm_s32_avx512vnni = {
    "avx512vnni", ROWS, s32_pack_size, s32_pack, s32_scratch_size, s32_run,
};

PNN_TARGET_END()

#endif /* x86-64 */
