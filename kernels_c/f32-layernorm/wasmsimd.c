/* f32 layer normalization for WebAssembly SIMD128: the ISA-neutral driver
 * layernorm_impl.h. */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include "pnn_vhooks_wasm.h"

#define PNN_LAYERNORM_FN pnn_f32_layernorm_wasmsimd
#include "layernorm_impl.h"

#endif /* __wasm_simd128__ */
