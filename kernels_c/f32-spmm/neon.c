/* f32 group-sparse x dense product for AArch64 NEON (contract in
 * pnn_kernels_sparse.h).
 *
 * Same scheme as avx512.c with 4-lane q vectors and 32 registers. Fast Sparse
 * ConvNets: x is channel-major, so a nonzero W[m][k] scales a whole row of x.
 * Pixels are tiled (NV vectors of 4); for each tile, every group keeps group x NV
 * accumulators in registers while it walks its nonzeros: each index loads the x
 * tile of that input row once; the group's values are loaded as whole q vectors
 * (group >= 4) and multiplied in by lane (fmla by element), so one index drives
 * `group` FMAs per vector. Bias seeds the accumulators; the activation is applied
 * at the store. A tail shorter than a tile runs with as many whole vectors as fit;
 * the last 1-3 pixels go through the scalar reference on that column slice, so
 * nothing past the x and y rows is touched.
 *
 * NEON is part of the AArch64 baseline, so no extra ISA flags or run-time checks. */
#include "pnn_kernels.h"
#include "pnn_kernels_sparse.h"

#if defined(__aarch64__)

#include <arm_neon.h>

#include "pnn_neon_act.h"

enum { MAX_G = 8, MAX_NV = 8 };

/* acc + x * lane `lane` of v; the switch folds away once lane is a constant (the
 * intrinsic needs an immediate). */
static PNN_ALWAYS_INLINE float32x4_t fma_lane(float32x4_t acc, float32x4_t x, float32x4_t v,
                                              size_t lane) {
  switch (lane) {
    case 0: return vfmaq_laneq_f32(acc, x, v, 0);
    case 1: return vfmaq_laneq_f32(acc, x, v, 1);
    case 2: return vfmaq_laneq_f32(acc, x, v, 2);
    default: return vfmaq_laneq_f32(acc, x, v, 3);
  }
}

typedef struct spmm_args {
  const float *x;
  size_t x_stride;
  const float *bias;
  float *y;
  size_t y_stride;
  pnn_activation act;
} spmm_args;

/* All groups over the pixel tile [p0, p0 + 4 * nv). G and nv are constants at every
 * call site, so the accumulator arrays unroll into registers. */
static PNN_ALWAYS_INLINE void tile_all_groups(const pnn_sparse_f32 *w, size_t G, size_t nv,
                                              size_t p0, const spmm_args *a) {
  const uint32_t *idx = w->indices;
  const float *val = w->values;
  const float *x = a->x + p0;
  const size_t xs = a->x_stride;
  const int kind = a->act.kind;
  for (size_t g = 0; g < w->n_groups; ++g) {
    const size_t m0 = g * G;
    const size_t valid = w->rows - m0 < G ? w->rows - m0 : G;
    float32x4_t acc[MAX_G][MAX_NV];
#pragma GCC unroll 8
    for (size_t r = 0; r < MAX_G; ++r) {
      if (r < G) {
        const float32x4_t b = vdupq_n_f32(a->bias && r < valid ? a->bias[m0 + r] : 0.0f);
#pragma GCC unroll 8
        for (size_t v = 0; v < MAX_NV; ++v) acc[r][v] = b;
      }
    }
    const size_t nnz = w->group_nnz[g];
    for (size_t j = 0; j < nnz; ++j) {
      const float *in = x + (size_t)idx[j] * xs;
      const float *vj = val + j * G;
      float32x4_t xv[MAX_NV];
#pragma GCC unroll 8
      for (size_t v = 0; v < MAX_NV; ++v) {
        if (v < nv) xv[v] = vld1q_f32(in + 4 * v);
      }
      if (G >= 4) {
        float32x4_t wv[MAX_G / 4];
#pragma GCC unroll 2
        for (size_t q = 0; q < MAX_G / 4; ++q) {
          if (4 * q < G) wv[q] = vld1q_f32(vj + 4 * q);
        }
#pragma GCC unroll 8
        for (size_t r = 0; r < MAX_G; ++r) {
          if (r < G) {
#pragma GCC unroll 8
            for (size_t v = 0; v < MAX_NV; ++v) {
              if (v < nv) acc[r][v] = fma_lane(acc[r][v], xv[v], wv[r / 4], r % 4);
            }
          }
        }
      } else {
#pragma GCC unroll 2
        for (size_t r = 0; r < MAX_G; ++r) {
          if (r < G) {
            const float wr = vj[r];
#pragma GCC unroll 8
            for (size_t v = 0; v < MAX_NV; ++v) {
              if (v < nv) acc[r][v] = vfmaq_n_f32(acc[r][v], xv[v], wr);
            }
          }
        }
      }
    }
    idx += nnz;
    val += nnz * G;
#pragma GCC unroll 8
    for (size_t r = 0; r < MAX_G; ++r) {
      if (r < G && r < valid) {
        float *out = a->y + (m0 + r) * a->y_stride + p0;
#pragma GCC unroll 8
        for (size_t v = 0; v < MAX_NV; ++v) {
          if (v < nv) vst1q_f32(out + 4 * v, pnn_neon_act(acc[r][v], kind, a->act.alpha, a->act.beta));
        }
        if (pnn_act_needs_scalar_pass(kind)) {
          for (size_t p = 0; p < 4 * nv; ++p) out[p] = pnn_activate(out[p], a->act);
        }
      }
    }
  }
}

