/* NaN and infinities through the f32 kernels, in the scalar reference and in every SIMD
 * variant this build and CPU run (x86-64: AVX2 and AVX-512 when usable; aarch64: NEON;
 * wasm32: SIMD128): the fused activations of the GEMM, depthwise convolution and SpMM
 * epilogues, the element-wise activations and unary ops, max and average pooling.
 *
 * Expected values come from a double-precision reference written here, not from the
 * kernels: NaN propagates through every activation and through max pooling, and
 * +inf / -inf follow IEEE arithmetic then the activation (relu(-inf) = 0, sigmoid(+inf)
 * = 1, hard_swish(-inf) = -inf * 0 = NaN), as onnxruntime computes them. Special values
 * are placed at the first element, in vector tails and at the last element, on awkward
 * sizes (1, odd, one past a vector). A NaN must come out NaN, an infinity the same
 * infinity, a finite value within 1e-5 of the sum of its terms' magnitudes; relu must
 * also map -0 to +0 as the scalar reference does. Plain C, no ISA headers: the same file
 * runs on x86-64, on aarch64 (under qemu) and on wasm32 (node). Exits non-zero on any
 * mismatch and prints how many cases ran per variant. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"
#include "pnn_kernels_sparse.h"
#include "test_support.h"

/* A nonzero weight in [-1, -0.25] or [0.25, 1], so 0 * inf never arises. */
static float rng_weight(rng *r) {
  const float magnitude = rng_uniform(r, 0.25f, 1.0f);
  return (rng_next(r) & 1) ? magnitude : -magnitude;
}

typedef struct stats {
  size_t cases, failures;
} stats;

static const pnn_activation ACTIVATIONS[] = {
    {PNN_ACT_NONE, 0.0f, 0.0f},       {PNN_ACT_RELU, 0.0f, 0.0f},
    {PNN_ACT_CLIP, 0.0f, 6.0f},       {PNN_ACT_CLIP, -0.5f, 0.7f},
    {PNN_ACT_LEAKY_RELU, 0.1f, 0.0f}, {PNN_ACT_SIGMOID, 0.0f, 0.0f},
    {PNN_ACT_HARD_SIGMOID, 0.2f, 0.5f}, {PNN_ACT_HARD_SWISH, 0.0f, 0.0f},
    {PNN_ACT_TANH, 0.0f, 0.0f},       {PNN_ACT_SWISH, 0.0f, 0.0f},
};
#define NUM_ACTIVATIONS (sizeof ACTIVATIONS / sizeof ACTIVATIONS[0])

static float *floats(size_t n) { return (float *)xmalloc(n * sizeof(float)); }

/* The reference activation: NaN in, NaN out; infinities by IEEE arithmetic. */
static double ref_act(double x, pnn_activation a) {
  if (isnan(x)) return x;
  switch (a.kind) {
    case PNN_ACT_RELU: return x > 0.0 ? x : 0.0;
    case PNN_ACT_CLIP: return x < a.alpha ? a.alpha : (x > a.beta ? a.beta : x);
    case PNN_ACT_LEAKY_RELU: return x >= 0.0 ? x : a.alpha * x;
    case PNN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case PNN_ACT_HARD_SIGMOID: {
      const double y = a.alpha * x + a.beta;
      return y < 0.0 ? 0.0 : (y > 1.0 ? 1.0 : y);
    }
    case PNN_ACT_HARD_SWISH: {
      const double y = x / 6.0 + 0.5;
      return x * (y < 0.0 ? 0.0 : (y > 1.0 ? 1.0 : y));
    }
    case PNN_ACT_TANH: return tanh(x);
    case PNN_ACT_SWISH: return x / (1.0 + exp(-x)); /* -inf: -inf / inf = NaN, as Mul(-inf, 0) */
    default: return x;
  }
}

/* got matches want: NaN for NaN, the same infinity, or within tol. Relu (kind 1) must
 * also give +0 where the reference does (its sign of zero is part of the contract). */
static int matches(float got, double want, double tol, int kind) {
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return isinf(got) && (got > 0) == (want > 0);
  if (!isfinite(got) || fabs((double)got - want) > tol) return 0;
  if (kind == PNN_ACT_RELU && want == 0.0 && signbit(got)) return 0;
  return 1;
}

