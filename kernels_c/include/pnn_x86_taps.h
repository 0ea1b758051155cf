/* Tap vectors of convolutions over NCHW rows for x86 (included inside a file's
 * `PNN_TARGET_BEGIN` region, after pnn_x86_act.h with PNN_X86_ACT_AVX512 or
 * PNN_X86_ACT_AVX2 defined; each gets its own section).
 *
 * AVX-512:
 * pnn_taps_load_strided: the 16 input columns d, d+s, ... (s = 1 or 2) of a row, any d,
 * zero outside [0, in_w), never forming a pointer outside the row.
 *
 * pnn_taps3_*: the three tap vectors of a 3x3 convolution at once (fewer loads and
 * permutes). For 16 output columns x0 .. x0+15 of a row, tap j is the vector of input
 * columns s * (x0 + lane) + j - pad_left, zero outside the row; stride s is 1 or 2,
 * pad_left 0 or 1 and the right padding at most 1 (pnn_conv3x3_rows_applies). Loads
 * are masked so they never read past the row, and the one column left of the row
 * (pad 1) is produced by a lane shift, so no pointer ever leaves the row.
 *
 * AVX2: pnn_taps8_span (8 columns from any d, zeros outside the row) and the stride-2
 * de-interleave pnn_taps8_even / _odd, which leave the 8 columns in the lane order
 * 0 1 4 5 2 3 6 7 (one in-lane shuffle each); a kernel that keeps every tap in that
 * order restores column order once per output vector with pnn_taps8_in_order. */
#ifndef PNN_X86_TAPS_H
#define PNN_X86_TAPS_H

#include <immintrin.h>

#include "pnn_kernels.h"

#if defined(PNN_X86_ACT_AVX512)
/* The f32 vector hooks shared by the convolution drivers (dwconv_driver.h,
 * direct_driver.h): type, lanes, broadcast, FMA, fused activation, store of the first
 * `count` lanes, and the column order of stride-2 taps (already in order here). */
typedef __m512 pnn_f32v;
#define PNN_F32V_LANES 16
static PNN_ALWAYS_INLINE pnn_f32v pnn_f32v_set1(float v) { return _mm512_set1_ps(v); }
static PNN_ALWAYS_INLINE pnn_f32v pnn_f32v_fma(pnn_f32v a, pnn_f32v b, pnn_f32v acc) {
  return _mm512_fmadd_ps(a, b, acc);
}
static PNN_ALWAYS_INLINE pnn_f32v pnn_f32v_act(pnn_f32v v, int kind, pnn_f32v alpha, pnn_f32v beta) {
  return pnn_act512(v, kind, alpha, beta);
}
static PNN_ALWAYS_INLINE void pnn_f32v_store(float *p, pnn_f32v v, size_t count) {
  if (count >= 16) _mm512_storeu_ps(p, v);
  else _mm512_mask_storeu_ps(p, pnn_mask16(count), v);
}
static PNN_ALWAYS_INLINE pnn_f32v pnn_f32v_in_order(pnn_f32v v) { return v; }

typedef struct pnn_taps3_cols {
  size_t col[3];    /* stride 1: first input column of tap j; stride 2: of the two loads and the edge */
  __mmask16 m[3];   /* lanes of each load inside the row */
  int edge;         /* stride 1: tap 0 is tap 1 shifted (column 0, pad 1);
                       stride 2: the edge column is inside the row */
} pnn_taps3_cols;

/* x_row[d .. d+16) with zeros outside [0, in_w). Lanes left of the row come from a
 * masked load at x_row itself, moved up by a lane permute (an expanding load is
 * microcoded and was 2x slower on 112-wide rows, measured). */
