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
#include <string.h>

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

/* x_row[d .. d+16) with zeros outside [0, in_w). Never forms a pointer outside the
 * row: lanes left of the row come from a masked load at x_row itself, moved up by a
 * lane permute (an expanding load is microcoded and was 2x slower on the 112-wide
 * layers, measured). */
static inline __m512 load_span_checked(const float *x_row, ptrdiff_t d, size_t in_w) {
  if (d >= 0) {
    if ((size_t)d >= in_w) return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps(pnn_mask16(in_w - (size_t)d), x_row + d);
  }
  const size_t skip = (size_t)-d;
  if (skip >= LANES) return _mm512_setzero_ps();
  const __m512 head = _mm512_maskz_loadu_ps(pnn_mask16(in_w), x_row); /* x_row[0 .. 16) */
  const __m512i from = _mm512_sub_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                        _mm512_set1_epi32((int)skip));
  const __mmask16 lanes = (__mmask16)(pnn_mask16(in_w + skip) & ~pnn_mask16(skip));
  return _mm512_maskz_permutexvar_ps(lanes, from, head);
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

/* ---- 3x3, dilation 1, stride 1 or 2 ----------------------------------------------
 * Tap vectors are loaded straight from the input rows: a plain load when the 16 (or
 * 32 for stride 2) elements lie inside the row, the bounds-checked load otherwise.
 * Stride 2 splits even and odd columns with permutes. Up to four output vectors per
 * step keep four independent FMA chains in flight; the nine weights stay in
 * registers for the whole channel. */

/* x_row[d .. d+16): inside the row when !checked, else zeros outside [0, in_w). */
static PNN_ALWAYS_INLINE __m512 dw_span(int checked, const float *x_row, ptrdiff_t d, size_t in_w) {
  if (!checked) return _mm512_loadu_ps(x_row + d);
  return load_span_checked(x_row, d, in_w);
}

static PNN_ALWAYS_INLINE void dw_block(int checked, size_t nv, size_t stride, const float *const rows[3],
                                       size_t in_w, const __m512 wv[9], __m512 bv, size_t ox,
                                       size_t pad_left, size_t out_w, float *y_row, int kind,
                                       __m512 alpha, __m512 beta) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  __m512 acc[4];
#pragma GCC unroll 4
  for (size_t v = 0; v < 4; ++v) acc[v] = bv;
#pragma GCC unroll 3
  for (size_t i = 0; i < 3; ++i) {
    const float *r = rows[i];
    if (r == NULL) continue; /* a padding row */
#pragma GCC unroll 4
    for (size_t v = 0; v < 4; ++v) {
      if (v >= nv) continue;
      const ptrdiff_t d = (ptrdiff_t)((ox + 16 * v) * stride) - (ptrdiff_t)pad_left;
      __m512 t0, t1, t2;
      if (stride == 1) {
        t0 = dw_span(checked, r, d, in_w);
        t1 = dw_span(checked, r, d + 1, in_w);
        t2 = dw_span(checked, r, d + 2, in_w);
      } else {
        /* b1 reads elements d + 18 .. d + 33, one past the 31 needed: fine inside the
         * row (interior vectors are chosen so) and masked when checked. */
        const __m512 a0 = dw_span(checked, r, d, in_w), a1 = dw_span(checked, r, d + 16, in_w);
        const __m512 b0 = dw_span(checked, r, d + 2, in_w), b1 = dw_span(checked, r, d + 18, in_w);
        t0 = _mm512_permutex2var_ps(a0, even, a1);
        t1 = _mm512_permutex2var_ps(a0, odd, a1);
        t2 = _mm512_permutex2var_ps(b0, even, b1);
      }
      acc[v] = _mm512_fmadd_ps(wv[3 * i + 0], t0, acc[v]);
      acc[v] = _mm512_fmadd_ps(wv[3 * i + 1], t1, acc[v]);
      acc[v] = _mm512_fmadd_ps(wv[3 * i + 2], t2, acc[v]);
    }
  }
