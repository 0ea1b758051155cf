/* f32 GEMM on packed B panels (A in place, in row panels, or in channel panels), plain
 * C references (the ground truth for the SIMD variants; see pnn_kernels_nn.h). */
#include "pnn_kernels.h"

void pnn_f32_gemm_pb_scalar(size_t M, size_t N, size_t K, const float *A, size_t lda,
                            const float *Bp, float *C, size_t ldc, const float *row_bias,
                            pnn_activation act) {
  const size_t nr = PNN_GEMM_PB_NR;
  for (size_t m = 0; m < M; ++m) {
    const float *a_row = A + m * lda;
    const float rb = row_bias ? row_bias[m] : 0.0f;
    for (size_t n0 = 0; n0 < N; n0 += nr) {
      const size_t width = N - n0 < nr ? N - n0 : nr;
      const float *panel = Bp + (n0 / nr) * K * nr;
      float acc[PNN_GEMM_PB_NR] = {0};
      for (size_t k = 0; k < K; ++k) {
        const float a = a_row[k];
        for (size_t n = 0; n < width; ++n) acc[n] += a * panel[k * nr + n];
      }
      for (size_t n = 0; n < width; ++n) C[m * ldc + n0 + n] = pnn_activate(acc[n] + rb, act);
    }
  }
}

void pnn_f32_gemm_pb_pack(size_t K, size_t N, const float *B, size_t ldb, float *Bp) {
  const size_t nr = PNN_GEMM_PB_NR;
  for (size_t n0 = 0; n0 < N; n0 += nr)
    for (size_t k = 0; k < K; ++k)
      for (size_t j = 0; j < nr; ++j)
        Bp[n0 * K + k * nr + j] = n0 + j < N ? B[k * ldb + n0 + j] : 0.0f;
}

void pnn_f32_gemm_pa_pack(size_t M, size_t K, const float *A, size_t lda, float *Ap) {
  const size_t mr = PNN_GEMM_PA_MR;
  for (size_t m0 = 0; m0 < M; m0 += mr)
    for (size_t k = 0; k < K; ++k)
      for (size_t i = 0; i < mr; ++i)
        Ap[m0 * K + k * mr + i] = m0 + i < M ? A[(m0 + i) * lda + k] : 0.0f;
}

void pnn_f32_gemm_pp_scalar(size_t M, size_t N, size_t K, const float *Ap, const float *Bp,
                            float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  const size_t nr = PNN_GEMM_PB_NR, mr = PNN_GEMM_PA_MR;
  for (size_t m = 0; m < M; ++m) {
    const float *a = Ap + (m / mr) * mr * K + m % mr; /* a[k * mr] */
    const float rb = row_bias ? row_bias[m] : 0.0f;
    for (size_t n0 = 0; n0 < N; n0 += nr) {
      const size_t width = N - n0 < nr ? N - n0 : nr;
      const float *panel = Bp + (n0 / nr) * K * nr;
      float acc[PNN_GEMM_PB_NR] = {0};
      for (size_t k = 0; k < K; ++k) {
        const float av = a[k * mr];
        for (size_t n = 0; n < width; ++n) acc[n] += av * panel[k * nr + n];
      }
      for (size_t n = 0; n < width; ++n) C[m * ldc + n0 + n] = pnn_activate(acc[n] + rb, act);
    }
  }
}

void pnn_f32_gemm_pt_pack(size_t M, size_t K, const float *A, size_t lda, float *At) {
  const size_t nr = PNN_GEMM_PB_NR;
  for (size_t m0 = 0; m0 < M; m0 += nr)
    for (size_t k = 0; k < K; ++k)
      for (size_t j = 0; j < nr; ++j)
        At[m0 * K + k * nr + j] = m0 + j < M ? A[(m0 + j) * lda + k] : 0.0f;
}

/* Both channel-lane references: B's column n at B + (n / NR) * panel_step + n % NR, its
 * rows ldb apart (packed panels: K * NR and NR; rows in place: NR and the row stride). */
static void gemm_pt_reference(size_t M, size_t N, size_t K, const float *At, const float *B, size_t panel_step,
                              size_t ldb, float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  const size_t nr = PNN_GEMM_PB_NR;
  for (size_t m = 0; m < M; ++m) {
    const float *a = At + (m / nr) * nr * K + m % nr; /* a[k * nr] */
    const float rb = row_bias ? row_bias[m] : 0.0f;
    for (size_t n = 0; n < N; ++n) {
      const float *b = B + (n / nr) * panel_step + n % nr; /* b[k * ldb] */
      float acc = 0.0f;
      for (size_t k = 0; k < K; ++k) acc += a[k * nr] * b[k * ldb];
      C[m * ldc + n] = pnn_activate(acc + rb, act);
    }
  }
}

void pnn_f32_gemm_pt_scalar(size_t M, size_t N, size_t K, const float *At, const float *Bp,
                            float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  gemm_pt_reference(M, N, K, At, Bp, K * PNN_GEMM_PB_NR, PNN_GEMM_PB_NR, C, ldc, row_bias, act);
}

void pnn_f32_gemm_pt_rows_scalar(size_t M, size_t N, size_t K, const float *At, const float *B, size_t ldb,
                                 float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  gemm_pt_reference(M, N, K, At, B, PNN_GEMM_PB_NR, ldb, C, ldc, row_bias, act);
}
