/* Compares every f32 GEMM / depthwise / direct 3x3 convolution variant this CPU can run with the
 * scalar references on awkward sizes (tails, partial tiles, 1s, zero K), every
 * bias combination and every fused activation. Buffers are allocated at their
 * exact size so AddressSanitizer catches any read or write past the end, and the
 * unused parts of C (row padding beyond N) must stay untouched.
 * Exit code 0 when all cases match. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"

#include "variant_gate.h"

#define SENTINEL 12345.0f

typedef struct rng {
  uint64_t state;
} rng;

static uint32_t rng_next(rng *r) {
  r->state ^= r->state << 13;
  r->state ^= r->state >> 7;
  r->state ^= r->state << 17;
  return (uint32_t)(r->state >> 32);
}

/* Uniform in [-1, 1). */
static float rng_float(rng *r) { return (float)(rng_next(r) >> 8) / 8388608.0f - 1.0f; }

static size_t rng_below(rng *r, size_t n) { return n ? rng_next(r) % n : 0; }

static float *alloc_floats(size_t n, rng *r) {
  float *p = malloc((n ? n : 1) * sizeof(float));
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  for (size_t i = 0; i < n; ++i) p[i] = rng_float(r);
  return p;
}

/* Size of a row-major matrix of `rows` rows of `cols` used entries at stride ld,
 * ending exactly after the last used element. */
