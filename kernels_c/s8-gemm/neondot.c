/* s8 GEMM for AArch64 with the dotprod extension (ARMv8.2 sdot; contract in
 * pnn_kernels_s8.h). sdot multiplies 4 s8 by 4 s8 and adds the products to an int32
 * lane. The activations are u8, so the X panel holds x - 128 (x ^ 0x80, an s8), and
 * 128 * sum_k W[m][k], computed at pack time, is added back through the accumulator's
 * starting value: sum_k W x = sum_k W (x - 128) + 128 sum_k W. Lanes add modulo 2^32,
 * so the intermediate sums may wrap while the total stays within the contract.
 *
 * Packed weights (pack.h): blocks of 8 rows, k in quads, K padded to 4 with zeros: per
 * block and quad, 32 bytes = rows 0-3 in one vector and rows 4-7 in another, whose
 * 32-bit lanes sdot picks by index; after all blocks, one int32 128 * row sum per
 * (padded) row. Lanes run across pixels: the X panel (scratch) holds, per quad, 8
 * pixels' quads (two vectors of 4 pixels, interleaved by vst4); the micro-tile is
 * 8 rows x 8 pixels (16 accumulators). Requantization: neon_impl.h.
 *
 * N == 1 is a GEMV with lanes across rows: a block's rows 0-3 (or 4-7) quad vector times
 * the x quad in every lane.
 *
 * s4 (pnn_s4_gemm_neondot): the same blocks in pack.h's s4 form with 16 lanes, so 16
 * bytes of nibbles are a block's quad: shl/sshr by 4 give rows 0-3 (low nibbles) and
 * rows 4-7 (high), in registers right before their sdot, in the micro-tile (whose sdot
 * picks weights by lane from a register) and in the GEMV alike.
 *
 * Compiled for ARMv8.2-A + dotprod by a per-file target so the library stays baseline ARMv8-A;
 * pnn_s8_gemm_select only picks this with cpu->neon_dotprod. */
#include "pnn_kernels.h"

#if defined(__aarch64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
/* Clang before the target-gated arm_neon.h (LLVM issue 56480) declares the sdot
 * intrinsics only under this macro, which a per-function target does not define. */
#if !defined(__ARM_FEATURE_DOTPROD)
#define __ARM_FEATURE_DOTPROD 1
#endif
#elif defined(__GNUC__)
#pragma GCC push_options
/* Not "+dotprod": GCC 12's arm_neon.h declares the sdot intrinsics for armv8.2-a+dotprod
 * and refuses to inline them into a plain armv8-a+dotprod function. */
#pragma GCC target("arch=armv8.2-a+dotprod")
#endif

#include <stdbool.h>

#include "neon_impl.h"
#include "pack.h"

enum {
  ROWS = 8,        /* rows per block and micro-tile */
  TILE_PIXELS = 8, /* pixels per micro-tile (two vectors of 4) */
  GEMV_BLOCKS = 4  /* row blocks sharing one x quad in the GEMV */
};

static size_t padded_k(size_t K) { return pnn_s8_round_up(K, 4); }

/* Bytes of the weights (s4: at 4 bits); the corrections follow them. */
static size_t weight_bytes(size_t M, size_t K, bool s4) {
  const size_t bytes = pnn_s8_row_blocks(M, ROWS) * ROWS * padded_k(K);
  return s4 ? bytes / 2 : bytes;
}

static size_t pack_bytes(size_t M, size_t K, bool s4) {
  return weight_bytes(M, K, s4) + pnn_s8_row_blocks(M, ROWS) * ROWS * sizeof(int32_t);
}

static size_t neondot_pack_size(size_t M, size_t K) { return pack_bytes(M, K, false); }
static size_t neondot_s4_pack_size(size_t M, size_t K) { return pack_bytes(M, K, true); }

