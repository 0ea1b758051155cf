/* Picks the fastest activation pack this CPU can run (the AVX2 one only exists on x86). */
#include "pnn_kernels.h"

pnn_b1_pack_fn pnn_b1_pack_select(const pnn_cpu_features *cpu) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx2_fma) return pnn_b1_pack_avx2;
#else
  (void)cpu;
#endif
  return pnn_b1_pack_scalar;
}
