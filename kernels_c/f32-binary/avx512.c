/* f32 element-wise binary operations for AVX-512F, activation fused (contract in
 * pnn_kernels_elementwise.h). The tail is one masked vector. */
#include "pnn_kernels.h"

#if defined(__x86_64__)

PNN_TARGET_BEGIN("avx512f,avx2,fma")

#define PNN_X86_ACT_AVX512
#include "pnn_x86_act.h"
#include "x86_impl.h"

/* a op b with the scalar reference's exact semantics (comparisons pick as it does,
 * also for NaN and signed zeros). */
static PNN_ALWAYS_INLINE __m512 binary_op512(int kind, __m512 a, __m512 b) {
  switch (kind) {
    case PNN_BINARY_ADD: return _mm512_add_ps(a, b);
    case PNN_BINARY_SUB: return _mm512_sub_ps(a, b);
    case PNN_BINARY_MUL: return _mm512_mul_ps(a, b);
    case PNN_BINARY_DIV: return _mm512_div_ps(a, b);
    case PNN_BINARY_MAX:
      return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GE_OQ) | _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), b, a);
    case PNN_BINARY_MIN:
      return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LE_OQ) | _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), b, a);
    default: /* PRelu */
      return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GE_OQ),
                                  _mm512_mul_ps(a, b), a);
  }
}

#define VEC __m512
#define W 16
#define VSET1(x) _mm512_set1_ps(x)
#define VLOAD(p, n) ((n) == W ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(pnn_mask16(n), (p)))
#define VSTORE(p, v, n) \
  ((n) == W ? _mm512_storeu_ps((p), (v)) : _mm512_mask_storeu_ps((p), pnn_mask16(n), (v)))
#define VOP(kind, a, b) binary_op512((kind), (a), (b))
#define VACT(v, kind, alpha, beta) pnn_act512((v), (kind), (alpha), (beta))
#define VACTIVATE(y, n, act) pnn_f32_activate_avx512((y), (n), (act))

PNN_BINARY_X86_BODY(avx512)

PNN_TARGET_END()

#endif /* x86-64 */
