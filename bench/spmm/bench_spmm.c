/* f32 SpMM per layer of MobileNet V1 (224x224), 90% of the 1x1 weights zero: the
 * kernels alone, every variant this CPU runs and every G, called as the Conv op calls
 * them (chunks of 256 pixels, x and y rows `pixels` apart) and as Gemm does (1 pixel).
 * Prints ms per layer (median of thread CPU time) and GFLOP/s counted over the nonzero
 * multiply-adds (2 flop each). Not a test: numbers only.
 *
 *   cd kernels_c && cc -O3 -fno-math-errno -Iinclude ../bench/spmm/bench_spmm.c \
 *      f32-spmm/scalar.c f32-spmm/select.c f32-spmm/avx2.c f32-spmm/avx512.c cpu.c -lm \
 *      -o /tmp/bench_spmm && /tmp/bench_spmm [density 0.1] [reps 31]
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pnn_kernels.h"
#include "pnn_kernels_sparse.h"

enum { CHUNK = 256 };

typedef struct layer {
  const char *name;
  size_t cin, cout, pixels;
} layer;

static const layer LAYERS[] = {
    {"pw1 32-64 112", 32, 64, 12544},     {"pw2 64-128 56", 64, 128, 3136},
    {"pw3 128-128 56", 128, 128, 3136},   {"pw4 128-256 28", 128, 256, 784},
    {"pw5 256-256 28", 256, 256, 784},    {"pw6 256-512 14", 256, 512, 196},
    {"pw7 512-512 14 x5", 512, 512, 196}, {"pw12 512-1024 7", 512, 1024, 49},
    {"pw13 1024-1024 7", 1024, 1024, 49}, {"gemm 1024-1000 1", 1024, 1000, 1},
};

static uint64_t state = 0x12345678ull;
static double uniform(void) {
  state = state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(state >> 11) / 9007199254740992.0;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const double density = argc > 1 ? atof(argv[1]) : 0.1;
  const int reps = argc > 2 ? atoi(argv[2]) : 31;
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  struct { const char *name; pnn_f32_spmm_fn fn; int ok; } variants[] = {
#if defined(__x86_64__)
      {"avx2", pnn_f32_spmm_avx2, cpu.avx2_fma},
      {"avx512", pnn_f32_spmm_avx512, cpu.avx512f},
#endif
      {"scalar", pnn_f32_spmm_scalar, 0},
  };
  const size_t n_variants = sizeof variants / sizeof variants[0];
  const pnn_activation relu = {PNN_ACT_RELU, 0.0f, 0.0f};
  static const size_t GS[] = {1, 2, 4, 8};
  printf("%-20s %3s %8s", "layer", "G", "nnz");
  for (size_t v = 0; v < n_variants; ++v)
    if (variants[v].ok) printf(" %9s ms %6s", variants[v].name, "GF/s");
  printf("\n");
  double total[8][4] = {{0}};
  for (size_t l = 0; l < sizeof LAYERS / sizeof LAYERS[0]; ++l) {
    const layer *L = &LAYERS[l];
    const size_t times = strncmp(L->name, "pw7", 3) == 0 ? 5 : 1;
    float *x = malloc(L->cin * L->pixels * sizeof(float));
    float *y = malloc(L->cout * L->pixels * sizeof(float));
    float *bias = malloc(L->cout * sizeof(float));
    for (size_t i = 0; i < L->cin * L->pixels; ++i) x[i] = (float)uniform() - 0.5f;
    for (size_t i = 0; i < L->cout; ++i) bias[i] = (float)uniform();
    for (size_t gi = 0; gi < 4; ++gi) {
      const size_t G = GS[gi], n_groups = (L->cout + G - 1) / G;
      uint32_t *nnz = malloc(n_groups * sizeof(uint32_t));
      uint32_t *idx = malloc(n_groups * L->cin * sizeof(uint32_t));
      float *val = malloc(n_groups * L->cin * G * sizeof(float));
      size_t total_nnz = 0;
      for (size_t g = 0; g < n_groups; ++g) {
        nnz[g] = 0;
        for (size_t k = 0; k < L->cin; ++k) {
          if (uniform() >= density) continue;
          idx[total_nnz] = (uint32_t)k;
          for (size_t r = 0; r < G; ++r) val[total_nnz * G + r] = (float)uniform() - 0.5f;
          ++total_nnz;
          ++nnz[g];
        }
      }
      const pnn_sparse_f32 w = {L->cout, L->cin, G, n_groups, nnz, idx, val};
      const double flop = 2.0 * (double)total_nnz * (double)G * (double)L->pixels;
      printf("%-20s %3zu %8zu", L->name, G, total_nnz * G);
      for (size_t v = 0; v < n_variants; ++v) {
        if (!variants[v].ok) continue;
        double samples[301];
        const int n = reps > 301 ? 301 : reps;
        for (int rep = -2; rep < n; ++rep) {
          const double t0 = now_ms();
          for (size_t p0 = 0; p0 < L->pixels; p0 += CHUNK) {
            const size_t px = L->pixels - p0 < CHUNK ? L->pixels - p0 : CHUNK;
            variants[v].fn(&w, px, x + p0, L->pixels, bias, y + p0, L->pixels, relu);
          }
          if (rep >= 0) samples[rep] = now_ms() - t0;
        }
        qsort(samples, (size_t)n, sizeof(double), cmp);
        const double ms = samples[n / 2];
        total[v][gi] += ms * (double)times;
        printf(" %12.4f %6.1f", ms, flop / ms * 1e-6);
      }
      printf("\n");
      free(nnz);
      free(idx);
      free(val);
    }
    free(x);
    free(y);
    free(bias);
  }
  for (size_t v = 0; v < n_variants; ++v) {
    if (!variants[v].ok) continue;
    printf("%s total ms (pw7 x5) G=1 %.3f G=2 %.3f G=4 %.3f G=8 %.3f\n", variants[v].name,
           total[v][0], total[v][1], total[v][2], total[v][3]);
  }
  return 0;
}
