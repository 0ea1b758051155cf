/* u8 max pooling built for AVX512BW: pnn_maxpool_impl.h vectorized by the
 * compiler under this file's target pragma. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx512f,avx512bw,avx2,fma")

#define MAXPOOL_T uint8_t
#define MAXPOOL_LOWEST 0
#define MAXPOOL_FN(name) pnn_u8_##name##_avx512
#include "pnn_maxpool_impl.h"

PNN_TARGET_END()

#endif /* x86-64 */
