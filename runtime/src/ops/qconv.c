/* QConv (op code 82) and QGemm (83): u8 x s8 (or s4) convolution and fully connected
 * layers with int32 accumulation and per-channel requantization (docs/OPS.md,
 * docs/QUANTIZATION.md).
 *
 * Weights are validated and repacked once at load for the selected GEMM variant and
 * kept after the params: s8 weights for the s8 GEMM; s4 weights for the s4 GEMM, which
 * keeps them at 4 bits and unpacks them in its kernels (depthwise s4 weights are tiny
 * and are kept unpacked to s8). Paths of QConv:
 *   dwconv   group == C == M: the u8 depthwise kernel, channels split across threads.
 *   direct   1x1, stride 1, no padding: GEMM straight on X (K = C/group rows of H*W).
 *   im2col   everything else: per column chunk X is unfolded into the thread's scratch
 *            (padding reads x_zero_point), then the GEMM runs on it.
 *   sparse   W stored group-sparse s8 (format 1.3; group 1): the u8 SpMM over X in
 *            place (1x1, stride 1, unpadded) or over the unfolded column chunk.
 *   winograd 3x3, stride 1, dilation 1, one group, s8 W, C <= 1841, where a variant beats
 *            the GEMM (pnn_s8_wino2_select: AVX2 without VNNI): the exact integer
 *            F(2x2, 3x3) on chunks of 2x2 output tiles, the same bytes as the GEMM.
 * QGemm runs one GEMV (N = 1) per batch row; a group-sparse W runs one SpMM over all
 * batch rows (X transposed in scratch when N > 1). Tasks split the output into column
 * chunks fixed at load and row ranges; the arithmetic is exact integer arithmetic,
 * so every split gives the same bytes for any thread count. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "conv_crop.h"
#include "q_common.h"


enum qconv_path {
  QCONV_PATH_DWCONV = 0,
  QCONV_PATH_DIRECT = 1,
  QCONV_PATH_IM2COL = 2,
  QCONV_PATH_SPARSE = 3,
  QCONV_PATH_WINOGRAD = 4
};

enum {
  /* Bytes of unfolded X per task (kept in L2 with the packed panels). */
  QCONV_COLS_BUDGET = 256 * 1024,
  QCONV_MIN_CHUNK = 64,
  QCONV_MAX_CHUNK = 4096,
  /* GEMM column chunks start on a multiple of the s8 GEMMs' pixel tiles (AVX2 24,
   * AVX-512 up to 48, AVX-VNNI 16, NEON 8), so the pixel tails that run as GEMVs or
   * half-empty tiles only occur at the end of the image (ResNet-18's 28 x 28 layers had
   * 227-pixel chunks: 3 GEMV pixels each). */
  QCONV_GEMM_TILE = 48,
  /* Sparse column chunks are multiples of the widest SpMM pixel tile (AVX-512: 64), so
   * pixel tails only occur at the end of the image. */
  QCONV_SPARSE_TILE = 64,
  /* Bytes of transformed input per Winograd task (16 positions x C x tiles x 2 i16),
   * kept in L2 while every row block of U passes over it. */
  QCONV_WINO_V_BUDGET = 512 * 1024,
  /* Tiles per vector of the Winograd kernel (AVX2): a layer pays for whole vectors. */
  QCONV_WINO_LANES = 8,
  /* Fewer input or output channels than this run faster on the GEMM (Zen 4, AVX2:
   * 8 x 28 x 28 Winograd 0.021 ms, GEMM 0.012 + unfold; 16 x 56 x 56 even). */
  QCONV_WINO_MIN_CHANNELS = 16,
  QCONV_DW_TASKS_PER_THREAD = 4 /* depthwise channel chunks per thread (pnn_nn_tasks) */
};

typedef struct qconv_params {
  int path;
  size_t batch, groups;
  size_t in_c, out_c, in_c_group, out_c_group;
  size_t k;                    /* GEMM depth: C/group * kh * kw (QGemm: K) */
  pnn_conv2d_geometry geom;    /* per group (dwconv: channels = C) */
  uint8_t x_zero_point;
  pnn_requant rq;              /* multiplier / shift point into the model buffer */
  const int32_t *bias;         /* model buffer */
  const pnn_s8_gemm_kernel *gemm;
  pnn_s8_dwconv_fn dwconv;
  pnn_u8_spmm_fn spmm;
  const pnn_s8_wino2_kernel *wino;
  pnn_sparse_s8 sparse;        /* sparse: the view of W (arrays in the model buffer) */
  bool sparse_unfold;          /* sparse QConv: unfold X per column chunk */
  const int8_t *dw_weights;    /* dwconv: [C][kh*kw] s8, after the params */
  const uint8_t *packed;       /* gemm: per group pack_size bytes at packed_stride, 64-aligned;
                                  winograd: pnn_s8_wino2_pack's U */
  size_t packed_stride;
  size_t chunk;                /* columns (output pixels; winograd: 2x2 tiles) per task */
  size_t gemm_scratch;         /* bytes of the GEMM's scratch, then the unfolded columns */
} qconv_params;


/* The GEMM variant for these weights (dense, p's groups of out_c_group x k), and its
 * name for inspect and profiles. s8 weights may suit a faster variant (AVX2's
 * vpmaddubsw one) in every group: then that one. */
static const pnn_s8_gemm_kernel *select_gemm(const pnn_model *model, const pnn_tensor *w,
                                             const qconv_params *p, const char **name) {
  const bool s4 = w->dtype == PNN_DTYPE_S4;
  const pnn_s8_gemm_kernel *gemm = s4 ? pnn_s4_gemm_select(&model->cpu) : pnn_s8_gemm_select(&model->cpu);
  if (!s4) {
    const int8_t *weights = w->data;
    const size_t group_elements = p->out_c_group * p->k;
    const pnn_s8_gemm_kernel *suited = pnn_s8_gemm_select_weights(&model->cpu, p->out_c_group, p->k, weights);
    for (size_t g = 1; g < p->groups && suited != gemm; ++g) {
      if (pnn_s8_gemm_select_weights(&model->cpu, p->out_c_group, p->k, weights + g * group_elements) != suited)
        suited = gemm;
    }
    gemm = suited;
  }
  *name = pnn_q_gemm_kernel_name(gemm->name, s4);
  return gemm;
}

/* The weight contract, per value and per output row: |v| <= limit (-128 is outside s8's
 * symmetric range), and |bias[m]| + 255 * sum |W[m]| below 2^31 so no accumulator of
 * row m can leave int32. */
static pnn_status check_weight_value(const pnn_node *node, const char *op, int v, size_t m, int limit,
                                     pnn_error *error) {
  if (v >= -limit && v <= limit) return PNN_OK;
  return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): weight %d at row %zu is outside [-%d, %d]",
                       node->name, op, v, m, limit, limit);
}

static pnn_status check_weight_row(const pnn_node *node, const char *op, size_t m, int32_t bias,
                                   int64_t abs_sum, pnn_error *error) {
  const int64_t b = bias;
  if ((b < 0 ? -b : b) + 255 * abs_sum <= PNN_Q_INT32_MAX) return PNN_OK;
  return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                       "node \"%s\" (%s): output channel %zu can overflow the int32 accumulator "
                       "(bias %lld, sum of |weights| %lld)",
                       node->name, op, m, (long long)b, (long long)abs_sum);
}

