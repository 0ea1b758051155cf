/* Compares the f32 GEMM and depthwise-convolution variants this CPU runs (as chosen by
 * pnn_f32_gemm_select / pnn_f32_dwconv_select, plus AVX2 on x86 when usable) with the
 * scalar references on awkward sizes: tails, partial tiles, K = 0, K over several
 * blocks, random leading dimensions, every bias combination and activation.
 *
 * Plain C, no ISA headers: the same file runs on x86-64 (AVX-512/AVX2), on aarch64
 * (NEON, under qemu) and on wasm32 (SIMD128). Tolerance: each output may differ by
 * 1e-5 of the sum of the absolute values of its terms (different summation order
 * and fused multiply-adds), plus 1e-6. The leading-dimension gaps of C must stay
 * untouched. Exits non-zero on any mismatch and prints how many cases ran. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"

#include "variant_gate.h"
#include "test_support.h"

#define SENTINEL 12345.0f

typedef struct stats {
  size_t cases;
  size_t failures;
} stats;

static const pnn_activation ACTIVATIONS[] = {
    {PNN_ACT_NONE, 0.0f, 0.0f},         {PNN_ACT_RELU, 0.0f, 0.0f},
    {PNN_ACT_CLIP, -0.5f, 0.7f},        {PNN_ACT_LEAKY_RELU, 0.1f, 0.0f},
    {PNN_ACT_SIGMOID, 0.0f, 0.0f},      {PNN_ACT_HARD_SIGMOID, 0.2f, 0.5f},
    {PNN_ACT_HARD_SWISH, 0.0f, 0.0f},   {PNN_ACT_TANH, 0.0f, 0.0f},
    {PNN_ACT_SWISH, 0.0f, 0.0f},
};
#define NUM_ACTIVATIONS (sizeof ACTIVATIONS / sizeof ACTIVATIONS[0])

/* A buffer of exactly n floats (at least one allocated) so sanitizers see overreads. */
static float *alloc_floats(size_t n) { return (float *)xmalloc(n * sizeof(float)); }

static void fill(rng *r, float *p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = rng_uniform(r, -1.0f, 1.0f);
}

/* ---- GEMM ---------------------------------------------------------------------- */

typedef struct gemm_case {
  size_t M, N, K, lda, ldb, ldc;
  int bias_mode; /* bit 0: row bias, bit 1: column bias */
  pnn_activation act;
} gemm_case;

static void check_gemm(const char *variant, pnn_f32_gemm_fn fn, const gemm_case *t, rng *r,
                       stats *s) {
  const size_t M = t->M, N = t->N, K = t->K;
  const size_t a_size = M && K ? (M - 1) * t->lda + K : 0;
  const size_t b_size = K && N ? (K - 1) * t->ldb + N : 0;
  const size_t c_size = M && N ? (M - 1) * t->ldc + N : 0;
  float *A = alloc_floats(a_size), *B = alloc_floats(b_size);
  float *row_bias = alloc_floats(M), *col_bias = alloc_floats(N);
  float *expected = alloc_floats(c_size), *got = alloc_floats(c_size);
  fill(r, A, a_size);
  fill(r, B, b_size);
  fill(r, row_bias, M);
  fill(r, col_bias, N);
  const float *rb = (t->bias_mode & 1) ? row_bias : NULL;
  const float *cb = (t->bias_mode & 2) ? col_bias : NULL;
  for (size_t i = 0; i < c_size; ++i) expected[i] = got[i] = SENTINEL;
  pnn_f32_gemm_scalar(M, N, K, A, t->lda, B, t->ldb, expected, t->ldc, rb, cb, t->act);
  fn(M, N, K, A, t->lda, B, t->ldb, got, t->ldc, rb, cb, t->act);
  size_t bad = 0;
  for (size_t m = 0; m < M && bad < 3; ++m) {
    for (size_t n = 0; n < t->ldc && m * t->ldc + n < c_size; ++n) {
      const size_t at = m * t->ldc + n;
      if (n >= N) { /* the gap between rows is the caller's */
        if (got[at] != SENTINEL) {
          fprintf(stderr, "%s gemm M=%zu N=%zu K=%zu: wrote C gap at m=%zu n=%zu\n", variant,
                  M, N, K, m, n);
          ++bad;
        }
        continue;
      }
      double bound = (rb ? fabs(rb[m]) : 0.0) + (cb ? fabs(cb[n]) : 0.0);
      for (size_t k = 0; k < K; ++k) bound += fabs((double)A[m * t->lda + k] * B[k * t->ldb + n]);
      const double tol = 1e-5 * bound + 1e-6;
      if (!(fabs((double)got[at] - expected[at]) <= tol)) {
        fprintf(stderr,
                "%s gemm M=%zu N=%zu K=%zu lda=%zu ldb=%zu ldc=%zu bias=%d act=%d: "
                "C[%zu][%zu] = %.9g, expected %.9g\n",
                variant, M, N, K, t->lda, t->ldb, t->ldc, t->bias_mode, t->act.kind, m, n,
                (double)got[at], (double)expected[at]);
        ++bad;
      }
    }
  }
  s->cases++;
  if (bad) s->failures++;
  free(A);
  free(B);
  free(row_bias);
  free(col_bias);
  free(expected);
  free(got);
}

