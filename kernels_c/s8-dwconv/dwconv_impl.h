/* The plan shared by the SIMD variants of the u8 depthwise convolution (avx2.c,
 * avx512.c, neon.c, wasmsimd.c; included inside each file's ISA region).
 *
 * Shapes: 3x3, dilation 1, stride 1 or 2 (the same both ways). Everything else runs
 * the scalar reference.
 *
 * Bands: a channel is processed in bands of whole output rows. The input rows a band
 * needs are first widened to u16 into a stack buffer with the padding written out as
 * x_zero_point, `width` words per row, so the vector code has no borders, never reads
 * outside the input, and can use pairs of adjacent u16 taps as the two halves of a
 * 32-bit lane (x86 pmaddwd, wasm i32x4.dot_i16x8_s). `width` is exactly the padded
 * span the outputs need, (out_w - 1) * stride + 3, and DW_SLACK_WORDS zero-point
 * words after the band absorb the reads of the last, partial vector.
 *  - stride 1: output (r, ox) of the band reads band[r * width + ox + i * width + j],
 *    so outputs are computed along the flattened band (all rows at once, the two
 *    pad columns between rows computed and dropped) into a u8 staging buffer; small
 *    images (14x14, 7x7) then fill whole vectors. Rows are copied out of it.
 *  - stride 2: output (r, ox) reads band[(2r + i) * width + 2 ox + j]; row by row.
 *
 * Requantization: the SIMD variants compute acc * multiplier in 64-bit lanes but keep
 * only the low 32 bits of the shifted result. pnn_requant_acc_bound gives a B for which
 * clamping acc to [-B, B] first leaves every output unchanged and makes that result
 * fit in int32 (see there). */
#ifndef PNN_S8_DWCONV_IMPL_H
#define PNN_S8_DWCONV_IMPL_H

#include <stdint.h>
#include <string.h>

#include "pnn_kernels.h"

enum {
  DW_BAND_WORDS = 8192, /* u16 band buffer: 16 KiB of stack */
  DW_SLACK_WORDS = 64   /* a multiple of every ISA's row chunk, and >= the longest read
                         * (2 vectors + 2) or row overrun past a band's last row */
};

typedef struct dw_plan {
  size_t stride;        /* 1 or 2 in both directions */
  size_t width;         /* words per widened band row */
  size_t rows_per_band; /* output rows per band */
} dw_plan;

/* Fills `plan` and returns 1 when the SIMD path handles g (out_h, out_w >= 1). */
static inline int dw_plan_init(dw_plan *plan, const pnn_conv2d_geometry *g) {
  if (g->kernel_h != 3 || g->kernel_w != 3 || g->dilation_h != 1 || g->dilation_w != 1) return 0;
  if (g->stride_h != g->stride_w || (g->stride_w != 1 && g->stride_w != 2)) return 0;
  plan->stride = g->stride_w;
  plan->width = (g->out_w - 1) * plan->stride + 3;
  const size_t max_rows = (DW_BAND_WORDS - DW_SLACK_WORDS) / plan->width;
  if (max_rows < 3) return 0; /* a row this wide takes the scalar reference */
  plan->rows_per_band = (max_rows - 3) / plan->stride + 1;
  return 1;
}

/* Writes one band row: `left` zero points, `count` bytes of src widened to u16, zero
 * points up to `width` (the ISA file's vector code). It may write fewer than 32 words
 * past `width`: rows are written in order and the slack last, so those words are
 * rewritten before anything reads them. */
typedef void (*dw_row_fn)(uint16_t *dst, size_t width, uint16_t zero_point, const uint8_t *src,
                          size_t left, size_t count);

/* Widens the padded input rows of output rows [oy0, oy0 + rows) of channel plane x_c
 * into band (row r of the band is padded input row oy0 * stride + r), then the slack. */
static inline void dw_fill_band(const dw_plan *plan, const pnn_conv2d_geometry *g,
                                const uint8_t *x_c, uint16_t x_zero_point, size_t oy0,
                                size_t rows, dw_row_fn fill_row, uint16_t *band) {
  const size_t width = plan->width, pad_left = g->pad_left;
  const size_t band_rows = (rows - 1) * plan->stride + 3;
  const size_t left = pad_left < width ? pad_left : width;
  const size_t copied = pad_left < width ? (g->in_w < width - pad_left ? g->in_w : width - pad_left) : 0;
  for (size_t r = 0; r < band_rows; ++r) {
    /* Unsigned wrap-around: rows above the image become >= in_h. */
    const size_t iy = oy0 * plan->stride + r - g->pad_top;
    if (iy < g->in_h) fill_row(band + r * width, width, x_zero_point, x_c + iy * g->in_w, left, copied);
    else fill_row(band + r * width, width, x_zero_point, NULL, width, 0);
  }
  fill_row(band + band_rows * width, DW_SLACK_WORDS, x_zero_point, NULL, DW_SLACK_WORDS, 0);
}