static size_t matrix_extent(size_t rows, size_t cols, size_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

static pnn_activation activation_case(int kind) {
  pnn_activation act = {kind, 0.0f, 0.0f};
  switch (kind) {
    case PNN_ACT_CLIP: act.alpha = -0.5f; act.beta = 0.75f; break;
    case PNN_ACT_LEAKY_RELU: act.alpha = 0.1f; break;
    case PNN_ACT_HARD_SIGMOID: act.alpha = 0.2f; act.beta = 0.5f; break;
    default: break;
  }
  return act;
}

static const int ACT_KINDS = PNN_ACT_COUNT; /* PNN_ACT_NONE .. PNN_ACT_SWISH */

typedef struct variant_gemm {
  const char *name;
  pnn_f32_gemm_fn fn;
} variant_gemm;

typedef struct variant_dwconv {
  const char *name;
  pnn_f32_dwconv_fn fn;
} variant_dwconv;

typedef struct tally {
  long cases;
  long failures;
} tally;

/* ---- GEMM --------------------------------------------------------------------- */

static void check_gemm(const variant_gemm *v, size_t M, size_t N, size_t K, int use_row_bias,
                       int use_col_bias, int act_kind, rng *r, tally *t) {
  const size_t lda = K + rng_below(r, 5);
  const size_t ldb = N + rng_below(r, 5);
  const size_t ldc = N + rng_below(r, 5);
  const size_t a_size = matrix_extent(M, K, lda), b_size = matrix_extent(K, N, ldb);
  const size_t c_size = matrix_extent(M, N, ldc);
  float *A = alloc_floats(a_size, r), *B = alloc_floats(b_size, r);
  float *row_bias = use_row_bias ? alloc_floats(M, r) : NULL;
  float *col_bias = use_col_bias ? alloc_floats(N, r) : NULL;
  float *expected = alloc_floats(c_size, r), *got = alloc_floats(c_size, r);
  for (size_t i = 0; i < c_size; ++i) expected[i] = got[i] = SENTINEL;
  const pnn_activation act = activation_case(act_kind);

  pnn_f32_gemm_scalar(M, N, K, A, lda, B, ldb, expected, ldc, row_bias, col_bias, act);
  v->fn(M, N, K, A, lda, B, ldb, got, ldc, row_bias, col_bias, act);

  const float tolerance_abs = 2e-6f * (float)(K + 2);
  size_t bad = 0, first_bad = 0;
  for (size_t i = 0; i < c_size; ++i) {
    const float diff = fabsf(got[i] - expected[i]);
    if (!(diff <= tolerance_abs + 1e-5f * fabsf(expected[i]))) {
      if (!bad) first_bad = i;
      ++bad;
    }
  }
  ++t->cases;
  if (bad) {
    ++t->failures;
    fprintf(stderr,
            "gemm %s M=%zu N=%zu K=%zu lda=%zu ldb=%zu ldc=%zu row_bias=%d col_bias=%d act=%d: "
            "%zu bad, first at m=%zu n=%zu got %g expected %g\n",
            v->name, M, N, K, lda, ldb, ldc, use_row_bias, use_col_bias, act_kind, bad,
            first_bad / (ldc ? ldc : 1), first_bad % (ldc ? ldc : 1), (double)got[first_bad],
            (double)expected[first_bad]);
  }
  free(A);
  free(B);
  free(row_bias);
  free(col_bias);
  free(expected);
  free(got);
}

static void test_gemm(const variant_gemm *v, rng *r, tally *t) {
  static const size_t sizes[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 100};
  static const size_t k_sizes[] = {0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 100};
  const size_t n_sizes = sizeof sizes / sizeof sizes[0];
  const size_t n_k_sizes = sizeof k_sizes / sizeof k_sizes[0];
  long case_index = 0;
  /* Every shape, cycling through bias combinations and activations. */
  for (size_t mi = 0; mi < n_sizes; ++mi)
    for (size_t ni = 0; ni < n_sizes; ++ni)
      for (size_t ki = 0; ki < n_k_sizes; ++ki, ++case_index)
        check_gemm(v, sizes[mi], sizes[ni], k_sizes[ki], (int)(case_index & 1),
                   (int)((case_index >> 1) & 1), (int)((case_index / 4) % ACT_KINDS), r, t);
  /* Every bias combination x activation on shapes that stress each path:
   * GEMV (N == 1), K blocking (K > 256 and > 2048), tails in all dimensions. */
  static const size_t shapes[][3] = {{17, 33, 9},   {1, 1, 1},     {100, 1, 65},
                                     {29, 1, 2100}, {15, 19, 300}, {3, 70, 513},
                                     {33, 2, 0},    {1, 100, 31}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
    for (int bias = 0; bias < 4; ++bias)
      for (int kind = 0; kind < ACT_KINDS; ++kind)
        check_gemm(v, shapes[s][0], shapes[s][1], shapes[s][2], bias & 1, bias >> 1, kind, r, t);
  /* M == 0 and N == 0 must not touch C (nothing to compare: must not crash). */
  float dummy = 1.0f;
  v->fn(0, 5, 3, &dummy, 3, &dummy, 5, &dummy, 5, NULL, NULL, activation_case(0));
  v->fn(5, 0, 3, &dummy, 3, &dummy, 0, &dummy, 0, NULL, NULL, activation_case(0));
  if (dummy != 1.0f) {
    ++t->failures;
    fprintf(stderr, "gemm %s wrote C for an empty product\n", v->name);
  }
}

/* ---- depthwise convolution ------------------------------------------------------ */

typedef struct dw_shape {
  size_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  size_t pad_top, pad_left, pad_bottom, pad_right;
} dw_shape;

static size_t conv_out(size_t in, size_t pad_a, size_t pad_b, size_t k, size_t s, size_t d) {
  const size_t span = d * (k - 1) + 1;
  if (in + pad_a + pad_b < span) return 0;
  return (in + pad_a + pad_b - span) / s + 1;
}

static void check_dwconv(const variant_dwconv *v, size_t channels, size_t in_h, size_t in_w,
                         const dw_shape *s, int use_bias, int act_kind, rng *r, tally *t) {
  pnn_conv2d_geometry g;
  g.channels = channels;
  g.in_h = in_h;
  g.in_w = in_w;
  g.kernel_h = s->kernel_h;
  g.kernel_w = s->kernel_w;
  g.stride_h = s->stride_h;
  g.stride_w = s->stride_w;
  g.dilation_h = s->dilation_h;
  g.dilation_w = s->dilation_w;
  g.pad_top = s->pad_top;
  g.pad_left = s->pad_left;
  g.out_h = conv_out(in_h, s->pad_top, s->pad_bottom, s->kernel_h, s->stride_h, s->dilation_h);
  g.out_w = conv_out(in_w, s->pad_left, s->pad_right, s->kernel_w, s->stride_w, s->dilation_w);
  if (g.out_h == 0 || g.out_w == 0) return;
  const size_t y_size = channels * g.out_h * g.out_w;
  float *x = alloc_floats(channels * in_h * in_w, r);
  float *w = alloc_floats(channels * s->kernel_h * s->kernel_w, r);
  float *bias = use_bias ? alloc_floats(channels, r) : NULL;
  float *expected = alloc_floats(y_size, r), *got = alloc_floats(y_size, r);
  for (size_t i = 0; i < y_size; ++i) expected[i] = got[i] = SENTINEL;
  const pnn_activation act = activation_case(act_kind);

  pnn_f32_dwconv_scalar(&g, x, w, bias, expected, act);
  v->fn(&g, x, w, bias, got, act);

  const float tolerance_abs = 2e-6f * (float)(s->kernel_h * s->kernel_w + 2);
  size_t bad = 0, first_bad = 0;
  for (size_t i = 0; i < y_size; ++i) {
    const float diff = fabsf(got[i] - expected[i]);
    if (!(diff <= tolerance_abs + 1e-5f * fabsf(expected[i]))) {
      if (!bad) first_bad = i;
      ++bad;
    }
  }
  ++t->cases;
  if (bad) {
    ++t->failures;
    const size_t plane = g.out_h * g.out_w;
    fprintf(stderr,
            "dwconv %s C=%zu in=%zux%zu k=%zux%zu s=%zux%zu d=%zux%zu pad=%zu,%zu,%zu,%zu "
            "out=%zux%zu bias=%d act=%d: %zu bad, first at c=%zu y=%zu x=%zu got %g "
            "expected %g\n",
            v->name, channels, in_h, in_w, s->kernel_h, s->kernel_w, s->stride_h, s->stride_w,
            s->dilation_h, s->dilation_w, s->pad_top, s->pad_left, s->pad_bottom, s->pad_right,
            g.out_h, g.out_w, use_bias, act_kind, bad, first_bad / plane,
            first_bad % plane / g.out_w, first_bad % g.out_w, (double)got[first_bad],
            (double)expected[first_bad]);
  }
  free(x);
  free(w);
  free(bias);
  free(expected);
  free(got);
}


static void test_dwconv(const variant_dwconv *v, rng *r, tally *t) {
  /* kernel h,w; stride h,w; dilation h,w; pads top,left,bottom,right */
  static const dw_shape shapes[] = {
      {3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* MobileNet stride 1 */
      {3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, /* MobileNet stride 2 */
      {3, 3, 2, 2, 1, 1, 0, 0, 1, 1}, /* TF "same" stride 2: pad only bottom/right */
      {3, 3, 1, 1, 1, 1, 0, 0, 0, 0},
      {3, 3, 2, 2, 1, 1, 0, 0, 0, 0},
      {5, 5, 1, 1, 1, 1, 2, 2, 2, 2},
      {5, 5, 2, 2, 1, 1, 2, 2, 2, 2},
      {3, 3, 1, 1, 2, 2, 2, 2, 2, 2}, /* dilation 2 */
      {3, 3, 1, 1, 1, 1, 0, 1, 2, 0}, /* asymmetric pads */
      {3, 3, 2, 2, 1, 1, 1, 0, 0, 2},
      {1, 1, 1, 1, 1, 1, 0, 0, 0, 0},
      {1, 3, 1, 1, 1, 1, 0, 1, 0, 1},
      {3, 1, 2, 1, 1, 1, 1, 0, 1, 0},
      {7, 7, 1, 1, 1, 1, 3, 3, 3, 3},
      {2, 2, 2, 2, 1, 1, 0, 0, 0, 0},
      {3, 3, 3, 3, 1, 1, 1, 1, 1, 1},
      {3, 3, 1, 2, 2, 1, 1, 2, 1, 2},
  };
  static const size_t widths[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                  14, 15, 16, 17, 18, 19, 31, 32, 33, 34, 35, 40, 49, 67};
  /* Strips of 4 output rows (3 at stride 2 on AVX2): every tail of both. */
  static const size_t heights[] = {1, 2, 3, 5, 8, 9, 13};
  long case_index = 0;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
    for (size_t hi = 0; hi < sizeof heights / sizeof heights[0]; ++hi)
      for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; ++wi, ++case_index)
        check_dwconv(v, 1 + (size_t)(case_index % 3), heights[hi], widths[wi], &shapes[s],
                     (int)(case_index & 1), (int)((case_index / 2) % ACT_KINDS), r, t);
  /* Every activation with and without bias on the two MobileNet shapes. */
  for (int bias = 0; bias < 2; ++bias)
    for (int kind = 0; kind < ACT_KINDS; ++kind) {
      check_dwconv(v, 4, 14, 14, &shapes[0], bias, kind, r, t);
      check_dwconv(v, 4, 15, 37, &shapes[1], bias, kind, r, t);
    }
  /* Rows wider than a vector and the MobileNet image sizes. */
  check_dwconv(v, 2, 56, 56, &shapes[0], 1, 1, r, t);
  check_dwconv(v, 2, 112, 112, &shapes[1], 1, 2, r, t);
  check_dwconv(v, 2, 57, 71, &shapes[2], 0, 1, r, t);
  check_dwconv(v, 3, 7, 7, &shapes[0], 1, 1, r, t);
}

/* ---- packed-panel GEMM, panel im2col, Winograd, max pooling ----------------------- */

static float *alloc_aligned(size_t n) {
  const size_t bytes = ((n ? n : 1) * sizeof(float) + 63) / 64 * 64;
  float *p = aligned_alloc(64, bytes);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static void count_case(tally *t, size_t bad, const char *what) {
  ++t->cases;
  if (bad) {
    ++t->failures;
    fprintf(stderr, "%s: %zu values differ\n", what, bad);
  }
}

static void check_gemm_pb(const char *name, pnn_f32_gemm_pb_fn fn, size_t M, size_t N, size_t K,
                          int use_bias, int act_kind, rng *r, tally *t) {
  const size_t nr = PNN_GEMM_PB_NR, panels = (N + nr - 1) / nr;
  const size_t lda = K + rng_below(r, 3), ldc = N + rng_below(r, 3);
  float *A = alloc_floats(matrix_extent(M, K, lda), r);
  float *Bp = alloc_aligned(panels * K * nr);
  for (size_t i = 0; i < panels * K * nr; ++i) {
    const size_t col = (i / (K * nr)) * nr + i % nr;
    Bp[i] = col < N ? rng_float(r) : NAN; /* columns past N must be ignored */
  }
  float *bias = use_bias ? alloc_floats(M, r) : NULL;
  const size_t c_size = matrix_extent(M, N, ldc);
  float *want = alloc_floats(c_size, r), *got = alloc_floats(c_size, r);
  for (size_t i = 0; i < c_size; ++i) want[i] = got[i] = SENTINEL;
  const pnn_activation act = activation_case(act_kind);
  pnn_f32_gemm_pb_scalar(M, N, K, A, lda, Bp, want, ldc, bias, act);
  fn(M, N, K, A, lda, Bp, got, ldc, bias, act);
  size_t bad = 0;
  for (size_t i = 0; i < c_size; ++i) {
    const float diff = fabsf(got[i] - want[i]);
    if (!(diff <= 2e-6f * (float)(K + 2) + 1e-5f * fabsf(want[i]))) ++bad;
  }
  char what[160];
  snprintf(what, sizeof(what), "gemm_pb %s M=%zu N=%zu K=%zu bias=%d act=%d", name, M, N, K, use_bias, act_kind);
  count_case(t, bad, what);
  free(A);
  free(Bp);
  free(bias);
  free(want);
  free(got);
}

/* A packed into panels: the result must equal the in-place reference closely. */
static void check_gemm_pp(const char *name, pnn_f32_gemm_pp_fn fn, size_t M, size_t N, size_t K,
                          int act_kind, rng *r, tally *t) {
  const size_t nr = PNN_GEMM_PB_NR, mr = PNN_GEMM_PA_MR, panels = (N + nr - 1) / nr;
  const size_t mp = (M + mr - 1) / mr * mr;
  float *A = alloc_floats(M * K, r), *Ap = alloc_floats(mp * K, r), *bias = alloc_floats(M, r);
  float *Bp = alloc_aligned(panels * K * nr);
  for (size_t i = 0; i < panels * K * nr; ++i) Bp[i] = rng_float(r);
  pnn_f32_gemm_pa_pack(M, K, A, K, Ap);
  float *want = alloc_floats(M * N, r), *got = alloc_floats(M * N, r);
  const pnn_activation act = activation_case(act_kind);
  pnn_f32_gemm_pb_scalar(M, N, K, A, K, Bp, want, N, bias, act);
  fn(M, N, K, Ap, Bp, got, N, bias, act);
  size_t bad = 0;
  for (size_t i = 0; i < M * N; ++i)
    if (!(fabsf(got[i] - want[i]) <= 2e-6f * (float)(K + 2) + 1e-5f * fabsf(want[i]))) ++bad;
  char what[160];
  snprintf(what, sizeof(what), "gemm_pp %s M=%zu N=%zu K=%zu act=%d", name, M, N, K, act_kind);
  count_case(t, bad, what);
  free(A); free(Ap); free(bias); free(Bp); free(want); free(got);
}

static void test_gemm_pp(const char *name, pnn_f32_gemm_pp_fn fn, rng *r, tally *t) {
  static const size_t ms[] = {1, 6, 7, 13, 14, 15, 28, 29, 43};
  static const size_t ns[] = {1, 17, 32, 45, 49, 70, 300};
  static const size_t ks[] = {0, 1, 9, 256, 300};
  size_t index = 0;
  for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); ++mi)
    for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ++ni)
      for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ++ki, ++index)
        check_gemm_pp(name, fn, ms[mi], ns[ni], ks[ki], (int)(index % ACT_KINDS), r, t);
}

