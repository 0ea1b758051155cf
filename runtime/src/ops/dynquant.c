/* Dynamic quantization (docs/QUANTIZATION.md "Dynamic quantization", docs/OPS.md):
 * DynamicQuantizeLinear (116), ConvInteger (110) and MatMulInteger (111), the operators
 * onnxruntime's quantize_dynamic emits.
 *
 * DynamicQuantizeLinear picks the u8 scale and zero point of its input on every run
 * (onnxruntime's rule: the range widened to hold 0, scale 1 for an all-zero input) and
 * quantizes with the f32-quantize kernel.
 *
 * ConvInteger and MatMulInteger take u8 activations with a zero point that is itself a
 * runtime value, constant s8 weights (u8 weights arrive shifted by -128, their zero points
 * too) with an int32 zero point per output channel, and give the exact int32 result
 *   Y = sum_k (x - zx) * (w - zw) = raw - zx * sum_k w - zw * sum_k x + K * zx * zw
 * where raw = sum_k x * w comes from the s8-gemm-s32 kernel on weights packed at load,
 * sum_k w is per output channel (made at load) and sum_k x per output column (made per
 * run, only when some zw is not 0). ConvInteger unfolds X per column chunk like QConv
 * (padding reads zx); MatMulInteger transposes a chunk of rows of A into the kernel's
 * [K][columns] form and the sums back. Tasks are column (row) chunks fixed at load:
 * integer arithmetic, the same bytes for any thread count.
 *
 * A MatMulInteger with few rows of A (a sequence's classifier: 20 rows x 8210 outputs in
 * ddddocr) runs the s8-gemv kernel instead, which streams the weights once for all rows:
 * the GEMM's column tiles are wider than 20 (on AVX2 it took 2.5x onnxruntime's time).
 * Its tasks are chunks of DYNQ_GEMV_CHUNK output channels, each packed on its own. */
#include <math.h>
#include <stdlib.h>

#include "q_common.h"

enum {
  DYNQ_COLS_BUDGET = 128 * 1024, /* bytes of unfolded / transposed X per task */
  DYNQ_MIN_CHUNK = 16,
  DYNQ_MAX_CHUNK = 2048,
  /* |x - zx| * |w - zw| <= 255 * 255 per term: the int32 result of onnxruntime. */
  DYNQ_MAX_K = 33025,
  DYNQ_GEMV_MAX_ROWS = 32, /* MatMulInteger rows of A up to which the s8-gemv runs */
  DYNQ_GEMV_CHUNK = 256    /* output channels per s8-gemv task (whole 64-row blocks) */
};

typedef struct dynq_params {
  bool conv;
  size_t batch, groups, in_c, out_c, in_c_group, out_c_group, k;
  pnn_conv2d_geometry geom; /* per group */
  bool unfold;              /* ConvInteger: not a plain 1x1 */
  size_t rows;              /* MatMulInteger: rows of A */
  const pnn_s8_gemm_s32_kernel *gemm;
  const pnn_s8_gemv_kernel *gemv; /* MatMulInteger with few rows: set instead of gemm */
  const uint8_t *packed;    /* per group (gemv: per chunk of output channels) packed_stride bytes, 64-aligned */
  size_t packed_stride;
  const int32_t *w_sums;    /* sum_k w per output channel */
  const int32_t *w_zero;    /* zero point per output channel */
  bool any_w_zero;
  size_t chunk;             /* columns (ConvInteger) or rows (MatMulInteger) per task */
  size_t x_bytes, y_bytes;  /* scratch: unfolded / transposed X, transposed Y (MatMul) */
  size_t sums_bytes;        /* scratch: sum_k x per column */
} dynq_params;

typedef struct dynq_job {
  const dynq_params *p;
  const uint8_t *x;
  int32_t x_zero;
  int32_t *y;
  const pnn_run_context *ctx;
  size_t col_chunks;
  const int32_t *x_sums; /* MatMulInteger on the s8-gemv: sum_k x per row of A */
} dynq_job;

/* ---- DynamicQuantizeLinear ------------------------------------------------------ */

typedef struct quantize_params {
  pnn_f32_quantize_u8_fn quantize;
  size_t n;
} quantize_params;

