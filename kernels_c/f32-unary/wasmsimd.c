/* f32 element-wise unary kernels and in-place fused activation for WebAssembly
 * SIMD128 (4 lanes): the ISA-neutral driver unary_impl.h over the vector math of
 * pnn_vmath.h. */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include "pnn_vhooks_wasm.h"

#define PNN_UNARY_FN pnn_f32_unary_wasmsimd
#define PNN_ACTIVATE_FN pnn_f32_activate_wasmsimd
#include "unary_impl.h"

#endif /* __wasm_simd128__ */
