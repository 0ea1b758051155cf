/* Weight packing shared by the SIMD s8 GEMM variants (portable C, no ISA code).
 *
 * Every variant stores W (row-major M x K) as blocks of `rows` consecutive output rows
 * (the kernel's row_block). Inside a block, k runs in groups of `group` consecutive
 * values: all rows' group 0 (row 0's `group` weights, then row 1's, ...), then all
 * rows' group 1, and so on up to k_padded:
 *
 *   packed[((block * k_groups + g) * rows + r) * group + j] = W[block*rows + r][g*group + j]
 *
 * with zeros past M (the last block's missing rows) and past K, so a kernel always
 * runs whole groups of whole blocks and the padding adds nothing. group is what one
 * broadcast lane holds: 4 s8 for vpdpbusd/sdot, 2 widened s16 for vpmaddwd and
 * i32x4.dot_i16x8_s, 1 s8 for widening multiply-accumulate.
 *
 * Also the X-side helper every N == 1 path starts from. */
#ifndef PNN_S8_GEMM_PACK_H
#define PNN_S8_GEMM_PACK_H

#include <stddef.h>
#include <stdint.h>

static inline size_t pnn_s8_round_up(size_t n, size_t multiple) {
  return (n + multiple - 1) / multiple * multiple;
}

/* Number of row blocks covering M rows. */
static inline size_t pnn_s8_row_blocks(size_t M, size_t rows) { return (M + rows - 1) / rows; }

static inline int8_t pnn_s8_weight_or_zero(size_t M, size_t K, const int8_t *W, size_t m,
                                           size_t k) {
  return m < M && k < K ? W[m * K + k] : 0;
}

/* Layout above with s8 elements; packed holds row_blocks(M, rows) * rows * k_padded bytes. */
static inline void pnn_s8_pack_blocks(size_t M, size_t K, const int8_t *W, size_t rows,
                                      size_t group, size_t k_padded, int8_t *packed) {
  const size_t blocks = pnn_s8_row_blocks(M, rows);
  for (size_t b = 0; b < blocks; ++b)
    for (size_t g = 0; g < k_padded / group; ++g)
      for (size_t r = 0; r < rows; ++r)
        for (size_t j = 0; j < group; ++j)
          *packed++ = pnn_s8_weight_or_zero(M, K, W, b * rows + r, g * group + j);
}

/* Layout above with the weights widened to s16 (for 16-bit multiply-add instructions). */
static inline void pnn_s8_pack_blocks_s16(size_t M, size_t K, const int8_t *W, size_t rows,
                                          size_t group, size_t k_padded, int16_t *packed) {
  const size_t blocks = pnn_s8_row_blocks(M, rows);
  for (size_t b = 0; b < blocks; ++b)
    for (size_t g = 0; g < k_padded / group; ++g)
      for (size_t r = 0; r < rows; ++r)
        for (size_t j = 0; j < group; ++j)
          *packed++ = pnn_s8_weight_or_zero(M, K, W, b * rows + r, g * group + j);
}

/* ---- s4 (int4 weights in [-7, 7]) --------------------------------------------------
 * The s4 form of a layout above keeps its element order (an element is one weight: one
 * byte of an s8 layout, one i16 of an s16 one) at 4 bits, in units of 2 * lanes
 * elements: byte i of a unit holds element i in its low nibble and element lanes + i in
 * its high nibble, two's complement. One load of `lanes` bytes, a mask and a shift by 4
 * (then a sign extension) give two vectors of `lanes` consecutive elements, exactly the
 * bytes (or, widened, the i16) the s8 kernel would have loaded. k_padded must make every
 * block a whole number of units (rows * k_padded a multiple of 2 * lanes): packed holds
 * row_blocks(M, rows) * rows * k_padded / 2 bytes. With rows = group = lanes = 1 this is
 * plain row-major W, two weights per byte, low nibble first, rows padded to even K. */
static inline void pnn_s4_pack_blocks(size_t M, size_t K, const int8_t *W, size_t rows,
                                      size_t group, size_t k_padded, size_t lanes,
                                      uint8_t *packed) {
  const size_t block_elements = rows * k_padded, unit = 2 * lanes;
  const size_t blocks = pnn_s8_row_blocks(M, rows);
  for (size_t b = 0; b < blocks; ++b) {
    uint8_t *block = packed + b * block_elements / 2;
    for (size_t e = 0; e < block_elements; ++e) {
      const size_t g = e / (rows * group), r = e / group % rows, j = e % group;
      const int8_t v = pnn_s8_weight_or_zero(M, K, W, b * rows + r, g * group + j);
      const size_t i = e % unit;
      uint8_t *byte = block + e / unit * lanes + i % lanes;
      const uint8_t nibble = (uint8_t)v & 0xF;
      *byte = i < lanes ? nibble : (uint8_t)((*byte & 0xF) | nibble << 4);
    }
  }
}

/* The single column of X for N == 1 (a GEMV), contiguous and zero-padded to k_padded. */
static inline void pnn_s8_gather_column(const uint8_t *X, size_t ldx, size_t K, size_t k_padded,
                                        uint8_t *column) {
  for (size_t k = 0; k < k_padded; ++k) column[k] = k < K ? X[k * ldx] : 0;
}

#endif /* PNN_S8_GEMM_PACK_H */