pnn_status pnn_op_dynamic_quantize_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  const char *op = "DynamicQuantizeLinear";
  pnn_status st = pnn_check_io(model, node, 1, 1, 3, 3, true, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0), *y = pnn_output_tensor(model, node, 0);
  const pnn_tensor *scale = pnn_output_tensor(model, node, 1), *zero = pnn_output_tensor(model, node, 2);
  if ((st = pnn_q_check_dtype(node, op, x, "x", PNN_DTYPE_F32, "f32", error)) != PNN_OK ||
      (st = pnn_q_check_dtype(node, op, y, "y", PNN_DTYPE_U8, "u8", error)) != PNN_OK ||
      (st = pnn_q_check_dtype(node, op, scale, "y_scale", PNN_DTYPE_F32, "f32", error)) != PNN_OK ||
      (st = pnn_q_check_dtype(node, op, zero, "y_zero_point", PNN_DTYPE_U8, "u8", error)) != PNN_OK ||
      (st = pnn_check_output_shape(model, node, 0, x->rank, x->dims, error)) != PNN_OK) {
    return st;
  }
  if (scale->numel != 1 || zero->numel != 1) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): y_scale and y_zero_point must be scalars",
                         node->name, op);
  }
  quantize_params *p = malloc(sizeof(*p));
  if (!p) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (%s): out of memory", node->name, op);
  const char *isa = "scalar";
  p->quantize = pnn_f32_quantize_u8_select(&model->cpu, &isa);
  p->n = x->numel;
  node->params = p;
  node->kernel = PNN_KERNEL_NAME("f32quantize", isa);
  return PNN_OK;
}

void pnn_op_dynamic_quantize_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                                 void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const quantize_params *p = node->params;
  const float *x = in[0];
  float scale = 1.0f;
  int32_t zero_point = 0;
  pnn_q_dynamic_u8_params(x, p->n, &scale, &zero_point);
  p->quantize(p->n, x, scale, zero_point, out[0]);
  *(float *)out[1] = scale;
  *(uint8_t *)out[2] = (uint8_t)zero_point;
}

/* ---- ConvInteger / MatMulInteger: shared checks and weights --------------------- */

/* X u8, x_zero_point one u8 value, W a dense s8 constant of `rank`, w_zero_point a
 * constant s32 vector of `channels` entries, Y s32. */
static pnn_status check_integer_io(const pnn_model *model, const pnn_node *node, const char *op, int rank,
                                   size_t *channels_out, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 4, 4, 1, 1, true, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0), *w = pnn_input_tensor(model, node, 1);
  const pnn_tensor *xz = pnn_input_tensor(model, node, 2), *y = pnn_output_tensor(model, node, 0);
  if ((st = pnn_q_check_dtype(node, op, x, "X", PNN_DTYPE_U8, "u8", error)) != PNN_OK ||
      (st = pnn_q_check_dtype(node, op, w, "W", PNN_DTYPE_S8, "s8", error)) != PNN_OK ||
      (st = pnn_q_check_dtype(node, op, xz, "x_zero_point", PNN_DTYPE_U8, "u8", error)) != PNN_OK ||
      (st = pnn_q_check_dtype(node, op, y, "Y", PNN_DTYPE_S32, "s32", error)) != PNN_OK) {
    return st;
  }
  if (xz->numel != 1) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): x_zero_point must hold one value", node->name,
                         op);
  }
  if (w->kind != PNN_TENSOR_CONSTANT || w->encoding != PNN_ENCODING_DENSE || w->data == NULL ||
      w->nbytes != w->numel || w->rank != rank) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): W \"%s\" must be a dense s8 constant of "
                         "rank %d", node->name, op, w->name, rank);
  }
  if ((st = pnn_nn_check_dims(node, x, "X", error)) != PNN_OK ||
      (st = pnn_nn_check_dims(node, w, "W", error)) != PNN_OK) {
    return st;
  }
  *channels_out = (size_t)(rank == 2 ? w->dims[1] : w->dims[0]);
  return pnn_q_check_s32_vector(node, op, pnn_input_tensor(model, node, 3), "w_zero_point", *channels_out,
                                error);
}

