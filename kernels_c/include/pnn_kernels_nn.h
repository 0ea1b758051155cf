/* Neural-network kernels beyond the ones declared in pnn_kernels.h (included at the
 * end of it). Scalar references only; ISA variants may be added with the same
 * signatures. */
#ifndef PNN_KERNELS_NN_H
#define PNN_KERNELS_NN_H

#include <stddef.h>

/* ---- f32 col2im (kernels_c/f32-col2im/) ----------------------------------------
 * The adjoint of im2col, used by ConvTranspose. `g` describes the forward
 * convolution whose *input* is the image x (g->channels, in_h, in_w) and whose
 * output grid is out_h x out_w. Accumulates:
 *   x[c][oy*sh - pt + i*dh][ox*sw - pl + j*dw] += cols[(c*kh*kw + i*kw + j) * (OH*OW) + oy*OW + ox]
 * skipping positions outside the image. x is not cleared first. */
void pnn_f32_col2im_add_scalar(const pnn_conv2d_geometry *g, const float *cols, float *x);

/* ---- f32 2-D pooling (kernels_c/f32-pool/) -------------------------------------
 * Per channel, window (oy, ox) covers taps (oy*sh - pt + i*dh, ox*sw - pl + j*dw),
 * i < kernel_h, j < kernel_w. pad_bottom / pad_right bound the padded region used by
 * count_include_pad. */
typedef struct pnn_pool2d_geometry {
  size_t channels;
  size_t in_h, in_w, out_h, out_w;
  size_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  size_t pad_top, pad_left, pad_bottom, pad_right;
} pnn_pool2d_geometry;

/* y = max over the taps inside the image (padding never wins); NaN when any tap is
 * NaN, -inf when all are -inf; a window with no tap inside the image gives -FLT_MAX
 * (onnxruntime's behaviour: its initial value). */
void pnn_f32_maxpool2d_scalar(const pnn_pool2d_geometry *g, const float *x, float *y);
void pnn_f32_maxpool2d_avx2(const pnn_pool2d_geometry *g, const float *x, float *y);
void pnn_f32_maxpool2d_avx512(const pnn_pool2d_geometry *g, const float *x, float *y);
/* pnn_maxpool_impl.h for the build's baseline ISA (selected off x86). */
void pnn_f32_maxpool2d_portable(const pnn_pool2d_geometry *g, const float *x, float *y);
typedef void (*pnn_f32_maxpool2d_fn)(const pnn_pool2d_geometry *g, const float *x, float *y);
pnn_f32_maxpool2d_fn pnn_f32_maxpool2d_select(const pnn_cpu_features *cpu, const char **name);

/* y = sum over the taps inside the image / divisor, where the divisor counts the taps
 * inside the padded region [-pt, in_h+pb) x [-pl, in_w+pr) when count_include_pad,
 * else the taps inside the image. A divisor of 0 gives 0. */
void pnn_f32_avgpool2d_scalar(const pnn_pool2d_geometry *g, const float *x, float *y,
                              int count_include_pad);

/* ---- f32 GEMM on a packed B panel (kernels_c/f32-gemm-pb/) ---------------------
 * The conv micro-driver: B is one panel of at most PNN_GEMM_PB_NR columns, packed
 * k-major with row stride PNN_GEMM_PB_NR (64-byte aligned; columns past N are
 * ignored). B is ceil(N / PNN_GEMM_PB_NR) such panels one after another, panel p
 * (columns [p*NR, p*NR + NR)) at Bp + p*K*NR. A is read in place. For m < M, n < N:
 *   C[m*ldc + n] = act( sum_{k<K} A[m*lda + k] * B(k, n) + row_bias[m] )
 *   with B(k, n) = Bp[(n / NR)*K*NR + k*NR + n % NR]
 * row_bias may be NULL; K may be 0. C is written only at those positions. */
#define PNN_GEMM_PB_NR 32
typedef void (*pnn_f32_gemm_pb_fn)(size_t M, size_t N, size_t K, const float *A, size_t lda,
                                   const float *Bp, float *C, size_t ldc, const float *row_bias,
                                   pnn_activation act);
