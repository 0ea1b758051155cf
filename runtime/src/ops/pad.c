/* Pad (code 55): modes constant, reflect, edge; pads = [all begins, all ends], each
 * may be negative (a crop). Semantics follow the ONNX reference: pad with the
 * positive amounts, then crop the negative ones — so every output coordinate o of a
 * dim maps to the source coordinate i = o - begin of the original input, and the
 * mode decides what an i outside [0, n) reads. */
#include <stdlib.h>

#include "ew_common.h"

enum pad_mode { PAD_CONSTANT = 0, PAD_REFLECT = 1, PAD_EDGE = 2 };

/* Pads beyond this are refused: it keeps all int64 arithmetic far from overflow. */
#define PAD_LIMIT ((int64_t)1 << 40)

typedef struct pad_plan {
  int mode;
  int rank;
  float value;
  size_t rows;                    /* output elements / out_dims[rank-1] */
  int64_t in_dims[PNN_MAX_RANK];
  int64_t out_dims[PNN_MAX_RANK];
  int64_t begin[PNN_MAX_RANK];
  size_t in_stride[PNN_MAX_RANK];
} pad_plan;

/* Source coordinate of output coordinate o, or -1 where a constant is written. */
static inline int64_t source_index(int mode, int64_t o, int64_t begin, int64_t n) {
  int64_t i = o - begin;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i; /* |pad| < n: one bounce */
    case PAD_EDGE: return i < 0 ? 0 : n - 1;
    default: return -1;
  }
}

pnn_status pnn_op_pad_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if ((st = pnn_ew_check_dims(node, x, error)) != PNN_OK) return st;
  const int rank = x->rank;
  if (rank < 1) return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': Pad of a scalar", node->name);
  int64_t mode = 0;
  float value = 0.0f;
  const int64_t *pads = NULL;
  if ((st = pnn_ew_attr_int(node, "mode", 0, PAD_CONSTANT, PAD_EDGE, &mode, error)) != PNN_OK) return st;
  if ((st = pnn_ew_attr_float(node, "value", 0.0f, &value, error)) != PNN_OK) return st;
  if ((st = pnn_ew_attr_ints(node, "pads", 2u * (uint32_t)rank, &pads, error)) != PNN_OK) return st;

  pad_plan plan;
  memset(&plan, 0, sizeof(plan));
  plan.mode = (int)mode;
  plan.rank = rank;
  plan.value = value;
  int64_t dims[PNN_MAX_RANK];
  for (int d = 0; d < rank; ++d) {
    const int64_t n = x->dims[d], b = pads[d], e = pads[rank + d];
    if (b < -PAD_LIMIT || b > PAD_LIMIT || e < -PAD_LIMIT || e > PAD_LIMIT) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': pads of dim %d out of range",
                           node->name, d);
    }
    dims[d] = n + b + e;
    if (dims[d] < 0) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': pads crop dim %d below zero",
                           node->name, d);
    }
    const int64_t widest = b > e ? b : e;
    if (mode == PAD_REFLECT && widest > 0 && widest >= n) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                           "node '%s': reflect pad %lld of dim %d needs a pad < dim (%lld)",
                           node->name, (long long)widest, d, (long long)n);
    }
    if (mode == PAD_EDGE && widest > 0 && n == 0) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': edge pad of an empty dim %d",
                           node->name, d);
    }
    plan.in_dims[d] = n;
    plan.out_dims[d] = dims[d];
    plan.begin[d] = b;
  }
  if ((st = pnn_check_output_shape(model, node, 0, rank, dims, error)) != PNN_OK) return st;
  size_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    plan.in_stride[d] = stride;
    stride *= (size_t)x->dims[d];
  }
  plan.rows = dims[rank - 1] == 0 ? 0 : pnn_ew_prod(dims, 0, rank - 1);

  pad_plan *params = malloc(sizeof(*params));
  if (!params) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  *params = plan;
  node->params = params;
  node->scratch_bytes = 0;
  node->kernel = "copy";
  return PNN_OK;
}

void pnn_op_pad_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                    void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const pad_plan *p = node->params;
  const float *x = in[0];
  float *y = out[0];
  const int last = p->rank - 1;
  const int64_t width = p->out_dims[last], n = p->in_dims[last], begin = p->begin[last];
  /* Output columns [lo, hi) read the input row directly. */
  int64_t lo = begin > 0 ? begin : 0;
  int64_t hi = begin + n < width ? begin + n : width;
  if (hi < lo) hi = lo;
  int64_t index[PNN_MAX_RANK] = {0};
  for (size_t r = 0; r < p->rows; ++r, y += width) {
    /* Source row of this output row, or none (a constant row). */
    bool constant_row = false;
    size_t offset = 0;
    for (int d = 0; d < last; ++d) {
      int64_t i = source_index(p->mode, index[d], p->begin[d], p->in_dims[d]);
      if (i < 0) {
        constant_row = true;
        break;
      }
      offset += (size_t)i * p->in_stride[d];
    }
    if (constant_row) {
      for (int64_t o = 0; o < width; ++o) y[o] = p->value;
    } else {
      const float *row = x + offset;
      for (int64_t o = 0; o < lo; ++o) {
        int64_t i = source_index(p->mode, o, begin, n);
        y[o] = i < 0 ? p->value : row[i];
      }
      if (hi > lo) memcpy(y + lo, row + (lo - begin), (size_t)(hi - lo) * sizeof(float));
      for (int64_t o = hi; o < width; ++o) {
        int64_t i = source_index(p->mode, o, begin, n);
        y[o] = i < 0 ? p->value : row[i];
      }
    }
    for (int d = last - 1; d >= 0; --d) {
      if (++index[d] < p->out_dims[d]) break;
      index[d] = 0;
    }
  }
}
