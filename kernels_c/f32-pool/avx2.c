/* f32 max pooling built for AVX2: pnn_maxpool_impl.h vectorized by the compiler under this
 * file's target pragma (an AVX2-only CPU ran the scalar reference: 3% of ResNet-50). */
#include "pnn_kernels.h"

#if defined(__x86_64__)

PNN_TARGET_BEGIN("avx2,fma")

#include <float.h>
#include <math.h>

#define MAXPOOL_T float
#define MAXPOOL_LOWEST (-FLT_MAX)
#define MAXPOOL_FN(name) pnn_f32_##name##_avx2
#define MAXPOOL_IS_NAN(v) ((v) != (v))
#define MAXPOOL_NAN NAN
#include "pnn_maxpool_impl.h"

PNN_TARGET_END()

#endif /* __x86_64__ */
