/* Max pooling written for the auto-vectorizer, for f32 and u8: per output row, the
 * output columns whose window lies inside the image horizontally run tap by tap as a
 * vector max over the columns; edge columns use a per-pixel loop. Results equal
 * pnn_f32_maxpool2d_scalar's: any NaN in a window makes its output NaN, a window of
 * -inf gives -inf (docs/OPS.md). Included (inside an ISA target region) with MAXPOOL_T
 * (the element type), MAXPOOL_LOWEST (the value of a window with no tap inside the
 * image), MAXPOOL_FN(name) (the names to define: MAXPOOL_FN(maxpool2d) is the kernel)
 * and, for floating-point types, MAXPOOL_IS_NAN(v) and MAXPOOL_NAN set. */
#include "pnn_inline.h"
#include "pnn_kernels.h"

#ifndef MAXPOOL_IS_NAN
#define MAXPOOL_IS_NAN(v) 0 /* integer types have no NaN */
#define MAXPOOL_NAN 0
#endif

/* The running maximum best after tap v, a NaN tap winning (a NaN best stays, as
 * v > NaN is false): a max and a blend, which vectorize to two selects. */
#define MAXPOOL_STEP(best, v) (MAXPOOL_IS_NAN(v) ? (v) : ((v) > (best) ? (v) : (best)))

static MAXPOOL_T MAXPOOL_FN(maxpool_pixel)(const pnn_pool2d_geometry *g, const MAXPOOL_T *x_c, size_t oy, size_t ox) {
  MAXPOOL_T best = MAXPOOL_LOWEST;
  int have = 0, nan = 0;
  for (size_t i = 0; i < g->kernel_h; ++i) {
    const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top;
    if (iy >= g->in_h) continue;
    for (size_t j = 0; j < g->kernel_w; ++j) {
      const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
      if (ix >= g->in_w) continue;
      const MAXPOOL_T v = x_c[iy * g->in_w + ix];
      best = !have || v > best ? v : best;
      nan |= MAXPOOL_IS_NAN(v); /* a flag, not a data-dependent branch */
      have = 1;
    }
  }
  return nan ? (MAXPOOL_T)MAXPOOL_NAN : best;
}

/* One tap over the interior columns of an output row: y_row[ox] = (first ? v : the
 * running maximum with v), v = src[ox * sw]. Called with a constant stride where it is
 * 1 or 2, so the compiler turns the strided reads into vector shuffles (with sw only
 * known at run time it left the loop scalar: ResNet-18's u8 3x3 s2 pool took 0.56 ms on
 * Zen 4, AVX2). */
static PNN_ALWAYS_INLINE void MAXPOOL_FN(maxpool_tap)(const MAXPOOL_T *src, size_t sw, size_t ox_lo,
                                                      size_t ox_hi, int first, MAXPOOL_T *y_row) {
  if (first) {
    for (size_t ox = ox_lo; ox < ox_hi; ++ox) y_row[ox] = src[ox * sw];
  } else {
    for (size_t ox = ox_lo; ox < ox_hi; ++ox) {
      const MAXPOOL_T v = src[ox * sw];
      y_row[ox] = MAXPOOL_STEP(y_row[ox], v);
    }
  }
}

void MAXPOOL_FN(maxpool2d)(const pnn_pool2d_geometry *g, const MAXPOOL_T *x, MAXPOOL_T *y) {
  const size_t sw = g->stride_w, dw = g->dilation_w, pl = g->pad_left;
  const size_t span = (g->kernel_w - 1) * dw; /* window width - 1 */
  /* Interior columns: ox*sw >= pl and ox*sw - pl + span < in_w. */
  size_t ox_lo = (pl + sw - 1) / sw;
  size_t ox_hi = g->in_w + pl > span ? (g->in_w + pl - span - 1) / sw + 1 : 0;
  if (ox_hi > g->out_w) ox_hi = g->out_w;
  if (ox_lo > ox_hi) ox_lo = ox_hi;
  for (size_t c = 0; c < g->channels; ++c) {
    const MAXPOOL_T *x_c = x + c * g->in_h * g->in_w;
    MAXPOOL_T *y_c = y + c * g->out_h * g->out_w;
    for (size_t oy = 0; oy < g->out_h; ++oy) {
      MAXPOOL_T *y_row = y_c + oy * g->out_w;
      for (size_t ox = 0; ox < ox_lo; ++ox) y_row[ox] = MAXPOOL_FN(maxpool_pixel)(g, x_c, oy, ox);
      for (size_t ox = ox_hi; ox < g->out_w; ++ox) y_row[ox] = MAXPOOL_FN(maxpool_pixel)(g, x_c, oy, ox);
      if (ox_lo == ox_hi) continue;
      int first = 1;
      for (size_t i = 0; i < g->kernel_h; ++i) {
        const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top;
        if (iy >= g->in_h) continue;
        for (size_t j = 0; j < g->kernel_w; ++j) {
          /* Column of tap j for output ox: ox*sw + j*dw - pl, in range for interior ox. */
          const MAXPOOL_T *src = x_c + iy * g->in_w + j * dw - pl;
          if (sw == 1)
            MAXPOOL_FN(maxpool_tap)(src, 1, ox_lo, ox_hi, first, y_row);
          else if (sw == 2)
            MAXPOOL_FN(maxpool_tap)(src, 2, ox_lo, ox_hi, first, y_row);
          else
            MAXPOOL_FN(maxpool_tap)(src, sw, ox_lo, ox_hi, first, y_row);
          first = 0;
        }
      }
      if (first) /* no row inside the image: the reference's initial value */
        for (size_t ox = ox_lo; ox < ox_hi; ++ox) y_row[ox] = MAXPOOL_LOWEST;
    }
  }
}

#undef MAXPOOL_STEP
