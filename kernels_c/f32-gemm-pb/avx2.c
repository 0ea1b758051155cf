/* f32 GEMM on a packed B panel for AVX2 + FMA (contract in pnn_kernels_nn.h; loops in
 * pb_driver.h).
 *
 * Micro-tiles of up to 6 rows x 16 columns (half a 32-column panel): 12 accumulators +
 * 2 B vectors + 1 broadcast of the 16 ymm registers (A's 14-row panels: strips of 5 + 5 +
 * 4 rows, pb_driver.h). pnn_f32_gemm_pt (channels across the lanes) is at the end. */
#include "pnn_kernels.h"

#if defined(__x86_64__)

PNN_TARGET_BEGIN("avx2,fma")

#define PNN_X86_ACT_AVX2
#include "pnn_x86_act.h"

typedef __m256 pb_vec;
typedef __m256i pb_mask;
enum { PB_LANES = 8 };
#define PB_MR 6
/* Sigmoid, tanh and swish after the store in vectors (the scalar pass with expf took
 * about 5 ns an output: 2-3 ms of ddddocr's CNN, whose every 3x3 conv ends in swish). */
#define PB_ACTIVATE_PASS pnn_f32_activate_avx2
/* Strip by strip up to 8 panels (every conv task's column chunk) when A's block is too
 * large for L2: with 16-column groups A would stream from L3 past each group twice as
 * often as on AVX-512; strip-major measured 9-11% faster on MobileNet V1's 14x14 1x1
 * shapes (512 x 256 and 512 x 512 weights, Zen 4). Where A stays in L2 the column
 * group's block in L1 streams fewer bytes (MobileNet V2's 14x14 layers: keep that). */
#define PB_STRIP_COLUMNS (8 * PNN_GEMM_PB_NR)

static PNN_ALWAYS_INLINE pb_mask pb_tail_mask(size_t n) { return pnn_mask8(n); }
static PNN_ALWAYS_INLINE pb_vec pb_zero(void) { return _mm256_setzero_ps(); }
static PNN_ALWAYS_INLINE pb_vec pb_set1(float x) { return _mm256_set1_ps(x); }
static PNN_ALWAYS_INLINE pb_vec pb_load(const float *p) { return _mm256_load_ps(p); }
static PNN_ALWAYS_INLINE pb_vec pb_loadu(const float *p) { return _mm256_loadu_ps(p); }
static PNN_ALWAYS_INLINE pb_vec pb_bcast(const float *p) { return _mm256_broadcast_ss(p); }
static PNN_ALWAYS_INLINE pb_vec pb_fma(pb_vec a, pb_vec b, pb_vec c) { return _mm256_fmadd_ps(a, b, c); }
static PNN_ALWAYS_INLINE pb_vec pb_add(pb_vec a, pb_vec b) { return _mm256_add_ps(a, b); }
static PNN_ALWAYS_INLINE void pb_store(float *p, pb_vec v) { _mm256_storeu_ps(p, v); }
static PNN_ALWAYS_INLINE pb_vec pb_load_tail(pb_mask m, const float *p) { return _mm256_maskload_ps(p, m); }
static PNN_ALWAYS_INLINE void pb_store_tail(float *p, pb_mask m, pb_vec v) { _mm256_maskstore_ps(p, m, v); }
static PNN_ALWAYS_INLINE pb_vec pb_act(pb_vec v, int kind, pb_vec alpha, pb_vec beta) {
  return pnn_act256(v, kind, alpha, beta);
}

#include "pb_driver.h"

void pnn_f32_gemm_pb_avx2(size_t M, size_t N, size_t K, const float *A, size_t lda,
                          const float *Bp, float *C, size_t ldc, const float *row_bias,
                          pnn_activation act) {
  gemm_pb(0, M, N, K, A, lda, Bp, C, ldc, row_bias, act);
}

void pnn_f32_gemm_pp_avx2(size_t M, size_t N, size_t K, const float *Ap, const float *Bp,
                          float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  gemm_pb(1, M, N, K, Ap, 0, Bp, C, ldc, row_bias, act);
}

/* ---- output channels across the lanes (pnn_f32_gemm_pt) -------------------------
 * Tiles of up to PT_MR pixels x 16 channels (half a 32-channel panel): per k two vector
 * loads of the channel panel and one broadcast per pixel; 12 accumulators + 2 + 1 of
 * the 16 ymm registers hold the whole K sum (no K blocks), start at the bias and get the
 * activation. Each 8-channel half of the tile is transposed in registers, so every
 * channel row of C gets its pixels in plain stores (masked stores are slow on AMD). */
enum { PT_MR = 6, PT_CHANNELS = 2 * PB_LANES };

