/* u8 Add for WebAssembly SIMD128 (see pnn_kernels_s8.h and docs/QUANTIZATION.md), 8
 * bytes per step, the tail through the scalar reference.
 *
 * Each branch is widened to int32, (x - z) * M formed in 64-bit lanes (i64x2.extmul),
 * the two branches summed with the rounding term and shifted (i64x2.shr_s); the low
 * halves are q whenever q + zy fits in int32. The sum is at most 510 * (2^31 - 1) in
 * magnitude, so that holds for shifts >= 9; smaller shifts (a branch scale over 2^22
 * times the output's) take the scalar reference. Saturating narrows and a byte
 * min/max clamp to [lo, hi]. A broadcast b adds its constant product to the rounding
 * term. */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

enum { BLOCK = 8, MIN_SHIFT = 9 };

typedef struct add_consts {
  v128_t a_zero_point, b_zero_point, a_multiplier, b_multiplier;
  v128_t rounding; /* 2^(s-1) (+ the broadcast b's product) */
  v128_t zero_point, lo, hi;
  uint32_t shift;
} add_consts;

/* Products of the four int32 lanes of a (and b) with their multipliers, summed with the
 * rounding term, shifted: q + zero_point as int32. */
static inline v128_t scale(v128_t a, const v128_t *b, const add_consts *k) {
  v128_t low = wasm_i64x2_add(wasm_i64x2_extmul_low_i32x4(a, k->a_multiplier), k->rounding);
  v128_t high = wasm_i64x2_add(wasm_i64x2_extmul_high_i32x4(a, k->a_multiplier), k->rounding);
  if (b) {
    low = wasm_i64x2_add(low, wasm_i64x2_extmul_low_i32x4(*b, k->b_multiplier));
    high = wasm_i64x2_add(high, wasm_i64x2_extmul_high_i32x4(*b, k->b_multiplier));
  }
  const v128_t q = wasm_i32x4_shuffle(wasm_i64x2_shr(low, k->shift), wasm_i64x2_shr(high, k->shift), 0, 2, 4, 6);
  return wasm_i32x4_add(q, k->zero_point);
}

void pnn_u8_add_wasmsimd(size_t n, const uint8_t *a, const uint8_t *b, size_t b_stride,
                         const pnn_u8_add_params *p, uint8_t *y) {
  if (p->shift < MIN_SHIFT || n < BLOCK) {
    pnn_u8_add_scalar(n, a, b, b_stride, p, y);
    return;
  }
  const int broadcast = b_stride == 0;
  add_consts k;
  k.a_zero_point = wasm_i16x8_splat((int16_t)p->a_zero_point);
  k.b_zero_point = wasm_i16x8_splat((int16_t)p->b_zero_point);
  k.a_multiplier = wasm_i32x4_splat(p->a_multiplier);
  k.b_multiplier = wasm_i32x4_splat(p->b_multiplier);
  int64_t rounding = (int64_t)1 << (p->shift - 1);
  if (broadcast) rounding += (int64_t)(b[0] - p->b_zero_point) * p->b_multiplier;
  k.rounding = wasm_i64x2_splat(rounding);
  k.zero_point = wasm_i32x4_splat(p->zero_point);
  k.lo = wasm_u8x16_splat((uint8_t)p->lo);
  k.hi = wasm_u8x16_splat((uint8_t)p->hi);
  k.shift = (uint32_t)p->shift;
  size_t i = 0;
  for (; i + BLOCK <= n; i += BLOCK) {
    /* x - z as int16 (exact: -255..255), then int32 halves. */
    const v128_t da = wasm_i16x8_sub(wasm_u16x8_load8x8(a + i), k.a_zero_point);
    const v128_t a_low = wasm_i32x4_extend_low_i16x8(da), a_high = wasm_i32x4_extend_high_i16x8(da);
    v128_t first, second;
    if (broadcast) {
      first = scale(a_low, NULL, &k);
      second = scale(a_high, NULL, &k);
    } else {
      const v128_t db = wasm_i16x8_sub(wasm_u16x8_load8x8(b + i), k.b_zero_point);
      const v128_t b_low = wasm_i32x4_extend_low_i16x8(db), b_high = wasm_i32x4_extend_high_i16x8(db);
      first = scale(a_low, &b_low, &k);
      second = scale(a_high, &b_high, &k);
    }
    const v128_t words = wasm_i16x8_narrow_i32x4(first, second);
    const v128_t bytes = wasm_u8x16_narrow_i16x8(words, words);
    wasm_v128_store64_lane(y + i, wasm_u8x16_min(wasm_u8x16_max(bytes, k.lo), k.hi), 0);
  }
  pnn_u8_add_scalar(n - i, a + i, b + i * b_stride, b_stride, p, y + i);
}

#endif /* __wasm_simd128__ */
