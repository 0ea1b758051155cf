/* f32 element-wise unary kernels and in-place fused activation for aarch64 NEON (4
 * lanes): the ISA-neutral driver unary_impl.h over the vector math of pnn_vmath.h. */
#include "pnn_kernels.h"

#if defined(__aarch64__)

#include "pnn_vhooks_neon.h"

#define PNN_UNARY_FN pnn_f32_unary_neon
#define PNN_ACTIVATE_FN pnn_f32_activate_neon
#include "unary_impl.h"

#endif /* __aarch64__ */
