/* u8 x s8 group-sparse product for AVX-512 VNNI (contract in pnn_kernels_sparse.h).
 *
 * Pixels run across lanes (x is channel-major), as in the f32 SpMM, but vpdpbusd
 * wants 4 u8 x 4 s8 per int32 lane: so the nonzeros of a group are taken 4 at a
 * time, and their 4 x rows (64 pixels each) are interleaved in registers into 4
 * vectors of u8 quads (two rounds of in-lane unpacks): lane d of 128-bit lane L of
 * quad vector i holds pixel 16L + 4i + d of the 4 rows. Each output row's 4 weights
 * of those nonzeros form one broadcast dword, so one quad of nonzeros costs 4 loads,
 * 6 shuffles and 4 vpdpbusd per output row, for 64 pixels. A last partial quad
 * repeats its first x row with weight 0. Up to 4 rows share the shuffles (G = 8 runs
 * as two passes of 4 rows): 16 accumulators, 4 quad vectors, 1 broadcast.
 *
 * Tiles of 64 pixels, all groups per tile so the tile's x rows stay in L1; the pixel
 * tail uses masked loads and stores (never past the x and y rows), and a tail of at
 * most 16 pixels a narrow form (narrow_rows) that does a quarter of the products.
 * Accumulators start at the bias; at the store each is requantized in 64-bit lanes
 * (pnn_requantize's rule exactly) and packs_epi32 + packus_epi16 turn the 4 vectors
 * back into 64 bytes in pixel order (values are already in [lo, hi]).
 *
 * ISA flags are set per file; pnn_u8_spmm_select only picks this with
 * cpu->avx512vnni. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")

#include <immintrin.h>
#include <string.h>

#include "pnn_inline.h"

enum { TILE = 64, MAX_R = 4, QUADS = 4, CHUNK_QUADS = 64 /* weight quads staged at once */ };

#include "spmm_driver.h" /* spmm_args */

/* Rows [r0, r0 + R) of a group's weights for nonzeros j..j+3 (v = values + j * G) as
 * one dword per row, byte t from nonzero j + t. The 4 x R bytes are gathered into a
 * [t][r] block and transposed with one byte shuffle. */
static PNN_ALWAYS_INLINE void weight_quads(const int8_t *v, size_t G, size_t r0,
                                           int32_t quads[MAX_R]) {
  if (G == 1) {
    memcpy(quads, v, 4);
    return;
  }
  __m128i block; /* byte t * R + r = weight of row r0 + r for nonzero j + t */
  if (G == 2) block = _mm_loadl_epi64((const __m128i *)v);
  else if (G == 4) block = _mm_loadu_si128((const __m128i *)v);
  else { /* G == 8: bytes r0..r0+3 of each nonzero's 8 */
    const __m128 lo = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)v));
    const __m128 hi = _mm_castsi128_ps(_mm_loadu_si128((const __m128i *)(v + 16)));
    block = _mm_castps_si128(r0 ? _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))
                                : _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)));
  }
  const __m128i transpose2 = _mm_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m128i transpose4 = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  _mm_storeu_si128((__m128i *)quads, _mm_shuffle_epi8(block, G == 2 ? transpose2 : transpose4));
}

/* The weight dwords of rows [r0, r0 + R) for nonzeros [j0, j0 + count) (count <= 4 *
 * CHUNK_QUADS; a last partial quad padded with weight 0), one quad per entry of wq.
 * Done once per group and tile ahead of the products, so the product loop broadcasts
 * each dword from memory (a load, folded into vpdpbusd) instead of shuffling it out
 * of a register (port 5, shared with the x shuffles). */
static PNN_ALWAYS_INLINE void chunk_quads(const int8_t *val, size_t j0, size_t count, size_t G,
                                          size_t r0, int32_t wq[][MAX_R]) {
  size_t q = 0;
  for (; 4 * q + 4 <= count; ++q) weight_quads(val + (j0 + 4 * q) * G, G, r0, wq[q]);
  if (4 * q < count) {
    int8_t padded[4 * 8] = {0};
    memcpy(padded, val + (j0 + 4 * q) * G, (count - 4 * q) * G);
    weight_quads(padded, G, r0, wq[q]);
  }
}

/* One quad of nonzeros: x rows x0..x3 (at the tile's first pixel) into the R rows'
 * accumulators with their weight dwords. */
