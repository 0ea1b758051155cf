/* Picks the fastest f32 depthwise-convolution variant this CPU can run. The SIMD
 * variants are only compiled (and only referenced) on x86-64. */
#include "pnn_kernels.h"

pnn_f32_dwconv_fn pnn_f32_dwconv_select(const pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512f) {
    if (name) *name = "avx512";
    return pnn_f32_dwconv_avx512;
  }
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_f32_dwconv_avx2;
  }
#else
  (void)cpu;
#endif
  if (name) *name = "scalar";
  return pnn_f32_dwconv_scalar;
}
