/* f32 element-wise binary operations for AVX2 + FMA, activation fused (contract in
 * pnn_kernels_elementwise.h). The tail is one vector with masked loads and stores. */
#include "pnn_kernels.h"

#if defined(__x86_64__)

PNN_TARGET_BEGIN("avx2,fma")

#define PNN_X86_ACT_AVX2
#include "pnn_x86_act.h"
#include "x86_impl.h"

/* a op b with the scalar reference's exact semantics (see avx512.c). blendv takes
 * its second operand where the mask is set. */
static PNN_ALWAYS_INLINE __m256 binary_op256(int kind, __m256 a, __m256 b) {
  switch (kind) {
    case PNN_BINARY_ADD: return _mm256_add_ps(a, b);
    case PNN_BINARY_SUB: return _mm256_sub_ps(a, b);
    case PNN_BINARY_MUL: return _mm256_mul_ps(a, b);
    case PNN_BINARY_DIV: return _mm256_div_ps(a, b);
    case PNN_BINARY_MAX:
      return _mm256_blendv_ps(b, a, _mm256_or_ps(_mm256_cmp_ps(a, b, _CMP_GE_OQ), _mm256_cmp_ps(a, a, _CMP_UNORD_Q)));
    case PNN_BINARY_MIN:
      return _mm256_blendv_ps(b, a, _mm256_or_ps(_mm256_cmp_ps(a, b, _CMP_LE_OQ), _mm256_cmp_ps(a, a, _CMP_UNORD_Q)));
    default: /* PRelu */
      return _mm256_blendv_ps(_mm256_mul_ps(a, b), a, _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GE_OQ));
  }
}

#define VEC __m256
#define W 8
#define VSET1(x) _mm256_set1_ps(x)
#define VLOAD(p, n) ((n) == W ? _mm256_loadu_ps(p) : _mm256_maskload_ps((p), pnn_mask8(n)))
#define VSTORE(p, v, n) \
  ((n) == W ? _mm256_storeu_ps((p), (v)) : _mm256_maskstore_ps((p), pnn_mask8(n), (v)))
#define VOP(kind, a, b) binary_op256((kind), (a), (b))
#define VACT(v, kind, alpha, beta) pnn_act256((v), (kind), (alpha), (beta))
#define VACTIVATE(y, n, act) pnn_f32_activate_avx2((y), (n), (act))

PNN_BINARY_X86_BODY(avx2)

PNN_TARGET_END()

#endif /* x86-64 */
