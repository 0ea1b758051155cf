/* Element-wise, softmax, reduction, normalization and layout kernels (included at the
 * end of pnn_kernels.h). Scalar references; ISA variants may be added with the same
 * signatures. All arrays are contiguous f32 unless a stride says otherwise. Outputs
 * may alias an input of the same layout (every kernel reads element i before it
 * writes element i) except where noted. */
#ifndef PNN_KERNELS_ELEMENTWISE_H
#define PNN_KERNELS_ELEMENTWISE_H

#include <stddef.h>

/* ---- f32 unary (kernels_c/f32-unary/) ------------------------------------------ */
enum pnn_unary_kind {
  PNN_UNARY_RELU = 0,
  PNN_UNARY_CLIP,         /* min(max(x, alpha), beta) */
  PNN_UNARY_LEAKY_RELU,   /* x >= 0 ? x : alpha*x */
  PNN_UNARY_SIGMOID,
  PNN_UNARY_HARD_SIGMOID, /* max(0, min(1, alpha*x + beta)) */
  PNN_UNARY_HARD_SWISH,
  PNN_UNARY_TANH,
  PNN_UNARY_ERF,
  PNN_UNARY_GELU,         /* 0.5x(1 + erf(x/sqrt2)) */
  PNN_UNARY_GELU_TANH,    /* 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))) */
  PNN_UNARY_EXP,
  PNN_UNARY_SQRT,
  PNN_UNARY_ABS,
  PNN_UNARY_NEG,
  PNN_UNARY_LOG,
  PNN_UNARY_RECIPROCAL,
  PNN_UNARY_SOFTPLUS,     /* log(1 + e^x) */
  PNN_UNARY_ELU,          /* x > 0 ? x : alpha(e^x - 1) */
  PNN_UNARY_FLOOR,
  PNN_UNARY_CEIL,
  PNN_UNARY_SIGN,         /* 1, -1, or 0 for +-0 (as +0, onnxruntime's); NaN stays NaN */
  PNN_UNARY_COPY
};

typedef struct pnn_unary_params {
  int kind;    /* enum pnn_unary_kind */
  float alpha; /* see the kinds above */
  float beta;
} pnn_unary_params;

/* y[i] = f(x[i]) for i < n; y may be x. SIMD variants (f32-unary/<isa>.c) use a
 * polynomial exp/log/erf: within a few ulp of the reference (tests/c/test_kernels_unary.c
 * states each kind's bound), NaN in gives NaN out as in the reference. */
typedef void (*pnn_f32_unary_fn)(const pnn_unary_params *p, size_t n, const float *x, float *y);
void pnn_f32_unary_scalar(const pnn_unary_params *p, size_t n, const float *x, float *y);
void pnn_f32_unary_avx2(const pnn_unary_params *p, size_t n, const float *x, float *y);
void pnn_f32_unary_avx512(const pnn_unary_params *p, size_t n, const float *x, float *y);
void pnn_f32_unary_neon(const pnn_unary_params *p, size_t n, const float *x, float *y);
void pnn_f32_unary_wasmsimd(const pnn_unary_params *p, size_t n, const float *x, float *y);

/* pnn_f32_activate_scalar's vector forms: every fused activation kind in place. */
typedef void (*pnn_f32_activate_fn)(float *x, size_t n, pnn_activation act);
void pnn_f32_activate_avx2(float *x, size_t n, pnn_activation act);
void pnn_f32_activate_avx512(float *x, size_t n, pnn_activation act);
void pnn_f32_activate_neon(float *x, size_t n, pnn_activation act);
void pnn_f32_activate_wasmsimd(float *x, size_t n, pnn_activation act);

/* The best unary kernel for `cpu` (the scalar reference without SIMD), its in-place
 * activation in *activate (when not NULL) and its ISA name in *name. f32-unary/select.c */
pnn_f32_unary_fn pnn_f32_unary_select(const pnn_cpu_features *cpu, pnn_f32_activate_fn *activate,
                                      const char **name);

/* ---- f32 binary (kernels_c/f32-binary/) -----------------------------------------
 * Three shapes of operands: vector-vector, vector-scalar, scalar-vector. A longer
 * broadcast is a loop of these over rows. */
