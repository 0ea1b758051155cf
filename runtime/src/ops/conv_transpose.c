/* ConvTranspose (op code 2): transposed 2-D convolution (rank-3 inputs run as H = 1).
 *
 * Per batch and group: cols [M/g*kh*kw, H*W] = W_g^T x X_g by GEMM, then col2im
 * scatters the columns into the output (initialised with the bias), then the fused
 * activation. W_g^T is packed once at prepare when W is a constant, else transposed
 * into scratch at every run. */
#include <stdlib.h>

#include "nn_common.h"

typedef struct conv_transpose_params {
  size_t batch, groups;
  size_t in_c, out_c, in_c_group, out_c_group;
  size_t in_h, in_w, out_h, out_w;
  pnn_conv2d_geometry geom;  /* the forward conv: image = output, grid = input */
  pnn_activation act;
  pnn_f32_gemm_fn gemm;
  const float *packed_wt;    /* [group][M/g*kh*kw][C/g] inside this block, or NULL */
  size_t wt_scratch_offset;  /* where run transposes W when not packed */
} conv_transpose_params;

/* wt[g][r][c] = w[g*Cg + c][r] for the group-major transposed weights. */
static void transpose_group_weights(const float *w, size_t groups, size_t in_c_group,
                                    size_t rows, float *wt) {
  for (size_t grp = 0; grp < groups; ++grp) {
    const float *wg = w + grp * in_c_group * rows;
    float *wtg = wt + grp * rows * in_c_group;
    for (size_t c = 0; c < in_c_group; ++c) {
      for (size_t r = 0; r < rows; ++r) wtg[r * in_c_group + c] = wg[c * rows + r];
    }
  }
}

pnn_status pnn_op_conv_transpose_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 2, 3, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  const pnn_tensor *w = pnn_input_tensor(model, node, 1);
  const pnn_tensor *b = pnn_input_tensor(model, node, 2);

  if (x->rank != 3 && x->rank != 4) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (ConvTranspose): X must have rank 3 or 4, not %d",
                         node->name, x->rank);
  }
  if (w->rank != x->rank) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (ConvTranspose): W has rank %d, X rank %d",
                         node->name, w->rank, x->rank);
  }
  if ((st = pnn_nn_check_dims(node, x, "X", error)) != PNN_OK) return st;
  if ((st = pnn_nn_check_dims(node, w, "W", error)) != PNN_OK) return st;
  const bool one_d = x->rank == 3;

  int64_t group = 1;
  int64_t strides[2], dilations[2], pads[4], output_padding[2];
  static const int64_t ones[2] = {1, 1}, zeros[4] = {0, 0, 0, 0};
  pnn_activation act;
  if ((st = pnn_nn_attr_int_range(node, "group", 1, 1, PNN_NN_MAX_ATTR, &group, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "strides", 2, one_d, 1, ones, 1, strides, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "dilations", 2, one_d, 1, ones, 1, dilations, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "pads", 4, one_d, 0, zeros, 0, pads, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "output_padding", 2, one_d, 0, zeros, 0, output_padding,
                                error)) != PNN_OK ||
      (st = pnn_nn_attr_act(node, &act, error)) != PNN_OK) {
    return st;
  }

  const int64_t n = x->dims[0], c = x->dims[1];
  const int64_t h = one_d ? 1 : x->dims[2], wd = x->dims[x->rank - 1];
  const int64_t m_group = w->dims[1];
  const int64_t kh = one_d ? 1 : w->dims[2], kw = w->dims[w->rank - 1];
  if (c % group != 0) {
    return pnn_set_error(error, PNN_ERR_SHAPE,
                         "node \"%s\" (ConvTranspose): channels (%lld) must be divisible by group %lld",
                         node->name, (long long)c, (long long)group);
  }
  if (w->dims[0] != c) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (ConvTranspose): W has %lld input channels, X %lld",
                         node->name, (long long)w->dims[0], (long long)c);
  }
  if (kh > PNN_NN_MAX_ATTR || kw > PNN_NN_MAX_ATTR || m_group > PNN_NN_MAX_ATTR) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (ConvTranspose): W too large", node->name);
  }
  const int64_t m = m_group * group;
  if (b && (b->rank != 1 || b->dims[0] != m)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (ConvTranspose): B must have shape [%lld]",
                         node->name, (long long)m);
  }

  /* Bounded attributes and dims keep these int64 expressions exact. */
  const int64_t oh = strides[0] * (h - 1) + output_padding[0] + dilations[0] * (kh - 1) + 1 -
                     pads[0] - pads[2];
  const int64_t ow = strides[1] * (wd - 1) + output_padding[1] + dilations[1] * (kw - 1) + 1 -
                     pads[1] - pads[3];
  if (oh < 1 || ow < 1) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (ConvTranspose): empty output", node->name);
  }
  if (one_d && oh != 1) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (ConvTranspose): rank-3 input must keep H = 1",
                         node->name);
  }
  const int64_t out_dims4[4] = {n, m, oh, ow};
  const int64_t out_dims3[3] = {n, m, ow};
  st = pnn_check_output_shape(model, node, 0, x->rank, one_d ? out_dims3 : out_dims4, error);
  if (st != PNN_OK) return st;

  conv_transpose_params p;
  memset(&p, 0, sizeof(p));
  p.batch = (size_t)n;
  p.groups = (size_t)group;
  p.in_c = (size_t)c;
  p.out_c = (size_t)m;
  p.in_c_group = (size_t)(c / group);
  p.out_c_group = (size_t)m_group;
  p.in_h = (size_t)h;
  p.in_w = (size_t)wd;
  p.out_h = (size_t)oh;
  p.out_w = (size_t)ow;
  p.act = act;
  /* The transposed convolution is the adjoint of a convolution from Y's shape to X's. */
  p.geom = pnn_nn_conv_geometry(p.out_c_group, oh, ow, h, wd, kh, kw, strides, dilations, pads);

  const char *isa = "scalar";
  p.gemm = pnn_f32_gemm_select(&model->cpu, &isa);
  node->kernel = PNN_KERNEL_NAME("gemm+col2im", isa);

  /* rows of the column buffer: M/g*kh*kw; its size rows * H*W; weights C*rows. */
  size_t rows, cols_count, cols_bytes, w_count, w_bytes, scratch;
  if (!pnn_nn_mul(p.out_c_group, p.geom.kernel_h, &rows) || !pnn_nn_mul(rows, p.geom.kernel_w, &rows) ||
      !pnn_nn_mul(rows, p.in_h * p.in_w, &cols_count) ||
      !pnn_nn_float_region(cols_count, &cols_bytes) || !pnn_nn_mul(rows, p.in_c, &w_count) ||
      !pnn_nn_float_region(w_count, &w_bytes)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (ConvTranspose): buffers too large", node->name);
  }
  const bool pack = w->kind == PNN_TENSOR_CONSTANT && w->data != NULL;
  size_t header_bytes;
  if (!pnn_nn_align(sizeof(p), &header_bytes) ||
      !pnn_nn_add(header_bytes, pack ? w_bytes : 0, &header_bytes) ||
      !pnn_nn_add(cols_bytes, pack ? 0 : w_bytes, &scratch)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (ConvTranspose): buffers too large", node->name);
  }
  p.wt_scratch_offset = cols_bytes;

  conv_transpose_params *params = malloc(header_bytes);
  if (!params) {
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (ConvTranspose): out of memory", node->name);
  }
  if (pack) {
    size_t offset;
    (void)pnn_nn_align(sizeof(p), &offset);
    float *wt = (float *)((unsigned char *)params + offset);
    transpose_group_weights(w->data, p.groups, p.in_c_group, rows, wt);
    p.packed_wt = wt;
  }
  *params = p;
  node->params = params;
  node->scratch_bytes = scratch;
  return PNN_OK;
}

