/* f32 softmax / log-softmax for WebAssembly SIMD128: the ISA-neutral driver
 * softmax_impl.h. */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include "pnn_vhooks_wasm.h"

#define PNN_SOFTMAX_FN pnn_f32_softmax_wasmsimd
#include "softmax_impl.h"

#endif /* __wasm_simd128__ */
