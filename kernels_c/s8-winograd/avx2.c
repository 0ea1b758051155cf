/* u8 x s8 Winograd F(2x2, 3x3) for AVX2 (contract and bounds in pnn_kernels_s8.h).
 *
 * A call transforms its tiles' input once into the scratch, V: per position xi and
 * channel pair p a row of 32-bit words, one per tile, holding (V[2p], V[2p + 1]) as i16,
 * so vpmaddwd against a broadcast word of U (the same pair of one output channel) gives
 * both products summed in int32, exact. Then per block of 4 output channels and 24
 * tiles: for each of the 16 positions the 4 x 24 sums over all pairs in 12 accumulators
 * (the s8 GEMM's tile shape: one broadcast per 3 vpmaddwd), stored to a 6 KiB block on
 * the stack; then A^T (.) A of the block in wrapping int32, an arithmetic shift by 2
 * (the exact S), bias and the s8 GEMM's requantization, and the output pixels copied
 * tile row by tile row into y.
 *
 * ISA flags are set per file; pnn_s8_wino2_select only picks this with cpu->avx2_fma. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx2,fma")

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "pnn_inline.h"
#include "pnn_x86_requant.h"

enum {
  POSITIONS = 16,
  LANES = 8,                           /* tiles per vector */
  TILE_VECTORS = 3,                    /* vectors per micro-tile */
  TILE_TILES = LANES * TILE_VECTORS,   /* tiles per micro-tile */
  ROWS = PNN_S8_WINO2_ROW_BLOCK,       /* output channels per micro-tile */
  RUN_BYTES = 2 * LANES + 2,           /* input columns of a run of 8 tiles */
  /* How far ahead the products prefetch U: layers with few tiles (7 x 7: 8 MiB of U for
   * 16 tiles) read it once, from DRAM. */
  U_PREFETCH_BYTES = 4096
};

static size_t pair_count(size_t C) { return (C + 1) / 2; }

/* Words per V row: the tiles rounded up to a vector, plus one vector so that a run of
 * fewer than 8 tiles may store all 8 lanes (the lanes past the run are overwritten by
 * the next run or never read as outputs). */
static size_t v_stride(size_t count) { return (count + LANES - 1) / LANES * LANES + LANES; }

static size_t avx2_scratch_size(size_t C, size_t count) {
  return POSITIONS * pair_count(C) * v_stride(count) * sizeof(int32_t);
}

/* ---- input transform ------------------------------------------------------------ */

/* Where a run's input row comes from: e[j] is input column col0 + j (j < RUN_BYTES);
 * whole rows of the image are read in place, others through a buffer of the zero point
 * with e[lo, hi) copied in. */
typedef struct run_row {
  const uint8_t *src; /* &x[iy][col0] of channel 0 when in place, else &x[iy][col0 + lo] or NULL */
  int in_place;
} run_row;

/* e[0, 16) and e[2, 18) of one channel's run row. */
static PNN_ALWAYS_INLINE void load_run_row(const run_row *row, size_t offset, size_t lo, size_t hi,
                                           __m128i zero_point, __m128i *e0, __m128i *e2) {
  if (row->in_place) {
    *e0 = _mm_loadu_si128((const __m128i *)(row->src + offset));
    *e2 = _mm_loadu_si128((const __m128i *)(row->src + offset + 2));
    return;
  }
  uint8_t buf[32];
  _mm_storeu_si128((__m128i *)buf, zero_point);
  _mm_storeu_si128((__m128i *)(buf + 16), zero_point);
  if (row->src) memcpy(buf + lo, row->src + offset, hi - lo);
  *e0 = _mm_loadu_si128((const __m128i *)buf);
  *e2 = _mm_loadu_si128((const __m128i *)(buf + 2));
}

/* d B of one run row of channels a and b, as pair words (a, b) per tile: with the
 * bytes interleaved a0 b0 a1 b1 ... (low 128 bits: e[0, 8), high: e[8, 16)), one
 * shuffle per lane takes tiles 0-3 | 4-7 of columns 2i or 2i + 1, zero-extended. */
