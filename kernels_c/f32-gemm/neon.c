/* f32 GEMM for AArch64 NEON (see pnn_kernels.h for the contract).
 *
 * Blocking: K in blocks of GEMM_KC; for each K block, B is copied panel by panel
 * (GEMM_KC x 8 columns, zero-padded past N) into a 8 KiB stack buffer that stays in
 * L1 while every 8-row strip of A runs over it. The micro-tile is 8x8: 16 q-register
 * accumulators. A is read in place, four k at a time: one q load per row gives
 * A[i][k..k+3], and vfmaq_laneq_f32 multiplies lane l with packed B row k+l, so each
 * group of four k costs 8 A loads and 8 B loads for 64 fmla. Partial sums of an
 * earlier K block live in C; bias is added in the first block, the activation in the
 * last. N == 1 (fully connected, batch 1) has its own GEMV path.
 *
 * NEON is part of the AArch64 baseline, so no extra ISA flags or run-time checks. */
#include "pnn_kernels.h"

#if defined(__aarch64__)

#include <arm_neon.h>

#include "pnn_neon_act.h"

enum {
  GEMM_MR = 8,    /* rows per micro-tile */
  GEMM_NR = 8,    /* columns per wide micro-tile (two q vectors) */
  GEMM_KC = 256,  /* K block: 256 x 8 floats of packed B = 8 KiB */
  GEMV_KC = 2048  /* K block of the gathered B column in the N == 1 path */
};

typedef struct tile_epilogue {
  const float *row_bias; /* NULL or the bias of the strip's first row */
  float32x4_t col_lo, col_hi; /* column bias of the panel (zero when absent) */
  int accumulate;        /* not the first K block: add the partial sums in C */
  int activate;          /* last K block: apply the activation */
  int kind;
  float alpha, beta;
} tile_epilogue;

/* Stores the first `width` (1..8) lanes of lo:hi to c; with accumulate, adds what
 * c holds first. Partial widths go through a small buffer so nothing past N is
 * touched. */
static PNN_ALWAYS_INLINE void store_row(float32x4_t lo, float32x4_t hi, int wide, size_t width,
                                        float *c, const tile_epilogue *ep, size_t row) {
  const int full = width == (wide ? 8u : 4u);
  if (ep->accumulate) {
    if (full) {
      lo = vaddq_f32(lo, vld1q_f32(c));
      if (wide) hi = vaddq_f32(hi, vld1q_f32(c + 4));
    } else {
      float old[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (size_t n = 0; n < width; ++n) old[n] = c[n];
      lo = vaddq_f32(lo, vld1q_f32(old));
      if (wide) hi = vaddq_f32(hi, vld1q_f32(old + 4));
    }
  } else {
    const float32x4_t rb = vdupq_n_f32(ep->row_bias ? ep->row_bias[row] : 0.0f);
    lo = vaddq_f32(lo, vaddq_f32(rb, ep->col_lo));
    if (wide) hi = vaddq_f32(hi, vaddq_f32(rb, ep->col_hi));
  }
  if (ep->activate) {
    lo = pnn_neon_act(lo, ep->kind, ep->alpha, ep->beta);
    if (wide) hi = pnn_neon_act(hi, ep->kind, ep->alpha, ep->beta);
  }
  if (full) {
    vst1q_f32(c, lo);
    if (wide) vst1q_f32(c + 4, hi);
  } else {
    float out[8];
    vst1q_f32(out, lo);
    vst1q_f32(out + 4, wide ? hi : vdupq_n_f32(0.0f));
    for (size_t n = 0; n < width; ++n) c[n] = out[n];
  }
}

/* C[mr x width] (+)= A[mr x kc] * packed B[kc x (4 or 8)], then the epilogue.
 * mr and wide are constants at every call site, so the loops unroll into registers. */
static PNN_ALWAYS_INLINE void micro_kernel(size_t mr, int wide, size_t kc, const float *a,
                                           size_t lda, const float *packed_b, float *c,
                                           size_t ldc, size_t width, const tile_epilogue *ep) {
  float32x4_t lo[GEMM_MR], hi[GEMM_MR];
#pragma GCC unroll 8
  for (size_t i = 0; i < GEMM_MR; ++i) lo[i] = hi[i] = vdupq_n_f32(0.0f);
  const size_t b_stride = wide ? 8 : 4;
  size_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    float32x4_t av[GEMM_MR];
#pragma GCC unroll 8
    for (size_t i = 0; i < GEMM_MR; ++i)
      if (i < mr) av[i] = vld1q_f32(a + i * lda + k);
    const float *b = packed_b + k * b_stride;
    /* One lane of A per step: lane l of av[i] is A[i][k+l], B row k+l. */
#define PNN_GEMM_LANE(L)                                                 \
  {                                                                      \
    const float32x4_t b_lo = vld1q_f32(b + (L) * b_stride);              \
    const float32x4_t b_hi = wide ? vld1q_f32(b + (L) * b_stride + 4) : b_lo; \
    _Pragma("GCC unroll 8") for (size_t i = 0; i < GEMM_MR; ++i) {       \
      if (i < mr) {                                                      \
        lo[i] = vfmaq_laneq_f32(lo[i], b_lo, av[i], L);                  \
        if (wide) hi[i] = vfmaq_laneq_f32(hi[i], b_hi, av[i], L);        \
      }                                                                  \
    }                                                                    \
  }
    PNN_GEMM_LANE(0)
    PNN_GEMM_LANE(1)
    PNN_GEMM_LANE(2)
    PNN_GEMM_LANE(3)
#undef PNN_GEMM_LANE
  }
  for (; k < kc; ++k) {
    const float *b = packed_b + k * b_stride;
    const float32x4_t b_lo = vld1q_f32(b);
    const float32x4_t b_hi = wide ? vld1q_f32(b + 4) : b_lo;
#pragma GCC unroll 8
    for (size_t i = 0; i < GEMM_MR; ++i) {
      if (i < mr) {
        const float ai = a[i * lda + k];
        lo[i] = vfmaq_n_f32(lo[i], b_lo, ai);
        if (wide) hi[i] = vfmaq_n_f32(hi[i], b_hi, ai);
      }
    }
  }
#pragma GCC unroll 8
  for (size_t i = 0; i < GEMM_MR; ++i) {
    if (i < mr) store_row(lo[i], hi[i], wide, width, c + i * ldc, ep, i);
  }
}

