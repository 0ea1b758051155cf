/* Picks the Winograd transform variant this CPU can run. */
#include "pnn_kernels.h"

void pnn_f32_wino2_select(const pnn_cpu_features *cpu, pnn_f32_wino2_input_fn *input,
                          pnn_f32_wino2_output_fn *output, const char **name) {
#if defined(__x86_64__)
  if (cpu->avx512f) {
    *input = pnn_f32_wino2_input_avx512;
    *output = pnn_f32_wino2_output_avx512;
    if (name) *name = "avx512";
    return;
  }
  if (cpu->avx2_fma) {
    *input = pnn_f32_wino2_input_avx2;
    *output = pnn_f32_wino2_output_avx2;
    if (name) *name = "avx2";
    return;
  }
#elif defined(__wasm_simd128__)
  (void)cpu;
  *input = pnn_f32_wino2_input_wasmsimd;
  *output = pnn_f32_wino2_output_wasmsimd;
  if (name) *name = "wasmsimd";
  return;
#else
  (void)cpu;
#endif
  *input = pnn_f32_wino2_input_scalar;
  *output = pnn_f32_wino2_output_scalar;
  if (name) *name = "scalar";
}