/* A in channel panels (channels across the lanes): against the in-place reference,
 * C written only inside M x N of ldc. B in packed panels (fn), columns past N NaN (never
 * read into C), or in place (rows_fn): rows of ldb >= N floats, NaN past N. */
static void check_gemm_pt(const char *name, pnn_f32_gemm_pt_fn fn, pnn_f32_gemm_pt_rows_fn rows_fn, size_t M,
                          size_t N, size_t K, int use_bias, int act_kind, rng *r, tally *t) {
  const size_t nr = PNN_GEMM_PB_NR, panels = (N + nr - 1) / nr, mp = (M + nr - 1) / nr * nr;
  const size_t ldc = N + rng_below(r, 3), ldb = N + rng_below(r, 3);
  float *A = alloc_floats(M * K, r), *At = alloc_floats(mp * K + 1, r);
  float *bias = use_bias ? alloc_floats(M, r) : NULL;
  float *Bp = alloc_aligned(panels * K * nr), *B = alloc_floats(K * ldb + 1, r);
  for (size_t i = 0; i < panels * K * nr; ++i) {
    const size_t col = (i / (K * nr)) * nr + i % nr;
    Bp[i] = col < N ? rng_float(r) : NAN;
  }
  for (size_t k = 0; k < K; ++k)
    for (size_t n = 0; n < ldb; ++n) B[k * ldb + n] = n < N ? Bp[(n / nr) * K * nr + k * nr + n % nr] : NAN;
  pnn_f32_gemm_pt_pack(M, K, A, K, At);
  const size_t c_size = matrix_extent(M, N, ldc);
  float *want = alloc_floats(c_size, r), *got = alloc_floats(c_size, r);
  for (size_t i = 0; i < c_size; ++i) want[i] = got[i] = SENTINEL;
  const pnn_activation act = activation_case(act_kind);
  pnn_f32_gemm_pb_scalar(M, N, K, A, K, Bp, want, ldc, bias, act);
  if (rows_fn) rows_fn(M, N, K, At, B, ldb, got, ldc, bias, act);
  else fn(M, N, K, At, Bp, got, ldc, bias, act);
  size_t bad = 0;
  for (size_t i = 0; i < c_size; ++i)
    if (!(fabsf(got[i] - want[i]) <= 2e-6f * (float)(K + 2) + 1e-5f * fabsf(want[i]))) ++bad;
  char what[160];
  snprintf(what, sizeof(what), "gemm_pt%s %s M=%zu N=%zu K=%zu bias=%d act=%d", rows_fn ? "_rows" : "", name, M, N,
           K, use_bias, act_kind);
  count_case(t, bad, what);
  free(A); free(At); free(bias); free(Bp); free(B); free(want); free(got);
}