void pnn_op_conv_transpose_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                               void *const *out, const pnn_run_context *ctx) {
  void *scratch = ctx->scratch;
  (void)model;
  const conv_transpose_params *p = node->params;
  const float *x = in[0];
  const float *bias = node->n_inputs > 2 ? in[2] : NULL;
  float *y = out[0];
  float *cols = scratch;
  const size_t rows = p->out_c_group * p->geom.kernel_h * p->geom.kernel_w;
  const size_t in_hw = p->in_h * p->in_w, out_hw = p->out_h * p->out_w;
  const float *wt = p->packed_wt;
  if (!wt) {
    float *wt_scratch = (float *)((unsigned char *)scratch + p->wt_scratch_offset);
    transpose_group_weights(in[1], p->groups, p->in_c_group, rows, wt_scratch);
    wt = wt_scratch;
  }
  const pnn_activation none = {PNN_ACT_NONE, 0.0f, 0.0f};

  for (size_t b = 0; b < p->batch; ++b) {
    const float *xb = x + b * p->in_c * in_hw;
    float *yb = y + b * p->out_c * out_hw;
    for (size_t oc = 0; oc < p->out_c; ++oc) {
      const float v = bias ? bias[oc] : 0.0f;
      for (size_t i = 0; i < out_hw; ++i) yb[oc * out_hw + i] = v;
    }
    for (size_t grp = 0; grp < p->groups; ++grp) {
      const float *xg = xb + grp * p->in_c_group * in_hw;
      const float *wtg = wt + grp * rows * p->in_c_group;
      p->gemm(rows, in_hw, p->in_c_group, wtg, p->in_c_group, xg, in_hw, cols, in_hw, NULL, NULL,
              none);
      pnn_f32_col2im_add_scalar(&p->geom, cols, yb + grp * p->out_c_group * out_hw);
    }
    if (p->act.kind != PNN_ACT_NONE) {
      for (size_t i = 0; i < p->out_c * out_hw; ++i) yb[i] = pnn_activate(yb[i], p->act);
    }
  }
}
