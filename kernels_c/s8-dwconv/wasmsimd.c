/* u8 depthwise convolution for WebAssembly SIMD128 (see pnn_kernels_s8.h and the band
 * plan in dwconv_impl.h). 3x3, stride 1 or 2: 8 outputs per step; other shapes run
 * the scalar reference. The products are avx512.c's with i32x4.dot_i16x8_s on pairs of
 * adjacent u16 taps (even and odd outputs apart for stride 1).
 *
 * Requantization: acc clamped to the channel's pnn_requant_acc_bound, acc * M in 64-bit lanes
 * (i64x2.extmul), rounding and arithmetic shift (i64x2.shr_s), the low halves (exact,
 * see pnn_requant_acc_bound) gathered, the zero point added; saturating narrows and a byte
 * min/max clamp to [lo, hi]. */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include <string.h>
#include <wasm_simd128.h>

#include "dwconv_impl.h"

enum { BLOCK = 8 };

typedef struct channel {
  v128_t w[3][4]; /* dw_weight_pairs, broadcast */
  v128_t bias, bound, neg_bound, multiplier, rounding, zero_point, lo, hi;
  uint32_t shift;
} channel;

static void channel_init(channel *k, const int8_t *w, int32_t bias, int32_t multiplier,
                         int32_t shift, const pnn_requant *rq) {
  int32_t pairs[3][4];
  dw_weight_pairs(w, pairs);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) k->w[i][j] = wasm_i32x4_splat(pairs[i][j]);
  const int32_t bound = pnn_requant_acc_bound(multiplier, shift);
  k->bias = wasm_i32x4_splat(bias);
  k->bound = wasm_i32x4_splat(bound);
  k->neg_bound = wasm_i32x4_splat(-bound);
  k->multiplier = wasm_i32x4_splat(multiplier);
  k->rounding = wasm_i64x2_splat((int64_t)1 << (shift - 1));
  k->shift = (uint32_t)shift;
  k->zero_point = wasm_i32x4_splat(rq->zero_point);
  k->lo = wasm_u8x16_splat((uint8_t)rq->lo);
  k->hi = wasm_u8x16_splat((uint8_t)rq->hi);
}

/* 4 accumulators -> q + zero_point as int32 (not yet clamped to [lo, hi]). */
static inline v128_t requantize(v128_t acc, const channel *k) {
  acc = wasm_i32x4_min(wasm_i32x4_max(acc, k->neg_bound), k->bound);
  const v128_t low = wasm_i64x2_extmul_low_i32x4(acc, k->multiplier);
  const v128_t high = wasm_i64x2_extmul_high_i32x4(acc, k->multiplier);
  const v128_t q_low = wasm_i64x2_shr(wasm_i64x2_add(low, k->rounding), k->shift);
  const v128_t q_high = wasm_i64x2_shr(wasm_i64x2_add(high, k->rounding), k->shift);
  return wasm_i32x4_add(wasm_i32x4_shuffle(q_low, q_high, 0, 2, 4, 6), k->zero_point);
}

/* 8 int32 outputs in order -> bytes 0..7, saturated and clamped to [lo, hi]. */
static inline v128_t to_bytes(v128_t first, v128_t second, const channel *k) {
  const v128_t words = wasm_i16x8_narrow_i32x4(first, second);
  const v128_t bytes = wasm_u8x16_narrow_i16x8(words, words);
  return wasm_u8x16_min(wasm_u8x16_max(bytes, k->lo), k->hi);
}

static inline v128_t dot(v128_t acc, const uint16_t *taps, v128_t weight_pair) {
  return wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wasm_v128_load(taps), weight_pair));
}

/* Stride 1: flat outputs [0, n) of the band (rows of plan width) into out. */
static void band_s1(const channel *k, const uint16_t *band, size_t width, size_t n, uint8_t *out) {
  for (size_t f = 0; f < n; f += BLOCK) {
    v128_t even = k->bias, odd = k->bias;
    for (size_t i = 0; i < 3; ++i) {
      const uint16_t *taps = band + f + i * width;
      even = dot(dot(even, taps, k->w[i][0]), taps + 2, k->w[i][1]);
      odd = dot(dot(odd, taps, k->w[i][2]), taps + 2, k->w[i][3]);
    }
    const v128_t qe = requantize(even, k), qo = requantize(odd, k);
    const v128_t bytes = to_bytes(wasm_i32x4_shuffle(qe, qo, 0, 4, 1, 5),
                                  wasm_i32x4_shuffle(qe, qo, 2, 6, 3, 7), k);
    wasm_v128_store64_lane(out + f, bytes, 0);
  }
}

/* Stride 2: one output row of out_w from the three band rows at `rows`. */
static void row_s2(const channel *k, const uint16_t *rows, size_t width, size_t out_w, uint8_t *y) {
  for (size_t ox = 0; ox < out_w; ox += BLOCK) {
    v128_t first = k->bias, second = k->bias; /* outputs ox .. ox+3, ox+4 .. ox+7 */
    for (size_t i = 0; i < 3; ++i) {
      const uint16_t *taps = rows + i * width + 2 * ox;
      first = dot(dot(first, taps, k->w[i][0]), taps + 2, k->w[i][1]);
      second = dot(dot(second, taps + 8, k->w[i][0]), taps + 10, k->w[i][1]);
    }
    const v128_t bytes = to_bytes(requantize(first, k), requantize(second, k), k);
    if (out_w - ox >= BLOCK) {
      wasm_v128_store64_lane(y + ox, bytes, 0);
    } else {
      uint8_t tail[16];
      wasm_v128_store(tail, bytes);
      memcpy(y + ox, tail, out_w - ox);
    }
  }
}

/* dw_row_fn: zero points in whole vectors, then the widened bytes over them. */
static void fill_row(uint16_t *dst, size_t width, uint16_t zero_point, const uint8_t *src,
                     size_t left, size_t count) {
  const v128_t background = wasm_u16x8_splat(zero_point);
  for (size_t k = 0; k < width; k += 8) wasm_v128_store(dst + k, background);
  size_t k = 0;
  for (; k + 8 <= count; k += 8) wasm_v128_store(dst + left + k, wasm_u16x8_load8x8(src + k));
  for (; k < count; ++k) dst[left + k] = src[k];
}

DW_DEFINE_DWCONV(wasmsimd, dw_copy_rows)

#endif /* __wasm_simd128__ */
