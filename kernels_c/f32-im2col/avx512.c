/* f32 im2col of one GEMM panel for AVX-512F (contract in pnn_kernels_nn.h).
 * A panel row is a few runs of output columns on one output row each; a run of unit
 * width stride is one or two masked loads (an expanding load where the run starts
 * left of the image, so no pointer is formed before the row), width stride 2 splits
 * the even lanes of two masked loads with a permute (and expands them past the left
 * padding). Other strides take the exact scalar loop. 1x1 stride-1 unpadded convolutions copy
 * rows of the image directly. */
#include "pnn_kernels.h"

#if defined(__x86_64__)

#include <string.h>

PNN_TARGET_BEGIN("avx512f,avx2,fma")

#define PNN_X86_ACT_AVX512
#include "pnn_x86_act.h"
#include "panel_driver.h"

/* out[u] = row[ix0 + stride*u] inside [0, in_w), else 0, for u < len <= 32.
 * row is NULL for a row outside the image. ix0 is signed. */
static void pack_run(const float *row, ptrdiff_t ix0, size_t stride, size_t in_w, size_t len,
                     float *out) {
  if (row == NULL) {
    for (size_t u0 = 0; u0 < len; u0 += 16) {
      const size_t n = len - u0 < 16 ? len - u0 : 16;
      _mm512_mask_storeu_ps(out + u0, pnn_mask16(n), _mm512_setzero_ps());
    }
    return;
  }
  const ptrdiff_t s = (ptrdiff_t)stride;
  ptrdiff_t lo, hi;
  run_valid_lanes(ix0, stride, in_w, len, &lo, &hi);
  for (size_t u0 = 0; u0 < len; u0 += 16) {
    const size_t n = len - u0 < 16 ? len - u0 : 16;
    const ptrdiff_t a = (ptrdiff_t)u0;
    /* Valid lanes of this chunk. */
    const ptrdiff_t clo = lo - a < 0 ? 0 : (lo - a > 16 ? 16 : lo - a);
    const ptrdiff_t chi = hi - a < 0 ? 0 : (hi - a > 16 ? 16 : hi - a);
    __m512 v;
    if (chi <= clo) {
      v = _mm512_setzero_ps();
    } else if (stride == 1) {
      const __mmask16 valid = (__mmask16)(pnn_mask16((size_t)chi) & ~pnn_mask16((size_t)clo));
      if (clo == 0) v = _mm512_maskz_loadu_ps(valid, row + (ix0 + a));
      else v = _mm512_maskz_expandloadu_ps(valid, row + (ix0 + a + clo));
    } else if (stride == 2) {
      /* The valid lanes read row elements src[0, 2*count - 1), all inside the row:
       * masked loads, the even elements by a permute, then (when the run starts left
       * of the image) an expand moves them up to lane clo. */
      const size_t count = (size_t)(chi - clo), span = 2 * count - 1;
      const float *src = row + (ix0 + 2 * (a + clo));
      const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      const __m512 v0 = _mm512_maskz_loadu_ps(pnn_mask16(span), src);
      const __m512 v1 = _mm512_maskz_loadu_ps(pnn_mask16(span > 16 ? span - 16 : 0), src + 16);
      v = _mm512_permutex2var_ps(v0, even, v1);
      if (clo > 0) {
        const __mmask16 valid = (__mmask16)(pnn_mask16((size_t)chi) & ~pnn_mask16((size_t)clo));
        v = _mm512_maskz_expand_ps(valid, v);
      }
    } else {
      _Alignas(64) float tmp[16];
      for (ptrdiff_t u = 0; u < 16; ++u)
        tmp[u] = u >= clo && u < chi ? row[ix0 + s * (a + u)] : 0.0f;
      v = _mm512_load_ps(tmp);
    }
    _mm512_mask_storeu_ps(out + u0, pnn_mask16(n), v);
  }
}

static void copy_row(const float *src, size_t width, float *out) {
  const __mmask16 m_lo = pnn_mask16(width), m_hi = pnn_mask16(width > 16 ? width - 16 : 0);
  _mm512_storeu_ps(out, _mm512_maskz_loadu_ps(m_lo, src));
  _mm512_storeu_ps(out + 16, width > 16 ? _mm512_maskz_loadu_ps(m_hi, src + 16) : _mm512_setzero_ps());
}

static void zero_row(float *out) {
  _mm512_storeu_ps(out, _mm512_setzero_ps());
  _mm512_storeu_ps(out + 16, _mm512_setzero_ps());
}

void pnn_f32_im2col_panel_avx512(const pnn_conv2d_geometry *g, const float *x, size_t k0,
                                 size_t kc, size_t n0, size_t width, float *dst) {
  im2col_panel(g, x, k0, kc, n0, width, dst);
}

PNN_TARGET_END()

#endif /* __x86_64__ */
