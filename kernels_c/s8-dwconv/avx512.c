/* u8 depthwise convolution for AVX-512 F + BW (see pnn_kernels_s8.h and the band plan
 * in dwconv_impl.h). 3x3, stride 1 or 2: 32 (stride 1) or 16 (stride 2) outputs per
 * step; other shapes run the scalar reference.
 *
 * Products: the band holds u16 inputs, so one 32-bit lane of an unaligned load is a
 * pair of adjacent taps and vpmaddwd against a broadcast weight pair gives two
 * products summed in int32 (255 * 127 * 2 fits easily).
 *  - stride 1: lane k of the loads at +0 and +2 holds x[2k], x[2k+1] and x[2k+2],
 *    x[2k+3]. The even output 2k takes (w0, w1) and (w2, 0), the odd output 2k+1
 *    takes (0, w0) and (w1, w2): two loads and four vpmaddwd per kernel row give 16
 *    even and 16 odd outputs, re-interleaved at the store.
 *  - stride 2: lane k of the loads at +2 ox and +2 ox + 2 holds the taps of output k
 *    directly, with weight pairs (w0, w1) and (w2, 0).
 * Requantization: acc clamped to the channel's pnn_requant_acc_bound, 64-bit products of the
 * even and odd lanes, rounding and arithmetic shift (vpsraq), low halves merged,
 * zero point and clamp in int32. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx2,fma")

#include <immintrin.h>

#include "dwconv_impl.h"
#include "pnn_inline.h"

enum {
  S1_BLOCK = 32, /* stride-1 outputs per step: 16 even + 16 odd */
  S2_BLOCK = 16  /* stride-2 outputs per step */
};

typedef struct channel {
  __m512i w[3][4]; /* dw_weight_pairs, broadcast */
  __m512i bias, bound, neg_bound, multiplier, rounding, zero_point, lo, hi;
  __m128i shift;
} channel;

static void channel_init(channel *k, const int8_t *w, int32_t bias, int32_t multiplier,
                         int32_t shift, const pnn_requant *rq) {
  int32_t pairs[3][4];
  dw_weight_pairs(w, pairs);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) k->w[i][j] = _mm512_set1_epi32(pairs[i][j]);
  const int32_t bound = pnn_requant_acc_bound(multiplier, shift);
  k->bias = _mm512_set1_epi32(bias);
  k->bound = _mm512_set1_epi32(bound);
  k->neg_bound = _mm512_set1_epi32(-bound);
  k->multiplier = _mm512_set1_epi64(multiplier);
  k->rounding = _mm512_set1_epi64((long long)1 << (shift - 1));
  k->shift = _mm_cvtsi32_si128(shift);
  k->zero_point = _mm512_set1_epi32(rq->zero_point);
  k->lo = _mm512_set1_epi32(rq->lo);
  k->hi = _mm512_set1_epi32(rq->hi);
}

/* 16 accumulators -> outputs in [lo, hi] as int32 (see pnn_requant_acc_bound). */
static PNN_ALWAYS_INLINE __m512i requantize(__m512i acc, const channel *k) {
  const __m512i low_halves = _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
  acc = _mm512_min_epi32(_mm512_max_epi32(acc, k->neg_bound), k->bound);
  __m512i even = _mm512_mul_epi32(acc, k->multiplier);
  __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), k->multiplier);
  even = _mm512_sra_epi64(_mm512_add_epi64(even, k->rounding), k->shift);
  odd = _mm512_sra_epi64(_mm512_add_epi64(odd, k->rounding), k->shift);
  const __m512i q = _mm512_add_epi32(_mm512_permutex2var_epi32(even, low_halves, odd), k->zero_point);
  return _mm512_min_epi32(_mm512_max_epi32(q, k->lo), k->hi);
}

static PNN_ALWAYS_INLINE __m512i madd(__m512i acc, __m512i taps, __m512i weight_pair) {
  return _mm512_add_epi32(acc, _mm512_madd_epi16(taps, weight_pair));
}

/* One kernel row of the stride-1 step at `taps`. */
static PNN_ALWAYS_INLINE void row_s1(__m512i *even, __m512i *odd, const uint16_t *taps,
                                    const __m512i w[4]) {
  const __m512i first = _mm512_loadu_si512(taps), second = _mm512_loadu_si512(taps + 2);
  *even = madd(madd(*even, first, w[0]), second, w[1]);
  *odd = madd(madd(*odd, first, w[2]), second, w[3]);
}

/* Stride 1: flat outputs [0, n) of the band (rows of plan width) into out. */
static void band_s1(const channel *k, const uint16_t *band, size_t width, size_t n, uint8_t *out) {
  for (size_t f = 0; f < n; f += S1_BLOCK) {
    __m512i even = k->bias, odd = k->bias;
    row_s1(&even, &odd, band + f, k->w[0]);
    row_s1(&even, &odd, band + f + width, k->w[1]);
    row_s1(&even, &odd, band + f + 2 * width, k->w[2]);
    /* Output 2k in the low and 2k+1 in the high half of lane k, then one byte each. */
    const __m512i pairs = _mm512_or_si512(requantize(even, k),
                                          _mm512_slli_epi32(requantize(odd, k), 16));
    _mm256_storeu_si256((__m256i *)(out + f), _mm512_cvtepi16_epi8(pairs));
  }
}

/* Stride 2: one output row of out_w from the three band rows at `rows`. */
static void row_s2(const channel *k, const uint16_t *rows, size_t width, size_t out_w, uint8_t *y) {
  for (size_t ox = 0; ox < out_w; ox += S2_BLOCK) {
    __m512i acc = k->bias;
    for (int i = 0; i < 3; ++i) {
      const uint16_t *taps = rows + i * width + 2 * ox;
      acc = madd(acc, _mm512_loadu_si512(taps), k->w[i][0]);
      acc = madd(acc, _mm512_loadu_si512(taps + 2), k->w[i][1]);
    }
    const size_t count = out_w - ox < S2_BLOCK ? out_w - ox : S2_BLOCK;
    _mm_mask_storeu_epi8(y + ox, (__mmask16)((1u << count) - 1u),
                         _mm512_cvtepi32_epi8(requantize(acc, k)));
  }
}

static __mmask32 mask32(size_t count) {
  return (__mmask32)(count >= 32 ? ~0u : (1u << count) - 1u);
}

/* dw_row_fn: zero points in whole vectors, then the widened bytes over them. */
static void fill_row(uint16_t *dst, size_t width, uint16_t zero_point, const uint8_t *src,
                     size_t left, size_t count) {
  const __m512i background = _mm512_set1_epi16((short)zero_point);
  for (size_t k = 0; k < width; k += 32) _mm512_storeu_si512(dst + k, background);
  for (size_t k = 0; k < count; k += 32) {
    const __mmask32 mask = mask32(count - k);
    _mm512_mask_storeu_epi16(dst + left + k, mask, _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(mask, src + k)));
  }
}

/* Stride 1: the out_w real outputs of each band row of `flat` into y. */
static void copy_rows(const uint8_t *flat, size_t width, size_t rows, size_t out_w, uint8_t *y) {
  for (size_t r = 0; r < rows; ++r)
    for (size_t k = 0; k < out_w; k += 32) {
      const __mmask32 mask = mask32(out_w - k);
      _mm256_mask_storeu_epi8(y + r * out_w + k, mask, _mm256_maskz_loadu_epi8(mask, flat + r * width + k));
    }
}

DW_DEFINE_DWCONV(avx512, copy_rows)

PNN_TARGET_END()

#endif /* x86-64 */
