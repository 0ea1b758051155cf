/* BConv2d (op code 120) and BGemm (121): binary convolution and dense layer on the b1
 * kernels (kernels_c/include/pnn_kernels_b1.h; docs/OPS.md "Binary operators").
 *
 * Input X is f32 (NCHW for BConv2d, [N, K] for BGemm), packed to sign bits at run, or a
 * bit-packed b1 value from a previous binary layer (pixel-major: [N, H, W, 64 * words]
 * or [N, 64 * words]). W is a b1 constant, one row per output channel: [M, kh, kw, 64 *
 * words(C / group)] (BGemm: [M, 64 * words(K)]), the bits past the real channels 0.
 * The output is f32 (multiplier and bias inputs, a fused Relu / Clip as the clamp) or
 * b1 (threshold s32 and negate bool inputs) for a following binary layer.
 *
 * Per thread scratch: the packed input (read by every task, written by thread 0 before
 * the tasks start, so only thread 0's copy is used) then the kernel's own scratch.
 * Tasks are (group, block of 64 output channels): a block never splits an output word.
 *
 * MST: at load, a layer without groups whose weights let the tree-delta kernel touch at
 * most 30% of the words (BCONV_MST_TOUCHED_*; bconv_mst.h, docs/BINARY.md) keeps a plan in its
 * params; a single-threaded run then takes the tree-delta path (one task: the tree
 * crosses the 64-channel blocks), which gives the same bits. The optional attribute mst
 * (the converter's measured choice) overrides that rule: 0 never builds a plan, 1 builds
 * one whenever it is valid and affordable. */
#include <math.h>
#include <stdlib.h>

#include "bconv_mst.h"
#include "nn_common.h"

#define BCONV_BLOCK ((size_t)64)
/* Measured crossover (docs/BINARY.md): at 30% of the words touched the tree-delta kernel
 * is 0.82x (AVX-512) / 0.70x (AVX2) of the plain one, at 50% about even. */
#define BCONV_MST_TOUCHED_NUM 3
#define BCONV_MST_TOUCHED_DEN 10
/* Word comparisons the load may spend on the tree (about 2^26: tens of ms at most). */
#define BCONV_MST_MAX_COMPARES ((size_t)1 << 26)
/* Rows whose nearest neighbours estimate the tree's cost before it is built. */
#define BCONV_MST_SAMPLES 16

typedef struct bconv_params {
  const pnn_b1_gemm_kernel *kernel;
  pnn_b1_pack_fn pack; /* float input to bits */
  bool conv, x_bits, y_bits;
  enum pnn_b1_padding padding;
  pnn_conv2d_geometry geom;   /* one group; BGemm: 1x1 over `rows` pixels */
  size_t batch, groups;
  size_t channels;            /* real input channels of a group (BGemm: K) */
  size_t out_c, out_c_group;  /* M, M / groups */
  size_t x_words;             /* pnn_b1_words(channels) */
  size_t ldx;                 /* words per pixel of the input the kernel reads */
  size_t in_pixels, out_pixels; /* per image (BGemm: rows of X and Y) */
  size_t y_words;             /* b1 output: words per output pixel */
  size_t w_row_words;         /* taps * x_words */
  size_t pack_bytes;          /* scratch: the packed input of one image */
  size_t blocks;              /* 64-channel blocks per group */
  const uint64_t *w;
  const int32_t *tap_pop;     /* inside this block: [M][taps] */
  const float *multiplier, *bias;
  float lo, hi;
  const int32_t *threshold;
  const uint64_t *negate;     /* inside this block: words(M) words */
  bool mst;                   /* plan holds a tree-delta plan (arrays inside this block) */
  pnn_b1_mst_plan plan;
} bconv_params;

static const char *bconv_op_name(const pnn_node *node) {
  return node->op == PNN_OP_BCONV2D ? "BConv2d" : "BGemm";
}

static int popcount64(uint64_t v) {
  int n = 0;
  for (; v; v &= v - 1) ++n;
  return n;
}

/* A b1 word row read from a constant's bytes (little-endian, no alignment assumed). */
static uint64_t load_word(const uint8_t *bytes) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | bytes[i];
  return v;
}

