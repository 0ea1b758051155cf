/* Binary GEMM and convolution for AVX-512 BW without VPOPCNTDQ (contract in
 * pnn_kernels_b1.h): the nibble-table popcount tile of x86_lut_tile.h on zmm, 4 rows x 16
 * pixels (two zmm of eight 64-bit pixel words). Driver: bgemm_driver.h.
 *
 * ISA flags are set per file; pnn_b1_gemm_select only picks this with cpu->avx512bw. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512bw,avx512vl")
#endif

#include <immintrin.h>

#define B1_ROWS 4
#define B1_PIXELS 16
#define V __m512i
#define V_ZERO() _mm512_setzero_si512()
#define V_LOAD(p) _mm512_load_si512(p)
#define V_SET1_64(u) _mm512_set1_epi64((long long)(u))
#define V_SET1_8(b) _mm512_set1_epi8(b)
#define V_TABLE() _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4))
#define V_AND _mm512_and_si512
#define V_XOR _mm512_xor_si512
#define V_SRLI16 _mm512_srli_epi16
#define V_SHUFFLE8 _mm512_shuffle_epi8
#define V_ADD8 _mm512_add_epi8
#define V_ADD64 _mm512_add_epi64
#define V_SAD(v) _mm512_sad_epu8(v, _mm512_setzero_si512())
#define V_STORE_COUNTS(dst, v) _mm256_storeu_si256((__m256i *)(dst), _mm512_cvtepi64_epi32(v))
#include "x86_lut_tile.h"

#include "bgemm_driver.h"

PNN_B1_GEMM_KERNEL(pnn_b1_gemm_avx512bw, "avx512bw");

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif
