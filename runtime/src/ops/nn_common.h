/* Helpers shared by the nn operators (conv, conv_transpose, gemm, matmul, batchnorm,
 * pool): attribute reading with validation, checked size arithmetic, fused
 * activation, kernel names. Private to runtime/src/ops. */
#ifndef PNN_OPS_NN_COMMON_H
#define PNN_OPS_NN_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ops.h"

/* Spatial attribute values above this are refused: real models never come close,
 * and the bound keeps every int64 / size_t expression in prepare and run far from
 * overflow. */
#define PNN_NN_MAX_ATTR ((int64_t)1 << 30)

/* Bytes handed out per scratch region: regions start on this boundary. */
#define PNN_NN_ALIGN ((size_t)64)

/* a / b rounded up (b > 0). */
static inline size_t pnn_nn_div_up(size_t a, size_t b) { return (a + b - 1) / b; }

/* Tasks over `units` independent units of work: one on one thread; with more threads,
 * `per_thread` tasks per thread (a few, so that a thread held up elsewhere does not
 * leave the others waiting at the end of the section), at most one per unit. */
static inline size_t pnn_nn_tasks(size_t threads, size_t per_thread, size_t units) {
  if (threads <= 1 || units <= 1) return 1;
  return per_thread * threads < units ? per_thread * threads : units;
}

/* `units` cut into runs of `step` units (a multiple of `granule`), as near
 * pnn_nn_tasks(threads, per_thread, units) runs as whole granules allow: `count` runs,
 * the last possibly shorter (none when units is 0). */
typedef struct pnn_nn_split {
  size_t step, count;
} pnn_nn_split;

static inline pnn_nn_split pnn_nn_split_units(size_t threads, size_t per_thread, size_t units, size_t granule) {
  const size_t tasks = pnn_nn_tasks(threads, per_thread, units);
  size_t step = pnn_nn_div_up(pnn_nn_div_up(units, tasks), granule) * granule;
  if (step == 0) step = granule;
  const pnn_nn_split split = {step, pnn_nn_div_up(units, step)};
  return split;
}

/* The calling thread's scratch region of a run; NULL when no op of the model needs
 * scratch (the session has none, and NULL + 0 is undefined behaviour). */
static inline void *pnn_nn_thread_scratch(const pnn_run_context *ctx, size_t thread) {
  if (ctx->scratch == NULL) return NULL;
  return (uint8_t *)ctx->scratch + thread * ctx->scratch_stride;
}

/* a * b, false on size_t overflow. */
static inline bool pnn_nn_mul(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a) return false;
  *out = a * b;
  return true;
}

/* a + b, false on size_t overflow. */
static inline bool pnn_nn_add(size_t a, size_t b, size_t *out) {
  if (b > SIZE_MAX - a) return false;
  *out = a + b;
  return true;
}

/* Rounds up to PNN_NN_ALIGN, false on overflow. */
static inline bool pnn_nn_align(size_t a, size_t *out) {
  if (a > SIZE_MAX - (PNN_NN_ALIGN - 1)) return false;
  *out = (a + PNN_NN_ALIGN - 1) & ~(PNN_NN_ALIGN - 1);
  return true;
}

/* The first PNN_NN_ALIGN boundary at or after block + head: where an op's prepared
 * weights start inside its params block, malloc'd with PNN_NN_ALIGN - 1 bytes to spare
 * (malloc aligns to 16 bytes; the AVX2 channel-lane GEMM loads 32-byte weight vectors,
 * and one split across two cache lines in every pair made it 15% slower on Zen 4). */
static inline void *pnn_nn_aligned_tail(void *block, size_t head) {
  const uintptr_t at = (uintptr_t)block + head;
  return (char *)block + head + ((PNN_NN_ALIGN - at % PNN_NN_ALIGN) % PNN_NN_ALIGN);
}

/* Bytes of `count` floats rounded up to the scratch alignment; false on overflow. */
static inline bool pnn_nn_float_region(size_t count, size_t *bytes) {
  size_t raw;
  return pnn_nn_mul(count, sizeof(float), &raw) && pnn_nn_align(raw, bytes);
}

