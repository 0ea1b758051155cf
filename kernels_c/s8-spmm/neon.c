/* u8 x s8 group-sparse product for AArch64 NEON (contract in pnn_kernels_sparse.h).
 *
 * Pixels run across lanes (x is channel-major). Each nonzero's x row (16 pixels) is
 * widened to u16 once (vmovl: values <= 255 are also valid s16) and multiplied by each
 * output row's weight (one s16 lane of a widened weight vector) with widening
 * multiply-accumulates into int32: 1 load, 2 widenings and 4 vmlal per output row per
 * nonzero, for 16 pixels. Up to 4 rows share the widening (G = 8 runs as two passes of
 * 4 rows): 16 accumulators.
 *
 * Tiles of 16 pixels, all groups per tile so the tile's x rows stay in L1; a pixel
 * tail narrower than 16 runs the scalar reference. Requantization: vmull_s32 gives the
 * exact 64-bit products and vrshlq_s64 by -S is exactly (v + 2^(S-1)) >> S (the
 * rounding add is done in wider precision); the saturating narrows to int32 and the
 * saturating add of the zero point are monotonic, and [lo, hi] lies inside their
 * range, so the clamp on 32-bit lanes gives pnn_requantize's result. */
#include "pnn_kernels.h"

#if defined(__aarch64__)

#include <arm_neon.h>
#include <string.h>

#include "pnn_inline.h"

enum { TILE = 16, MAX_R = 4 };

#define PNN_U8_SPMM_ENTRY pnn_u8_spmm_neon
#include "spmm_driver.h"

/* Weights of rows [r0, r0 + R) for one nonzero (v = values + j * G), widened to s16 in
 * lanes 0..R-1. */
static PNN_ALWAYS_INLINE int16x8_t row_weights(const int8_t *v, size_t R, size_t r0) {
  uint64_t bytes = 0;
  memcpy(&bytes, v + r0, R);
  return vmovl_s8(vcreate_s8(bytes));
}

/* pnn_requantize on 4 int32 lanes of one row; results in [lo, hi]. */
static PNN_ALWAYS_INLINE int32x4_t requant4(int32x4_t acc, int32x2_t multiplier,
                                            int64x2_t right_shift, int32x4_t lo, int32x4_t hi,
                                            int32x4_t zero_point) {
  const int64x2_t low = vrshlq_s64(vmull_s32(vget_low_s32(acc), multiplier), right_shift);
  const int64x2_t high = vrshlq_s64(vmull_high_s32(acc, vcombine_s32(multiplier, multiplier)),
                                    right_shift);
  const int32x4_t q = vqaddq_s32(vcombine_s32(vqmovn_s64(low), vqmovn_s64(high)), zero_point);
  return vminq_s32(vmaxq_s32(q, lo), hi);
}

/* Rows [m0, m0 + valid) (valid <= R; rows r0.. of their group, G per group) of the
 * 16-pixel tile at p0; the group's nnz nonzeros start at idx and val. R is a constant
 * at every call site, so the accumulators unroll into registers. */
static PNN_ALWAYS_INLINE void tile_rows(const uint32_t *idx, const int8_t *val, size_t nnz,
                                        size_t G, size_t R, size_t r0, size_t m0, size_t valid,
                                        size_t p0, const spmm_args *a) {
  int32x4_t acc[MAX_R][4];
#pragma GCC unroll 4
  for (size_t r = 0; r < MAX_R; ++r) {
    if (r < R) {
      const int32x4_t b = vdupq_n_s32(a->bias && r < valid ? a->bias[m0 + r] : 0);
      acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = b;
    }
  }
  const uint8_t *x = a->x + p0;
  const size_t xs = a->x_stride;
  for (size_t j = 0; j < nnz; ++j) {
    const uint8x16_t in = vld1q_u8(x + idx[j] * xs);
    const int16x8_t lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(in)));
    const int16x8_t hi = vreinterpretq_s16_u16(vmovl_high_u8(in));
    const int16x8_t w = row_weights(val + j * G, R, r0);
#define PNN_ROW(r)                                                               \
  if ((r) < R) {                                                                 \
    acc[r][0] = vmlal_laneq_s16(acc[r][0], vget_low_s16(lo), w, (r));            \
    acc[r][1] = vmlal_high_laneq_s16(acc[r][1], lo, w, (r));                     \
    acc[r][2] = vmlal_laneq_s16(acc[r][2], vget_low_s16(hi), w, (r));            \
    acc[r][3] = vmlal_high_laneq_s16(acc[r][3], hi, w, (r));                     \
  }
    PNN_ROW(0)
    PNN_ROW(1)
    PNN_ROW(2)
    PNN_ROW(3)
#undef PNN_ROW
  }
  const pnn_requant *rq = a->rq;
  const int32x4_t lo = vdupq_n_s32(rq->lo), hi = vdupq_n_s32(rq->hi);
  const int32x4_t zero_point = vdupq_n_s32(rq->zero_point);
#pragma GCC unroll 4
  for (size_t r = 0; r < MAX_R; ++r) {
    if (r < R && r < valid) {
      const size_t m = m0 + r;
      const int32x2_t multiplier = vdup_n_s32(rq->multiplier[m]);
      const int64x2_t right_shift = vdupq_n_s64(-(int64_t)rq->shift[m]);
      int16x8_t words[2];
#pragma GCC unroll 2
      for (size_t h = 0; h < 2; ++h) {
        words[h] = vcombine_s16(
            vqmovn_s32(requant4(acc[r][2 * h], multiplier, right_shift, lo, hi, zero_point)),
            vqmovn_s32(requant4(acc[r][2 * h + 1], multiplier, right_shift, lo, hi, zero_point)));
      }
      vst1q_u8(a->y + m * a->y_stride + p0,
               vcombine_u8(vqmovun_s16(words[0]), vqmovun_s16(words[1])));
    }
  }
}


#endif /* __aarch64__ */