static void test_gemm_pt(const char *name, pnn_f32_gemm_pt_fn fn, pnn_f32_gemm_pt_rows_fn rows_fn, rng *r,
                         tally *t) {
  static const size_t ms[] = {1, 5, 16, 17, 31, 32, 33, 64, 70};
  static const size_t ns[] = {1, 4, 13, 14, 15, 28, 29, 32, 33, 49, 64, 100};
  static const size_t ks[] = {0, 1, 9, 256, 300};
  size_t index = 0;
  for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); ++mi)
    for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ++ni)
      for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ++ki, ++index) {
        check_gemm_pt(name, fn, NULL, ms[mi], ns[ni], ks[ki], (int)(index & 1), (int)(index % ACT_KINDS), r, t);
        check_gemm_pt(name, NULL, rows_fn, ms[mi], ns[ni], ks[ki], (int)(index & 1), (int)(index % ACT_KINDS), r, t);
      }
}

/* pnn_f32_gemm_pb_pack puts B(k, n) where the pb contract reads it and zeros past N;
 * pnn_f32_gemm_pt_pack of the stored transpose B^T [N, K] gives the same panels (Gemm
 * with trans_b packs that way). Exact: packing only moves values. */
static void check_gemm_pb_pack(size_t K, size_t N, rng *r, tally *t) {
  const size_t nr = PNN_GEMM_PB_NR, ldb = N + rng_below(r, 3), size = ((N + nr - 1) / nr) * nr * K;
  float *B = alloc_floats(matrix_extent(K, N, ldb), r), *Bt = alloc_floats(N * K, r);
  float *from_b = alloc_floats(size + 1, r), *from_bt = alloc_floats(size + 1, r);
  for (size_t k = 0; k < K; ++k)
    for (size_t n = 0; n < N; ++n) Bt[n * K + k] = B[k * ldb + n];
  pnn_f32_gemm_pb_pack(K, N, B, ldb, from_b);
  pnn_f32_gemm_pt_pack(N, K, Bt, K, from_bt);
  size_t bad = 0;
  for (size_t i = 0; i < size; ++i) {
    const size_t n = (i / (K * nr)) * nr + i % nr, k = (i % (K * nr)) / nr;
    const float want = n < N ? B[k * ldb + n] : 0.0f;
    if (from_b[i] != want || from_bt[i] != want) ++bad;
  }
  char what[96];
  snprintf(what, sizeof(what), "gemm_pb_pack K=%zu N=%zu", K, N);
  count_case(t, bad, what);
  free(B); free(Bt); free(from_b); free(from_bt);
}

static void test_gemm_pb_pack(rng *r, tally *t) {
  static const size_t ks[] = {1, 3, 17, 300};
  static const size_t ns[] = {1, 5, 31, 32, 33, 100};
  for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ++ki)
    for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ++ni) check_gemm_pb_pack(ks[ki], ns[ni], r, t);
}

static void test_gemm_pb(const char *name, pnn_f32_gemm_pb_fn fn, rng *r, tally *t) {
  /* M = 1: the matrix-vector path (pb_gemv), whose k split leaves K % 4 or K % 2 over.
   * 20, 25, 29 with K > 256 and N > 64: B streamed, rows in strips of near-equal height
   * (an LSTM's input projection, ddddocr's head). */
  static const size_t ms[] = {1, 2, 3, 5, 6, 7, 13, 14, 15, 20, 25, 29, 64};
  /* 49, 56: 17 and 24 columns in the last panel (AVX2 runs them as one three-vector tile);
   * 300: past every ISA's PB_STRIP_COLUMNS, so both loop orders of pb_driver.h run. */
  static const size_t ns[] = {1, 5, 8, 9, 16, 17, 31, 32, 33, 49, 56, 63, 64, 65, 100, 300};
  static const size_t ks[] = {0, 1, 2, 3, 6, 17, 255, 256, 257, 300};
  size_t index = 0;
  for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); ++mi)
    for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ++ni)
      for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ++ki, ++index)
        check_gemm_pb(name, fn, ms[mi], ns[ni], ks[ki], (int)(index & 1), (int)(index % ACT_KINDS), r, t);
}

