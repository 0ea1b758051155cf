/* s8 GEMM for WebAssembly SIMD128 (contract in pnn_kernels_s8.h). Exact by widening:
 * i32x4.dot_i16x8_s gives x0*w0 + x1*w1 per int32 lane from i16 pairs, so a group is 2 k,
 * the packed weights hold them as i16 pairs and the X panel as i16 pairs per pixel
 * (u8 values fit s16). Relaxed SIMD's 8-bit dot products are not used: clang 14 emits
 * pre-standard opcodes for them that engines reject.
 *
 * Packed weights (pack.h): blocks of 8 rows, k in pairs, K padded to 2 with zeros: per
 * block and pair, 32 bytes = rows 0-3 then rows 4-7 (one 32-bit lane per row). Lanes
 * run across pixels: the X panel (scratch) holds, per pair, 8 pixels' pairs (two
 * vectors); the micro-tile is 4 rows of a block x 8 pixels (8 accumulators: V8 has 16
 * xmm registers on x86-64), reused from the panel by every row block of the range.
 * Accumulators start at the bias and are requantized in registers at the store: i64x2
 * products, rounding term, arithmetic shift and clamp in 64 bits, pixel tails through
 * a small buffer.
 *
 * N == 1 is a GEMV with lanes across rows: a block's 4-row vector of one pair times the
 * x pair in every lane; its few outputs go through pnn_requantize (i64x2.shr takes one
 * shift count, and rows have their own). Tile and GEMV loops: gemm_driver.h.
 *
 * s4 (pnn_s4_gemm_wasmsimd): the same blocks in pack.h's s4 form with 16 lanes (an
 * element is one i16 weight), pairs padded to 2: 16 bytes of nibbles are a block's 2
 * pairs; i8x16.shl/shr_s by 4 give the low and high nibbles sign-extended, widened to
 * i16 as the dot product takes them. The GEMV unpacks right before its dot products,
 * the panel path stages each block (gemm_driver.h). */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include <string.h>
#include <wasm_simd128.h>

#include "pack.h"

#include "pnn_inline.h"

enum {
  ROWS = 8,        /* rows per block */
  TILE_ROWS = 4,   /* rows per micro-tile */
  TILE_PIXELS = 8, /* pixels per micro-tile (two vectors) */
  GROUP_K = 2,     /* a group is a pair of k ... */
  GROUP_BYTES = 4, /* ... as two i16 per row */
  GEMV_BLOCKS = 4  /* row blocks sharing one x pair in the GEMV */
};

/* 8 pixels of row k (X points at the tile's first pixel), zero past K and past width. */
static inline v128_t load_pixels8(const uint8_t *X, size_t ldx, size_t K, size_t k,
                                  size_t width) {
  uint8_t buf[16] = {0};
  if (k < K) memcpy(buf, X + k * ldx, width < TILE_PIXELS ? width : TILE_PIXELS);
  return wasm_v128_load(buf);
}

/* i16 pairs: panel[32 p + 4 i + 2 j] (as i16) = X[2p + j][i] for 8 pixels i. */
static void pack_panel(const uint8_t *X, size_t ldx, size_t K, size_t n_pairs, size_t width,
                       uint8_t *panel) {
  for (size_t p = 0; p < n_pairs; ++p) {
    const v128_t r0 = load_pixels8(X, ldx, K, 2 * p, width);
    const v128_t r1 = load_pixels8(X, ldx, K, 2 * p + 1, width);
    const v128_t zipped = wasm_i8x16_shuffle(r0, r1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21,
                                             6, 22, 7, 23);
    wasm_v128_store(panel + 32 * p, wasm_u16x8_extend_low_u8x16(zipped));
    wasm_v128_store(panel + 32 * p + 16, wasm_u16x8_extend_high_u8x16(zipped));
  }
}

typedef struct row_requant {
  v128_t multiplier, round; /* i32x4 splat, i64x2 splat 2^(S-1) */
  uint32_t shift;
  v128_t lo, hi;            /* i64x2: lo - zero_point, hi - zero_point */
  v128_t zero_point;        /* i32x4 */
} row_requant;

static PNN_ALWAYS_INLINE v128_t requant_half(v128_t product, const row_requant *p) {
  v128_t v = wasm_i64x2_shr(wasm_i64x2_add(product, p->round), p->shift);
  v = wasm_v128_bitselect(p->lo, v, wasm_i64x2_lt(v, p->lo));
  return wasm_v128_bitselect(p->hi, v, wasm_i64x2_gt(v, p->hi));
}

