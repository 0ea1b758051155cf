/* The nibble-table popcount micro-tile shared by the AVX2 and AVX-512 BW variants (one
 * algorithm, two vector widths): vpshufb looks up the popcount of the low and high 4 bits
 * of each byte, byte counts are summed for up to 31 words (8 a word: 31 * 8 < 256), then
 * vpsadbw widens them into 64-bit lanes. Micro-tile B1_ROWS rows x 2 vectors of pixel
 * words.
 *
 * Split nibbles: xor commutes with taking a nibble, so the panel is kept as its low
 * nibbles and its high nibbles (shifted down) once per block (b1_panel_ready), and each
 * row tile splits its weights once per chunk: a word then costs two xors, two lookups and
 * two byte adds, without the shift and the two masks of every (row, pixel) pair (6
 * vector operations instead of 8, and no shift competing with vpshufb for its ports).
 *
 * Before including, the ISA file defines B1_ROWS, B1_PIXELS (= 2 * words a vector) and
 * the vector hooks:
 *   V (the type), V_ZERO(), V_LOAD(p), V_SET1_64(u), V_TABLE() (the 16 nibble counts in
 *   every 128-bit lane), V_XOR, V_SHUFFLE8, V_ADD8, V_ADD64, V_SAD(v) (vpsadbw against
 *   0), V_STORE_COUNTS(dst, v) (the low 32 bits of each 64-bit lane to dst). */
#ifndef PNN_B1_X86_LUT_TILE_H
#define PNN_B1_X86_LUT_TILE_H

enum { LUT_CHUNK = 31 }; /* words whose byte counts fit a byte */
#define LUT_VECTOR_WORDS (B1_PIXELS / 2)
#define LUT_LOW_NIBBLES 0x0F0F0F0F0F0F0F0Full

/* The panel holds two copies: low nibbles, then high nibbles shifted down. */
#define B1_PANEL_COPIES 2
static void b1_panel_ready(size_t kw, uint64_t *panel) {
  uint64_t *high = panel + kw * B1_PIXELS;
  for (size_t i = 0; i < kw * B1_PIXELS; ++i) {
    high[i] = (panel[i] >> 4) & LUT_LOW_NIBBLES;
    panel[i] &= LUT_LOW_NIBBLES;
  }
}

/* Byte counts of words [k0, k1) (k1 - k0 <= LUT_CHUNK) added to total. Not inlined, so
 * that total stays in memory and the 8 byte accumulators get the registers. */
__attribute__((noinline)) static void lut_chunk(size_t kw, size_t k0, size_t k1, const uint64_t *const *w, const uint64_t *panel,
                             V total[B1_ROWS][2]) {
  uint64_t w_low[B1_ROWS][LUT_CHUNK], w_high[B1_ROWS][LUT_CHUNK];
  for (size_t r = 0; r < B1_ROWS; ++r) {
    for (size_t k = k0; k < k1; ++k) {
      w_low[r][k - k0] = w[r][k] & LUT_LOW_NIBBLES;
      w_high[r][k - k0] = (w[r][k] >> 4) & LUT_LOW_NIBBLES;
    }
  }
  const V table = V_TABLE();
  const uint64_t *high = panel + kw * B1_PIXELS;
  V bytes[B1_ROWS][2];
  for (size_t r = 0; r < B1_ROWS; ++r) bytes[r][0] = bytes[r][1] = V_ZERO();
  for (size_t k = k0; k < k1; ++k) {
    const V lo0 = V_LOAD(panel + k * B1_PIXELS), lo1 = V_LOAD(panel + k * B1_PIXELS + LUT_VECTOR_WORDS);
    const V hi0 = V_LOAD(high + k * B1_PIXELS), hi1 = V_LOAD(high + k * B1_PIXELS + LUT_VECTOR_WORDS);
    for (size_t r = 0; r < B1_ROWS; ++r) {
      const V wl = V_SET1_64(w_low[r][k - k0]), wh = V_SET1_64(w_high[r][k - k0]);
      bytes[r][0] = V_ADD8(bytes[r][0], V_ADD8(V_SHUFFLE8(table, V_XOR(lo0, wl)), V_SHUFFLE8(table, V_XOR(hi0, wh))));
      bytes[r][1] = V_ADD8(bytes[r][1], V_ADD8(V_SHUFFLE8(table, V_XOR(lo1, wl)), V_SHUFFLE8(table, V_XOR(hi1, wh))));
    }
  }
  for (size_t r = 0; r < B1_ROWS; ++r) {
    total[r][0] = V_ADD64(total[r][0], V_SAD(bytes[r][0]));
    total[r][1] = V_ADD64(total[r][1], V_SAD(bytes[r][1]));
  }
}

static void b1_tile(size_t kw, const uint64_t *const *w, const uint64_t *panel, uint32_t *counts) {
  V total[B1_ROWS][2];
  for (size_t r = 0; r < B1_ROWS; ++r) total[r][0] = total[r][1] = V_ZERO();
  for (size_t k0 = 0; k0 < kw; k0 += LUT_CHUNK) lut_chunk(kw, k0, kw - k0 < LUT_CHUNK ? kw : k0 + LUT_CHUNK, w, panel, total);
  for (size_t r = 0; r < B1_ROWS; ++r) {
    V_STORE_COUNTS(counts + r * B1_PIXELS, total[r][0]);
    V_STORE_COUNTS(counts + r * B1_PIXELS + LUT_VECTOR_WORDS, total[r][1]);
  }
}

#endif /* PNN_B1_X86_LUT_TILE_H */
