/* The f32 depthwise 3x3 layers of MobileNet V1/V2 alone (NCHW, pads 1, ReLU6): GFLOP/s
 * of each x86 variant, best of N thread-CPU-time runs, to hold against the FMA peak
 * that fma_peak.c measures (2 FLOPs per multiply-add, 9 per output).
 *   cc -O3 -Ikernels_c/include bench/avx2_host/bench_dwconv.c kernels_c/cpu.c \
 *      kernels_c/f32-dwconv/avx2.c kernels_c/f32-dwconv/avx512.c -lm -o /tmp/bench_dwconv
 *   /tmp/bench_dwconv [runs] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pnn_kernels.h"

typedef struct layer {
  size_t c, hw, stride;
} layer;

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double best_seconds(pnn_f32_dwconv_fn fn, const pnn_conv2d_geometry *g, const float *x, const float *w,
                           const float *b, float *y, int runs) {
  const pnn_activation relu6 = {PNN_ACT_CLIP, 0.0f, 6.0f};
  double best = 1e9;
  for (int r = 0; r < runs; ++r) {
    const double t0 = cpu_seconds();
    fn(g, x, w, b, y, relu6);
    const double t = cpu_seconds() - t0;
    if (t < best) best = t;
  }
  return best;
}

int main(int argc, char **argv) {
  static const layer layers[] = {{32, 112, 1},  {64, 112, 2},  {96, 112, 2},  {128, 56, 1}, {144, 56, 1},
                                 {128, 56, 2},  {144, 56, 2},  {256, 28, 1},  {192, 28, 1}, {256, 28, 2},
                                 {192, 28, 2},  {512, 14, 1},  {384, 14, 1},  {576, 14, 1}, {512, 14, 2},
                                 {576, 14, 2},  {1024, 7, 1},  {960, 7, 1}};
  const int runs = argc > 1 ? atoi(argv[1]) : 30;
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  printf("layer (C x H x W, stride)   avx2 GF/s%s\n", cpu.avx512f ? "  avx512 GF/s" : "");
  for (size_t i = 0; i < sizeof layers / sizeof layers[0]; ++i) {
    const layer *l = &layers[i];
    pnn_conv2d_geometry g = {l->c, l->hw, l->hw, 0, 0, 3, 3, l->stride, l->stride, 1, 1, 1, 1};
    g.out_h = g.out_w = (l->hw - 1) / l->stride + 1; /* pads 1 all round */
    float *x = malloc(sizeof(float) * l->c * l->hw * l->hw), *y = malloc(sizeof(float) * l->c * g.out_h * g.out_w);
    float *w = malloc(sizeof(float) * l->c * 9), *b = malloc(sizeof(float) * l->c);
    for (size_t k = 0; k < l->c * l->hw * l->hw; ++k) x[k] = (float)(k % 17) * 0.1f - 0.8f;
    for (size_t k = 0; k < l->c * 9; ++k) w[k] = (float)(k % 7) * 0.05f - 0.15f;
    for (size_t k = 0; k < l->c; ++k) b[k] = 0.01f * (float)k;
    const double flops = 18.0 * (double)(l->c * g.out_h * g.out_w);
    printf("%4zu x %3zu x %3zu s%zu   %8.1f", l->c, l->hw, l->hw, l->stride,
           flops / best_seconds(pnn_f32_dwconv_avx2, &g, x, w, b, y, runs) * 1e-9);
    if (cpu.avx512f) printf("  %8.1f", flops / best_seconds(pnn_f32_dwconv_avx512, &g, x, w, b, y, runs) * 1e-9);
    printf("\n");
    free(x);
    free(y);
    free(w);
    free(b);
  }
  return 0;
}
