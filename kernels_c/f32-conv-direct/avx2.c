/* f32 direct convolution for AVX2 + FMA (contract in pnn_kernels_nn.h), with the output
 * channels across the lanes: a step is CL_PIXELS output pixels of one row x the block's
 * 16 channels (two vectors). Per tap it loads the two weight vectors of the packed block
 * ([C][kh*kw][16], a tap's 16 channels contiguous) and broadcasts one input value per
 * pixel: 6 loads per 8 FMAs and no shuffles. Columns across the lanes (the AVX-512
 * kernel, direct_driver.h) need a broadcast weight per FMA plus the tap vector's loads
 * and, at stride 2, its de-interleave: 10 loads per 8 FMAs, which held AVX2 at 50 GF/s
 * on MobileNet's first layer (80 GF/s here; ResNet's 7x7 stem 57 -> 98, Zen 4, hot
 * operands). 4 pixels measured faster than 5 or 6 (12 accumulators: GCC spills), and
 * their 4 x 8 transpose per channel half is half an 8 x 8 one; every channel row gets
 * its pixels in plain stores. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#define PNN_X86_ACT_AVX2
#include "pnn_x86_act.h"

enum { CL_PIXELS = 4, CL_BLOCK = PNN_F32_CONV_DIRECT_BLOCK };
_Static_assert(CL_BLOCK == 16, "a step holds the block's channels in two vectors");
_Static_assert(CL_PIXELS == 4, "cl_store transposes 4 pixels");

typedef struct cl_job {
  const pnn_conv2d_geometry *g;
  const float *x;      /* the image, [C][in_h][in_w] */
  const float *wb;     /* the block's packed weights */
  __m256 bias_lo, bias_hi, alpha, beta;
  int kind;
  size_t valid;        /* channels of the block below out_c */
  float *yb;           /* the block's first output channel plane */
} cl_job;

/* acc[p]: pixel p of 8 channels, activated and stored to the rows of the first
 * `channels` of them: a 4 x 8 transpose leaves channels l and l + 4 in the two halves
 * of one vector. */
static PNN_ALWAYS_INLINE void cl_store(const __m256 acc[CL_PIXELS], const cl_job *job, float *y, size_t out_hw,
                                       size_t channels) {
  __m256 a[CL_PIXELS];
#pragma GCC unroll 4
  for (size_t p = 0; p < CL_PIXELS; ++p) a[p] = pnn_act256(acc[p], job->kind, job->alpha, job->beta);
  const __m256 t0 = _mm256_unpacklo_ps(a[0], a[1]), t1 = _mm256_unpackhi_ps(a[0], a[1]);
  const __m256 t2 = _mm256_unpacklo_ps(a[2], a[3]), t3 = _mm256_unpackhi_ps(a[2], a[3]);
  __m256 u[4];
  u[0] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  u[1] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  u[2] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  u[3] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
#pragma GCC unroll 4
  for (size_t l = 0; l < 4; ++l) {
    if (l < channels) _mm_storeu_ps(y + l * out_hw, _mm256_castps256_ps128(u[l]));
    if (l + 4 < channels) _mm_storeu_ps(y + (l + 4) * out_hw, _mm256_extractf128_ps(u[l], 1));
  }
}

/* Pixels ox0 .. ox0 + CL_PIXELS - 1 of output row oy. `inside`: every input column
 * they read lies inside the row (no bounds checks). stride and kw are constants at
 * every call site, so the tap and pixel loops unroll. */
static PNN_ALWAYS_INLINE void cl_step(const cl_job *job, size_t stride, size_t kw, int inside, size_t oy,
                                      size_t ox0) {
  const pnn_conv2d_geometry *g = job->g;
  const size_t in_w = g->in_w, in_hw = g->in_h * in_w, kh = g->kernel_h, taps = kh * kw;
  const ptrdiff_t col0 = (ptrdiff_t)(ox0 * stride) - (ptrdiff_t)g->pad_left;
  __m256 lo[CL_PIXELS], hi[CL_PIXELS];
#pragma GCC unroll 4
  for (size_t p = 0; p < CL_PIXELS; ++p) {
    lo[p] = job->bias_lo;
    hi[p] = job->bias_hi;
  }
  for (size_t c = 0; c < g->channels; ++c) {
    for (size_t i = 0; i < kh; ++i) {
      const size_t iy = oy * stride + i - g->pad_top; /* wraps above the image */
      if (iy >= g->in_h) continue;
      const float *r = job->x + c * in_hw + iy * in_w;
      const float *w = job->wb + (c * taps + i * kw) * CL_BLOCK;
#pragma GCC unroll 7
      for (size_t j = 0; j < kw; ++j) {
        const __m256 w_lo = _mm256_loadu_ps(w + j * CL_BLOCK), w_hi = _mm256_loadu_ps(w + j * CL_BLOCK + 8);
#pragma GCC unroll 4
        for (size_t p = 0; p < CL_PIXELS; ++p) {
          const ptrdiff_t ix = col0 + (ptrdiff_t)(p * stride + j);
          const __m256 xv = inside ? _mm256_broadcast_ss(r + ix)
                                   : _mm256_set1_ps(ix >= 0 && (size_t)ix < in_w ? r[ix] : 0.0f);
          lo[p] = _mm256_fmadd_ps(w_lo, xv, lo[p]);
          hi[p] = _mm256_fmadd_ps(w_hi, xv, hi[p]);
        }
        /* At stride < kw the taps of neighbouring pixels read the same columns: kept
         * in registers across taps they would push accumulators to the stack (GCC
         * does so), so every tap broadcasts afresh from a row pointer the compiler
         * cannot see through. */
        __asm__("" : "+r"(r));
      }
    }
  }
  const size_t out_hw = g->out_h * g->out_w;
  float *y = job->yb + oy * g->out_w + ox0;
  cl_store(lo, job, y, out_hw, job->valid);
  if (job->valid > 8) cl_store(hi, job, y + 8 * out_hw, out_hw, job->valid - 8);
}