/* The 4 outputs (int32 in [lo, hi]) of 4 accumulators of one row. */
static PNN_ALWAYS_INLINE v128_t requant4(v128_t acc, const row_requant *p) {
  const v128_t lo = requant_half(wasm_i64x2_extmul_low_i32x4(acc, p->multiplier), p);
  const v128_t hi = requant_half(wasm_i64x2_extmul_high_i32x4(acc, p->multiplier), p);
  return wasm_i32x4_add(wasm_i32x4_shuffle(lo, hi, 0, 2, 4, 6), p->zero_point);
}

/* Rows [0, rows) (rows <= 4) of a tile: w points at the block's first tile row; nv (1 or
 * 2 vectors of 4 pixels) is a constant at every call site. */
static PNN_ALWAYS_INLINE void micro_kernel(size_t nv, size_t n_pairs, const uint8_t *w,
                                           const uint8_t *panel, size_t rows,
                                           const int32_t *bias, const pnn_requant *rq,
                                           uint8_t *y, size_t ldy, size_t width) {
  v128_t acc[TILE_ROWS][2];
#pragma GCC unroll 4
  for (size_t r = 0; r < TILE_ROWS; ++r)
    acc[r][0] = acc[r][1] = wasm_i32x4_splat(r < rows ? bias[r] : 0);
  for (size_t p = 0; p < n_pairs; ++p) {
    const v128_t x0 = wasm_v128_load(panel + 32 * p);
    const v128_t x1 = nv > 1 ? wasm_v128_load(panel + 32 * p + 16) : x0;
#pragma GCC unroll 4
    for (size_t r = 0; r < TILE_ROWS; ++r) {
      const v128_t wr = wasm_v128_load32_splat(w + 32 * p + 4 * r);
      acc[r][0] = wasm_i32x4_add(acc[r][0], wasm_i32x4_dot_i16x8(x0, wr));
      if (nv > 1) acc[r][1] = wasm_i32x4_add(acc[r][1], wasm_i32x4_dot_i16x8(x1, wr));
    }
  }
#pragma GCC unroll 4
  for (size_t r = 0; r < TILE_ROWS; ++r) {
    if (r >= rows) break;
    const int32_t shift = rq->shift[r];
    const row_requant p = {wasm_i32x4_splat(rq->multiplier[r]),
                           wasm_i64x2_splat((int64_t)1 << (shift - 1)),
                           (uint32_t)shift,
                           wasm_i64x2_splat((int64_t)rq->lo - rq->zero_point),
                           wasm_i64x2_splat((int64_t)rq->hi - rq->zero_point),
                           wasm_i32x4_splat(rq->zero_point)};
    const v128_t y0 = requant4(acc[r][0], &p);
    const v128_t y1 = nv > 1 ? requant4(acc[r][1], &p) : y0;
    const v128_t bytes = wasm_u8x16_narrow_i16x8(wasm_u16x8_narrow_i32x4(y0, y1),
                                                 wasm_i16x8_splat(0));
    if (width >= TILE_PIXELS) {
      wasm_v128_store64_lane(y + r * ldy, bytes, 0);
    } else {
      uint8_t out[16];
      wasm_v128_store(out, bytes);
      memcpy(y + r * ldy, out, width);
    }
  }
}

/* Sums (bias not included) of `blocks` consecutive row blocks into sums[0, 8*blocks). */
static PNN_ALWAYS_INLINE void gemv_blocks(size_t blocks, size_t n_pairs, const uint8_t *w,
                                          const uint8_t *x_pairs, int32_t *sums) {
  const size_t block_bytes = ROWS * 4 * n_pairs;
  v128_t acc[GEMV_BLOCKS][2];
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b) acc[b][0] = acc[b][1] = wasm_i32x4_splat(0);
  for (size_t p = 0; p < n_pairs; ++p) {
    const v128_t x = wasm_v128_load32_splat(x_pairs + 4 * p);
#pragma GCC unroll 4
    for (size_t b = 0; b < GEMV_BLOCKS; ++b) {
      if (b < blocks) {
        const uint8_t *wp = w + b * block_bytes + 32 * p;
        acc[b][0] = wasm_i32x4_add(acc[b][0], wasm_i32x4_dot_i16x8(wasm_v128_load(wp), x));
        acc[b][1] = wasm_i32x4_add(acc[b][1], wasm_i32x4_dot_i16x8(wasm_v128_load(wp + 16), x));
      }
    }
  }
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b) {
    if (b < blocks) {
      wasm_v128_store(sums + ROWS * b, acc[b][0]);
      wasm_v128_store(sums + ROWS * b + 4, acc[b][1]);
    }
  }
}

