/* f32 layer normalization for AVX2 + FMA: the ISA-neutral driver layernorm_impl.h. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include "pnn_vhooks_avx2.h"

#define PNN_LAYERNORM_FN pnn_f32_layernorm_avx2
#include "layernorm_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* x86-64 */
