/* f32 GEMM on a packed B panel for AVX-512F (contract in pnn_kernels_nn.h; loops in
 * pb_driver.h).
 *
 * 14 x 32 micro-tiles: 28 accumulators + 2 B vectors + 1 broadcast of the 32 zmm
 * registers. A (the weights) is broadcast from 14 row pointers in place or from a
 * packed panel. */
#include "pnn_kernels.h"

#if defined(__x86_64__)

PNN_TARGET_BEGIN("avx512f,avx2,fma")

#define PNN_X86_ACT_AVX512
#include "pnn_x86_act.h"

typedef __m512 pb_vec;
typedef __mmask16 pb_mask;
enum { PB_LANES = 16 };
#define PB_MR 14 /* PNN_GEMM_PA_MR: 14-row strips */
/* Never beyond PB_FEW_COLUMNS: the column group's block in L1 with A streaming past was
 * 30-60% faster (MobileNet's 1x1 shapes). */
#define PB_STRIP_COLUMNS 0
/* Sigmoid, tanh and swish after the store in vectors (the scalar pass with expf took
 * about 5 ns an output: 2-3 ms of ddddocr's CNN, whose every 3x3 conv ends in swish). */
#define PB_ACTIVATE_PASS pnn_f32_activate_avx512
/* 2 KiB: 16 panel rows ahead (-23% on ddddocr's 20 x 1024 x 8210 head; 4 KiB -20%). */
#define PB_STREAM_PREFETCH_BYTES 2048

static PNN_ALWAYS_INLINE pb_mask pb_tail_mask(size_t n) { return pnn_mask16(n); }
static PNN_ALWAYS_INLINE pb_vec pb_zero(void) { return _mm512_setzero_ps(); }
static PNN_ALWAYS_INLINE pb_vec pb_set1(float x) { return _mm512_set1_ps(x); }
static PNN_ALWAYS_INLINE pb_vec pb_load(const float *p) { return _mm512_load_ps(p); }
static PNN_ALWAYS_INLINE pb_vec pb_loadu(const float *p) { return _mm512_loadu_ps(p); }
static PNN_ALWAYS_INLINE pb_vec pb_bcast(const float *p) { return _mm512_set1_ps(*p); }
static PNN_ALWAYS_INLINE pb_vec pb_fma(pb_vec a, pb_vec b, pb_vec c) { return _mm512_fmadd_ps(a, b, c); }
static PNN_ALWAYS_INLINE pb_vec pb_add(pb_vec a, pb_vec b) { return _mm512_add_ps(a, b); }
static PNN_ALWAYS_INLINE void pb_store(float *p, pb_vec v) { _mm512_storeu_ps(p, v); }
static PNN_ALWAYS_INLINE pb_vec pb_load_tail(pb_mask m, const float *p) { return _mm512_maskz_loadu_ps(m, p); }
static PNN_ALWAYS_INLINE void pb_store_tail(float *p, pb_mask m, pb_vec v) { _mm512_mask_storeu_ps(p, m, v); }
static PNN_ALWAYS_INLINE pb_vec pb_act(pb_vec v, int kind, pb_vec alpha, pb_vec beta) {
  return pnn_act512(v, kind, alpha, beta);
}

/* Whole 14-row strips: A's panels (packed) start every 14 rows too. */
#include "pb_driver.h"

void pnn_f32_gemm_pb_avx512(size_t M, size_t N, size_t K, const float *A, size_t lda,
                            const float *Bp, float *C, size_t ldc, const float *row_bias,
                            pnn_activation act) {
  gemm_pb(0, M, N, K, A, lda, Bp, C, ldc, row_bias, act);
}

void pnn_f32_gemm_pp_avx512(size_t M, size_t N, size_t K, const float *Ap, const float *Bp,
                            float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  gemm_pb(1, M, N, K, Ap, 0, Bp, C, ldc, row_bias, act);
}

/* ---- output channels across the lanes (pnn_f32_gemm_pt) -------------------------
 * Tiles of up to PT_MR pixels x 32 channels: per k two vector loads of the channel
 * panel and one broadcast of each pixel's B value; 28 accumulators hold the whole K
 * sum (no K blocks), start at the bias and get the activation; the tile is then
 * transposed in registers so each channel row of C gets one masked vector store. */
enum { PT_MR = 14, PT_CHANNELS = PNN_GEMM_PB_NR };

/* r[i] lane j -> r[j] lane i: a 16 x 16 transpose (pairs, then 64-bit pairs, then
 * 128-bit lanes twice). */
