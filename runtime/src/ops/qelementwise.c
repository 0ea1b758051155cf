/* Integer element-wise and pooling operators (docs/OPS.md "Integer operators",
 * docs/QUANTIZATION.md): QuantizeLinear (80), DequantizeLinear (81), QAdd (84),
 * QLookup (85), QGlobalAveragePool (86), QMaxPool (87), QAveragePool (88). Element-wise
 * work is split in fixed chunks; every element is computed alike whatever the split, so
 * results are identical for any thread count. */
#include <math.h>
#include <stdlib.h>

#include "q_common.h"


/* Elements per task of the element-wise ops. */
#define QEW_CHUNK ((size_t)16384)
/* Pixels a global average may sum: 255 * 2^23 stays below 2^31 (pnn_requantize). */
#define QEW_MAX_POOL_PIXELS ((size_t)1 << 23)

typedef struct qew_params {
  size_t count;                /* elements of the output (pooling: output channels) */
  float scale;                 /* Quantize / Dequantize */
  int32_t zero_point;          /* Quantize / Dequantize */
  pnn_u8_add_params add;
  pnn_u8_add_fn add_fn;
  pnn_f32_quantize_u8_fn quantize_fn; /* Quantize */
  pnn_u8_dequantize_f32_fn dequantize_fn; /* Dequantize */
  pnn_u8_dequantize_bias_f32_fn dequantize_bias_fn; /* Dequantize with a bias */
  size_t bias_cols;            /* Dequantize with a bias: its length, X's last dimension */
  pnn_u8_maxpool2d_fn maxpool_fn;     /* QMaxPool */
  pnn_u8_avgpool_params avgpool;      /* QAveragePool: arrays after the params */
  size_t b_stride;             /* QAdd: 1, or 0 for a one-element B */
  size_t plane;                /* QGlobalAveragePool: H * W */
  int32_t x_zero_point, multiplier, shift, y_zero_point;
  pnn_pool2d_geometry geom;    /* QMaxPool, QAveragePool: channels = N * C */
} qew_params;


/* The op's name from the op table (prepare runs only for codes the table holds). */
static const char *op_name(uint16_t code) {
  const pnn_op_def *def = pnn_op_lookup(code);
  return def ? def->name : "?";
}

static pnn_status store_params(pnn_node *node, const qew_params *p, const char *kernel, pnn_error *error) {
  qew_params *params = malloc(sizeof(*params));
  if (!params) {
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (%s): out of memory", node->name,
                         op_name(node->op));
  }
  *params = *p;
  node->params = params;
  node->scratch_bytes = 0;
  node->kernel = kernel;
  return PNN_OK;
}

static pnn_status check_same_shape(const pnn_node *node, const char *op, const pnn_tensor *x,
                                   const pnn_tensor *y, pnn_error *error) {
  if (x->rank != y->rank || x->numel != y->numel || memcmp(x->dims, y->dims, (size_t)x->rank * sizeof(int64_t))) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): output \"%s\" must have the shape of \"%s\"",
                         node->name, op, y->name, x->name);
  }
  return PNN_OK;
}

/* Validates X dtype -> Y dtype element-wise ops of one input (QuantizeLinear,
 * DequantizeLinear, QLookup's X). */
static pnn_status check_unary(const pnn_model *model, const pnn_node *node, const char *op, uint32_t inputs,
                              uint8_t x_dtype, const char *x_name, uint8_t y_dtype, const char *y_name,
                              pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, inputs, inputs, 1, 1, true, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0), *y = pnn_output_tensor(model, node, 0);
  if ((st = pnn_q_check_dtype(node, op, x, "X", x_dtype, x_name, error)) != PNN_OK ||
      (st = pnn_q_check_dtype(node, op, y, "Y", y_dtype, y_name, error)) != PNN_OK) {
    return st;
  }
  return check_same_shape(node, op, x, y, error);
}

/* One u8 NCHW image in, one u8 out (the pools; the output shape is checked by each). */
static pnn_status check_u8_image_io(const pnn_model *model, const pnn_node *node, const char *op,
                                    const pnn_tensor **x, const pnn_tensor **y, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 1, 1, 1, 1, true, error);
  if (st != PNN_OK) return st;
  *x = pnn_input_tensor(model, node, 0);
  *y = pnn_output_tensor(model, node, 0);
  if ((st = pnn_q_check_dtype(node, op, *x, "X", PNN_DTYPE_U8, "u8", error)) != PNN_OK ||
      (st = pnn_q_check_dtype(node, op, *y, "Y", PNN_DTYPE_U8, "u8", error)) != PNN_OK) {
    return st;
  }
  if ((*x)->rank != 4) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): X must have rank 4, not %d", node->name, op,
                         (*x)->rank);
  }
  return pnn_nn_check_dims(node, *x, "X", error);
}

