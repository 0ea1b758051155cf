/* The 8-lane (ymm) s8 GEMM shared by avx2.c and avxvnni.c, which differ only in how
 * a 32-bit lane multiplies and accumulates one group of k:
 *   avxvnni: a group is 4 k as u8 x s8 quads, vpdpbusd (exact, no saturation);
 *   avx2:    a group is 2 k widened to i16 pairs, vpmaddwd then vpaddd (exact: the
 *            two i16 x i16 products and their sum fit int32, unlike vpmaddubsw's
 *            saturating i16 sums).
 * Either way one group of one row is 4 bytes, so both share the layouts below. The
 * including file defines, inside its `#pragma GCC target` region and before including:
 *   YMM_K_GROUP                      k per group (4 or 2)
 *   ymm_mac(acc, x, w)               acc + the group products of each 32-bit lane
 *   ymm_pack_panel(X, ldx, K, groups, width, panel)
 *                                    one 16-pixel panel chunk per group (x86_impl.h)
 *   ymm_gemv_x(X, ldx, K, groups, x) the single column's groups as 4-byte words
 * and its pack writes pack.h's layout with 8-row blocks and that group.
 *
 * Packed weights: per 8-row block and group, 32 bytes (8 rows' groups). Lanes run
 * across pixels: a tile is 16 pixels (one panel chunk, 64 bytes per group = two ymm)
 * and the micro-kernel takes 4 rows of a block at a time (8 accumulators, 2 panel
 * vectors, 1 broadcast: the 16 ymm registers leave no room for 8 rows); the panel stays
 * in L1/L2 for every row block. Accumulators start at the bias and are requantized in
 * registers at the store (x86_impl.h), pixel tails through a small buffer.
 *
 * N == 1 is a GEMV with lanes across rows: one 32-byte load of a block's group times
 * the column's group broadcast gives 8 row sums; four blocks share each broadcast. */
#ifndef PNN_S8_GEMM_X86_YMM_GEMM_H
#define PNN_S8_GEMM_X86_YMM_GEMM_H

enum {
  YMM_ROWS = 8,       /* rows per block */
  YMM_TILE_ROWS = 4,  /* rows per micro-tile */
  YMM_GEMV_BLOCKS = 4 /* row blocks sharing one broadcast in the GEMV */
};

static size_t ymm_groups(size_t K) { return (K + YMM_K_GROUP - 1) / YMM_K_GROUP; }

static size_t ymm_pack_size(size_t M, size_t K) {
  return pnn_s8_row_blocks(M, YMM_ROWS) * YMM_ROWS * 4 * ymm_groups(K);
}

static size_t ymm_scratch_size(size_t N, size_t K) {
  return (N == 1 ? 4 : 64) * ymm_groups(K);
}

/* Rows [0, rows) (rows <= 4) of a tile: w points at the block's first tile row, nv is
 * the number of 8-pixel vectors (a constant at every call site). */
static PNN_ALWAYS_INLINE void ymm_micro_kernel(size_t nv, size_t groups, const uint8_t *w,
                                               const uint8_t *panel, size_t rows,
                                               const int32_t *bias, const pnn_requant *rq,
                                               uint8_t *y, size_t ldy, size_t width) {
  __m256i acc[YMM_TILE_ROWS][2];
#pragma GCC unroll 4
  for (size_t r = 0; r < YMM_TILE_ROWS; ++r)
    acc[r][0] = acc[r][1] = r < rows ? _mm256_set1_epi32(bias[r]) : _mm256_setzero_si256();
  for (size_t g = 0; g < groups; ++g) {
    const __m256i x0 = _mm256_load_si256((const __m256i *)(panel + 64 * g));
    const __m256i x1 = nv > 1 ? _mm256_load_si256((const __m256i *)(panel + 64 * g + 32))
                              : _mm256_setzero_si256();
#pragma GCC unroll 4
    for (size_t r = 0; r < YMM_TILE_ROWS; ++r) {
      const __m256i wr = _mm256_set1_epi32(pnn_s8_load_i32(w + 32 * g + 4 * r));
      acc[r][0] = ymm_mac(acc[r][0], x0, wr);
      if (nv > 1) acc[r][1] = ymm_mac(acc[r][1], x1, wr);
    }
  }
#pragma GCC unroll 4
  for (size_t r = 0; r < YMM_TILE_ROWS; ++r) {
    if (r >= rows) break;
    const pnn_s8_requant8_consts p = pnn_s8_requant8_make(_mm256_set1_epi32(rq->multiplier[r]),
                                                   _mm256_set1_epi32(rq->shift[r]), rq);
    pnn_s8_store8(y + r * ldy, pnn_s8_requant8_apply(acc[r][0], &p), width < 8 ? width : 8);
    if (nv > 1) pnn_s8_store8(y + r * ldy + 8, pnn_s8_requant8_apply(acc[r][1], &p), width - 8);
  }
}

