/* Shape and arity checks shared by the ops' prepare functions. Messages name the node
 * and what is wrong, because they are what a user sees for a bad file. */
#include <stdio.h>

#include "internal.h"

static const char *op_name(const pnn_node *node) {
  const pnn_op_def *op = pnn_op_lookup(node->op);
  return op != NULL ? op->name : "?";
}

const char *pnn_dtype_name(uint8_t dtype) {
  static const char *const NAMES[] = {"?", "f32", "f16", "s8", "u8", "s4", "b1", "s32", "s64", "bool"};
  return dtype < sizeof(NAMES) / sizeof(NAMES[0]) ? NAMES[dtype] : "?";
}

size_t pnn_value_dtype_size(uint8_t dtype) {
  switch (dtype) {
    case PNN_DTYPE_F32: case PNN_DTYPE_S32: return 4;
    case PNN_DTYPE_F16: return 2;
    case PNN_DTYPE_S8: case PNN_DTYPE_U8: case PNN_DTYPE_BOOL: return 1;
    case PNN_DTYPE_S64: return 8;
    default: return 0;
  }
}

/* "[1,8,5,5]" into buf (truncated safely if it does not fit). */
static const char *format_shape(char *buf, size_t size, int rank, const int64_t *dims) {
  size_t used = 0;
  int n = snprintf(buf, size, "[");
  if (n > 0) used = (size_t)n;
  for (int i = 0; i < rank && used < size; ++i) {
    n = snprintf(buf + used, size - used, i == 0 ? "%lld" : ",%lld", (long long)dims[i]);
    if (n < 0) break;
    used += (size_t)n;
  }
  if (used < size) snprintf(buf + used, size - used, "]");
  return buf;
}

pnn_status pnn_check_io(const pnn_model *m, const pnn_node *n, uint32_t min_in, uint32_t max_in,
                        uint32_t min_out, uint32_t max_out, bool allow_non_f32, pnn_error *error) {
  if (n->n_inputs < min_in || n->n_inputs > max_in) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (%s): has %u inputs, expected %u to %u",
                         n->name, op_name(n), (unsigned)n->n_inputs, (unsigned)min_in,
                         (unsigned)max_in);
  }
  if (n->n_outputs < min_out || n->n_outputs > max_out) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (%s): has %u outputs, expected %u to %u",
                         n->name, op_name(n), (unsigned)n->n_outputs, (unsigned)min_out,
                         (unsigned)max_out);
  }
  for (uint32_t i = 0; i < n->n_inputs; ++i) {
    const pnn_tensor *t = pnn_input_tensor(m, n, i);
    if (t == NULL) {
      if (i < min_in) {
        return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (%s): required input %u is absent",
                             n->name, op_name(n), (unsigned)i);
      }
      continue;
    }
    if (!allow_non_f32 && t->dtype != PNN_DTYPE_F32) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                           "node \"%s\" (%s): input %u \"%s\" has dtype %s, only f32 is supported",
                           n->name, op_name(n), (unsigned)i, t->name, pnn_dtype_name(t->dtype));
    }
  }
  for (uint32_t i = 0; i < n->n_outputs; ++i) {
    const pnn_tensor *t = pnn_output_tensor(m, n, i);
    if (!allow_non_f32 && t->dtype != PNN_DTYPE_F32) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                           "node \"%s\" (%s): output %u \"%s\" has dtype %s, only f32 is supported",
                           n->name, op_name(n), (unsigned)i, t->name, pnn_dtype_name(t->dtype));
    }
  }
  return PNN_OK;
}

pnn_status pnn_check_output_shape(const pnn_model *m, const pnn_node *n, uint32_t i, int rank,
                                  const int64_t *dims, pnn_error *error) {
  const pnn_tensor *t = pnn_output_tensor(m, n, i);
  bool same = t->rank == rank;
  for (int d = 0; same && d < rank; ++d) same = t->dims[d] == dims[d];
  if (same) return PNN_OK;
  char have[160], want[160];
  return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): output %u has shape %s, expected %s",
                       n->name, op_name(n), (unsigned)i,
                       format_shape(have, sizeof(have), t->rank, t->dims),
                       format_shape(want, sizeof(want), rank, dims));
}

pnn_status pnn_broadcast_shape(int rank_a, const int64_t *a, int rank_b, const int64_t *b,
                               int *rank_out, int64_t *out) {
  if (rank_a < 0 || rank_b < 0 || rank_a > PNN_MAX_RANK || rank_b > PNN_MAX_RANK) return PNN_ERR_SHAPE;
  int rank = rank_a > rank_b ? rank_a : rank_b;
  int64_t result[PNN_MAX_RANK]; /* so `out` may alias `a` or `b` */
  /* Align trailing dims; a missing leading dim acts as 1. */
  for (int i = 0; i < rank; ++i) {
    int ia = i - (rank - rank_a), ib = i - (rank - rank_b);
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1) return PNN_ERR_SHAPE;
    result[i] = da == 1 ? db : da;
  }
  for (int i = 0; i < rank; ++i) out[i] = result[i];
  *rank_out = rank;
  return PNN_OK;
}