/* Two s16 taps as one 32-bit lane (first tap in the low half) for pmaddwd-style
 * pair products. */
static inline int32_t dw_weight_pair(int8_t low, int8_t high) {
  return (int32_t)((uint32_t)(uint16_t)low | ((uint32_t)(uint16_t)high << 16));
}

/* A channel's 3x3 weights as the pairs its kernel rows broadcast: (w0,w1), (w2,0) for
 * the even stride-1 outputs and every stride-2 output, (0,w0), (w1,w2) for the odd
 * stride-1 outputs (see avx512.c). */
static inline void dw_weight_pairs(const int8_t *w, int32_t pairs[3][4]) {
  for (int i = 0; i < 3; ++i) {
    const int8_t *r = w + 3 * i;
    pairs[i][0] = dw_weight_pair(r[0], r[1]);
    pairs[i][1] = dw_weight_pair(r[2], 0);
    pairs[i][2] = dw_weight_pair(0, r[0]);
    pairs[i][3] = dw_weight_pair(r[1], r[2]);
  }
}

/* Stride 1: the out_w real outputs of each of `rows` rows of the staging buffer `flat`
 * (rows of `width`) into y. */
static inline void dw_copy_rows(const uint8_t *flat, size_t width, size_t rows, size_t out_w,
                                uint8_t *y) {
  for (size_t r = 0; r < rows; ++r) memcpy(y + r * out_w, flat + r * width, out_w);
}

/* Defines the entry point pnn_s8_dwconv_<SUFFIX>: bands of every channel through the
 * ISA file's code, which defines before it
 *   channel, channel_init(k, w, bias, multiplier, shift, rq)  a channel's constants
 *   fill_row                                                 the dw_row_fn
 *   band_s1(k, band, width, n, out)                          stride 1 into the staging rows
 *   row_s2(k, rows, width, out_w, y)                         stride 2, one output row
 * and names COPY_ROWS, dw_copy_rows or its own with dw_copy_rows' arguments. */
#define DW_DEFINE_DWCONV(SUFFIX, COPY_ROWS)                                                      \
  void pnn_s8_dwconv_##SUFFIX(const pnn_conv2d_geometry *g, const uint8_t *x,                  \
                              uint8_t x_zero_point, const int8_t *w, const int32_t *bias,      \
                              const pnn_requant *rq, uint8_t *y) {                             \
    if (g->out_h == 0 || g->out_w == 0) return;                                                \
    dw_plan plan;                                                                              \
    if (!dw_plan_init(&plan, g)) {                                                             \
      pnn_s8_dwconv_scalar(g, x, x_zero_point, w, bias, rq, y);                                \
      return;                                                                                  \
    }                                                                                          \
    uint16_t band[DW_BAND_WORDS];                                                              \
    uint8_t flat_out[DW_BAND_WORDS]; /* stride 1: a band's outputs, rows of plan.width */     \
    const size_t out_w = g->out_w, width = plan.width;                                         \
    channel k;                                                                                 \
    for (size_t c = 0; c < g->channels; ++c) {                                                 \
      channel_init(&k, w + 9 * c, bias[c], rq->multiplier[c], rq->shift[c], rq);               \
      const uint8_t *x_c = x + c * g->in_h * g->in_w;                                          \
      uint8_t *y_c = y + c * g->out_h * out_w;                                                 \
      for (size_t oy0 = 0; oy0 < g->out_h; oy0 += plan.rows_per_band) {                        \
        const size_t rows =                                                                    \
            g->out_h - oy0 < plan.rows_per_band ? g->out_h - oy0 : plan.rows_per_band;         \
        dw_fill_band(&plan, g, x_c, x_zero_point, oy0, rows, fill_row, band);                  \
        if (plan.stride == 1) {                                                                \
          band_s1(&k, band, width, rows * width, flat_out);                                    \
          COPY_ROWS(flat_out, width, rows, out_w, y_c + oy0 * out_w);                          \
        } else {                                                                               \
          for (size_t r = 0; r < rows; ++r)                                                    \
            row_s2(&k, band + 2 * r * width, width, out_w, y_c + (oy0 + r) * out_w);           \
        }                                                                                      \
      }                                                                                        \
    }                                                                                          \
  }

#endif /* PNN_S8_DWCONV_IMPL_H */
