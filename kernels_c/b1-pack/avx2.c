/* Sign-bit packing of float activations for AVX2 (contract in pnn_kernels_b1.h), for
 * inputs whose pixels are contiguous (NCHW, ps = 1); anything else goes to the reference.
 * Per 8 pixels and channel: one compare (`< 0`, so -0 and NaN give 0 as in the
 * reference) and a movemask make a byte with a bit per pixel; 8 such bytes (8 channels)
 * are an 8x8 bit matrix, transposed in a register into a byte of 8 channel bits per
 * pixel. The reference's per-float shift and or into 64-bit words did not vectorize with
 * the strided loop and took about 1/6 of a 256-channel binary 3x3 conv.
 *
 * ISA flags are set per file; pnn_b1_pack_select only picks this with cpu->avx2_fma. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

enum { PACK_PIXELS = 8 }; /* pixels a movemask covers */

/* Transposes the 8x8 bit matrix whose byte i is row i (bit j = column j). */
static uint64_t transpose8x8(uint64_t x) {
  uint64_t t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
  x ^= t ^ (t << 7);
  t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
  x ^= t ^ (t << 14);
  t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
  return x ^ t ^ (t << 28);
}

/* Stores the transpose of the 8x8 byte matrix rows[g] (byte p = column p) to out[p * ldo]:
 * word p gets byte p of each row, row g in its byte g. */
static void store_byte_transpose(const uint64_t rows[8], uint64_t *out, size_t ldo) {
  __m128i r[8];
  for (size_t g = 0; g < 8; ++g) r[g] = _mm_cvtsi64_si128((long long)rows[g]);
  const __m128i b01 = _mm_unpacklo_epi8(r[0], r[1]), b23 = _mm_unpacklo_epi8(r[2], r[3]);
  const __m128i b45 = _mm_unpacklo_epi8(r[4], r[5]), b67 = _mm_unpacklo_epi8(r[6], r[7]);
  const __m128i w0123lo = _mm_unpacklo_epi16(b01, b23), w0123hi = _mm_unpackhi_epi16(b01, b23);
  const __m128i w4567lo = _mm_unpacklo_epi16(b45, b67), w4567hi = _mm_unpackhi_epi16(b45, b67);
  const __m128i words[4] = {_mm_unpacklo_epi32(w0123lo, w4567lo), _mm_unpackhi_epi32(w0123lo, w4567lo),
                            _mm_unpacklo_epi32(w0123hi, w4567hi), _mm_unpackhi_epi32(w0123hi, w4567hi)};
  for (size_t i = 0; i < 4; ++i) {
    out[2 * i * ldo] = (uint64_t)_mm_cvtsi128_si64(words[i]);
    out[(2 * i + 1) * ldo] = (uint64_t)_mm_extract_epi64(words[i], 1);
  }
}

/* Word wi of 8 whole pixels starting at x (channel c at x + c * cs) into out[p * ldo]. */
static void pack_word(size_t channels, size_t wi, const float *x, size_t cs, uint64_t *out, size_t ldo) {
  const __m256 zero = _mm256_setzero_ps();
  uint64_t columns[8]; /* columns[g], byte p: pixel p's bits of channels 64 wi + 8 g .. + 8 */
  for (size_t g = 0; g < 8; ++g) {
    uint64_t rows = 0; /* byte j: the 8 pixels' bits of channel 64 wi + 8 g + j */
    for (size_t j = 0; j < 8; ++j) {
      const size_t c = 64 * wi + 8 * g + j;
      if (c >= channels) break;
      const __m256 v = _mm256_loadu_ps(x + c * cs);
      rows |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_LT_OQ)) << (8 * j);
    }
    columns[g] = transpose8x8(rows);
  }
  store_byte_transpose(columns, out, ldo);
}

void pnn_b1_pack_avx2(size_t channels, size_t pixels, const float *x, size_t cs, size_t ps, uint64_t *out,
                      size_t ldo) {
  if (ps != 1) {
    pnn_b1_pack_scalar(channels, pixels, x, cs, ps, out, ldo);
    return;
  }
  const size_t words = pnn_b1_words(channels), whole = pixels / PACK_PIXELS * PACK_PIXELS;
  for (size_t p0 = 0; p0 < whole; p0 += PACK_PIXELS) {
    for (size_t wi = 0; wi < ldo; ++wi) {
      if (wi < words) {
        pack_word(channels, wi, x + p0, cs, out + p0 * ldo + wi, ldo);
      } else {
        for (size_t p = 0; p < PACK_PIXELS; ++p) out[(p0 + p) * ldo + wi] = 0;
      }
    }
  }
  if (whole < pixels) pnn_b1_pack_scalar(channels, pixels - whole, x + whole, cs, 1, out + whole * ldo, ldo);
}

PNN_TARGET_END()

#endif
