/* The 8-lane (ymm) s8 GEMM shared by avx2.c and avxvnni.c, which differ only in how
 * a 32-bit lane multiplies and accumulates one group of k:
 *   avxvnni: a group is 4 k as u8 x s8 quads, vpdpbusd (exact, no saturation);
 *   avx2:    a group is 2 k widened to i16 pairs, vpmaddwd then vpaddd (exact: the
 *            two i16 x i16 products and their sum fit int32, unlike vpmaddubsw's
 *            saturating i16 sums).
 * Either way one group of one row is 4 bytes, so both share the layouts below. The
 * including file defines, inside its `#pragma GCC target` region and before including:
 *   GROUP_K             k per group (4 or 2)
 *   ymm_mac(acc, x, w)  acc + the group products of each 32-bit lane
 *   pack_panel(X, ldx, K, groups, width, panel)
 *                       one 16-pixel panel chunk per group (x86_impl.h)
 *   gemv_column(X, ldx, K, groups, x)
 *                       the single column's groups as 4-byte words
 * and its pack writes pack.h's layout with 8-row blocks and that group. The tile and
 * GEMV loops are gemm_driver.h's.
 *
 * Packed weights: per 8-row block and group, 32 bytes (8 rows' groups). Lanes run
 * across pixels: a tile is TILE_VECTORS ymm of 8 pixels (the including file may define
 * it as 3; by default 2: one 16-pixel panel chunk, 64 bytes per group) and the
 * micro-kernel takes 4 rows of a block at a time (4 x TILE_VECTORS accumulators, the
 * panel vectors, 1 broadcast: the 16 ymm registers leave no room for 8 rows); the panel
 * stays in L1/L2 for every row block. A third vector shares each weight broadcast among
 * 3 multiplies instead of 2. Accumulators start at the bias and are requantized in
 * registers at the store with the row's constants (x86_impl.h), pixel tails through a
 * small buffer.
 *
 * N == 1 is a GEMV with lanes across rows: one 32-byte load of a block's group times
 * the column's group broadcast gives 8 row sums; four blocks share each broadcast.
 *
 * With PNN_S8_GEMM_FIXUP, a variant whose group products cover only part of W (avx2
 * maddubs.c) adds the rest from its block tails (BLOCK_TAIL_BYTES, gemm_driver.h):
 *   tile_fixup(nv, groups, w, panel, acc)   into a tile's accumulators, before the
 *                                            requantization (w, panel as in tile_sums)
 *   gemv_fixup(blocks, groups, w, x, sums)  into the GEMV's row sums of `blocks` blocks
 *
 * With PNN_S8_GEMM_DRIVER_S4 (u8 x s8 quads only: GROUP_K 4), also the s4 kernel
 * (gemm_driver.h) of these blocks in pack.h's s4 form with 32 lanes: one 32-byte load of
 * nibbles unpacks (x86_impl.h) into two groups of a block. */
#ifndef PNN_S8_GEMM_X86_YMM_GEMM_H
#define PNN_S8_GEMM_X86_YMM_GEMM_H

#if !defined(TILE_VECTORS)
#define TILE_VECTORS 2
#endif
#if !defined(BLOCK_TAIL_BYTES)
#define BLOCK_TAIL_BYTES(groups) 0
#endif
_Static_assert(TILE_VECTORS == 2 || TILE_VECTORS == 3, "a tile is 2 or 3 vectors of pixels");

enum {
  ROWS = 8,                              /* rows per block */
  TILE_ROWS = 4,                         /* rows per micro-tile */
  TILE_PIXELS = 8 * TILE_VECTORS,        /* pixels per micro-tile */
  PANEL_GROUP_BYTES = 32 * TILE_VECTORS, /* one group of a tile's pixels in its panel */
  GROUP_BYTES = 4,                       /* one group of one row */
  GEMV_BLOCKS = 4                        /* row blocks sharing one broadcast in the GEMV */
};
/* A tile of 8 pixels or fewer costs about half a full one; up to 4 pixels measured
 * cheaper as GEMVs (Zen 4, AVX2: M 512, K 4608, N 49 = 3 x 16 + 1 from 1.54 to 1.30 ms;
 * 6 pixels break even). */
#define GEMV_TAIL_PIXELS 4
/* How far ahead the micro-kernel prefetches its weights: the first tile of a call reads
 * them cold, and layers of a few MiB (512 x 4608 x 2 bytes) come from DRAM faster when
 * asked for early (Zen 4, AVX2: M 512, K 4608, N 49 cold from 1.78 to 1.58 ms; no
 * change hot). */
enum { WEIGHT_PREFETCH_BYTES = 4096 };

