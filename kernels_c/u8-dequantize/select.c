/* Picks the fastest u8 -> f32 DequantizeLinear variants this CPU can run (the reference
 * off x86: compilers vectorize its loop for NEON and SIMD128 already). */
#include "pnn_kernels.h"

pnn_u8_dequantize_f32_fn pnn_u8_dequantize_f32_select(const struct pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_u8_dequantize_f32_avx2;
  }
#else
  (void)cpu;
#endif
  if (name) *name = "scalar";
  return pnn_u8_dequantize_f32_scalar;
}

pnn_u8_dequantize_bias_f32_fn pnn_u8_dequantize_bias_f32_select(const struct pnn_cpu_features *cpu,
                                                                const char **name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_u8_dequantize_bias_f32_avx2;
  }
#else
  (void)cpu;
#endif
  if (name) *name = "scalar";
  return pnn_u8_dequantize_bias_f32_scalar;
}