static void run_gemm_case(const char *variant, pnn_f32_gemm_fn fn, size_t M, size_t N, size_t K,
                          int bias_mode, pnn_activation act, rng *r, stats *s) {
  gemm_case t;
  t.M = M;
  t.N = N;
  t.K = K;
  /* Random leading dimensions: tight half of the time, else a gap of 1..7. */
  t.lda = K + (rng_below(r, 2) ? 0 : 1 + rng_below(r, 7));
  t.ldb = N + (rng_below(r, 2) ? 0 : 1 + rng_below(r, 7));
  t.ldc = N + (rng_below(r, 2) ? 0 : 1 + rng_below(r, 7));
  if (t.lda == 0) t.lda = 1;
  t.bias_mode = bias_mode;
  t.act = act;
  check_gemm(variant, fn, &t, r, s);
}

static void test_gemm(const char *variant, pnn_f32_gemm_fn fn, stats *s) {
  static const size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65};
  const size_t num_sizes = sizeof sizes / sizeof sizes[0];
  rng r = {0x5eed1234u};
  size_t index = 0;
  /* Every M x N x K (and K = 0), cycling through bias combinations and activations. */
  for (size_t mi = 0; mi < num_sizes; ++mi)
    for (size_t ni = 0; ni < num_sizes; ++ni)
      for (size_t ki = 0; ki <= num_sizes; ++ki, ++index) {
        const size_t K = ki == num_sizes ? 0 : sizes[ki];
        run_gemm_case(variant, fn, sizes[mi], sizes[ni], K, (int)(index % 4),
                      ACTIVATIONS[(index / 4) % NUM_ACTIVATIONS], &r, s);
      }
  /* Every bias combination with every activation, on a tiled and a GEMV shape. */
  static const size_t shapes[][3] = {{9, 17, 33}, {5, 1, 31}, {17, 3, 0}, {1, 9, 5}};
  for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; ++sh)
    for (int bias = 0; bias < 4; ++bias)
      for (size_t a = 0; a < NUM_ACTIVATIONS; ++a)
        run_gemm_case(variant, fn, shapes[sh][0], shapes[sh][1], shapes[sh][2], bias,
                      ACTIVATIONS[a], &r, s);
  /* K over several blocks (the SIMD variants block K by 256 and the GEMV by 2048). */
  static const size_t large[][3] = {{9, 17, 300},  {16, 16, 513}, {3, 33, 1100}, {13, 5, 2100},
                                    {3, 1, 4500},  {13, 1, 2049}, {1, 2, 777},   {31, 1, 600}};
  for (size_t i = 0; i < sizeof large / sizeof large[0]; ++i)
    run_gemm_case(variant, fn, large[i][0], large[i][1], large[i][2], (int)(i % 4),
                  ACTIVATIONS[i % NUM_ACTIVATIONS], &r, s);
}

/* ---- depthwise convolution ------------------------------------------------------ */

typedef struct dw_config {
  size_t kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
} dw_config;