/* Rows [oy_begin, oy_end), steps left to right; the last step of a row is moved left to
 * end at the row's end (its overlapping pixels are computed again, identically). */
static PNN_ALWAYS_INLINE void cl_rows(const cl_job *job, size_t stride, size_t kw, size_t oy_begin, size_t oy_end) {
  const pnn_conv2d_geometry *g = job->g;
  const size_t out_w = g->out_w;
  for (size_t oy = oy_begin; oy < oy_end; ++oy) {
    for (size_t ox = 0; ox < out_w; ox += CL_PIXELS) {
      const size_t ox0 = out_w - ox < CL_PIXELS ? out_w - CL_PIXELS : ox;
      const size_t first = ox0 * stride, last = (ox0 + CL_PIXELS - 1) * stride + kw - 1;
      if (first >= g->pad_left && last - g->pad_left < g->in_w) cl_step(job, stride, kw, 1, oy, ox0);
      else cl_step(job, stride, kw, 0, oy, ox0);
    }
  }
}

#define CL_CASE(S, KW)                          \
  if (stride == (S) && kw == (KW)) {            \
    cl_rows(&job, S, KW, oy_begin, oy_end);     \
  } else

void pnn_f32_conv_direct_avx2(const pnn_conv2d_geometry *g, size_t out_c, const float *x, const float *packed,
                              const float *bias, float *y, size_t block, size_t oy_begin, size_t oy_end,
                              pnn_activation act) {
  const size_t stride = g->stride_w, kw = g->kernel_w, m0 = block * CL_BLOCK;
  if (g->out_w < CL_PIXELS) {
    /* Rows narrower than one step (tiny images only). */
    pnn_f32_conv_direct_scalar(g, out_c, x, packed, bias, y, block, oy_begin, oy_end, act);
    return;
  }
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  cl_job job;
  job.g = g;
  job.x = x;
  job.wb = packed + block * g->channels * g->kernel_h * kw * CL_BLOCK;
  job.valid = out_c - m0 < CL_BLOCK ? out_c - m0 : CL_BLOCK;
  float b[CL_BLOCK];
  for (size_t l = 0; l < CL_BLOCK; ++l) b[l] = bias && l < job.valid ? bias[m0 + l] : 0.0f;
  job.bias_lo = _mm256_loadu_ps(b);
  job.bias_hi = _mm256_loadu_ps(b + 8);
  job.kind = scalar_pass ? PNN_ACT_NONE : act.kind;
  job.alpha = _mm256_set1_ps(act.alpha);
  job.beta = _mm256_set1_ps(act.beta);
  job.yb = y + m0 * g->out_h * g->out_w;
  CL_CASE(1, 3) CL_CASE(2, 3) CL_CASE(1, 5) CL_CASE(2, 5) CL_CASE(1, 7) CL_CASE(2, 7) {
    pnn_f32_conv_direct_scalar(g, out_c, x, packed, bias, y, block, oy_begin, oy_end, act); /* not covered */
    return;
  }
  if (!scalar_pass) return;
  /* Sigmoid, tanh and swish after the store, in vectors (a scalar expf per output
   * took 2-3 ms of ddddocr's CNN, whose every 3x3 conv ends in swish). */
  const size_t out_hw = g->out_h * g->out_w;
  for (size_t l = 0; l < job.valid; ++l)
    pnn_f32_activate_avx2(job.yb + l * out_hw + oy_begin * g->out_w, (oy_end - oy_begin) * g->out_w, act);
}
#undef CL_CASE

PNN_TARGET_END()

#endif /* x86-64 */
