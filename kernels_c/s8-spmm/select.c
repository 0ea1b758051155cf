/* Picks the fastest u8 SpMM variant this CPU can run. Each SIMD variant is only
 * compiled (and referenced) on its own architecture; elsewhere the reference is used. */
#include "pnn_kernels.h"

pnn_u8_spmm_fn pnn_u8_spmm_select(const pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512vnni) {
    if (name) *name = "avx512vnni";
    return pnn_u8_spmm_avx512vnni;
  }
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_u8_spmm_avx2;
  }
#elif defined(__aarch64__)
  /* NEON is part of the AArch64 baseline: no run-time check needed. */
  (void)cpu;
  if (name) *name = "neon";
  return pnn_u8_spmm_neon;
#elif defined(__wasm_simd128__)
  /* A wasm module is built with or without SIMD128; this one has it. */
  (void)cpu;
  if (name) *name = "wasmsimd";
  return pnn_u8_spmm_wasmsimd;
#else
  (void)cpu;
#endif
  if (name) *name = "scalar";
  return pnn_u8_spmm_scalar;
}
