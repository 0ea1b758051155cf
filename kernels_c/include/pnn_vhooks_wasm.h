/* WebAssembly SIMD128 hooks of pnn_vmath.h: the vector math as pnn_vmwasm_exp, ...
 * SIMD128 has no fused multiply-add (relaxed SIMD does not work here, TOOLCHAINS.md):
 * PV_fma rounds twice, which costs erfc's exact split of z^2 (erf stays within 3e-7). */
#ifndef PNN_VHOOKS_WASM_H
#define PNN_VHOOKS_WASM_H

#include <math.h>
#include <wasm_simd128.h>

#include "pnn_inline.h"

#define PV_F v128_t
#define PV_M v128_t
#define PV_N 4
#define PV_load(p) wasm_v128_load(p)
#define PV_store(p, v) wasm_v128_store(p, v)
#define PV_splat(f) wasm_f32x4_splat(f)
#define PV_add(a, b) wasm_f32x4_add(a, b)
#define PV_sub(a, b) wasm_f32x4_sub(a, b)
#define PV_mul(a, b) wasm_f32x4_mul(a, b)
#define PV_div(a, b) wasm_f32x4_div(a, b)
#define PV_fma(a, b, c) wasm_f32x4_add(wasm_f32x4_mul(a, b), c)
#define PV_fnma(a, b, c) wasm_f32x4_sub(c, wasm_f32x4_mul(a, b))
#define PV_min(a, b) wasm_f32x4_min(a, b)
#define PV_max(a, b) wasm_f32x4_max(a, b)
#define PV_sqrt(a) wasm_f32x4_sqrt(a)
#define PV_round(a) wasm_f32x4_nearest(a)
#define PV_floor(a) wasm_f32x4_floor(a)
#define PV_ceil(a) wasm_f32x4_ceil(a)
#define PV_abs(a) wasm_f32x4_abs(a)
#define PV_neg(a) wasm_f32x4_neg(a)
#define PV_lt(a, b) wasm_f32x4_lt(a, b)
#define PV_le(a, b) wasm_f32x4_le(a, b)
#define PV_gt(a, b) wasm_f32x4_gt(a, b)
#define PV_ge(a, b) wasm_f32x4_ge(a, b)
#define PV_eq(a, b) wasm_f32x4_eq(a, b)
#define PV_isnan(a) wasm_f32x4_ne(a, a)
#define PV_blend(m, t, f) wasm_v128_bitselect(t, f, m)
#define PV_copysign(mag, sgn) wasm_v128_bitselect(sgn, mag, wasm_i32x4_splat(INT32_MIN))
#define PV_exp2i(n) wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23)
#define PV_mantissa(a) wasm_v128_or(wasm_v128_and(a, wasm_i32x4_splat(0x007FFFFF)), wasm_i32x4_splat(0x3F000000))
#define PV_exponent(a) wasm_f32x4_convert_i32x4(wasm_i32x4_sub(wasm_u32x4_shr(a, 23), wasm_i32x4_splat(126)))
#define PNN_VM(name) pnn_vmwasm_##name

#include "pnn_vmath.h"

#endif /* PNN_VHOOKS_WASM_H */