/* r[i] lane j -> r[j] lane i (8 x 8). */
static PNN_ALWAYS_INLINE void pt_transpose8(__m256 r[8]) {
  __m256 t[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
    t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
  }
  for (int i = 0; i < 8; ++i) r[i] = t[i];
}

/* tile[i]: pixel i < nr of 8 channels, activated -> the channel rows of C (those below
 * `channels`). */
static PNN_ALWAYS_INLINE void pt_store8(__m256 tile[8], size_t nr, float *c, size_t ldc, size_t channels) {
  pt_transpose8(tile);
  for (size_t j = 0; j < 8; ++j)
    if (j < channels) pnn_store8_first(c + j * ldc, tile[j], nr);
}

/* nr pixels x the `channels` (<= 16) channels of at: at[k * NR + j], b[k * ldb + i]. */
static PNN_ALWAYS_INLINE void pt_tile(size_t nr, size_t K, const float *at, const float *b, size_t ldb, float *c,
                                      size_t ldc, size_t channels, pb_vec bias_lo, pb_vec bias_hi, const pb_epilogue *ep) {
  pb_vec lo[PT_MR], hi[PT_MR];
#pragma GCC unroll 6
  for (size_t i = 0; i < PT_MR; ++i) {
    lo[i] = bias_lo;
    hi[i] = bias_hi;
  }
  for (size_t k = 0; k < K; ++k) {
    const pb_vec a_lo = pb_loadu(at + k * PNN_GEMM_PB_NR); /* 64-byte aligned in conv (pnn_nn_aligned_tail) */
    const pb_vec a_hi = pb_loadu(at + k * PNN_GEMM_PB_NR + PB_LANES);
    if (ep->prefetch) {
      /* The next channel block's row k (pt_driver.h), both ends: it may straddle two
       * lines. Into L2 (prefetcht1): into L1 it evicted the block in use and made
       * 1024 x 1024 x 49 14% slower, where L2 took 7% off 512 x 512 x 196. */
      const uintptr_t row = (uintptr_t)(at + k * PNN_GEMM_PB_NR) + ep->prefetch;
      __builtin_prefetch((const void *)row, 0, 2);
      __builtin_prefetch((const void *)(row + PT_CHANNELS * sizeof(float) - 1), 0, 2);
    }
#pragma GCC unroll 6
    for (size_t i = 0; i < PT_MR; ++i) {
      if (i < nr) {
        const pb_vec bv = pb_bcast(b + k * ldb + i);
        lo[i] = pb_fma(bv, a_lo, lo[i]);
        hi[i] = pb_fma(bv, a_hi, hi[i]);
      }
    }
  }
  /* Built here, element by element: an accumulator array passed by pointer would live
   * on the stack and be stored on every k. */
  __m256 tile[8];
#pragma GCC unroll 8
  for (size_t i = 0; i < 8; ++i) tile[i] = i < nr && i < PT_MR ? pb_act(lo[i], ep->kind, ep->alpha, ep->beta) : pb_zero();
  pt_store8(tile, nr, c, ldc, channels);
  if (channels > PB_LANES) {
#pragma GCC unroll 8
    for (size_t i = 0; i < 8; ++i) tile[i] = i < nr && i < PT_MR ? pb_act(hi[i], ep->kind, ep->alpha, ep->beta) : pb_zero();
    pt_store8(tile, nr, c + PB_LANES * ldc, ldc, channels - PB_LANES);
  }
}

#define PT_CASE(R) \
  case R: pt_tile(R, K, at, b, ldb, c, ldc, channels, bias_lo, bias_hi, ep); break;

static void pt_strip(size_t nr, size_t K, const float *at, const float *b, size_t ldb, float *c, size_t ldc,
                     size_t channels, pb_vec bias_lo, pb_vec bias_hi, const pb_epilogue *ep) {
  switch (nr) {
    PT_CASE(1) PT_CASE(2) PT_CASE(3) PT_CASE(4) PT_CASE(5) PT_CASE(6)
    default: break;
  }
}
#undef PT_CASE

#include "pt_driver.h"

void pnn_f32_gemm_pt_avx2(size_t M, size_t N, size_t K, const float *At, const float *Bp,
                          float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  gemm_pt(M, N, K, At, Bp, K * PNN_GEMM_PB_NR, PNN_GEMM_PB_NR, C, ldc, row_bias, act);
}

void pnn_f32_gemm_pt_rows_avx2(size_t M, size_t N, size_t K, const float *At, const float *B, size_t ldb,
                               float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  gemm_pt(M, N, K, At, B, PNN_GEMM_PB_NR, ldb, C, ldc, row_bias, act);
}

PNN_TARGET_END()

#endif /* __x86_64__ */
