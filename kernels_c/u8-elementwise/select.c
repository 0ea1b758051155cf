/* Picks the fastest u8 element-wise Add variant this CPU can run. Each SIMD
 * variant is only compiled (and referenced) on its own architecture. */
#include "pnn_kernels.h"

pnn_u8_add_fn pnn_u8_add_select(const pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__) || defined(_M_X64)
  /* No AVX-512 variant: it measured within 5% of AVX2 (both bound by the 64-bit
   * multiplies). */
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_u8_add_avx2;
  }
#elif defined(__aarch64__)
  /* NEON is part of the AArch64 baseline: no run-time check needed. */
  (void)cpu;
  if (name) *name = "neon";
  return pnn_u8_add_neon;
#elif defined(__wasm_simd128__)
  /* A wasm module is built with or without SIMD128; this one has it. */
  (void)cpu;
  if (name) *name = "wasmsimd";
  return pnn_u8_add_wasmsimd;
#else
  (void)cpu;
#endif
  if (name) *name = "scalar";
  return pnn_u8_add_scalar;
}
