/* ns per element of each f32 unary kind, scalar reference vs the SIMD variants this
 * CPU runs (thread CPU time, median of 15 runs over 61440 elements: ddddocr's largest
 * Sigmoid). Build and run with bench/bench_unary.sh (under bench/avx2_host/run.sh the
 * AVX-512 variant is hidden, as on an AVX2-only CPU). Not part of the tests. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pnn_kernels.h"

#define ELEMENTS 61440
#define RUNS 15

typedef struct kind_name {
  int kind;
  const char *name;
  float alpha, beta;
} kind_name;

static const kind_name KINDS[] = {
    {PNN_UNARY_SIGMOID, "sigmoid", 0, 0},   {PNN_UNARY_TANH, "tanh", 0, 0},
    {PNN_UNARY_EXP, "exp", 0, 0},           {PNN_UNARY_ERF, "erf", 0, 0},
    {PNN_UNARY_GELU, "gelu", 0, 0},         {PNN_UNARY_GELU_TANH, "gelu_tanh", 0, 0},
    {PNN_UNARY_SOFTPLUS, "softplus", 0, 0}, {PNN_UNARY_ELU, "elu", 1, 0},
    {PNN_UNARY_LOG, "log", 0, 0},           {PNN_UNARY_SQRT, "sqrt", 0, 0},
    {PNN_UNARY_RECIPROCAL, "reciprocal", 0, 0}, {PNN_UNARY_ABS, "abs", 0, 0},
    {PNN_UNARY_NEG, "neg", 0, 0},           {PNN_UNARY_FLOOR, "floor", 0, 0},
    {PNN_UNARY_CEIL, "ceil", 0, 0},         {PNN_UNARY_RELU, "relu", 0, 0},
    {PNN_UNARY_CLIP, "clip", 0, 6},         {PNN_UNARY_LEAKY_RELU, "leaky_relu", 0.01f, 0},
    {PNN_UNARY_HARD_SIGMOID, "hard_sigmoid", 0.2f, 0.5f}, {PNN_UNARY_HARD_SWISH, "hard_swish", 0, 0},
};

static double thread_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double ns_per_element(pnn_f32_unary_fn fn, const pnn_unary_params *p, const float *x, float *y) {
  double t[RUNS];
  fn(p, ELEMENTS, x, y); /* warm up */
  for (int r = 0; r < RUNS; ++r) {
    const double start = thread_seconds();
    fn(p, ELEMENTS, x, y);
    t[r] = (thread_seconds() - start) * 1e9 / ELEMENTS;
  }
  qsort(t, RUNS, sizeof t[0], compare_doubles);
  return t[RUNS / 2];
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  static float x[ELEMENTS], y[ELEMENTS];
  for (size_t i = 0; i < ELEMENTS; ++i) x[i] = 0.1f + 8.0f * (float)((i * 7919u) % 1000u) / 1000.0f - 4.0f;
  const char *names[4] = {"scalar"};
  pnn_f32_unary_fn fns[4] = {pnn_f32_unary_scalar};
  int count = 1;
#if defined(__x86_64__)
  if (cpu.avx2_fma) names[count] = "avx2", fns[count++] = pnn_f32_unary_avx2;
  if (cpu.avx512f) names[count] = "avx512", fns[count++] = pnn_f32_unary_avx512;
#else
  count += pnn_f32_unary_select(&cpu, NULL, &names[1]) != pnn_f32_unary_scalar;
  fns[1] = pnn_f32_unary_select(&cpu, NULL, NULL);
#endif
  printf("%-13s", "ns/element");
  for (int v = 0; v < count; ++v) printf(" %9s", names[v]);
  printf("\n");
  for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; ++k) {
    const pnn_unary_params p = {KINDS[k].kind, KINDS[k].alpha, KINDS[k].beta};
    printf("%-13s", KINDS[k].name);
    for (int v = 0; v < count; ++v) printf(" %9.3f", ns_per_element(fns[v], &p, x, y));
    printf("\n");
  }
  return 0;
}
