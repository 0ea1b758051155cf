/* LSTM (op code 112) and GRU (113): a whole recurrent layer in one node (docs/OPS.md
 * "Recurrent operators"), with ONNX semantics at layout 0 and the default activations.
 *
 * Prepare packs each direction's weights once: W^T (input projection) and R^T
 * (recurrence; for GRU its z,r rows and its h rows apart, since linear_before_reset = 0
 * multiplies h by r before the h rows). Where the CPU has a packed-panel GEMM
 * (packed_gemm.h) they go into its panels, else into plain [K, N] copies for the f32
 * GEMM. Run, per direction: one GEMM projects the whole input sequence (X [seq*batch, I]
 * times W^T plus both biases); then per step one small GEMM of the hidden state with R^T,
 * and the gate non-linearities in vectors (the f32-unary kernels) with the state update.
 *
 * An LSTM whose W and R are s8 (format 1.12; com.microsoft DynamicQuantizeLSTM) computes
 * as onnxruntime's operator: W and R packed for the s8-gemv kernel (few u8 rows times an
 * s8 matrix), each with a scale per gate row and a zero point per direction. The projection quantizes the
 * whole X to u8 once, each step quantizes h (one scale and zero point over the batch's
 * hidden rows, dynquant's rule); the exact int32 sums
 *   acc = sum_k (a_q - z_a) (W - z_W) = raw - z_a sum_k W - z_W sum_k (a_q - z_a)
 * are dequantized as float(acc) * (s_a * s_W[n]), onnxruntime's output rounding; the
 * gates stay float. The step is bound by the bytes of R: a quarter of the float's. */
#include <math.h>
#include <stdlib.h>

#include "packed_gemm.h"
#include "q_common.h"

enum { RNN_OUT_Y = 1, RNN_OUT_H = 2, RNN_OUT_C = 4 };
/* LSTM inputs after X, W, R, B, initial_h, initial_c when W and R are s8: per weight
 * j (0: W, 1: R) its scale at RNN_IN_SCALE + 2 j and zero point at RNN_IN_ZERO + 2 j. */
enum { RNN_IN_SCALE = 6, RNN_IN_ZERO = 7, RNN_INT8_INPUTS = 10 };
/* |x_q - z_x| * |W - z_W| <= 255 * 255 per term: the int32 sums of onnxruntime. */
#define RNN_MAX_INT8_K 33025
#define RNN_MAX_WEIGHTS 6 /* 2 directions x (W, R) or (W, R_zr, R_h) */

/* A constant B' [K, N] in the layout of the GEMM that reads it. */
typedef struct rnn_weight {
  size_t k, n;
  pnn_packed_gemm packed; /* packed.gemm set: panels */
  const float *plain;     /* else a plain [K, N] copy */
  const float *rows;      /* B [N, K] as stored: without panels, one row of A is a GEMV on it */
} rnn_weight;

/* One direction's s8 W [4H, I] or R [4H, H] in the s8-gemv layout. */
typedef struct rnn_int8_weight {
  const void *packed;
  const int32_t *sums;  /* sum_k W[n][k] per gate row */
  const float *scale;   /* per gate row */
  int32_t zero_point;
} rnn_int8_weight;

typedef struct rnn_params {
  bool gru, linear_before_reset, has_clip;
  bool reverse; /* direction "reverse" (a bidirectional layer's second direction always is) */
  float clip;
  size_t directions, seq, batch, input, hidden, gates; /* gates: 4 (LSTM) or 3 (GRU) */
  int outputs;                                         /* RNN_OUT_* present, in this order */
  pnn_f32_gemm_fn gemm;
  pnn_f32_unary_fn unary;
  /* per direction d: weight[d * per_dir + 0] = W^T, then R^T (LSTM) or R_zr^T, R_h^T (GRU) */
  size_t per_dir;
  rnn_weight weight[RNN_MAX_WEIGHTS];
  const float *x_bias[2]; /* [gates*H]: Wb + Rb (GRU: Rb of z, r only) */
  const float *h_bias[2]; /* GRU [H]: Rb of h */
  /* LSTM with s8 W and R: their kernel (NULL for float weights), the u8 quantizer of X
   * and h, int8[d][0] = W, int8[d][1] = R of direction d */
  const pnn_s8_gemv_kernel *gemv;
  pnn_f32_quantize_u8_fn quantize;
  rnn_int8_weight int8[2][2];
  /* scratch regions; s8 weights only: xq (u8 X [seq*batch, I], then h [batch, H]) and acc
   * (int32 [seq*batch, 4H]) */
  size_t xw_offset, hr_offset, h_offset, c_offset, tmp_offset, xq_offset, acc_offset;
} rnn_params;

