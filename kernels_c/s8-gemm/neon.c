/* s8 GEMM for AArch64 NEON without dotprod (contract in pnn_kernels_s8.h), for cores
 * such as the Cortex-A53. Exact by widening: u8 activations and s8 weights become
 * s16, and vmlal (s16 x s16 -> s32 multiply-accumulate) adds each product to an int32
 * lane.
 *
 * Packed weights (pack.h): blocks of 8 rows, one k per group: 8 bytes per block and k
 * (the 8 rows' weights), widened to one s16 vector whose lanes the multiply-accumulate
 * picks by index. Lanes run across pixels: the X panel (scratch) holds 8 pixels per k;
 * the micro-tile is 8 rows x 8 pixels (16 accumulators), reused from the panel by every
 * row block of the range. Accumulators start at the bias and are requantized in
 * registers at the store (neon_impl.h), pixel tails through a small buffer.
 *
 * N == 1 is a GEMV with lanes across rows: a block's 8 weights of one k times x[k].
 *
 * s4 (pnn_s4_gemm_neon): the same blocks in pack.h's s4 form with 16 lanes, K padded to
 * 4: 16 bytes of nibbles are a block's 4 k; shl/sshr by 4 give k, k+1 (low nibbles) and
 * k+2, k+3 (high). The GEMV unpacks right before its multiply-accumulates, the panel path
 * stages each block (gemm_driver.h).
 * Tile and GEMV loops: gemm_driver.h. NEON is part of the AArch64 baseline: no extra ISA flags or run-time checks. */
#include "pnn_kernels.h"

#if defined(__aarch64__)

#include "neon_impl.h"
#include "pack.h"

enum {
  ROWS = 8,        /* rows per block and micro-tile */
  TILE_ROWS = ROWS, /* a micro-tile is a whole block */
  TILE_PIXELS = 8, /* pixels per micro-tile (two vectors) */
  GROUP_K = 1,     /* one k per group ... */
  GROUP_BYTES = 1, /* ... as one s8 per row */
  GEMV_BLOCKS = 4  /* row blocks sharing one x[k] in the GEMV */
};

/* The tile's 8 pixels per k (a group is one k: groups == K), zero past width. */
static void pack_panel(const uint8_t *X, size_t ldx, size_t K, size_t groups, size_t width,
                       uint8_t *panel) {
  (void)groups;
  for (size_t k = 0; k < K; ++k)
    vst1_u8(panel + TILE_PIXELS * k, pnn_s8_load_pixels8(X + k * ldx, width));
}

/* Rows [0, rows) of one block times the panel; nv (1 or 2 vectors of 4 pixels) is a
 * constant at every call site. */
static PNN_ALWAYS_INLINE void micro_kernel(size_t nv, size_t K, const uint8_t *w,
                                           const uint8_t *panel, size_t rows,
                                           const int32_t *bias, const pnn_requant *rq,
                                           uint8_t *y, size_t ldy, size_t width) {
  const pnn_s8_neon_clamp clamp = pnn_s8_neon_clamp_make(rq);
  int32x4_t acc[ROWS][2];
#pragma GCC unroll 8
  for (size_t r = 0; r < ROWS; ++r)
    acc[r][0] = acc[r][1] = vdupq_n_s32(r < rows ? bias[r] : 0);
  for (size_t k = 0; k < K; ++k) {
    const int16x8_t x = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(panel + TILE_PIXELS * k)));
    const int16x4_t x_lo = vget_low_s16(x);
    const int16x8_t wk = vmovl_s8(vreinterpret_s8_u8(vld1_u8(w + ROWS * k)));
#define PNN_S8_ROW(R)                                          \
  acc[R][0] = vmlal_laneq_s16(acc[R][0], x_lo, wk, R);         \
  if (nv > 1) acc[R][1] = vmlal_high_laneq_s16(acc[R][1], x, wk, R);
    PNN_S8_ROW(0) PNN_S8_ROW(1) PNN_S8_ROW(2) PNN_S8_ROW(3)
    PNN_S8_ROW(4) PNN_S8_ROW(5) PNN_S8_ROW(6) PNN_S8_ROW(7)
#undef PNN_S8_ROW
  }
#pragma GCC unroll 8
  for (size_t r = 0; r < ROWS; ++r) {
    if (r >= rows) break;
    const int32x4_t mult = vdupq_n_s32(rq->multiplier[r]), shift = vdupq_n_s32(rq->shift[r]);
    const int32x4_t y0 = pnn_s8_requant4(acc[r][0], mult, shift, &clamp);
    const int32x4_t y1 = nv > 1 ? pnn_s8_requant4(acc[r][1], mult, shift, &clamp) : y0;
    pnn_s8_store8(y + r * ldy, pnn_s8_narrow8(y0, y1), width);
  }
}

static void gemv_column(const uint8_t *X, size_t ldx, size_t K, size_t groups,
                        uint8_t *column) {
  pnn_s8_gather_column(X, ldx, K, groups, column);
}

