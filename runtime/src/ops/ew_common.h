/* Helpers shared by the element-wise and data-movement operators (unary, binary,
 * concat, split, slice, reshape, transpose, pad, resize, softmax, reduce, layernorm,
 * gather): attribute reading with validation and small shape utilities.
 * Private to runtime/src/ops. */
#ifndef PNN_OPS_EW_COMMON_H
#define PNN_OPS_EW_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ops.h"

/* A present attribute must have the expected type. */
static inline pnn_status pnn_ew_attr_type(const pnn_node *node, const char *name, uint8_t type,
                                          pnn_error *error) {
  const pnn_attr *a = pnn_node_attr(node, name);
  if (a && a->type != type) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node '%s': attribute '%s' has type %u, expected %u",
                         node->name, name, (unsigned)a->type, (unsigned)type);
  }
  return PNN_OK;
}

/* Reads an int attribute within [lo, hi]; `dflt` when absent. */
static inline pnn_status pnn_ew_attr_int(const pnn_node *node, const char *name, int64_t dflt,
                                         int64_t lo, int64_t hi, int64_t *out, pnn_error *error) {
  pnn_status st = pnn_ew_attr_type(node, name, PNN_ATTR_INT, error);
  if (st != PNN_OK) return st;
  int64_t v = pnn_attr_int(node, name, dflt);
  if (v < lo || v > hi) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                         "node '%s': attribute '%s' = %lld outside [%lld, %lld]", node->name, name,
                         (long long)v, (long long)lo, (long long)hi);
  }
  *out = v;
  return PNN_OK;
}

/* Reads a float attribute; `dflt` when absent. */
static inline pnn_status pnn_ew_attr_float(const pnn_node *node, const char *name, float dflt,
                                           float *out, pnn_error *error) {
  pnn_status st = pnn_ew_attr_type(node, name, PNN_ATTR_FLOAT, error);
  if (st != PNN_OK) return st;
  *out = pnn_attr_float(node, name, dflt);
  return PNN_OK;
}

/* Reads a required INTS attribute of exactly `count` entries (count may be 0). */
static inline pnn_status pnn_ew_attr_ints(const pnn_node *node, const char *name, uint32_t count,
                                          const int64_t **out, pnn_error *error) {
  pnn_status st = pnn_ew_attr_type(node, name, PNN_ATTR_INTS, error);
  if (st != PNN_OK) return st;
  const pnn_attr *a = pnn_node_attr(node, name);
  if (!a) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node '%s': attribute '%s' is required",
                         node->name, name);
  }
  if (a->count != count || (count > 0 && !a->ints)) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node '%s': attribute '%s' has %u entries, expected %u",
                         node->name, name, (unsigned)a->count, (unsigned)count);
  }
  *out = a->ints;
  return PNN_OK;
}

/* Shapes are compared and printed often; dims are int64 in the table. */
static inline bool pnn_ew_same_shape(const pnn_tensor *a, const pnn_tensor *b) {
  if (a->rank != b->rank) return false;
  for (int d = 0; d < a->rank; ++d) {
    if (a->dims[d] != b->dims[d]) return false;
  }
  return true;
}

/* Product of dims[begin..end). The loader bounded every tensor's element count, so
 * sub-products of a real tensor's dims cannot overflow. */
static inline size_t pnn_ew_prod(const int64_t *dims, int begin, int end) {
  size_t p = 1;
  for (int d = begin; d < end; ++d) p *= (size_t)dims[d];
  return p;
}

/* Every dim must be >= 0 (the loader should guarantee it; checked again because run
 * trusts it). */
static inline pnn_status pnn_ew_check_dims(const pnn_node *node, const pnn_tensor *t,
                                           pnn_error *error) {
  if (t->rank < 0 || t->rank > PNN_MAX_RANK) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': tensor '%s' has rank %d", node->name,
                         t->name, t->rank);
  }
  for (int d = 0; d < t->rank; ++d) {
    if (t->dims[d] < 0) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': tensor '%s' dimension %d is %lld",
                           node->name, t->name, d, (long long)t->dims[d]);
    }
  }
  return PNN_OK;
}

#endif /* PNN_OPS_EW_COMMON_H */
