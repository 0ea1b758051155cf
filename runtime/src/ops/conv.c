/* Conv (op code 1): 2-D convolution (rank-3 inputs run as H = 1), grouped or
 * depthwise, with fused bias and activation.
 *
 * Paths, chosen at prepare:
 *   dwconv      group == C == M: the depthwise kernel, channels split across threads.
 *   direct      x86 AVX2 / AVX-512, one group of at most CONV_DIRECT_MAX_C input channels, 3x3
 *               to 7x7 (an image network's first layer): the direct kernel over weights
 *               packed at prepare, tasks of one channel block x CONV_DIRECT_ROWS rows.
 *   winograd    x86 SIMD and wasm SIMD128, 3x3 stride 1 dilation 1, one group, enough tiles:
 *               F(2x2, 3x3) with weights transformed at prepare (kept in params);
 *               per task a block of tiles is transformed into packed GEMM panels,
 *               16 GEMMs run over them and the output transform adds bias and
 *               activation while writing Y.
 *   packed      x86 SIMD, everything else (but fewer than 32 output pixels over a
 *               very deep kernel: im2col+gemm): each task packs a few 32-column panels
 *               of the (implicit) im2col matrix straight from X into its thread's
 *               scratch and runs the packed-panel GEMM W[M, K] x panels. 1x1
 *               stride-1 convs pack by copying rows of X. Where the output pixels
 *               fill 32-column panels poorly but the channels fill 32-lane panels
 *               (7x7 and 14x14 images), the weights are packed in channel panels
 *               and the GEMM puts channels across the lanes (pnn_f32_gemm_pt, AVX2
 *               or AVX-512); a 1x1 stride-1 unpadded one with few output channels
 *               on 14x14 and larger images reads X in place (pnn_f32_gemm_pt_rows,
 *               no panel copy).
 *   gemm-1x1 / im2col+gemm  elsewhere (the selected pnn_f32_gemm variant, NEON or
 *               WASM SIMD): W_g x X_g in place, or X_g unfolded into scratch first
 *               (tasks of input channels), then tasks of CONV_GEMM_COLS-aligned
 *               column chunks, each a GEMM call of its own.
 *   sparse      W stored group-sparse (one group only): SpMM over channel-major X,
 *               pixels across SIMD lanes (1x1 stride 1 unpadded: X in place; else
 *               X unfolded by im2col first). Tasks split the pixels in chunks of
 *               CONV_SPARSE_CHUNK so every pixel is computed alike for any split.
 * Packed, im2col and sparse paths drop kernel taps that only read padding (conv_crop.h).
 * Residual (format 1.13, input 3 R of Y's shape): Winograd's output transform adds R
 * before the activation; the other paths' kernels write Y without the activation, and
 * one pass over all of Y then adds R and applies it (add_residual). Either way the Add
 * op's arithmetic on the conv's f32 output, so the result equals Conv followed by Add.
 * The pass is no faster than the Add op it replaces (adding each tile of R in the task
 * that wrote it ran slower still on Keras ResNet-50: R read in short strided runs); a
 * GEMM epilogue that adds R in registers would make it pay. Y never shares memory with R
 * (the planner never lets a node's output overlap its inputs): the kernels write Y
 * before R is read.
 * Tasks split the output into fixed tiles (batch, group, column chunk, row chunk):
 * every output element is computed by the same sequence of operations whatever the
 * split, so results are identical for any thread count. */
#include <stdlib.h>

#include "conv_crop.h"
#include "ew_common.h"
#include "nn_common.h"

enum conv_path {
  CONV_PATH_DWCONV = 0,
  CONV_PATH_GEMM_1X1 = 1,
  CONV_PATH_IM2COL = 2,
  CONV_PATH_PACKED = 3,
  CONV_PATH_WINOGRAD = 4,
  CONV_PATH_SPARSE = 5,
  CONV_PATH_DIRECT = 6
};

enum {
  CONV_NR = PNN_GEMM_PB_NR,
  CONV_MR = PNN_GEMM_PA_MR,              /* row chunks are multiples of this */
  CONV_PANEL_BUDGET = 1280 * 1024,       /* bytes of packed panels per task (L2: 2 MiB) */
  CONV_WINO_V_BUDGET = 1280 * 1024,      /* bytes of transformed input per task */
  CONV_WINO_M_BUDGET = 256 * 1024,       /* bytes of GEMM output per row sub-chunk */
  /* Floats between consecutive transformed planes of V and M beyond their size: at a
   * stride of a multiple of 4 KiB the 16 planes' stores and loads all fall in one L1
   * set (the AVX2 input transform ran 1.4x slower on 56x56 images). 64 bytes keeps
   * the panels aligned. */
  CONV_WINO_PLANE_PAD = 16,
  /* Winograd task costs (split_winograd) in about half nanoseconds, fitted to the
   * per-task CPU times of ResNet-18's layers on Zen 4 (AVX-512, bench/pool_trace): per
   * GEMM panel x row x input channel; per row x channel of U read by a task; per tile x
   * channel of the input transform; per tile x row of the output transform; per task. */
  WINO_COST_PANEL = 12,
  WINO_COST_U = 7,
  WINO_COST_IN = 8,
  WINO_COST_OUT = 8,
  WINO_COST_TASK = 2000,
  /* The grid search's bounds: threads it simulates, column chunks beyond the fewest
   * per thread, row chunks. */
  WINO_SPLIT_MAX_THREADS = 64,
  WINO_SPLIT_MAX_EXTRA = 4,
  WINO_SPLIT_MAX_ROW_CHUNKS = 4,
  /* Weights of one group above this are packed at prepare: they do not stay in L2, and
   * one sequential stream beats 14 row streams by 15-40% there (measured). Smaller
   * weights are read in place from the file. */
  CONV_PACK_W_BYTES = 512 * 1024,
  /* Pixels per sparse task: a multiple of every SpMM pixel tile, so tails only occur
   * at the end of a row whatever the thread count. */
  CONV_SPARSE_CHUNK = 256,
  /* Up to this many input channels a conv runs direct (GEMM depth <= 4 * 49): the first
   * layer of an image network, where im2col + GEMM tiles are too shallow. */
  CONV_DIRECT_MAX_C = 4,
  CONV_DIRECT_ROWS = 8,   /* output rows per direct task */
  /* Channels across the lanes transpose each tile before storing it: below this depth
   * that costs more than the emptier 32-pixel panels (measured on MobileNet V2's 14x14
   * expansions, K = 64 and 96). */
  CONV_LANES_MIN_K = 128,
  CONV_ROWS_MIN_PIXELS = 128,  /* see x_rows_in_place */
  CONV_ROWS_MAX_CHANNELS = 128,
  CONV_RESIDUAL_CHUNK = 16384,  /* outputs per task of the residual pass */
  /* gemm-1x1 and im2col+gemm tasks split the columns at multiples of this (the column
   * tile of every pnn_f32_gemm variant): each column then lands in the tile position
   * it has in one whole GEMM call, and no chunk is a single column (N == 1 runs the
   * GEMV path, which sums in another order). */
  CONV_GEMM_COLS = 8,
  /* Column chunks (and im2col and depthwise channel chunks) per thread: a few, so that
   * a thread held up elsewhere does not leave the other waiting at the end of the layer. */
  CONV_TASKS_PER_THREAD = 4
};

