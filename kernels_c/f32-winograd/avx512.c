/* Winograd F(2x2, 3x3) transforms for AVX-512F (contract in pnn_kernels_nn.h).
 * Vectors run along a row of tiles, 16 tiles per vector: the stride-2 input columns
 * are split into even and odd lanes with two-source permutes, and the two output
 * pixels of each tile are interleaved the same way before one store per row. */
#include "pnn_kernels.h"

#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif

#define PNN_X86_ACT_AVX512
#include "pnn_x86_act.h"

enum { NR = PNN_GEMM_PB_NR };

/* Lanes j of e[o + j] for the row piece e[lo, hi) whose first element is at
 * `piece` (zeros elsewhere); lo > 0. */
static inline __m512 piece_load(const float *piece, size_t o, size_t lo, size_t hi) {
  const size_t jl = lo > o ? lo - o : 0;
  const size_t jh = hi > o ? (hi - o < 16 ? hi - o : 16) : 0;
  if (jh <= jl) return _mm512_setzero_ps();
  const __mmask16 lanes = (__mmask16)(pnn_mask16(jh) & ~pnn_mask16(jl));
  return _mm512_maskz_expandloadu_ps(lanes, piece + (o + jl - lo));
}

void pnn_f32_wino2_input_avx512(const pnn_conv2d_geometry *g, const float *x, size_t t0,
                                size_t count, float *v, size_t xi_stride) {
  const size_t C = g->channels, in_h = g->in_h, in_w = g->in_w;
  const size_t tiles_w = (g->out_w + 1) / 2;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  size_t u = 0;
  while (u < count) {
    /* A run of at most 16 tiles on one tile row and inside one panel. */
    const size_t t = t0 + u, ty = t / tiles_w, tx0 = t % tiles_w;
    size_t n = tiles_w - tx0;
    if (n > count - u) n = count - u;
    if (n > 16) n = 16;
    if (n > NR - u % NR) n = NR - u % NR;
    const __mmask16 mask = pnn_mask16(n);
    const size_t ix0 = 2 * tx0 - g->pad_left; /* wraps when left of the image */
    const size_t len = 2 * n + 2;
    /* The part [lo, hi) of e[0, len) that lies inside the image row. */
    size_t lo = 0, hi = len;
    while (lo < len && ix0 + lo >= in_w) ++lo; /* left padding (wrapped indices) */
    if (lo < len) {
      hi = lo;
      while (hi < len && ix0 + hi < in_w) ++hi;
    }
    /* Lanes inside the row for loads at offsets 0, 16, 2, 18 (used when lo == 0). */
    const __mmask16 m0 = pnn_mask16(hi), m16 = pnn_mask16(hi > 16 ? hi - 16 : 0);
    const __mmask16 m2 = pnn_mask16(hi > 2 ? hi - 2 : 0), m18 = pnn_mask16(hi > 18 ? hi - 18 : 0);
    float *dst = v + (u / NR) * C * NR + u % NR;
    for (size_t c = 0; c < C; ++c) {
      const float *x_c = x + c * in_h * in_w;
      __m512 h[4][4];
      for (size_t r = 0; r < 4; ++r) {
        const size_t iy = 2 * ty + r - g->pad_top;
        __m512 a0, a1, b0, b1;
        if (iy >= in_h || lo >= hi) {
          a0 = a1 = b0 = b1 = _mm512_setzero_ps();
        } else if (lo == 0) {
          /* Starts inside the row: masked loads stop at its end. */
          const float *src = x_c + iy * in_w + ix0;
          a0 = _mm512_maskz_loadu_ps(m0, src);
          a1 = _mm512_maskz_loadu_ps(m16, src + 16);
          b0 = _mm512_maskz_loadu_ps(m2, src + 2);
          b1 = _mm512_maskz_loadu_ps(m18, src + 18);
        } else {
          /* Left padding: expanding loads put the row piece e[lo, hi) in its lanes
           * and read nothing outside it (a staged copy cost 3x more on 7x7 images). */
          const float *piece = x_c + iy * in_w + (ix0 + lo); /* e[lo] */
          a0 = piece_load(piece, 0, lo, hi);
          a1 = piece_load(piece, 16, lo, hi);
          b0 = piece_load(piece, 2, lo, hi);
          b1 = piece_load(piece, 18, lo, hi);
        }
        const __m512 ev = _mm512_permutex2var_ps(a0, even, a1); /* e[2i]   */
        const __m512 od = _mm512_permutex2var_ps(a0, odd, a1);  /* e[2i+1] */
        const __m512 ev1 = _mm512_permutex2var_ps(b0, even, b1); /* e[2i+2] */
        const __m512 od1 = _mm512_permutex2var_ps(b0, odd, b1);  /* e[2i+3] */
        h[r][0] = _mm512_sub_ps(ev, ev1);
        h[r][1] = _mm512_add_ps(od, ev1);
        h[r][2] = _mm512_sub_ps(ev1, od);
        h[r][3] = _mm512_sub_ps(od, od1);
      }
      float *dc = dst + c * NR;
      for (size_t q = 0; q < 4; ++q) {
        _mm512_mask_storeu_ps(dc + (0 + q) * xi_stride, mask, _mm512_sub_ps(h[0][q], h[2][q]));
        _mm512_mask_storeu_ps(dc + (4 + q) * xi_stride, mask, _mm512_add_ps(h[1][q], h[2][q]));
        _mm512_mask_storeu_ps(dc + (8 + q) * xi_stride, mask, _mm512_sub_ps(h[2][q], h[1][q]));
        _mm512_mask_storeu_ps(dc + (12 + q) * xi_stride, mask, _mm512_sub_ps(h[1][q], h[3][q]));
      }
    }
    u += n;
  }
}