/* The sums of a tile's TILE_ROWS rows (w: the block's first tile row) over nv vectors
 * of 8 pixels, added to acc; nv is a constant at each call. With a third vector, the
 * 4 x 3 accumulators, 3 panel vectors, the broadcast and a product would need 17 of the
 * 16 ymm (GCC 12 then spills an accumulator: 55 GMAC/s), so the third vector is read
 * by each multiply from memory (a folded load); the empty asm keeps the compiler from
 * loading it into a register once. */
static PNN_ALWAYS_INLINE void tile_sums(size_t nv, size_t groups, const uint8_t *w,
                                        const uint8_t *panel,
                                        __m256i acc[TILE_ROWS][TILE_VECTORS]) {
  __m256i a[TILE_ROWS][TILE_VECTORS];
#pragma GCC unroll 4
  for (size_t r = 0; r < TILE_ROWS; ++r)
#pragma GCC unroll 3
    for (size_t v = 0; v < TILE_VECTORS; ++v) a[r][v] = acc[r][v];
#pragma GCC unroll 2
  for (size_t g = 0; g < groups; ++g) {
    const uint8_t *x = panel + PANEL_GROUP_BYTES * g;
    const __m256i x0 = _mm256_load_si256((const __m256i *)x);
    const __m256i x1 = nv > 1 ? _mm256_load_si256((const __m256i *)(x + 32)) : _mm256_setzero_si256();
    /* Integer arithmetic: the address may lie past the packed weights (no fault, and no
     * out-of-bounds pointer). One per 64-byte line (two groups). */
    if (g % 2 == 0)
      _mm_prefetch((const char *)((uintptr_t)w + 32 * g + WEIGHT_PREFETCH_BYTES), _MM_HINT_T0);
#pragma GCC unroll 4
    for (size_t r = 0; r < TILE_ROWS; ++r) {
      const __m256i wr = _mm256_set1_epi32(pnn_s8_load_i32(w + 32 * g + 4 * r));
      a[r][0] = ymm_mac(a[r][0], x0, wr);
      if (nv > 1) a[r][1] = ymm_mac(a[r][1], x1, wr);
#if TILE_VECTORS > 2
      if (nv > 2) {
        __asm__("" : "+r"(x));
        a[r][2] = ymm_mac(a[r][2], _mm256_load_si256((const __m256i *)(x + 64)), wr);
      }
#endif
    }
  }
#if defined(PNN_S8_GEMM_FIXUP)
  tile_fixup(nv, groups, w, panel, a);
#endif
#pragma GCC unroll 4
  for (size_t r = 0; r < TILE_ROWS; ++r)
#pragma GCC unroll 3
    for (size_t v = 0; v < TILE_VECTORS; ++v) acc[r][v] = a[r][v];
}

/* The group loop out of line, unrolled twice: inlined into the tile loops, GCC 12 copies
 * every accumulator once per group (register moves that take dispatch slots) and the
 * requantization after it changes how. Zen 4, AVX2, with the per-row requantization:
 * K 147 from 70 to 73 GMAC/s, K 1152 82 to 85, K 64 55 to 61; K 576 unchanged. */
#define PNN_S8_TILE_SUMS(nv)                                                                  \
  static PNN_NOINLINE void tile_sums_##nv(size_t groups, const uint8_t *w, const uint8_t *panel, \
                                          __m256i acc[TILE_ROWS][TILE_VECTORS]) {            \
    tile_sums(nv, groups, w, panel, acc);                                                     \
  }
PNN_S8_TILE_SUMS(1)
PNN_S8_TILE_SUMS(2)
#if TILE_VECTORS > 2
PNN_S8_TILE_SUMS(3)
#endif
#undef PNN_S8_TILE_SUMS

/* Rows [0, rows) (rows <= 4) of a tile: w points at the block's first tile row, nv is
 * the number of 8-pixel vectors (a constant at every call site). */
static PNN_ALWAYS_INLINE void micro_kernel(size_t nv, size_t groups, const uint8_t *w,
                                           const uint8_t *panel, size_t rows,
                                           const int32_t *bias, const pnn_requant *rq,
                                           uint8_t *y, size_t ldy, size_t width) {
  __m256i acc[TILE_ROWS][TILE_VECTORS];
#pragma GCC unroll 4
  for (size_t r = 0; r < TILE_ROWS; ++r)
#pragma GCC unroll 3
    for (size_t v = 0; v < TILE_VECTORS; ++v)
      acc[r][v] = r < rows ? _mm256_set1_epi32(bias[r]) : _mm256_setzero_si256();
#if TILE_VECTORS > 2
  if (nv > 2)
    tile_sums_3(groups, w, panel, acc);
  else
#endif
  if (nv > 1)
    tile_sums_2(groups, w, panel, acc);
  else
    tile_sums_1(groups, w, panel, acc);
  const __m128i lo = _mm_set1_epi8((char)rq->lo), hi = _mm_set1_epi8((char)rq->hi);
#pragma GCC unroll 4
  for (size_t r = 0; r < TILE_ROWS; ++r) {
    if (r >= rows) break;
    const pnn_x86_requant8 k =
        pnn_x86_requant8_make(rq->multiplier[r], rq->shift[r], rq->zero_point);
    const __m256i q0 = pnn_x86_requant8_apply(acc[r][0], &k);
    const __m256i q1 = nv > 1 ? pnn_x86_requant8_apply(acc[r][1], &k) : q0;
    /* Pixels 0..15, then (a third vector) 16..23. */
    pnn_s8_store_bytes(y + r * ldy, pnn_s8_row_bytes(nv, q0, q1, lo, hi), width);
#if TILE_VECTORS > 2
    if (nv > 2) {
      const __m256i q2 = pnn_x86_requant8_apply(acc[r][2], &k);
      pnn_s8_store_bytes(y + r * ldy + 16, pnn_s8_row_bytes(1, q2, q2, lo, hi), width - 16);
    }
#endif
  }
}

