/* f32 im2col of one GEMM panel for AVX2 (contract in pnn_kernels_nn.h).
 * A panel row is a few runs of output columns on one output row each, packed 8 lanes at
 * a time: with unit width stride a chunk inside the image is one load (masked at the
 * right edge), with width stride 2 the even lanes of two loads are gathered by
 * permutes. A chunk that starts left of the image (padding) and other strides take the
 * exact scalar loop, so no pointer is formed before a row. 1x1 stride-1 unpadded
 * convolutions copy rows of the image directly. Full chunks use plain stores: masked
 * stores are slow on some cores (AMD); so a row short of a panel is zeroed first. */
#include "pnn_kernels.h"

#if defined(__x86_64__)

PNN_TARGET_BEGIN("avx2,fma")

#define PNN_X86_ACT_AVX2
#include "pnn_x86_act.h"
#include "panel_driver.h"

static PNN_ALWAYS_INLINE void store_chunk(float *out, size_t n, __m256 v) {
  if (n == 8) _mm256_storeu_ps(out, v);
  else _mm256_maskstore_ps(out, pnn_mask8(n), v);
}

/* Lanes [clo, chi) of out = row[ix0 + stride*u], the others 0 (the scalar fallback). */
static __m256 gather_chunk(const float *row, ptrdiff_t ix0, ptrdiff_t s, ptrdiff_t clo, ptrdiff_t chi) {
  _Alignas(32) float tmp[8];
  for (ptrdiff_t u = 0; u < 8; ++u) tmp[u] = u >= clo && u < chi ? row[ix0 + s * u] : 0.0f;
  return _mm256_load_ps(tmp);
}

/* out[u] = row[ix0 + stride*u] inside [0, in_w), else 0, for u < len.
 * row is NULL for a row outside the image. ix0 is signed. */
static void pack_run(const float *row, ptrdiff_t ix0, size_t stride, size_t in_w, size_t len,
                     float *out) {
  if (row == NULL) {
    for (size_t u0 = 0; u0 < len; u0 += 8) store_chunk(out + u0, len - u0 < 8 ? len - u0 : 8, _mm256_setzero_ps());
    return;
  }
  const ptrdiff_t s = (ptrdiff_t)stride;
  ptrdiff_t lo, hi;
  run_valid_lanes(ix0, stride, in_w, len, &lo, &hi);
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  for (size_t u0 = 0; u0 < len; u0 += 8) {
    const size_t n = len - u0 < 8 ? len - u0 : 8;
    const ptrdiff_t a = (ptrdiff_t)u0;
    /* Valid lanes of this chunk. */
    const ptrdiff_t clo = lo - a < 0 ? 0 : (lo - a > 8 ? 8 : lo - a);
    const ptrdiff_t chi = hi - a < 0 ? 0 : (hi - a > 8 ? 8 : hi - a);
    __m256 v;
    if (chi <= clo) {
      v = _mm256_setzero_ps();
    } else if (clo > 0 || stride > 2) {
      v = gather_chunk(row, ix0 + s * a, s, clo, chi);
    } else if (stride == 1) {
      const float *src = row + (ix0 + a);
      v = chi == 8 ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, pnn_mask8((size_t)chi));
    } else {
      /* Stride 2: the valid lanes read src[0, 2*chi - 1), all inside the row; masked
       * lanes load 0, so the lanes past chi come out 0. */
      const size_t span = 2 * (size_t)chi - 1;
      const float *src = row + (ix0 + 2 * a);
      const __m256 v0 = _mm256_maskload_ps(src, pnn_mask8(span));
      const __m256 v1 = span > 8 ? _mm256_maskload_ps(src + 8, pnn_mask8(span - 8)) : _mm256_setzero_ps();
      v = _mm256_blend_ps(_mm256_permutevar8x32_ps(v0, even), _mm256_permutevar8x32_ps(v1, even), 0xF0);
    }
    store_chunk(out + u0, n, v);
  }
}

static void copy_row(const float *src, size_t width, float *out) {
  for (size_t u = 0; u < PNN_GEMM_PB_NR; u += 8) {
    const __m256 v = u + 8 <= width ? _mm256_loadu_ps(src + u)
                     : u < width    ? _mm256_maskload_ps(src + u, pnn_mask8(width - u))
                                    : _mm256_setzero_ps();
    _mm256_storeu_ps(out + u, v);
  }
}

static void zero_row(float *out) {
  for (size_t u = 0; u < PNN_GEMM_PB_NR; u += 8) _mm256_storeu_ps(out + u, _mm256_setzero_ps());
}

void pnn_f32_im2col_panel_avx2(const pnn_conv2d_geometry *g, const float *x, size_t k0,
                               size_t kc, size_t n0, size_t width, float *dst) {
  im2col_panel(g, x, k0, kc, n0, width, dst);
}

PNN_TARGET_END()

#endif /* __x86_64__ */
