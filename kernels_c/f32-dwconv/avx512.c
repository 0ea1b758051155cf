/* f32 depthwise convolution for AVX-512F (NCHW, one filter per channel; see
 * pnn_kernels.h). Vectorized along the output width, 16 outputs per vector.
 *
 * 3x3 kernels with stride 1 or 2 and padding <= 1 (MobileNet's depthwise layers) run
 * in strips of four output rows (below). Other strides 1 and 2 along the width (any
 * kernel size and dilation) vectorize whole rows.
 * Vectors in the interior, where every horizontal tap lies inside the input row,
 * use plain loads; the (at most two) vectors per row that cross an image edge use
 * bounds-checked loads (masked loads on the right, a masked load and a lane permute on the left)
 * that read nothing outside the row and give zeros for the padding. Input rows
 * above or below the image are skipped per output row. Other width strides run an
 * exact scalar loop. Sigmoid and tanh are applied by a scalar pass per row. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif

#include <immintrin.h>

#define PNN_X86_ACT_AVX512
#include "pnn_x86_act.h"
#include "pnn_x86_taps.h"

enum { LANES = 16 };

typedef struct row_job {
  const pnn_conv2d_geometry *g;
  const float *x_c;   /* the channel's input plane */
  const float *w_c;   /* the channel's kernel_h x kernel_w weights */
  float bias;
  size_t oy;
  size_t iy0_plus_pad; /* oy * stride_h: input row of tap 0 is this minus pad_top */
  int kind;
  __m512 alpha, beta;
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

/* Input vector for tap offset `x` (already includes ox*stride - pad + j*dilation):
 * the LANES inputs x, x+stride, ...; `count` lanes are valid (the rest are zero and
 * are never read from memory). */
static PNN_ALWAYS_INLINE __m512 load_taps(const float *x, size_t stride, size_t count) {
  if (stride == 1) {
    return count >= LANES ? _mm512_loadu_ps(x) : _mm512_maskz_loadu_ps(pnn_mask16(count), x);
  }
  /* stride 2: the even elements of x[0 .. 2*count-1). */
  const size_t span = 2 * count - 1;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                         28, 30);
  const __m512 lo = span >= LANES ? _mm512_loadu_ps(x) : _mm512_maskz_loadu_ps(pnn_mask16(span), x);
  const __m512 hi = span > LANES ? _mm512_maskz_loadu_ps(pnn_mask16(span - LANES), x + LANES)
                                 : _mm512_setzero_ps();
  return _mm512_permutex2var_ps(lo, even, hi);
}

/* LANES (or count) outputs of one row starting at ox. `checked`: the vector crosses
 * an image edge, so loads are bounds-checked; otherwise every tap is inside the row.
 * kh, kw, stride and checked are constants at every call site. */
static PNN_ALWAYS_INLINE void row_vector(const row_job *job, size_t kh, size_t kw, size_t stride,
                                         int checked, size_t ox, size_t count, float *y_row) {
  const pnn_conv2d_geometry *g = job->g;
  const size_t dh = g->dilation_h, dw = g->dilation_w;
  __m512 acc = _mm512_setzero_ps();
  for (size_t i = 0; i < kh; ++i) {
    const size_t iy = job->iy0_plus_pad + i * dh - g->pad_top;
    if (iy >= g->in_h) continue; /* unsigned wrap-around: above the image too */
    const float *x_row = job->x_c + iy * g->in_w;
    for (size_t j = 0; j < kw; ++j) {
      const __m512 wv = _mm512_set1_ps(job->w_c[i * kw + j]);
      __m512 taps;
      if (checked) {
        const ptrdiff_t d = (ptrdiff_t)(ox * stride + j * dw) - (ptrdiff_t)g->pad_left;
        taps = pnn_taps_load_strided(x_row, d, g->in_w, stride);
      } else {
        taps = load_taps(x_row + (ox * stride + j * dw - g->pad_left), stride, count);
      }
      acc = _mm512_fmadd_ps(wv, taps, acc);
    }
  }
  acc = pnn_act512(_mm512_add_ps(acc, _mm512_set1_ps(job->bias)), job->kind, job->alpha,
                     job->beta);
  if (count == LANES) _mm512_storeu_ps(y_row + ox, acc);
  else _mm512_mask_storeu_ps(y_row + ox, pnn_mask16(count), acc);
}

/* A whole output row; columns [ox_l, ox_r) are the interior (no tap off the row). */
static PNN_ALWAYS_INLINE void row_whole(const row_job *job, size_t kh, size_t kw,
                                           size_t stride, size_t ox_l, size_t ox_r,
                                           float *y_row) {
  const size_t out_w = job->g->out_w;
  for (size_t ox = 0; ox < out_w; ox += LANES) {
    const size_t count = out_w - ox < LANES ? out_w - ox : LANES;
    if (ox >= ox_l && ox + count <= ox_r) row_vector(job, kh, kw, stride, 0, ox, count, y_row);
    else row_vector(job, kh, kw, stride, 1, ox, count, y_row);
  }
}

