/* The ISA-neutral f32 depthwise convolution (NCHW, one filter per channel; contract in
 * pnn_kernels.h). An ISA file (avx2.c, avx512.c) defines the vector hooks below inside
 * its target region, then includes this file once to get the kernel named DW_KERNEL.
 *
 * 3x3, dilation 1, stride 1 or 2, left padding <= 1 (pnn_conv3x3_rows_applies:
 * MobileNet's depthwise layers) runs in strips of DW_STRIP output rows by one vector of
 * output columns, down one column block after the other. Each input row of the strip is
 * turned into its three tap vectors once and feeds every output row it belongs to
 * (stride 1: 6 input rows for 4 outputs instead of 12), with the nine weights and the
 * accumulators in registers. Column blocks whose loads all lie inside the row use
 * plain loads (where the ISA says they are faster: DW_TAPS3_INSIDE); the others use
 * the ISA's bounds-checked taps, whose state (masks) is built once per column block.
 * A partial last block is recomputed
 * overlapping its neighbour when the row is at least a vector wide, so stores are
 * full vectors.
 * Other geometries with width stride 1 or 2 vectorize whole rows (bounds-checked
 * vectors only where a vector crosses an image edge); other width strides run an exact
 * scalar loop. Sigmoid and tanh get a scalar pass after each channel.
 *
 * Shared vector hooks (pnn_x86_taps.h): pnn_f32v, PNN_F32V_LANES, pnn_f32v_set1 / _fma /
 * _act / _store / _in_order (stride-2 taps may come in a permuted lane order, a cheaper
 * de-interleave; _in_order restores column order once per output vector).
 * Hooks of this family (PNN_ALWAYS_INLINE functions or macros), DW_KERNEL the name:
 *   dw_load_inside(p, s, count)      p[0], p[s], ... (count lanes, all inside the row)
 *   dw_load_checked(r, d, in_w, s)   r[d], r[d+s], ... zero outside [0, in_w)
 *   dw_cols, dw_cols_of(x0, s, pad_left, in_w)   per-block state of the edge taps
 *   dw_taps3_edge(s, r, &cols, pad_left, t)       3x3 taps of an edge block
 *   dw_taps3_inside(s, r + d, t)                  3x3 taps when every load is inside
 *   DW_TAPS3_INSIDE(s)               whether dw_taps3_inside beats the edge taps at stride s
 *   DW_TAPS3_SPAN(s)                 floats from r + d that dw_taps3_inside reads
 *   DW_STRIP_S2                      optional: output rows of a stride-2 3x3 strip, at most
 *                                    DW_STRIP (default DW_STRIP) */
#ifndef PNN_F32_DWCONV_DRIVER_H
#define PNN_F32_DWCONV_DRIVER_H

#include "pnn_kernels.h"

enum { DW_STRIP = 4 };
#ifndef DW_STRIP_S2
#define DW_STRIP_S2 DW_STRIP
#endif

typedef struct dw_job {
  const pnn_conv2d_geometry *g;
  const float *x_c; /* the channel's input plane */
  const float *w_c; /* the channel's kernel_h x kernel_w weights */
  float bias;
  int kind;
  pnn_f32v alpha, beta;
} dw_job;

/* ---- 3x3 strips ------------------------------------------------------------------ */

/* Output rows [oy, oy + strip) (those < out_h stored) x columns [x0, x0 + count), strip
 * DW_STRIP (stride 1) or DW_STRIP_S2. stride, inside and narrow are constants at every
 * call site, so the row loops unroll
 * and the weight-row choice folds away. `narrow`: the row is narrower than a vector
 * (this is its only block) and whole-vector stores spill into the rows below, which
 * are stored later, unless they would leave the plane (DW_STORE_SPILLS). */