static void ymm_run_panels(size_t N, size_t K, size_t m_begin, size_t m_end,
                           const uint8_t *packed, const uint8_t *X, size_t ldx,
                           const int32_t *bias, const pnn_requant *rq, uint8_t *Y, size_t ldy,
                           uint8_t *panel) {
  const size_t groups = ymm_groups(K);
  for (size_t n0 = 0; n0 < N; n0 += PNN_S8_CHUNK) {
    const size_t width = N - n0 < PNN_S8_CHUNK ? N - n0 : PNN_S8_CHUNK;
    ymm_pack_panel(X + n0, ldx, K, groups, width, panel);
    for (size_t m0 = m_begin; m0 < m_end; m0 += YMM_ROWS) {
      const uint8_t *block = packed + m0 * 4 * groups; /* m0 is a multiple of YMM_ROWS */
      for (size_t t0 = m0; t0 < m_end && t0 < m0 + YMM_ROWS; t0 += YMM_TILE_ROWS) {
        const size_t rows = m_end - t0 < YMM_TILE_ROWS ? m_end - t0 : YMM_TILE_ROWS;
        const pnn_requant tile_rq = {rq->multiplier + t0, rq->shift + t0, rq->zero_point,
                                     rq->lo, rq->hi};
        const uint8_t *w = block + 4 * (t0 - m0);
        uint8_t *y = Y + t0 * ldy + n0;
        if (width > 8)
          ymm_micro_kernel(2, groups, w, panel, rows, bias + t0, &tile_rq, y, ldy, width);
        else
          ymm_micro_kernel(1, groups, w, panel, rows, bias + t0, &tile_rq, y, ldy, width);
      }
    }
  }
}

/* Sums (bias not included) of `blocks` consecutive row blocks into sums[0, 8*blocks). */
static PNN_ALWAYS_INLINE void ymm_gemv_blocks(size_t blocks, size_t groups, const uint8_t *w,
                                              const uint8_t *x_groups, int32_t *sums) {
  const size_t block_bytes = YMM_ROWS * 4 * groups;
  __m256i acc[YMM_GEMV_BLOCKS];
#pragma GCC unroll 4
  for (size_t b = 0; b < YMM_GEMV_BLOCKS; ++b) acc[b] = _mm256_setzero_si256();
  for (size_t g = 0; g < groups; ++g) {
    const __m256i x = _mm256_set1_epi32(pnn_s8_load_i32(x_groups + 4 * g));
#pragma GCC unroll 4
    for (size_t b = 0; b < YMM_GEMV_BLOCKS; ++b)
      if (b < blocks)
        acc[b] = ymm_mac(acc[b], x,
                         _mm256_load_si256((const __m256i *)(w + b * block_bytes + 32 * g)));
  }
#pragma GCC unroll 4
  for (size_t b = 0; b < YMM_GEMV_BLOCKS; ++b)
    if (b < blocks) _mm256_storeu_si256((__m256i *)(sums + YMM_ROWS * b), acc[b]);
}

static void ymm_run_gemv(size_t K, size_t m_begin, size_t m_end, const uint8_t *packed,
                         const uint8_t *X, size_t ldx, const int32_t *bias,
                         const pnn_requant *rq, uint8_t *Y, size_t ldy, uint8_t *x_groups) {
  const size_t groups = ymm_groups(K);
  ymm_gemv_x(X, ldx, K, groups, x_groups);
  int32_t sums[YMM_GEMV_BLOCKS * YMM_ROWS];
  for (size_t m0 = m_begin; m0 < m_end; m0 += YMM_GEMV_BLOCKS * YMM_ROWS) {
    const size_t group_rows = YMM_GEMV_BLOCKS * YMM_ROWS;
    const size_t rows = m_end - m0 < group_rows ? m_end - m0 : group_rows;
    const uint8_t *w = packed + m0 * 4 * groups;
    switch ((rows + YMM_ROWS - 1) / YMM_ROWS) {
      case 1: ymm_gemv_blocks(1, groups, w, x_groups, sums); break;
      case 2: ymm_gemv_blocks(2, groups, w, x_groups, sums); break;
      case 3: ymm_gemv_blocks(3, groups, w, x_groups, sums); break;
      default: ymm_gemv_blocks(4, groups, w, x_groups, sums); break;
    }
    pnn_s8_gemv_store8(rows, sums, bias, rq, m0, Y, ldy);
  }
}

static void ymm_run(size_t M, size_t N, size_t K, size_t m_begin, size_t m_end,
                    const void *packed, const uint8_t *X, size_t ldx, const int32_t *bias,
                    const pnn_requant *rq, uint8_t *Y, size_t ldy, void *scratch) {
  (void)M;
  if (N == 1)
    ymm_run_gemv(K, m_begin, m_end, (const uint8_t *)packed, X, ldx, bias, rq, Y, ldy,
                 (uint8_t *)scratch);
  else
    ymm_run_panels(N, K, m_begin, m_end, (const uint8_t *)packed, X, ldx, bias, rq, Y, ldy,
                   (uint8_t *)scratch);
}

#endif /* PNN_S8_GEMM_X86_YMM_GEMM_H */