void pnn_f32_gemm_pb_scalar(size_t M, size_t N, size_t K, const float *A, size_t lda,
                            const float *Bp, float *C, size_t ldc, const float *row_bias,
                            pnn_activation act);
void pnn_f32_gemm_pb_avx2(size_t M, size_t N, size_t K, const float *A, size_t lda,
                          const float *Bp, float *C, size_t ldc, const float *row_bias,
                          pnn_activation act);
void pnn_f32_gemm_pb_avx512(size_t M, size_t N, size_t K, const float *A, size_t lda,
                            const float *Bp, float *C, size_t ldc, const float *row_bias,
                            pnn_activation act);
void pnn_f32_gemm_pb_wasmsimd(size_t M, size_t N, size_t K, const float *A, size_t lda,
                              const float *Bp, float *C, size_t ldc, const float *row_bias,
                              pnn_activation act);
/* Packs a row-major B [K, N] (row stride ldb) into those panels, columns past N zero
 * (a transposed B, stored [N, K], packs with pnn_f32_gemm_pt_pack(N, K, B, K, Bp)). */
void pnn_f32_gemm_pb_pack(size_t K, size_t N, const float *B, size_t ldb, float *Bp);
/* AVX-512 on x86 when usable, else AVX2+FMA; SIMD128 on wasm; else the
 * reference. */
pnn_f32_gemm_pb_fn pnn_f32_gemm_pb_select(const pnn_cpu_features *cpu, const char **name);

/* The same product with A packed too (at prepare, for weights too big to stay in L2,
 * so they stream as one sequence): panel p holds rows [p*MR, p*MR + MR) k-major,
 * Ap[p*MR*K + k*MR + i] = A[p*MR + i][k], rows past M zero. Row ranges handed to the
 * kernel start on a panel: pass Ap + (m0 / MR) * MR * K for rows from m0 (m0 % MR == 0). */
#define PNN_GEMM_PA_MR 14
void pnn_f32_gemm_pa_pack(size_t M, size_t K, const float *A, size_t lda, float *Ap);
typedef void (*pnn_f32_gemm_pp_fn)(size_t M, size_t N, size_t K, const float *Ap, const float *Bp,
                                   float *C, size_t ldc, const float *row_bias, pnn_activation act);
void pnn_f32_gemm_pp_scalar(size_t M, size_t N, size_t K, const float *Ap, const float *Bp,
                            float *C, size_t ldc, const float *row_bias, pnn_activation act);
void pnn_f32_gemm_pp_avx2(size_t M, size_t N, size_t K, const float *Ap, const float *Bp,
                          float *C, size_t ldc, const float *row_bias, pnn_activation act);
void pnn_f32_gemm_pp_avx512(size_t M, size_t N, size_t K, const float *Ap, const float *Bp,
                            float *C, size_t ldc, const float *row_bias, pnn_activation act);
void pnn_f32_gemm_pp_wasmsimd(size_t M, size_t N, size_t K, const float *Ap, const float *Bp,
                              float *C, size_t ldc, const float *row_bias, pnn_activation act);
pnn_f32_gemm_pp_fn pnn_f32_gemm_pp_select(const pnn_cpu_features *cpu, const char **name);

/* The same product with the output channels across the vector lanes, for convs with
 * few output pixels (7x7, 14x14 images), where 32-pixel panels would run partly empty
 * (49 pixels fill 2 panels to 77%) while channel counts are multiples of 32. A is
 * packed by pnn_f32_gemm_pt_pack into ceil(M / PNN_GEMM_PB_NR) panels of [K][NR]
 * (At[p*K*NR + k*NR + j] = A[p*NR + j][k], rows past M zero); B is the packed B panels
 * of pnn_f32_gemm_pb; C, row_bias and act as there. Row ranges handed to the kernel
 * start on a panel: pass At + (m0 / NR) * NR * K for rows from m0 (m0 % NR == 0). */
void pnn_f32_gemm_pt_pack(size_t M, size_t K, const float *A, size_t lda, float *At);
typedef pnn_f32_gemm_pp_fn pnn_f32_gemm_pt_fn;
void pnn_f32_gemm_pt_scalar(size_t M, size_t N, size_t K, const float *At, const float *Bp,
                            float *C, size_t ldc, const float *row_bias, pnn_activation act);
