/* .pnn loader and validator (docs/FORMAT.md), and the model info functions.
 *
 * Nothing read from the file is trusted before it is checked: every read is bounded
 * by the section it belongs to, every count is checked against what the remaining
 * bytes could hold before anything is allocated from it, and the graph is validated
 * (ids, topological order, single assignment) before the ops' prepare functions see
 * it. Any failure frees everything allocated so far. */
#define _POSIX_C_SOURCE 200809L /* stat, getenv */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crc32.h"
#include "internal.h"
#include "planner.h"

#define PNN_MAGIC "PNN\0"
#define HEADER_SIZE 64u
#define CHECKSUM_OFFSET 8u
#define DATA_ALIGNMENT 64u
#define MAX_STRING_BYTES 4096u
#define MAX_DIM 2147483647LL
#define MAX_TENSOR_BYTES (1ULL << 48)
#define MAX_NODE_INPUTS 1024u
#define MAX_NODE_OUTPUTS 1024u
#define MAX_NODE_ATTRS 64u
#define MAX_ATTR_LIST 65536u
#define MAX_META 65536u
#define MAX_TENSORS (1u << 24)
#define MAX_NODES (1u << 24)
/* Smallest encodings of one entry, to bound counts by the bytes present. */
#define MIN_META_BYTES 9u    /* key length, type, 4-byte string length */
#define MIN_TENSOR_BYTES 24u /* name length, dtype/encoding/kind/rank, offset, size */
#define MIN_NODE_BYTES 22u   /* op, name length, 3 counts, one output id */
#define MIN_ATTR_BYTES 9u    /* name length, type, a float */

enum meta_type { META_STRING = 1, META_INT = 2, META_FLOAT = 3 };

/* ---- bounded little-endian reads ------------------------------------------- */

typedef struct reader {
  const uint8_t *base;
  size_t pos, end;   /* reads stay inside [pos, end) */
  char where[48];    /* context for messages, e.g. "tensor 3" */
  pnn_error *error;
} reader;

static pnn_status need(reader *r, size_t n, const char *what) {
  if (n <= r->end - r->pos) return PNN_OK;
  return pnn_set_error(r->error, PNN_ERR_FORMAT,
                       "truncated: %s: %s needs %zu bytes at offset %zu, the section ends at %zu",
                       r->where, what, n, r->pos, r->end);
}

static uint64_t le_bytes(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

static pnn_status read_uint(reader *r, int n, uint64_t *out, const char *what) {
  pnn_status s = need(r, (size_t)n, what);
  if (s != PNN_OK) return s;
  *out = le_bytes(r->base + r->pos, n);
  r->pos += (size_t)n;
  return PNN_OK;
}

static pnn_status read_u8(reader *r, uint8_t *out, const char *what) {
  uint64_t v = 0;
  pnn_status s = read_uint(r, 1, &v, what);
  *out = (uint8_t)v;
  return s;
}

static pnn_status read_u16(reader *r, uint16_t *out, const char *what) {
  uint64_t v = 0;
  pnn_status s = read_uint(r, 2, &v, what);
  *out = (uint16_t)v;
  return s;
}

static pnn_status read_u32(reader *r, uint32_t *out, const char *what) {
  uint64_t v = 0;
  pnn_status s = read_uint(r, 4, &v, what);
  *out = (uint32_t)v;
  return s;
}

static pnn_status read_i64(reader *r, int64_t *out, const char *what) {
  uint64_t v = 0;
  pnn_status s = read_uint(r, 8, &v, what);
  memcpy(out, &v, sizeof(v)); /* two's complement reinterpretation without UB */
  return s;
}

static pnn_status read_f32(reader *r, float *out, const char *what) {
  uint64_t v = 0;
  pnn_status s = read_uint(r, 4, &v, what);
  uint32_t bits = (uint32_t)v;
  memcpy(out, &bits, sizeof(bits));
  return s;
}

static pnn_status read_f64(reader *r, double *out, const char *what) {
  uint64_t v = 0;
  pnn_status s = read_uint(r, 8, &v, what);
  memcpy(out, &v, sizeof(v));
  return s;
}

/* A tensor id: -1 (only when `optional`) or an index into the tensor table. */
static pnn_status read_tensor_id(reader *r, uint32_t n_tensors, bool optional, int32_t *out,
                                 const char *what) {
  uint32_t raw = 0;
  pnn_status s = read_u32(r, &raw, what);
  if (s != PNN_OK) return s;
  int32_t id;
  memcpy(&id, &raw, sizeof(id));
  if ((optional && id == -1) || (id >= 0 && (uint32_t)id < n_tensors)) {
    *out = id;
    return PNN_OK;
  }
  return pnn_set_error(r->error, PNN_ERR_FORMAT, "%s: %s is tensor id %ld, the file has %u tensors",
                       r->where, what, (long)id, (unsigned)n_tensors);
}

/* Well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), so
 * names are safe to hand to Python and JavaScript as text. */
static bool valid_utf8(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1Fu, min = 0x80;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0Fu, min = 0x800;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07u, min = 0x10000;
    else return false;
    if (len > n - i) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

/* u32 length + bytes, no NUL, UTF-8, at most MAX_STRING_BYTES: a new NUL-terminated copy. */
static pnn_status read_string(reader *r, char **out, const char *what) {
  uint32_t len = 0;
  pnn_status s = read_u32(r, &len, what);
  if (s != PNN_OK) return s;
  if (len > MAX_STRING_BYTES) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT, "%s: %s is %u bytes long, the limit is %u",
                         r->where, what, (unsigned)len, MAX_STRING_BYTES);
  }
  if ((s = need(r, len, what)) != PNN_OK) return s;
  const uint8_t *bytes = r->base + r->pos;
  if (memchr(bytes, 0, len) != NULL) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT, "%s: %s contains a NUL byte", r->where, what);
  }
  if (!valid_utf8(bytes, len)) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT, "%s: %s is not valid UTF-8", r->where, what);
  }
  char *copy = malloc((size_t)len + 1);
  if (copy == NULL) return pnn_set_error(r->error, PNN_ERR_OUT_OF_MEMORY, "out of memory");
  memcpy(copy, bytes, len);
  copy[len] = '\0';
  r->pos += len;
  *out = copy;
  return PNN_OK;
}

