/* u8 max pooling built for AVX2: pnn_maxpool_impl.h vectorized by the
 * compiler under this file's target pragma. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#define MAXPOOL_T uint8_t
#define MAXPOOL_LOWEST 0
#define MAXPOOL_FN(name) pnn_u8_##name##_avx2
#include "pnn_maxpool_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* x86-64 */
