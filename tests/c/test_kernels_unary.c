/* Compares every f32 unary kernel variant this CPU runs (AVX-512, AVX2, NEON, SIMD128)
 * and its in-place activation with the scalar reference (libm underneath):
 *   - a dense sweep of the float line: every 4099th bit pattern (both signs, all
 *     exponents, denormals) plus +-0, +-inf, NaN, +-FLT_MAX, +-FLT_MIN, the smallest
 *     denormals and the branch points of each function;
 *   - awkward sizes (0..40, 1000 + 3) at an unaligned start, out of place and in place,
 *     with sentinels after the end that must stay untouched.
 * NaN must give NaN (and only NaN), an infinite reference must be matched exactly, and
 * every other result must lie within the kind's bound: `ulp` units in the last place
 * of the reference, or an absolute error of abs_tol + x_tol * |x| (the reference's own
 * cancellation in Gelu's 1 + erf, and results flushed to 0 or left denormal).
 * Prints the largest error seen per kind and variant; exits non-zero on a mismatch.
 * Plain C: runs on x86-64, aarch64 (qemu) and wasm32 (node). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"

#include "variant_gate.h"

#define SENTINEL 12345.0f
#define SWEEP_STRIDE 4099u

typedef struct tolerance {
  double ulp;     /* units in the last place of the reference */
  double abs_tol; /* or an absolute error of abs_tol + x_tol * |x| */
  double x_tol;
} tolerance;

typedef struct unary_case {
  const char *name;
  pnn_unary_params params;
  tolerance tol;
} unary_case;

/* Exact kinds have ulp 0; FMA-contracted ones (hard sigmoid/swish) 1. */
static const unary_case CASES[] = {
    {"relu", {PNN_UNARY_RELU, 0.0f, 0.0f}, {0, 0, 0}},
    {"clip", {PNN_UNARY_CLIP, -0.5f, 0.7f}, {0, 0, 0}},
    {"clip_default", {PNN_UNARY_CLIP, -FLT_MAX, FLT_MAX}, {0, 0, 0}},
    {"leaky_relu", {PNN_UNARY_LEAKY_RELU, 0.1f, 0.0f}, {0, 0, 0}},
    {"sigmoid", {PNN_UNARY_SIGMOID, 0.0f, 0.0f}, {3, 1e-37, 0}},
    {"hard_sigmoid", {PNN_UNARY_HARD_SIGMOID, 0.2f, 0.5f}, {1, 1e-7, 0}},
    {"hard_swish", {PNN_UNARY_HARD_SWISH, 0.0f, 0.0f}, {2, 1e-37, 1e-7}},
    {"tanh", {PNN_UNARY_TANH, 0.0f, 0.0f}, {4, 0, 0}},
    {"erf", {PNN_UNARY_ERF, 0.0f, 0.0f}, {4, 1.5e-7, 0}},
    {"gelu", {PNN_UNARY_GELU, 0.0f, 0.0f}, {4, 1e-37, 1.2e-7}},
    {"gelu_tanh", {PNN_UNARY_GELU_TANH, 0.0f, 0.0f}, {4, 1e-37, 1.2e-7}},
    {"exp", {PNN_UNARY_EXP, 0.0f, 0.0f}, {3, 1e-45, 0}},
    {"sqrt", {PNN_UNARY_SQRT, 0.0f, 0.0f}, {0, 0, 0}},
    {"abs", {PNN_UNARY_ABS, 0.0f, 0.0f}, {0, 0, 0}},
    {"neg", {PNN_UNARY_NEG, 0.0f, 0.0f}, {0, 0, 0}},
    {"log", {PNN_UNARY_LOG, 0.0f, 0.0f}, {3, 0, 0}},
    {"reciprocal", {PNN_UNARY_RECIPROCAL, 0.0f, 0.0f}, {0, 0, 0}},
    {"softplus", {PNN_UNARY_SOFTPLUS, 0.0f, 0.0f}, {4, 1e-45, 0}},
    {"elu", {PNN_UNARY_ELU, 1.0f, 0.0f}, {4, 0, 0}},
    {"elu_alpha", {PNN_UNARY_ELU, 0.3f, 0.0f}, {4, 0, 0}},
    {"floor", {PNN_UNARY_FLOOR, 0.0f, 0.0f}, {0, 0, 0}},
    {"ceil", {PNN_UNARY_CEIL, 0.0f, 0.0f}, {0, 0, 0}},
    {"sign", {PNN_UNARY_SIGN, 0.0f, 0.0f}, {0, 0, 0}},
    {"copy", {PNN_UNARY_COPY, 0.0f, 0.0f}, {0, 0, 0}},
};
#define NUM_CASES (sizeof CASES / sizeof CASES[0])

typedef struct act_case {
  const char *name;
  pnn_activation act;
  tolerance tol;
} act_case;

