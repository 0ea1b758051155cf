/* Winograd F(2x2, 3x3), plain C reference transforms and the prepare-time weight
 * transform (see pnn_kernels_nn.h). */
#include "pnn_kernels.h"

#define WINO_FN(name) name##_scalar
#include "wino_impl.h"

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
