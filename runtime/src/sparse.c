/* Group-sparse constants (docs/FORMAT.md, "Group-sparse encoding"): validation of the
 * stored blob at load, the views the ops hand to the SpMM kernels, and which op inputs
 * may be sparse.
 *
 * Blob layout (offsets relative to its 64-byte aligned start):
 *   0   u32 rows, cols, group, n_groups, total_nnz, value_dtype, reserved[2]
 *   32  idx group_nnz[n_groups]
 *       idx indices[total_nnz]
 *       zero padding to a multiple of 64
 *       values[total_nnz * group]: f32 (format 1.1) or s8 (1.3)
 * idx is u32 (encoding GROUP_SPARSE) or u16 (GROUP_SPARSE16, format 1.7). In GROUP_SPARSE16
 * reserved[0] is `block`: group_nnz, total_nnz and indices count units of `block`
 * consecutive columns (cols / block <= 65535), each with block * group values.
 * GROUP_SPARSE_BITMASK (format 1.9) has `block` too, and in place of both idx arrays one
 * bitmask per group of ceil(units / 8) bytes (unit u: bit u % 8 of byte u / 8; the bits
 * past `units` zero); the set bits, in order, are the group's stored units.
 * Everything is checked here once, so the views (and the kernels) trust it. The u16
 * arrays and the bitmasks are decoded to u32 at load: the kernels keep one index layout
 * and their speed, for 4 bytes of memory per group and per stored column. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SPARSE_HEADER_BYTES 32u
#define SPARSE_ALIGNMENT 64u
#define SPARSE_MAX_COLS 2147483647ULL

static uint32_t le_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
#define SPARSE16_MAX_UNITS 65535ULL

/* Bytes of one group_nnz or index entry of an encoding (the bitmask encoding has none). */
static size_t index_bytes(uint8_t encoding) {
  return encoding == PNN_ENCODING_GROUP_SPARSE16 ? 2 : encoding == PNN_ENCODING_GROUP_SPARSE ? 4 : 0;
}

/* Whether header word 6 is a column block (else reserved, 0). */
static bool has_block(uint8_t encoding) {
  return encoding == PNN_ENCODING_GROUP_SPARSE16 || encoding == PNN_ENCODING_GROUP_SPARSE_BITMASK;
}

/* Bytes of one group's bitmask over `units` column units. */
static uint64_t bitmask_bytes(uint64_t units) { return (units + 7) / 8; }

/* Stored units of group g: the set bits of its bitmask (validated: none past `units`). */
static uint32_t bitmask_count(const uint8_t *masks, uint64_t row_bytes, uint32_t g) {
  const uint8_t *row = masks + (size_t)(row_bytes * g);
  uint32_t n = 0;
  for (uint64_t i = 0; i < row_bytes; ++i) {
    for (uint8_t b = row[i]; b != 0; b &= (uint8_t)(b - 1)) ++n;
  }
  return n;
}

/* Entry k of a u32 (ib = 4) or u16 (ib = 2) little-endian array. The arrays are aligned
 * in a loaded model, but a hostile file's values are read bytewise anyway so no check
 * depends on alignment. */
static uint32_t load_index(const uint8_t *array, size_t ib, uint64_t k) {
  const uint8_t *p = array + ib * (size_t)k;
  return ib == 2 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : le_u32(p);
}

typedef struct sparse_header {
  uint32_t rows, cols, group, n_groups, total_nnz, value_dtype, reserved0, reserved1;
} sparse_header;

static void read_header(const uint8_t *blob, sparse_header *h) {
  h->rows = le_u32(blob);
  h->cols = le_u32(blob + 4);
  h->group = le_u32(blob + 8);
  h->n_groups = le_u32(blob + 12);
  h->total_nnz = le_u32(blob + 16);
  h->value_dtype = le_u32(blob + 20);
  h->reserved0 = le_u32(blob + 24);
  h->reserved1 = le_u32(blob + 28);
}

