/* u8 x s8 Winograd F(2x2, 3x3): the weight transform shared by every variant, and the
 * plain C reference (contract and bounds in pnn_kernels_s8.h). The reference sums in
 * int64 and divides the transform's 4S by 4 as an integer, so it is the exact
 * arithmetic the SIMD variants' wrapping int32 must reproduce. */
#include <string.h>

#include "pnn_kernels.h"

enum { POSITIONS = 16 };

static size_t pair_count(size_t C) { return (C + 1) / 2; }
static size_t block_count(size_t M) { return (M + PNN_S8_WINO2_ROW_BLOCK - 1) / PNN_S8_WINO2_ROW_BLOCK; }

size_t pnn_s8_wino2_pack_size(size_t M, size_t C) {
  return POSITIONS * block_count(M) * pair_count(C) * PNN_S8_WINO2_ROW_BLOCK * 2 * sizeof(int16_t);
}

/* Index of U[xi][m][c] in the packed i16 array. */
static size_t packed_index(size_t M, size_t C, size_t xi, size_t m, size_t c) {
  const size_t R = PNN_S8_WINO2_ROW_BLOCK;
  (void)M;
  return ((((m / R) * POSITIONS + xi) * pair_count(C) + c / 2) * R + m % R) * 2 + c % 2;
}

void pnn_s8_wino2_pack(size_t M, size_t C, const int8_t *W, void *packed) {
  /* 2G = [2 0 0; 1 1 1; 1 -1 1; 0 0 2]: integer, so U = (2G) g (2G)^T is exact and 4x
   * the transform of G. */
  static const int G2[4][3] = {{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}};
  int16_t *u = packed;
  memset(u, 0, pnn_s8_wino2_pack_size(M, C));
  for (size_t m = 0; m < M; ++m) {
    for (size_t c = 0; c < C; ++c) {
      const int8_t *k = W + (m * C + c) * 9;
      int gk[4][3];
      for (size_t a = 0; a < 4; ++a)
        for (size_t j = 0; j < 3; ++j) gk[a][j] = G2[a][0] * k[j] + G2[a][1] * k[3 + j] + G2[a][2] * k[6 + j];
      for (size_t a = 0; a < 4; ++a)
        for (size_t b = 0; b < 4; ++b)
          u[packed_index(M, C, a * 4 + b, m, c)] =
              (int16_t)(gk[a][0] * G2[b][0] + gk[a][1] * G2[b][1] + gk[a][2] * G2[b][2]);
    }
  }
}

static size_t scalar_scratch_size(size_t C, size_t count) {
  (void)count;
  return C * POSITIONS * sizeof(int32_t);
}

/* V = B^T d B of one channel's 4 x 4 tile at input (iy0, ix0) (wrapped when above or
 * left of the image), taps outside the image reading the zero point. */
static void input_tile(const pnn_conv2d_geometry *g, const uint8_t *x_c, uint8_t zero_point, size_t iy0,
                       size_t ix0, int32_t v[POSITIONS]) {
  int32_t h[4][4];
  for (size_t r = 0; r < 4; ++r) {
    int32_t d[4];
    const size_t iy = iy0 + r;
    for (size_t j = 0; j < 4; ++j) {
      const size_t ix = ix0 + j;
      d[j] = iy < g->in_h && ix < g->in_w ? x_c[iy * g->in_w + ix] : zero_point;
    }
    /* d B along the row: columns (0 - 2, 1 + 2, 2 - 1, 1 - 3). */
    h[r][0] = d[0] - d[2];
    h[r][1] = d[1] + d[2];
    h[r][2] = d[2] - d[1];
    h[r][3] = d[1] - d[3];
  }
  for (size_t q = 0; q < 4; ++q) { /* B^T along the column */
    v[0 + q] = h[0][q] - h[2][q];
    v[4 + q] = h[1][q] + h[2][q];
    v[8 + q] = h[2][q] - h[1][q];
    v[12 + q] = h[1][q] - h[3][q];
  }
}

static void scalar_run(const pnn_conv2d_geometry *g, size_t M, const uint8_t *x, uint8_t x_zero_point,
                       size_t t0, size_t count, size_t m_begin, size_t m_end, const void *packed,
                       const int32_t *bias, const pnn_requant *rq, uint8_t *y, void *scratch) {
  const size_t C = g->channels, tiles_w = (g->out_w + 1) / 2, plane = g->out_h * g->out_w;
  const int16_t *u = packed;
  int32_t *v = scratch; /* [C][16] of the current tile */
  for (size_t t = t0; t < t0 + count; ++t) {
    const size_t ty = t / tiles_w, tx = t % tiles_w;
    for (size_t c = 0; c < C; ++c)
      input_tile(g, x + c * g->in_h * g->in_w, x_zero_point, 2 * ty - g->pad_top, 2 * tx - g->pad_left,
                 v + c * POSITIONS);
    for (size_t m = m_begin; m < m_end; ++m) {
      int64_t s[POSITIONS];
      for (size_t xi = 0; xi < POSITIONS; ++xi) {
        s[xi] = 0;
        for (size_t c = 0; c < C; ++c) s[xi] += (int64_t)u[packed_index(M, C, xi, m, c)] * v[c * POSITIONS + xi];
      }
      /* A^T along the column: rows (0 + 1 + 2, 1 - 2 - 3); then A along the row. */
      int64_t col[2][4];
      for (size_t q = 0; q < 4; ++q) {
        col[0][q] = s[q] + s[4 + q] + s[8 + q];
        col[1][q] = s[4 + q] - s[8 + q] - s[12 + q];
      }
      for (size_t a = 0; a < 2; ++a) {
        const int64_t four_s[2] = {col[a][0] + col[a][1] + col[a][2], col[a][1] - col[a][2] - col[a][3]};
        for (size_t b = 0; b < 2; ++b) {
          const size_t oy = 2 * ty + a, ox = 2 * tx + b;
          if (oy >= g->out_h || ox >= g->out_w) continue;
          const int64_t acc = bias[m] + four_s[b] / 4; /* an exact division */
          y[m * plane + oy * g->out_w + ox] =
              (uint8_t)pnn_requantize(acc, rq->multiplier[m], rq->shift[m], rq->zero_point, rq->lo, rq->hi);
        }
      }
    }
  }
}

const pnn_s8_wino2_kernel pnn_s8_wino2_scalar = {"scalar", 1, scalar_scratch_size, scalar_run};