static PNN_ALWAYS_INLINE void row_pass(__m128i a0, __m128i a2, __m128i b0, __m128i b2, __m256i h[4]) {
  const __m256i even = _mm256_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1, 0, -1, 1, -1, 4,
                                        -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1);
  const __m256i odd = _mm256_setr_epi8(2, -1, 3, -1, 6, -1, 7, -1, 10, -1, 11, -1, 14, -1, 15, -1, 2, -1, 3, -1, 6,
                                       -1, 7, -1, 10, -1, 11, -1, 14, -1, 15, -1);
  const __m256i ab0 = _mm256_set_m128i(_mm_unpackhi_epi8(a0, b0), _mm_unpacklo_epi8(a0, b0));
  const __m256i ab2 = _mm256_set_m128i(_mm_unpackhi_epi8(a2, b2), _mm_unpacklo_epi8(a2, b2));
  const __m256i ev = _mm256_shuffle_epi8(ab0, even), od = _mm256_shuffle_epi8(ab0, odd);
  const __m256i ev1 = _mm256_shuffle_epi8(ab2, even), od1 = _mm256_shuffle_epi8(ab2, odd);
  /* columns (0 - 2, 1 + 2, 2 - 1, 1 - 3) of every tile */
  h[0] = _mm256_sub_epi16(ev, ev1);
  h[1] = _mm256_add_epi16(od, ev1);
  h[2] = _mm256_sub_epi16(ev1, od);
  h[3] = _mm256_sub_epi16(od, od1);
}

/* V of tiles [t0, t0 + count) into v (rows of `stride` words), runs of at most 8 tiles
 * along one tile row. */
static void input_transform(const pnn_conv2d_geometry *g, const uint8_t *x, uint8_t x_zero_point, size_t t0,
                            size_t count, int32_t *v, size_t stride) {
  const size_t C = g->channels, P = pair_count(C), plane = g->in_h * g->in_w;
  const size_t tiles_w = (g->out_w + 1) / 2;
  const __m128i zp = _mm_set1_epi8((char)x_zero_point);
  for (size_t u = 0; u < count;) {
    const size_t ty = (t0 + u) / tiles_w, tx0 = (t0 + u) % tiles_w;
    size_t n = tiles_w - tx0 < count - u ? tiles_w - tx0 : count - u;
    if (n > LANES) n = LANES;
    /* e[j] is column col0 + j, wrapped when left of the image; e[lo, hi) lies inside. */
    const size_t col0 = 2 * tx0 - g->pad_left;
    const size_t lo = g->pad_left > 2 * tx0 ? g->pad_left - 2 * tx0 : 0;
    const size_t right = g->in_w + g->pad_left; /* e index of the right edge, from column 2 tx0 */
    const size_t end = right > 2 * tx0 ? right - 2 * tx0 : 0;
    const size_t hi = end < RUN_BYTES ? end : RUN_BYTES;
    const int cols_inside = lo == 0 && end >= RUN_BYTES;
    run_row rows[4];
    for (size_t r = 0; r < 4; ++r) {
      const size_t iy = 2 * ty + r - g->pad_top; /* wraps when above the image */
      const int inside = iy < g->in_h && lo < hi;
      rows[r].in_place = inside && cols_inside;
      rows[r].src = inside ? x + (iy * g->in_w + (col0 + lo)) : NULL; /* col0 + lo does not wrap */
    }
    for (size_t p = 0; p < P; ++p) {
      const size_t ca = 2 * p * plane, cb = 2 * p + 1 < C ? ca + plane : ca;
      __m256i h[4][4];
      for (size_t r = 0; r < 4; ++r) {
        __m128i a0, a2, b0, b2;
        load_run_row(&rows[r], ca, lo, hi, zp, &a0, &a2);
        if (2 * p + 1 < C) {
          load_run_row(&rows[r], cb, lo, hi, zp, &b0, &b2);
        } else {
          b0 = b2 = _mm_setzero_si128();
        }
        row_pass(a0, a2, b0, b2, h[r]);
      }
      if (2 * p + 1 >= C) { /* the missing channel's V must be 0 (its U is 0 too) */
        const __m256i low = _mm256_set1_epi32(0xFFFF);
        for (size_t r = 0; r < 4; ++r)
          for (size_t q = 0; q < 4; ++q) h[r][q] = _mm256_and_si256(h[r][q], low);
      }
      /* B^T along the column: rows (0 - 2, 1 + 2, 2 - 1, 1 - 3). */
      int32_t *dst = v + p * stride + u;
      const size_t xi_step = P * stride;
      for (size_t q = 0; q < 4; ++q) {
        _mm256_storeu_si256((__m256i *)(dst + (0 + q) * xi_step), _mm256_sub_epi16(h[0][q], h[2][q]));
        _mm256_storeu_si256((__m256i *)(dst + (4 + q) * xi_step), _mm256_add_epi16(h[1][q], h[2][q]));
        _mm256_storeu_si256((__m256i *)(dst + (8 + q) * xi_step), _mm256_sub_epi16(h[2][q], h[1][q]));
        _mm256_storeu_si256((__m256i *)(dst + (12 + q) * xi_step), _mm256_sub_epi16(h[1][q], h[3][q]));
      }
    }
    u += n;
  }
}

/* ---- batched products ------------------------------------------------------------ */

