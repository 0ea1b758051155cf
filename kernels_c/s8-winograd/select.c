/* Picks the Winograd variant that beats this CPU's s8 GEMM on 3x3 layers, or none. */
#include "pnn_kernels.h"

const pnn_s8_wino2_kernel *pnn_s8_wino2_select(const pnn_cpu_features *cpu) {
#if defined(__x86_64__) || defined(_M_X64)
  /* VNNI's vpdpbusd (4 u8 x s8 products per lane) keeps the GEMM ahead. */
  if (cpu->avx2_fma && !cpu->avx512vnni && !cpu->avxvnni) return &pnn_s8_wino2_avx2;
#else
  (void)cpu;
#endif
  return NULL;
}
