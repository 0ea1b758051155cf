/* Sign-bit packing of float activations and weights (contract in pnn_kernels_b1.h). */
#include "pnn_kernels.h"

#include <string.h>

#include "pnn_b1_popcount.h"

void pnn_b1_pack_scalar(size_t channels, size_t pixels, const float *x, size_t cs, size_t ps,
                        uint64_t *out, size_t ldo) {
  for (size_t p = 0; p < pixels; ++p) {
    uint64_t *row = out + p * ldo;
    memset(row, 0, ldo * sizeof *row);
    const float *px = x + p * ps;
    for (size_t c = 0; c < channels; ++c) {
      /* `< 0` rather than the sign bit: -0 and NaN count as +1. */
      row[c / 64] |= (uint64_t)(px[c * cs] < 0.0f) << (c % 64);
    }
  }
}

void pnn_b1_pack_conv_weights(size_t M, size_t C, size_t kh, size_t kw, const float *w,
                              uint64_t *packed, int32_t *tap_pop) {
  const size_t taps = kh * kw, cw = pnn_b1_words(C);
  for (size_t m = 0; m < M; ++m) {
    for (size_t t = 0; t < taps; ++t) {
      /* OIHW: channel c of tap t is w[(m * C + c) * taps + t]. */
      uint64_t *tap = packed + (m * taps + t) * cw;
      pnn_b1_pack_scalar(C, 1, w + m * C * taps + t, taps, 0, tap, cw);
      int32_t ones = 0;
      for (size_t k = 0; k < cw; ++k) ones += (int32_t)pnn_b1_popcount64(tap[k]);
      tap_pop[m * taps + t] = ones;
    }
  }
}