/* The shared attribute readers name the node only: add the op to their message. */
static pnn_status name_op(const pnn_node *node, pnn_status st, pnn_error *error) {
  if (st == PNN_OK || error == NULL || strstr(error->message, bconv_op_name(node)) != NULL) return st;
  char message[sizeof error->message];
  memcpy(message, error->message, sizeof message);
  message[sizeof message - 1] = '\0';
  return pnn_set_error(error, st, "%s (%s)", message, bconv_op_name(node));
}

/* A constant of the given dtype and shape [count] (or [1, count] accepted for none). */
static pnn_status check_vector(const pnn_node *node, const pnn_tensor *t, const char *what,
                               uint8_t dtype, size_t count, pnn_error *error) {
  if (!t || t->kind != PNN_TENSOR_CONSTANT || t->encoding != PNN_ENCODING_DENSE || t->dtype != dtype ||
      t->rank != 1 || (size_t)t->dims[0] != count) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (%s): %s must be a dense %s constant of shape [%zu]",
                         node->name, bconv_op_name(node), what, pnn_dtype_name(dtype), count);
  }
  return PNN_OK;
}

/* The layout checks of the input X; fills channels-derived fields of p. */
static pnn_status check_input(const pnn_model *model, const pnn_node *node, const pnn_tensor *x,
                              int64_t channels, bconv_params *p, int64_t *h, int64_t *w, pnn_error *error) {
  const char *op = bconv_op_name(node);
  const int rank = p->conv ? 4 : 2;
  pnn_status st = pnn_nn_check_dims(node, x, "X", error);
  if (st != PNN_OK) return st;
  if (x->rank != rank || (x->dtype != PNN_DTYPE_F32 && x->dtype != PNN_DTYPE_B1)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): X must be f32 or b1 of rank %d", node->name, op,
                         rank);
  }
  p->x_bits = x->dtype == PNN_DTYPE_B1;
  p->batch = (size_t)x->dims[0];
  if (!p->x_bits) {
    if (x->dims[1] != channels) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): X has %lld channels, attribute channels is %lld",
                           node->name, op, (long long)x->dims[1], (long long)channels);
    }
    *h = p->conv ? x->dims[2] : 1;
    *w = p->conv ? x->dims[3] : 1;
    p->ldx = p->x_words;
    return PNN_OK;
  }
  /* Bit-packed X comes only from another binary layer, whose padding bits are 0. */
  const int32_t producer = model->tensors[node->inputs[0]].producer;
  if (producer < 0 || (model->nodes[producer].op != PNN_OP_BCONV2D && model->nodes[producer].op != PNN_OP_BGEMM)) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): a b1 X must be the output of BConv2d or BGemm",
                         node->name, op);
  }
  const size_t total_words = pnn_b1_words((size_t)channels);
  if ((size_t)x->dims[rank - 1] != total_words * 64) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): b1 X must have %zu bits per pixel", node->name, op,
                         total_words * 64);
  }
  if (p->groups > 1 && p->channels % 64 != 0) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                         "node \"%s\" (%s): with groups, a b1 X needs a multiple of 64 channels per group", node->name, op);
  }
  *h = p->conv ? x->dims[1] : 1;
  *w = p->conv ? x->dims[2] : 1;
  p->ldx = total_words;
  return PNN_OK;
}

/* The conv geometry from attributes (BConv2d) or a 1x1 geometry (BGemm). */
static pnn_status read_geometry(const pnn_node *node, const pnn_tensor *wt, int64_t h, int64_t w, bconv_params *p,
                                int64_t out[2], pnn_error *error) {
  const int64_t ones[2] = {1, 1}, zeros[4] = {0, 0, 0, 0};
  int64_t strides[2] = {1, 1}, dilations[2] = {1, 1}, pads[4] = {0, 0, 0, 0};
  const int64_t kernel[2] = {p->conv ? wt->dims[1] : 1, p->conv ? wt->dims[2] : 1};
  pnn_status st;
  if (p->conv && ((st = pnn_nn_attr_spatial(node, "strides", 2, false, 1, ones, 1, strides, error)) != PNN_OK ||
                  (st = pnn_nn_attr_spatial(node, "dilations", 2, false, 1, ones, 1, dilations, error)) != PNN_OK ||
                  (st = pnn_nn_attr_spatial(node, "pads", 4, false, 0, zeros, 0, pads, error)) != PNN_OK)) {
    return st;
  }
  const int64_t size[2] = {h, w};
  for (int d = 0; d < 2; ++d) {
    if (kernel[d] > PNN_NN_MAX_ATTR) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): kernel too large", node->name, bconv_op_name(node));
    }
    const int64_t extent = size[d] + pads[d] + pads[d + 2] - (dilations[d] * (kernel[d] - 1) + 1);
    if (extent < 0) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): window larger than the padded input", node->name,
                           bconv_op_name(node));
    }
    out[d] = extent / strides[d] + 1;
  }
  p->geom = pnn_nn_conv_geometry(p->channels, h, w, out[0], out[1], kernel[0], kernel[1], strides, dilations, pads);
  return PNN_OK;
}

