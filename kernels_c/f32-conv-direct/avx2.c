/* f32 direct convolution for AVX2 + FMA: the vector hooks of direct_driver.h (8 output
 * columns x 8 output channels per step: 8 accumulators, the tap and the broadcast
 * weight fit the 16 ymm registers; a block of 16 channels is two steps). Stride-2 taps
 * stay in the lane order of pnn_taps8_even (one in-lane shuffle per tap), restored
 * once per output vector at the store. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include <immintrin.h>

#define PNN_X86_ACT_AVX2
#include "pnn_x86_act.h"
#include "pnn_x86_taps.h"

typedef __m256 cd_vec;
#define CD_LANES 8
#define CD_CHANNELS 8
#define CD_KERNEL pnn_f32_conv_direct_avx2

static PNN_ALWAYS_INLINE cd_vec cd_set1(float v) { return _mm256_set1_ps(v); }
static PNN_ALWAYS_INLINE cd_vec cd_fma(cd_vec a, cd_vec b, cd_vec acc) { return _mm256_fmadd_ps(a, b, acc); }
static PNN_ALWAYS_INLINE cd_vec cd_act(cd_vec v, int kind, cd_vec alpha, cd_vec beta) {
  return pnn_act256(v, kind, alpha, beta);
}
static PNN_ALWAYS_INLINE cd_vec cd_s2_order(cd_vec v) { return pnn_taps8_in_order(v); }
static PNN_ALWAYS_INLINE void cd_store(float *p, cd_vec v, size_t count) {
  if (count == CD_LANES) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, pnn_mask8(count), v);
}

static PNN_ALWAYS_INLINE cd_vec cd_load_inside(const float *r, ptrdiff_t d, size_t stride) {
  if (stride == 1) return _mm256_loadu_ps(r + d);
  return pnn_taps8_even(_mm256_loadu_ps(r + d), _mm256_loadu_ps(r + d + 8));
}

static PNN_ALWAYS_INLINE cd_vec cd_load_checked(const float *r, ptrdiff_t d, size_t in_w, size_t stride) {
  if (stride == 1) return pnn_taps8_span(r, d, in_w);
  return pnn_taps8_even(pnn_taps8_span(r, d, in_w), pnn_taps8_span(r, d + 8, in_w));
}

#include "direct_driver.h"

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* x86-64 */
