/* The direct convolution is only worth it where a SIMD variant exists (elsewhere
 * im2col + GEMM is the faster portable path). */
#include "pnn_kernels.h"

pnn_f32_conv_direct_fn pnn_f32_conv_direct_select(const pnn_cpu_features *cpu, const pnn_conv2d_geometry *g,
                                                  const char **name) {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu->avx512f && pnn_conv_direct_applies(g)) {
    if (name) *name = "avx512";
    return pnn_f32_conv_direct_avx512;
  }
  if (cpu->avx2_fma && pnn_conv_direct_applies(g)) {
    if (name) *name = "avx2";
    return pnn_f32_conv_direct_avx2;
  }
#endif
  (void)cpu;
  (void)g;
  if (name) *name = NULL;
  return NULL;
}
