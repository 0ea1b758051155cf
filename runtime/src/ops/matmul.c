/* MatMul (op code 4): numpy matmul (1-D operands promoted and their dim dropped from
 * the result, batch dims broadcast), optional bias [N] and fused activation.
 *
 * When B has no real batch (all its batch dims are 1), A's batch folds into the rows
 * of one GEMM; otherwise one GEMM per output matrix, operands found through
 * broadcast strides. A constant B times a single row is stored transposed at prepare,
 * so that the product runs on the kernel's matrix-vector path (N == 1) reading B^T's
 * rows in order; from B itself the kernel would copy it panel by panel at every call
 * (a batch-1 dense layer or LSTM step: 2.3x faster, AVX-512). Several rows times a
 * constant B run on B packed once into the packed-panel kernel's layout (packed_gemm.h;
 * x86, where that kernel has SIMD variants). */
#include <stdlib.h>

#include "nn_common.h"
#include "packed_gemm.h"

typedef struct matmul_params {
  size_t m, n, k;
  size_t batch;              /* output matrices */
  bool fold;                 /* one GEMM of batch*m rows */
  int batch_rank;
  size_t batch_dims[PNN_MAX_RANK];
  size_t a_stride[PNN_MAX_RANK]; /* in matrices; 0 on a broadcast dim */
  size_t b_stride[PNN_MAX_RANK];
  pnn_activation act;
  pnn_f32_gemm_fn gemm;
  const float *b_rows;       /* one folded row: B^T [N, K] inside this block, or NULL */
  pnn_packed_gemm panels;    /* several folded rows: B in kernel panels inside this block */
} matmul_params;

pnn_status pnn_op_matmul_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 2, 3, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *a = pnn_input_tensor(model, node, 0);
  const pnn_tensor *b = pnn_input_tensor(model, node, 1);
  const pnn_tensor *bias = pnn_input_tensor(model, node, 2);
  if (a->rank < 1 || b->rank < 1) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (MatMul): operands must have rank >= 1", node->name);
  }
  if ((st = pnn_nn_check_dims(node, a, "A", error)) != PNN_OK) return st;
  if ((st = pnn_nn_check_dims(node, b, "B", error)) != PNN_OK) return st;

  matmul_params p;
  memset(&p, 0, sizeof(p));
  if ((st = pnn_nn_attr_act(node, &p.act, error)) != PNN_OK) return st;

  const int ra = a->rank, rb = b->rank;
  const int64_t m = ra == 1 ? 1 : a->dims[ra - 2], k = a->dims[ra - 1];
  const int64_t kb = rb == 1 ? b->dims[0] : b->dims[rb - 2], n = rb == 1 ? 1 : b->dims[rb - 1];
  if (k != kb) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (MatMul): inner dimensions %lld and %lld differ",
                         node->name, (long long)k, (long long)kb);
  }
  const int a_batch = ra > 2 ? ra - 2 : 0, b_batch = rb > 2 ? rb - 2 : 0;
  const int out_batch = a_batch > b_batch ? a_batch : b_batch;
  int64_t out_dims[PNN_MAX_RANK];
  size_t batch = 1;
  bool b_has_batch = false;
  for (int d = 0; d < out_batch; ++d) {
    const int da = d - (out_batch - a_batch), db = d - (out_batch - b_batch);
    const int64_t sa = da >= 0 ? a->dims[da] : 1, sb = db >= 0 ? b->dims[db] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (MatMul): batch dims %lld and %lld do not broadcast",
                           node->name, (long long)sa, (long long)sb);
    }
    out_dims[d] = sa > sb ? sa : sb;
    p.batch_dims[d] = (size_t)out_dims[d];
    if (sb != 1) b_has_batch = true;
    if (!pnn_nn_mul(batch, (size_t)out_dims[d], &batch)) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (MatMul): batch too large", node->name);
    }
  }
  int out_rank = out_batch;
  if (ra >= 2) out_dims[out_rank++] = m;
  if (rb >= 2) out_dims[out_rank++] = n;
  if ((st = pnn_check_output_shape(model, node, 0, out_rank, out_dims, error)) != PNN_OK) return st;
  if (bias && (bias->rank != 1 || bias->dims[0] != n)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (MatMul): bias must have shape [%lld]", node->name,
                         (long long)n);
  }

  p.m = (size_t)m;
  p.n = (size_t)n;
  p.k = (size_t)k;
  p.batch = batch;
  p.fold = !b_has_batch;
  p.batch_rank = out_batch;
  pnn_nn_batch_strides(a, a_batch, out_batch, p.a_stride);
  pnn_nn_batch_strides(b, b_batch, out_batch, p.b_stride);

  const char *isa = "scalar";
  p.gemm = pnn_f32_gemm_select(&model->cpu, &isa);
  node->kernel = PNN_KERNEL_NAME("gemm", isa);
  const size_t rows = p.batch * p.m; /* cannot overflow: the output's element count */
  const bool b_const = b->kind == PNN_TENSOR_CONSTANT && b->data != NULL && b->encoding == PNN_ENCODING_DENSE &&
                       rb >= 2 && p.fold;
  const bool as_rows = b_const && rows == 1 && p.n > 1;
  const char *pb_isa = NULL;
  const pnn_f32_gemm_pb_fn pb = b_const && rows > 1 ? pnn_packed_gemm_kernel(model, &pb_isa) : NULL;
  if (pb) node->kernel = PNN_KERNEL_NAME("packed", pb_isa);
  size_t header, packed_floats = 0, block;
  if (!pnn_nn_align(sizeof(p), &header) || (as_rows && !pnn_nn_mul(p.k, p.n, &packed_floats)) ||
      !pnn_nn_mul(packed_floats, sizeof(float), &block) ||
      (pb && !pnn_packed_gemm_bytes(p.k, p.n, &block)) || !pnn_nn_add(block, header, &block)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (MatMul): operands too large", node->name);
  }
  matmul_params *params = pnn_alloc_large(block);
  if (!params) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (MatMul): out of memory", node->name);
  if (as_rows) {
    float *packed = (float *)((unsigned char *)params + header);
    const char *transpose_isa;
    pnn_f32_transpose2d_select(&model->cpu, &transpose_isa)(p.k, p.n, b->data, p.n, packed, p.k);
    p.b_rows = packed;
  }
  if (pb) pnn_packed_gemm_pack(b->data, false, 1.0f, p.k, p.n, pb, (unsigned char *)params + header, &p.panels);
  *params = p;
  node->params = params;
  node->scratch_bytes = 0;
  return PNN_OK;
}