/* Reads constant W of `rows * k` s8 or s4 values into dst as s8, refusing what breaks
 * the weight contract (s8 within [-127, 127], s4 within [-7, 7]). */
static pnn_status load_weights(const pnn_node *node, const char *op, const pnn_tensor *w,
                               const int32_t *bias, size_t rows, size_t k, int8_t *dst,
                               pnn_error *error) {
  const bool s4 = w->dtype == PNN_DTYPE_S4;
  const int limit = s4 ? 7 : 127;
  const uint8_t *bytes = w->data;
  for (size_t m = 0; m < rows; ++m) {
    int64_t abs_sum = 0;
    for (size_t i = 0; i < k; ++i) {
      const size_t idx = m * k + i;
      int v;
      if (s4) {
        const int nibble = (bytes[idx / 2] >> (4 * (idx % 2))) & 0xF;
        v = nibble >= 8 ? nibble - 16 : nibble;
      } else {
        v = ((const int8_t *)w->data)[idx];
      }
      pnn_status st = check_weight_value(node, op, v, m, limit, error);
      if (st != PNN_OK) return st;
      dst[idx] = (int8_t)v;
      abs_sum += v < 0 ? -v : v;
    }
    pnn_status st = check_weight_row(node, op, m, bias[m], abs_sum, error);
    if (st != PNN_OK) return st;
  }
  return PNN_OK;
}

/* The stored values of a group-sparse W under the same contract as load_weights. */
static pnn_status check_sparse_weights(const pnn_node *node, const char *op, const pnn_sparse_s8 *w,
                                       const int32_t *bias, pnn_error *error) {
  const size_t G = w->group;
  const int8_t *val = w->values;
  for (size_t g = 0; g < w->n_groups; ++g) {
    const size_t nnz = w->group_nnz[g];
    for (size_t r = 0; r < G && g * G + r < w->rows; ++r) {
      const size_t m = g * G + r;
      int64_t abs_sum = 0;
      for (size_t j = 0; j < nnz; ++j) {
        const int v = val[j * G + r];
        pnn_status st = check_weight_value(node, op, v, m, 127, error);
        if (st != PNN_OK) return st;
        abs_sum += v < 0 ? -v : v;
      }
      pnn_status st = check_weight_row(node, op, m, bias[m], abs_sum, error);
      if (st != PNN_OK) return st;
    }
    val += nnz * G;
  }
  return PNN_OK;
}

/* W must be a dense s8 or s4 constant of `numel` elements, or a group-sparse s8 one
 * (its blob was validated at load). */
static pnn_status check_weight_tensor(const pnn_node *node, const char *op, const pnn_tensor *w,
                                      pnn_error *error) {
  if (w->dtype != PNN_DTYPE_S8 && w->dtype != PNN_DTYPE_S4) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): W \"%s\" must be s8 or s4", node->name,
                         op, w->name);
  }
  if (w->kind == PNN_TENSOR_CONSTANT && pnn_tensor_is_sparse(w) && w->data != NULL) {
    return PNN_OK; /* only s8 can be stored group-sparse (pnn_sparse_validate) */
  }
  if (w->kind != PNN_TENSOR_CONSTANT || w->encoding != PNN_ENCODING_DENSE || w->data == NULL) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): W \"%s\" must be a dense constant",
                         node->name, op, w->name);
  }
  const size_t bytes = w->dtype == PNN_DTYPE_S4 ? (w->numel + 1) / 2 : w->numel;
  if (w->nbytes != bytes) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (%s): W \"%s\" holds %zu bytes, expected %zu",
                         node->name, op, w->name, w->nbytes, bytes);
  }
  return PNN_OK;
}

/* Checks the shared inputs (B, multiplier, shift: M entries) and the output attributes;
 * the GEMM depth bound of docs/QUANTIZATION.md. */
static pnn_status check_common(const pnn_model *model, const pnn_node *node, const char *op, size_t m,
                               size_t k, qconv_params *p, pnn_error *error) {
  const pnn_tensor *b = pnn_input_tensor(model, node, 2);
  pnn_status st;
  if ((st = pnn_q_check_s32_vector(node, op, b, "B", m, error)) != PNN_OK ||
      (st = pnn_q_check_requant(node, op, pnn_input_tensor(model, node, 3), pnn_input_tensor(model, node, 4), m,
                                error)) != PNN_OK ||
      (st = pnn_q_attr_output(node, op, &p->rq, error)) != PNN_OK) {
    return st;
  }
  if ((int64_t)k * 255 * 127 > PNN_Q_INT32_MAX) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                         "node \"%s\" (%s): reduction of %zu terms can overflow int32 (at most 66311)",
                         node->name, op, k);
  }
  int64_t x_zp = 0;
  if ((st = pnn_q_attr_int(node, op, "x_zero_point", 0, 255, &x_zp, error)) != PNN_OK) return st;
  p->x_zero_point = (uint8_t)x_zp;
  p->bias = b->data;
  p->rq.multiplier = pnn_input_tensor(model, node, 3)->data;
  p->rq.shift = pnn_input_tensor(model, node, 4)->data;
  return PNN_OK;
}

/* Sparse W: used in place from the model buffer, or, when `crop` drops taps that only
 * read padding, a copy of the kept entries after the params with the bias that adds
 * what the dropped taps read (x_zero_point times their weights): the same int32 sums. */
static pnn_status finish_sparse(pnn_node *node, const char *op, qconv_params *p, const pnn_conv_crop *crop,
                                size_t scratch, pnn_error *error) {
  pnn_status st = check_sparse_weights(node, op, &p->sparse, p->bias, error);
  if (st != PNN_OK) return st;
  const pnn_conv_sparse_layout full = {p->sparse.rows, p->sparse.group, p->sparse.n_groups, 1,
                                       p->sparse.group_nnz, p->sparse.indices, p->sparse.values};
  size_t head, weights = 0, bias_bytes = 0, total;
  if (!pnn_nn_align(sizeof(qconv_params), &head) ||
      (crop->cropped && (!pnn_conv_crop_sparse_bytes(crop, &p->geom, &full, &weights) ||
                         !pnn_nn_mul(p->out_c, sizeof(int32_t), &bias_bytes))) ||
      !pnn_nn_add(head, weights, &total) || !pnn_nn_add(total, bias_bytes, &total)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): weights too large", node->name, op);
  }
  qconv_params *params = malloc(total);
  int64_t *sums = crop->cropped ? malloc(p->out_c * sizeof(int64_t)) : NULL; /* out_c <= numel of W */
  if (!params || (crop->cropped && !sums)) {
    free(params);
    free(sums);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (%s): out of memory", node->name, op);
  }
  if (crop->cropped) {
    pnn_conv_sparse_layout kept;
    pnn_conv_crop_sparse(crop, &p->geom, &full, (char *)params + head, &kept, sums);
    /* check_sparse_weights bounds |bias| + 255 * sum|w| by INT32_MAX: every sum fits. */
    int32_t *bias = (int32_t *)((char *)params + head + weights);
    for (size_t m = 0; m < p->out_c; ++m) bias[m] = (int32_t)(p->bias[m] + (int64_t)p->x_zero_point * sums[m]);
    free(sums);
    p->bias = bias;
    p->geom = crop->geom;
    p->k = p->in_c_group * crop->geom.kernel_h * crop->geom.kernel_w;
    p->sparse.cols = p->k;
    p->sparse.group_nnz = kept.group_nnz;
    p->sparse.indices = kept.indices;
    p->sparse.values = kept.values;
  }
  *params = *p;
  node->params = params;
  node->scratch_bytes = scratch;
  return PNN_OK;
}

