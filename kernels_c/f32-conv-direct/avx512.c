/* f32 direct convolution for AVX-512F: the vector hooks of direct_driver.h (16 output
 * columns x 16 output channels per step, 16 accumulators). Tap vectors outside the
 * interior come from pnn_x86_taps.h (masked loads, lane permutes; no pointer leaves the
 * row). */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif

#define PNN_X86_ACT_AVX512
#include "pnn_x86_act.h"
#include "pnn_x86_taps.h"

typedef __m512 cd_vec;
#define CD_LANES 16
#define CD_CHANNELS 16
#define CD_KERNEL pnn_f32_conv_direct_avx512

static PNN_ALWAYS_INLINE cd_vec cd_set1(float v) { return _mm512_set1_ps(v); }
static PNN_ALWAYS_INLINE cd_vec cd_fma(cd_vec a, cd_vec b, cd_vec acc) { return _mm512_fmadd_ps(a, b, acc); }
static PNN_ALWAYS_INLINE cd_vec cd_act(cd_vec v, int kind, cd_vec alpha, cd_vec beta) {
  return pnn_act512(v, kind, alpha, beta);
}
static PNN_ALWAYS_INLINE cd_vec cd_s2_order(cd_vec v) { return v; }
static PNN_ALWAYS_INLINE void cd_store(float *p, cd_vec v, size_t count) {
  if (count == CD_LANES) _mm512_storeu_ps(p, v);
  else _mm512_mask_storeu_ps(p, pnn_mask16(count), v);
}

static PNN_ALWAYS_INLINE cd_vec cd_load_inside(const float *r, ptrdiff_t d, size_t stride) {
  if (stride == 1) return _mm512_loadu_ps(r + d);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps(_mm512_loadu_ps(r + d), even, _mm512_loadu_ps(r + d + 16));
}

static PNN_ALWAYS_INLINE cd_vec cd_load_checked(const float *r, ptrdiff_t d, size_t in_w, size_t stride) {
  return pnn_taps_load_strided(r, d, in_w, stride);
}

#include "direct_driver.h"

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#endif /* x86-64 */