/* A finite float or one of the special values (about one in `one_in`). */
static float maybe_special(rng *r, unsigned one_in) {
  if (rng_next(r) % one_in == 0) {
    switch (rng_next(r) % 3) {
      case 0: return NAN;
      case 1: return INFINITY;
      default: return -INFINITY;
    }
  }
  return rng_uniform(r, -2.0f, 2.0f);
}

static const float SPECIALS[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.0f, 1.5f, -1.5f, 7.0f, -7.0f,
                                 1e30f, -1e30f, FLT_MAX, -FLT_MAX, 1e-40f, -1e-40f};
#define NUM_SPECIALS (sizeof SPECIALS / sizeof SPECIALS[0])

/* Length-n values cycling through SPECIALS from a given start (so each special lands
 * at the first, a middle and the last position over the starts tried). */
static void fill_specials(float *x, size_t n, size_t start) {
  for (size_t i = 0; i < n; ++i) x[i] = SPECIALS[(start + i) % NUM_SPECIALS];
}

static void report(const char *what, const char *variant, size_t at, float got, double want,
                   int kind) {
  fprintf(stderr, "%s (%s) act=%d: element %zu = %.9g, expected %.9g\n", what, variant, kind, at,
          (double)got, want);
}

/* ---- element-wise: pnn_f32_activate_scalar and pnn_f32_unary_scalar ----------------- */

/* The unary kind of a fused activation; -1 for swish (no ONNX op of its own). */
static int unary_kind_of(int act_kind) {
  switch (act_kind) {
    case PNN_ACT_RELU: return PNN_UNARY_RELU;
    case PNN_ACT_CLIP: return PNN_UNARY_CLIP;
    case PNN_ACT_LEAKY_RELU: return PNN_UNARY_LEAKY_RELU;
    case PNN_ACT_SIGMOID: return PNN_UNARY_SIGMOID;
    case PNN_ACT_HARD_SIGMOID: return PNN_UNARY_HARD_SIGMOID;
    case PNN_ACT_HARD_SWISH: return PNN_UNARY_HARD_SWISH;
    case PNN_ACT_TANH: return PNN_UNARY_TANH;
    case PNN_ACT_SWISH: return -1;
    default: return PNN_UNARY_COPY;
  }
}

/* The scalar references and the unary kernel / in-place activation selected for this
 * CPU (SIMD where there is one). */
static void test_elementwise(stats *s) {
  static const size_t LENGTHS[] = {1, 2, 3, 15, 16, 17, 31, 33};
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  pnn_f32_activate_fn simd_activate = NULL;
  const char *simd_name = NULL;
  const pnn_f32_unary_fn simd_unary = pnn_f32_unary_select(&cpu, &simd_activate, &simd_name);
  for (size_t a = 0; a < NUM_ACTIVATIONS; ++a) {
    const pnn_activation act = ACTIVATIONS[a];
    for (size_t li = 0; li < sizeof LENGTHS / sizeof LENGTHS[0]; ++li) {
      for (size_t start = 0; start < NUM_SPECIALS; start += 4) {
        const size_t n = LENGTHS[li];
        float *x = floats(n), *in_place = floats(n), *y = floats(n);
        float *simd_in_place = floats(n), *simd_y = floats(n);
        fill_specials(x, n, start);
        memcpy(in_place, x, n * sizeof(float));
        memcpy(simd_in_place, x, n * sizeof(float));
        pnn_f32_activate_scalar(in_place, n, act);
        simd_activate(simd_in_place, n, act);
        const int unary_kind = unary_kind_of(act.kind);
        const pnn_unary_params p = {unary_kind, act.alpha, act.beta};
        if (unary_kind >= 0) {
          pnn_f32_unary_scalar(&p, n, x, y);
          simd_unary(&p, n, x, simd_y);
        }
        size_t bad = 0;
        for (size_t i = 0; i < n; ++i) {
          const double want = ref_act(x[i], act);
          const double tol = 2e-6 * (1.0 + fabs(want));
          if (!matches(in_place[i], want, tol, act.kind)) {
            report("activate", "scalar", i, in_place[i], want, act.kind);
            ++bad;
          }
          if (!matches(simd_in_place[i], want, tol, act.kind)) {
            report("activate", simd_name, i, simd_in_place[i], want, act.kind);
            ++bad;
          }
          if (unary_kind >= 0 && !matches(y[i], want, tol, act.kind)) {
            report("unary", "scalar", i, y[i], want, act.kind);
            ++bad;
          }
          if (unary_kind >= 0 && !matches(simd_y[i], want, tol, act.kind)) {
            report("unary", simd_name, i, simd_y[i], want, act.kind);
            ++bad;
          }
        }
        free(simd_in_place);
        free(simd_y);
        s->cases++;
        if (bad) s->failures++;
        free(x);
        free(in_place);
        free(y);
      }
    }
  }
}