static const pnn_conv2d_geometry PANEL_GEOMS[] = {
    /* channels, in_h, in_w, out_h, out_w, kh, kw, sh, sw, dh, dw, pt, pl */
    {3, 9, 11, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1},
    {4, 10, 13, 5, 7, 3, 3, 2, 2, 1, 1, 1, 1},
    {3, 23, 21, 12, 11, 7, 7, 2, 2, 1, 1, 3, 3},
    {5, 6, 37, 6, 37, 1, 1, 1, 1, 1, 1, 0, 0},
    {2, 7, 9, 4, 5, 1, 1, 2, 2, 1, 1, 0, 0},
    {2, 9, 10, 5, 6, 3, 3, 1, 1, 2, 2, 0, 0},
    {3, 5, 40, 5, 19, 1, 3, 1, 2, 1, 1, 0, 2},
    {2, 6, 50, 4, 17, 2, 3, 2, 3, 1, 1, 1, 1},
    {1, 3, 70, 3, 70, 3, 3, 1, 1, 1, 1, 1, 1},
    /* stride 2 with runs wider than a vector, starting left of the image */
    {2, 8, 75, 4, 38, 3, 3, 2, 2, 1, 1, 1, 1},
    {2, 9, 70, 5, 35, 7, 7, 2, 2, 1, 1, 3, 3},
    {2, 7, 66, 4, 33, 3, 3, 2, 2, 1, 1, 1, 1},
};

static void test_im2col_panel(const char *name, pnn_f32_im2col_panel_fn fn, rng *r, tally *t) {
  const size_t nr = PNN_GEMM_PB_NR;
  for (size_t gi = 0; gi < sizeof(PANEL_GEOMS) / sizeof(PANEL_GEOMS[0]); ++gi) {
    const pnn_conv2d_geometry *g = &PANEL_GEOMS[gi];
    const size_t rows = g->channels * g->kernel_h * g->kernel_w, cols = g->out_h * g->out_w;
    float *x = alloc_floats(g->channels * g->in_h * g->in_w, r);
    float *full = alloc_floats(rows * cols, r);
    pnn_f32_im2col_scalar(g, x, full);
    for (size_t trial = 0; trial < 12; ++trial) {
      const size_t n0 = rng_below(r, cols);
      size_t width = 1 + rng_below(r, nr);
      if (width > cols - n0) width = cols - n0;
      const size_t k0 = trial % 3 == 0 ? 0 : rng_below(r, rows);
      const size_t kc = trial % 3 == 0 ? rows : 1 + rng_below(r, rows - k0);
      float *got = alloc_aligned(kc * nr);
      for (size_t i = 0; i < kc * nr; ++i) got[i] = SENTINEL;
      fn(g, x, k0, kc, n0, width, got);
      size_t bad = 0;
      for (size_t k = 0; k < kc; ++k)
        for (size_t n = 0; n < nr; ++n) {
          const float want = n < width ? full[(k0 + k) * cols + n0 + n] : 0.0f;
          if (got[k * nr + n] != want) ++bad;
        }
      char what[160];
      snprintf(what, sizeof(what), "im2col_panel %s geom %zu k0=%zu kc=%zu n0=%zu width=%zu", name, gi, k0, kc, n0, width);
      count_case(t, bad, what);
      free(got);
    }
    free(x);
    free(full);
  }
}

/* Whole F(2x2, 3x3) convolutions (reference transforms and GEMM) against a direct
 * double-precision convolution, then the transform variant against the reference. */
