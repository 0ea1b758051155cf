/* f32 direct convolution over packed weights: the reference (contract in
 * pnn_kernels_nn.h), for any geometry. */
#include "pnn_kernels.h"

enum { BLOCK = PNN_F32_CONV_DIRECT_BLOCK };

size_t pnn_f32_conv_direct_packed_floats(size_t out_c, size_t in_c, size_t taps) {
  return (out_c + BLOCK - 1) / BLOCK * in_c * taps * BLOCK;
}

void pnn_f32_conv_direct_pack(size_t out_c, size_t in_c, size_t taps, const float *w, float *packed) {
  const size_t blocks = (out_c + BLOCK - 1) / BLOCK;
  for (size_t b = 0; b < blocks; ++b)
    for (size_t c = 0; c < in_c; ++c)
      for (size_t t = 0; t < taps; ++t)
        for (size_t l = 0; l < BLOCK; ++l) {
          const size_t m = b * BLOCK + l;
          packed[((b * in_c + c) * taps + t) * BLOCK + l] = m < out_c ? w[(m * in_c + c) * taps + t] : 0.0f;
        }
}

void pnn_f32_conv_direct_scalar(const pnn_conv2d_geometry *g, size_t out_c, const float *x, const float *packed,
                                const float *bias, float *y, size_t block, size_t oy_begin, size_t oy_end,
                                pnn_activation act) {
  const size_t in_hw = g->in_h * g->in_w, out_hw = g->out_h * g->out_w;
  const size_t kh = g->kernel_h, kw = g->kernel_w, taps = kh * kw;
  const float *wb = packed + block * g->channels * taps * BLOCK;
  for (size_t l = 0; l < BLOCK && block * BLOCK + l < out_c; ++l) {
    const size_t m = block * BLOCK + l;
    for (size_t oy = oy_begin; oy < oy_end; ++oy)
      for (size_t ox = 0; ox < g->out_w; ++ox) {
        float acc = bias ? bias[m] : 0.0f;
        for (size_t c = 0; c < g->channels; ++c)
          for (size_t i = 0; i < kh; ++i) {
            const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top; /* wraps above */
            if (iy >= g->in_h) continue;
            for (size_t j = 0; j < kw; ++j) {
              const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
              if (ix < g->in_w) acc += wb[(c * taps + i * kw + j) * BLOCK + l] * x[c * in_hw + iy * g->in_w + ix];
            }
          }
        y[m * out_hw + oy * g->out_w + ox] = pnn_activate(acc, act);
      }
  }
}