void pnn_f32_gemm_pt_avx2(size_t M, size_t N, size_t K, const float *At, const float *Bp,
                          float *C, size_t ldc, const float *row_bias, pnn_activation act);
void pnn_f32_gemm_pt_avx512(size_t M, size_t N, size_t K, const float *At, const float *Bp,
                            float *C, size_t ldc, const float *row_bias, pnn_activation act);
/* AVX-512, else AVX2 + FMA on x86 when usable, else NULL. */
pnn_f32_gemm_pt_fn pnn_f32_gemm_pt_select(const pnn_cpu_features *cpu, const char **name);
/* The same product with B in place, row-major [K, N] of row stride ldb (the rows of a
 * 1x1 stride-1 conv's X): no panel copy. */
typedef void (*pnn_f32_gemm_pt_rows_fn)(size_t M, size_t N, size_t K, const float *At, const float *B, size_t ldb,
                                        float *C, size_t ldc, const float *row_bias, pnn_activation act);
void pnn_f32_gemm_pt_rows_scalar(size_t M, size_t N, size_t K, const float *At, const float *B, size_t ldb,
                                 float *C, size_t ldc, const float *row_bias, pnn_activation act);
void pnn_f32_gemm_pt_rows_avx2(size_t M, size_t N, size_t K, const float *At, const float *B, size_t ldb,
                               float *C, size_t ldc, const float *row_bias, pnn_activation act);
void pnn_f32_gemm_pt_rows_avx512(size_t M, size_t N, size_t K, const float *At, const float *B, size_t ldb,
                                 float *C, size_t ldc, const float *row_bias, pnn_activation act);
/* The variant of the ISA pnn_f32_gemm_pt_select picks, else NULL. */
pnn_f32_gemm_pt_rows_fn pnn_f32_gemm_pt_rows_select(const pnn_cpu_features *cpu, const char **name);

/* ---- f32 Winograd F(2x2, 3x3) (kernels_c/f32-winograd/) ----------------------
 * Stride-1, dilation-1 3x3 convolution of one image: the output is cut in 2x2 tiles,
 * tiles_w = ceil(out_w / 2) per row, numbered in raster order; tile t covers input
 * rows 2*(t / tiles_w) - pad_top + [0, 4) and columns 2*(t % tiles_w) - pad_left +
 * [0, 4) (zeros outside the image). The 16 transformed positions xi = 4*a + b.
 *
 * weights: u[xi*M*C + m*C + c] = (G w[m][c] G^T)[a][b], w is [M][C][3][3].
 * input:   for tiles t0 + u, u < count, channel c < g->channels:
 *            v[xi*xi_stride + (u / NR)*C*NR + c*NR + u % NR] = (B^T d B)[a][b]
 *          (each NR-tile group is one packed B panel of pnn_f32_gemm_pb, K = C).
 * output:  for row r < rows, tile t0 + u: y[r*out_h*out_w + pixel] =
 *            act(((A^T m A)[i][j] + bias[r]) + residual[same index]),
 *          m[xi] = m[xi*xi_stride + r*ldm + u]; pixels outside out_h x out_w are
 *          skipped. bias and residual (a conv's residual input, laid out as y) may be
 *          NULL. */
void pnn_f32_wino2_weights_scalar(const float *w, size_t M, size_t C, float *u);
typedef void (*pnn_f32_wino2_input_fn)(const pnn_conv2d_geometry *g, const float *x, size_t t0,
                                       size_t count, float *v, size_t xi_stride);
typedef void (*pnn_f32_wino2_output_fn)(const pnn_conv2d_geometry *g, const float *m, size_t rows,
                                        size_t ldm, size_t xi_stride, size_t t0, size_t count,
                                        const float *bias, float *y, const float *residual,
                                 pnn_activation act);
void pnn_f32_wino2_input_scalar(const pnn_conv2d_geometry *g, const float *x, size_t t0,
                                size_t count, float *v, size_t xi_stride);
