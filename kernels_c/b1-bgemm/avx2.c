/* Binary GEMM and convolution for AVX2 (contract in pnn_kernels_b1.h): the nibble-table
 * popcount tile of x86_lut_tile.h on ymm, 4 rows x 8 pixels (two ymm of four 64-bit pixel
 * words): 8 byte accumulators, the 64-bit totals spilled once per 31 words. Driver:
 * bgemm_driver.h.
 *
 * ISA flags are set per file; pnn_b1_gemm_select only picks this with cpu->avx2_fma. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include <immintrin.h>

#define B1_ROWS 4
#define B1_PIXELS 8
#define V __m256i
#define V_ZERO() _mm256_setzero_si256()
#define V_LOAD(p) _mm256_load_si256((const __m256i *)(p))
#define V_SET1_64(u) _mm256_set1_epi64x((long long)(u))
#define V_SET1_8(b) _mm256_set1_epi8(b)
#define V_TABLE() _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4))
#define V_AND _mm256_and_si256
#define V_XOR _mm256_xor_si256
#define V_SRLI16 _mm256_srli_epi16
#define V_SHUFFLE8 _mm256_shuffle_epi8
#define V_ADD8 _mm256_add_epi8
#define V_ADD64 _mm256_add_epi64
#define V_SAD(v) _mm256_sad_epu8(v, _mm256_setzero_si256())
/* The low 32 bits of each 64-bit lane (counts stay far below 2^32). */
#define V_STORE_COUNTS(dst, v) \
  _mm_storeu_si128((__m128i *)(dst), \
                   _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7))))
#include "x86_lut_tile.h"

#include "bgemm_driver.h"

PNN_B1_GEMM_KERNEL(pnn_b1_gemm_avx2, "avx2");

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif
