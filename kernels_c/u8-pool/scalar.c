/* u8 2-D max pooling, plain C reference (contract in pnn_kernels_s8.h). */
#include "pnn_kernels.h"

void pnn_u8_maxpool2d_scalar(const pnn_pool2d_geometry *g, const uint8_t *x, uint8_t *y) {
  for (size_t c = 0; c < g->channels; ++c) {
    const uint8_t *xc = x + c * g->in_h * g->in_w;
    uint8_t *yc = y + c * g->out_h * g->out_w;
    for (size_t oy = 0; oy < g->out_h; ++oy) {
      for (size_t ox = 0; ox < g->out_w; ++ox) {
        uint8_t best = 0;
        for (size_t i = 0; i < g->kernel_h; ++i) {
          /* Unsigned wrap-around: positions above / left of the image are >= size. */
          const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top;
          if (iy >= g->in_h) continue;
          for (size_t j = 0; j < g->kernel_w; ++j) {
            const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
            if (ix < g->in_w && xc[iy * g->in_w + ix] > best) best = xc[iy * g->in_w + ix];
          }
        }
        yc[oy * g->out_w + ox] = best;
      }
    }
  }
}
