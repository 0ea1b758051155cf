/* f32 GEMM on a packed B panel for AVX2 + FMA (contract in pnn_kernels_nn.h; loops in
 * pb_driver.h).
 *
 * Micro-tiles of up to 6 rows x 16 columns (half a 32-column panel): 12 accumulators +
 * 2 B vectors + 1 broadcast of the 16 ymm registers. A's 14-row panels run as strips of
 * 5 + 5 + 4 rows (6 + 6 + 2 would leave a strip of 4 independent accumulators, too few to
 * cover the FMA latency). */
#include "pnn_kernels.h"

#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#define PNN_X86_ACT_AVX2
#include "pnn_x86_act.h"

typedef __m256 pb_vec;
typedef __m256i pb_mask;
enum { PB_LANES = 8 };
#define PB_MR 6
/* Strip by strip up to 8 panels (every conv task's column chunk) when A's block is too
 * large for L2: with 16-column groups A would stream from L3 past each group twice as
 * often as on AVX-512; strip-major measured 9-11% faster on MobileNet V1's 14x14 1x1
 * shapes (512 x 256 and 512 x 512 weights, Zen 4). Where A stays in L2 the column
 * group's block in L1 streams fewer bytes (MobileNet V2's 14x14 layers: keep that). */
#define PB_STRIP_COLUMNS (8 * PNN_GEMM_PB_NR)

static PNN_ALWAYS_INLINE pb_mask pb_tail_mask(size_t n) { return pnn_mask8(n); }
static PNN_ALWAYS_INLINE pb_vec pb_zero(void) { return _mm256_setzero_ps(); }
static PNN_ALWAYS_INLINE pb_vec pb_set1(float x) { return _mm256_set1_ps(x); }
static PNN_ALWAYS_INLINE pb_vec pb_load(const float *p) { return _mm256_load_ps(p); }
static PNN_ALWAYS_INLINE pb_vec pb_loadu(const float *p) { return _mm256_loadu_ps(p); }
static PNN_ALWAYS_INLINE pb_vec pb_bcast(const float *p) { return _mm256_broadcast_ss(p); }
static PNN_ALWAYS_INLINE pb_vec pb_fma(pb_vec a, pb_vec b, pb_vec c) { return _mm256_fmadd_ps(a, b, c); }
static PNN_ALWAYS_INLINE pb_vec pb_add(pb_vec a, pb_vec b) { return _mm256_add_ps(a, b); }
static PNN_ALWAYS_INLINE void pb_store(float *p, pb_vec v) { _mm256_storeu_ps(p, v); }
static PNN_ALWAYS_INLINE pb_vec pb_load_tail(pb_mask m, const float *p) { return _mm256_maskload_ps(p, m); }
static PNN_ALWAYS_INLINE void pb_store_tail(float *p, pb_mask m, pb_vec v) { _mm256_maskstore_ps(p, m, v); }
static PNN_ALWAYS_INLINE pb_vec pb_act(pb_vec v, int kind, pb_vec alpha, pb_vec beta) {
  return pnn_act256(v, kind, alpha, beta);
}

static size_t pb_strip_rows(int packed, size_t in_panel, size_t left) {
  if (packed) {
    /* 14-row panels: 5 + 5 + 4. */
    const size_t rows = in_panel < 10 ? 5 : 4;
    return left < rows ? left : rows;
  }
  return left < PB_MR ? left : PB_MR;
}

#include "pb_driver.h"

void pnn_f32_gemm_pb_avx2(size_t M, size_t N, size_t K, const float *A, size_t lda,
                          const float *Bp, float *C, size_t ldc, const float *row_bias,
                          pnn_activation act) {
  gemm_pb(0, M, N, K, A, lda, Bp, C, ldc, row_bias, act);
}

void pnn_f32_gemm_pp_avx2(size_t M, size_t N, size_t K, const float *Ap, const float *Bp,
                          float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  gemm_pb(1, M, N, K, Ap, 0, Bp, C, ldc, row_bias, act);
}

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* __x86_64__ */