#define PNN_MR_CASE(R)                                                           \
  case R:                                                                        \
    if (wide) micro_kernel(R, 1, kc, a, lda, packed_b, c, ldc, width, ep);       \
    else micro_kernel(R, 0, kc, a, lda, packed_b, c, ldc, width, ep);            \
    break;

/* One row strip of mr <= GEMM_MR rows (a switch so each size gets its own unrolled kernel). */
static void strip_kernel(size_t mr, int wide, size_t kc, const float *a, size_t lda,
                         const float *packed_b, float *c, size_t ldc, size_t width,
                         const tile_epilogue *ep) {
  switch (mr) {
    PNN_MR_CASE(1) PNN_MR_CASE(2) PNN_MR_CASE(3) PNN_MR_CASE(4)
    PNN_MR_CASE(5) PNN_MR_CASE(6) PNN_MR_CASE(7) PNN_MR_CASE(8)
    default: break;
  }
}
#undef PNN_MR_CASE

/* Copies B[kc x width] (row stride ldb) into a dense buffer of row stride 4 or 8,
 * zero-filling the columns past the panel; nothing past column `width` is read. */
static void pack_b_panel(size_t kc, const float *b, size_t ldb, int wide, size_t width,
                         float *packed) {
  const size_t stride = wide ? 8 : 4;
  if (width == stride) {
    for (size_t k = 0; k < kc; ++k) {
      vst1q_f32(packed + stride * k, vld1q_f32(b + k * ldb));
      if (wide) vst1q_f32(packed + stride * k + 4, vld1q_f32(b + k * ldb + 4));
    }
    return;
  }
  for (size_t k = 0; k < kc; ++k) {
    float *dst = packed + stride * k;
    size_t n = 0;
    for (; n < width; ++n) dst[n] = b[k * ldb + n];
    for (; n < stride; ++n) dst[n] = 0.0f;
  }
}

/* ---- N == 1: y = A x, rows in groups of 4 so one load of x serves four rows. ---- */

static PNN_ALWAYS_INLINE void gemv_rows(size_t rows, size_t kc, const float *a, size_t lda,
                                        const float *x, float *sums) {
  /* Two accumulators per row hide the fmla latency. */
  float32x4_t acc0[4], acc1[4];
#pragma GCC unroll 4
  for (size_t i = 0; i < 4; ++i) acc0[i] = acc1[i] = vdupq_n_f32(0.0f);
  size_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    const float32x4_t x0 = vld1q_f32(x + k), x1 = vld1q_f32(x + k + 4);
#pragma GCC unroll 4
    for (size_t i = 0; i < 4; ++i) {
      if (i < rows) {
        acc0[i] = vfmaq_f32(acc0[i], vld1q_f32(a + i * lda + k), x0);
        acc1[i] = vfmaq_f32(acc1[i], vld1q_f32(a + i * lda + k + 4), x1);
      }
    }
  }
  if (k + 4 <= kc) {
    const float32x4_t x0 = vld1q_f32(x + k);
#pragma GCC unroll 4
    for (size_t i = 0; i < 4; ++i)
      if (i < rows) acc0[i] = vfmaq_f32(acc0[i], vld1q_f32(a + i * lda + k), x0);
    k += 4;
  }