/* C [m, n] (row stride ldc) = A [m, k] B' + col_bias. */
static void rnn_matmul(const rnn_params *p, const rnn_weight *w, size_t m, const float *a, size_t lda,
                       float *c, size_t ldc, const float *col_bias) {
  const pnn_activation none = {PNN_ACT_NONE, 0.0f, 0.0f};
  if (w->packed.gemm) {
    /* One row (batch 1) runs the panels' matrix-vector path: one contiguous stream of
     * B' with 8 independent accumulators (faster than the dot products on B below). */
    pnn_packed_gemm_run(&w->packed, m, a, lda, c, ldc, NULL, col_bias, none);
  } else if (m == 1) {
    /* c^T [N, 1] = B [N, K] a^T: many independent dot products instead of a 1-row tile
     * whose few accumulators wait on each other. */
    p->gemm(w->n, 1, w->k, w->rows, w->k, a, 1, c, 1, col_bias, NULL, none);
  } else {
    p->gemm(m, w->n, w->k, a, lda, w->plain, w->n, c, ldc, NULL, col_bias, none);
  }
}

/* out [rows, 4H] = A W^T (+ bias when not NULL) for an s8 weight W [4H, k] (file comment),
 * A [rows, k] quantized to u8 as one block into aq: onnxruntime quantizes the whole input
 * sequence once for the projection and the batch's hidden rows once per step. The int32
 * sums are corrected for both zero points and dequantized as float(acc) * (s_a * s_W[n]). */
static void rnn_int8_matmul(const rnn_params *p, const rnn_int8_weight *w, const float *a, size_t rows, size_t k,
                            uint8_t *aq, int32_t *acc, const float *bias, float *out) {
  const size_t g = 4 * p->hidden;
  float a_scale = 1.0f;
  int32_t a_zero = 0;
  pnn_q_dynamic_u8_params(a, rows * k, &a_scale, &a_zero);
  p->quantize(rows * k, a, a_scale, a_zero, aq);
  p->gemv->run(g, k, w->packed, rows, aq, k, acc, g);
  for (size_t r = 0; r < rows; ++r) {
    int64_t a_sum = 0;
    for (size_t i = 0; i < k; ++i) a_sum += aq[r * k + i];
    /* acc - z_a sum W = sum (a_q - z_a) W and z_W sum (a_q - z_a) each fit in int32
     * (k <= RNN_MAX_INT8_K), so does their difference: a vectorizable loop. */
    const int32_t z_fix = (int32_t)(w->zero_point * (a_sum - (int64_t)k * a_zero));
    const int32_t *ar = acc + r * g;
    float *o = out + r * g;
    if (bias) {
      for (size_t n = 0; n < g; ++n) {
        o[n] = (float)(ar[n] - a_zero * w->sums[n] - z_fix) * (a_scale * w->scale[n]) + bias[n];
      }
    } else {
      for (size_t n = 0; n < g; ++n) o[n] = (float)(ar[n] - a_zero * w->sums[n] - z_fix) * (a_scale * w->scale[n]);
    }
  }
}

static void rnn_clip(const rnn_params *p, float *x, size_t n) {
  if (!p->has_clip) return;
  for (size_t i = 0; i < n; ++i) x[i] = fminf(fmaxf(x[i], -p->clip), p->clip);
}

static void rnn_apply(const rnn_params *p, int kind, float *x, size_t n) {
  const pnn_unary_params u = {kind, 0.0f, 0.0f};
  p->unary(&u, n, x, x);
}