static const act_case ACT_CASES[] = {
    {"act_none", {PNN_ACT_NONE, 0.0f, 0.0f}, {0, 0, 0}},
    {"act_relu", {PNN_ACT_RELU, 0.0f, 0.0f}, {0, 0, 0}},
    {"act_clip", {PNN_ACT_CLIP, 0.0f, 6.0f}, {0, 0, 0}},
    {"act_leaky_relu", {PNN_ACT_LEAKY_RELU, 0.01f, 0.0f}, {0, 0, 0}},
    {"act_sigmoid", {PNN_ACT_SIGMOID, 0.0f, 0.0f}, {3, 1e-37, 0}},
    {"act_hard_sigmoid", {PNN_ACT_HARD_SIGMOID, 0.2f, 0.5f}, {1, 1e-7, 0}},
    {"act_hard_swish", {PNN_ACT_HARD_SWISH, 0.0f, 0.0f}, {2, 1e-37, 1e-7}},
    {"act_tanh", {PNN_ACT_TANH, 0.0f, 0.0f}, {4, 0, 0}},
    {"act_swish", {PNN_ACT_SWISH, 0.0f, 0.0f}, {4, 1e-37, 0}},
};
#define NUM_ACT_CASES (sizeof ACT_CASES / sizeof ACT_CASES[0])

typedef struct variant {
  const char *name;
  pnn_f32_unary_fn unary;
  pnn_f32_activate_fn activate;
} variant;

static float from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* Position on the float line (monotonic in the value; -0 and +0 are neighbours). */
static int64_t ordered(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return (u & 0x80000000u) ? -(int64_t)(u & 0x7FFFFFFFu) : (int64_t)u;
}

static double ulp_distance(float a, float b) {
  const int64_t d = ordered(a) - ordered(b);
  return (double)(d < 0 ? -d : d);
}

typedef struct worst {
  double ulp;       /* largest ulp distance seen outside the absolute-tolerance escape */
  double abs_error; /* largest absolute error seen */
  size_t failures;
} worst;

/* Checks one result; prints the first few failures. */
static void check_value(const char *variant_name, const char *case_name, tolerance tol, float x,
                        float want, float got, worst *w) {
  int ok;
  if (isnan(want) || isnan(got)) {
    ok = isnan(want) && isnan(got);
  } else if (isinf(want) || isinf(got)) {
    ok = want == got;
  } else {
    const double ulps = ulp_distance(want, got);
    const double err = fabs((double)want - (double)got);
    ok = ulps <= tol.ulp || err <= tol.abs_tol + tol.x_tol * fabs((double)x);
    if (err > w->abs_error) w->abs_error = err;
    if (ulps > w->ulp && err > tol.abs_tol + tol.x_tol * fabs((double)x)) w->ulp = ulps;
  }
  if (!ok) {
    if (w->failures < 8) {
      fprintf(stderr, "%s %s: x=%.9g (0x%08x): got %.9g, expected %.9g\n", variant_name, case_name, x,
              (unsigned)(ordered(x) < 0 ? (uint32_t)(-ordered(x)) | 0x80000000u : (uint32_t)ordered(x)),
              got, want);
    }
    ++w->failures;
  }
}

/* The sweep's inputs: every SWEEP_STRIDE-th bit pattern, then the special values. */
static float *sweep_inputs(size_t *count) {
  static const float specials[] = {
      0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN,
      1e-45f, -1e-45f, 1e-40f, -1e-40f, 1.0f, -1.0f, 0.5f, -0.5f, 0.625f, -0.625f, 0.70710678f,
      1.41421356f, -1.41421356f, 9.0f, -9.0f, 12.73f, -12.73f, 88.72f, 88.73f, -87.3f, -103.9f,
      -104.1f, 89.0f, -25.0f, 3.0f, -3.0f, 6.0f, -6.0f, 1e-8f, -1e-8f, 2.5f, -2.5f, 1e30f, -1e30f};
  const size_t n_specials = sizeof specials / sizeof specials[0];
  const size_t n_sweep = (size_t)(0xFFFFFFFFu / SWEEP_STRIDE) + 1;
  float *x = malloc((n_sweep + n_specials) * sizeof(float));
  if (!x) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  size_t n = 0;
  for (uint64_t u = 0; u <= 0xFFFFFFFFu; u += SWEEP_STRIDE) x[n++] = from_bits((uint32_t)u);
  memcpy(x + n, specials, sizeof specials);
  *count = n + n_specials;
  return x;
}

static void print_worst(const char *variant_name, const char *case_name, const worst *w) {
  printf("  %-8s %-16s max %4.0f ulp, max abs error %.3g%s\n", variant_name, case_name, w->ulp,
         w->abs_error, w->failures ? "  FAILED" : "");
}

static size_t sweep_unary(const variant *v, const float *x, size_t n, float *want, float *got) {
  size_t failures = 0;
  for (size_t c = 0; c < NUM_CASES; ++c) {
    worst w = {0, 0, 0};
    pnn_f32_unary_scalar(&CASES[c].params, n, x, want);
    v->unary(&CASES[c].params, n, x, got);
    for (size_t i = 0; i < n; ++i) check_value(v->name, CASES[c].name, CASES[c].tol, x[i], want[i], got[i], &w);
    print_worst(v->name, CASES[c].name, &w);
    failures += w.failures;
  }
  for (size_t c = 0; c < NUM_ACT_CASES; ++c) {
    worst w = {0, 0, 0};
    memcpy(want, x, n * sizeof(float));
    memcpy(got, x, n * sizeof(float));
    pnn_f32_activate_scalar(want, n, ACT_CASES[c].act);
    v->activate(got, n, ACT_CASES[c].act);
    for (size_t i = 0; i < n; ++i) check_value(v->name, ACT_CASES[c].name, ACT_CASES[c].tol, x[i], want[i], got[i], &w);
    print_worst(v->name, ACT_CASES[c].name, &w);
    failures += w.failures;
  }
  return failures;
}

