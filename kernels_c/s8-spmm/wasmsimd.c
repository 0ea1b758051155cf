/* u8 x s8 group-sparse product for WebAssembly SIMD128 (contract in
 * pnn_kernels_sparse.h).
 *
 * Pixels run across lanes (x is channel-major). Exact by widening, as the s8 GEMM:
 * the nonzeros of a group are taken 2 at a time, their two x rows (8 pixels each) are
 * interleaved and widened to i16 pairs (pixel p's two inputs in one 32-bit lane), and
 * i32x4.dot_i16x8_s against the splat pair of an output row's two weights adds both
 * products in int32. One pair of nonzeros costs 2 loads, 1 shuffle, 2 widenings and 2
 * dot products + 2 adds per output row, for 8 pixels. An odd last nonzero is paired
 * with weight 0. Up to 4 rows share the widening (G = 8 runs as two passes of 4 rows):
 * 8 accumulators (V8 has 16 xmm registers on x86-64).
 *
 * Tiles of 8 pixels, all groups per tile so the tile's x rows stay in cache; a pixel
 * tail narrower than 8 runs the scalar reference. Requantization: i64x2 products,
 * rounding term, arithmetic shift and clamp in 64 bits, as pnn_requantize. */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include <string.h>
#include <wasm_simd128.h>

#include "pnn_inline.h"

enum { TILE = 8, MAX_R = 4 };

#define PNN_U8_SPMM_ENTRY pnn_u8_spmm_wasmsimd
#include "spmm_driver.h"

/* One row's weights of nonzeros j, j+1 as an i16 pair, nonzero j in the low half. */
static PNN_ALWAYS_INLINE int32_t weight_pair(int8_t first, int8_t second) {
  return (int32_t)((uint32_t)(uint16_t)(int16_t)first |
                   ((uint32_t)(uint16_t)(int16_t)second << 16));
}

/* One pair of nonzeros: x rows xa, xb (at the tile's first pixel) into the R rows'
 * accumulators (acc[r][0]: pixels 0..3, acc[r][1]: 4..7); wa, wb: the two nonzeros'
 * weights of the pass's first row (row r at wa[r], wb[r]). */
static PNN_ALWAYS_INLINE void pair_step(const uint8_t *xa, const uint8_t *xb, const int8_t *wa,
                                        const int8_t *wb, size_t R, v128_t acc[MAX_R][2]) {
  const v128_t both = wasm_i8x16_shuffle(wasm_v128_load64_zero(xa), wasm_v128_load64_zero(xb), 0,
                                         16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t low = wasm_u16x8_extend_low_u8x16(both);
  const v128_t high = wasm_u16x8_extend_high_u8x16(both);
#pragma GCC unroll 4
  for (size_t r = 0; r < MAX_R; ++r) {
    if (r < R) {
      const v128_t w = wasm_i32x4_splat(weight_pair(wa[r], wb[r]));
      acc[r][0] = wasm_i32x4_add(acc[r][0], wasm_i32x4_dot_i16x8(low, w));
      acc[r][1] = wasm_i32x4_add(acc[r][1], wasm_i32x4_dot_i16x8(high, w));
    }
  }
}

typedef struct row_requant {
  v128_t multiplier;  /* i32x4 splat */
  v128_t round;       /* i64x2 splat 2^(S-1) */
  v128_t lo, hi;      /* i64x2: lo - zero_point, hi - zero_point */
  v128_t zero_point;  /* i32x4 */
  uint32_t shift;
} row_requant;

static PNN_ALWAYS_INLINE v128_t requant_half(v128_t product, const row_requant *p) {
  v128_t v = wasm_i64x2_shr(wasm_i64x2_add(product, p->round), p->shift);
  v = wasm_v128_bitselect(p->lo, v, wasm_i64x2_lt(v, p->lo));
  return wasm_v128_bitselect(p->hi, v, wasm_i64x2_gt(v, p->hi));
}

/* pnn_requantize on 4 int32 lanes of one row (results in [lo, hi]). */
static PNN_ALWAYS_INLINE v128_t requant4(v128_t acc, const row_requant *p) {
  const v128_t lo = requant_half(wasm_i64x2_extmul_low_i32x4(acc, p->multiplier), p);
  const v128_t hi = requant_half(wasm_i64x2_extmul_high_i32x4(acc, p->multiplier), p);
  return wasm_i32x4_add(wasm_i32x4_shuffle(lo, hi, 0, 2, 4, 6), p->zero_point);
}

/* Rows [m0, m0 + valid) (valid <= R; rows r0.. of their group, G per group) of the
 * 8-pixel tile at p0; the group's nnz nonzeros start at idx and val. */
static PNN_ALWAYS_INLINE void tile_rows(const uint32_t *idx, const int8_t *val, size_t nnz,
                                        size_t G, size_t R, size_t r0, size_t m0, size_t valid,
                                        size_t p0, const spmm_args *a) {
  v128_t acc[MAX_R][2];
#pragma GCC unroll 4
  for (size_t r = 0; r < MAX_R; ++r) {
    if (r < R) {
      acc[r][0] = acc[r][1] = wasm_i32x4_splat(a->bias && r < valid ? a->bias[m0 + r] : 0);
    }
  }
  const uint8_t *x = a->x + p0;
  const size_t xs = a->x_stride;
  size_t j = 0;
  for (; j + 2 <= nnz; j += 2) {
    pair_step(x + idx[j] * xs, x + idx[j + 1] * xs, val + j * G + r0, val + (j + 1) * G + r0, R,
              acc);
  }
  if (j < nnz) { /* the odd last nonzero, paired with weight 0 */
    static const int8_t zeros[MAX_R] = {0};
    pair_step(x + idx[j] * xs, x + idx[j] * xs, val + j * G + r0, zeros, R, acc);
  }
  const pnn_requant *rq = a->rq;
#pragma GCC unroll 4
  for (size_t r = 0; r < MAX_R; ++r) {
    if (r < R && r < valid) {
      const size_t m = m0 + r;
      const row_requant p = {wasm_i32x4_splat(rq->multiplier[m]),
                             wasm_i64x2_splat((int64_t)1 << (rq->shift[m] - 1)),
                             wasm_i64x2_splat((int64_t)rq->lo - rq->zero_point),
                             wasm_i64x2_splat((int64_t)rq->hi - rq->zero_point),
                             wasm_i32x4_splat(rq->zero_point), (uint32_t)rq->shift[m]};
      const v128_t words =
          wasm_i16x8_narrow_i32x4(requant4(acc[r][0], &p), requant4(acc[r][1], &p));
      wasm_v128_store64_lane(a->y + m * a->y_stride + p0, wasm_u8x16_narrow_i16x8(words, words), 0);
    }
  }
}


#endif /* __wasm_simd128__ */
