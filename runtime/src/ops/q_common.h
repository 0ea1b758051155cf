/* Helpers shared by the integer operators (qconv.c, qelementwise.c; docs/OPS.md
 * "Integer operators", docs/QUANTIZATION.md): required attributes, dtype checks and
 * the validation of requantization constants. Private to runtime/src/ops. */
#ifndef PNN_OPS_Q_COMMON_H
#define PNN_OPS_Q_COMMON_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "nn_common.h"

#define PNN_Q_INT32_MAX ((int64_t)INT32_MAX)

/* Reads a required int attribute within [lo, hi]. */
static inline pnn_status pnn_q_attr_int(const pnn_node *node, const char *op, const char *name,
                                        int64_t lo, int64_t hi, int64_t *out, pnn_error *error) {
  const pnn_attr *a = pnn_node_attr(node, name);
  if (!a) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (%s): attribute \"%s\" is required",
                         node->name, op, name);
  }
  return pnn_nn_attr_int_range(node, name, 0, lo, hi, out, error);
}

/* Reads a required float attribute that must be finite and > 0. */
static inline pnn_status pnn_q_attr_scale(const pnn_node *node, const char *op, const char *name,
                                          float *out, pnn_error *error) {
  if (!pnn_node_attr(node, name)) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (%s): attribute \"%s\" is required",
                         node->name, op, name);
  }
  pnn_status st = pnn_nn_attr_float(node, name, 0.0f, out, error);
  if (st != PNN_OK) return st;
  if (!(*out > 0.0f) || !isfinite(*out)) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                         "node \"%s\" (%s): attribute \"%s\" = %g must be finite and > 0", node->name, op,
                         name, (double)*out);
  }
  return PNN_OK;
}

/* onnxruntime's dynamic u8 parameters of x [n] (DynamicQuantizeLinear, and the hidden
 * state of a quantized LSTM step): the range widened to hold 0, scale 1 when it is empty,
 * zero_point = rint(clamp(-lo / scale, 0, 255)) with ties to even. */
static inline void pnn_q_dynamic_u8_params(const float *x, size_t n, float *scale, int32_t *zero_point) {
  /* PNN_Q_RANGE_LANES independent running extremes (the compiler makes them vector
   * min/max; one chain waited on its compare per element): each step keeps its lane's
   * old value unless x is strictly beyond it, so a NaN or a -0.0 never enters and the
   * lanes' combination is the single chain's result. */
  enum { PNN_Q_RANGE_LANES = 16 };
  float lows[PNN_Q_RANGE_LANES] = {0.0f}, highs[PNN_Q_RANGE_LANES] = {0.0f};
  size_t i = 0;
  for (; i + PNN_Q_RANGE_LANES <= n; i += PNN_Q_RANGE_LANES) {
    for (size_t j = 0; j < PNN_Q_RANGE_LANES; ++j) {
      lows[j] = x[i + j] < lows[j] ? x[i + j] : lows[j];
      highs[j] = x[i + j] > highs[j] ? x[i + j] : highs[j];
    }
  }
  float lo = 0.0f, hi = 0.0f;
  for (size_t j = 0; j < PNN_Q_RANGE_LANES; ++j) {
    lo = lows[j] < lo ? lows[j] : lo;
    hi = highs[j] > hi ? highs[j] : hi;
  }
  for (; i < n; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  *scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
  const float zero_real = 0.0f - lo / *scale;
  /* Written so that NaN (an infinite input: -inf / inf) becomes 0 before the conversion. */
  const float zero = zero_real > 0.0f ? (zero_real < 255.0f ? zero_real : 255.0f) : 0.0f;
  *zero_point = (int32_t)nearbyintf(zero); /* ties to even (default rounding mode) */
}

/* A tensor must have this dtype. */
static inline pnn_status pnn_q_check_dtype(const pnn_node *node, const char *op, const pnn_tensor *t,
                                           const char *what, uint8_t dtype, const char *dtype_name,
                                           pnn_error *error) {
  if (t->dtype != dtype) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): %s \"%s\" must be %s (dtype %u)",
                         node->name, op, what, t->name, dtype_name, (unsigned)dtype);
  }
  return PNN_OK;
}

/* A constant int32 vector of `count` entries whose data the loader mapped. */
static inline pnn_status pnn_q_check_s32_vector(const pnn_node *node, const char *op, const pnn_tensor *t,
                                                const char *what, size_t count, pnn_error *error) {
  pnn_status st = pnn_q_check_dtype(node, op, t, what, PNN_DTYPE_S32, "s32", error);
  if (st != PNN_OK) return st;
  if (t->kind != PNN_TENSOR_CONSTANT || t->encoding != PNN_ENCODING_DENSE || t->data == NULL) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): %s \"%s\" must be a dense constant",
                         node->name, op, what, t->name);
  }
  if (t->rank != 1 || t->dims[0] != (int64_t)count || t->numel != count) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): %s \"%s\" must have shape [%zu]", node->name,
                         op, what, t->name, count);
  }
  return PNN_OK;
}