/* The column widened to i16, zero past K: pair p is (x[2p], x[2p+1]). */
static void gemv_column(const uint8_t *X, size_t ldx, size_t K, size_t n_pairs,
                        uint8_t *x_pairs) {
  for (size_t k = 0; k < 2 * n_pairs; ++k) {
    const int16_t v = k < K ? X[k * ldx] : 0;
    memcpy(x_pairs + 2 * k, &v, sizeof v);
  }
}

/* Within the contract sum_k W x and the total with the bias both fit int32. */
static void gemv_store(size_t rows, const int32_t *sums, const int32_t *bias,
                       const pnn_requant *rq, size_t m0, uint8_t *Y, size_t ldy) {
  for (size_t i = 0; i < rows; ++i) {
    const size_t m = m0 + i;
    Y[m * ldy] = (uint8_t)pnn_requantize((int64_t)sums[i] + bias[m], rq->multiplier[m],
                                         rq->shift[m], rq->zero_point, rq->lo, rq->hi);
  }
}

enum {
  S4_LANES = 16,     /* bytes of one v128 */
  S4_GROUP_ALIGN = 2 /* a block's pair is 16 weights: two make a 32-weight unit */
};

/* The i16 weights of a block's pairs p, p + 1 from their 16 bytes of nibbles: pair p's
 * rows 0-3 and 4-7, then pair p + 1's. */
static PNN_ALWAYS_INLINE void unpack_s4(v128_t v, v128_t w[4]) {
  const v128_t low = wasm_i8x16_shr(wasm_i8x16_shl(v, 4), 4), high = wasm_i8x16_shr(v, 4);
  w[0] = wasm_i16x8_extend_low_i8x16(low);
  w[1] = wasm_i16x8_extend_high_i8x16(low);
  w[2] = wasm_i16x8_extend_low_i8x16(high);
  w[3] = wasm_i16x8_extend_high_i8x16(high);
}

static void s4_stage_block(size_t n_pairs, const uint8_t *nibbles, uint8_t *staged) {
  for (size_t p = 0; p < n_pairs; p += 2) {
    v128_t w[4];
    unpack_s4(wasm_v128_load(nibbles + 8 * p), w);
    for (size_t i = 0; i < 4; ++i) wasm_v128_store(staged + 32 * p + 16 * i, w[i]);
  }
}

/* gemv_blocks on s4 blocks: 16 bytes of nibbles give a block's pairs p, p + 1. */
static PNN_ALWAYS_INLINE void s4_gemv_blocks(size_t blocks, size_t n_pairs, const uint8_t *w,
                                             const uint8_t *x_pairs, int32_t *sums) {
  const size_t block_bytes = ROWS * n_pairs;
  v128_t acc[GEMV_BLOCKS][2];
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b) acc[b][0] = acc[b][1] = wasm_i32x4_splat(0);
  for (size_t p = 0; p < n_pairs; p += 2) {
    const v128_t x0 = wasm_v128_load32_splat(x_pairs + 4 * p);
    const v128_t x1 = wasm_v128_load32_splat(x_pairs + 4 * p + 4);
#pragma GCC unroll 4
    for (size_t b = 0; b < GEMV_BLOCKS; ++b) {
      if (b < blocks) {
        v128_t wp[4];
        unpack_s4(wasm_v128_load(w + b * block_bytes + 8 * p), wp);
        acc[b][0] = wasm_i32x4_add(acc[b][0], wasm_i32x4_add(wasm_i32x4_dot_i16x8(wp[0], x0),
                                                             wasm_i32x4_dot_i16x8(wp[2], x1)));
        acc[b][1] = wasm_i32x4_add(acc[b][1], wasm_i32x4_add(wasm_i32x4_dot_i16x8(wp[1], x0),
                                                             wasm_i32x4_dot_i16x8(wp[3], x1)));
      }
    }
  }
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b) {
    if (b < blocks) {
      wasm_v128_store(sums + ROWS * b, acc[b][0]);
      wasm_v128_store(sums + ROWS * b + 4, acc[b][1]);
    }
  }
}

#define PNN_S8_GEMM_DRIVER_S4
#include "gemm_driver.h"

static void wasmsimd_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  pnn_s8_pack_blocks_s16(M, K, W, ROWS, 2, 2 * k_groups(K), (int16_t *)packed);
}

const pnn_s8_gemm_kernel pnn_s8_gemm_wasmsimd = {
    "wasmsimd", ROWS, gemm_pack_size, wasmsimd_pack, gemm_scratch_size, gemm_run,
};

const pnn_s8_gemm_kernel pnn_s4_gemm_wasmsimd = {
    "wasmsimd", ROWS, gemm_s4_pack_size, gemm_s4_pack, gemm_s4_scratch_size, gemm_s4_run,
};

#endif /* __wasm_simd128__ */
