/* Winograd F(2x2, 3x3), plain C reference transforms (tile by tile) and the
 * prepare-time weight transform (contract in pnn_kernels_nn.h). The SIMD drivers in
 * wino_impl.h compute every value by the same sequence of additions, so they match
 * these exactly. */
#include "pnn_kernels.h"

void pnn_f32_wino2_weights_scalar(const float *w, size_t M, size_t C, float *u) {
  /* G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] */
  static const float G[4][3] = {{1.0f, 0.0f, 0.0f}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0.0f, 0.0f, 1.0f}};
  for (size_t m = 0; m < M; ++m) {
    for (size_t c = 0; c < C; ++c) {
      const float *k = w + (m * C + c) * 9;
      float gk[4][3];
      for (size_t a = 0; a < 4; ++a)
        for (size_t j = 0; j < 3; ++j) gk[a][j] = G[a][0] * k[j] + G[a][1] * k[3 + j] + G[a][2] * k[6 + j];
      for (size_t a = 0; a < 4; ++a)
        for (size_t b = 0; b < 4; ++b)
          u[((a * 4 + b) * M + m) * C + c] = gk[a][0] * G[b][0] + gk[a][1] * G[b][1] + gk[a][2] * G[b][2];
    }
  }
}

void pnn_f32_wino2_input_scalar(const pnn_conv2d_geometry *g, const float *x, size_t t0,
                                size_t count, float *v, size_t xi_stride) {
  const size_t nr = PNN_GEMM_PB_NR, C = g->channels, in_h = g->in_h, in_w = g->in_w;
  const size_t tiles_w = (g->out_w + 1) / 2;
  for (size_t u = 0; u < count; ++u) {
    const size_t t = t0 + u, ty = t / tiles_w, tx = t % tiles_w;
    float *dst = v + (u / nr) * C * nr + u % nr;
    for (size_t c = 0; c < C; ++c) {
      const float *x_c = x + c * in_h * in_w;
      float h[4][4];
      for (size_t r = 0; r < 4; ++r) {
        float d[4];
        const size_t iy = 2 * ty + r - g->pad_top; /* wraps when above the image */
        for (size_t j = 0; j < 4; ++j) {
          const size_t ix = 2 * tx + j - g->pad_left; /* wraps when left of the image */
          d[j] = iy < in_h && ix < in_w ? x_c[iy * in_w + ix] : 0.0f;
        }
        /* d B along the row: columns (0 - 2, 1 + 2, 2 - 1, 1 - 3). */
        h[r][0] = d[0] - d[2];
        h[r][1] = d[1] + d[2];
        h[r][2] = d[2] - d[1];
        h[r][3] = d[1] - d[3];
      }
      /* B^T along the column. */
      float *dc = dst + c * nr;
      for (size_t q = 0; q < 4; ++q) {
        dc[(0 + q) * xi_stride] = h[0][q] - h[2][q];
        dc[(4 + q) * xi_stride] = h[1][q] + h[2][q];
        dc[(8 + q) * xi_stride] = h[2][q] - h[1][q];
        dc[(12 + q) * xi_stride] = h[1][q] - h[3][q];
      }
    }
  }
}

void pnn_f32_wino2_output_scalar(const pnn_conv2d_geometry *g, const float *m, size_t rows,
                                 size_t ldm, size_t xi_stride, size_t t0, size_t count,
                                 const float *bias, float *y, const float *residual,
                                 pnn_activation act) {
  const size_t out_h = g->out_h, out_w = g->out_w, plane = out_h * out_w;
  const size_t tiles_w = (out_w + 1) / 2;
  for (size_t r = 0; r < rows; ++r) {
    const float b = bias ? bias[r] : 0.0f;
    for (size_t u = 0; u < count; ++u) {
      const size_t t = t0 + u, ty = t / tiles_w, tx = t % tiles_w;
      const float *mu = m + r * ldm + u;
      /* A^T along the column: rows (0 + 1 + 2, 1 - 2 - 3). */
      float s[2][4];
      for (size_t q = 0; q < 4; ++q) {
        const float m0 = mu[(0 + q) * xi_stride], m1 = mu[(4 + q) * xi_stride];
        const float m2 = mu[(8 + q) * xi_stride], m3 = mu[(12 + q) * xi_stride];
        s[0][q] = m0 + m1 + m2;
        s[1][q] = m1 - m2 - m3;
      }
      /* A along the row, bias, activation. */
      for (size_t a = 0; a < 2; ++a) {
        const size_t oy = 2 * ty + a;
        const float p[2] = {s[a][0] + s[a][1] + s[a][2] + b, s[a][1] - s[a][2] - s[a][3] + b};
        for (size_t j = 0; j < 2; ++j) {
          const size_t ox = 2 * tx + j;
          const size_t at = r * plane + oy * out_w + ox;
          if (oy < out_h && ox < out_w) y[at] = pnn_activate(residual ? p[j] + residual[at] : p[j], act);
        }
      }
    }
  }
}
