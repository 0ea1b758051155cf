/* The one driver of the binary GEMM and convolution (contract in pnn_kernels_b1.h):
 * blocking, the bit-packed im2col panel, the zero-padding correction and the output
 * transform. Included by each ISA file after it defines
 *   B1_ROWS, B1_PIXELS  the micro-tile (rows = output channels, pixels in vector lanes;
 *                       B1_ROWS divides 64 so a tile never straddles an output word)
 *   b1_tile(kw, w, panel, counts)
 *                       counts[r * B1_PIXELS + p] = sum_k popcount(w[r][k] xor
 *                       panel[k * B1_PIXELS + p]) for r < B1_ROWS, p < B1_PIXELS
 * and optionally (else a portable loop below is used)
 *   b1_delta(words, word, mask, wp, panel, d, from, to)
 *                       to[p] = from[p] + d - 2 * sum_j popcount((panel[word[j] *
 *                       B1_PIXELS + p] xor wp[word[j]]) and mask[j]) for j < words,
 *                       p < B1_PIXELS (define B1_HAS_DELTA), the tree-delta step;
 * and then instantiates the kernel with PNN_B1_GEMM_KERNEL(symbol, "name"), so the ISA's
 * target pragma covers the driver too (the transform loops vectorize with it).
 *
 * Loop order: for each block of B1_PIXELS output pixels, the panel (the block's rows of
 * X, or its im2col taps, transposed so the block's pixels are adjacent for each k) is
 * built once, then every row tile of [m_begin, m_end) runs over it: the panel (kw * 8 *
 * B1_PIXELS bytes) stays in L1, the weights stream from L2.
 *
 * Zero padding: the panel holds 0 bits (+1) for a tap outside the image, so such a tap
 * adds popcount(w at that tap) = tap_pop to m; a border pixel subtracts it again (its
 * taps inside the image form a rectangle [i0, i1) x [j0, j1)) and takes K_eff = in-bounds
 * taps * channels. The panel step lists a border block's taps that fall outside for some
 * pixel, each with a per-pixel mask, so the correction is a few fixed-length masked adds
 * a row instead of a branchy walk over every tap of every clipped pixel. One padding
 * keeps the +1 and K_eff = taps * channels. */
#ifndef PNN_B1_BGEMM_DRIVER_H
#define PNN_B1_BGEMM_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pnn_b1_popcount.h"
#include "pnn_kernels.h"

_Static_assert(64 % B1_ROWS == 0, "a row tile must not straddle a 64-channel word");

/* A block of output pixels and what the transform needs of each. */
typedef struct b1_block {
  size_t n0, count;         /* first pixel and pixels in the block (<= B1_PIXELS) */
  int32_t keff[B1_PIXELS];  /* real bits under each pixel's window */
  /* Zero padding: the edge_count taps edge_tap[e] outside the image for some pixel of
   * the block; edge_mask[e * B1_PIXELS + p] is -1 where tap edge_tap[e] is outside for
   * pixel p, else 0. In the convolution's scratch; edge_count 0 for an inner block. */
  size_t edge_count;
  uint32_t *edge_tap;
  int32_t *edge_mask;
} b1_block;

/* What the zero-padding correction needs of the layer (NULL for a GEMM). */
typedef struct b1_taps {
  const int32_t *tap_pop;
  size_t kernel_h, kernel_w;
} b1_taps;

/* clamp(a * dot + b, lo, hi) in float; the product is exact in double, so the result
 * is the same with or without FMA contraction. */
