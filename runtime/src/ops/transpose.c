/* Transpose (code 54): out dim k is input dim perm[k].
 *
 * Prepare simplifies the permutation: input dims of size 1 are dropped and runs of
 * dims that stay adjacent and in order are merged (NCHW -> NHWC becomes
 * [N, C, HW] -> [N, HW, C]). The result runs as a copy, as batched 2-D tiled
 * transposes, as contiguous block copies when the last dim stays last, or as a
 * general odometer walk. Any value dtype: elements move by their size. */
#include <stdlib.h>

#include "nn_common.h"
#include "values.h"

enum transpose_mode { MODE_COPY = 0, MODE_2D, MODE_BLOCKS, MODE_GENERAL };

typedef struct transpose_plan {
  int mode;
  size_t size; /* bytes per element */
  size_t numel;
  /* MODE_2D: `batch` matrices of rows x cols, each transposed. */
  size_t batch, rows, cols;
  pnn_f32_transpose2d_fn transpose2d;
  /* MODE_BLOCKS / MODE_GENERAL: walk the output in order over out_dims[0..rank-1);
   * the last output dim is a contiguous block (BLOCKS, block elements) or a strided
   * walk of out_dims[rank-1] elements with stride in_stride[rank-1] (GENERAL). */
  int rank;
  size_t block;
  size_t out_dims[PNN_MAX_RANK];
  size_t in_stride[PNN_MAX_RANK]; /* input elements per step of each output dim */
} transpose_plan;

/* Builds the simplified permutation: `m` dims with sizes in_dims (input order) and
 * q[k] = the input dim feeding output dim k. */
static int simplify(int rank, const int64_t *dims, const int64_t *perm, size_t *in_dims, int *q) {
  int keep_index[PNN_MAX_RANK]; /* original dim -> index among non-1 dims, or -1 */
  int kept = 0;
  for (int d = 0; d < rank; ++d) keep_index[d] = dims[d] == 1 ? -1 : kept++;
  int seq[PNN_MAX_RANK], n = 0; /* output order of the kept input dims */
  for (int k = 0; k < rank; ++k) {
    if (keep_index[perm[k]] >= 0) seq[n++] = keep_index[perm[k]];
  }
  size_t sizes[PNN_MAX_RANK];
  for (int d = 0, j = 0; d < rank; ++d) {
    if (dims[d] != 1) sizes[j++] = (size_t)dims[d];
  }
  /* Merge output-adjacent dims that are input-adjacent too: group g covers a run of
   * input dims starting at head[g]. */
  int head[PNN_MAX_RANK], len[PNN_MAX_RANK], groups = 0;
  for (int k = 0; k < n; ++k) {
    if (groups > 0 && seq[k] == head[groups - 1] + len[groups - 1]) {
      len[groups - 1]++;
    } else {
      head[groups] = seq[k];
      len[groups] = 1;
      groups++;
    }
  }
  /* Number the groups by input order. */
  for (int g = 0; g < groups; ++g) {
    int order = 0;
    for (int h = 0; h < groups; ++h) order += head[h] < head[g];
    q[g] = order;
    size_t size = 1;
    for (int j = 0; j < len[g]; ++j) size *= sizes[head[g] + j];
    in_dims[order] = size;
  }
  return groups;
}