/* ---- GEMM epilogue --------------------------------------------------------------- */

/* C = act(A B + row_bias + col_bias) for a random A [M,K], B [K,N] with specials
 * in the biases (every row and column tail) and, when K > 1, a NaN in A (its row goes
 * NaN) and an infinity in B over a positive column of A (its column goes infinite). */
static void check_gemm(const char *variant, pnn_f32_gemm_fn fn, size_t M, size_t N, size_t K,
                       pnn_activation act, rng *r, stats *s) {
  float *A = floats(M * K), *B = floats(K * N), *rb = floats(M), *cb = floats(N), *C = floats(M * N);
  for (size_t i = 0; i < M * K; ++i) A[i] = rng_uniform(r, -1.0f, 1.0f);
  for (size_t i = 0; i < K * N; ++i) B[i] = rng_uniform(r, -1.0f, 1.0f);
  for (size_t m = 0; m < M; ++m) rb[m] = maybe_special(r, 5);
  for (size_t n = 0; n < N; ++n) cb[n] = maybe_special(r, 4);
  cb[N - 1] = SPECIALS[rng_next(r) % 3]; /* the last column's tail lane */
  if (K > 1) {
    const size_t m0 = rng_next(r) % M, k0 = rng_next(r) % K, k1 = (k0 + 1) % K, n1 = rng_next(r) % N;
    A[m0 * K + k0] = NAN;
    for (size_t m = 0; m < M; ++m) A[m * K + k1] = rng_uniform(r, 0.25f, 1.0f);
    B[k1 * N + n1] = (rng_next(r) & 1) ? INFINITY : -INFINITY;
  }
  fn(M, N, K, A, K, B, N, C, N, rb, cb, act);
  size_t bad = 0;
  for (size_t m = 0; m < M && bad < 3; ++m) {
    for (size_t n = 0; n < N && bad < 3; ++n) {
      double sum = (double)rb[m] + cb[n], bound = fabs(sum);
      for (size_t k = 0; k < K; ++k) {
        const double term = (double)A[m * K + k] * B[k * N + n];
        sum += term;
        bound += fabs(term);
      }
      const double want = ref_act(sum, act);
      if (!matches(C[m * N + n], want, 1e-5 * bound + 1e-6, act.kind)) {
        fprintf(stderr, "gemm M=%zu N=%zu K=%zu: ", M, N, K);
        report("gemm", variant, m * N + n, C[m * N + n], want, act.kind);
        ++bad;
      }
    }
  }
  s->cases++;
  if (bad) s->failures++;
  free(A);
  free(B);
  free(rb);
  free(cb);
  free(C);
}

static void test_gemm(const char *variant, pnn_f32_gemm_fn fn, stats *s) {
  static const size_t MS[] = {1, 2, 3, 7, 8, 9, 17};
  static const size_t NS[] = {1, 2, 3, 5, 8, 15, 16, 17, 31, 33};
  static const size_t KS[] = {1, 3, 300}; /* 300: more than one K block */
  rng r = {42};
  for (size_t a = 0; a < NUM_ACTIVATIONS; ++a)
    for (size_t mi = 0; mi < sizeof MS / sizeof MS[0]; ++mi)
      for (size_t ni = 0; ni < sizeof NS / sizeof NS[0]; ++ni)
        for (size_t ki = 0; ki < sizeof KS / sizeof KS[0]; ++ki)
          check_gemm(variant, fn, MS[mi], NS[ni], KS[ki], ACTIVATIONS[a], &r, s);
}

/* ---- depthwise convolution epilogue ------------------------------------------------ */

static size_t out_size(size_t in, size_t k, size_t stride, size_t pad) {
  return (in + 2 * pad - k) / stride + 1;
}

