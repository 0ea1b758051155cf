/* Picks the fastest u8 x u8 matrix product this CPU can run. The SIMD variants are only
 * compiled (and referenced) on x86-64; elsewhere the reference runs. */
#include "pnn_kernels.h"

const pnn_u8_matmul_kernel *pnn_u8_matmul_select(const pnn_cpu_features *cpu) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512bw) return &pnn_u8_matmul_avx512;
  if (cpu->avx2_fma) return &pnn_u8_matmul_avx2;
#else
  (void)cpu;
#endif
  return &pnn_u8_matmul_scalar;
}
