/* s8 GEMM for AVX2 (contract in pnn_kernels_s8.h), exact without VNNI. vpmaddubsw
 * (u8 x s8 pairs) would saturate its i16 sums (255*127 + 255*127 > 32767), so both
 * operands are widened to i16 instead and multiplied with vpmaddwd: x0*w0 + x1*w1 in
 * an int32 lane, exact. A group is therefore 2 k: the packed weights hold them as i16
 * pairs, the X panel as i16 pairs per pixel. Layouts, tiles and the N == 1 GEMV:
 * x86_ymm_gemm.h.
 *
 * ISA flags are set per file; pnn_s8_gemm_select only picks this with cpu->avx2_fma. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#include "pack.h"
#define PNN_S8_X86_YMM
#include "x86_impl.h"

enum { GROUP_K = 2 };
/* 24-pixel tiles (x86_ymm_gemm.h): one weight broadcast per 3 vpmaddwd, and a layer of
 * few pixels reads its weights once per 24 (Zen 4, AVX2, against 16-pixel tiles: M 64,
 * N 3136, K 576 hot 82 to 84 GMAC/s; M 128, N 784, K 1152 85-87 to 88; M 512, N 49,
 * K 4608 with its 4.5 MiB of i16 weights cold 1.58-1.62 to 1.44-1.53 ms). */
#define TILE_VECTORS 3

static PNN_ALWAYS_INLINE __m256i ymm_mac(__m256i acc, __m256i x, __m256i w) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(x, w));
}

/* Pixels [16, 24) of row k of the tile (X at its first pixel), zero past width and K. */
static __m128i load_pixels16to24(const uint8_t *X, size_t ldx, size_t K, size_t k, size_t width) {
  if (k >= K || width <= 16) return _mm_setzero_si128();
  if (width >= 24) return _mm_loadl_epi64((const __m128i *)(X + k * ldx + 16));
  uint8_t buf[8] = {0};
  memcpy(buf, X + k * ldx + 16, width - 16);
  return _mm_loadl_epi64((const __m128i *)buf);
}

/* i16 pairs: panel[96 g + 4 p + 2 j] (as i16) = X[2g + j][p] for 24 pixels p; pixels
 * 16..23 only in a tile wider than 16 (the micro-kernel of a narrower one reads 2
 * vectors). */
static void pack_panel(const uint8_t *X, size_t ldx, size_t K, size_t groups, size_t width,
                       uint8_t *panel) {
  for (size_t g = 0; g < groups; ++g) {
    const __m128i r0 = pnn_s8_load_chunk(X, ldx, K, 2 * g, 0, width);
    const __m128i r1 = pnn_s8_load_chunk(X, ldx, K, 2 * g + 1, 0, width);
    __m256i *out = (__m256i *)(panel + 96 * g);
    _mm256_store_si256(out, _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(r0, r1)));     /* pixels 0..7 */
    _mm256_store_si256(out + 1, _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(r0, r1))); /* 8..15 */
    if (width > 16) {
      const __m128i s0 = load_pixels16to24(X, ldx, K, 2 * g, width);
      const __m128i s1 = load_pixels16to24(X, ldx, K, 2 * g + 1, width);
      _mm256_store_si256(out + 2, _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(s0, s1))); /* 16..23 */
    }
  }
}

/* The column widened to i16, zero past K: group g is the pair (x[2g], x[2g+1]). */
static void gemv_column(const uint8_t *X, size_t ldx, size_t K, size_t groups, uint8_t *x) {
  for (size_t k = 0; k < 2 * groups; ++k) {
    const int16_t v = k < K ? X[k * ldx] : 0;
    memcpy(x + 2 * k, &v, sizeof v);
  }
}

#include "x86_ymm_gemm.h"

static void avx2_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  pnn_s8_pack_blocks_s16(M, K, W, ROWS, 2, 2 * k_groups(K), (int16_t *)packed);
}

const pnn_s8_gemm_kernel pnn_s8_gemm_avx2 = {
    "avx2", ROWS, gemm_pack_size, avx2_pack, gemm_scratch_size, gemm_run,
};

PNN_TARGET_END()

#endif /* x86-64 */