void pnn_op_matmul_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                       void *const *out, const pnn_run_context *ctx) {
  (void)model;
  (void)ctx;
  const matmul_params *p = node->params;
  const float *a = in[0];
  const float *b = in[1];
  const float *bias = node->n_inputs > 2 ? in[2] : NULL;
  float *y = out[0];
  if (p->b_rows) {
    /* y^T [N, 1] = B^T [N, K] a^T [K, 1]: the bias of the columns becomes one of the rows. */
    p->gemm(p->n, 1, p->k, p->b_rows, p->k, a, 1, y, 1, bias, NULL, p->act);
    return;
  }
  if (p->panels.gemm) {
    pnn_packed_gemm_run(&p->panels, p->batch * p->m, a, p->k, y, p->n, NULL, bias, p->act);
    return;
  }
  if (p->fold) {
    p->gemm(p->batch * p->m, p->n, p->k, a, p->k, b, p->n, y, p->n, NULL, bias, p->act);
    return;
  }
  size_t index[PNN_MAX_RANK] = {0};
  const size_t a_size = p->m * p->k, b_size = p->k * p->n, y_size = p->m * p->n;
  for (size_t t = 0; t < p->batch; ++t) {
    size_t a_off = 0, b_off = 0;
    for (int d = 0; d < p->batch_rank; ++d) {
      a_off += index[d] * p->a_stride[d];
      b_off += index[d] * p->b_stride[d];
    }
    p->gemm(p->m, p->n, p->k, a + a_off * a_size, p->k, b + b_off * b_size, p->n, y + t * y_size,
            p->n, NULL, bias, p->act);
    /* Next output matrix: odometer over the batch dims. */
    for (int d = p->batch_rank - 1; d >= 0; --d) {
      if (++index[d] < p->batch_dims[d]) break;
      index[d] = 0;
    }
  }
}
