/* Winograd F(2x2, 3x3) transforms for AVX2 + FMA: the vector hooks of wino_impl.h,
 * 8 tiles per vector. */
#include "pnn_kernels.h"

#if defined(__x86_64__)

PNN_TARGET_BEGIN("avx2,fma")

#define PNN_X86_ACT_AVX2
#include "pnn_x86_act.h"

#define WINO_FN(name) name##_avx2
#define WINO_LANES 8

typedef __m256 wino_vec;
typedef __m256i wino_mask;

static PNN_ALWAYS_INLINE wino_mask wino_mask_first(size_t n) { return pnn_mask8(n); }
static PNN_ALWAYS_INLINE wino_vec wino_zero(void) { return _mm256_setzero_ps(); }
static PNN_ALWAYS_INLINE wino_vec wino_set1(float v) { return _mm256_set1_ps(v); }
static PNN_ALWAYS_INLINE wino_vec wino_add(wino_vec a, wino_vec b) { return _mm256_add_ps(a, b); }
static PNN_ALWAYS_INLINE wino_vec wino_sub(wino_vec a, wino_vec b) { return _mm256_sub_ps(a, b); }
static PNN_ALWAYS_INLINE wino_vec wino_act(wino_vec v, int kind, wino_vec alpha, wino_vec beta) {
  return pnn_act256(v, kind, alpha, beta);
}
static PNN_ALWAYS_INLINE wino_vec wino_loadu(const float *p) { return _mm256_loadu_ps(p); }
static PNN_ALWAYS_INLINE void wino_storeu(float *p, wino_vec v) { _mm256_storeu_ps(p, v); }
static PNN_ALWAYS_INLINE wino_vec wino_load(const float *p, wino_mask m) { return _mm256_maskload_ps(p, m); }
/* The first n < 8 lanes by plain stores (pnn_x86_act.h). */
static PNN_ALWAYS_INLINE void wino_store_first(float *p, size_t n, wino_vec v) { pnn_store8_first(p, v, n); }

static PNN_ALWAYS_INLINE void wino_split(wino_vec a0, wino_vec a1, wino_vec *even, wino_vec *odd) {
  /* In-lane shuffles give e[0, 2, 8, 10 | 4, 6, 12, 14]; swapping the middle 64-bit
   * quarters restores the order. */
  const __m256 e = _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));
  const __m256 o = _mm256_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1));
  *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}

static PNN_ALWAYS_INLINE void wino_interleave(wino_vec p0, wino_vec p1, wino_vec *lo, wino_vec *hi) {
  const __m256 a = _mm256_unpacklo_ps(p0, p1); /* tiles 0, 1 | 4, 5 */
  const __m256 b = _mm256_unpackhi_ps(p0, p1); /* tiles 2, 3 | 6, 7 */
  *lo = _mm256_permute2f128_ps(a, b, 0x20);
  *hi = _mm256_permute2f128_ps(a, b, 0x31);
}

enum { SPAN_ZERO, SPAN_FULL, SPAN_MASKED, SPAN_SHIFTED };
typedef struct wino_span {
  int kind;
  size_t src;       /* floats from the piece (FULL, MASKED) */
  __m256i load;     /* lanes read (MASKED, SHIFTED) */
  __m256i shift;    /* SHIFTED: lane j takes loaded lane j - shift, ... */
  __m256i clear;    /* ... lanes j < shift are 0 */
} wino_span;

static PNN_ALWAYS_INLINE wino_span wino_span_zero(void) {
  const wino_span s = {SPAN_ZERO, 0, _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  return s;
}
static PNN_ALWAYS_INLINE wino_span wino_span_at(size_t src, size_t valid) {
  const wino_span s = {valid >= 8 ? SPAN_FULL : SPAN_MASKED, src, pnn_mask8(valid), _mm256_setzero_si256(),
                       _mm256_setzero_si256()};
  return s;
}
static PNN_ALWAYS_INLINE wino_span wino_span_shifted(size_t shift, size_t valid) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i by = _mm256_set1_epi32((int)shift);
  const wino_span s = {SPAN_SHIFTED, 0, pnn_mask8(valid), _mm256_sub_epi32(iota, by),
                       _mm256_cmpgt_epi32(by, iota)};
  return s;
}
static PNN_ALWAYS_INLINE wino_vec wino_span_load(const wino_span *s, const float *piece) {
  switch (s->kind) {
    case SPAN_FULL: return _mm256_loadu_ps(piece + s->src);
    case SPAN_MASKED: return _mm256_maskload_ps(piece + s->src, s->load);
    case SPAN_SHIFTED: {
      const __m256 v = _mm256_permutevar8x32_ps(_mm256_maskload_ps(piece, s->load), s->shift);
      return _mm256_andnot_ps(_mm256_castsi256_ps(s->clear), v);
    }
    default: return _mm256_setzero_ps();
  }
}

#include "wino_impl.h"

PNN_TARGET_END()

#endif /* __x86_64__ */
