/* ResNet-18's int8 3x3 stride-1 layers alone: the exact integer Winograd F(2x2, 3x3)
 * (AVX2) against the s8 GEMM on the unfolded image (AVX2, and AVX-512 VNNI where the
 * CPU has it), best of N thread-CPU-time runs of one whole layer in one thread. The
 * GEMM's time leaves out the unfold (qconv adds it, ~11% of a layer); Winograd's
 * includes its input transform. Chunks as qconv makes them (about 512 KiB of V).
 *   cc -O3 -Ikernels_c/include bench/avx2_host/bench_s8_winograd.c kernels_c/cpu.c \
 *      kernels_c/s8-winograd/{scalar,avx2,select}.c \
 *      kernels_c/s8-gemm/{scalar,avx2,avx512vnni,avxvnni,avx2_s4,neon,neondot,wasmsimd}.c -lm -o /tmp/bench_s8_winograd
 *   /tmp/bench_s8_winograd [runs] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pnn_kernels.h"

typedef struct layer {
  size_t c, hw;
} layer;

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *aligned(size_t bytes) {
  void *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
  if (!p) exit(2);
  memset(p, 0, (bytes + 63) / 64 * 64 + 64);
  return p;
}

/* im2col of a pads-1 3x3 layer (rows c*9 + i*3 + j of hw*hw columns). */
static void unfold(size_t C, size_t hw, const uint8_t *x, uint8_t zp, uint8_t *cols) {
  const size_t n = hw * hw;
  for (size_t c = 0; c < C; ++c)
    for (size_t i = 0; i < 3; ++i)
      for (size_t j = 0; j < 3; ++j)
        for (size_t p = 0; p < n; ++p) {
          const size_t iy = p / hw + i - 1, ix = p % hw + j - 1;
          cols[((c * 3 + i) * 3 + j) * n + p] = iy < hw && ix < hw ? x[(c * hw + iy) * hw + ix] : zp;
        }
}

static double gemm_seconds(const pnn_s8_gemm_kernel *k, size_t M, size_t N, size_t K, const int8_t *w,
                           const uint8_t *cols, const int32_t *bias, const pnn_requant *rq, uint8_t *y, int runs) {
  void *packed = aligned(k->pack_size(M, K)), *scratch = aligned(k->scratch_size(N, K));
  k->pack(M, K, w, packed);
  double best = 1e9;
  for (int r = 0; r < runs; ++r) {
    const double t0 = cpu_seconds();
    k->run(M, N, K, 0, M, packed, cols, N, bias, rq, y, N, scratch);
    const double t = cpu_seconds() - t0;
    if (t < best) best = t;
  }
  free(packed);
  free(scratch);
  return best;
}

static double wino_seconds(const pnn_s8_wino2_kernel *k, const pnn_conv2d_geometry *g, size_t M, const int8_t *w,
                           const uint8_t *x, const int32_t *bias, const pnn_requant *rq, uint8_t *y, int runs) {
  const size_t C = g->channels, tiles = ((g->out_h + 1) / 2) * ((g->out_w + 1) / 2);
  size_t chunk = 512 * 1024 / (16 * 4 * ((C + 1) / 2));
  chunk = chunk < k->tile_block ? k->tile_block : chunk - chunk % k->tile_block;
  if (chunk > tiles) chunk = tiles;
  const size_t chunks = (tiles + chunk - 1) / chunk;
  void *packed = aligned(pnn_s8_wino2_pack_size(M, C)), *scratch = aligned(k->scratch_size(C, chunk + 24));
  pnn_s8_wino2_pack(M, C, w, packed);
  double best = 1e9;
  for (int r = 0; r < runs; ++r) {
    const double t0 = cpu_seconds();
    for (size_t cc = 0; cc < chunks; ++cc) {
      const size_t a = (cc * tiles / chunks + 23) / 24 * 24, b = cc + 1 == chunks ? tiles : ((cc + 1) * tiles / chunks + 23) / 24 * 24;
      k->run(g, M, x, 3, a, b - a, 0, M, packed, bias, rq, y, scratch);
    }
    const double t = cpu_seconds() - t0;
    if (t < best) best = t;
  }
  free(packed);
  free(scratch);
  return best;
}

int main(int argc, char **argv) {
  static const layer layers[] = {{64, 56}, {128, 28}, {256, 14}, {512, 7}};
  const int runs = argc > 1 ? atoi(argv[1]) : 30;
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  printf("layer (C = M, H = W)  GEMM avx2 ms%s  winograd avx2 ms  MAC-equivalent GMAC/s\n",
         cpu.avx512vnni ? "  GEMM avx512vnni ms" : "");
  for (size_t i = 0; i < sizeof layers / sizeof layers[0]; ++i) {
    const size_t C = layers[i].c, M = C, hw = layers[i].hw, N = hw * hw, K = 9 * C;
    const pnn_conv2d_geometry g = {C, hw, hw, hw, hw, 3, 3, 1, 1, 1, 1, 1, 1};
    uint8_t *x = aligned(C * N), *cols = aligned(K * N), *y = aligned(M * N);
    int8_t *w = aligned(M * K);
    int32_t *bias = aligned(M * 4), *mult = aligned(M * 4), *shift = aligned(M * 4);
    for (size_t j = 0; j < C * N; ++j) x[j] = (uint8_t)(rand() & 255);
    for (size_t j = 0; j < M * K; ++j) w[j] = (int8_t)(rand() % 255 - 127);
    for (size_t m = 0; m < M; ++m) {
      mult[m] = 1 << 30;
      shift[m] = 40;
    }
    const pnn_requant rq = {mult, shift, 0, 0, 255};
    unfold(C, hw, x, 3, cols);
    const double gemm = gemm_seconds(&pnn_s8_gemm_avx2, M, N, K, w, cols, bias, &rq, y, runs);
    const double vnni =
        cpu.avx512vnni ? gemm_seconds(&pnn_s8_gemm_avx512vnni, M, N, K, w, cols, bias, &rq, y, runs) : 0.0;
    const double wino = wino_seconds(&pnn_s8_wino2_avx2, &g, M, w, x, bias, &rq, y, runs);
    printf("%4zu x %3zu x %3zu        %8.3f", C, hw, hw, 1e3 * gemm);
    if (cpu.avx512vnni) printf("  %18.3f", 1e3 * vnni);
    printf("  %16.3f  %8.1f vs %.1f\n", 1e3 * wino, 1e-9 * (double)(M * N * K) / wino,
           1e-9 * (double)(M * N * K) / gemm);
    free(x), free(cols), free(y), free(w), free(bias), free(mult), free(shift);
  }
  return 0;
}
