/* The loops shared by the s8 GEMM variants made of a panel micro-kernel and a GEMV step
 * over pack.h's row blocks: neon.c, wasmsimd.c, and avx2.c and avxvnni.c through
 * x86_ymm_gemm.h. Portable C, included inside the ISA region after the ISA's own steps:
 *   ROWS, TILE_ROWS       rows per packed block, per micro-tile (TILE_ROWS divides ROWS)
 *   TILE_PIXELS           pixels per panel tile (two vectors)
 *   GROUP_K, GROUP_BYTES  k per group, and bytes per row and group in the packed weights
 *   GEMV_BLOCKS           row blocks per GEMV step (4)
 *   pack_panel(X, ldx, K, groups, width, panel)
 *       the X panel of a tile (X at its first pixel), GROUP_BYTES * TILE_PIXELS bytes per
 *       group, zero past width and K
 *   micro_kernel(nv, groups, w, panel, rows, bias, rq, y, ldy, width)
 *       rows [0, rows) of a tile (w: the tile's first row in its block) times the panel,
 *       requantized and stored; nv (1 or 2 vectors of pixels) is a constant at each call
 *   gemv_column(X, ldx, K, groups, column)
 *       the single X column, GROUP_BYTES per group, zero past K
 *   gemv_blocks(blocks, groups, w, column, sums)
 *       sums (bias not included) of `blocks` (a constant) consecutive row blocks into
 *       sums[0, ROWS * blocks)
 *   gemv_store(rows, sums, bias, rq, m0, Y, ldy)
 *       rows [m0, m0 + rows) of those sums requantized down the single output column
 * It defines k_groups and, for the kernel table, gemm_pack_size, gemm_scratch_size and
 * gemm_run. */
#ifndef PNN_S8_GEMM_DRIVER_H
#define PNN_S8_GEMM_DRIVER_H

#include "pack.h"

_Static_assert(GEMV_BLOCKS == 4, "run_gemv's switch covers 1 to 4 blocks");

static size_t k_groups(size_t K) { return (K + GROUP_K - 1) / GROUP_K; }

static size_t gemm_pack_size(size_t M, size_t K) {
  return pnn_s8_row_blocks(M, ROWS) * ROWS * GROUP_BYTES * k_groups(K);
}

/* The GEMV's column, or one tile's panel. */
static size_t gemm_scratch_size(size_t N, size_t K) {
  return (N == 1 ? 1 : TILE_PIXELS) * GROUP_BYTES * k_groups(K);
}

static void run_panels(size_t N, size_t K, size_t m_begin, size_t m_end, const uint8_t *packed,
                       const uint8_t *X, size_t ldx, const int32_t *bias, const pnn_requant *rq,
                       uint8_t *Y, size_t ldy, uint8_t *panel) {
  const size_t groups = k_groups(K);
  for (size_t n0 = 0; n0 < N; n0 += TILE_PIXELS) {
    const size_t width = N - n0 < TILE_PIXELS ? N - n0 : TILE_PIXELS;
    pack_panel(X + n0, ldx, K, groups, width, panel);
    for (size_t m0 = m_begin; m0 < m_end; m0 += ROWS) {
      const uint8_t *block = packed + m0 * GROUP_BYTES * groups; /* m0 is a multiple of ROWS */
      for (size_t t0 = m0; t0 < m_end && t0 < m0 + ROWS; t0 += TILE_ROWS) {
        const size_t rows = m_end - t0 < TILE_ROWS ? m_end - t0 : TILE_ROWS;
        const pnn_requant tile_rq = {rq->multiplier + t0, rq->shift + t0, rq->zero_point,
                                     rq->lo, rq->hi};
        const uint8_t *w = block + GROUP_BYTES * (t0 - m0);
        uint8_t *y = Y + t0 * ldy + n0;
        if (width > TILE_PIXELS / 2)
          micro_kernel(2, groups, w, panel, rows, bias + t0, &tile_rq, y, ldy, width);
        else
          micro_kernel(1, groups, w, panel, rows, bias + t0, &tile_rq, y, ldy, width);
      }
    }
  }
}

static void run_gemv(size_t K, size_t m_begin, size_t m_end, const uint8_t *packed,
                     const uint8_t *X, size_t ldx, const int32_t *bias, const pnn_requant *rq,
                     uint8_t *Y, size_t ldy, uint8_t *column) {
  const size_t groups = k_groups(K);
  gemv_column(X, ldx, K, groups, column);
  int32_t sums[GEMV_BLOCKS * ROWS];
  for (size_t m0 = m_begin; m0 < m_end; m0 += GEMV_BLOCKS * ROWS) {
    const size_t rows = m_end - m0 < GEMV_BLOCKS * ROWS ? m_end - m0 : GEMV_BLOCKS * ROWS;
    const uint8_t *w = packed + m0 * GROUP_BYTES * groups;
    switch ((rows + ROWS - 1) / ROWS) {
      case 1: gemv_blocks(1, groups, w, column, sums); break;
      case 2: gemv_blocks(2, groups, w, column, sums); break;
      case 3: gemv_blocks(3, groups, w, column, sums); break;
      default: gemv_blocks(4, groups, w, column, sums); break;
    }
    gemv_store(rows, sums, bias, rq, m0, Y, ldy);
  }
}

static void gemm_run(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end,
                     const void *packed, const uint8_t *X, size_t ldx, const int32_t *bias,
                     const pnn_requant *rq, uint8_t *Y, size_t ldy, void *scratch) {
  (void)M;
  if (N == 1)
    run_gemv(K, m_begin, m_end, (const uint8_t *)packed, X, ldx, bias, rq, Y, ldy,
             (uint8_t *)scratch);
  else
    run_panels(N, K, m_begin, m_end, (const uint8_t *)packed, X, ldx, bias, rq, Y, ldy,
               (uint8_t *)scratch);
}

#endif /* PNN_S8_GEMM_DRIVER_H */
