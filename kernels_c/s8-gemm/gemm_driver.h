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
 * gemm_run (not with PNN_S8_GEMM_DRIVER_NO_S8: a file of s4 kernels only).
 *
 * Optionally TILE_VECTORS (2 or 3; 2 if not defined): vectors of TILE_PIXELS /
 * TILE_VECTORS pixels per tile, the nv of micro_kernel running from 1 to TILE_VECTORS.
 *
 * Optionally BLOCK_TAIL_BYTES(groups): bytes the variant's pack keeps after each row
 * block's weights (0 if not defined); blocks then lie s8_block_bytes(groups) apart.
 *
 * Optionally GEMV_TAIL_PIXELS: a last tile of at most this many pixels runs
 * as that many GEMVs (one per pixel) instead of a micro-tile over its full width, whose
 * lanes would be mostly padding: a 7 x 7 image is 3 tiles of 16 and 1 pixel.
 *
 * With PNN_S8_GEMM_DRIVER_S4, also the s4 kernel of the same layout (pack.h's s4 form,
 * K padded so a block is whole units), for which the including file also defines:
 *   S4_LANES              lanes (elements) of one unpacked vector
 *   S4_GROUP_ALIGN        groups that make a block's elements a multiple of 2 * S4_LANES
 *   s4_stage_block(groups, nibbles, staged)
 *       a block's weights unpacked into the s8 layout (ROWS * GROUP_BYTES bytes per group)
 *   s4_gemv_blocks(blocks, groups, w, column, sums)
 *       gemv_blocks on s4 blocks, unpacking in registers
 * and gets gemm_s4_pack_size, gemm_s4_pack, gemm_s4_scratch_size and gemm_s4_run. The
 * panel path stages each row block into the scratch before its micro-tiles: there a weight
 * group is broadcast to every lane, from memory, which a register would turn into a
 * shuffle per row and group; staging costs a few vector ops per 2 * S4_LANES weights,
 * shared by the whole tile of pixels. */
#ifndef PNN_S8_GEMM_DRIVER_H
#define PNN_S8_GEMM_DRIVER_H

#include "pack.h"

#if !defined(TILE_VECTORS)
#define TILE_VECTORS 2
#endif
_Static_assert(GEMV_BLOCKS == 4, "run_gemv's switch covers 1 to 4 blocks");

static size_t k_groups(size_t K) { return (K + GROUP_K - 1) / GROUP_K; }

#if !defined(PNN_S8_GEMM_DRIVER_NO_S8)
#if !defined(BLOCK_TAIL_BYTES)
#define BLOCK_TAIL_BYTES(groups) 0
#endif

/* Bytes of one packed row block of the s8 kernel. */
static size_t s8_block_bytes(size_t groups) {
  return ROWS * GROUP_BYTES * groups + BLOCK_TAIL_BYTES(groups);
}

static size_t gemm_pack_size(size_t M, size_t K) {
  return pnn_s8_row_blocks(M, ROWS) * s8_block_bytes(k_groups(K));
}

/* The GEMV's column, or one tile's panel. */
static size_t gemm_scratch_size(size_t N, size_t K) {
  return (N == 1 ? 1 : TILE_PIXELS) * GROUP_BYTES * k_groups(K);
}

#endif

/* The micro-tiles of one tile of pixels and one row block (w: its s8 weights). */
static PNN_ALWAYS_INLINE void run_block(size_t groups, size_t m0, size_t m_end, size_t n0,
                                        size_t width, const uint8_t *block, const uint8_t *panel,
                                        const int32_t *bias, const pnn_requant *rq, uint8_t *Y,
                                        size_t ldy) {
  for (size_t t0 = m0; t0 < m_end && t0 < m0 + ROWS; t0 += TILE_ROWS) {
    const size_t rows = m_end - t0 < TILE_ROWS ? m_end - t0 : TILE_ROWS;
    const pnn_requant tile_rq = {rq->multiplier + t0, rq->shift + t0, rq->zero_point, rq->lo,
                                 rq->hi};
    const uint8_t *w = block + GROUP_BYTES * (t0 - m0);
    uint8_t *y = Y + t0 * ldy + n0;
    switch ((width * TILE_VECTORS + TILE_PIXELS - 1) / TILE_PIXELS) { /* vectors */
      case 1: micro_kernel(1, groups, w, panel, rows, bias + t0, &tile_rq, y, ldy, width); break;
#if TILE_VECTORS > 2
      case 2: micro_kernel(2, groups, w, panel, rows, bias + t0, &tile_rq, y, ldy, width); break;
      default: micro_kernel(3, groups, w, panel, rows, bias + t0, &tile_rq, y, ldy, width); break;
#else
      default: micro_kernel(2, groups, w, panel, rows, bias + t0, &tile_rq, y, ldy, width); break;
#endif
    }
  }
}

#if !defined(PNN_S8_GEMM_DRIVER_NO_S8)
static void run_gemv(size_t K, size_t m_begin, size_t m_end, const uint8_t *packed,
                     const uint8_t *X, size_t ldx, const int32_t *bias, const pnn_requant *rq,
                     uint8_t *Y, size_t ldy, uint8_t *column);