/* The window geometry of QMaxPool / QAveragePool (attributes kernel, strides,
 * dilations, pads, ceil_mode as MaxPool; output shape checked), channels = N * C. */
static pnn_status pool_geometry(const pnn_model *model, const pnn_node *node, const char *op, const pnn_tensor *x,
                                pnn_pool2d_geometry *geom, pnn_error *error) {
  pnn_status st;
  int64_t kernel[2] = {0}, strides[2] = {0}, dilations[2] = {0}, pads[4] = {0}, ceil_mode = 0, out[2];
  if ((st = pnn_nn_attr_spatial(node, "kernel", 2, false, 1, NULL, 1, kernel, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "strides", 2, false, 1, NULL, 1, strides, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "dilations", 2, false, 1, NULL, 1, dilations, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "pads", 4, false, 0, NULL, 0, pads, error)) != PNN_OK ||
      (st = pnn_q_attr_int(node, op, "ceil_mode", 0, 1, &ceil_mode, error)) != PNN_OK ||
      (st = pnn_nn_pool_window(node, op, x->dims[2], x->dims[3], kernel, strides, dilations, pads, ceil_mode != 0,
                               out, error)) != PNN_OK) {
    return st;
  }
  const int64_t out_dims[4] = {x->dims[0], x->dims[1], out[0], out[1]};
  if ((st = pnn_check_output_shape(model, node, 0, 4, out_dims, error)) != PNN_OK) return st;
  *geom = pnn_nn_pool_geometry((size_t)(x->dims[0] * x->dims[1]), x->dims[2], x->dims[3], out, kernel, strides,
                               dilations, pads);
  return PNN_OK;
}

/* QAveragePool's attributes and its per-divisor multipliers and shifts, copied to int32
 * arrays after the params. */
static pnn_status prepare_avgpool(pnn_node *node, const char *op, qew_params *p, pnn_error *error) {
  const pnn_pool2d_geometry *g = &p->geom;
  if (g->kernel_h * g->kernel_w > QEW_MAX_POOL_PIXELS) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): a %zu x %zu window can overflow the int32 sum",
                         node->name, op, g->kernel_h, g->kernel_w);
  }
  const uint32_t area = (uint32_t)(g->kernel_h * g->kernel_w);
  int64_t x_zp = 0, y_zp = 0, include_pad = 0;
  pnn_status st;
  if ((st = pnn_q_attr_int(node, op, "x_zero_point", 0, 255, &x_zp, error)) != PNN_OK ||
      (st = pnn_q_attr_int(node, op, "y_zero_point", 0, 255, &y_zp, error)) != PNN_OK ||
      (st = pnn_q_attr_int(node, op, "count_include_pad", 0, 1, &include_pad, error)) != PNN_OK) {
    return st;
  }
  uint32_t n_mult = 0, n_shift = 0;
  const int64_t *mult = pnn_attr_ints(node, "multipliers", &n_mult);
  const int64_t *shift = pnn_attr_ints(node, "shifts", &n_shift);
  if (!mult || !shift || n_mult != area || n_shift != area) {
    return pnn_set_error(error, PNN_ERR_FORMAT,
                         "node \"%s\" (%s): attributes \"multipliers\" and \"shifts\" must be int lists of %u "
                         "entries (one per window size)",
                         node->name, op, (unsigned)area);
  }
  for (uint32_t d = 0; d < area; ++d) {
    if (mult[d] < 0 || mult[d] > INT32_MAX || shift[d] < PNN_REQUANT_MIN_SHIFT || shift[d] > PNN_REQUANT_MAX_SHIFT) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                           "node \"%s\" (%s): divisor %u has multiplier %lld and shift %lld (allowed: multiplier "
                           "in [0, 2^31-1], shift in [%d, %d])",
                           node->name, op, (unsigned)(d + 1), (long long)mult[d], (long long)shift[d],
                           PNN_REQUANT_MIN_SHIFT, PNN_REQUANT_MAX_SHIFT);
    }
  }
  qew_params *params = malloc(sizeof(qew_params) + 2 * (size_t)area * sizeof(int32_t));
  if (!params) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (%s): out of memory", node->name, op);
  int32_t *mults = (int32_t *)(void *)(params + 1), *shifts = mults + area;
  for (uint32_t d = 0; d < area; ++d) {
    mults[d] = (int32_t)mult[d];
    shifts[d] = (int32_t)shift[d];
  }
  p->avgpool = (pnn_u8_avgpool_params){(int32_t)x_zp, (int32_t)y_zp, (int)include_pad, mults, shifts};
  p->count = g->channels;
  *params = *p;
  node->params = params;
  node->scratch_bytes = 0;
  node->kernel = "u8avgpool2d/scalar";
  return PNN_OK;
}

