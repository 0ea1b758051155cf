/* Picks the fastest f32 SpMM variant this CPU can run. Each SIMD variant is only
 * compiled (and referenced) on its own architecture; elsewhere the reference is used. */
#include "pnn_kernels.h"
#include "pnn_kernels_sparse.h"

pnn_f32_spmm_fn pnn_f32_spmm_select(const pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512f) {
    if (name) *name = "avx512";
    return pnn_f32_spmm_avx512;
  }
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_f32_spmm_avx2;
  }
#elif defined(__aarch64__)
  /* NEON is part of the AArch64 baseline: no run-time check needed. */
  (void)cpu;
  if (name) *name = "neon";
  return pnn_f32_spmm_neon;
#elif defined(__wasm_simd128__)
  /* A wasm module is built with or without SIMD128; this one has it. */
  (void)cpu;
  if (name) *name = "wasmsimd";
  return pnn_f32_spmm_wasmsimd;
#else
  (void)cpu;
#endif
  if (name) *name = "scalar";
  return pnn_f32_spmm_scalar;
}
