/* f32 depthwise convolution for AVX2 + FMA: the vector hooks of dwconv_driver.h
 * (8 output columns per vector; blocking, borders and tails live in the driver).
 *
 * Stride-2 taps stay in the lane order of pnn_taps8_even / _odd (one in-lane shuffle
 * per tap instead of a shuffle and a lane-crossing permute); the accumulators are put
 * back in column order once, at the store. Edge blocks of the 3x3 strips use masked
 * loads whose masks are built once per block and strip, and the column left of the
 * row (pad 1) as a lane shift of a loaded vector, so no pointer leaves the row. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#define PNN_X86_ACT_AVX2
#include "pnn_x86_act.h"
#include "pnn_x86_taps.h"

#define DW_KERNEL pnn_f32_dwconv_avx2
/* Plain loads (foldable into the FMAs) away from the edges. Stride 1: columns
 * d .. d+9; stride 2: d .. d+16. */
#define DW_TAPS3_INSIDE(stride) 1
#define DW_TAPS3_SPAN(stride) ((stride) == 1 ? (size_t)10 : (size_t)17)
#define DW_STORE_SPILLS 1 /* masked stores are slow on AMD */
/* At stride 2 a row's two de-interleaved loads stay live beside its three taps, and
 * 4 accumulators + 9 weights overflow the 16 ymm registers (spilled to the stack): 3
 * rows a strip ran 5-9% faster on MobileNet's 56x56 and 112x112 stride-2 layers (Zen 4).
 * AVX-512's 32 registers keep 4 (3 measured 0-4% slower there). */
#define DW_STRIP_S2 3

/* p[0], p[s], ... for `count` lanes (zeros past them, never read). */
static PNN_ALWAYS_INLINE pnn_f32v dw_load_inside(const float *p, size_t stride, size_t count) {
  if (stride == 1) return count >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, pnn_mask8(count));
  const size_t span = 2 * count - 1; /* the even elements of p[0 .. span) */
  const __m256 lo = span >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, pnn_mask8(span));
  const __m256 hi = span > 8 ? _mm256_maskload_ps(p + 8, pnn_mask8(span - 8)) : _mm256_setzero_ps();
  return pnn_taps8_in_order(pnn_taps8_even(lo, hi));
}

static PNN_ALWAYS_INLINE pnn_f32v dw_load_checked(const float *r, ptrdiff_t d, size_t in_w, size_t stride) {
  return pnn_taps8_load_strided(r, d, in_w, stride);
}

/* ---- 3x3 taps ---------------------------------------------------------------------- */

/* Stride-2 odd taps (columns 1, 3, .. 15 in the pnn_taps8_odd order) moved up one column,
 * with lane 0 of `first` (column -1) in front: the tap left of each even column. */
static PNN_ALWAYS_INLINE __m256 dw_odd_up(__m256 odd, __m256 first) {
  return _mm256_blend_ps(_mm256_permutevar8x32_ps(odd, _mm256_setr_epi32(0, 0, 5, 2, 1, 4, 3, 6)), first, 1);
}

static PNN_ALWAYS_INLINE void dw_taps3_inside(size_t stride, const float *p, pnn_f32v t[3]) {
  if (stride == 1) {
    t[0] = _mm256_loadu_ps(p);
    t[1] = _mm256_loadu_ps(p + 1);
    t[2] = _mm256_loadu_ps(p + 2);
    return;
  }
  /* Columns 1 .. 16 in two loads, de-interleaved into taps 1 and 2; tap 0 is tap 2 moved
   * up a lane behind column 0. At pad 1, p + 1 is column 16k: neither load crosses a
   * cache line when the row starts on one (loads from p and p + 2 both did, 10-20%). */
  const __m256 lo = _mm256_loadu_ps(p + 1), hi = _mm256_loadu_ps(p + 9);
  t[1] = pnn_taps8_even(lo, hi);
  t[2] = pnn_taps8_odd(lo, hi);
  t[0] = dw_odd_up(t[2], _mm256_broadcast_ss(p));
}

/* Edge block: up to four masked loads at row offsets off[k] (never past the row; a
 * load wholly outside it has an empty mask at the last column). `left`: column 0 with
 * pad 1, where tap 0 is a loaded vector shifted up one lane. */
typedef struct dw_cols {
  size_t off[4];
  __m256i mask[4];
  int left;
} dw_cols;

static inline void dw_cols_load(dw_cols *c, size_t k, ptrdiff_t col, size_t in_w) {
  const size_t n = col >= 0 && (size_t)col < in_w ? in_w - (size_t)col : 0;
  c->off[k] = n ? (size_t)col : in_w - 1;
  c->mask[k] = pnn_mask8(n);
}

static PNN_ALWAYS_INLINE dw_cols dw_cols_of(size_t x0, size_t stride, size_t pad_left, size_t in_w) {
  dw_cols c;
  c.left = x0 == 0 && pad_left == 1;
  const ptrdiff_t d = (ptrdiff_t)(x0 * stride) - (ptrdiff_t)pad_left + c.left; /* first loaded column */
  if (stride == 1) {
    for (size_t k = 0; k < 3; ++k) dw_cols_load(&c, k, d + (ptrdiff_t)k, in_w); /* left: taps 1, 2 (and unused) */
  } else {
    dw_cols_load(&c, 0, d, in_w);
    dw_cols_load(&c, 1, d + 8, in_w);
    dw_cols_load(&c, 2, d + 2, in_w);
    dw_cols_load(&c, 3, d + 10, in_w);
  }
  return c;
}

static PNN_ALWAYS_INLINE __m256 dw_cols_get(const float *r, const dw_cols *c, size_t k) {
  return _mm256_maskload_ps(r + c->off[k], c->mask[k]);
}

static PNN_ALWAYS_INLINE void dw_taps3_edge(size_t stride, const float *r, const dw_cols *c, size_t pad_left,
                                            pnn_f32v t[3]) {
  (void)pad_left;
  if (stride == 1) {
    if (c->left) {
      t[1] = dw_cols_get(r, c, 0);
      t[2] = dw_cols_get(r, c, 1);
      /* t[1] moved up a lane, zero in front. */
      t[0] = _mm256_blend_ps(_mm256_permutevar8x32_ps(t[1], _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6)),
                             _mm256_setzero_ps(), 1);
    } else {
      t[0] = dw_cols_get(r, c, 0);
      t[1] = dw_cols_get(r, c, 1);
      t[2] = dw_cols_get(r, c, 2);
    }
    return;
  }
  const __m256 lo = dw_cols_get(r, c, 0), hi = dw_cols_get(r, c, 1);
  if (c->left) {
    t[1] = pnn_taps8_even(lo, hi);
    t[2] = pnn_taps8_odd(lo, hi);
    t[0] = dw_odd_up(t[2], _mm256_setzero_ps());
  } else {
    t[0] = pnn_taps8_even(lo, hi);
    t[1] = pnn_taps8_odd(lo, hi);
    t[2] = pnn_taps8_even(dw_cols_get(r, c, 2), dw_cols_get(r, c, 3));
  }
}

#include "dwconv_driver.h"

PNN_TARGET_END()

#endif /* x86-64 */