/* A count read from the file must be within `limit` and its entries must fit in the
 * bytes left, so an allocation sized from it is bounded by the file size. */
static pnn_status check_count(reader *r, uint64_t count, uint64_t limit, uint64_t min_entry_bytes,
                              const char *what) {
  if (count > limit) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT, "%s: %s is %llu, the limit is %llu", r->where,
                         what, (unsigned long long)count, (unsigned long long)limit);
  }
  if (count * min_entry_bytes > (uint64_t)(r->end - r->pos)) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT,
                         "truncated: %s: %s is %llu but only %zu bytes are left in the section",
                         r->where, what, (unsigned long long)count, r->end - r->pos);
  }
  return PNN_OK;
}

#define TRY(expr)                      \
  do {                                 \
    pnn_status try_status_ = (expr);   \
    if (try_status_ != PNN_OK) return try_status_; \
  } while (0)

static pnn_status out_of_memory(pnn_error *error) {
  return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "out of memory loading the model");
}

/* ---- header ------------------------------------------------------------------ */

typedef struct header {
  uint16_t major, minor;
  uint32_t checksum, header_size;
  uint64_t file_size;
  uint32_t n_meta, n_tensors, n_nodes, n_inputs, n_outputs;
  uint64_t data_offset, data_size;
} header;

static uint32_t file_checksum(const uint8_t *data, size_t size) {
  static const uint8_t ZEROS[4] = {0, 0, 0, 0};
  uint32_t crc = pnn_crc32(0, data, CHECKSUM_OFFSET);
  crc = pnn_crc32(crc, ZEROS, sizeof(ZEROS));
  return pnn_crc32(crc, data + CHECKSUM_OFFSET + 4, size - CHECKSUM_OFFSET - 4);
}

static pnn_status parse_header(const uint8_t *d, size_t size, header *h, pnn_error *error) {
  if (size < HEADER_SIZE) {
    return pnn_set_error(error, PNN_ERR_FORMAT,
                         "truncated: the file is %zu bytes, a .pnn header alone is %u", size, HEADER_SIZE);
  }
  if (memcmp(d, PNN_MAGIC, 4) != 0) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "not a .pnn file (bad magic bytes)");
  }
  h->major = (uint16_t)le_bytes(d + 4, 2);
  h->minor = (uint16_t)le_bytes(d + 6, 2);
  if (h->major != PNN_VERSION_MAJOR) {
    return pnn_set_error(error, PNN_ERR_VERSION,
                         "file format version %u.%u is not supported: this runtime reads version %d.x "
                         "(up to %d.%d)",
                         (unsigned)h->major, (unsigned)h->minor, PNN_VERSION_MAJOR, PNN_VERSION_MAJOR,
                         PNN_VERSION_MINOR);
  }
  h->checksum = (uint32_t)le_bytes(d + 8, 4);
  h->header_size = (uint32_t)le_bytes(d + 12, 4);
  h->file_size = le_bytes(d + 16, 8);
  h->n_meta = (uint32_t)le_bytes(d + 24, 4);
  h->n_tensors = (uint32_t)le_bytes(d + 28, 4);
  h->n_nodes = (uint32_t)le_bytes(d + 32, 4);
  h->n_inputs = (uint32_t)le_bytes(d + 36, 4);
  h->n_outputs = (uint32_t)le_bytes(d + 40, 4);
  /* d + 44: reserved, ignored */
  h->data_offset = le_bytes(d + 48, 8);
  h->data_size = le_bytes(d + 56, 8);
  if (h->header_size != HEADER_SIZE) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "header_size is %u, expected %u",
                         (unsigned)h->header_size, HEADER_SIZE);
  }
  if (h->file_size != (uint64_t)size) {
    return pnn_set_error(error, PNN_ERR_FORMAT,
                         "the file is %zu bytes but its header says %llu (truncated or padded)", size,
                         (unsigned long long)h->file_size);
  }
  uint32_t actual = file_checksum(d, size);
  if (actual != h->checksum) {
    return pnn_set_error(error, PNN_ERR_CHECKSUM, "checksum mismatch: stored 0x%08x, computed 0x%08x",
                         (unsigned)h->checksum, (unsigned)actual);
  }
  if (h->data_offset < HEADER_SIZE || h->data_offset % DATA_ALIGNMENT != 0 ||
      h->data_offset > (uint64_t)size || h->data_size != (uint64_t)size - h->data_offset) {
    return pnn_set_error(error, PNN_ERR_FORMAT,
                         "data section [%llu, +%llu) is not a 64-aligned range ending at the file end (%zu)",
                         (unsigned long long)h->data_offset, (unsigned long long)h->data_size, size);
  }
  return PNN_OK;
}

/* ---- sections ---------------------------------------------------------------- */

static pnn_status parse_metadata(reader *r, pnn_model *m, uint32_t count) {
  snprintf(r->where, sizeof(r->where), "%s", "metadata");
  TRY(check_count(r, count, MAX_META, MIN_META_BYTES, "metadata count"));
  if (count == 0) return PNN_OK;
  m->meta = calloc(count, sizeof(*m->meta));
  if (m->meta == NULL) return out_of_memory(r->error);
  m->n_meta = count;
  for (uint32_t i = 0; i < count; ++i) {
    pnn_meta *e = &m->meta[i];
    TRY(read_string(r, &e->key, "metadata key"));
    TRY(read_u8(r, &e->type, "metadata type"));
    switch (e->type) {
      case META_STRING: TRY(read_string(r, &e->str, "metadata string")); break;
      case META_INT: TRY(read_i64(r, &e->i, "metadata int")); break;
      case META_FLOAT: TRY(read_f64(r, &e->f, "metadata float")); break;
      default:
        return pnn_set_error(r->error, PNN_ERR_FORMAT, "metadata \"%s\" has unknown type %u", e->key,
                             (unsigned)e->type);
    }
  }
  return PNN_OK;
}

/* Bits per element of a dtype the format can carry, 0 for an unknown code. */
static unsigned dtype_bits(uint8_t dtype) {
  switch (dtype) {
    case PNN_DTYPE_F32: return 32;
    case PNN_DTYPE_F16: return 16;
    case PNN_DTYPE_S8: return 8;
    case PNN_DTYPE_U8: return 8;
    case PNN_DTYPE_S4: return 4;
    case PNN_DTYPE_B1: return 1;
    case PNN_DTYPE_S32: return 32;
    case PNN_DTYPE_S64: return 64;
    case PNN_DTYPE_BOOL: return 8;
    default: return 0;
  }
}