/* W: a dense b1 constant with rows of taps x words; its padding bits must be 0. Fills
 * tap_pop (M x taps). */
static pnn_status check_weights(const pnn_node *node, const pnn_tensor *wt, const bconv_params *p, int32_t *tap_pop,
                                pnn_error *error) {
  const uint8_t *bytes = wt->data;
  const size_t taps = p->geom.kernel_h * p->geom.kernel_w, tail = p->channels % 64;
  const uint64_t pad_mask = tail ? ~((UINT64_C(1) << tail) - 1) : 0;
  for (size_t m = 0; m < p->out_c; ++m) {
    for (size_t t = 0; t < taps; ++t) {
      int32_t pop = 0;
      for (size_t k = 0; k < p->x_words; ++k) {
        const uint64_t word = load_word(bytes + ((m * taps + t) * p->x_words + k) * 8);
        if (k == p->x_words - 1 && (word & pad_mask) != 0) {
          return pnn_set_error(error, PNN_ERR_FORMAT,
                               "node \"%s\" (%s): W row %zu has bits set past the %zu channels", node->name,
                               bconv_op_name(node), m, p->channels);
        }
        pop += popcount64(word);
      }
      tap_pop[m * taps + t] = pop;
    }
  }
  return PNN_OK;
}

/* Output: f32 [N, M, oh, ow] / [N, M], or b1 [N, oh, ow, 64 words(M)] / [N, 64 words(M)]. */
static pnn_status check_output(const pnn_model *model, const pnn_node *node, bconv_params *p, const int64_t out[2],
                               pnn_error *error) {
  const pnn_tensor *y = pnn_output_tensor(model, node, 0);
  p->y_bits = y->dtype == PNN_DTYPE_B1;
  if (y->dtype != PNN_DTYPE_F32 && !p->y_bits) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): Y must be f32 or b1", node->name,
                         bconv_op_name(node));
  }
  p->y_words = pnn_b1_words(p->out_c);
  if (p->y_bits && p->groups > 1 && p->out_c_group % 64 != 0) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                         "node \"%s\" (%s): with groups, a b1 Y needs a multiple of 64 output channels per group",
                         node->name, bconv_op_name(node));
  }
  const int64_t n = (int64_t)p->batch, m = (int64_t)p->out_c, bits = (int64_t)(p->y_words * 64);
  if (p->conv) {
    const int64_t f32_dims[4] = {n, m, out[0], out[1]}, b1_dims[4] = {n, out[0], out[1], bits};
    return pnn_check_output_shape(model, node, 0, 4, p->y_bits ? b1_dims : f32_dims, error);
  }
  const int64_t dims[2] = {n, p->y_bits ? bits : m};
  return pnn_check_output_shape(model, node, 0, 2, dims, error);
}

/* The clamp of the float output from the fused activation: none, Relu or Clip. */
static pnn_status read_clamp(const pnn_node *node, bconv_params *p, pnn_error *error) {
  pnn_activation act;
  pnn_status st = pnn_nn_attr_act(node, &act, error);
  if (st != PNN_OK) return st;
  p->lo = -INFINITY;
  p->hi = INFINITY;
  if (act.kind == PNN_ACT_RELU) {
    p->lo = 0.0f;
  } else if (act.kind == PNN_ACT_CLIP) {
    p->lo = act.alpha;
    p->hi = act.beta;
  } else if (act.kind != PNN_ACT_NONE) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): fused activation %d (only Relu and Clip)",
                         node->name, bconv_op_name(node), act.kind);
  }
  if (p->y_bits && act.kind != PNN_ACT_NONE) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): a b1 Y takes no fused activation",
                         node->name, bconv_op_name(node));
  }
  return PNN_OK;
}