typedef struct conv_params {
  int path;
  size_t batch, groups;
  size_t in_c, out_c;          /* C, M */
  size_t in_c_group, out_c_group;
  pnn_conv2d_geometry geom;    /* per group (channels = C/group; C for dwconv) */
  pnn_activation act;          /* the kernels' activation: none when a residual is added */
  bool residual;               /* input 3: act(conv + R) with residual_act */
  pnn_activation residual_act;
  bool add_simd;               /* residual: add with add.vv, else the scalar functions */
  pnn_f32_binary_simd add;
  pnn_f32_gemm_fn gemm;
  pnn_f32_dwconv_fn dwconv;
  pnn_f32_gemm_pb_fn gemm_pb;
  pnn_f32_gemm_pp_fn gemm_pp;
  pnn_f32_gemm_pt_fn gemm_pt;  /* packed: channels across the lanes (w_packed in its panels) */
  pnn_f32_gemm_pt_rows_fn gemm_pt_rows; /* packed, channels across the lanes, 1x1 stride 1 unpadded:
                                           the same product reading X's rows in place */
  pnn_f32_im2col_panel_fn pack;
  pnn_f32_wino2_input_fn wino_in;
  pnn_f32_wino2_output_fn wino_out;
  pnn_f32_activate_fn wino_activate; /* winograd: the vector pass of sigmoid/tanh/swish
                                        (wino_out's own is scalar expf); else NULL */
  size_t panels;               /* packed: panels per task; winograd: panels per tile block */
  size_t tiles;                /* winograd: tiles of one image */
  size_t wino_rows;            /* winograd: output channels per GEMM sub-chunk */
  const float *wino_u;         /* winograd: 16 x the [M, C] transformed weights packed in
                                  PNN_GEMM_PA_MR-row panels ([16][Mp][C], Mp = M rounded up
                                  to the panel height), after this struct */
  const float *w_packed;       /* packed: NULL (weights read in place from the file) or
                                  per group the [Mg, K] weights in panels ([groups][Mgp][K]) */
  const float *w_cropped;      /* packed, im2col: NULL, or W's taps that can touch the image
                                  ([M][Cg][kh][kw] of geom), read instead of W */
  size_t wino_fallback_panels; /* winograd: panels per task of the packed fallback */
  pnn_sparse_f32 sparse;       /* sparse: the view of W (arrays in the model buffer) */
  pnn_f32_spmm_fn spmm;
  pnn_f32_conv_direct_fn direct; /* direct: the kernel; weights in w_packed (its layout) */
  bool sparse_direct;          /* sparse: 1x1 stride 1 unpadded, X used in place */
} conv_params;

static size_t round_up_mr(size_t m) { return (m + PNN_GEMM_PA_MR - 1) / PNN_GEMM_PA_MR * PNN_GEMM_PA_MR; }
static size_t round_up_nr(size_t m) { return (m + CONV_NR - 1) / CONV_NR * CONV_NR; }

/* Whether channels across the lanes fill the vectors at least 5% better than pixels
 * do: M / round_up(M) > 1.05 * N / round_up(N), in integers (a 7x7 image fills 32-pixel
 * panels to 77%, 14x14 to 88%, 28x28 to 98%); only small images are considered. */
static bool channel_lanes_pay(size_t channels, size_t pixels) {
  if (pixels > 4096) return false;
  return (uint64_t)channels * round_up_nr(pixels) * 20 > (uint64_t)pixels * round_up_nr(channels) * 21;
}

/* Whether the channel-lane GEMM reads X's rows in place (1x1, stride 1, unpadded: X's
 * channel rows are the GEMM's B rows) instead of copying them into panels. The copy is
 * shared by all channel blocks, so it is skipped only for few output channels: in place,
 * MobileNet V2's 14x14 projections (M 64-96) ran 10-20% faster per node (AVX2, Zen 4),
 * but V1's 14x14 512 x 512 layers lost 4% of the whole model (X read again by each of
 * 32 channel blocks, rows 784 bytes apart; a guess: the prefetchers, which stop at 4 KiB
 * pages, meet a new page every 5 rows), and on 7x7 images (rows of 196 bytes) V2's
 * 160- and 320-channel projections ran 15-20% slower. */
static bool x_rows_in_place(const conv_params *p, int64_t kh, int64_t kw, const int64_t strides[2],
                            const int64_t pads[4]) {
  return kh == 1 && kw == 1 && strides[0] == 1 && strides[1] == 1 && pads[0] == 0 && pads[1] == 0 &&
         pads[2] == 0 && pads[3] == 0 && p->geom.out_h * p->geom.out_w >= CONV_ROWS_MIN_PIXELS &&
         p->out_c_group <= CONV_ROWS_MAX_CHANNELS;
}

