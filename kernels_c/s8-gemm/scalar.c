/* s8 and s4 GEMM, plain C references (the ground truth for the SIMD variants; contract
 * in pnn_kernels_s8.h). The packed form is W itself, row-major M x K (s4: two weights
 * per byte), and row_block is 1.
 * Sums are formed in int64 so a caller outside the contract gets a wrong answer
 * rather than undefined behaviour; within it (|acc| < 2^31) they equal the int32
 * accumulators of the SIMD variants. */
#include <string.h>

#include "pack.h"
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

/* s4: W row-major at 4 bits (pack.h's s4 form with rows = group = lanes = 1): each row
 * takes (K + 1) / 2 bytes, weight k in the low nibble of byte k / 2 when k is even. */
static size_t s4_row_bytes(size_t K) { return (K + 1) / 2; }

static size_t scalar_s4_pack_size(size_t M, size_t K) { return M * s4_row_bytes(K); }

static void scalar_s4_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  pnn_s4_pack_blocks(M, K, W, 1, 1, 2 * s4_row_bytes(K), 1, (uint8_t *)packed);
}

/* The signed value of a nibble (two's complement). */
static int32_t s4_value(uint8_t nibble) { return nibble >= 8 ? (int32_t)nibble - 16 : nibble; }

static void scalar_s4_run(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end,
                          const void *packed, const uint8_t *X, size_t ldx, const int32_t *bias,
                          const pnn_requant *rq, uint8_t *Y, size_t ldy, void *scratch) {
  (void)M;
  (void)scratch;
  for (size_t m = m_begin; m < m_end; ++m) {
    const uint8_t *row = (const uint8_t *)packed + m * s4_row_bytes(K);
    for (size_t n = 0; n < N; ++n) {
      int64_t acc = bias[m];
      for (size_t k = 0; k < K; ++k)
        acc += s4_value((uint8_t)(row[k / 2] >> (4 * (k % 2)) & 0xF)) * (int32_t)X[k * ldx + n];
      Y[m * ldy + n] = (uint8_t)pnn_requantize(acc, rq->multiplier[m], rq->shift[m],
                                               rq->zero_point, rq->lo, rq->hi);
    }
  }
}

const pnn_s8_gemm_kernel pnn_s4_gemm_scalar = {
    "scalar", 1, scalar_s4_pack_size, scalar_s4_pack, scalar_scratch_size, scalar_s4_run,
};

void pnn_s8_fold_zero_point(size_t M, size_t K, const int8_t *W, int32_t x_zero_point,
                            int32_t *bias) {
  for (size_t m = 0; m < M; ++m) {
    int64_t row_sum = 0;
    for (size_t k = 0; k < K; ++k) row_sum += W[m * K + k];
    bias[m] = (int32_t)((int64_t)bias[m] - (int64_t)x_zero_point * row_sum);
  }
}