/* One LSTM step for every batch row: hr holds h_{t-1} R^T, xw the projected input. */
static void lstm_step(const rnn_params *p, const float *xw, float *hr, float *h, float *c, float *tmp) {
  const size_t hid = p->hidden, g = 4 * hid;
  for (size_t b = 0; b < p->batch; ++b) {
    float *pre = hr + b * g;
    const float *x = xw + b * g;
    for (size_t j = 0; j < g; ++j) pre[j] += x[j];
    rnn_clip(p, pre, g);
    rnn_apply(p, PNN_UNARY_SIGMOID, pre, 3 * hid); /* i, o, f */
    rnn_apply(p, PNN_UNARY_TANH, pre + 3 * hid, hid);
    const float *ig = pre, *og = pre + hid, *fg = pre + 2 * hid, *cg = pre + 3 * hid;
    float *cb = c + b * hid, *hb = h + b * hid, *tb = tmp + b * hid;
    for (size_t j = 0; j < hid; ++j) cb[j] = fg[j] * cb[j] + ig[j] * cg[j];
    const pnn_unary_params tanh_params = {PNN_UNARY_TANH, 0.0f, 0.0f};
    p->unary(&tanh_params, hid, cb, tb);
    for (size_t j = 0; j < hid; ++j) hb[j] = og[j] * tb[j];
  }
}

/* One GRU step: hr [batch, 3H] receives h R_zr^T in its first 2H columns and the h
 * candidate's recurrence term in its last H; tmp holds r * h_{t-1} (linear_before_reset 0). */
static void gru_step(const rnn_params *p, const rnn_weight *r_zr, const rnn_weight *r_h, const float *h_bias,
                     const float *xw, float *hr, float *h, float *tmp) {
  const size_t hid = p->hidden, g = 3 * hid;
  rnn_matmul(p, r_zr, p->batch, h, hid, hr, g, NULL);
  for (size_t b = 0; b < p->batch; ++b) {
    float *pre = hr + b * g;
    const float *x = xw + b * g;
    for (size_t j = 0; j < 2 * hid; ++j) pre[j] += x[j];
    rnn_clip(p, pre, 2 * hid);
    rnn_apply(p, PNN_UNARY_SIGMOID, pre, 2 * hid); /* z, r */
    if (!p->linear_before_reset) {
      const float *rg = pre + hid, *hb = h + b * hid;
      float *tb = tmp + b * hid;
      for (size_t j = 0; j < hid; ++j) tb[j] = rg[j] * hb[j];
    }
  }
  /* linear_before_reset 1: (h R_h^T + Rb_h) * r; else (r * h) R_h^T + Rb_h */
  rnn_matmul(p, r_h, p->batch, p->linear_before_reset ? h : tmp, hid, hr + 2 * hid, g, h_bias);
  for (size_t b = 0; b < p->batch; ++b) {
    float *pre = hr + b * g;
    const float *x = xw + b * g;
    const float *zg = pre, *rg = pre + hid;
    float *cand = pre + 2 * hid, *hb = h + b * hid;
    if (p->linear_before_reset) {
      for (size_t j = 0; j < hid; ++j) cand[j] *= rg[j];
    }
    for (size_t j = 0; j < hid; ++j) cand[j] += x[2 * hid + j];
    rnn_clip(p, cand, hid);
    rnn_apply(p, PNN_UNARY_TANH, cand, hid);
    for (size_t j = 0; j < hid; ++j) hb[j] = (1.0f - zg[j]) * cand[j] + zg[j] * hb[j];
  }
}

/* ---- prepare ---------------------------------------------------------------------- */

static pnn_status rnn_error(const pnn_node *node, pnn_status st, const char *what, pnn_error *error) {
  return pnn_set_error(error, st, "node \"%s\" (%s): %s", node->name, node->op == PNN_OP_GRU ? "GRU" : "LSTM",
                       what);
}

/* A constant operand of exactly dims [d0, d1(, d2)] (d2 = 0: rank 2). */
static pnn_status rnn_check_tensor(const pnn_node *node, const pnn_tensor *t, const char *what, bool constant,
                                   int64_t d0, int64_t d1, int64_t d2, pnn_error *error) {
  const int rank = d2 ? 3 : 2;
  if (t->rank != rank || t->dims[0] != d0 || t->dims[1] != d1 || (d2 && t->dims[2] != d2)) {
    if (!d2) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\": %s must have shape [%lld, %lld]", node->name, what,
                           (long long)d0, (long long)d1);
    }
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\": %s must have shape [%lld, %lld, %lld]", node->name,
                         what, (long long)d0, (long long)d1, (long long)d2);
  }
  if (constant && (t->kind != PNN_TENSOR_CONSTANT || t->data == NULL || t->encoding != PNN_ENCODING_DENSE)) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\": %s must be a dense constant", node->name, what);
  }
  return PNN_OK;
}

