/* u8 Add for AArch64 NEON (see pnn_kernels_s8.h and docs/QUANTIZATION.md), 8 bytes
 * per step, the tail through the scalar reference.
 *
 * Each branch is widened to int32, (x - z) * M formed in 64-bit lanes (smull, the
 * second branch accumulated with smlal), then srshl by -shift is exactly
 * (sum + 2^(shift-1)) >> shift for every shift in [1, 62], and the saturating narrows
 * (to int32, int16, then u8 after the zero point) clamp like the rule does, before the
 * final [lo, hi]. A broadcast b adds its constant product instead. */
#include "pnn_kernels.h"

#if defined(__aarch64__)

#include <arm_neon.h>

enum { BLOCK = 8 };

typedef struct add_consts {
  uint8x8_t a_zero_point, b_zero_point;
  int32x4_t a_multiplier, b_multiplier;
  int64x2_t b_constant; /* a broadcast b's product, else 0 */
  int64x2_t neg_shift;
  int16x8_t zero_point;
  uint8x8_t lo, hi;
} add_consts;

/* x - zero_point as int32 lanes 0-3 and 4-7 (the u16 difference read as s16). */
static inline void centered(uint8x8_t x, uint8x8_t zero_point, int32x4_t *low, int32x4_t *high) {
  const int16x8_t d = vreinterpretq_s16_u16(vsubl_u8(x, zero_point));
  *low = vmovl_s16(vget_low_s16(d));
  *high = vmovl_high_s16(d);
}

/* Four lanes of a * M_a (+ b * M_b) rounded, shifted and saturated to int32. */
static inline int32x4_t scale(int32x4_t a, const int32x4_t *b, const add_consts *k) {
  int64x2_t low = vmlal_s32(k->b_constant, vget_low_s32(a), vget_low_s32(k->a_multiplier));
  int64x2_t high = vmlal_high_s32(k->b_constant, a, k->a_multiplier);
  if (b) {
    low = vmlal_s32(low, vget_low_s32(*b), vget_low_s32(k->b_multiplier));
    high = vmlal_high_s32(high, *b, k->b_multiplier);
  }
  return vqmovn_high_s64(vqmovn_s64(vrshlq_s64(low, k->neg_shift)), vrshlq_s64(high, k->neg_shift));
}

void pnn_u8_add_neon(size_t n, const uint8_t *a, const uint8_t *b, size_t b_stride,
                     const pnn_u8_add_params *p, uint8_t *y) {
  const int broadcast = b_stride == 0;
  add_consts k;
  k.a_zero_point = vdup_n_u8((uint8_t)p->a_zero_point);
  k.b_zero_point = vdup_n_u8((uint8_t)p->b_zero_point);
  k.a_multiplier = vdupq_n_s32(p->a_multiplier);
  k.b_multiplier = vdupq_n_s32(p->b_multiplier);
  k.b_constant = vdupq_n_s64(broadcast && n ? (int64_t)(b[0] - p->b_zero_point) * p->b_multiplier : 0);
  k.neg_shift = vdupq_n_s64(-(int64_t)p->shift);
  k.zero_point = vdupq_n_s16((int16_t)p->zero_point);
  k.lo = vdup_n_u8((uint8_t)p->lo);
  k.hi = vdup_n_u8((uint8_t)p->hi);
  size_t i = 0;
  for (; i + BLOCK <= n; i += BLOCK) {
    int32x4_t a_low, a_high, b_low, b_high;
    centered(vld1_u8(a + i), k.a_zero_point, &a_low, &a_high);
    if (!broadcast) centered(vld1_u8(b + i), k.b_zero_point, &b_low, &b_high);
    const int16x8_t q = vqmovn_high_s32(vqmovn_s32(scale(a_low, broadcast ? NULL : &b_low, &k)),
                                        scale(a_high, broadcast ? NULL : &b_high, &k));
    const uint8x8_t bytes = vqmovun_s16(vqaddq_s16(q, k.zero_point));
    vst1_u8(y + i, vmin_u8(vmax_u8(bytes, k.lo), k.hi));
  }
  pnn_u8_add_scalar(n - i, a + i, b + i * b_stride, b_stride, p, y + i);
}

#endif /* __aarch64__ */
