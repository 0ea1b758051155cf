/* Picks the SIMD binary kernels this CPU can run (none: the scalar reference). */
#include "pnn_kernels.h"

int pnn_f32_binary_simd_select(const pnn_cpu_features *cpu, pnn_f32_binary_simd *k, const char **name) {
#if defined(__x86_64__)
  if (cpu->avx512f) {
    *k = (pnn_f32_binary_simd){pnn_f32_binary_vv_avx512, pnn_f32_binary_vs_avx512, pnn_f32_binary_sv_avx512};
    if (name) *name = "avx512";
    return 1;
  }
  if (cpu->avx2_fma) {
    *k = (pnn_f32_binary_simd){pnn_f32_binary_vv_avx2, pnn_f32_binary_vs_avx2, pnn_f32_binary_sv_avx2};
    if (name) *name = "avx2";
    return 1;
  }
#else
  (void)cpu;
#endif
  *k = (pnn_f32_binary_simd){NULL, NULL, NULL};
  if (name) *name = "scalar";
  return 0;
}