/* Inputs 2 and 3: multiplier and bias (f32 Y) or threshold and negate (b1 Y). Copies
 * negate into packed words at `negate`. */
static pnn_status read_transform(const pnn_model *model, const pnn_node *node, bconv_params *p, uint64_t *negate,
                                 pnn_error *error) {
  const pnn_tensor *a = pnn_input_tensor(model, node, 2), *b = pnn_input_tensor(model, node, 3);
  pnn_status st;
  if (!p->y_bits) {
    if ((st = check_vector(node, a, "multiplier", PNN_DTYPE_F32, p->out_c, error)) != PNN_OK ||
        (st = check_vector(node, b, "bias", PNN_DTYPE_F32, p->out_c, error)) != PNN_OK) {
      return st;
    }
    p->multiplier = a->data;
    p->bias = b->data;
    return PNN_OK;
  }
  if ((st = check_vector(node, a, "threshold", PNN_DTYPE_S32, p->out_c, error)) != PNN_OK ||
      (st = check_vector(node, b, "negate", PNN_DTYPE_BOOL, p->out_c, error)) != PNN_OK) {
    return st;
  }
  p->threshold = a->data;
  const uint8_t *flags = b->data;
  memset(negate, 0, p->y_words * sizeof(uint64_t));
  for (size_t m = 0; m < p->out_c; ++m) {
    if (flags[m]) negate[m / 64] |= UINT64_C(1) << (m % 64);
  }
  return PNN_OK;
}

/* Sizes of the params block (header, tap_pop, negate) and of the scratch. */
static bool bconv_sizes(bconv_params *p, size_t *header, size_t *pop_bytes, size_t *block, size_t *scratch) {
  size_t taps, count, raw, kernel_bytes;
  if (!pnn_nn_mul(p->geom.kernel_h, p->geom.kernel_w, &taps) || !pnn_nn_mul(taps, p->x_words, &p->w_row_words) ||
      !pnn_nn_mul(p->out_c, taps, &count) || !pnn_nn_mul(count, sizeof(int32_t), &raw) ||
      !pnn_nn_align(raw, pop_bytes) || !pnn_nn_align(sizeof(bconv_params), header) ||
      !pnn_nn_add(*header, *pop_bytes, block) || !pnn_nn_add(*block, p->y_words * sizeof(uint64_t), block)) {
    return false;
  }
  /* |dot| <= taps * channels must stay far inside int32 (pnn_kernels_b1.h: < 2^29). */
  if (!pnn_nn_mul(taps, p->channels, &count) || count >= ((size_t)1 << 29)) return false;
  p->pack_bytes = 0;
  if (!p->x_bits) {
    if (!pnn_nn_mul(p->in_pixels, p->x_words, &count) || !pnn_nn_mul(count, p->groups, &count) ||
        !pnn_nn_mul(count, sizeof(uint64_t), &raw) || !pnn_nn_align(raw, &p->pack_bytes)) {
      return false;
    }
  }
  kernel_bytes = p->conv ? p->kernel->conv_scratch_size(&p->geom) : p->kernel->gemm_scratch_size(p->x_words);
  return pnn_nn_align(kernel_bytes, &raw) && pnn_nn_add(p->pack_bytes, raw, scratch);
}

/* The attribute mst: the converter's choice (BCONV_MST_*), BCONV_MST_RULE when absent. */
enum { BCONV_MST_PLAIN = 0, BCONV_MST_TREE = 1, BCONV_MST_RULE = 2 };

static pnn_status read_mst_choice(const pnn_node *node, int64_t *choice, pnn_error *error) {
  *choice = BCONV_MST_RULE;
  if (pnn_node_attr(node, "mst") == NULL) return PNN_OK;
  return pnn_nn_attr_int_range(node, "mst", BCONV_MST_RULE, BCONV_MST_PLAIN, BCONV_MST_TREE, choice, error);
}

/* Builds the layer's tree-delta plan when `choice` asks for it, or by the rule at the top
 * of the file: grows the params block (*base, `block` bytes so far) by the plan's arrays
 * and the scratch to the tree-delta kernel's. Frees *base on failure. */
