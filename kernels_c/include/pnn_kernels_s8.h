/* Integer-only kernels (HAWQ-V3 style): u8 activations with a zero point, s8
 * per-output-channel symmetric weights (int8 in [-127, 127] or int4 in [-7, 7]),
 * int32 accumulation, dyadic requantization. The arithmetic is fixed in
 * docs/QUANTIZATION.md and mirrored bit for bit by pocketnn.quantization.arith;
 * every variant matches the scalar reference exactly. */
#ifndef PNN_KERNELS_S8_H
#define PNN_KERNELS_S8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Smallest and largest shift of a dyadic multiplier (docs/QUANTIZATION.md). */
enum { PNN_REQUANT_MIN_SHIFT = 1, PNN_REQUANT_MAX_SHIFT = 62 };

/* The one rounding rule: round(acc * multiplier / 2^shift), ties toward +infinity,
 * then add the zero point and clamp to [lo, hi]. multiplier in [0, 2^31 - 1], shift in
 * [PNN_REQUANT_MIN_SHIFT, PNN_REQUANT_MAX_SHIFT]: the product and the rounding term
 * fit in int64. Right shift of a negative int64 is arithmetic on every compiler
 * pocketnn supports (GCC, Clang, MSVC, emscripten). */
static inline int64_t pnn_rounding_shift(int64_t v, int32_t shift) {
  return (v + ((int64_t)1 << (shift - 1))) >> shift; /* |v| < 2^62 */
}

