/* MaxPool (40) and AveragePool (41) over 2-D windows (rank-3 inputs run as H = 1),
 * and GlobalAveragePool (42) / GlobalMaxPool (43) over all spatial dims of any rank
 * >= 3. ONNX semantics: padding never wins a max; count_include_pad counts taps in
 * the explicit padding but not the extra ceil_mode region; in ceil_mode the last
 * window must start inside the input or the top/left padding. */
#include <stdlib.h>

#include "nn_common.h"


typedef struct pool_params {
  size_t batch;
  pnn_pool2d_geometry geom; /* channels = C */
  int count_include_pad;
  pnn_f32_maxpool2d_fn maxpool;
} pool_params;

pnn_status pnn_op_pool_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  const char *op = node->op == PNN_OP_MAX_POOL ? "MaxPool" : "AveragePool";
  if (node->op != PNN_OP_MAX_POOL && node->op != PNN_OP_AVERAGE_POOL) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\": op code %u is not a pool",
                         node->name, (unsigned)node->op);
  }
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if (x->rank != 3 && x->rank != 4) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): X must have rank 3 or 4, not %d", node->name,
                         op, x->rank);
  }
  if ((st = pnn_nn_check_dims(node, x, "X", error)) != PNN_OK) return st;
  const bool one_d = x->rank == 3;

  int64_t kernel[2], strides[2], dilations[2], pads[4], ceil_mode = 0, count_include_pad = 0;
  static const int64_t ones[2] = {1, 1}, zeros[4] = {0, 0, 0, 0};
  if ((st = pnn_nn_attr_spatial(node, "kernel", 2, one_d, 1, NULL, 1, kernel, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "strides", 2, one_d, 1, ones, 1, strides, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "dilations", 2, one_d, 1, ones, 1, dilations, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "pads", 4, one_d, 0, zeros, 0, pads, error)) != PNN_OK ||
      (st = pnn_nn_attr_int_range(node, "ceil_mode", 0, 0, 1, &ceil_mode, error)) != PNN_OK) {
    return st;
  }
  if (node->op == PNN_OP_AVERAGE_POOL &&
      (st = pnn_nn_attr_int_range(node, "count_include_pad", 0, 0, 1, &count_include_pad, error)) !=
          PNN_OK) {
    return st;
  }

  const int64_t n = x->dims[0], c = x->dims[1];
  const int64_t h = one_d ? 1 : x->dims[2], w = x->dims[x->rank - 1];
  int64_t out[2];
  st = pnn_nn_pool_window(node, op, h, w, kernel, strides, dilations, pads, ceil_mode != 0, out, error);
  if (st != PNN_OK) return st;
  const int64_t oh = out[0], ow = out[1];
  if (oh < 1 || ow < 1 || (one_d && oh != 1)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): invalid output size %lld x %lld", node->name,
                         op, (long long)oh, (long long)ow);
  }
  const int64_t out_dims4[4] = {n, c, oh, ow};
  const int64_t out_dims3[3] = {n, c, ow};
  st = pnn_check_output_shape(model, node, 0, x->rank, one_d ? out_dims3 : out_dims4, error);
  if (st != PNN_OK) return st;

  pool_params *p = malloc(sizeof(*p));
  if (!p) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (%s): out of memory", node->name, op);
  memset(p, 0, sizeof(*p));
  p->batch = (size_t)n;
  p->count_include_pad = (int)count_include_pad;
  p->geom = pnn_nn_pool_geometry((size_t)c, h, w, out, kernel, strides, dilations, pads);
  node->params = p;
  node->scratch_bytes = 0;
  node->kernel = "scalar";
  p->maxpool = NULL;
  if (node->op == PNN_OP_MAX_POOL) {
    const char *isa = "scalar";
    p->maxpool = pnn_f32_maxpool2d_select(&model->cpu, &isa);
    node->kernel = PNN_KERNEL_NAME("maxpool", isa);
  }
  return PNN_OK;
}

enum { POOL_TASKS_PER_THREAD = 4 }; /* channel chunks per thread (pnn_nn_tasks) */

typedef struct pool_job {
  const pool_params *p;
  const float *x;
  float *y;
  int max;
  size_t chunks, step; /* channel chunks per image */
} pool_job;

/* Channels are independent: any split gives the same results. */
static void pool_task(void *context, size_t task, size_t thread) {
  (void)thread;
  const pool_job *job = context;
  pnn_pool2d_geometry g = job->p->geom;
  const size_t b = task / job->chunks, c0 = (task % job->chunks) * job->step;
  const size_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
  const float *x = job->x + (b * g.channels + c0) * in_plane;
  float *y = job->y + (b * g.channels + c0) * out_plane;
  g.channels = g.channels - c0 < job->step ? g.channels - c0 : job->step;
  if (job->max) job->p->maxpool(&g, x, y);
  else pnn_f32_avgpool2d_scalar(&g, x, y, job->p->count_include_pad);
}

