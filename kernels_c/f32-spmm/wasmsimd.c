/* f32 group-sparse x dense product for WebAssembly SIMD128 (contract in
 * pnn_kernels_sparse.h): spmm_driver.h's loops over 4-lane vectors, multiply then add
 * (relaxed SIMD's FMA is not used: clang 14 emits pre-standard opcodes for it that
 * engines reject). No masked tails: the last 1-3 pixels go through the scalar
 * reference on that column slice. Tiles keep the live vectors within the 16 xmm
 * registers V8 has on x86-64. */
#include "pnn_kernels.h"
#include "pnn_kernels_sparse.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include "pnn_wasm_act.h"

typedef v128_t spmm_vec;
typedef int spmm_part; /* unused: no masked tails */
typedef const float *spmm_weights;
typedef struct spmm_act_consts {
  v128_t alpha, beta;
} spmm_act_consts;

enum { SPMM_LANES = 4, SPMM_MAX_NV = 4, SPMM_MAX_ROWS = 8, SPMM_MAX_ACC = 8, SPMM_MASKED_TAIL = 0 };
#define SPMM_TILE(G) ((G) <= 2 ? 4 : (G) == 4 ? 2 : 1)
#define SPMM_ROWS(G) (G)
#define SPMM_PREFETCH(p) ((void)(p))

static PNN_ALWAYS_INLINE spmm_part spmm_make_part(size_t n) { return (int)n; }
static PNN_ALWAYS_INLINE spmm_vec vec_load(const float *p) { return wasm_v128_load(p); }
static PNN_ALWAYS_INLINE void vec_store(float *p, spmm_vec v) { wasm_v128_store(p, v); }
static PNN_ALWAYS_INLINE spmm_vec vec_load_part(const float *p, spmm_part n) {
  (void)n; /* never called: SPMM_MASKED_TAIL is 0 */
  return wasm_v128_load(p);
}
static PNN_ALWAYS_INLINE void vec_store_part(float *p, spmm_vec v, spmm_part n) {
  (void)n;
  wasm_v128_store(p, v);
}
static PNN_ALWAYS_INLINE spmm_vec vec_splat(float f) { return wasm_f32x4_splat(f); }
static PNN_ALWAYS_INLINE spmm_vec vec_add(spmm_vec a, spmm_vec b) { return wasm_f32x4_add(a, b); }
static PNN_ALWAYS_INLINE spmm_weights spmm_load_weights(const float *vj, size_t rows) {
  (void)rows;
  return vj;
}
static PNN_ALWAYS_INLINE spmm_vec vec_fma_weight(spmm_vec acc, spmm_vec x, spmm_weights w,
                                                 size_t r) {
  return wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load32_splat(w + r), x));
}
static PNN_ALWAYS_INLINE spmm_act_consts spmm_make_act(pnn_activation act) {
  const spmm_act_consts k = {wasm_f32x4_splat(act.alpha), wasm_f32x4_splat(act.beta)};
  return k;
}
static PNN_ALWAYS_INLINE spmm_vec vec_act(spmm_vec v, int kind, spmm_act_consts k) {
  return pnn_wasm_act(v, kind, k.alpha, k.beta);
}

#include "spmm_driver.h"

void pnn_f32_spmm_wasmsimd(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                           size_t x_stride, const float *bias, float *y, size_t y_stride,
                           pnn_activation act) {
  spmm_driver_run(w, pixels, x, x_stride, bias, y, y_stride, act);
}

#endif /* __wasm_simd128__ */