static pnn_status rnn_read_attrs(const pnn_node *node, rnn_params *p, pnn_error *error) {
  int64_t direction = 0, hidden = 0, outputs = 0, lbr = 0;
  pnn_status st;
  const int64_t max_outputs = p->gru ? (RNN_OUT_Y | RNN_OUT_H) : (RNN_OUT_Y | RNN_OUT_H | RNN_OUT_C);
  if ((st = pnn_nn_attr_int_range(node, "direction", 0, 0, 2, &direction, error)) != PNN_OK ||
      (st = pnn_nn_attr_int_range(node, "hidden_size", 0, 1, PNN_NN_MAX_ATTR, &hidden, error)) != PNN_OK ||
      (st = pnn_nn_attr_int_range(node, "outputs", 0, 1, max_outputs, &outputs, error)) != PNN_OK ||
      (st = pnn_nn_attr_int_range(node, "linear_before_reset", 0, 0, p->gru ? 1 : 0, &lbr, error)) != PNN_OK ||
      (st = pnn_nn_attr_float(node, "clip", 0.0f, &p->clip, error)) != PNN_OK) {
    return st;
  }
  p->has_clip = pnn_node_attr(node, "clip") != NULL;
  if (p->has_clip && !(p->clip > 0.0f && p->clip <= 3.4e38f)) {
    return rnn_error(node, PNN_ERR_UNSUPPORTED, "attribute \"clip\" must be positive and finite", error);
  }
  p->directions = direction == 2 ? 2 : 1;
  p->reverse = direction == 1;
  p->hidden = (size_t)hidden;
  p->outputs = (int)outputs;
  p->linear_before_reset = lbr != 0;
  return PNN_OK;
}

static pnn_status rnn_check_shapes(const pnn_model *model, const pnn_node *node, const rnn_params *p,
                                   pnn_error *error) {
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  pnn_status st;
  if (x->rank != 3 || (st = pnn_nn_check_dims(node, x, "X", error)) != PNN_OK) {
    return x->rank != 3 ? rnn_error(node, PNN_ERR_SHAPE, "X must be 3-D [seq, batch, input]", error) : st;
  }
  const int64_t dirs = (int64_t)p->directions, hid = (int64_t)p->hidden, gh = (int64_t)(p->gates * p->hidden);
  const int64_t in = x->dims[2], batch = x->dims[1], seq = x->dims[0];
  if ((st = rnn_check_tensor(node, pnn_input_tensor(model, node, 1), "W", true, dirs, gh, in, error)) != PNN_OK ||
      (st = rnn_check_tensor(node, pnn_input_tensor(model, node, 2), "R", true, dirs, gh, hid, error)) != PNN_OK) {
    return st;
  }
  const pnn_tensor *bias = pnn_input_tensor(model, node, 3);
  if (bias && (st = rnn_check_tensor(node, bias, "B", true, dirs, 2 * gh, 0, error)) != PNN_OK) return st;
  static const char *const state_names[2] = {"initial_h", "initial_c"};
  for (uint32_t i = 4; i < node->n_inputs && i < RNN_IN_SCALE; ++i) {
    const pnn_tensor *s = pnn_input_tensor(model, node, i);
    if (s && (st = rnn_check_tensor(node, s, state_names[i - 4], false, dirs, batch, hid, error)) != PNN_OK) {
      return st;
    }
  }
  uint32_t out = 0;
  const int64_t y_dims[4] = {seq, dirs, batch, hid}, state_dims[3] = {dirs, batch, hid};
  if ((p->outputs & RNN_OUT_Y) && (st = pnn_check_output_shape(model, node, out++, 4, y_dims, error)) != PNN_OK) {
    return st;
  }
  for (int flag = RNN_OUT_H; flag <= RNN_OUT_C; flag <<= 1) {
    if ((p->outputs & flag) && (st = pnn_check_output_shape(model, node, out++, 3, state_dims, error)) != PNN_OK) {
      return st;
    }
  }
  return PNN_OK;
}