static size_t clamp_size(size_t v, size_t lo, size_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Dense constant W on the packed and im2col paths: taps that only ever read padding
 * multiply zeros, so they are dropped (conv_crop.h) and panels and unfolds hold only the
 * taps that touch the image; the kept weights are copied at the end of prepare. A W
 * computed at run time is used whole. Returns the GEMM depth. */
static size_t crop_dense_taps(conv_params *p, bool constant_w, pnn_conv_crop *crop) {
  if (constant_w) {
    *crop = pnn_conv_crop_taps(&p->geom);
    if (crop->cropped) p->geom = crop->geom;
  }
  return p->in_c_group * p->geom.kernel_h * p->geom.kernel_w;
}

/* Whether a 32-column panel of this conv would be mostly zero columns over a deep
 * kernel: fewer output pixels than a panel, and one panel of the (cropped) depth over
 * the L2 budget. Such a conv unfolds only its pixels (im2col + gemm) instead: K x
 * pixels floats of scratch, not K x 32 for one output value. */
static bool panels_mostly_empty(const conv_params *p, bool constant_w) {
  const pnn_conv2d_geometry g = constant_w ? pnn_conv_crop_taps(&p->geom).geom : p->geom;
  const size_t depth = p->in_c_group * g.kernel_h * g.kernel_w; /* <= numel of W */
  return g.out_h * g.out_w < CONV_NR && depth > CONV_PANEL_BUDGET / (CONV_NR * sizeof(float));
}

pnn_status pnn_op_conv_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 2, 4, 1, 1, false, error);
  if (st != PNN_OK) return st;
  const pnn_tensor *x = pnn_input_tensor(model, node, 0);
  const pnn_tensor *w = pnn_input_tensor(model, node, 1);
  const pnn_tensor *b = pnn_input_tensor(model, node, 2);
  const pnn_tensor *r = pnn_input_tensor(model, node, 3);

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
  if (r && !pnn_ew_same_shape(r, pnn_output_tensor(model, node, 0))) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): the residual R must have Y's shape",
                         node->name);
  }

  conv_params p;
  memset(&p, 0, sizeof(p));
  p.batch = (size_t)n;
  p.groups = (size_t)group;
  p.in_c = (size_t)c;
  p.out_c = (size_t)m;
  p.in_c_group = (size_t)c_group;
  p.out_c_group = (size_t)(m / group);
  p.act = act;
  if (r) {
    p.residual = true;
    p.residual_act = act;
    p.act = (pnn_activation){PNN_ACT_NONE, 0.0f, 0.0f};
    p.add_simd = pnn_f32_binary_simd_select(&model->cpu, &p.add, NULL) != 0;
  }
  p.geom = pnn_nn_conv_geometry(p.in_c_group, h, wd, oh, ow, kh, kw, strides, dilations, pads);
  const pnn_conv2d_geometry full_geom = p.geom;
  const bool constant_w = w->kind == PNN_TENSOR_CONSTANT && w->data != NULL;

  const char *isa = "scalar", *pb_isa = "scalar";
  size_t scratch = 0, extra = 0; /* extra: bytes of prepared weights after the params */
  pnn_conv_crop crop = {.cropped = false};  /* sparse, packed, im2col: the taps that can touch the image */
  const pnn_f32_gemm_pb_fn gemm_pb = pnn_f32_gemm_pb_select(&model->cpu, &pb_isa);
  const char *direct_isa = NULL;
  const pnn_f32_conv_direct_fn direct = pnn_f32_conv_direct_select(&model->cpu, &p.geom, &direct_isa);
  const bool have_pb = strcmp(pb_isa, "scalar") != 0;
  /* wasm SIMD128 (no FMA): the packed path measured slower than the in-place GEMM of
   * f32-gemm/wasmsimd.c (node 20, CPU time per node: MobileNet's 1x1 convs and
   * ResNet-18's strided ones 1.3-1.9x), so there only Winograd takes it, and only on
   * more tiles than one panel (7x7 outputs, 16 tiles, ran 1.1-1.5x slower). */
  const bool wasm_pb = strcmp(pb_isa, "wasmsimd") == 0;
  size_t k_depth = p.in_c_group * p.geom.kernel_h * p.geom.kernel_w;
  const size_t tiles = pnn_nn_div_up(p.geom.out_h, 2) * pnn_nn_div_up(p.geom.out_w, 2);
  if (pnn_tensor_is_sparse(w)) {
    if (group != 1) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                           "node \"%s\" (Conv): group-sparse weights need group = 1 (got %lld)",
                           node->name, (long long)group);
    }
    if (pnn_tensor_sparse_view(w, &p.sparse) != PNN_OK || p.sparse.rows != p.out_c ||
        p.sparse.cols != k_depth) {
      return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (Conv): group-sparse W does not match its shape",
                           node->name);
    }
    p.path = CONV_PATH_SPARSE;
    p.spmm = pnn_f32_spmm_select(&model->cpu, &isa);
    p.sparse_direct = kh == 1 && kw == 1 && strides[0] == 1 && strides[1] == 1 && pads[0] == 0 &&
                      pads[1] == 0 && pads[2] == 0 && pads[3] == 0;
    node->kernel = PNN_KERNEL_NAME("sparse", isa);
    if (!p.sparse_direct) {
      /* Taps that only ever read padding add w * 0: dropped, with their weights. */
      crop = pnn_conv_crop_taps(&p.geom);
      if (crop.cropped && !pnn_conv_crop_sparse_bytes(&crop, &p.geom, &(pnn_conv_sparse_layout){
              p.sparse.rows, p.sparse.group, p.sparse.n_groups, sizeof(float), p.sparse.group_nnz,
              p.sparse.indices, p.sparse.values}, &extra)) {
        return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): weights too large", node->name);
      }
      size_t count;
      const size_t kept_depth = p.in_c_group * crop.geom.kernel_h * crop.geom.kernel_w;
      if (!pnn_nn_mul(kept_depth, p.geom.out_h * p.geom.out_w, &count) || !pnn_nn_float_region(count, &scratch)) {
        return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): im2col buffer too large (%zu rows)",
                             node->name, kept_depth);
      }
    }
  } else if (group == c && group == m) {
    p.path = CONV_PATH_DWCONV;
    p.geom.channels = p.in_c;
    p.dwconv = pnn_f32_dwconv_select(&model->cpu, &isa);
    node->kernel = PNN_KERNEL_NAME("dwconv", isa);
  } else if (direct && group == 1 && c <= CONV_DIRECT_MAX_C && w->kind == PNN_TENSOR_CONSTANT &&
             w->data != NULL) {
    p.path = CONV_PATH_DIRECT;
    p.direct = direct;
    node->kernel = PNN_KERNEL_NAME("direct", direct_isa);
    /* c <= 4, kh, kw <= 7 and m bounded by the validated weight size: no overflow. */
    extra = pnn_f32_conv_direct_packed_floats(p.out_c, p.in_c, (size_t)(kh * kw)) * sizeof(float);
  } else if (have_pb && group == 1 && kh == 3 && kw == 3 && strides[0] == 1 && strides[1] == 1 &&
             dilations[0] == 1 && dilations[1] == 1 && c >= 8 && m >= 8 && tiles >= 16 &&
             (!wasm_pb || tiles > CONV_NR) &&
             w->kind == PNN_TENSOR_CONSTANT && w->data != NULL &&
             (size_t)c <= ((size_t)1 << 20) && (size_t)m <= ((size_t)1 << 20)) {
    /* F(2x2, 3x3) does 16 multiplies per 4 outputs instead of 36; the transforms are
     * linear passes. Below 16 tiles a panel would be mostly empty (7x7 outputs give
     * 16 tiles: one full vector, measured faster than direct there too). */
    p.path = CONV_PATH_WINOGRAD;
    p.gemm_pb = gemm_pb;
    pnn_f32_wino2_select(&model->cpu, &p.wino_in, &p.wino_out, &isa);
    p.wino_activate = NULL;
    if (pnn_act_needs_scalar_pass(act.kind)) pnn_f32_unary_select(&model->cpu, &p.wino_activate, NULL);
    node->kernel = PNN_KERNEL_NAME("winograd2x2", isa);
    p.tiles = tiles;
    p.panels = clamp_size(CONV_WINO_V_BUDGET / (16 * p.in_c * CONV_NR * sizeof(float)), 1, 4);
    p.panels = clamp_size(p.panels, 1, pnn_nn_div_up(tiles, CONV_NR));
    const size_t block = p.panels * CONV_NR;
    size_t rows = CONV_WINO_M_BUDGET / (16 * block * sizeof(float));
    rows = rows / CONV_MR * CONV_MR;
    p.wino_rows = clamp_size(rows, CONV_MR, p.out_c);
    /* c, m <= 2^20 and block <= 128 keep these products far from overflow. */
    size_t v_bytes, m_bytes;
    if (!pnn_nn_float_region(16 * (p.in_c * block + CONV_WINO_PLANE_PAD), &v_bytes) ||
        !pnn_nn_float_region(16 * (p.wino_rows * block + CONV_WINO_PLANE_PAD), &m_bytes)) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): Winograd buffers too large", node->name);
    }
    scratch = v_bytes + m_bytes;
    p.gemm_pp = pnn_f32_gemm_pp_select(&model->cpu, NULL);
    extra = 16 * round_up_mr(p.out_c) * p.in_c * sizeof(float);
    /* An infinity in X meets inf - inf in the input transform (NaN where the convolution
     * gives +-inf): such inputs run the packed path on W instead, in this scratch. */
    p.pack = pnn_f32_im2col_panel_select(&model->cpu, NULL);
    const size_t panel_bytes = k_depth * CONV_NR * sizeof(float); /* 9 C <= 9 * 2^20 rows */
    if (scratch < panel_bytes) scratch = panel_bytes;
    p.wino_fallback_panels = clamp_size(scratch / panel_bytes, 1, 8);
    p.wino_fallback_panels = clamp_size(p.wino_fallback_panels, 1, pnn_nn_div_up(p.geom.out_h * p.geom.out_w, CONV_NR));
  } else if (have_pb && !wasm_pb && !panels_mostly_empty(&p, constant_w)) {
    p.path = CONV_PATH_PACKED;
    p.gemm_pb = gemm_pb;
    p.pack = pnn_f32_im2col_panel_select(&model->cpu, NULL);
    k_depth = crop_dense_taps(&p, constant_w, &crop);
    size_t w_bytes;
    const char *pt_isa = NULL;
    const pnn_f32_gemm_pt_fn gemm_pt = pnn_f32_gemm_pt_select(&model->cpu, &pt_isa);
    if (gemm_pt && constant_w && k_depth >= CONV_LANES_MIN_K &&
        channel_lanes_pay(p.out_c_group, p.geom.out_h * p.geom.out_w)) {
      p.gemm_pt = gemm_pt;
      if (x_rows_in_place(&p, kh, kw, strides, pads)) p.gemm_pt_rows = pnn_f32_gemm_pt_rows_select(&model->cpu, NULL);
      /* At most the weights plus 31 rows per group (w->nbytes validated by the loader). */
      extra = p.groups * round_up_nr(p.out_c_group) * k_depth * sizeof(float);
    } else if (constant_w && pnn_nn_mul(p.out_c_group, k_depth, &w_bytes) &&
               pnn_nn_mul(w_bytes, sizeof(float), &w_bytes) && w_bytes > CONV_PACK_W_BYTES) {
      p.gemm_pp = pnn_f32_gemm_pp_select(&model->cpu, NULL);
      /* The packed copy is at most the weights plus 13 rows per group: w->nbytes was
       * validated by the loader, so this cannot overflow. */
      extra = p.groups * round_up_mr(p.out_c_group) * k_depth * sizeof(float);
    } else if (crop.cropped) {
      extra = p.out_c * k_depth * sizeof(float); /* fewer than W's elements */
    }
    isa = pb_isa;
    node->kernel = p.gemm_pt_rows ? PNN_KERNEL_NAME("packed-channels-in-place", pt_isa)
                   : p.gemm_pt    ? PNN_KERNEL_NAME("packed-channels", pt_isa)
                                  : PNN_KERNEL_NAME("packed", isa);
    size_t panel_bytes;
    if (!pnn_nn_mul(k_depth, CONV_NR * sizeof(float), &panel_bytes)) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): kernel too large", node->name);
    }
    p.panels = clamp_size(CONV_PANEL_BUDGET / (panel_bytes ? panel_bytes : 1), 1, 8);
    p.panels = clamp_size(p.panels, 1, pnn_nn_div_up(p.geom.out_h * p.geom.out_w, CONV_NR));
    if (!pnn_nn_mul(panel_bytes, p.panels, &scratch) || !pnn_nn_align(scratch, &scratch)) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): panel buffer too large", node->name);
    }
    if (p.gemm_pt_rows) scratch = 0;
  } else if (kh == 1 && kw == 1 && strides[0] == 1 && strides[1] == 1 && pads[0] == 0 &&
             pads[1] == 0 && pads[2] == 0 && pads[3] == 0) {
    p.path = CONV_PATH_GEMM_1X1;
    p.gemm = pnn_f32_gemm_select(&model->cpu, &isa);
    node->kernel = PNN_KERNEL_NAME("gemm-1x1", isa);
  } else {
    p.path = CONV_PATH_IM2COL;
    p.gemm = pnn_f32_gemm_select(&model->cpu, &isa);
    node->kernel = PNN_KERNEL_NAME("im2col+gemm", isa);
    k_depth = crop_dense_taps(&p, constant_w, &crop);
    if (crop.cropped) extra = p.out_c * k_depth * sizeof(float); /* fewer than W's elements */
    size_t rows, count;
    if (!pnn_nn_mul(p.in_c_group, p.geom.kernel_h, &rows) ||
        !pnn_nn_mul(rows, p.geom.kernel_w, &rows) ||
        !pnn_nn_mul(rows, p.geom.out_h * p.geom.out_w, &count) ||
        !pnn_nn_float_region(count, &scratch)) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): im2col buffer too large", node->name);
    }
  }

  size_t head;
  if (!pnn_nn_align(sizeof(conv_params), &head) || extra > SIZE_MAX - head - PNN_NN_ALIGN) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (Conv): weights too large", node->name);
  }
  conv_params *params = pnn_alloc_large(head + extra + PNN_NN_ALIGN - 1);
  if (!params) return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (Conv): out of memory", node->name);
  void *tail = pnn_nn_aligned_tail(params, head); /* the prepared weights */
  if (p.path == CONV_PATH_WINOGRAD) {
    float *u = tail;
    float *plain = malloc(16 * p.out_c * p.in_c * sizeof(float));
    if (!plain) {
      free(params);
      return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (Conv): out of memory", node->name);
    }
    pnn_f32_wino2_weights_scalar(w->data, p.out_c, p.in_c, plain);
    const size_t mp = round_up_mr(p.out_c);
    for (size_t xi = 0; xi < 16; ++xi)
      pnn_f32_gemm_pa_pack(p.out_c, p.in_c, plain + xi * p.out_c * p.in_c, p.in_c, u + xi * mp * p.in_c);
    free(plain);
    p.wino_u = u;
  } else if (p.path == CONV_PATH_DIRECT) {
    float *wp = tail;
    pnn_f32_conv_direct_pack(p.out_c, p.in_c, (size_t)(kh * kw), w->data, wp);
    p.w_packed = wp;
  } else if (p.path == CONV_PATH_SPARSE && crop.cropped) {
    const pnn_conv_sparse_layout full = {p.sparse.rows, p.sparse.group, p.sparse.n_groups, sizeof(float),
                                         p.sparse.group_nnz, p.sparse.indices, p.sparse.values};
    pnn_conv_sparse_layout kept;
    pnn_conv_crop_sparse(&crop, &p.geom, &full, tail, &kept, NULL);
    p.geom = crop.geom;
    p.sparse.cols = p.in_c_group * crop.geom.kernel_h * crop.geom.kernel_w;
    p.sparse.group_nnz = kept.group_nnz;
    p.sparse.indices = kept.indices;
    p.sparse.values = kept.values;
  } else if ((p.path == CONV_PATH_PACKED || p.path == CONV_PATH_IM2COL) && extra > 0) {
    float *wp = tail;
    const bool repack = p.gemm_pt || p.gemm_pp;
    float *kept = NULL;
    if (crop.cropped) {
      kept = repack ? malloc(p.out_c * k_depth * sizeof(float)) : wp;
      if (!kept) {
        free(params);
        return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (Conv): out of memory", node->name);
      }
      pnn_conv_crop_dense(&crop, &full_geom, p.out_c, sizeof(float), w->data, kept);
    }
    if (repack) {
      const size_t mgp = p.gemm_pt ? round_up_nr(p.out_c_group) : round_up_mr(p.out_c_group);
      const float *wsrc = kept ? kept : w->data;
      for (size_t grp = 0; grp < p.groups; ++grp) {
        const float *wg = wsrc + grp * p.out_c_group * k_depth;
        if (p.gemm_pt) pnn_f32_gemm_pt_pack(p.out_c_group, k_depth, wg, k_depth, wp + grp * mgp * k_depth);
        else pnn_f32_gemm_pa_pack(p.out_c_group, k_depth, wg, k_depth, wp + grp * mgp * k_depth);
      }
      p.w_packed = wp;
      free(kept);
    } else {
      p.w_cropped = kept;
    }
  }
  *params = p;
  node->params = params;
  node->scratch_bytes = scratch;
  return PNN_OK;
}

