/* f32 depthwise convolution for WebAssembly SIMD128 (NCHW, one filter per
 * channel; see pnn_kernels.h). Vectorized along the output width, 4 outputs per
 * vector; the same plan as avx2.c.
 *
 * Each output row is split into a left border, an interior and a right border.
 * In the interior every horizontal tap lies inside the input row, so full vectors
 * load without bounds checks; the last partial vector of a row reads on into the
 * next row (dropped lanes), except at the end of the tensor, where it is staged
 * through a small zero-filled stack buffer (wasm has no masked loads, and reading
 * past a tensor is undefined even when it stays inside linear memory). Border pixels use
 * a scalar loop with exact bounds checks; input rows above or below the image
 * are skipped per output row. Strides 1 and 2 along the width are vectorized for
 * any kernel size and dilation; 3x3 gets its own instantiations with the nine
 * weights hoisted into locals. Other width strides run the scalar loop. Sigmoid
 * and tanh are applied by a scalar pass over each finished row. */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include <string.h>
#include <wasm_simd128.h>

#include "pnn_wasm_act.h"

enum { LANES = 4 };

typedef struct row_job {
  const pnn_conv2d_geometry *g;
  const float *x_c;    /* the channel's input plane */
  const float *w_c;    /* the channel's kernel_h x kernel_w weights */
  const float *x_end;  /* one past the last float of the whole input tensor */
  float bias;
  size_t iy0_plus_pad; /* oy * stride_h: input row of tap 0 is this minus pad_top */
  int kind;
  v128_t alpha, beta;
} row_job;

/* One output pixel with exact bounds checks, before activation. */
static float pixel_checked(const row_job *job, size_t ox) {
  const pnn_conv2d_geometry *g = job->g;
  float acc = 0.0f;
  for (size_t i = 0; i < g->kernel_h; ++i) {
    /* Unsigned wrap-around: rows above the image become >= in_h. */
    const size_t iy = job->iy0_plus_pad + i * g->dilation_h - g->pad_top;
    if (iy >= g->in_h) continue;
    const float *x_row = job->x_c + iy * g->in_w;
    for (size_t j = 0; j < g->kernel_w; ++j) {
      const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
      if (ix < g->in_w) acc += job->w_c[i * g->kernel_w + j] * x_row[ix];
    }
  }
  return acc + job->bias;
}

/* The LANES inputs x[0], x[stride], ... for stride 1 or 2 (a full vector's span
 * lies inside the row). */
static PNN_ALWAYS_INLINE v128_t load_taps(const float *x, size_t stride) {
  if (stride == 1) return wasm_v128_load(x);
  const v128_t lo = wasm_v128_load(x);
  /* x[4..6]: the 8th float may lie past the row, so the last vector loads x[3..6]. */
  const v128_t hi = wasm_v128_load(x + 3);
  return wasm_i32x4_shuffle(lo, hi, 0, 2, 5, 7);
}

/* Copies the `span` floats the last partial vector needs into a zero-filled
 * buffer, so the same vector code can read them. */
static PNN_ALWAYS_INLINE const float *stage(const float *x, size_t span, float *buffer) {
  memcpy(buffer, x, span * sizeof(float));
  return buffer;
}

/* Stores the first count (1..3) lanes of v (lane by lane: a variable-size memcpy
 * is a call in wasm). */
static PNN_ALWAYS_INLINE void store_partial(float *y, v128_t v, size_t count) {
  y[0] = wasm_f32x4_extract_lane(v, 0);
  if (count > 1) y[1] = wasm_f32x4_extract_lane(v, 1);
  if (count > 2) y[2] = wasm_f32x4_extract_lane(v, 2);
}

/* Interior outputs [ox_begin, ox_end) of one row, where every horizontal tap is in
 * range. kh, kw and stride are constants at the call sites of the fast paths. */
