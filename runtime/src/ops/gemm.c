/* Gemm (op code 3): Y = act(alpha * A' * B' + beta * C), A' = trans_a ? A^T : A,
 * B' = trans_b ? B^T : B, C unidirectionally broadcast to [M, N].
 *
 * The kernel wants A' [M,K] and B' [K,N] row-major, so a transposed A is copied into
 * scratch, and B' (with alpha folded in) is packed at prepare when B is a constant (into
 * the packed-panel kernel's layout where it has SIMD variants, packed_gemm.h), else
 * copied into scratch when it needs a transpose or scaling. beta * C becomes a
 * column bias ([N] or a scalar), a row bias ([M,1]) or, when it is a full [M,N],
 * is added after the GEMM.
 *
 * A group-sparse B (trans_b = 1: rows are the N outputs) runs as SpMM with the batch
 * rows of A as the "pixels": y^T [N, M] = B [N, K] a^T [K, M]. */
#include <stdlib.h>

#include "nn_common.h"
#include "packed_gemm.h"

enum gemm_c_mode { GEMM_C_NONE = 0, GEMM_C_COL = 1, GEMM_C_ROW = 2, GEMM_C_FULL = 3 };

typedef struct gemm_params {
  size_t m, n, k;
  bool trans_a, trans_b;
  float alpha, beta;
  pnn_activation act;
  pnn_f32_gemm_fn gemm;
  int c_mode;
  size_t c_rows, c_cols;     /* C viewed as [c_rows, c_cols], each 1 or M / N */
  bool copy_b;               /* B' must be built in scratch at run */
  const float *packed_b;     /* B' [K,N] * alpha inside this block, or NULL */
  const float *packed_bias;  /* beta * C as a bias vector inside this block, or NULL */
  const float *gemv_w;       /* M == 1, constant B^T: B [N,K] used in place as y^T = B a^T */
  pnn_packed_gemm panels;    /* constant B' in kernel panels inside this block (panels.gemm set) */
  size_t a_offset, b_offset, bias_offset; /* scratch regions */
  pnn_sparse_f32 sparse;     /* group-sparse B, when sparse_b */
  pnn_f32_spmm_fn spmm;
  bool sparse_b;
  size_t yt_offset;          /* sparse, M > 1: y^T [N, M] in scratch (a^T at a_offset) */
} gemm_params;

/* dst[r][c] = scale * (trans ? src[c][r] : src[r][c]) for a [rows, cols] result. */
static void copy_scaled(const float *src, bool trans, float scale, size_t rows, size_t cols,
                        float *dst) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      dst[r * cols + c] = scale * (trans ? src[c * rows + r] : src[r * cols + c]);
    }
  }
}

/* The bias vector beta * C for the COL (length N) and ROW (length M) modes. */
static void fill_bias(const gemm_params *p, const float *c, float *bias) {
  const size_t len = p->c_mode == GEMM_C_COL ? p->n : p->m;
  const size_t c_len = p->c_mode == GEMM_C_COL ? p->c_cols : p->c_rows;
  for (size_t i = 0; i < len; ++i) bias[i] = p->beta * c[c_len == 1 ? 0 : i];
}

