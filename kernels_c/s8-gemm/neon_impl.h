/* Helpers shared by the AArch64 s8 GEMM variants (neon.c, neondot.c): loads of X rows
 * that stop at N, and the requantization of pnn_requantize on 4 int32 lanes.
 *
 * Requantization: vmull_s32 forms the exact 64-bit products, and vrshlq_s64 by -S is
 * exactly the rule's (v + 2^(S-1)) >> S (SRSHL adds the rounding constant in wider
 * precision and shifts arithmetically). The saturating narrow to int32 cannot change
 * the clamped result ([lo - z, hi - z] lies inside int32 and saturation is monotonic),
 * so the clamp and the zero point run on 32-bit lanes. */
#ifndef PNN_S8_GEMM_NEON_IMPL_H
#define PNN_S8_GEMM_NEON_IMPL_H

#include <arm_neon.h>
#include <string.h>

#include "pnn_kernels.h"

#include "pnn_inline.h"

/* 8 pixels of one X row, zero past `valid` (fewer than 8 only in the last tile). */
static inline uint8x8_t pnn_s8_load_pixels8(const uint8_t *row, size_t valid) {
  if (valid >= 8) return vld1_u8(row);
  uint8_t buf[8] = {0};
  memcpy(buf, row, valid);
  return vld1_u8(buf);
}

/* s8 weights of 16 bytes of s4 nibbles (pack.h): the low nibbles (moved up, then
 * shifted back arithmetically to sign-extend), then the high ones. */
static PNN_ALWAYS_INLINE int8x16_t pnn_s4_low_nibbles(int8x16_t v) {
  return vshrq_n_s8(vshlq_n_s8(v, 4), 4);
}
static PNN_ALWAYS_INLINE int8x16_t pnn_s4_high_nibbles(int8x16_t v) { return vshrq_n_s8(v, 4); }

typedef struct pnn_s8_neon_clamp {
  int32x4_t lo, hi;   /* lo - zero_point, hi - zero_point */
  int32x4_t zero_point;
} pnn_s8_neon_clamp;

static inline pnn_s8_neon_clamp pnn_s8_neon_clamp_make(const pnn_requant *rq) {
  pnn_s8_neon_clamp c;
  c.lo = vdupq_n_s32(rq->lo - rq->zero_point);
  c.hi = vdupq_n_s32(rq->hi - rq->zero_point);
  c.zero_point = vdupq_n_s32(rq->zero_point);
  return c;
}

/* Outputs (int32 in [lo, hi]) of 4 accumulators with per-lane multipliers and shifts. */
static PNN_ALWAYS_INLINE int32x4_t pnn_s8_requant4(int32x4_t acc, int32x4_t mult,
                                                   int32x4_t shift,
                                                   const pnn_s8_neon_clamp *c) {
  const int32x4_t right = vnegq_s32(shift);
  const int64x2_t lo = vrshlq_s64(vmull_s32(vget_low_s32(acc), vget_low_s32(mult)),
                                  vmovl_s32(vget_low_s32(right)));
  const int64x2_t hi = vrshlq_s64(vmull_high_s32(acc, mult), vmovl_high_s32(right));
  const int32x4_t narrow = vcombine_s32(vqmovn_s64(lo), vqmovn_s64(hi));
  return vaddq_s32(vminq_s32(vmaxq_s32(narrow, c->lo), c->hi), c->zero_point);
}

/* The low bytes of 8 outputs (values already in 0..255). */
static PNN_ALWAYS_INLINE uint8x8_t pnn_s8_narrow8(int32x4_t a, int32x4_t b) {
  return vmovn_u16(vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(a)),
                                vmovn_u32(vreinterpretq_u32_s32(b))));
}

/* Stores the first `count` (1..8) of 8 outputs. */
static PNN_ALWAYS_INLINE void pnn_s8_store8(uint8_t *y, uint8x8_t v, size_t count) {
  if (count >= 8) {
    vst1_u8(y, v);
  } else {
    uint8_t buf[8];
    vst1_u8(buf, v);
    memcpy(y, buf, count);
  }
}

/* Requantizes rows [0, rows) of a GEMV group (sums[i] + bias[m0 + i]) 4 rows at a time
 * and writes them down the single output column (stride ldy). sums may wrap past int32
 * before the bias is added (lanes add modulo 2^32); the total is within the contract. */
static inline void pnn_s8_gemv_store(size_t rows, const int32_t *sums, const int32_t *bias,
                                     const pnn_requant *rq, size_t m0, uint8_t *Y, size_t ldy) {
  const pnn_s8_neon_clamp clamp = pnn_s8_neon_clamp_make(rq);
  for (size_t i = 0; i < rows; i += 4) {
    const size_t count = rows - i < 4 ? rows - i : 4;
    int32_t lane_bias[4] = {0, 0, 0, 0}, lane_mult[4] = {0, 0, 0, 0}, lane_shift[4] = {1, 1, 1, 1};
    memcpy(lane_bias, bias + m0 + i, count * sizeof(int32_t));
    memcpy(lane_mult, rq->multiplier + m0 + i, count * sizeof(int32_t));
    memcpy(lane_shift, rq->shift + m0 + i, count * sizeof(int32_t));
    const int32x4_t acc = vaddq_s32(vld1q_s32(sums + i), vld1q_s32(lane_bias));
    const int32x4_t y = pnn_s8_requant4(acc, vld1q_s32(lane_mult), vld1q_s32(lane_shift), &clamp);
    uint8_t out[8];
    vst1_u8(out, pnn_s8_narrow8(y, y));
    for (size_t r = 0; r < count; ++r) Y[(m0 + i + r) * ldy] = out[r];
  }
}

#endif /* PNN_S8_GEMM_NEON_IMPL_H */