void pnn_f32_wino2_output_avx512(const pnn_conv2d_geometry *g, const float *m, size_t rows,
                                 size_t ldm, size_t xi_stride, size_t t0, size_t count,
                                 const float *bias, float *y, pnn_activation act) {
  const size_t out_h = g->out_h, out_w = g->out_w, plane = out_h * out_w;
  const size_t tiles_w = (out_w + 1) / 2;
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512 alpha = _mm512_set1_ps(act.alpha), beta = _mm512_set1_ps(act.beta);
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  size_t u = 0;
  while (u < count) {
    const size_t t = t0 + u, ty = t / tiles_w, tx0 = t % tiles_w;
    size_t n = tiles_w - tx0;
    if (n > count - u) n = count - u;
    if (n > 16) n = 16;
    const __mmask16 mask = pnn_mask16(n);
    const size_t ox0 = 2 * tx0;
    const size_t cols = 2 * n <= out_w - ox0 ? 2 * n : out_w - ox0;
    const __mmask16 st_lo = pnn_mask16(cols), st_hi = cols > 16 ? pnn_mask16(cols - 16) : 0;
    for (size_t r = 0; r < rows; ++r) {
      const float *mu = m + r * ldm + u;
      __m512 s0[4], s1[4];
      for (size_t q = 0; q < 4; ++q) {
        const __m512 m0 = _mm512_maskz_loadu_ps(mask, mu + (0 + q) * xi_stride);
        const __m512 m1 = _mm512_maskz_loadu_ps(mask, mu + (4 + q) * xi_stride);
        const __m512 m2 = _mm512_maskz_loadu_ps(mask, mu + (8 + q) * xi_stride);
        const __m512 m3 = _mm512_maskz_loadu_ps(mask, mu + (12 + q) * xi_stride);
        s0[q] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        s1[q] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
      }
      const __m512 b = _mm512_set1_ps(bias ? bias[r] : 0.0f);
      float *y_r = y + r * plane;
      for (size_t a = 0; a < 2; ++a) {
        const size_t oy = 2 * ty + a;
        if (oy >= out_h) break;
        const __m512 *s = a == 0 ? s0 : s1;
        __m512 p0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]), b);
        __m512 p1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]), b);
        p0 = pnn_act512(p0, act.kind, alpha, beta);
        p1 = pnn_act512(p1, act.kind, alpha, beta);
        float *out = y_r + oy * out_w + ox0;
        _mm512_mask_storeu_ps(out, st_lo, _mm512_permutex2var_ps(p0, lo_idx, p1));
        if (st_hi) _mm512_mask_storeu_ps(out + 16, st_hi, _mm512_permutex2var_ps(p0, hi_idx, p1));
        if (scalar_pass) pnn_f32_activate_avx512(out, cols, act);
      }
    }
    u += n;
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* __x86_64__ */
