/* s8 GEMM for AVX-VNNI (contract in pnn_kernels_s8.h): the VEX-encoded vpdpbusd on
 * ymm, for CPUs with AVX-VNNI but no AVX-512 (Alder Lake and later client cores).
 * vpdpbusd multiplies 4 u8 by 4 s8 and adds the products to an int32 lane without
 * saturation, so a group is 4 k of raw u8 activations and s8 weights. Layouts, tiles
 * and the N == 1 GEMV: x86_ymm_gemm.h, which also gives the s4 kernel of this layout.
 *
 * ISA flags are set per file; pnn_s8_gemm_select only picks this with cpu->avxvnni. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avxvnni,avx2,fma")

#include <immintrin.h>

#include "pack.h"
#define PNN_S8_X86_YMM
#include "x86_impl.h"

enum { GROUP_K = 4 };

static PNN_ALWAYS_INLINE __m256i ymm_mac(__m256i acc, __m256i x, __m256i w) {
  return _mm256_dpbusd_avx_epi32(acc, x, w);
}

static void pack_panel(const uint8_t *X, size_t ldx, size_t K, size_t groups, size_t width,
                       uint8_t *panel) {
  pnn_s8_pack_x_quads(X, ldx, K, groups, width, 1, panel);
}

static void gemv_column(const uint8_t *X, size_t ldx, size_t K, size_t groups, uint8_t *x) {
  pnn_s8_gather_column(X, ldx, K, 4 * groups, x);
}

#define PNN_S8_GEMM_DRIVER_S4
#include "x86_ymm_gemm.h"

static void avxvnni_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  pnn_s8_pack_blocks(M, K, W, ROWS, 4, 4 * k_groups(K), (int8_t *)packed);
}

const pnn_s8_gemm_kernel pnn_s8_gemm_avxvnni = {
    "avxvnni", ROWS, gemm_pack_size, avxvnni_pack, gemm_scratch_size, gemm_run,
};

const pnn_s8_gemm_kernel pnn_s4_gemm_avxvnni = {
    "avxvnni", ROWS, gemm_s4_pack_size, gemm_s4_pack, gemm_s4_scratch_size, gemm_s4_run,
};

PNN_TARGET_END()

#endif /* x86-64 */
