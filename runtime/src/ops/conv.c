/* Conv (op code 1): 2-D convolution (rank-3 inputs run as H = 1), grouped or
 * depthwise, with fused bias and activation.
 *
 * Paths, chosen at prepare:
 *   dwconv      group == C == M: the depthwise kernel.
 *   gemm-1x1    1x1 kernel, stride 1, no padding: W_g [M/g, C/g] x X_g [C/g, H*W].
 *   im2col+gemm otherwise: X_g unfolded into scratch [C/g*kh*kw, OH*OW], then GEMM.
 * Batches (N > 1) and groups loop around the kernel call. */
#include <stdlib.h>

#include "nn_common.h"

enum conv_path { CONV_PATH_DWCONV = 0, CONV_PATH_GEMM_1X1 = 1, CONV_PATH_IM2COL = 2 };

typedef struct conv_params {
  int path;
  size_t batch, groups;
  size_t in_c, out_c;          /* C, M */
  size_t in_c_group, out_c_group;
  pnn_conv2d_geometry geom;    /* per group (channels = C/group; C for dwconv) */
  pnn_activation act;
  pnn_f32_gemm_fn gemm;
  pnn_f32_dwconv_fn dwconv;
} conv_params;

pnn_status pnn_op_conv_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 2, 3, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  const pnn_tensor *w = pnn_input_tensor(model, node, 1);
  const pnn_tensor *b = pnn_input_tensor(model, node, 2);

  if (x->rank != 3 && x->rank != 4) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): X must have rank 3 or 4, not %d",
                         node->name, x->rank);
  }
  if (w->rank != x->rank) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): W has rank %d, X rank %d", node->name,
                         w->rank, x->rank);
  }
  if ((st = pnn_nn_check_dims(node, x, "X", error)) != PNN_OK) return st;
  if ((st = pnn_nn_check_dims(node, w, "W", error)) != PNN_OK) return st;
  const bool one_d = x->rank == 3;

  int64_t group = 1;
  int64_t strides[2], dilations[2], pads[4];
  static const int64_t ones[2] = {1, 1}, zeros[4] = {0, 0, 0, 0};
  pnn_activation act;
  if ((st = pnn_nn_attr_int_range(node, "group", 1, 1, PNN_NN_MAX_ATTR, &group, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "strides", 2, one_d, 1, ones, 1, strides, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "dilations", 2, one_d, 1, ones, 1, dilations, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "pads", 4, one_d, 0, zeros, 0, pads, error)) != PNN_OK ||
      (st = pnn_nn_attr_act(node, &act, error)) != PNN_OK) {
    return st;
  }

  const int64_t n = x->dims[0], c = x->dims[1];
  const int64_t h = one_d ? 1 : x->dims[2], wd = x->dims[x->rank - 1];
  const int64_t m = w->dims[0], c_group = w->dims[1];
  const int64_t kh = one_d ? 1 : w->dims[2], kw = w->dims[w->rank - 1];
  if (c % group != 0 || m % group != 0) {
    return pnn_set_error(error, PNN_ERR_SHAPE,
                         "node \"%s\" (Conv): channels in (%lld) and out (%lld) must be divisible by group %lld",
                         node->name, (long long)c, (long long)m, (long long)group);
  }
  if (c_group != c / group) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): W has %lld input channels, expected C/group = %lld",
                         node->name, (long long)c_group, (long long)(c / group));
  }
  if (kh > PNN_NN_MAX_ATTR || kw > PNN_NN_MAX_ATTR) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (Conv): kernel too large", node->name);
  }
  if (b && (b->rank != 1 || b->dims[0] != m)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): B must have shape [%lld]", node->name,
                         (long long)m);
  }

  /* Bounded attributes and dims (<= 2^40) keep these int64 expressions exact. */
  const int64_t eff_kh = dilations[0] * (kh - 1) + 1, eff_kw = dilations[1] * (kw - 1) + 1;
  const int64_t padded_h = h + pads[0] + pads[2], padded_w = wd + pads[1] + pads[3];
  if (padded_h < eff_kh || padded_w < eff_kw) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): kernel larger than the padded input",
                         node->name);
  }
  const int64_t oh = (padded_h - eff_kh) / strides[0] + 1;
  const int64_t ow = (padded_w - eff_kw) / strides[1] + 1;
  if (one_d && oh != 1) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): rank-3 conv must keep H = 1", node->name);
  }
  const int64_t out_dims4[4] = {n, m, oh, ow};
  const int64_t out_dims3[3] = {n, m, ow};
  st = pnn_check_output_shape(model, node, 0, x->rank, one_d ? out_dims3 : out_dims4, error);
  if (st != PNN_OK) return st;

  conv_params p;
  memset(&p, 0, sizeof(p));
  p.batch = (size_t)n;
  p.groups = (size_t)group;
  p.in_c = (size_t)c;
  p.out_c = (size_t)m;
  p.in_c_group = (size_t)c_group;
  p.out_c_group = (size_t)(m / group);
  p.act = act;
  p.geom.channels = p.in_c_group;
  p.geom.in_h = (size_t)h;
  p.geom.in_w = (size_t)wd;
  p.geom.out_h = (size_t)oh;
  p.geom.out_w = (size_t)ow;
  p.geom.kernel_h = (size_t)kh;
  p.geom.kernel_w = (size_t)kw;
  p.geom.stride_h = (size_t)strides[0];
  p.geom.stride_w = (size_t)strides[1];
  p.geom.dilation_h = (size_t)dilations[0];
  p.geom.dilation_w = (size_t)dilations[1];
  p.geom.pad_top = (size_t)pads[0];
  p.geom.pad_left = (size_t)pads[1];

  const char *isa = "scalar";
  size_t scratch = 0;
  if (group == c && group == m) {
    p.path = CONV_PATH_DWCONV;
    p.geom.channels = p.in_c;
    p.dwconv = pnn_f32_dwconv_select(&model->cpu, &isa);
    node->kernel = PNN_NN_KERNEL_NAME("dwconv", isa);
  } else if (kh == 1 && kw == 1 && strides[0] == 1 && strides[1] == 1 && pads[0] == 0 &&
             pads[1] == 0 && pads[2] == 0 && pads[3] == 0) {
    p.path = CONV_PATH_GEMM_1X1;
    p.gemm = pnn_f32_gemm_select(&model->cpu, &isa);
    node->kernel = PNN_NN_KERNEL_NAME("gemm-1x1", isa);
  } else {
    p.path = CONV_PATH_IM2COL;
    p.gemm = pnn_f32_gemm_select(&model->cpu, &isa);
    node->kernel = PNN_NN_KERNEL_NAME("im2col+gemm", isa);
    size_t rows, count;
    if (!pnn_nn_mul(p.in_c_group, p.geom.kernel_h, &rows) ||
        !pnn_nn_mul(rows, p.geom.kernel_w, &rows) ||
        !pnn_nn_mul(rows, p.geom.out_h * p.geom.out_w, &count) ||
        !pnn_nn_float_region(count, &scratch)) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): im2col buffer too large", node->name);
    }
  }

  conv_params *params = malloc(sizeof(*params));
  if (!params) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (Conv): out of memory", node->name);
  *params = p;
  node->params = params;
  node->scratch_bytes = scratch;
  return PNN_OK;
}