/* Allocates the params with `extra` bytes of 64-byte aligned prepared weights after
 * them, and fills the weights: dwconv copies, GEMM paths pack each group; sparse W
 * (QGemm) as finish_sparse, uncropped. */
static pnn_status finish_prepare(pnn_node *node, const char *op, const pnn_tensor *w, qconv_params *p,
                                 size_t scratch, pnn_error *error) {
  if (p->path == QCONV_PATH_SPARSE) {
    const pnn_conv_crop whole = {.cropped = false};
    return finish_sparse(node, op, p, &whole, scratch, error);
  }
  const size_t rows = p->out_c, k = p->k;
  size_t total, extra = 0;
  if (!pnn_nn_mul(rows, k, &total)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): weights too large", node->name, op);
  }
  if (p->path == QCONV_PATH_WINOGRAD) {
    extra = pnn_s8_wino2_pack_size(p->out_c, p->in_c);
  } else if (p->path != QCONV_PATH_DWCONV) {
    if (!pnn_nn_align(p->gemm->pack_size(p->out_c_group, k), &p->packed_stride) ||
        !pnn_nn_mul(p->packed_stride, p->groups, &extra)) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): weights too large", node->name, op);
    }
  } else {
    extra = total;
  }
  size_t head;
  if (!pnn_nn_align(sizeof(qconv_params), &head) || !pnn_nn_add(head, extra, &head) ||
      !pnn_nn_add(head, PNN_NN_ALIGN, &head)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): weights too large", node->name, op);
  }
  qconv_params *params = malloc(head);
  int8_t *plain = p->path == QCONV_PATH_DWCONV ? NULL : malloc(total ? total : 1);
  if (!params || (p->path != QCONV_PATH_DWCONV && !plain)) {
    free(params);
    free(plain);
    return pnn_set_error(error, PNN_ERR_OUT_OF_MEMORY, "node \"%s\" (%s): out of memory", node->name, op);
  }
  /* malloc only promises 16-byte alignment; the packed weights need 64. */
  uintptr_t base = (uintptr_t)params + sizeof(qconv_params);
  uint8_t *weights = (uint8_t *)((base + PNN_NN_ALIGN - 1) & ~(uintptr_t)(PNN_NN_ALIGN - 1));
  int8_t *dst = p->path == QCONV_PATH_DWCONV ? (int8_t *)weights : plain;
  pnn_status st = load_weights(node, op, w, p->bias, rows, k, dst, error);
  if (st != PNN_OK) {
    free(params);
    free(plain);
    return st;
  }
  if (p->path == QCONV_PATH_DWCONV) {
    p->dw_weights = (const int8_t *)weights;
  } else if (p->path == QCONV_PATH_WINOGRAD) {
    pnn_s8_wino2_pack(p->out_c, p->in_c, plain, weights);
    p->packed = weights;
    free(plain);
  } else {
    for (size_t g = 0; g < p->groups; ++g)
      p->gemm->pack(p->out_c_group, k, plain + g * p->out_c_group * k, weights + g * p->packed_stride);
    p->packed = weights;
    free(plain);
  }
  *params = *p;
  node->params = params;
  node->scratch_bytes = scratch;
  return PNN_OK;
}

/* Scratch of one GEMM task of `chunk` columns: the GEMM's own, then (im2col) the
 * unfolded [K][chunk] block. */
static bool gemm_scratch(qconv_params *p, bool unfold, size_t *scratch) {
  size_t cols = 0;
  if (!pnn_nn_align(p->gemm->scratch_size(p->chunk, p->k), &p->gemm_scratch)) return false;
  if (unfold && (!pnn_nn_mul(p->k, p->chunk, &cols) || !pnn_nn_align(cols, &cols))) return false;
  return pnn_nn_add(p->gemm_scratch, cols, scratch);
}

/* Inputs and output of QConv/QGemm: u8 X and Y, a valid weight tensor of `rank`; X of
 * `rank` too, or (x_rows: QGemm, format 1.5) of any rank >= `rank`, read as rows of K. */
static pnn_status check_weighted_io(const pnn_model *model, const pnn_node *node, const char *op, int rank,
                                    bool x_rows, const pnn_tensor **x, const pnn_tensor **w,
                                    const pnn_tensor **y, pnn_error *error) {
  pnn_status st = pnn_check_io(model, node, 5, 5, 1, 1, true, error);
  if (st != PNN_OK) return st;
  *x = pnn_input_tensor(model, node, 0);
  *w = pnn_input_tensor(model, node, 1);
  *y = pnn_output_tensor(model, node, 0);
  if ((st = pnn_q_check_dtype(node, op, *x, "X", PNN_DTYPE_U8, "u8", error)) != PNN_OK ||
      (st = pnn_q_check_dtype(node, op, *y, "Y", PNN_DTYPE_U8, "u8", error)) != PNN_OK ||
      (st = check_weight_tensor(node, op, *w, error)) != PNN_OK) {
    return st;
  }
  if ((x_rows ? (*x)->rank < rank : (*x)->rank != rank) || (*w)->rank != rank) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): X and W must have rank %d%s (have %d, %d)",
                         node->name, op, rank, x_rows ? " (X: at least)" : "", (*x)->rank, (*w)->rank);
  }
  if ((st = pnn_nn_check_dims(node, *x, "X", error)) != PNN_OK) return st;
  return pnn_nn_check_dims(node, *w, "W", error);
}

/* Output columns per task: about QCONV_COLS_BUDGET bytes of unfolded X (depth k),
 * within [QCONV_MIN_CHUNK, QCONV_MAX_CHUNK], rounded down to a multiple of `multiple`
 * (at most QCONV_MIN_CHUNK), at most out_hw. */
static size_t column_chunk(size_t k, size_t out_hw, size_t multiple) {
  size_t chunk = QCONV_COLS_BUDGET / k;
  chunk = chunk < QCONV_MIN_CHUNK ? QCONV_MIN_CHUNK : (chunk > QCONV_MAX_CHUNK ? QCONV_MAX_CHUNK : chunk);
  chunk -= chunk % multiple;
  return chunk < out_hw ? chunk : out_hw;
}

/* The view of a group-sparse W of `p->out_c` rows of `p->k` columns. */
static pnn_status sparse_weights(const pnn_node *node, const char *op, const pnn_tensor *w, qconv_params *p,
                                 pnn_error *error) {
  if (pnn_tensor_sparse_s8_view(w, &p->sparse) != PNN_OK || p->sparse.rows != p->out_c ||
      p->sparse.cols != p->k) {
    return pnn_set_error(error, PNN_ERR_FORMAT, "node \"%s\" (%s): group-sparse W does not match its shape",
                         node->name, op);
  }
  return PNN_OK;
}

static const char *select_spmm(const pnn_model *model, qconv_params *p) {
  const char *isa = "scalar";
  p->spmm = pnn_u8_spmm_select(&model->cpu, &isa);
  return PNN_KERNEL_NAME("u8spmm", isa);
}

