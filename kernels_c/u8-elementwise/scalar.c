/* u8 element-wise operators, plain C references (docs/QUANTIZATION.md): the dyadic
 * Add of two branches, 256-entry table lookups and global average pooling. */
#include "pnn_kernels.h"

void pnn_u8_add_scalar(size_t n, const uint8_t *a, const uint8_t *b, size_t b_stride,
                       const pnn_u8_add_params *p, uint8_t *y) {
  for (size_t i = 0; i < n; ++i) {
    /* Each product is below 255 * 2^31, their sum below 2^40: no int64 overflow. */
    const int64_t sum = (int64_t)(a[i] - p->a_zero_point) * p->a_multiplier +
                        (int64_t)(b[i * b_stride] - p->b_zero_point) * p->b_multiplier;
    const int64_t v = pnn_rounding_shift(sum, p->shift) + p->zero_point;
    y[i] = (uint8_t)(v < p->lo ? p->lo : (v > p->hi ? p->hi : v));
  }
}

void pnn_u8_lut_scalar(size_t n, const uint8_t *x, const uint8_t table[256], uint8_t *y) {
  for (size_t i = 0; i < n; ++i) y[i] = table[x[i]];
}

uint8_t pnn_u8_global_avgpool_scalar(size_t n, const uint8_t *x, int32_t x_zero_point,
                                     int32_t multiplier, int32_t shift, int32_t zero_point) {
  /* Sum the raw bytes first (a loop compilers vectorize), then remove the zero points:
   * for n up to 2^23 the result fits the int32 accumulator pnn_requantize expects. */
  uint64_t raw = 0;
  for (size_t i = 0; i < n; ++i) raw += x[i];
  const int64_t acc = (int64_t)raw - (int64_t)n * x_zero_point;
  return (uint8_t)pnn_requantize(acc, multiplier, shift, zero_point, 0, 255);
}