/* Reads W as `out_c` rows of `k` (MatMulInteger's W is [K, N]: read transposed) into
 * rows, then packs each group and fills the row sums and zero points after the params. */
static pnn_status finish_weights(pnn_node *node, const char *op, const pnn_model *model, dynq_params *p,
                                 pnn_error *error) {
  const pnn_tensor *w = pnn_input_tensor(model, node, 1);
  const int32_t *zero = pnn_input_tensor(model, node, 3)->data;
  if (p->k > DYNQ_MAX_K) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                         "node \"%s\" (%s): reduction of %zu terms can overflow int32 (at most %d)", node->name, op,
                         p->k, DYNQ_MAX_K);
  }
  for (size_t m = 0; m < p->out_c; ++m) {
    if (zero[m] < -255 || zero[m] > 255) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): w_zero_point %ld of channel %zu is "
                           "outside [-255, 255]", node->name, op, (long)zero[m], m);
    }
  }
  size_t head, packed = 0, vectors = 0, total = 0;
  const size_t packs = p->gemv ? pnn_nn_div_up(p->out_c, DYNQ_GEMV_CHUNK) : p->groups;
  const size_t pack_rows = p->gemv ? (p->out_c < DYNQ_GEMV_CHUNK ? p->out_c : DYNQ_GEMV_CHUNK) : p->out_c_group;
  if (!pnn_nn_align(sizeof(dynq_params), &head) ||
      !pnn_nn_align(p->gemv ? p->gemv->pack_size(pack_rows, p->k) : p->gemm->pack_size(pack_rows, p->k),
                    &p->packed_stride) ||
      !pnn_nn_mul(p->packed_stride, packs, &packed) || !pnn_nn_mul(p->out_c, 2 * sizeof(int32_t), &vectors) ||
      !pnn_nn_add(head, packed, &total) || !pnn_nn_add(total, vectors, &total) ||
      !pnn_nn_add(total, PNN_NN_ALIGN, &total)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): weights too large", node->name, op);
  }
  dynq_params *params = malloc(total);
  int8_t *rows = malloc(w->numel);
  if (!params || !rows) {
    free(params);
    free(rows);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (%s): out of memory", node->name, op);
  }
  const int8_t *src = w->data;
  for (size_t m = 0; m < p->out_c; ++m) {
    for (size_t i = 0; i < p->k; ++i) rows[m * p->k + i] = p->conv ? src[m * p->k + i] : src[i * p->out_c + m];
  }
  /* malloc promises 16-byte alignment; the packed weights need 64. */
  const uintptr_t base = (uintptr_t)params + sizeof(dynq_params);
  uint8_t *weights = (uint8_t *)((base + PNN_NN_ALIGN - 1) & ~(uintptr_t)(PNN_NN_ALIGN - 1));
  int32_t *sums = (int32_t *)(weights + packed), *zeros = sums + p->out_c;
  for (size_t g = 0; g < packs; ++g) {
    const size_t m0 = g * pack_rows, count = p->out_c - m0 < pack_rows ? p->out_c - m0 : pack_rows;
    if (p->gemv) {
      p->gemv->pack(count, p->k, rows + m0 * p->k, weights + g * p->packed_stride);
    } else {
      p->gemm->pack(count, p->k, rows + m0 * p->k, weights + g * p->packed_stride);
    }
  }
  p->any_w_zero = false;
  for (size_t m = 0; m < p->out_c; ++m) {
    int32_t sum = 0; /* |sum| <= 128 * DYNQ_MAX_K */
    for (size_t i = 0; i < p->k; ++i) sum += rows[m * p->k + i];
    sums[m] = sum;
    zeros[m] = zero[m];
    p->any_w_zero = p->any_w_zero || zero[m] != 0;
  }
  free(rows);
  p->packed = weights;
  p->w_sums = sums;
  p->w_zero = zeros;
  *params = *p;
  node->params = params;
  node->kernel = p->gemv ? PNN_KERNEL_NAME("s8gemv", p->gemv->name) : PNN_KERNEL_NAME("s8gemm_s32", p->gemm->name);
  return PNN_OK;
}

/* Scratch of one task: the kernel's, then X (unfolded or transposed), Y^T (MatMul), the
 * column sums. */
