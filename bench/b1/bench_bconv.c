/* Timing harness of the binary convolution kernels, loaded by bench_bconv.py (ctypes)
 * so that onnxruntime's fp32 Conv and each variant run interleaved in one process.
 * One context holds a random layer (C -> M channels, 3x3, stride 1, zero padding 1,
 * H x W), its packed weights, packed and float input, output and scratch. */
#define _POSIX_C_SOURCE 199309L /* clock_gettime, CLOCK_THREAD_CPUTIME_ID */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* NCHW float output of `pixels` pixels a channel, unclamped. */
static pnn_b1_output float_output(float *y, size_t pixels, const float *multiplier, const float *bias) {
  pnn_b1_output out;
  memset(&out, 0, sizeof out);
  out.y = y;
  out.y_stride_m = pixels;
  out.y_stride_n = 1;
  out.multiplier = multiplier;
  out.bias = bias;
  out.lo = -1e30f;
  out.hi = 1e30f;
  return out;
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
    b->out = float_output(b->y, P, b->multiplier, b->bias);
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

/* ---- tree-delta (MST) against the plain kernel on given weights (bench_mst.py) ----------
 * The caller (numpy) owns the packed weights, tap_pop, packed input and plan arrays and
 * keeps them alive; the context holds the float output, the transform and scratch. */
typedef struct mst_bench {
  const pnn_b1_gemm_kernel *kernel;
  pnn_conv2d_geometry g;
  size_t M;
  const uint64_t *wp, *xp;
  const int32_t *tap_pop;
  pnn_b1_mst_plan plan;
  float *y, *multiplier, *bias;
  void *scratch;
  pnn_b1_output out;
} mst_bench;

void mst_bench_free(mst_bench *b) {
  if (!b) return;
  free(b->y), free(b->multiplier), free(b->bias), free(b->scratch);
  free(b);
}

/* A k x k convolution (stride 1, zero padding pad) of C -> M channels over H x W; NULL
 * when the variant is unknown or unusable here, or the plan fails pnn_b1_mst_plan_check. */
mst_bench *mst_bench_create(const char *variant, size_t C, size_t H, size_t W, size_t M, size_t k, size_t pad,
                            const uint64_t *wp, const int32_t *tap_pop, const uint64_t *xp, size_t roots,
                            const uint32_t *order, const uint32_t *parent, const int32_t *delta_bits,
                            const uint32_t *delta_begin, const uint32_t *delta_word, const uint64_t *delta_mask,
                            size_t delta_count) {
  const pnn_b1_gemm_kernel *kernel = find_variant(variant);
  if (!kernel) return NULL;
  mst_bench *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->kernel = kernel;
  b->g = (pnn_conv2d_geometry){C, H, W, H + 2 * pad - k + 1, W + 2 * pad - k + 1, k, k, 1, 1, 1, 1, pad, pad};
  b->M = M;
  b->wp = wp, b->xp = xp, b->tap_pop = tap_pop;
  b->plan = (pnn_b1_mst_plan){roots, order, parent, delta_bits, delta_begin, delta_word, delta_mask};
  const size_t P = b->g.out_h * b->g.out_w;
  const size_t plain = kernel->conv_scratch_size(&b->g), tree = kernel->mst_conv_scratch_size(&b->g, M);
  b->y = alloc64(M * P * sizeof(float));
  b->multiplier = alloc64(M * sizeof(float));
  b->bias = alloc64(M * sizeof(float));
  b->scratch = alloc64(plain > tree ? plain : tree);
  if (!b->y || !b->multiplier || !b->bias || !b->scratch ||
      pnn_b1_mst_plan_check(M, k * k * pnn_b1_words(C), wp, &b->plan, delta_count) != 0) {
    mst_bench_free(b);
    return NULL;
  }
  for (size_t m = 0; m < M; ++m) b->multiplier[m] = 1.0f, b->bias[m] = 0.0f;
  b->out = float_output(b->y, P, b->multiplier, b->bias);
  return b;
}

/* This thread's CPU time in ms: on a shared, oversubscribed host the time a thread waits
 * for a core is not the kernel's. */
static double thread_cpu_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* One convolution, plain (tree = 0) or tree-delta; its thread CPU time in ms. */
double mst_bench_run(mst_bench *b, int tree) {
  const size_t ldx = pnn_b1_words(b->g.channels);
  const double start = thread_cpu_ms();
  if (tree) {
    b->kernel->mst_conv(&b->g, PNN_B1_PAD_ZERO, b->M, b->wp, b->tap_pop, &b->plan, b->xp, ldx, &b->out, b->scratch);
  } else {
    b->kernel->conv(&b->g, PNN_B1_PAD_ZERO, b->M, 0, b->M, b->wp, b->tap_pop, b->xp, ldx, &b->out, b->scratch);
  }
  return thread_cpu_ms() - start;
}

/* The last run's output (M x pixels dots), to compare the two paths. */
const float *mst_bench_output(const mst_bench *b) { return b->y; }