/* 2x2 output tiles of a Winograd layer (partial tiles at the right and bottom edges). */
static size_t winograd_tiles(const pnn_conv2d_geometry *g) { return ((g->out_h + 1) / 2) * ((g->out_w + 1) / 2); }

/* The Winograd path when the layer qualifies and a variant beats the GEMM on this CPU:
 * tiles per task within QCONV_WINO_V_BUDGET (a multiple of the variant's micro-tile)
 * and the scratch of the largest chunk (winograd_start rounds a chunk up by less than
 * a micro-tile). */
static bool choose_winograd(const pnn_model *model, const pnn_tensor *w, qconv_params *p, size_t *scratch,
                            const char **name) {
  const pnn_conv2d_geometry *g = &p->geom;
  if (p->groups != 1 || w->dtype != PNN_DTYPE_S8 || g->kernel_h != 3 || g->kernel_w != 3 || g->stride_h != 1 ||
      g->stride_w != 1 || g->dilation_h != 1 || g->dilation_w != 1 || p->in_c > PNN_S8_WINO2_MAX_CHANNELS) {
    return false;
  }
  const pnn_s8_wino2_kernel *wino = pnn_s8_wino2_select(&model->cpu);
  const size_t tiles = winograd_tiles(g);
  /* 16 products per tile (tiles in whole vectors) against the GEMM's 9 per pixel, with
   * a margin of 1.2 for the transforms (Zen 4, AVX2, C = M = 512: 7 x 7 and 6 x 6 win
   * 1.4x and 1.15x, 5 x 5 and smaller lose 1.25-1.9x). */
  const size_t padded = pnn_nn_div_up(tiles, QCONV_WINO_LANES) * QCONV_WINO_LANES;
  if (!wino || p->in_c < QCONV_WINO_MIN_CHANNELS || p->out_c < QCONV_WINO_MIN_CHANNELS ||
      5 * 9 * g->out_h * g->out_w < 6 * 16 * padded) {
    return false;
  }
  const size_t block = wino->tile_block;
  size_t chunk = QCONV_WINO_V_BUDGET / (16 * 4 * pnn_nn_div_up(p->in_c, 2));
  chunk = chunk < block ? block : chunk - chunk % block;
  const size_t largest = chunk + block - 1 < tiles ? chunk + block - 1 : tiles;
  if (!pnn_nn_align(wino->scratch_size(p->in_c, largest), scratch)) return false;
  p->wino = wino;
  p->chunk = chunk < tiles ? chunk : tiles;
  p->path = QCONV_PATH_WINOGRAD;
  *name = PNN_KERNEL_NAME("s8wino2", wino->name);
  return true;
}

/* The attributes and shapes of a 2-D integer convolution (QConv, ConvInteger: X
 * [N, C, H, W], W [M, C/group, kh, kw]); checks the output shape [N, M, oh, ow]. */
pnn_status pnn_q_conv_shape(const pnn_model *model, const pnn_node *node, const char *op, const pnn_tensor *x,
                            const pnn_tensor *w, pnn_q_conv_layout *out, pnn_error *error) {
  pnn_status st;
  int64_t group = 1, strides[2] = {0}, dilations[2] = {0}, pads[4] = {0};
  if ((st = pnn_q_attr_int(node, op, "group", 1, PNN_NN_MAX_ATTR, &group, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "strides", 2, false, 1, NULL, 1, strides, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "dilations", 2, false, 1, NULL, 1, dilations, error)) != PNN_OK ||
      (st = pnn_nn_attr_spatial(node, "pads", 4, false, 0, NULL, 0, pads, error)) != PNN_OK) {
    return st;
  }
  const int64_t n = x->dims[0], c = x->dims[1], h = x->dims[2], wd = x->dims[3];
  const int64_t m = w->dims[0], c_group = w->dims[1], kh = w->dims[2], kw = w->dims[3];
  if (c % group != 0 || m % group != 0 || c_group != c / group) {
    return pnn_set_error(error, PNN_ERR_SHAPE,
                         "node \"%s\" (%s): X has %lld channels, W [%lld, %lld, ...]: not %lld groups",
                         node->name, op, (long long)c, (long long)m, (long long)c_group, (long long)group);
  }
  if (kh > PNN_NN_MAX_ATTR || kw > PNN_NN_MAX_ATTR) {
    return pnn_set_error(error, PNN_ERR_UNSUPPORTED, "node \"%s\" (%s): kernel too large", node->name, op);
  }
  /* Bounded attributes and dims (<= 2^40) keep these int64 expressions exact. */
  const int64_t eff_kh = dilations[0] * (kh - 1) + 1, eff_kw = dilations[1] * (kw - 1) + 1;
  const int64_t padded_h = h + pads[0] + pads[2], padded_w = wd + pads[1] + pads[3];
  if (padded_h < eff_kh || padded_w < eff_kw) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (%s): kernel larger than the padded input",
                         node->name, op);
  }
  const int64_t oh = (padded_h - eff_kh) / strides[0] + 1, ow = (padded_w - eff_kw) / strides[1] + 1;
  const int64_t out_dims[4] = {n, m, oh, ow};
  if ((st = pnn_check_output_shape(model, node, 0, 4, out_dims, error)) != PNN_OK) return st;
  out->group = group;
  out->geom = pnn_nn_conv_geometry((size_t)c_group, h, wd, oh, ow, kh, kw, strides, dilations, pads);
  out->direct = kh == 1 && kw == 1 && strides[0] == 1 && strides[1] == 1 && pads[0] == 0 && pads[1] == 0 &&
                pads[2] == 0 && pads[3] == 0;
  return PNN_OK;
}

pnn_status pnn_op_qconv_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  const char *op = "QConv";
  const pnn_tensor *x, *w, *y;
  pnn_status st = check_weighted_io(model, node, op, 4, false, &x, &w, &y, error);
  if (st != PNN_OK) return st;

  pnn_q_conv_layout layout;
  if ((st = pnn_q_conv_shape(model, node, op, x, w, &layout, error)) != PNN_OK) return st;
  const int64_t group = layout.group, n = x->dims[0], c = x->dims[1], m = w->dims[0], c_group = w->dims[1];
  const int64_t kh = w->dims[2], kw = w->dims[3];
  qconv_params p;
  memset(&p, 0, sizeof(p));
  p.batch = (size_t)n;
  p.groups = (size_t)group;
  p.in_c = (size_t)c;
  p.out_c = (size_t)m;
  p.in_c_group = (size_t)c_group;
  p.out_c_group = (size_t)(m / group);
  p.k = (size_t)(c_group * kh * kw); /* c_group * kh * kw <= numel of W */
  if ((st = check_common(model, node, op, p.out_c, p.k, &p, error)) != PNN_OK) return st;
  p.geom = layout.geom;

  size_t scratch = 0;
  const size_t out_hw = p.geom.out_h * p.geom.out_w;
  const bool direct = layout.direct;
  if (pnn_tensor_is_sparse(w)) {
    if (group != 1) {
      return pnn_set_error(error, PNN_ERR_UNSUPPORTED,
                           "node \"%s\" (QConv): group-sparse weights need group = 1 (got %lld)", node->name,
                           (long long)group);
    }
    if ((st = sparse_weights(node, op, w, &p, error)) != PNN_OK) return st;
    p.path = QCONV_PATH_SPARSE;
    p.sparse_unfold = !direct;
    node->kernel = select_spmm(model, &p);
    /* Only the taps that can touch the image are unfolded (see conv_crop.h). */
    const pnn_conv_crop crop = direct ? (pnn_conv_crop){.cropped = false} : pnn_conv_crop_taps(&p.geom);
    const size_t kept_k = direct ? p.k : p.in_c_group * crop.geom.kernel_h * crop.geom.kernel_w;
    p.chunk = column_chunk(kept_k, out_hw, QCONV_SPARSE_TILE);
    if (!direct && (!pnn_nn_mul(kept_k, p.chunk, &scratch) || !pnn_nn_align(scratch, &scratch))) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (QConv): scratch too large (%zu rows)",
                           node->name, kept_k);
    }
    return finish_sparse(node, op, &p, &crop, scratch, error);
  } else if (group == c && group == m) {
    p.path = QCONV_PATH_DWCONV;
    p.geom.channels = p.in_c;
    const char *isa = "scalar";
    p.dwconv = pnn_s8_dwconv_select(&model->cpu, &isa);
    node->kernel = PNN_KERNEL_NAME("s8dwconv", isa);
  } else if (direct || !choose_winograd(model, w, &p, &scratch, &node->kernel)) {
    p.path = direct ? QCONV_PATH_DIRECT : QCONV_PATH_IM2COL;
    p.gemm = select_gemm(model, w, &p, &node->kernel);
    p.chunk = column_chunk(p.k, out_hw, QCONV_GEMM_TILE);
    if (!gemm_scratch(&p, !direct, &scratch)) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (QConv): scratch too large", node->name);
    }
  }
  return finish_prepare(node, op, w, &p, scratch, error);
}

