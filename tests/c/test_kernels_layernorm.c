/* Tests the f32 layer normalization kernels (pnn_kernels_elementwise.h,
 * kernels_c/f32-layernorm/): every SIMD variant compiled for this target and usable on
 * this CPU against the scalar reference (double sums) on awkward row lengths (1, every
 * tail of 4/8/16/32-value vectors, 384 and 1536 as in transformers), rows offset from
 * 0 by up to 1000 times their spread (the case the two-pass variance exists for), with
 * and without bias; within 2e-5 relative to max(1, |y|) plus a few float32 ulp of the
 * offset (what x - mean itself rounds away in either kernel). NaN and infinity in a row give
 * NaN where the reference does. pnn_f32_layernorm_select picks the best variant. Plain
 * C: runs on x86-64, aarch64 (under qemu) and wasm32. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"
#include "variant_gate.h"

typedef struct variant {
  const char *name;
  pnn_f32_layernorm_fn fn;
} variant;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float rng_uniform(void) { /* [-1, 1) */
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((double)(rng_state >> 40) / (double)(1ull << 23) - 1.0);
}

static int check(const variant *v, size_t rows, size_t n, float offset, int with_bias, int special) {
  float *x = malloc(rows * n * sizeof(float)), *scale = malloc(n * sizeof(float));
  float *bias = malloc(n * sizeof(float)), *want = malloc(rows * n * sizeof(float));
  float *got = malloc(rows * n * sizeof(float));
  if (!x || !scale || !bias || !want || !got) exit(2);
  for (size_t i = 0; i < rows * n; ++i) x[i] = offset + rng_uniform();
  for (size_t i = 0; i < n; ++i) {
    scale[i] = 1.0f + rng_uniform();
    bias[i] = rng_uniform();
  }
  if (special == 1) x[n / 2] = NAN;
  if (special == 2) x[n - 1] = INFINITY;
  pnn_f32_layernorm_scalar(rows, n, x, scale, with_bias ? bias : NULL, 1e-5f, want);
  v->fn(rows, n, x, scale, with_bias ? bias : NULL, 1e-5f, got);
  int failures = 0;
  for (size_t i = 0; i < rows * n && !failures; ++i) {
    const int both_nan = isnan(want[i]) && isnan(got[i]);
    /* The reference is itself only as exact as x - mean in float32: a few ulp of the
     * offset, times inv_std (< 2) and scale (< 2). */
    const float tolerance = 2e-5f * fmaxf(1.0f, fabsf(want[i])) + 16.0f * FLT_EPSILON * fabsf(offset);
    if (!both_nan && !(fabsf(got[i] - want[i]) <= tolerance)) {
      fprintf(stderr, "%s rows=%zu n=%zu offset=%g bias=%d special=%d at %zu: %.9g, scalar %.9g\n", v->name, rows,
              n, offset, with_bias, special, i, got[i], want[i]);
      ++failures;
    }
  }
  free(x);
  free(scale);
  free(bias);
  free(want);
  free(got);
  return failures;
}

int main(void) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  variant variants[2];
  size_t n_variants = 0;
  const char *expected = "scalar";
#if defined(__x86_64__) || defined(_M_X64)
  if (variant_usable("f32-layernorm", "avx2", cpu.avx2_fma))
    variants[n_variants++] = (variant){"avx2", pnn_f32_layernorm_avx2};
  if (variant_usable("f32-layernorm", "avx512", cpu.avx512f))
    variants[n_variants++] = (variant){"avx512", pnn_f32_layernorm_avx512};
  expected = cpu.avx512f ? "avx512" : cpu.avx2_fma ? "avx2" : "scalar";
#elif defined(__aarch64__)
  variants[n_variants++] = (variant){"neon", pnn_f32_layernorm_neon};
  expected = "neon";
#elif defined(__wasm_simd128__)
  variants[n_variants++] = (variant){"wasmsimd", pnn_f32_layernorm_wasmsimd};
  expected = "wasmsimd";
#endif
  int failures = 0, cases = 0;
  const char *picked = NULL;
  pnn_f32_layernorm_select(&cpu, &picked);
  if (strcmp(picked, expected) != 0) {
    fprintf(stderr, "pnn_f32_layernorm_select picked %s, expected %s\n", picked, expected);
    ++failures;
  }
  static const size_t lengths[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 384, 1536};
  static const float offsets[] = {0.0f, 3.0f, -1000.0f};
  for (size_t v = 0; v < n_variants; ++v) {
    for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); ++l) {
      for (size_t o = 0; o < 3; ++o) {
        for (int with_bias = 0; with_bias < 2; ++with_bias) {
          failures += check(&variants[v], 3, lengths[l], offsets[o], with_bias, 0);
          ++cases;
        }
      }
      for (int special = 1; special <= 2; ++special) {
        failures += check(&variants[v], 2, lengths[l], 0.0f, 1, special);
        ++cases;
      }
    }
  }
  printf("f32 layernorm: %d cases, %zu SIMD variants, %d failures\n", cases, n_variants, failures);
  return failures ? 1 : 0;
}