typedef struct conv_job {
  const conv_params *p;
  const float *x, *w, *bias;
  float *y;
  const float *residual;                   /* R, of Y's shape, or NULL */
  const pnn_run_context *ctx;
  size_t col_panels;                       /* packed and winograd: panels in all, per image;
                                              gemm-1x1 and im2col+gemm: CONV_GEMM_COLS units */
  size_t col_chunks, row_chunks, row_step; /* packed and winograd task grid (col_chunks: also
                                              gemm-1x1 and im2col+gemm) */
  size_t dw_chunks, dw_step;               /* dwconv task grid */
  const float *cols;                       /* sparse, im2col+gemm: the unfolded (or in-place) X of one image */
  size_t cols_stride;                      /* sparse, im2col+gemm: floats per row of `cols` */
  size_t pixel_chunks;                     /* sparse: tasks per image */
  size_t image;                            /* im2col+gemm: the batch x group image of `cols` */
  size_t unfold_step;                      /* im2col+gemm: input channels per unfold task */
} conv_job;

static float *thread_scratch(const pnn_run_context *ctx, size_t thread) {
  return pnn_nn_thread_scratch(ctx, thread);
}

/* Y = act(Y + R) over one chunk of CONV_RESIDUAL_CHUNK outputs: the Add op's arithmetic. */
static void residual_task(void *context, size_t task, size_t thread) {
  (void)thread;
  const conv_job *job = context;
  const conv_params *p = job->p;
  const size_t total = p->batch * p->out_c * p->geom.out_h * p->geom.out_w, e0 = task * CONV_RESIDUAL_CHUNK;
  const size_t n = total - e0 < CONV_RESIDUAL_CHUNK ? total - e0 : CONV_RESIDUAL_CHUNK;
  float *y = job->y + e0;
  if (p->add_simd) {
    p->add.vv(PNN_BINARY_ADD, n, y, job->residual + e0, y, p->residual_act);
  } else {
    pnn_f32_binary_vv_scalar(PNN_BINARY_ADD, n, y, job->residual + e0, y);
    if (p->residual_act.kind != PNN_ACT_NONE) pnn_f32_activate_scalar(y, n, p->residual_act);
  }
}