pnn_status pnn_op_qgemm_prepare(pnn_model *model, pnn_node *node, pnn_error *error) {
  const char *op = "QGemm";
  const pnn_tensor *x, *w, *y;
  pnn_status st = check_weighted_io(model, node, op, 2, true, &x, &w, &y, error);
  if (st != PNN_OK) return st;
  const int last = x->rank - 1;
  if (x->dims[last] != w->dims[1]) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (QGemm): X has %lld columns, W %lld", node->name,
                         (long long)x->dims[last], (long long)w->dims[1]);
  }
  int64_t out_dims[PNN_MAX_RANK];
  int64_t rows = 1; /* checked dims (<= 2^40 each) of a tensor that exists: numel bounds the product */
  for (int i = 0; i < last; ++i) rows *= out_dims[i] = x->dims[i];
  out_dims[last] = w->dims[0];
  if ((st = pnn_check_output_shape(model, node, 0, x->rank, out_dims, error)) != PNN_OK) return st;

  qconv_params p;
  memset(&p, 0, sizeof(p));
  p.batch = (size_t)rows;
  p.groups = 1;
  p.in_c = p.in_c_group = p.k = (size_t)x->dims[last];
  p.out_c = p.out_c_group = (size_t)w->dims[0];
  p.path = QCONV_PATH_DIRECT;
  p.chunk = 1;
  if ((st = check_common(model, node, op, p.out_c, p.k, &p, error)) != PNN_OK) return st;
  size_t scratch = 0;
  if (pnn_tensor_is_sparse(w)) {
    if ((st = sparse_weights(node, op, w, &p, error)) != PNN_OK) return st;
    p.path = QCONV_PATH_SPARSE;
    node->kernel = select_spmm(model, &p);
    /* N > 1: X^T [K][N], then Y^T [M][N]. */
    size_t xt, yt;
    if (p.batch > 1 && (!pnn_nn_mul(p.k, p.batch, &xt) || !pnn_nn_align(xt, &xt) ||
                        !pnn_nn_mul(p.out_c, p.batch, &yt) || !pnn_nn_add(xt, yt, &scratch))) {
      return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (QGemm): scratch too large", node->name);
    }
    return finish_prepare(node, op, w, &p, scratch, error);
  }
  p.gemm = select_gemm(model, w, &p, &node->kernel);
  /* Several rows: the rows path (qgemm_rows_task) runs the GEMM's panels on chunks of
   * X^T, with Y^T of the chunk after X^T in the scratch. */
  size_t yt = 0;
  if (p.batch > 1) p.chunk = column_chunk(p.k, p.batch, 1);
  if (!gemm_scratch(&p, p.batch > 1, &scratch) || !pnn_nn_mul(p.out_c, p.chunk, &yt) ||
      !pnn_nn_add(scratch, p.batch > 1 ? yt : 0, &scratch)) {
    return pnn_set_error(error, PNN_ERR_SHAPE, "node \"%s\" (QGemm): scratch too large", node->name);
  }
  return finish_prepare(node, op, w, &p, scratch, error);
}

typedef struct qconv_job {
  const qconv_params *p;
  const uint8_t *x;
  uint8_t *y;
  const pnn_run_context *ctx;
  size_t col_chunks, row_chunks, row_step; /* gemm task grid */
  size_t dw_chunks, dw_step;               /* dwconv task grid */
} qconv_job;

/* Row ranges (or, for a sparse W, ranges of its row groups) so that few column tasks
 * still give every thread work; range starts are multiples of `block` (the GEMM's
 * packed row block; 1 for groups). */
static void split_rows(qconv_job *job, size_t units, size_t rows, size_t block) {
  const size_t threads = pnn_threadpool_size(job->ctx->pool);
  const size_t chunks = threads > 1 && units < 2 * threads ? pnn_nn_div_up(2 * threads, units) : 1;
  job->row_step = pnn_nn_div_up(pnn_nn_div_up(rows, chunks), block) * block;
  job->row_chunks = pnn_nn_div_up(rows, job->row_step);
}

/* The GEMM path's column chunks: as many as the scratch needs (p->chunk columns each
 * at most), with several threads and several chunks rounded up to a multiple of the
 * threads so that they share out evenly (one chunk stays one: a small image splits rows
 * instead and reads its weights once). */
static void split_columns(qconv_job *job, size_t out_hw) {
  const size_t threads = pnn_threadpool_size(job->ctx->pool);
  size_t chunks = pnn_nn_div_up(out_hw, job->p->chunk);
  const size_t tiles = out_hw / QCONV_GEMM_TILE;
  if (threads > 1 && chunks > 1 && pnn_nn_div_up(chunks, threads) * threads <= tiles)
    chunks = pnn_nn_div_up(chunks, threads) * threads;
  job->col_chunks = chunks;
}

/* First column of GEMM chunk cc (cc == col_chunks: out_hw): equal shares of out_hw with
 * the inner bounds rounded up to a QCONV_GEMM_TILE multiple. A chunk is then at most
 * p->chunk columns (a multiple of the tile, or out_hw when there is one chunk), and
 * none is empty (with two chunks or more a share is at least one tile). */
static size_t column_start(const qconv_job *job, size_t out_hw, size_t cc) {
  if (cc >= job->col_chunks) return out_hw;
  return pnn_nn_div_up(cc * out_hw / job->col_chunks, QCONV_GEMM_TILE) * QCONV_GEMM_TILE;
}

/* unfold_columns for stride 1, dilation 1 and out_w == in_w (the "same" 3x3 and 1xk
 * convolutions): tap (i, j) of flat output p = oy * out_w + ox reads flat input p +
 * di * in_w + dj (di = i - pad_top, dj = j - pad_left) when that lands in the image.
 * So a row is one memcpy over the output rows whose input row exists, then the at most
 * |dj| columns per output row that wrapped to a neighbouring row are reset to the zero
 * point: a few calls per row instead of one per output row (ResNet-18's 64 x 56 x 56
 * unfold took 0.15 ms, most of it in per-row calls). */
