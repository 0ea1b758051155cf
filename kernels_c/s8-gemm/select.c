/* Picks the fastest s8 (and s4) GEMM variant this CPU can run. Each SIMD variant is only
 * compiled (and referenced) on its own architecture; elsewhere the reference is used. */
#include "pnn_kernels.h"

const pnn_s8_gemm_kernel *pnn_s8_gemm_select(const pnn_cpu_features *cpu) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512vnni) return &pnn_s8_gemm_avx512vnni;
  if (cpu->avxvnni) return &pnn_s8_gemm_avxvnni;
  if (cpu->avx2_fma) return &pnn_s8_gemm_avx2;
#elif defined(__aarch64__)
  /* NEON is part of the AArch64 baseline; sdot (ARMv8.2 dotprod) is optional. */
  if (cpu->neon_dotprod) return &pnn_s8_gemm_neondot;
  return &pnn_s8_gemm_neon;
#elif defined(__wasm_simd128__)
  /* A wasm module is built with or without SIMD128; this one has it. */
  (void)cpu;
  return &pnn_s8_gemm_wasmsimd;
#else
  (void)cpu;
#endif
  return &pnn_s8_gemm_scalar;
}

const pnn_s8_gemm_kernel *pnn_s8_gemm_select_weights(const pnn_cpu_features *cpu, size_t M,
                                                     size_t K, const int8_t *W) {
  const pnn_s8_gemm_kernel *best = pnn_s8_gemm_select(cpu);
#if defined(__x86_64__) || defined(_M_X64)
  if (best == &pnn_s8_gemm_avx2 && pnn_s8_gemm_avx2_maddubs_fits(M, K, W)) return &pnn_s8_gemm_avx2_maddubs;
#else
  (void)M;
  (void)K;
  (void)W;
#endif
  return best;
}

const pnn_s8_gemm_kernel *pnn_s4_gemm_select(const pnn_cpu_features *cpu) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512vnni) return &pnn_s4_gemm_avx512vnni;
  if (cpu->avxvnni) return &pnn_s4_gemm_avxvnni;
  if (cpu->avx2_fma) return &pnn_s4_gemm_avx2;
#elif defined(__aarch64__)
  if (cpu->neon_dotprod) return &pnn_s4_gemm_neondot;
  return &pnn_s4_gemm_neon;
#elif defined(__wasm_simd128__)
  (void)cpu;
  return &pnn_s4_gemm_wasmsimd;
#else
  (void)cpu;
#endif
  return &pnn_s4_gemm_scalar;
}
