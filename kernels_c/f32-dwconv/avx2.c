/* f32 depthwise convolution for AVX2 + FMA (NCHW, one filter per channel; see
 * pnn_kernels.h). Vectorized along the output width, 8 outputs per vector.
 *
 * Each output row is split into a left border, an interior and a right border.
 * In the interior every horizontal tap lies inside the input row, so vector loads
 * need no bounds checks (a masked load only for the last partial vector); the few
 * border pixels use a scalar loop with exact bounds checks. Input rows above or
 * below the image are skipped per output row. Strides 1 and 2 along the width are
 * vectorized for any kernel size and dilation (3x3 gets its own instantiation
 * with the 9 weights held in registers); other width strides run the scalar
 * loop. Sigmoid and tanh are applied by a scalar pass over each finished row. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include <immintrin.h>

#define PNN_X86_ACT_AVX2
#include "pnn_x86_act.h"

enum { LANES = 8 };

typedef struct row_job {
  const pnn_conv2d_geometry *g;
  const float *x_c;   /* the channel's input plane */
  const float *w_c;   /* the channel's kernel_h x kernel_w weights */
  float bias;
  size_t oy;
  size_t iy0_plus_pad; /* oy * stride_h: input row of tap 0 is this minus pad_top */
  int kind;
  __m256 alpha, beta;
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
static PNN_ALWAYS_INLINE __m256 load_taps(const float *x, size_t stride, size_t count) {
  if (stride == 1) {
    return count >= LANES ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, pnn_mask8(count));
  }
  /* stride 2: the even elements of x[0 .. 2*count-1). */
  const size_t span = 2 * count - 1;
  const __m256 lo = span >= LANES ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, pnn_mask8(span));
  const __m256 hi = span > LANES ? _mm256_maskload_ps(x + LANES, pnn_mask8(span - LANES))
                                 : _mm256_setzero_ps();
  /* [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6], then swap the middle 64-bit pairs. */
  const __m256 mixed = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* Interior outputs [ox_begin, ox_end) of one row, where every horizontal tap is in
 * range. kh, kw and stride are constants at the call sites of the fast paths. */
static PNN_ALWAYS_INLINE void row_interior(const row_job *job, size_t kh, size_t kw,
                                           size_t stride, size_t ox_begin, size_t ox_end,
                                           float *y_row) {
  const pnn_conv2d_geometry *g = job->g;
  const size_t dh = g->dilation_h, dw = g->dilation_w;
  const __m256 bias = _mm256_set1_ps(job->bias);
  for (size_t ox = ox_begin; ox < ox_end; ox += LANES) {
    const size_t count = ox_end - ox < LANES ? ox_end - ox : LANES;
    __m256 acc = _mm256_setzero_ps();
    const size_t ix0 = ox * stride - g->pad_left; /* >= 0 inside the interior */
    for (size_t i = 0; i < kh; ++i) {
      const size_t iy = job->iy0_plus_pad + i * dh - g->pad_top;
      if (iy >= g->in_h) continue;
      const float *x_row = job->x_c + iy * g->in_w + ix0;
      for (size_t j = 0; j < kw; ++j) {
        const __m256 wv = _mm256_set1_ps(job->w_c[i * kw + j]);
        acc = _mm256_fmadd_ps(wv, load_taps(x_row + j * dw, stride, count), acc);
      }
    }
    acc = pnn_act256(_mm256_add_ps(acc, bias), job->kind, job->alpha, job->beta);
    if (count == LANES) _mm256_storeu_ps(y_row + ox, acc);
    else _mm256_maskstore_ps(y_row + ox, pnn_mask8(count), acc);
  }
}

static void row_interior_3x3_s1(const row_job *job, size_t b, size_t e, float *y) {
  row_interior(job, 3, 3, 1, b, e, y);
}
static void row_interior_3x3_s2(const row_job *job, size_t b, size_t e, float *y) {
  row_interior(job, 3, 3, 2, b, e, y);
}
static void row_interior_any_s1(const row_job *job, size_t b, size_t e, float *y) {
  row_interior(job, job->g->kernel_h, job->g->kernel_w, 1, b, e, y);
}
static void row_interior_any_s2(const row_job *job, size_t b, size_t e, float *y) {
  row_interior(job, job->g->kernel_h, job->g->kernel_w, 2, b, e, y);
}

typedef void (*row_interior_fn)(const row_job *job, size_t b, size_t e, float *y);

void pnn_f32_dwconv_avx2(const pnn_conv2d_geometry *g, const float *x, const float *w,
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
  row_interior_fn interior = NULL;
  if (sw == 1) interior = kh == 3 && kw == 3 ? row_interior_3x3_s1 : row_interior_any_s1;
  else if (sw == 2) interior = kh == 3 && kw == 3 ? row_interior_3x3_s2 : row_interior_any_s2;
  if (!interior) ox_l = ox_r = out_w; /* other strides: every pixel takes the scalar loop */

  row_job job;
  job.g = g;
  job.kind = act.kind;
  job.alpha = _mm256_set1_ps(act.alpha);
  job.beta = _mm256_set1_ps(act.beta);
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
      for (size_t ox = 0; ox < ox_l; ++ox) y_row[ox] = pnn_activate(pixel_checked(&job, ox), border_act);
      if (ox_r > ox_l) interior(&job, ox_l, ox_r, y_row);
      for (size_t ox = ox_r; ox < out_w; ++ox) y_row[ox] = pnn_activate(pixel_checked(&job, ox), border_act);
      if (scalar_pass) pnn_f32_activate_avx2(y_row, out_w, act);
    }
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* x86-64 */