static inline int32_t pnn_requantize(int64_t acc, int32_t multiplier, int32_t shift,
                                     int32_t zero_point, int32_t lo, int32_t hi) {
  int64_t v = pnn_rounding_shift(acc * multiplier, shift) + zero_point; /* |acc| < 2^31 */
  return (int32_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* Clamp bound for the accumulator of a vector requantization that keeps only the low
 * 32 bits of round(acc * M / 2^shift) (the u8 depthwise kernels, the AVX2 GEMM tiles).
 * With L the bit length of the multiplier M and e = 9 - L + shift, B = 2^e (at least 1,
 * at most INT32_MAX). Then
 *  - |acc| >= B gives |acc * M / 2^shift| >= 2^(e + L - 1 - shift) = 256 (for B = 1:
 *    M / 2^shift >= 256 directly), so q = round(acc * M / 2^shift) is >= 256 or
 *    <= -256 and the output is hi or lo whatever the zero point: clamping acc to
 *    [-B, B] changes no output;
 *  - |acc| <= B keeps |q| <= 2^max(9, L - shift) + 1 <= 2^30 + 1 (and B = INT32_MAX
 *    only when L - shift <= -22), so q + zero_point fits in int32. */
static inline int32_t pnn_requant_acc_bound(int32_t multiplier, int32_t shift) {
  int bits = 0; /* of the multiplier; a clz where there is one (it runs per tile row) */
#if defined(__GNUC__)
  bits = multiplier > 0 ? 32 - __builtin_clz((unsigned)multiplier) : 0;
#else
  for (uint32_t m = (uint32_t)multiplier; m != 0; m >>= 1) ++bits;
#endif
  const int e = 9 - bits + shift;
  if (e <= 0) return 1;
  if (e >= 31) return INT32_MAX;
  return (int32_t)1 << e;
}

/* Per-output-channel requantization of one layer (arrays of length M / channels). The
 * clamp bounds carry a fused ReLU/Clip: lo = max(0, quantized 0), hi = 255 or the
 * quantized clip bound. */
typedef struct pnn_requant {
  const int32_t *multiplier;
  const int32_t *shift;
  int32_t zero_point; /* of the output, 0..255 */
  int32_t lo, hi;     /* 0 <= lo <= hi <= 255 */
} pnn_requant;

/* ---- s8 GEMM (kernels_c/s8-gemm/) ---------------------------------------------
 * Y[m*ldy + n] = requant_m( bias[m] + sum_k W[m][k] * X[k*ldx + n] ),  m < M, n < N
 * X: u8 activations, K rows of N (NCHW: rows are input channels or im2col rows, n runs
 * over pixels). W: s8 weights, row-major M x K, values in [-127, 127] (int4 layers:
 * [-7, 7], same layout here; the nibble-packed file form is unpacked by the caller's
 * pack step). bias: int32 per row that already holds -x_zero_point * sum_k W[m][k]
 * (pnn_s8_fold_zero_point), so padding and X use the raw u8 values.
 * K * 255 * 127 must fit in int32 (K <= 66000; the converter refuses larger).
 *
 * Weights are repacked once at load into a variant-specific layout: pack_size bytes,
 * written by pack (packed is 64-byte aligned). run needs scratch_size(N, K) bytes of
 * 64-byte aligned scratch (its X panels) and may be called on any row range of the
 * packed weights through m_begin/m_end (threads split rows; both multiples of
 * row_block except m_end == M). */
typedef struct pnn_s8_gemm_kernel {
  const char *name;  /* "scalar", "avx2", "avx512vnni", "avxvnni", "neon", "neondot", "wasmsimd" */
  size_t row_block;  /* rows per packed weight block */
  size_t (*pack_size)(size_t M, size_t K);
  void (*pack)(size_t M, size_t K, const int8_t *W, void *packed);
  size_t (*scratch_size)(size_t N, size_t K);
  void (*run)(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end, const void *packed,
              const uint8_t *X, size_t ldx, const int32_t *bias, const pnn_requant *rq,
              uint8_t *Y, size_t ldy, void *scratch);
} pnn_s8_gemm_kernel;

extern const pnn_s8_gemm_kernel pnn_s8_gemm_scalar;
extern const pnn_s8_gemm_kernel pnn_s8_gemm_avx2;
extern const pnn_s8_gemm_kernel pnn_s8_gemm_avxvnni;
extern const pnn_s8_gemm_kernel pnn_s8_gemm_avx512vnni;
extern const pnn_s8_gemm_kernel pnn_s8_gemm_neon;
extern const pnn_s8_gemm_kernel pnn_s8_gemm_neondot;
extern const pnn_s8_gemm_kernel pnn_s8_gemm_wasmsimd;
/* Best variant compiled in and usable on this CPU. */
const pnn_s8_gemm_kernel *pnn_s8_gemm_select(const struct pnn_cpu_features *cpu);

/* AVX2 on vpmaddubsw (kernels_c/s8-gemm/avx2_maddubs.c): exact for the W it takes, the
 * ones where in every block of 8 rows at most ceil(K / 4 / 4) * 4 row quads hold a pair
 * of one sign with |w0| + |w1| > 128 (those run a fix-up); faster than avx2 there. */
extern const pnn_s8_gemm_kernel pnn_s8_gemm_avx2_maddubs;
bool pnn_s8_gemm_avx2_maddubs_fits(size_t M, size_t K, const int8_t *W);
/* pnn_s8_gemm_select, or a variant that is faster on this particular W (M x K). */
const pnn_s8_gemm_kernel *pnn_s8_gemm_select_weights(const struct pnn_cpu_features *cpu, size_t M,
                                                     size_t K, const int8_t *W);

/* ---- s4 GEMM (kernels_c/s8-gemm/) ----------------------------------------------
 * The s8 GEMM contract above for int4 layers: pack takes W as s8 values in [-7, 7] and
 * keeps them at 4 bits (pack_size is about half the s8 variant's); run unpacks the
 * nibbles with vector ops right before the dot products (docs/QUANTIZATION.md). Every
 * variant gives exactly the bytes of the s8 kernels on the same W. Names as above. */
extern const pnn_s8_gemm_kernel pnn_s4_gemm_scalar;
extern const pnn_s8_gemm_kernel pnn_s4_gemm_avx2;
extern const pnn_s8_gemm_kernel pnn_s4_gemm_avxvnni;
extern const pnn_s8_gemm_kernel pnn_s4_gemm_avx512vnni;
extern const pnn_s8_gemm_kernel pnn_s4_gemm_neon;
extern const pnn_s8_gemm_kernel pnn_s4_gemm_neondot;
extern const pnn_s8_gemm_kernel pnn_s4_gemm_wasmsimd;
/* Best s4 variant compiled in and usable on this CPU. */
const pnn_s8_gemm_kernel *pnn_s4_gemm_select(const struct pnn_cpu_features *cpu);

/* ---- u8 x s8 GEMM with int32 output (kernels_c/s8-gemm-s32/) --------------------
 * Y[m*ldy + n] = sum_k W[m][k] * X[k*ldx + n] (int32, no bias, no requantization),
 * m in [m_begin, m_end), n < N: the raw sums of MatMulInteger / ConvInteger, whose zero
 * points the caller corrects (they change per run with dynamic quantization). W: s8 in
 * [-128, 127] (u8 weights enter shifted by -128), K * 255 * 128 < 2^31. pack, scratch and
 * row blocks as pnn_s8_gemm_kernel. */
typedef struct pnn_s8_gemm_s32_kernel {
  const char *name; /* "scalar", "avx2", "avx512vnni" */
  size_t row_block;
  size_t (*pack_size)(size_t M, size_t K);
  void (*pack)(size_t M, size_t K, const int8_t *W, void *packed);
  size_t (*scratch_size)(size_t N, size_t K);
  void (*run)(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end, const void *packed,
              const uint8_t *X, size_t ldx, int32_t *Y, size_t ldy, void *scratch);
} pnn_s8_gemm_s32_kernel;

extern const pnn_s8_gemm_s32_kernel pnn_s8_gemm_s32_scalar;
extern const pnn_s8_gemm_s32_kernel pnn_s8_gemm_s32_avx512vnni;
extern const pnn_s8_gemm_s32_kernel pnn_s8_gemm_s32_avx2;
/* Best variant compiled in and usable on this CPU. */
const pnn_s8_gemm_s32_kernel *pnn_s8_gemm_s32_select(const struct pnn_cpu_features *cpu);

/* ---- few u8 rows x s8 matrix with int32 output (kernels_c/s8-gemv/) ------------
 * y[r*ldy + n] = sum_k W[n][k] * x[r*ldx + k] for r < rows, n < N (int32, raw sums: the
 * caller corrects zero points): a quantized recurrence's products (the input projection
 * of a whole sequence, then h times R per step), whose N x K weights dominate the
 * bytes, so the packed form keeps them s8 (1 byte per weight) in the order the variant's
 * loop reads them, and each block of weights serves every row while it is in cache. W:
 * s8 in [-128, 127], K * 255 * 128 < 2^31. Exact on every variant (no saturating sums). */
typedef struct pnn_s8_gemv_kernel {
  const char *name; /* "scalar", "avx2", "avx512vnni" */
  size_t (*pack_size)(size_t N, size_t K);
  void (*pack)(size_t N, size_t K, const int8_t *W, void *packed);
  void (*run)(size_t N, size_t K, const void *packed, size_t rows, const uint8_t *x, size_t ldx, int32_t *y,
              size_t ldy);
} pnn_s8_gemv_kernel;

extern const pnn_s8_gemv_kernel pnn_s8_gemv_scalar;
extern const pnn_s8_gemv_kernel pnn_s8_gemv_avx512vnni;
extern const pnn_s8_gemv_kernel pnn_s8_gemv_avx2;
/* Best variant compiled in and usable on this CPU. */
const pnn_s8_gemv_kernel *pnn_s8_gemv_select(const struct pnn_cpu_features *cpu);

/* bias[m] -= x_zero_point * sum_k W[m][k] for a row-major M x K weight matrix. */
void pnn_s8_fold_zero_point(size_t M, size_t K, const int8_t *W, int32_t x_zero_point,
                            int32_t *bias);

/* ---- u8 x s8 Winograd F(2x2, 3x3) convolution (kernels_c/s8-winograd/) ----------
 * The 3x3, stride 1, dilation 1, one-group convolution of the s8 GEMM contract, exact:
 * y[m][oy][ox] = requant_m( bias[m] + sum_c sum_ij W[m][c][i][j] * x[c][oy-pt+i][ox-pl+j] )
 * where a tap outside the image reads x_zero_point (bias holds -x_zero_point * sum W,
 * as for the GEMM), so every variant gives the s8 GEMM path's bytes.
 *
 * Integer form (docs/QUANTIZATION.md "Exact integer Winograd"): per 4 x 4 input tile d of raw
 * u8 (padding = x_zero_point) V = B^T d B in [-1020, 1020]; per filter g in [-127, 127]
 * U = (2G) g (2G)^T in [-1143, 1143] (2G is integer); both i16. Per output channel the
 * 16 products U .* V summed over channels, then A^T (.) A, equal 4 x the convolution's
 * sum S: |U * V| <= 1143 * 1020 = 1165860, so with C <= PNN_S8_WINO2_MAX_CHANNELS every
 * per-position sum and 4 |S| <= 4 * 9 * 255 * 127 * C stay below 2^31. The transform
 * A^T (.) A may wrap in int32 on the way (9 sums); its result 4S fits, so wrapping
 * arithmetic gives it exactly and an arithmetic shift by 2 is S.
 *
 * Tiles: tile t (row t / tiles_w, column t % tiles_w, tiles_w = ceil(out_w / 2)) covers
 * outputs [2 ty, 2 ty + 2) x [2 tx, 2 tx + 2) clipped to the image. run computes tiles
 * [t0, t0 + count) of rows [m_begin, m_end) (m_begin a multiple of
 * PNN_S8_WINO2_ROW_BLOCK) into y + m * out_h * out_w; x is [C][in_h][in_w] (C =
 * g->channels), packed is pnn_s8_wino2_pack's (one layout for every variant); scratch is
 * scratch_size(C, count) bytes, 64-byte aligned. */
struct pnn_conv2d_geometry;
enum { PNN_S8_WINO2_MAX_CHANNELS = 1841, PNN_S8_WINO2_ROW_BLOCK = 4 };
/* Bytes of the transformed weights of M x C filters, and the transform: W is [M][C][3][3]
 * s8 in [-127, 127]; U is ceil(M / 4) blocks of 4 output channels, each 16 positions of
 * ceil(C / 2) channel pairs of 4 rows of 2 i16 (zero past M and C): a block's weights
 * are one stream. */
size_t pnn_s8_wino2_pack_size(size_t M, size_t C);
void pnn_s8_wino2_pack(size_t M, size_t C, const int8_t *W, void *packed);
typedef struct pnn_s8_wino2_kernel {
  const char *name;   /* "scalar", "avx2" */
  size_t tile_block;  /* tiles per micro-tile: chunks of a multiple of it waste none */
  size_t (*scratch_size)(size_t C, size_t count);
  void (*run)(const struct pnn_conv2d_geometry *g, size_t M, const uint8_t *x, uint8_t x_zero_point,
              size_t t0, size_t count, size_t m_begin, size_t m_end, const void *packed,
              const int32_t *bias, const pnn_requant *rq, uint8_t *y, void *scratch);
} pnn_s8_wino2_kernel;
extern const pnn_s8_wino2_kernel pnn_s8_wino2_scalar;
extern const pnn_s8_wino2_kernel pnn_s8_wino2_avx2; /* x86-64 only */
/* The variant that beats this CPU's s8 GEMM on 3x3 layers, or NULL (then the GEMM runs):
 * AVX2 without VNNI (measured, docs/BENCHMARKS.md); VNNI's u8 x s8 quads do 4 products
 * per lane and instruction, the i16 pairs of Winograd 2. */
const pnn_s8_wino2_kernel *pnn_s8_wino2_select(const struct pnn_cpu_features *cpu);

/* ---- u8 depthwise convolution (kernels_c/s8-dwconv/) ---------------------------
 * One filter per channel, multiplier 1 (geometry as in pnn_kernels.h):
 * y[c][oy][ox] = requant_c( bias[c] + sum_ij w[c][i][j] * x[c][oy*sh-pt+i*dh][ox*sw-pl+j*dw] )
 * where a tap outside the image reads x_zero_point, and bias already holds
 * -x_zero_point * sum_ij w[c][i][j]. */
struct pnn_conv2d_geometry;
typedef void (*pnn_s8_dwconv_fn)(const struct pnn_conv2d_geometry *g, const uint8_t *x,
                                 uint8_t x_zero_point, const int8_t *w, const int32_t *bias,
                                 const pnn_requant *rq, uint8_t *y);
void pnn_s8_dwconv_scalar(const struct pnn_conv2d_geometry *g, const uint8_t *x,
                          uint8_t x_zero_point, const int8_t *w, const int32_t *bias,
                          const pnn_requant *rq, uint8_t *y);
/* SIMD variants: 3x3, dilation 1, stride 1 or 2 (the same both ways) vectorized along
 * the output width; other shapes, and rows too wide for their stack band (about 2700
 * padded pixels), run the scalar reference. They use about 26 KiB of stack. Each is only
 * defined on its architecture. */
void pnn_s8_dwconv_avx2(const struct pnn_conv2d_geometry *g, const uint8_t *x,
                        uint8_t x_zero_point, const int8_t *w, const int32_t *bias,
                        const pnn_requant *rq, uint8_t *y);
void pnn_s8_dwconv_avx512(const struct pnn_conv2d_geometry *g, const uint8_t *x,
                          uint8_t x_zero_point, const int8_t *w, const int32_t *bias,
                          const pnn_requant *rq, uint8_t *y);
void pnn_s8_dwconv_neon(const struct pnn_conv2d_geometry *g, const uint8_t *x,
                        uint8_t x_zero_point, const int8_t *w, const int32_t *bias,
                        const pnn_requant *rq, uint8_t *y);
void pnn_s8_dwconv_wasmsimd(const struct pnn_conv2d_geometry *g, const uint8_t *x,
                            uint8_t x_zero_point, const int8_t *w, const int32_t *bias,
                            const pnn_requant *rq, uint8_t *y);
pnn_s8_dwconv_fn pnn_s8_dwconv_select(const struct pnn_cpu_features *cpu, const char **name);

/* ---- u8 element-wise (kernels_c/u8-elementwise/) -------------------------------
 * Add: y[i] = clamp(zy + round(((a[i]-za)*ma + (b[i]-zb)*mb) / 2^shift)) with the rule
 * above (one shift for both branches, ma/mb in [0, 2^31-1]). b_stride is 1, or 0 to
 * broadcast b[0]. */
typedef struct pnn_u8_add_params {
  int32_t a_zero_point, b_zero_point;
  int32_t a_multiplier, b_multiplier, shift;
  int32_t zero_point, lo, hi;
} pnn_u8_add_params;
typedef void (*pnn_u8_add_fn)(size_t n, const uint8_t *a, const uint8_t *b, size_t b_stride,
                              const pnn_u8_add_params *p, uint8_t *y);
void pnn_u8_add_scalar(size_t n, const uint8_t *a, const uint8_t *b, size_t b_stride,
                       const pnn_u8_add_params *p, uint8_t *y);
/* SIMD variants (each only on its architecture; no AVX-512 one: it measured within 5% of
 * AVX2). y may alias a, or b when b_stride is 1. */
void pnn_u8_add_avx2(size_t n, const uint8_t *a, const uint8_t *b, size_t b_stride,
                     const pnn_u8_add_params *p, uint8_t *y);
void pnn_u8_add_neon(size_t n, const uint8_t *a, const uint8_t *b, size_t b_stride,
                     const pnn_u8_add_params *p, uint8_t *y);
void pnn_u8_add_wasmsimd(size_t n, const uint8_t *a, const uint8_t *b, size_t b_stride,
                         const pnn_u8_add_params *p, uint8_t *y);
pnn_u8_add_fn pnn_u8_add_select(const struct pnn_cpu_features *cpu, const char **name);

/* Table lookup (element-wise non-linearities built by the converter): y[i] = table[x[i]]. */
void pnn_u8_lut_scalar(size_t n, const uint8_t *x, const uint8_t table[256], uint8_t *y);

/* Global average pool of one channel: y = requant(sum_i (x[i] - x_zero_point)) with
 * multiplier/shift that include 1/n. */
uint8_t pnn_u8_global_avgpool_scalar(size_t n, const uint8_t *x, int32_t x_zero_point,
                                     int32_t multiplier, int32_t shift, int32_t zero_point);

/* ---- f32 -> u8 QuantizeLinear (kernels_c/f32-quantize/) ------------------------
 * y[i] = clamp(rint(x[i] / scale) + zero_point, 0, 255): float32 division, ties to
 * even, NaN gives 0 (docs/QUANTIZATION.md). Every variant equals the reference exactly. */
typedef void (*pnn_f32_quantize_u8_fn)(size_t n, const float *x, float scale, int32_t zero_point, uint8_t *y);
void pnn_f32_quantize_u8_scalar(size_t n, const float *x, float scale, int32_t zero_point, uint8_t *y);
void pnn_f32_quantize_u8_avx2(size_t n, const float *x, float scale, int32_t zero_point, uint8_t *y);
void pnn_f32_quantize_u8_neon(size_t n, const float *x, float scale, int32_t zero_point, uint8_t *y);
void pnn_f32_quantize_u8_wasmsimd(size_t n, const float *x, float scale, int32_t zero_point, uint8_t *y);
pnn_f32_quantize_u8_fn pnn_f32_quantize_u8_select(const struct pnn_cpu_features *cpu, const char **name);

/* ---- u8 -> f32 DequantizeLinear (kernels_c/u8-dequantize/) ----------------------
 * y[i] = (float)(x[i] - zero_point) * scale, one float32 rounding. Every variant equals
 * the reference exactly. */
typedef void (*pnn_u8_dequantize_f32_fn)(size_t n, const uint8_t *x, float scale, int32_t zero_point, float *y);
void pnn_u8_dequantize_f32_scalar(size_t n, const uint8_t *x, float scale, int32_t zero_point, float *y);
void pnn_u8_dequantize_f32_avx2(size_t n, const uint8_t *x, float scale, int32_t zero_point, float *y);
pnn_u8_dequantize_f32_fn pnn_u8_dequantize_f32_select(const struct pnn_cpu_features *cpu, const char **name);

/* DequantizeLinear followed by the float Add of a bias along the last axis (a QDQ
 * MatMul's bias, folded by the converter): rows x cols values, y[r][c] =
 * (float)(x[r][c] - zero_point) * scale + bias[c], the product rounded to float32 before
 * the sum (two roundings, as the two ONNX operators: no fused multiply-add; the files
 * are built with -ffp-contract=off). Every variant equals the reference exactly. */
typedef void (*pnn_u8_dequantize_bias_f32_fn)(size_t rows, size_t cols, const uint8_t *x, float scale,
                                              int32_t zero_point, const float *bias, float *y);
void pnn_u8_dequantize_bias_f32_scalar(size_t rows, size_t cols, const uint8_t *x, float scale, int32_t zero_point,
                                       const float *bias, float *y);
void pnn_u8_dequantize_bias_f32_avx2(size_t rows, size_t cols, const uint8_t *x, float scale, int32_t zero_point,
                                     const float *bias, float *y);
pnn_u8_dequantize_bias_f32_fn pnn_u8_dequantize_bias_f32_select(const struct pnn_cpu_features *cpu,
                                                                const char **name);

/* ---- u8 max pooling (kernels_c/u8-pool/) ---------------------------------------
 * y = max over the window's taps inside the image (padding never wins; a window with
 * no tap inside gives 0). Quantized max pooling keeps the input's scale and zero point. */
typedef void (*pnn_u8_maxpool2d_fn)(const struct pnn_pool2d_geometry *g, const uint8_t *x, uint8_t *y);
void pnn_u8_maxpool2d_scalar(const struct pnn_pool2d_geometry *g, const uint8_t *x, uint8_t *y);
void pnn_u8_maxpool2d_avx2(const struct pnn_pool2d_geometry *g, const uint8_t *x, uint8_t *y);
void pnn_u8_maxpool2d_avx512(const struct pnn_pool2d_geometry *g, const uint8_t *x, uint8_t *y);
/* The vector form built for the target's baseline ISA (NEON, SIMD128, SSE2). */
void pnn_u8_maxpool2d_portable(const struct pnn_pool2d_geometry *g, const uint8_t *x, uint8_t *y);
pnn_u8_maxpool2d_fn pnn_u8_maxpool2d_select(const struct pnn_cpu_features *cpu, const char **name);

/* ---- u8 average pooling (kernels_c/u8-pool/scalar.c) ---------------------------
 * y = requant(sum (x - x_zero_point) over the window's taps inside the image) with the
 * multiplier and shift of the window's divisor d: multipliers[d - 1], shifts[d - 1],
 * which include 1/d. d counts the taps inside the image, or with count_include_pad also
 * those in the explicit padding (not the ceil_mode overhang); padding adds 0 to the sum
 * (it stands for the real value 0, the zero point). Every window must hold a tap of the
 * image, and kernel_h * kernel_w * 255 must fit in int32. */
typedef struct pnn_u8_avgpool_params {
  int32_t x_zero_point, y_zero_point;
  int count_include_pad;
  const int32_t *multipliers, *shifts; /* [kernel_h * kernel_w], by divisor - 1 */
} pnn_u8_avgpool_params;
void pnn_u8_avgpool2d_scalar(const struct pnn_pool2d_geometry *g, const uint8_t *x,
                             const pnn_u8_avgpool_params *p, uint8_t *y);

/* ---- u8 x u8 matrix product (kernels_c/u8-matmul/) -----------------------------
 * Y[m*ldy + n] = requant( sum_k (A[m*lda + k] - a_zero_point) * (B[k*ldb + n] - b_zero_point) )
 * for m < M, n < N: the product of two u8 activations (a QDQ MatMul whose operands are
 * both computed, such as attention's Q.K^T and probs.V), with one requantization for the
 * whole matrix (rq->multiplier[0], rq->shift[0]). Both operands are centred to int16
 * and multiplied in int32 pairs (vpmaddwd / vpdpwssd), so any zero points are exact.
 * K * 255 * 255 must fit in int32: K <= PNN_U8_MATMUL_MAX_K. run needs
 * scratch_size(M, N, K) bytes of 64-byte aligned scratch (the centred operands). */
enum { PNN_U8_MATMUL_MAX_K = 33025 };
typedef struct pnn_u8_matmul_kernel {
  const char *name; /* "scalar", "avx2", "avx512" */
  size_t (*scratch_size)(size_t M, size_t N, size_t K);
  void (*run)(size_t M, size_t N, size_t K, const uint8_t *A, size_t lda, uint8_t a_zero_point,
              const uint8_t *B, size_t ldb, uint8_t b_zero_point, const pnn_requant *rq, uint8_t *Y,
              size_t ldy, void *scratch);
} pnn_u8_matmul_kernel;
extern const pnn_u8_matmul_kernel pnn_u8_matmul_scalar;
/* Each only on x86-64 (elsewhere the reference runs). */
extern const pnn_u8_matmul_kernel pnn_u8_matmul_avx2;
extern const pnn_u8_matmul_kernel pnn_u8_matmul_avx512;
const pnn_u8_matmul_kernel *pnn_u8_matmul_select(const struct pnn_cpu_features *cpu);

#endif /* PNN_KERNELS_S8_H */
