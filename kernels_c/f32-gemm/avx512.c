/* f32 GEMM for AVX-512F (see pnn_kernels.h for the contract).
 *
 * Blocking: K in blocks of GEMM_KC; for each K block, B is copied panel by panel
 * (GEMM_KC x 32 columns, zero-padded past N) into a 32 KiB stack buffer that stays
 * in L1 while every 14-row strip of A runs over it. The packed copy makes B tails
 * free (the micro-kernel always reads 32 columns) and avoids cache-set conflicts
 * when ldb is a large power of two. A is read in place with broadcasts. Partial
 * sums of an earlier K block live in C; bias is added in the first block and the
 * activation in the last. N == 1 (fully connected, batch 1) has its own GEMV path.
 *
 * ISA flags are set per file (pragma) so the build needs only portable flags;
 * pnn_f32_gemm_select only calls this after pnn_cpu_detect says AVX-512F is usable. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx512f,avx2,fma")

#include <immintrin.h>

#define PNN_X86_ACT_AVX512
#include "pnn_x86_act.h"

enum {
  GEMM_MR = 14,   /* rows per micro-tile: 28 accumulators + 2 B vectors + 1 broadcast */
  GEMM_NR = 32,   /* columns per wide micro-tile (two vectors) */
  GEMM_KC = 256,  /* K block: 256 x 32 floats of packed B = 32 KiB, fits L1 (48 KiB) */
  GEMV_KC = 2048  /* K block of the gathered B column in the N == 1 path */
};

typedef struct tile_epilogue {
  const float *row_bias; /* NULL or the bias of the strip's first row */
  __m512 col_lo, col_hi; /* column bias of the panel (zero when absent) */
  int accumulate;        /* not the first K block: add the partial sums in C */
  int activate;          /* last K block: apply the activation */
  int kind;
  __m512 alpha, beta;
} tile_epilogue;

static PNN_ALWAYS_INLINE void store_row(__m512 lo, __m512 hi, int wide, float *c,
                                        __mmask16 mask_lo, __mmask16 mask_hi,
                                        const tile_epilogue *ep, size_t row) {
  if (ep->accumulate) {
    lo = _mm512_add_ps(lo, _mm512_maskz_loadu_ps(mask_lo, c));
    if (wide) hi = _mm512_add_ps(hi, _mm512_maskz_loadu_ps(mask_hi, c + 16));
  } else {
    __m512 rb = ep->row_bias ? _mm512_set1_ps(ep->row_bias[row]) : _mm512_setzero_ps();
    lo = _mm512_add_ps(lo, _mm512_add_ps(rb, ep->col_lo));
    if (wide) hi = _mm512_add_ps(hi, _mm512_add_ps(rb, ep->col_hi));
  }
  if (ep->activate) {
    lo = pnn_act512(lo, ep->kind, ep->alpha, ep->beta);
    if (wide) hi = pnn_act512(hi, ep->kind, ep->alpha, ep->beta);
  }
  _mm512_mask_storeu_ps(c, mask_lo, lo);
  if (wide) _mm512_mask_storeu_ps(c + 16, mask_hi, hi);
}

/* C[mr x (16 or 32)] (+)= A[mr x kc] * packed B[kc x (16 or 32)], then the epilogue.
 * mr and wide are constants at every call site, so the loops unroll into registers. */