static inline float b1_affine(double a, double b, int32_t dot, float lo, float hi) {
  float v = (float)(a * dot + b);
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

/* The output transform of one row tile (rows output channels from row0) of a block. */
static void b1_store(const b1_block *blk, size_t row0, size_t rows, const uint32_t *counts,
                     const b1_taps *taps, const pnn_b1_output *out) {
  uint64_t part[B1_PIXELS] = {0};
  for (size_t r = 0; r < rows; ++r) {
    const size_t m = row0 + r;
    int32_t dot[B1_PIXELS];
    for (size_t p = 0; p < B1_PIXELS; ++p) dot[p] = blk->keff[p] - 2 * (int32_t)counts[r * B1_PIXELS + p];
    if (blk->edge_count) { /* the taps outside the image gave tap_pop: take it back */
      const int32_t *pop = taps->tap_pop + m * taps->kernel_h * taps->kernel_w;
      for (size_t e = 0; e < blk->edge_count; ++e) {
        const int32_t tap_pop = pop[blk->edge_tap[e]];
        const int32_t *outside = blk->edge_mask + e * B1_PIXELS;
        for (size_t p = 0; p < B1_PIXELS; ++p) dot[p] += 2 * (tap_pop & outside[p]);
      }
    }
    if (out->y) {
      const double a = out->multiplier[m], b = out->bias[m];
      float *y = out->y + m * out->y_stride_m + blk->n0 * out->y_stride_n;
      for (size_t p = 0; p < blk->count; ++p) y[p * out->y_stride_n] = b1_affine(a, b, dot[p], out->lo, out->hi);
    } else {
      const int32_t threshold = out->threshold[m];
      const uint64_t negate = (out->negate[m / 64] >> (m % 64)) & 1u;
      for (size_t p = 0; p < blk->count; ++p) {
        part[p] |= (((uint64_t)(dot[p] < threshold)) ^ negate) << (m % 64);
      }
    }
  }
  if (!out->y) {
    uint64_t *word = out->bits + blk->n0 * out->ld_bits + row0 / 64;
    for (size_t p = 0; p < blk->count; ++p) {
      /* Row tiles of a block run in order: the first of a word sets it. */
      word[p * out->ld_bits] = row0 % 64 == 0 ? part[p] : (word[p * out->ld_bits] | part[p]);
    }
  }
}

/* Every row tile of [m_begin, m_end) over one block's panel. */
static void b1_rows(size_t kw, size_t m_begin, size_t m_end, const uint64_t *W,
                    const uint64_t *panel, const b1_block *blk, const b1_taps *taps,
                    const pnn_b1_output *out) {
  uint32_t counts[B1_ROWS * B1_PIXELS];
  for (size_t row0 = m_begin; row0 < m_end; row0 += B1_ROWS) {
    const size_t rows = m_end - row0 < B1_ROWS ? m_end - row0 : B1_ROWS;
    const uint64_t *w[B1_ROWS];
    for (size_t r = 0; r < B1_ROWS; ++r) w[r] = W + (row0 + (r < rows ? r : rows - 1)) * kw;
    b1_tile(kw, w, panel, counts);
    b1_store(blk, row0, rows, counts, taps, out);
  }
}

static size_t b1_gemm_scratch_size(size_t kw) { return kw * B1_PIXELS * sizeof(uint64_t); }

/* The block's rows of X transposed: panel[k * B1_PIXELS + p] = X[(n0 + p) * ldx + k], 0
 * past the block. */
static void b1_gemm_panel(size_t kw, const uint64_t *X, size_t ldx, const b1_block *blk, uint64_t *panel) {
  for (size_t k = 0; k < kw; ++k) {
    for (size_t p = 0; p < B1_PIXELS; ++p) panel[k * B1_PIXELS + p] = p < blk->count ? X[(blk->n0 + p) * ldx + k] : 0;
  }
}

/* Forward: the tree-delta rows of a block (below, with the plan machinery). */
static void b1_mst_rows(size_t kw, size_t M, const uint64_t *W, const pnn_b1_mst_plan *plan,
                        const uint64_t *panel, const b1_block *blk, const b1_taps *taps,
                        const pnn_b1_output *out, uint32_t *counts);

/* Every block of pixels of a GEMM: the rows [m_begin, m_end) plain, or every row through
 * `plan` (its counts after the panel in scratch). */
static void b1_gemm_blocks(size_t M, size_t N, size_t kw, size_t K, size_t m_begin, size_t m_end,
                           const uint64_t *W, const pnn_b1_mst_plan *plan, const uint64_t *X, size_t ldx,
                           const pnn_b1_output *out, void *scratch) {
  uint64_t *panel = (uint64_t *)scratch;
  uint32_t *counts = (uint32_t *)((unsigned char *)scratch + b1_gemm_scratch_size(kw));
  b1_block blk;
  memset(&blk, 0, sizeof blk);
  for (size_t p = 0; p < B1_PIXELS; ++p) blk.keff[p] = (int32_t)K;
  for (size_t n0 = 0; n0 < N; n0 += B1_PIXELS) {
    blk.n0 = n0;
    blk.count = N - n0 < B1_PIXELS ? N - n0 : B1_PIXELS;
    b1_gemm_panel(kw, X, ldx, &blk, panel);
    if (plan) {
      b1_mst_rows(kw, M, W, plan, panel, &blk, NULL, out, counts);
    } else {
      b1_rows(kw, m_begin, m_end, W, panel, &blk, NULL, out);
    }
  }
}

static void b1_gemm(size_t M, size_t N, size_t kw, size_t K, size_t m_begin, size_t m_end,
                    const uint64_t *W, const uint64_t *X, size_t ldx, const pnn_b1_output *out,
                    void *scratch) {
  b1_gemm_blocks(M, N, kw, K, m_begin, m_end, W, NULL, X, ldx, out, scratch);
}

/* The panel, then the border taps' masks and indices (b1_block). */
static size_t b1_conv_scratch_size(const pnn_conv2d_geometry *g) {
  const size_t taps = g->kernel_h * g->kernel_w;
  return b1_gemm_scratch_size(taps * pnn_b1_words(g->channels)) + taps * (B1_PIXELS * sizeof(int32_t) + sizeof(uint32_t));
}

/* [first, last) of the taps t < taps whose input coordinate o * stride - pad + t * dilation
 * lies in [0, size). They are consecutive: the coordinate grows with t. */
static void b1_tap_range(size_t o, size_t stride, size_t pad, size_t dilation, size_t taps,
                         size_t size, size_t *first, size_t *last) {
  *first = *last = 0;
  int found = 0;
  for (size_t t = 0; t < taps; ++t) {
    const size_t at = o * stride + t * dilation; /* the coordinate plus pad */
    if (at >= pad && at - pad < size) {
      if (!found) *first = t;
      found = 1;
      *last = t + 1;
    }
  }
}

/* The block's im2col panel: panel[(t * cw + c) * B1_PIXELS + p] = word c of the input
 * pixel under tap t of output pixel n0 + p, 0 outside the image and past the block; and
 * with zero padding, the block's border taps (blk->edge_*). */
static void b1_conv_panel(const pnn_conv2d_geometry *g, enum pnn_b1_padding padding,
                          const uint64_t *x, size_t ldx, b1_block *blk, uint64_t *panel) {
  const size_t cw = pnn_b1_words(g->channels), taps = g->kernel_h * g->kernel_w;
  const size_t kw = taps * cw;
  int border = 0;
  for (size_t p = 0; p < B1_PIXELS; ++p) {
    if (p >= blk->count) {
      for (size_t k = 0; k < kw; ++k) panel[k * B1_PIXELS + p] = 0;
      for (size_t t = 0; t < taps; ++t) blk->edge_mask[t * B1_PIXELS + p] = 0;
      blk->keff[p] = 0;
      continue;
    }
    const size_t oy = (blk->n0 + p) / g->out_w, ox = (blk->n0 + p) % g->out_w;
    size_t i0, i1, j0, j1;
    b1_tap_range(oy, g->stride_h, g->pad_top, g->dilation_h, g->kernel_h, g->in_h, &i0, &i1);
    b1_tap_range(ox, g->stride_w, g->pad_left, g->dilation_w, g->kernel_w, g->in_w, &j0, &j1);
    const size_t inside = (i1 - i0) * (j1 - j0);
    const int clipped = padding == PNN_B1_PAD_ZERO && inside < taps;
    border |= clipped;
    blk->keff[p] = (int32_t)((padding == PNN_B1_PAD_ZERO ? inside : taps) * g->channels);
    uint64_t *dst = panel + p;
    for (size_t i = 0; i < g->kernel_h; ++i) {
      for (size_t j = 0; j < g->kernel_w; ++j) {
        const int in = i >= i0 && i < i1 && j >= j0 && j < j1;
        blk->edge_mask[(i * g->kernel_w + j) * B1_PIXELS + p] = clipped && !in ? -1 : 0;
        const uint64_t *src = NULL;
        if (in) {
          const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top;
          const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
          src = x + (iy * g->in_w + ix) * ldx;
        }
        for (size_t c = 0; c < cw; ++c, dst += B1_PIXELS) *dst = in ? src[c] : 0;
      }
    }
  }
  /* Keep the taps outside for some pixel, their masks moved down in order (e <= t). */
  blk->edge_count = 0;
  for (size_t t = 0; border && t < taps; ++t) {
    const int32_t *mask = blk->edge_mask + t * B1_PIXELS;
    int32_t any = 0;
    for (size_t p = 0; p < B1_PIXELS; ++p) any |= mask[p];
    if (!any) continue;
    memmove(blk->edge_mask + blk->edge_count * B1_PIXELS, mask, B1_PIXELS * sizeof(int32_t));
    blk->edge_tap[blk->edge_count++] = (uint32_t)t;
  }
}

/* Every block of output pixels of a convolution: the rows [m_begin, m_end) plain, or
 * every row through `plan` (its counts after the panel in scratch). */
static void b1_conv_blocks(const pnn_conv2d_geometry *g, enum pnn_b1_padding padding, size_t M, size_t m_begin,
                           size_t m_end, const uint64_t *W, const int32_t *tap_pop, const pnn_b1_mst_plan *plan,
                           const uint64_t *x, size_t ldx, const pnn_b1_output *out, void *scratch) {
  const size_t kw = g->kernel_h * g->kernel_w * pnn_b1_words(g->channels);
  const size_t pixels = g->out_h * g->out_w;
  const b1_taps taps = {tap_pop, g->kernel_h, g->kernel_w};
  uint64_t *panel = (uint64_t *)scratch;
  uint32_t *counts = (uint32_t *)((unsigned char *)scratch + b1_conv_scratch_size(g));
  b1_block blk;
  memset(&blk, 0, sizeof blk);
  blk.edge_mask = (int32_t *)(panel + kw * B1_PIXELS);
  blk.edge_tap = (uint32_t *)(blk.edge_mask + g->kernel_h * g->kernel_w * B1_PIXELS);
  for (size_t n0 = 0; n0 < pixels; n0 += B1_PIXELS) {
    blk.n0 = n0;
    blk.count = pixels - n0 < B1_PIXELS ? pixels - n0 : B1_PIXELS;
    b1_conv_panel(g, padding, x, ldx, &blk, panel);
    if (plan) {
      b1_mst_rows(kw, M, W, plan, panel, &blk, &taps, out, counts);
    } else {
      b1_rows(kw, m_begin, m_end, W, panel, &blk, &taps, out);
    }
  }
}

static void b1_conv(const pnn_conv2d_geometry *g, enum pnn_b1_padding padding, size_t M,
                    size_t m_begin, size_t m_end, const uint64_t *W, const int32_t *tap_pop,
                    const uint64_t *x, size_t ldx, const pnn_b1_output *out, void *scratch) {
  b1_conv_blocks(g, padding, M, m_begin, m_end, W, tap_pop, NULL, x, ldx, out, scratch);
}

/* ---- tree-delta (MST) plan: every channel of a block, then the output transform ---- */

#ifndef B1_HAS_DELTA
static void b1_delta(size_t words, const uint32_t *word, const uint64_t *mask, const uint64_t *wp,
                     const uint64_t *panel, uint32_t d, const uint32_t *from, uint32_t *to) {
  uint32_t flips[B1_PIXELS] = {0};
  for (size_t j = 0; j < words; ++j) {
    const uint64_t *x = panel + (size_t)word[j] * B1_PIXELS;
    const uint64_t w = wp[word[j]], diff = mask[j];
    for (size_t p = 0; p < B1_PIXELS; ++p) flips[p] += pnn_b1_popcount64((x[p] ^ w) & diff);
  }
  /* unsigned: the true count is never negative, an intermediate wrap is defined */
  for (size_t p = 0; p < B1_PIXELS; ++p) to[p] = from[p] + d - 2u * flips[p];
}
#endif

static size_t b1_mst_gemm_scratch_size(size_t kw, size_t M) {
  return b1_gemm_scratch_size(kw) + M * B1_PIXELS * sizeof(uint32_t);
}

static size_t b1_mst_conv_scratch_size(const pnn_conv2d_geometry *g, size_t M) {
  return b1_conv_scratch_size(g) + M * B1_PIXELS * sizeof(uint32_t);
}

/* counts[m * B1_PIXELS + p] for every channel m of the block (roots by the plain tile in
 * plan order, children from their parents), then the transform in channel order. */
static void b1_mst_rows(size_t kw, size_t M, const uint64_t *W, const pnn_b1_mst_plan *plan,
                        const uint64_t *panel, const b1_block *blk, const b1_taps *taps,
                        const pnn_b1_output *out, uint32_t *counts) {
  uint32_t tile[B1_ROWS * B1_PIXELS];
  for (size_t i0 = 0; i0 < plan->roots; i0 += B1_ROWS) {
    const size_t rows = plan->roots - i0 < B1_ROWS ? plan->roots - i0 : B1_ROWS;
    const uint64_t *w[B1_ROWS];
    for (size_t r = 0; r < B1_ROWS; ++r) w[r] = W + (size_t)plan->order[i0 + (r < rows ? r : rows - 1)] * kw;
    b1_tile(kw, w, panel, tile);
    for (size_t r = 0; r < rows; ++r) {
      memcpy(counts + (size_t)plan->order[i0 + r] * B1_PIXELS, tile + r * B1_PIXELS, sizeof(uint32_t) * B1_PIXELS);
    }
  }
  for (size_t i = plan->roots; i < M; ++i) {
    const size_t m = plan->order[i], parent = plan->parent[m];
    const size_t begin = plan->delta_begin[m];
    b1_delta(plan->delta_begin[m + 1] - begin, plan->delta_word + begin, plan->delta_mask + begin,
             W + parent * kw, panel, (uint32_t)plan->delta_bits[m], counts + parent * B1_PIXELS,
             counts + m * B1_PIXELS);
  }
  for (size_t row0 = 0; row0 < M; row0 += B1_ROWS) {
    const size_t rows = M - row0 < B1_ROWS ? M - row0 : B1_ROWS;
    b1_store(blk, row0, rows, counts + row0 * B1_PIXELS, taps, out);
  }
}

static void b1_mst_gemm(size_t M, size_t N, size_t kw, size_t K, const uint64_t *W,
                        const pnn_b1_mst_plan *plan, const uint64_t *X, size_t ldx,
                        const pnn_b1_output *out, void *scratch) {
  b1_gemm_blocks(M, N, kw, K, 0, M, W, plan, X, ldx, out, scratch);
}

static void b1_mst_conv(const pnn_conv2d_geometry *g, enum pnn_b1_padding padding, size_t M,
                        const uint64_t *W, const int32_t *tap_pop, const pnn_b1_mst_plan *plan,
                        const uint64_t *x, size_t ldx, const pnn_b1_output *out, void *scratch) {
  b1_conv_blocks(g, padding, M, 0, M, W, tap_pop, plan, x, ldx, out, scratch);
}

#define PNN_B1_GEMM_KERNEL(symbol, label)                                                                   \
  const pnn_b1_gemm_kernel symbol = {label,           b1_gemm_scratch_size,     b1_gemm,     b1_conv_scratch_size, \
                                     b1_conv,         label "+mst",             b1_mst_gemm_scratch_size,          \
                                     b1_mst_gemm,     b1_mst_conv_scratch_size, b1_mst_conv}

#endif /* PNN_B1_BGEMM_DRIVER_H */
