/* f32 group-sparse x dense product for AVX-512F (contract in pnn_kernels_sparse.h).
 *
 * Fast Sparse ConvNets scheme: x is channel-major, so a nonzero W[m][k] scales a
 * whole row of x. Pixels are tiled (NV vectors of 16); for each tile, every
 * group keeps group x NV accumulators in registers while it walks its
 * nonzeros: each index loads the x tile of that input row once, and each of the
 * group's values is broadcast and multiply-added into its row's accumulators, so
 * one index drives `group` FMAs per vector. Bias seeds the accumulators; the
 * activation is applied at the store. Pixel tails use masked loads and stores
 * (never past the x and y rows), with as few vectors as the tail needs.
 *
 * ISA flags are set per file (pragma) so the build needs only portable flags;
 * pnn_f32_spmm_select only calls this after pnn_cpu_detect says AVX-512F is usable. */
#include "pnn_kernels.h"
#include "pnn_kernels_sparse.h"

#if defined(__x86_64__) || defined(_M_X64)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif

#include <immintrin.h>

#define PNN_X86_ACT_AVX512
#include "pnn_x86_act.h"

enum { MAX_G = 8, MAX_NV = 4 };

/* Everything of one call that the tile kernel needs besides its group. */
typedef struct spmm_args {
  const float *x;
  size_t x_stride;
  const float *bias;
  float *y;
  size_t y_stride, rows, pixels;
  pnn_activation act;
  __m512 alpha, beta;
} spmm_args;

/* All groups over the pixel tile [p0, p0 + 16 * nv): nv vectors, the last one limited
 * to `last` lanes when `masked`. G, nv and masked are constants at every call site, so
 * the accumulator arrays unroll into registers. */
static PNN_ALWAYS_INLINE void tile_all_groups(const pnn_sparse_f32 *w, size_t G, size_t nv,
                                              int masked, __mmask16 last, size_t p0,
                                              const spmm_args *a) {
  const uint32_t *idx = w->indices;
  const float *val = w->values;
  const float *x = a->x + p0;
  const size_t xs = a->x_stride;
  __mmask16 mask[MAX_NV];
#pragma GCC unroll 4
  for (size_t v = 0; v < MAX_NV; ++v) mask[v] = (masked && v + 1 == nv) ? last : 0xFFFF;
  /* Columns of the next tile to prefetch per group (0: this is the last tile). */
  const size_t pf_per_group =
      masked || p0 + 32 * nv > a->pixels ? 0 : (w->cols + w->n_groups - 1) / w->n_groups;
  size_t pf_k = 0;
  for (size_t g = 0; g < w->n_groups; ++g) {
    const size_t m0 = g * G;
    const size_t valid = w->rows - m0 < G ? w->rows - m0 : G;
    __m512 acc[MAX_G][MAX_NV];
#pragma GCC unroll 8
    for (size_t r = 0; r < MAX_G; ++r) {
      if (r < G) {
        const __m512 b =
            a->bias && r < valid ? _mm512_set1_ps(a->bias[m0 + r]) : _mm512_setzero_ps();
#pragma GCC unroll 4
        for (size_t v = 0; v < MAX_NV; ++v) acc[r][v] = b;
      }
    }
    /* Warm the next pixel tile's x rows, a slice of them per group so the requests
     * spread over the whole tile (x rows are visited by index, which the hardware
     * prefetchers cannot follow). Prefetches never fault. */
    if (pf_per_group) {
      const size_t k_end = pf_k + pf_per_group < w->cols ? pf_k + pf_per_group : w->cols;
      for (; pf_k < k_end; ++pf_k) {
        const char *line = (const char *)(x + pf_k * xs + 16 * nv);
#pragma GCC unroll 4
        for (size_t v = 0; v < MAX_NV; ++v) {
          if (v < nv) _mm_prefetch(line + 64 * v, _MM_HINT_T0);
        }
      }
    }
    /* The same for this group's output rows of the next tile: y rows are written
     * far apart, and each store miss would otherwise stall the store buffer. */
    if (pf_per_group) {
#pragma GCC unroll 8
      for (size_t r = 0; r < MAX_G; ++r) {
        if (r < G && r < valid) {
          const char *line = (const char *)(a->y + (m0 + r) * a->y_stride + p0 + 16 * nv);
#pragma GCC unroll 4
          for (size_t v = 0; v < MAX_NV; ++v) {
            if (v < nv) _mm_prefetch(line + 64 * v, _MM_HINT_T0);
          }
        }
      }
    }
    const size_t nnz = w->group_nnz[g];
    for (size_t j = 0; j < nnz; ++j) {
      const float *in = x + (size_t)idx[j] * xs;
      __m512 xv[MAX_NV];
#pragma GCC unroll 4
      for (size_t v = 0; v < MAX_NV; ++v) {
        if (v < nv) {
          xv[v] = (masked && v + 1 == nv) ? _mm512_maskz_loadu_ps(mask[v], in + 16 * v)
                                          : _mm512_loadu_ps(in + 16 * v);
        }
      }
      const float *vj = val + j * G;
#pragma GCC unroll 8
      for (size_t r = 0; r < MAX_G; ++r) {
        if (r < G) {
          const __m512 b = _mm512_set1_ps(vj[r]);
#pragma GCC unroll 4
          for (size_t v = 0; v < MAX_NV; ++v) {
            if (v < nv) acc[r][v] = _mm512_fmadd_ps(b, xv[v], acc[r][v]);
          }
        }
      }
    }
    idx += nnz;
    val += nnz * G;
    const int kind = a->act.kind;
#pragma GCC unroll 8
    for (size_t r = 0; r < MAX_G; ++r) {
      if (r < G && r < valid) {
        float *out = a->y + (m0 + r) * a->y_stride + p0;
#pragma GCC unroll 4
        for (size_t v = 0; v < MAX_NV; ++v) {
          if (v < nv) {
            const __m512 o = pnn_act512(acc[r][v], kind, a->alpha, a->beta);
            if (masked && v + 1 == nv) _mm512_mask_storeu_ps(out + 16 * v, mask[v], o);
            else _mm512_storeu_ps(out + 16 * v, o);
          }
        }
        if (pnn_act_needs_scalar_pass(kind)) {
          const size_t n = masked ? 16 * (nv - 1) + (size_t)__builtin_popcount(last) : 16 * nv;
          pnn_f32_activate_avx512(out, n, a->act);
        }
      }
    }
  }
}

