/* 2-D f32 transpose for AVX2 (contract in pnn_kernels_elementwise.h): 8 x 8 tiles by
 * unpack, shuffle and 128-bit lane permutes (transpose_driver.h walks the block). */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#define PNN_TRANSPOSE_W 8

static void transpose_tile(const float *x, size_t ldx, float *y, size_t ldy) {
  __m256 r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(x + (size_t)i * ldx);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);     /* a0 b0 a1 b1 | a4 b4 a5 b5 */
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]); /* a2 b2 a3 b3 | a6 b6 a7 b7 */
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);     /* a0 b0 c0 d0 | a4 b4 c4 d4 */
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE); /* a1 b1 c1 d1 | ... */
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(y + (size_t)i * ldy, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
    _mm256_storeu_ps(y + (size_t)(i + 4) * ldy, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
  }
}

#include "transpose_driver.h"

void pnn_f32_transpose2d_avx2(size_t rows, size_t cols, const float *x, size_t ldx, float *y, size_t ldy) {
  transpose2d(rows, cols, x, ldx, y, ldy);
}

PNN_TARGET_END()

#endif