/* A present attribute must have the expected type. */
/* The geometry of one group of a 2-D convolution from validated attributes. */
static inline pnn_conv2d_geometry pnn_nn_conv_geometry(size_t channels, int64_t in_h, int64_t in_w,
                                                       int64_t out_h, int64_t out_w, int64_t kh,
                                                       int64_t kw, const int64_t strides[2],
                                                       const int64_t dilations[2], const int64_t pads[4]) {
  pnn_conv2d_geometry g;
  g.channels = channels;
  g.in_h = (size_t)in_h;
  g.in_w = (size_t)in_w;
  g.out_h = (size_t)out_h;
  g.out_w = (size_t)out_w;
  g.kernel_h = (size_t)kh;
  g.kernel_w = (size_t)kw;
  g.stride_h = (size_t)strides[0];
  g.stride_w = (size_t)strides[1];
  g.dilation_h = (size_t)dilations[0];
  g.dilation_w = (size_t)dilations[1];
  g.pad_top = (size_t)pads[0];
  g.pad_left = (size_t)pads[1];
  return g;
}

/* The window of a 2-D pool over an h x w image (MaxPool, AveragePool and their integer
 * forms): padding must be smaller than the kernel (onnxruntime refuses it too: such a
 * window could hold only padding), the window must fit the padded image, and out[] gets
 * the ONNX output size, where in ceil_mode the last window starts inside the input or
 * the leading padding. Bounded attributes and dims keep these int64 expressions exact. */
static inline pnn_status pnn_nn_pool_window(const pnn_node *node, const char *op, int64_t h, int64_t w,
                                            const int64_t kernel[2], const int64_t strides[2],
                                            const int64_t dilations[2], const int64_t pads[4], bool ceil_mode,
                                            int64_t out[2], pnn_error *error) {
  if (pads[0] >= kernel[0] || pads[2] >= kernel[0] || pads[1] >= kernel[1] || pads[3] >= kernel[1]) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): padding must be smaller than the kernel",
                         node->name, op);
  }
  const int64_t size[2] = {h, w};
  for (int d = 0; d < 2; ++d) {
    const int64_t extent = size[d] + pads[d] + pads[d + 2] - (dilations[d] * (kernel[d] - 1) + 1);
    if (extent < 0) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): window larger than the padded input",
                           node->name, op);
    }
    out[d] = (ceil_mode ? (extent + strides[d] - 1) / strides[d] : extent / strides[d]) + 1;
    if (ceil_mode && (out[d] - 1) * strides[d] >= size[d] + pads[d]) --out[d];
  }
  return PNN_OK;
}

/* The geometry of a validated pool window (pnn_nn_pool_window). */
static inline pnn_pool2d_geometry pnn_nn_pool_geometry(size_t channels, int64_t h, int64_t w, const int64_t out[2],
                                                       const int64_t kernel[2], const int64_t strides[2],
                                                       const int64_t dilations[2], const int64_t pads[4]) {
  pnn_pool2d_geometry g;
  g.channels = channels;
  g.in_h = (size_t)h;
  g.in_w = (size_t)w;
  g.out_h = (size_t)out[0];
  g.out_w = (size_t)out[1];
  g.kernel_h = (size_t)kernel[0];
  g.kernel_w = (size_t)kernel[1];
  g.stride_h = (size_t)strides[0];
  g.stride_w = (size_t)strides[1];
  g.dilation_h = (size_t)dilations[0];
  g.dilation_w = (size_t)dilations[1];
  g.pad_top = (size_t)pads[0];
  g.pad_left = (size_t)pads[1];
  g.pad_bottom = (size_t)pads[2];
  g.pad_right = (size_t)pads[3];
  return g;
}

static inline pnn_status pnn_nn_attr_type(const pnn_node *node, const char *name, uint8_t type,
                                          pnn_error *error) {
  const pnn_attr *a = pnn_node_attr(node, name);
  if (a && a->type != type) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\": attribute \"%s\" has type %u, expected %u",
                         node->name, name, (unsigned)a->type, (unsigned)type);
  }
  return PNN_OK;
}

/* Reads an int attribute within [lo, hi] (default when absent). */
static inline pnn_status pnn_nn_attr_int_range(const pnn_node *node, const char *name,
                                               int64_t dflt, int64_t lo, int64_t hi,
                                               int64_t *out, pnn_error *error) {
  pnn_status st = pnn_nn_attr_type(node, name, PNN_ATTR_INT, error);
  if (st != PNN_OK) return st;
  int64_t v = pnn_attr_int(node, name, dflt);
  if (v < lo || v > hi) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                         "node \"%s\": attribute \"%s\" = %lld outside [%lld, %lld]", node->name, name,
                         (long long)v, (long long)lo, (long long)hi);
  }
  *out = v;
  return PNN_OK;
}

