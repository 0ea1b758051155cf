/* f32 max pooling built for AVX-512F: pnn_maxpool_impl.h vectorized by the compiler under
 * this file's target pragma. */
#include "pnn_kernels.h"

#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif

#include <float.h>
#include <math.h>

#define MAXPOOL_T float
#define MAXPOOL_LOWEST (-FLT_MAX)
#define MAXPOOL_FN(name) pnn_f32_##name##_avx512
#define MAXPOOL_IS_NAN(v) ((v) != (v))
#define MAXPOOL_NAN NAN
#include "pnn_maxpool_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* __x86_64__ */
