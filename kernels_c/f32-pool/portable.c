/* f32 max pooling for targets without a dedicated variant (NEON, WASM SIMD128, ...):
 * pnn_maxpool_impl.h vectorized by the compiler for the build's baseline ISA (the
 * reference's per-pixel loop left ResNet-18's 3x3 s2 pool at 5% of its wasm run). */
#include <float.h>
#include <math.h>

#include "pnn_kernels.h"

#define MAXPOOL_T float
#define MAXPOOL_LOWEST (-FLT_MAX)
#define MAXPOOL_FN(name) pnn_f32_##name##_portable
#define MAXPOOL_IS_NAN(v) ((v) != (v))
#define MAXPOOL_NAN NAN
#include "pnn_maxpool_impl.h"
