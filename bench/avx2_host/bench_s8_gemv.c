/* The s8-gemv kernels alone on ddddocr's LSTM shapes: one step (1 row of x against R,
 * 2048 x 512) and the input projection (20 rows against W), two weight copies
 * alternating so the weights stream from L3 as the layer's two directions do. Median of
 * N thread-CPU-time runs, 1 thread; the AVX2 variant is checked against the scalar one.
 *   cc -O3 -Ikernels_c/include bench/avx2_host/bench_s8_gemv.c kernels_c/cpu.c \
 *      kernels_c/s8-gemv/{scalar,avx2,avx512vnni,select}.c -lm -o /tmp/bench_s8_gemv
 *   /tmp/bench_s8_gemv [runs] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pnn_kernels.h"

enum { N = 2048, K = 512, COPIES = 2 };

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void *aligned(size_t bytes) {
  void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) exit(2);
  return p;
}

/* Median microseconds of one run over `rows` rows of x, copies alternating. */
static double time_rows(const pnn_s8_gemv_kernel *k, void *const *packed, size_t rows, const uint8_t *x,
                        int32_t *y, int runs) {
  double *t = malloc(sizeof(double) * (size_t)runs);
  if (!t) exit(2);
  for (int r = 0; r < runs; ++r) {
    const double t0 = cpu_seconds();
    k->run(N, K, packed[r % COPIES], rows, x, K, y, N);
    t[r] = (cpu_seconds() - t0) * 1e6;
  }
  qsort(t, (size_t)runs, sizeof(double), by_value);
  const double median = t[runs / 2];
  free(t);
  return median;
}

int main(int argc, char **argv) {
  const int runs = argc > 1 ? atoi(argv[1]) : 401;
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  int8_t *w = aligned(N * K);
  uint8_t *x = aligned(20 * K);
  int32_t *y = aligned(sizeof(int32_t) * 20 * N), *ref = aligned(sizeof(int32_t) * 20 * N);
  unsigned s = 12345;
  for (size_t i = 0; i < (size_t)N * K; ++i) w[i] = (int8_t)((s = s * 1103515245u + 12345u) >> 16 & 255);
  for (size_t i = 0; i < 20 * K; ++i) x[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 16 & 255);
  pnn_s8_gemv_scalar.run(N, K, w, 20, x, K, ref, N);
  const pnn_s8_gemv_kernel *kernels[] = {&pnn_s8_gemv_avx2, &pnn_s8_gemv_avx512vnni};
  for (size_t v = 0; v < 2; ++v) {
    const pnn_s8_gemv_kernel *k = kernels[v];
    if ((v == 0 && !cpu.avx2_fma) || (v == 1 && !cpu.avx512vnni)) {
      printf("%-11s SKIPPED\n", k->name);
      continue;
    }
    void *packed[COPIES];
    for (size_t c = 0; c < COPIES; ++c) {
      packed[c] = aligned(k->pack_size(N, K));
      k->pack(N, K, w, packed[c]);
    }
    k->run(N, K, packed[0], 20, x, K, y, N);
    if (memcmp(y, ref, sizeof(int32_t) * 20 * N) != 0) {
      printf("%s differs from the scalar reference\n", k->name);
      return 1;
    }
    const double one = time_rows(k, packed, 1, x, y, runs), twenty = time_rows(k, packed, 20, x, y, runs);
    printf("%-11s 1 row %6.1f us   20 rows %6.1f us\n", k->name, one, twenty);
    for (size_t c = 0; c < COPIES; ++c) free(packed[c]);
  }
  free(w);
  free(x);
  free(y);
  free(ref);
  return 0;
}