static void add_residual(conv_job *job) {
  const conv_params *p = job->p;
  const size_t total = p->batch * p->out_c * p->geom.out_h * p->geom.out_w;
  pnn_parallel_for(job->ctx->pool, pnn_nn_div_up(total, CONV_RESIDUAL_CHUNK), residual_task, job);
}

/* Row chunks so that small column counts still give every thread work, and at least
 * `min_chunks`. Any split gives the same results; only the amount of repacking
 * changes: every row chunk packs (or Winograd-transforms) its columns again, so split
 * only as far as needed to give each thread one task (on 7x7 and 14x14 images the
 * repeated Winograd input transforms cost more than the balance gained, measured
 * with 2 threads). */
static void split_rows(conv_job *job, size_t units, size_t rows, size_t min_chunks) {
  const size_t threads = pnn_threadpool_size(job->ctx->pool);
  /* Chunks start on a weight panel: PNN_GEMM_PA_MR rows, or 32 channels. */
  const size_t granule = job->p->gemm_pt ? CONV_NR : CONV_MR;
  size_t chunks = min_chunks;
  if (threads > 1 && units * chunks < threads) chunks = pnn_nn_div_up(threads, units);
  job->row_step = pnn_nn_div_up(pnn_nn_div_up(rows, chunks), granule) * granule;
  job->row_chunks = pnn_nn_div_up(rows, job->row_step);
}

/* Column chunks of each image's `total` panels, each at most the prepared maximum: on
 * one thread as few as fit; with more, about three per thread, and the images' chunks
 * a multiple of the threads where the panels allow, so that the tasks share out evenly
 * (any chunking gives the same results). Chunk cc holds panels [cc * total / chunks,
 * (cc + 1) * total / chunks): the sizes differ by one panel at most (equal chunks of the
 * maximum left a short last one: MobileNet V2's 28 x 28 layers made 5 chunks of 5
 * panels, 3 on one thread and 2 on the other). */
static void split_columns(conv_job *job, size_t max_panels, size_t total, size_t images) {
  const size_t threads = pnn_threadpool_size(job->ctx->pool);
  size_t chunks = pnn_nn_div_up(total, max_panels);
  if (threads > 1) {
    const size_t want = pnn_nn_div_up(3 * threads, images);
    if (chunks < want) chunks = want;
    while (images * chunks % threads != 0 && chunks < total) ++chunks;
  }
  job->col_panels = total;
  job->col_chunks = clamp_size(chunks, 1, total);
}

/* First panel of column chunk cc (cc == col_chunks: the end). */
static size_t chunk_start(const conv_job *job, size_t cc) { return cc * job->col_panels / job->col_chunks; }

/* First output channel of Winograd row chunk rc (rc == row_chunks: M): whole weight
 * panels shared out as evenly as they go, the short last panel in the last chunk (256
 * rows, 19 panels: 126 + 130 rows, where equal steps of whole panels gave 140 + 116). */
static size_t wino_row_start(const conv_job *job, size_t rc) {
  const size_t m = job->p->out_c, start = rc * pnn_nn_div_up(m, CONV_MR) / job->row_chunks * CONV_MR;
  return start < m ? start : m;
}

/* A Winograd task's modelled cost: its GEMM panels per output row and input channel,
 * U's 16 values per row and channel (streamed once per task), the input transform per
 * tile and channel, the output transform per tile and row. */
static uint64_t wino_task_cost(const conv_params *p, size_t rows, size_t tiles) {
  const uint64_t c = p->in_c, panels = pnn_nn_div_up(tiles, CONV_NR);
  return (uint64_t)rows * c * (WINO_COST_PANEL * panels + WINO_COST_U) +
         (uint64_t)tiles * (WINO_COST_IN * c + WINO_COST_OUT * (uint64_t)rows) + WINO_COST_TASK;
}

/* When the last of `threads` free threads would finish the job's Winograd grid, each
 * taking the next task in index order as the pool's counter hands them out. */
static uint64_t wino_makespan(const conv_job *job, size_t threads) {
  const conv_params *p = job->p;
  uint64_t free_at[WINO_SPLIT_MAX_THREADS] = {0};
  uint64_t end = 0;
  for (size_t blk = 0; blk < p->batch * job->col_chunks; ++blk) {
    const size_t cc = blk % job->col_chunks;
    const size_t t0 = chunk_start(job, cc) * CONV_NR, t1 = chunk_start(job, cc + 1) * CONV_NR;
    const size_t tiles = (t1 < p->tiles ? t1 : p->tiles) - t0;
    for (size_t rc = 0; rc < job->row_chunks; ++rc) {
      const size_t rows = wino_row_start(job, rc + 1) - wino_row_start(job, rc);
      size_t first = 0;
      for (size_t t = 1; t < threads; ++t)
        if (free_at[t] < free_at[first]) first = t;
      free_at[first] += wino_task_cost(p, rows, tiles);
      if (free_at[first] > end) end = free_at[first];
    }
  }
  return end;
}