/* Sizes 0..40 and 1003 from x + 1 (unaligned), out of place and in place; the two
 * floats after the end must keep their sentinels. */
static size_t sizes_unary(const variant *v, const float *pool, size_t pool_n) {
  size_t failures = 0, cases = 0;
  enum { MAX_N = 1003 };
  float in[MAX_N + 3], want[MAX_N + 3], got[MAX_N + 3];
  for (size_t n = 0; n <= MAX_N; n = n < 40 ? n + 1 : MAX_N + (n == MAX_N)) {
    for (size_t i = 0; i < n; ++i) in[1 + i] = pool[(i * 7919u + n * 104729u) % pool_n];
    for (size_t c = 0; c < NUM_CASES; ++c) {
      for (int in_place = 0; in_place <= 1; ++in_place) {
        worst w = {0, 0, 0};
        pnn_f32_unary_scalar(&CASES[c].params, n, in + 1, want + 1);
        memcpy(got + 1, in + 1, n * sizeof(float));
        got[1 + n] = got[2 + n] = SENTINEL;
        v->unary(&CASES[c].params, n, in_place ? got + 1 : in + 1, got + 1);
        for (size_t i = 0; i < n; ++i)
          check_value(v->name, CASES[c].name, CASES[c].tol, in[1 + i], want[1 + i], got[1 + i], &w);
        if (got[1 + n] != SENTINEL || got[2 + n] != SENTINEL) {
          fprintf(stderr, "%s %s n=%zu: wrote past the end\n", v->name, CASES[c].name, n);
          ++w.failures;
        }
        failures += w.failures;
        ++cases;
      }
    }
    for (size_t c = 0; c < NUM_ACT_CASES; ++c) {
      worst w = {0, 0, 0};
      memcpy(want + 1, in + 1, n * sizeof(float));
      memcpy(got + 1, in + 1, n * sizeof(float));
      got[1 + n] = got[2 + n] = SENTINEL;
      pnn_f32_activate_scalar(want + 1, n, ACT_CASES[c].act);
      v->activate(got + 1, n, ACT_CASES[c].act);
      for (size_t i = 0; i < n; ++i)
        check_value(v->name, ACT_CASES[c].name, ACT_CASES[c].tol, in[1 + i], want[1 + i], got[1 + i], &w);
      if (got[1 + n] != SENTINEL || got[2 + n] != SENTINEL) {
        fprintf(stderr, "%s %s n=%zu: wrote past the end\n", v->name, ACT_CASES[c].name, n);
        ++w.failures;
      }
      failures += w.failures;
      ++cases;
    }
    if (n == MAX_N + 1) break;
  }
  printf("  %-8s %zu size cases\n", v->name, cases);
  return failures;
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  variant variants[4];
  size_t num_variants = 0;
#if defined(__x86_64__) || defined(_M_X64)
  if (variant_usable("f32-unary", "avx512", cpu.avx512f))
    variants[num_variants++] = (variant){"avx512", pnn_f32_unary_avx512, pnn_f32_activate_avx512};
  if (variant_usable("f32-unary", "avx2", cpu.avx2_fma))
    variants[num_variants++] = (variant){"avx2", pnn_f32_unary_avx2, pnn_f32_activate_avx2};
#endif
  const char *selected_name = NULL;
  pnn_f32_activate_fn selected_activate = NULL;
  const pnn_f32_unary_fn selected = pnn_f32_unary_select(&cpu, &selected_activate, &selected_name);
  if (strcmp(selected_name, "neon") == 0 || strcmp(selected_name, "wasmsimd") == 0)
    variants[num_variants++] = (variant){selected_name, selected, selected_activate};

  size_t n = 0;
  float *x = sweep_inputs(&n);
  float *want = malloc(n * sizeof(float));
  float *got = malloc(n * sizeof(float));
  if (!want || !got) {
    fprintf(stderr, "out of memory\n");
    return 2;
  }
  size_t failures = 0;
  printf("f32-unary: %zu sweep inputs, selected variant %s\n", n, selected_name);
  for (size_t v = 0; v < num_variants; ++v) {
    failures += sweep_unary(&variants[v], x, n, want, got);
    failures += sizes_unary(&variants[v], x, n);
  }
  free(x);
  free(want);
  free(got);
  if (num_variants == 0) printf("f32-unary: no SIMD variant on this CPU (scalar only)\n");
  if (failures) {
    fprintf(stderr, "f32-unary: %zu mismatches\n", failures);
    return 1;
  }
  printf("f32-unary: all variants match the scalar reference\n");
  return 0;
}