static PNN_ALWAYS_INLINE void micro_kernel(size_t mr, int wide, size_t kc, const float *a,
                                           size_t lda, const float *packed_b, float *c,
                                           size_t ldc, __mmask16 mask_lo, __mmask16 mask_hi,
                                           const tile_epilogue *ep) {
  __m512 lo[GEMM_MR], hi[GEMM_MR];
#pragma GCC unroll 14
  for (size_t i = 0; i < GEMM_MR; ++i) lo[i] = hi[i] = _mm512_setzero_ps();
  const size_t b_stride = wide ? 32 : 16;
  for (size_t k = 0; k < kc; ++k) {
    const float *b = packed_b + k * b_stride;
    const __m512 b_lo = _mm512_load_ps(b);
    const __m512 b_hi = wide ? _mm512_load_ps(b + 16) : _mm512_setzero_ps();
    const float *ak = a + k;
#pragma GCC unroll 14
    for (size_t i = 0; i < GEMM_MR; ++i) {
      if (i < mr) {
        const __m512 av = _mm512_set1_ps(ak[i * lda]);
        lo[i] = _mm512_fmadd_ps(av, b_lo, lo[i]);
        if (wide) hi[i] = _mm512_fmadd_ps(av, b_hi, hi[i]);
      }
    }
  }
#pragma GCC unroll 14
  for (size_t i = 0; i < GEMM_MR; ++i) {
    if (i < mr) store_row(lo[i], hi[i], wide, c + i * ldc, mask_lo, mask_hi, ep, i);
  }
}

#define PNN_MR_CASE(R)                                                                    \
  case R:                                                                                 \
    if (wide) micro_kernel(R, 1, kc, a, lda, packed_b, c, ldc, mask_lo, mask_hi, ep);     \
    else micro_kernel(R, 0, kc, a, lda, packed_b, c, ldc, mask_lo, mask_hi, ep);          \
    break;

/* One row strip of mr <= GEMM_MR rows (a switch so each size gets its own unrolled kernel). */
static void strip_kernel(size_t mr, int wide, size_t kc, const float *a, size_t lda,
                         const float *packed_b, float *c, size_t ldc, __mmask16 mask_lo,
                         __mmask16 mask_hi, const tile_epilogue *ep) {
  switch (mr) {
    PNN_MR_CASE(1) PNN_MR_CASE(2) PNN_MR_CASE(3) PNN_MR_CASE(4) PNN_MR_CASE(5)
    PNN_MR_CASE(6) PNN_MR_CASE(7) PNN_MR_CASE(8) PNN_MR_CASE(9) PNN_MR_CASE(10)
    PNN_MR_CASE(11) PNN_MR_CASE(12) PNN_MR_CASE(13) PNN_MR_CASE(14)
    default: break;
  }
}
#undef PNN_MR_CASE

/* Copies B[kc x width] (row stride ldb) into a dense buffer of row stride 16 or 32,
 * zero-filling the columns past the panel. Masked loads never touch memory past N. */
static void pack_b_panel(size_t kc, const float *b, size_t ldb, int wide, __mmask16 mask_lo,
                         __mmask16 mask_hi, float *packed) {
  if (wide) {
    for (size_t k = 0; k < kc; ++k) {
      _mm512_store_ps(packed + 32 * k, _mm512_maskz_loadu_ps(mask_lo, b + k * ldb));
      _mm512_store_ps(packed + 32 * k + 16, _mm512_maskz_loadu_ps(mask_hi, b + k * ldb + 16));
    }
  } else {
    for (size_t k = 0; k < kc; ++k)
      _mm512_store_ps(packed + 16 * k, _mm512_maskz_loadu_ps(mask_lo, b + k * ldb));
  }
}

/* ---- N == 1: y = A x, rows in groups so one load of x serves several rows. ---- */

static PNN_ALWAYS_INLINE void gemv_rows(size_t rows, size_t kc, const float *a, size_t lda,
                                        const float *x, float *sums) {
  __m512 acc[8];
#pragma GCC unroll 8
  for (size_t i = 0; i < 8; ++i) acc[i] = _mm512_setzero_ps();
  size_t k = 0;
  for (; k + 16 <= kc; k += 16) {
    const __m512 xv = _mm512_loadu_ps(x + k);
#pragma GCC unroll 8
    for (size_t i = 0; i < 8; ++i)
      if (i < rows) acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(a + i * lda + k), xv, acc[i]);
  }
  if (k < kc) {
    const __mmask16 tail = pnn_mask16(kc - k);
    const __m512 xv = _mm512_maskz_loadu_ps(tail, x + k);
#pragma GCC unroll 8
    for (size_t i = 0; i < 8; ++i)
      if (i < rows)
        acc[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, a + i * lda + k), xv, acc[i]);
  }