/* Every value f32, or on an LSTM W and R s8 with, per weight, its scale (f32
 * [directions, 4H], finite) and zero point (s32 [directions] in [-128, 127]) after
 * initial_c: W_scale, W_zero_point, R_scale, R_zero_point. */
static pnn_status rnn_check_dtypes(const pnn_model *model, const pnn_node *node, const rnn_params *p, bool int8,
                                   pnn_error *error) {
  const char *op = p->gru ? "GRU" : "LSTM";
  pnn_status st;
  for (uint32_t i = 0; i < node->n_inputs && i < RNN_IN_SCALE; ++i) {
    const pnn_tensor *t = pnn_input_tensor(model, node, i);
    const bool weight = i == 1 || i == 2;
    if (t && (st = pnn_q_check_dtype(node, op, t, weight ? "weight" : "input", int8 && weight ? PNN_DTYPE_S8
                                     : PNN_DTYPE_F32, int8 && weight ? "s8 (as W and R are)" : "f32", error)) != PNN_OK) {
      return st;
    }
  }
  for (uint32_t i = 0; i < node->n_outputs; ++i) {
    const pnn_tensor *t = pnn_output_tensor(model, node, i);
    if ((st = pnn_q_check_dtype(node, op, t, "output", PNN_DTYPE_F32, "f32", error)) != PNN_OK) return st;
  }
  if (!int8) {
    if (node->n_inputs > RNN_IN_SCALE) {
      return rnn_error(node, PNN_ERR_FORMAT, "scales and zero points belong to s8 W and R only", error);
    }
    return PNN_OK;
  }
  if (p->gru) return rnn_error(node, PNN_ERR_UNSUPPORTED, "s8 W and R are supported on LSTM only", error);
  if (node->n_inputs != RNN_INT8_INPUTS) {
    return rnn_error(node, PNN_ERR_FORMAT, "s8 W and R need W_scale, W_zero_point, R_scale and R_zero_point", error);
  }
  const int64_t dirs = (int64_t)p->directions, gh = (int64_t)(4 * p->hidden);
  for (uint32_t j = 0; j < 2; ++j) {
    const pnn_tensor *scale = pnn_input_tensor(model, node, RNN_IN_SCALE + 2 * j);
    const pnn_tensor *zero = pnn_input_tensor(model, node, RNN_IN_ZERO + 2 * j);
    if (!scale || !zero) return rnn_error(node, PNN_ERR_FORMAT, "a scale or zero point is missing", error);
    if ((st = pnn_q_check_dtype(node, op, scale, "scale", PNN_DTYPE_F32, "f32", error)) != PNN_OK ||
        (st = rnn_check_tensor(node, scale, j ? "R_scale" : "W_scale", true, dirs, gh, 0, error)) != PNN_OK ||
        (st = pnn_q_check_s32_vector(node, op, zero, "zero point", p->directions, error)) != PNN_OK) {
      return st;
    }
    const float *sc = scale->data;
    for (size_t i = 0; i < scale->numel; ++i) {
      if (!isfinite(sc[i])) return rnn_error(node, PNN_ERR_UNSUPPORTED, "scales must be finite", error);
    }
    const int32_t *z = zero->data;
    for (size_t d = 0; d < p->directions; ++d) {
      if (z[d] < -128 || z[d] > 127) return rnn_error(node, PNN_ERR_UNSUPPORTED, "zero points must be s8", error);
    }
  }
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  if (p->hidden > RNN_MAX_INT8_K || x->rank != 3 || x->dims[2] > RNN_MAX_INT8_K) {
    return rnn_error(node, PNN_ERR_UNSUPPORTED, "input or hidden size over 33025 with s8 weights (int32 sums)",
                     error);
  }
  return PNN_OK;
}

static uint32_t rnn_popcount(int bits) { return (uint32_t)((bits & 1) + ((bits >> 1) & 1) + ((bits >> 2) & 1)); }

/* Bytes of one weight [K, N] in its layout. */
static bool rnn_weight_bytes(pnn_f32_gemm_pb_fn pb, size_t k, size_t n, size_t *bytes) {
  size_t count = 0;
  if (pb) return pnn_packed_gemm_bytes(k, n, bytes);
  return pnn_nn_mul(k, n, &count) && pnn_nn_float_region(count, bytes);
}

