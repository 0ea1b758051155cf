/* f32 group-sparse x dense product for AArch64 NEON (contract in
 * pnn_kernels_sparse.h): spmm_driver.h's loops over 4-lane q vectors. No masked
 * tails: the last 1-3 pixels go through the scalar reference on that column slice.
 *
 * Tiles fit the 32 q registers. A nonzero's values are loaded as whole q vectors when
 * a pass has 4 or more rows and multiplied in by lane (fmla by element), one load for
 * four rows.
 *
 * NEON is part of the AArch64 baseline, so no extra ISA flags or run-time checks. */
#include "pnn_kernels.h"
#include "pnn_kernels_sparse.h"

#if defined(__aarch64__)

#include <arm_neon.h>

#include "pnn_neon_act.h"

typedef float32x4_t spmm_vec;
typedef int spmm_part; /* unused: no masked tails */
typedef struct spmm_weights {
  float32x4_t q[2]; /* rows >= 4: the values as vectors */
  const float *p;   /* rows < 4: the values one by one */
  int by_lane;
} spmm_weights;
typedef struct spmm_act_consts {
  float alpha, beta;
} spmm_act_consts;

enum { SPMM_LANES = 4, SPMM_MAX_NV = 8, SPMM_MAX_ROWS = 8, SPMM_MAX_ACC = 16, SPMM_MASKED_TAIL = 0 };
#define SPMM_TILE(G) ((G) == 1 ? 8 : (G) == 8 ? 2 : 4)
#define SPMM_ROWS(G) (G)
#define SPMM_PREFETCH(p) ((void)(p))

static PNN_ALWAYS_INLINE spmm_part spmm_make_part(size_t n) { return (int)n; }
static PNN_ALWAYS_INLINE spmm_vec vec_load(const float *p) { return vld1q_f32(p); }
static PNN_ALWAYS_INLINE void vec_store(float *p, spmm_vec v) { vst1q_f32(p, v); }
static PNN_ALWAYS_INLINE spmm_vec vec_load_part(const float *p, spmm_part n) {
  (void)n; /* never called: SPMM_MASKED_TAIL is 0 */
  return vld1q_f32(p);
}
static PNN_ALWAYS_INLINE void vec_store_part(float *p, spmm_vec v, spmm_part n) {
  (void)n;
  vst1q_f32(p, v);
}
static PNN_ALWAYS_INLINE spmm_vec vec_splat(float f) { return vdupq_n_f32(f); }
static PNN_ALWAYS_INLINE spmm_vec vec_add(spmm_vec a, spmm_vec b) { return vaddq_f32(a, b); }
static PNN_ALWAYS_INLINE spmm_weights spmm_load_weights(const float *vj, size_t rows) {
  spmm_weights w;
  w.p = vj;
  w.by_lane = rows >= 4;
  w.q[0] = rows >= 4 ? vld1q_f32(vj) : vdupq_n_f32(0.0f);
  w.q[1] = rows >= 8 ? vld1q_f32(vj + 4) : vdupq_n_f32(0.0f);
  return w;
}
static PNN_ALWAYS_INLINE spmm_vec vec_fma_weight(spmm_vec acc, spmm_vec x, spmm_weights w,
                                                 size_t r) {
  if (!w.by_lane) return vfmaq_n_f32(acc, x, w.p[r]);
  const float32x4_t q = w.q[r / 4];
  switch (r % 4) { /* the lane must be an immediate */
    case 0: return vfmaq_laneq_f32(acc, x, q, 0);
    case 1: return vfmaq_laneq_f32(acc, x, q, 1);
    case 2: return vfmaq_laneq_f32(acc, x, q, 2);
    default: return vfmaq_laneq_f32(acc, x, q, 3);
  }
}
static PNN_ALWAYS_INLINE spmm_act_consts spmm_make_act(pnn_activation act) {
  const spmm_act_consts k = {act.alpha, act.beta};
  return k;
}
static PNN_ALWAYS_INLINE spmm_vec vec_act(spmm_vec v, int kind, spmm_act_consts k) {
  return pnn_neon_act(v, kind, k.alpha, k.beta);
}

#include "spmm_driver.h"

void pnn_f32_spmm_neon(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                       size_t x_stride, const float *bias, float *y, size_t y_stride,
                       pnn_activation act) {
  spmm_driver_run(w, pixels, x, x_stride, bias, y, y_stride, act);
}

#endif /* __aarch64__ */
