/* f32 GEMM for WebAssembly SIMD128 (see pnn_kernels.h for the contract).
 *
 * Same scheme as avx2.c with 4-lane vectors and no FMA (relaxed SIMD is not
 * used: clang 14 emits pre-standard opcodes for it that engines reject): K in
 * blocks of GEMM_KC; for each K block, B is copied panel by panel (GEMM_KC x 8
 * columns, zero-padded past N) into an 8 KiB stack buffer that stays in L1 while
 * every 4-row strip of A runs over it. The tile fits what V8's code generator has
 * on x86-64: 15 allocatable xmm registers (xmm15 is its scratch), and TurboFan puts
 * a basic block's loads ahead of its arithmetic, so all values a k step loads are
 * live at once. A 4 x 8 step holds 8 accumulators + 2 B vectors + 4 broadcasts + 1
 * product = 15 registers; a 6 x 8 step needs 20, and K unrolled by hand in C makes
 * clang emit each accumulator's k steps back to back (8 B vectors live): both spill
 * to the stack in every step. So the k loop stays a 1-step loop, which V8 unrolls
 * itself with a block per step (node 20, Zen 4: 4 x 8 rolled ran MobileNet's 1x1
 * shapes 15-30% faster than 6 x 8 unrolled by 4). A is read in place with 32-bit
 * splat loads. Partial
 * sums of an earlier K block live in C; bias is added in the first block and the
 * activation in the last. Tails never touch memory past the matrices: partial
 * columns are loaded and stored lane by lane. N == 1 (fully connected, batch 1) has its
 * own GEMV path. */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include "pnn_wasm_act.h"
#include "pnn_wasm_lanes.h"

enum {
  GEMM_MR = 4,    /* rows per micro-tile (the file's top says why not more) */
  GEMM_NR = 8,    /* columns per micro-tile (two vectors) */
  GEMM_KC = 256,  /* K block: 256 x 8 floats of packed B = 8 KiB */
  GEMV_KC = 2048  /* K block of the gathered B column in the N == 1 path */
};

typedef struct tile_epilogue {
  const float *row_bias; /* NULL or the bias of the strip's first row */
  v128_t col_lo, col_hi; /* column bias of the panel (zero when absent) */
  size_t width;          /* valid columns of the panel, 1..GEMM_NR */
  int accumulate;        /* not the first K block: add the partial sums in C */
  int activate;          /* last K block: apply the activation */
  int kind;
  v128_t alpha, beta;
} tile_epilogue;

static PNN_ALWAYS_INLINE void store_row(v128_t lo, v128_t hi, float *c, const tile_epilogue *ep,
                                        size_t row) {
  const size_t width = ep->width;
  const int full = width == GEMM_NR;
  const size_t width_hi = width > 4 ? width - 4 : 0;
  if (ep->accumulate) {
    lo = wasm_f32x4_add(lo, full ? wasm_v128_load(c) : pnn_wasm_load_first(c, width));
    hi = wasm_f32x4_add(hi, full ? wasm_v128_load(c + 4) : pnn_wasm_load_first(c + 4, width_hi));
  } else {
    const v128_t rb = wasm_f32x4_splat(ep->row_bias ? ep->row_bias[row] : 0.0f);
    lo = wasm_f32x4_add(lo, wasm_f32x4_add(rb, ep->col_lo));
    hi = wasm_f32x4_add(hi, wasm_f32x4_add(rb, ep->col_hi));
  }
  if (ep->activate) {
    lo = pnn_wasm_act(lo, ep->kind, ep->alpha, ep->beta);
    hi = pnn_wasm_act(hi, ep->kind, ep->alpha, ep->beta);
  }
  if (full) {
    wasm_v128_store(c, lo);
    wasm_v128_store(c + 4, hi);
  } else {
    pnn_wasm_store_first(c, width, lo);
    pnn_wasm_store_first(c + 4, width_hi, hi);
  }
}

/* C[mr x 8] (+)= A[mr x kc] * packed B[kc x 8], then the epilogue. mr is a
 * constant at every call site, so the row loops unroll into locals; the k loop
 * stays rolled (see the top of the file). */
static PNN_ALWAYS_INLINE void micro_kernel(size_t mr, size_t kc, const float *a, size_t lda,
                                           const float *packed_b, float *c, size_t ldc,
                                           const tile_epilogue *ep) {
  v128_t lo[GEMM_MR], hi[GEMM_MR];
  const float *rows[GEMM_MR];
#pragma clang loop unroll(full)
  for (size_t i = 0; i < GEMM_MR; ++i) {
    lo[i] = hi[i] = wasm_f32x4_const_splat(0.0f);
    rows[i] = a + (i < mr ? i : 0) * lda;
  }
  const float *b = packed_b;
#pragma clang loop unroll(disable)
  for (size_t k = 0; k < kc; ++k, b += GEMM_NR) {
    /* One k step: two B vectors, one splat of A per row. */
    const v128_t b_lo = wasm_v128_load(b);
    const v128_t b_hi = wasm_v128_load(b + 4);
#pragma clang loop unroll(full)
    for (size_t i = 0; i < GEMM_MR; ++i) {
      if (i < mr) {
        const v128_t av = wasm_v128_load32_splat(rows[i] + k);
        lo[i] = wasm_f32x4_add(lo[i], wasm_f32x4_mul(av, b_lo));
        hi[i] = wasm_f32x4_add(hi[i], wasm_f32x4_mul(av, b_hi));
      }
    }
  }
#pragma clang loop unroll(full)
  for (size_t i = 0; i < GEMM_MR; ++i) {
    if (i < mr) store_row(lo[i], hi[i], c + i * ldc, ep, i);
  }
}

