/* f32 element-wise unary kernels and in-place fused activation for AVX2 + FMA (8 lanes):
 * the ISA-neutral driver unary_impl.h over the vector math of pnn_vmath.h. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include "pnn_vhooks_avx2.h"

#define PNN_UNARY_FN pnn_f32_unary_avx2
#define PNN_ACTIVATE_FN pnn_f32_activate_avx2
#include "unary_impl.h"

PNN_TARGET_END()

#endif /* x86-64 */
