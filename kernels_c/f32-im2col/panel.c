/* f32 im2col of one GEMM panel (see pnn_kernels_nn.h): the conv driver packs the
 * columns of one panel straight from the image into an L1/L2-sized buffer instead of
 * unfolding the whole image. Rows with unit width stride copy contiguous runs. */
#include <string.h>

#include "pnn_kernels.h"

void pnn_f32_im2col_panel_scalar(const pnn_conv2d_geometry *g, const float *x, size_t k0,
                                 size_t kc, size_t n0, size_t width, float *dst) {
  const size_t taps = g->kernel_h * g->kernel_w;
  const size_t ow = g->out_w;
  for (size_t r = 0; r < kc; ++r) {
    const size_t k = k0 + r;
    const size_t c = k / taps, tap = k % taps;
    const size_t i = tap / g->kernel_w, j = tap % g->kernel_w;
    const float *x_c = x + c * g->in_h * g->in_w;
    float *out = dst + r * PNN_GEMM_PB_NR;
    memset(out + width, 0, (PNN_GEMM_PB_NR - width) * sizeof(float));
    size_t t = 0;
    size_t oy = n0 / ow, ox = n0 % ow;
    while (t < width) {
      /* One run of columns on output row oy: [ox, ox + len). */
      const size_t len = ow - ox < width - t ? ow - ox : width - t;
      /* Unsigned wrap-around sends positions above / left of the image past the end. */
      const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top;
      if (iy >= g->in_h) {
        memset(out + t, 0, len * sizeof(float));
      } else {
        const float *x_row = x_c + iy * g->in_w;
        const size_t ix0 = ox * g->stride_w + j * g->dilation_w - g->pad_left;
        if (g->stride_w == 1) {
          /* Columns u in [0, len) read x_row[ix0 + u]: zeros, a copy, zeros. */
          size_t lead = 0;
          while (lead < len && ix0 + lead >= g->in_w && (size_t)(ix0 + lead) > (size_t)-1 / 2) {
            out[t + lead] = 0.0f;  /* left of the image (wrapped) */
            ++lead;
          }
          size_t u = lead;
          if (u < len && ix0 + u < g->in_w) {
            size_t run = g->in_w - (ix0 + u);
            if (run > len - u) run = len - u;
            memcpy(out + t + u, x_row + (ix0 + u), run * sizeof(float)); /* index first: ix0 may wrap */
            u += run;
          }
          for (; u < len; ++u) out[t + u] = 0.0f;  /* right of the image */
        } else {
          for (size_t u = 0; u < len; ++u) {
            const size_t ix = ix0 + u * g->stride_w;
            out[t + u] = ix < g->in_w ? x_row[ix] : 0.0f;
          }
        }
      }
      t += len;
      ++oy;
      ox = 0;
    }
  }
}
