/* Picks the max pooling variant this CPU can run. */
#include "pnn_kernels.h"

pnn_f32_maxpool2d_fn pnn_f32_maxpool2d_select(const pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__)
  if (cpu->avx512f) {
    if (name) *name = "avx512";
    return pnn_f32_maxpool2d_avx512;
  }
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_f32_maxpool2d_avx2;
  }
  if (name) *name = "scalar";
  return pnn_f32_maxpool2d_scalar;
#else
  (void)cpu;
  if (name) *name = "portable";
  return pnn_f32_maxpool2d_portable;
#endif
}
