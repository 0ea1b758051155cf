/* s8 GEMM for AVX-512 VNNI (contract in pnn_kernels_s8.h).
 *
 * vpdpbusd multiplies 4 u8 by 4 s8 and adds the four products to an int32 lane, without
 * saturation, so u8 activations times s8 weights are exact as they are.
 *
 * Packed weights (pack.h): blocks of 8 rows, k in quads, K padded to a multiple of 8
 * with zeros: per block and quad, 32 bytes = 8 rows' 4 weights, each broadcast as one
 * dword. Lanes run across pixels: the X panel (x86_impl.h, in the scratch) holds for
 * each k-quad and 16 pixels one zmm of u8 quads. The micro-tile is 8 rows x up to 48
 * pixels (24 accumulators, 3 panel vectors, 1 broadcast), the 16-pixel chunks of N
 * spread evenly over the tiles; the panel of one tile covers all of K and is reused by
 * every row block of the range. Accumulators start at the bias and are requantized in
 * registers at the store (masked byte stores for the pixel tail).
 *
 * N == 1 (fully connected at batch 1) is a GEMV with lanes across rows instead: one
 * 64-byte load of a block gives 8 rows x 2 quads, multiplied by the x column's two
 * quads broadcast to the matching halves (expanded once into the scratch); four blocks
 * share each x vector. K padded to 8 keeps those 64-byte loads inside the block.
 *
 * s4 (pnn_s4_gemm_avx512vnni): the same blocks in pack.h's s4 form with 64 lanes, K
 * padded to 16 so a block is whole 128-weight units. One 64-byte load, two masks, a shift
 * and two vpshufb (the 16-entry sign-extension table) give two zmm of s8 weights: in the
 * GEMV two pairs of quads, right before their vpdpbusd; in the panel path each row block
 * is staged that way into the scratch (8 x K bytes, in L1) before its micro-tile, which
 * then broadcasts from it as on s8. (Unpacking in the micro-tile instead needs a vpshufd
 * per row and quad to broadcast from a register, which competes with vpdpbusd for
 * port 5: measured 1.4-1.7x slower on a Sapphire Rapids core.)
 *
 * ISA flags are set per file; pnn_s8_gemm_select only picks this with
 * cpu->avx512vnni. */
#include "pnn_kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

PNN_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")

#include <immintrin.h>
#include <stdbool.h>

#include "pack.h"
#include "x86_impl.h"

enum {
  ROWS = 8,         /* rows per block and micro-tile */
  TILE_CHUNKS = 3,  /* 16-pixel vectors per micro-tile (48 pixels) */
  K_ALIGN = 8,      /* two quads: the GEMV reads 64 bytes of a block at a time */
  GEMV_BLOCKS = 4   /* row blocks sharing one x vector in the GEMV */
};

static size_t padded_k(size_t K) { return pnn_s8_round_up(K, K_ALIGN); }
static size_t padded_k_s4(size_t K) { return pnn_s8_round_up(K, 2 * K_ALIGN); }

static size_t avx512vnni_pack_size(size_t M, size_t K) {
  return pnn_s8_row_blocks(M, ROWS) * ROWS * padded_k(K);
}

static void avx512vnni_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  pnn_s8_pack_blocks(M, K, W, ROWS, 4, padded_k(K), (int8_t *)packed);
}

/* GEMV: the column and its pairs of quads; panels: one tile's X panel. kp: padded K. */
static size_t scratch_bytes(size_t N, size_t kp) {
  if (N == 1) return pnn_s8_round_up(kp, 64) + kp / 8 * 64;
  const size_t chunks = (N + PNN_S8_CHUNK - 1) / PNN_S8_CHUNK;
  return kp / 4 * (chunks < TILE_CHUNKS ? chunks : TILE_CHUNKS) * 64;
}

static size_t avx512vnni_scratch_size(size_t N, size_t K) { return scratch_bytes(N, padded_k(K)); }

/* ---- s4 weights -------------------------------------------------------------------- */

static size_t avx512vnni_s4_pack_size(size_t M, size_t K) {
  return pnn_s8_row_blocks(M, ROWS) * ROWS * padded_k_s4(K) / 2;
}

static void avx512vnni_s4_pack(size_t M, size_t K, const int8_t *W, void *packed) {
  pnn_s4_pack_blocks(M, K, W, ROWS, 4, padded_k_s4(K), 64, (uint8_t *)packed);
}