#pragma GCC unroll 4
  for (size_t v = 0; v < 4; ++v) {
    if (v >= nv) continue;
    const size_t o = ox + 16 * v;
    const __m512 out = pnn_act512(acc[v], kind, alpha, beta);
    if (o + 16 <= out_w) _mm512_storeu_ps(y_row + o, out);
    else _mm512_mask_storeu_ps(y_row + o, pnn_mask16(out_w - o), out);
  }
}

static void dw3x3_fast(const pnn_conv2d_geometry *g, const float *x, const float *w,
                       const float *bias, float *y, pnn_activation act, size_t stride) {
  const size_t out_w = g->out_w, in_w = g->in_w;
  const size_t vecs = (out_w + 15) / 16, pl = g->pad_left;
  /* Vectors [jl, jr) read only inside the row: first element 16*j*stride - pl >= 0,
   * last one read (d + 17 for stride 1, d + 33 for stride 2) < in_w. */
  const size_t reach = stride == 1 ? 18 : 34;
  size_t jl = (pl + 16 * stride - 1) / (16 * stride), jr = 0;
  if (in_w + pl >= reach) jr = (in_w + pl - reach) / (16 * stride) + 1;
  if (jr > vecs) jr = vecs;
  if (jl > vecs) jl = vecs;
  if (jr < jl) jr = jl;
  const __m512 alpha = _mm512_set1_ps(act.alpha), beta = _mm512_set1_ps(act.beta);
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  const int kind = scalar_pass ? PNN_ACT_NONE : act.kind;
  for (size_t c = 0; c < g->channels; ++c) {
    const float *x_c = x + c * g->in_h * in_w;
    float *y_c = y + c * g->out_h * out_w;
    __m512 wv[9];
    for (size_t t = 0; t < 9; ++t) wv[t] = _mm512_set1_ps(w[c * 9 + t]);
    const __m512 bv = _mm512_set1_ps(bias ? bias[c] : 0.0f);
    for (size_t oy = 0; oy < g->out_h; ++oy) {
      const float *rows[3];
      for (size_t i = 0; i < 3; ++i) {
        const size_t iy = oy * g->stride_h + i - g->pad_top; /* wraps above the image */
        rows[i] = iy < g->in_h ? x_c + iy * in_w : NULL;
      }
      float *y_row = y_c + oy * out_w;
      size_t j = 0;
      for (; j < jl; ++j)
        dw_block(1, 1, stride, rows, in_w, wv, bv, 16 * j, pl, out_w, y_row, kind, alpha, beta);
      for (; j + 4 <= jr; j += 4)
        dw_block(0, 4, stride, rows, in_w, wv, bv, 16 * j, pl, out_w, y_row, kind, alpha, beta);
      switch (jr - j) {
        case 3: dw_block(0, 3, stride, rows, in_w, wv, bv, 16 * j, pl, out_w, y_row, kind, alpha, beta); break;
        case 2: dw_block(0, 2, stride, rows, in_w, wv, bv, 16 * j, pl, out_w, y_row, kind, alpha, beta); break;
        case 1: dw_block(0, 1, stride, rows, in_w, wv, bv, 16 * j, pl, out_w, y_row, kind, alpha, beta); break;
        default: break;
      }
      for (j = jr > jl ? jr : jl; j < vecs; ++j)
        dw_block(1, 1, stride, rows, in_w, wv, bv, 16 * j, pl, out_w, y_row, kind, alpha, beta);
      if (scalar_pass)
        for (size_t i = 0; i < out_w; ++i) y_row[i] = pnn_activate(y_row[i], act);
    }
  }
}

typedef void (*row_fn)(const row_job *job, size_t b, size_t e, float *y);