/* The 4 x (8 nv) sums of one position over P pairs: w is the block's U (4 words per
 * pair), v the first tile's word of V (rows `stride` words apart). With 3 vectors the
 * 12 accumulators, 2 V vectors, the broadcast and a product fill the 16 ymm, so the third
 * V vector is a folded load (the empty asm keeps GCC from hoisting it into a register). */
static PNN_ALWAYS_INLINE void position_sums(size_t nv, size_t P, const int32_t *w, const int32_t *v,
                                            size_t stride, int32_t *out) {
  __m256i acc[ROWS][TILE_VECTORS];
#pragma GCC unroll 4
  for (size_t r = 0; r < ROWS; ++r)
#pragma GCC unroll 3
    for (size_t k = 0; k < TILE_VECTORS; ++k) acc[r][k] = _mm256_setzero_si256();
#pragma GCC unroll 2
  for (size_t p = 0; p < P; ++p) {
    const int32_t *vp = v + p * stride;
    const __m256i x0 = _mm256_loadu_si256((const __m256i *)vp);
    const __m256i x1 = nv > 1 ? _mm256_loadu_si256((const __m256i *)(vp + LANES)) : _mm256_setzero_si256();
    /* Integer arithmetic: the address may lie past U (no fault, no out-of-bounds pointer).
     * One per 64-byte line (4 pairs). */
    if (p % 4 == 0) _mm_prefetch((const char *)((uintptr_t)(w + ROWS * p) + U_PREFETCH_BYTES), _MM_HINT_T0);
#pragma GCC unroll 4
    for (size_t r = 0; r < ROWS; ++r) {
      const __m256i wr = _mm256_set1_epi32(w[ROWS * p + r]);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x0, wr));
      if (nv > 1) acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x1, wr));
      if (nv > 2) {
        __asm__("" : "+r"(vp));
        acc[r][2] = _mm256_add_epi32(acc[r][2], _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(vp + 2 * LANES)), wr));
      }
    }
  }
#pragma GCC unroll 4
  for (size_t r = 0; r < ROWS; ++r)
#pragma GCC unroll 3
    for (size_t k = 0; k < TILE_VECTORS; ++k)
      if (k < nv) _mm256_store_si256((__m256i *)(out + r * TILE_TILES + k * LANES), acc[r][k]);
}

#define PNN_S8_WINO2_SUMS(nv)                                                                      \
  static PNN_NOINLINE void position_sums_##nv(size_t P, const int32_t *w, const int32_t *v, size_t stride, \
                                              int32_t *out) {                                     \
    position_sums(nv, P, w, v, stride, out);                                                      \
  }
PNN_S8_WINO2_SUMS(1)
PNN_S8_WINO2_SUMS(2)
PNN_S8_WINO2_SUMS(3)
#undef PNN_S8_WINO2_SUMS

/* ---- output transform ------------------------------------------------------------ */

/* 16 bytes of one output row of 8 tiles: column 0 and 1 of each tile interleaved,
 * saturated to u8 and clamped to [lo, hi]. */
static PNN_ALWAYS_INLINE __m128i row_bytes(__m256i c0, __m256i c1, __m128i lo, __m128i hi) {
  const __m256i t01 = _mm256_unpacklo_epi32(c0, c1); /* tiles 0, 1 | 4, 5 */
  const __m256i t23 = _mm256_unpackhi_epi32(c0, c1); /* tiles 2, 3 | 6, 7 */
  const __m256i words = _mm256_packs_epi32(t01, t23); /* tiles 0-3 | 4-7 */
  const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
  return _mm_min_epu8(_mm_max_epu8(bytes, lo), hi);
}

/* S of the 8 tiles of vector k of one row of the block's sums, requantized: out rows
 * a = 0, 1 of the tiles as bytes (16 each). */
static PNN_ALWAYS_INLINE void output_vector(const int32_t *sums, size_t k, const pnn_x86_requant8 *rq8,
                                            __m256i bias, __m128i lo, __m128i hi, uint8_t *row0, uint8_t *row1) {
  __m256i s0[4], s1[4];
  for (size_t q = 0; q < 4; ++q) {
    const int32_t *m = sums + q * ROWS * TILE_TILES + k * LANES;
    const size_t step = 4 * ROWS * TILE_TILES; /* from position q to q + 4 */
    const __m256i m0 = _mm256_load_si256((const __m256i *)m);
    const __m256i m1 = _mm256_load_si256((const __m256i *)(m + step));
    const __m256i m2 = _mm256_load_si256((const __m256i *)(m + 2 * step));
    const __m256i m3 = _mm256_load_si256((const __m256i *)(m + 3 * step));
    /* A^T along the column: rows (0 + 1 + 2, 1 - 2 - 3), wrapping */
    s0[q] = _mm256_add_epi32(_mm256_add_epi32(m0, m1), m2);
    s1[q] = _mm256_sub_epi32(_mm256_sub_epi32(m1, m2), m3);
  }
  for (size_t a = 0; a < 2; ++a) {
    const __m256i *s = a == 0 ? s0 : s1;
    /* A along the row: 4S exactly (it fits int32), S by an arithmetic shift. */
    __m256i c0 = _mm256_add_epi32(_mm256_add_epi32(s[0], s[1]), s[2]);
    __m256i c1 = _mm256_sub_epi32(_mm256_sub_epi32(s[1], s[2]), s[3]);
    c0 = pnn_x86_requant8_apply(_mm256_add_epi32(_mm256_srai_epi32(c0, 2), bias), rq8);
    c1 = pnn_x86_requant8_apply(_mm256_add_epi32(_mm256_srai_epi32(c1, 2), bias), rq8);
    _mm_storeu_si128((__m128i *)((a == 0 ? row0 : row1) + 2 * LANES * k), row_bytes(c0, c1, lo, hi));
  }
}