/* Encoding 3 (format 1.8): a constant s32 tensor stored as numel s8 or s16 values
 * (data_size / numel bytes each, at any offset), sign-extended here into an owned
 * dense copy. From then on the tensor is an ordinary dense constant: no operator needs
 * to know, and the small per-channel tables it is made for cost a copy of bytes. */
static pnn_status widen_narrow_int(reader *r, pnn_tensor *t, const header *h, const uint8_t *file,
                                   uint64_t offset, uint64_t size) {
  if (t->dtype != PNN_DTYPE_S32) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT, "narrowed constant \"%s\" is not s32", t->name);
  }
  if (size != t->numel && size != 2 * (uint64_t)t->numel) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT,
                         "narrowed constant \"%s\" has %llu data bytes; its %zu values need %zu (s8) or %zu (s16)",
                         t->name, (unsigned long long)size, t->numel, t->numel, 2 * t->numel);
  }
  if (offset > h->data_size || size > h->data_size - offset) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT,
                         "constant \"%s\" data [%llu, +%llu) is not inside the data section (%llu bytes)", t->name,
                         (unsigned long long)offset, (unsigned long long)size, (unsigned long long)h->data_size);
  }
  t->widened = malloc(t->nbytes);
  if (t->widened == NULL) return out_of_memory(r->error);
  const uint8_t *src = file + h->data_offset + offset;
  const bool s16 = size != t->numel;
  for (size_t i = 0; i < t->numel; ++i) {
    const int32_t raw = s16 ? (int32_t)(src[2 * i] | (uint32_t)src[2 * i + 1] << 8) : (int32_t)src[i];
    const int32_t half = s16 ? 32768 : 128;
    t->widened[i] = raw >= half ? raw - 2 * half : raw;
  }
  t->data = t->widened;
  t->encoding = PNN_ENCODING_DENSE;
  return PNN_OK;
}

/* max_memory bounds what a tensor may be decoded into at load (pnn_load_options). */
static pnn_status parse_tensor(reader *r, pnn_tensor *t, const header *h, const uint8_t *file, size_t max_memory) {
  TRY(read_string(r, &t->name, "tensor name"));
  if (t->name[0] == '\0') return pnn_set_error(r->error, PNN_ERR_FORMAT, "%s has an empty name", r->where);
  uint8_t rank = 0;
  TRY(read_u8(r, &t->dtype, "dtype"));
  TRY(read_u8(r, &t->encoding, "encoding"));
  TRY(read_u8(r, &t->kind, "kind"));
  TRY(read_u8(r, &rank, "rank"));
  /* A newer minor version may add dtypes and encodings: then an unknown code is
   * something this runtime lacks, not a malformed file. */
  const pnn_status unknown = h->minor > PNN_VERSION_MINOR ? PNN_ERR_UNSUPPORTED : PNN_ERR_FORMAT;
  unsigned bits = dtype_bits(t->dtype);
  if (bits == 0) {
    return pnn_set_error(r->error, unknown, "tensor \"%s\" has unknown dtype code %u", t->name,
                         (unsigned)t->dtype);
  }
  if (t->dtype == PNN_DTYPE_BOOL && h->minor < 4) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT,
                         "tensor \"%s\" is bool, which a version 1.%u file cannot hold (1.4+)", t->name,
                         (unsigned)h->minor);
  }
  if (t->encoding == PNN_ENCODING_GROUP_SPARSE && h->minor < 1) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT,
                         "tensor \"%s\" is group-sparse, which a version 1.%u file cannot hold (1.1+)",
                         t->name, (unsigned)h->minor);
  }
  if (t->encoding == PNN_ENCODING_GROUP_SPARSE && t->dtype == PNN_DTYPE_S8 && h->minor < 3) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT,
                         "tensor \"%s\" is group-sparse s8, which a version 1.%u file cannot hold (1.3+)",
                         t->name, (unsigned)h->minor);
  }
  if (t->encoding == PNN_ENCODING_GROUP_SPARSE16 && h->minor < 7) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT,
                         "tensor \"%s\" is group-sparse with 16-bit indices, which a version 1.%u file cannot "
                         "hold (1.7+)",
                         t->name, (unsigned)h->minor);
  }
  if (t->encoding == PNN_ENCODING_GROUP_SPARSE_BITMASK && h->minor < 9) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT,
                         "tensor \"%s\" is group-sparse with bitmasks, which a version 1.%u file cannot hold (1.9+)",
                         t->name, (unsigned)h->minor);
  }
  if (t->encoding == PNN_ENCODING_NARROW_INT && h->minor < 8) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT,
                         "tensor \"%s\" holds narrowed integers, which a version 1.%u file cannot hold (1.8+)",
                         t->name, (unsigned)h->minor);
  }
  if (t->encoding == PNN_ENCODING_B1_DELTA && h->minor < 10) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT,
                         "tensor \"%s\" holds b1 tree deltas, which a version 1.%u file cannot hold (1.10+)",
                         t->name, (unsigned)h->minor);
  }
  if (t->encoding != PNN_ENCODING_DENSE && t->encoding != PNN_ENCODING_GROUP_SPARSE &&
      t->encoding != PNN_ENCODING_GROUP_SPARSE16 && t->encoding != PNN_ENCODING_NARROW_INT &&
      t->encoding != PNN_ENCODING_GROUP_SPARSE_BITMASK && t->encoding != PNN_ENCODING_B1_DELTA) {
    return pnn_set_error(r->error, unknown, "tensor \"%s\" has unknown encoding %u", t->name,
                         (unsigned)t->encoding);
  }
  if (t->kind != PNN_TENSOR_ACTIVATION && t->kind != PNN_TENSOR_CONSTANT) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT, "tensor \"%s\" has unknown kind %u", t->name,
                         (unsigned)t->kind);
  }
  if (rank > PNN_MAX_RANK) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT, "tensor \"%s\" has rank %u, the limit is %d", t->name,
                         (unsigned)rank, PNN_MAX_RANK);
  }
  t->rank = rank;
  /* numel * bits stays below 2^64 because numel is kept <= 2^51. */
  const uint64_t max_numel = MAX_TENSOR_BYTES * 8;
  uint64_t numel = 1;
  for (int d = 0; d < rank; ++d) {
    TRY(read_i64(r, &t->dims[d], "dim"));
    if (t->dims[d] < 1 || t->dims[d] > MAX_DIM) {
      return pnn_set_error(r->error, PNN_ERR_FORMAT, "tensor \"%s\" has dim %lld outside [1, %lld]",
                           t->name, (long long)t->dims[d], MAX_DIM);
    }
    if (numel > max_numel / (uint64_t)t->dims[d]) {
      return pnn_set_error(r->error, PNN_ERR_FORMAT, "tensor \"%s\" is too large", t->name);
    }
    numel *= (uint64_t)t->dims[d];
  }
  uint64_t nbytes = (numel * bits + 7) / 8;
  if (nbytes > MAX_TENSOR_BYTES) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT, "tensor \"%s\" is too large", t->name);
  }
  if (nbytes > SIZE_MAX / 2 || numel > SIZE_MAX / 2) {
    return pnn_set_error(r->error, PNN_ERR_UNSUPPORTED,
                         "tensor \"%s\" (%llu bytes) does not fit in this platform's address space",
                         t->name, (unsigned long long)nbytes);
  }
  t->numel = (size_t)numel;
  t->nbytes = (size_t)nbytes;
  t->producer = -1;
  t->last_use = -1;
  uint64_t offset = 0, size = 0;
  TRY(read_uint(r, 8, &offset, "data offset"));
  TRY(read_uint(r, 8, &size, "data size"));
  if (t->kind == PNN_TENSOR_ACTIVATION) {
    if (t->encoding != PNN_ENCODING_DENSE) {
      return pnn_set_error(r->error, PNN_ERR_FORMAT, "activation \"%s\" is not dense", t->name);
    }
    if (offset != 0 || size != 0) {
      return pnn_set_error(r->error, PNN_ERR_FORMAT, "activation \"%s\" has a data range", t->name);
    }
    return PNN_OK;
  }
  if (t->encoding == PNN_ENCODING_NARROW_INT) return widen_narrow_int(r, t, h, file, offset, size);
  /* A dense constant's size follows from its shape; a group-sparse one's from its own
   * header, checked by pnn_sparse_validate once the range is known to be in the file. */
  if (t->encoding == PNN_ENCODING_DENSE && size != nbytes) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT, "constant \"%s\" has %llu data bytes, its shape needs %llu",
                         t->name, (unsigned long long)size, (unsigned long long)nbytes);
  }
  if (offset % DATA_ALIGNMENT != 0 || offset > h->data_size || size > h->data_size - offset) {
    return pnn_set_error(r->error, PNN_ERR_FORMAT,
                         "constant \"%s\" data [%llu, +%llu) is not 64-aligned inside the data section (%llu bytes)",
                         t->name, (unsigned long long)offset, (unsigned long long)size,
                         (unsigned long long)h->data_size);
  }
  t->data = file + h->data_offset + offset;
  if (t->encoding == PNN_ENCODING_B1_DELTA) {
    /* The rows are allocated whole: a small blob can stand for a large tensor. */
    if (t->nbytes > max_memory) {
      return pnn_set_error(r->error, PNN_ERR_LIMIT,
                           "tensor \"%s\" decodes to %zu bytes, over the memory limit of %zu bytes "
                           "(pnn_load_options.max_memory)", t->name, t->nbytes, max_memory);
    }
    return pnn_b1_delta_decode(t, t->data, (size_t)size, r->error);
  }
  if (t->encoding != PNN_ENCODING_DENSE) {
    TRY(pnn_sparse_validate(t, (const uint8_t *)t->data, (size_t)size, r->error));
    return pnn_sparse_widen(t, r->error);
  }
  return PNN_OK;
}

