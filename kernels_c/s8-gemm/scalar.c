/* s8 GEMM, plain C reference (the ground truth for the SIMD variants; contract in
 * pnn_kernels_s8.h). The packed form is W itself, row-major M x K, and row_block is 1.
 * Sums are formed in int64 so a caller outside the contract gets a wrong answer
 * rather than undefined behaviour; within it (|acc| < 2^31) they equal the int32
 * accumulators of the SIMD variants. */
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

static void scalar_run(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end,
                       const void *packed, const uint8_t *X, size_t ldx, const int32_t *bias,
                       const pnn_requant *rq, uint8_t *Y, size_t ldy, void *scratch) {
  (void)M;
  (void)scratch;
  const int8_t *W = (const int8_t *)packed;
  for (size_t m = m_begin; m < m_end; ++m) {
    for (size_t n = 0; n < N; ++n) {
      int64_t acc = bias[m];
      for (size_t k = 0; k < K; ++k) acc += (int32_t)W[m * K + k] * (int32_t)X[k * ldx + n];
      Y[m * ldy + n] = (uint8_t)pnn_requantize(acc, rq->multiplier[m], rq->shift[m],
                                               rq->zero_point, rq->lo, rq->hi);
    }
  }
}

const pnn_s8_gemm_kernel pnn_s8_gemm_scalar = {
    "scalar", 1, scalar_pack_size, scalar_pack, scalar_scratch_size, scalar_run,
};

void pnn_s8_fold_zero_point(size_t M, size_t K, const int8_t *W, int32_t x_zero_point,
                            int32_t *bias) {
  for (size_t m = 0; m < M; ++m) {
    int64_t row_sum = 0;
    for (size_t k = 0; k < K; ++k) row_sum += W[m * K + k];
    bias[m] = (int32_t)((int64_t)bias[m] - (int64_t)x_zero_point * row_sum);
  }
}
