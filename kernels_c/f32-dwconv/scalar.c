/* f32 depthwise convolution, plain C reference (any kernel size, stride, dilation,
 * padding; channel multiplier 1). */
#include "pnn_kernels.h"

void pnn_f32_dwconv_scalar(const pnn_conv2d_geometry *g, const float *x, const float *w,
                           const float *bias, float *y, pnn_activation act) {
  const size_t taps = g->kernel_h * g->kernel_w;
  for (size_t c = 0; c < g->channels; ++c) {
    const float *x_c = x + c * g->in_h * g->in_w;
    const float *w_c = w + c * taps;
    float *y_c = y + c * g->out_h * g->out_w;
    const float b = bias ? bias[c] : 0.0f;
    for (size_t oy = 0; oy < g->out_h; ++oy) {
      for (size_t ox = 0; ox < g->out_w; ++ox) {
        float acc = 0.0f;
        for (size_t i = 0; i < g->kernel_h; ++i) {
          /* Unsigned wrap-around: positions above / left of the image are >= size. */
          const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top;
          if (iy >= g->in_h) continue;
          const float *x_row = x_c + iy * g->in_w;
          for (size_t j = 0; j < g->kernel_w; ++j) {
            const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
            if (ix < g->in_w) acc += w_c[i * g->kernel_w + j] * x_row[ix];
          }
        }
        y_c[oy * g->out_w + ox] = pnn_activate(acc + b, act);
      }
    }
  }
}
