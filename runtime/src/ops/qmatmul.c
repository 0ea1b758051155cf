/* QMatMul (op code 108, docs/OPS.md "Integer operators"): the product of two u8
 * activations of rank >= 2 (numpy matmul batch broadcasting), as a QDQ MatMul whose
 * operands are both computed: attention's Q.K^T and probs.V. One requantization for the
 * whole tensor; the kernel (kernels_c/u8-matmul/) runs once per output matrix, the
 * matrices shared out over the thread pool. */
#include <stdlib.h>

#include "q_common.h"

typedef struct qmatmul_params {
  size_t m, n, k;
  size_t batch; /* output matrices */
  int batch_rank;
  size_t batch_dims[PNN_MAX_RANK];
  size_t a_stride[PNN_MAX_RANK]; /* in matrices; 0 on a broadcast dim */
  size_t b_stride[PNN_MAX_RANK];
  uint8_t a_zero_point, b_zero_point;
  int32_t multiplier, shift;
  pnn_requant rq; /* points at multiplier and shift above */
  const pnn_u8_matmul_kernel *kernel;
} qmatmul_params;

/* Output dims: the broadcast batch dims of a and b, then M and N. */
static pnn_status broadcast_batch(const pnn_node *node, const pnn_tensor *a, const pnn_tensor *b, qmatmul_params *p,
                                  int64_t *out_dims, pnn_error *error) {
  const int a_batch = a->rank - 2, b_batch = b->rank - 2;
  p->batch_rank = a_batch > b_batch ? a_batch : b_batch;
  p->batch = 1;
  for (int d = 0; d < p->batch_rank; ++d) {
    const int da = d - (p->batch_rank - a_batch), db = d - (p->batch_rank - b_batch);
    const int64_t sa = da >= 0 ? a->dims[da] : 1, sb = db >= 0 ? b->dims[db] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (QMatMul): batch dims %lld and %lld do not broadcast",
                           node->name, (long long)sa, (long long)sb);
    }
    out_dims[d] = sa > sb ? sa : sb;
    p->batch_dims[d] = (size_t)out_dims[d];
    if (!pnn_nn_mul(p->batch, p->batch_dims[d], &p->batch)) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (QMatMul): batch too large", node->name);
    }
  }
  pnn_nn_batch_strides(a, a_batch, p->batch_rank, p->a_stride);
  pnn_nn_batch_strides(b, b_batch, p->batch_rank, p->b_stride);
  return PNN_OK;
}

static pnn_status read_attrs(const pnn_node *node, qmatmul_params *p, pnn_error *error) {
  const char *op = "QMatMul";
  int64_t za = 0, zb = 0, mult = 0, shift = 0; /* set by the calls below; gcc -O3 on aarch64 cannot tell */
  pnn_status st;
  if ((st = pnn_q_attr_int(node, op, "a_zero_point", 0, 255, &za, error)) != PNN_OK ||
      (st = pnn_q_attr_int(node, op, "b_zero_point", 0, 255, &zb, error)) != PNN_OK ||
      (st = pnn_q_attr_int(node, op, "multiplier", 0, PNN_Q_INT32_MAX, &mult, error)) != PNN_OK ||
      (st = pnn_q_attr_int(node, op, "shift", PNN_REQUANT_MIN_SHIFT, PNN_REQUANT_MAX_SHIFT, &shift, error)) !=
          PNN_OK ||
      (st = pnn_q_attr_output(node, op, &p->rq, error)) != PNN_OK) {
    return st;
  }
  p->a_zero_point = (uint8_t)za;
  p->b_zero_point = (uint8_t)zb;
  p->multiplier = (int32_t)mult;
  p->shift = (int32_t)shift;
  return PNN_OK;
}

