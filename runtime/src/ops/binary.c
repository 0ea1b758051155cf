/* Element-wise binary operators, codes 30..37 (docs/OPS.md), with numpy broadcasting.
 *
 * Prepare reduces any broadcast to rows of one of three contiguous kernels
 * (vector-vector, vector-scalar, scalar-vector): dims of size 1 in the output are
 * dropped, neighbouring dims that broadcast the same way are merged, and the last
 * merged dim becomes the row. Same shapes give a single row; a scalar gives one
 * vector-scalar row; a per-channel [C,1,1] against [N,C,H,W] gives N*C vector-scalar
 * rows of H*W; a trailing vector gives vector-vector rows with the vector's stride 0.
 * On x86 the rows run through the AVX2/AVX-512 kernels with Add's or Mul's activation
 * fused (Mul's from format 1.14: a Swish after a dequantizing scale Mul);
 * large outputs are split across the pool in fixed element ranges. Integer inputs (Add,
 * Sub, Mul, Div, Max, Min on s8/u8/s32/s64: shape arithmetic that did not fold) run on
 * the value-type loops of value_binary.c. */
#include <stdlib.h>

#include "values.h"

enum row_mode { ROW_VV = 0, ROW_VS = 1, ROW_SV = 2 };

typedef struct binary_plan {
  int kind;                /* enum pnn_binary_kind */
  pnn_activation act;      /* Add and Mul only */
  int row_mode;            /* enum row_mode */
  size_t row_len;          /* elements per row (the last merged dim) */
  size_t rows;             /* product of outer_dims; 0 for an empty output */
  int outer_rank;          /* merged dims before the row */
  size_t outer_dims[PNN_MAX_RANK];
  size_t a_stride[PNN_MAX_RANK]; /* elements per step of each outer dim; 0 = broadcast */
  size_t b_stride[PNN_MAX_RANK];
  int simd;                /* 1: the kernels below (activation fused) */
  pnn_f32_binary_simd k;
  bool integer;            /* integer inputs: `values` runs the node */
  pnn_value_binary_plan values;
} binary_plan;

/* Elements per task when the pool splits a large output (fits L2 with its inputs).
 * Element-wise results do not depend on the split. */
enum { BINARY_TASK_ELEMENTS = 16384, BINARY_PARALLEL_MIN = 32768 };

/* Fills the broadcast part of the plan from the (right-aligned) input shapes and the
 * output shape. */
static void plan_broadcast(binary_plan *plan, const pnn_tensor *a, const pnn_tensor *b, int rank,
                           const int64_t *out_dims) {
  size_t dims[PNN_MAX_RANK];
  int a_full[PNN_MAX_RANK], b_full[PNN_MAX_RANK]; /* 1: input spans this dim, 0: broadcast */
  int n = 0;
  plan->rows = 1;
  for (int d = 0; d < rank; ++d) {
    if (out_dims[d] == 0) plan->rows = 0;
    if (out_dims[d] == 1) continue; /* size-1 dims do not move any pointer */
    int da = d - (rank - a->rank), db = d - (rank - b->rank);
    int fa = da >= 0 && a->dims[da] == out_dims[d];
    int fb = db >= 0 && b->dims[db] == out_dims[d];
    if (n > 0 && a_full[n - 1] == fa && b_full[n - 1] == fb) {
      dims[n - 1] *= (size_t)out_dims[d];
    } else {
      dims[n] = (size_t)out_dims[d];
      a_full[n] = fa;
      b_full[n] = fb;
      ++n;
    }
  }
  if (n == 0) { /* every dim is 1: one element */
    dims[0] = 1;
    a_full[0] = b_full[0] = 1;
    n = 1;
  }
  plan->row_len = dims[n - 1];
  plan->row_mode = (a_full[n - 1] && b_full[n - 1]) ? ROW_VV : (a_full[n - 1] ? ROW_VS : ROW_SV);
  plan->outer_rank = n - 1;
  size_t a_step = a_full[n - 1] ? dims[n - 1] : 1;
  size_t b_step = b_full[n - 1] ? dims[n - 1] : 1;
  for (int k = n - 2; k >= 0; --k) {
    plan->outer_dims[k] = dims[k];
    plan->a_stride[k] = a_full[k] ? a_step : 0;
    plan->b_stride[k] = b_full[k] ? b_step : 0;
    if (a_full[k]) a_step *= dims[k];
    if (b_full[k]) b_step *= dims[k];
  }
  if (plan->rows) {
    for (int k = 0; k < plan->outer_rank; ++k) plan->rows *= plan->outer_dims[k];
  }
}

