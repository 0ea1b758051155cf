/* f32 group-sparse x dense product for AVX-512F (contract in pnn_kernels_sparse.h):
 * spmm_driver.h's loops over 16-lane zmm vectors, masked tails by lane masks.
 *
 * Tiles: 32 zmm registers hold rows x nv accumulators, the nv x vectors and one
 * broadcast value; 8 or more independent accumulators hide the FMA latency.
 *
 * ISA flags are set per file (pragma) so the build needs only portable flags;
 * pnn_f32_spmm_select only calls this after pnn_cpu_detect says AVX-512F is usable. */
#include "pnn_kernels.h"
#include "pnn_kernels_sparse.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx512f,avx2,fma")

#include <immintrin.h>

#define PNN_X86_ACT_AVX512
#include "pnn_x86_act.h"

typedef __m512 spmm_vec;
typedef __mmask16 spmm_part;
typedef const float *spmm_weights;
typedef struct spmm_act_consts {
  __m512 alpha, beta;
} spmm_act_consts;

enum { SPMM_LANES = 16, SPMM_MAX_NV = 8, SPMM_MAX_ROWS = 8, SPMM_MAX_ACC = 16, SPMM_MASKED_TAIL = 1 };
#define SPMM_TILE(G) ((G) == 1 ? 8 : (G) == 2 ? 4 : (G) == 4 ? 4 : 2)
#define SPMM_ROWS(G) (G)
#define SPMM_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)

static PNN_ALWAYS_INLINE spmm_part spmm_make_part(size_t n) { return pnn_mask16(n); }
static PNN_ALWAYS_INLINE spmm_vec vec_load(const float *p) { return _mm512_loadu_ps(p); }
static PNN_ALWAYS_INLINE void vec_store(float *p, spmm_vec v) { _mm512_storeu_ps(p, v); }
static PNN_ALWAYS_INLINE spmm_vec vec_load_part(const float *p, spmm_part m) {
  return _mm512_maskz_loadu_ps(m, p);
}
static PNN_ALWAYS_INLINE void vec_store_part(float *p, spmm_vec v, spmm_part m) {
  _mm512_mask_storeu_ps(p, m, v);
}
static PNN_ALWAYS_INLINE spmm_vec vec_splat(float f) { return _mm512_set1_ps(f); }
static PNN_ALWAYS_INLINE spmm_vec vec_add(spmm_vec a, spmm_vec b) { return _mm512_add_ps(a, b); }
static PNN_ALWAYS_INLINE spmm_weights spmm_load_weights(const float *vj, size_t rows) {
  (void)rows;
  return vj;
}
static PNN_ALWAYS_INLINE spmm_vec vec_fma_weight(spmm_vec acc, spmm_vec x, spmm_weights w,
                                                 size_t r) {
  return _mm512_fmadd_ps(_mm512_set1_ps(w[r]), x, acc);
}
static PNN_ALWAYS_INLINE spmm_act_consts spmm_make_act(pnn_activation act) {
  const spmm_act_consts k = {_mm512_set1_ps(act.alpha), _mm512_set1_ps(act.beta)};
  return k;
}
static PNN_ALWAYS_INLINE spmm_vec vec_act(spmm_vec v, int kind, spmm_act_consts k) {
  return pnn_act512(v, kind, k.alpha, k.beta);
}

#include "spmm_driver.h"

void pnn_f32_spmm_avx512(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                         size_t x_stride, const float *bias, float *y, size_t y_stride,
                         pnn_activation act) {
  spmm_driver_run(w, pixels, x, x_stride, bias, y, y_stride, act);
}

PNN_TARGET_END()

#endif /* x86-64 */