static PNN_ALWAYS_INLINE void row_interior(const row_job *job, size_t kh, size_t kw,
                                           size_t stride, size_t ox_begin, size_t ox_end,
                                           float *y_row) {
  const pnn_conv2d_geometry *g = job->g;
  const size_t dh = g->dilation_h, dw = g->dilation_w;
  const v128_t bias = wasm_f32x4_splat(job->bias);
  /* Full vectors: the last tap of lane 3 is (ox+3)*stride - pl + (kw-1)*dw < in_w. */
  size_t ox = ox_begin;
  for (; ox + LANES <= ox_end; ox += LANES) {
    v128_t acc = bias;
    const size_t ix0 = ox * stride - g->pad_left;
    for (size_t i = 0; i < kh; ++i) {
      const size_t iy = job->iy0_plus_pad + i * dh - g->pad_top;
      if (iy >= g->in_h) continue;
      const float *x_row = job->x_c + iy * g->in_w + ix0;
      for (size_t j = 0; j < kw; ++j) {
        const v128_t wv = wasm_f32x4_splat(job->w_c[i * kw + j]);
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wv, load_taps(x_row + j * dw, stride)));
      }
    }
    wasm_v128_store(y_row + ox, pnn_wasm_act(acc, job->kind, job->alpha, job->beta));
  }
  if (ox < ox_end) {
    const size_t count = ox_end - ox;
    /* The lanes past `count` are computed and dropped. Their inputs are read from
     * the tensor itself (the next row) while a whole vector's span stays inside
     * it; only at the very end of the tensor are they staged through a
     * zero-filled copy of the `span` floats the valid lanes need. */
    const size_t span = (count - 1) * stride + 1;
    const size_t full_span = stride == 1 ? LANES : 2 * LANES - 1;
    float staged[2 * LANES];
    memset(staged, 0, sizeof(staged));
    v128_t acc = bias;
    const size_t ix0 = ox * stride - g->pad_left;
    for (size_t i = 0; i < kh; ++i) {
      const size_t iy = job->iy0_plus_pad + i * dh - g->pad_top;
      if (iy >= g->in_h) continue;
      const float *x_row = job->x_c + iy * g->in_w + ix0;
      for (size_t j = 0; j < kw; ++j) {
        const v128_t wv = wasm_f32x4_splat(job->w_c[i * kw + j]);
        const float *src = x_row + j * dw;
        if ((size_t)(job->x_end - src) < full_span) src = stage(src, span, staged);
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wv, load_taps(src, stride)));
      }
    }
    store_partial(y_row + ox, pnn_wasm_act(acc, job->kind, job->alpha, job->beta), count);
  }
}

/* 3x3, stride 1 or 2, dilation 1, with the nine weights and the three input rows
 * resolved once per output row. Rows that cross the top or bottom edge take the
 * generic loop, which skips the missing rows (multiplying them by zero weights
 * would turn an infinite input into NaN). */
static PNN_ALWAYS_INLINE void row_3x3(const row_job *job, size_t stride, size_t ox_begin,
                                      size_t ox_end, float *y_row) {
  const pnn_conv2d_geometry *g = job->g;
  const size_t iy0 = job->iy0_plus_pad - g->pad_top; /* wraps when above the image */
  if (iy0 >= g->in_h || iy0 + 2 >= g->in_h) {
    row_interior(job, 3, 3, stride, ox_begin, ox_end, y_row);
    return;
  }
  const float *rows[3];
  v128_t w[9];
  for (size_t i = 0; i < 3; ++i) {
    rows[i] = job->x_c + (iy0 + i) * g->in_w;
    for (size_t j = 0; j < 3; ++j) w[i * 3 + j] = wasm_f32x4_splat(job->w_c[i * 3 + j]);
  }
  const v128_t bias = wasm_f32x4_splat(job->bias);
  size_t ox = ox_begin;
  for (; ox + LANES <= ox_end; ox += LANES) {
    const size_t ix0 = ox * stride - g->pad_left;
    v128_t acc0 = bias, acc1 = wasm_f32x4_const_splat(0.0f);
    for (size_t i = 0; i < 3; ++i) {
      const float *x = rows[i] + ix0;
      acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(w[i * 3 + 0], load_taps(x, stride)));
      acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(w[i * 3 + 1], load_taps(x + 1, stride)));
      acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(w[i * 3 + 2], load_taps(x + 2, stride)));
    }
    wasm_v128_store(y_row + ox,
                    pnn_wasm_act(wasm_f32x4_add(acc0, acc1), job->kind, job->alpha, job->beta));
  }
  if (ox < ox_end) row_interior(job, 3, 3, stride, ox, ox_end, y_row);
}

