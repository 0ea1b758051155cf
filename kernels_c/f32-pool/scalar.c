/* f32 2-D max and average pooling, plain C reference (ONNX semantics). */
#include <float.h>
#include <math.h>

#include "pnn_kernels.h"
#include "pnn_pool_taps.h"

void pnn_f32_maxpool2d_scalar(const pnn_pool2d_geometry *g, const float *x, float *y) {
  for (size_t c = 0; c < g->channels; ++c) {
    const float *x_c = x + c * g->in_h * g->in_w;
    float *y_c = y + c * g->out_h * g->out_w;
    for (size_t oy = 0; oy < g->out_h; ++oy) {
      for (size_t ox = 0; ox < g->out_w; ++ox) {
        float best = -INFINITY;
        int have = 0, nan = 0;
        for (size_t i = 0; i < g->kernel_h; ++i) {
          /* Unsigned wrap-around: positions above / left of the image are >= size. */
          const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top;
          if (iy >= g->in_h) continue;
          for (size_t j = 0; j < g->kernel_w; ++j) {
            const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
            if (ix >= g->in_w) continue;
            const float v = x_c[iy * g->in_w + ix];
            /* The plain max (MAXSS) and a separate NaN flag: no data-dependent branch. */
            best = v > best ? v : best;
            nan |= v != v;
            have = 1;
          }
        }
        /* Any NaN in the window wins (docs/OPS.md); a window of -inf gives -inf. */
        y_c[oy * g->out_w + ox] = nan ? NAN : (have ? best : -FLT_MAX);
      }
    }
  }
}

void pnn_f32_avgpool2d_scalar(const pnn_pool2d_geometry *g, const float *x, float *y,
                              int count_include_pad) {
  for (size_t c = 0; c < g->channels; ++c) {
    const float *x_c = x + c * g->in_h * g->in_w;
    float *y_c = y + c * g->out_h * g->out_w;
    for (size_t oy = 0; oy < g->out_h; ++oy) {
      for (size_t ox = 0; ox < g->out_w; ++ox) {
        pnn_pool_taps t;
        pnn_pool_taps_of(g, oy, ox, &t);
        float sum = 0.0f;
        for (size_t i = t.i_begin; i < t.i_end; ++i) {
          const float *row = x_c + (oy * g->stride_h + i * g->dilation_h - g->pad_top) * g->in_w;
          for (size_t j = t.j_begin; j < t.j_end; ++j) sum += row[ox * g->stride_w + j * g->dilation_w - g->pad_left];
        }
        const size_t divisor = count_include_pad ? t.in_padded : t.in_image;
        y_c[oy * g->out_w + ox] = divisor ? sum / (float)divisor : 0.0f;
      }
    }
  }
}