/* Copies the output rows of tiles [t, t + n) (bytes[a][2 i + b] is pixel (2 ty + a,
 * 2 tx + b) of tile t + i) into channel plane y, clipped to the image. */
static void scatter_tiles(const pnn_conv2d_geometry *g, size_t t, size_t n, const uint8_t bytes[2][2 * TILE_TILES],
                          uint8_t *y) {
  const size_t tiles_w = (g->out_w + 1) / 2;
  for (size_t i = 0; i < n;) {
    const size_t ty = (t + i) / tiles_w, tx = (t + i) % tiles_w;
    const size_t run = tiles_w - tx < n - i ? tiles_w - tx : n - i;
    const size_t ox = 2 * tx, cols = 2 * run < g->out_w - ox ? 2 * run : g->out_w - ox;
    for (size_t a = 0; a < 2 && 2 * ty + a < g->out_h; ++a)
      memcpy(y + (2 * ty + a) * g->out_w + ox, bytes[a] + 2 * i, cols);
    i += run;
  }
}

static void avx2_run(const pnn_conv2d_geometry *g, size_t M, const uint8_t *x, uint8_t x_zero_point, size_t t0,
                     size_t count, size_t m_begin, size_t m_end, const void *packed, const int32_t *bias,
                     const pnn_requant *rq, uint8_t *y, void *scratch) {
  const size_t C = g->channels, P = pair_count(C), stride = v_stride(count);
  const size_t plane = g->out_h * g->out_w;
  (void)M; /* U's blocks of 4 rows are found from m0 alone */
  int32_t *v = scratch;
  input_transform(g, x, x_zero_point, t0, count, v, stride);
  const int32_t *u = packed;
  const __m128i lo = _mm_set1_epi8((char)rq->lo), hi = _mm_set1_epi8((char)rq->hi);
  _Alignas(32) int32_t sums[POSITIONS][ROWS][TILE_TILES];
  _Alignas(16) uint8_t bytes[2][2 * TILE_TILES];
  for (size_t m0 = m_begin; m0 < m_end; m0 += ROWS) {
    const size_t rows = m_end - m0 < ROWS ? m_end - m0 : ROWS;
    for (size_t n0 = 0; n0 < count; n0 += TILE_TILES) {
      const size_t n = count - n0 < TILE_TILES ? count - n0 : TILE_TILES;
      const size_t nv = (n + LANES - 1) / LANES;
      for (size_t xi = 0; xi < POSITIONS; ++xi) {
        const int32_t *w = u + ((m0 / ROWS) * POSITIONS + xi) * P * ROWS;
        const int32_t *vx = v + xi * P * stride + n0;
        if (nv > 2) position_sums_3(P, w, vx, stride, &sums[xi][0][0]);
        else if (nv > 1) position_sums_2(P, w, vx, stride, &sums[xi][0][0]);
        else position_sums_1(P, w, vx, stride, &sums[xi][0][0]);
      }
      for (size_t r = 0; r < rows; ++r) {
        const size_t m = m0 + r;
        const pnn_x86_requant8 rq8 = pnn_x86_requant8_make(rq->multiplier[m], rq->shift[m], rq->zero_point);
        const __m256i b = _mm256_set1_epi32(bias[m]);
        for (size_t k = 0; k < nv; ++k) output_vector(&sums[0][r][0], k, &rq8, b, lo, hi, bytes[0], bytes[1]);
        scatter_tiles(g, t0 + n0, n, (const uint8_t(*)[2 * TILE_TILES])bytes, y + m * plane);
      }
    }
  }
}

const pnn_s8_wino2_kernel pnn_s8_wino2_avx2 = {"avx2", TILE_TILES, avx2_scratch_size, avx2_run};

PNN_TARGET_END()

#endif /* __x86_64__ */