static void unfold_columns_same(const pnn_conv2d_geometry *g, const uint8_t *x, uint8_t zero_point, size_t first,
                                size_t count, uint8_t *cols) {
  const ptrdiff_t out_w = (ptrdiff_t)g->out_w, plane = (ptrdiff_t)(g->in_h * g->in_w);
  const ptrdiff_t begin = (ptrdiff_t)first, end = (ptrdiff_t)(first + count);
  for (size_t c = 0; c < g->channels; ++c) {
    const uint8_t *xc = x + c * g->in_h * g->in_w;
    for (size_t i = 0; i < g->kernel_h; ++i) {
      const ptrdiff_t di = (ptrdiff_t)i - (ptrdiff_t)g->pad_top;
      /* Output rows [oy_lo, oy_hi) read an input row (oy + di inside [0, in_h)). */
      ptrdiff_t oy_lo = di < 0 ? -di : 0, oy_hi = (ptrdiff_t)g->in_h - di;
      if (oy_hi > (ptrdiff_t)g->out_h) oy_hi = (ptrdiff_t)g->out_h;
      if (oy_hi < oy_lo) oy_hi = oy_lo;
      for (size_t j = 0; j < g->kernel_w; ++j) {
        const ptrdiff_t dj = (ptrdiff_t)j - (ptrdiff_t)g->pad_left, shift = di * (ptrdiff_t)g->in_w + dj;
        uint8_t *row = cols + ((c * g->kernel_h + i) * g->kernel_w + j) * count;
        /* Flat outputs [lo, hi) copied: rows with an input row, clipped to the chunk and
         * to the plane (what the clip drops wraps around and is reset below anyway). */
        ptrdiff_t lo = oy_lo * out_w, hi = oy_hi * out_w;
        if (lo < begin) lo = begin;
        if (hi > end) hi = end;
        if (lo < -shift) lo = -shift;
        if (hi > plane - shift) hi = plane - shift;
        if (hi <= lo) {
          memset(row, zero_point, count);
          continue;
        }
        if (lo > begin) memset(row, zero_point, (size_t)(lo - begin));
        memcpy(row + (lo - begin), xc + (lo + shift), (size_t)(hi - lo));
        if (end > hi) memset(row + (hi - begin), zero_point, (size_t)(end - hi));
        if (dj == 0) continue;
        /* Columns whose tap is left (dj < 0) or right (dj > 0) of the image. */
        const ptrdiff_t edge_lo = dj < 0 ? 0 : out_w - dj, edge_hi = dj < 0 ? -dj : out_w;
        const ptrdiff_t e0 = edge_lo < 0 ? 0 : edge_lo, e1 = edge_hi > out_w ? out_w : edge_hi;
        for (ptrdiff_t oy = lo / out_w; oy * out_w < hi; ++oy) {
          ptrdiff_t a = oy * out_w + e0, b = oy * out_w + e1;
          if (a < lo) a = lo;
          if (b > hi) b = hi;
          for (ptrdiff_t q = a; q < b; ++q) row[q - begin] = zero_point; /* 1 or 2 bytes */
        }
      }
    }
  }
}

/* pnn_q_unfold_columns (q_common.h; also used by ConvInteger): columns [first, first +
 * count) of the im2col matrix of one group (rows c*kh*kw + i*kw + j), taps outside the
 * image reading zero_point. Each row is filled with the
 * zero point once, then output row by output row the columns whose tap lands inside
 * the image are copied (their range depends only on j, so it is computed once). */
void pnn_q_unfold_columns(const pnn_conv2d_geometry *g, const uint8_t *x, uint8_t zero_point, size_t first,
                           size_t count, uint8_t *cols) {
  if (g->stride_h == 1 && g->stride_w == 1 && g->dilation_h == 1 && g->dilation_w == 1 && g->out_w == g->in_w) {
    unfold_columns_same(g, x, zero_point, first, count, cols);
    return;
  }
  const size_t sw = g->stride_w, out_w = g->out_w;
  const size_t oy_first = first / out_w, ox_first = first % out_w;
  for (size_t c = 0; c < g->channels; ++c) {
    const uint8_t *xc = x + c * g->in_h * g->in_w;
    for (size_t i = 0; i < g->kernel_h; ++i) {
      for (size_t j = 0; j < g->kernel_w; ++j) {
        uint8_t *row = cols + ((c * g->kernel_h + i) * g->kernel_w + j) * count;
        memset(row, zero_point, count);
        /* Output columns [inside_lo, inside_hi) read tap column ox * sw + offset - pl inside [0, in_w):
         * none when the tap is right of the image already at ox = 0; a tap left of it at
         * ox = 0 may still reach it further right. */
        const size_t offset = j * g->dilation_w;
        size_t inside_lo = 0, inside_hi = 0;
        if (offset < g->in_w + g->pad_left) {
          inside_lo = g->pad_left > offset ? (g->pad_left - offset + sw - 1) / sw : 0;
          inside_hi = (g->in_w + g->pad_left - offset - 1) / sw + 1;
        }
        size_t oy = oy_first, ox = ox_first;
        for (size_t q = 0; q < count; oy += 1, ox = 0) {
          const size_t n = out_w - ox < count - q ? out_w - ox : count - q;
          const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top; /* wraps above the image */
          const size_t lo = inside_lo > ox ? inside_lo : ox, hi = inside_hi < ox + n ? inside_hi : ox + n;
          if (iy < g->in_h && hi > lo) {
            const uint8_t *src = xc + iy * g->in_w + (lo * sw + offset - g->pad_left);
            uint8_t *out = row + q + (lo - ox);
            if (sw == 1) {
              memcpy(out, src, hi - lo);
            } else if (sw == 2) { /* a constant stride, so the compiler vectorizes the gather */
              for (size_t t = 0; t < hi - lo; ++t) out[t] = src[2 * t];
            } else {
              for (size_t t = 0; t < hi - lo; ++t) out[t] = src[t * sw];
            }
          }
          q += n;
        }
      }
    }
  }
}

static void gemm_task(void *context, size_t task, size_t thread) {
  const qconv_job *job = context;
  const qconv_params *p = job->p;
  const pnn_conv2d_geometry *g = &p->geom;
  const size_t in_hw = g->in_h * g->in_w, out_hw = g->out_h * g->out_w;
  const size_t rc = task % job->row_chunks;
  size_t rest = task / job->row_chunks;
  const size_t cc = rest % job->col_chunks;
  rest /= job->col_chunks;
  const size_t grp = rest % p->groups, b = rest / p->groups;

  uint8_t *scratch = pnn_nn_thread_scratch(job->ctx, thread);
  const size_t col0 = column_start(job, out_hw, cc);
  const size_t cols = column_start(job, out_hw, cc + 1) - col0;
  const uint8_t *xg = job->x + (b * p->in_c + grp * p->in_c_group) * in_hw;
  const uint8_t *xs = xg + col0;
  size_t ldx = in_hw;
  if (p->path == QCONV_PATH_IM2COL) {
    uint8_t *unfolded = scratch + p->gemm_scratch;
    pnn_q_unfold_columns(g, xg, p->x_zero_point, col0, cols, unfolded);
    xs = unfolded;
    ldx = cols;
  }
  const size_t mg = grp * p->out_c_group;
  const size_t m_begin = rc * job->row_step;
  const size_t m_end = p->out_c_group - m_begin < job->row_step ? p->out_c_group : m_begin + job->row_step;
  pnn_requant rq = p->rq;
  rq.multiplier += mg;
  rq.shift += mg;
  p->gemm->run(p->out_c_group, cols, p->k, m_begin, m_end, p->packed + grp * p->packed_stride, xs, ldx,
               p->bias + mg, &rq, job->y + (b * p->out_c + mg) * out_hw + col0, out_hw, scratch);
}