/* Offset of the values: after the header and both index arrays (ib bytes an entry), or
 * the bitmasks (n_groups of `units` bits), rounded up to 64. At most 32 + 4 * (2^32 - 1) * 2
 * + 63, or 32 + 2^32 * 2^28 + 63 (units < 2^31), so no overflow in 64 bits. */
static uint64_t values_offset(uint8_t encoding, uint64_t n_groups, uint64_t total_nnz, uint64_t units) {
  const size_t ib = index_bytes(encoding);
  const uint64_t end = SPARSE_HEADER_BYTES + (ib == 0 ? n_groups * bitmask_bytes(units) : ib * n_groups + ib * total_nnz);
  return (end + SPARSE_ALIGNMENT - 1) / SPARSE_ALIGNMENT * SPARSE_ALIGNMENT;
}

/* A PNN_ERR_FORMAT naming the tensor (inside pnn_sparse_validate: uses `error` and `t`). */
#define SPARSE_FAIL(fmt, ...) \
  pnn_set_error(error, PNN_ERR_FORMAT, "group-sparse tensor \"%s\": " fmt, t->name, __VA_ARGS__)

/* Bytes of one stored value: the dtypes a group-sparse tensor may have, else 0. */
static size_t value_bytes(uint8_t dtype) {
  switch (dtype) {
    case PNN_DTYPE_F32: return sizeof(float);
    case PNN_DTYPE_S8: return 1;
    default: return 0;
  }
}

/* Whether value k * group + r of the blob's values is zero (+0.0 or -0.0 for f32). */
static bool value_is_zero(const uint8_t *values, size_t elem, uint64_t at) {
  if (elem == 1) return values[at] == 0;
  float v;
  memcpy(&v, values + elem * (size_t)at, sizeof(v));
  return v == 0.0f;
}

/* The bytes between the index arrays (or bitmasks) and the values must be zero. */
static pnn_status check_padding(const pnn_tensor *t, const uint8_t *blob, const uint8_t *from, const uint8_t *values,
                                pnn_error *error) {
  for (const uint8_t *p = from; p < values; ++p) {
    if (*p != 0) return SPARSE_FAIL("padding byte %zu before the values is not zero", (size_t)(p - blob));
  }
  return PNN_OK;
}

/* Rows past the end in a partial last group must hold zeros: the kernels may compute
 * them, and a nonzero there would be a weight of no row. `last_nnz`: the last group's
 * stored units (validated, with total_nnz, against the blob's size). */
static pnn_status check_tail_rows(const pnn_tensor *t, const sparse_header *h, const uint8_t *values,
                                  uint32_t last_nnz, uint64_t block, size_t elem, pnn_error *error) {
  const uint64_t rows = h->rows;
  const uint64_t tail = rows - ((uint64_t)h->n_groups - 1) * h->group; /* rows of the last group that exist */
  if (tail >= h->group) return PNN_OK;
  const uint64_t stored_cols = (uint64_t)h->total_nnz * block;
  const uint64_t first = ((uint64_t)h->total_nnz - last_nnz) * block; /* in stored columns */
  for (uint64_t k = first; k < stored_cols; ++k) {
    for (uint64_t r = tail; r < h->group; ++r) {
      if (!value_is_zero(values, elem, k * h->group + r)) {
        return SPARSE_FAIL("row %llu of the last group is past the last row (%llu) but not zero",
                           (unsigned long long)((uint64_t)h->n_groups - 1) * h->group + r, (unsigned long long)rows);
      }
    }
  }
  return PNN_OK;
}

/* Encoding 4 after the header and size checks: no bit past `units` in any group, the
 * set bits add up to total_nnz, zero padding, zero rows past the end. */