/* Panels also stage one s8 row block (8 x padded K bytes) in front of the X panel. */
static size_t avx512vnni_s4_scratch_size(size_t N, size_t K) {
  const size_t kp = padded_k_s4(K);
  return (N == 1 ? 0 : ROWS * kp) + scratch_bytes(N, kp);
}

/* s8 weights of 64 bytes of nibbles: the low nibbles, then the high ones. */
static PNN_ALWAYS_INLINE void unpack_s4(__m512i v, __m512i *lo, __m512i *hi) {
  const __m512i table = _mm512_broadcast_i32x4(
      _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1));
  const __m512i mask = _mm512_set1_epi8(0x0F);
  *lo = _mm512_shuffle_epi8(table, _mm512_and_si512(v, mask));
  *hi = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(v, 4), mask));
}

/* One s4 row block (kp: padded K) unpacked into the s8 layout. */
static const int8_t *stage_block(size_t kp, const uint8_t *nibbles, int8_t *staged) {
  for (size_t unit = 0; unit < ROWS * kp / 128; ++unit) {
    __m512i lo, hi;
    unpack_s4(_mm512_load_si512((const void *)(nibbles + 64 * unit)), &lo, &hi);
    _mm512_store_si512((void *)(staged + 128 * unit), lo);
    _mm512_store_si512((void *)(staged + 128 * unit + 64), hi);
  }
  return staged;
}

static inline __mmask16 lane_mask(size_t n) {
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* ---- requantization (the rule of pnn_requantize on 16 int32 lanes) -------------
 * Even and odd lanes become 64-bit products (vpmuldq), get the rounding term, an
 * arithmetic shift and the clamp in 64 bits (the shifted value can exceed int32), and
 * are merged back into int32 lanes. */
typedef struct lane_requant {
  __m512i mult_even, mult_odd;   /* multipliers in the low half of each 64-bit lane */
  __m512i shift_even, shift_odd; /* S per 64-bit lane */
  __m512i round_even, round_odd; /* 2^(S-1) */
} lane_requant;

typedef struct layer_clamp {
  __m512i lo, hi;     /* lo - zero_point, hi - zero_point (64-bit lanes) */
  __m512i zero_point; /* int32 lanes */
} layer_clamp;

static PNN_ALWAYS_INLINE lane_requant make_lane_requant(__m512i mult32, __m512i shift32) {
  const __m512i one = _mm512_set1_epi64(1);
  lane_requant p;
  p.mult_even = mult32;
  p.mult_odd = _mm512_srli_epi64(mult32, 32);
  p.shift_even = _mm512_and_si512(shift32, _mm512_set1_epi64(0xFFFFFFFF));
  p.shift_odd = _mm512_srli_epi64(shift32, 32);
  p.round_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(p.shift_even, one));
  p.round_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(p.shift_odd, one));
  return p;
}

static layer_clamp make_layer_clamp(const pnn_requant *rq) {
  layer_clamp c;
  c.lo = _mm512_set1_epi64((int64_t)rq->lo - rq->zero_point);
  c.hi = _mm512_set1_epi64((int64_t)rq->hi - rq->zero_point);
  c.zero_point = _mm512_set1_epi32(rq->zero_point);
  return c;
}

static PNN_ALWAYS_INLINE __m512i requant16(__m512i acc, const lane_requant *p,
                                           const layer_clamp *c) {
  __m512i even = _mm512_mul_epi32(acc, p->mult_even);
  __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), p->mult_odd);
  even = _mm512_srav_epi64(_mm512_add_epi64(even, p->round_even), p->shift_even);
  odd = _mm512_srav_epi64(_mm512_add_epi64(odd, p->round_odd), p->shift_odd);
  even = _mm512_min_epi64(_mm512_max_epi64(even, c->lo), c->hi);
  odd = _mm512_min_epi64(_mm512_max_epi64(odd, c->lo), c->hi);
  const __m512i merged = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  return _mm512_add_epi32(merged, c->zero_point);
}

/* ---- N > 1: panels of up to 48 pixels -------------------------------------------- */

/* Rows [0, rows) of one block times a panel of `chunks` vectors (a constant at every
 * call site, so the loops unroll into registers), requantized into Y. */