/* Per-channel multipliers in [0, 2^31 - 1] and shifts in the contract's range. */
static inline pnn_status pnn_q_check_requant(const pnn_node *node, const char *op, const pnn_tensor *mult,
                                             const pnn_tensor *shift, size_t count, pnn_error *error) {
  pnn_status st;
  if ((st = pnn_q_check_s32_vector(node, op, mult, "multiplier", count, error)) != PNN_OK ||
      (st = pnn_q_check_s32_vector(node, op, shift, "shift", count, error)) != PNN_OK) {
    return st;
  }
  const int32_t *m = mult->data, *s = shift->data;
  for (size_t c = 0; c < count; ++c) {
    if (m[c] < 0 || s[c] < PNN_REQUANT_MIN_SHIFT || s[c] > PNN_REQUANT_MAX_SHIFT) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                           "node \"%s\" (%s): channel %zu has multiplier %ld and shift %ld (allowed: "
                           "multiplier in [0, 2^31-1], shift in [%d, %d])",
                           node->name, op, c, (long)m[c], (long)s[c], PNN_REQUANT_MIN_SHIFT,
                           PNN_REQUANT_MAX_SHIFT);
    }
  }
  return PNN_OK;
}

/* Output zero point and clamp bounds: 0 <= y_zero_point <= 255, 0 <= lo <= hi <= 255. */
static inline pnn_status pnn_q_attr_output(const pnn_node *node, const char *op, pnn_requant *rq,
                                           pnn_error *error) {
  int64_t zp = 0, lo = 0, hi = 0;
  pnn_status st;
  if ((st = pnn_q_attr_int(node, op, "y_zero_point", 0, 255, &zp, error)) != PNN_OK ||
      (st = pnn_q_attr_int(node, op, "lo", 0, 255, &lo, error)) != PNN_OK ||
      (st = pnn_q_attr_int(node, op, "hi", lo, 255, &hi, error)) != PNN_OK) {
    return st;
  }
  rq->zero_point = (int32_t)zp;
  rq->lo = (int32_t)lo;
  rq->hi = (int32_t)hi;
  return PNN_OK;
}

/* "s8gemm/<variant>" or "s4gemm/<variant>" as a static string (variant: the name
 * pnn_s8_gemm_kernel carries). */
static inline const char *pnn_q_gemm_kernel_name(const char *variant, bool s4) {
  static const char *const NAMES[][3] = {
      {"avx2", "s8gemm/avx2", "s4gemm/avx2"},
      {"avx2maddubs", "s8gemm/avx2maddubs", "s4gemm/scalar"}, /* s8 only */
      {"avxvnni", "s8gemm/avxvnni", "s4gemm/avxvnni"},
      {"avx512vnni", "s8gemm/avx512vnni", "s4gemm/avx512vnni"},
      {"neon", "s8gemm/neon", "s4gemm/neon"},
      {"neondot", "s8gemm/neondot", "s4gemm/neondot"},
      {"wasmsimd", "s8gemm/wasmsimd", "s4gemm/wasmsimd"},
  };
  for (size_t i = 0; i < sizeof(NAMES) / sizeof(NAMES[0]); ++i) {
    if (strcmp(variant, NAMES[i][0]) == 0) return NAMES[i][s4 ? 2 : 1];
  }
  return s4 ? "s4gemm/scalar" : "s8gemm/scalar";
}

/* A 2-D integer convolution's group count, per-group geometry, and whether it is a plain
 * 1x1 (stride 1, no padding: the GEMM runs on X itself). */
typedef struct pnn_q_conv_layout {
  int64_t group;
  pnn_conv2d_geometry geom;
  bool direct;
} pnn_q_conv_layout;

/* Reads and checks the attributes and shapes of QConv / ConvInteger (qconv.c). */
pnn_status pnn_q_conv_shape(const pnn_model *model, const pnn_node *node, const char *op, const pnn_tensor *x,
                            const pnn_tensor *w, pnn_q_conv_layout *out, pnn_error *error);

/* Columns [first, first + count) of the im2col matrix [C*kh*kw][count] of one group of
 * the u8 image x (qconv.c), taps outside the image reading zero_point. */
void pnn_q_unfold_columns(const pnn_conv2d_geometry *g, const uint8_t *x, uint8_t zero_point, size_t first,
                          size_t count, uint8_t *cols);

#endif /* PNN_OPS_Q_COMMON_H */