/* First tile of Winograd chunk cc (cc == col_chunks: all tiles): equal shares rounded
 * up to the variant's micro-tile. */
static size_t winograd_start(const qconv_job *job, size_t tiles, size_t cc) {
  if (cc >= job->col_chunks) return tiles;
  const size_t block = job->p->wino->tile_block;
  const size_t start = pnn_nn_div_up(cc * tiles / job->col_chunks, block) * block;
  return start < tiles ? start : tiles;
}

static void winograd_task(void *context, size_t task, size_t thread) {
  const qconv_job *job = context;
  const qconv_params *p = job->p;
  const pnn_conv2d_geometry *g = &p->geom;
  const size_t tiles = winograd_tiles(g);
  const size_t rc = task % job->row_chunks, rest = task / job->row_chunks;
  const size_t cc = rest % job->col_chunks, b = rest / job->col_chunks;
  const size_t t0 = winograd_start(job, tiles, cc), t1 = winograd_start(job, tiles, cc + 1);
  const size_t m_begin = rc * job->row_step;
  const size_t m_end = p->out_c - m_begin < job->row_step ? p->out_c : m_begin + job->row_step;
  if (t1 == t0) return;
  p->wino->run(g, p->out_c, job->x + b * p->in_c * g->in_h * g->in_w, p->x_zero_point, t0, t1 - t0, m_begin,
               m_end, p->packed, p->bias, &p->rq, job->y + b * p->out_c * g->out_h * g->out_w,
               pnn_nn_thread_scratch(job->ctx, thread));
}

/* Tile chunks of the Winograd path: as many as the scratch needs, a multiple of the
 * threads when there are tiles enough (as split_columns), then row ranges. */
static void run_winograd(qconv_job *job) {
  const qconv_params *p = job->p;
  const size_t threads = pnn_threadpool_size(job->ctx->pool);
  const size_t tiles = winograd_tiles(&p->geom);
  size_t chunks = pnn_nn_div_up(tiles, p->chunk);
  if (threads > 1 && chunks > 1 && pnn_nn_div_up(chunks, threads) * threads * p->wino->tile_block <= tiles)
    chunks = pnn_nn_div_up(chunks, threads) * threads;
  job->col_chunks = chunks;
  const size_t units = p->batch * chunks;
  split_rows(job, units, p->out_c, PNN_S8_WINO2_ROW_BLOCK);
  pnn_parallel_for(job->ctx->pool, units * job->row_chunks, winograd_task, job);
}

static void dwconv_task(void *context, size_t task, size_t thread) {
  (void)thread;
  const qconv_job *job = context;
  const qconv_params *p = job->p;
  pnn_conv2d_geometry g = p->geom;
  const size_t in_hw = g.in_h * g.in_w, out_hw = g.out_h * g.out_w;
  const size_t chunk = task % job->dw_chunks, b = task / job->dw_chunks;
  const size_t c0 = chunk * job->dw_step;
  g.channels = p->in_c - c0 < job->dw_step ? p->in_c - c0 : job->dw_step;
  pnn_requant rq = p->rq;
  rq.multiplier += c0;
  rq.shift += c0;
  p->dwconv(&g, job->x + (b * p->in_c + c0) * in_hw, p->x_zero_point,
            p->dw_weights + c0 * g.kernel_h * g.kernel_w, p->bias + c0, &rq,
            job->y + (b * p->in_c + c0) * out_hw);
}

static void qgemm_task(void *context, size_t task, size_t thread) {
  const qconv_job *job = context;
  const qconv_params *p = job->p;
  const size_t rc = task % job->row_chunks, row = task / job->row_chunks;
  const size_t m_begin = rc * job->row_step;
  const size_t m_end = p->out_c - m_begin < job->row_step ? p->out_c : m_begin + job->row_step;
  void *scratch = pnn_nn_thread_scratch(job->ctx, thread);
  p->gemm->run(p->out_c, 1, p->k, m_begin, m_end, p->packed, job->x + row * p->k, 1, p->bias, &p->rq,
               job->y + row * p->out_c, 1, scratch);
}

/* An 8 x 8 byte tile transposed in eight 64-bit words: three rounds swap 1-, 2- and
 * 4-byte units between rows 1, 2 and 4 apart (byte c of a row word is column c: every
 * target pocketnn supports is little-endian, as the file format). */
static void transpose_8x8_u8(const uint8_t *src, size_t lds, uint8_t *dst, size_t ldd) {
  uint64_t a[8];
  for (int r = 0; r < 8; ++r) memcpy(&a[r], src + (size_t)r * lds, 8);
  static const uint64_t masks[3] = {0x00FF00FF00FF00FFull, 0x0000FFFF0000FFFFull, 0x00000000FFFFFFFFull};
  for (int round = 0, d = 1; round < 3; ++round, d *= 2) {
    const unsigned bits = 8u * (unsigned)d;
    for (int r = 0; r < 8; ++r) {
      if (r & d) continue;
      const uint64_t t = ((a[r] >> bits) ^ a[r + d]) & masks[round];
      a[r + d] ^= t;
      a[r] ^= t << bits;
    }
  }
  for (int c = 0; c < 8; ++c) memcpy(dst + (size_t)c * ldd, &a[c], 8);
}

/* dst[c][r] = src[r][c] for a rows x cols block of src (row stride lds) into dst (row
 * stride ldd): whole 8 x 8 tiles in registers, the edges byte by byte. */
static void transpose_block_u8(const uint8_t *src, size_t lds, size_t rows, size_t cols, uint8_t *dst,
                               size_t ldd) {
  const size_t rows8 = rows - rows % 8, cols8 = cols - cols % 8;
  for (size_t r0 = 0; r0 < rows8; r0 += 8)
    for (size_t c0 = 0; c0 < cols8; c0 += 8) transpose_8x8_u8(src + r0 * lds + c0, lds, dst + c0 * ldd + r0, ldd);
  for (size_t c = 0; c < cols; ++c) {
    for (size_t r = c < cols8 ? rows8 : 0; r < rows; ++r) dst[c * ldd + r] = src[r * lds + c];
  }
}

/* QGemm over several rows: a chunk of rows of X, transposed to X^T [K][cols], through
 * the GEMM's panel path into Y^T [M][cols], then rows [m_begin, m_end) of it back into Y. */
