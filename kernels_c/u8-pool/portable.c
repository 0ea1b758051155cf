/* u8 max pooling for targets without a dedicated variant (NEON, WASM SIMD128, ...):
 * pnn_maxpool_impl.h vectorized by the compiler for the build's baseline ISA. */
#include "pnn_kernels.h"

#define MAXPOOL_T uint8_t
#define MAXPOOL_LOWEST 0
#define MAXPOOL_FN(name) pnn_u8_##name##_portable
#include "pnn_maxpool_impl.h"
