/* The packed layout of the SIMD GEMVs (kernels_c/s8-gemv): rows in panels of `lanes`
 * (one int32 lane per row), panels in blocks of up to GEMV_BLOCK_PANELS, k in groups of
 * `group` (4: vpdpbusd quads, 2: vpmaddwd pairs). Within a block of p panels, group g
 * holds p * lanes rows x `group` bytes, so the run streams each block once, front to
 * back. Rows past N and k past K are zeros. */
#ifndef PNN_S8_GEMV_PACK_H
#define PNN_S8_GEMV_PACK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { GEMV_BLOCK_PANELS = 4 };

static inline size_t gemv_round_up(size_t v, size_t m) { return (v + m - 1) / m * m; }

static inline size_t gemv_pack_size(size_t N, size_t K, size_t lanes, size_t group) {
  return gemv_round_up(N, lanes) * gemv_round_up(K, group);
}

static inline void gemv_pack(size_t N, size_t K, const int8_t *W, size_t lanes, size_t group, int8_t *packed) {
  const size_t kp = gemv_round_up(K, group), panels = gemv_round_up(N, lanes) / lanes;
  memset(packed, 0, gemv_pack_size(N, K, lanes, group));
  for (size_t p0 = 0; p0 < panels; p0 += GEMV_BLOCK_PANELS) {
    const size_t p = panels - p0 < GEMV_BLOCK_PANELS ? panels - p0 : GEMV_BLOCK_PANELS;
    int8_t *block = packed + p0 * lanes * kp;
    for (size_t r = 0; r < p * lanes && p0 * lanes + r < N; ++r) {
      const int8_t *row = W + (p0 * lanes + r) * K;
      for (size_t k = 0; k < K; ++k) block[(k / group) * p * lanes * group + r * group + k % group] = row[k];
    }
  }
}

/* The u8 bytes x[k0, k0 + group) as one little-endian word, zeros past K. */
static inline uint32_t gemv_x_group(const uint8_t *x, size_t k0, size_t K, size_t group) {
  uint32_t v = 0;
  for (size_t i = 0; i < group && k0 + i < K; ++i) v |= (uint32_t)x[k0 + i] << (8 * i * (4 / group));
  return v;
}

#endif
