/* The f32 direct convolution with output columns across the lanes (contract in
 * pnn_kernels_nn.h), used by AVX-512 (avx512.c; AVX2 puts channels across the lanes
 * instead, avx2.c: with a broadcast weight per FMA this scheme is load-bound on 16 ymm
 * registers). An ISA file defines the vector hooks below inside its target region, then
 * includes this file once to get the kernel named CD_KERNEL.
 *
 * One vector of output columns x CD_CHANNELS output channels per step: CD_CHANNELS
 * accumulators, each a vector of output columns of one channel. Every tap vector
 * (input columns at the stride, zero outside the row) is built once per input
 * channel, kernel position and channel sub-block, and feeds CD_CHANNELS FMAs with a
 * broadcast weight, so the step is FMA-bound with no unfolded copy of the input. A
 * block of PNN_F32_CONV_DIRECT_BLOCK channels runs in sub-blocks of CD_CHANNELS (as
 * many as the ISA has registers for). The kernel width is a compile-time constant
 * (3, 5 or 7) so the tap loop unrolls. A partial last column vector is recomputed
 * overlapping its neighbour when the row is at least a vector wide.
 *
 * Shared vector hooks (pnn_x86_taps.h): pnn_f32v, PNN_F32V_LANES, pnn_f32v_set1 / _fma /
 * _act / _store / _in_order (stride-2 taps may come in a permuted lane order; _in_order
 * restores column order once per output vector).
 * Hooks of this family (PNN_ALWAYS_INLINE functions or macros), CD_KERNEL the name:
 *   CD_CHANNELS                      output channels per step
 *   cd_load_inside(r, d, s)          taps of columns d, d+s, .. all inside the row
 *   cd_load_checked(r, d, in_w, s)   the same, zeros outside [0, in_w)
 *   CD_ACTIVATE_PASS(x, n, act)      sigmoid, tanh and swish after the store
 *                                    (pnn_f32_activate_<isa>) */
#ifndef PNN_F32_CONV_DIRECT_DRIVER_H
#define PNN_F32_CONV_DIRECT_DRIVER_H

#include "pnn_kernels.h"

enum { CD_BLOCK = PNN_F32_CONV_DIRECT_BLOCK };

/* Output columns x0 .. x0 + count - 1 of rows [oy_begin, oy_end) for channels
 * sub .. sub + CD_CHANNELS - 1 of the block (those < valid stored); `inside`: every tap
 * load of this column lies inside the input row (no bounds checks). */
static PNN_ALWAYS_INLINE void cd_column(const pnn_conv2d_geometry *g, size_t stride, size_t kw, int inside,
                                        size_t x0, size_t count, const float *x, const float *wb,
                                        const float *bias, size_t sub, size_t valid, float *y,
                                        size_t oy_begin, size_t oy_end, pnn_activation act) {
  const size_t in_hw = g->in_h * g->in_w, out_hw = g->out_h * g->out_w;
  const size_t channels = g->channels, out_w = g->out_w, kh = g->kernel_h, taps = kh * kw;
  const ptrdiff_t col0 = (ptrdiff_t)(x0 * stride) - (ptrdiff_t)g->pad_left;
  const pnn_f32v alpha = pnn_f32v_set1(act.alpha), beta = pnn_f32v_set1(act.beta);
  for (size_t oy = oy_begin; oy < oy_end; ++oy) {
    pnn_f32v acc[CD_CHANNELS];
#pragma GCC unroll 16
    for (size_t l = 0; l < CD_CHANNELS; ++l) acc[l] = pnn_f32v_set1(bias && sub + l < valid ? bias[sub + l] : 0.0f);
    for (size_t c = 0; c < channels; ++c) {
      for (size_t i = 0; i < kh; ++i) {
        const size_t iy = oy * stride + i - g->pad_top; /* wraps above the image */
        if (iy >= g->in_h) continue;
        const float *r = x + c * in_hw + iy * g->in_w;
        const float *w = wb + (c * taps + i * kw) * CD_BLOCK + sub;
#pragma GCC unroll 7
        for (size_t j = 0; j < kw; ++j) {
          const ptrdiff_t d = col0 + (ptrdiff_t)j;
          const pnn_f32v t = inside ? cd_load_inside(r, d, stride) : cd_load_checked(r, d, g->in_w, stride);
#pragma GCC unroll 16
          for (size_t l = 0; l < CD_CHANNELS; ++l) acc[l] = pnn_f32v_fma(pnn_f32v_set1(w[j * CD_BLOCK + l]), t, acc[l]);
        }
      }
    }
    float *yo = y + oy * out_w + x0;
#pragma GCC unroll 16
    for (size_t l = 0; l < CD_CHANNELS; ++l) {
      if (sub + l >= valid) break;
      const pnn_f32v v = stride == 2 ? pnn_f32v_in_order(acc[l]) : acc[l];
      pnn_f32v_store(yo + (sub + l) * out_hw, pnn_f32v_act(v, act.kind, alpha, beta), count);
    }
  }
}