/* Of two grids of equal modelled makespan, whether a is preferred to b: a task count
 * that is a multiple of the threads (robust to a first task slowed by cold weights),
 * then fewer tasks. */
static bool wino_grid_preferred(const conv_job *a, const conv_job *b, size_t threads) {
  const size_t ta = a->col_chunks * a->row_chunks, tb = b->col_chunks * b->row_chunks;
  const bool even_a = ta % threads == 0, even_b = tb % threads == 0;
  return even_a != even_b ? even_a : ta < tb;
}

/* The Winograd task grid: on one thread as few column chunks as the scratch holds, all
 * rows; on several, the grid of column chunks (whole panels, at most p->panels each)
 * and row chunks whose modelled makespan is least (ties: wino_grid_preferred). Uneven tile
 * blocks were the loss: ResNet-18's 28x28 layers made chunks of 1, 1, 1, 1, 1 and 2
 * panels, and its 14x14 ones two chunks of one panel each, both streaming all of U
 * (measured with bench/pool_trace); a row split there halves each thread's U. Results
 * do not depend on the grid. */
static void split_winograd(conv_job *job, size_t threads) {
  const conv_params *p = job->p;
  const size_t total = pnn_nn_div_up(p->tiles, CONV_NR), fewest = pnn_nn_div_up(total, p->panels);
  job->col_panels = total;
  job->col_chunks = fewest;
  job->row_chunks = 1;
  if (threads > WINO_SPLIT_MAX_THREADS) { /* beyond the simulation: even counts only */
    split_columns(job, p->panels, total, p->batch);
    split_rows(job, p->batch * job->col_chunks, p->out_c, 1);
  }
  if (threads <= 1 || threads > WINO_SPLIT_MAX_THREADS) return;
  conv_job best = *job;
  uint64_t best_cost = UINT64_MAX;
  const size_t most = total < fewest + WINO_SPLIT_MAX_EXTRA * threads ? total : fewest + WINO_SPLIT_MAX_EXTRA * threads;
  const size_t row_panels = pnn_nn_div_up(p->out_c, CONV_MR);
  for (size_t rows = 1; rows <= WINO_SPLIT_MAX_ROW_CHUNKS && rows <= row_panels; ++rows) {
    job->row_chunks = rows;
    for (job->col_chunks = fewest; job->col_chunks <= most; ++job->col_chunks) {
      const uint64_t cost = wino_makespan(job, threads);
      if (cost < best_cost || (cost == best_cost && wino_grid_preferred(job, &best, threads))) {
        best = *job;
        best_cost = cost;
      }
    }
  }
  *job = best;
}

static void packed_task(void *context, size_t task, size_t thread) {
  const conv_job *job = context;
  const conv_params *p = job->p;
  const pnn_conv2d_geometry *g = &p->geom;
  const size_t in_hw = g->in_h * g->in_w, out_hw = g->out_h * g->out_w;
  const size_t k = p->in_c_group * g->kernel_h * g->kernel_w;
  const size_t rc = task % job->row_chunks;
  size_t rest = task / job->row_chunks;
  const size_t cc = rest % job->col_chunks;
  rest /= job->col_chunks;
  const size_t grp = rest % p->groups, b = rest / p->groups;

  const float *xg = job->x + (b * p->in_c + grp * p->in_c_group) * in_hw;
  const size_t col0 = chunk_start(job, cc) * CONV_NR;
  const size_t col1 = chunk_start(job, cc + 1) * CONV_NR;
  const size_t cols = (col1 < out_hw ? col1 : out_hw) - col0;
  const size_t m0 = rc * job->row_step;
  const size_t rows = p->out_c_group - m0 < job->row_step ? p->out_c_group - m0 : job->row_step;
  const size_t mg = grp * p->out_c_group + m0;
  float *yt = job->y + (b * p->out_c + mg) * out_hw + col0;
  const float *bt = job->bias ? job->bias + mg : NULL;
  if (p->gemm_pt_rows) {
    const float *wp = p->w_packed + (grp * round_up_nr(p->out_c_group) + m0) * k;
    p->gemm_pt_rows(rows, cols, k, wp, xg + col0, in_hw, yt, out_hw, bt, p->act);
    return;
  }
  float *panels = thread_scratch(job->ctx, thread);
  for (size_t n0 = 0; n0 < cols; n0 += CONV_NR) {
    const size_t width = cols - n0 < CONV_NR ? cols - n0 : CONV_NR;
    float *dst = panels + (n0 / CONV_NR) * k * CONV_NR;
    p->pack(g, xg, 0, k, col0 + n0, width, dst); /* zeroes the columns past width */
  }
  if (p->gemm_pt) {
    /* m0 is a multiple of the channel panel width (row chunks are). */
    const float *wp = p->w_packed + (grp * round_up_nr(p->out_c_group) + m0) * k;
    p->gemm_pt(rows, cols, k, wp, panels, yt, out_hw, bt, p->act);
  } else if (p->w_packed) {
    /* m0 is a multiple of the panel height (row chunks are). */
    const float *wp = p->w_packed + (grp * round_up_mr(p->out_c_group) + m0) * k;
    p->gemm_pp(rows, cols, k, wp, panels, yt, out_hw, bt, p->act);
  } else {
    p->gemm_pb(rows, cols, k, job->w + mg * k, k, panels, yt, out_hw, bt, p->act);
  }
}

/* The activation's vector pass over the outputs of tiles [t0, t0 + count) in `rows`
 * channel planes: per tile row, two runs of output pixels (2x2 tiles, clipped at the
 * edges). */
static void wino_activate_tiles(const conv_params *p, pnn_activation act, size_t t0, size_t count, float *y,
                                size_t rows) {
  const size_t out_h = p->geom.out_h, out_w = p->geom.out_w, tiles_w = pnn_nn_div_up(out_w, 2);
  for (size_t t = t0; t < t0 + count;) {
    const size_t ty = t / tiles_w, tx = t % tiles_w;
    const size_t n = tiles_w - tx < t0 + count - t ? tiles_w - tx : t0 + count - t;
    const size_t x0 = 2 * tx, x1 = 2 * (tx + n) < out_w ? 2 * (tx + n) : out_w;
    for (size_t m = 0; m < rows; ++m)
      for (size_t oy = 2 * ty; oy < 2 * ty + 2 && oy < out_h; ++oy)
        p->wino_activate(y + m * out_h * out_w + oy * out_w + x0, x1 - x0, act);
    t += n;
  }
}

