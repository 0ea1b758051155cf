/* Picks the fastest u8 x s8 -> int32 GEMM this CPU can run (the reference elsewhere). */
#include "pnn_kernels.h"

const pnn_s8_gemm_s32_kernel *pnn_s8_gemm_s32_select(const pnn_cpu_features *cpu) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512vnni) return &pnn_s8_gemm_s32_avx512vnni;
  if (cpu->avx2_fma) return &pnn_s8_gemm_s32_avx2;
#else
  (void)cpu;
#endif
  return &pnn_s8_gemm_s32_scalar;
}