static inline __m512 pnn_taps_load_span(const float *x_row, ptrdiff_t d, size_t in_w) {
  if (d >= 0) {
    if ((size_t)d >= in_w) return _mm512_setzero_ps();
    return _mm512_maskz_loadu_ps(pnn_mask16(in_w - (size_t)d), x_row + d);
  }
  const size_t skip = (size_t)-d;
  if (skip >= 16) return _mm512_setzero_ps();
  const __m512 head = _mm512_maskz_loadu_ps(pnn_mask16(in_w), x_row); /* x_row[0 .. 16) */
  const __m512i from = _mm512_sub_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                        _mm512_set1_epi32((int)skip));
  const __mmask16 lanes = (__mmask16)(pnn_mask16(in_w + skip) & ~pnn_mask16(skip));
  return _mm512_maskz_permutexvar_ps(lanes, from, head);
}

static PNN_ALWAYS_INLINE __m512 pnn_taps_load_strided(const float *x_row, ptrdiff_t d, size_t in_w,
                                                      size_t stride) {
  if (stride == 1) return pnn_taps_load_span(x_row, d, in_w);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps(pnn_taps_load_span(x_row, d, in_w), even, pnn_taps_load_span(x_row, d + 16, in_w));
}

static inline __mmask16 pnn_taps3_lanes(size_t w, size_t col) {
  return col >= w ? 0 : pnn_mask16(w - col < 16 ? w - col : 16);
}

static inline pnn_taps3_cols pnn_taps3_columns(size_t x0, size_t stride, size_t pad_left, size_t in_w) {
  pnn_taps3_cols c;
  if (stride == 1) {
    c.edge = x0 == 0 && pad_left == 1;
    for (size_t j = 0; j < 3; ++j) {
      c.col[j] = x0 + j - pad_left; /* wraps only for the shifted tap, never loaded */
      c.m[j] = c.edge && j == 0 ? 0 : pnn_taps3_lanes(in_w, c.col[j]);
    }
  } else {
    c.col[0] = 2 * x0;
    c.col[1] = 2 * x0 + 16;
    c.m[0] = pnn_taps3_lanes(in_w, c.col[0]);
    c.m[1] = pnn_taps3_lanes(in_w, c.col[1]);
    c.m[2] = 0; /* the edge column is read as a scalar */
    c.col[2] = pad_left ? 2 * x0 - 1 : 2 * x0 + 32;
    c.edge = pad_left ? x0 > 0 : c.col[2] < in_w;
  }
  return c;
}

/* Columns col .. col+15 of row r (zero past the end); nothing is read if mask is 0. */
static PNN_ALWAYS_INLINE __m512 pnn_taps3_load(const float *r, size_t col, __mmask16 mask) {
  return mask ? _mm512_maskz_loadu_ps(mask, r + col) : _mm512_setzero_ps();
}

static PNN_ALWAYS_INLINE void pnn_taps3_s1(const float *r, const pnn_taps3_cols *c, __m512 t[3]) {
  t[1] = pnn_taps3_load(r, c->col[1], c->m[1]);
  t[0] = c->edge ? _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(t[1]), _mm512_setzero_si512(), 15))
                 : pnn_taps3_load(r, c->col[0], c->m[0]);
  t[2] = pnn_taps3_load(r, c->col[2], c->m[2]);
}

/* Stride 2: the even and odd columns of two loads, plus the edge column moved in. */
static PNN_ALWAYS_INLINE void pnn_taps3_s2(const float *r, const pnn_taps3_cols *c, size_t pad_left,
                                           __m512 t[3]) {
  const __m512i even_idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd_idx = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512 lo = pnn_taps3_load(r, c->col[0], c->m[0]), hi = pnn_taps3_load(r, c->col[1], c->m[1]);
  const __m512 even = _mm512_permutex2var_ps(lo, even_idx, hi);
  const __m512 odd = _mm512_permutex2var_ps(lo, odd_idx, hi);
  const __m512i edge = _mm512_castps_si512(_mm512_set1_ps(c->edge ? r[c->col[2]] : 0.0f));
  if (pad_left) {
    t[0] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(odd), edge, 15));
    t[1] = even;
    t[2] = odd;
  } else {
    t[0] = even;
    t[1] = odd;
    t[2] = _mm512_castsi512_ps(_mm512_alignr_epi32(edge, _mm512_castps_si512(even), 1));
  }
}

