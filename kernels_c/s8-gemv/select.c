/* Picks the fastest u8 x s8 -> int32 GEMV this CPU can run (the reference elsewhere). */
#include "pnn_kernels.h"

const pnn_s8_gemv_kernel *pnn_s8_gemv_select(const pnn_cpu_features *cpu) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512vnni) return &pnn_s8_gemv_avx512vnni;
  if (cpu->avx2_fma) return &pnn_s8_gemv_avx2;
#else
  (void)cpu;
#endif
  return &pnn_s8_gemv_scalar;
}