pnn_status pnn_op_gemm_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 2, 3, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *a = pnn_input_tensor(model, node, 0);
  const pnn_tensor *b = pnn_input_tensor(model, node, 1);
  const pnn_tensor *c = pnn_input_tensor(model, node, 2);
  if (a->rank != 2 || b->rank != 2) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Gemm): A and B must be 2-D", node->name);
  }
  if ((st = pnn_nn_check_dims(node, a, "A", error)) != PNN_OK) return st;
  if ((st = pnn_nn_check_dims(node, b, "B", error)) != PNN_OK) return st;

  int64_t trans_a = 0, trans_b = 0;
  gemm_params p;
  memset(&p, 0, sizeof(p));
  if ((st = pnn_nn_attr_int_range(node, "trans_a", 0, 0, 1, &trans_a, error)) != PNN_OK ||
      (st = pnn_nn_attr_int_range(node, "trans_b", 0, 0, 1, &trans_b, error)) != PNN_OK ||
      (st = pnn_nn_attr_float(node, "alpha", 1.0f, &p.alpha, error)) != PNN_OK ||
      (st = pnn_nn_attr_float(node, "beta", 1.0f, &p.beta, error)) != PNN_OK ||
      (st = pnn_nn_attr_act(node, &p.act, error)) != PNN_OK) {
    return st;
  }
  p.trans_a = trans_a != 0;
  p.trans_b = trans_b != 0;
  const int64_t m = a->dims[p.trans_a ? 1 : 0], k = a->dims[p.trans_a ? 0 : 1];
  const int64_t kb = b->dims[p.trans_b ? 1 : 0], n = b->dims[p.trans_b ? 0 : 1];
  if (k != kb) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Gemm): inner dimensions %lld and %lld differ",
                         node->name, (long long)k, (long long)kb);
  }
  p.m = (size_t)m;
  p.n = (size_t)n;
  p.k = (size_t)k;

  if (c) {
    if (c->rank > 2 || (st = pnn_nn_check_dims(node, c, "C", error)) != PNN_OK) {
      return st != PNN_OK ? st
                          : pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Gemm): C has rank %d > 2",
                                          node->name, c->rank);
    }
    const int64_t c_rows = c->rank == 2 ? c->dims[0] : 1;
    const int64_t c_cols = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    if ((c_rows != 1 && c_rows != m) || (c_cols != 1 && c_cols != n)) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Gemm): C does not broadcast to [%lld, %lld]",
                           node->name, (long long)m, (long long)n);
    }
    p.c_rows = (size_t)c_rows;
    p.c_cols = (size_t)c_cols;
    if (p.beta == 0.0f) {
      p.c_mode = GEMM_C_NONE;  /* ONNX: beta = 0 ignores C */
    } else if (c_rows == 1) {
      p.c_mode = GEMM_C_COL;
    } else if (c_cols == 1) {
      p.c_mode = GEMM_C_ROW;
    } else {
      p.c_mode = GEMM_C_FULL;
    }
  }
  const int64_t out_dims[2] = {m, n};
  if ((st = pnn_check_output_shape(model, node, 0, 2, out_dims, error)) != PNN_OK) return st;

  const char *isa = "scalar";
  p.gemm = pnn_f32_gemm_select(&model->cpu, &isa);
  node->kernel = PNN_KERNEL_NAME("gemm", isa);
  if (pnn_tensor_is_sparse(b)) {
    if (!p.trans_b || p.trans_a || p.alpha != 1.0f ||
        (p.c_mode != GEMM_C_NONE && p.c_mode != GEMM_C_COL)) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                           "node \"%s\" (Gemm): a group-sparse B needs trans_b = 1, trans_a = 0, alpha = 1 "
                           "and C absent or a vector of length N",
                           node->name);
    }
    if (pnn_tensor_sparse_view(b, &p.sparse) != PNN_OK || p.sparse.rows != p.n || p.sparse.cols != p.k) {
      return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (Gemm): group-sparse B does not match its shape",
                           node->name);
    }
    p.sparse_b = true;
    p.spmm = pnn_f32_spmm_select(&model->cpu, &isa);
    node->kernel = PNN_KERNEL_NAME("sparse", isa);
    const bool c_const_vec = c && c->kind == PNN_TENSOR_CONSTANT && c->data != NULL;
    size_t header, block, bias_bytes = 0, at_bytes = 0, yt_bytes = 0, scratch = 0, count;
    if (!pnn_nn_align(sizeof(p), &header) || !pnn_nn_float_region(p.n, &bias_bytes) ||
        !pnn_nn_mul(p.m, p.k, &count) || !pnn_nn_float_region(count, &at_bytes) ||
        !pnn_nn_mul(p.m, p.n, &count) || !pnn_nn_float_region(count, &yt_bytes)) {
      goto too_large;
    }
    if (p.m == 1) at_bytes = yt_bytes = 0; /* a row vector is already a column */
    block = header + (p.c_mode == GEMM_C_COL && c_const_vec ? bias_bytes : 0);
    p.a_offset = 0;
    p.yt_offset = at_bytes;
    if (!pnn_nn_add(at_bytes, yt_bytes, &scratch)) goto too_large;
    p.bias_offset = scratch;
    if (p.c_mode == GEMM_C_COL && !c_const_vec && !pnn_nn_add(scratch, bias_bytes, &scratch)) goto too_large;
    gemm_params *params = malloc(block);
    if (!params) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (Gemm): out of memory", node->name);
    if (p.c_mode == GEMM_C_COL && c_const_vec) {
      float *packed = (float *)((unsigned char *)params + header);
      fill_bias(&p, c->data, packed);
      p.packed_bias = packed;
    }
    *params = p;
    node->params = params;
    node->scratch_bytes = scratch;
    return PNN_OK;
  }

  const bool b_const = b->kind == PNN_TENSOR_CONSTANT && b->data != NULL;
  const bool c_const = c && c->kind == PNN_TENSOR_CONSTANT && c->data != NULL;
  const bool b_needs_copy = p.trans_b || p.alpha != 1.0f;
  /* One row times a constant transposed B (a fully connected layer at batch 1): the
   * weights are used in place as the rows of a matrix-vector product. */
  const bool gemv = p.m == 1 && p.trans_b && p.alpha == 1.0f && b_const &&
                    (p.c_mode == GEMM_C_NONE || p.c_mode == GEMM_C_COL);
  if (gemv) p.gemv_w = b->data;
  /* Any other constant B goes into the packed-panel kernel's layout once, here. */
  const char *pb_isa = NULL;
  const pnn_f32_gemm_pb_fn pb = b_const && !gemv && p.c_mode != GEMM_C_FULL ? pnn_packed_gemm_kernel(model, &pb_isa)
                                                                            : NULL;
  if (pb) node->kernel = PNN_KERNEL_NAME("packed", pb_isa);
  const bool pack_b = b_needs_copy && b_const && !gemv && !pb;
  const bool bias_vector = p.c_mode == GEMM_C_COL || p.c_mode == GEMM_C_ROW;
  const size_t bias_len = p.c_mode == GEMM_C_COL ? p.n : p.m;
  p.copy_b = b_needs_copy && !b_const;

  size_t a_bytes = 0, b_bytes = 0, bias_bytes = 0, header = 0, block = 0, scratch = 0, count;
  if (!pnn_nn_mul(p.k, p.n, &count) || !pnn_nn_float_region(count, &b_bytes) ||
      !pnn_nn_mul(p.m, p.k, &count) || !pnn_nn_float_region(count, &a_bytes) ||
      !pnn_nn_float_region(bias_len, &bias_bytes) || !pnn_nn_align(sizeof(p), &header)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Gemm): operands too large", node->name);
  }
  /* Params block: header, packed B', packed bias. Scratch: A', B', bias. */
  size_t b_pack_offset = header, bias_pack_offset = header, panel_bytes = 0;
  block = header;
  if (pb && !pnn_packed_gemm_bytes(p.k, p.n, &panel_bytes)) goto too_large;
  if (pack_b || pb) {
    if (!pnn_nn_add(block, pb ? panel_bytes : b_bytes, &block)) goto too_large;
    bias_pack_offset = block;
  }
  if (bias_vector && c_const) {
    if (!pnn_nn_add(block, bias_bytes, &block)) goto too_large;
  }
  p.a_offset = 0;
  if (p.trans_a && !pnn_nn_add(scratch, a_bytes, &scratch)) goto too_large;
  p.b_offset = scratch;
  if (p.copy_b && !pnn_nn_add(scratch, b_bytes, &scratch)) goto too_large;
  p.bias_offset = scratch;
  if (bias_vector && !c_const && !pnn_nn_add(scratch, bias_bytes, &scratch)) goto too_large;

  gemm_params *params = pnn_alloc_large(block);
  if (!params) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (Gemm): out of memory", node->name);
  unsigned char *base = (unsigned char *)params;
  if (pack_b) {
    float *packed = (float *)(base + b_pack_offset);
    copy_scaled(b->data, p.trans_b, p.alpha, p.k, p.n, packed);
    p.packed_b = packed;
  }
  if (pb) pnn_packed_gemm_pack(b->data, p.trans_b, p.alpha, p.k, p.n, pb, base + b_pack_offset, &p.panels);
  if (bias_vector && c_const) {
    float *packed = (float *)(base + bias_pack_offset);
    fill_bias(&p, c->data, packed);
    p.packed_bias = packed;
  }
  *params = p;
  node->params = params;
  node->scratch_bytes = scratch;
  return PNN_OK;

