/* f32 col2im (accumulating), plain C reference: the adjoint of im2col, used by
 * ConvTranspose to scatter GEMM columns back into the output image. */
#include "pnn_kernels.h"

void pnn_f32_col2im_add_scalar(const pnn_conv2d_geometry *g, const float *cols, float *x) {
  const size_t out_hw = g->out_h * g->out_w;
  for (size_t c = 0; c < g->channels; ++c) {
    float *x_c = x + c * g->in_h * g->in_w;
    for (size_t i = 0; i < g->kernel_h; ++i) {
      for (size_t j = 0; j < g->kernel_w; ++j) {
        const float *src = cols + ((c * g->kernel_h + i) * g->kernel_w + j) * out_hw;
        for (size_t oy = 0; oy < g->out_h; ++oy) {
          /* Unsigned wrap-around: positions above / left of the image are >= size. */
          const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top;
          if (iy >= g->in_h) continue;
          float *x_row = x_c + iy * g->in_w;
          const float *src_row = src + oy * g->out_w;
          for (size_t ox = 0; ox < g->out_w; ++ox) {
            const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
            if (ix < g->in_w) x_row[ix] += src_row[ox];
          }
        }
      }
    }
  }
}
