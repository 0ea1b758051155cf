/* u8 vector x s8 matrix with int32 output, plain C reference (the ground truth for the
 * SIMD variants; contract in pnn_kernels_s8.h). The packed form is W itself, row-major
 * N x K. Sums are formed in int64 and wrap to int32 like the SIMD lanes (within the
 * contract they never do). */
#include <string.h>

#include "pnn_kernels.h"

static size_t scalar_pack_size(size_t N, size_t K) { return N * K; }

static void scalar_pack(size_t N, size_t K, const int8_t *W, void *packed) {
  if (N > 0 && K > 0) memcpy(packed, W, N * K);
}

static void scalar_run(size_t N, size_t K, const void *packed, size_t rows, const uint8_t *x, size_t ldx, int32_t *y,
                       size_t ldy) {
  const int8_t *W = (const int8_t *)packed;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t n = 0; n < N; ++n) {
      int64_t acc = 0;
      for (size_t k = 0; k < K; ++k) acc += (int32_t)W[n * K + k] * (int32_t)x[r * ldx + k];
      y[r * ldy + n] = (int32_t)(uint32_t)(uint64_t)acc;
    }
  }
}

const pnn_s8_gemv_kernel pnn_s8_gemv_scalar = {"scalar", scalar_pack_size, scalar_pack, scalar_run};
