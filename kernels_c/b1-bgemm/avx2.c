/* Binary GEMM and convolution for AVX2 (contract in pnn_kernels_b1.h), tile 4 rows x 8
 * pixels (two ymm of four 64-bit pixel words). Each row's xor words are summed along k
 * by a Harley-Seal carry-save tree (7 adders of 5 and/or/xor each per 8 words, all ALU
 * ports) with one nibble-table popcount (x86_lut_tile.h; 2 vpshufb + 1 shift, which only
 * two of Zen 4's four vector pipes run) per 8 words instead of one per word. The plain
 * nibble-table tile took 3-4% longer over the whole anchor conv. Driver:
 * bgemm_driver.h; the tree-delta step is x86_lut_tile.h's.
 *
 * ISA flags are set per file; pnn_b1_gemm_select only picks this with cpu->avx2_fma. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#define B1_ROWS 4
#define B1_PIXELS 8
#define V __m256i
#define V_ZERO() _mm256_setzero_si256()
#define V_LOAD(p) _mm256_load_si256((const __m256i *)(p))
#define V_SET1_64(u) _mm256_set1_epi64x((long long)(u))
#define V_SET1_8(b) _mm256_set1_epi8(b)
#define V_TABLE() _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4))
#define V_AND _mm256_and_si256
#define V_XOR _mm256_xor_si256
#define V_SRLI16 _mm256_srli_epi16
#define V_SHUFFLE8 _mm256_shuffle_epi8
#define V_ADD8 _mm256_add_epi8
#define V_ADD64 _mm256_add_epi64
#define V_SAD(v) _mm256_sad_epu8(v, _mm256_setzero_si256())
/* The low 32 bits of each 64-bit lane (counts stay far below 2^32). */
#define V_STORE_COUNTS(dst, v) \
  _mm_storeu_si128((__m128i *)(dst), \
                   _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7))))
#define V_OR _mm256_or_si256
#define V_SLLI64 _mm256_slli_epi64
#define B1_OWN_TILE
#include "x86_lut_tile.h"

enum { HS_BLOCK = 8 }; /* words a Harley-Seal step takes */

/* Carry-save adder: hi:lo = a + b + c, bit by bit. */
static inline void csa(V *hi, V *lo, V a, V b, V c) {
  const V u = V_XOR(a, b);
  *hi = V_OR(V_AND(a, b), V_AND(u, c));
  *lo = V_XOR(u, c);
}

/* The counts of one (row, 4 pixels) lane group over k: bit-sliced ones, twos and fours,
 * the byte popcounts of each block's eights, and their 64-bit sum. */
typedef struct hs_counter {
  V ones, twos, fours, eight_bytes, eight_total;
} hs_counter;

static inline V hs_word(const uint64_t *x, const uint64_t *w, size_t k) {
  return V_XOR(V_LOAD(x + k * B1_PIXELS), V_SET1_64(w[k]));
}

/* Words k .. k + 7 into c: 7 carry-save adders and one popcount instead of 8. */
static inline void hs_block(hs_counter *c, const uint64_t *x, const uint64_t *w, size_t k, V table, V low4) {
  V twos_a, twos_b, fours_a, fours_b, eights;
  csa(&twos_a, &c->ones, c->ones, hs_word(x, w, k), hs_word(x, w, k + 1));
  csa(&twos_b, &c->ones, c->ones, hs_word(x, w, k + 2), hs_word(x, w, k + 3));
  csa(&fours_a, &c->twos, c->twos, twos_a, twos_b);
  csa(&twos_a, &c->ones, c->ones, hs_word(x, w, k + 4), hs_word(x, w, k + 5));
  csa(&twos_b, &c->ones, c->ones, hs_word(x, w, k + 6), hs_word(x, w, k + 7));
  csa(&fours_b, &c->twos, c->twos, twos_a, twos_b);
  csa(&eights, &c->fours, c->fours, fours_a, fours_b);
  c->eight_bytes = V_ADD8(c->eight_bytes, lut_popcount_bytes(eights, table, low4));
}

/* The 64-bit totals of c after the words of the last whole block up to kw. */
static inline V hs_total(const hs_counter *c, const uint64_t *x, const uint64_t *w, size_t k, size_t kw,
                         V table, V low4) {
  V bytes = lut_popcount_bytes(c->fours, table, low4);
  bytes = V_ADD8(bytes, bytes);
  bytes = V_ADD8(bytes, lut_popcount_bytes(c->twos, table, low4));
  bytes = V_ADD8(bytes, bytes);
  bytes = V_ADD8(bytes, lut_popcount_bytes(c->ones, table, low4)); /* <= 56 a byte */
  for (; k < kw; ++k) bytes = V_ADD8(bytes, lut_popcount_bytes(hs_word(x, w, k), table, low4)); /* + 7 * 8 */
  const V eights = V_ADD64(c->eight_total, V_SAD(c->eight_bytes));
  return V_ADD64(V_SAD(bytes), V_SLLI64(eights, 3));
}

/* One row's counts over the tile's two 4-pixel vectors. */
static inline V hs_row_vector(size_t kw, const uint64_t *w, const uint64_t *x, V table, V low4) {
  const size_t blocks_end = kw - kw % HS_BLOCK;
  hs_counter c;
  c.ones = c.twos = c.fours = c.eight_bytes = c.eight_total = V_ZERO();
  size_t chunk = 0;
  for (size_t k = 0; k < blocks_end; k += HS_BLOCK) {
    hs_block(&c, x, w, k, table, low4);
    if (++chunk == LUT_CHUNK) { /* byte counts of <= 8 each: flush before 256 */
      chunk = 0;
      c.eight_total = V_ADD64(c.eight_total, V_SAD(c.eight_bytes));
      c.eight_bytes = V_ZERO();
    }
  }
  return hs_total(&c, x, w, blocks_end, kw, table, low4);
}

/* Row by row, each 4-pixel vector in turn: one counter set in registers (more spill). The
 * row's 8 counts leave in one 32-byte store, the width the output transform reads them
 * at (two 16-byte stores read back as one 32-byte load miss store forwarding). */
static void b1_tile(size_t kw, const uint64_t *const *w, const uint64_t *panel, uint32_t *counts) {
  const V table = V_TABLE(), low4 = V_SET1_8(0x0F);
  for (size_t r = 0; r < B1_ROWS; ++r) {
    const V low = hs_row_vector(kw, w[r], panel, table, low4);
    const V high = hs_row_vector(kw, w[r], panel + LUT_VECTOR_WORDS, table, low4);
    /* counts < 2^32: the high count into the odd 32-bit lanes, then lanes in pixel order */
    const V both = V_OR(low, V_SLLI64(high, 32));
    _mm256_storeu_si256((__m256i *)(counts + r * B1_PIXELS),
                        _mm256_permutevar8x32_epi32(both, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7)));
  }
}

#include "bgemm_driver.h"

PNN_B1_GEMM_KERNEL(pnn_b1_gemm_avx2, "avx2");

PNN_TARGET_END()

#endif