void pnn_f32_dwconv_avx512(const pnn_conv2d_geometry *g, const float *x, const float *w,
                           const float *bias, float *y, pnn_activation act) {
  const size_t kh = g->kernel_h, kw = g->kernel_w, sw = g->stride_w;
  const size_t out_w = g->out_w, pl = g->pad_left;
  if (g->out_h == 0 || out_w == 0) return;
  if (kh == 3 && kw == 3 && g->dilation_h == 1 && g->dilation_w == 1 && (sw == 1 || sw == 2) &&
      g->stride_h == sw && pl < LANES) {
    dw3x3_fast(g, x, w, bias, y, act, sw);
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
      if (scalar_pass)
        for (size_t ox = 0; ox < out_w; ++ox) y_row[ox] = pnn_activate(y_row[ox], act);
    }
  }
}

/* ---- 3x3 through phase planes (contract in pnn_kernels_nn.h) ---------------------
 * Padded rows Hp = (OH-1)*s + 3 and columns Wp = (OW-1)*s + 3 (the ones any tap
 * reads). Plane (a,b), of PH x PW = ceil(Hp/s) x ceil(Wp/s), holds padded pixel
 * (s*r+a, s*c+b). Output q = oy*PW + ox (ox < OW valid, the rest discarded) is then
 * sum_ij w[i][j] * plane(i%s, j%s)[q + (i/s)*PW + j/s]. Lanes past a row read the
 * next row's pixels (discarded) and PLANE_SLACK covers the last vector. */
enum { PLANE_SLACK = 48 };

static size_t planes_geometry(const pnn_conv2d_geometry *g, size_t *ph, size_t *pw, size_t *stride) {
  const size_t s = g->stride_h;
  if (g->kernel_h != 3 || g->kernel_w != 3 || g->dilation_h != 1 || g->dilation_w != 1 ||
      g->stride_w != s || (s != 1 && s != 2) || g->out_h == 0 || g->out_w == 0 ||
      g->out_h > ((size_t)1 << 20) || g->out_w > ((size_t)1 << 20)) {
    return 0;
  }
  const size_t hp = (g->out_h - 1) * s + 3, wp = (g->out_w - 1) * s + 3;
  *ph = (hp + s - 1) / s;
  *pw = (wp + s - 1) / s;
  *stride = (*ph * *pw + PLANE_SLACK + 15) / 16 * 16;
  return s;
}

size_t pnn_f32_dwconv3x3_planes_floats(const pnn_conv2d_geometry *g) {
  size_t ph, pw, stride;
  const size_t s = planes_geometry(g, &ph, &pw, &stride);
  return s ? s * s * stride : 0;
}

/* Zero-padded copy of one channel into its phase planes. */
static void fill_planes(const pnn_conv2d_geometry *g, const float *x_c, size_t s, size_t ph, size_t pw,
                        size_t stride, float *planes) {
  memset(planes, 0, s * s * stride * sizeof(float));
  const size_t wp = pw * s;
  /* Input columns that land inside the padded width. */
  const size_t c_end = g->in_w < (wp > g->pad_left ? wp - g->pad_left : 0) ? g->in_w
                                                                          : (wp > g->pad_left ? wp - g->pad_left : 0);
  for (size_t pr = 0; pr < ph * s; ++pr) {
    if (pr < g->pad_top || pr - g->pad_top >= g->in_h) continue;
    const float *src = x_c + (pr - g->pad_top) * g->in_w;
    float *row_a = planes + (pr % s) * s * stride + (pr / s) * pw;
    if (s == 1) {
      memcpy(row_a + g->pad_left, src, c_end * sizeof(float));
      continue;
    }
    /* Stride 2: padded column pc = c + pad_left goes to plane b = pc & 1, column pc >> 1. */
    float *even = row_a, *odd = row_a + stride;
    size_t c = 0;
    if (g->pad_left & 1) { /* first input column is odd in padded coordinates */
      if (c_end > 0) odd[g->pad_left >> 1] = src[0];
      c = 1;
    }
    /* Now pc = c + pad_left is even: pairs (c, c+1) go to even[k], odd[k], k = pc/2. */
    const __m512i idx_even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i idx_odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (; c + 32 <= c_end; c += 32) {
      const __m512 lo = _mm512_loadu_ps(src + c), hi = _mm512_loadu_ps(src + c + 16);
      const size_t k = (c + g->pad_left) >> 1;
      _mm512_storeu_ps(even + k, _mm512_permutex2var_ps(lo, idx_even, hi));
      _mm512_storeu_ps(odd + k, _mm512_permutex2var_ps(lo, idx_odd, hi));
    }
    if (c < c_end) { /* 1..31 columns left: masked loads and stores */
      const size_t n = c_end - c, k = (c + g->pad_left) >> 1;
      const __m512 lo = _mm512_maskz_loadu_ps(pnn_mask16(n), src + c);
      const __m512 hi = _mm512_maskz_loadu_ps(n > 16 ? pnn_mask16(n - 16) : 0, src + c + 16);
      _mm512_mask_storeu_ps(even + k, pnn_mask16((n + 1) / 2), _mm512_permutex2var_ps(lo, idx_even, hi));
      _mm512_mask_storeu_ps(odd + k, pnn_mask16(n / 2), _mm512_permutex2var_ps(lo, idx_odd, hi));
    }
  }
}

