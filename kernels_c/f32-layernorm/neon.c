/* f32 layer normalization for aarch64 NEON: the ISA-neutral driver layernorm_impl.h. */
#include "pnn_kernels.h"

#if defined(__aarch64__)

#include "pnn_vhooks_neon.h"

#define PNN_LAYERNORM_FN pnn_f32_layernorm_neon
#include "layernorm_impl.h"

#endif /* __aarch64__ */
