/* u8 x s8 -> int32 GEMV for AVX-512 VNNI (contract in pnn_kernels_s8.h, layout in
 * pack.h: 16 rows per panel, k in quads). Per quad of x, broadcast to every lane, one
 * vpdpbusd per panel adds four u8 x s8 products to each row's int32 lane, exactly (no
 * saturation). A block of 4 panels keeps 8 accumulators (even and odd quads apart) so
 * the dependent vpdpbusd chains overlap; the weights stream once, 256 bytes per quad.
 * With several rows of x (a sequence's input projection), 4 rows share each block's
 * weight loads (16 accumulators), so the block is read from cache once per 4 rows. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")

#include <immintrin.h>

#include "pack.h"
#include "pnn_inline.h"

enum { LANES = 16, GROUP = 4 };

static size_t vnni_pack_size(size_t N, size_t K) { return gemv_pack_size(N, K, LANES, GROUP); }

static void vnni_pack(size_t N, size_t K, const int8_t *W, void *packed) {
  gemv_pack(N, K, W, LANES, GROUP, (int8_t *)packed);
}

static inline __m512i x_quad(const uint8_t *x, size_t q, size_t K) {
  return _mm512_set1_epi32((int32_t)gemv_x_quad(x, q, K));
}

/* Rows of one block of `panels` (1-4) panels; `outputs` of its rows are stored. */
static PNN_ALWAYS_INLINE void block_run(size_t panels, size_t quads, size_t K, const int8_t *w, const uint8_t *x,
                                        size_t outputs, int32_t *y) {
  __m512i even[GEMV_BLOCK_PANELS], odd[GEMV_BLOCK_PANELS];
  for (size_t p = 0; p < panels; ++p) even[p] = odd[p] = _mm512_setzero_si512();
  const size_t stride = panels * 64;
  size_t q = 0;
  for (; q + 2 <= quads; q += 2) {
    const __m512i x0 = x_quad(x, q, K), x1 = x_quad(x, q + 1, K);
    const int8_t *w0 = w + q * stride;
    for (size_t p = 0; p < panels; ++p) {
      even[p] = _mm512_dpbusd_epi32(even[p], x0, _mm512_loadu_si512((const void *)(w0 + 64 * p)));
      odd[p] = _mm512_dpbusd_epi32(odd[p], x1, _mm512_loadu_si512((const void *)(w0 + stride + 64 * p)));
    }
  }
  if (q < quads) {
    const __m512i x0 = x_quad(x, q, K);
    for (size_t p = 0; p < panels; ++p) {
      even[p] = _mm512_dpbusd_epi32(even[p], x0, _mm512_loadu_si512((const void *)(w + q * stride + 64 * p)));
    }
  }
  for (size_t p = 0; p < panels && p * LANES < outputs; ++p) {
    const size_t left = outputs - p * LANES;
    const __mmask16 mask = left >= LANES ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
    _mm512_mask_storeu_epi32(y + p * LANES, mask, _mm512_add_epi32(even[p], odd[p]));
  }
}

enum { ROW_TILE = 4 }; /* x rows per pass: 16 accumulators, 4 broadcasts per 4 weight loads */

/* ROW_TILE rows of x against one full block of 4 panels (all 64 of its rows stored). */
static void block_run_rows(size_t quads, size_t K, const int8_t *w, const uint8_t *x, size_t ldx, int32_t *y,
                           size_t ldy, const int32_t *shift) {
  (void)shift;
  __m512i acc[ROW_TILE][GEMV_BLOCK_PANELS];
  for (size_t r = 0; r < ROW_TILE; ++r)
    for (size_t p = 0; p < GEMV_BLOCK_PANELS; ++p) acc[r][p] = _mm512_setzero_si512();
  for (size_t q = 0; q < quads; ++q) {
    const int8_t *wq = w + q * GEMV_BLOCK_PANELS * 64;
    __m512i wv[GEMV_BLOCK_PANELS];
    for (size_t p = 0; p < GEMV_BLOCK_PANELS; ++p) wv[p] = _mm512_loadu_si512((const void *)(wq + 64 * p));
    for (size_t r = 0; r < ROW_TILE; ++r) {
      const __m512i xr = x_quad(x + r * ldx, q, K);
      for (size_t p = 0; p < GEMV_BLOCK_PANELS; ++p) acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], xr, wv[p]);
    }
  }
  for (size_t r = 0; r < ROW_TILE; ++r)
    for (size_t p = 0; p < GEMV_BLOCK_PANELS; ++p) _mm512_storeu_si512((void *)(y + r * ldy + p * LANES), acc[r][p]);
}

static void block_full(size_t panels, size_t quads, size_t K, const int8_t *w, const uint8_t *x, size_t outputs,
                       int32_t *y, const int32_t *shift) {
  (void)panels;
  (void)shift;
  block_run(GEMV_BLOCK_PANELS, quads, K, w, x, outputs, y);
}

static void block_part(size_t panels, size_t quads, size_t K, const int8_t *w, const uint8_t *x, size_t outputs,
                       int32_t *y, const int32_t *shift) {
  (void)shift;
  block_run(panels, quads, K, w, x, outputs, y);
}

static void vnni_run(size_t N, size_t K, const void *packed, size_t rows, const uint8_t *x, size_t ldx, int32_t *y,
                     size_t ldy) {
  gemv_drive(N, K, packed, rows, x, ldx, y, ldy, LANES, GROUP, ROW_TILE, block_full, block_part, block_run_rows, NULL);
}

const pnn_s8_gemv_kernel pnn_s8_gemv_avx512vnni = {"avx512vnni", vnni_pack_size, vnni_pack, vnni_run};

PNN_TARGET_END()

#endif /* x86-64 */
