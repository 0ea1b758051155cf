/* The taps of one pooling window (f32 and u8 average pooling): which kernel rows and
 * columns land inside the image, and how many taps the window has inside the image and
 * inside the image plus the explicit padding (the ceil_mode overhang past the padding
 * counts for neither), as ONNX AveragePool divides by one or the other. */
#ifndef PNN_POOL_TAPS_H
#define PNN_POOL_TAPS_H

#include "pnn_kernels.h"

typedef struct pnn_pool_taps {
  size_t i_begin, i_end, j_begin, j_end; /* kernel rows / columns inside the image */
  size_t in_image, in_padded;
} pnn_pool_taps;

/* Kernel positions [*begin, *end) whose coordinate start + k * step - pad lies in [0,
 * size), and how many lie in [-pad, size + pad_end) (unsigned: coordinates shifted by
 * pad). Taps inside the image are contiguous since the coordinate grows with k. */
static inline size_t pnn_pool_axis(size_t start, size_t step, size_t kernel, size_t pad, size_t pad_end,
                                   size_t size, size_t *begin, size_t *end) {
  size_t padded = 0;
  *begin = kernel;
  *end = 0;
  for (size_t k = 0; k < kernel; ++k) {
    const size_t p = start + k * step; /* padded coordinate */
    if (p >= size + pad + pad_end) continue;
    ++padded;
    if (p - pad < size) { /* wraps above the image */
      if (*begin == kernel) *begin = k;
      *end = k + 1;
    }
  }
  if (*begin == kernel) *begin = *end = 0;
  return padded;
}

static inline void pnn_pool_taps_of(const pnn_pool2d_geometry *g, size_t oy, size_t ox, pnn_pool_taps *t) {
  const size_t rows = pnn_pool_axis(oy * g->stride_h, g->dilation_h, g->kernel_h, g->pad_top, g->pad_bottom,
                                    g->in_h, &t->i_begin, &t->i_end);
  const size_t cols = pnn_pool_axis(ox * g->stride_w, g->dilation_w, g->kernel_w, g->pad_left, g->pad_right,
                                    g->in_w, &t->j_begin, &t->j_end);
  t->in_padded = rows * cols;
  t->in_image = (t->i_end - t->i_begin) * (t->j_end - t->j_begin);
}

#endif /* PNN_POOL_TAPS_H */
