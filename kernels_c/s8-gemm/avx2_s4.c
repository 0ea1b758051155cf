/* s4 GEMM for AVX2 (contract in pnn_kernels_s8.h): u8 x s8 quads like avxvnni.c, with
 * vpmaddubsw in place of vpdpbusd. vpmaddubsw adds two u8 x s8 products into a
 * saturating i16, which int4 weights cannot reach (2 * 255 * 7 = 3570), so it is exact
 * here, unlike on s8 weights (avx2.c widens those to i16); vpmaddwd by ones then adds
 * the two i16 of each 32-bit lane. Layouts, tiles, the s4 unpacking and the N == 1 GEMV:
 * x86_ymm_gemm.h and gemm_driver.h (s4 kernel only).
 *
 * ISA flags are set per file; pnn_s4_gemm_select only picks this with cpu->avx2_fma. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#include "pack.h"
#define PNN_S8_X86_YMM
#include "x86_impl.h"

enum { GROUP_K = 4 };

static PNN_ALWAYS_INLINE __m256i ymm_mac(__m256i acc, __m256i x, __m256i w) {
  const __m256i pairs = _mm256_maddubs_epi16(x, w); /* |w| <= 7: no saturation */
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

static void pack_panel(const uint8_t *X, size_t ldx, size_t K, size_t groups, size_t width,
                       uint8_t *panel) {
  pnn_s8_pack_x_quads(X, ldx, K, groups, width, 1, panel);
}

static void gemv_column(const uint8_t *X, size_t ldx, size_t K, size_t groups, uint8_t *x) {
  pnn_s8_gather_column(X, ldx, K, 4 * groups, x);
}

#define PNN_S8_GEMM_DRIVER_NO_S8
#define PNN_S8_GEMM_DRIVER_S4
#include "x86_ymm_gemm.h"

const pnn_s8_gemm_kernel pnn_s4_gemm_avx2 = {
    "avx2", ROWS, gemm_s4_pack_size, gemm_s4_pack, gemm_s4_scratch_size, gemm_s4_run,
};

PNN_TARGET_END()

#endif /* x86-64 */
