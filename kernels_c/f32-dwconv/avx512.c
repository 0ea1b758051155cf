/* f32 depthwise convolution for AVX-512F (NCHW, one filter per channel; see
 * pnn_kernels.h). Vectorized along the output width, 16 outputs per vector.
 *
 * For strides 1 and 2 along the width (any kernel size and dilation; 3x3 gets its
 * own instantiation with the weights held in registers) whole rows are vectorized.
 * Vectors in the interior, where every horizontal tap lies inside the input row,
 * use plain loads; the (at most two) vectors per row that cross an image edge use
 * bounds-checked loads (masked loads on the right, an expanding load on the left)
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

#if defined(__GNUC__)
#define PNN_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define PNN_ALWAYS_INLINE inline
#endif

enum { LANES = 16 };

static inline __mmask16 lane_mask(size_t n) {
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

static inline int act_needs_scalar_pass(int kind) {
  return kind == PNN_ACT_SIGMOID || kind == PNN_ACT_TANH;
}

/* NaN handling matches pnn_activate: max/min return their second operand on NaN. */
static PNN_ALWAYS_INLINE __m512 activate_vec(__m512 v, int kind, __m512 alpha, __m512 beta) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512 one = _mm512_set1_ps(1.0f);
  switch (kind) {
    case PNN_ACT_RELU: return _mm512_max_ps(v, zero);
    case PNN_ACT_CLIP: return _mm512_min_ps(beta, _mm512_max_ps(alpha, v));
    case PNN_ACT_LEAKY_RELU: {
      __mmask16 negative = _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ);
      return _mm512_mask_mul_ps(v, negative, v, alpha);
    }
    case PNN_ACT_HARD_SIGMOID: {
      __m512 y = _mm512_fmadd_ps(alpha, v, beta);
      return _mm512_min_ps(one, _mm512_max_ps(zero, y));
    }
    case PNN_ACT_HARD_SWISH: {
      __m512 y = _mm512_fmadd_ps(v, _mm512_set1_ps(1.0f / 6.0f), _mm512_set1_ps(0.5f));
      y = _mm512_min_ps(one, _mm512_max_ps(zero, y));
      return _mm512_mul_ps(v, y);
    }
    default: return v; /* none; sigmoid/tanh get a scalar pass */
  }
}

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
    return count >= LANES ? _mm512_loadu_ps(x) : _mm512_maskz_loadu_ps(lane_mask(count), x);
  }
  /* stride 2: the even elements of x[0 .. 2*count-1). */
  const size_t span = 2 * count - 1;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                         28, 30);
  const __m512 lo = span >= LANES ? _mm512_loadu_ps(x) : _mm512_maskz_loadu_ps(lane_mask(span), x);
  const __m512 hi = span > LANES ? _mm512_maskz_loadu_ps(lane_mask(span - LANES), x + LANES)
                                 : _mm512_setzero_ps();
  return _mm512_permutex2var_ps(lo, even, hi);
}

/* x_row[d .. d+16) with zeros outside [0, in_w). Never forms a pointer outside the
 * row: lanes left of the row come from an expanding load at x_row itself. */
static inline __m512 load_span_checked(const float *x_row, ptrdiff_t d, size_t in_w) {
  if (d >= 0) {
    if ((size_t)d >= in_w) return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps(lane_mask(in_w - (size_t)d), x_row + d);
  }
  const size_t skip = (size_t)-d;
  if (skip >= LANES) return _mm512_setzero_ps();
  const __mmask16 lanes = (__mmask16)(lane_mask(in_w + skip) & ~lane_mask(skip));
  return _mm512_maskz_expandloadu_ps(lanes, x_row);
}

/* Like load_taps, for vectors that cross the left or right edge of the image. */
static PNN_ALWAYS_INLINE __m512 load_taps_checked(const float *x_row, ptrdiff_t d, size_t in_w,
                                                  size_t stride) {
  if (stride == 1) return load_span_checked(x_row, d, in_w);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                         28, 30);
  return _mm512_permutex2var_ps(load_span_checked(x_row, d, in_w), even,
                                load_span_checked(x_row, d + LANES, in_w));
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
        taps = load_taps_checked(x_row, d, g->in_w, stride);
      } else {
        taps = load_taps(x_row + (ox * stride + j * dw - g->pad_left), stride, count);
      }
      acc = _mm512_fmadd_ps(wv, taps, acc);
    }
  }
  acc = activate_vec(_mm512_add_ps(acc, _mm512_set1_ps(job->bias)), job->kind, job->alpha,
                     job->beta);
  if (count == LANES) _mm512_storeu_ps(y_row + ox, acc);
  else _mm512_mask_storeu_ps(y_row + ox, lane_mask(count), acc);
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

typedef void (*row_fn)(const row_job *job, size_t b, size_t e, float *y);

void pnn_f32_dwconv_avx512(const pnn_conv2d_geometry *g, const float *x, const float *w,
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
  row_fn vector_row = NULL;
  if (sw == 1) vector_row = kh == 3 && kw == 3 ? row_3x3_s1 : row_any_s1;
  else if (sw == 2) vector_row = kh == 3 && kw == 3 ? row_3x3_s2 : row_any_s2;

  row_job job;
  job.g = g;
  job.kind = act.kind;
  job.alpha = _mm512_set1_ps(act.alpha);
  job.beta = _mm512_set1_ps(act.beta);
  const int scalar_pass = act_needs_scalar_pass(act.kind);
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
      if (scalar_pass)
        for (size_t ox = 0; ox < out_w; ++ox) y_row[ox] = pnn_activate(y_row[ox], act);
    }
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* x86-64 */