too_large:
  return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Gemm): operands too large", node->name);
}

/* A fully connected layer at batch 1 (the weights' rows times one vector) in row chunks
 * across the pool: serial, MobileNet V2's 1280 -> 1000 classifier was 4% of a run at
 * 1 thread and 8% at 2 (bench/pool_trace). Chunks start at multiples of GEMV_ROWS,
 * which every f32 GEMV groups rows by (4 or 8, each row summed on its own), so the
 * results do not depend on the thread count. */
enum { GEMV_ROWS = 8, GEMV_TASKS_PER_THREAD = 2 };

typedef struct gemv_job {
  const gemm_params *p;
  const float *a, *bias;
  float *y;
  size_t step; /* rows per task, a multiple of GEMV_ROWS */
} gemv_job;

static void gemv_task(void *context, size_t task, size_t thread) {
  (void)thread;
  const gemv_job *job = context;
  const gemm_params *p = job->p;
  const size_t r0 = task * job->step, rows = p->n - r0 < job->step ? p->n - r0 : job->step;
  /* y^T [N,1] = B [N,K] a^T [K,1]: the column bias becomes a row bias. */
  p->gemm(rows, 1, p->k, p->gemv_w + r0 * p->k, p->k, job->a, 1, job->y + r0, 1,
          job->bias ? job->bias + r0 : NULL, NULL, p->act);
}