#pragma GCC unroll 8
  for (size_t i = 0; i < 8; ++i)
    if (i < rows) sums[i] = _mm512_reduce_add_ps(acc[i]);
}

static void gemv(size_t M, size_t K, const float *A, size_t lda, const float *B, size_t ldb,
                 float *C, size_t ldc, const float *row_bias, const float *col_bias,
                 pnn_activation act) {
  _Alignas(64) float gathered[GEMV_KC];
  for (size_t k0 = 0;; k0 += GEMV_KC) {
    const size_t kc = K - k0 < GEMV_KC ? K - k0 : GEMV_KC;
    const int first = k0 == 0, last = k0 + kc >= K;
    const float *x = B + k0 * ldb;
    if (ldb != 1) {
      for (size_t k = 0; k < kc; ++k) gathered[k] = x[k * ldb];
      x = gathered;
    }
    for (size_t m0 = 0; m0 < M; m0 += 8) {
      const size_t rows = M - m0 < 8 ? M - m0 : 8;
      const float *a = A + m0 * lda + k0;
      float sums[8];
      switch (rows) {
        case 8: gemv_rows(8, kc, a, lda, x, sums); break;
        case 7: gemv_rows(7, kc, a, lda, x, sums); break;
        case 6: gemv_rows(6, kc, a, lda, x, sums); break;
        case 5: gemv_rows(5, kc, a, lda, x, sums); break;
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

void pnn_f32_gemm_avx512(size_t M, size_t N, size_t K, const float *A, size_t lda,
                         const float *B, size_t ldb, float *C, size_t ldc,
                         const float *row_bias, const float *col_bias, pnn_activation act) {
  if (M == 0 || N == 0) return;
  if (N == 1) {
    gemv(M, K, A, lda, B, ldb, C, ldc, row_bias, col_bias, act);
    return;
  }
  _Alignas(64) float packed_b[GEMM_KC * GEMM_NR];
  tile_epilogue ep;
  ep.row_bias = NULL;
  ep.kind = act.kind;
  ep.alpha = _mm512_set1_ps(act.alpha);
  ep.beta = _mm512_set1_ps(act.beta);
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  for (size_t k0 = 0;; k0 += GEMM_KC) {
    const size_t kc = K - k0 < GEMM_KC ? K - k0 : GEMM_KC;
    ep.accumulate = k0 != 0;
    ep.activate = k0 + kc >= K;
    size_t width;
    for (size_t n0 = 0; n0 < N; n0 += width) {
      const size_t left = N - n0;
      const int wide = left > 16; /* a 16-column panel when at most 16 columns remain */
      width = wide ? (left < GEMM_NR ? left : GEMM_NR) : left;
      const __mmask16 mask_lo = pnn_mask16(width);
      const __mmask16 mask_hi = wide ? pnn_mask16(width - 16) : (__mmask16)0;
      pack_b_panel(kc, B + k0 * ldb + n0, ldb, wide, mask_lo, mask_hi, packed_b);
      ep.col_lo = ep.col_hi = _mm512_setzero_ps();
      if (col_bias) {
        ep.col_lo = _mm512_maskz_loadu_ps(mask_lo, col_bias + n0);
        if (wide) ep.col_hi = _mm512_maskz_loadu_ps(mask_hi, col_bias + n0 + 16);
      }
      for (size_t m0 = 0; m0 < M; m0 += GEMM_MR) {
        const size_t mr = M - m0 < GEMM_MR ? M - m0 : GEMM_MR;
        ep.row_bias = row_bias ? row_bias + m0 : NULL;
        strip_kernel(mr, wide, kc, A + m0 * lda + k0, lda, packed_b, C + m0 * ldc + n0, ldc,
                     mask_lo, mask_hi, &ep);
      }
      if (ep.activate && scalar_pass) {
        for (size_t m = 0; m < M; ++m) {
          pnn_f32_activate_avx512(C + m * ldc + n0, width, act);
        }
      }
    }
    if (ep.activate) break;
  }
}

PNN_TARGET_END()

#endif /* x86-64 */
