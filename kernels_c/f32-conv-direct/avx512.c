/* f32 direct convolution for AVX-512F (contract in pnn_kernels_nn.h).
 *
 * 16 output columns x 16 output channels per step: 16 accumulators, one per output
 * channel of the block, each a vector of 16 output columns. Every tap vector (16 input
 * columns at the stride, zero outside the row: pnn_x86_taps.h) is built once per input
 * channel and kernel position and feeds 16 FMAs with a broadcast weight, so the step is
 * FMA-bound with no unfolded copy of the input. The kernel width is a compile-time
 * constant (3, 5 or 7) so the tap loop unrolls. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif

#define PNN_X86_ACT_AVX512
#include "pnn_x86_act.h"
#include "pnn_x86_taps.h"

enum { BLOCK = PNN_F32_CONV_DIRECT_BLOCK };

/* Tap vector for input columns d, d+s, ... when all of them (and the loads) lie inside
 * the row: plain loads. */
static PNN_ALWAYS_INLINE __m512 load_inside(const float *r, ptrdiff_t d, size_t stride) {
  if (stride == 1) return _mm512_loadu_ps(r + d);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps(_mm512_loadu_ps(r + d), even, _mm512_loadu_ps(r + d + 16));
}

/* Output columns x0 .. x0+15 of rows [oy_begin, oy_end); `inside`: every tap load of
 * this column lies inside the input row (no bounds checks). */
static PNN_ALWAYS_INLINE void conv_column(const pnn_conv2d_geometry *g, size_t stride, size_t kw, int inside,
                                          size_t x0, const float *x, const float *wb, const __m512 *bias_v,
                                          float *y, size_t valid, size_t oy_begin, size_t oy_end,
                                          pnn_activation act) {
  const size_t in_hw = g->in_h * g->in_w, out_hw = g->out_h * g->out_w;
  const size_t channels = g->channels, out_w = g->out_w, kh = g->kernel_h, taps = kh * kw;
  const ptrdiff_t col0 = (ptrdiff_t)(x0 * stride) - (ptrdiff_t)g->pad_left;
  const __mmask16 store = pnn_mask16(out_w - x0 < 16 ? out_w - x0 : 16);
  const __m512 alpha = _mm512_set1_ps(act.alpha), beta = _mm512_set1_ps(act.beta);
  for (size_t oy = oy_begin; oy < oy_end; ++oy) {
    __m512 acc[BLOCK];
#pragma GCC unroll 16
    for (size_t l = 0; l < BLOCK; ++l) acc[l] = bias_v[l];
    for (size_t c = 0; c < channels; ++c) {
      for (size_t i = 0; i < kh; ++i) {
        const size_t iy = oy * stride + i - g->pad_top; /* wraps above the image */
        if (iy >= g->in_h) continue;
        const float *r = x + c * in_hw + iy * g->in_w;
        const float *w = wb + (c * taps + i * kw) * BLOCK;
#pragma GCC unroll 7
        for (size_t j = 0; j < kw; ++j) {
          const ptrdiff_t d = col0 + (ptrdiff_t)j;
          const __m512 t = inside ? load_inside(r, d, stride) : pnn_taps_load_strided(r, d, g->in_w, stride);
#pragma GCC unroll 16
          for (size_t l = 0; l < BLOCK; ++l) acc[l] = _mm512_fmadd_ps(_mm512_set1_ps(w[j * BLOCK + l]), t, acc[l]);
        }
      }
    }
    float *yo = y + oy * out_w + x0;
#pragma GCC unroll 16
    for (size_t l = 0; l < BLOCK; ++l)
      if (l < valid) _mm512_mask_storeu_ps(yo + l * out_hw, store, pnn_act512(acc[l], act.kind, alpha, beta));
  }
}

static PNN_ALWAYS_INLINE void conv_rows(const pnn_conv2d_geometry *g, size_t stride, size_t kw, size_t out_c,
                                        const float *x, const float *packed, const float *bias, float *y,
                                        size_t block, size_t oy_begin, size_t oy_end, pnn_activation act) {
  const size_t m0 = block * BLOCK, valid = out_c - m0 < BLOCK ? out_c - m0 : BLOCK;
  const float *wb = packed + block * g->channels * g->kernel_h * kw * BLOCK;
  float *yb = y + m0 * g->out_h * g->out_w;
  __m512 bias_v[BLOCK];
  for (size_t l = 0; l < BLOCK; ++l) bias_v[l] = _mm512_set1_ps(bias && l < valid ? bias[m0 + l] : 0.0f);
  /* Loads of a column span input columns [x0*s - pad_left, that + kw - 1 + 16*s). */
  const size_t reach = kw - 1 + 16 * stride;
  for (size_t x0 = 0; x0 < g->out_w; x0 += 16) {
    const size_t first = x0 * stride;
    if (first >= g->pad_left && first - g->pad_left + reach <= g->in_w)
      conv_column(g, stride, kw, 1, x0, x, wb, bias_v, yb, valid, oy_begin, oy_end, act);
    else
      conv_column(g, stride, kw, 0, x0, x, wb, bias_v, yb, valid, oy_begin, oy_end, act);
  }
}

#define CONV_DIRECT_CASE(S, KW)                                                          \
  if (stride == (S) && kw == (KW)) {                                                     \
    conv_rows(g, S, KW, out_c, x, packed, bias, y, block, oy_begin, oy_end, fused);      \
  } else

void pnn_f32_conv_direct_avx512(const pnn_conv2d_geometry *g, size_t out_c, const float *x, const float *packed,
                                const float *bias, float *y, size_t block, size_t oy_begin, size_t oy_end,
                                pnn_activation act) {
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  const pnn_activation fused = scalar_pass ? (pnn_activation){PNN_ACT_NONE, 0, 0} : act;
  const size_t stride = g->stride_w, kw = g->kernel_w;
  CONV_DIRECT_CASE(1, 3) CONV_DIRECT_CASE(2, 3) CONV_DIRECT_CASE(1, 5) CONV_DIRECT_CASE(2, 5)
  CONV_DIRECT_CASE(1, 7) CONV_DIRECT_CASE(2, 7) {
    pnn_f32_conv_direct_scalar(g, out_c, x, packed, bias, y, block, oy_begin, oy_end, act); /* not covered */
    return;
  }
  if (!scalar_pass) return;
  const size_t out_hw = g->out_h * g->out_w, m0 = block * BLOCK;
  for (size_t m = m0; m < out_c && m < m0 + BLOCK; ++m)
    pnn_f32_activate_avx512(y + m * out_hw + oy_begin * g->out_w, (oy_end - oy_begin) * g->out_w, act);
}
#undef CONV_DIRECT_CASE

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* x86-64 */
