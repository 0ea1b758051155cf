/* f32 -> u8 QuantizeLinear for WebAssembly SIMD128 (contract in pnn_kernels_s8.h), 16
 * values per step: exact division, clamp with pmin/pmax (NaN becomes -512, then 0),
 * round to nearest even, add the zero point and narrow with saturation. */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

static inline v128_t quantize4(const float *x, v128_t scale, v128_t zero_point) {
  v128_t q = wasm_f32x4_div(wasm_v128_load(x), scale);
  q = wasm_f32x4_pmax(wasm_f32x4_splat(-512.0f), q); /* -512 < q ? q : -512 */
  q = wasm_f32x4_pmin(wasm_f32x4_splat(512.0f), q);  /* q < 512 ? q : 512 */
  return wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(q)), zero_point);
}

void pnn_f32_quantize_u8_wasmsimd(size_t n, const float *x, float scale, int32_t zero_point, uint8_t *y) {
  const v128_t s = wasm_f32x4_splat(scale);
  const v128_t z = wasm_i32x4_splat(zero_point);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const v128_t lo = wasm_i16x8_narrow_i32x4(quantize4(x + i, s, z), quantize4(x + i + 4, s, z));
    const v128_t hi = wasm_i16x8_narrow_i32x4(quantize4(x + i + 8, s, z), quantize4(x + i + 12, s, z));
    wasm_v128_store(y + i, wasm_u8x16_narrow_i16x8(lo, hi));
  }
  pnn_f32_quantize_u8_scalar(n - i, x + i, scale, zero_point, y + i);
}

#endif /* __wasm_simd128__ */