static pnn_status parse_tensors(reader *r, pnn_model *m, const header *h) {
  snprintf(r->where, sizeof(r->where), "%s", "tensor table");
  TRY(check_count(r, h->n_tensors, MAX_TENSORS, MIN_TENSOR_BYTES, "tensor count"));
  if (h->n_tensors == 0) return PNN_OK;
  m->tensors = calloc(h->n_tensors, sizeof(*m->tensors));
  if (m->tensors == NULL) return out_of_memory(r->error);
  m->n_tensors = h->n_tensors;
  for (uint32_t i = 0; i < h->n_tensors; ++i) {
    snprintf(r->where, sizeof(r->where), "tensor %u", (unsigned)i);
    TRY(parse_tensor(r, &m->tensors[i], h, m->data, m->max_memory));
  }
  return PNN_OK;
}

static pnn_status parse_attr(reader *r, pnn_attr *a) {
  TRY(read_string(r, &a->name, "attribute name"));
  if (a->name[0] == '\0') {
    return pnn_set_error(r->error, PNN_ERR_FORMAT, "%s: an attribute has an empty name", r->where);
  }
  TRY(read_u8(r, &a->type, "attribute type"));
  a->count = 1;
  switch (a->type) {
    case PNN_ATTR_INT: return read_i64(r, &a->i, "attribute value");
    case PNN_ATTR_FLOAT: return read_f32(r, &a->f, "attribute value");
    case PNN_ATTR_INTS:
    case PNN_ATTR_FLOATS: break;
    default:
      return pnn_set_error(r->error, PNN_ERR_FORMAT, "%s: attribute \"%s\" has unknown type %u",
                           r->where, a->name, (unsigned)a->type);
  }
  uint32_t count = 0;
  const bool ints = a->type == PNN_ATTR_INTS;
  TRY(read_u32(r, &count, "attribute list length"));
  TRY(check_count(r, count, MAX_ATTR_LIST, ints ? 8 : 4, "attribute list length"));
  a->count = count;
  /* One spare entry so a zero-length list is still a valid pointer. */
  if (ints) {
    a->ints = calloc((size_t)count + 1, sizeof(*a->ints));
    if (a->ints == NULL) return out_of_memory(r->error);
    for (uint32_t k = 0; k < count; ++k) TRY(read_i64(r, &a->ints[k], "attribute value"));
  } else {
    a->floats = calloc((size_t)count + 1, sizeof(*a->floats));
    if (a->floats == NULL) return out_of_memory(r->error);
    for (uint32_t k = 0; k < count; ++k) TRY(read_f32(r, &a->floats[k], "attribute value"));
  }
  return PNN_OK;
}

