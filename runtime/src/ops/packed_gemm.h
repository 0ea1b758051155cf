/* A GEMM whose B is a constant, packed once at prepare into the panels of the
 * packed-panel kernel (pnn_f32_gemm_pb): the plain f32 GEMM copies B panel by panel at
 * every call, which for few rows (a dense layer at batch 2..32, an LSTM's input
 * projection, its recurrence at batch > 1) costs more than the product itself.
 * Shared by Gemm and MatMul. Private to runtime/src/ops. */
#ifndef PNN_OPS_PACKED_GEMM_H
#define PNN_OPS_PACKED_GEMM_H

#include <stdbool.h>
#include <stddef.h>

#include "ops.h"

typedef struct pnn_packed_gemm {
  size_t n, k;
  const float *panels;   /* ceil(N / PNN_GEMM_PB_NR) panels of [K][NR], 64-byte aligned */
  pnn_f32_gemm_pb_fn gemm;
} pnn_packed_gemm;

/* The packed-panel kernel for this CPU when it has a SIMD variant (x86), else NULL:
 * there the plain GEMM (NEON, wasm SIMD) stays faster than the scalar reference. */
pnn_f32_gemm_pb_fn pnn_packed_gemm_kernel(const pnn_model *model, const char **isa);

/* Bytes to reserve in a params block for the panels of a [K, N] B, alignment slack
 * included; false on overflow. */
bool pnn_packed_gemm_bytes(size_t k, size_t n, size_t *bytes);

/* Packs B' = alpha * (trans ? B^T : B), B' being [K, N] (B stored [N, K] when trans),
 * into `region` (pnn_packed_gemm_bytes long) and fills `out`. */
void pnn_packed_gemm_pack(const float *b, bool trans, float alpha, size_t k, size_t n,
                          pnn_f32_gemm_pb_fn gemm, void *region, pnn_packed_gemm *out);

/* C [M, N] (row stride ldc) = act(A [M, K] B' + row_bias[m] + col_bias[n]); either bias
 * may be NULL. */
void pnn_packed_gemm_run(const pnn_packed_gemm *g, size_t m, const float *a, size_t lda, float *c,
                         size_t ldc, const float *row_bias, const float *col_bias, pnn_activation act);

#endif /* PNN_OPS_PACKED_GEMM_H */
