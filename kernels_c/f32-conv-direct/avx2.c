/* f32 direct convolution for AVX2 + FMA: the vector hooks of direct_driver.h (8 output
 * columns x 8 output channels per step: 8 accumulators, the tap and the broadcast
 * weight fit the 16 ymm registers; a block of 16 channels is two steps). Stride-2 taps
 * stay in the lane order of pnn_taps8_even (one in-lane shuffle per tap), restored
 * once per output vector at the store. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>

#define PNN_X86_ACT_AVX2
#include "pnn_x86_act.h"
#include "pnn_x86_taps.h"

#define CD_CHANNELS 8
#define CD_KERNEL pnn_f32_conv_direct_avx2
/* Sigmoid, tanh and swish after the store in vectors (the scalar pass with expf took
 * about 5 ns an output: 2-3 ms of ddddocr's CNN, whose every 3x3 conv ends in swish). */
#define CD_ACTIVATE_PASS pnn_f32_activate_avx2

static PNN_ALWAYS_INLINE pnn_f32v cd_load_inside(const float *r, ptrdiff_t d, size_t stride) {
  if (stride == 1) return _mm256_loadu_ps(r + d);
  return pnn_taps8_even(_mm256_loadu_ps(r + d), _mm256_loadu_ps(r + d + 8));
}

static PNN_ALWAYS_INLINE pnn_f32v cd_load_checked(const float *r, ptrdiff_t d, size_t in_w, size_t stride) {
  if (stride == 1) return pnn_taps8_span(r, d, in_w);
  return pnn_taps8_even(pnn_taps8_span(r, d, in_w), pnn_taps8_span(r, d + 8, in_w));
}

#include "direct_driver.h"

PNN_TARGET_END()

#endif /* x86-64 */