void pnn_op_conv_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                     void *const *out, const pnn_run_context *ctx) {
  void *scratch = ctx->scratch;
  (void)model;
  const conv_params *p = node->params;
  const float *x = in[0];
  const float *w = in[1];
  const float *bias = node->n_inputs > 2 ? in[2] : NULL;
  float *y = out[0];
  const pnn_conv2d_geometry *g = &p->geom;
  const size_t in_hw = g->in_h * g->in_w, out_hw = g->out_h * g->out_w;
  const size_t taps = g->kernel_h * g->kernel_w;
  const size_t k = p->in_c_group * taps; /* GEMM depth */

  for (size_t b = 0; b < p->batch; ++b) {
    const float *xb = x + b * p->in_c * in_hw;
    float *yb = y + b * p->out_c * out_hw;
    if (p->path == CONV_PATH_DWCONV) {
      p->dwconv(g, xb, w, bias, yb, p->act);
      continue;
    }
    for (size_t grp = 0; grp < p->groups; ++grp) {
      const float *xg = xb + grp * p->in_c_group * in_hw;
      const float *wg = w + grp * p->out_c_group * k;
      const float *bg = bias ? bias + grp * p->out_c_group : NULL;
      float *yg = yb + grp * p->out_c_group * out_hw;
      if (p->path == CONV_PATH_GEMM_1X1) {
        p->gemm(p->out_c_group, out_hw, k, wg, k, xg, in_hw, yg, out_hw, bg, NULL, p->act);
      } else {
        float *cols = scratch;
        pnn_f32_im2col_scalar(g, xg, cols);
        p->gemm(p->out_c_group, out_hw, k, wg, k, cols, out_hw, yg, out_hw, bg, NULL, p->act);
      }
    }
  }
}
