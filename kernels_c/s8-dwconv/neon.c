/* u8 depthwise convolution for AArch64 NEON (see pnn_kernels_s8.h and the band plan
 * in dwconv_impl.h). 3x3, stride 1 or 2: 8 outputs per step; other shapes run the
 * scalar reference.
 *
 * Products: smlal by a scalar weight on the u16 band (inputs 0..255 read as s16),
 * one tap at a time into two int32x4 accumulators; stride 2 de-interleaves the even
 * and odd taps with ld2. Requantization needs no accumulator bound here: smull forms
 * acc * M in 64 bits, srshl by -shift is exactly (v + 2^(shift-1)) >> shift, and the
 * saturating narrows (to int32, int16, then u8 after the zero point) clamp like the
 * rule does, before the final [lo, hi]. */
#include "pnn_kernels.h"

#if defined(__aarch64__)

#include <arm_neon.h>
#include <string.h>

#include "dwconv_impl.h"

enum { BLOCK = 8 };

typedef struct channel {
  int16_t w[9];
  int32x4_t bias, multiplier;
  int64x2_t neg_shift;
  int16x8_t zero_point;
  uint8x8_t lo, hi;
} channel;

static void channel_init(channel *k, const int8_t *w, int32_t bias, int32_t multiplier,
                         int32_t shift, const pnn_requant *rq) {
  for (int t = 0; t < 9; ++t) k->w[t] = w[t];
  k->bias = vdupq_n_s32(bias);
  k->multiplier = vdupq_n_s32(multiplier);
  k->neg_shift = vdupq_n_s64(-(int64_t)shift);
  k->zero_point = vdupq_n_s16((int16_t)rq->zero_point);
  k->lo = vdup_n_u8((uint8_t)rq->lo);
  k->hi = vdup_n_u8((uint8_t)rq->hi);
}

/* acc * M rounded and shifted, saturated to int32 (4 lanes). */
static inline int32x4_t scale(int32x4_t acc, const channel *k) {
  const int64x2_t low = vrshlq_s64(vmull_s32(vget_low_s32(acc), vget_low_s32(k->multiplier)), k->neg_shift);
  const int64x2_t high = vrshlq_s64(vmull_high_s32(acc, k->multiplier), k->neg_shift);
  return vqmovn_high_s64(vqmovn_s64(low), high);
}

static inline uint8x8_t requantize(int32x4_t acc_low, int32x4_t acc_high, const channel *k) {
  const int16x8_t q = vqmovn_high_s32(vqmovn_s32(scale(acc_low, k)), scale(acc_high, k));
  const uint8x8_t y = vqmovun_s16(vqaddq_s16(q, k->zero_point));
  return vmin_u8(vmax_u8(y, k->lo), k->hi);
}

static inline void mac(int32x4_t *low, int32x4_t *high, uint16x8_t taps, int16_t weight) {
  const int16x8_t x = vreinterpretq_s16_u16(taps);
  *low = vmlal_n_s16(*low, vget_low_s16(x), weight);
  *high = vmlal_high_n_s16(*high, x, weight);
}

/* Stride 1: flat outputs [0, n) of the band (rows of plan width) into out. */
static void band_s1(const channel *k, const uint16_t *band, size_t width, size_t n, uint8_t *out) {
  for (size_t f = 0; f < n; f += BLOCK) {
    int32x4_t low = k->bias, high = k->bias;
    for (size_t i = 0; i < 3; ++i) {
      const uint16_t *taps = band + f + i * width;
      mac(&low, &high, vld1q_u16(taps), k->w[3 * i]);
      mac(&low, &high, vld1q_u16(taps + 1), k->w[3 * i + 1]);
      mac(&low, &high, vld1q_u16(taps + 2), k->w[3 * i + 2]);
    }
    vst1_u8(out + f, requantize(low, high, k));
  }
}

/* Stride 2: one output row of out_w from the three band rows at `rows`. */
static void row_s2(const channel *k, const uint16_t *rows, size_t width, size_t out_w, uint8_t *y) {
  for (size_t ox = 0; ox < out_w; ox += BLOCK) {
    int32x4_t low = k->bias, high = k->bias;
    for (size_t i = 0; i < 3; ++i) {
      const uint16_t *taps = rows + i * width + 2 * ox;
      const uint16x8x2_t pairs = vld2q_u16(taps); /* taps 0, 1 of outputs ox .. ox+7 */
      mac(&low, &high, pairs.val[0], k->w[3 * i]);
      mac(&low, &high, pairs.val[1], k->w[3 * i + 1]);
      mac(&low, &high, vld2q_u16(taps + 2).val[0], k->w[3 * i + 2]);
    }
    const uint8x8_t bytes = requantize(low, high, k);
    if (out_w - ox >= BLOCK) {
      vst1_u8(y + ox, bytes);
    } else {
      uint8_t tail[BLOCK];
      vst1_u8(tail, bytes);
      memcpy(y + ox, tail, out_w - ox);
    }
  }
}

/* dw_row_fn: zero points in whole vectors, then the widened bytes over them. */
static void fill_row(uint16_t *dst, size_t width, uint16_t zero_point, const uint8_t *src,
                     size_t left, size_t count) {
  const uint16x8_t background = vdupq_n_u16(zero_point);
  for (size_t k = 0; k < width; k += 8) vst1q_u16(dst + k, background);
  size_t k = 0;
  for (; k + 16 <= count; k += 16) {
    const uint8x16_t bytes = vld1q_u8(src + k);
    vst1q_u16(dst + left + k, vmovl_u8(vget_low_u8(bytes)));
    vst1q_u16(dst + left + k + 8, vmovl_high_u8(bytes));
  }
  for (; k < count; ++k) dst[left + k] = src[k];
}

DW_DEFINE_DWCONV(neon, dw_copy_rows)

#endif /* __aarch64__ */