static pnn_status attach_mst_plan(const pnn_node *node, int64_t choice, bconv_params *p, unsigned char **base,
                                  size_t block, size_t *scratch, pnn_error *error) {
  const size_t M = p->out_c, kw = p->w_row_words;
  const bool by_rule = choice == BCONV_MST_RULE;
  if (choice == BCONV_MST_PLAIN || p->groups != 1 || !bconv_mst_affordable(M, kw, BCONV_MST_MAX_COMPARES) ||
      (by_rule && bconv_mst_estimated_touched(M, kw, p->w, BCONV_MST_SAMPLES) * BCONV_MST_TOUCHED_DEN >
                      (double)kw * BCONV_MST_TOUCHED_NUM)) {
    return PNN_OK; /* trained weights: every word differs, so skip the build (most layers) */
  }
  bconv_mst_forest forest;
  if (bconv_mst_forest_build(M, kw, p->w, &forest) != 0) {
    free(*base);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (%s): out of memory", node->name,
                         bconv_op_name(node));
  }
  /* M * kw is small here (affordable), so none of these sizes overflows. 32-bit arrays:
   * order, parent, bits (M each), begin (M + 1), word (deltas); then 64-bit masks. */
  const size_t deltas = forest.touched - forest.roots * kw;
  const size_t words32 = 4 * M + 1 + deltas, plan_bytes = (words32 + 1) / 2 * 8 + deltas * 8;
  const size_t mst_kernel = p->conv ? p->kernel->mst_conv_scratch_size(&p->geom, M)
                                    : p->kernel->mst_gemm_scratch_size(p->x_words, M);
  size_t mst_scratch = 0;
  if ((by_rule && forest.touched * BCONV_MST_TOUCHED_DEN > M * kw * BCONV_MST_TOUCHED_NUM) ||
      !pnn_nn_align(mst_kernel, &mst_scratch) || !pnn_nn_add(p->pack_bytes, mst_scratch, &mst_scratch)) {
    bconv_mst_forest_free(&forest);
    return PNN_OK;
  }
  unsigned char *grown = realloc(*base, block + plan_bytes);
  if (!grown) {
    bconv_mst_forest_free(&forest);
    free(*base);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (%s): out of memory", node->name,
                         bconv_op_name(node));
  }
  *base = grown;
  /* block is a multiple of 8 (pnn_nn_align): the masks first, then the 32-bit arrays. */
  uint64_t *mask = (uint64_t *)(grown + block);
  uint32_t *order = (uint32_t *)(mask + deltas), *parent = order + M, *begin = parent + M, *word = begin + M + 1;
  int32_t *bits = (int32_t *)(word + deltas);
  bconv_mst_plan_fill(M, kw, p->w, &forest, order, parent, bits, begin, word, mask, &p->plan);
  bconv_mst_forest_free(&forest);
  p->mst = true;
  if (mst_scratch > *scratch) *scratch = mst_scratch;
  return PNN_OK;
}