static pnn_status validate_bitmasks(const pnn_tensor *t, const sparse_header *h, const uint8_t *blob,
                                    uint64_t units, uint64_t block, size_t elem, pnn_error *error) {
  const uint8_t *masks = blob + SPARSE_HEADER_BYTES;
  const uint64_t row_bytes = bitmask_bytes(units);
  const uint8_t spare = (uint8_t)(units % 8 == 0 ? 0 : 0xFFu << (units % 8)); /* bits past units, last byte */
  uint64_t total = 0;
  uint32_t count = 0;
  for (uint32_t g = 0; g < h->n_groups; ++g) {
    if ((masks[(size_t)(row_bytes * g + row_bytes - 1)] & spare) != 0) {
      return SPARSE_FAIL("group %u: its bitmask has bits set past the %llu column units", (unsigned)g,
                         (unsigned long long)units);
    }
    count = bitmask_count(masks, row_bytes, g);
    total += count;
  }
  if (total != h->total_nnz) {
    return SPARSE_FAIL("the bitmasks hold %llu units, total_nnz is %u", (unsigned long long)total,
                       (unsigned)h->total_nnz);
  }
  const uint8_t *values = blob + (size_t)values_offset(PNN_ENCODING_GROUP_SPARSE_BITMASK, h->n_groups, h->total_nnz,
                                                       units);
  const pnn_status st = check_padding(t, blob, masks + (size_t)(row_bytes * h->n_groups), values, error);
  if (st != PNN_OK) return st;
  return check_tail_rows(t, h, values, count, block, elem, error);
}

pnn_status pnn_sparse_validate(const pnn_tensor *t, const uint8_t *blob, size_t size, pnn_error *error) {
  const size_t elem = value_bytes(t->dtype);
  if (t->kind != PNN_TENSOR_CONSTANT || elem == 0 || t->rank < 2) {
    return pnn_set_error(error, PNN_ERR_FORMAT,
                         "tensor \"%s\" is group-sparse but is not a constant f32 or s8 tensor of rank >= 2",
                         t->name);
  }
  if (size < SPARSE_HEADER_BYTES) {
    return SPARSE_FAIL("%zu data bytes, its header alone is %u", size, SPARSE_HEADER_BYTES);
  }
  sparse_header h;
  read_header(blob, &h);
  /* rows * cols == numel <= 2^51 was checked by the loader, so cols fits in 64 bits. */
  const uint64_t rows = (uint64_t)t->dims[0];
  const uint64_t cols = (uint64_t)t->numel / rows;
  if (h.rows != rows || h.cols != cols) {
    return SPARSE_FAIL("its header says %u x %u, its shape is %llu x %llu", (unsigned)h.rows, (unsigned)h.cols,
                       (unsigned long long)rows, (unsigned long long)cols);
  }
  /* Encodings 2 and 4 store units of `block` consecutive columns (a k x k convolution's
   * kernel window): header word 6 is the block, the counts and indices are in units. */
  const size_t ib = index_bytes(t->encoding);
  const bool blocked = has_block(t->encoding);
  const uint64_t block = blocked ? h.reserved0 : 1;
  if (blocked && (block == 0 || cols % block != 0)) {
    return SPARSE_FAIL("column block %u does not divide the %llu columns", (unsigned)h.reserved0,
                       (unsigned long long)cols);
  }
  if (!blocked && h.reserved0 != 0) {
    return SPARSE_FAIL("reserved header field is %u, not 0", (unsigned)h.reserved0);
  }
  const uint64_t units = cols / block;
  const unsigned long long max_units = ib == 2 ? SPARSE16_MAX_UNITS : SPARSE_MAX_COLS;
  if (units > max_units) {
    return SPARSE_FAIL("%llu column units, the limit of encoding %u is %llu", (unsigned long long)units,
                       (unsigned)t->encoding, max_units);
  }
  if (h.group != 1 && h.group != 2 && h.group != 4 && h.group != 8) {
    return SPARSE_FAIL("group size %u is not 1, 2, 4 or 8", (unsigned)h.group);
  }
  const uint64_t n_groups = (rows + h.group - 1) / h.group;
  if (h.n_groups != n_groups) {
    return SPARSE_FAIL("n_groups is %u, ceil(rows / group) is %llu", (unsigned)h.n_groups,
                       (unsigned long long)n_groups);
  }
  if (h.value_dtype != t->dtype) {
    return SPARSE_FAIL("value dtype %u differs from the tensor's %u", (unsigned)h.value_dtype,
                       (unsigned)t->dtype);
  }
  if (h.reserved1 != 0) {
    return SPARSE_FAIL("reserved header field is %u, not 0", (unsigned)h.reserved1);
  }
  /* total_nnz <= n_groups * units keeps total_nnz * block <= n_groups * cols < 2^52, so
   * every count below fits in 64 bits. */
  if (h.total_nnz > n_groups * units) {
    return SPARSE_FAIL("total_nnz %u exceeds %llu groups of %llu units", (unsigned)h.total_nnz,
                       (unsigned long long)n_groups, (unsigned long long)units);
  }
  const uint64_t stored_cols = (uint64_t)h.total_nnz * block;
  const uint64_t voff = values_offset(t->encoding, h.n_groups, h.total_nnz, units);
  const uint64_t expected = voff + stored_cols * h.group * elem;
  if (expected != (uint64_t)size) {
    return SPARSE_FAIL("%zu data bytes, its header needs %llu", size, (unsigned long long)expected);
  }
  /* Now every array lies inside the blob. */
  const uint8_t *group_nnz = blob + SPARSE_HEADER_BYTES;
  const uint8_t *values = blob + (size_t)voff;
  if (ib == 0) return validate_bitmasks(t, &h, blob, units, block, elem, error);
  const uint8_t *indices = group_nnz + ib * (size_t)h.n_groups;
  const pnn_status padding = check_padding(t, blob, indices + ib * (size_t)h.total_nnz, values, error);
  if (padding != PNN_OK) return padding;
  uint64_t at = 0; /* first index of the current group */
  for (uint32_t g = 0; g < h.n_groups; ++g) {
    const uint32_t nnz = load_index(group_nnz, ib, g);
    if (nnz > units) {
      return SPARSE_FAIL("group %u has %u stored units, the tensor has %llu", (unsigned)g, (unsigned)nnz,
                         (unsigned long long)units);
    }
    if (nnz > h.total_nnz - at) {
      return SPARSE_FAIL("the stored units of groups 0..%u exceed total_nnz %u", (unsigned)g,
                         (unsigned)h.total_nnz);
    }
    for (uint32_t k = 0; k < nnz; ++k) {
      const uint32_t c = load_index(indices, ib, at + k);
      if (c >= units) {
        return SPARSE_FAIL("group %u: index %u is out of range (%llu units of %llu columns)", (unsigned)g,
                           (unsigned)c, (unsigned long long)units, (unsigned long long)block);
      }
      if (k > 0 && c <= load_index(indices, ib, at + k - 1)) {
        return SPARSE_FAIL("group %u: indices are not strictly ascending (entry %u is %u)", (unsigned)g,
                           (unsigned)k, (unsigned)c);
      }
    }
    at += nnz;
  }
  if (at != h.total_nnz) {
    return SPARSE_FAIL("the groups' stored units add up to %llu, total_nnz is %u", (unsigned long long)at,
                       (unsigned)h.total_nnz);
  }
  return check_tail_rows(t, &h, values, load_index(group_nnz, ib, h.n_groups - 1), block, elem, error);
}