static void run_panels(size_t N, size_t K, size_t m_begin, size_t m_end, const uint8_t *packed,
                       const uint8_t *X, size_t ldx, const int32_t *bias, const pnn_requant *rq,
                       uint8_t *Y, size_t ldy, uint8_t *panel) {
  const size_t groups = k_groups(K);
  for (size_t n0 = 0; n0 < N; n0 += TILE_PIXELS) {
    const size_t width = N - n0 < TILE_PIXELS ? N - n0 : TILE_PIXELS;
#if defined(GEMV_TAIL_PIXELS)
    if (n0 > 0 && width <= GEMV_TAIL_PIXELS) {
      for (size_t n = n0; n < N; ++n) /* the panel scratch holds a GEMV column */
        run_gemv(K, m_begin, m_end, packed, X + n, ldx, bias, rq, Y + n, ldy, panel);
      break;
    }
#endif
    pack_panel(X + n0, ldx, K, groups, width, panel);
    for (size_t m0 = m_begin; m0 < m_end; m0 += ROWS) /* m0 is a multiple of ROWS */
      run_block(groups, m0, m_end, n0, width, packed + m0 / ROWS * s8_block_bytes(groups), panel,
                bias, rq, Y, ldy);
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
    const uint8_t *w = packed + m0 / ROWS * s8_block_bytes(groups);
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
#endif /* !PNN_S8_GEMM_DRIVER_NO_S8 */

#if defined(PNN_S8_GEMM_DRIVER_S4)
static size_t s4_groups(size_t K) { return pnn_s8_round_up(k_groups(K), S4_GROUP_ALIGN); }

/* Bytes of one s4 row block, and of the same block staged in the s8 layout. */
static size_t s4_block_bytes(size_t groups) { return ROWS * GROUP_K * groups / 2; }
static size_t s4_staged_bytes(size_t groups) {
  return pnn_s8_round_up(ROWS * GROUP_BYTES * groups, 64);
}

static size_t gemm_s4_pack_size(size_t M, size_t K) {
  return pnn_s8_row_blocks(M, ROWS) * s4_block_bytes(s4_groups(K));
}

static void gemm_s4_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  pnn_s4_pack_blocks(M, K, W, ROWS, GROUP_K, GROUP_K * s4_groups(K), S4_LANES,
                     (uint8_t *)packed);
}

/* The GEMV's column, or the staged block then one tile's panel. */
static size_t gemm_s4_scratch_size(size_t N, size_t K) {
  const size_t groups = s4_groups(K);
  if (N == 1) return GROUP_BYTES * groups;
  return s4_staged_bytes(groups) + TILE_PIXELS * GROUP_BYTES * groups;
}

static void run_s4_panels(size_t N, size_t K, size_t m_begin, size_t m_end, const uint8_t *packed,
                          const uint8_t *X, size_t ldx, const int32_t *bias,
                          const pnn_requant *rq, uint8_t *Y, size_t ldy, uint8_t *scratch) {
  const size_t groups = s4_groups(K);
  uint8_t *staged = scratch, *panel = scratch + s4_staged_bytes(groups);
  for (size_t n0 = 0; n0 < N; n0 += TILE_PIXELS) {
    const size_t width = N - n0 < TILE_PIXELS ? N - n0 : TILE_PIXELS;
    pack_panel(X + n0, ldx, K, groups, width, panel);
    for (size_t m0 = m_begin; m0 < m_end; m0 += ROWS) { /* m0 is a multiple of ROWS */
      s4_stage_block(groups, packed + m0 / ROWS * s4_block_bytes(groups), staged);
      run_block(groups, m0, m_end, n0, width, staged, panel, bias, rq, Y, ldy);
    }
  }
}

static void run_s4_gemv(size_t K, size_t m_begin, size_t m_end, const uint8_t *packed,
                        const uint8_t *X, size_t ldx, const int32_t *bias, const pnn_requant *rq,
                        uint8_t *Y, size_t ldy, uint8_t *column) {
  const size_t groups = s4_groups(K);
  gemv_column(X, ldx, K, groups, column);
  int32_t sums[GEMV_BLOCKS * ROWS];
  for (size_t m0 = m_begin; m0 < m_end; m0 += GEMV_BLOCKS * ROWS) {
    const size_t rows = m_end - m0 < GEMV_BLOCKS * ROWS ? m_end - m0 : GEMV_BLOCKS * ROWS;
    const uint8_t *w = packed + m0 / ROWS * s4_block_bytes(groups);
    switch ((rows + ROWS - 1) / ROWS) {
      case 1: s4_gemv_blocks(1, groups, w, column, sums); break;
      case 2: s4_gemv_blocks(2, groups, w, column, sums); break;
      case 3: s4_gemv_blocks(3, groups, w, column, sums); break;
      default: s4_gemv_blocks(4, groups, w, column, sums); break;
    }
    gemv_store(rows, sums, bias, rq, m0, Y, ldy);
  }
}

static void gemm_s4_run(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end,
                        const void *packed, const uint8_t *X, size_t ldx, const int32_t *bias,
                        const pnn_requant *rq, uint8_t *Y, size_t ldy, void *scratch) {
  (void)M;
  if (N == 1)
    run_s4_gemv(K, m_begin, m_end, (const uint8_t *)packed, X, ldx, bias, rq, Y, ldy,
                (uint8_t *)scratch);
  else
    run_s4_panels(N, K, m_begin, m_end, (const uint8_t *)packed, X, ldx, bias, rq, Y, ldy,
                  (uint8_t *)scratch);
}
#endif /* PNN_S8_GEMM_DRIVER_S4 */

#endif /* PNN_S8_GEMM_DRIVER_H */
