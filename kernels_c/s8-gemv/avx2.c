/* u8 x s8 -> int32 GEMV for AVX2 (contract in pnn_kernels_s8.h, layout in pack.h: 8 rows
 * per panel, k in pairs). vpmaddubsw would add two u8 x s8 products into a saturating
 * i16 (wrong for weights past +-64 against large x), so the kernel widens instead: the
 * 16 weight bytes of a panel's pair step are sign-extended to i16 (vpmovsxbw) and
 * vpmaddwd multiplies them by the pair (x[k], x[k+1]) broadcast as two i16, adding both
 * products into each row's int32 lane exactly. The weights stay s8 in memory (the step
 * is bound by their bytes). A block of 4 panels keeps 8 accumulators (even and odd
 * pairs apart); with several rows of x, 2 rows share each widened weight vector. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#include "pack.h"
#include "pnn_inline.h"

enum { LANES = 8, GROUP = 2 };

static size_t avx2_pack_size(size_t N, size_t K) { return gemv_pack_size(N, K, LANES, GROUP); }

static void avx2_pack(size_t N, size_t K, const int8_t *W, void *packed) {
  gemv_pack(N, K, W, LANES, GROUP, (int8_t *)packed);
}

static inline __m256i x_pair(const uint8_t *x, size_t g, size_t K) {
  if (2 * g + 2 <= K) return _mm256_set1_epi32((int32_t)((uint32_t)x[2 * g] | (uint32_t)x[2 * g + 1] << 16));
  return _mm256_set1_epi32((int32_t)gemv_x_group(x, 2 * g, K, GROUP));
}

static inline __m256i widened(const int8_t *w) { return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w)); }

/* Rows of one block of `panels` (1-4) panels; `outputs` of its rows are stored. */
static PNN_ALWAYS_INLINE void block_run(size_t panels, size_t pairs, size_t K, const int8_t *w, const uint8_t *x,
                                        size_t outputs, int32_t *y) {
  __m256i even[GEMV_BLOCK_PANELS], odd[GEMV_BLOCK_PANELS];
  for (size_t p = 0; p < panels; ++p) even[p] = odd[p] = _mm256_setzero_si256();
  const size_t stride = panels * 16;
  size_t g = 0;
  for (; g + 2 <= pairs; g += 2) {
    const __m256i x0 = x_pair(x, g, K), x1 = x_pair(x, g + 1, K);
    const int8_t *w0 = w + g * stride;
    for (size_t p = 0; p < panels; ++p) {
      even[p] = _mm256_add_epi32(even[p], _mm256_madd_epi16(widened(w0 + 16 * p), x0));
      odd[p] = _mm256_add_epi32(odd[p], _mm256_madd_epi16(widened(w0 + stride + 16 * p), x1));
    }
  }
  if (g < pairs) {
    const __m256i x0 = x_pair(x, g, K);
    for (size_t p = 0; p < panels; ++p) {
      even[p] = _mm256_add_epi32(even[p], _mm256_madd_epi16(widened(w + g * stride + 16 * p), x0));
    }
  }
  for (size_t p = 0; p < panels && p * LANES < outputs; ++p) {
    const __m256i sum = _mm256_add_epi32(even[p], odd[p]);
    const size_t left = outputs - p * LANES;
    if (left >= LANES) {
      _mm256_storeu_si256((__m256i *)(y + p * LANES), sum);
    } else {
      int32_t lanes[LANES];
      _mm256_storeu_si256((__m256i *)lanes, sum);
      memcpy(y + p * LANES, lanes, left * sizeof(int32_t));
    }
  }
}

enum { ROW_TILE = 2 }; /* x rows per pass: 8 accumulators share each widened weight vector */

/* ROW_TILE rows of x against one full block of 4 panels (all 32 of its rows stored). */
static void block_run_rows(size_t pairs, size_t K, const int8_t *w, const uint8_t *x, size_t ldx, int32_t *y,
                           size_t ldy) {
  __m256i acc[ROW_TILE][GEMV_BLOCK_PANELS];
  for (size_t r = 0; r < ROW_TILE; ++r)
    for (size_t p = 0; p < GEMV_BLOCK_PANELS; ++p) acc[r][p] = _mm256_setzero_si256();
  for (size_t g = 0; g < pairs; ++g) {
    const int8_t *wg = w + g * GEMV_BLOCK_PANELS * 16;
    __m256i xr[ROW_TILE];
    for (size_t r = 0; r < ROW_TILE; ++r) xr[r] = x_pair(x + r * ldx, g, K);
    for (size_t p = 0; p < GEMV_BLOCK_PANELS; ++p) {
      const __m256i wv = widened(wg + 16 * p);
      for (size_t r = 0; r < ROW_TILE; ++r) acc[r][p] = _mm256_add_epi32(acc[r][p], _mm256_madd_epi16(wv, xr[r]));
    }
  }
  for (size_t r = 0; r < ROW_TILE; ++r)
    for (size_t p = 0; p < GEMV_BLOCK_PANELS; ++p) _mm256_storeu_si256((__m256i *)(y + r * ldy + p * LANES), acc[r][p]);
}

static void block_full(size_t panels, size_t pairs, size_t K, const int8_t *w, const uint8_t *x, size_t outputs,
                       int32_t *y) {
  (void)panels;
  block_run(GEMV_BLOCK_PANELS, pairs, K, w, x, outputs, y);
}

static void block_part(size_t panels, size_t pairs, size_t K, const int8_t *w, const uint8_t *x, size_t outputs,
                       int32_t *y) {
  block_run(panels, pairs, K, w, x, outputs, y);
}

static void avx2_run(size_t N, size_t K, const void *packed, size_t rows, const uint8_t *x, size_t ldx, int32_t *y,
                     size_t ldy) {
  gemv_drive(N, K, packed, rows, x, ldx, y, ldy, LANES, GROUP, ROW_TILE, block_full, block_part, block_run_rows);
}

const pnn_s8_gemv_kernel pnn_s8_gemv_avx2 = {"avx2", avx2_pack_size, avx2_pack, avx2_run};

PNN_TARGET_END()

#endif /* x86-64 */