static PNN_ALWAYS_INLINE void quad_step(const uint8_t *x0, const uint8_t *x1, const uint8_t *x2,
                                        const uint8_t *x3, const int32_t quads[MAX_R], size_t R,
                                        int masked, __mmask64 mask,
                                        __m512i acc[MAX_R][QUADS]) {
  __m512i r0, r1, r2, r3;
  if (masked) {
    r0 = _mm512_maskz_loadu_epi8(mask, x0);
    r1 = _mm512_maskz_loadu_epi8(mask, x1);
    r2 = _mm512_maskz_loadu_epi8(mask, x2);
    r3 = _mm512_maskz_loadu_epi8(mask, x3);
  } else {
    r0 = _mm512_loadu_si512(x0);
    r1 = _mm512_loadu_si512(x1);
    r2 = _mm512_loadu_si512(x2);
    r3 = _mm512_loadu_si512(x3);
  }
  const __m512i lo01 = _mm512_unpacklo_epi8(r0, r1), hi01 = _mm512_unpackhi_epi8(r0, r1);
  const __m512i lo23 = _mm512_unpacklo_epi8(r2, r3), hi23 = _mm512_unpackhi_epi8(r2, r3);
  const __m512i q[QUADS] = {_mm512_unpacklo_epi16(lo01, lo23), _mm512_unpackhi_epi16(lo01, lo23),
                            _mm512_unpacklo_epi16(hi01, hi23), _mm512_unpackhi_epi16(hi01, hi23)};
#pragma GCC unroll 4
  for (size_t r = 0; r < MAX_R; ++r) {
    if (r < R) {
      const __m512i w = _mm512_set1_epi32(quads[r]);
#pragma GCC unroll 4
      for (size_t i = 0; i < QUADS; ++i) acc[r][i] = _mm512_dpbusd_epi32(acc[r][i], q[i], w);
    }
  }
}

/* pnn_requantize on 16 int32 lanes of one row: 64-bit products of the even and odd
 * lanes, rounding, arithmetic shift, clamp to [lo - zp, hi - zp], merged back to
 * int32 lanes, plus the zero point. */
static PNN_ALWAYS_INLINE __m512i requant16(__m512i acc, __m512i multiplier, __m512i round,
                                           __m128i shift, __m512i lo, __m512i hi, __m512i zp) {
  __m512i even = _mm512_mul_epi32(acc, multiplier);
  __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), multiplier);
  even = _mm512_sra_epi64(_mm512_add_epi64(even, round), shift);
  odd = _mm512_sra_epi64(_mm512_add_epi64(odd, round), shift);
  even = _mm512_min_epi64(_mm512_max_epi64(even, lo), hi);
  odd = _mm512_min_epi64(_mm512_max_epi64(odd, lo), hi);
  const __m512i merged = _mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CDAB);
  return _mm512_add_epi32(merged, zp);
}

/* Rows [m0, m0 + valid) (valid <= R; rows r0.. of their group, G per group) of the tile
 * at pixel p0: the group's nnz nonzeros start at idx and val. R and masked are
 * constants at every call site, so the accumulators unroll into registers. */
