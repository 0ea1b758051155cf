/* Picks the u8 max pooling variant this CPU can run. */
#include "pnn_kernels.h"

pnn_u8_maxpool2d_fn pnn_u8_maxpool2d_select(const struct pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512bw) {
    if (name) *name = "avx512";
    return pnn_u8_maxpool2d_avx512;
  }
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_u8_maxpool2d_avx2;
  }
#else
  (void)cpu;
#endif
  if (name) *name = "portable";
  return pnn_u8_maxpool2d_portable;
}