static PNN_ALWAYS_INLINE void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  for (int h = 0; h < 16; h += 8) {
    for (int i = 0; i < 4; ++i) {
      t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0x88);
      t[h + 4 + i] = _mm512_shuffle_f32x4(r[h + i], r[h + 4 + i], 0xdd);
    }
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
    r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
  }
}

/* Rows [0, nr) of tile (pixels) x 16 channels -> 16 channel rows of C, channels with a
 * bit in `channels`. */
static PNN_ALWAYS_INLINE void pt_store(__m512 tile[16], size_t nr, float *c, size_t ldc, __mmask16 channels) {
  transpose16(tile);
  const __mmask16 pixels = pnn_mask16(nr);
  for (int j = 0; j < 16; ++j)
    if (channels >> j & 1) _mm512_mask_storeu_ps(c + (size_t)j * ldc, pixels, tile[j]);
}

static PNN_ALWAYS_INLINE void pt_tile(size_t nr, size_t K, const float *at, const float *b, size_t ldb, float *c,
                                      size_t ldc, size_t channels, __m512 bias_lo, __m512 bias_hi, const pb_epilogue *ep) {
  const __mmask16 mlo = pnn_mask16(channels), mhi = channels > 16 ? pnn_mask16(channels - 16) : 0;
  __m512 lo[PT_MR], hi[PT_MR];
#pragma GCC unroll 14
  for (size_t i = 0; i < PT_MR; ++i) {
    lo[i] = bias_lo;
    hi[i] = bias_hi;
  }
  for (size_t k = 0; k < K; ++k) {
    const __m512 a_lo = _mm512_loadu_ps(at + k * PNN_GEMM_PB_NR); /* params memory: 16-byte aligned */
    const __m512 a_hi = _mm512_loadu_ps(at + k * PNN_GEMM_PB_NR + 16);
#pragma GCC unroll 14
    for (size_t i = 0; i < PT_MR; ++i) {
      if (i < nr) {
        const __m512 bv = _mm512_set1_ps(b[k * ldb + i]);
        lo[i] = _mm512_fmadd_ps(bv, a_lo, lo[i]);
        hi[i] = _mm512_fmadd_ps(bv, a_hi, hi[i]);
      }
    }
  }
  __m512 tile[16];
  for (size_t i = 0; i < 16; ++i)
    tile[i] = i < nr && i < PT_MR ? pnn_act512(lo[i], ep->kind, ep->alpha, ep->beta) : _mm512_setzero_ps();
  pt_store(tile, nr, c, ldc, mlo);
  if (mhi) {
    for (size_t i = 0; i < 16; ++i)
      tile[i] = i < nr && i < PT_MR ? pnn_act512(hi[i], ep->kind, ep->alpha, ep->beta) : _mm512_setzero_ps();
    pt_store(tile, nr, c + 16 * ldc, ldc, mhi);
  }
}

#define PT_CASE(R) \
  case R: pt_tile(R, K, at, b, ldb, c, ldc, channels, bias_lo, bias_hi, ep); break;

static void pt_strip(size_t nr, size_t K, const float *at, const float *b, size_t ldb, float *c, size_t ldc,
                     size_t channels, __m512 bias_lo, __m512 bias_hi, const pb_epilogue *ep) {
  switch (nr) {
    PT_CASE(1) PT_CASE(2) PT_CASE(3) PT_CASE(4) PT_CASE(5) PT_CASE(6) PT_CASE(7)
    PT_CASE(8) PT_CASE(9) PT_CASE(10) PT_CASE(11) PT_CASE(12) PT_CASE(13) PT_CASE(14)
    default: break;
  }
}
#undef PT_CASE

#include "pt_driver.h"

void pnn_f32_gemm_pt_avx512(size_t M, size_t N, size_t K, const float *At, const float *Bp,
                            float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  gemm_pt(M, N, K, At, Bp, K * PNN_GEMM_PB_NR, PNN_GEMM_PB_NR, C, ldc, row_bias, act);
}

void pnn_f32_gemm_pt_rows_avx512(size_t M, size_t N, size_t K, const float *At, const float *B, size_t ldb,
                                 float *C, size_t ldc, const float *row_bias, pnn_activation act) {
  gemm_pt(M, N, K, At, B, PNN_GEMM_PB_NR, ldb, C, ldc, row_bias, act);
}

PNN_TARGET_END()

#endif /* __x86_64__ */
