/* f32 GEMM on a packed B panel for WebAssembly SIMD128 (contract in pnn_kernels_nn.h;
 * loops in pb_driver.h).
 *
 * Micro-tiles of up to 4 rows x 8 columns (a quarter of a 32-column panel) with the k
 * loop rolled: 8 accumulators + 2 B vectors + 4 splats of A + 1 product, what fits
 * the 15 xmm registers V8 allocates on x86-64 when it loads all of a k step's values
 * first (f32-gemm/wasmsimd.c says more; 6 rows or K unrolled by 4 spilled in every
 * step). No FMA: relaxed SIMD is not used
 * (clang 14 emits pre-standard opcodes for it that engines reject), so a step is a
 * multiply and an add. Tails lane by lane (pnn_wasm_lanes.h). */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include "pnn_wasm_act.h"
#include "pnn_wasm_lanes.h"

typedef v128_t pb_vec;
typedef size_t pb_mask; /* lanes [0, n) */
enum { PB_LANES = 4 };
#define PB_MR 4
/* Sigmoid, tanh and swish after the store in vectors (the scalar pass with expf took
 * about 5 ns an output: 2-3 ms of ddddocr's CNN, whose every 3x3 conv ends in swish). */
#define PB_ACTIVATE_PASS pnn_f32_activate_wasmsimd
/* As AVX2 (same hosts run the browsers): strip by strip while A's block is too large
 * for L2 and the columns are few. */
#define PB_STRIP_COLUMNS (8 * PNN_GEMM_PB_NR)
/* V8 unrolls the rolled k loop itself, a block per step; clang's unrolling spills. */
#define PB_K_LOOP_PRAGMA _Pragma("clang loop unroll(disable)")

static PNN_ALWAYS_INLINE pb_mask pb_tail_mask(size_t n) { return n; }
static PNN_ALWAYS_INLINE pb_vec pb_zero(void) { return wasm_f32x4_const_splat(0.0f); }
static PNN_ALWAYS_INLINE pb_vec pb_set1(float x) { return wasm_f32x4_splat(x); }
static PNN_ALWAYS_INLINE pb_vec pb_load(const float *p) { return wasm_v128_load(p); }
static PNN_ALWAYS_INLINE pb_vec pb_loadu(const float *p) { return wasm_v128_load(p); }
static PNN_ALWAYS_INLINE pb_vec pb_bcast(const float *p) { return wasm_v128_load32_splat(p); }
static PNN_ALWAYS_INLINE pb_vec pb_fma(pb_vec a, pb_vec b, pb_vec c) { return wasm_f32x4_add(c, wasm_f32x4_mul(a, b)); }
static PNN_ALWAYS_INLINE pb_vec pb_add(pb_vec a, pb_vec b) { return wasm_f32x4_add(a, b); }
static PNN_ALWAYS_INLINE void pb_store(float *p, pb_vec v) { wasm_v128_store(p, v); }
static PNN_ALWAYS_INLINE pb_vec pb_load_tail(pb_mask n, const float *p) { return pnn_wasm_load_first(p, n); }
static PNN_ALWAYS_INLINE void pb_store_tail(float *p, pb_mask n, pb_vec v) { pnn_wasm_store_first(p, n, v); }
static PNN_ALWAYS_INLINE pb_vec pb_act(pb_vec v, int kind, pb_vec alpha, pb_vec beta) {
  return pnn_wasm_act(v, kind, alpha, beta);
}

#include "pb_driver.h"

void pnn_f32_gemm_pb_wasmsimd(size_t M, size_t N, size_t K, const float *A, size_t lda,
                              const float *Bp, float *C, size_t ldc, const float *row_bias,
                              pnn_activation act) {
  gemm_pb(0, M, N, K, A, lda, Bp, C, ldc, row_bias, act);
}

void pnn_f32_gemm_pp_wasmsimd(size_t M, size_t N, size_t K, const float *Ap, const float *Bp,
                              float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  gemm_pb(1, M, N, K, Ap, 0, Bp, C, ldc, row_bias, act);
}

#endif /* __wasm_simd128__ */
