/* Sign-bit packing of float activations and weights (contract in pnn_kernels_b1.h). */
#include "pnn_kernels.h"

#include "pnn_b1_popcount.h"

enum { PACK_PIXELS = 64 }; /* pixels whose words are built together */

/* Blocked over pixels: for each channel of a word, one pass over a block of pixels (with
 * NCHW input contiguous floats), a compare, a shift and an or per pixel; the compiler
 * vectorizes it. */
void pnn_b1_pack_scalar(size_t channels, size_t pixels, const float *x, size_t cs, size_t ps,
                        uint64_t *out, size_t ldo) {
  const size_t words = pnn_b1_words(channels);
  for (size_t p0 = 0; p0 < pixels; p0 += PACK_PIXELS) {
    const size_t count = pixels - p0 < PACK_PIXELS ? pixels - p0 : PACK_PIXELS;
    for (size_t wi = 0; wi < ldo; ++wi) {
      uint64_t word[PACK_PIXELS] = {0};
      const size_t c_end = wi < words ? (wi + 1 == words ? channels : 64 * (wi + 1)) : 0;
      for (size_t c = 64 * wi; c < c_end; ++c) {
        const float *px = x + c * cs + p0 * ps;
        /* `< 0` rather than the sign bit: -0 and NaN count as +1. */
        for (size_t p = 0; p < count; ++p) word[p] |= (uint64_t)(px[p * ps] < 0.0f) << (c % 64);
      }
      for (size_t p = 0; p < count; ++p) out[(p0 + p) * ldo + wi] = word[p];
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
