/* f32 depthwise convolution for AArch64 NEON (NCHW, one filter per channel; see
 * pnn_kernels.h). Vectorized along the output width, 4 outputs per q vector, two
 * vectors per step for instruction-level parallelism.
 *
 * Per output row, only the kernel rows that land inside the image are visited. In
 * the interior of a row (every horizontal tap inside the input row, and for stride
 * 2 also the one extra element vld2q reads) outputs are vectorized: stride 1 uses
 * unaligned vld1q, stride 2 de-interleaves with vld2q. The few outputs per row that
 * touch the padding, and any other width stride, run an exact scalar loop, so
 * nothing outside the input is ever read. 3x3 with all three rows inside gets its
 * own instantiation with the nine weights held in registers. Sigmoid and tanh are
 * applied by a scalar pass per row. */
#include "pnn_kernels.h"

#if defined(__aarch64__)

#include <arm_neon.h>

#include "pnn_neon_act.h"

/* One output row: the kernel rows i in [0, rows) that lie inside the image start at
 * input row pointer x0 (row step x_step) and weight row w0. */
typedef struct dw_row {
  const float *x0;
  size_t x_step;
  const float *w0;
  size_t rows;
  float bias;
  float *y;
} dw_row;

typedef struct dw_plan {
  size_t kw, dw, sw, pl, in_w, out_w;
  size_t lo, hi; /* [lo, hi): outputs whose taps (and vld2q's extra read) are inside */
  int kind;
  float alpha, beta;
} dw_plan;

/* Loads the 4 input values at p[0], p[s], p[2s], p[3s] for s = 1 or 2. */
static PNN_ALWAYS_INLINE float32x4_t load_strided(const float *p, size_t stride) {
  return stride == 1 ? vld1q_f32(p) : vld2q_f32(p).val[0];
}

/* Exact scalar output with bounds checks, for the outputs next to the padding. */
static float point(const dw_plan *pl, const dw_row *r, size_t ox) {
  float acc = 0.0f;
  for (size_t i = 0; i < r->rows; ++i) {
    const float *x_row = r->x0 + i * r->x_step;
    const float *w_row = r->w0 + i * pl->kw;
    for (size_t j = 0; j < pl->kw; ++j) {
      const size_t ix = ox * pl->sw + j * pl->dw - pl->pl; /* wraps when left of 0 */
      if (ix < pl->in_w) acc += w_row[j] * x_row[ix];
    }
  }
  return pnn_activate(acc + r->bias, (pnn_activation){pl->kind, pl->alpha, pl->beta});
}

/* Generic interior: any kernel width and dilation, stride sw in {1, 2}. */
static PNN_ALWAYS_INLINE void interior_generic(const dw_plan *pl, const dw_row *r, size_t sw,
                                               size_t *ox_io) {
  size_t ox = *ox_io;
  const float32x4_t bias = vdupq_n_f32(r->bias);
  for (; ox + 8 <= pl->hi; ox += 8) {
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0;
    for (size_t i = 0; i < r->rows; ++i) {
      const float *xp = r->x0 + (i * r->x_step + ox * sw - pl->pl); /* offset first: ox * sw >= pl */
      const float *w_row = r->w0 + i * pl->kw;
      for (size_t j = 0; j < pl->kw; ++j) {
        const float *p = xp + j * pl->dw;
        acc0 = vfmaq_n_f32(acc0, load_strided(p, sw), w_row[j]);
        acc1 = vfmaq_n_f32(acc1, load_strided(p + 4 * sw, sw), w_row[j]);
      }
    }
    vst1q_f32(r->y + ox, pnn_neon_act(vaddq_f32(acc0, bias), pl->kind, pl->alpha, pl->beta));
    vst1q_f32(r->y + ox + 4, pnn_neon_act(vaddq_f32(acc1, bias), pl->kind, pl->alpha, pl->beta));
  }
  for (; ox + 4 <= pl->hi; ox += 4) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    for (size_t i = 0; i < r->rows; ++i) {
      const float *xp = r->x0 + (i * r->x_step + ox * sw - pl->pl); /* offset first: ox * sw >= pl */
      const float *w_row = r->w0 + i * pl->kw;
      for (size_t j = 0; j < pl->kw; ++j)
        acc = vfmaq_n_f32(acc, load_strided(xp + j * pl->dw, sw), w_row[j]);
    }
    vst1q_f32(r->y + ox, pnn_neon_act(vaddq_f32(acc, bias), pl->kind, pl->alpha, pl->beta));
  }
  *ox_io = ox;
}

