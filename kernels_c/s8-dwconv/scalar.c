/* u8 depthwise convolution, plain C reference (any kernel size, stride, dilation,
 * padding; channel multiplier 1). A tap outside the image reads x_zero_point; the
 * bias already holds -x_zero_point * sum of the channel's weights. */
#include "pnn_kernels.h"

void pnn_s8_dwconv_scalar(const pnn_conv2d_geometry *g, const uint8_t *x, uint8_t x_zero_point,
                          const int8_t *w, const int32_t *bias, const pnn_requant *rq,
                          uint8_t *y) {
  const size_t taps = g->kernel_h * g->kernel_w;
  for (size_t c = 0; c < g->channels; ++c) {
    const uint8_t *x_c = x + c * g->in_h * g->in_w;
    const int8_t *w_c = w + c * taps;
    uint8_t *y_c = y + c * g->out_h * g->out_w;
    for (size_t oy = 0; oy < g->out_h; ++oy) {
      for (size_t ox = 0; ox < g->out_w; ++ox) {
        /* taps * 255 * 127 fits in int32 (docs/QUANTIZATION.md bounds K). */
        int32_t sum = 0;
        for (size_t i = 0; i < g->kernel_h; ++i) {
          /* Unsigned wrap-around: positions above / left of the image are >= size. */
          const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top;
          for (size_t j = 0; j < g->kernel_w; ++j) {
            const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
            const int32_t xv = iy < g->in_h && ix < g->in_w ? x_c[iy * g->in_w + ix] : x_zero_point;
            sum += w_c[i * g->kernel_w + j] * xv;
          }
        }
        y_c[oy * g->out_w + ox] = (uint8_t)pnn_requantize((int64_t)bias[c] + sum, rq->multiplier[c],
                                                          rq->shift[c], rq->zero_point, rq->lo, rq->hi);
      }
    }
  }
}