static void check_dwconv(const char *variant, pnn_f32_dwconv_fn fn, const pnn_conv2d_geometry *g,
                         pnn_activation act, rng *r, stats *s) {
  const size_t C = g->channels, in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
  const size_t taps = g->kernel_h * g->kernel_w;
  float *x = floats(C * in_plane), *w = floats(C * taps), *bias = floats(C), *y = floats(C * out_plane);
  for (size_t i = 0; i < C * in_plane; ++i) x[i] = maybe_special(r, 23);
  x[C * in_plane - 1] = SPECIALS[rng_next(r) % 3];         /* the last pixel */
  x[(C - 1) * in_plane + g->in_w - 1] = SPECIALS[rng_next(r) % 3]; /* a row's tail */
  for (size_t i = 0; i < C * taps; ++i) w[i] = rng_weight(r);
  for (size_t c = 0; c < C; ++c) bias[c] = rng_uniform(r, -1.0f, 1.0f);
  fn(g, x, w, bias, y, act);
  size_t bad = 0;
  for (size_t c = 0; c < C && bad < 3; ++c) {
    for (size_t oy = 0; oy < g->out_h && bad < 3; ++oy) {
      for (size_t ox = 0; ox < g->out_w && bad < 3; ++ox) {
        double sum = bias[c], bound = fabs(sum);
        for (size_t i = 0; i < g->kernel_h; ++i) {
          const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top; /* wraps when above */
          if (iy >= g->in_h) continue;
          for (size_t j = 0; j < g->kernel_w; ++j) {
            const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
            if (ix >= g->in_w) continue;
            const double term = (double)w[c * taps + i * g->kernel_w + j] * x[c * in_plane + iy * g->in_w + ix];
            sum += term;
            bound += fabs(term);
          }
        }
        const size_t at = c * out_plane + oy * g->out_w + ox;
        const double want = ref_act(sum, act);
        if (!matches(y[at], want, 1e-5 * bound + 1e-6, act.kind)) {
          fprintf(stderr, "dwconv %zux%zu k%zu s%zu: ", g->in_h, g->in_w, g->kernel_h, g->stride_h);
          report("dwconv", variant, at, y[at], want, act.kind);
          ++bad;
        }
      }
    }
  }
  s->cases++;
  if (bad) s->failures++;
  free(x);
  free(w);
  free(bias);
  free(y);
}

static void test_dwconv(const char *variant, pnn_f32_dwconv_fn fn, stats *s) {
  static const size_t SIZES[][2] = {{1, 1}, {3, 5}, {5, 9}, {7, 17}, {4, 33}, {9, 20}};
  static const size_t KERNELS[][3] = {{3, 1, 1}, {3, 2, 1}, {5, 1, 2}, {1, 1, 0}}; /* k, stride, pad */
  rng r = {7};
  for (size_t a = 0; a < NUM_ACTIVATIONS; ++a) {
    for (size_t si = 0; si < sizeof SIZES / sizeof SIZES[0]; ++si) {
      for (size_t ki = 0; ki < sizeof KERNELS / sizeof KERNELS[0]; ++ki) {
        const size_t k = KERNELS[ki][0], stride = KERNELS[ki][1], pad = KERNELS[ki][2];
        pnn_conv2d_geometry g;
        memset(&g, 0, sizeof g);
        g.channels = 3;
        g.in_h = SIZES[si][0];
        g.in_w = SIZES[si][1];
        if (g.in_h + 2 * pad < k || g.in_w + 2 * pad < k) continue;
        g.kernel_h = g.kernel_w = k;
        g.stride_h = g.stride_w = stride;
        g.dilation_h = g.dilation_w = 1;
        g.pad_top = g.pad_left = pad;
        g.out_h = out_size(g.in_h, k, stride, pad);
        g.out_w = out_size(g.in_w, k, stride, pad);
        check_dwconv(variant, fn, &g, ACTIVATIONS[a], &r, s);
      }
    }
  }
}

/* ---- SpMM epilogue ------------------------------------------------------------------ */

