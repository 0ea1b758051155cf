/* The walk over a panel's im2col rows shared by the x86 panel packers (avx2.c,
 * avx512.c; contract in pnn_kernels_nn.h). Included inside the ISA's target region after
 * the ISA's vector headers, before the ISA's steps (declared here):
 *   pack_run(row, ix0, stride, in_w, len, out)
 *       out[u] = row[ix0 + stride*u] inside [0, in_w), else 0, for u < len; row is NULL
 *       for a row outside the image; ix0 is signed
 *   copy_row(src, width, out)
 *       out[0, width) = src[0, width), out[width, PNN_GEMM_PB_NR) = 0
 *   zero_row(out)
 *       out[0, PNN_GEMM_PB_NR) = 0
 * 1x1 stride-1 unpadded convolutions copy rows of the image directly. */
#ifndef PNN_F32_IM2COL_PANEL_DRIVER_H
#define PNN_F32_IM2COL_PANEL_DRIVER_H

static void pack_run(const float *row, ptrdiff_t ix0, size_t stride, size_t in_w, size_t len, float *out);
static void copy_row(const float *src, size_t width, float *out);
static void zero_row(float *out);

/* The lanes [*lo, *hi) of a run of len columns that read inside the row:
 * 0 <= ix0 + stride*u < in_w. */
static PNN_ALWAYS_INLINE void run_valid_lanes(ptrdiff_t ix0, size_t stride, size_t in_w, size_t len,
                                              ptrdiff_t *lo, ptrdiff_t *hi) {
  const ptrdiff_t w = (ptrdiff_t)in_w, s = (ptrdiff_t)stride;
  *lo = ix0 >= 0 ? 0 : (-ix0 + s - 1) / s;
  *hi = ix0 >= w ? 0 : (w - ix0 + s - 1) / s;
  if (*hi > (ptrdiff_t)len) *hi = (ptrdiff_t)len;
  if (*lo > *hi) *lo = *hi;
}

static void im2col_panel(const pnn_conv2d_geometry *g, const float *x, size_t k0, size_t kc,
                         size_t n0, size_t width, float *dst) {
  const size_t in_hw = g->in_h * g->in_w, ow = g->out_w;
  if (g->kernel_h == 1 && g->kernel_w == 1 && g->stride_h == 1 && g->stride_w == 1 &&
      g->pad_top == 0 && g->pad_left == 0 && g->in_w == ow && g->in_h == g->out_h) {
    /* Panel rows are pieces of image rows. */
    for (size_t r = 0; r < kc; ++r) copy_row(x + (k0 + r) * in_hw + n0, width, dst + r * PNN_GEMM_PB_NR);
    return;
  }
  const size_t taps = g->kernel_h * g->kernel_w;
  size_t c = k0 / taps, i = (k0 % taps) / g->kernel_w, j = k0 % g->kernel_w;
  for (size_t r = 0; r < kc; ++r) {
    const float *x_c = x + c * in_hw;
    float *out = dst + r * PNN_GEMM_PB_NR;
    /* The runs below then leave zeros past width (their own stores are masked). */
    if (width < PNN_GEMM_PB_NR) zero_row(out);
    size_t t = 0, oy = n0 / ow, ox = n0 % ow;
    while (t < width) {
      const size_t len = ow - ox < width - t ? ow - ox : width - t;
      const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top; /* wraps above */
      const ptrdiff_t ix0 = (ptrdiff_t)(ox * g->stride_w + j * g->dilation_w) - (ptrdiff_t)g->pad_left;
      pack_run(iy < g->in_h ? x_c + iy * g->in_w : NULL, ix0, g->stride_w, g->in_w, len, out + t);
      t += len;
      ++oy;
      ox = 0;
    }
    /* Next row of the im2col matrix: (c, i, j) in row-major order. */
    if (++j == g->kernel_w) {
      j = 0;
      if (++i == g->kernel_h) {
        i = 0;
        ++c;
      }
    }
  }
}

#endif /* PNN_F32_IM2COL_PANEL_DRIVER_H */
