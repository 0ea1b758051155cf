/* The packed layout of the SIMD GEMVs (kernels_c/s8-gemv) and their shared driver: rows in panels of `lanes`
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

/* The four u8 bytes x[4 q, 4 q + 4) as one little-endian word, zeros past K. */
static inline uint32_t gemv_x_quad(const uint8_t *x, size_t q, size_t K) {
  if (4 * q + 4 > K) return gemv_x_group(x, 4 * q, K, 4);
  uint32_t v;
  memcpy(&v, x + 4 * q, 4);
  return v;
}

/* One row of x against one block of `panels` panels; `outputs` of its rows are stored.
 * `shift` (NULL when the variant has none) holds an int32 per row of the block that the
 * variant adds to its sums (AVX2: the part of a sign-shifted product, avx2.c). */
typedef void (*gemv_block_fn)(size_t panels, size_t groups, size_t K, const int8_t *w, const uint8_t *x,
                              size_t outputs, int32_t *y, const int32_t *shift);
/* A tile of rows of x against one full block (every row stored). */
typedef void (*gemv_tile_fn)(size_t groups, size_t K, const int8_t *w, const uint8_t *x, size_t ldx, int32_t *y,
                             size_t ldy, const int32_t *shift);

/* The run of every variant, block-outer: a block of 4 panels (4 * lanes rows of W, at
 * most 4 * lanes * K bytes) is read from memory once and serves every row of x from
 * cache, `row_tile` rows at a time (`tile`) where the block is full, else one by one
 * (`full`: block_fn specialized for 4 panels, `part`: any count). `shift` (an int32 per
 * row, rounded up to whole panels) is NULL for variants without one.
 * Inlined into each variant, so the hooks are direct calls compiled for its ISA. */
static inline void gemv_drive(size_t N, size_t K, const void *packed, size_t rows, const uint8_t *x, size_t ldx,
                              int32_t *y, size_t ldy, size_t lanes, size_t group, size_t row_tile,
                              gemv_block_fn full, gemv_block_fn part, gemv_tile_fn tile, const int32_t *shift) {
  const size_t groups = gemv_round_up(K, group) / group, panels = gemv_round_up(N, lanes) / lanes;
  for (size_t p0 = 0; p0 < panels; p0 += GEMV_BLOCK_PANELS) {
    const size_t p = panels - p0 < GEMV_BLOCK_PANELS ? panels - p0 : GEMV_BLOCK_PANELS;
    const size_t width = N - p0 * lanes; /* rows of W from here on */
    const int8_t *block = (const int8_t *)packed + p0 * lanes * groups * group;
    int32_t *yb = y + p0 * lanes;
    const int32_t *block_shift = shift ? shift + p0 * lanes : NULL;
    size_t r = 0;
    if (p == GEMV_BLOCK_PANELS && width >= GEMV_BLOCK_PANELS * lanes) {
      for (; r + row_tile <= rows; r += row_tile) tile(groups, K, block, x + r * ldx, ldx, yb + r * ldy, ldy, block_shift);
    }
    for (; r < rows; ++r) {
      (p == GEMV_BLOCK_PANELS ? full : part)(p, groups, K, block, x + r * ldx, width, yb + r * ldy, block_shift);
    }
  }
}

#endif