static void check_spmm(const char *variant, pnn_f32_spmm_fn fn, size_t rows, size_t cols, size_t G,
                       size_t pixels, pnn_activation act, rng *r, stats *s) {
  const size_t n_groups = (rows + G - 1) / G;
  uint32_t *group_nnz = (uint32_t *)xmalloc(n_groups * sizeof(uint32_t));
  uint32_t *indices = (uint32_t *)xmalloc(n_groups * cols * sizeof(uint32_t));
  float *values = floats(n_groups * cols * G);
  size_t total = 0;
  for (size_t g = 0; g < n_groups; ++g) {
    group_nnz[g] = 0;
    for (size_t k = 0; k < cols; ++k) {
      if (rng_next(r) % 2 && k + 1 < cols) continue; /* keep about half, always the last column */
      indices[total] = (uint32_t)k;
      for (size_t i = 0; i < G; ++i) values[total * G + i] = g * G + i < rows ? rng_weight(r) : 0.0f;
      ++total;
      ++group_nnz[g];
    }
  }
  const pnn_sparse_f32 w = {rows, cols, G, n_groups, group_nnz, indices, values};
  float *x = floats(cols * pixels), *bias = floats(rows), *y = floats(rows * pixels);
  for (size_t i = 0; i < cols * pixels; ++i) x[i] = maybe_special(r, 29);
  x[cols * pixels - 1] = SPECIALS[rng_next(r) % 3]; /* the last column's last pixel */
  for (size_t m = 0; m < rows; ++m) bias[m] = rng_uniform(r, -1.0f, 1.0f);
  fn(&w, pixels, x, pixels, bias, y, pixels, act);
  size_t bad = 0;
  const uint32_t *idx = indices;
  const float *val = values;
  for (size_t g = 0; g < n_groups; ++g) {
    for (size_t i = 0; i < G && g * G + i < rows && bad < 3; ++i) {
      const size_t m = g * G + i;
      for (size_t p = 0; p < pixels && bad < 3; ++p) {
        double sum = bias[m], bound = fabs(sum);
        for (size_t j = 0; j < group_nnz[g]; ++j) {
          const double term = (double)val[j * G + i] * x[idx[j] * pixels + p];
          sum += term;
          bound += fabs(term);
        }
        const double want = ref_act(sum, act);
        if (!matches(y[m * pixels + p], want, 2e-5 * bound + 1e-6, act.kind)) {
          fprintf(stderr, "spmm rows=%zu cols=%zu G=%zu pixels=%zu: ", rows, cols, G, pixels);
          report("spmm", variant, m * pixels + p, y[m * pixels + p], want, act.kind);
          ++bad;
        }
      }
    }
    idx += group_nnz[g];
    val += group_nnz[g] * G;
  }
  s->cases++;
  if (bad) s->failures++;
  free(group_nnz);
  free(indices);
  free(values);
  free(x);
  free(bias);
  free(y);
}

static void test_spmm(const char *variant, pnn_f32_spmm_fn fn, stats *s) {
  static const size_t GROUPS[] = {1, 2, 4, 8};
  static const size_t PIXELS[] = {1, 3, 4, 5, 8, 15, 16, 17, 33, 65};
  rng r = {99};
  for (size_t a = 0; a < NUM_ACTIVATIONS; ++a)
    for (size_t gi = 0; gi < sizeof GROUPS / sizeof GROUPS[0]; ++gi)
      for (size_t pi = 0; pi < sizeof PIXELS / sizeof PIXELS[0]; ++pi)
        check_spmm(variant, fn, 11, 7, GROUPS[gi], PIXELS[pi], ACTIVATIONS[a], &r, s);
}

/* ---- pooling -------------------------------------------------------------------------- */

/* Max over the in-image taps: NaN if any is NaN, else the largest (-inf if all are);
 * -FLT_MAX when no tap is inside the image. */
static double ref_maxpool(const pnn_pool2d_geometry *g, const float *x_c, size_t oy, size_t ox) {
  double best = -INFINITY;
  int have = 0, nan = 0;
  for (size_t i = 0; i < g->kernel_h; ++i) {
    const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top;
    if (iy >= g->in_h) continue;
    for (size_t j = 0; j < g->kernel_w; ++j) {
      const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
      if (ix >= g->in_w) continue;
      const float v = x_c[iy * g->in_w + ix];
      have = 1;
      if (isnan(v)) nan = 1;
      else if (v > best) best = v;
    }
  }
  return !have ? -FLT_MAX : (nan ? NAN : best);
}

static double ref_avgpool(const pnn_pool2d_geometry *g, const float *x_c, size_t oy, size_t ox,
                          double *bound) {
  double sum = 0.0;
  size_t count = 0;
  *bound = 0.0;
  for (size_t i = 0; i < g->kernel_h; ++i) {
    const size_t iy = oy * g->stride_h + i * g->dilation_h - g->pad_top;
    if (iy >= g->in_h) continue;
    for (size_t j = 0; j < g->kernel_w; ++j) {
      const size_t ix = ox * g->stride_w + j * g->dilation_w - g->pad_left;
      if (ix >= g->in_w) continue;
      sum += x_c[iy * g->in_w + ix];
      *bound += fabs(x_c[iy * g->in_w + ix]);
      ++count;
    }
  }
  *bound /= (double)(count ? count : 1);
  return count ? sum / (double)count : 0.0;
}

