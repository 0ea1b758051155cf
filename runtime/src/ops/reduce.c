/* ReduceMean / ReduceSum / ReduceMax / ReduceMin (codes 58..61) over a sorted axes
 * list. Prepare drops size-1 dims and merges neighbouring dims of the same kind
 * (reduced or kept), which leaves alternating groups. Run walks the input once in
 * memory order: a kept innermost group accumulates whole rows into the output, a
 * reduced innermost group folds each row into one output element. */
#include <stdlib.h>

#include "ew_common.h"

typedef struct reduce_plan {
  int kind;             /* enum pnn_reduce_kind */
  int mean;             /* divide by `count` at the end */
  size_t count;         /* elements folded into each output */
  size_t out_numel;
  size_t rows;          /* input elements / row_len */
  size_t row_len;       /* innermost group */
  int row_reduced;      /* the innermost group is reduced */
  int outer_rank;       /* groups before the innermost one */
  size_t outer_dims[PNN_MAX_RANK];
  size_t out_stride[PNN_MAX_RANK]; /* output elements per step; 0 for reduced groups */
} reduce_plan;

/* The kernel's kind for a reduction op code (a mean is a sum, then a division); false for
 * any other code. */
static bool reduce_kind(uint16_t op, int *kind) {
  switch (op) {
    case PNN_OP_REDUCE_MEAN:
    case PNN_OP_REDUCE_SUM: *kind = PNN_REDUCE_SUM; return true;
    case PNN_OP_REDUCE_MAX: *kind = PNN_REDUCE_MAX; return true;
    case PNN_OP_REDUCE_MIN: *kind = PNN_REDUCE_MIN; return true;
    default: return false;
  }
}

pnn_status pnn_op_reduce_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  int kind;
  if (!reduce_kind(node->op, &kind)) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': op %u is not a reduction",
                         node->name, (unsigned)node->op);
  }
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if ((st = pnn_ew_check_dims(node, x, error)) != PNN_OK) return st;
  const int rank = x->rank;
  int64_t keepdims = 1;
  if ((st = pnn_ew_attr_int(node, "keepdims", 1, 0, 1, &keepdims, error)) != PNN_OK) return st;
  if ((st = pnn_ew_attr_type(node, "axes", PNN_ATTR_INTS, error)) != PNN_OK) return st;
  uint32_t n_axes = 0;
  const int64_t *axes = pnn_attr_ints(node, "axes", &n_axes);
  if (!axes || n_axes == 0 || n_axes > (uint32_t)rank) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node '%s': 'axes' must list 1..%d dims",
                         node->name, rank);
  }
  int reduced[PNN_MAX_RANK] = {0};
  for (uint32_t i = 0; i < n_axes; ++i) {
    if (axes[i] < 0 || axes[i] >= rank || (i > 0 && axes[i] <= axes[i - 1])) {
      return pnn_set_error(error, PNN_ERR_FORMAT,
                           "node '%s': 'axes' must be sorted, unique and in [0, %d)", node->name,
                           rank);
    }
    reduced[axes[i]] = 1;
  }
  int64_t dims[PNN_MAX_RANK];
  int out_rank = 0;
  for (int d = 0; d < rank; ++d) {
    if (!reduced[d]) {
      dims[out_rank++] = x->dims[d];
    } else if (keepdims) {
      dims[out_rank++] = 1;
    }
  }
  if ((st = pnn_check_output_shape(model, node, 0, out_rank, dims, error)) != PNN_OK) return st;

  reduce_plan *plan = calloc(1, sizeof(*plan));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->kind = kind;
  plan->mean = node->op == PNN_OP_REDUCE_MEAN;
  plan->count = 1;
  plan->out_numel = 1;
  for (int d = 0; d < rank; ++d) {
    if (reduced[d]) plan->count *= (size_t)x->dims[d];
    else plan->out_numel *= (size_t)x->dims[d];
  }
  /* Groups of dims in input order (size-1 dims dropped). */
  size_t size[PNN_MAX_RANK];
  int is_reduced[PNN_MAX_RANK];
  int n = 0;
  for (int d = 0; d < rank; ++d) {
    if (x->dims[d] == 1) continue;
    if (n > 0 && is_reduced[n - 1] == reduced[d]) {
      size[n - 1] *= (size_t)x->dims[d];
    } else {
      size[n] = (size_t)x->dims[d];
      is_reduced[n] = reduced[d];
      ++n;
    }
  }
  if (n == 0) {
    size[0] = 1;
    is_reduced[0] = 0;
    n = 1;
  }
  plan->row_len = size[n - 1];
  plan->row_reduced = is_reduced[n - 1];
  plan->outer_rank = n - 1;
  size_t out_step = is_reduced[n - 1] ? 1 : size[n - 1];
  for (int g = n - 2; g >= 0; --g) {
    plan->outer_dims[g] = size[g];
    plan->out_stride[g] = is_reduced[g] ? 0 : out_step;
    if (!is_reduced[g]) out_step *= size[g];
  }
  plan->rows = pnn_ew_prod(x->dims, 0, rank) == 0 ? 0 : pnn_ew_prod(x->dims, 0, rank) / plan->row_len;
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = "f32-reduce/scalar";
  return PNN_OK;
}

void pnn_op_reduce_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                       void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const reduce_plan *p = node->params;
  const float *x = in[0];
  float *y = out[0];
  const float start = pnn_f32_reduce_identity(p->kind);
  for (size_t i = 0; i < p->out_numel; ++i) y[i] = start;
  size_t index[PNN_MAX_RANK] = {0};
  size_t out_off = 0;
  for (size_t r = 0; r < p->rows; ++r, x += p->row_len) {
    if (p->row_reduced) {
      y[out_off] = pnn_f32_reduce_row_scalar(p->kind, p->row_len, x, y[out_off]);
    } else {
      pnn_f32_reduce_accumulate_scalar(p->kind, p->row_len, x, y + out_off);
    }
    for (int g = p->outer_rank - 1; g >= 0; --g) {
      out_off += p->out_stride[g];
      if (++index[g] < p->outer_dims[g]) break;
      out_off -= p->out_stride[g] * p->outer_dims[g];
      index[g] = 0;
    }
  }
  if (p->mean) {
    const float count = (float)p->count; /* count 0 gives NaN, as in numpy */
    for (size_t i = 0; i < p->out_numel; ++i) y[i] /= count;
  }
}