static pnn_status parse_node(reader *r, pnn_node *n, uint32_t n_tensors) {
  TRY(read_u16(r, &n->op, "op code"));
  TRY(read_string(r, &n->name, "node name"));
  size_t used = strlen(r->where);
  snprintf(r->where + used, sizeof(r->where) - used, " \"%.24s\"", n->name);
  uint32_t count = 0;
  TRY(read_u32(r, &count, "input count"));
  TRY(check_count(r, count, MAX_NODE_INPUTS, 4, "input count"));
  n->inputs = calloc((size_t)count + 1, sizeof(*n->inputs));
  if (n->inputs == NULL) return out_of_memory(r->error);
  n->n_inputs = count;
  for (uint32_t i = 0; i < count; ++i) TRY(read_tensor_id(r, n_tensors, true, &n->inputs[i], "input"));

  TRY(read_u32(r, &count, "output count"));
  TRY(check_count(r, count, MAX_NODE_OUTPUTS, 4, "output count"));
  if (count == 0) return pnn_set_error(r->error, PNN_ERR_FORMAT, "%s has no outputs", r->where);
  n->outputs = calloc(count, sizeof(*n->outputs));
  if (n->outputs == NULL) return out_of_memory(r->error);
  n->n_outputs = count;
  for (uint32_t i = 0; i < count; ++i) TRY(read_tensor_id(r, n_tensors, false, &n->outputs[i], "output"));

  TRY(read_u32(r, &count, "attribute count"));
  TRY(check_count(r, count, MAX_NODE_ATTRS, MIN_ATTR_BYTES, "attribute count"));
  if (count == 0) return PNN_OK;
  n->attrs = calloc(count, sizeof(*n->attrs));
  if (n->attrs == NULL) return out_of_memory(r->error);
  n->n_attrs = count;
  for (uint32_t i = 0; i < count; ++i) {
    TRY(parse_attr(r, &n->attrs[i]));
    for (uint32_t k = 0; k < i; ++k) {
      if (strcmp(n->attrs[k].name, n->attrs[i].name) == 0) {
        return pnn_set_error(r->error, PNN_ERR_FORMAT, "%s repeats attribute \"%s\"", r->where,
                             n->attrs[i].name);
      }
    }
  }
  return PNN_OK;
}

static pnn_status parse_nodes(reader *r, pnn_model *m, uint32_t count) {
  snprintf(r->where, sizeof(r->where), "%s", "graph");
  TRY(check_count(r, count, MAX_NODES, MIN_NODE_BYTES, "node count"));
  if (count == 0) return PNN_OK;
  m->nodes = calloc(count, sizeof(*m->nodes));
  if (m->nodes == NULL) return out_of_memory(r->error);
  m->n_nodes = count;
  for (uint32_t i = 0; i < count; ++i) {
    snprintf(r->where, sizeof(r->where), "node %u", (unsigned)i);
    TRY(parse_node(r, &m->nodes[i], m->n_tensors));
  }
  return PNN_OK;
}

static pnn_status parse_id_list(reader *r, uint32_t count, uint32_t n_tensors, int32_t **out,
                                const char *what) {
  snprintf(r->where, sizeof(r->where), "%s", what);
  TRY(check_count(r, count, n_tensors, 4, "count"));
  *out = calloc((size_t)count + 1, sizeof(**out));
  if (*out == NULL) return out_of_memory(r->error);
  for (uint32_t i = 0; i < count; ++i) TRY(read_tensor_id(r, n_tensors, false, &(*out)[i], "an entry"));
  return PNN_OK;
}

/* ---- whole-graph rules --------------------------------------------------------- */

static int compare_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Names must be unique: sorts a copy of the pointers, O(n log n). */
static pnn_status check_unique(const char **names, uint32_t n, const char *what, pnn_error *error) {
  qsort(names, n, sizeof(*names), compare_names);
  for (uint32_t i = 1; i < n; ++i) {
    if (strcmp(names[i - 1], names[i]) == 0) {
      return pnn_set_error(error, PNN_ERR_FORMAT, "%s \"%s\" repeats", what, names[i]);
    }
  }
  return PNN_OK;
}

static pnn_status check_unique_names(const pnn_model *m, pnn_error *error) {
  uint32_t most = m->n_tensors > m->n_meta ? m->n_tensors : m->n_meta;
  const char **names = malloc(((size_t)most + 1) * sizeof(*names));
  if (names == NULL) return out_of_memory(error);
  for (uint32_t i = 0; i < m->n_tensors; ++i) names[i] = m->tensors[i].name;
  pnn_status s = check_unique(names, m->n_tensors, "tensor name", error);
  if (s == PNN_OK) {
    for (uint32_t i = 0; i < m->n_meta; ++i) names[i] = m->meta[i].key;
    s = check_unique(names, m->n_meta, "metadata key", error);
  }
  free(names);
  return s;
}

enum tensor_flag { AVAILABLE = 1, GRAPH_INPUT = 2, GRAPH_OUTPUT = 4, PRODUCED = 8 };