/* DequantizeLinear's optional bias: f32 [N], N = X's last dimension, added after the
 * product (a QDQ MatMul's bias Add, folded by the converter). Counts rows of N. */
static pnn_status prepare_dequantize_bias(const pnn_model *model, const pnn_node *node, qew_params *p,
                                          pnn_error *error) {
  const pnn_tensor *x = pnn_input_tensor(model, node, 0), *bias = pnn_input_tensor(model, node, 1);
  pnn_status st = pnn_q_check_dtype(node, "DequantizeLinear", bias, "bias", PNN_DTYPE_F32, "f32", error);
  if (st != PNN_OK) return st;
  if (x->rank < 1 || x->dims[x->rank - 1] < 1 || bias->rank != 1 || bias->dims[0] != x->dims[x->rank - 1]) {
    return pnn_set_error(error, PNN_ERR_SHAPE,
                         "node \"%s\" (DequantizeLinear): bias \"%s\" must have shape [N], N the last dimension "
                         "of X",
                         node->name, bias->name);
  }
  p->bias_cols = (size_t)bias->dims[0];
  p->count = x->numel / p->bias_cols;
  return PNN_OK;
}

pnn_status pnn_op_qelementwise_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  const char *op = op_name(node->op);
  qew_params p;
  memset(&p, 0, sizeof(p));
  pnn_status st;
  int64_t zp = 0;
  switch (node->op) {
    case PNN_OP_QUANTIZE:
    case PNN_OP_DEQUANTIZE: {
      const bool quantize = node->op == PNN_OP_QUANTIZE;
      const bool with_bias = !quantize && node->n_inputs == 2;
      st = check_unary(model, node, op, with_bias ? 2 : 1, quantize ? PNN_DTYPE_F32 : PNN_DTYPE_U8, quantize ? "f32" : "u8",
                       quantize ? PNN_DTYPE_U8 : PNN_DTYPE_F32, quantize ? "u8" : "f32", error);
      if (st != PNN_OK || (st = pnn_q_attr_scale(node, op, "scale", &p.scale, error)) != PNN_OK ||
          (st = pnn_q_attr_int(node, op, "zero_point", 0, 255, &zp, error)) != PNN_OK) {
        return st;
      }
      p.zero_point = (int32_t)zp;
      p.count = pnn_input_tensor(model, node, 0)->numel;
      const char *isa = "scalar";
      if (with_bias) {
        if ((st = prepare_dequantize_bias(model, node, &p, error)) != PNN_OK) return st;
        p.dequantize_bias_fn = pnn_u8_dequantize_bias_f32_select(&model->cpu, &isa);
        return store_params(node, &p, PNN_KERNEL_NAME("dequantizebias", isa), error);
      }
      if (!quantize) {
        p.dequantize_fn = pnn_u8_dequantize_f32_select(&model->cpu, &isa);
        return store_params(node, &p, PNN_KERNEL_NAME("dequantize", isa), error);
      }
      p.quantize_fn = pnn_f32_quantize_u8_select(&model->cpu, &isa);
      return store_params(node, &p, PNN_KERNEL_NAME("quantize", isa), error);
    }
    case PNN_OP_QLOOKUP: {
      if ((st = check_unary(model, node, op, 2, PNN_DTYPE_U8, "u8", PNN_DTYPE_U8, "u8", error)) != PNN_OK)
        return st;
      const pnn_tensor *table = pnn_input_tensor(model, node, 1);
      if ((st = pnn_q_check_dtype(node, op, table, "table", PNN_DTYPE_U8, "u8", error)) != PNN_OK) return st;
      if (table->rank != 1 || table->dims[0] != 256 || table->numel != 256) {
        return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (QLookup): table \"%s\" must have shape [256]",
                             node->name, table->name);
      }
      p.count = pnn_input_tensor(model, node, 0)->numel;
      return store_params(node, &p, "scalar", error);
    }
    case PNN_OP_QADD: {
      if ((st = pnn_check_io(model, node, 2, 2, 1, 1, true, error)) != PNN_OK) return st;
      const pnn_tensor *a = pnn_input_tensor(model, node, 0), *b = pnn_input_tensor(model, node, 1);
      const pnn_tensor *y = pnn_output_tensor(model, node, 0);
      if ((st = pnn_q_check_dtype(node, op, a, "A", PNN_DTYPE_U8, "u8", error)) != PNN_OK ||
          (st = pnn_q_check_dtype(node, op, b, "B", PNN_DTYPE_U8, "u8", error)) != PNN_OK ||
          (st = pnn_q_check_dtype(node, op, y, "Y", PNN_DTYPE_U8, "u8", error)) != PNN_OK ||
          (st = check_same_shape(node, op, a, y, error)) != PNN_OK) {
        return st;
      }
      if (b->numel == 1) {
        p.b_stride = 0;
      } else if ((st = check_same_shape(node, op, b, a, error)) == PNN_OK) {
        p.b_stride = 1;
      } else {
        return pnn_set_error(error, PNN_ERR_SHAPE,
                             "node \"%s\" (QAdd): B must have the shape of A or one element", node->name);
      }
      int64_t a_zp = 0, b_zp = 0, a_mult = 0, b_mult = 0, shift = 0;
      pnn_requant rq;
      if ((st = pnn_q_attr_int(node, op, "a_zero_point", 0, 255, &a_zp, error)) != PNN_OK ||
          (st = pnn_q_attr_int(node, op, "b_zero_point", 0, 255, &b_zp, error)) != PNN_OK ||
          (st = pnn_q_attr_int(node, op, "a_multiplier", 0, INT32_MAX, &a_mult, error)) != PNN_OK ||
          (st = pnn_q_attr_int(node, op, "b_multiplier", 0, INT32_MAX, &b_mult, error)) != PNN_OK ||
          (st = pnn_q_attr_int(node, op, "shift", PNN_REQUANT_MIN_SHIFT, PNN_REQUANT_MAX_SHIFT, &shift,
                               error)) != PNN_OK ||
          (st = pnn_q_attr_output(node, op, &rq, error)) != PNN_OK) {
        return st;
      }
      p.add = (pnn_u8_add_params){(int32_t)a_zp, (int32_t)b_zp,  (int32_t)a_mult, (int32_t)b_mult,
                                  (int32_t)shift, rq.zero_point, rq.lo,           rq.hi};
      p.count = a->numel;
      const char *isa = "scalar";
      p.add_fn = pnn_u8_add_select(&model->cpu, &isa);
      return store_params(node, &p, PNN_KERNEL_NAME("u8add", isa), error);
    }
    case PNN_OP_QGLOBAL_AVERAGE_POOL: {
      const pnn_tensor *x, *y;
      if ((st = check_u8_image_io(model, node, op, &x, &y, error)) != PNN_OK) return st;
      const int64_t out_dims[4] = {x->dims[0], x->dims[1], 1, 1};
      if ((st = pnn_check_output_shape(model, node, 0, 4, out_dims, error)) != PNN_OK) return st;
      p.plane = (size_t)(x->dims[2] * x->dims[3]);
      if (p.plane > QEW_MAX_POOL_PIXELS) {
        return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): %zu pixels can overflow the int32 sum",
                             node->name, op, p.plane);
      }
      int64_t x_zp = 0, mult = 0, shift = 0, y_zp = 0;
      if ((st = pnn_q_attr_int(node, op, "x_zero_point", 0, 255, &x_zp, error)) != PNN_OK ||
          (st = pnn_q_attr_int(node, op, "multiplier", 0, INT32_MAX, &mult, error)) != PNN_OK ||
          (st = pnn_q_attr_int(node, op, "shift", PNN_REQUANT_MIN_SHIFT, PNN_REQUANT_MAX_SHIFT, &shift, error)) !=
              PNN_OK ||
          (st = pnn_q_attr_int(node, op, "y_zero_point", 0, 255, &y_zp, error)) != PNN_OK) {
        return st;
      }
      p.x_zero_point = (int32_t)x_zp;
      p.multiplier = (int32_t)mult;
      p.shift = (int32_t)shift;
      p.y_zero_point = (int32_t)y_zp;
      p.count = (size_t)(x->dims[0] * x->dims[1]);
      return store_params(node, &p, "u8avgpool/scalar", error);
    }
    case PNN_OP_QMAX_POOL: {
      const pnn_tensor *x, *y;
      if ((st = check_u8_image_io(model, node, op, &x, &y, error)) != PNN_OK) return st;
      if ((st = pool_geometry(model, node, op, x, &p.geom, error)) != PNN_OK) return st;
      p.count = p.geom.channels;
      const char *isa = "scalar";
      p.maxpool_fn = pnn_u8_maxpool2d_select(&model->cpu, &isa);
      return store_params(node, &p, PNN_KERNEL_NAME("u8maxpool", isa), error);
    }
    case PNN_OP_QAVERAGE_POOL: {
      const pnn_tensor *x, *y;
      if ((st = check_u8_image_io(model, node, op, &x, &y, error)) != PNN_OK ||
          (st = pool_geometry(model, node, op, x, &p.geom, error)) != PNN_OK) {
        return st;
      }
      return prepare_avgpool(node, op, &p, error);
    }
    default:
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\": op code %u is not an integer operator",
                           node->name, (unsigned)node->op);
  }
}