/* 3x3, dilation 1, all three kernel rows inside: weights in registers (w[0..8] as
 * lanes of three q vectors). */
static PNN_ALWAYS_INLINE void interior_3x3(const dw_plan *pl, const dw_row *r, size_t sw,
                                           float32x4_t w012, float32x4_t w345,
                                           float32x4_t w678, size_t *ox_io) {
  size_t ox = *ox_io;
  const float32x4_t bias = vdupq_n_f32(r->bias);
  const float *r0 = r->x0, *r1 = r->x0 + r->x_step, *r2 = r->x0 + 2 * r->x_step;
#define PNN_DW_ROW3(ACC, ROW, OFF, W, L0)                                            \
  ACC = vfmaq_laneq_f32(ACC, load_strided(ROW + (OFF), sw), W, L0);                 \
  ACC = vfmaq_laneq_f32(ACC, load_strided(ROW + (OFF) + 1, sw), W, (L0) + 1);       \
  ACC = vfmaq_laneq_f32(ACC, load_strided(ROW + (OFF) + 2, sw), W, (L0) + 2);
  for (; ox + 8 <= pl->hi; ox += 8) {
    const size_t off = ox * sw - pl->pl;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0;
    PNN_DW_ROW3(acc0, r0, off, w012, 0)
    PNN_DW_ROW3(acc1, r0, off + 4 * sw, w012, 0)
    PNN_DW_ROW3(acc0, r1, off, w345, 0)
    PNN_DW_ROW3(acc1, r1, off + 4 * sw, w345, 0)
    PNN_DW_ROW3(acc0, r2, off, w678, 0)
    PNN_DW_ROW3(acc1, r2, off + 4 * sw, w678, 0)
    vst1q_f32(r->y + ox, pnn_neon_act(vaddq_f32(acc0, bias), pl->kind, pl->alpha, pl->beta));
    vst1q_f32(r->y + ox + 4, pnn_neon_act(vaddq_f32(acc1, bias), pl->kind, pl->alpha, pl->beta));
  }
  for (; ox + 4 <= pl->hi; ox += 4) {
    const size_t off = ox * sw - pl->pl;
    float32x4_t acc = vdupq_n_f32(0.0f);
    PNN_DW_ROW3(acc, r0, off, w012, 0)
    PNN_DW_ROW3(acc, r1, off, w345, 0)
    PNN_DW_ROW3(acc, r2, off, w678, 0)
    vst1q_f32(r->y + ox, pnn_neon_act(vaddq_f32(acc, bias), pl->kind, pl->alpha, pl->beta));
  }
#undef PNN_DW_ROW3
  *ox_io = ox;
}

/* Scalar borders around the vectorized interior [lo, hi). */
static void row_borders_before(const dw_plan *pl, const dw_row *r, size_t *ox_io) {
  for (size_t ox = 0; ox < pl->lo; ++ox) r->y[ox] = point(pl, r, ox);
  *ox_io = pl->lo;
}

static void row_borders_after(const dw_plan *pl, const dw_row *r, size_t ox) {
  for (; ox < pl->out_w; ++ox) r->y[ox] = point(pl, r, ox);
}

/* 3x3 rows with both weights and a fixed stride compiled in. */
static void row_3x3(const dw_plan *pl, const dw_row *r, const float *w) {
  size_t ox;
  row_borders_before(pl, r, &ox);
  /* w[8] gets a vector of its own; lanes 1..3 are unused. */
  const float32x4_t w012 = vld1q_f32(w), w345 = vld1q_f32(w + 3);
  const float32x4_t w678 = vcombine_f32(vld1_f32(w + 6), vld1_dup_f32(w + 8));
  if (pl->sw == 1) interior_3x3(pl, r, 1, w012, w345, w678, &ox);
  else interior_3x3(pl, r, 2, w012, w345, w678, &ox);
  row_borders_after(pl, r, ox);
}