/* Lanes of the vector starting at flat output q0 whose column is < out_w. */
static inline __mmask16 valid_lanes(size_t q0, size_t pw, size_t out_w, size_t total) {
  const size_t ox0 = q0 % pw;
  uint32_t mask = 0;
  /* Row segments start at lane -ox0, -ox0 + pw, ...; each has out_w valid lanes. */
  for (long start = -(long)ox0; start < 16; start += (long)pw) {
    const long lo = start < 0 ? 0 : start;
    const long hi = start + (long)out_w < 16 ? start + (long)out_w : 16;
    if (hi > lo) mask |= ((1u << hi) - 1u) & ~((1u << lo) - 1u);
  }
  if (total - q0 < 16) mask &= (1u << (total - q0)) - 1u;
  return (__mmask16)mask;
}

void pnn_f32_dwconv3x3_planes_avx512(const pnn_conv2d_geometry *g, const float *x, const float *w,
                                     const float *bias, float *y, pnn_activation act,
                                     float *scratch) {
  size_t ph, pw, stride;
  const size_t s = planes_geometry(g, &ph, &pw, &stride);
  if (s == 0) return;
  const size_t total = g->out_h * pw; /* flat outputs, out_w of every pw valid */
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  const __m512 alpha = _mm512_set1_ps(act.alpha), beta = _mm512_set1_ps(act.beta);
  /* Per tap: offset into the planes buffer (plane and shift). */
  size_t off[9];
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 3; ++j)
      off[i * 3 + j] = ((i % s) * s + (j % s)) * stride + (i / s) * pw + j / s;
  for (size_t c = 0; c < g->channels; ++c) {
    fill_planes(g, x + c * g->in_h * g->in_w, s, ph, pw, stride, scratch);
    const float *wc = w + c * 9;
    __m512 wv[9];
    for (size_t t = 0; t < 9; ++t) wv[t] = _mm512_set1_ps(wc[t]);
    const __m512 b0 = _mm512_set1_ps(bias ? bias[c] : 0.0f);
    float *yc = y + c * g->out_h * g->out_w, *out = yc;
    for (size_t q0 = 0; q0 < total; q0 += 16) {
      const float *p = scratch + q0;
      __m512 acc = b0;
      for (size_t t = 0; t < 9; ++t) acc = _mm512_fmadd_ps(wv[t], _mm512_loadu_ps(p + off[t]), acc);
      acc = pnn_act512(acc, act.kind, alpha, beta);
      const __mmask16 valid = valid_lanes(q0, pw, g->out_w, total);
      const unsigned n = (unsigned)__builtin_popcount(valid);
      _mm512_mask_storeu_ps(out, (__mmask16)((1u << n) - 1u), _mm512_maskz_compress_ps(valid, acc));
      out += n;
    }
    if (scalar_pass)
      for (size_t i = 0; i < g->out_h * g->out_w; ++i) yc[i] = pnn_activate(yc[i], act);
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* x86-64 */
