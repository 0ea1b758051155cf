/* Picks the f32 layer normalization kernel this CPU can run (the scalar reference without SIMD).
 * Each SIMD variant is only compiled (and referenced) on its own architecture. */
#include "pnn_kernels.h"

pnn_f32_layernorm_fn pnn_f32_layernorm_select(const pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512f) {
    if (name) *name = "avx512";
    return pnn_f32_layernorm_avx512;
  }
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_f32_layernorm_avx2;
  }
#elif defined(__aarch64__)
  (void)cpu;
  if (name) *name = "neon";
  return pnn_f32_layernorm_neon;
#elif defined(__wasm_simd128__)
  (void)cpu;
  if (name) *name = "wasmsimd";
  return pnn_f32_layernorm_wasmsimd;
#else
  (void)cpu;
#endif
  if (name) *name = "scalar";
  return pnn_f32_layernorm_scalar;
}