static void winograd_task(void *context, size_t task, size_t thread) {
  const conv_job *job = context;
  const conv_params *p = job->p;
  const pnn_conv2d_geometry *g = &p->geom;
  const size_t in_hw = g->in_h * g->in_w, out_hw = g->out_h * g->out_w;
  const size_t C = p->in_c, M = p->out_c;
  const size_t rc = task % job->row_chunks;
  size_t rest = task / job->row_chunks;
  const size_t blk = rest % job->col_chunks, b = rest / job->col_chunks;

  const size_t t0 = chunk_start(job, blk) * CONV_NR, t1 = chunk_start(job, blk + 1) * CONV_NR;
  const size_t count = (t1 < p->tiles ? t1 : p->tiles) - t0;
  const size_t used_panels = pnn_nn_div_up(count, CONV_NR), block = used_panels * CONV_NR;
  const size_t v_xi = used_panels * C * CONV_NR + CONV_WINO_PLANE_PAD;
  float *v = thread_scratch(job->ctx, thread);
  float *mbuf = v + 16 * (C * p->panels * CONV_NR + CONV_WINO_PLANE_PAD); /* as laid out in prepare */
  p->wino_in(g, job->x + b * C * in_hw, t0, count, v, v_xi);
  if (count % CONV_NR != 0) {
    /* Defined values in the unused columns of the last panel. */
    const size_t width = count % CONV_NR;
    float *last = v + (used_panels - 1) * C * CONV_NR;
    for (size_t xi = 0; xi < 16; ++xi)
      for (size_t c = 0; c < C; ++c)
        memset(last + xi * v_xi + c * CONV_NR + width, 0, (CONV_NR - width) * sizeof(float));
  }
  const pnn_activation none = {PNN_ACT_NONE, 0.0f, 0.0f};
  const pnn_activation act = p->residual ? p->residual_act : p->act;
  const size_t m_begin = wino_row_start(job, rc), m_end = wino_row_start(job, rc + 1);
  /* m_begin and the sub-chunk height are multiples of the weight panel height. */
  float *y = job->y + b * M * out_hw;
  for (size_t m0 = m_begin; m0 < m_end; m0 += p->wino_rows) {
    const size_t rows = m_end - m0 < p->wino_rows ? m_end - m0 : p->wino_rows;
    const size_t m_xi = rows * block + CONV_WINO_PLANE_PAD;
    for (size_t xi = 0; xi < 16; ++xi) {
      p->gemm_pp(rows, count, C, p->wino_u + (xi * round_up_mr(M) + m0) * C, v + xi * v_xi,
                 mbuf + xi * m_xi, block, NULL, none);
    }
    /* The output transform adds the residual itself, before the activation. */
    p->wino_out(g, mbuf, rows, block, m_xi, t0, count, job->bias ? job->bias + m0 : NULL, y + m0 * out_hw,
                job->residual ? job->residual + (b * M + m0) * out_hw : NULL, p->wino_activate ? none : act);
    if (p->wino_activate) wino_activate_tiles(p, act, t0, count, y + m0 * out_hw, rows);
  }
}

static void dwconv_task(void *context, size_t task, size_t thread) {
  const conv_job *job = context;
  const conv_params *p = job->p;
  pnn_conv2d_geometry g = p->geom;
  const size_t in_hw = g.in_h * g.in_w, out_hw = g.out_h * g.out_w;
  const size_t taps = g.kernel_h * g.kernel_w;
  const size_t chunk = task % job->dw_chunks, b = task / job->dw_chunks;
  const size_t c0 = chunk * job->dw_step;
  g.channels = p->in_c - c0 < job->dw_step ? p->in_c - c0 : job->dw_step;
  (void)thread;
  p->dwconv(&g, job->x + (b * p->in_c + c0) * in_hw, job->w + c0 * taps,
            job->bias ? job->bias + c0 : NULL, job->y + (b * p->in_c + c0) * out_hw, p->act);
}

/* One block of PNN_F32_CONV_DIRECT_BLOCK output channels for CONV_DIRECT_ROWS output rows
 * of one image. */
static void direct_task(void *context, size_t task, size_t thread) {
  (void)thread;
  const conv_job *job = context;
  const conv_params *p = job->p;
  const pnn_conv2d_geometry *g = &p->geom;
  const size_t row_chunks = pnn_nn_div_up(g->out_h, CONV_DIRECT_ROWS);
  const size_t blocks = pnn_nn_div_up(p->out_c, PNN_F32_CONV_DIRECT_BLOCK);
  const size_t rc = task % row_chunks, block = task / row_chunks % blocks, b = task / row_chunks / blocks;
  const size_t oy0 = rc * CONV_DIRECT_ROWS;
  const size_t oy1 = g->out_h - oy0 < CONV_DIRECT_ROWS ? g->out_h : oy0 + CONV_DIRECT_ROWS;
  p->direct(g, p->out_c, job->x + b * p->in_c * g->in_h * g->in_w, p->w_packed, job->bias,
            job->y + b * p->out_c * g->out_h * g->out_w, block, oy0, oy1, p->act);
}

static void sparse_task(void *context, size_t task, size_t thread) {
  (void)thread;
  const conv_job *job = context;
  const conv_params *p = job->p;
  const size_t out_hw = p->geom.out_h * p->geom.out_w;
  const size_t p0 = task * CONV_SPARSE_CHUNK;
  const size_t pixels = out_hw - p0 < CONV_SPARSE_CHUNK ? out_hw - p0 : CONV_SPARSE_CHUNK;
  p->spmm(&p->sparse, pixels, job->cols + p0, job->cols_stride, job->bias, job->y + p0, out_hw, p->act);
}

/* One image at a time: unfold X when needed (thread 0's scratch), then the pixel
 * chunks in parallel. */
static void run_sparse(conv_job *job) {
  const conv_params *p = job->p;
  const pnn_conv2d_geometry *g = &p->geom;
  const size_t in_hw = g->in_h * g->in_w, out_hw = g->out_h * g->out_w;
  const float *x = job->x;
  float *y = job->y;
  job->pixel_chunks = pnn_nn_div_up(out_hw, CONV_SPARSE_CHUNK);
  for (size_t b = 0; b < p->batch; ++b) {
    const float *xb = x + b * p->in_c * in_hw;
    if (p->sparse_direct) {
      job->cols = xb;
      job->cols_stride = in_hw;
    } else {
      float *cols = job->ctx->scratch;
      pnn_f32_im2col_scalar(g, xb, cols);
      job->cols = cols;
      job->cols_stride = out_hw;
    }
    job->y = y + b * p->out_c * out_hw;
    pnn_parallel_for(job->ctx->pool, job->pixel_chunks, sparse_task, job);
  }
}

static void run_packed(conv_job *job, size_t max_panels) {
  const conv_params *p = job->p;
  const size_t out_hw = p->geom.out_h * p->geom.out_w, images = p->batch * p->groups;
  const size_t panels = pnn_nn_div_up(out_hw, CONV_NR), threads = pnn_threadpool_size(job->ctx->pool);
  split_columns(job, max_panels, panels, images);
  /* Whole panels share out unevenly when few: 7 x 7 pixels are panels of 32 and 17
   * (channel lanes: the work follows the pixels, one thread did twice the other's in
   * MobileNet V2's last 1x1 convs), and 7 panels (14 x 14) leave 4 on one of 2 threads,
   * 3 on the other (bench/pool_trace). Halving the channels too evens that out for a
   * repack of each panel (a K x 32 copy, a few percent of its product). */
  const bool uneven = p->gemm_pt || (images * panels % threads != 0 && images * panels < 8 * threads);
  split_rows(job, images * job->col_chunks, p->out_c_group, threads > 1 && uneven ? 2 : 1);
  pnn_parallel_for(job->ctx->pool, images * job->col_chunks * job->row_chunks, packed_task, job);
}