static void row_generic(const dw_plan *pl, const dw_row *r) {
  size_t ox;
  row_borders_before(pl, r, &ox);
  if (pl->sw == 1) interior_generic(pl, r, 1, &ox);
  else if (pl->sw == 2) interior_generic(pl, r, 2, &ox);
  row_borders_after(pl, r, ox);
}

void pnn_f32_dwconv_neon(const pnn_conv2d_geometry *g, const float *x, const float *w,
                         const float *bias, float *y, pnn_activation act) {
  if (g->stride_w == 0) { /* invalid geometry: the plan below divides by the stride */
    pnn_f32_dwconv_scalar(g, x, w, bias, y, act);
    return;
  }
  const size_t kh = g->kernel_h, kw = g->kernel_w, taps = kh * kw;
  dw_plan pl;
  pl.kw = kw;
  pl.dw = g->dilation_w;
  pl.sw = g->stride_w;
  pl.pl = g->pad_left;
  pl.in_w = g->in_w;
  pl.out_w = g->out_w;
  pl.kind = act.kind;
  pl.alpha = act.alpha;
  pl.beta = act.beta;
  /* Vector interior: ox*sw >= pad_left and the last element read (the last tap, plus
   * one for vld2q) <= in_w - 1. Other strides keep an empty interior. */
  const size_t extra = pl.sw == 2 ? 1 : 0;
  const size_t span = (kw ? kw - 1 : 0) * pl.dw + extra;
  size_t lo = (pl.pl + pl.sw - 1) / pl.sw, hi = 0;
  if (lo > pl.out_w) lo = pl.out_w;
  if (pl.sw <= 2 && g->in_w + pl.pl >= span + 1) hi = (g->in_w - 1 + pl.pl - span) / pl.sw + 1;
  if (hi > pl.out_w) hi = pl.out_w;
  if (hi < lo) hi = lo;
  pl.lo = lo;
  pl.hi = hi;
  /* Sigmoid and tanh have no vector form: the row is stored without activation and
   * a scalar pass applies it. */
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  if (scalar_pass) pl.kind = PNN_ACT_NONE;
  const int fast3 = kh == 3 && kw == 3 && g->dilation_h == 1 && g->dilation_w == 1 &&
                    (pl.sw == 1 || pl.sw == 2);
  for (size_t c = 0; c < g->channels; ++c) {
    const float *x_c = x + c * g->in_h * g->in_w;
    const float *w_c = w + c * taps;
    for (size_t oy = 0; oy < g->out_h; ++oy) {
      /* Kernel rows inside the image form one contiguous range [i_lo, i_hi). */
      size_t i_lo = kh, i_hi = 0;
      for (size_t i = 0; i < kh; ++i) {
        const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top; /* wraps */
        if (iy < g->in_h) {
          if (i_lo == kh) i_lo = i;
          i_hi = i + 1;
        }
      }
      dw_row r;
      r.bias = bias ? bias[c] : 0.0f;
      r.y = y + (c * g->out_h + oy) * g->out_w;
      r.x_step = g->dilation_h * g->in_w;
      if (i_lo < i_hi) {
        r.rows = i_hi - i_lo;
        r.x0 = x_c + (oy * g->stride_h + i_lo * g->dilation_h - g->pad_top) * g->in_w;
        r.w0 = w_c + i_lo * kw;
      } else {
        r.rows = 0;
        r.x0 = x_c;
        r.w0 = w_c;
      }
      if (fast3 && r.rows == 3) row_3x3(&pl, &r, w_c);
      else row_generic(&pl, &r);
      if (scalar_pass)
        for (size_t ox = 0; ox < g->out_w; ++ox) r.y[ox] = pnn_activate(r.y[ox], act);
    }
  }
}

#endif /* __aarch64__ */
