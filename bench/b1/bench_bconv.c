/* Timing harness of the binary convolution kernels, loaded by bench_bconv.py (ctypes)
 * so that onnxruntime's fp32 Conv and each variant run interleaved in one process.
 * One context holds a random layer (C -> M channels, 3x3, stride 1, zero padding 1,
 * H x W), its packed weights, packed and float input, output and scratch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pnn_kernels.h"

typedef struct bench {
  const pnn_b1_gemm_kernel *kernel;
  pnn_conv2d_geometry g;
  size_t M;
  float *x, *w, *multiplier, *bias, *y;
  uint64_t *xp, *wp, *bits, *negate;
  int32_t *tap_pop, *threshold;
  void *scratch;
  pnn_b1_output out;
} bench;

static const pnn_b1_gemm_kernel *find_variant(const char *name) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  if (strcmp(name, "scalar") == 0) return &pnn_b1_gemm_scalar;
#if defined(__x86_64__)
  if (strcmp(name, "avx2") == 0 && cpu.avx2_fma) return &pnn_b1_gemm_avx2;
  if (strcmp(name, "avx512bw") == 0 && cpu.avx512bw) return &pnn_b1_gemm_avx512bw;
  if (strcmp(name, "avx512vpopcnt") == 0 && cpu.avx512vpopcntdq) return &pnn_b1_gemm_avx512vpopcnt;
#endif
  if (strcmp(name, "best") == 0) return pnn_b1_gemm_select(&cpu);
  return NULL;
}

static void *alloc64(size_t bytes) {
  void *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
  if (p) memset(p, 0, (bytes + 63) / 64 * 64 + 64);
  return p;
}

void bconv_bench_free(bench *b) {
  if (!b) return;
  free(b->x), free(b->w), free(b->multiplier), free(b->bias), free(b->y);
  free(b->xp), free(b->wp), free(b->bits), free(b->negate), free(b->tap_pop), free(b->threshold);
  free(b->scratch);
  free(b);
}

/* NULL when the variant is unknown or this CPU cannot run it. */
bench *bconv_bench_create(const char *variant, size_t C, size_t H, size_t W, size_t M, int bits_out) {
  const pnn_b1_gemm_kernel *kernel = find_variant(variant);
  if (!kernel) return NULL;
  bench *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->kernel = kernel;
  b->g = (pnn_conv2d_geometry){C, H, W, H, W, 3, 3, 1, 1, 1, 1, 1, 1};
  b->M = M;
  const size_t P = H * W, cw = pnn_b1_words(C), mw = pnn_b1_words(M);
  b->x = alloc64(C * P * sizeof(float));
  b->w = alloc64(M * C * 9 * sizeof(float));
  b->multiplier = alloc64(M * sizeof(float));
  b->bias = alloc64(M * sizeof(float));
  b->y = alloc64(M * P * sizeof(float));
  b->xp = alloc64(P * cw * sizeof(uint64_t));
  b->wp = alloc64(M * 9 * cw * sizeof(uint64_t));
  b->bits = alloc64(P * mw * sizeof(uint64_t));
  b->negate = alloc64(mw * sizeof(uint64_t));
  b->tap_pop = alloc64(M * 9 * sizeof(int32_t));
  b->threshold = alloc64(M * sizeof(int32_t));
  b->scratch = alloc64(kernel->conv_scratch_size(&b->g));
  if (!b->x || !b->w || !b->multiplier || !b->bias || !b->y || !b->xp || !b->wp || !b->bits || !b->negate ||
      !b->tap_pop || !b->threshold || !b->scratch) {
    bconv_bench_free(b);
    return NULL;
  }
  uint64_t s = 12345;
  for (size_t i = 0; i < C * P; ++i) b->x[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) - 8388608.0f;
  for (size_t i = 0; i < M * C * 9; ++i) b->w[i] = (float)((s = s * 6364136223846793005ull + 1) >> 40) - 8388608.0f;
  for (size_t m = 0; m < M; ++m) b->multiplier[m] = 0.01f, b->bias[m] = 0.5f, b->threshold[m] = 0;
  pnn_b1_pack_scalar(C, P, b->x, P, 1, b->xp, cw);
  pnn_b1_pack_conv_weights(M, C, 3, 3, b->w, b->wp, b->tap_pop);
  if (bits_out) {
    b->out.bits = b->bits;
    b->out.ld_bits = mw;
    b->out.threshold = b->threshold;
    b->out.negate = b->negate;
  } else {
    b->out.y = b->y;
    b->out.y_stride_m = P;
    b->out.y_stride_n = 1;
    b->out.multiplier = b->multiplier;
    b->out.bias = b->bias;
    b->out.lo = -1e30f;
    b->out.hi = 1e30f;
  }
  return b;
}

const char *bconv_bench_name(const bench *b) { return b->kernel->name; }

/* One convolution from bit-packed input. */
void bconv_bench_run(bench *b) {
  b->kernel->conv(&b->g, PNN_B1_PAD_ZERO, b->M, 0, b->M, b->wp, b->tap_pop, b->xp, pnn_b1_words(b->g.channels),
                  &b->out, b->scratch);
}

/* Packing the float NCHW input to bits (what a float layer before a binary one costs),
 * with the reference (best = 0) or the pack pnn_b1_pack_select picks. */
void bconv_bench_pack(bench *b, int best) {
  pnn_cpu_features cpu;
  pnn_cpu_detect(&cpu);
  const pnn_b1_pack_fn pack = best ? pnn_b1_pack_select(&cpu) : pnn_b1_pack_scalar;
  const size_t P = b->g.in_h * b->g.in_w;
  pack(b->g.channels, P, b->x, P, 1, b->xp, pnn_b1_words(b->g.channels));
}