/* The kernel's kind for a binary op code; false for any other code. */
static bool binary_kind(uint16_t op, int *kind) {
  switch (op) {
    case PNN_OP_ADD: *kind = PNN_BINARY_ADD; return true;
    case PNN_OP_SUB: *kind = PNN_BINARY_SUB; return true;
    case PNN_OP_MUL: *kind = PNN_BINARY_MUL; return true;
    case PNN_OP_DIV: *kind = PNN_BINARY_DIV; return true;
    case PNN_OP_POW: *kind = PNN_BINARY_POW; return true;
    case PNN_OP_MAX: *kind = PNN_BINARY_MAX; return true;
    case PNN_OP_MIN: *kind = PNN_BINARY_MIN; return true;
    case PNN_OP_PRELU: *kind = PNN_BINARY_PRELU; return true;
    default: return false;
  }
}

pnn_status pnn_op_binary_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  int kind;
  if (!binary_kind(node->op, &kind)) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node '%s': op %u is not a binary op",
                         node->name, (unsigned)node->op);
  }
  const pnn_tensor *first = node->n_inputs > 0 ? pnn_input_tensor(model, node, 0) : NULL;
  if (first && first->dtype != PNN_DTYPE_F32 && kind != PNN_BINARY_POW && kind != PNN_BINARY_PRELU) {
    binary_plan *plan = calloc(1, sizeof(*plan));
    if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
    pnn_status st = pnn_value_binary_plan_init(model, node, &plan->values, error);
    if (st != PNN_OK) {
      free(plan);
      return st;
    }
    plan->integer = true;
    node->params = plan;
    node->scratch_bytes = 0;
    node->kernel = "value-binary/scalar";
    return PNN_OK;
  }
  pnn_status st = pnn_check_io(model, node, 2, 2, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *a = pnn_input_tensor(model, node, 0);
  const pnn_tensor *b = pnn_input_tensor(model, node, 1);
  if ((st = pnn_ew_check_dims(node, a, error)) != PNN_OK) return st;
  if ((st = pnn_ew_check_dims(node, b, error)) != PNN_OK) return st;

  int rank = 0;
  int64_t dims[PNN_MAX_RANK];
  if (pnn_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &rank, dims) != PNN_OK) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': input shapes do not broadcast",
                         node->name);
  }
  if (kind == PNN_BINARY_PRELU) {
    /* The slope broadcasts to X, never the other way. */
    bool same = rank == a->rank;
    for (int d = 0; same && d < rank; ++d) same = dims[d] == a->dims[d];
    if (!same) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node '%s': PRelu slope does not broadcast to X",
                           node->name);
    }
  }
  if ((st = pnn_check_output_shape(model, node, 0, rank, dims, error)) != PNN_OK) return st;

  pnn_activation act = {PNN_ACT_NONE, 0.0f, 0.0f};
  if (kind == PNN_BINARY_ADD || kind == PNN_BINARY_MUL) {
    int64_t act_kind = 0;
    st = pnn_ew_attr_int(node, "act", 0, PNN_ACT_NONE, PNN_ACT_COUNT - 1, &act_kind, error);
    if (st == PNN_OK) st = pnn_ew_attr_float(node, "act_alpha", 0.0f, &act.alpha, error);
    if (st == PNN_OK) st = pnn_ew_attr_float(node, "act_beta", 0.0f, &act.beta, error);
    if (st != PNN_OK) return st;
    act.kind = (int)act_kind;
  } else if (pnn_node_attr(node, "act")) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                         "node '%s': a fused activation is only supported on Add and Mul", node->name);
  }

  binary_plan *plan = calloc(1, sizeof(*plan));
  if (!plan) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node '%s': out of memory", node->name);
  plan->kind = kind;
  plan->act = act;
  plan_broadcast(plan, a, b, rank, dims);
  const char *isa = "scalar";
  plan->simd = pnn_f32_binary_simd_select(&model->cpu, &plan->k, &isa);
  node->params = plan;
  node->scratch_bytes = 0;
  node->kernel = PNN_KERNEL_NAME("f32-binary", isa);
  return PNN_OK;
}

