/* Constant-B GEMM on pre-packed panels (see packed_gemm.h). */
#include "packed_gemm.h"

#include <stdint.h>
#include <string.h>

#include "nn_common.h"

pnn_f32_gemm_pb_fn pnn_packed_gemm_kernel(const pnn_model *model, const char **isa) {
  const char *name = "scalar";
  const pnn_f32_gemm_pb_fn fn = pnn_f32_gemm_pb_select(&model->cpu, &name);
  if (strcmp(name, "scalar") == 0) return NULL;
  if (isa) *isa = name;
  return fn;
}

bool pnn_packed_gemm_bytes(size_t k, size_t n, size_t *bytes) {
  size_t floats;
  return pnn_nn_mul(pnn_nn_div_up(n, PNN_GEMM_PB_NR) * PNN_GEMM_PB_NR, k, &floats) &&
         pnn_nn_float_region(floats, bytes) && pnn_nn_add(*bytes, PNN_NN_ALIGN, bytes);
}

void pnn_packed_gemm_pack(const float *b, bool trans, float alpha, size_t k, size_t n,
                          pnn_f32_gemm_pb_fn gemm, void *region, pnn_packed_gemm *out) {
  /* The kernel loads panel rows with aligned vector loads. */
  const uintptr_t at = ((uintptr_t)region + PNN_NN_ALIGN - 1) & ~(uintptr_t)(PNN_NN_ALIGN - 1);
  float *panels = (float *)((unsigned char *)region + (at - (uintptr_t)region));
  if (trans) {
    pnn_f32_gemm_pt_pack(n, k, b, k, panels);
  } else {
    pnn_f32_gemm_pb_pack(k, n, b, n, panels);
  }
  if (alpha != 1.0f) {
    const size_t count = pnn_nn_div_up(n, PNN_GEMM_PB_NR) * PNN_GEMM_PB_NR * k;
    for (size_t i = 0; i < count; ++i) panels[i] *= alpha;
  }
  out->n = n;
  out->k = k;
  out->panels = panels;
  out->gemm = gemm;
}

void pnn_packed_gemm_run(const pnn_packed_gemm *g, size_t m, const float *a, size_t lda, float *c,
                         size_t ldc, const float *row_bias, const float *col_bias, pnn_activation act) {
  if (!col_bias) {
    g->gemm(m, g->n, g->k, a, lda, g->panels, c, ldc, row_bias, act);
    return;
  }
  /* The kernel takes a row bias only: a column bias and the activation after it are
   * one pass over C (M x N, small beside the M x N x K product). */
  const pnn_activation none = {PNN_ACT_NONE, 0.0f, 0.0f};
  g->gemm(m, g->n, g->k, a, lda, g->panels, c, ldc, row_bias, none);
  for (size_t i = 0; i < m; ++i) {
    float *row = c + i * ldc;
    if (act.kind == PNN_ACT_NONE) {
      for (size_t j = 0; j < g->n; ++j) row[j] += col_bias[j];  /* vectorized by the compiler */
    } else {
      for (size_t j = 0; j < g->n; ++j) row[j] = pnn_activate(row[j] + col_bias[j], act);
    }
  }
}
