/* Compares every f32 softmax variant this CPU runs (AVX-512, AVX2, NEON, SIMD128) with
 * the scalar reference: rows of 1..40, 64, 1000 and 1003 elements (every tail), values
 * in [-30, 30], softmax and log-softmax, out of place and in place, rows holding NaN,
 * +inf or -inf, an all -inf row, and a strided axis (inner > 1). NaN must match NaN;
 * otherwise |got - want| <= 2e-6 |want| + 1e-7 (softmax) or 1e-5 (1 + |want|)
 * (log-softmax): the polynomial exp is within 1 ulp and the sum is float, in lanes.
 * The float after each output must keep its sentinel. Plain C: x86-64, aarch64 (qemu),
 * wasm32 (node). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"

#include "variant_gate.h"

#define SENTINEL 12345.0f
#define MAX_N 1003

typedef struct variant {
  const char *name;
  pnn_f32_softmax_fn fn;
} variant;

static uint32_t next_random(uint64_t *state) {
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(*state >> 33);
}

static int close_enough(float got, float want, int log_softmax) {
  if (isnan(want) || isnan(got)) return isnan(want) && isnan(got);
  if (isinf(want) || isinf(got)) return want == got;
  const double tol = log_softmax ? 1e-5 * (1.0 + fabs(want)) : 2e-6 * fabs(want) + 1e-7;
  return fabs((double)got - (double)want) <= tol;
}

/* One case: `rows` rows of n (or a [1, n, inner] block when inner > 1). */
static size_t check_case(const variant *v, size_t rows, size_t n, size_t inner, int log_softmax, int in_place,
                         int special, uint64_t *rng) {
  const size_t total = rows * n * inner;
  float *x = malloc((total + 1) * sizeof(float)), *want = malloc((total + 1) * sizeof(float));
  float *got = malloc((total + 1) * sizeof(float)), *scratch = malloc((2 * inner + 1) * sizeof(float));
  if (!x || !want || !got || !scratch) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  for (size_t i = 0; i < total; ++i) x[i] = -30.0f + 60.0f * (float)(next_random(rng) & 0xFFFF) / 65536.0f;
  if (special == 1 && total) x[next_random(rng) % total] = NAN;
  if (special == 2 && total) x[next_random(rng) % total] = INFINITY;
  if (special == 3 && total) x[next_random(rng) % total] = -INFINITY;
  if (special == 4)
    for (size_t i = 0; i < n * inner && i < total; ++i) x[i] = -INFINITY;
  pnn_f32_softmax_scalar(rows, n, inner, x, want, log_softmax, scratch);
  memcpy(got, x, total * sizeof(float));
  got[total] = SENTINEL;
  v->fn(rows, n, inner, in_place ? got : x, got, log_softmax, scratch);
  size_t failures = 0;
  for (size_t i = 0; i < total; ++i) {
    if (!close_enough(got[i], want[i], log_softmax)) {
      if (failures < 4)
        fprintf(stderr, "%s rows=%zu n=%zu inner=%zu log=%d in_place=%d special=%d: [%zu] = %.9g, expected %.9g\n",
                v->name, rows, n, inner, log_softmax, in_place, special, i, got[i], want[i]);
      ++failures;
    }
  }
  if (got[total] != SENTINEL) {
    fprintf(stderr, "%s rows=%zu n=%zu: wrote past the end\n", v->name, rows, n);
    ++failures;
  }
  free(x);
  free(want);
  free(got);
  free(scratch);
  return failures;
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  variant variants[4];
  size_t num_variants = 0;
#if defined(__x86_64__) || defined(_M_X64)
  if (variant_usable("f32-softmax", "avx512", cpu.avx512f)) variants[num_variants++] = (variant){"avx512", pnn_f32_softmax_avx512};
  if (variant_usable("f32-softmax", "avx2", cpu.avx2_fma)) variants[num_variants++] = (variant){"avx2", pnn_f32_softmax_avx2};
#endif
  const char *selected_name = NULL;
  const pnn_f32_softmax_fn selected = pnn_f32_softmax_select(&cpu, &selected_name);
  if (strcmp(selected_name, "neon") == 0 || strcmp(selected_name, "wasmsimd") == 0)
    variants[num_variants++] = (variant){selected_name, selected};
  uint64_t rng = 42;
  size_t failures = 0, cases = 0;
  static const size_t LONG_ROWS[] = {64, 1000, MAX_N};
  for (size_t v = 0; v < num_variants; ++v) {
    for (size_t k = 0; k < 40 + 3; ++k) {
      const size_t n = k < 40 ? k + 1 : LONG_ROWS[k - 40];
      for (int log_softmax = 0; log_softmax <= 1; ++log_softmax)
        for (int in_place = 0; in_place <= 1; ++in_place)
          for (int special = 0; special <= 4; ++special, ++cases)
            failures += check_case(&variants[v], 3, n, 1, log_softmax, in_place, special, &rng);
    }
    for (int log_softmax = 0; log_softmax <= 1; ++log_softmax, ++cases)
      failures += check_case(&variants[v], 2, 7, 19, log_softmax, 0, 0, &rng);
  }
  if (num_variants == 0) printf("f32-softmax: no SIMD variant on this CPU (scalar only)\n");
  if (failures) {
    fprintf(stderr, "f32-softmax: %zu mismatches in %zu cases\n", failures, cases);
    return 1;
  }
  printf("f32-softmax: %zu cases, every variant matches the scalar reference\n", cases);
  return 0;
}