static pnn_status size_scratch(const pnn_node *node, const char *op, dynq_params *p, bool x_copy, bool y_copy,
                               pnn_node *out, pnn_error *error) {
  size_t gemm = 0, total = 0;
  const size_t y_cols = p->conv ? 0 : p->out_c;
  if (!pnn_nn_align(p->gemv ? 0 : p->gemm->scratch_size(p->chunk, p->k), &gemm) ||
      !pnn_nn_mul(x_copy ? p->k : 0, p->chunk, &p->x_bytes) || !pnn_nn_align(p->x_bytes, &p->x_bytes) ||
      !pnn_nn_mul(y_copy ? y_cols * sizeof(int32_t) : 0, p->chunk, &p->y_bytes) ||
      !pnn_nn_align(p->y_bytes, &p->y_bytes) || !pnn_nn_mul(p->chunk, sizeof(int32_t), &p->sums_bytes) ||
      !pnn_nn_align(p->sums_bytes, &p->sums_bytes) || !pnn_nn_add(gemm, p->x_bytes, &total) ||
      !pnn_nn_add(total, p->y_bytes, &total) || !pnn_nn_add(total, p->sums_bytes, &total)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): scratch too large", node->name, op);
  }
  out->scratch_bytes = total;
  return PNN_OK;
}

/* Columns (rows of A) per task: about DYNQ_COLS_BUDGET bytes of X at depth k. */
static size_t chunk_for(size_t k, size_t count) {
  size_t chunk = DYNQ_COLS_BUDGET / (k ? k : 1);
  chunk = chunk < DYNQ_MIN_CHUNK ? DYNQ_MIN_CHUNK : (chunk > DYNQ_MAX_CHUNK ? DYNQ_MAX_CHUNK : chunk);
  chunk -= chunk % DYNQ_MIN_CHUNK;
  return chunk < count ? chunk : count;
}

pnn_status pnn_op_conv_integer_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  const char *op = "ConvInteger";
  size_t channels = 0;
  pnn_status st = check_integer_io(model, node, op, 4, &channels, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0), *w = pnn_input_tensor(model, node, 1);
  if (x->rank != 4) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): X must have rank 4 (has %d)", node->name, op,
                         x->rank);
  }
  pnn_q_conv_layout layout;
  if ((st = pnn_q_conv_shape(model, node, op, x, w, &layout, error)) != PNN_OK) return st;
  dynq_params p;
  memset(&p, 0, sizeof(p));
  p.conv = true;
  p.batch = (size_t)x->dims[0];
  p.groups = (size_t)layout.group;
  p.in_c = (size_t)x->dims[1];
  p.out_c = channels;
  p.in_c_group = (size_t)w->dims[1];
  p.out_c_group = channels / p.groups;
  p.k = p.in_c_group * (size_t)(w->dims[2] * w->dims[3]); /* <= numel of W */
  p.geom = layout.geom;
  p.unfold = !layout.direct;
  p.gemm = pnn_s8_gemm_s32_select(&model->cpu);
  p.chunk = chunk_for(p.k, p.geom.out_h * p.geom.out_w);
  if ((st = size_scratch(node, op, &p, p.unfold, false, node, error)) != PNN_OK) return st;
  return finish_weights(node, op, model, &p, error);
}