static PNN_ALWAYS_INLINE void cd_rows(const pnn_conv2d_geometry *g, size_t stride, size_t kw, size_t out_c,
                                      const float *x, const float *packed, const float *bias, float *y,
                                      size_t block, size_t oy_begin, size_t oy_end, pnn_activation act) {
  const size_t m0 = block * CD_BLOCK, valid = out_c - m0 < CD_BLOCK ? out_c - m0 : CD_BLOCK;
  const float *wb = packed + block * g->channels * g->kernel_h * kw * CD_BLOCK;
  const float *bias_b = bias ? bias + m0 : NULL;
  float *yb = y + m0 * g->out_h * g->out_w;
  const size_t out_w = g->out_w;
  /* Loads of a column span input columns [x0*s - pad_left, that + kw - 1 + LANES*s). */
  const size_t reach = kw - 1 + PNN_F32V_LANES * stride;
  for (size_t x0 = 0; x0 < out_w; x0 += PNN_F32V_LANES) {
    const pnn_col_block b = pnn_col_block_at(x0, PNN_F32V_LANES, out_w, stride, g->pad_left, reach, g->in_w);
    for (size_t sub = 0; sub < valid; sub += CD_CHANNELS) {
      if (b.inside)
        cd_column(g, stride, kw, 1, b.start, b.count, x, wb, bias_b, sub, valid, yb, oy_begin, oy_end, act);
      else
        cd_column(g, stride, kw, 0, b.start, b.count, x, wb, bias_b, sub, valid, yb, oy_begin, oy_end, act);
    }
  }
}

#define CD_CASE(S, KW)                                                              \
  if (stride == (S) && kw == (KW)) {                                                \
    cd_rows(g, S, KW, out_c, x, packed, bias, y, block, oy_begin, oy_end, fused);   \
  } else

void CD_KERNEL(const pnn_conv2d_geometry *g, size_t out_c, const float *x, const float *packed, const float *bias,
               float *y, size_t block, size_t oy_begin, size_t oy_end, pnn_activation act) {
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  const pnn_activation fused = scalar_pass ? (pnn_activation){PNN_ACT_NONE, 0, 0} : act;
  const size_t stride = g->stride_w, kw = g->kernel_w;
  CD_CASE(1, 3) CD_CASE(2, 3) CD_CASE(1, 5) CD_CASE(2, 5) CD_CASE(1, 7) CD_CASE(2, 7) {
    pnn_f32_conv_direct_scalar(g, out_c, x, packed, bias, y, block, oy_begin, oy_end, act); /* not covered */
    return;
  }
  if (!scalar_pass) return;
  const size_t out_hw = g->out_h * g->out_w, m0 = block * CD_BLOCK;
  for (size_t m = m0; m < out_c && m < m0 + CD_BLOCK; ++m)
    CD_ACTIVATE_PASS(y + m * out_hw + oy_begin * g->out_w, (oy_end - oy_begin) * g->out_w, act);
}
#undef CD_CASE

#endif /* PNN_F32_CONV_DIRECT_DRIVER_H */
