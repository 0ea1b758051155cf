/* Vector form of the fused activations for the NEON kernels (included inside their
 * `#if defined(__aarch64__)` region). NaN handling matches pnn_activate (NaN
 * propagates): FMAX/FMIN return NaN when either operand is NaN (unlike FMAXNM, which
 * returns the number), and FMAX(-0, +0) is +0 as in pnn_relu. Sigmoid, tanh and swish
 * have no form here: callers give them a pass after the store
 * (pnn_act_needs_scalar_pass), with pnn_activate or the vector pnn_f32_activate_neon
 * (the math in registers: pnn_vhooks_neon.h). */
#ifndef PNN_NEON_ACT_H
#define PNN_NEON_ACT_H

#include <arm_neon.h>

#include "pnn_kernels.h"

#include "pnn_inline.h"

static PNN_ALWAYS_INLINE float32x4_t pnn_neon_act(float32x4_t v, int kind, float alpha, float beta) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  const float32x4_t one = vdupq_n_f32(1.0f);
  switch (kind) {
    case PNN_ACT_RELU: return vmaxq_f32(v, zero);
    case PNN_ACT_CLIP: return vminq_f32(vdupq_n_f32(beta), vmaxq_f32(vdupq_n_f32(alpha), v));
    case PNN_ACT_LEAKY_RELU: /* v >= 0 is false for NaN: NaN * alpha is NaN */
      return vbslq_f32(vcgeq_f32(v, zero), v, vmulq_n_f32(v, alpha));
    case PNN_ACT_HARD_SIGMOID: {
      const float32x4_t y = vfmaq_n_f32(vdupq_n_f32(beta), v, alpha);
      return vminq_f32(one, vmaxq_f32(zero, y));
    }
    case PNN_ACT_HARD_SWISH: {
      float32x4_t y = vfmaq_n_f32(vdupq_n_f32(0.5f), v, 1.0f / 6.0f);
      y = vminq_f32(one, vmaxq_f32(zero, y));
      return vmulq_f32(v, y);
    }
    default: return v; /* none; sigmoid/tanh/swish get a pass after the store */
  }
}

#endif /* PNN_NEON_ACT_H */
