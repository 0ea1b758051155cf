/* Picks the fastest u8 depthwise-convolution variant this CPU can run. Each SIMD
 * variant is only compiled (and referenced) on its own architecture. */
#include "pnn_kernels.h"

pnn_s8_dwconv_fn pnn_s8_dwconv_select(const pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512bw) {
    if (name) *name = "avx512";
    return pnn_s8_dwconv_avx512;
  }
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_s8_dwconv_avx2;
  }
#elif defined(__aarch64__)
  /* NEON is part of the AArch64 baseline: no run-time check needed. */
  (void)cpu;
  if (name) *name = "neon";
  return pnn_s8_dwconv_neon;
#elif defined(__wasm_simd128__)
  /* A wasm module is built with or without SIMD128; this one has it. */
  (void)cpu;
  if (name) *name = "wasmsimd";
  return pnn_s8_dwconv_wasmsimd;
#else
  (void)cpu;
#endif
  if (name) *name = "scalar";
  return pnn_s8_dwconv_scalar;
}