/* One row strip of mr <= GEMM_MR rows (a switch so each size gets its own kernel). */
static void strip_kernel(size_t mr, size_t kc, const float *a, size_t lda, const float *packed_b,
                         float *c, size_t ldc, const tile_epilogue *ep) {
  switch (mr) {
    case 4: micro_kernel(4, kc, a, lda, packed_b, c, ldc, ep); break;
    case 3: micro_kernel(3, kc, a, lda, packed_b, c, ldc, ep); break;
    case 2: micro_kernel(2, kc, a, lda, packed_b, c, ldc, ep); break;
    case 1: micro_kernel(1, kc, a, lda, packed_b, c, ldc, ep); break;
    default: break;
  }
}

/* Copies B[kc x width] (row stride ldb) into a dense buffer of row stride 8,
 * zero-filling the columns past the panel. */
static void pack_b_panel(size_t kc, const float *b, size_t ldb, size_t width, float *packed) {
  if (width == GEMM_NR) {
    for (size_t k = 0; k < kc; ++k) {
      wasm_v128_store(packed + GEMM_NR * k, wasm_v128_load(b + k * ldb));
      wasm_v128_store(packed + GEMM_NR * k + 4, wasm_v128_load(b + k * ldb + 4));
    }
  } else {
    for (size_t k = 0; k < kc; ++k) {
      float *dst = packed + GEMM_NR * k;
      size_t n = 0;
      for (; n < width; ++n) dst[n] = b[k * ldb + n];
      for (; n < GEMM_NR; ++n) dst[n] = 0.0f;
    }
  }
}

/* ---- N == 1: y = A x, rows in groups so one load of x serves several rows. ---- */

static inline float horizontal_sum(v128_t v) {
  /* (v0 + v2) + (v1 + v3) */
  const v128_t s = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  return wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1);
}

static PNN_ALWAYS_INLINE void gemv_rows(size_t rows, size_t kc, const float *a, size_t lda,
                                        const float *x, float *sums) {
  v128_t acc[4];
#pragma clang loop unroll(full)
  for (size_t i = 0; i < 4; ++i) acc[i] = wasm_f32x4_const_splat(0.0f);
  size_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    const v128_t xv = wasm_v128_load(x + k);
#pragma clang loop unroll(full)
    for (size_t i = 0; i < 4; ++i)
      if (i < rows) acc[i] = wasm_f32x4_add(acc[i], wasm_f32x4_mul(wasm_v128_load(a + i * lda + k), xv));
  }
#pragma clang loop unroll(full)
  for (size_t i = 0; i < 4; ++i) {
    if (i < rows) {
      float s = horizontal_sum(acc[i]);
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

void pnn_f32_gemm_wasmsimd(size_t M, size_t N, size_t K, const float *A, size_t lda,
                           const float *B, size_t ldb, float *C, size_t ldc,
                           const float *row_bias, const float *col_bias, pnn_activation act) {
  if (M == 0 || N == 0) return;
  if (N == 1) {
    gemv(M, K, A, lda, B, ldb, C, ldc, row_bias, col_bias, act);
    return;
  }
  float packed_b[GEMM_KC * GEMM_NR] __attribute__((aligned(16)));
  tile_epilogue ep;
  ep.row_bias = NULL;
  ep.kind = act.kind;
  ep.alpha = wasm_f32x4_splat(act.alpha);
  ep.beta = wasm_f32x4_splat(act.beta);
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  for (size_t k0 = 0;; k0 += GEMM_KC) {
    const size_t kc = K - k0 < GEMM_KC ? K - k0 : GEMM_KC;
    ep.accumulate = k0 != 0;
    ep.activate = k0 + kc >= K;
    for (size_t n0 = 0; n0 < N; n0 += GEMM_NR) {
      const size_t width = N - n0 < GEMM_NR ? N - n0 : GEMM_NR;
      ep.width = width;
      pack_b_panel(kc, B + k0 * ldb + n0, ldb, width, packed_b);
      ep.col_lo = ep.col_hi = wasm_f32x4_const_splat(0.0f);
      if (col_bias) {
        ep.col_lo = pnn_wasm_load_first(col_bias + n0, width);
        ep.col_hi = pnn_wasm_load_first(col_bias + n0 + 4, width > 4 ? width - 4 : 0);
      }
      for (size_t m0 = 0; m0 < M; m0 += GEMM_MR) {
        const size_t mr = M - m0 < GEMM_MR ? M - m0 : GEMM_MR;
        ep.row_bias = row_bias ? row_bias + m0 : NULL;
        strip_kernel(mr, kc, A + m0 * lda + k0, lda, packed_b, C + m0 * ldc + n0, ldc, &ep);
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

#endif /* __wasm_simd128__ */
