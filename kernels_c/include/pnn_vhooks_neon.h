/* aarch64 NEON hooks of pnn_vmath.h: the vector math as pnn_vmneon_exp, _sigmoid, ... */
#ifndef PNN_VHOOKS_NEON_H
#define PNN_VHOOKS_NEON_H

#include <arm_neon.h>
#include <math.h>

#include "pnn_inline.h"

#define PV_F float32x4_t
#define PV_M uint32x4_t
#define PV_N 4
#define PV_load(p) vld1q_f32(p)
#define PV_store(p, v) vst1q_f32(p, v)
#define PV_splat(f) vdupq_n_f32(f)
#define PV_add(a, b) vaddq_f32(a, b)
#define PV_sub(a, b) vsubq_f32(a, b)
#define PV_mul(a, b) vmulq_f32(a, b)
#define PV_div(a, b) vdivq_f32(a, b)
#define PV_fma(a, b, c) vfmaq_f32(c, a, b)
#define PV_fnma(a, b, c) vfmsq_f32(c, a, b)
#define PV_min(a, b) vminq_f32(a, b)
#define PV_max(a, b) vmaxq_f32(a, b)
#define PV_sqrt(a) vsqrtq_f32(a)
#define PV_round(a) vrndnq_f32(a)
#define PV_floor(a) vrndmq_f32(a)
#define PV_ceil(a) vrndpq_f32(a)
#define PV_abs(a) vabsq_f32(a)
#define PV_neg(a) vnegq_f32(a)
#define PV_lt(a, b) vcltq_f32(a, b)
#define PV_le(a, b) vcleq_f32(a, b)
#define PV_gt(a, b) vcgtq_f32(a, b)
#define PV_ge(a, b) vcgeq_f32(a, b)
#define PV_eq(a, b) vceqq_f32(a, b)
#define PV_isnan(a) vmvnq_u32(vceqq_f32(a, a))
#define PV_blend(m, t, f) vbslq_f32(m, t, f)
#define PV_copysign(mag, sgn) vbslq_f32(vdupq_n_u32(0x80000000u), sgn, mag)
#define PV_exp2i(n) \
  vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23))
#define PV_mantissa(a)                                                                   \
  vreinterpretq_f32_u32(vorrq_u32(vandq_u32(vreinterpretq_u32_f32(a), vdupq_n_u32(0x007FFFFFu)), \
                                  vdupq_n_u32(0x3F000000u)))
#define PV_exponent(a) \
  vcvtq_f32_s32(vsubq_s32(vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_f32(a), 23)), vdupq_n_s32(126)))
#define PNN_VM(name) pnn_vmneon_##name

#include "pnn_vmath.h"

#endif /* PNN_VHOOKS_NEON_H */
