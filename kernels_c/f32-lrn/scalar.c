/* Local response normalization across channels (ONNX LRN), NCHW, one image. */
#include <math.h>

#include "pnn_kernels.h"

void pnn_f32_lrn_scalar(const float *x, float *y, size_t channels, size_t pixels, size_t size,
                        float alpha, float beta, float bias) {
  /* The window is asymmetric for even sizes: floor((size-1)/2) channels before,
   * ceil((size-1)/2) after, as the ONNX spec defines. */
  const size_t before = (size - 1) / 2;
  const size_t after = size - 1 - before;
  const float scale = alpha / (float)size;
  for (size_t c = 0; c < channels; ++c) {
    const size_t first = c > before ? c - before : 0;
    const size_t last = c + after < channels ? c + after : channels - 1;
    for (size_t p = 0; p < pixels; ++p) {
      float square_sum = 0.0f;
      for (size_t i = first; i <= last; ++i) {
        const float v = x[i * pixels + p];
        square_sum += v * v;
      }
      y[c * pixels + p] = x[c * pixels + p] / powf(bias + scale * square_sum, beta);
    }
  }
}