static PNN_ALWAYS_INLINE void micro_kernel(size_t chunks, size_t k_quads, const int8_t *w,
                                           const uint8_t *panel, size_t rows,
                                           const int32_t *bias, const pnn_requant *rq,
                                           const layer_clamp *clamp, uint8_t *y, size_t ldy,
                                           size_t width) {
  __m512i acc[ROWS][TILE_CHUNKS];
#pragma GCC unroll 8
  for (size_t r = 0; r < ROWS; ++r) {
    const __m512i init = r < rows ? _mm512_set1_epi32(bias[r]) : _mm512_setzero_si512();
#pragma GCC unroll 3
    for (size_t v = 0; v < TILE_CHUNKS; ++v) acc[r][v] = init;
  }
  for (size_t q = 0; q < k_quads; ++q) {
    const uint8_t *xq = panel + q * chunks * 64;
    const int8_t *wq = w + q * ROWS * 4;
    __m512i x[TILE_CHUNKS];
#pragma GCC unroll 3
    for (size_t v = 0; v < TILE_CHUNKS; ++v)
      x[v] = v < chunks ? _mm512_load_si512((const void *)(xq + 64 * v)) : _mm512_setzero_si512();
#pragma GCC unroll 8
    for (size_t r = 0; r < ROWS; ++r) {
      const __m512i wr = _mm512_set1_epi32(pnn_s8_load_i32(wq + 4 * r));
#pragma GCC unroll 3
      for (size_t v = 0; v < TILE_CHUNKS; ++v)
        if (v < chunks) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], x[v], wr);
    }
  }
#pragma GCC unroll 8
  for (size_t r = 0; r < ROWS; ++r) {
    if (r >= rows) break;
    const lane_requant p = make_lane_requant(_mm512_set1_epi32(rq->multiplier[r]),
                                             _mm512_set1_epi32(rq->shift[r]));
#pragma GCC unroll 3
    for (size_t v = 0; v < TILE_CHUNKS; ++v)
      if (v < chunks)
        _mm512_mask_cvtepi32_storeu_epi8(y + r * ldy + 16 * v, lane_mask(width - 16 * v),
                                         requant16(acc[r][v], &p, clamp));
  }
}

/* packed: s8 blocks, or s4 blocks (s4) staged one by one into `staged`. kp: padded K. */
static void run_panels(size_t N, size_t K, size_t kp, size_t m_begin, size_t m_end,
                       const void *packed, bool s4, const uint8_t *X, size_t ldx,
                       const int32_t *bias, const pnn_requant *rq, uint8_t *Y, size_t ldy,
                       uint8_t *panel, int8_t *staged) {
  const size_t k_quads = kp / 4;
  const layer_clamp clamp = make_layer_clamp(rq);
  /* The 16-pixel chunks spread evenly over the fewest tiles (49 pixels: 2 + 2 chunks,
   * not 3 + 1: a one-chunk tile has too few independent accumulators to hide the
   * vpdpbusd latency). */
  const size_t total_chunks = (N + PNN_S8_CHUNK - 1) / PNN_S8_CHUNK;
  const size_t tiles = (total_chunks + TILE_CHUNKS - 1) / TILE_CHUNKS;
  size_t n0 = 0;
  for (size_t t = 0; t < tiles; ++t) {
    const size_t chunks = total_chunks / tiles + (t < total_chunks % tiles);
    const size_t width = N - n0 < chunks * PNN_S8_CHUNK ? N - n0 : chunks * PNN_S8_CHUNK;
    pnn_s8_pack_x_quads(X + n0, ldx, K, k_quads, width, chunks, panel);
    for (size_t m0 = m_begin; m0 < m_end; m0 += ROWS) {
      const size_t rows = m_end - m0 < ROWS ? m_end - m0 : ROWS;
      /* m0 is a multiple of ROWS */
      const int8_t *w = s4 ? stage_block(kp, (const uint8_t *)packed + m0 * kp / 2, staged)
                           : (const int8_t *)packed + m0 * kp;
      const pnn_requant row_rq = {rq->multiplier + m0, rq->shift + m0, rq->zero_point, rq->lo,
                                  rq->hi};
      uint8_t *y = Y + m0 * ldy + n0;
      switch (chunks) {
        case 1:
          micro_kernel(1, k_quads, w, panel, rows, bias + m0, &row_rq, &clamp, y, ldy, width);
          break;
        case 2:
          micro_kernel(2, k_quads, w, panel, rows, bias + m0, &row_rq, &clamp, y, ldy, width);
          break;
        default:
          micro_kernel(3, k_quads, w, panel, rows, bias + m0, &row_rq, &clamp, y, ldy, width);
          break;
      }
    }
    n0 += width;
  }
}