static pnn_status check_graph_with(pnn_model *m, uint8_t *flags, uint32_t *reader_stamp, pnn_error *error) {
  for (uint32_t i = 0; i < m->n_tensors; ++i) {
    flags[i] = m->tensors[i].kind == PNN_TENSOR_CONSTANT ? AVAILABLE : 0;
  }
  for (uint32_t i = 0; i < m->n_inputs; ++i) {
    const pnn_tensor *t = &m->tensors[m->inputs[i]];
    if (flags[m->inputs[i]] & GRAPH_INPUT) {
      return pnn_set_error(error, PNN_ERR_FORMAT, "graph input \"%s\" is listed twice", t->name);
    }
    if (t->kind != PNN_TENSOR_ACTIVATION) {
      return pnn_set_error(error, PNN_ERR_FORMAT, "graph input \"%s\" is a constant", t->name);
    }
    flags[m->inputs[i]] |= GRAPH_INPUT | AVAILABLE;
  }
  for (uint32_t n = 0; n < m->n_nodes; ++n) {
    pnn_node *node = &m->nodes[n];
    for (uint32_t i = 0; i < node->n_inputs; ++i) {
      int32_t id = node->inputs[i];
      if (id < 0) continue;
      if (!(flags[id] & AVAILABLE)) {
        return pnn_set_error(error, PNN_ERR_FORMAT,
                             "node %u \"%s\": input %u \"%s\" is not computed before the node (graph "
                             "not in topological order)",
                             (unsigned)n, node->name, (unsigned)i, m->tensors[id].name);
      }
      reader_stamp[id] = n + 1;
      m->tensors[id].last_use = (int32_t)n;
    }
    for (uint32_t i = 0; i < node->n_outputs; ++i) {
      int32_t id = node->outputs[i];
      pnn_tensor *t = &m->tensors[id];
      const char *problem = NULL;
      if (reader_stamp[id] == n + 1) problem = "is also an input of the node";
      else if (t->kind == PNN_TENSOR_CONSTANT) problem = "is a constant";
      else if (flags[id] & GRAPH_INPUT) problem = "is a graph input";
      else if (flags[id] & PRODUCED) problem = "is already computed by an earlier node or output";
      if (problem != NULL) {
        return pnn_set_error(error, PNN_ERR_FORMAT, "node %u \"%s\": output %u \"%s\" %s", (unsigned)n,
                             node->name, (unsigned)i, t->name, problem);
      }
      flags[id] |= PRODUCED | AVAILABLE;
      t->producer = (int32_t)n;
    }
  }
  for (uint32_t i = 0; i < m->n_tensors; ++i) {
    if (!(flags[i] & AVAILABLE)) {
      return pnn_set_error(error, PNN_ERR_FORMAT,
                           "activation \"%s\" is neither a graph input nor computed by a node",
                           m->tensors[i].name);
    }
  }
  if (m->n_outputs == 0) return pnn_set_error(error, PNN_ERR_FORMAT, "the graph has no outputs");
  for (uint32_t i = 0; i < m->n_outputs; ++i) {
    int32_t id = m->outputs[i];
    if (flags[id] & GRAPH_OUTPUT) {
      return pnn_set_error(error, PNN_ERR_FORMAT, "graph output \"%s\" is listed twice", m->tensors[id].name);
    }
    if (!(flags[id] & PRODUCED)) {
      return pnn_set_error(error, PNN_ERR_FORMAT, "graph output \"%s\" is not computed by a node",
                           m->tensors[id].name);
    }
    flags[id] |= GRAPH_OUTPUT;
    m->tensors[id].last_use = (int32_t)m->n_nodes;
  }
  return PNN_OK;
}

static pnn_status check_graph(pnn_model *m, pnn_error *error) {
  size_t n = (size_t)m->n_tensors + 1;
  uint8_t *flags = calloc(n, sizeof(*flags));
  uint32_t *stamp = calloc(n, sizeof(*stamp));
  pnn_status s = (flags != NULL && stamp != NULL) ? check_graph_with(m, flags, stamp, error)
                                                  : out_of_memory(error);
  free(flags);
  free(stamp);
  return s;
}

/* Node features newer than the file's version (docs/FORMAT.md version table): an
 * older file stamped with them was not written by a conforming writer. */
static pnn_status check_node_versions(const pnn_model *m, pnn_error *error) {
  for (uint32_t n = 0; n < m->n_nodes; ++n) {
    const pnn_node *node = &m->nodes[n];
    if (node->op == PNN_OP_DEQUANTIZE && node->n_inputs == 2 && m->version_minor < 11) {
      return pnn_set_error(error, PNN_ERR_FORMAT,
                           "node %u \"%s\" (DequantizeLinear) has a bias input, which a version 1.%u file "
                           "cannot hold (1.11+)", (unsigned)n, node->name, (unsigned)m->version_minor);
    }
    if (node->op == PNN_OP_CONV && pnn_input_tensor(m, node, 3) != NULL && m->version_minor < 13) {
      return pnn_set_error(error, PNN_ERR_FORMAT,
                           "node %u \"%s\" (Conv) has a residual input, which a version 1.%u file cannot hold "
                           "(1.13+)", (unsigned)n, node->name, (unsigned)m->version_minor);
    }
    if (node->op == PNN_OP_MUL && pnn_node_attr(node, "act") != NULL && m->version_minor < 14) {
      return pnn_set_error(error, PNN_ERR_FORMAT,
                           "node %u \"%s\" (Mul) has a fused activation, which a version 1.%u file cannot hold "
                           "(1.14+)", (unsigned)n, node->name, (unsigned)m->version_minor);
    }
    const pnn_tensor *weights = node->n_inputs > 1 ? pnn_input_tensor(m, node, 1) : NULL;
    if (node->op == PNN_OP_LSTM && weights != NULL && weights->dtype == PNN_DTYPE_S8 && m->version_minor < 12) {
      return pnn_set_error(error, PNN_ERR_FORMAT,
                           "node %u \"%s\" (LSTM) has s8 weights, which a version 1.%u file cannot hold "
                           "(1.12+)", (unsigned)n, node->name, (unsigned)m->version_minor);
    }
  }
  return PNN_OK;
}

static pnn_status prepare_nodes(pnn_model *m, pnn_error *error) {
  m->max_node_io = 1;
  m->scratch_bytes = 0;
  for (uint32_t n = 0; n < m->n_nodes; ++n) {
    pnn_node *node = &m->nodes[n];
    const pnn_op_def *op = pnn_op_lookup(node->op);
    if (op == NULL) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                           "node %u \"%s\": op code %u is not supported by this runtime", (unsigned)n,
                           node->name, (unsigned)node->op);
    }
    /* A group-sparse constant is not dense data: only an op that reads it through
     * pnn_tensor_sparse_view may see it. */
    for (uint32_t i = 0; i < node->n_inputs; ++i) {
      const pnn_tensor *t = pnn_input_tensor(m, node, i);
      if (t != NULL && t->encoding != PNN_ENCODING_DENSE && !pnn_input_may_be_sparse(node, i)) {
        return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                             "node %u \"%s\" (%s): input %u \"%s\" is stored group-sparse, which this "
                             "runtime's %s does not read; convert the model without sparse storage for it",
                             (unsigned)n, node->name, op->name, (unsigned)i, t->name, op->name);
      }
    }
    TRY(op->prepare(m, node, error));
    if (node->scratch_bytes > SIZE_MAX - DATA_ALIGNMENT) {
      return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (%s): scratch too large", node->name,
                           op->name);
    }
    size_t scratch = (node->scratch_bytes + DATA_ALIGNMENT - 1) & ~(size_t)(DATA_ALIGNMENT - 1);
    if (scratch > m->scratch_bytes) m->scratch_bytes = scratch;
    if (node->n_inputs > m->max_node_io) m->max_node_io = node->n_inputs;
    if (node->n_outputs > m->max_node_io) m->max_node_io = node->n_outputs;
  }
  return PNN_OK;
}