/* Pixel tile widths (vectors of 4) per group size: G x NV accumulators plus NV x
 * vectors and the values must fit the 32 q registers. */
#define PNN_SPMM_G(G, NV)                                                              \
  static size_t spmm_g##G(const pnn_sparse_f32 *w, size_t pixels, const spmm_args *a) { \
    size_t p0 = 0;                                                                     \
    for (; p0 + 4 * (NV) <= pixels; p0 += 4 * (NV)) tile_all_groups(w, G, NV, p0, a); \
    const size_t nv = (pixels - p0) / 4; /* < NV */                                    \
    switch (nv) {                                                                      \
      case 1: tile_all_groups(w, G, 1, p0, a); break;                                  \
      case 2: tile_all_groups(w, G, 2, p0, a); break;                                  \
      case 3: tile_all_groups(w, G, 3, p0, a); break;                                  \
      case 4: if ((NV) > 4) tile_all_groups(w, G, 4, p0, a); break;                    \
      case 5: if ((NV) > 5) tile_all_groups(w, G, 5, p0, a); break;                    \
      case 6: if ((NV) > 6) tile_all_groups(w, G, 6, p0, a); break;                    \
      case 7: if ((NV) > 7) tile_all_groups(w, G, 7, p0, a); break;                    \
      default: break;                                                                  \
    }                                                                                  \
    return p0 + 4 * nv;                                                                \
  }

PNN_SPMM_G(1, 8)
PNN_SPMM_G(2, 4)
PNN_SPMM_G(4, 4)
PNN_SPMM_G(8, 2)
#undef PNN_SPMM_G

void pnn_f32_spmm_neon(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                       size_t x_stride, const float *bias, float *y, size_t y_stride,
                       pnn_activation act) {
  if (pixels == 0 || w->rows == 0) return;
  const spmm_args a = {x, x_stride, bias, y, y_stride, act};
  size_t done;
  switch (w->group) {
    case 1: done = spmm_g1(w, pixels, &a); break;
    case 2: done = spmm_g2(w, pixels, &a); break;
    case 4: done = spmm_g4(w, pixels, &a); break;
    case 8: done = spmm_g8(w, pixels, &a); break;
    default: done = 0; break;
  }
  if (done < pixels) {
    pnn_f32_spmm_scalar(w, pixels - done, x + done, x_stride, bias, y + done, y_stride, act);
  }
}

#endif /* __aarch64__ */