static void row_3x3_s1(const row_job *job, size_t b, size_t e, float *y) {
  row_whole(job, 3, 3, 1, b, e, y);
}
static void row_3x3_s2(const row_job *job, size_t b, size_t e, float *y) {
  row_whole(job, 3, 3, 2, b, e, y);
}
static void row_any_s1(const row_job *job, size_t b, size_t e, float *y) {
  row_whole(job, job->g->kernel_h, job->g->kernel_w, 1, b, e, y);
}
static void row_any_s2(const row_job *job, size_t b, size_t e, float *y) {
  row_whole(job, job->g->kernel_h, job->g->kernel_w, 2, b, e, y);
}

/* ---- 3x3, dilation 1, stride 1 or 2, padding <= 1 --------------------------------
 * Strips of four output rows by 16 columns. Each input row of the strip is loaded
 * once per column vector as its three tap vectors and feeds every output row of the
 * strip it belongs to (stride 1: 6 input rows for 4 outputs instead of 12), with all
 * accumulators and the nine weights in registers. Taps are masked loads (zeros past
 * the row's right end); the one tap left of column 0 is built from the loaded
 * vector by a lane shift, so no pointer ever leaves the row. Stride 2 splits even
 * and odd columns of two loads with permutes. */

#define DW3_TAPS_S1(r) pnn_taps3_s1(r, &c, t)
#define DW3_TAPS_S2(r) pnn_taps3_s2(r, &c, pad_left, t)

#define DW3_FMA_(acc, wa, wb, wc) \
  acc = _mm512_fmadd_ps(wc, t[2], _mm512_fmadd_ps(wb, t[1], _mm512_fmadd_ps(wa, t[0], acc)))
#define DW3_FMA(acc, wrow) DW3_FMA_EXPAND(acc, wrow)
#define DW3_FMA_EXPAND(acc, ...) DW3_FMA_(acc, __VA_ARGS__)
#define DW3_W0 w0, w1, w2
#define DW3_W1 w3, w4, w5
#define DW3_W2 w6, w7, w8

/* Input row `ir` of the strip: its taps, then the FMAs into the output rows it feeds. */
#define DW3_ROW(ir, taps, fmas)           \
  do {                                    \
    const size_t iy = iy0 + (ir);         \
    if (iy < in_h) {                      \
      const float *r = x_c + iy * in_w;   \
      __m512 t[3];                        \
      taps(r);                            \
      fmas;                               \
    }                                     \
  } while (0)

static PNN_ALWAYS_INLINE void dw3_channel(const pnn_conv2d_geometry *g, size_t stride, const float *x_c,
                                          const float *wc, float bias, float *y_c, pnn_activation act) {
  const size_t in_h = g->in_h, in_w = g->in_w, out_h = g->out_h, out_w = g->out_w;
  const size_t pad_left = g->pad_left;
  const __m512 alpha = _mm512_set1_ps(act.alpha), beta = _mm512_set1_ps(act.beta);
  const __m512 w0 = _mm512_set1_ps(wc[0]), w1 = _mm512_set1_ps(wc[1]), w2 = _mm512_set1_ps(wc[2]);
  const __m512 w3 = _mm512_set1_ps(wc[3]), w4 = _mm512_set1_ps(wc[4]), w5 = _mm512_set1_ps(wc[5]);
  const __m512 w6 = _mm512_set1_ps(wc[6]), w7 = _mm512_set1_ps(wc[7]), w8 = _mm512_set1_ps(wc[8]);
  const __m512 bv = _mm512_set1_ps(bias);
  for (size_t x0 = 0; x0 < out_w; x0 += 16) {
    const pnn_taps3_cols c = pnn_taps3_columns(x0, stride, pad_left, in_w);
    const __mmask16 store = pnn_mask16(out_w - x0 < 16 ? out_w - x0 : 16);
    for (size_t oy = 0; oy < out_h; oy += 4) {
      const size_t iy0 = oy * stride - g->pad_top; /* wraps above the image */
      __m512 a0 = bv, a1 = bv, a2 = bv, a3 = bv;
      if (stride == 1) {
        DW3_ROW(0, DW3_TAPS_S1, DW3_FMA(a0, DW3_W0));
        DW3_ROW(1, DW3_TAPS_S1, (DW3_FMA(a0, DW3_W1), DW3_FMA(a1, DW3_W0)));
        DW3_ROW(2, DW3_TAPS_S1, (DW3_FMA(a0, DW3_W2), DW3_FMA(a1, DW3_W1), DW3_FMA(a2, DW3_W0)));
        DW3_ROW(3, DW3_TAPS_S1, (DW3_FMA(a1, DW3_W2), DW3_FMA(a2, DW3_W1), DW3_FMA(a3, DW3_W0)));
        DW3_ROW(4, DW3_TAPS_S1, (DW3_FMA(a2, DW3_W2), DW3_FMA(a3, DW3_W1)));
        DW3_ROW(5, DW3_TAPS_S1, DW3_FMA(a3, DW3_W2));
      } else {
        DW3_ROW(0, DW3_TAPS_S2, DW3_FMA(a0, DW3_W0));
        DW3_ROW(1, DW3_TAPS_S2, DW3_FMA(a0, DW3_W1));
        DW3_ROW(2, DW3_TAPS_S2, (DW3_FMA(a0, DW3_W2), DW3_FMA(a1, DW3_W0)));
        DW3_ROW(3, DW3_TAPS_S2, DW3_FMA(a1, DW3_W1));
        DW3_ROW(4, DW3_TAPS_S2, (DW3_FMA(a1, DW3_W2), DW3_FMA(a2, DW3_W0)));
        DW3_ROW(5, DW3_TAPS_S2, DW3_FMA(a2, DW3_W1));
        DW3_ROW(6, DW3_TAPS_S2, (DW3_FMA(a2, DW3_W2), DW3_FMA(a3, DW3_W0)));
        DW3_ROW(7, DW3_TAPS_S2, DW3_FMA(a3, DW3_W1));
        DW3_ROW(8, DW3_TAPS_S2, DW3_FMA(a3, DW3_W2));
      }
      float *yr = y_c + oy * out_w + x0;
      _mm512_mask_storeu_ps(yr, store, pnn_act512(a0, act.kind, alpha, beta));
      if (oy + 1 < out_h) _mm512_mask_storeu_ps(yr + out_w, store, pnn_act512(a1, act.kind, alpha, beta));
      if (oy + 2 < out_h) _mm512_mask_storeu_ps(yr + 2 * out_w, store, pnn_act512(a2, act.kind, alpha, beta));
      if (oy + 3 < out_h) _mm512_mask_storeu_ps(yr + 3 * out_w, store, pnn_act512(a3, act.kind, alpha, beta));
    }
  }
}

/* One instantiation per stride, so each has its taps and FMAs fixed at compile time. */
static void dw3_channel_s1(const pnn_conv2d_geometry *g, const float *x_c, const float *wc, float bias,
                           float *y_c, pnn_activation act) {
  dw3_channel(g, 1, x_c, wc, bias, y_c, act);
}
static void dw3_channel_s2(const pnn_conv2d_geometry *g, const float *x_c, const float *wc, float bias,
                           float *y_c, pnn_activation act) {
  dw3_channel(g, 2, x_c, wc, bias, y_c, act);
}

typedef void (*row_fn)(const row_job *job, size_t b, size_t e, float *y);

void pnn_f32_dwconv_avx512(const pnn_conv2d_geometry *g, const float *x, const float *w,
                           const float *bias, float *y, pnn_activation act) {
  const size_t kh = g->kernel_h, kw = g->kernel_w, sw = g->stride_w;
  const size_t out_w = g->out_w, pl = g->pad_left;
  if (g->out_h == 0 || out_w == 0) return;
  if (pnn_conv3x3_rows_applies(g)) {
    const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
    const pnn_activation fused = scalar_pass ? (pnn_activation){PNN_ACT_NONE, 0, 0} : act;
    for (size_t c = 0; c < g->channels; ++c) {
      float *y_c = y + c * g->out_h * out_w;
      const float *x_c = x + c * g->in_h * g->in_w;
      const float b = bias ? bias[c] : 0.0f;
      if (sw == 1) dw3_channel_s1(g, x_c, w + c * 9, b, y_c, fused);
      else dw3_channel_s2(g, x_c, w + c * 9, b, y_c, fused);
      if (scalar_pass) pnn_f32_activate_avx512(y_c, g->out_h * out_w, act);
    }
    return;
  }

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
  row_fn vector_row = NULL;
  if (sw == 1) vector_row = kh == 3 && kw == 3 ? row_3x3_s1 : row_any_s1;
  else if (sw == 2) vector_row = kh == 3 && kw == 3 ? row_3x3_s2 : row_any_s2;

  row_job job;
  job.g = g;
  job.kind = act.kind;
  job.alpha = _mm512_set1_ps(act.alpha);
  job.beta = _mm512_set1_ps(act.beta);
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  const pnn_activation border_act = scalar_pass ? (pnn_activation){PNN_ACT_NONE, 0, 0} : act;
  for (size_t c = 0; c < g->channels; ++c) {
    job.x_c = x + c * g->in_h * g->in_w;
    job.w_c = w + c * kh * kw;
    job.bias = bias ? bias[c] : 0.0f;
    float *y_c = y + c * g->out_h * out_w;
    for (size_t oy = 0; oy < g->out_h; ++oy) {
      float *y_row = y_c + oy * out_w;
      job.oy = oy;
      job.iy0_plus_pad = oy * g->stride_h;
      if (vector_row) {
        vector_row(&job, ox_l, ox_r, y_row);
      } else {
        for (size_t ox = 0; ox < out_w; ++ox)
          y_row[ox] = pnn_activate(pixel_checked(&job, ox), border_act);
      }
      if (scalar_pass) pnn_f32_activate_avx512(y_row, out_w, act);
    }
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* x86-64 */