pnn_status pnn_op_bconv_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  const char *op = bconv_op_name(node);
  pnn_status st = pnn_check_io(model, node, 4, 4, 1, 1, true, error);
  if (st != PNN_OK) return name_op(node, st, error);
  bconv_params p;
  memset(&p, 0, sizeof p);
  p.conv = node->op == PNN_OP_BCONV2D;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0), *wt = pnn_input_tensor(model, node, 1);
  int64_t groups = 1, channels = 0, padding = 0, mst = BCONV_MST_RULE;
  if ((st = pnn_nn_attr_int_range(node, "group", 1, 1, PNN_NN_MAX_ATTR, &groups, error)) != PNN_OK ||
      (st = read_mst_choice(node, &mst, error)) != PNN_OK ||
      (st = pnn_nn_attr_int_range(node, "channels", 0, 1, PNN_NN_MAX_ATTR, &channels, error)) != PNN_OK ||
      (st = pnn_nn_attr_int_range(node, "padding", 0, PNN_B1_PAD_ZERO, PNN_B1_PAD_ONE, &padding, error)) != PNN_OK) {
    return name_op(node, st, error);
  }
  if (!p.conv && groups != 1) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (BGemm): group must be 1", node->name);
  }
  const int w_rank = p.conv ? 4 : 2;
  if (wt->kind != PNN_TENSOR_CONSTANT || wt->encoding != PNN_ENCODING_DENSE || wt->dtype != PNN_DTYPE_B1 ||
      wt->rank != w_rank || (st = pnn_nn_check_dims(node, wt, "W", error)) != PNN_OK) {
    return st != PNN_OK ? name_op(node, st, error)
                        : pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (%s): W must be a dense b1 constant of rank %d",
                                        node->name, op, w_rank);
  }
  p.groups = (size_t)groups;
  p.out_c = (size_t)wt->dims[0];
  if (channels % groups != 0 || p.out_c % p.groups != 0) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): group %lld must divide channels %lld and M %zu",
                         node->name, op, (long long)groups, (long long)channels, p.out_c);
  }
  p.channels = (size_t)(channels / groups);
  p.out_c_group = p.out_c / p.groups;
  p.x_words = pnn_b1_words(p.channels);
  if ((size_t)wt->dims[w_rank - 1] != p.x_words * 64) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): W rows must hold %zu bits per tap", node->name, op,
                         p.x_words * 64);
  }
  p.padding = padding == PNN_B1_PAD_ONE ? PNN_B1_PAD_ONE : PNN_B1_PAD_ZERO;
  int64_t h = 1, w = 1, out[2] = {1, 1};
  if ((st = check_input(model, node, x, channels, &p, &h, &w, error)) != PNN_OK ||
      (st = read_geometry(node, wt, h, w, &p, out, error)) != PNN_OK ||
      (st = check_output(model, node, &p, out, error)) != PNN_OK || (st = read_clamp(node, &p, error)) != PNN_OK) {
    return name_op(node, st, error);
  }
  if (!p.conv) p.geom.channels = p.channels;
  p.in_pixels = p.conv ? (size_t)(h * w) : p.batch;
  p.out_pixels = p.conv ? p.geom.out_h * p.geom.out_w : p.batch;
  p.kernel = pnn_b1_gemm_select(&model->cpu);
  p.pack = pnn_b1_pack_select(&model->cpu);
  p.blocks = pnn_nn_div_up(p.out_c_group, BCONV_BLOCK);
  size_t header, pop_bytes, block, scratch;
  if (!bconv_sizes(&p, &header, &pop_bytes, &block, &scratch)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): operands too large", node->name, op);
  }
  unsigned char *base = malloc(block);
  if (!base) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (%s): out of memory", node->name, op);
  int32_t *tap_pop = (int32_t *)(base + header);
  uint64_t *negate = (uint64_t *)(base + header + pop_bytes);
  if ((st = check_weights(node, wt, &p, tap_pop, error)) != PNN_OK ||
      (st = read_transform(model, node, &p, negate, error)) != PNN_OK) {
    free(base);
    return st;
  }
  p.w = wt->data;
  if ((st = attach_mst_plan(node, mst, &p, &base, block, &scratch, error)) != PNN_OK) return st;
  p.tap_pop = (const int32_t *)(base + header);
  p.negate = (const uint64_t *)(base + header + pop_bytes);
  memcpy(base, &p, sizeof p);
  node->params = base;
  node->scratch_bytes = scratch;
  node->kernel = p.mst ? p.kernel->mst_name : p.kernel->name;
  return PNN_OK;
}

/* One image (BConv2d) or the whole batch (BGemm). */
typedef struct bconv_job {
  const bconv_params *p;
  const pnn_run_context *ctx;
  const uint64_t *x; /* packed input of this image */
  float *y;          /* this image's f32 output, or NULL */
  uint64_t *bits;    /* this image's b1 output, or NULL */
  size_t chunk;      /* output channels a task runs: a multiple of BCONV_BLOCK */
  size_t chunks;     /* tasks a group: ceil(out_c_group / chunk) */
} bconv_job;

/* The output transform of the channels from m0 on (a group's first). */
static pnn_b1_output bconv_output(const bconv_job *job, size_t m0) {
  const bconv_params *p = job->p;
  pnn_b1_output out;
  memset(&out, 0, sizeof out);
  if (job->y) {
    out.y = job->y + m0 * (p->conv ? p->out_pixels : 1);
    out.y_stride_m = p->conv ? p->out_pixels : 1;
    out.y_stride_n = p->conv ? 1 : p->out_c;
    out.multiplier = p->multiplier + m0;
    out.bias = p->bias + m0;
    out.lo = p->lo;
    out.hi = p->hi;
  } else {
    out.bits = job->bits + m0 / 64;
    out.ld_bits = p->y_words;
    out.threshold = p->threshold + m0;
    out.negate = p->negate + m0 / 64;
  }
  return out;
}

