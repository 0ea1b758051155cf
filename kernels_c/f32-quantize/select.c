/* Picks the fastest f32 -> u8 QuantizeLinear variant this CPU can run. Each SIMD
 * variant is only compiled (and referenced) on its own architecture. */
#include "pnn_kernels.h"

pnn_f32_quantize_u8_fn pnn_f32_quantize_u8_select(const struct pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_f32_quantize_u8_avx2;
  }
#elif defined(__aarch64__)
  (void)cpu;
  if (name) *name = "neon";
  return pnn_f32_quantize_u8_neon;
#elif defined(__wasm_simd128__)
  (void)cpu;
  if (name) *name = "wasmsimd";
  return pnn_f32_quantize_u8_wasmsimd;
#else
  (void)cpu;
#endif
  if (name) *name = "scalar";
  return pnn_f32_quantize_u8_scalar;
}