/* The ISA cap from the options, else from PNN_ISA. */
static pnn_status apply_isa_cap(pnn_model *m, const char *isa, pnn_error *error) {
  const char *source = "pnn_load_options.isa";
  if (isa == NULL) {
    isa = getenv("PNN_ISA");
    source = "PNN_ISA";
    if (isa == NULL) return PNN_OK;
  }
  switch (pnn_cpu_cap(&m->cpu, isa)) {
    case PNN_CPU_CAP_OK: return PNN_OK;
    case PNN_CPU_CAP_UNAVAILABLE:
      return pnn_set_error(error, PNN_ERR_INVALID_ARGUMENT, "%s \"%.64s\": this CPU cannot run that instruction set",
                           source, isa);
    default:
      return pnn_set_error(error, PNN_ERR_INVALID_ARGUMENT,
                           "%s \"%.64s\" is not an instruction set of this build (scalar, avx2, avx512 on x86-64; "
                           "neon on aarch64; empty for the best available)", source, isa);
  }
}

/* No activation may exceed the limit by itself; checked before anything is sized from
 * the shapes (the planner, the ops' scratch). */
static pnn_status check_tensor_limits(const pnn_model *m, pnn_error *error) {
  for (uint32_t i = 0; i < m->n_tensors; ++i) {
    const pnn_tensor *t = &m->tensors[i];
    if (t->kind == PNN_TENSOR_ACTIVATION && t->nbytes > m->max_memory) {
      return pnn_set_error(error, PNN_ERR_LIMIT,
                           "tensor \"%s\" needs %zu bytes, over the memory limit of %zu bytes "
                           "(pnn_load_options.max_memory)", t->name, t->nbytes, m->max_memory);
    }
  }
  return PNN_OK;
}

static pnn_status check_arena_limit(const pnn_model *m, pnn_error *error) {
  const size_t arena = m->arena_bytes, scratch = m->scratch_bytes;
  if (arena > m->max_memory || scratch > m->max_memory - arena) {
    return pnn_set_error(error, PNN_ERR_LIMIT,
                         "the model needs %zu bytes of activations and %zu of scratch, over the memory limit "
                         "of %zu bytes (pnn_load_options.max_memory)", arena, scratch, m->max_memory);
  }
  return PNN_OK;
}

static pnn_status load_model(pnn_model *m, const pnn_load_options *options, pnn_error *error) {
  header h;
  memset(&h, 0, sizeof(h));
  m->max_memory = options != NULL && options->max_memory != 0 ? options->max_memory : PNN_DEFAULT_MAX_MEMORY;
  TRY(parse_header(m->data, m->size, &h, error));
  m->version_major = h.major;
  m->version_minor = h.minor;
  /* Structure sections sit between the header and the data section; bytes after
   * them (a newer minor version's additions) are ignored. */
  reader r = {m->data, HEADER_SIZE, (size_t)h.data_offset, "header", error};
  TRY(parse_metadata(&r, m, h.n_meta));
  TRY(parse_tensors(&r, m, &h));
  TRY(parse_nodes(&r, m, h.n_nodes));
  TRY(parse_id_list(&r, h.n_inputs, m->n_tensors, &m->inputs, "graph inputs"));
  m->n_inputs = h.n_inputs;
  TRY(parse_id_list(&r, h.n_outputs, m->n_tensors, &m->outputs, "graph outputs"));
  m->n_outputs = h.n_outputs;
  TRY(check_unique_names(m, error));
  TRY(check_graph(m, error));
  TRY(check_tensor_limits(m, error));
  TRY(check_node_versions(m, error));
  pnn_cpu_detect(&m->cpu);
  TRY(apply_isa_cap(m, options != NULL ? options->isa : NULL, error));
  TRY(prepare_nodes(m, error));
  TRY(pnn_plan_memory(m, error));
  return check_arena_limit(m, error);
}

/* ---- public API ------------------------------------------------------------------ */

static pnn_status finish_load(pnn_model *m, const pnn_load_options *options, pnn_model **out,
                              pnn_error *error) {
  pnn_status s = load_model(m, options, error);
  if (s != PNN_OK) {
    pnn_model_free(m);
    return s;
  }
  if (error != NULL) {
    error->status = PNN_OK;
    error->message[0] = '\0';
  }
  *out = m;
  return PNN_OK;
}

/* A copy of `size` bytes at a 64-byte aligned address inside a fresh block. */
static void *aligned_copy(const void *src, size_t size, void **block) {
  if (size > SIZE_MAX - DATA_ALIGNMENT) return NULL;
  *block = pnn_alloc_large(size + DATA_ALIGNMENT - 1);
  if (*block == NULL) return NULL;
  uintptr_t at = ((uintptr_t)*block + DATA_ALIGNMENT - 1) & ~(uintptr_t)(DATA_ALIGNMENT - 1);
  if (size > 0 && src != NULL) memcpy((void *)at, src, size);
  return (void *)at;
}

pnn_status pnn_model_load(const void *data, size_t size, pnn_model **model, pnn_error *error) {
  return pnn_model_load_with_options(data, size, NULL, model, error);
}

pnn_status pnn_model_load_with_options(const void *data, size_t size, const pnn_load_options *options,
                                       pnn_model **model, pnn_error *error) {
  if (model == NULL) return pnn_set_error(error, PNN_ERR_INVALID_ARGUMENT, "model is NULL");
  *model = NULL;
  if (data == NULL) return pnn_set_error(error, PNN_ERR_INVALID_ARGUMENT, "data is NULL");
  pnn_model *m = calloc(1, sizeof(*m));
  if (m == NULL) return out_of_memory(error);
  m->size = size;
  if ((uintptr_t)data % DATA_ALIGNMENT == 0) {
    m->data = data; /* in place: the caller keeps the buffer alive */
  } else {
    m->data = aligned_copy(data, size, &m->owned_data);
    if (m->data == NULL) {
      free(m);
      return out_of_memory(error);
    }
  }
  return finish_load(m, options, model, error);
}