typedef struct binary_job {
  const binary_plan *plan;
  const float *a, *b;
  float *y;
  size_t total;
} binary_job;

/* Output elements [e0, e1): the rows they touch, each through the row kernel. */
static void binary_range(const binary_plan *plan, const float *a, const float *b, float *y, size_t e0,
                         size_t e1) {
  const size_t len = plan->row_len;
  size_t row = e0 / len, col = e0 % len;
  /* Offsets of the first row: its index over the outer dims (mixed radix). */
  size_t index[PNN_MAX_RANK] = {0};
  size_t a_off = 0, b_off = 0;
  for (int k = plan->outer_rank - 1; k >= 0; --k) {
    index[k] = row % plan->outer_dims[k];
    row /= plan->outer_dims[k];
    a_off += index[k] * plan->a_stride[k];
    b_off += index[k] * plan->b_stride[k];
  }
  for (size_t e = e0; e < e1;) {
    const size_t n = len - col < e1 - e ? len - col : e1 - e;
    float *yr = y + e;
    const float *ar = a + a_off + (plan->row_mode == ROW_SV ? 0 : col);
    const float *br = b + b_off + (plan->row_mode == ROW_VS ? 0 : col);
    if (plan->simd) {
      switch (plan->row_mode) {
        case ROW_VV: plan->k.vv(plan->kind, n, ar, br, yr, plan->act); break;
        case ROW_VS: plan->k.vs(plan->kind, n, ar, *br, yr, plan->act); break;
        default: plan->k.sv(plan->kind, n, *ar, br, yr, plan->act); break;
      }
    } else {
      switch (plan->row_mode) {
        case ROW_VV: pnn_f32_binary_vv_scalar(plan->kind, n, ar, br, yr); break;
        case ROW_VS: pnn_f32_binary_vs_scalar(plan->kind, n, ar, *br, yr); break;
        default: pnn_f32_binary_sv_scalar(plan->kind, n, *ar, br, yr); break;
      }
      if (plan->act.kind != PNN_ACT_NONE) pnn_f32_activate_scalar(yr, n, plan->act);
    }
    e += n;
    col = 0;
    /* Next row: odometer over the outer dims. */
    for (int k = plan->outer_rank - 1; k >= 0; --k) {
      a_off += plan->a_stride[k];
      b_off += plan->b_stride[k];
      if (++index[k] < plan->outer_dims[k]) break;
      a_off -= plan->a_stride[k] * plan->outer_dims[k];
      b_off -= plan->b_stride[k] * plan->outer_dims[k];
      index[k] = 0;
    }
  }
}

static void binary_task(void *context, size_t task, size_t thread) {
  (void)thread;
  const binary_job *job = context;
  const size_t e0 = task * BINARY_TASK_ELEMENTS;
  const size_t e1 = job->total - e0 < BINARY_TASK_ELEMENTS ? job->total : e0 + BINARY_TASK_ELEMENTS;
  binary_range(job->plan, job->a, job->b, job->y, e0, e1);
}

void pnn_op_binary_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                       void *const *out, const pnn_run_context *ctx) {
  (void)model;
  const binary_plan *plan = node->params;
  if (plan->integer) {
    pnn_value_binary_plan_run(&plan->values, in[0], in[1], out[0]);
    return;
  }
  binary_job job = {plan, in[0], in[1], out[0], plan->rows * plan->row_len};
  if (job.total == 0) return;
  if (ctx->pool == NULL || job.total < BINARY_PARALLEL_MIN) {
    binary_range(plan, job.a, job.b, job.y, 0, job.total);
    return;
  }
  pnn_parallel_for(ctx->pool, (job.total + BINARY_TASK_ELEMENTS - 1) / BINARY_TASK_ELEMENTS, binary_task, &job);
}
