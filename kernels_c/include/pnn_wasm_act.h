/* Vector form of the fused activations for the WebAssembly SIMD128 kernels (included
 * inside their `#if defined(__wasm_simd128__)` region). NaN handling matches
 * pnn_activate (NaN propagates). f32x4.pmax(a, b) is `a < b ? b : a` and pmin(a, b)
 * is `b < a ? b : a`: both return `a` when either is NaN, so v is always the first
 * operand of a clamp. Relu is pmax(v, 0) + 0: NaN stays NaN and -0 becomes +0 (as in
 * pnn_relu), in two instructions where V8 expands f32x4.max (NaN and signed-zero rules)
 * into eight on x86-64. Sigmoid, tanh and swish
 * have no form here: callers give them a pass after the store
 * (pnn_act_needs_scalar_pass), with pnn_activate or the vector
 * pnn_f32_activate_wasmsimd (the math in registers: pnn_vhooks_wasm.h). */
#ifndef PNN_WASM_ACT_H
#define PNN_WASM_ACT_H

#include <wasm_simd128.h>

#include "pnn_kernels.h"

#include "pnn_inline.h"

static PNN_ALWAYS_INLINE v128_t pnn_wasm_act(v128_t v, int kind, v128_t alpha, v128_t beta) {
  const v128_t zero = wasm_f32x4_const_splat(0.0f);
  const v128_t one = wasm_f32x4_const_splat(1.0f);
  switch (kind) {
    case PNN_ACT_RELU: return wasm_f32x4_add(wasm_f32x4_pmax(v, zero), zero);
    case PNN_ACT_CLIP: return wasm_f32x4_pmin(wasm_f32x4_pmax(v, alpha), beta);
    case PNN_ACT_LEAKY_RELU: /* v >= 0 is false for NaN: NaN * alpha is NaN */
      return wasm_v128_bitselect(v, wasm_f32x4_mul(v, alpha), wasm_f32x4_ge(v, zero));
    case PNN_ACT_HARD_SIGMOID: {
      const v128_t y = wasm_f32x4_add(wasm_f32x4_mul(alpha, v), beta);
      return wasm_f32x4_pmin(wasm_f32x4_pmax(y, zero), one);
    }
    case PNN_ACT_HARD_SWISH: {
      v128_t y = wasm_f32x4_add(wasm_f32x4_mul(v, wasm_f32x4_const_splat(1.0f / 6.0f)),
                                wasm_f32x4_const_splat(0.5f));
      y = wasm_f32x4_pmin(wasm_f32x4_pmax(y, zero), one);
      return wasm_f32x4_mul(v, y);
    }
    default: return v; /* none; sigmoid/tanh/swish get a pass after the store */
  }
}

#endif /* PNN_WASM_ACT_H */