/* ---- N == 1: GEMV ------------------------------------------------------------------ */

/* Sums (bias not included) of `blocks` consecutive row blocks into sums[0, 8*blocks). */
static PNN_ALWAYS_INLINE void gemv_blocks(size_t blocks, size_t pairs, const int8_t *w,
                                          size_t block_bytes, const uint8_t *x_pairs,
                                          int32_t *sums) {
  __m512i acc[GEMV_BLOCKS];
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b) acc[b] = _mm512_setzero_si512();
  for (size_t p = 0; p < pairs; ++p) {
    const __m512i x = _mm512_load_si512((const void *)(x_pairs + 64 * p));
#pragma GCC unroll 4
    for (size_t b = 0; b < GEMV_BLOCKS; ++b)
      if (b < blocks)
        acc[b] = _mm512_dpbusd_epi32(
            acc[b], x, _mm512_load_si512((const void *)(w + b * block_bytes + 64 * p)));
  }
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b)
    if (b < blocks) /* lanes 0..7: the block's rows over even quads, 8..15: odd quads */
      _mm256_storeu_si256((__m256i *)(sums + ROWS * b),
                          _mm256_add_epi32(_mm512_castsi512_si256(acc[b]),
                                           _mm512_extracti64x4_epi64(acc[b], 1)));
}

/* gemv_blocks on s4 blocks (block_bytes of nibbles each; pairs is even): one load of
 * nibbles gives the s8 weights of two pairs of quads. */
static PNN_ALWAYS_INLINE void gemv_blocks_s4(size_t blocks, size_t pairs, const uint8_t *w,
                                             size_t block_bytes, const uint8_t *x_pairs,
                                             int32_t *sums) {
  __m512i acc[GEMV_BLOCKS];
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b) acc[b] = _mm512_setzero_si512();
  for (size_t p = 0; p < pairs; p += 2) {
    const __m512i x0 = _mm512_load_si512((const void *)(x_pairs + 64 * p));
    const __m512i x1 = _mm512_load_si512((const void *)(x_pairs + 64 * p + 64));
#pragma GCC unroll 4
    for (size_t b = 0; b < GEMV_BLOCKS; ++b) {
      if (b < blocks) {
        __m512i w0, w1;
        unpack_s4(_mm512_load_si512((const void *)(w + b * block_bytes + 32 * p)), &w0, &w1);
        acc[b] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(acc[b], x0, w0), x1, w1);
      }
    }
  }
#pragma GCC unroll 4
  for (size_t b = 0; b < GEMV_BLOCKS; ++b)
    if (b < blocks)
      _mm256_storeu_si256((__m256i *)(sums + ROWS * b),
                          _mm256_add_epi32(_mm512_castsi512_si256(acc[b]),
                                           _mm512_extracti64x4_epi64(acc[b], 1)));
}