static void check_dwconv(const char *variant, pnn_f32_dwconv_fn fn, const pnn_conv2d_geometry *g,
                         int with_bias, pnn_activation act, rng *r, stats *s) {
  const size_t taps = g->kernel_h * g->kernel_w;
  const size_t x_size = g->channels * g->in_h * g->in_w;
  const size_t y_size = g->channels * g->out_h * g->out_w;
  float *x = alloc_floats(x_size), *w = alloc_floats(g->channels * taps);
  float *bias = alloc_floats(g->channels);
  float *expected = alloc_floats(y_size), *got = alloc_floats(y_size);
  fill(r, x, x_size);
  fill(r, w, g->channels * taps);
  fill(r, bias, g->channels);
  for (size_t i = 0; i < y_size; ++i) expected[i] = got[i] = SENTINEL;
  const float *b = with_bias ? bias : NULL;
  pnn_f32_dwconv_scalar(g, x, w, b, expected, act);
  fn(g, x, w, b, got, act);
  size_t bad = 0;
  for (size_t c = 0; c < g->channels && bad < 3; ++c)
    for (size_t oy = 0; oy < g->out_h; ++oy)
      for (size_t ox = 0; ox < g->out_w; ++ox) {
        double bound = b ? fabs(b[c]) : 0.0;
        for (size_t i = 0; i < g->kernel_h; ++i)
          for (size_t j = 0; j < g->kernel_w; ++j) {
            const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top;
            const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
            if (iy < g->in_h && ix < g->in_w)
              bound += fabs((double)w[c * taps + i * g->kernel_w + j] *
                            x[(c * g->in_h + iy) * g->in_w + ix]);
          }
        const size_t at = (c * g->out_h + oy) * g->out_w + ox;
        if (!(fabs((double)got[at] - expected[at]) <= 1e-5 * bound + 1e-6) && bad++ < 3)
          fprintf(stderr,
                  "%s dwconv C=%zu in=%zux%zu out=%zux%zu k=%zux%zu s=%zu,%zu d=%zu,%zu "
                  "pad=%zu,%zu bias=%d act=%d: y[%zu][%zu][%zu] = %.9g, expected %.9g\n",
                  variant, g->channels, g->in_h, g->in_w, g->out_h, g->out_w, g->kernel_h,
                  g->kernel_w, g->stride_h, g->stride_w, g->dilation_h, g->dilation_w,
                  g->pad_top, g->pad_left, with_bias, act.kind, c, oy, ox, (double)got[at],
                  (double)expected[at]);
      }
  s->cases++;
  if (bad) s->failures++;
  free(x);
  free(w);
  free(bias);
  free(expected);
  free(got);
}

/* Output size along one axis, 0 when the kernel does not fit. */
static size_t out_size(size_t in, size_t k, size_t stride, size_t dil, size_t pad_a, size_t pad_b) {
  const size_t span = dil * (k - 1) + 1;
  if (in + pad_a + pad_b < span) return 0;
  return (in + pad_a + pad_b - span) / stride + 1;
}