/* 128 * sum_k W[m][k] per (padded) row, after the weights. */
static void pack_corrections(size_t M, size_t K, const int8_t *W, uint8_t *corrections) {
  for (size_t m = 0; m < pnn_s8_row_blocks(M, ROWS) * ROWS; ++m) {
    int32_t row_sum = 0; /* |sum| <= 127 K: 128 times it fits int32 for K <= 66000 */
    for (size_t k = 0; m < M && k < K; ++k) row_sum += W[m * K + k];
    const int32_t correction = 128 * row_sum;
    memcpy(corrections + m * sizeof(int32_t), &correction, sizeof correction);
  }
}

static void neondot_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  pnn_s8_pack_blocks(M, K, W, ROWS, 4, padded_k(K), (int8_t *)packed);
  pack_corrections(M, K, W, (uint8_t *)packed + weight_bytes(M, K, false));
}

static void neondot_s4_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  pnn_s4_pack_blocks(M, K, W, ROWS, 4, padded_k(K), 16, (uint8_t *)packed);
  pack_corrections(M, K, W, (uint8_t *)packed + weight_bytes(M, K, true));
}

/* A block's weights of quad q: rows 0-3 and rows 4-7 (w: the block's s8 or s4 weights). */
static PNN_ALWAYS_INLINE void load_quad(const int8_t *w, bool s4, size_t q, int8x16_t *w03,
                                        int8x16_t *w47) {
  if (s4) {
    const int8x16_t v = vld1q_s8(w + 16 * q);
    *w03 = pnn_s4_low_nibbles(v);
    *w47 = pnn_s4_high_nibbles(v);
  } else {
    *w03 = vld1q_s8(w + 32 * q);
    *w47 = vld1q_s8(w + 32 * q + 16);
  }
}

static size_t neondot_scratch_size(size_t N, size_t K) {
  return N == 1 ? padded_k(K) : TILE_PIXELS * padded_k(K);
}

/* Row k of the tile as s8 (x - 128), zero past K (where the weights are zero). */
static inline uint8x8_t load_centered(const uint8_t *X, size_t ldx, size_t K, size_t k,
                                      size_t width) {
  if (k >= K) return vdup_n_u8(0);
  return veor_u8(pnn_s8_load_pixels8(X + k * ldx, width), vdup_n_u8(0x80));
}

/* Rows [0, rows) of one block times the panel; nv (1 or 2 vectors of 4 pixels) is a
 * constant at every call site. */
static PNN_ALWAYS_INLINE void micro_kernel(size_t nv, bool s4, size_t k_quads, const int8_t *w,
                                           const int32_t *corrections, const int8_t *panel,
                                           size_t rows, const int32_t *bias,
                                           const pnn_requant *rq, const pnn_s8_neon_clamp *clamp,
                                           uint8_t *y, size_t ldy, size_t width) {
  int32x4_t acc[ROWS][2];
#pragma GCC unroll 8
  for (size_t r = 0; r < ROWS; ++r)
    acc[r][0] = acc[r][1] = vaddq_s32(vdupq_n_s32(r < rows ? bias[r] : 0),
                                      vdupq_n_s32(corrections[r]));
  for (size_t q = 0; q < k_quads; ++q) {
    const int8x16_t x0 = vld1q_s8(panel + 32 * q);
    const int8x16_t x1 = nv > 1 ? vld1q_s8(panel + 32 * q + 16) : x0;
    int8x16_t w03, w47;
    load_quad(w, s4, q, &w03, &w47);
#define PNN_S8_ROW(R, WV, L)                                   \
  acc[R][0] = vdotq_laneq_s32(acc[R][0], x0, WV, L);           \
  if (nv > 1) acc[R][1] = vdotq_laneq_s32(acc[R][1], x1, WV, L);
    PNN_S8_ROW(0, w03, 0) PNN_S8_ROW(1, w03, 1) PNN_S8_ROW(2, w03, 2) PNN_S8_ROW(3, w03, 3)
    PNN_S8_ROW(4, w47, 0) PNN_S8_ROW(5, w47, 1) PNN_S8_ROW(6, w47, 2) PNN_S8_ROW(7, w47, 3)
#undef PNN_S8_ROW
  }
#pragma GCC unroll 8
  for (size_t r = 0; r < ROWS; ++r) {
    if (r >= rows) break;
    const int32x4_t mult = vdupq_n_s32(rq->multiplier[r]), shift = vdupq_n_s32(rq->shift[r]);
    const int32x4_t y0 = pnn_s8_requant4(acc[r][0], mult, shift, clamp);
    const int32x4_t y1 = nv > 1 ? pnn_s8_requant4(acc[r][1], mult, shift, clamp) : y0;
    pnn_s8_store8(y + r * ldy, pnn_s8_narrow8(y0, y1), width);
  }
}