static PNN_ALWAYS_INLINE void dw3_block(const dw_job *job, const pnn_f32v w[9], size_t stride, int inside,
                                        int narrow, const dw_cols *cols, size_t oy, size_t x0, size_t count,
                                        float *y_c) {
  const pnn_conv2d_geometry *g = job->g;
  const size_t in_h = g->in_h, in_w = g->in_w, out_w = g->out_w;
  const size_t iy0 = oy * stride - g->pad_top; /* wraps above the image */
  const ptrdiff_t d = (ptrdiff_t)(x0 * stride) - (ptrdiff_t)g->pad_left;
  const pnn_f32v b = pnn_f32v_set1(job->bias);
  const size_t strip = stride == 1 ? DW_STRIP : DW_STRIP_S2;
  pnn_f32v acc[DW_STRIP];
#pragma GCC unroll 4
  for (size_t a = 0; a < strip; ++a) acc[a] = b;
#pragma GCC unroll 9
  for (size_t ir = 0; ir < (strip - 1) * stride + 3; ++ir) {
    const size_t iy = iy0 + ir;
    if (iy >= in_h) continue; /* above (wrapped) or below the image */
    const float *r = job->x_c + iy * in_w;
    pnn_f32v t[3];
    if (inside) dw_taps3_inside(stride, r + d, t);
    else dw_taps3_edge(stride, r, cols, g->pad_left, t);
#pragma GCC unroll 4
    for (size_t a = 0; a < strip; ++a) {
      const size_t i = ir - a * stride; /* weight row; wraps when ir < a * stride */
      if (i >= 3) continue;
      acc[a] = pnn_f32v_fma(w[3 * i], t[0], acc[a]);
      acc[a] = pnn_f32v_fma(w[3 * i + 1], t[1], acc[a]);
      acc[a] = pnn_f32v_fma(w[3 * i + 2], t[2], acc[a]);
    }
  }
#pragma GCC unroll 4
  for (size_t a = 0; a < strip; ++a) {
    if (oy + a >= g->out_h) break;
    const pnn_f32v v = stride == 2 ? pnn_f32v_in_order(acc[a]) : acc[a];
    const size_t at = (oy + a) * out_w + x0;
    const int spill = narrow && at + PNN_F32V_LANES <= g->out_h * out_w;
    pnn_f32v_store(y_c + at, pnn_f32v_act(v, job->kind, job->alpha, job->beta), spill ? PNN_F32V_LANES : count);
  }
}

static PNN_ALWAYS_INLINE void dw3_channel(const dw_job *job, size_t stride, float *y_c) {
  const pnn_conv2d_geometry *g = job->g;
  const size_t out_w = g->out_w, span = DW_TAPS3_SPAN(stride), strip = stride == 1 ? DW_STRIP : DW_STRIP_S2;
  pnn_f32v w[9];
  for (size_t k = 0; k < 9; ++k) w[k] = pnn_f32v_set1(job->w_c[k]);
  for (size_t x0 = 0; x0 < out_w; x0 += PNN_F32V_LANES) {
    const pnn_col_block b = pnn_col_block_at(x0, PNN_F32V_LANES, out_w, stride, g->pad_left, span, g->in_w);
    if (DW_TAPS3_INSIDE(stride) && b.inside) {
      for (size_t oy = 0; oy < g->out_h; oy += strip)
        dw3_block(job, w, stride, 1, 0, NULL, oy, b.start, b.count, y_c);
    } else if (DW_STORE_SPILLS && b.count < PNN_F32V_LANES) {
      const dw_cols cols = dw_cols_of(b.start, stride, g->pad_left, g->in_w);
      for (size_t oy = 0; oy < g->out_h; oy += strip)
        dw3_block(job, w, stride, 0, 1, &cols, oy, b.start, b.count, y_c);
    } else {
      const dw_cols cols = dw_cols_of(b.start, stride, g->pad_left, g->in_w);
      for (size_t oy = 0; oy < g->out_h; oy += strip)
        dw3_block(job, w, stride, 0, 0, &cols, oy, b.start, b.count, y_c);
    }
  }
}

/* Every channel. The geometry and the job are local copies: vector stores may alias
 * anything, so through pointers they would be reloaded after every store. */