pnn_status pnn_op_matmul_integer_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  const char *op = "MatMulInteger";
  size_t channels = 0;
  pnn_status st = check_integer_io(model, node, op, 2, &channels, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0), *w = pnn_input_tensor(model, node, 1);
  const int last = x->rank - 1;
  if (x->rank < 1 || x->dims[last] != w->dims[0]) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): A has %lld columns, B %lld rows", node->name, op,
                         (long long)(x->rank ? x->dims[last] : 0), (long long)w->dims[0]);
  }
  int64_t out_dims[PNN_MAX_RANK];
  int64_t rows = 1; /* checked dims of a tensor that exists: numel bounds the product */
  for (int i = 0; i < last; ++i) rows *= out_dims[i] = x->dims[i];
  out_dims[last] = w->dims[1];
  if ((st = pnn_check_output_shape(model, node, 0, x->rank, out_dims, error)) != PNN_OK) return st;

  dynq_params p;
  memset(&p, 0, sizeof(p));
  p.batch = p.groups = 1;
  p.rows = (size_t)rows;
  p.k = p.in_c = p.in_c_group = (size_t)w->dims[0];
  p.out_c = p.out_c_group = channels;
  p.gemm = pnn_s8_gemm_s32_select(&model->cpu);
  if (p.rows <= DYNQ_GEMV_MAX_ROWS) {
    p.gemv = pnn_s8_gemv_select(&model->cpu);
    p.chunk = p.rows; /* x_sums of every row, no copies of X or Y */
    if ((st = size_scratch(node, op, &p, false, false, node, error)) != PNN_OK) return st;
    return finish_weights(node, op, model, &p, error);
  }
  p.chunk = chunk_for(p.k, p.rows);
  if ((st = size_scratch(node, op, &p, true, true, node, error)) != PNN_OK) return st;
  return finish_weights(node, op, model, &p, error);
}

/* ---- run ------------------------------------------------------------------------ */

/* sums[n] = sum_k x[k * ldx + n] for n < cols. */
static void column_sums(const uint8_t *x, size_t ldx, size_t k, size_t cols, int32_t *sums) {
  memset(sums, 0, cols * sizeof(int32_t));
  for (size_t i = 0; i < k; ++i) {
    const uint8_t *row = x + i * ldx;
    for (size_t n = 0; n < cols; ++n) sums[n] += row[n];
  }
}

/* The zero-point terms of row m: Y = raw - zx * sum_k w - zw * sum_k x + K * zx * zw,
 * in int64 (|Y| < 2^31 by DYNQ_MAX_K; the conversion back wraps like onnxruntime's). */
static inline int32_t corrected(const dynq_params *p, int32_t raw, size_t m, int32_t x_zero, int32_t x_sum) {
  const int64_t zw = p->w_zero[m];
  const int64_t v = (int64_t)raw - (int64_t)x_zero * p->w_sums[m] - zw * x_sum + (int64_t)p->k * x_zero * zw;
  return (int32_t)(uint32_t)(uint64_t)v;
}

static void conv_task(void *context, size_t task, size_t thread) {
  const dynq_job *job = context;
  const dynq_params *p = job->p;
  const pnn_conv2d_geometry *g = &p->geom;
  const size_t in_hw = g->in_h * g->in_w, out_hw = g->out_h * g->out_w;
  const size_t cc = task % job->col_chunks, rest = task / job->col_chunks;
  const size_t grp = rest % p->groups, b = rest / p->groups;
  const size_t col0 = cc * p->chunk, cols = out_hw - col0 < p->chunk ? out_hw - col0 : p->chunk;
  uint8_t *scratch = pnn_nn_thread_scratch(job->ctx, thread);
  uint8_t *gemm_scratch = scratch + p->x_bytes + p->sums_bytes;
  int32_t *x_sums = (int32_t *)(scratch + p->x_bytes);
  const uint8_t *xg = job->x + (b * p->in_c + grp * p->in_c_group) * in_hw;
  const uint8_t *xs = xg + col0;
  size_t ldx = in_hw;
  if (p->unfold) {
    pnn_q_unfold_columns(g, xg, (uint8_t)job->x_zero, col0, cols, scratch);
    xs = scratch;
    ldx = cols;
  }
  const size_t m0 = grp * p->out_c_group;
  int32_t *y = job->y + (b * p->out_c + m0) * out_hw + col0;
  p->gemm->run(p->out_c_group, cols, p->k, 0, p->out_c_group, p->packed + grp * p->packed_stride, xs, ldx, y,
               out_hw, gemm_scratch);
  if (p->any_w_zero) column_sums(xs, ldx, p->k, cols, x_sums);
  for (size_t m = 0; m < p->out_c_group; ++m) {
    int32_t *row = y + m * out_hw;
    for (size_t n = 0; n < cols; ++n) row[n] = corrected(p, row[n], m0 + m, job->x_zero, p->any_w_zero ? x_sums[n] : 0);
  }
}