/* One 32-byte load of a block's group times the column's group broadcast: 8 row sums. */
static PNN_ALWAYS_INLINE void gemv_blocks(size_t blocks, size_t groups, const uint8_t *w,
                                          const uint8_t *x_groups, int32_t *sums) {
  const size_t block_bytes = ROWS * 4 * groups + BLOCK_TAIL_BYTES(groups);
  __m256i acc[GEMV_BLOCKS];
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b) acc[b] = _mm256_setzero_si256();
  for (size_t g = 0; g < groups; ++g) {
    const __m256i x = _mm256_set1_epi32(pnn_s8_load_i32(x_groups + 4 * g));
#pragma GCC unroll 4
    for (size_t b = 0; b < GEMV_BLOCKS; ++b)
      if (b < blocks)
        acc[b] = ymm_mac(acc[b], x,
                         _mm256_load_si256((const __m256i *)(w + b * block_bytes + 32 * g)));
  }
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b)
    if (b < blocks) _mm256_storeu_si256((__m256i *)(sums + ROWS * b), acc[b]);
#if defined(PNN_S8_GEMM_FIXUP)
  gemv_fixup(blocks, groups, w, x_groups, sums);
#endif
}

static void gemv_store(size_t rows, const int32_t *sums, const int32_t *bias,
                       const pnn_requant *rq, size_t m0, uint8_t *Y, size_t ldy) {
  pnn_s8_gemv_store8(rows, sums, bias, rq, m0, Y, ldy);
}

#if defined(PNN_S8_GEMM_DRIVER_S4)
_Static_assert(GROUP_K == 4, "the s4 form here unpacks u8 x s8 quads");
enum {
  S4_LANES = 32,      /* bytes of one ymm */
  S4_GROUP_ALIGN = 2  /* a block's group is 32 weights: two make a 64-weight unit */
};

static void s4_stage_block(size_t groups, const uint8_t *nibbles, uint8_t *staged) {
  for (size_t g = 0; g < groups; g += 2) {
    __m256i lo, hi;
    pnn_s4_unpack32(_mm256_load_si256((const __m256i *)(nibbles + 16 * g)), &lo, &hi);
    _mm256_store_si256((__m256i *)(staged + 32 * g), lo);
    _mm256_store_si256((__m256i *)(staged + 32 * g + 32), hi);
  }
}

/* gemv_blocks on s4 blocks: one 32-byte load of nibbles gives a block's groups g, g + 1. */
static PNN_ALWAYS_INLINE void s4_gemv_blocks(size_t blocks, size_t groups, const uint8_t *w,
                                             const uint8_t *x_groups, int32_t *sums) {
  const size_t block_bytes = ROWS * 2 * groups;
  __m256i acc[GEMV_BLOCKS];
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b) acc[b] = _mm256_setzero_si256();
  for (size_t g = 0; g < groups; g += 2) {
    const __m256i x0 = _mm256_set1_epi32(pnn_s8_load_i32(x_groups + 4 * g));
    const __m256i x1 = _mm256_set1_epi32(pnn_s8_load_i32(x_groups + 4 * g + 4));
#pragma GCC unroll 4
    for (size_t b = 0; b < GEMV_BLOCKS; ++b) {
      if (b < blocks) {
        __m256i w0, w1;
        pnn_s4_unpack32(_mm256_load_si256((const __m256i *)(w + b * block_bytes + 16 * g)), &w0,
                        &w1);
        acc[b] = ymm_mac(ymm_mac(acc[b], x0, w0), x1, w1);
      }
    }
  }
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b)
    if (b < blocks) _mm256_storeu_si256((__m256i *)(sums + ROWS * b), acc[b]);
}
#endif

#include "gemm_driver.h"

#endif /* PNN_S8_GEMM_X86_YMM_GEMM_H */