static PNN_ALWAYS_INLINE void dw3_channels(const pnn_conv2d_geometry *g_in, size_t stride, const float *x,
                                           const float *w, const float *bias, float *y, pnn_activation act) {
  const pnn_conv2d_geometry geometry = *g_in;
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  const pnn_activation fused = scalar_pass ? (pnn_activation){PNN_ACT_NONE, 0, 0} : act;
  dw_job job;
  job.g = &geometry;
  job.kind = fused.kind;
  job.alpha = pnn_f32v_set1(fused.alpha);
  job.beta = pnn_f32v_set1(fused.beta);
  const size_t plane = geometry.out_h * geometry.out_w;
  for (size_t c = 0; c < geometry.channels; ++c) {
    job.x_c = x + c * geometry.in_h * geometry.in_w;
    job.w_c = w + c * 9;
    job.bias = bias ? bias[c] : 0.0f;
    float *y_c = y + c * plane;
    dw3_channel(&job, stride, y_c);
    if (scalar_pass)
      for (size_t i = 0; i < plane; ++i) y_c[i] = pnn_activate(y_c[i], act);
  }
}

/* One instantiation per stride, each with its taps and FMAs fixed at compile time. */
static void dw3_channels_s1(const pnn_conv2d_geometry *g, const float *x, const float *w, const float *bias,
                            float *y, pnn_activation act) {
  dw3_channels(g, 1, x, w, bias, y, act);
}
static void dw3_channels_s2(const pnn_conv2d_geometry *g, const float *x, const float *w, const float *bias,
                            float *y, pnn_activation act) {
  dw3_channels(g, 2, x, w, bias, y, act);
}

/* ---- any kernel, width stride 1 or 2 ------------------------------------------------ */

/* One output pixel with exact bounds checks, before activation. */
static float dw_pixel_checked(const dw_job *job, size_t oy, size_t ox) {
  const pnn_conv2d_geometry *g = job->g;
  float acc = 0.0f;
  for (size_t i = 0; i < g->kernel_h; ++i) {
    const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top; /* wraps above */
    if (iy >= g->in_h) continue;
    const float *x_row = job->x_c + iy * g->in_w;
    for (size_t j = 0; j < g->kernel_w; ++j) {
      const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
      if (ix < g->in_w) acc += job->w_c[i * g->kernel_w + j] * x_row[ix];
    }
  }
  return acc + job->bias;
}

/* `count` outputs of row oy from column ox; `checked`: the vector crosses an image edge. */
static PNN_ALWAYS_INLINE void dw_row_vector(const dw_job *job, size_t kh, size_t kw, size_t stride, int checked,
                                            size_t oy, size_t ox, size_t count, float *y_row) {
  const pnn_conv2d_geometry *g = job->g;
  const size_t dh = g->dilation_h, dwl = g->dilation_w;
  pnn_f32v acc = pnn_f32v_set1(job->bias);
  for (size_t i = 0; i < kh; ++i) {
    const size_t iy = oy * g->stride_h + i * dh - g->pad_top;
    if (iy >= g->in_h) continue; /* unsigned wrap-around: above the image too */
    const float *x_row = job->x_c + iy * g->in_w;
    for (size_t j = 0; j < kw; ++j) {
      const pnn_f32v wv = pnn_f32v_set1(job->w_c[i * kw + j]);
      const ptrdiff_t d = (ptrdiff_t)(ox * stride + j * dwl) - (ptrdiff_t)g->pad_left;
      const pnn_f32v taps = checked ? dw_load_checked(x_row, d, g->in_w, stride)
                                  : dw_load_inside(x_row + d, stride, count);
      acc = pnn_f32v_fma(wv, taps, acc);
    }
  }
  pnn_f32v_store(y_row + ox, pnn_f32v_act(acc, job->kind, job->alpha, job->beta), count);
}

