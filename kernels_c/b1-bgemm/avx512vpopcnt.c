/* Binary GEMM and convolution for AVX-512 with VPOPCNTDQ (contract in pnn_kernels_b1.h):
 * vpopcntq counts each 64-bit lane, so a word costs xor + popcount + add. Micro-tile 8
 * rows x 16 pixels (two zmm of eight 64-bit pixel words): 16 accumulators, the row's
 * word broadcast from memory. Driver: bgemm_driver.h; its tree-delta step below.
 *
 * ISA flags are set per file; pnn_b1_gemm_select only picks this with
 * cpu->avx512vpopcntdq. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma,avx512f,avx512bw,avx512vl,avx512vpopcntdq")

#include <immintrin.h>

#define B1_ROWS 8
#define B1_PIXELS 16

static void b1_tile(size_t kw, const uint64_t *const *w, const uint64_t *panel, uint32_t *counts) {
  __m512i acc[B1_ROWS][2];
  for (size_t r = 0; r < B1_ROWS; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
  for (size_t k = 0; k < kw; ++k) {
    const __m512i x0 = _mm512_load_si512(panel + k * B1_PIXELS);
    const __m512i x1 = _mm512_load_si512(panel + k * B1_PIXELS + 8);
    for (size_t r = 0; r < B1_ROWS; ++r) {
      const __m512i wv = _mm512_set1_epi64((long long)w[r][k]);
      acc[r][0] = _mm512_add_epi64(acc[r][0], _mm512_popcnt_epi64(_mm512_xor_si512(x0, wv)));
      acc[r][1] = _mm512_add_epi64(acc[r][1], _mm512_popcnt_epi64(_mm512_xor_si512(x1, wv)));
    }
  }
  for (size_t r = 0; r < B1_ROWS; ++r) {
    _mm256_storeu_si256((__m256i *)(counts + r * B1_PIXELS), _mm512_cvtepi64_epi32(acc[r][0]));
    _mm256_storeu_si256((__m256i *)(counts + r * B1_PIXELS + 8), _mm512_cvtepi64_epi32(acc[r][1]));
  }
}

/* The tree-delta step: vpternlogq 0x28 is (x xor w) and D in one instruction. */
#define B1_HAS_DELTA
static void b1_delta(size_t words, const uint32_t *word, const uint64_t *mask, const uint64_t *wp,
                     const uint64_t *panel, uint32_t d, const uint32_t *from, uint32_t *to) {
  __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
  for (size_t j = 0; j < words; ++j) {
    const uint64_t *x = panel + (size_t)word[j] * B1_PIXELS;
    const __m512i wv = _mm512_set1_epi64((long long)wp[word[j]]);
    const __m512i dv = _mm512_set1_epi64((long long)mask[j]);
    acc0 = _mm512_add_epi64(acc0, _mm512_popcnt_epi64(_mm512_ternarylogic_epi64(_mm512_load_si512(x), wv, dv, 0x28)));
    acc1 = _mm512_add_epi64(acc1, _mm512_popcnt_epi64(_mm512_ternarylogic_epi64(_mm512_load_si512(x + 8), wv, dv, 0x28)));
  }
  /* to = from + d - 2 * flips in 32-bit lanes (wrapping, exact for the true counts) */
  const __m512i flips = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(acc0)),
                                           _mm512_cvtepi64_epi32(acc1), 1);
  const __m512i base = _mm512_add_epi32(_mm512_loadu_si512(from), _mm512_set1_epi32((int)d));
  _mm512_storeu_si512(to, _mm512_sub_epi32(base, _mm512_slli_epi32(flips, 1)));
}

#include "bgemm_driver.h"

PNN_B1_GEMM_KERNEL(pnn_b1_gemm_avx512vpopcnt, "avx512vpopcnt");

PNN_TARGET_END()

#endif