/* Two output rows (oy, oy + 1) of a 3x3 stride-1 conv whose four input rows all lie
 * inside the image: each loaded input vector serves both rows (12 loads for 18
 * multiplies instead of 9 for 9), and the loop overhead is shared. Each output is
 * summed in the same order as row_3x3. */
static void row_pair_3x3_s1(const row_job *job, size_t ox_begin, size_t ox_end, float *y0,
                            float *y1) {
  const pnn_conv2d_geometry *g = job->g;
  /* Local copies: the stores to y may alias *g as far as the compiler knows. */
  const size_t in_w = g->in_w;
  const float *x = job->x_c + (job->iy0_plus_pad - g->pad_top) * in_w - g->pad_left;
  v128_t w[9];
  for (size_t t = 0; t < 9; ++t) w[t] = wasm_f32x4_splat(job->w_c[t]);
  const v128_t bias = wasm_f32x4_splat(job->bias), zero = wasm_f32x4_const_splat(0.0f);
  size_t ox = ox_begin;
  for (; ox + LANES <= ox_end; ox += LANES) {
    const float *x0 = x + ox;
    v128_t a0 = bias, a1 = zero, b0 = bias, b1 = zero;
#pragma clang loop unroll(full)
    for (size_t i = 0; i < 4; ++i) {
      const float *xi = x0 + i * in_w;
      const v128_t t0 = wasm_v128_load(xi), t1 = wasm_v128_load(xi + 1), t2 = wasm_v128_load(xi + 2);
      if (i < 3) {
        a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(w[i * 3 + 0], t0));
        a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(w[i * 3 + 1], t1));
        a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(w[i * 3 + 2], t2));
      }
      if (i > 0) {
        b0 = wasm_f32x4_add(b0, wasm_f32x4_mul(w[(i - 1) * 3 + 0], t0));
        b1 = wasm_f32x4_add(b1, wasm_f32x4_mul(w[(i - 1) * 3 + 1], t1));
        b0 = wasm_f32x4_add(b0, wasm_f32x4_mul(w[(i - 1) * 3 + 2], t2));
      }
    }
    wasm_v128_store(y0 + ox, pnn_wasm_act(wasm_f32x4_add(a0, a1), job->kind, job->alpha, job->beta));
    wasm_v128_store(y1 + ox, pnn_wasm_act(wasm_f32x4_add(b0, b1), job->kind, job->alpha, job->beta));
  }
  if (ox < ox_end) {
    row_job next = *job;
    next.iy0_plus_pad += 1;
    row_interior(job, 3, 3, 1, ox, ox_end, y0);
    row_interior(&next, 3, 3, 1, ox, ox_end, y1);
  }
}

static void row_interior_3x3_s1(const row_job *job, size_t b, size_t e, float *y) {
  row_3x3(job, 1, b, e, y);
}
static void row_interior_3x3_s2(const row_job *job, size_t b, size_t e, float *y) {
  row_3x3(job, 2, b, e, y);
}
static void row_interior_any_s1(const row_job *job, size_t b, size_t e, float *y) {
  row_interior(job, job->g->kernel_h, job->g->kernel_w, 1, b, e, y);
}
static void row_interior_any_s2(const row_job *job, size_t b, size_t e, float *y) {
  row_interior(job, job->g->kernel_h, job->g->kernel_w, 2, b, e, y);
}

typedef void (*row_interior_fn)(const row_job *job, size_t b, size_t e, float *y);

void pnn_f32_dwconv_wasmsimd(const pnn_conv2d_geometry *g, const float *x, const float *w,
                             const float *bias, float *y, pnn_activation act) {
  const size_t kh = g->kernel_h, kw = g->kernel_w, sw = g->stride_w;
  const size_t out_w = g->out_w, pl = g->pad_left;
  if (g->out_h == 0 || out_w == 0) return;

  /* Interior columns: ox * sw >= pl and ox * sw - pl + (kw - 1) * dw <= in_w - 1. */
  size_t ox_l = (pl + sw - 1) / sw;
  if (ox_l > out_w) ox_l = out_w;
  size_t ox_r = ox_l;
  const size_t reach = (kw - 1) * g->dilation_w;
  if (kw > 0 && g->in_w + pl >= reach + 1) {
    ox_r = (g->in_w - 1 + pl - reach) / sw + 1;
    if (ox_r > out_w) ox_r = out_w;
    if (ox_r < ox_l) ox_r = ox_l;
  }
  const int is_3x3 = kh == 3 && kw == 3 && g->dilation_h == 1 && g->dilation_w == 1;
  row_interior_fn interior = NULL;
  if (sw == 1) interior = is_3x3 ? row_interior_3x3_s1 : row_interior_any_s1;
  else if (sw == 2) interior = is_3x3 ? row_interior_3x3_s2 : row_interior_any_s2;
  if (!interior) ox_l = ox_r = out_w; /* other strides: every pixel takes the scalar loop */
  /* 3x3 stride 1 runs output rows in pairs where all four input rows are inside. */
  const int pairs = interior == row_interior_3x3_s1 && g->stride_h == 1;

  row_job job;
  job.g = g;
  job.kind = act.kind;
  job.alpha = wasm_f32x4_splat(act.alpha);
  job.beta = wasm_f32x4_splat(act.beta);
  job.x_end = x + g->channels * g->in_h * g->in_w;
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  const pnn_activation border_act = scalar_pass ? (pnn_activation){PNN_ACT_NONE, 0, 0} : act;
  for (size_t c = 0; c < g->channels; ++c) {
    job.x_c = x + c * g->in_h * g->in_w;
    job.w_c = w + c * kh * kw;
    job.bias = bias ? bias[c] : 0.0f;
    float *y_c = y + c * g->out_h * out_w;
    for (size_t oy = 0; oy < g->out_h; ++oy) {
      float *y_row = y_c + oy * out_w;
      job.iy0_plus_pad = oy * g->stride_h;
      const size_t iy0 = job.iy0_plus_pad - g->pad_top; /* wraps when above the image */
      const int pair = pairs && oy + 1 < g->out_h && iy0 < g->in_h && iy0 + 3 < g->in_h;
      for (size_t r = 0; r <= (size_t)pair; ++r) {
        row_job row = job;
        row.iy0_plus_pad += r;
        float *y_r = y_row + r * out_w;
        for (size_t ox = 0; ox < ox_l; ++ox) y_r[ox] = pnn_activate(pixel_checked(&row, ox), border_act);
        if (!pair && ox_r > ox_l) interior(&row, ox_l, ox_r, y_r);
        for (size_t ox = ox_r; ox < out_w; ++ox) y_r[ox] = pnn_activate(pixel_checked(&row, ox), border_act);
      }
      if (pair && ox_r > ox_l) row_pair_3x3_s1(&job, ox_l, ox_r, y_row, y_row + out_w);
      if (scalar_pass)
        for (size_t ox = 0; ox < (1 + (size_t)pair) * out_w; ++ox) y_row[ox] = pnn_activate(y_row[ox], act);
      oy += (size_t)pair;
    }
  }
}

#endif /* __wasm_simd128__ */