void pnn_f32_wino2_input_avx2(const pnn_conv2d_geometry *g, const float *x, size_t t0,
                              size_t count, float *v, size_t xi_stride);
void pnn_f32_wino2_input_avx512(const pnn_conv2d_geometry *g, const float *x, size_t t0,
                                size_t count, float *v, size_t xi_stride);
void pnn_f32_wino2_input_wasmsimd(const pnn_conv2d_geometry *g, const float *x, size_t t0,
                                  size_t count, float *v, size_t xi_stride);
void pnn_f32_wino2_output_scalar(const pnn_conv2d_geometry *g, const float *m, size_t rows,
                                 size_t ldm, size_t xi_stride, size_t t0, size_t count,
                                 const float *bias, float *y, const float *residual,
                                 pnn_activation act);
void pnn_f32_wino2_output_avx2(const pnn_conv2d_geometry *g, const float *m, size_t rows,
                               size_t ldm, size_t xi_stride, size_t t0, size_t count,
                               const float *bias, float *y, const float *residual,
                                 pnn_activation act);
void pnn_f32_wino2_output_avx512(const pnn_conv2d_geometry *g, const float *m, size_t rows,
                                 size_t ldm, size_t xi_stride, size_t t0, size_t count,
                                 const float *bias, float *y, const float *residual,
                                 pnn_activation act);
void pnn_f32_wino2_output_wasmsimd(const pnn_conv2d_geometry *g, const float *m, size_t rows,
                                   size_t ldm, size_t xi_stride, size_t t0, size_t count,
                                   const float *bias, float *y, const float *residual,
                                 pnn_activation act);
/* AVX-512 builds of the transforms when usable, else AVX2 + FMA; SIMD128 on
 * wasm; else the reference. */
void pnn_f32_wino2_select(const pnn_cpu_features *cpu, pnn_f32_wino2_input_fn *input,
                          pnn_f32_wino2_output_fn *output, const char **name);

/* ---- f32 im2col of one GEMM panel (kernels_c/f32-im2col/) ----------------------
 * Packs rows [k0, k0 + kc) and columns [n0, n0 + width) (width <= PNN_GEMM_PB_NR) of
 * the im2col matrix of pnn_f32_im2col_scalar into dst[(k - k0) * PNN_GEMM_PB_NR + n - n0],
 * without building the whole matrix. Columns [width, PNN_GEMM_PB_NR) of dst are set to 0
 * (the GEMM kernels load whole panel rows). */
void pnn_f32_im2col_panel_scalar(const pnn_conv2d_geometry *g, const float *x, size_t k0,
                                 size_t kc, size_t n0, size_t width, float *dst);
void pnn_f32_im2col_panel_avx2(const pnn_conv2d_geometry *g, const float *x, size_t k0,
                               size_t kc, size_t n0, size_t width, float *dst);
void pnn_f32_im2col_panel_avx512(const pnn_conv2d_geometry *g, const float *x, size_t k0,
                                 size_t kc, size_t n0, size_t width, float *dst);
typedef void (*pnn_f32_im2col_panel_fn)(const pnn_conv2d_geometry *g, const float *x, size_t k0,
                                        size_t kc, size_t n0, size_t width, float *dst);
pnn_f32_im2col_panel_fn pnn_f32_im2col_panel_select(const pnn_cpu_features *cpu, const char **name);

/* Geometries the AVX-512 3x3 depthwise row kernel covers: 3x3, dilation 1, equal
 * strides 1 or 2, left and right padding at most 1 (the right one follows from out_w).
 * Rows may have any padding. */
static inline int pnn_conv3x3_rows_applies(const pnn_conv2d_geometry *g) {
  const size_t s = g->stride_w;
  return g->kernel_h == 3 && g->kernel_w == 3 && g->dilation_h == 1 && g->dilation_w == 1 &&
         (s == 1 || s == 2) && g->stride_h == s && g->pad_left <= 1 && g->out_w > 0 &&
         (g->out_w - 1) * s + 3 <= g->in_w + g->pad_left + 1;
}

