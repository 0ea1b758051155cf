/* 2-D f32 transpose for NEON (contract in pnn_kernels_elementwise.h): 4 x 4 tiles by
 * vtrn and half swaps (transpose_driver.h walks the block). */
#include "pnn_kernels.h"

#if defined(__aarch64__)

#include <arm_neon.h>

#define PNN_TRANSPOSE_W 4

static void transpose_tile(const float *x, size_t ldx, float *y, size_t ldy) {
  const float32x4x2_t ab = vtrnq_f32(vld1q_f32(x), vld1q_f32(x + ldx));
  const float32x4x2_t cd = vtrnq_f32(vld1q_f32(x + 2 * ldx), vld1q_f32(x + 3 * ldx));
  vst1q_f32(y, vcombine_f32(vget_low_f32(ab.val[0]), vget_low_f32(cd.val[0])));
  vst1q_f32(y + ldy, vcombine_f32(vget_low_f32(ab.val[1]), vget_low_f32(cd.val[1])));
  vst1q_f32(y + 2 * ldy, vcombine_f32(vget_high_f32(ab.val[0]), vget_high_f32(cd.val[0])));
  vst1q_f32(y + 3 * ldy, vcombine_f32(vget_high_f32(ab.val[1]), vget_high_f32(cd.val[1])));
}

#include "transpose_driver.h"

void pnn_f32_transpose2d_neon(size_t rows, size_t cols, const float *x, size_t ldx, float *y, size_t ldy) {
  transpose2d(rows, cols, x, ldx, y, ldy);
}

#endif
