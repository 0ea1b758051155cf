/* f32 group-sparse x dense product, plain C reference (contract in
 * pnn_kernels_sparse.h). Each output row is accumulated in place in y: bias first,
 * then one pass over the pixels per nonzero (unit-stride inner loop), then the
 * activation. The ISA variants also call this on narrow pixel tails. */
#include "pnn_kernels.h"
#include "pnn_kernels_sparse.h"

void pnn_f32_spmm_scalar(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                         size_t x_stride, const float *bias, float *y, size_t y_stride,
                         pnn_activation act) {
  const size_t G = w->group;
  const uint32_t *idx = w->indices;
  const float *val = w->values;
  for (size_t g = 0; g < w->n_groups; ++g) {
    const size_t nnz = w->group_nnz[g];
    for (size_t r = 0; r < G; ++r) {
      const size_t m = g * G + r;
      if (m >= w->rows) break; /* padding rows of a partial last group */
      float *out = y + m * y_stride;
      const float b = bias ? bias[m] : 0.0f;
      for (size_t p = 0; p < pixels; ++p) out[p] = b;
      for (size_t j = 0; j < nnz; ++j) {
        const float v = val[j * G + r];
        const float *in = x + (size_t)idx[j] * x_stride;
        for (size_t p = 0; p < pixels; ++p) out[p] += v * in[p];
      }
      if (act.kind != PNN_ACT_NONE) {
        for (size_t p = 0; p < pixels; ++p) out[p] = pnn_activate(out[p], act);
      }
    }
    idx += nnz;
    val += nnz * G;
  }
}