/* Pixel tile widths (vectors of 16) per group size: G x NV accumulators plus NV x
 * vectors and one broadcast must fit the 32 zmm registers. */
#define PNN_SPMM_G(G, NV)                                                              \
  static void spmm_g##G(const pnn_sparse_f32 *w, size_t pixels, const spmm_args *a) { \
    size_t p0 = 0;                                                                     \
    for (; p0 + 16 * (NV) <= pixels; p0 += 16 * (NV))                                  \
      tile_all_groups(w, G, NV, 0, 0xFFFF, p0, a);                                     \
    const size_t rest = pixels - p0;                                                   \
    if (rest == 0) return;                                                             \
    const size_t nv = (rest + 15) / 16;                                                \
    const __mmask16 last = pnn_mask16(rest - 16 * (nv - 1));                            \
    switch (nv) {                                                                      \
      case 1: tile_all_groups(w, G, 1, 1, last, p0, a); break;                         \
      case 2: tile_all_groups(w, G, 2, 1, last, p0, a); break;                         \
      case 3: if ((NV) >= 3) tile_all_groups(w, G, 3, 1, last, p0, a); break;          \
      case 4: if ((NV) >= 4) tile_all_groups(w, G, 4, 1, last, p0, a); break;          \
      default: break; /* rest < 16 * NV, so nv <= NV */                                \
    }                                                                                  \
  }

PNN_SPMM_G(1, 4)
PNN_SPMM_G(2, 4)
PNN_SPMM_G(4, 4)
PNN_SPMM_G(8, 2)
#undef PNN_SPMM_G

void pnn_f32_spmm_avx512(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                         size_t x_stride, const float *bias, float *y, size_t y_stride,
                         pnn_activation act) {
  if (pixels == 0 || w->rows == 0) return;
  spmm_args a;
  a.x = x;
  a.x_stride = x_stride;
  a.bias = bias;
  a.y = y;
  a.y_stride = y_stride;
  a.rows = w->rows;
  a.pixels = pixels;
  a.act = act;
  a.alpha = _mm512_set1_ps(act.alpha);
  a.beta = _mm512_set1_ps(act.beta);
  switch (w->group) {
    case 1: spmm_g1(w, pixels, &a); break;
    case 2: spmm_g2(w, pixels, &a); break;
    case 4: spmm_g4(w, pixels, &a); break;
    case 8: spmm_g8(w, pixels, &a); break;
    default: pnn_f32_spmm_scalar(w, pixels, x, x_stride, bias, y, y_stride, act); break;
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* x86-64 */
