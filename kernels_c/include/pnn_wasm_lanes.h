/* The first n lanes of a SIMD128 vector loaded from or stored to floats that may end
 * there (the tails of a row): SIMD128 has no masked loads or stores, and a
 * variable-size memcpy is a call in wasm, so lane by lane. Included inside a
 * `#if defined(__wasm_simd128__)` region. */
#ifndef PNN_WASM_LANES_H
#define PNN_WASM_LANES_H

#include <stddef.h>
#include <wasm_simd128.h>

#include "pnn_inline.h"

/* Lanes [0, n) of p (all four when n >= 4), zeros elsewhere. */
static PNN_ALWAYS_INLINE v128_t pnn_wasm_load_first(const float *p, size_t n) {
  if (n >= 4) return wasm_v128_load(p);
  return wasm_f32x4_make(n > 0 ? p[0] : 0.0f, n > 1 ? p[1] : 0.0f, n > 2 ? p[2] : 0.0f, 0.0f);
}

/* Lanes [0, n) of v to p (all four when n >= 4). */
static PNN_ALWAYS_INLINE void pnn_wasm_store_first(float *p, size_t n, v128_t v) {
  if (n >= 4) {
    wasm_v128_store(p, v);
    return;
  }
  if (n > 0) p[0] = wasm_f32x4_extract_lane(v, 0);
  if (n > 1) p[1] = wasm_f32x4_extract_lane(v, 1);
  if (n > 2) p[2] = wasm_f32x4_extract_lane(v, 2);
}

#endif /* PNN_WASM_LANES_H */
