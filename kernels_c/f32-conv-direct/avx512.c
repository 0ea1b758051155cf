/* f32 direct convolution for AVX-512F: the vector hooks of direct_driver.h (16 output
 * columns x 16 output channels per step, 16 accumulators). Tap vectors outside the
 * interior come from pnn_x86_taps.h (masked loads, lane permutes; no pointer leaves the
 * row). */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx512f,avx2,fma")

#define PNN_X86_ACT_AVX512
#include "pnn_x86_act.h"
#include "pnn_x86_taps.h"

#define CD_CHANNELS 16
#define CD_KERNEL pnn_f32_conv_direct_avx512
/* Sigmoid, tanh and swish after the store in vectors (the scalar pass with expf took
 * about 5 ns an output: 2-3 ms of ddddocr's CNN, whose every 3x3 conv ends in swish). */
#define CD_ACTIVATE_PASS pnn_f32_activate_avx512

static PNN_ALWAYS_INLINE pnn_f32v cd_load_inside(const float *r, ptrdiff_t d, size_t stride) {
  if (stride == 1) return _mm512_loadu_ps(r + d);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps(_mm512_loadu_ps(r + d), even, _mm512_loadu_ps(r + d + 16));
}

static PNN_ALWAYS_INLINE pnn_f32v cd_load_checked(const float *r, ptrdiff_t d, size_t in_w, size_t stride) {
  return pnn_taps_load_strided(r, d, in_w, stride);
}

#include "direct_driver.h"

PNN_TARGET_END()

#endif /* x86-64 */