/* A whole output row; columns [ox_l, ox_r) are the interior (no tap off the row). */
static PNN_ALWAYS_INLINE void dw_row(const dw_job *job, size_t kh, size_t kw, size_t stride, size_t ox_l,
                                     size_t ox_r, size_t oy, float *y_row) {
  const size_t out_w = job->g->out_w;
  for (size_t ox = 0; ox < out_w; ox += PNN_F32V_LANES) {
    const size_t count = out_w - ox < PNN_F32V_LANES ? out_w - ox : PNN_F32V_LANES;
    if (ox >= ox_l && ox + count <= ox_r) dw_row_vector(job, kh, kw, stride, 0, oy, ox, count, y_row);
    else dw_row_vector(job, kh, kw, stride, 1, oy, ox, count, y_row);
  }
}

static void dw_row_any_s1(const dw_job *job, size_t b, size_t e, size_t oy, float *y) {
  dw_row(job, job->g->kernel_h, job->g->kernel_w, 1, b, e, oy, y);
}
static void dw_row_any_s2(const dw_job *job, size_t b, size_t e, size_t oy, float *y) {
  dw_row(job, job->g->kernel_h, job->g->kernel_w, 2, b, e, oy, y);
}

/* Interior columns: ox * sw >= pl and ox * sw - pl + (kw - 1) * dw <= in_w - 1. */
static void dw_interior(const pnn_conv2d_geometry *g, size_t *ox_l, size_t *ox_r) {
  const size_t sw = g->stride_w, pl = g->pad_left, out_w = g->out_w;
  size_t l = (pl + sw - 1) / sw, r;
  if (l > out_w) l = out_w;
  r = l;
  const size_t reach = (g->kernel_w - 1) * g->dilation_w;
  if (g->kernel_w > 0 && g->in_w + pl >= reach + 1) {
    r = (g->in_w - 1 + pl - reach) / sw + 1;
    if (r > out_w) r = out_w;
    if (r < l) r = l;
  }
  *ox_l = l;
  *ox_r = r;
}

void DW_KERNEL(const pnn_conv2d_geometry *g, const float *x, const float *w, const float *bias, float *y,
               pnn_activation act) {
  const size_t kh = g->kernel_h, kw = g->kernel_w, sw = g->stride_w, out_w = g->out_w;
  if (g->out_h == 0 || out_w == 0) return;
  if (pnn_conv3x3_rows_applies(g)) {
    if (sw == 1) dw3_channels_s1(g, x, w, bias, y, act);
    else dw3_channels_s2(g, x, w, bias, y, act);
    return;
  }
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  const pnn_activation fused = scalar_pass ? (pnn_activation){PNN_ACT_NONE, 0, 0} : act;
  dw_job job;
  job.g = g;
  job.kind = fused.kind;
  job.alpha = pnn_f32v_set1(fused.alpha);
  job.beta = pnn_f32v_set1(fused.beta);
  size_t ox_l = 0, ox_r = 0;
  dw_interior(g, &ox_l, &ox_r);
  void (*vector_row)(const dw_job *, size_t, size_t, size_t, float *) =
      sw == 1 ? dw_row_any_s1 : sw == 2 ? dw_row_any_s2 : NULL;
  const size_t plane = g->out_h * out_w;
  for (size_t c = 0; c < g->channels; ++c) {
    job.x_c = x + c * g->in_h * g->in_w;
    job.w_c = w + c * kh * kw;
    job.bias = bias ? bias[c] : 0.0f;
    float *y_c = y + c * plane;
    for (size_t oy = 0; oy < g->out_h; ++oy) {
      float *y_row = y_c + oy * out_w;
      if (vector_row) {
        vector_row(&job, ox_l, ox_r, oy, y_row);
      } else {
        for (size_t ox = 0; ox < out_w; ++ox) y_row[ox] = pnn_activate(dw_pixel_checked(&job, oy, ox), fused);
      }
    }
    if (scalar_pass)
      for (size_t i = 0; i < plane; ++i) y_c[i] = pnn_activate(y_c[i], act);
  }
}

#endif /* PNN_F32_DWCONV_DRIVER_H */
