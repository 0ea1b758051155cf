/* Scalar reference of a 2-D f32 transpose, in square tiles so that both the reads
 * and the writes stay within a few cache lines. */
#include "pnn_kernels.h"

#define PNN_TRANSPOSE_TILE 16

void pnn_f32_transpose2d_scalar(size_t rows, size_t cols, const float *x, size_t ldx, float *y,
                                size_t ldy) {
  for (size_t r0 = 0; r0 < rows; r0 += PNN_TRANSPOSE_TILE) {
    size_t r1 = r0 + PNN_TRANSPOSE_TILE < rows ? r0 + PNN_TRANSPOSE_TILE : rows;
    for (size_t c0 = 0; c0 < cols; c0 += PNN_TRANSPOSE_TILE) {
      size_t c1 = c0 + PNN_TRANSPOSE_TILE < cols ? c0 + PNN_TRANSPOSE_TILE : cols;
      for (size_t r = r0; r < r1; ++r) {
        for (size_t c = c0; c < c1; ++c) y[c * ldy + r] = x[r * ldx + c];
      }
    }
  }
}
