/* Winograd F(2x2, 3x3) transforms written for the auto-vectorizer: every inner loop
 * runs along a row of tiles with unit stride (the stride-2 input columns are split
 * into even and odd arrays first). Included by scalar.c (portable flags) and by the
 * x86 files inside their `#pragma GCC target` region, with WINO_FN naming the
 * variant. Contract in pnn_kernels_nn.h. */
#include <string.h>

#include "pnn_kernels.h"

/* Tiles handled per pass over a tile row: bounds the stack arrays. */
#define WINO_CHUNK 64

void WINO_FN(pnn_f32_wino2_input)(const pnn_conv2d_geometry *g, const float *x, size_t t0,
                                  size_t count, float *v, size_t xi_stride) {
  const size_t nr = PNN_GEMM_PB_NR, C = g->channels;
  const size_t tiles_w = (g->out_w + 1) / 2;
  const size_t in_h = g->in_h, in_w = g->in_w;
  float e[2 * WINO_CHUNK + 2], ev[WINO_CHUNK + 1], od[WINO_CHUNK + 1];
  float h[4][4][WINO_CHUNK]; /* [input row r][column combination q][tile] */
  size_t u = 0;
  while (u < count) {
    const size_t t = t0 + u;
    const size_t ty = t / tiles_w, tx0 = t % tiles_w;
    size_t n = tiles_w - tx0;
    if (n > count - u) n = count - u;
    if (n > WINO_CHUNK) n = WINO_CHUNK;
    for (size_t c = 0; c < C; ++c) {
      const float *x_c = x + c * in_h * in_w;
      for (size_t r = 0; r < 4; ++r) {
        /* e[j] = input column 2*tx0 - pad_left + j of input row iy (0 outside). */
        const size_t iy = 2 * ty + r - g->pad_top; /* wraps when above the image */
        const size_t len = 2 * n + 2;
        if (iy >= in_h) {
          memset(e, 0, len * sizeof(float));
        } else {
          const float *row = x_c + iy * in_w;
          const size_t ix0 = 2 * tx0 - g->pad_left;
          for (size_t j = 0; j < len; ++j) {
            const size_t ix = ix0 + j;
            e[j] = ix < in_w ? row[ix] : 0.0f;
          }
        }
        for (size_t i = 0; i <= n; ++i) {
          ev[i] = e[2 * i];
          od[i] = e[2 * i + 1];
        }
        /* d B along the row: columns (0 - 2, 1 + 2, 2 - 1, 1 - 3). */
        for (size_t i = 0; i < n; ++i) {
          h[r][0][i] = ev[i] - ev[i + 1];
          h[r][1][i] = od[i] + ev[i + 1];
          h[r][2][i] = ev[i + 1] - od[i];
          h[r][3][i] = od[i] - od[i + 1];
        }
      }
      /* B^T along the column, stored into the packed panels. */
      for (size_t i0 = 0; i0 < n;) {
        /* A run of tiles inside one panel: unit stride in the destination. */
        const size_t w = u + i0, off = w % nr;
        const size_t seg = n - i0 < nr - off ? n - i0 : nr - off;
        float *dst = v + (w / nr) * C * nr + c * nr + off;
        for (size_t q = 0; q < 4; ++q) {
          float *d0 = dst + (0 * 4 + q) * xi_stride, *d1 = dst + (1 * 4 + q) * xi_stride;
          float *d2 = dst + (2 * 4 + q) * xi_stride, *d3 = dst + (3 * 4 + q) * xi_stride;
          const float *h0 = h[0][q] + i0, *h1 = h[1][q] + i0, *h2 = h[2][q] + i0, *h3 = h[3][q] + i0;
          for (size_t i = 0; i < seg; ++i) {
            d0[i] = h0[i] - h2[i];
            d1[i] = h1[i] + h2[i];
            d2[i] = h2[i] - h1[i];
            d3[i] = h1[i] - h3[i];
          }
        }
        i0 += seg;
      }
    }
    u += n;
  }
}

void WINO_FN(pnn_f32_wino2_output)(const pnn_conv2d_geometry *g, const float *m, size_t rows,
                                   size_t ldm, size_t xi_stride, size_t t0, size_t count,
                                   const float *bias, float *y, pnn_activation act) {
  const size_t out_h = g->out_h, out_w = g->out_w, plane = out_h * out_w;
  const size_t tiles_w = (out_w + 1) / 2;
  float s[2][4][WINO_CHUNK];
  float o[2][2 * WINO_CHUNK];
  for (size_t r = 0; r < rows; ++r) {
    const float *m_r = m + r * ldm;
    const float b = bias ? bias[r] : 0.0f;
    float *y_r = y + r * plane;
    size_t u = 0;
    while (u < count) {
      const size_t t = t0 + u;
      const size_t ty = t / tiles_w, tx0 = t % tiles_w;
      size_t n = tiles_w - tx0;
      if (n > count - u) n = count - u;
      if (n > WINO_CHUNK) n = WINO_CHUNK;
      const float *mu = m_r + u;
      /* A^T along the column: rows (0 + 1 + 2, 1 - 2 - 3). */
      for (size_t q = 0; q < 4; ++q) {
        const float *m0 = mu + (0 * 4 + q) * xi_stride, *m1 = mu + (1 * 4 + q) * xi_stride;
        const float *m2 = mu + (2 * 4 + q) * xi_stride, *m3 = mu + (3 * 4 + q) * xi_stride;
        for (size_t i = 0; i < n; ++i) {
          s[0][q][i] = m0[i] + m1[i] + m2[i];
          s[1][q][i] = m1[i] - m2[i] - m3[i];
        }
      }
      /* A along the row, bias, activation; the two output pixels of a tile interleave. */
      for (size_t a = 0; a < 2; ++a) {
        for (size_t i = 0; i < n; ++i) {
          o[a][2 * i] = pnn_activate(s[a][0][i] + s[a][1][i] + s[a][2][i] + b, act);
          o[a][2 * i + 1] = pnn_activate(s[a][1][i] - s[a][2][i] - s[a][3][i] + b, act);
        }
      }
      const size_t ox0 = 2 * tx0;
      const size_t cols = 2 * n <= out_w - ox0 ? 2 * n : out_w - ox0;
      for (size_t a = 0; a < 2; ++a) {
        const size_t oy = 2 * ty + a;
        if (oy < out_h) memcpy(y_r + oy * out_w + ox0, o[a], cols * sizeof(float));
      }
      u += n;
    }
  }
}
