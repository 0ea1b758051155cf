/* f32 depthwise convolution for AVX-512F: the vector hooks of dwconv_driver.h
 * (16 output columns per vector; blocking, borders and tails live in the driver).
 *
 * Edge taps are masked loads (cheap on AVX-512) with the one column left of the row
 * (pad 1) made by a lane shift (pnn_x86_taps.h), so no pointer leaves the row. Stride-2
 * taps are de-interleaved with two-source permutes, already in column order. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx512f,avx2,fma")

#include <immintrin.h>

#define PNN_X86_ACT_AVX512
#include "pnn_x86_act.h"
#include "pnn_x86_taps.h"

#define DW_KERNEL pnn_f32_dwconv_avx512
/* Stride 1: masked loads are as fast as plain ones here (measured), so every block
 * takes the edge taps. Stride 2: columns d .. d+32 (the first one as a scalar). */
#define DW_TAPS3_INSIDE(stride) ((stride) == 2)
#define DW_TAPS3_SPAN(stride) ((stride) == 1 ? (size_t)18 : (size_t)33)
#define DW_STORE_SPILLS 0 /* masked stores are cheap */

/* p[0], p[s], ... for `count` lanes (zeros past them, never read). */
static PNN_ALWAYS_INLINE pnn_f32v dw_load_inside(const float *p, size_t stride, size_t count) {
  if (stride == 1) return count >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(pnn_mask16(count), p);
  const size_t span = 2 * count - 1; /* the even elements of p[0 .. span) */
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512 lo = span >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(pnn_mask16(span), p);
  const __m512 hi = span > 16 ? _mm512_maskz_loadu_ps(pnn_mask16(span - 16), p + 16) : _mm512_setzero_ps();
  return _mm512_permutex2var_ps(lo, even, hi);
}

static PNN_ALWAYS_INLINE pnn_f32v dw_load_checked(const float *r, ptrdiff_t d, size_t in_w, size_t stride) {
  return pnn_taps_load_strided(r, d, in_w, stride);
}

/* ---- 3x3 taps ---------------------------------------------------------------------- */

static PNN_ALWAYS_INLINE void dw_taps3_inside(size_t stride, const float *p, pnn_f32v t[3]) {
  if (stride == 1) {
    t[0] = _mm512_loadu_ps(p);
    t[1] = _mm512_loadu_ps(p + 1);
    t[2] = _mm512_loadu_ps(p + 2);
    return;
  }
  const __m512i even_idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd_idx = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  /* Columns 1 .. 32 in two loads, de-interleaved into taps 1 and 2; tap 0 is tap 2 moved
   * up a lane behind column 0. At pad 1, p + 1 is column 32k: neither load crosses a
   * cache line when the row starts on one (loads from p and p + 16 both did). */
  const __m512 lo = _mm512_loadu_ps(p + 1), hi = _mm512_loadu_ps(p + 17);
  t[1] = _mm512_permutex2var_ps(lo, even_idx, hi);
  t[2] = _mm512_permutex2var_ps(lo, odd_idx, hi);
  t[0] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(t[2]),
                                                 _mm512_castps_si512(_mm512_set1_ps(p[0])), 15));
}

typedef pnn_taps3_cols dw_cols;

static PNN_ALWAYS_INLINE dw_cols dw_cols_of(size_t x0, size_t stride, size_t pad_left, size_t in_w) {
  return pnn_taps3_columns(x0, stride, pad_left, in_w);
}

static PNN_ALWAYS_INLINE void dw_taps3_edge(size_t stride, const float *r, const dw_cols *c, size_t pad_left,
                                            pnn_f32v t[3]) {
  if (stride == 1) pnn_taps3_s1(r, c, t);
  else pnn_taps3_s2(r, c, pad_left, t);
}

#include "dwconv_driver.h"

PNN_TARGET_END()

#endif /* x86-64 */