/* Column block x0 (a multiple of `lanes`) of an output row out_w wide, for kernels that
 * compute `lanes` outputs per vector: a partial last block starts earlier, overlapping
 * its neighbour, when the row is at least a vector wide (full stores only), else it
 * stores `count` < lanes outputs. `inside`: a full block whose loads, input columns
 * [start * stride - pad_left, + reach), all lie in [0, in_w). */
typedef struct pnn_col_block {
  size_t start, count;
  int inside;
} pnn_col_block;
static inline pnn_col_block pnn_col_block_at(size_t x0, size_t lanes, size_t out_w, size_t stride,
                                             size_t pad_left, size_t reach, size_t in_w) {
  pnn_col_block b = {x0, lanes, 0};
  if (out_w - x0 < lanes) {
    if (out_w >= lanes) b.start = out_w - lanes;
    else b.count = out_w - x0;
  }
  const size_t first = b.start * stride;
  b.inside = b.count == lanes && first >= pad_left && first - pad_left + reach <= in_w;
  return b;
}

/* ---- f32 direct convolution for few input channels (kernels_c/f32-conv-direct/) --
 * A network's first layer (C = 3 RGB channels): im2col + GEMM would run with a GEMM
 * depth of 27 or 147, too short for the GEMM tiles, and the unfold costs as much as
 * the product. Weights [M, C, kh, kw] are packed by pnn_f32_conv_direct_pack into
 * blocks of B = PNN_F32_CONV_DIRECT_BLOCK output channels, [ceil(M/B)][C][kh * kw][B]
 * (zeros past M; pnn_f32_conv_direct_packed_floats floats). A call computes output
 * channels B*block .. B*block+B-1 (those < out_c) for output rows [oy_begin, oy_end) of one
 * image: x is [C, in_h, in_w] (C = g->channels), y the image's [out_c, out_h, out_w];
 * bias (or NULL) and the activation are fused. The AVX2 and AVX-512 variants cover
 * pnn_conv_direct_applies; the scalar one any geometry. */
static inline int pnn_conv_direct_applies(const pnn_conv2d_geometry *g) {
  const size_t s = g->stride_w;
  return (g->kernel_w == 3 || g->kernel_w == 5 || g->kernel_w == 7) && g->kernel_h >= 1 && g->kernel_h <= 7 &&
         g->dilation_h == 1 && g->dilation_w == 1 && (s == 1 || s == 2) && g->stride_h == s &&
         g->pad_left < 16 && g->in_w < ((size_t)1 << 30) && g->out_w < ((size_t)1 << 29);
}
#define PNN_F32_CONV_DIRECT_BLOCK 16
size_t pnn_f32_conv_direct_packed_floats(size_t out_c, size_t in_c, size_t taps);
void pnn_f32_conv_direct_pack(size_t out_c, size_t in_c, size_t taps, const float *w, float *packed);
typedef void (*pnn_f32_conv_direct_fn)(const pnn_conv2d_geometry *g, size_t out_c, const float *x,
                                       const float *packed, const float *bias, float *y, size_t block,
                                       size_t oy_begin, size_t oy_end, pnn_activation act);
void pnn_f32_conv_direct_scalar(const pnn_conv2d_geometry *g, size_t out_c, const float *x, const float *packed,
                                const float *bias, float *y, size_t block, size_t oy_begin, size_t oy_end,
                                pnn_activation act);
void pnn_f32_conv_direct_avx2(const pnn_conv2d_geometry *g, size_t out_c, const float *x, const float *packed,
                              const float *bias, float *y, size_t block, size_t oy_begin, size_t oy_end,
                              pnn_activation act);
void pnn_f32_conv_direct_avx512(const pnn_conv2d_geometry *g, size_t out_c, const float *x, const float *packed,
                                const float *bias, float *y, size_t block, size_t oy_begin, size_t oy_end,
                                pnn_activation act);
/* The AVX-512 or AVX2 variant when the CPU and geometry allow it, else NULL. */
pnn_f32_conv_direct_fn pnn_f32_conv_direct_select(const pnn_cpu_features *cpu, const pnn_conv2d_geometry *g,
                                                  const char **name);

#endif /* PNN_KERNELS_NN_H */
