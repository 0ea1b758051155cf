/* f32 direct 3x3 convolution for AVX-512F (contract in pnn_kernels_nn.h).
 *
 * 16 output columns x 16 output channels per step: 16 accumulators, one per output
 * channel of the block, each a vector of 16 output columns. For every input channel
 * and kernel row the three tap vectors are built once (pnn_x86_taps3.h) and each
 * feeds 16 FMAs with a broadcast weight, so the step is FMA-bound with no unfolded
 * copy of the input. */
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
#include "pnn_x86_taps3.h"

enum { BLOCK = 16 };

static PNN_ALWAYS_INLINE void conv3x3_rows(const pnn_conv2d_geometry *g, size_t stride, size_t out_c,
                                           const float *x, const float *packed, const float *bias,
                                           float *y, size_t block, size_t oy_begin, size_t oy_end,
                                           pnn_activation act) {
  const size_t in_hw = g->in_h * g->in_w, out_hw = g->out_h * g->out_w;
  const size_t channels = g->channels, out_w = g->out_w;
  const size_t m0 = block * BLOCK, valid = out_c - m0 < BLOCK ? out_c - m0 : BLOCK;
  const float *wb = packed + block * channels * 9 * BLOCK;
  const __m512 alpha = _mm512_set1_ps(act.alpha), beta = _mm512_set1_ps(act.beta);
  for (size_t x0 = 0; x0 < out_w; x0 += 16) {
    const pnn_taps3_cols cols = pnn_taps3_columns(x0, stride, g->pad_left, g->in_w);
    const __mmask16 store = pnn_mask16(out_w - x0 < 16 ? out_w - x0 : 16);
    for (size_t oy = oy_begin; oy < oy_end; ++oy) {
      __m512 acc[BLOCK];
#pragma GCC unroll 16
      for (size_t l = 0; l < BLOCK; ++l) acc[l] = _mm512_set1_ps(bias && l < valid ? bias[m0 + l] : 0.0f);
      for (size_t c = 0; c < channels; ++c) {
#pragma GCC unroll 3
        for (size_t i = 0; i < 3; ++i) {
          const size_t iy = oy * stride + i - g->pad_top; /* wraps above the image */
          if (iy >= g->in_h) continue;
          const float *r = x + c * in_hw + iy * g->in_w;
          __m512 t[3];
          if (stride == 1) pnn_taps3_s1(r, &cols, t);
          else pnn_taps3_s2(r, &cols, g->pad_left, t);
          const float *w = wb + (c * 9 + i * 3) * BLOCK;
#pragma GCC unroll 3
          for (size_t j = 0; j < 3; ++j)
#pragma GCC unroll 16
            for (size_t l = 0; l < BLOCK; ++l)
              acc[l] = _mm512_fmadd_ps(_mm512_set1_ps(w[j * BLOCK + l]), t[j], acc[l]);
        }
      }
      float *yo = y + m0 * out_hw + oy * out_w + x0;
#pragma GCC unroll 16
      for (size_t l = 0; l < BLOCK; ++l)
        if (l < valid) _mm512_mask_storeu_ps(yo + l * out_hw, store, pnn_act512(acc[l], act.kind, alpha, beta));
    }
  }
}

void pnn_f32_conv3x3_avx512(const pnn_conv2d_geometry *g, size_t out_c, const float *x, const float *packed,
                            const float *bias, float *y, size_t block, size_t oy_begin, size_t oy_end,
                            pnn_activation act) {
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  const pnn_activation fused = scalar_pass ? (pnn_activation){PNN_ACT_NONE, 0, 0} : act;
  if (g->stride_w == 1) conv3x3_rows(g, 1, out_c, x, packed, bias, y, block, oy_begin, oy_end, fused);
  else conv3x3_rows(g, 2, out_c, x, packed, bias, y, block, oy_begin, oy_end, fused);
  if (!scalar_pass) return;
  const size_t out_hw = g->out_h * g->out_w, m0 = block * BLOCK;
  for (size_t m = m0; m < out_c && m < m0 + BLOCK; ++m)
    for (size_t i = oy_begin * g->out_w; i < oy_end * g->out_w; ++i) y[m * out_hw + i] = pnn_activate(y[m * out_hw + i], act);
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* x86-64 */
