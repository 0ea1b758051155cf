/* f32 layer normalization for AVX-512 F: the ISA-neutral driver layernorm_impl.h. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx512f")

#include "pnn_vhooks_avx512.h"

#define PNN_LAYERNORM_FN pnn_f32_layernorm_avx512
#include "layernorm_impl.h"

PNN_TARGET_END()

#endif /* x86-64 */
