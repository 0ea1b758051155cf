/* Binary GEMM and convolution for WebAssembly SIMD128 (contract in pnn_kernels_b1.h):
 * i8x16.popcnt counts each byte, a pairwise widening add folds them into 16-bit lanes
 * (16 a word: 4095 words fit), then two more widenings give the 64-bit pixel totals.
 * Micro-tile 4 rows x 4 pixels (two vectors of two 64-bit pixel words). Driver:
 * bgemm_driver.h. */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#define B1_ROWS 4
#define B1_PIXELS 4
enum { CHUNK = 4095 }; /* words whose counts fit a 16-bit lane */

static v128_t widen_to_u64(v128_t u16) {
  const v128_t u32 = wasm_u32x4_extadd_pairwise_u16x8(u16);
  return wasm_i64x2_add(wasm_v128_and(u32, wasm_i64x2_splat(0xFFFFFFFF)), wasm_u64x2_shr(u32, 32));
}

static void b1_tile(size_t kw, const uint64_t *const *w, const uint64_t *panel, uint32_t *counts) {
  v128_t total[B1_ROWS][2];
  for (size_t r = 0; r < B1_ROWS; ++r) total[r][0] = total[r][1] = wasm_i64x2_splat(0);
  for (size_t k0 = 0; k0 < kw; k0 += CHUNK) {
    const size_t k1 = kw - k0 < CHUNK ? kw : k0 + CHUNK;
    v128_t acc[B1_ROWS][2];
    for (size_t r = 0; r < B1_ROWS; ++r) acc[r][0] = acc[r][1] = wasm_i16x8_splat(0);
    for (size_t k = k0; k < k1; ++k) {
      const v128_t x0 = wasm_v128_load(panel + k * B1_PIXELS);
      const v128_t x1 = wasm_v128_load(panel + k * B1_PIXELS + 2);
      for (size_t r = 0; r < B1_ROWS; ++r) {
        const v128_t wv = wasm_i64x2_splat((int64_t)w[r][k]);
        acc[r][0] = wasm_i16x8_add(acc[r][0], wasm_u16x8_extadd_pairwise_u8x16(wasm_i8x16_popcnt(wasm_v128_xor(x0, wv))));
        acc[r][1] = wasm_i16x8_add(acc[r][1], wasm_u16x8_extadd_pairwise_u8x16(wasm_i8x16_popcnt(wasm_v128_xor(x1, wv))));
      }
    }
    for (size_t r = 0; r < B1_ROWS; ++r) {
      total[r][0] = wasm_i64x2_add(total[r][0], widen_to_u64(acc[r][0]));
      total[r][1] = wasm_i64x2_add(total[r][1], widen_to_u64(acc[r][1]));
    }
  }
  for (size_t r = 0; r < B1_ROWS; ++r) {
    /* The low 32 bits of each 64-bit lane (counts stay far below 2^32). */
    wasm_v128_store(counts + r * B1_PIXELS, wasm_i32x4_shuffle(total[r][0], total[r][1], 0, 2, 4, 6));
  }
}

#include "bgemm_driver.h"

PNN_B1_GEMM_KERNEL(pnn_b1_gemm_wasmsimd, "wasmsimd");

#endif