static void qgemm_rows_task(void *context, size_t task, size_t thread) {
  const qconv_job *job = context;
  const qconv_params *p = job->p;
  const size_t rc = task % job->row_chunks, cc = task / job->row_chunks;
  const size_t n0 = cc * p->chunk, cols = p->batch - n0 < p->chunk ? p->batch - n0 : p->chunk;
  const size_t m_begin = rc * job->row_step;
  const size_t m_end = p->out_c - m_begin < job->row_step ? p->out_c : m_begin + job->row_step;
  uint8_t *scratch = pnn_nn_thread_scratch(job->ctx, thread);
  uint8_t *xt = scratch + p->gemm_scratch;
  uint8_t *yt = xt + pnn_nn_div_up(p->k * p->chunk, PNN_NN_ALIGN) * PNN_NN_ALIGN;
  transpose_block_u8(job->x + n0 * p->k, p->k, cols, p->k, xt, cols);
  p->gemm->run(p->out_c, cols, p->k, m_begin, m_end, p->packed, xt, cols, p->bias, &p->rq, yt, cols, scratch);
  transpose_block_u8(yt + m_begin * cols, cols, m_end - m_begin, cols, job->y + n0 * p->out_c + m_begin,
                     p->out_c);
}

/* Groups [g0, g0 + step) of the sparse W (clipped to its groups) over `pixels`
 * columns of channel-major x, into rows g0 * G.. of channel-major y. */
static void sparse_rows(const qconv_params *p, size_t g0, size_t step, size_t pixels, const uint8_t *x,
                        size_t ldx, uint8_t *y, size_t ldy) {
  const pnn_sparse_s8 *w = &p->sparse;
  const size_t G = w->group, g1 = w->n_groups - g0 < step ? w->n_groups : g0 + step;
  size_t first = 0; /* stored columns of the groups before g0 */
  for (size_t g = 0; g < g0; ++g) first += w->group_nnz[g];
  pnn_sparse_s8 part = *w;
  const size_t m0 = g0 * G;
  part.n_groups = g1 - g0;
  part.rows = w->rows - m0 < part.n_groups * G ? w->rows - m0 : part.n_groups * G;
  part.group_nnz += g0;
  part.indices += first;
  part.values += first * G;
  pnn_requant rq = p->rq;
  rq.multiplier += m0;
  rq.shift += m0;
  p->spmm(&part, pixels, x, ldx, p->bias + m0, &rq, y + m0 * ldy, ldy);
}

static void sparse_conv_task(void *context, size_t task, size_t thread) {
  const qconv_job *job = context;
  const qconv_params *p = job->p;
  const pnn_conv2d_geometry *g = &p->geom;
  const size_t in_hw = g->in_h * g->in_w, out_hw = g->out_h * g->out_w;
  const size_t rc = task % job->row_chunks, rest = task / job->row_chunks;
  const size_t cc = rest % job->col_chunks, b = rest / job->col_chunks;
  const size_t col0 = cc * p->chunk;
  const size_t cols = out_hw - col0 < p->chunk ? out_hw - col0 : p->chunk;
  const uint8_t *xb = job->x + b * p->in_c * in_hw;
  const uint8_t *xs = xb + col0;
  size_t ldx = in_hw;
  if (p->sparse_unfold) {
    uint8_t *unfolded = pnn_nn_thread_scratch(job->ctx, thread);
    pnn_q_unfold_columns(g, xb, p->x_zero_point, col0, cols, unfolded);
    xs = unfolded;
    ldx = cols;
  }
  sparse_rows(p, rc * job->row_step, job->row_step, cols, xs, ldx, job->y + b * p->out_c * out_hw + col0, out_hw);
}

/* QGemm with a sparse W: X^T [K][N] is the SpMM's channel-major input (X itself when
 * N = 1), Y^T [M][N] its output. */
static void sparse_gemm_task(void *context, size_t task, size_t thread) {
  (void)thread;
  const qconv_job *job = context;
  sparse_rows(job->p, task * job->row_step, job->row_step, job->p->batch, job->x, job->p->batch, job->y,
              job->p->batch);
}

static void transpose_u8(const uint8_t *src, size_t rows, size_t cols, uint8_t *dst) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
  }
}

static void run_sparse_gemm(qconv_job *job) {
  const qconv_params *p = job->p;
  uint8_t *y = job->y;
  if (p->batch > 1) {
    uint8_t *xt = job->ctx->scratch;
    transpose_u8(job->x, p->batch, p->k, xt);
    job->x = xt;
    job->y = xt + pnn_nn_div_up(p->k * p->batch, PNN_NN_ALIGN) * PNN_NN_ALIGN;
  }
  split_rows(job, 1, p->sparse.n_groups, 1);
  pnn_parallel_for(job->ctx->pool, job->row_chunks, sparse_gemm_task, job);
  if (p->batch > 1) transpose_u8(job->y, p->out_c, p->batch, y);
}

static qconv_job new_job(const qconv_params *p, const void *const *in, void *const *out,
                         const pnn_run_context *ctx) {
  qconv_job job;
  memset(&job, 0, sizeof(job));
  job.p = p;
  job.x = in[0];
  job.y = out[0];
  job.ctx = ctx;
  return job;
}

void pnn_op_qconv_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                      void *const *out, const pnn_run_context *ctx) {
  (void)model;
  const qconv_params *p = node->params;
  qconv_job job = new_job(p, in, out, ctx);
  const size_t threads = pnn_threadpool_size(ctx->pool);
  if (p->path == QCONV_PATH_DWCONV) {
    /* Channels are independent: chunks only balance the threads. */
    const pnn_nn_split dw = pnn_nn_split_units(threads, QCONV_DW_TASKS_PER_THREAD, p->in_c, 1);
    job.dw_step = dw.step;
    job.dw_chunks = dw.count;
    pnn_parallel_for(ctx->pool, p->batch * job.dw_chunks, dwconv_task, &job);
    return;
  }
  const size_t out_hw = p->geom.out_h * p->geom.out_w;
  if (p->path == QCONV_PATH_SPARSE) {
    job.col_chunks = pnn_nn_div_up(out_hw, p->chunk);
    const size_t units = p->batch * p->groups * job.col_chunks;
    split_rows(&job, units, p->sparse.n_groups, 1);
    pnn_parallel_for(ctx->pool, units * job.row_chunks, sparse_conv_task, &job);
    return;
  }
  if (p->path == QCONV_PATH_WINOGRAD) {
    run_winograd(&job);
    return;
  }
  split_columns(&job, out_hw);
  const size_t units = p->batch * p->groups * job.col_chunks;
  split_rows(&job, units, p->out_c_group, p->gemm->row_block);
  pnn_parallel_for(ctx->pool, units * job.row_chunks, gemm_task, &job);
}

void pnn_op_qgemm_run(const pnn_model *model, const pnn_node *node, const void *const *in,
                      void *const *out, const pnn_run_context *ctx) {
  (void)model;
  const qconv_params *p = node->params;
  qconv_job job = new_job(p, in, out, ctx);
  if (p->path == QCONV_PATH_SPARSE) {
    run_sparse_gemm(&job);
    return;
  }
  if (p->batch > 1) {
    const size_t chunks = pnn_nn_div_up(p->batch, p->chunk);
    split_rows(&job, chunks, p->out_c, p->gemm->row_block);
    pnn_parallel_for(ctx->pool, chunks * job.row_chunks, qgemm_rows_task, &job);
    return;
  }
  split_rows(&job, 1, p->out_c, p->gemm->row_block);
  pnn_parallel_for(ctx->pool, job.row_chunks, qgemm_task, &job);
}
