/* Compute kernels: no graph knowledge, no allocation, no I/O.
 *
 * Every kernel family has a plain C reference (`_scalar`, the ground truth) and
 * optional ISA variants (`_avx2`, `_avx512`, later `_neon`, `_wasmsimd`) picked at
 * model load by CPU feature. Files: kernels_c/<dtype>-<op>/<isa>.c. */
#ifndef PNN_KERNELS_H
#define PNN_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* PNN_TARGET_BEGIN("avx2,fma") ... PNN_TARGET_END(): compiles the functions between
 * them for that instruction set (GCC and clang target lists), whatever the file's
 * -m flags, so one build holds every x86 variant and picks one at load. */
#define PNN_PRAGMA(...) _Pragma(#__VA_ARGS__)
#if defined(__clang__)
#define PNN_TARGET_BEGIN(isa) PNN_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define PNN_TARGET_END() PNN_PRAGMA(clang attribute pop)
#elif defined(__GNUC__)
#define PNN_TARGET_BEGIN(isa) PNN_PRAGMA(GCC push_options) PNN_PRAGMA(GCC target(isa))
#define PNN_TARGET_END() PNN_PRAGMA(GCC pop_options)
#else
#define PNN_TARGET_BEGIN(isa)
#define PNN_TARGET_END()
#endif

typedef struct pnn_cpu_features {
  int avx2_fma;     /* AVX2 + FMA usable (CPU and OS) */
  int avx512f;      /* AVX-512 F usable (CPU and OS) */
  int avx512bw;     /* AVX-512 BW (+VL) usable: byte/word ops on zmm; implies avx512f */
  int avx512vnni;   /* AVX-512 VNNI (vpdpbusd on zmm); implies avx512bw */
  int avxvnni;      /* AVX-VNNI (VEX vpdpbusd on ymm); implies avx2_fma */
  int neon_dotprod; /* aarch64 sdot/udot (ARMv8.2 dotprod) */
  int avx512vpopcntdq; /* AVX-512 VPOPCNTDQ (vpopcntq on zmm); implies avx512bw */
} pnn_cpu_features;

/* Fills `f` from CPUID (zeros on other architectures). kernels_c/cpu.c */
void pnn_cpu_detect(pnn_cpu_features *f);

enum pnn_cpu_cap_result { PNN_CPU_CAP_OK = 0, PNN_CPU_CAP_UNKNOWN = 1, PNN_CPU_CAP_UNAVAILABLE = 2 };
/* Clears the features above an instruction-set name ("scalar", "avx2", "avx512",
 * "neon"; "" keeps everything), so kernel selection takes that path on a more capable
 * CPU. UNKNOWN: not a name on this architecture; UNAVAILABLE: the CPU lacks it. */
enum pnn_cpu_cap_result pnn_cpu_cap(pnn_cpu_features *f, const char *isa);
/* The name of the best kernel path the features allow (pnn_runtime_isa's answer). */
const char *pnn_cpu_best_isa(const pnn_cpu_features *f);

/* Fused activation, codes as in docs/OPS.md. */
enum pnn_act_kind {
  PNN_ACT_NONE = 0,
  PNN_ACT_RELU = 1,
  PNN_ACT_CLIP = 2,
  PNN_ACT_LEAKY_RELU = 3,
  PNN_ACT_SIGMOID = 4,
  PNN_ACT_HARD_SIGMOID = 5,
  PNN_ACT_HARD_SWISH = 6,
  PNN_ACT_TANH = 7,
  PNN_ACT_SWISH = 8, /* x sigmoid(x), also called SiLU */
  PNN_ACT_COUNT      /* one past the last code */
};

typedef struct pnn_activation {
  int kind;
  float alpha;
  float beta;
} pnn_activation;

/* max(x, 0) that keeps NaN (onnxruntime's Relu does) and maps -0 to +0. */
static inline float pnn_relu(float x) { return x > 0.0f || x != x ? x : 0.0f; }

/* The larger of a running maximum and a new value, NaN winning from either side (so a
 * max over a window is NaN when any element is, whatever their order). */
static inline float pnn_max_nan(float best, float v) {
  const float larger = v > best ? v : best; /* keeps best's NaN; one MAXSS / FMAX */
  return v != v ? v : larger;               /* a select, not a branch */
}
static inline float pnn_min_nan(float best, float v) {
  const float smaller = v < best ? v : best;
  return v != v ? v : smaller;
}

/* NaN in, NaN out for every kind (docs/OPS.md, "NaN and infinities"). */
static inline float pnn_activate(float x, pnn_activation a) {
  switch (a.kind) {
    case PNN_ACT_RELU: return pnn_relu(x);
    case PNN_ACT_CLIP: return x < a.alpha ? a.alpha : (x > a.beta ? a.beta : x);
    case PNN_ACT_LEAKY_RELU: return x >= 0.0f ? x : a.alpha * x;
    case PNN_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case PNN_ACT_HARD_SIGMOID: {
      float y = a.alpha * x + a.beta;
      return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
    }
    case PNN_ACT_HARD_SWISH: {
      float y = x * (1.0f / 6.0f) + 0.5f;
      y = y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
      return x * y;
    }
    case PNN_ACT_TANH: return tanhf(x);
    case PNN_ACT_SWISH: { /* x sigmoid(x), from e^-|x| <= 1 so that no step overflows */
      const float e = expf(-fabsf(x));
      return x * (x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e));
    }
    default: return x;
  }
}

/* SIMD kernels vectorize the piecewise-linear activations at their store; sigmoid,
 * tanh and swish have no vector form there and get a pass after the store: with
 * pnn_activate, or in vectors with pnn_f32_activate_<isa> (f32-unary/). */
