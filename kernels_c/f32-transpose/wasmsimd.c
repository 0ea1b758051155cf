/* 2-D f32 transpose for WebAssembly SIMD128 (contract in pnn_kernels_elementwise.h):
 * 4 x 4 tiles by two rounds of shuffles (transpose_driver.h walks the block). */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#define PNN_TRANSPOSE_W 4

static void transpose_tile(const float *x, size_t ldx, float *y, size_t ldy) {
  const v128_t a = wasm_v128_load(x), b = wasm_v128_load(x + ldx);
  const v128_t c = wasm_v128_load(x + 2 * ldx), d = wasm_v128_load(x + 3 * ldx);
  const v128_t ab_lo = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), ab_hi = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
  const v128_t cd_lo = wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), cd_hi = wasm_i32x4_shuffle(c, d, 2, 6, 3, 7);
  wasm_v128_store(y, wasm_i32x4_shuffle(ab_lo, cd_lo, 0, 1, 4, 5));
  wasm_v128_store(y + ldy, wasm_i32x4_shuffle(ab_lo, cd_lo, 2, 3, 6, 7));
  wasm_v128_store(y + 2 * ldy, wasm_i32x4_shuffle(ab_hi, cd_hi, 0, 1, 4, 5));
  wasm_v128_store(y + 3 * ldy, wasm_i32x4_shuffle(ab_hi, cd_hi, 2, 3, 6, 7));
}

#include "transpose_driver.h"

void pnn_f32_transpose2d_wasmsimd(size_t rows, size_t cols, const float *x, size_t ldx, float *y, size_t ldy) {
  transpose2d(rows, cols, x, ldx, y, ldy);
}

#endif