static void test_winograd(const char *name, pnn_f32_wino2_input_fn input, pnn_f32_wino2_output_fn output,
                          rng *r, tally *t) {
  static const size_t shapes[][6] = {
      /* C, M, H, W, pad_top, pad_left (bottom/right padding: same as top/left) */
      {8, 8, 8, 8, 1, 1}, {3, 5, 9, 13, 1, 1}, {17, 33, 9, 13, 1, 1}, {9, 20, 31, 30, 1, 1},
      {4, 6, 12, 17, 0, 0}, {5, 7, 15, 40, 2, 2}, {2, 3, 3, 3, 1, 1}, {40, 3, 6, 70, 1, 1},
      /* one channel; odd channels with a row of 35 tiles; pads wider than a tile run
       * (AVX2 runs 8 tiles, AVX-512 16) and than the image; one input row */
      {1, 4, 5, 19, 1, 1}, {7, 5, 10, 69, 1, 1}, {3, 2, 5, 6, 3, 3}, {2, 3, 4, 5, 9, 9},
      {3, 4, 1, 50, 1, 1}, {6, 2, 33, 33, 1, 1},
  };
  const size_t nr = PNN_GEMM_PB_NR;
  for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); ++si) {
    const size_t C = shapes[si][0], M = shapes[si][1], H = shapes[si][2], W = shapes[si][3];
    const size_t pt = shapes[si][4], pl = shapes[si][5];
    const size_t OH = H + 2 * pt - 2, OW = W + 2 * pl - 2;
    const pnn_conv2d_geometry g = {C, H, W, OH, OW, 3, 3, 1, 1, 1, 1, pt, pl};
    const size_t tiles = ((OH + 1) / 2) * ((OW + 1) / 2);
    float *x = alloc_floats(C * H * W, r), *w = alloc_floats(M * C * 9, r), *bias = alloc_floats(M, r);
    float *u = alloc_floats(16 * M * C, r);
    pnn_f32_wino2_weights_scalar(w, M, C, u);
    const pnn_activation act = activation_case((int)(si % ACT_KINDS));
    float *want = alloc_floats(M * OH * OW, r), *ref = alloc_floats(M * OH * OW, r), *got = alloc_floats(M * OH * OW, r);
    /* Odd shapes add a residual (a conv's input R, laid out as y) before the activation. */
    float *residual = si % 2 ? alloc_floats(M * OH * OW, r) : NULL;
    for (size_t m = 0; m < M; ++m)
      for (size_t oy = 0; oy < OH; ++oy)
        for (size_t ox = 0; ox < OW; ++ox) {
          double acc = bias[m];
          for (size_t c = 0; c < C; ++c)
            for (size_t i = 0; i < 3; ++i)
              for (size_t j = 0; j < 3; ++j) {
                const size_t iy = oy + i - pt, ix = ox + j - pl; /* wraps when outside */
                if (iy < H && ix < W) acc += (double)w[(m * C + c) * 9 + i * 3 + j] * x[(c * H + iy) * W + ix];
              }
          const size_t at = (m * OH + oy) * OW + ox;
          want[at] = pnn_activate(residual ? (float)acc + residual[at] : (float)acc, act);
        }
    /* Blocks of 40 tiles (a full and a partial panel), then a ragged last block; the
     * planes padded apart as conv.c lays them out (nothing may be written there). */
    const size_t block = 40, panels = (block + nr - 1) / nr, pad = 16;
    float *v_ref = alloc_aligned(16 * (panels * C * nr + pad)), *v_got = alloc_aligned(16 * (panels * C * nr + pad));
    float *mb = alloc_aligned(16 * M * block);
    float *m_ref = alloc_aligned(16 * M * block);
    const pnn_activation none = {PNN_ACT_NONE, 0.0f, 0.0f};
    size_t bad_v = 0, bad_y = 0, bad_ref = 0;
    for (size_t t0 = 0; t0 < tiles; t0 += block) {
      const size_t count = tiles - t0 < block ? tiles - t0 : block;
      const size_t used = (count + nr - 1) / nr, xi_stride = used * C * nr + pad;
      for (size_t i = 0; i < 16 * (panels * C * nr + pad); ++i) v_ref[i] = v_got[i] = 0.0f;
      pnn_f32_wino2_input_scalar(&g, x, t0, count, v_ref, xi_stride);
      input(&g, x, t0, count, v_got, xi_stride);
      for (size_t i = 0; i < 16 * xi_stride; ++i)
        if (v_ref[i] != v_got[i]) ++bad_v;
      for (size_t xi = 0; xi < 16; ++xi)
        pnn_f32_gemm_pb_scalar(M, count, C, u + xi * M * C, C, v_ref + xi * xi_stride, mb + xi * M * block, block,
                               NULL, none);
      memcpy(m_ref, mb, 16 * M * block * sizeof(float));
      pnn_f32_wino2_output_scalar(&g, mb, M, block, M * block, t0, count, bias, ref, residual, act);
      output(&g, m_ref, M, block, M * block, t0, count, bias, got, residual, act);
    }
    for (size_t i = 0; i < M * OH * OW; ++i) {
      if (!(fabsf(ref[i] - want[i]) <= 1e-4f * (1.0f + fabsf(want[i])))) ++bad_ref;
      if (!(fabsf(got[i] - ref[i]) <= 1e-6f * (1.0f + fabsf(ref[i])))) ++bad_y;
    }
    char what[160];
    snprintf(what, sizeof(what), "winograd reference vs direct, shape %zu", si);
    count_case(t, bad_ref, what);
    snprintf(what, sizeof(what), "winograd %s input, shape %zu", name, si);
    count_case(t, bad_v, what);
    snprintf(what, sizeof(what), "winograd %s output, shape %zu", name, si);
    count_case(t, bad_y, what);
    free(x); free(w); free(bias); free(u); free(want); free(ref); free(got); free(residual);
    free(v_ref); free(v_got); free(mb); free(m_ref);
  }
}