void pnn_op_gemm_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                     void *const *out, const pnn_run_context *ctx) {
  void *scratch = ctx->scratch;
  (void)model;
  const gemm_params *p = node->params;
  unsigned char *s = scratch;
  const float *a = in[0];
  const float *b = in[1];
  const float *c = node->n_inputs > 2 ? in[2] : NULL;
  float *y = out[0];
  if (p->sparse_b) {
    const float *bias = NULL;
    if (p->c_mode == GEMM_C_COL) {
      bias = p->packed_bias;
      if (!bias) {
        float *bias_copy = (float *)(s + p->bias_offset);
        fill_bias(p, c, bias_copy);
        bias = bias_copy;
      }
    }
    if (p->m == 1) {
      p->spmm(&p->sparse, 1, a, 1, bias, y, 1, p->act);
      return;
    }
    float *at = (float *)(s + p->a_offset), *yt = (float *)(s + p->yt_offset);
    copy_scaled(a, true, 1.0f, p->k, p->m, at);  /* a^T [K, M] */
    p->spmm(&p->sparse, p->m, at, p->m, bias, yt, p->m, p->act);
    copy_scaled(yt, true, 1.0f, p->m, p->n, y);  /* y [M, N] from y^T [N, M] */
    return;
  }

  if (p->trans_a) {
    float *a_copy = (float *)(s + p->a_offset);
    copy_scaled(a, true, 1.0f, p->m, p->k, a_copy);
    a = a_copy;
  }
  if (p->packed_b) {
    b = p->packed_b;
  } else if (p->copy_b) {
    float *b_copy = (float *)(s + p->b_offset);
    copy_scaled(b, p->trans_b, p->alpha, p->k, p->n, b_copy);
    b = b_copy;
  }
  const float *row_bias = NULL, *col_bias = NULL;
  if (p->c_mode == GEMM_C_COL || p->c_mode == GEMM_C_ROW) {
    const float *bias = p->packed_bias;
    if (!bias) {
      float *bias_copy = (float *)(s + p->bias_offset);
      fill_bias(p, c, bias_copy);
      bias = bias_copy;
    }
    if (p->c_mode == GEMM_C_COL) col_bias = bias; else row_bias = bias;
  }
  if (p->panels.gemm) {
    pnn_packed_gemm_run(&p->panels, p->m, a, p->k, y, p->n, row_bias, col_bias, p->act);
    return;
  }
  if (p->gemv_w) {
    const size_t threads = pnn_threadpool_size(ctx->pool);
    const pnn_nn_split split = pnn_nn_split_units(threads, GEMV_TASKS_PER_THREAD, p->n, GEMV_ROWS);
    gemv_job job = {p, a, col_bias, y, split.step};
    pnn_parallel_for(ctx->pool, split.count, gemv_task, &job);
    return;
  }
  if (p->c_mode != GEMM_C_FULL) {
    p->gemm(p->m, p->n, p->k, a, p->k, b, p->n, y, p->n, row_bias, col_bias, p->act);
    return;
  }
  const pnn_activation none = {PNN_ACT_NONE, 0.0f, 0.0f};
  p->gemm(p->m, p->n, p->k, a, p->k, b, p->n, y, p->n, NULL, NULL, none);
  for (size_t i = 0; i < p->m * p->n; ++i) y[i] = pnn_activate(y[i] + p->beta * c[i], p->act);
}