pnn_status pnn_op_transpose_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, true, error);
  if (st != PNN_OK) return st;
  size_t size = 0;
  if ((st = pnn_same_value_io(model, node, &size, error)) != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if ((st = pnn_ew_check_dims(node, x, error)) != PNN_OK) return st;
  const int rank = x->rank;
  int64_t perm[PNN_MAX_RANK];
  if (pnn_node_attr(node, "perm")) {
    const int64_t *p = NULL;
    if ((st = pnn_ew_attr_ints(node, "perm", (uint32_t)rank, &p, error)) != PNN_OK) return st;
    for (int k = 0; k < rank; ++k) perm[k] = p[k];
  } else {
    for (int k = 0; k < rank; ++k) perm[k] = rank - 1 - k; /* ONNX default: reverse */
  }
  bool seen[PNN_MAX_RANK] = {false};
  for (int k = 0; k < rank; ++k) {
    if (perm[k] < 0 || perm[k] >= rank || seen[perm[k]]) {
      return pnn_set_error(error, PNN_ERR_FORMAT, "node '%s': 'perm' is not a permutation of 0..%d",
                           node->name, rank - 1);
    }
    seen[perm[k]] = true;
  }
  int64_t dims[PNN_MAX_RANK];
  for (int k = 0; k < rank; ++k) dims[k] = x->dims[perm[k]];
  if ((st = pnn_check_output_shape(model, node, 0, rank, dims, error)) != PNN_OK) return st;

  transpose_plan *plan = calloc(1, sizeof(*plan));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->size = size;
  plan->numel = pnn_ew_prod(x->dims, 0, rank);
  size_t in_dims[PNN_MAX_RANK];
  int q[PNN_MAX_RANK];
  const int m = simplify(rank, x->dims, perm, in_dims, q);
  node->kernel = "copy";
  if (plan->numel == 0 || m <= 1) {
    plan->mode = MODE_COPY;
  } else if (size == sizeof(float) && ((m == 2 && q[0] == 1) || (m == 3 && q[0] == 0 && q[1] == 2 && q[2] == 1))) {
    /* The f32 kernel only moves 4-byte words: s32 goes through it unchanged too. */
    plan->mode = MODE_2D;
    plan->batch = m == 3 ? in_dims[0] : 1;
    plan->rows = in_dims[m - 2];
    plan->cols = in_dims[m - 1];
    const char *isa = "scalar";
    plan->transpose2d = pnn_f32_transpose2d_select(&model->cpu, &isa);
    node->kernel = PNN_KERNEL_NAME("f32-transpose", isa);
  } else {
    size_t in_stride[PNN_MAX_RANK];
    size_t s = 1;
    for (int d = m - 1; d >= 0; --d) {
      in_stride[d] = s;
      s *= in_dims[d];
    }
    plan->rank = m;
    for (int k = 0; k < m; ++k) {
      plan->out_dims[k] = in_dims[q[k]];
      plan->in_stride[k] = in_stride[q[k]];
    }
    if (q[m - 1] == m - 1) {
      plan->mode = MODE_BLOCKS;
      plan->block = in_dims[m - 1];
    } else {
      plan->mode = MODE_GENERAL;
      plan->block = plan->out_dims[m - 1];
    }
  }
  node->params = plan;
  node->scratch_bytes = 0;
  return PNN_OK;
}

void pnn_op_transpose_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                          void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const transpose_plan *p = node->params;
  if (p->mode == MODE_COPY) {
    if (p->numel > 0) memcpy(out[0], in[0], p->numel * p->size);
    return;
  }
  if (p->mode == MODE_2D) {
    const float *xf = in[0];
    float *yf = out[0];
    const size_t plane = p->rows * p->cols;
    for (size_t b = 0; b < p->batch; ++b) {
      p->transpose2d(p->rows, p->cols, xf + b * plane, p->cols, yf + b * plane, p->rows);
    }
    return;
  }
  const uint8_t *x = in[0];
  uint8_t *y = out[0];
  const size_t size = p->size;
  const size_t rows = p->numel / p->block;
  const size_t inner_stride = p->in_stride[p->rank - 1];
  size_t index[PNN_MAX_RANK] = {0};
  size_t offset = 0;
  for (size_t r = 0; r < rows; ++r, y += p->block * size) {
    if (p->mode == MODE_BLOCKS) {
      memcpy(y, x + offset * size, p->block * size);
    } else {
      pnn_copy_strided(size, y, x + offset * size, p->block, (ptrdiff_t)inner_stride);
    }
    for (int d = p->rank - 2; d >= 0; --d) {
      offset += p->in_stride[d];
      if (++index[d] < p->out_dims[d]) break;
      offset -= p->in_stride[d] * p->out_dims[d];
      index[d] = 0;
    }
  }
}
