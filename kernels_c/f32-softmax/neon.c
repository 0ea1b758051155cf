/* f32 softmax / log-softmax for aarch64 NEON: the ISA-neutral driver softmax_impl.h. */
#include "pnn_kernels.h"

#if defined(__aarch64__)

#include "pnn_vhooks_neon.h"

#define PNN_SOFTMAX_FN pnn_f32_softmax_neon
#include "softmax_impl.h"

#endif /* __aarch64__ */