/* Packs src (B stored [N, K]) as B' [K, N] into region; keeps src for the GEMV. */
static void rnn_pack(pnn_f32_gemm_pb_fn pb, const float *src, size_t k, size_t n, void *region, rnn_weight *w) {
  w->k = k;
  w->n = n;
  w->rows = src;
  if (pb) {
    pnn_packed_gemm_pack(src, true, 1.0f, k, n, pb, region, &w->packed);
    return;
  }
  float *dst = region;
  for (size_t r = 0; r < k; ++r) {
    for (size_t c = 0; c < n; ++c) dst[r * n + c] = src[c * k + r];
  }
  w->plain = dst;
}

/* Bytes of an s8 weight [N, K] in the GEMV's layout, then its row sums. */
static bool rnn_int8_bytes(const rnn_params *p, size_t k, size_t n, size_t *bytes) {
  size_t packed = 0, sums = 0, count = 0;
  if (!pnn_nn_mul(n, k, &count) || !pnn_nn_mul(n, sizeof(int32_t), &count) || !pnn_nn_align(count, &sums)) {
    return false;
  }
  if (!pnn_nn_align(p->gemv->pack_size(n, k), &packed)) return false;
  return pnn_nn_add(packed, sums, bytes);
}

/* Direction d's s8 weight j (0: W [4H, I], 1: R [4H, H]) packed at region, its row sums
 * after it; its scale and zero point. */
static void rnn_pack_int8(const pnn_model *model, const pnn_node *node, rnn_params *p, size_t d, size_t j,
                          void *region) {
  const size_t k = j ? p->hidden : p->input, g = 4 * p->hidden;
  const int8_t *w = (const int8_t *)pnn_input_tensor(model, node, 1 + (uint32_t)j)->data + d * g * k;
  size_t packed = 0;
  (void)pnn_nn_align(p->gemv->pack_size(g, k), &packed); /* checked by rnn_int8_bytes */
  p->gemv->pack(g, k, w, region);
  int32_t *sums = (int32_t *)((unsigned char *)region + packed);
  for (size_t n = 0; n < g; ++n) {
    int32_t sum = 0;
    for (size_t i = 0; i < k; ++i) sum += w[n * k + i];
    sums[n] = sum;
  }
  rnn_int8_weight *q = &p->int8[d][j];
  q->packed = region;
  q->sums = sums;
  q->scale = (const float *)pnn_input_tensor(model, node, RNN_IN_SCALE + 2 * (uint32_t)j)->data + d * g;
  q->zero_point = ((const int32_t *)pnn_input_tensor(model, node, RNN_IN_ZERO + 2 * (uint32_t)j)->data)[d];
}

/* Appends a region of count * size bytes at *end. */
static bool rnn_region(size_t count, size_t size, size_t *offset, size_t *end) {
  size_t bytes = 0;
  *offset = *end;
  return pnn_nn_mul(count, size, &bytes) && pnn_nn_align(bytes, &bytes) && pnn_nn_add(*end, bytes, end);
}

/* Scratch: xw [seq*batch, gates*H], hr [batch, gates*H], h, c, tmp [batch, H]; with s8
 * weights also the regions named in rnn_params. */
static bool rnn_scratch(rnn_params *p, bool int8, size_t *total) {
  size_t gh = p->gates * p->hidden, rows = 0, state = 0, end = 0;
  if (!pnn_nn_mul(p->seq, p->batch, &rows) || !pnn_nn_mul(p->batch, p->hidden, &state) ||
      !rnn_region(rows, gh * sizeof(float), &p->xw_offset, &end) ||
      !rnn_region(p->batch, gh * sizeof(float), &p->hr_offset, &end) ||
      !rnn_region(state, sizeof(float), &p->h_offset, &end) || !rnn_region(state, sizeof(float), &p->c_offset, &end) ||
      !rnn_region(state, sizeof(float), &p->tmp_offset, &end)) {
    return false;
  }
  size_t xq = 0, acc = 0;
  if (int8 && (!pnn_nn_mul(rows, p->input, &xq) || !rnn_region(xq > state ? xq : state, 1, &p->xq_offset, &end) ||
               !pnn_nn_mul(rows, gh, &acc) || !rnn_region(acc, sizeof(int32_t), &p->acc_offset, &end))) {
    return false;
  }
  *total = end;
  return true;
}