typedef struct qew_job {
  const pnn_node *node;
  const qew_params *p;
  const void *const *in;
  void *const *out;
  size_t chunk; /* elements (pooling: channels) per task */
} qew_job;

static void qew_task(void *context, size_t task, size_t thread) {
  (void)thread;
  const qew_job *job = context;
  const qew_params *p = job->p;
  const size_t begin = task * job->chunk;
  const size_t n = p->count - begin < job->chunk ? p->count - begin : job->chunk;
  const uint8_t *x = job->in[0];
  uint8_t *y = job->out[0];
  switch (job->node->op) {
    case PNN_OP_QUANTIZE:
      p->quantize_fn(n, (const float *)job->in[0] + begin, p->scale, p->zero_point, y + begin);
      break;
    case PNN_OP_DEQUANTIZE:
      if (p->bias_cols) {
        p->dequantize_bias_fn(n, p->bias_cols, x + begin * p->bias_cols, p->scale, p->zero_point, job->in[1],
                              (float *)job->out[0] + begin * p->bias_cols);
      } else {
        p->dequantize_fn(n, x + begin, p->scale, p->zero_point, (float *)job->out[0] + begin);
      }
      break;
    case PNN_OP_QADD: {
      const uint8_t *b = job->in[1];
      p->add_fn(n, x + begin, b + begin * p->b_stride, p->b_stride, &p->add, y + begin);
      break;
    }
    case PNN_OP_QLOOKUP:
      pnn_u8_lut_scalar(n, x + begin, job->in[1], y + begin);
      break;
    case PNN_OP_QGLOBAL_AVERAGE_POOL:
      for (size_t c = begin; c < begin + n; ++c)
        y[c] = pnn_u8_global_avgpool_scalar(p->plane, x + c * p->plane, p->x_zero_point, p->multiplier, p->shift,
                                            p->y_zero_point);
      break;
    default: { /* the window pools */
      const pnn_pool2d_geometry *g = &p->geom;
      pnn_pool2d_geometry chunk = *g;
      chunk.channels = n;
      const uint8_t *xs = x + begin * g->in_h * g->in_w;
      uint8_t *ys = y + begin * g->out_h * g->out_w;
      if (job->node->op == PNN_OP_QAVERAGE_POOL) pnn_u8_avgpool2d_scalar(&chunk, xs, &p->avgpool, ys);
      else p->maxpool_fn(&chunk, xs, ys);
      break;
    }
  }
}

void pnn_op_qelementwise_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                             void *const *out, const pnn_run_context *ctx) {
  (void)model;
  const qew_params *p = node->params;
  qew_job job = {node, p, in, out, QEW_CHUNK};
  if (node->op == PNN_OP_QGLOBAL_AVERAGE_POOL || node->op == PNN_OP_QMAX_POOL || node->op == PNN_OP_QAVERAGE_POOL) {
    /* Channels per task: about QEW_CHUNK input bytes. */
    const size_t plane = node->op == PNN_OP_QGLOBAL_AVERAGE_POOL ? p->plane : p->geom.in_h * p->geom.in_w;
    job.chunk = plane >= QEW_CHUNK ? 1 : QEW_CHUNK / plane;
  } else if (p->bias_cols) { /* rows of bias_cols per task */
    job.chunk = p->bias_cols >= QEW_CHUNK ? 1 : QEW_CHUNK / p->bias_cols;
  }
  if (p->count == 0) return;
  pnn_parallel_for(ctx->pool, pnn_nn_div_up(p->count, job.chunk), qew_task, &job);
}
