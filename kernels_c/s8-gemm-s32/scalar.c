/* u8 x s8 GEMM with raw int32 output, plain C reference (the ground truth for the SIMD
 * variants; contract in pnn_kernels_s8.h). The packed form is W itself, row-major M x K,
 * and row_block is 1. Sums are formed in int64 and wrap to int32 like the SIMD lanes
 * (within the contract, K * 255 * 128 < 2^31, they never do). */
#include <string.h>

#include "pnn_kernels.h"

static size_t scalar_pack_size(size_t M, size_t K) { return M * K; }

static void scalar_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  if (M > 0 && K > 0) memcpy(packed, W, M * K);
}

static size_t scalar_scratch_size(size_t N, size_t K) {
  (void)N;
  (void)K;
  return 0;
}

static void scalar_run(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end, const void *packed,
                       const uint8_t *X, size_t ldx, int32_t *Y, size_t ldy, void *scratch) {
  (void)M;
  (void)scratch;
  const int8_t *W = (const int8_t *)packed;
  for (size_t m = m_begin; m < m_end; ++m) {
    for (size_t n = 0; n < N; ++n) {
      int64_t acc = 0;
      for (size_t k = 0; k < K; ++k) acc += (int32_t)W[m * K + k] * (int32_t)X[k * ldx + n];
      Y[m * ldy + n] = (int32_t)acc;
    }
  }
}

const pnn_s8_gemm_s32_kernel pnn_s8_gemm_s32_scalar = {
    "scalar", 1, scalar_pack_size, scalar_pack, scalar_scratch_size, scalar_run,
};