pnn_status pnn_op_recurrent_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  rnn_params p;
  memset(&p, 0, sizeof(p));
  p.gru = node->op == PNN_OP_GRU;
  p.gates = p.gru ? 3 : 4;
  pnn_status st;
  if ((st = rnn_read_attrs(node, &p, error)) != PNN_OK) return st;
  const uint32_t max_in = p.gru ? 5 : RNN_INT8_INPUTS;
  if ((st = pnn_check_io(model, node, 3, max_in, rnn_popcount(p.outputs), rnn_popcount(p.outputs), true,
                         error)) != PNN_OK) {
    return st;
  }
  const bool int8 = pnn_input_tensor(model, node, 1)->dtype == PNN_DTYPE_S8;
  if ((st = rnn_check_dtypes(model, node, &p, int8, error)) != PNN_OK ||
      (st = rnn_check_shapes(model, node, &p, error)) != PNN_OK) {
    return st;
  }
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  p.seq = (size_t)x->dims[0];
  p.batch = (size_t)x->dims[1];
  p.input = (size_t)x->dims[2];
  p.per_dir = p.gru ? 3 : 2;

  const char *gemm_isa = "scalar", *unary_isa = "scalar", *pb_isa = "scalar";
  p.gemm = pnn_f32_gemm_select(&model->cpu, &gemm_isa);
  p.unary = pnn_f32_unary_select(&model->cpu, NULL, &unary_isa);
  const pnn_f32_gemm_pb_fn pb = pnn_packed_gemm_kernel(model, &pb_isa);
  node->kernel = pb ? PNN_KERNEL_NAME("packed", pb_isa) : PNN_KERNEL_NAME("gemm", gemm_isa);
  if (int8) {
    const char *quantize_isa = "scalar";
    p.gemv = pnn_s8_gemv_select(&model->cpu);
    p.quantize = pnn_f32_quantize_u8_select(&model->cpu, &quantize_isa);
    node->kernel = PNN_KERNEL_NAME("s8gemv", p.gemv->name);
  }

  /* Params block: header, then per direction its weights, x bias and (GRU) h bias. */
  const size_t gh = p.gates * p.hidden;
  size_t sizes[RNN_MAX_WEIGHTS] = {0}, header = 0, block = 0, bias_bytes = 0, h_bias_bytes = 0;
  const size_t k_of[3] = {p.input, p.hidden, p.hidden};
  const size_t n_of[3] = {gh, p.gru ? 2 * p.hidden : gh, p.hidden};
  if (!pnn_nn_align(sizeof(p), &header) || !pnn_nn_float_region(gh, &bias_bytes) ||
      !pnn_nn_float_region(p.hidden, &h_bias_bytes) || !rnn_scratch(&p, int8, &node->scratch_bytes)) {
    goto too_large;
  }
  block = header;
  for (size_t d = 0; d < p.directions; ++d) {
    for (size_t j = 0; j < p.per_dir; ++j) {
      size_t *s = &sizes[d * p.per_dir + j];
      const bool ok = int8 ? rnn_int8_bytes(&p, k_of[j], n_of[j], s) : rnn_weight_bytes(pb, k_of[j], n_of[j], s);
      if (!ok || !pnn_nn_add(block, *s, &block)) goto too_large;
    }
    if (!pnn_nn_add(block, bias_bytes, &block) || !pnn_nn_add(block, h_bias_bytes, &block)) goto too_large;
  }
  rnn_params *params = malloc(block);
  if (!params) return rnn_error(node, PNN_ERR_OUT_OF_MEMORY, "out of memory", error);
  unsigned char *at = (unsigned char *)params + header;
  const pnn_tensor *w_t = pnn_input_tensor(model, node, 1), *r_t = pnn_input_tensor(model, node, 2);
  const pnn_tensor *b_t = pnn_input_tensor(model, node, 3);
  for (size_t d = 0; d < p.directions; ++d) {
    for (size_t j = 0; j < p.per_dir; ++j) {
      if (int8) {
        rnn_pack_int8(model, node, &p, d, j, at);
      } else {
        const float *w = (const float *)w_t->data + d * gh * p.input, *r = (const float *)r_t->data + d * gh * p.hidden;
        const float *src[3] = {w, r, r + 2 * p.hidden * p.hidden};
        rnn_pack(pb, src[j], k_of[j], n_of[j], at, &p.weight[d * p.per_dir + j]);
      }
      at += sizes[d * p.per_dir + j];
    }
    float *xb = (float *)at, *hb = (float *)(at + bias_bytes);
    at += bias_bytes + h_bias_bytes;
    const float *wb = b_t ? (const float *)b_t->data + d * 2 * gh : NULL;
    for (size_t i = 0; i < gh; ++i) {
      /* GRU: the h rows' recurrence bias goes after R_h (h_bias), not into x_bias. */
      const bool rb_in_x = !p.gru || i < 2 * p.hidden;
      xb[i] = wb ? wb[i] + (rb_in_x ? wb[gh + i] : 0.0f) : 0.0f;
    }
    for (size_t i = 0; i < p.hidden; ++i) hb[i] = wb && p.gru ? wb[gh + 2 * p.hidden + i] : 0.0f;
    p.x_bias[d] = xb;
    p.h_bias[d] = hb;
  }
  *params = p;
  node->params = params;
  return PNN_OK;

