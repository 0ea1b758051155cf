/* u8 depthwise convolution for AVX2 (see pnn_kernels_s8.h and the band plan in
 * dwconv_impl.h). 3x3, stride 1 or 2: 16 (stride 1) or 8 (stride 2) outputs per step;
 * other shapes run the scalar reference. The products are avx512.c's (vpmaddwd on
 * pairs of adjacent u16 taps, even and odd outputs apart for stride 1).
 *
 * Requantization: pnn_x86_requant.h (one channel's constants for every vector), the
 * clamp to [lo, hi] from saturating packs and a final byte min/max. */
#include <string.h>

#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#include "dwconv_impl.h"
#include "pnn_inline.h"
#include "pnn_x86_requant.h"

enum {
  S1_BLOCK = 16, /* stride-1 outputs per step: 8 even + 8 odd */
  S2_BLOCK = 8   /* stride-2 outputs per step */
};

typedef struct channel {
  __m256i w[3][4]; /* dw_weight_pairs, broadcast */
  __m256i bias;
  pnn_x86_requant8 rq;
  __m128i lo, hi;
} channel;

static void channel_init(channel *k, const int8_t *w, int32_t bias, int32_t multiplier,
                         int32_t shift, const pnn_requant *rq) {
  int32_t pairs[3][4];
  dw_weight_pairs(w, pairs);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) k->w[i][j] = _mm256_set1_epi32(pairs[i][j]);
  k->bias = _mm256_set1_epi32(bias);
  k->rq = pnn_x86_requant8_make(multiplier, shift, rq->zero_point);
  k->lo = _mm_set1_epi8((char)rq->lo);
  k->hi = _mm_set1_epi8((char)rq->hi);
}

/* 8 accumulators -> q + zero_point as int32 (not yet clamped to [lo, hi]). */
static PNN_ALWAYS_INLINE __m256i requantize(__m256i acc, const channel *k) {
  return pnn_x86_requant8_apply(acc, &k->rq);
}

/* Two vectors of 8 words (outputs in order) -> 16 bytes saturated and clamped to [lo, hi]. */
static PNN_ALWAYS_INLINE __m128i to_bytes(__m128i first, __m128i second, const channel *k) {
  return _mm_min_epu8(_mm_max_epu8(_mm_packus_epi16(first, second), k->lo), k->hi);
}

static PNN_ALWAYS_INLINE __m256i madd(__m256i acc, __m256i taps, __m256i weight_pair) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(taps, weight_pair));
}

static PNN_ALWAYS_INLINE __m256i load(const uint16_t *p) {
  return _mm256_loadu_si256((const __m256i *)p);
}

/* One kernel row of the stride-1 step at `taps`. */
static PNN_ALWAYS_INLINE void row_s1(__m256i *even, __m256i *odd, const uint16_t *taps,
                                    const __m256i w[4]) {
  const __m256i first = load(taps), second = load(taps + 2);
  *even = madd(madd(*even, first, w[0]), second, w[1]);
  *odd = madd(madd(*odd, first, w[2]), second, w[3]);
}

/* Stride 1: flat outputs [0, n) of the band (rows of plan width) into out. */
static void band_s1(const channel *k, const uint16_t *band, size_t width, size_t n, uint8_t *out) {
  for (size_t f = 0; f < n; f += S1_BLOCK) {
    __m256i even = k->bias, odd = k->bias;
    row_s1(&even, &odd, band + f, k->w[0]);
    row_s1(&even, &odd, band + f + width, k->w[1]);
    row_s1(&even, &odd, band + f + 2 * width, k->w[2]);
    const __m256i qe = requantize(even, k), qo = requantize(odd, k);
    /* Outputs [0-3 | 8-11] and [4-7 | 12-15], packed to words [0-7 | 8-15]. */
    const __m256i words = _mm256_packs_epi32(_mm256_unpacklo_epi32(qe, qo), _mm256_unpackhi_epi32(qe, qo));
    _mm_storeu_si128((__m128i *)(out + f),
                     to_bytes(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1), k));
  }
}

/* Stride 2: one output row of out_w from the three band rows at `rows`. */
static void row_s2(const channel *k, const uint16_t *rows, size_t width, size_t out_w, uint8_t *y) {
  for (size_t ox = 0; ox < out_w; ox += S2_BLOCK) {
    __m256i acc = k->bias;
    for (int i = 0; i < 3; ++i) {
      const uint16_t *taps = rows + i * width + 2 * ox;
      acc = madd(acc, load(taps), k->w[i][0]);
      acc = madd(acc, load(taps + 2), k->w[i][1]);
    }
    const __m256i q = requantize(acc, k);
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m128i bytes = to_bytes(words, words, k);
    if (out_w - ox >= S2_BLOCK) {
      _mm_storel_epi64((__m128i *)(y + ox), bytes);
    } else {
      uint8_t tail[16];
      _mm_storeu_si128((__m128i *)tail, bytes);
      memcpy(y + ox, tail, out_w - ox);
    }
  }
}

/* dw_row_fn: zero points in whole vectors, then the widened bytes over them. */
static void fill_row(uint16_t *dst, size_t width, uint16_t zero_point, const uint8_t *src,
                     size_t left, size_t count) {
  const __m256i background = _mm256_set1_epi16((short)zero_point);
  for (size_t k = 0; k < width; k += 16) _mm256_storeu_si256((__m256i *)(dst + k), background);
  size_t k = 0;
  for (; k + 16 <= count; k += 16)
    _mm256_storeu_si256((__m256i *)(dst + left + k), _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(src + k))));
  for (; k < count; ++k) dst[left + k] = src[k];
}

DW_DEFINE_DWCONV(avx2, dw_copy_rows)

PNN_TARGET_END()

#endif /* x86-64 */
