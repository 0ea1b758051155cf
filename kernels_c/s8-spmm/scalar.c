/* u8 x s8 group-sparse product, plain C reference (contract in pnn_kernels_sparse.h).
 * Each output row is summed over a chunk of pixels at a time in int64 (so a caller
 * outside the contract gets a wrong answer rather than undefined behaviour; within it
 * the sums equal the int32 accumulators of the SIMD variants): bias first, then one
 * unit-stride pass over the chunk per nonzero, then pnn_requantize. The SIMD variants
 * also call this on pixel tails narrower than their vectors. */
#include "pnn_kernels.h"

enum { CHUNK = 64 /* pixels summed at once (stack accumulators) */ };

void pnn_u8_spmm_scalar(const pnn_sparse_s8 *w, size_t pixels, const uint8_t *x,
                        size_t x_stride, const int32_t *bias, const pnn_requant *rq,
                        uint8_t *y, size_t y_stride) {
  const size_t G = w->group;
  const uint32_t *idx = w->indices;
  const int8_t *val = w->values;
  for (size_t g = 0; g < w->n_groups; ++g) {
    const size_t nnz = w->group_nnz[g];
    for (size_t r = 0; r < G; ++r) {
      const size_t m = g * G + r;
      if (m >= w->rows) break; /* padding rows of a partial last group */
      for (size_t p0 = 0; p0 < pixels; p0 += CHUNK) {
        const size_t n = pixels - p0 < CHUNK ? pixels - p0 : CHUNK;
        int64_t acc[CHUNK];
        for (size_t p = 0; p < n; ++p) acc[p] = bias ? bias[m] : 0;
        for (size_t j = 0; j < nnz; ++j) {
          const int32_t v = val[j * G + r];
          const uint8_t *in = x + (size_t)idx[j] * x_stride + p0;
          for (size_t p = 0; p < n; ++p) acc[p] += v * (int32_t)in[p];
        }
        uint8_t *out = y + m * y_stride + p0;
        for (size_t p = 0; p < n; ++p) {
          out[p] = (uint8_t)pnn_requantize(acc[p], rq->multiplier[m], rq->shift[m],
                                           rq->zero_point, rq->lo, rq->hi);
        }
      }
    }
    idx += nnz;
    val += nnz * G;
  }
}