static void test_dwconv(const char *variant, pnn_f32_dwconv_fn fn, stats *s) {
  static const dw_config configs[] = {
      /* kh kw sh sw dh dw pt pl pb pr */
      {3, 3, 1, 1, 1, 1, 0, 0, 0, 0}, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {3, 3, 2, 2, 1, 1, 0, 0, 0, 0}, {3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
      {3, 3, 2, 2, 1, 1, 0, 0, 1, 1}, {5, 5, 1, 1, 1, 1, 2, 2, 2, 2},
      {5, 5, 2, 2, 1, 1, 2, 2, 2, 2}, {3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
      {3, 3, 2, 2, 2, 2, 1, 2, 0, 1}, {1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {3, 3, 1, 1, 1, 1, 0, 1, 2, 0}, {3, 3, 1, 2, 1, 1, 1, 0, 0, 1},
      {7, 7, 1, 1, 1, 1, 3, 3, 3, 3}, {2, 2, 2, 2, 1, 1, 0, 0, 0, 0},
      {1, 3, 1, 1, 1, 1, 0, 1, 0, 1}, {3, 1, 1, 1, 1, 1, 1, 0, 1, 0},
      {3, 3, 3, 3, 1, 1, 1, 1, 1, 1}, {4, 4, 2, 1, 1, 3, 2, 1, 1, 2},
  };
  static const size_t heights[] = {1, 2, 5, 7, 8, 9}; /* 7, 9: stores spilling into later rows */
  rng r = {0xd00dfeedu};
  size_t index = 0;
  for (size_t ci = 0; ci < sizeof configs / sizeof configs[0]; ++ci) {
    const dw_config *k = &configs[ci];
    for (size_t hi = 0; hi < sizeof heights / sizeof heights[0]; ++hi)
      for (size_t in_w = 1; in_w <= 19; ++in_w, ++index) {
        pnn_conv2d_geometry g;
        g.channels = 1 + index % 3;
        g.in_h = heights[hi];
        g.in_w = in_w;
        g.kernel_h = k->kh;
        g.kernel_w = k->kw;
        g.stride_h = k->sh;
        g.stride_w = k->sw;
        g.dilation_h = k->dh;
        g.dilation_w = k->dw;
        g.pad_top = k->pt;
        g.pad_left = k->pl;
        g.out_h = out_size(g.in_h, k->kh, k->sh, k->dh, k->pt, k->pb);
        g.out_w = out_size(g.in_w, k->kw, k->sw, k->dw, k->pl, k->pr);
        if (g.out_h == 0 || g.out_w == 0) continue;
        check_dwconv(variant, fn, &g, (int)(index % 2),
                     ACTIVATIONS[(index / 2) % NUM_ACTIVATIONS], &r, s);
      }
  }
  /* A wider image (many full vectors per row) with every activation. */
  for (size_t a = 0; a < NUM_ACTIVATIONS; ++a) {
    const dw_config *k = &configs[a % 4];
    pnn_conv2d_geometry g = {5, 13, 67, 0, 0, k->kh, k->kw, k->sh, k->sw, k->dh, k->dw, k->pt, k->pl};
    g.out_h = out_size(g.in_h, k->kh, k->sh, k->dh, k->pt, k->pb);
    g.out_w = out_size(g.in_w, k->kw, k->sw, k->dw, k->pl, k->pr);
    check_dwconv(variant, fn, &g, 1, ACTIVATIONS[a], &r, s);
  }
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  const char *gemm_name = "?", *dw_name = "?";
  pnn_f32_gemm_fn gemm = pnn_f32_gemm_select(&cpu, &gemm_name);
  pnn_f32_dwconv_fn dwconv = pnn_f32_dwconv_select(&cpu, &dw_name);
  stats gemm_stats = {0, 0}, dw_stats = {0, 0};
  test_gemm(gemm_name, gemm, &gemm_stats);
  test_dwconv(dw_name, dwconv, &dw_stats);
  printf("f32 gemm (%s): %zu cases, %zu failed\n", gemm_name, gemm_stats.cases, gemm_stats.failures);
  printf("f32 dwconv (%s): %zu cases, %zu failed\n", dw_name, dw_stats.cases, dw_stats.failures);
  size_t failures = gemm_stats.failures + dw_stats.failures;
#if defined(__x86_64__) || defined(_M_X64)
  /* The AVX2 variants are what AVX-512-less x86 machines pick: check them here too. */
  if (variant_usable("f32-gemm, f32-dwconv", "avx2", cpu.avx2_fma) && strcmp(gemm_name, "avx2") != 0) {
    stats s2 = {0, 0}, d2 = {0, 0};
    test_gemm("avx2", pnn_f32_gemm_avx2, &s2);
    test_dwconv("avx2", pnn_f32_dwconv_avx2, &d2);
    printf("f32 gemm (avx2): %zu cases, %zu failed\n", s2.cases, s2.failures);
    printf("f32 dwconv (avx2): %zu cases, %zu failed\n", d2.cases, d2.failures);
    failures += s2.failures + d2.failures;
  }
#endif
  if (failures) printf("FAILED: %zu cases\n", failures);
  return failures ? 1 : 0;
}