/* Reads a float attribute (default when absent). */
static inline pnn_status pnn_nn_attr_float(const pnn_node *node, const char *name, float dflt,
                                           float *out, pnn_error *error) {
  pnn_status st = pnn_nn_attr_type(node, name, PNN_ATTR_FLOAT, error);
  if (st != PNN_OK) return st;
  *out = pnn_attr_float(node, name, dflt);
  return PNN_OK;
}

/* Reads a 2-D spatial INTS attribute of `count2d` entries ([h, w], or for pads
 * [top, left, bottom, right]) with every value in [lo, PNN_NN_MAX_ATTR]. For a rank-3
 * (1-D spatial) op the 1-D form with count2d / 2 entries ([w], or [left, right]) is
 * also accepted and expanded with h_value for the height entries. Absent -> dflt,
 * or an error when dflt is NULL. */
static inline pnn_status pnn_nn_attr_spatial(const pnn_node *node, const char *name,
                                             uint32_t count2d, bool one_d, int64_t h_value,
                                             const int64_t *dflt, int64_t lo, int64_t *out,
                                             pnn_error *error) {
  pnn_status st = pnn_nn_attr_type(node, name, PNN_ATTR_INTS, error);
  if (st != PNN_OK) return st;
  uint32_t count = 0;
  const int64_t *v = pnn_attr_ints(node, name, &count);
  if (!v) {
    if (!dflt) {
      return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\": attribute \"%s\" is required",
                           node->name, name);
    }
    memcpy(out, dflt, count2d * sizeof(int64_t));
  } else if (count == count2d) {
    memcpy(out, v, count2d * sizeof(int64_t));
  } else if (one_d && count == count2d / 2) {
    /* [w] -> [h_value, w]; [l, r] -> [h_value, l, h_value, r] */
    for (uint32_t i = 0; i < count; ++i) {
      out[2 * i] = h_value;
      out[2 * i + 1] = v[i];
    }
  } else {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\": attribute \"%s\" has %u entries, expected %u",
                         node->name, name, count, count2d);
  }
  for (uint32_t i = 0; i < count2d; ++i) {
    if (out[i] < lo || out[i] > PNN_NN_MAX_ATTR) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                           "node \"%s\": attribute \"%s\"[%u] = %lld outside [%lld, %lld]", node->name,
                           name, i, (long long)out[i], (long long)lo, (long long)PNN_NN_MAX_ATTR);
    }
  }
  return PNN_OK;
}

/* Reads the fused activation attributes act, act_alpha, act_beta. */
static inline pnn_status pnn_nn_attr_act(const pnn_node *node, pnn_activation *act,
                                         pnn_error *error) {
  int64_t kind = 0;
  pnn_status st = pnn_nn_attr_int_range(node, "act", 0, PNN_ACT_NONE, PNN_ACT_COUNT - 1, &kind, error);
  if (st != PNN_OK) return st;
  act->kind = (int)kind;
  st = pnn_nn_attr_float(node, "act_alpha", 0.0f, &act->alpha, error);
  if (st != PNN_OK) return st;
  return pnn_nn_attr_float(node, "act_beta", 0.0f, &act->beta, error);
}

/* Every dimension of a tensor in [1, limit]: zero-sized tensors are refused by the nn
 * ops (no real model has them, and they would only add corner cases). */
static inline pnn_status pnn_nn_check_dims(const pnn_node *node, const pnn_tensor *t,
                                           const char *what, pnn_error *error) {
  for (int d = 0; d < t->rank; ++d) {
    if (t->dims[d] < 1 || t->dims[d] > ((int64_t)1 << 40)) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\": %s dimension %d is %lld", node->name,
                           what, d, (long long)t->dims[d]);
    }
  }
  return PNN_OK;
}

/* Strides (in matrices) of an operand's batch dims right-aligned into out_rank dims
 * (MatMul, QMatMul): 0 on a broadcast dim. */
static inline void pnn_nn_batch_strides(const pnn_tensor *t, int batch_rank, int out_rank, size_t *stride) {
  size_t s = 1;
  for (int d = out_rank - 1; d >= 0; --d) {
    const int td = d - (out_rank - batch_rank);
    const int64_t dim = td >= 0 ? t->dims[td] : 1;
    stride[d] = dim == 1 ? 0 : s;
    s *= (size_t)dim;
  }
}

#endif /* PNN_OPS_NN_COMMON_H */