typedef void (*maxpool_fn)(const pnn_pool2d_geometry *g, const float *x, float *y);

static void check_pool(const char *variant, maxpool_fn maxpool, const pnn_pool2d_geometry *g, rng *r,
                       stats *s) {
  const size_t in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
  float *x = floats(g->channels * in_plane), *y = floats(g->channels * out_plane);
  for (size_t i = 0; i < g->channels * in_plane; ++i) x[i] = maybe_special(r, 7);
  x[0] = NAN;                                /* the first tap of the first window */
  x[g->channels * in_plane - 1] = NAN;       /* the last tap of the last */
  if (g->channels > 1) /* a plane of -inf but one NaN in its middle */
    for (size_t i = 0; i < in_plane; ++i) x[in_plane + i] = i == in_plane / 2 ? NAN : -INFINITY;
  size_t bad = 0;
  if (maxpool) {
    maxpool(g, x, y);
    for (size_t c = 0; c < g->channels && bad < 3; ++c)
      for (size_t oy = 0; oy < g->out_h && bad < 3; ++oy)
        for (size_t ox = 0; ox < g->out_w && bad < 3; ++ox) {
          const size_t at = c * out_plane + oy * g->out_w + ox;
          const double want = ref_maxpool(g, x + c * in_plane, oy, ox);
          if (!matches(y[at], want, 0.0, PNN_ACT_NONE)) {
            fprintf(stderr, "maxpool %zux%zu k%zux%zu s%zu: ", g->in_h, g->in_w, g->kernel_h, g->kernel_w,
                    g->stride_w);
            report("maxpool", variant, at, y[at], want, 0);
            ++bad;
          }
        }
  } else {
    pnn_f32_avgpool2d_scalar(g, x, y, 0);
    for (size_t c = 0; c < g->channels && bad < 3; ++c)
      for (size_t oy = 0; oy < g->out_h && bad < 3; ++oy)
        for (size_t ox = 0; ox < g->out_w && bad < 3; ++ox) {
          const size_t at = c * out_plane + oy * g->out_w + ox;
          double bound;
          const double want = ref_avgpool(g, x + c * in_plane, oy, ox, &bound);
          if (!matches(y[at], want, 1e-5 * bound + 1e-6, PNN_ACT_NONE)) {
            report("avgpool", variant, at, y[at], want, 0);
            ++bad;
          }
        }
  }
  s->cases++;
  if (bad) s->failures++;
  free(x);
  free(y);
}

static void test_pool(const char *variant, maxpool_fn maxpool, stats *s) {
  static const size_t SIZES[][2] = {{1, 1}, {2, 2}, {3, 17}, {5, 33}, {8, 40}, {4, 65}};
  /* kernel h, w, stride, pad, dilation */
  static const size_t WINDOWS[][5] = {{2, 2, 2, 0, 1}, {3, 3, 1, 1, 1}, {3, 3, 2, 1, 1},
                                      {1, 5, 1, 0, 2}, {1, 1, 1, 0, 1}};
  rng r = {5};
  for (size_t si = 0; si < sizeof SIZES / sizeof SIZES[0]; ++si) {
    for (size_t wi = 0; wi < sizeof WINDOWS / sizeof WINDOWS[0]; ++wi) {
      pnn_pool2d_geometry g;
      memset(&g, 0, sizeof g);
      g.channels = 3;
      g.in_h = SIZES[si][0];
      g.in_w = SIZES[si][1];
      g.kernel_h = WINDOWS[wi][0];
      g.kernel_w = WINDOWS[wi][1];
      g.stride_h = g.stride_w = WINDOWS[wi][2];
      g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = WINDOWS[wi][3];
      g.dilation_h = g.dilation_w = WINDOWS[wi][4];
      const size_t span_h = (g.kernel_h - 1) * g.dilation_h + 1, span_w = (g.kernel_w - 1) * g.dilation_w + 1;
      if (g.in_h + 2 * g.pad_top < span_h || g.in_w + 2 * g.pad_left < span_w) continue;
      g.out_h = (g.in_h + 2 * g.pad_top - span_h) / g.stride_h + 1;
      g.out_w = (g.in_w + 2 * g.pad_left - span_w) / g.stride_w + 1;
      check_pool(variant, maxpool, &g, &r, s);
    }
  }
}

