/* f32 element-wise unary kernels and in-place fused activation for AVX-512 F (16 lanes):
 * the ISA-neutral driver unary_impl.h over the vector math of pnn_vmath.h. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx512f")

#include "pnn_vhooks_avx512.h"

#define PNN_UNARY_FN pnn_f32_unary_avx512
#define PNN_ACTIVATE_FN pnn_f32_activate_avx512
#include "unary_impl.h"

PNN_TARGET_END()

#endif /* x86-64 */
