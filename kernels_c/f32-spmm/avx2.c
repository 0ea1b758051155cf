/* f32 group-sparse x dense product for AVX2 + FMA (contract in pnn_kernels_sparse.h):
 * spmm_driver.h's loops over 8-lane ymm vectors, masked tails by maskload/maskstore.
 *
 * Tiles: 16 ymm registers hold rows x nv accumulators, the nv x vectors (or x as a
 * memory operand of the FMA) and one broadcast value; two FMA pipes of 4 cycles need
 * at least 8 independent accumulators, 12 leave slack. G = 8 runs as two passes of 4
 * rows (16 accumulators of one pass would spill).
 *
 * ISA flags are set per file (pragma) so the build needs only portable flags;
 * pnn_f32_spmm_select only calls this after pnn_cpu_detect says AVX2+FMA is usable. */
#include "pnn_kernels.h"
#include "pnn_kernels_sparse.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#define PNN_X86_ACT_AVX2
#include "pnn_x86_act.h"

typedef __m256 spmm_vec;
typedef __m256i spmm_part;
typedef const float *spmm_weights;
typedef struct spmm_act_consts {
  __m256 alpha, beta;
} spmm_act_consts;

enum { SPMM_LANES = 8, SPMM_MAX_NV = 8, SPMM_MAX_ROWS = 4, SPMM_MAX_ACC = 12, SPMM_MASKED_TAIL = 1 };
/* Accumulators x vectors: G = 1: 8 x 8 (x folded into the FMAs), G = 2: 10 x 5,
 * G = 4 and each pass of G = 8: 12 x 3. Measured on Zen 4 (MobileNet V1 shapes): 4
 * rows x 2 vectors reach ~75 GFLOP/s, 4 x 3 ~83; 2 x 6 and 8 x 1 lose to spills or
 * latency. */
#define SPMM_TILE(G) ((G) == 1 ? 8 : (G) == 2 ? 5 : 3)
#define SPMM_ROWS(G) ((G) == 8 ? 4 : (G))
#define SPMM_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)

static PNN_ALWAYS_INLINE spmm_part spmm_make_part(size_t n) { return pnn_mask8(n); }
static PNN_ALWAYS_INLINE spmm_vec vec_load(const float *p) { return _mm256_loadu_ps(p); }
static PNN_ALWAYS_INLINE void vec_store(float *p, spmm_vec v) { _mm256_storeu_ps(p, v); }
static PNN_ALWAYS_INLINE spmm_vec vec_load_part(const float *p, spmm_part m) {
  return _mm256_maskload_ps(p, m);
}
static PNN_ALWAYS_INLINE void vec_store_part(float *p, spmm_vec v, spmm_part m) {
  _mm256_maskstore_ps(p, m, v);
}
static PNN_ALWAYS_INLINE spmm_vec vec_splat(float f) { return _mm256_set1_ps(f); }
static PNN_ALWAYS_INLINE spmm_vec vec_add(spmm_vec a, spmm_vec b) { return _mm256_add_ps(a, b); }
static PNN_ALWAYS_INLINE spmm_weights spmm_load_weights(const float *vj, size_t rows) {
  (void)rows;
  return vj;
}
static PNN_ALWAYS_INLINE spmm_vec vec_fma_weight(spmm_vec acc, spmm_vec x, spmm_weights w,
                                                 size_t r) {
  return _mm256_fmadd_ps(_mm256_broadcast_ss(w + r), x, acc);
}
static PNN_ALWAYS_INLINE spmm_act_consts spmm_make_act(pnn_activation act) {
  const spmm_act_consts k = {_mm256_set1_ps(act.alpha), _mm256_set1_ps(act.beta)};
  return k;
}
static PNN_ALWAYS_INLINE spmm_vec vec_act(spmm_vec v, int kind, spmm_act_consts k) {
  return pnn_act256(v, kind, k.alpha, k.beta);
}

#include "spmm_driver.h"

void pnn_f32_spmm_avx2(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                       size_t x_stride, const float *bias, float *y, size_t y_stride,
                       pnn_activation act) {
  spmm_driver_run(w, pixels, x, x_stride, bias, y, y_stride, act);
}

PNN_TARGET_END()

#endif /* x86-64 */