/* packed: s8 blocks, or s4 blocks (s4; a constant at both call sites). */
static PNN_ALWAYS_INLINE void run_panels(size_t M, size_t N, size_t K, size_t m_begin,
                                         size_t m_end, const int8_t *packed, bool s4,
                                         const uint8_t *X, size_t ldx, const int32_t *bias,
                                         const pnn_requant *rq, uint8_t *Y, size_t ldy,
                                         int8_t *panel) {
  const size_t kp = padded_k(K), k_quads = kp / 4;
  const int32_t *corrections = (const int32_t *)(packed + weight_bytes(M, K, s4));
  const pnn_s8_neon_clamp clamp = pnn_s8_neon_clamp_make(rq);
  for (size_t n0 = 0; n0 < N; n0 += TILE_PIXELS) {
    const size_t width = N - n0 < TILE_PIXELS ? N - n0 : TILE_PIXELS;
    for (size_t q = 0; q < k_quads; ++q) {
      uint8x8x4_t rows;
      rows.val[0] = load_centered(X + n0, ldx, K, 4 * q + 0, width);
      rows.val[1] = load_centered(X + n0, ldx, K, 4 * q + 1, width);
      rows.val[2] = load_centered(X + n0, ldx, K, 4 * q + 2, width);
      rows.val[3] = load_centered(X + n0, ldx, K, 4 * q + 3, width);
      vst4_u8((uint8_t *)panel + 32 * q, rows); /* pixel p's quad at 4p */
    }
    for (size_t m0 = m_begin; m0 < m_end; m0 += ROWS) {
      const size_t rows = m_end - m0 < ROWS ? m_end - m0 : ROWS;
      const pnn_requant row_rq = {rq->multiplier + m0, rq->shift + m0, rq->zero_point, rq->lo,
                                  rq->hi};
      const int8_t *w = packed + (s4 ? m0 * kp / 2 : m0 * kp); /* m0 is a multiple of ROWS */
      uint8_t *y = Y + m0 * ldy + n0;
      if (width > 4)
        micro_kernel(2, s4, k_quads, w, corrections + m0, panel, rows, bias + m0, &row_rq,
                     &clamp, y, ldy, width);
      else
        micro_kernel(1, s4, k_quads, w, corrections + m0, panel, rows, bias + m0, &row_rq,
                     &clamp, y, ldy, width);
    }
  }
}

/* Sums (bias not included, corrections included) of `blocks` consecutive row blocks
 * into sums[0, 8*blocks). */
