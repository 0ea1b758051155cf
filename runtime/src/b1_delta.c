/* b1 weights stored as tree deltas (encoding B1_DELTA, format 1.10; docs/FORMAT.md,
 * "Binary tree-delta encoding"): a forest over the weight rows where a child row is its
 * parent's xor a sparse list of 64-bit words. Validated in full and decoded at load into
 * the plain rows the b1 kernels read, so nothing after the loader sees the encoding.
 *
 * Blob layout (offsets relative to its 64-byte aligned start, little-endian):
 *   0   u32 rows, row_words, roots, total_words, reserved[4]
 *   32  u32 order[rows]                  roots first, then every child after its parent
 *       u32 parent[rows - roots]         of order[roots + i]
 *       u32 count[rows - roots]          delta words of order[roots + i]
 *       u32 word[total_words]            per child, strictly ascending, < row_words
 *       zero padding to a multiple of 8
 *       u64 xor[total_words]             non-zero
 *       u64 root_rows[roots][row_words]  of order[0 .. roots) */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define B1_DELTA_HEADER_BYTES 32u

static uint32_t le_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le_u64(const uint8_t *p) { return (uint64_t)le_u32(p) | (uint64_t)le_u32(p + 4) << 32; }

/* PNN_ERR_FORMAT naming the tensor (t, error in scope; at least one argument). */
#define DELTA_FAIL(fmt, ...) \
  pnn_set_error(error, PNN_ERR_FORMAT, "b1 tree-delta constant \"%s\": " fmt, t->name, __VA_ARGS__)

/* Checks the blob against t's shape and every rule above, then decodes it into a fresh
 * allocation (t->decoded), to which t->data then points as a dense tensor. */
pnn_status pnn_b1_delta_decode(pnn_tensor *t, const uint8_t *blob, size_t size, pnn_error *error) {
  if (t->dtype != PNN_DTYPE_B1 || t->rank < 2) return DELTA_FAIL("dtype %u, rank %d: the encoding holds b1 of rank >= 2", (unsigned)t->dtype, t->rank);
  const uint64_t rows_shape = (uint64_t)t->dims[0];
  const uint64_t row_bits = (uint64_t)t->numel / rows_shape;
  if (row_bits % 64 != 0) return DELTA_FAIL("rows of %llu bits are not whole 64-bit words", (unsigned long long)row_bits);
  if (size < B1_DELTA_HEADER_BYTES) return DELTA_FAIL("%zu data bytes, the header needs 32", size);
  const uint64_t rows = le_u32(blob), row_words = le_u32(blob + 4), roots = le_u32(blob + 8);
  const uint64_t total = le_u32(blob + 12);
  for (size_t i = 16; i < B1_DELTA_HEADER_BYTES; ++i) {
    if (blob[i] != 0) return DELTA_FAIL("reserved header byte %zu is not 0", i);
  }
  if (rows != rows_shape || row_words != row_bits / 64) {
    return DELTA_FAIL("header says %llu rows of %llu words, the shape has %llu of %llu",
                      (unsigned long long)rows, (unsigned long long)row_words, (unsigned long long)rows_shape,
                      (unsigned long long)(row_bits / 64));
  }
  if (roots < 1 || roots > rows) return DELTA_FAIL("%llu roots of %llu rows", (unsigned long long)roots,
                                                   (unsigned long long)rows);
  const uint64_t children = rows - roots;
  /* bounds every product below: rows, row_words < 2^32, and the dense size < 2^48 */
  if (total > children * row_words) {
    return DELTA_FAIL("%llu delta words, %llu children of %llu words hold at most %llu", (unsigned long long)total,
                      (unsigned long long)children, (unsigned long long)row_words,
                      (unsigned long long)(children * row_words));
  }
  const uint64_t words_at = B1_DELTA_HEADER_BYTES + 4 * (rows + 2 * children);
  const uint64_t xor_at = (words_at + 4 * total + 7) / 8 * 8;
  const uint64_t roots_at = xor_at + 8 * total;
  const uint64_t expected = roots_at + 8 * roots * row_words;
  if ((uint64_t)size != expected) {
    return DELTA_FAIL("%zu data bytes, its header implies %llu", size, (unsigned long long)expected);
  }
  for (uint64_t i = words_at + 4 * total; i < xor_at; ++i) {
    if (blob[i] != 0) return DELTA_FAIL("padding byte %llu is not 0", (unsigned long long)i);
  }
  const uint8_t *order = blob + B1_DELTA_HEADER_BYTES, *parent = order + 4 * rows, *count = parent + 4 * children;
  const uint8_t *word = blob + words_at, *xors = blob + xor_at, *root_rows = blob + roots_at;

  /* position[r]: where row r comes in `order` (rows meaning not yet placed) */
  uint32_t *position = malloc(sizeof(uint32_t) * (size_t)rows);
  uint64_t *out = malloc(t->nbytes);
  if (position == NULL || out == NULL) {
    free(position);
    free(out);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "out of memory decoding \"%s\"", t->name);
  }
  pnn_status status = PNN_OK;
  for (uint64_t r = 0; r < rows; ++r) position[r] = (uint32_t)rows;
  uint64_t k = 0; /* next delta word */
  for (uint64_t i = 0; i < rows && status == PNN_OK; ++i) {
    const uint64_t r = le_u32(order + 4 * i);
    if (r >= rows || position[r] != rows) {
      status = DELTA_FAIL("order[%llu] = %llu is not a row, or repeats one", (unsigned long long)i,
                          (unsigned long long)r);
      break;
    }
    position[r] = (uint32_t)i;
    uint64_t *row = out + r * row_words;
    if (i < roots) {
      for (uint64_t j = 0; j < row_words; ++j) row[j] = le_u64(root_rows + 8 * (i * row_words + j));
      continue;
    }
    const uint64_t c = i - roots, p = le_u32(parent + 4 * c), n = le_u32(count + 4 * c);
    if (p >= rows || position[p] >= i) {
      status = DELTA_FAIL("row %llu's parent %llu does not come before it", (unsigned long long)r,
                          (unsigned long long)p);
      break;
    }
    if (n > row_words || n > total - k) {
      status = DELTA_FAIL("row %llu has %llu delta words, %llu left of %llu", (unsigned long long)r,
                          (unsigned long long)n, (unsigned long long)(total - k), (unsigned long long)total);
      break;
    }
    memcpy(row, out + p * row_words, sizeof(uint64_t) * (size_t)row_words);
    for (uint64_t e = k; e < k + n; ++e) {
      const uint64_t at = le_u32(word + 4 * e), x = le_u64(xors + 8 * e);
      if (at >= row_words || (e > k && at <= le_u32(word + 4 * (e - 1))) || x == 0) {
        status = DELTA_FAIL("delta word %llu (index %llu) is out of range, out of order or 0",
                            (unsigned long long)e, (unsigned long long)at);
        break;
      }
      row[at] ^= x;
    }
    k += n;
  }
  if (status == PNN_OK && k != total) {
    status = DELTA_FAIL("the children hold %llu delta words, the header says %llu", (unsigned long long)k,
                        (unsigned long long)total);
  }
  free(position);
  if (status != PNN_OK) {
    free(out);
    return status;
  }
  t->decoded = out;
  t->data = out;
  t->encoding = PNN_ENCODING_DENSE;
  return PNN_OK;
}
