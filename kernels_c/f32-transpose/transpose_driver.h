/* ISA-neutral 2-D f32 transpose driver: y[c][r] = x[r][c] for a rows x cols block.
 *
 * Include after defining PNN_TRANSPOSE_W (the tile edge: floats per vector) and a
 * function `static void transpose_tile(const float *x, size_t ldx, float *y, size_t ldy)`
 * that transposes one W x W tile with vector shuffles. The block is walked in square
 * super-tiles of PNN_TRANSPOSE_SUPER floats (reads and writes both stay in L1), full
 * W x W tiles inside them take the vector tile, and the ragged right and bottom edges
 * take a scalar loop. Defines `static void transpose2d(...)`. */
#ifndef PNN_TRANSPOSE_DRIVER_H
#define PNN_TRANSPOSE_DRIVER_H

#include <stddef.h>

#define PNN_TRANSPOSE_SUPER 64

static void transpose_edge(size_t r0, size_t r1, size_t c0, size_t c1, const float *x, size_t ldx, float *y,
                           size_t ldy) {
  for (size_t r = r0; r < r1; ++r) {
    for (size_t c = c0; c < c1; ++c) y[c * ldy + r] = x[r * ldx + c];
  }
}

static void transpose2d(size_t rows, size_t cols, const float *x, size_t ldx, float *y, size_t ldy) {
  const size_t full_rows = rows - rows % PNN_TRANSPOSE_W, full_cols = cols - cols % PNN_TRANSPOSE_W;
  for (size_t r0 = 0; r0 < full_rows; r0 += PNN_TRANSPOSE_SUPER) {
    const size_t r1 = r0 + PNN_TRANSPOSE_SUPER < full_rows ? r0 + PNN_TRANSPOSE_SUPER : full_rows;
    for (size_t c0 = 0; c0 < full_cols; c0 += PNN_TRANSPOSE_SUPER) {
      const size_t c1 = c0 + PNN_TRANSPOSE_SUPER < full_cols ? c0 + PNN_TRANSPOSE_SUPER : full_cols;
      for (size_t r = r0; r < r1; r += PNN_TRANSPOSE_W) {
        for (size_t c = c0; c < c1; c += PNN_TRANSPOSE_W) transpose_tile(x + r * ldx + c, ldx, y + c * ldy + r, ldy);
      }
    }
  }
  transpose_edge(0, full_rows, full_cols, cols, x, ldx, y, ldy);
  transpose_edge(full_rows, rows, 0, cols, x, ldx, y, ldy);
}

#endif
