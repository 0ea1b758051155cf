/* The nibble-table popcount micro-tile shared by the AVX2 and AVX-512 BW variants (one
 * algorithm, two vector widths): vpshufb looks up the popcount of the low and high 4 bits
 * of each byte, byte counts are summed for up to 31 words (8 a word: 31 * 8 < 256), then
 * vpsadbw widens them into 64-bit lanes. Micro-tile B1_ROWS rows x 2 vectors of pixel
 * words. Before including, the ISA file defines B1_ROWS, B1_PIXELS (= 2 * words a
 * vector) and the vector hooks:
 *   V (the type), V_ZERO(), V_LOAD(p), V_SET1_64(u), V_SET1_8(b), V_TABLE() (the 16
 *   nibble counts in every 128-bit lane), V_AND, V_XOR, V_SRLI16(v, n), V_SHUFFLE8,
 *   V_ADD8, V_ADD64, V_SAD(v) (vpsadbw against 0), V_STORE_COUNTS(dst, v) (the low 32
 *   bits of each 64-bit lane to dst).
 * Also the tree-delta step b1_delta (bgemm_driver.h) on the same tables. An ISA file
 * that brings its own b1_tile (AVX2: a Harley-Seal tree) defines B1_OWN_TILE. */
#ifndef PNN_B1_X86_LUT_TILE_H
#define PNN_B1_X86_LUT_TILE_H

enum { LUT_CHUNK = 31 }; /* words whose byte counts fit a byte */
#define LUT_VECTOR_WORDS (B1_PIXELS / 2)

static inline V lut_popcount_bytes(V v, V table, V low4) {
  return V_ADD8(V_SHUFFLE8(table, V_AND(v, low4)), V_SHUFFLE8(table, V_AND(V_SRLI16(v, 4), low4)));
}

#ifndef B1_OWN_TILE /* else the ISA file brings its own b1_tile */
static void b1_tile(size_t kw, const uint64_t *const *w, const uint64_t *panel, uint32_t *counts) {
  const V table = V_TABLE(), low4 = V_SET1_8(0x0F);
  V total[B1_ROWS][2];
  for (size_t r = 0; r < B1_ROWS; ++r) total[r][0] = total[r][1] = V_ZERO();
  for (size_t k0 = 0; k0 < kw; k0 += LUT_CHUNK) {
    const size_t k1 = kw - k0 < LUT_CHUNK ? kw : k0 + LUT_CHUNK;
    V bytes[B1_ROWS][2];
    for (size_t r = 0; r < B1_ROWS; ++r) bytes[r][0] = bytes[r][1] = V_ZERO();
    for (size_t k = k0; k < k1; ++k) {
      const V x0 = V_LOAD(panel + k * B1_PIXELS);
      const V x1 = V_LOAD(panel + k * B1_PIXELS + LUT_VECTOR_WORDS);
      for (size_t r = 0; r < B1_ROWS; ++r) {
        const V wv = V_SET1_64(w[r][k]);
        bytes[r][0] = V_ADD8(bytes[r][0], lut_popcount_bytes(V_XOR(x0, wv), table, low4));
        bytes[r][1] = V_ADD8(bytes[r][1], lut_popcount_bytes(V_XOR(x1, wv), table, low4));
      }
    }
    for (size_t r = 0; r < B1_ROWS; ++r) {
      total[r][0] = V_ADD64(total[r][0], V_SAD(bytes[r][0]));
      total[r][1] = V_ADD64(total[r][1], V_SAD(bytes[r][1]));
    }
  }
  for (size_t r = 0; r < B1_ROWS; ++r) {
    V_STORE_COUNTS(counts + r * B1_PIXELS, total[r][0]);
    V_STORE_COUNTS(counts + r * B1_PIXELS + LUT_VECTOR_WORDS, total[r][1]);
  }
}
#endif

/* The tree-delta step (bgemm_driver.h) with the same nibble-table popcount. */
#define B1_HAS_DELTA
static void b1_delta(size_t words, const uint32_t *word, const uint64_t *mask, const uint64_t *wp,
                     const uint64_t *panel, uint32_t d, const uint32_t *from, uint32_t *to) {
  const V table = V_TABLE(), low4 = V_SET1_8(0x0F);
  V total0 = V_ZERO(), total1 = V_ZERO();
  for (size_t j0 = 0; j0 < words; j0 += LUT_CHUNK) {
    const size_t j1 = words - j0 < LUT_CHUNK ? words : j0 + LUT_CHUNK;
    V bytes0 = V_ZERO(), bytes1 = V_ZERO();
    for (size_t j = j0; j < j1; ++j) {
      const uint64_t *x = panel + (size_t)word[j] * B1_PIXELS;
      const V wv = V_SET1_64(wp[word[j]]), dv = V_SET1_64(mask[j]);
      bytes0 = V_ADD8(bytes0, lut_popcount_bytes(V_AND(V_XOR(V_LOAD(x), wv), dv), table, low4));
      bytes1 = V_ADD8(bytes1, lut_popcount_bytes(V_AND(V_XOR(V_LOAD(x + LUT_VECTOR_WORDS), wv), dv), table, low4));
    }
    total0 = V_ADD64(total0, V_SAD(bytes0));
    total1 = V_ADD64(total1, V_SAD(bytes1));
  }
  uint32_t flips[B1_PIXELS];
  V_STORE_COUNTS(flips, total0);
  V_STORE_COUNTS(flips + LUT_VECTOR_WORDS, total1);
  /* unsigned: the true count is never negative, an intermediate wrap is defined */
  for (size_t p = 0; p < B1_PIXELS; ++p) to[p] = from[p] + d - 2u * flips[p];
}

#endif /* PNN_B1_X86_LUT_TILE_H */