pnn_status pnn_model_load_file(const char *path, pnn_model **model, pnn_error *error) {
  return pnn_model_load_file_with_options(path, NULL, model, error);
}

pnn_status pnn_model_load_file_with_options(const char *path, const pnn_load_options *options,
                                            pnn_model **model, pnn_error *error) {
  if (model == NULL) return pnn_set_error(error, PNN_ERR_INVALID_ARGUMENT, "model is NULL");
  *model = NULL;
  if (path == NULL) return pnn_set_error(error, PNN_ERR_INVALID_ARGUMENT, "path is NULL");
  /* A directory, FIFO or device is refused before it is opened: opening a FIFO blocks,
   * and neither has a size to read. */
  struct stat st;
  if (stat(path, &st) != 0) return pnn_set_error(error, PNN_ERR_IO, "cannot open \"%s\"", path);
  if (!S_ISREG(st.st_mode)) {
    return pnn_set_error(error, PNN_ERR_IO, "\"%s\" is not a regular file (%s)", path,
                         S_ISDIR(st.st_mode) ? "a directory" : "a FIFO, socket or device");
  }
  FILE *f = fopen(path, "rb");
  if (f == NULL) return pnn_set_error(error, PNN_ERR_IO, "cannot open \"%s\"", path);
  long length = -1;
  if (fseek(f, 0, SEEK_END) == 0) length = ftell(f);
  if (length < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return pnn_set_error(error, PNN_ERR_IO, "cannot determine the size of \"%s\"", path);
  }
  pnn_model *m = calloc(1, sizeof(*m));
  const uint8_t *bytes = m != NULL ? aligned_copy(NULL, (size_t)length, &m->owned_data) : NULL;
  if (bytes == NULL) {
    fclose(f);
    if (m != NULL) free(m->owned_data);
    free(m);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "out of memory reading \"%s\" (%ld bytes)", path,
                         length);
  }
  size_t got = fread((void *)bytes, 1, (size_t)length, f);
  fclose(f);
  if (got != (size_t)length) {
    free(m->owned_data);
    free(m);
    return pnn_set_error(error, PNN_ERR_IO, "cannot read \"%s\" (%zu of %ld bytes)", path, got, length);
  }
  m->data = bytes;
  m->size = (size_t)length;
  return finish_load(m, options, model, error);
}

void pnn_model_free(pnn_model *model) {
  if (model == NULL) return;
  for (uint32_t i = 0; i < model->n_meta; ++i) {
    free(model->meta[i].key);
    free(model->meta[i].str);
  }
  free(model->meta);
  for (uint32_t i = 0; i < model->n_tensors; ++i) {
    free(model->tensors[i].name);
    free(model->tensors[i].sparse_index);
    free(model->tensors[i].widened);
    free(model->tensors[i].decoded);
  }
  free(model->tensors);
  for (uint32_t i = 0; i < model->n_nodes; ++i) {
    pnn_node *n = &model->nodes[i];
    free(n->name);
    free(n->inputs);
    free(n->outputs);
    for (uint32_t k = 0; k < n->n_attrs; ++k) {
      free(n->attrs[k].name);
      free(n->attrs[k].ints);
      free(n->attrs[k].floats);
    }
    free(n->attrs);
    free(n->params);
  }
  free(model->nodes);
  free(model->inputs);
  free(model->outputs);
  free(model->owned_data);
  free(model);
}

uint32_t pnn_model_num_inputs(const pnn_model *model) { return model != NULL ? model->n_inputs : 0; }
uint32_t pnn_model_num_outputs(const pnn_model *model) { return model != NULL ? model->n_outputs : 0; }
uint32_t pnn_model_num_nodes(const pnn_model *model) { return model != NULL ? model->n_nodes : 0; }

static void fill_tensor_info(const pnn_tensor *t, pnn_tensor_info *info) {
  memset(info, 0, sizeof(*info));
  info->name = t->name;
  info->dtype = (pnn_dtype)t->dtype;
  info->rank = t->rank;
  for (int d = 0; d < t->rank; ++d) info->dims[d] = t->dims[d];
  info->size_bytes = t->nbytes;
}

pnn_status pnn_model_input_info(const pnn_model *model, uint32_t index, pnn_tensor_info *info) {
  if (model == NULL || info == NULL || index >= model->n_inputs) return PNN_ERR_INVALID_ARGUMENT;
  fill_tensor_info(&model->tensors[model->inputs[index]], info);
  return PNN_OK;
}

pnn_status pnn_model_output_info(const pnn_model *model, uint32_t index, pnn_tensor_info *info) {
  if (model == NULL || info == NULL || index >= model->n_outputs) return PNN_ERR_INVALID_ARGUMENT;
  fill_tensor_info(&model->tensors[model->outputs[index]], info);
  return PNN_OK;
}

pnn_status pnn_model_node_info(const pnn_model *model, uint32_t index, pnn_node_info *info) {
  if (model == NULL || info == NULL || index >= model->n_nodes) return PNN_ERR_INVALID_ARGUMENT;
  const pnn_node *n = &model->nodes[index];
  const pnn_op_def *op = pnn_op_lookup(n->op);
  info->name = n->name;
  info->op = op != NULL ? op->name : "?";
  info->num_inputs = n->n_inputs;
  info->num_outputs = n->n_outputs;
  info->kernel = n->kernel != NULL ? n->kernel : "none";
  info->scratch_bytes = n->scratch_bytes;
  return PNN_OK;
}

size_t pnn_model_arena_bytes(const pnn_model *model) {
  return model != NULL ? model->arena_bytes + model->scratch_bytes : 0;
}

const char *pnn_model_metadata(const pnn_model *model, const char *key) {
  if (model == NULL || key == NULL) return NULL;
  for (uint32_t i = 0; i < model->n_meta; ++i) {
    if (model->meta[i].type == META_STRING && strcmp(model->meta[i].key, key) == 0) return model->meta[i].str;
  }
  return NULL;
}