#pragma GCC unroll 4
  for (size_t i = 0; i < 4; ++i) {
    if (i < rows) {
      float s = vaddvq_f32(vaddq_f32(acc0[i], acc1[i]));
      for (size_t t = k; t < kc; ++t) s += a[i * lda + t] * x[t];
      sums[i] = s;
    }
  }
}

static void gemv(size_t M, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
                 float *C, size_t ldc, const float *row_bias, const float *col_bias,
                 pnn_activation act) {
  float gathered[GEMV_KC];
  for (size_t k0 = 0;; k0 += GEMV_KC) {
    const size_t kc = K - k0 < GEMV_KC ? K - k0 : GEMV_KC;
    const int first = k0 == 0, last = k0 + kc >= K;
    const float *x = B + k0 * ldb;
    if (ldb != 1) {
      for (size_t k = 0; k < kc; ++k) gathered[k] = x[k * ldb];
      x = gathered;
    }
    for (size_t m0 = 0; m0 < M; m0 += 4) {
      const size_t rows = M - m0 < 4 ? M - m0 : 4;
      const float *a = A + m0 * lda + k0;
      float sums[4];
      switch (rows) {
        case 4: gemv_rows(4, kc, a, lda, x, sums); break;
        case 3: gemv_rows(3, kc, a, lda, x, sums); break;
        case 2: gemv_rows(2, kc, a, lda, x, sums); break;
        default: gemv_rows(1, kc, a, lda, x, sums); break;
      }
      for (size_t i = 0; i < rows; ++i) {
        pnn_gemv_store(C + (m0 + i) * ldc, sums[i], first, last, row_bias ? row_bias + m0 + i : NULL,
                       col_bias, act);
      }
    }
    if (last) break;
  }
}

void pnn_f32_gemm_neon(size_t M, size_t N, size_t K, const float *A, size_t lda,
                       const float *B, size_t ldb, float *C, size_t ldc,
                       const float *row_bias, const float *col_bias, pnn_activation act) {
  if (M == 0 || N == 0) return;
  if (N == 1) {
    gemv(M, K, A, lda, B, ldb, C, ldc, row_bias, col_bias, act);
    return;
  }
  _Alignas(16) float packed_b[GEMM_KC * GEMM_NR];
  tile_epilogue ep;
  ep.row_bias = NULL;
  ep.kind = act.kind;
  ep.alpha = act.alpha;
  ep.beta = act.beta;
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  for (size_t k0 = 0;; k0 += GEMM_KC) {
    const size_t kc = K - k0 < GEMM_KC ? K - k0 : GEMM_KC;
    ep.accumulate = k0 != 0;
    ep.activate = k0 + kc >= K;
    size_t width;
    for (size_t n0 = 0; n0 < N; n0 += width) {
      const size_t left = N - n0;
      const int wide = left > 4; /* a 4-column panel when at most 4 columns remain */
      width = left < (wide ? 8u : 4u) ? left : (wide ? 8u : 4u);
      pack_b_panel(kc, B + k0 * ldb + n0, ldb, wide, width, packed_b);
      float cb[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      if (col_bias)
        for (size_t n = 0; n < width; ++n) cb[n] = col_bias[n0 + n];
      ep.col_lo = vld1q_f32(cb);
      ep.col_hi = vld1q_f32(cb + 4);
      for (size_t m0 = 0; m0 < M; m0 += GEMM_MR) {
        const size_t mr = M - m0 < GEMM_MR ? M - m0 : GEMM_MR;
        ep.row_bias = row_bias ? row_bias + m0 : NULL;
        strip_kernel(mr, wide, kc, A + m0 * lda + k0, lda, packed_b, C + m0 * ldc + n0, ldc,
                     width, &ep);
      }
      if (ep.activate && scalar_pass) {
        for (size_t m = 0; m < M; ++m) {
          float *row = C + m * ldc + n0;
          for (size_t n = 0; n < width; ++n) row[n] = pnn_activate(row[n], act);
        }
      }
    }
    if (ep.activate) break;
  }
}

#endif /* __aarch64__ */
