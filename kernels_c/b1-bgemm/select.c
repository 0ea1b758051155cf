/* Picks the fastest binary GEMM variant this CPU can run. Each SIMD variant is only
 * compiled (and referenced) on its own architecture; elsewhere the reference is used. */
#include "pnn_kernels.h"

const pnn_b1_gemm_kernel *pnn_b1_gemm_select(const pnn_cpu_features *cpu) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512vpopcntdq) return &pnn_b1_gemm_avx512vpopcnt;
  if (cpu->avx512bw) return &pnn_b1_gemm_avx512bw;
  if (cpu->avx2_fma) return &pnn_b1_gemm_avx2;
#elif defined(__aarch64__)
  (void)cpu; /* NEON is part of the AArch64 baseline */
  return &pnn_b1_gemm_neon;
#elif defined(__wasm_simd128__)
  (void)cpu; /* a wasm module is built with or without SIMD128; this one has it */
  return &pnn_b1_gemm_wasmsimd;
#else
  (void)cpu;
#endif
  return &pnn_b1_gemm_scalar;
}
