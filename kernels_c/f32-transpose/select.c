/* Picks the 2-D f32 transpose this CPU runs best. Each SIMD variant is only compiled
 * (and referenced) on its own architecture; AVX-512 hosts take the AVX2 tiles (the
 * transpose is bound by memory, not by vector width). */
#include "pnn_kernels.h"

pnn_f32_transpose2d_fn pnn_f32_transpose2d_select(const struct pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_f32_transpose2d_avx2;
  }
#elif defined(__aarch64__)
  (void)cpu;
  if (name) *name = "neon";
  return pnn_f32_transpose2d_neon;
#elif defined(__wasm_simd128__)
  (void)cpu;
  if (name) *name = "wasmsimd";
  return pnn_f32_transpose2d_wasmsimd;
#else
  (void)cpu;
#endif
  if (name) *name = "scalar";
  return pnn_f32_transpose2d_scalar;
}
