/* Winograd F(2x2, 3x3) transforms for WebAssembly SIMD128: the vector hooks of
 * wino_impl.h, 4 tiles per vector; partial vectors lane by lane (pnn_wasm_lanes.h). */
#include "pnn_kernels.h"

#if defined(__wasm_simd128__)

#include <wasm_simd128.h>

#include "pnn_wasm_act.h"
#include "pnn_wasm_lanes.h"

#define WINO_FN(name) name##_wasmsimd
#define WINO_LANES 4

typedef v128_t wino_vec;
typedef size_t wino_mask; /* lanes [0, n) */

static PNN_ALWAYS_INLINE wino_mask wino_mask_first(size_t n) { return n; }
static PNN_ALWAYS_INLINE wino_vec wino_zero(void) { return wasm_f32x4_const_splat(0.0f); }
static PNN_ALWAYS_INLINE wino_vec wino_set1(float v) { return wasm_f32x4_splat(v); }
static PNN_ALWAYS_INLINE wino_vec wino_add(wino_vec a, wino_vec b) { return wasm_f32x4_add(a, b); }
static PNN_ALWAYS_INLINE wino_vec wino_sub(wino_vec a, wino_vec b) { return wasm_f32x4_sub(a, b); }
static PNN_ALWAYS_INLINE wino_vec wino_act(wino_vec v, int kind, wino_vec alpha, wino_vec beta) {
  return pnn_wasm_act(v, kind, alpha, beta);
}
static PNN_ALWAYS_INLINE wino_vec wino_loadu(const float *p) { return wasm_v128_load(p); }
static PNN_ALWAYS_INLINE void wino_storeu(float *p, wino_vec v) { wasm_v128_store(p, v); }
static PNN_ALWAYS_INLINE wino_vec wino_load(const float *p, wino_mask n) { return pnn_wasm_load_first(p, n); }
static PNN_ALWAYS_INLINE void wino_store_first(float *p, size_t n, wino_vec v) { pnn_wasm_store_first(p, n, v); }

static PNN_ALWAYS_INLINE void wino_split(wino_vec a0, wino_vec a1, wino_vec *even, wino_vec *odd) {
  *even = wasm_i32x4_shuffle(a0, a1, 0, 2, 4, 6);
  *odd = wasm_i32x4_shuffle(a0, a1, 1, 3, 5, 7);
}

static PNN_ALWAYS_INLINE void wino_interleave(wino_vec p0, wino_vec p1, wino_vec *lo, wino_vec *hi) {
  *lo = wasm_i32x4_shuffle(p0, p1, 0, 4, 1, 5);
  *hi = wasm_i32x4_shuffle(p0, p1, 2, 6, 3, 7);
}

/* Lane j in [first, first + count) reads piece[src + j - first]; the others are 0. */
typedef struct wino_span {
  size_t src, first, count;
} wino_span;

static PNN_ALWAYS_INLINE wino_span wino_span_zero(void) {
  const wino_span s = {0, 0, 0};
  return s;
}
static PNN_ALWAYS_INLINE wino_span wino_span_at(size_t src, size_t valid) {
  const wino_span s = {src, 0, valid < 4 ? valid : 4};
  return s;
}
static PNN_ALWAYS_INLINE wino_span wino_span_shifted(size_t shift, size_t valid) {
  const wino_span s = {0, shift, valid};
  return s;
}
static PNN_ALWAYS_INLINE float wino_span_lane(const wino_span *s, const float *piece, size_t j) {
  return j >= s->first && j - s->first < s->count ? piece[s->src + j - s->first] : 0.0f;
}
static PNN_ALWAYS_INLINE wino_vec wino_span_load(const wino_span *s, const float *piece) {
  if (s->first == 0 && s->count == 4) return wasm_v128_load(piece + s->src);
  return wasm_f32x4_make(wino_span_lane(s, piece, 0), wino_span_lane(s, piece, 1), wino_span_lane(s, piece, 2),
                         wino_span_lane(s, piece, 3));
}

#include "wino_impl.h"

#endif /* __wasm_simd128__ */