too_large:
  return rnn_error(node, PNN_ERR_SHAPE, "operands too large", error);
}

/* ---- run -------------------------------------------------------------------------- */

void pnn_op_recurrent_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                          void *const *out, const pnn_run_context *ctx) {
  (void)model;
  const rnn_params *p = node->params;
  unsigned char *s = ctx->scratch;
  float *xw = (float *)(s + p->xw_offset), *hr = (float *)(s + p->hr_offset);
  float *h = (float *)(s + p->h_offset), *c = (float *)(s + p->c_offset), *tmp = (float *)(s + p->tmp_offset);
  const float *x = in[0];
  const float *h0 = node->n_inputs > 4 ? in[4] : NULL, *c0 = node->n_inputs > 5 ? in[5] : NULL;
  uint32_t o = 0;
  float *y = (p->outputs & RNN_OUT_Y) ? out[o++] : NULL;
  float *y_h = (p->outputs & RNN_OUT_H) ? out[o++] : NULL;
  float *y_c = (p->outputs & RNN_OUT_C) ? out[o++] : NULL;
  const size_t hid = p->hidden, gh = p->gates * hid, state = p->batch * hid;
  for (size_t d = 0; d < p->directions; ++d) {
    const rnn_weight *w = &p->weight[d * p->per_dir];
    if (p->gemv) {
      rnn_int8_matmul(p, &p->int8[d][0], x, p->seq * p->batch, p->input, s + p->xq_offset,
                      (int32_t *)(s + p->acc_offset), p->x_bias[d], xw);
    } else {
      rnn_matmul(p, &w[0], p->seq * p->batch, x, p->input, xw, gh, p->x_bias[d]);
    }
    if (h0) memcpy(h, h0 + d * state, state * sizeof(float)); else memset(h, 0, state * sizeof(float));
    if (c0) memcpy(c, c0 + d * state, state * sizeof(float)); else memset(c, 0, state * sizeof(float));
    for (size_t step = 0; step < p->seq; ++step) {
      const size_t t = (d == 1 || p->reverse) ? p->seq - 1 - step : step;
      const float *xw_t = xw + t * p->batch * gh;
      if (p->gru) {
        gru_step(p, &w[1], &w[2], p->h_bias[d], xw_t, hr, h, tmp);
      } else {
        if (p->gemv) {
          rnn_int8_matmul(p, &p->int8[d][1], h, p->batch, hid, s + p->xq_offset, (int32_t *)(s + p->acc_offset), NULL,
                          hr);
        } else {
          rnn_matmul(p, &w[1], p->batch, h, hid, hr, gh, NULL);
        }
        lstm_step(p, xw_t, hr, h, c, tmp);
      }
      if (y) memcpy(y + (t * p->directions + d) * state, h, state * sizeof(float));
    }
    if (y_h) memcpy(y_h + d * state, h, state * sizeof(float));
    if (y_c) memcpy(y_c + d * state, c, state * sizeof(float));
  }
}
