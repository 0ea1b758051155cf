/* f32 GEMM, plain C reference (the ground truth for the SIMD variants). */
#include "pnn_kernels.h"

void pnn_f32_gemm_scalar(size_t M, size_t N, size_t K, const float *A, size_t lda,
                         const float *B, size_t ldb, float *C, size_t ldc,
                         const float *row_bias, const float *col_bias, pnn_activation act) {
  for (size_t m = 0; m < M; ++m) {
    float *c_row = C + m * ldc;
    const float *a_row = A + m * lda;
    const float rb = row_bias ? row_bias[m] : 0.0f;
    for (size_t n = 0; n < N; ++n) c_row[n] = 0.0f;
    /* k-outer over the row keeps B and C accesses unit-stride. */
    for (size_t k = 0; k < K; ++k) {
      const float a = a_row[k];
      const float *b_row = B + k * ldb;
      for (size_t n = 0; n < N; ++n) c_row[n] += a * b_row[n];
    }
    for (size_t n = 0; n < N; ++n) {
      float v = c_row[n] + rb;
      if (col_bias) v += col_bias[n];
      c_row[n] = pnn_activate(v, act);
    }
  }
}