void pnn_op_pool_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                     void *const *out, const pnn_run_context *ctx) {
  (void)model;
  const pool_params *p = node->params;
  const size_t threads = pnn_threadpool_size(ctx->pool), channels = p->geom.channels;
  pool_job job;
  job.p = p;
  job.x = in[0];
  job.y = out[0];
  job.max = node->op == PNN_OP_MAX_POOL;
  const pnn_nn_split split = pnn_nn_split_units(threads, POOL_TASKS_PER_THREAD, channels, 1);
  job.step = split.step;
  job.chunks = split.count;
  pnn_parallel_for(ctx->pool, p->batch * job.chunks, pool_task, &job);
}

/* ---- global pools ------------------------------------------------------------ */

typedef struct global_pool_params {
  size_t planes;  /* N * C */
  size_t spatial; /* product of the dims after C */
} global_pool_params;

pnn_status pnn_op_global_pool_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  if (node->op != PNN_OP_GLOBAL_AVERAGE_POOL && node->op != PNN_OP_GLOBAL_MAX_POOL) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\": op code %u is not a global pool",
                         node->name, (unsigned)node->op);
  }
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if (x->rank < 3) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (global pool): X must have rank >= 3", node->name);
  }
  if ((st = pnn_nn_check_dims(node, x, "X", error)) != PNN_OK) return st;
  int64_t out_dims[PNN_MAX_RANK];
  global_pool_params p = {1, 1};
  for (int d = 0; d < x->rank; ++d) {
    out_dims[d] = d < 2 ? x->dims[d] : 1;
    size_t *acc = d < 2 ? &p.planes : &p.spatial;
    if (!pnn_nn_mul(*acc, (size_t)x->dims[d], acc)) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (global pool): X too large", node->name);
    }
  }
  if ((st = pnn_check_output_shape(model, node, 0, x->rank, out_dims, error)) != PNN_OK) return st;
  global_pool_params *params = malloc(sizeof(*params));
  if (!params) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (global pool): out of memory", node->name);
  *params = p;
  node->params = params;
  node->scratch_bytes = 0;
  node->kernel = "scalar";
  return PNN_OK;
}

/* Planes are independent: any split gives the same results. Below GLOBAL_POOL_SPLIT
 * elements one thread is quicker than a section; MobileNet V2's 1280 x 7 x 7 pool ran
 * serially for 0.5% of a 2-thread run (bench/pool_trace). */
enum { GLOBAL_POOL_SPLIT = 16384, GLOBAL_POOL_TASKS_PER_THREAD = 2 };

typedef struct global_pool_job {
  const global_pool_params *p;
  const float *x;
  float *y;
  bool max;
  size_t step; /* planes per task */
} global_pool_job;

static void global_pool_task(void *context, size_t task, size_t thread) {
  (void)thread;
  const global_pool_job *job = context;
  const global_pool_params *p = job->p;
  const size_t first = task * job->step, end = p->planes - first < job->step ? p->planes : first + job->step;
  for (size_t plane = first; plane < end; ++plane) {
    const float *xp = job->x + plane * p->spatial;
    if (job->max) {
      float best = xp[0];
      for (size_t i = 1; i < p->spatial; ++i) best = pnn_max_nan(best, xp[i]);
      job->y[plane] = best;
    } else {
      /* Four partial sums: less rounding error on large planes than one chain. */
      float sums[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      size_t i = 0;
      for (; i + 4 <= p->spatial; i += 4) {
        for (int l = 0; l < 4; ++l) sums[l] += xp[i + (size_t)l];
      }
      for (; i < p->spatial; ++i) sums[0] += xp[i];
      job->y[plane] = ((sums[0] + sums[1]) + (sums[2] + sums[3])) / (float)p->spatial;
    }
  }
}

void pnn_op_global_pool_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                            void *const *out, const pnn_run_context *ctx) {
  (void)model;
  const global_pool_params *p = node->params;
  if (p->planes == 0) return;
  const size_t threads = pnn_threadpool_size(ctx->pool);
  const pnn_nn_split split = pnn_nn_split_units(p->planes * p->spatial >= GLOBAL_POOL_SPLIT ? threads : 1,
                                                GLOBAL_POOL_TASKS_PER_THREAD, p->planes, 1);
  global_pool_job job = {p, in[0], out[0], node->op == PNN_OP_GLOBAL_MAX_POOL, split.step};
  pnn_parallel_for(ctx->pool, split.count, global_pool_task, &job);
}
