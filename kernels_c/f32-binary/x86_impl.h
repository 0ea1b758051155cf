/* Body of the AVX2 and AVX-512 binary kernels (included by avx2.c and avx512.c inside
 * their `#pragma GCC target` region, after defining the vector macros below).
 *
 * Per vector op (VEC: vector type, W: lanes):
 *   VLOAD(p, n) / VSTORE(p, v, n)  load / store the first n <= W lanes (n == W: whole)
 *   VSET1(x)                       broadcast
 *   VOP(kind, a, b)                a op b exactly as the scalar reference
 *   VACT(v, kind, alpha, beta)     fused activation (pnn_x86_act.h)
 *   VACTIVATE(y, n, act)           in-place activation of a row (f32-unary's vector
 *                                  sigmoid and tanh, a few ulp from the reference's)
 * Pow goes through the scalar reference. Lanes are independent, so the vector and
 * masked-tail results equal the scalar ones element for element (but sigmoid, tanh). */
#define PNN_BINARY_X86_BODY(SUFFIX)                                                             \
  static void binary_run_##SUFFIX(int kind, size_t n, const float *a, float as, const float *b,  \
                                  float bs, float *y, pnn_activation act) {                      \
    const VEC alpha = VSET1(act.alpha), beta = VSET1(act.beta);                                   \
    const VEC av = VSET1(as), bv = VSET1(bs);                                                     \
    const int vec_act = !pnn_act_needs_scalar_pass(act.kind);                                     \
    const int akind = vec_act ? act.kind : PNN_ACT_NONE;                                          \
    for (size_t i = 0; i < n; i += W) {                                                           \
      const size_t m = n - i < W ? n - i : W;                                                     \
      const VEC x = a ? VLOAD(a + i, m) : av;                                                     \
      const VEC z = b ? VLOAD(b + i, m) : bv;                                                     \
      VSTORE(y + i, VACT(VOP(kind, x, z), akind, alpha, beta), m);                                \
    }                                                                                             \
    if (!vec_act) VACTIVATE(y, n, act);                                                           \
  }                                                                                               \
  void pnn_f32_binary_vv_##SUFFIX(int kind, size_t n, const float *a, const float *b, float *y,  \
                                  pnn_activation act) {                                          \
    if (kind == PNN_BINARY_POW) {                                                                 \
      pnn_f32_binary_vv_scalar(kind, n, a, b, y);                                                 \
      pnn_f32_activate_scalar(y, n, act);                                                         \
      return;                                                                                     \
    }                                                                                             \
    binary_run_##SUFFIX(kind, n, a, 0.0f, b, 0.0f, y, act);                                       \
  }                                                                                               \
  void pnn_f32_binary_vs_##SUFFIX(int kind, size_t n, const float *a, float b, float *y,         \
                                  pnn_activation act) {                                          \
    if (kind == PNN_BINARY_POW) {                                                                 \
      pnn_f32_binary_vs_scalar(kind, n, a, b, y);                                                 \
      pnn_f32_activate_scalar(y, n, act);                                                         \
      return;                                                                                     \
    }                                                                                             \
    binary_run_##SUFFIX(kind, n, a, 0.0f, NULL, b, y, act);                                       \
  }                                                                                               \
  void pnn_f32_binary_sv_##SUFFIX(int kind, size_t n, float a, const float *b, float *y,         \
                                  pnn_activation act) {                                          \
    if (kind == PNN_BINARY_POW) {                                                                 \
      pnn_f32_binary_sv_scalar(kind, n, a, b, y);                                                 \
      pnn_f32_activate_scalar(y, n, act);                                                         \
      return;                                                                                     \
    }                                                                                             \
    binary_run_##SUFFIX(kind, n, NULL, a, b, 0.0f, y, act);                                       \
  }