enum pnn_binary_kind {
  PNN_BINARY_ADD = 0,
  PNN_BINARY_SUB,
  PNN_BINARY_MUL,
  PNN_BINARY_DIV,
  PNN_BINARY_POW,
  PNN_BINARY_MAX,
  PNN_BINARY_MIN,
  PNN_BINARY_PRELU /* a >= 0 ? a : a*b  (a = X, b = slope) */
};

/* y[i] = a[i] op b[i] */
void pnn_f32_binary_vv_scalar(int kind, size_t n, const float *a, const float *b, float *y);
/* y[i] = a[i] op b */
void pnn_f32_binary_vs_scalar(int kind, size_t n, const float *a, float b, float *y);
/* y[i] = a op b[i] */
void pnn_f32_binary_sv_scalar(int kind, size_t n, float a, const float *b, float *y);

/* ---- f32 softmax (kernels_c/f32-softmax/) ---------------------------------------
 * x and y are [outer, axis_len, inner]; normalizes along the middle dimension:
 * y = exp(x - max) / sum exp(x - max), or (log_softmax) x - max - log(sum exp(x - max)).
 * `scratch` holds 2*inner floats and is used only when inner > 1. */
void pnn_f32_softmax_scalar(size_t outer, size_t axis_len, size_t inner, const float *x,
                            float *y, int log_softmax, float *scratch);
/* SIMD variants (f32-softmax/<isa>.c): a contiguous axis (inner == 1) in vectors with
 * the polynomial exp of pnn_vmath.h, a strided one by the reference. */
typedef void (*pnn_f32_softmax_fn)(size_t outer, size_t axis_len, size_t inner, const float *x,
                                   float *y, int log_softmax, float *scratch);
void pnn_f32_softmax_avx2(size_t outer, size_t axis_len, size_t inner, const float *x, float *y,
                          int log_softmax, float *scratch);
void pnn_f32_softmax_avx512(size_t outer, size_t axis_len, size_t inner, const float *x, float *y,
                            int log_softmax, float *scratch);
void pnn_f32_softmax_neon(size_t outer, size_t axis_len, size_t inner, const float *x, float *y,
                          int log_softmax, float *scratch);
void pnn_f32_softmax_wasmsimd(size_t outer, size_t axis_len, size_t inner, const float *x, float *y,
                              int log_softmax, float *scratch);
/* The best softmax kernel for `cpu` and its ISA name. f32-softmax/select.c */
pnn_f32_softmax_fn pnn_f32_softmax_select(const pnn_cpu_features *cpu, const char **name);

/* ---- f32 reductions (kernels_c/f32-reduce/) --------------------------------------- */
enum pnn_reduce_kind {
  PNN_REDUCE_SUM = 0, /* also the first step of a mean */
  PNN_REDUCE_MAX,
  PNN_REDUCE_MIN
};

/* The reduction's start value: 0, -inf or +inf. */
float pnn_f32_reduce_identity(int kind);
/* Returns acc op x[0] op ... op x[n-1]. */
float pnn_f32_reduce_row_scalar(int kind, size_t n, const float *x, float acc);
/* acc[i] = acc[i] op x[i] for i < n. */
void pnn_f32_reduce_accumulate_scalar(int kind, size_t n, const float *x, float *acc);

/* ---- f32 layer normalization (kernels_c/f32-layernorm/) -------------------------
 * For each of `rows` rows of n values: y = (x - mean) / sqrt(var + epsilon) * scale
 * + bias, with scale and bias (bias may be NULL) of n values shared by all rows. */
void pnn_f32_layernorm_scalar(size_t rows, size_t n, const float *x, const float *scale,
                              const float *bias, float epsilon, float *y);
typedef void (*pnn_f32_layernorm_fn)(size_t rows, size_t n, const float *x, const float *scale,
                                     const float *bias, float epsilon, float *y);
/* SIMD variants (layernorm_impl.h: float32 vector sums, within a few ulp of the
 * reference's double sums); each only on its architecture. */