/* X of image `image` (batch b * groups + group g): the input channels of group g. */
static const float *image_input(const conv_job *job, size_t image) {
  const conv_params *p = job->p;
  const size_t b = image / p->groups, grp = image % p->groups;
  return job->x + (b * p->in_c + grp * p->in_c_group) * p->geom.in_h * p->geom.in_w;
}

/* im2col+gemm: rows of one image's unfolded matrix for a chunk of its input channels
 * (the chunk's rows are contiguous: row = (c * kh + i) * kw + j). */
static void unfold_task(void *context, size_t task, size_t thread) {
  (void)thread;
  const conv_job *job = context;
  const conv_params *p = job->p;
  pnn_conv2d_geometry g = p->geom;
  const size_t c0 = task * job->unfold_step;
  g.channels = p->in_c_group - c0 < job->unfold_step ? p->in_c_group - c0 : job->unfold_step;
  float *cols = thread_scratch(job->ctx, 0); /* job->cols, writable */
  pnn_f32_im2col_scalar(&g, image_input(job, job->image) + c0 * g.in_h * g.in_w,
                        cols + c0 * g.kernel_h * g.kernel_w * job->cols_stride);
}

/* gemm-1x1 and im2col+gemm: one column chunk of one image, W_g x (X_g in place, or the
 * unfolded `cols`). Chunk cc holds the columns [start(cc), start(cc + 1)) in units of
 * CONV_GEMM_COLS; the last chunk ends at the image's last column. */
static void gemm_task(void *context, size_t task, size_t thread) {
  (void)thread;
  const conv_job *job = context;
  const conv_params *p = job->p;
  const bool in_place = p->path == CONV_PATH_GEMM_1X1;
  const size_t image = in_place ? task / job->col_chunks : job->image, cc = task % job->col_chunks;
  const size_t b = image / p->groups, m0 = image % p->groups * p->out_c_group;
  const size_t out_hw = p->geom.out_h * p->geom.out_w;
  const size_t k = p->in_c_group * p->geom.kernel_h * p->geom.kernel_w;
  const size_t n0 = chunk_start(job, cc) * CONV_GEMM_COLS;
  const size_t n1 = cc + 1 == job->col_chunks ? out_hw : chunk_start(job, cc + 1) * CONV_GEMM_COLS;
  const float *cols = in_place ? image_input(job, image) : job->cols;
  const size_t ldb = in_place ? p->geom.in_h * p->geom.in_w : job->cols_stride;
  p->gemm(p->out_c_group, n1 - n0, k, job->w + m0 * k, k, cols + n0, ldb,
          job->y + (b * p->out_c + m0) * out_hw + n0, out_hw, job->bias ? job->bias + m0 : NULL, NULL, p->act);
}

/* Whether any of the n floats is an infinity or a NaN (exponent bits all ones): one
 * pass, a small fraction of a 3x3 conv. Two floats per 64-bit word: per 32-bit half,
 * exponent + 1 reaches bit 31 only for exponent 0xff and never carries into the other
 * half; -O3 vectorizes the loop further. */
static bool any_non_finite(const float *x, size_t n) {
  const uint64_t exponents = 0x7f8000007f800000u, one = 0x0080000000800000u;
  uint64_t seen = 0;
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    uint64_t pair;
    memcpy(&pair, x + i, sizeof(pair));
    seen |= (pair & exponents) + one;
  }
  if (i < n) {
    uint32_t last;
    memcpy(&last, x + i, sizeof(last));
    seen |= (last & 0x7f800000u) + 0x00800000u;
  }
  return (seen & 0x8000000080000000u) != 0;
}

/* Runs the conv's path (on a copy of the job: the paths move job.y); whether its
 * kernels added the residual (Winograd's do). */
static bool run_path(conv_job job) {
  const conv_params *p = job.p;
  const pnn_run_context *ctx = job.ctx;
  const pnn_conv2d_geometry *g = &p->geom;
  const size_t out_hw = g->out_h * g->out_w;
  const size_t threads = pnn_threadpool_size(ctx->pool);

  switch (p->path) {
    case CONV_PATH_DWCONV: {
      /* Channels are independent: chunks only balance the threads. */
      const pnn_nn_split dw = pnn_nn_split_units(threads, CONV_TASKS_PER_THREAD, p->in_c, 1);
      job.dw_step = dw.step;
      job.dw_chunks = dw.count;
      pnn_parallel_for(ctx->pool, p->batch * job.dw_chunks, dwconv_task, &job);
      return false;
    }
    case CONV_PATH_PACKED:
      run_packed(&job, p->panels);
      return false;
    case CONV_PATH_SPARSE:
      run_sparse(&job);
      return false;
    case CONV_PATH_DIRECT:
      pnn_parallel_for(ctx->pool,
                       p->batch * pnn_nn_div_up(p->out_c, PNN_F32_CONV_DIRECT_BLOCK) * pnn_nn_div_up(g->out_h, CONV_DIRECT_ROWS),
                       direct_task, &job);
      return false;
    case CONV_PATH_WINOGRAD:
      if (any_non_finite(job.x, p->batch * p->in_c * g->in_h * g->in_w)) {
        run_packed(&job, p->wino_fallback_panels);
        return false;
      }
      split_winograd(&job, threads);
      pnn_parallel_for(ctx->pool, p->batch * job.col_chunks * job.row_chunks, winograd_task, &job);
      return true;
    default: break;
  }

  /* Portable paths (the selected pnn_f32_gemm variant): column chunks across the
   * threads; one chunk (one GEMM call per image) on one thread. */
  const size_t units = out_hw >= 2 * CONV_GEMM_COLS ? out_hw / CONV_GEMM_COLS : 1;
  job.col_panels = units;
  job.col_chunks = pnn_nn_tasks(threads, CONV_TASKS_PER_THREAD, units);
  const size_t images = p->batch * p->groups;
  if (p->path == CONV_PATH_GEMM_1X1) {
    pnn_parallel_for(ctx->pool, images * job.col_chunks, gemm_task, &job);
    return false;
  }
  const size_t channels = p->in_c_group;
  const pnn_nn_split unfold = pnn_nn_split_units(threads, CONV_TASKS_PER_THREAD, channels, 1);
  job.unfold_step = unfold.step;
  job.cols = thread_scratch(ctx, 0); /* unfold_task writes it */
  job.cols_stride = out_hw;
  for (job.image = 0; job.image < images; ++job.image) {
    pnn_parallel_for(ctx->pool, unfold.count, unfold_task, &job);
    pnn_parallel_for(ctx->pool, job.col_chunks, gemm_task, &job);
  }
  return false;
}

void pnn_op_conv_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                     void *const *out, const pnn_run_context *ctx) {
  (void)model;
  const conv_params *p = node->params;
  conv_job job;
  memset(&job, 0, sizeof(job));
  job.p = p;
  job.x = in[0];
  job.w = p->w_cropped ? p->w_cropped : in[1];
  job.bias = node->n_inputs > 2 ? in[2] : NULL;
  job.y = out[0];
  job.residual = p->residual ? in[3] : NULL;
  job.ctx = ctx;
  if (!run_path(job) && job.residual) add_residual(&job);
}
