/* f32 layer normalization for AVX2 + FMA: the ISA-neutral driver layernorm_impl.h. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include "pnn_vhooks_avx2.h"

#define PNN_LAYERNORM_FN pnn_f32_layernorm_avx2
#include "layernorm_impl.h"

PNN_TARGET_END()

#endif /* x86-64 */