void pnn_f32_layernorm_avx2(size_t rows, size_t n, const float *x, const float *scale, const float *bias,
                            float epsilon, float *y);
void pnn_f32_layernorm_avx512(size_t rows, size_t n, const float *x, const float *scale, const float *bias,
                              float epsilon, float *y);
void pnn_f32_layernorm_neon(size_t rows, size_t n, const float *x, const float *scale, const float *bias,
                            float epsilon, float *y);
void pnn_f32_layernorm_wasmsimd(size_t rows, size_t n, const float *x, const float *scale, const float *bias,
                                float epsilon, float *y);
pnn_f32_layernorm_fn pnn_f32_layernorm_select(const struct pnn_cpu_features *cpu, const char **name);

/* ---- f32 2-D transpose (kernels_c/f32-transpose/) ---------------------------------
 * y[c*ldy + r] = x[r*ldx + c] for r < rows, c < cols. y must not alias x. */
typedef void (*pnn_f32_transpose2d_fn)(size_t rows, size_t cols, const float *x, size_t ldx, float *y,
                                       size_t ldy);
void pnn_f32_transpose2d_scalar(size_t rows, size_t cols, const float *x, size_t ldx, float *y,
                                size_t ldy);
void pnn_f32_transpose2d_avx2(size_t rows, size_t cols, const float *x, size_t ldx, float *y, size_t ldy);
void pnn_f32_transpose2d_neon(size_t rows, size_t cols, const float *x, size_t ldx, float *y, size_t ldy);
void pnn_f32_transpose2d_wasmsimd(size_t rows, size_t cols, const float *x, size_t ldx, float *y, size_t ldy);
struct pnn_cpu_features;
pnn_f32_transpose2d_fn pnn_f32_transpose2d_select(const struct pnn_cpu_features *cpu, const char **name);

/* ---- f32 binary, SIMD variants (kernels_c/f32-binary/avx2.c, avx512.c) -----------
 * The three operand shapes of pnn_f32_binary_*_scalar with the activation fused:
 * y[i] = pnn_activate(a op b, act). Element for element the same result as the
 * scalar function followed by pnn_f32_activate_scalar, except that hard sigmoid and
 * hard swish round once (fused multiply-add) and sigmoid and tanh are f32-unary's vector
 * forms (a few ulp from the reference's). Pow runs the scalar code. */
typedef void (*pnn_f32_binary_vv_fn)(int kind, size_t n, const float *a, const float *b, float *y,
                                     pnn_activation act);
typedef void (*pnn_f32_binary_vs_fn)(int kind, size_t n, const float *a, float b, float *y,
                                     pnn_activation act);
typedef void (*pnn_f32_binary_sv_fn)(int kind, size_t n, float a, const float *b, float *y,
                                     pnn_activation act);
typedef struct pnn_f32_binary_simd {
  pnn_f32_binary_vv_fn vv;
  pnn_f32_binary_vs_fn vs;
  pnn_f32_binary_sv_fn sv;
} pnn_f32_binary_simd;
void pnn_f32_binary_vv_avx512(int kind, size_t n, const float *a, const float *b, float *y,
                              pnn_activation act);
void pnn_f32_binary_vs_avx512(int kind, size_t n, const float *a, float b, float *y,
                              pnn_activation act);
void pnn_f32_binary_sv_avx512(int kind, size_t n, float a, const float *b, float *y,
                              pnn_activation act);
void pnn_f32_binary_vv_avx2(int kind, size_t n, const float *a, const float *b, float *y,
                            pnn_activation act);
void pnn_f32_binary_vs_avx2(int kind, size_t n, const float *a, float b, float *y,
                            pnn_activation act);
void pnn_f32_binary_sv_avx2(int kind, size_t n, float a, const float *b, float *y,
                            pnn_activation act);
/* Fills *k with the best SIMD variant for this CPU and returns 1; returns 0 (and sets
 * *name to "scalar") when there is none: use the scalar functions then. */
int pnn_f32_binary_simd_select(const pnn_cpu_features *cpu, pnn_f32_binary_simd *k, const char **name);

#endif /* PNN_KERNELS_ELEMENTWISE_H */
