/* Sparse compute kernels (see pnn_kernels.h for the general rules: no graph
 * knowledge, no allocation, no I/O; a scalar reference plus ISA variants picked by
 * CPU feature). Include after pnn_kernels.h. */
#ifndef PNN_KERNELS_SPARSE_H
#define PNN_KERNELS_SPARSE_H

#include <stddef.h>
#include <stdint.h>

/* ---- f32 sparse x dense matrix product (kernels_c/f32-spmm/) -------------------
 * Group-sparse weights W [rows, cols]: rows are split into groups of `group` (1,2,4,8)
 * consecutive rows sharing one set of nonzero columns (the last group may be partial:
 * rows >= `rows` are padding whose values are 0 and whose outputs are not written).
 * For group g: group_nnz[g] columns, their indices in `indices` (ascending within the
 * group, < cols), and for each such column `group` values (one per row of the group)
 * contiguous in `values`. Groups follow each other in both arrays. */
typedef struct pnn_sparse_f32 {
  size_t rows, cols, group, n_groups; /* n_groups = ceil(rows / group) */
  const uint32_t *group_nnz;          /* [n_groups] */
  const uint32_t *indices;            /* [total_nnz] */
  const float *values;                /* [total_nnz * group] */
} pnn_sparse_f32;

/* y[m*y_stride + p] = act(bias[m] + sum_k W[m][k] * x[k*x_stride + p]) for m < rows,
 * p < pixels (bias may be NULL). x is channel-major (CHW): one row of `pixels` floats
 * per input channel. An empty group (nnz 0) gives bias (then act). Nothing outside
 * those x and y elements is read or written. */
typedef void (*pnn_f32_spmm_fn)(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                                size_t x_stride, const float *bias, float *y, size_t y_stride,
                                pnn_activation act);
void pnn_f32_spmm_scalar(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                         size_t x_stride, const float *bias, float *y, size_t y_stride,
                         pnn_activation act);
void pnn_f32_spmm_avx2(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                       size_t x_stride, const float *bias, float *y, size_t y_stride,
                       pnn_activation act);
void pnn_f32_spmm_avx512(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                         size_t x_stride, const float *bias, float *y, size_t y_stride,
                         pnn_activation act);
void pnn_f32_spmm_neon(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                       size_t x_stride, const float *bias, float *y, size_t y_stride,
                       pnn_activation act);
void pnn_f32_spmm_wasmsimd(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                           size_t x_stride, const float *bias, float *y, size_t y_stride,
                           pnn_activation act);
/* Best variant for this CPU; *name is set to "scalar", "avx2", "avx512", "neon" or
 * "wasmsimd". */
pnn_f32_spmm_fn pnn_f32_spmm_select(const pnn_cpu_features *cpu, const char **name);

/* ---- u8 x s8 group-sparse matrix product (kernels_c/s8-spmm/) ------------------
 * The integer twin of the f32 SpMM (arithmetic of docs/QUANTIZATION.md, pnn_requant
 * and pnn_requantize of pnn_kernels_s8.h, which pnn_kernels.h includes after this
 * header: hence `struct pnn_requant` below). W is group-sparse exactly as
 * pnn_sparse_f32, with s8 values in [-127, 127] (padding rows of a partial last group
 * hold 0). */
struct pnn_requant;
typedef struct pnn_sparse_s8 {
  size_t rows, cols, group, n_groups; /* n_groups = ceil(rows / group) */
  const uint32_t *group_nnz;          /* [n_groups] */
  const uint32_t *indices;            /* [total_nnz] */
  const int8_t *values;               /* [total_nnz * group] */
} pnn_sparse_s8;

/* y[m*y_stride + p] = requant_m(bias[m] + sum_k W[m][k] * x[k*x_stride + p]) for
 * m < rows, p < pixels, with requant_m = pnn_requantize(., rq->multiplier[m],
 * rq->shift[m], rq->zero_point, rq->lo, rq->hi). x is channel-major (CHW): one row of
 * `pixels` u8 per input channel, taken as raw values: the zero point of x is already
 * folded into bias (bias[m] = b[m] - x_zero_point * sum_k W[m][k], as for the dense
 * QConv; pnn_s8_fold_zero_point on the densified W, or the same sum over the group's
 * values). bias may be NULL (all zero). An empty group (nnz 0) gives requant(bias).
 * cols * 255 * 127 must fit in int32 as for the s8 GEMM. Nothing outside those x and
 * y elements is read or written. Every variant equals the scalar reference exactly. */
typedef void (*pnn_u8_spmm_fn)(const pnn_sparse_s8 *w, size_t pixels, const uint8_t *x,
                               size_t x_stride, const int32_t *bias, const struct pnn_requant *rq,
                               uint8_t *y, size_t y_stride);
void pnn_u8_spmm_scalar(const pnn_sparse_s8 *w, size_t pixels, const uint8_t *x,
                        size_t x_stride, const int32_t *bias, const struct pnn_requant *rq,
                        uint8_t *y, size_t y_stride);
void pnn_u8_spmm_avx2(const pnn_sparse_s8 *w, size_t pixels, const uint8_t *x,
                      size_t x_stride, const int32_t *bias, const struct pnn_requant *rq,
                      uint8_t *y, size_t y_stride);
void pnn_u8_spmm_avx512vnni(const pnn_sparse_s8 *w, size_t pixels, const uint8_t *x,
                            size_t x_stride, const int32_t *bias, const struct pnn_requant *rq,
                            uint8_t *y, size_t y_stride);
void pnn_u8_spmm_neon(const pnn_sparse_s8 *w, size_t pixels, const uint8_t *x,
                      size_t x_stride, const int32_t *bias, const struct pnn_requant *rq,
                      uint8_t *y, size_t y_stride);
void pnn_u8_spmm_wasmsimd(const pnn_sparse_s8 *w, size_t pixels, const uint8_t *x,
                          size_t x_stride, const int32_t *bias, const struct pnn_requant *rq,
                          uint8_t *y, size_t y_stride);
/* Best variant for this CPU; *name is set to "scalar", "avx2", "avx512vnni", "neon" or
 * "wasmsimd". */
pnn_u8_spmm_fn pnn_u8_spmm_select(const pnn_cpu_features *cpu, const char **name);

#endif /* PNN_KERNELS_SPARSE_H */
