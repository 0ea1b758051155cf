/* LSTM (op code 112) and GRU (113): a whole recurrent layer in one node (docs/OPS.md
 * "Recurrent operators"), with ONNX semantics at layout 0 and the default activations.
 *
 * Prepare packs each direction's weights once: W^T (input projection) and R^T
 * (recurrence; for GRU its z,r rows and its h rows apart, since linear_before_reset = 0
 * multiplies h by r before the h rows). Where the CPU has a packed-panel GEMM
 * (packed_gemm.h) they go into its panels, else into plain [K, N] copies for the f32
 * GEMM. Run, per direction: one GEMM projects the whole input sequence (X [seq*batch, I]
 * times W^T plus both biases); then per step one small GEMM of the hidden state with R^T,
 * and the gate non-linearities in vectors (the f32-unary kernels) with the state update. */
#include <math.h>
#include <stdlib.h>

#include "nn_common.h"
#include "packed_gemm.h"

enum { RNN_OUT_Y = 1, RNN_OUT_H = 2, RNN_OUT_C = 4 };
#define RNN_MAX_WEIGHTS 6 /* 2 directions x (W, R) or (W, R_zr, R_h) */

/* A constant B' [K, N] in the layout of the GEMM that reads it. */
typedef struct rnn_weight {
  size_t k, n;
  pnn_packed_gemm packed; /* packed.gemm set: panels */
  const float *plain;     /* else a plain [K, N] copy */
  const float *rows;      /* B [N, K] as stored: without panels, one row of A is a GEMV on it */
} rnn_weight;

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
  /* scratch regions */
  size_t xw_offset, hr_offset, h_offset, c_offset, tmp_offset;
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
  for (uint32_t i = 4; i < node->n_inputs; ++i) {
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

/* Scratch: xw [seq*batch, gates*H], hr [batch, gates*H], h, c, tmp [batch, H]. */
static bool rnn_scratch(rnn_params *p, size_t *total) {
  size_t gh = p->gates * p->hidden, rows = 0, count = 0, xw = 0, hr = 0, state = 0;
  if (!pnn_nn_mul(p->seq, p->batch, &rows) || !pnn_nn_mul(rows, gh, &count) || !pnn_nn_float_region(count, &xw) ||
      !pnn_nn_mul(p->batch, gh, &count) || !pnn_nn_float_region(count, &hr) ||
      !pnn_nn_mul(p->batch, p->hidden, &count) || !pnn_nn_float_region(count, &state)) {
    return false;
  }
  p->xw_offset = 0;
  p->hr_offset = xw;
  return pnn_nn_add(xw, hr, &p->h_offset) && pnn_nn_add(p->h_offset, state, &p->c_offset) &&
         pnn_nn_add(p->c_offset, state, &p->tmp_offset) && pnn_nn_add(p->tmp_offset, state, total);
}

pnn_status pnn_op_recurrent_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  rnn_params p;
  memset(&p, 0, sizeof(p));
  p.gru = node->op == PNN_OP_GRU;
  p.gates = p.gru ? 3 : 4;
  pnn_status st;
  if ((st = rnn_read_attrs(node, &p, error)) != PNN_OK) return st;
  const uint32_t max_in = p.gru ? 5 : 6;
  if ((st = pnn_check_io(model, node, 3, max_in, rnn_popcount(p.outputs), rnn_popcount(p.outputs), false,
                         error)) != PNN_OK ||
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

  /* Params block: header, then per direction its weights, x bias and (GRU) h bias. */
  const size_t gh = p.gates * p.hidden;
  size_t sizes[RNN_MAX_WEIGHTS] = {0}, header = 0, block = 0, bias_bytes = 0, h_bias_bytes = 0;
  const size_t k_of[3] = {p.input, p.hidden, p.hidden};
  const size_t n_of[3] = {gh, p.gru ? 2 * p.hidden : gh, p.hidden};
  if (!pnn_nn_align(sizeof(p), &header) || !pnn_nn_float_region(gh, &bias_bytes) ||
      !pnn_nn_float_region(p.hidden, &h_bias_bytes) || !rnn_scratch(&p, &node->scratch_bytes)) {
    goto too_large;
  }
  block = header;
  for (size_t d = 0; d < p.directions; ++d) {
    for (size_t j = 0; j < p.per_dir; ++j) {
      size_t *s = &sizes[d * p.per_dir + j];
      if (!rnn_weight_bytes(pb, k_of[j], n_of[j], s) || !pnn_nn_add(block, *s, &block)) goto too_large;
    }
    if (!pnn_nn_add(block, bias_bytes, &block) || !pnn_nn_add(block, h_bias_bytes, &block)) goto too_large;
  }
  rnn_params *params = malloc(block);
  if (!params) return rnn_error(node, PNN_ERR_OUT_OF_MEMORY, "out of memory", error);
  unsigned char *at = (unsigned char *)params + header;
  const float *w_all = pnn_input_tensor(model, node, 1)->data;
  const float *r_all = pnn_input_tensor(model, node, 2)->data;
  const pnn_tensor *b_t = pnn_input_tensor(model, node, 3);
  for (size_t d = 0; d < p.directions; ++d) {
    const float *w = w_all + d * gh * p.input, *r = r_all + d * gh * p.hidden;
    const float *src[3] = {w, r, r + 2 * p.hidden * p.hidden};
    for (size_t j = 0; j < p.per_dir; ++j) {
      rnn_pack(pb, src[j], k_of[j], n_of[j], at, &p.weight[d * p.per_dir + j]);
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
    rnn_matmul(p, &w[0], p->seq * p->batch, x, p->input, xw, gh, p->x_bias[d]);
    if (h0) memcpy(h, h0 + d * state, state * sizeof(float)); else memset(h, 0, state * sizeof(float));
    if (c0) memcpy(c, c0 + d * state, state * sizeof(float)); else memset(c, 0, state * sizeof(float));
    for (size_t step = 0; step < p->seq; ++step) {
      const size_t t = (d == 1 || p->reverse) ? p->seq - 1 - step : step;
      const float *xw_t = xw + t * p->batch * gh;
      if (p->gru) {
        gru_step(p, &w[1], &w[2], p->h_bias[d], xw_t, hr, h, tmp);
      } else {
        rnn_matmul(p, &w[1], p->batch, h, hid, hr, gh, NULL);
        lstm_step(p, xw_t, hr, h, c, tmp);
      }
      if (y) memcpy(y + (t * p->directions + d) * state, h, state * sizeof(float));
    }
    if (y_h) memcpy(y_h + d * state, h, state * sizeof(float));
    if (y_c) memcpy(y_c + d * state, c, state * sizeof(float));
  }
}