#endif /* PNN_X86_ACT_AVX512 */

#if defined(PNN_X86_ACT_AVX2)
/* x_row[d .. d+8) with zeros outside [0, in_w). Lanes left of the row come from a
 * load at x_row itself moved up by a lane permute, so no pointer leaves the row. */
static inline __m256 pnn_taps8_span(const float *x_row, ptrdiff_t d, size_t in_w) {
  if (d >= 0) {
    if ((size_t)d >= in_w) return _mm256_setzero_ps();
    const size_t n = in_w - (size_t)d;
    return n >= 8 ? _mm256_loadu_ps(x_row + d) : _mm256_maskload_ps(x_row + d, pnn_mask8(n));
  }
  const size_t skip = (size_t)-d;
  if (skip >= 8 || in_w == 0) return _mm256_setzero_ps();
  const __m256 head = in_w >= 8 ? _mm256_loadu_ps(x_row) : _mm256_maskload_ps(x_row, pnn_mask8(in_w));
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 moved = _mm256_permutevar8x32_ps(head, _mm256_sub_epi32(lane, _mm256_set1_epi32((int)skip)));
  /* Lanes [skip, skip + in_w) hold the row. */
  const size_t end = in_w + skip < 8 ? in_w + skip : 8;
  const __m256i keep = _mm256_andnot_si256(pnn_mask8(skip), pnn_mask8(end));
  return _mm256_and_ps(moved, _mm256_castsi256_ps(keep));
}

/* Columns 0, 2, .. 14 (even) or 1, 3, .. 15 (odd) of lo = x[0..8), hi = x[8..16), in
 * lane order 0 1 4 5 2 3 6 7. */
static PNN_ALWAYS_INLINE __m256 pnn_taps8_even(__m256 lo, __m256 hi) {
  return _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
}
static PNN_ALWAYS_INLINE __m256 pnn_taps8_odd(__m256 lo, __m256 hi) {
  return _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
}
/* Lane order 0 1 4 5 2 3 6 7 back to 0 .. 7 (swaps the middle 64-bit pairs). */
static PNN_ALWAYS_INLINE __m256 pnn_taps8_in_order(__m256 v) {
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* The f32 vector hooks of the convolution drivers (see the AVX-512 section); stride-2
 * taps come in the 0 1 4 5 2 3 6 7 order, which pnn_f32v_in_order undoes. */
typedef __m256 pnn_f32v;
#define PNN_F32V_LANES 8
static PNN_ALWAYS_INLINE pnn_f32v pnn_f32v_set1(float v) { return _mm256_set1_ps(v); }
static PNN_ALWAYS_INLINE pnn_f32v pnn_f32v_fma(pnn_f32v a, pnn_f32v b, pnn_f32v acc) {
  return _mm256_fmadd_ps(a, b, acc);
}
static PNN_ALWAYS_INLINE pnn_f32v pnn_f32v_act(pnn_f32v v, int kind, pnn_f32v alpha, pnn_f32v beta) {
  return pnn_act256(v, kind, alpha, beta);
}
static PNN_ALWAYS_INLINE void pnn_f32v_store(float *p, pnn_f32v v, size_t count) {
  if (count >= 8) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, pnn_mask8(count), v);
}
static PNN_ALWAYS_INLINE pnn_f32v pnn_f32v_in_order(pnn_f32v v) { return pnn_taps8_in_order(v); }

/* x_row[d], x_row[d + s], ... (s = 1 or 2) in column order, zeros outside [0, in_w). */
static PNN_ALWAYS_INLINE __m256 pnn_taps8_load_strided(const float *x_row, ptrdiff_t d, size_t in_w,
                                                       size_t stride) {
  if (stride == 1) return pnn_taps8_span(x_row, d, in_w);
  return pnn_taps8_in_order(pnn_taps8_even(pnn_taps8_span(x_row, d, in_w), pnn_taps8_span(x_row, d + 8, in_w)));
}
#endif /* PNN_X86_ACT_AVX2 */

#endif /* PNN_X86_TAPS_H */