pnn_status pnn_op_qmatmul_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  const char *op = "QMatMul";
  pnn_status st = pnn_check_io(model, node, 2, 2, 1, 1, true, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *a = pnn_input_tensor(model, node, 0), *b = pnn_input_tensor(model, node, 1);
  const pnn_tensor *y = pnn_output_tensor(model, node, 0);
  if ((st = pnn_q_check_dtype(node, op, a, "A", PNN_DTYPE_U8, "u8", error)) != PNN_OK ||
      (st = pnn_q_check_dtype(node, op, b, "B", PNN_DTYPE_U8, "u8", error)) != PNN_OK ||
      (st = pnn_q_check_dtype(node, op, y, "Y", PNN_DTYPE_U8, "u8", error)) != PNN_OK) {
    return st;
  }
  if (a->rank < 2 || b->rank < 2) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (QMatMul): operands must have rank >= 2", node->name);
  }
  if ((st = pnn_nn_check_dims(node, a, "A", error)) != PNN_OK) return st;
  if ((st = pnn_nn_check_dims(node, b, "B", error)) != PNN_OK) return st;
  qmatmul_params p;
  memset(&p, 0, sizeof(p));
  if ((st = read_attrs(node, &p, error)) != PNN_OK) return st;
  const int64_t m = a->dims[a->rank - 2], k = a->dims[a->rank - 1];
  const int64_t kb = b->dims[b->rank - 2], n = b->dims[b->rank - 1];
  if (k != kb) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (QMatMul): inner dimensions %lld and %lld differ",
                         node->name, (long long)k, (long long)kb);
  }
  if (k > PNN_U8_MATMUL_MAX_K) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                         "node \"%s\" (QMatMul): inner dimension %lld exceeds %d (int32 sums of u8 products)",
                         node->name, (long long)k, PNN_U8_MATMUL_MAX_K);
  }
  int64_t out_dims[PNN_MAX_RANK];
  if ((st = broadcast_batch(node, a, b, &p, out_dims, error)) != PNN_OK) return st;
  out_dims[p.batch_rank] = m;
  out_dims[p.batch_rank + 1] = n;
  if ((st = pnn_check_output_shape(model, node, 0, p.batch_rank + 2, out_dims, error)) != PNN_OK) return st;
  p.m = (size_t)m;
  p.n = (size_t)n;
  p.k = (size_t)k;
  p.kernel = pnn_u8_matmul_select(&model->cpu);
  node->kernel = PNN_KERNEL_NAME("u8matmul", p.kernel->name);
  /* The kernel's scratch: centred B (about 8 bytes per element of one B matrix) and a
   * row tile; bounded by B's element count, which the loader checked. */
  node->scratch_bytes = p.kernel->scratch_size(p.m, p.n, p.k);
  qmatmul_params *params = malloc(sizeof(*params));
  if (!params) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (QMatMul): out of memory", node->name);
  *params = p;
  params->rq.multiplier = &params->multiplier;
  params->rq.shift = &params->shift;
  node->params = params;
  return PNN_OK;
}

typedef struct qmatmul_job {
  const qmatmul_params *p;
  const uint8_t *a, *b;
  uint8_t *y;
  const pnn_run_context *ctx;
} qmatmul_job;

static void qmatmul_task(void *context, size_t task, size_t thread) {
  const qmatmul_job *job = context;
  const qmatmul_params *p = job->p;
  size_t a_off = 0, b_off = 0, rest = task;
  for (int d = p->batch_rank - 1; d >= 0; --d) {
    const size_t index = rest % p->batch_dims[d];
    rest /= p->batch_dims[d];
    a_off += index * p->a_stride[d];
    b_off += index * p->b_stride[d];
  }
  p->kernel->run(p->m, p->n, p->k, job->a + a_off * p->m * p->k, p->k, p->a_zero_point,
                 job->b + b_off * p->k * p->n, p->n, p->b_zero_point, &p->rq, job->y + task * p->m * p->n, p->n,
                 pnn_nn_thread_scratch(job->ctx, thread));
}

void pnn_op_qmatmul_run(const pnn_model *model, const pnn_node *node, const void *const *in, void *const *out,
                        const pnn_run_context *ctx) {
  (void)model;
  qmatmul_job job = {node->params, in[0], in[1], out[0], ctx};
  pnn_parallel_for(ctx->pool, job.p->batch, qmatmul_task, &job);
}
