/* Picks the f32 unary kernel and the in-place activation this CPU can run (the scalar
 * reference when it has no SIMD variant). Each SIMD variant is only compiled (and
 * referenced) on its own architecture. */
#include "pnn_kernels.h"

pnn_f32_unary_fn pnn_f32_unary_select(const pnn_cpu_features *cpu, pnn_f32_activate_fn *activate,
                                      const char **name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512f) {
    if (activate) *activate = pnn_f32_activate_avx512;
    if (name) *name = "avx512";
    return pnn_f32_unary_avx512;
  }
  if (cpu->avx2_fma) {
    if (activate) *activate = pnn_f32_activate_avx2;
    if (name) *name = "avx2";
    return pnn_f32_unary_avx2;
  }
#elif defined(__aarch64__)
  (void)cpu;
  if (activate) *activate = pnn_f32_activate_neon;
  if (name) *name = "neon";
  return pnn_f32_unary_neon;
#elif defined(__wasm_simd128__)
  (void)cpu;
  if (activate) *activate = pnn_f32_activate_wasmsimd;
  if (name) *name = "wasmsimd";
  return pnn_f32_unary_wasmsimd;
#else
  (void)cpu;
#endif
  if (activate) *activate = pnn_f32_activate_scalar;
  if (name) *name = "scalar";
  return pnn_f32_unary_scalar;
}