pnn_status pnn_sparse_widen(pnn_tensor *t, pnn_error *error) {
  if (!has_block(t->encoding)) return PNN_OK;
  sparse_header h;
  read_header(t->data, &h);
  /* Validated: the stored columns' values lie inside the blob, so the count fits in size_t. */
  const size_t block = h.reserved0, n_groups = h.n_groups, units = h.total_nnz;
  const size_t entries = n_groups + units * block;
  t->sparse_index = malloc((entries > 0 ? entries : 1) * sizeof(uint32_t));
  if (t->sparse_index == NULL) {
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "group-sparse tensor \"%s\": no memory for its %zu indices",
                         t->name, entries);
  }
  const uint8_t *group_nnz = (const uint8_t *)t->data + SPARSE_HEADER_BYTES;
  uint32_t *cols = t->sparse_index + n_groups;
  if (t->encoding == PNN_ENCODING_GROUP_SPARSE_BITMASK) {
    const size_t row_bytes = (size_t)bitmask_bytes((uint64_t)(t->numel / (size_t)t->dims[0]) / block);
    for (size_t g = 0; g < n_groups; ++g) {
      const uint8_t *row = group_nnz + row_bytes * g;
      t->sparse_index[g] = bitmask_count(group_nnz, row_bytes, (uint32_t)g) * (uint32_t)block;
      for (size_t i = 0; i < row_bytes; ++i) {
        for (unsigned bit = 0; bit < 8; ++bit) {
          if (!(row[i] >> bit & 1u)) continue;
          const uint32_t first = (uint32_t)(8 * i + bit) * (uint32_t)block;
          for (size_t j = 0; j < block; ++j) *cols++ = first + (uint32_t)j;
        }
      }
    }
    return PNN_OK;
  }
  const uint8_t *indices = group_nnz + 2 * n_groups;
  for (size_t g = 0; g < n_groups; ++g) t->sparse_index[g] = load_index(group_nnz, 2, g) * (uint32_t)block;
  for (size_t k = 0; k < units; ++k) {
    const uint32_t first = load_index(indices, 2, k) * (uint32_t)block;
    for (size_t j = 0; j < block; ++j) *cols++ = first + (uint32_t)j;
  }
  return PNN_OK;
}

