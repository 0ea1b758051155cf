/* Picks the panel im2col variant this CPU can run. */
#include "pnn_kernels.h"

pnn_f32_im2col_panel_fn pnn_f32_im2col_panel_select(const pnn_cpu_features *cpu, const char **name) {
#if defined(__x86_64__)
  if (cpu->avx512f) {
    if (name) *name = "avx512";
    return pnn_f32_im2col_panel_avx512;
  }
  if (cpu->avx2_fma) {
    if (name) *name = "avx2";
    return pnn_f32_im2col_panel_avx2;
  }
#else
  (void)cpu;
#endif
  if (name) *name = "scalar";
  return pnn_f32_im2col_panel_scalar;
}