static inline int pnn_act_needs_scalar_pass(int kind) {
  return kind == PNN_ACT_SIGMOID || kind == PNN_ACT_TANH || kind == PNN_ACT_SWISH;
}

/* One output of a K-blocked GEMV: the bias seeds the first block, later blocks add
 * to what the earlier ones stored, the last block applies the activation (either
 * bias pointer may be NULL; col_bias points at the single column's bias). Shared by
 * the SIMD GEMM variants' N == 1 paths. */
static inline void pnn_gemv_store(float *out, float sum, int first_block, int last_block,
                                  const float *row_bias, const float *col_bias,
                                  pnn_activation act) {
  float v = sum;
  if (first_block) {
    if (row_bias) v += *row_bias;
    if (col_bias) v += *col_bias;
  } else {
    v += *out;
  }
  *out = last_block ? pnn_activate(v, act) : v;
}

/* Applies `act` to n floats in place (scalar reference; SIMD kernels fuse it). */
void pnn_f32_activate_scalar(float *x, size_t n, pnn_activation act);

/* ---- f32 GEMM (kernels_c/f32-gemm/) -------------------------------------------
 * C[m*ldc + n] = act( sum_k A[m*lda + k] * B[k*ldb + n] + row_bias[m] + col_bias[n] )
 * for m < M, n < N. Either bias may be NULL. K may be 0 (result is bias only).
 * Row-major, unit stride along k for A and along n for B and C. */
typedef void (*pnn_f32_gemm_fn)(size_t M, size_t N, size_t K, const float *A, size_t lda,
                                const float *B, size_t ldb, float *C, size_t ldc,
                                const float *row_bias, const float *col_bias,
                                pnn_activation act);
void pnn_f32_gemm_scalar(size_t M, size_t N, size_t K, const float *A, size_t lda,
                         const float *B, size_t ldb, float *C, size_t ldc,
                         const float *row_bias, const float *col_bias, pnn_activation act);
void pnn_f32_gemm_avx2(size_t M, size_t N, size_t K, const float *A, size_t lda,
                       const float *B, size_t ldb, float *C, size_t ldc,
                       const float *row_bias, const float *col_bias, pnn_activation act);
void pnn_f32_gemm_avx512(size_t M, size_t N, size_t K, const float *A, size_t lda,
                         const float *B, size_t ldb, float *C, size_t ldc,
                         const float *row_bias, const float *col_bias, pnn_activation act);
void pnn_f32_gemm_neon(size_t M, size_t N, size_t K, const float *A, size_t lda,
                       const float *B, size_t ldb, float *C, size_t ldc,
                       const float *row_bias, const float *col_bias, pnn_activation act);
void pnn_f32_gemm_wasmsimd(size_t M, size_t N, size_t K, const float *A, size_t lda,
                           const float *B, size_t ldb, float *C, size_t ldc,
                           const float *row_bias, const float *col_bias, pnn_activation act);
/* Best variant for this CPU; *name is set to "scalar", "avx2", "avx512", "neon" or
 * "wasmsimd". */
pnn_f32_gemm_fn pnn_f32_gemm_select(const pnn_cpu_features *cpu, const char **name);

/* ---- f32 im2col (kernels_c/f32-im2col/) ----------------------------------------
 * cols[(c*kh*kw + i*kw + j) * (OH*OW) + oy*OW + ox] =
 *   x[c][oy*sh - pt + i*dh][ox*sw - pl + j*dw]   (0 outside the image) */
typedef struct pnn_conv2d_geometry {
  size_t channels;  /* input channels of the group */
  size_t in_h, in_w, out_h, out_w;
  size_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  size_t pad_top, pad_left;
} pnn_conv2d_geometry;
void pnn_f32_im2col_scalar(const pnn_conv2d_geometry *g, const float *x, float *cols);

/* ---- f32 depthwise convolution (kernels_c/f32-dwconv/) -------------------------
 * One filter per channel (g->channels channels, multiplier 1):
 * y[c][oy][ox] = act(bias[c] + sum_ij w[c][i][j] * x[c][oy*sh-pt+i*dh][ox*sw-pl+j*dw]) */
typedef void (*pnn_f32_dwconv_fn)(const pnn_conv2d_geometry *g, const float *x, const float *w,
                                  const float *bias, float *y, pnn_activation act);
void pnn_f32_dwconv_scalar(const pnn_conv2d_geometry *g, const float *x, const float *w,
                           const float *bias, float *y, pnn_activation act);
void pnn_f32_dwconv_avx2(const pnn_conv2d_geometry *g, const float *x, const float *w,
                         const float *bias, float *y, pnn_activation act);
void pnn_f32_dwconv_avx512(const pnn_conv2d_geometry *g, const float *x, const float *w,
                           const float *bias, float *y, pnn_activation act);
void pnn_f32_dwconv_neon(const pnn_conv2d_geometry *g, const float *x, const float *w,
                         const float *bias, float *y, pnn_activation act);
void pnn_f32_dwconv_wasmsimd(const pnn_conv2d_geometry *g, const float *x, const float *w,
                             const float *bias, float *y, pnn_activation act);
pnn_f32_dwconv_fn pnn_f32_dwconv_select(const pnn_cpu_features *cpu, const char **name);

/* ---- f32 local response normalization (kernels_c/f32-lrn/) ---------------------
 * One image [channels, pixels]; ONNX LRN across channels. */
void pnn_f32_lrn_scalar(const float *x, float *y, size_t channels, size_t pixels, size_t size,
                        float alpha, float beta, float bias);

#include "pnn_kernels_nn.h"
#include "pnn_kernels_elementwise.h"
#include "pnn_kernels_sparse.h"
#include "pnn_kernels_s8.h"
#include "pnn_kernels_b1.h"

#endif /* PNN_KERNELS_H */