/* ---- driver ------------------------------------------------------------------------------ */

static size_t summary(const char *what, const char *variant, const stats *s) {
  printf("%s (%s): %zu cases, %zu failed\n", what, variant, s->cases, s->failures);
  return s->failures;
}

/* ---- direct convolution epilogue (first layers: few input channels) ---------------- */

static void check_conv_direct(const char *variant, pnn_f32_conv_direct_fn fn, const pnn_conv2d_geometry *g,
                              size_t out_c, pnn_activation act, rng *r, stats *s) {
  const size_t C = g->channels, in_plane = g->in_h * g->in_w, out_plane = g->out_h * g->out_w;
  const size_t taps = g->kernel_h * g->kernel_w;
  float *x = floats(C * in_plane), *w = floats(out_c * C * taps), *bias = floats(out_c);
  float *packed = floats(pnn_f32_conv_direct_packed_floats(out_c, C, taps)), *y = floats(out_c * out_plane);
  for (size_t i = 0; i < C * in_plane; ++i) x[i] = maybe_special(r, 23);
  x[C * in_plane - 1] = SPECIALS[rng_next(r) % 3];         /* the last pixel */
  x[(C - 1) * in_plane + g->in_w - 1] = SPECIALS[rng_next(r) % 3]; /* a row's tail */
  for (size_t i = 0; i < out_c * C * taps; ++i) w[i] = rng_weight(r);
  for (size_t m = 0; m < out_c; ++m) bias[m] = rng_uniform(r, -1.0f, 1.0f);
  pnn_f32_conv_direct_pack(out_c, C, taps, w, packed);
  for (size_t block = 0; block * PNN_F32_CONV_DIRECT_BLOCK < out_c; ++block)
    fn(g, out_c, x, packed, bias, y, block, 0, g->out_h, act);
  size_t bad = 0;
  for (size_t m = 0; m < out_c && bad < 3; ++m) {
    for (size_t oy = 0; oy < g->out_h && bad < 3; ++oy) {
      for (size_t ox = 0; ox < g->out_w && bad < 3; ++ox) {
        double sum = bias[m], bound = fabs(sum);
        for (size_t c = 0; c < C; ++c)
          for (size_t i = 0; i < g->kernel_h; ++i) {
            const size_t iy = oy * g->stride_h + i - g->pad_top; /* wraps when above */
            if (iy >= g->in_h) continue;
            for (size_t j = 0; j < g->kernel_w; ++j) {
              const size_t ix = ox * g->stride_w + j - g->pad_left;
              if (ix >= g->in_w) continue;
              const double term = (double)w[(m * C + c) * taps + i * g->kernel_w + j] * x[c * in_plane + iy * g->in_w + ix];
              sum += term;
              bound += fabs(term);
            }
          }
        const size_t at = m * out_plane + oy * g->out_w + ox;
        const double want = ref_act(sum, act);
        if (!matches(y[at], want, 1e-5 * bound + 1e-6, act.kind)) {
          fprintf(stderr, "conv direct %zux%zu k%zu s%zu M=%zu: ", g->in_h, g->in_w, g->kernel_h, g->stride_h, out_c);
          report("conv direct", variant, at, y[at], want, act.kind);
          ++bad;
        }
      }
    }
  }
  s->cases++;
  if (bad) s->failures++;
  free(x);
  free(w);
  free(bias);
  free(packed);
  free(y);
}

static size_t test_conv_direct(const char *variant, pnn_f32_conv_direct_fn fn) {
  static const size_t SIZES[][2] = {{1, 1}, {3, 5}, {5, 9}, {7, 17}, {4, 33}, {9, 20}};
  static const size_t KERNELS[][3] = {{3, 2, 1}, {3, 1, 1}, {7, 2, 3}, {5, 1, 0}}; /* k, stride, pad */
  stats s = {0, 0};
  rng r = {11};
  for (size_t a = 0; a < NUM_ACTIVATIONS; ++a) {
    for (size_t si = 0; si < sizeof SIZES / sizeof SIZES[0]; ++si) {
      for (size_t ki = 0; ki < sizeof KERNELS / sizeof KERNELS[0]; ++ki) {
        const size_t k = KERNELS[ki][0], stride = KERNELS[ki][1], pad = KERNELS[ki][2];
        pnn_conv2d_geometry g;
        memset(&g, 0, sizeof g);
        g.channels = 1 + (si + ki) % 3;
        g.in_h = SIZES[si][0];
        g.in_w = SIZES[si][1];
        if (g.in_h + 2 * pad < k || g.in_w + 2 * pad < k) continue;
        g.kernel_h = g.kernel_w = k;
        g.stride_h = g.stride_w = stride;
        g.dilation_h = g.dilation_w = 1;
        g.pad_top = g.pad_left = pad;
        g.out_h = out_size(g.in_h, k, stride, pad);
        g.out_w = out_size(g.in_w, k, stride, pad);
        check_conv_direct(variant, fn, &g, a % 2 ? 17 : 8, ACTIVATIONS[a], &r, &s);
      }
    }
  }
  return summary("conv direct", variant, &s);
}

