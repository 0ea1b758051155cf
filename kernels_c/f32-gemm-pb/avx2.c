/* f32 GEMM on a packed B panel for AVX2 + FMA (contract in pnn_kernels_nn.h).
 *
 * 6 x 16 micro-tiles (12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm
 * registers), run over each 16-column half of the 32-column panel. A is broadcast
 * in place. K in blocks of PB_KC rows (the block's half panel, 16 KiB, stays in L1);
 * partial sums of an earlier block are kept in C. */
#include "pnn_kernels.h"

#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#define PNN_X86_ACT_AVX2
#include "pnn_x86_act.h"

enum { PB_MR = 6, PB_KC = 256 };

typedef struct pb_epilogue {
  const float *row_bias;
  int accumulate, activate, kind;
  __m256 alpha, beta;
} pb_epilogue;

/* packed: a points into a PNN_GEMM_PA_MR-row panel, a[k*PNN_GEMM_PA_MR + i]; else a[i*lda + k]. */
static PNN_ALWAYS_INLINE void pb_tile(int packed, size_t mr, int wide, size_t kc, const float *a, size_t lda,
                                      const float *bp, float *c, size_t ldc, __m256i mlo,
                                      __m256i mhi, const pb_epilogue *ep) {
  __m256 lo[PB_MR], hi[PB_MR];
#pragma GCC unroll 6
  for (size_t i = 0; i < PB_MR; ++i) lo[i] = hi[i] = _mm256_setzero_ps();
  for (size_t k = 0; k < kc; ++k) {
    const __m256 b_lo = _mm256_load_ps(bp + k * PNN_GEMM_PB_NR);
    const __m256 b_hi = wide ? _mm256_load_ps(bp + k * PNN_GEMM_PB_NR + 8) : b_lo;
#pragma GCC unroll 6
    for (size_t i = 0; i < PB_MR; ++i) {
      if (i < mr) {
        const __m256 av = _mm256_broadcast_ss(packed ? a + k * PNN_GEMM_PA_MR + i : a + i * lda + k);
        lo[i] = _mm256_fmadd_ps(av, b_lo, lo[i]);
        if (wide) hi[i] = _mm256_fmadd_ps(av, b_hi, hi[i]);
      }
    }
  }
#pragma GCC unroll 6
  for (size_t i = 0; i < PB_MR; ++i) {
    if (i >= mr) continue;
    float *row = c + i * ldc;
    __m256 l = lo[i], h = hi[i];
    if (ep->accumulate) {
      l = _mm256_add_ps(l, _mm256_maskload_ps(row, mlo));
      if (wide) h = _mm256_add_ps(h, _mm256_maskload_ps(row + 8, mhi));
    } else if (ep->row_bias) {
      const __m256 rb = _mm256_set1_ps(ep->row_bias[i]);
      l = _mm256_add_ps(l, rb);
      if (wide) h = _mm256_add_ps(h, rb);
    }
    if (ep->activate) {
      l = pnn_act256(l, ep->kind, ep->alpha, ep->beta);
      if (wide) h = pnn_act256(h, ep->kind, ep->alpha, ep->beta);
    }
    _mm256_maskstore_ps(row, mlo, l);
    if (wide) _mm256_maskstore_ps(row + 8, mhi, h);
  }
}

#define PB_CASE(R)                                                                  \
  case R:                                                                           \
    if (packed) {                                                                   \
      if (wide) pb_tile(1, R, 1, kc, a, lda, bp, c, ldc, mlo, mhi, ep);             \
      else pb_tile(1, R, 0, kc, a, lda, bp, c, ldc, mlo, mhi, ep);                  \
    } else {                                                                        \
      if (wide) pb_tile(0, R, 1, kc, a, lda, bp, c, ldc, mlo, mhi, ep);             \
      else pb_tile(0, R, 0, kc, a, lda, bp, c, ldc, mlo, mhi, ep);                  \
    }                                                                               \
    break;

static void pb_strip(int packed, size_t mr, int wide, size_t kc, const float *a, size_t lda, const float *bp,
                     float *c, size_t ldc, __m256i mlo, __m256i mhi, const pb_epilogue *ep) {
  switch (mr) {
    PB_CASE(1) PB_CASE(2) PB_CASE(3) PB_CASE(4) PB_CASE(5) PB_CASE(6)
    default: break;
  }
}
#undef PB_CASE

/* A in place (packed == 0, row stride lda) or in PNN_GEMM_PA_MR-row panels: 6-row
 * strips never straddle a panel (14 = 6 + 6 + 2). */
static void gemm_pb(int packed, size_t M, size_t N, size_t K, const float *A, size_t lda,
                    const float *Bp, float *C, size_t ldc, const float *row_bias,
                    pnn_activation act) {
  if (M == 0 || N == 0) return;
  const size_t halves = (N + 15) / 16; /* 16-column halves of the panels */
  const size_t panel_stride = K * PNN_GEMM_PB_NR;
  pb_epilogue ep;
  ep.kind = act.kind;
  ep.alpha = _mm256_set1_ps(act.alpha);
  ep.beta = _mm256_set1_ps(act.beta);
  for (size_t k0 = 0;; k0 += PB_KC) {
    const size_t kc = K - k0 < PB_KC ? K - k0 : PB_KC;
    ep.accumulate = k0 != 0;
    ep.activate = k0 + kc >= K;
    /* The half-panel block stays in L1 while the A strips stream past it (see the
     * AVX-512 variant: the cheaper direction). */
    for (size_t h = 0; h < halves; ++h) {
      const size_t n0 = h * 16;
      const size_t width = N - n0 < 16 ? N - n0 : 16;
      const int wide = width > 8;
      const __m256i mlo = pnn_mask8(width), mhi = pnn_mask8(wide ? width - 8 : 0);
      const float *bp = Bp + (h / 2) * panel_stride + k0 * PNN_GEMM_PB_NR + (h % 2) * 16;
      for (size_t m0 = 0; m0 < M;) {
        size_t mr = M - m0 < PB_MR ? M - m0 : PB_MR;
        const size_t in_panel = m0 % PNN_GEMM_PA_MR;
        if (packed && mr > PNN_GEMM_PA_MR - in_panel) mr = PNN_GEMM_PA_MR - in_panel;
        const float *a = packed ? A + (m0 - in_panel) * K + k0 * PNN_GEMM_PA_MR + in_panel : A + m0 * lda + k0;
        ep.row_bias = row_bias ? row_bias + m0 : NULL;
        pb_strip(packed, mr, wide, kc, a, lda, bp, C + m0 * ldc + n0, ldc, mlo, mhi, &ep);
        m0 += mr;
      }
    }
    if (ep.activate) break;
  }
  if (pnn_act_needs_scalar_pass(act.kind)) {
    for (size_t m = 0; m < M; ++m) pnn_f32_activate_avx2(C + m * ldc, N, act);
  }
}

void pnn_f32_gemm_pb_avx2(size_t M, size_t N, size_t K, const float *A, size_t lda,
                          const float *Bp, float *C, size_t ldc, const float *row_bias,
                          pnn_activation act) {
  gemm_pb(0, M, N, K, A, lda, Bp, C, ldc, row_bias, act);
}

void pnn_f32_gemm_pp_avx2(size_t M, size_t N, size_t K, const float *Ap, const float *Bp,
                          float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  gemm_pb(1, M, N, K, Ap, 0, Bp, C, ldc, row_bias, act);
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* __x86_64__ */