static void bconv_task(void *context, size_t task, size_t thread) {
  const bconv_job *job = context;
  const bconv_params *p = job->p;
  const size_t group = task / job->chunks, m_begin = (task % job->chunks) * job->chunk;
  const size_t m_end = m_begin + job->chunk < p->out_c_group ? m_begin + job->chunk : p->out_c_group;
  const size_t m0 = group * p->out_c_group;
  const pnn_b1_output out = bconv_output(job, m0);
  /* Packed by this op: groups apart; bit-packed input: a group starts on a word. */
  const uint64_t *x = job->x + group * (p->x_bits ? p->x_words : p->in_pixels * p->x_words);
  const uint64_t *w = p->w + m0 * p->w_row_words;
  void *scratch = (uint8_t *)pnn_nn_thread_scratch(job->ctx, thread) + p->pack_bytes;
  if (p->conv) {
    const size_t taps = p->geom.kernel_h * p->geom.kernel_w;
    p->kernel->conv(&p->geom, p->padding, p->out_c_group, m_begin, m_end, w, p->tap_pop + m0 * taps, x, p->ldx,
                    &out, scratch);
  } else {
    p->kernel->gemm(p->out_c_group, p->batch, p->x_words, p->channels, m_begin, m_end, w, x, p->ldx, &out, scratch);
  }
}

/* The whole layer (one group) through the tree-delta plan, on thread 0. */
static void bconv_tree_delta(const bconv_job *job) {
  const bconv_params *p = job->p;
  const pnn_b1_output out = bconv_output(job, 0);
  void *scratch = (uint8_t *)pnn_nn_thread_scratch(job->ctx, 0) + p->pack_bytes;
  if (p->conv) {
    p->kernel->mst_conv(&p->geom, p->padding, p->out_c, p->w, p->tap_pop, &p->plan, job->x, p->ldx, &out, scratch);
  } else {
    p->kernel->mst_gemm(p->out_c, p->batch, p->x_words, p->channels, p->w, &p->plan, job->x, p->ldx, &out, scratch);
  }
}

void pnn_op_bconv_run(const pnn_model *model, const pnn_node *node, const void *const *in, void *const *out,
                      const pnn_run_context *ctx) {
  (void)model;
  const bconv_params *p = node->params;
  bconv_job job = {p, ctx, NULL, NULL, NULL, 0, 0};
  const size_t images = p->conv ? p->batch : 1;
  /* As few channel chunks as there are threads: each task builds every pixel block's
   * im2col panel once for all of its channels (with 64-channel tasks a 256-channel layer
   * built each panel 4 times on one thread). */
  const size_t threads = pnn_threadpool_size(ctx->pool);
  job.chunk = pnn_nn_split_units(threads, 1, p->blocks, 1).step * BCONV_BLOCK;
  job.chunks = pnn_nn_div_up(p->out_c_group, job.chunk);
  const size_t in_c = p->channels * p->groups;
  for (size_t b = 0; b < images; ++b) {
    if (p->x_bits) {
      job.x = (const uint64_t *)in[0] + b * p->in_pixels * p->ldx;
    } else {
      uint64_t *packed = ctx->scratch;
      const float *x = (const float *)in[0] + b * in_c * p->in_pixels;
      for (size_t g = 0; g < p->groups; ++g) {
        const float *xg = x + g * p->channels * (p->conv ? p->in_pixels : 1);
        /* NCHW: a channel's pixels are contiguous; [N, K]: a row's channels are. */
        p->pack(p->channels, p->in_pixels, xg, p->conv ? p->in_pixels : 1, p->conv ? 1 : in_c,
                           packed + g * p->in_pixels * p->x_words, p->x_words);
      }
      job.x = packed;
    }
    if (p->y_bits) {
      job.bits = (uint64_t *)out[0] + b * p->out_pixels * p->y_words;
    } else {
      job.y = (float *)out[0] + b * p->out_c * p->out_pixels;
    }
    if (p->mst && threads == 1) {
      bconv_tree_delta(&job);
    } else {
      pnn_parallel_for(ctx->pool, p->groups * job.chunks, bconv_task, &job);
    }
  }
}