static size_t test_variants(const char *variant, pnn_f32_gemm_fn gemm, pnn_f32_dwconv_fn dwconv,
                            pnn_f32_spmm_fn spmm, maxpool_fn maxpool) {
  stats g = {0, 0}, d = {0, 0}, sp = {0, 0}, mp = {0, 0};
  size_t failures = 0;
  if (gemm) {
    test_gemm(variant, gemm, &g);
    failures += summary("gemm", variant, &g);
  }
  if (dwconv) {
    test_dwconv(variant, dwconv, &d);
    failures += summary("dwconv", variant, &d);
  }
  if (spmm) {
    test_spmm(variant, spmm, &sp);
    failures += summary("spmm", variant, &sp);
  }
  if (maxpool) {
    test_pool(variant, maxpool, &mp);
    failures += summary("maxpool", variant, &mp);
  }
  return failures;
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  stats ew = {0, 0}, avg = {0, 0};
  test_elementwise(&ew);
  size_t failures = summary("activate + unary", "scalar", &ew);
  test_pool("scalar", NULL, &avg);
  failures += summary("avgpool", "scalar", &avg);
  failures += test_variants("scalar", pnn_f32_gemm_scalar, pnn_f32_dwconv_scalar, pnn_f32_spmm_scalar,
                            pnn_f32_maxpool2d_scalar);
  failures += test_conv_direct("scalar", pnn_f32_conv_direct_scalar);
#if defined(__x86_64__) || defined(_M_X64)
  /* Both x86 variants the host can run, whichever select would pick. */
  if (cpu.avx2_fma)
    failures += test_variants("avx2", pnn_f32_gemm_avx2, pnn_f32_dwconv_avx2, pnn_f32_spmm_avx2, pnn_f32_maxpool2d_avx2);
  else printf("avx2: not run, this CPU lacks AVX2+FMA\n");
  if (cpu.avx512f)
    failures += test_variants("avx512", pnn_f32_gemm_avx512, pnn_f32_dwconv_avx512, pnn_f32_spmm_avx512,
                              pnn_f32_maxpool2d_avx512);
  else printf("avx512: not run, this CPU lacks AVX-512F\n");
  if (cpu.avx2_fma) failures += test_conv_direct("avx2", pnn_f32_conv_direct_avx2);
  if (cpu.avx512f) failures += test_conv_direct("avx512", pnn_f32_conv_direct_avx512);
#else
  /* NEON on aarch64, SIMD128 on wasm32: the variants select picks. */
  const char *gemm_name = "?", *dw_name = "?", *spmm_name = "?", *pool_name = "?";
  pnn_f32_gemm_fn gemm = pnn_f32_gemm_select(&cpu, &gemm_name);
  pnn_f32_dwconv_fn dwconv = pnn_f32_dwconv_select(&cpu, &dw_name);
  pnn_f32_spmm_fn spmm = pnn_f32_spmm_select(&cpu, &spmm_name);
  maxpool_fn maxpool = pnn_f32_maxpool2d_select(&cpu, &pool_name);
  if (strcmp(gemm_name, "scalar") != 0) failures += test_variants(gemm_name, gemm, NULL, NULL, NULL);
  if (strcmp(dw_name, "scalar") != 0) failures += test_variants(dw_name, NULL, dwconv, NULL, NULL);
  if (strcmp(spmm_name, "scalar") != 0) failures += test_variants(spmm_name, NULL, NULL, spmm, NULL);
  if (strcmp(pool_name, "scalar") != 0) failures += test_variants(pool_name, NULL, NULL, NULL, maxpool);
#endif
  if (failures) printf("FAILED: %zu cases\n", failures);
  return failures ? 1 : 0;
}