static PNN_ALWAYS_INLINE void tile_rows(const uint32_t *idx, const int8_t *val, size_t nnz,
                                        size_t G, size_t R, size_t r0, size_t m0, size_t valid,
                                        size_t p0, int masked, __mmask64 mask,
                                        const spmm_args *a) {
  __m512i acc[MAX_R][QUADS];
#pragma GCC unroll 4
  for (size_t r = 0; r < MAX_R; ++r) {
    if (r < R) {
      const __m512i b = a->bias && r < valid ? _mm512_set1_epi32(a->bias[m0 + r])
                                             : _mm512_setzero_si512();
#pragma GCC unroll 4
      for (size_t i = 0; i < QUADS; ++i) acc[r][i] = b;
    }
  }
  const uint8_t *x = a->x + p0;
  const size_t xs = a->x_stride;
  int32_t wq[CHUNK_QUADS][MAX_R];
  for (size_t j0 = 0; j0 < nnz; j0 += 4 * CHUNK_QUADS) {
    const size_t end = nnz - j0 < 4 * CHUNK_QUADS ? nnz : j0 + 4 * CHUNK_QUADS;
    chunk_quads(val, j0, end - j0, G, r0, wq);
    size_t j = j0;
    for (; j + 4 <= end; j += 4) {
      quad_step(x + idx[j] * xs, x + idx[j + 1] * xs, x + idx[j + 2] * xs, x + idx[j + 3] * xs,
                wq[(j - j0) / 4], R, masked, mask, acc);
    }
    if (j < end) { /* 1..3 left: their padding quad reads the first row's x */
      const uint8_t *x0 = x + idx[j] * xs;
      quad_step(x0, j + 1 < end ? x + idx[j + 1] * xs : x0, j + 2 < end ? x + idx[j + 2] * xs : x0,
                x0, wq[(j - j0) / 4], R, masked, mask, acc);
    }
  }
  const pnn_requant *rq = a->rq;
  const __m512i lo = _mm512_set1_epi64((int64_t)rq->lo - rq->zero_point);
  const __m512i hi = _mm512_set1_epi64((int64_t)rq->hi - rq->zero_point);
  const __m512i zp = _mm512_set1_epi32(rq->zero_point);
#pragma GCC unroll 4
  for (size_t r = 0; r < MAX_R; ++r) {
    if (r < R && r < valid) {
      const size_t m = m0 + r;
      const int32_t shift = rq->shift[m];
      const __m512i multiplier = _mm512_set1_epi64(rq->multiplier[m]);
      const __m512i round = _mm512_set1_epi64((int64_t)1 << (shift - 1));
      const __m128i count = _mm_cvtsi32_si128(shift);
      __m512i out[QUADS];
#pragma GCC unroll 4
      for (size_t i = 0; i < QUADS; ++i)
        out[i] = requant16(acc[r][i], multiplier, round, count, lo, hi, zp);
      /* Lane L of out[i] holds pixels 16L + 4i .. 16L + 4i + 3: the two packs restore
       * the order within each 128-bit lane. */
      const __m512i bytes = _mm512_packus_epi16(_mm512_packs_epi32(out[0], out[1]),
                                                _mm512_packs_epi32(out[2], out[3]));
      uint8_t *dst = a->y + m * a->y_stride + p0;
      if (masked) _mm512_mask_storeu_epi8(dst, mask, bytes);
      else _mm512_storeu_si512(dst, bytes);
    }
  }
}

/* The narrow form for a pixel tail of at most 16: the 4 x rows' 16 pixels are
 * interleaved in xmm registers and the 4 quad vectors joined into one zmm in pixel
 * order, so each row needs 1 vpdpbusd per quad and one requantized vector instead of
 * 4 (a full masked tile costs the same as 64 pixels). */
static PNN_ALWAYS_INLINE void narrow_rows(const uint32_t *idx, const int8_t *val, size_t nnz,
                                          size_t G, size_t R, size_t r0, size_t m0,
                                          size_t valid, size_t p0, __mmask16 mask,
                                          const spmm_args *a) {
  __m512i acc[MAX_R];
#pragma GCC unroll 4
  for (size_t r = 0; r < MAX_R; ++r) {
    if (r < R) {
      acc[r] = a->bias && r < valid ? _mm512_set1_epi32(a->bias[m0 + r]) : _mm512_setzero_si512();
    }
  }
  const uint8_t *x = a->x + p0;
  const size_t xs = a->x_stride;
  int32_t wq[CHUNK_QUADS][MAX_R];
  for (size_t j = 0; j < nnz; j += 4) {
    const size_t left = nnz - j < 4 ? nnz - j : 4; /* a padding quad reads the first row */
    if (j % (4 * CHUNK_QUADS) == 0)
      chunk_quads(val, j, nnz - j < 4 * CHUNK_QUADS ? nnz - j : 4 * CHUNK_QUADS, G, r0, wq);
    const int32_t *quads = wq[j % (4 * CHUNK_QUADS) / 4];
    const uint8_t *x0 = x + idx[j] * xs;
    const __m128i in0 = _mm_maskz_loadu_epi8(mask, x0);
    const __m128i in1 = _mm_maskz_loadu_epi8(mask, left > 1 ? x + idx[j + 1] * xs : x0);
    const __m128i in2 = _mm_maskz_loadu_epi8(mask, left > 2 ? x + idx[j + 2] * xs : x0);
    const __m128i in3 = _mm_maskz_loadu_epi8(mask, left > 3 ? x + idx[j + 3] * xs : x0);
    const __m128i lo01 = _mm_unpacklo_epi8(in0, in1), hi01 = _mm_unpackhi_epi8(in0, in1);
    const __m128i lo23 = _mm_unpacklo_epi8(in2, in3), hi23 = _mm_unpackhi_epi8(in2, in3);
    const __m256i q01 = _mm256_set_m128i(_mm_unpackhi_epi16(lo01, lo23),
                                         _mm_unpacklo_epi16(lo01, lo23));
    const __m256i q23 = _mm256_set_m128i(_mm_unpackhi_epi16(hi01, hi23),
                                         _mm_unpacklo_epi16(hi01, hi23));
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(q01), q23, 1);
#pragma GCC unroll 4
    for (size_t r = 0; r < MAX_R; ++r) {
      if (r < R) acc[r] = _mm512_dpbusd_epi32(acc[r], q, _mm512_set1_epi32(quads[r]));
    }
  }
  const pnn_requant *rq = a->rq;
  const __m512i lo = _mm512_set1_epi64((int64_t)rq->lo - rq->zero_point);
  const __m512i hi = _mm512_set1_epi64((int64_t)rq->hi - rq->zero_point);
  const __m512i zp = _mm512_set1_epi32(rq->zero_point);
