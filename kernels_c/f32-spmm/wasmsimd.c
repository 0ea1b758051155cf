/* f32 group-sparse x dense product for WebAssembly SIMD128 (contract in
 * pnn_kernels_sparse.h).
 *
 * Same scheme as neon.c with 4-lane vectors and no FMA (relaxed SIMD is not used:
 * clang 14 emits pre-standard opcodes for it that engines reject). Fast Sparse
 * ConvNets: x is channel-major, so a nonzero W[m][k] scales a whole row of x.
 * Pixels are tiled (NV vectors of 4); for each tile, every group keeps group x NV
 * accumulators in registers while it walks its nonzeros: each index loads the x
 * tile of that input row once and each of the group's values is splatted and
 * multiply-added into its row's accumulators. Tile sizes keep the live vectors
 * within the 16 xmm registers V8 has on x86-64. Bias seeds the accumulators; the
 * activation is applied at the store. A tail shorter than a tile runs with as many
 * whole vectors as fit; the last 1-3 pixels go through the scalar reference on
 * that column slice, so nothing past the x and y rows is touched. */
#include "pnn_kernels.h"
#include "pnn_kernels_sparse.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include "pnn_wasm_act.h"

enum { MAX_G = 8, MAX_NV = 4 };

typedef struct spmm_args {
  const float *x;
  size_t x_stride;
  const float *bias;
  float *y;
  size_t y_stride;
  pnn_activation act;
  v128_t alpha, beta;
} spmm_args;

/* All groups over the pixel tile [p0, p0 + 4 * nv). G and nv are constants at every
 * call site, so the accumulator arrays unroll into locals. */
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
    v128_t acc[MAX_G][MAX_NV];
#pragma GCC unroll 8
    for (size_t r = 0; r < MAX_G; ++r) {
      if (r < G) {
        const v128_t b = wasm_f32x4_splat(a->bias && r < valid ? a->bias[m0 + r] : 0.0f);
#pragma GCC unroll 4
        for (size_t v = 0; v < MAX_NV; ++v) acc[r][v] = b;
      }
    }
    const size_t nnz = w->group_nnz[g];
    for (size_t j = 0; j < nnz; ++j) {
      const float *in = x + (size_t)idx[j] * xs;
      const float *vj = val + j * G;
      v128_t xv[MAX_NV];
#pragma GCC unroll 4
      for (size_t v = 0; v < MAX_NV; ++v) {
        if (v < nv) xv[v] = wasm_v128_load(in + 4 * v);
      }
#pragma GCC unroll 8
      for (size_t r = 0; r < MAX_G; ++r) {
        if (r < G) {
          const v128_t b = wasm_v128_load32_splat(vj + r);
#pragma GCC unroll 4
          for (size_t v = 0; v < MAX_NV; ++v) {
            if (v < nv) acc[r][v] = wasm_f32x4_add(acc[r][v], wasm_f32x4_mul(b, xv[v]));
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
#pragma GCC unroll 4
        for (size_t v = 0; v < MAX_NV; ++v) {
          if (v < nv) wasm_v128_store(out + 4 * v, pnn_wasm_act(acc[r][v], kind, a->alpha, a->beta));
        }
        if (pnn_act_needs_scalar_pass(kind)) {
          for (size_t p = 0; p < 4 * nv; ++p) out[p] = pnn_activate(out[p], a->act);
        }
      }
    }
  }
}

/* Pixel tile widths (vectors of 4) per group size: G x NV accumulators plus NV x
 * vectors, a splat and a product should fit 16 registers. */
#define PNN_SPMM_G(G, NV)                                                              \
  static size_t spmm_g##G(const pnn_sparse_f32 *w, size_t pixels, const spmm_args *a) { \
    size_t p0 = 0;                                                                     \
    for (; p0 + 4 * (NV) <= pixels; p0 += 4 * (NV)) tile_all_groups(w, G, NV, p0, a); \
    const size_t nv = (pixels - p0) / 4; /* < NV */                                    \
    switch (nv) {                                                                      \
      case 1: tile_all_groups(w, G, 1, p0, a); break;                                  \
      case 2: if ((NV) > 2) tile_all_groups(w, G, 2, p0, a); break;                    \
      case 3: if ((NV) > 3) tile_all_groups(w, G, 3, p0, a); break;                    \
      default: break;                                                                  \
    }                                                                                  \
    return p0 + 4 * nv;                                                                \
  }

PNN_SPMM_G(1, 4)
PNN_SPMM_G(2, 4)
PNN_SPMM_G(4, 2)
PNN_SPMM_G(8, 1)
#undef PNN_SPMM_G

void pnn_f32_spmm_wasmsimd(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                           size_t x_stride, const float *bias, float *y, size_t y_stride,
                           pnn_activation act) {
  if (pixels == 0 || w->rows == 0) return;
  spmm_args a;
  a.x = x;
  a.x_stride = x_stride;
  a.bias = bias;
  a.y = y;
  a.y_stride = y_stride;
  a.act = act;
  a.alpha = wasm_f32x4_splat(act.alpha);
  a.beta = wasm_f32x4_splat(act.beta);
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

#endif /* __wasm_simd128__ */