static void matmul_task(void *context, size_t task, size_t thread) {
  const dynq_job *job = context;
  const dynq_params *p = job->p;
  const size_t r0 = task * p->chunk, rows = p->rows - r0 < p->chunk ? p->rows - r0 : p->chunk;
  uint8_t *scratch = pnn_nn_thread_scratch(job->ctx, thread);
  uint8_t *xt = scratch;
  int32_t *x_sums = (int32_t *)(scratch + p->x_bytes);
  int32_t *yt = (int32_t *)(scratch + p->x_bytes + p->sums_bytes);
  uint8_t *gemm_scratch = scratch + p->x_bytes + p->sums_bytes + p->y_bytes;
  const uint8_t *a = job->x + r0 * p->k;
  for (size_t r = 0; r < rows; ++r) {
    int32_t sum = 0;
    for (size_t i = 0; i < p->k; ++i) {
      xt[i * rows + r] = a[r * p->k + i];
      sum += a[r * p->k + i];
    }
    x_sums[r] = sum;
  }
  p->gemm->run(p->out_c, rows, p->k, 0, p->out_c, p->packed, xt, rows, yt, rows, gemm_scratch);
  int32_t *y = job->y + r0 * p->out_c;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t m = 0; m < p->out_c; ++m) y[r * p->out_c + m] = corrected(p, yt[m * rows + r], m, job->x_zero, x_sums[r]);
  }
}

/* One chunk of DYNQ_GEMV_CHUNK output channels for every row of A, straight into Y. */
static void matmul_gemv_task(void *context, size_t task, size_t thread) {
  (void)thread;
  const dynq_job *job = context;
  const dynq_params *p = job->p;
  const size_t m0 = task * DYNQ_GEMV_CHUNK, count = p->out_c - m0 < DYNQ_GEMV_CHUNK ? p->out_c - m0 : DYNQ_GEMV_CHUNK;
  int32_t *y = job->y + m0;
  p->gemv->run(count, p->k, p->packed + task * p->packed_stride, p->rows, job->x, p->k, y, p->out_c);
  for (size_t r = 0; r < p->rows; ++r) {
    for (size_t m = 0; m < count; ++m) {
      y[r * p->out_c + m] = corrected(p, y[r * p->out_c + m], m0 + m, job->x_zero, job->x_sums[r]);
    }
  }
}

/* sum_k x of each row of A (0 when every zw is 0), once per run for every task. */
static void row_sums(const dynq_params *p, const uint8_t *x, int32_t *sums) {
  for (size_t r = 0; r < p->rows; ++r) {
    int32_t sum = 0;
    for (size_t i = 0; i < p->k && p->any_w_zero; ++i) sum += x[r * p->k + i];
    sums[r] = sum;
  }
}

static dynq_job new_job(const pnn_node *node, const void *const *in, void *const *out,
                        const pnn_run_context *ctx) {
  dynq_job job;
  memset(&job, 0, sizeof(job));
  job.p = node->params;
  job.x = in[0];
  job.x_zero = *(const uint8_t *)in[2];
  job.y = out[0];
  job.ctx = ctx;
  return job;
}

void pnn_op_conv_integer_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                             void *const *out, const pnn_run_context *ctx) {
  (void)model;
  dynq_job job = new_job(node, in, out, ctx);
  const dynq_params *p = job.p;
  job.col_chunks = pnn_nn_div_up(p->geom.out_h * p->geom.out_w, p->chunk);
  pnn_parallel_for(ctx->pool, p->batch * p->groups * job.col_chunks, conv_task, &job);
}

void pnn_op_matmul_integer_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                               void *const *out, const pnn_run_context *ctx) {
  (void)model;
  dynq_job job = new_job(node, in, out, ctx);
  if (job.p->gemv) {
    /* thread 0's scratch: no task writes it, so every thread can read the sums */
    int32_t *sums = pnn_nn_thread_scratch(ctx, 0);
    row_sums(job.p, job.x, sums);
    job.x_sums = sums;
    pnn_parallel_for(ctx->pool, pnn_nn_div_up(job.p->out_c, DYNQ_GEMV_CHUNK), matmul_gemv_task, &job);
  } else {
    pnn_parallel_for(ctx->pool, pnn_nn_div_up(job.p->rows, job.p->chunk), matmul_task, &job);
  }
}