/* The arrays of a loaded group-sparse constant of dtype `dtype`, validated at load
 * (pnn_sparse_validate: the header agrees with the dims; pnn_sparse_widen). */
static pnn_status sparse_arrays(const pnn_tensor *t, uint8_t dtype, size_t *rows, size_t *cols, size_t *group,
                                size_t *n_groups, const uint32_t **group_nnz, const uint32_t **indices,
                                const void **values) {
  if (t == NULL || t->data == NULL || t->dtype != dtype ||
      (t->encoding != PNN_ENCODING_GROUP_SPARSE && (!has_block(t->encoding) || t->sparse_index == NULL))) {
    return PNN_ERR_INVALID_ARGUMENT;
  }
  const uint8_t *blob = t->data;
  sparse_header h;
  read_header(blob, &h);
  *rows = (size_t)t->dims[0];
  *cols = t->numel / *rows;
  *group = h.group;
  *n_groups = h.n_groups;
  *group_nnz = has_block(t->encoding) ? t->sparse_index : (const uint32_t *)(const void *)(blob + SPARSE_HEADER_BYTES);
  *indices = *group_nnz + h.n_groups;
  const uint64_t units = has_block(t->encoding) ? *cols / h.reserved0 : *cols;
  *values = blob + (size_t)values_offset(t->encoding, h.n_groups, h.total_nnz, units);
  return PNN_OK;
}

pnn_status pnn_tensor_sparse_view(const pnn_tensor *t, pnn_sparse_f32 *view) {
  if (view == NULL) return PNN_ERR_INVALID_ARGUMENT;
  const void *values = NULL;
  pnn_status st = sparse_arrays(t, PNN_DTYPE_F32, &view->rows, &view->cols, &view->group, &view->n_groups,
                                &view->group_nnz, &view->indices, &values);
  view->values = values;
  return st;
}

pnn_status pnn_tensor_sparse_s8_view(const pnn_tensor *t, pnn_sparse_s8 *view) {
  if (view == NULL) return PNN_ERR_INVALID_ARGUMENT;
  const void *values = NULL;
  pnn_status st = sparse_arrays(t, PNN_DTYPE_S8, &view->rows, &view->cols, &view->group, &view->n_groups,
                                &view->group_nnz, &view->indices, &values);
  view->values = values;
  return st;
}

bool pnn_input_may_be_sparse(const pnn_node *node, uint32_t input) {
  /* The inputs an op's prepare reads through pnn_tensor_sparse_view or
   * pnn_tensor_sparse_s8_view; every other op would read the blob as dense data. */
  switch (node->op) {
    case 1: return input == 1;  /* Conv: W (group 1; prepare refuses the rest) */
    case 3: return input == 1;  /* Gemm: B (trans_b = 1; prepare refuses the rest) */
    case 82: return input == 1; /* QConv: W (s8, group 1) */
    case 83: return input == 1; /* QGemm: W (s8) */
    default: return false;
  }
}
