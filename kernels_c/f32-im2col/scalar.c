/* f32 im2col, plain C reference: unfolds convolution windows into GEMM columns. */
#include <string.h>

#include "pnn_kernels.h"

void pnn_f32_im2col_scalar(const pnn_conv2d_geometry *g, const float *x, float *cols) {
  const size_t out_hw = g->out_h * g->out_w;
  for (size_t c = 0; c < g->channels; ++c) {
    const float *x_c = x + c * g->in_h * g->in_w;
    for (size_t i = 0; i < g->kernel_h; ++i) {
      for (size_t j = 0; j < g->kernel_w; ++j) {
        float *dst = cols + ((c * g->kernel_h + i) * g->kernel_w + j) * out_hw;
        for (size_t oy = 0; oy < g->out_h; ++oy) {
          /* Unsigned wrap-around makes every position left of / above the image
           * compare >= in_h / in_w, so one comparison covers both sides. */
          const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top;
          float *dst_row = dst + oy * g->out_w;
          if (iy >= g->in_h) {
            memset(dst_row, 0, g->out_w * sizeof(float));
            continue;
          }
          const float *x_row = x_c + iy * g->in_w;
          for (size_t ox = 0; ox < g->out_w; ++ox) {
            const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
            dst_row[ox] = ix < g->in_w ? x_row[ix] : 0.0f;
          }
        }
      }
    }
  }
}
