/* u8 2-D max and average pooling, plain C references (contracts in pnn_kernels_s8.h). */
#include "pnn_kernels.h"
#include "pnn_pool_taps.h"

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

void pnn_u8_avgpool2d_scalar(const pnn_pool2d_geometry *g, const uint8_t *x, const pnn_u8_avgpool_params *p,
                             uint8_t *y) {
  for (size_t c = 0; c < g->channels; ++c) {
    const uint8_t *xc = x + c * g->in_h * g->in_w;
    uint8_t *yc = y + c * g->out_h * g->out_w;
    for (size_t oy = 0; oy < g->out_h; ++oy) {
      for (size_t ox = 0; ox < g->out_w; ++ox) {
        pnn_pool_taps t;
        pnn_pool_taps_of(g, oy, ox, &t);
        int32_t sum = 0; /* padding adds x_zero_point - x_zero_point = 0 */
        for (size_t i = t.i_begin; i < t.i_end; ++i) {
          const uint8_t *row = xc + (oy * g->stride_h + i * g->dilation_h - g->pad_top) * g->in_w;
          for (size_t j = t.j_begin; j < t.j_end; ++j) sum += row[ox * g->stride_w + j * g->dilation_w - g->pad_left];
        }
        sum -= (int32_t)t.in_image * p->x_zero_point;
        const size_t d = p->count_include_pad ? t.in_padded : t.in_image; /* >= 1 by contract */
        yc[oy * g->out_w + ox] =
            (uint8_t)pnn_requantize(sum, p->multipliers[d - 1], p->shifts[d - 1], p->y_zero_point, 0, 255);
      }
    }
  }
}