static void test_maxpool(const char *name, pnn_f32_maxpool2d_fn fn, rng *r, tally *t) {
  static const pnn_pool2d_geometry geoms[] = {
      /* channels, in_h, in_w, out_h, out_w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr */
      {3, 12, 12, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
      {2, 9, 37, 5, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
      {2, 8, 9, 4, 4, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0},
      {1, 7, 40, 7, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {2, 9, 11, 5, 7, 3, 3, 1, 1, 2, 2, 0, 0, 0, 0},
      {1, 3, 4, 2, 2, 5, 5, 1, 1, 1, 1, 2, 2, 0, 0},
      {2, 10, 23, 4, 8, 3, 2, 3, 3, 1, 1, 1, 0, 0, 1},
      {1, 4, 4, 3, 3, 3, 3, 2, 2, 1, 1, 2, 2, 2, 2},
  };
  for (size_t gi = 0; gi < sizeof(geoms) / sizeof(geoms[0]); ++gi) {
    const pnn_pool2d_geometry *g = &geoms[gi];
    const size_t in_n = g->channels * g->in_h * g->in_w, out_n = g->channels * g->out_h * g->out_w;
    float *x = alloc_floats(in_n, r), *want = alloc_floats(out_n, r), *got = alloc_floats(out_n, r);
    for (size_t i = 0; i < in_n; i += 7) x[i] = (i / 7) % 3 == 0 ? NAN : -INFINITY;
    pnn_f32_maxpool2d_scalar(g, x, want);
    fn(g, x, got);
    size_t bad = 0;
    for (size_t i = 0; i < out_n; ++i)
      if (memcmp(&want[i], &got[i], sizeof(float)) != 0 && !(isnan(want[i]) && isnan(got[i]))) ++bad;
    char what[120];
    snprintf(what, sizeof(what), "maxpool %s geom %zu", name, gi);
    count_case(t, bad, what);
    free(x);
    free(want);
    free(got);
  }
}

/* Direct convolution over packed weights vs a naive convolution of the unpacked
 * weights, every output channel block computed in two row ranges (as tasks would). */
static void check_conv_direct(const char *name, pnn_f32_conv_direct_fn fn, size_t in_c, size_t out_c, size_t in_h,
                              size_t in_w, size_t kh, size_t kw, size_t stride, const size_t pads[4], int use_bias,
                              int act_kind, rng *r, tally *t) {
  pnn_conv2d_geometry g;
  g.channels = in_c;
  g.in_h = in_h;
  g.in_w = in_w;
  g.kernel_h = kh;
  g.kernel_w = kw;
  g.stride_h = g.stride_w = stride;
  g.dilation_h = g.dilation_w = 1;
  g.pad_top = pads[0];
  g.pad_left = pads[1];
  g.out_h = conv_out(in_h, pads[0], pads[2], kh, stride, 1);
  g.out_w = conv_out(in_w, pads[1], pads[3], kw, stride, 1);
  if (g.out_h == 0 || g.out_w == 0) return;
  if (strcmp(name, "scalar") != 0 && !pnn_conv_direct_applies(&g)) return;
  const size_t taps = kh * kw, out_hw = g.out_h * g.out_w, y_size = out_c * out_hw;
  float *x = alloc_floats(in_c * in_h * in_w, r), *w = alloc_floats(out_c * in_c * taps, r);
  float *bias = use_bias ? alloc_floats(out_c, r) : NULL;
  float *packed = alloc_floats(pnn_f32_conv_direct_packed_floats(out_c, in_c, taps), r);
  float *want = alloc_floats(y_size, r), *got = alloc_floats(y_size, r);
  const pnn_activation act = activation_case(act_kind);
  for (size_t m = 0; m < out_c; ++m)
    for (size_t oy = 0; oy < g.out_h; ++oy)
      for (size_t ox = 0; ox < g.out_w; ++ox) {
        double acc = bias ? bias[m] : 0.0;
        for (size_t c = 0; c < in_c; ++c)
          for (size_t i = 0; i < kh; ++i)
            for (size_t j = 0; j < kw; ++j) {
              const long iy = (long)(oy * stride + i) - (long)pads[0], ix = (long)(ox * stride + j) - (long)pads[1];
              if (iy < 0 || ix < 0 || iy >= (long)in_h || ix >= (long)in_w) continue;
              acc += (double)w[(m * in_c + c) * taps + i * kw + j] * x[(c * in_h + (size_t)iy) * in_w + (size_t)ix];
            }
        want[m * out_hw + oy * g.out_w + ox] = pnn_activate((float)acc, act);
      }
  for (size_t i = 0; i < y_size; ++i) got[i] = SENTINEL;
  pnn_f32_conv_direct_pack(out_c, in_c, taps, w, packed);
  const size_t split = rng_below(r, g.out_h + 1);
  for (size_t block = 0; block * PNN_F32_CONV_DIRECT_BLOCK < out_c; ++block) {
    fn(&g, out_c, x, packed, bias, got, block, 0, split, act);
    fn(&g, out_c, x, packed, bias, got, block, split, g.out_h, act);
  }
  size_t bad = 0;
  for (size_t i = 0; i < y_size; ++i)
    if (!(fabsf(got[i] - want[i]) <= 1e-5f * (float)(in_c * taps + 1) * (1.0f + fabsf(want[i])))) ++bad;
  char what[160];
  snprintf(what, sizeof(what), "conv direct %s C=%zu M=%zu in=%zux%zu k=%zux%zu s=%zu pad=%zu,%zu,%zu,%zu bias=%d act=%d",
           name, in_c, out_c, in_h, in_w, kh, kw, stride, pads[0], pads[1], pads[2], pads[3], use_bias, act_kind);
  count_case(t, bad, what);
  free(x);
  free(w);
  free(bias);
  free(packed);
  free(want);
  free(got);
}

static void test_conv_direct(const char *name, pnn_f32_conv_direct_fn fn, rng *r, tally *t) {
  static const size_t sizes[] = {1, 2, 3, 5, 16, 17, 31, 33, 40};
  static const size_t out_cs[] = {1, 15, 16, 17, 33};
  static const size_t kernels[][2] = {{3, 3}, {5, 5}, {7, 7}, {1, 3}, {7, 5}};
  static const size_t pads[][4] = {{1, 1, 1, 1}, {0, 0, 0, 0}, {0, 0, 1, 1}, {1, 0, 0, 1}, {2, 1, 0, 1},
                                   {3, 3, 3, 3}, {3, 15, 2, 4}};
  long index = 0;
  for (size_t k = 0; k < sizeof kernels / sizeof kernels[0]; ++k)
    for (size_t stride = 1; stride <= 2; ++stride)
      for (size_t p = 0; p < sizeof pads / sizeof pads[0]; ++p)
        for (size_t hi = 0; hi < sizeof sizes / sizeof sizes[0]; hi += 1 + k % 2)
          for (size_t wi = 0; wi < sizeof sizes / sizeof sizes[0]; ++wi, ++index)
            check_conv_direct(name, fn, 1 + (size_t)(index % 5), out_cs[index % 5], sizes[hi], sizes[wi],
                              kernels[k][0], kernels[k][1], stride, pads[p], (int)(index & 1),
                              (int)((index / 2) % ACT_KINDS), r, t);
  /* MobileNet's and ResNet's first layers (smaller images: the naive reference is slow
   * under the sanitizers). */
  static const size_t same1[4] = {1, 1, 1, 1}, same3[4] = {3, 3, 3, 3}, none[4] = {0, 0, 0, 0};
  check_conv_direct(name, fn, 3, 32, 96, 96, 3, 3, 2, same1, 1, PNN_ACT_CLIP, r, t);
  check_conv_direct(name, fn, 3, 32, 97, 97, 3, 3, 2, none, 1, PNN_ACT_RELU, r, t);
  check_conv_direct(name, fn, 3, 64, 64, 70, 7, 7, 2, same3, 1, PNN_ACT_RELU, r, t);
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  printf("cpu: avx2_fma=%d avx512f=%d\n", cpu.avx2_fma, cpu.avx512f);

  variant_gemm gemms[3];
  variant_dwconv dwconvs[4];
  size_t n_gemm = 0, n_dwconv = 0;
#if defined(__x86_64__) || defined(_M_X64)
  if (variant_usable("f32-gemm, f32-dwconv", "avx2", cpu.avx2_fma)) {
    gemms[n_gemm++] = (variant_gemm){"avx2", pnn_f32_gemm_avx2};
    dwconvs[n_dwconv++] = (variant_dwconv){"avx2", pnn_f32_dwconv_avx2};
  }
  if (variant_usable("f32-gemm, f32-dwconv", "avx512", cpu.avx512f)) {
    gemms[n_gemm++] = (variant_gemm){"avx512", pnn_f32_gemm_avx512};
    dwconvs[n_dwconv++] = (variant_dwconv){"avx512", pnn_f32_dwconv_avx512};
  }
#endif
  /* The selected variant is always tested too (the reference itself on other CPUs,
   * which at least checks the selection and the harness). */
  const char *gemm_name = NULL, *dwconv_name = NULL;
  pnn_f32_gemm_fn gemm_best = pnn_f32_gemm_select(&cpu, &gemm_name);
  pnn_f32_dwconv_fn dwconv_best = pnn_f32_dwconv_select(&cpu, &dwconv_name);
  if (n_gemm == 0) gemms[n_gemm++] = (variant_gemm){gemm_name, gemm_best};
  if (n_dwconv == 0) dwconvs[n_dwconv++] = (variant_dwconv){dwconv_name, dwconv_best};
  printf("selected: gemm=%s dwconv=%s\n", gemm_name, dwconv_name);

  tally t = {0, 0};
  rng r = {0x9E3779B97F4A7C15ull};
  for (size_t i = 0; i < n_gemm; ++i) {
    const tally before = t;
    test_gemm(&gemms[i], &r, &t);
    printf("gemm %-7s %ld cases, %ld failed\n", gemms[i].name, t.cases - before.cases,
           t.failures - before.failures);
  }
  for (size_t i = 0; i < n_dwconv; ++i) {
    const tally before = t;
    test_dwconv(&dwconvs[i], &r, &t);
    printf("dwconv %-7s %ld cases, %ld failed\n", dwconvs[i].name, t.cases - before.cases,
           t.failures - before.failures);
  }
  {
    const tally before = t;
    test_gemm_pb("scalar", pnn_f32_gemm_pb_scalar, &r, &t);
    test_gemm_pb_pack(&r, &t);
    test_gemm_pp("scalar", pnn_f32_gemm_pp_scalar, &r, &t);
    test_gemm_pt("scalar", pnn_f32_gemm_pt_scalar, pnn_f32_gemm_pt_rows_scalar, &r, &t);
#if defined(__x86_64__)
    if (variant_usable("f32-gemm-pb", "avx2", cpu.avx2_fma)) test_gemm_pb("avx2", pnn_f32_gemm_pb_avx2, &r, &t);
    if (variant_usable("f32-gemm-pb", "avx512", cpu.avx512f)) test_gemm_pb("avx512", pnn_f32_gemm_pb_avx512, &r, &t);
    if (variant_usable("f32-gemm-pp", "avx2", cpu.avx2_fma)) test_gemm_pp("avx2", pnn_f32_gemm_pp_avx2, &r, &t);
    if (variant_usable("f32-gemm-pp", "avx512", cpu.avx512f)) test_gemm_pp("avx512", pnn_f32_gemm_pp_avx512, &r, &t);
    if (variant_usable("f32-gemm-pt", "avx2", cpu.avx2_fma)) test_gemm_pt("avx2", pnn_f32_gemm_pt_avx2, pnn_f32_gemm_pt_rows_avx2, &r, &t);
    if (variant_usable("f32-gemm-pt", "avx512", cpu.avx512f)) test_gemm_pt("avx512", pnn_f32_gemm_pt_avx512, pnn_f32_gemm_pt_rows_avx512, &r, &t);
#endif
    test_im2col_panel("scalar", pnn_f32_im2col_panel_scalar, &r, &t);
#if defined(__x86_64__)
    if (variant_usable("f32-im2col", "avx2", cpu.avx2_fma)) test_im2col_panel("avx2", pnn_f32_im2col_panel_avx2, &r, &t);
#endif
    test_winograd("scalar", pnn_f32_wino2_input_scalar, pnn_f32_wino2_output_scalar, &r, &t);
    test_maxpool("scalar", pnn_f32_maxpool2d_scalar, &r, &t);
    test_maxpool("portable", pnn_f32_maxpool2d_portable, &r, &t);
    test_conv_direct("scalar", pnn_f32_conv_direct_scalar, &r, &t);
#if defined(__x86_64__)
    if (variant_usable("f32-winograd", "avx2", cpu.avx2_fma))
      test_winograd("avx2", pnn_f32_wino2_input_avx2, pnn_f32_wino2_output_avx2, &r, &t);
    if (variant_usable("f32-conv-direct", "avx2", cpu.avx2_fma)) test_conv_direct("avx2", pnn_f32_conv_direct_avx2, &r, &t);
    if (variant_usable("f32-pool", "avx2", cpu.avx2_fma)) test_maxpool("avx2", pnn_f32_maxpool2d_avx2, &r, &t);
    if (variant_usable("f32-conv-direct, f32-im2col, f32-winograd, f32-pool", "avx512", cpu.avx512f)) {
      test_conv_direct("avx512", pnn_f32_conv_direct_avx512, &r, &t);
      test_im2col_panel("avx512", pnn_f32_im2col_panel_avx512, &r, &t);
      test_winograd("avx512", pnn_f32_wino2_input_avx512, pnn_f32_wino2_output_avx512, &r, &t);
      test_maxpool("avx512", pnn_f32_maxpool2d_avx512, &r, &t);
    }
#endif
#if !defined(__x86_64__)
    /* Elsewhere the variants the runtime selects (wasm SIMD128), when not the reference. */
    const char *pb_name = NULL, *pp_name = NULL, *wino_name = NULL;
    const pnn_f32_gemm_pb_fn pb_best = pnn_f32_gemm_pb_select(&cpu, &pb_name);
    const pnn_f32_gemm_pp_fn pp_best = pnn_f32_gemm_pp_select(&cpu, &pp_name);
    pnn_f32_wino2_input_fn wino_in;
    pnn_f32_wino2_output_fn wino_out;
    pnn_f32_wino2_select(&cpu, &wino_in, &wino_out, &wino_name);
    printf("selected: gemm_pb=%s gemm_pp=%s winograd=%s\n", pb_name, pp_name, wino_name);
    if (strcmp(pb_name, "scalar") != 0) test_gemm_pb(pb_name, pb_best, &r, &t);
    if (strcmp(pp_name, "scalar") != 0) test_gemm_pp(pp_name, pp_best, &r, &t);
    if (strcmp(wino_name, "scalar") != 0) test_winograd(wino_name, wino_in, wino_out, &r, &t);
#endif
    printf("gemm_pb / gemm_pp / gemm_pt / im2col_panel / winograd / maxpool / conv direct: %ld cases, %ld failed\n", t.cases - before.cases,
           t.failures - before.failures);
  }
  printf("%ld cases, %ld failed\n", t.cases, t.failures);
  return t.failures ? 1 : 0;
}