static PNN_ALWAYS_INLINE void gemv_blocks(size_t blocks, bool s4, size_t k_quads,
                                          const int8_t *w, const int32_t *corrections,
                                          const uint8_t *column, int32_t *sums) {
  const size_t block_bytes = s4 ? ROWS * 2 * k_quads : ROWS * 4 * k_quads;
  int32x4_t acc[GEMV_BLOCKS][2];
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b) {
    if (b < blocks) {
      acc[b][0] = vld1q_s32(corrections + ROWS * b);
      acc[b][1] = vld1q_s32(corrections + ROWS * b + 4);
    }
  }
  for (size_t q = 0; q < k_quads; ++q) {
    uint32_t quad;
    memcpy(&quad, column + 4 * q, sizeof quad);
    const int8x16_t x = vreinterpretq_s8_u32(vdupq_n_u32(quad));
#pragma GCC unroll 4
    for (size_t b = 0; b < GEMV_BLOCKS; ++b) {
      if (b < blocks) {
        int8x16_t w03, w47;
        load_quad(w + b * block_bytes, s4, q, &w03, &w47);
        acc[b][0] = vdotq_s32(acc[b][0], w03, x);
        acc[b][1] = vdotq_s32(acc[b][1], w47, x);
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

static PNN_ALWAYS_INLINE void run_gemv(size_t M, size_t K, size_t m_begin, size_t m_end,
                                       const int8_t *packed, bool s4, const uint8_t *X,
                                       size_t ldx, const int32_t *bias, const pnn_requant *rq,
                                       uint8_t *Y, size_t ldy, uint8_t *column) {
  const size_t kp = padded_k(K), k_quads = kp / 4;
  const int32_t *corrections = (const int32_t *)(packed + weight_bytes(M, K, s4));
  for (size_t k = 0; k < kp; ++k) column[k] = k < K ? X[k * ldx] ^ 0x80 : 0;
  int32_t sums[GEMV_BLOCKS * ROWS];
  for (size_t m0 = m_begin; m0 < m_end; m0 += GEMV_BLOCKS * ROWS) {
    const size_t rows = m_end - m0 < GEMV_BLOCKS * ROWS ? m_end - m0 : GEMV_BLOCKS * ROWS;
    const int8_t *w = packed + (s4 ? m0 * kp / 2 : m0 * kp);
    switch ((rows + ROWS - 1) / ROWS) {
      case 1: gemv_blocks(1, s4, k_quads, w, corrections + m0, column, sums); break;
      case 2: gemv_blocks(2, s4, k_quads, w, corrections + m0, column, sums); break;
      case 3: gemv_blocks(3, s4, k_quads, w, corrections + m0, column, sums); break;
      default: gemv_blocks(4, s4, k_quads, w, corrections + m0, column, sums); break;
    }
    pnn_s8_gemv_store(rows, sums, bias, rq, m0, Y, ldy);
  }
}

static void neondot_run(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end,
                        const void *packed, const uint8_t *X, size_t ldx, const int32_t *bias,
                        const pnn_requant *rq, uint8_t *Y, size_t ldy, void *scratch) {
  if (N == 1)
    run_gemv(M, K, m_begin, m_end, (const int8_t *)packed, false, X, ldx, bias, rq, Y, ldy,
             (uint8_t *)scratch);
  else
    run_panels(M, N, K, m_begin, m_end, (const int8_t *)packed, false, X, ldx, bias, rq, Y, ldy,
               (int8_t *)scratch);
}

static void neondot_s4_run(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end,
                           const void *packed, const uint8_t *X, size_t ldx, const int32_t *bias,
                           const pnn_requant *rq, uint8_t *Y, size_t ldy, void *scratch) {
  if (N == 1)
    run_gemv(M, K, m_begin, m_end, (const int8_t *)packed, true, X, ldx, bias, rq, Y, ldy,
             (uint8_t *)scratch);
  else
    run_panels(M, N, K, m_begin, m_end, (const int8_t *)packed, true, X, ldx, bias, rq, Y, ldy,
               (int8_t *)scratch);
}

const pnn_s8_gemm_kernel pnn_s8_gemm_neondot = {
    "neondot", ROWS, neondot_pack_size, neondot_pack, neondot_scratch_size, neondot_run,
};

const pnn_s8_gemm_kernel pnn_s4_gemm_neondot = {
    "neondot", ROWS, neondot_s4_pack_size, neondot_s4_pack, neondot_scratch_size, neondot_s4_run,
};

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* __aarch64__ */
