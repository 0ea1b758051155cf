/* Scalar reference of the u8 x u8 matrix product (contract in pnn_kernels_s8.h): the
 * centred products summed in int32, then the one rounding rule of pnn_requantize. */
#include "pnn_kernels.h"

static size_t scalar_scratch_size(size_t M, size_t N, size_t K) {
  (void)M;
  (void)N;
  (void)K;
  return 0;
}

static void scalar_run(size_t M, size_t N, size_t K, const uint8_t *A, size_t lda, uint8_t a_zero_point,
                       const uint8_t *B, size_t ldb, uint8_t b_zero_point, const pnn_requant *rq, uint8_t *Y,
                       size_t ldy, void *scratch) {
  (void)scratch;
  for (size_t m = 0; m < M; ++m) {
    for (size_t n = 0; n < N; ++n) {
      int32_t acc = 0;
      for (size_t k = 0; k < K; ++k) {
        acc += ((int32_t)A[m * lda + k] - a_zero_point) * ((int32_t)B[k * ldb + n] - b_zero_point);
      }
      Y[m * ldy + n] = (uint8_t)pnn_requantize(acc, rq->multiplier[0], rq->shift[0], rq->zero_point, rq->lo, rq->hi);
    }
  }
}

const pnn_u8_matmul_kernel pnn_u8_matmul_scalar = {"scalar", scalar_scratch_size, scalar_run};
