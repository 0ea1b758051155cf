/* Picks the packed-panel GEMM variant this CPU can run. */
#include "pnn_kernels.h"

pnn_f32_gemm_pb_fn pnn_f32_gemm_pb_select(const pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__)
  if (cpu->avx512f) {
    if (name) *name = "avx512";
    return pnn_f32_gemm_pb_avx512;
  }
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_f32_gemm_pb_avx2;
  }
#elif defined(__wasm_simd128__)
  (void)cpu;
  if (name) *name = "wasmsimd";
  return pnn_f32_gemm_pb_wasmsimd;
#else
  (void)cpu;
#endif
  if (name) *name = "scalar";
  return pnn_f32_gemm_pb_scalar;
}

pnn_f32_gemm_pp_fn pnn_f32_gemm_pp_select(const pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__)
  if (cpu->avx512f) {
    if (name) *name = "avx512";
    return pnn_f32_gemm_pp_avx512;
  }
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_f32_gemm_pp_avx2;
  }
#elif defined(__wasm_simd128__)
  (void)cpu;
  if (name) *name = "wasmsimd";
  return pnn_f32_gemm_pp_wasmsimd;
#else
  (void)cpu;
#endif
  if (name) *name = "scalar";
  return pnn_f32_gemm_pp_scalar;
}

pnn_f32_gemm_pt_fn pnn_f32_gemm_pt_select(const pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__)
  if (cpu->avx512f) {
    if (name) *name = "avx512";
    return pnn_f32_gemm_pt_avx512;
  }
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_f32_gemm_pt_avx2;
  }
#else
  (void)cpu;
#endif
  if (name) *name = NULL;
  return NULL;
}

pnn_f32_gemm_pt_rows_fn pnn_f32_gemm_pt_rows_select(const pnn_cpu_features *cpu, const char **name) {
  const pnn_f32_gemm_pt_fn panels = pnn_f32_gemm_pt_select(cpu, name);
#if defined(__x86_64__)
  if (panels == pnn_f32_gemm_pt_avx512) return pnn_f32_gemm_pt_rows_avx512;
  if (panels == pnn_f32_gemm_pt_avx2) return pnn_f32_gemm_pt_rows_avx2;
#else
  (void)panels;
#endif
  return NULL;
}