#pragma GCC unroll 4
  for (size_t r = 0; r < MAX_R; ++r) {
    if (r < R && r < valid) {
      const size_t m = m0 + r;
      const int32_t shift = rq->shift[m];
      const __m512i out = requant16(acc[r], _mm512_set1_epi64(rq->multiplier[m]),
                                    _mm512_set1_epi64((int64_t)1 << (shift - 1)),
                                    _mm_cvtsi32_si128(shift), lo, hi, zp);
      _mm_mask_storeu_epi8(a->y + m * a->y_stride + p0, mask, _mm512_cvtepi32_epi8(out));
    }
  }
}

/* Every group over one tile; G (and masked) constant per instantiation. */
static PNN_ALWAYS_INLINE void tile_all_groups(const pnn_sparse_s8 *w, size_t G, size_t p0,
                                              int masked, __mmask64 mask, int narrow,
                                              const spmm_args *a) {
  const uint32_t *idx = w->indices;
  const int8_t *val = w->values;
  const size_t R = G < MAX_R ? G : MAX_R;
  for (size_t g = 0; g < w->n_groups; ++g) {
    const size_t nnz = w->group_nnz[g];
    for (size_t r0 = 0; r0 < G && g * G + r0 < w->rows; r0 += R) {
      const size_t m0 = g * G + r0;
      const size_t valid = w->rows - m0 < R ? w->rows - m0 : R;
      if (narrow) narrow_rows(idx, val, nnz, G, R, r0, m0, valid, p0, (__mmask16)mask, a);
      else tile_rows(idx, val, nnz, G, R, r0, m0, valid, p0, masked, mask, a);
    }
    idx += nnz;
    val += nnz * G;
  }
}

/* Full tiles, then the tail: narrow up to 16 pixels, else one masked tile. */
#define PNN_U8_SPMM_G(G)                                                                 \
  static void spmm_g##G(const pnn_sparse_s8 *w, size_t pixels, const spmm_args *a) {   \
    size_t p0 = 0;                                                                       \
    for (; p0 + TILE <= pixels; p0 += TILE) tile_all_groups(w, G, p0, 0, ~(__mmask64)0, 0, a); \
    const size_t rest = pixels - p0;                                                     \
    const __mmask64 mask = (__mmask64)((1ull << rest) - 1);                              \
    if (rest > 16) tile_all_groups(w, G, p0, 1, mask, 0, a);                             \
    else if (rest > 0) tile_all_groups(w, G, p0, 1, mask, 1, a);                         \
  }

PNN_U8_SPMM_G(1)
PNN_U8_SPMM_G(2)
PNN_U8_SPMM_G(4)
PNN_U8_SPMM_G(8)
#undef PNN_U8_SPMM_G

void pnn_u8_spmm_avx512vnni(const pnn_sparse_s8 *w, size_t pixels, const uint8_t *x,
                            size_t x_stride, const int32_t *bias, const pnn_requant *rq,
                            uint8_t *y, size_t y_stride) {
  if (pixels == 0 || w->rows == 0) return;
  const spmm_args a = {x, x_stride, bias, rq, y, y_stride};
  switch (w->group) {
    case 1: spmm_g1(w, pixels, &a); break;
    case 2: spmm_g2(w, pixels, &a); break;
    case 4: spmm_g4(w, pixels, &a); break;
    case 8: spmm_g8(w, pixels, &a); break;
    default: pnn_u8_spmm_scalar(w, pixels, x, x_stride, bias, rq, y, y_stride); break;
  }
}

PNN_TARGET_END()

#endif /* x86-64 */
