/* u8 x s8 -> int32 GEMV for AVX-512 VNNI (contract in pnn_kernels_s8.h, layout in
 * pack.h: 16 rows per panel, k in quads). Per quad of x, broadcast to every lane, one
 * vpdpbusd per panel adds four u8 x s8 products to each row's int32 lane, exactly (no
 * saturation). A block of 4 panels keeps 8 accumulators (even and odd quads apart) so
 * the dependent vpdpbusd chains overlap; the weights stream once, 256 bytes per quad. */
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
  if (4 * q + 4 <= K) {
    uint32_t v;
    memcpy(&v, x + 4 * q, 4);
    return _mm512_set1_epi32((int32_t)v);
  }
  return _mm512_set1_epi32((int32_t)gemv_x_group(x, 4 * q, K, GROUP));
}

/* Rows of one block of `panels` (1-4) panels; `rows` of them are stored. */
static PNN_ALWAYS_INLINE void block_run(size_t panels, size_t quads, size_t K, const int8_t *w, const uint8_t *x,
                                        size_t rows, int32_t *y) {
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
  for (size_t p = 0; p < panels && p * LANES < rows; ++p) {
    const size_t left = rows - p * LANES;
    const __mmask16 mask = left >= LANES ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
    _mm512_mask_storeu_epi32(y + p * LANES, mask, _mm512_add_epi32(even[p], odd[p]));
  }
}

static void vnni_run(size_t N, size_t K, const void *packed, const uint8_t *x, int32_t *y) {
  const size_t quads = gemv_round_up(K, GROUP) / GROUP, panels = gemv_round_up(N, LANES) / LANES;
  const int8_t *w = (const int8_t *)packed;
  for (size_t p0 = 0; p0 < panels; p0 += GEMV_BLOCK_PANELS) {
    const size_t p = panels - p0 < GEMV_BLOCK_PANELS ? panels - p0 : GEMV_BLOCK_PANELS;
    const size_t rows = N - p0 * LANES;
    const int8_t *block = w + p0 * LANES * quads * GROUP;
    if (p == GEMV_BLOCK_PANELS) {
      block_run(GEMV_BLOCK_PANELS, quads, K, block, x, rows, y + p0 * LANES);
    } else {
      block_run(p, quads, K, block, x, rows, y + p0 * LANES);
    }
  }
}

const pnn_s8_gemv_kernel pnn_s8_gemv_avx512vnni = {"avx512vnni", vnni_pack_size, vnni_pack, vnni_run};

PNN_TARGET_END()

#endif /* x86-64 */
