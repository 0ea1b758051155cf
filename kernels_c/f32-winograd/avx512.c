/* Winograd F(2x2, 3x3) transforms for AVX-512F: the vector hooks of wino_impl.h,
 * 16 tiles per vector (two-source permutes split and interleave the columns). */
#include "pnn_kernels.h"

#if defined(__x86_64__)

PNN_TARGET_BEGIN("avx512f,avx2,fma")

#define PNN_X86_ACT_AVX512
#include "pnn_x86_act.h"

#define WINO_FN(name) name##_avx512
#define WINO_LANES 16

typedef __m512 wino_vec;
typedef __mmask16 wino_mask;

static PNN_ALWAYS_INLINE wino_mask wino_mask_first(size_t n) { return pnn_mask16(n); }
static PNN_ALWAYS_INLINE wino_vec wino_zero(void) { return _mm512_setzero_ps(); }
static PNN_ALWAYS_INLINE wino_vec wino_set1(float v) { return _mm512_set1_ps(v); }
static PNN_ALWAYS_INLINE wino_vec wino_add(wino_vec a, wino_vec b) { return _mm512_add_ps(a, b); }
static PNN_ALWAYS_INLINE wino_vec wino_sub(wino_vec a, wino_vec b) { return _mm512_sub_ps(a, b); }
static PNN_ALWAYS_INLINE wino_vec wino_act(wino_vec v, int kind, wino_vec alpha, wino_vec beta) {
  return pnn_act512(v, kind, alpha, beta);
}
static PNN_ALWAYS_INLINE wino_vec wino_loadu(const float *p) { return _mm512_loadu_ps(p); }
static PNN_ALWAYS_INLINE void wino_storeu(float *p, wino_vec v) { _mm512_storeu_ps(p, v); }
static PNN_ALWAYS_INLINE wino_vec wino_load(const float *p, wino_mask m) { return _mm512_maskz_loadu_ps(m, p); }
static PNN_ALWAYS_INLINE void wino_store_first(float *p, size_t n, wino_vec v) {
  _mm512_mask_storeu_ps(p, pnn_mask16(n), v);
}

static PNN_ALWAYS_INLINE void wino_split(wino_vec a0, wino_vec a1, wino_vec *even, wino_vec *odd) {
  const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  *even = _mm512_permutex2var_ps(a0, ev, a1);
  *odd = _mm512_permutex2var_ps(a0, od, a1);
}

static PNN_ALWAYS_INLINE void wino_interleave(wino_vec p0, wino_vec p1, wino_vec *lo, wino_vec *hi) {
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  *lo = _mm512_permutex2var_ps(p0, lo_idx, p1);
  *hi = _mm512_permutex2var_ps(p0, hi_idx, p1);
}

enum { SPAN_ZERO, SPAN_FULL, SPAN_MASKED, SPAN_SHIFTED };
typedef struct wino_span {
  int kind;
  size_t src;        /* floats from the piece (FULL, MASKED) */
  __mmask16 lanes;   /* lanes read (MASKED), or filled from the piece in order (SHIFTED) */
} wino_span;

static PNN_ALWAYS_INLINE wino_span wino_span_zero(void) {
  const wino_span s = {SPAN_ZERO, 0, 0};
  return s;
}
static PNN_ALWAYS_INLINE wino_span wino_span_at(size_t src, size_t valid) {
  const wino_span s = {valid >= 16 ? SPAN_FULL : SPAN_MASKED, src, pnn_mask16(valid)};
  return s;
}
static PNN_ALWAYS_INLINE wino_span wino_span_shifted(size_t shift, size_t valid) {
  /* Expanding loads put the piece in lanes [shift, shift + valid) and read nothing
   * outside it (a staged copy cost 3x more on 7x7 images). */
  const wino_span s = {SPAN_SHIFTED, 0, (__mmask16)(pnn_mask16(shift + valid) & ~pnn_mask16(shift))};
  return s;
}
static PNN_ALWAYS_INLINE wino_vec wino_span_load(const wino_span *s, const float *piece) {
  switch (s->kind) {
    case SPAN_FULL: return _mm512_loadu_ps(piece + s->src);
    case SPAN_MASKED: return _mm512_maskz_loadu_ps(s->lanes, piece + s->src);
    case SPAN_SHIFTED: return _mm512_maskz_expandloadu_ps(s->lanes, piece);
    default: return _mm512_setzero_ps();
  }
}

#include "wino_impl.h"

PNN_TARGET_END()

#endif /* __x86_64__ */