/* A block's 8 weights of one k times x[k]. */
static PNN_ALWAYS_INLINE void gemv_blocks(size_t blocks, size_t K, const uint8_t *w,
                                          const uint8_t *column, int32_t *sums) {
  int32x4_t acc[GEMV_BLOCKS][2];
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b) acc[b][0] = acc[b][1] = vdupq_n_s32(0);
  for (size_t k = 0; k < K; ++k) {
    const int16_t xk = column[k];
#pragma GCC unroll 4
    for (size_t b = 0; b < GEMV_BLOCKS; ++b) {
      if (b < blocks) {
        const int16x8_t wk = vmovl_s8(vreinterpret_s8_u8(vld1_u8(w + b * ROWS * K + ROWS * k)));
        acc[b][0] = vmlal_n_s16(acc[b][0], vget_low_s16(wk), xk);
        acc[b][1] = vmlal_high_n_s16(acc[b][1], wk, xk);
      }
    }
  }
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b) {
    if (b < blocks) {
      vst1q_s32(sums + ROWS * b, acc[b][0]);
      vst1q_s32(sums + ROWS * b + 4, acc[b][1]);
    }
  }
}

static void gemv_store(size_t rows, const int32_t *sums, const int32_t *bias,
                       const pnn_requant *rq, size_t m0, uint8_t *Y, size_t ldy) {
  pnn_s8_gemv_store(rows, sums, bias, rq, m0, Y, ldy);
}

enum {
  S4_LANES = 16,     /* bytes of one q register */
  S4_GROUP_ALIGN = 4 /* a block's k is 8 weights: four make a 32-weight unit */
};

static void s4_stage_block(size_t K, const uint8_t *nibbles, uint8_t *staged) {
  for (size_t k = 0; k < K; k += 4) {
    const int8x16_t v = vld1q_s8((const int8_t *)nibbles + 4 * k);
    vst1q_s8((int8_t *)staged + ROWS * k, pnn_s4_low_nibbles(v));
    vst1q_s8((int8_t *)staged + ROWS * k + 16, pnn_s4_high_nibbles(v));
  }
}

/* gemv_blocks on s4 blocks: 16 bytes of nibbles give a block's weights of 4 k. */
static PNN_ALWAYS_INLINE void s4_gemv_blocks(size_t blocks, size_t K, const uint8_t *w,
                                             const uint8_t *column, int32_t *sums) {
  int32x4_t acc[GEMV_BLOCKS][2];
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b) acc[b][0] = acc[b][1] = vdupq_n_s32(0);
  for (size_t k = 0; k < K; k += 4) {
    uint32_t quad;
    memcpy(&quad, column + k, sizeof quad);
    const int16x4_t x =
        vreinterpret_s16_u16(vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(quad)))));
#pragma GCC unroll 4
    for (size_t b = 0; b < GEMV_BLOCKS; ++b) {
      if (b < blocks) {
        const int8x16_t v = vld1q_s8((const int8_t *)w + b * ROWS * K / 2 + 4 * k);
        const int8x16_t k01 = pnn_s4_low_nibbles(v), k23 = pnn_s4_high_nibbles(v);
        const int16x8_t w0 = vmovl_s8(vget_low_s8(k01)), w1 = vmovl_high_s8(k01);
        const int16x8_t w2 = vmovl_s8(vget_low_s8(k23)), w3 = vmovl_high_s8(k23);
        acc[b][0] = vmlal_lane_s16(acc[b][0], vget_low_s16(w0), x, 0);
        acc[b][1] = vmlal_high_lane_s16(acc[b][1], w0, x, 0);
        acc[b][0] = vmlal_lane_s16(acc[b][0], vget_low_s16(w1), x, 1);
        acc[b][1] = vmlal_high_lane_s16(acc[b][1], w1, x, 1);
        acc[b][0] = vmlal_lane_s16(acc[b][0], vget_low_s16(w2), x, 2);
        acc[b][1] = vmlal_high_lane_s16(acc[b][1], w2, x, 2);
        acc[b][0] = vmlal_lane_s16(acc[b][0], vget_low_s16(w3), x, 3);
        acc[b][1] = vmlal_high_lane_s16(acc[b][1], w3, x, 3);
      }
    }
  }
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b) {
    if (b < blocks) {
      vst1q_s32(sums + ROWS * b, acc[b][0]);
      vst1q_s32(sums + ROWS * b + 4, acc[b][1]);
    }
  }
}

#define PNN_S8_GEMM_DRIVER_S4
#include "gemm_driver.h"

static void neon_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  pnn_s8_pack_blocks(M, K, W, ROWS, 1, K, (int8_t *)packed);
}

const pnn_s8_gemm_kernel pnn_s8_gemm_neon = {
    "neon", ROWS, gemm_pack_size, neon_pack, gemm_scratch_size, gemm_run,
};

const pnn_s8_gemm_kernel pnn_s4_gemm_neon = {
    "neon", ROWS, gemm_s4_pack_size, gemm_s4_pack, gemm_s4_scratch_size, gemm_s4_run,
};

#endif /* __aarch64__ */