/* packed: s8 blocks, or s4 blocks (s4). kp: padded K. */
static void run_gemv(size_t K, size_t kp, size_t m_begin, size_t m_end, const void *packed,
                     bool s4, const uint8_t *X, size_t ldx, const int32_t *bias,
                     const pnn_requant *rq, uint8_t *Y, size_t ldy, uint8_t *scratch) {
  const size_t pairs = kp / 8, block_bytes = s4 ? ROWS * kp / 2 : ROWS * kp;
  uint8_t *column = scratch, *x_pairs = scratch + pnn_s8_round_up(kp, 64);
  pnn_s8_gather_column(X, ldx, K, kp, column);
  /* x_pairs[p]: quad 2p broadcast to lanes 0..7, quad 2p+1 to lanes 8..15. */
  const __m512i halves = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  for (size_t p = 0; p < pairs; ++p)
    _mm512_store_si512((void *)(x_pairs + 64 * p),
                       _mm512_permutexvar_epi32(
                           halves, _mm512_castsi128_si512(
                                       _mm_loadl_epi64((const __m128i *)(column + 8 * p)))));
  const layer_clamp clamp = make_layer_clamp(rq);
  int32_t sums[GEMV_BLOCKS * ROWS];
  for (size_t m0 = m_begin; m0 < m_end; m0 += GEMV_BLOCKS * ROWS) {
    const size_t rows = m_end - m0 < GEMV_BLOCKS * ROWS ? m_end - m0 : GEMV_BLOCKS * ROWS;
    const size_t blocks = (rows + ROWS - 1) / ROWS;
    const uint8_t *w = (const uint8_t *)packed + m0 / ROWS * block_bytes;
    if (s4) {
      switch (blocks) {
        case 1: gemv_blocks_s4(1, pairs, w, block_bytes, x_pairs, sums); break;
        case 2: gemv_blocks_s4(2, pairs, w, block_bytes, x_pairs, sums); break;
        case 3: gemv_blocks_s4(3, pairs, w, block_bytes, x_pairs, sums); break;
        default: gemv_blocks_s4(4, pairs, w, block_bytes, x_pairs, sums); break;
      }
    } else {
      const int8_t *w8 = (const int8_t *)w;
      switch (blocks) {
        case 1: gemv_blocks(1, pairs, w8, block_bytes, x_pairs, sums); break;
        case 2: gemv_blocks(2, pairs, w8, block_bytes, x_pairs, sums); break;
        case 3: gemv_blocks(3, pairs, w8, block_bytes, x_pairs, sums); break;
        default: gemv_blocks(4, pairs, w8, block_bytes, x_pairs, sums); break;
      }
    }
    for (size_t i = 0; i < rows; i += 16) {
      const size_t m = m0 + i;
      const __mmask16 mask = lane_mask(rows - i);
      const __m512i acc = _mm512_add_epi32(_mm512_maskz_loadu_epi32(mask, sums + i),
                                           _mm512_maskz_loadu_epi32(mask, bias + m));
      const lane_requant p = make_lane_requant(_mm512_maskz_loadu_epi32(mask, rq->multiplier + m),
                                               _mm512_maskz_loadu_epi32(mask, rq->shift + m));
      uint8_t out[16];
      _mm_storeu_si128((__m128i *)out, _mm512_cvtepi32_epi8(requant16(acc, &p, &clamp)));
      const size_t count = rows - i < 16 ? rows - i : 16;
      for (size_t r = 0; r < count; ++r) Y[(m + r) * ldy] = out[r];
    }
  }
}

static void avx512vnni_run(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end,
                           const void *packed, const uint8_t *X, size_t ldx, const int32_t *bias,
                           const pnn_requant *rq, uint8_t *Y, size_t ldy, void *scratch) {
  (void)M;
  if (N == 1)
    run_gemv(K, padded_k(K), m_begin, m_end, packed, false, X, ldx, bias, rq, Y, ldy,
             (uint8_t *)scratch);
  else
    run_panels(N, K, padded_k(K), m_begin, m_end, packed, false, X, ldx, bias, rq, Y, ldy,
               (uint8_t *)scratch, NULL);
}

static void avx512vnni_s4_run(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end,
                              const void *packed, const uint8_t *X, size_t ldx,
                              const int32_t *bias, const pnn_requant *rq, uint8_t *Y,
                              size_t ldy, void *scratch) {
  (void)M;
  const size_t kp = padded_k_s4(K);
  if (N == 1)
    run_gemv(K, kp, m_begin, m_end, packed, true, X, ldx, bias, rq, Y, ldy, (uint8_t *)scratch);
  else
    run_panels(N, K, kp, m_begin, m_end, packed, true, X, ldx, bias, rq, Y, ldy,
               (uint8_t *)scratch + ROWS * kp, (int8_t *)scratch);
}

const pnn_s8_gemm_kernel pnn_s8_gemm_avx512vnni = {
    "avx512vnni",   ROWS, avx512vnni_pack_size, avx512vnni_pack, avx512vnni_scratch_size,
    avx512vnni_run,
};

const pnn_s8_gemm_kernel pnn_s4_gemm_avx512vnni = {
    "avx512vnni",      ROWS, avx512vnni_s4_pack_size, avx512vnni_s4_pack,
    avx512vnni_s4_scratch_size, avx512vnni_s4_run,
};

PNN_TARGET_END()

#endif /* x86-64 */
