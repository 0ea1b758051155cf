/* f32 element-wise unary kernels and in-place fused activation for AVX2 + FMA (8 lanes):
 * the ISA-neutral driver unary_impl.h over the vector math of pnn_vmath.h. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include "pnn_vhooks_avx2.h"

#define PNN_UNARY_FN pnn_f32_unary_avx2
#define PNN_ACTIVATE_FN pnn_f32_activate_avx2
#include "unary_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* x86-64 */
