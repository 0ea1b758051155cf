/* The loops shared by the packed-panel f32 GEMMs (avx2.c, avx512.c, wasmsimd.c; contract
 * in pnn_kernels_nn.h): K blocking, strip and column-group order, tails, bias and
 * activation epilogue. Portable C, included inside the ISA's target region after the
 * ISA's vector hooks:
 *   pb_vec, PB_LANES          the vector type and its float lanes
 *   pb_mask, pb_tail_mask(n)  lanes [0, n) of a vector (n <= PB_LANES)
 *   pb_zero(), pb_set1(x), pb_load(p) (aligned), pb_bcast(p), pb_fma(a, b, c) (a*b + c),
 *   pb_add(a, b), pb_loadu(p), pb_store(p, v) (unaligned), pb_load_tail(m, p),
 *   pb_store_tail(p, m, v),
 *   pb_act(v, kind, alpha, beta)
 *   PB_ACTIVATE_PASS          optional: the ISA's pass for sigmoid, tanh and swish over
 *                             C (pnn_f32_activate_<isa>; default the scalar one)
 *   PB_MR                     most rows of a micro-tile, a macro (6 or 14)
 *   PB_STRIP_COLUMNS          up to this N a K block with a large A runs strip by strip
 *                             (below; 0: never)
 *   PB_K_LOOP_PRAGMA          optional: a pragma for the tile's k loop (unrolling)
 * A micro-tile is up to PB_MR rows x two vectors (a column group of 2 * PB_LANES
 * columns: one 32-column panel for 16 lanes, half of one for 8, a quarter for 4). Per k it loads
 * the group's two B vectors and broadcasts one A value per row. */
#ifndef PNN_F32_GEMM_PB_DRIVER_H
#define PNN_F32_GEMM_PB_DRIVER_H

#include <stdint.h>

enum {
  PB_GROUP = 2 * PB_LANES,                      /* columns of a micro-tile */
  PB_GROUPS = PNN_GEMM_PB_NR / (2 * PB_LANES),  /* column groups per panel */
  /* K rows per block: the block of a column group (PB_KC x 32 floats of panel rows:
   * 32 KiB) stays in L1 while every row strip passes over it; partial sums of an
   * earlier block are kept in C. */
  PB_KC = 256,
  /* Up to this depth all of a strip's panel blocks fit L1 at once. */
  PB_SHORT_K = 64,
  PB_FEW_COLUMNS = 2 * PNN_GEMM_PB_NR,
  /* Floats of an A block (M x kc, 256 KiB) beyond which it does not stay in L2 beside
   * the packed panels and the output (Zen 4: 1 MiB of L2). */
  PB_LARGE_A_FLOATS = 64 * 1024,
  /* Floats of a whole A (M x K, 128 KiB) that stays in L2 while all of B streams past. */
  PB_SMALL_A_FLOATS = 32 * 1024
};
#ifndef PB_K_LOOP_PRAGMA
#define PB_K_LOOP_PRAGMA
#endif
#ifndef PB_ACTIVATE_PASS
#define PB_ACTIVATE_PASS pnn_f32_activate_scalar
#endif
/* How far ahead of the tile's k a streamed B is prefetched (see gemm_pb's stream_b). */
#ifndef PB_STREAM_PREFETCH_BYTES
#define PB_STREAM_PREFETCH_BYTES 4096
#endif
_Static_assert(PB_MR <= PNN_GEMM_PA_MR, "a strip never straddles two A panels");
_Static_assert(PNN_GEMM_PB_NR % (2 * PB_LANES) == 0, "column groups tile a panel");

/* Rows of the strip at m0 when M rows split into strips of near-equal height (20 rows:
 * 10 + 10 on AVX-512, 5 x 4 on AVX2, instead of 14 + 6 and 6 + 6 + 6 + 2, whose last
 * strip has too few accumulators to cover the FMA latency). */
static size_t pb_even_rows(size_t M, size_t m0) {
  const size_t strips = (M + PB_MR - 1) / PB_MR, base = M / strips, taller = M % strips;
  return m0 < taller * (base + 1) ? base + 1 : base;
}

/* Rows of the next strip: left rows remain, the strip starts in_panel rows into its
 * PNN_GEMM_PA_MR-row panel (packed A: a strip never straddles two panels). Smaller
 * tiles split a 14-row panel evenly (6-row tiles as 5 + 5 + 4, 4-row tiles as
 * 4 + 4 + 3 + 3: 6 + 6 + 2 would leave a strip of 4 independent accumulators, too few
 * to cover the FMA latency); 14-row tiles take it whole. */
static size_t pb_strip_rows(int packed, size_t in_panel, size_t left) {
  if (packed && PB_MR < PNN_GEMM_PA_MR) {
    const size_t rows = pb_even_rows(PNN_GEMM_PA_MR, in_panel);
    return left < rows ? left : rows;
  }
  return left < PB_MR ? left : PB_MR;
}

typedef struct pb_epilogue {
  const float *row_bias; /* bias of the strip's first row, or NULL */
  /* Non-zero: the tile prefetches B this many bytes ahead of each k (B streaming from
   * memory, the first strip over a block). */
  uintptr_t prefetch;
  int accumulate, activate, kind;
  pb_vec alpha, beta;
} pb_epilogue;

/* One output row of a tile: two vectors (one when !wide), full or tail. */
static PNN_ALWAYS_INLINE void pb_finish_row(int wide, int full, pb_vec lo, pb_vec hi, float *row,
                                            float bias, pb_mask mlo, pb_mask mhi,
                                            const pb_epilogue *ep) {
  if (ep->accumulate) {
    lo = pb_add(lo, full ? pb_loadu(row) : pb_load_tail(mlo, row));
    if (wide) hi = pb_add(hi, full ? pb_loadu(row + PB_LANES) : pb_load_tail(mhi, row + PB_LANES));
  } else if (ep->row_bias) {
    const pb_vec rb = pb_set1(bias);
    lo = pb_add(lo, rb);
    if (wide) hi = pb_add(hi, rb);
  }
  if (ep->activate) {
    lo = pb_act(lo, ep->kind, ep->alpha, ep->beta);
    if (wide) hi = pb_act(hi, ep->kind, ep->alpha, ep->beta);
  }
  /* Full tiles store whole vectors: masked stores are slow on some cores (AMD). */
  if (full) {
    pb_store(row, lo);
    if (wide) pb_store(row + PB_LANES, hi);
  } else {
    pb_store_tail(row, mlo, lo);
    if (wide) pb_store_tail(row + PB_LANES, mhi, hi);
  }
}

/* packed: a points into a PNN_GEMM_PA_MR-row panel, a[k*PNN_GEMM_PA_MR + i]; else
 * a[i*lda + k]. bp: the column group's first column at its block's first k. */
static PNN_ALWAYS_INLINE void pb_tile(int packed, size_t mr, int wide, int full, size_t kc,
                                      const float *a, size_t lda, const float *bp, float *c,
                                      size_t ldc, pb_mask mlo, pb_mask mhi, const pb_epilogue *ep) {
  pb_vec lo[PB_MR], hi[PB_MR];
#pragma GCC unroll 14
  for (size_t i = 0; i < PB_MR; ++i) lo[i] = hi[i] = pb_zero();
  PB_K_LOOP_PRAGMA
  for (size_t k = 0; k < kc; ++k) {
    const pb_vec b_lo = pb_load(bp + k * PNN_GEMM_PB_NR);
    const pb_vec b_hi = wide ? pb_load(bp + k * PNN_GEMM_PB_NR + PB_LANES) : b_lo;
    if (ep->prefetch) {
      /* As an integer: the address may lie past B's end, where a prefetch is harmless. */
      const uintptr_t row = (uintptr_t)(bp + k * PNN_GEMM_PB_NR) + ep->prefetch;
      for (size_t line = 0; line < PB_GROUP * sizeof(float); line += 64) __builtin_prefetch((const void *)(row + line));
    }
#pragma GCC unroll 14
    for (size_t i = 0; i < PB_MR; ++i) {
      if (i < mr) {
        const pb_vec av = pb_bcast(packed ? a + k * PNN_GEMM_PA_MR + i : a + i * lda + k);
        lo[i] = pb_fma(av, b_lo, lo[i]);
        if (wide) hi[i] = pb_fma(av, b_hi, hi[i]);
      }
    }
  }
#pragma GCC unroll 14
  for (size_t i = 0; i < PB_MR; ++i) {
    if (i < mr)
      pb_finish_row(wide, full, lo[i], hi[i], c + i * ldc, ep->row_bias ? ep->row_bias[i] : 0.0f, mlo,
                    mhi, ep);
  }
}

/* The tile variants: packed, wide and full are constants in each. */
#define PB_TILE_SHAPES(R)                                                           \
  if (width == PB_GROUP) {                                                          \
    if (packed) pb_tile(1, R, 1, 1, kc, a, lda, bp, c, ldc, mlo, mhi, ep);           \
    else pb_tile(0, R, 1, 1, kc, a, lda, bp, c, ldc, mlo, mhi, ep);                  \
  } else if (width > PB_LANES) {                                                    \
    if (packed) pb_tile(1, R, 1, 0, kc, a, lda, bp, c, ldc, mlo, mhi, ep);           \
    else pb_tile(0, R, 1, 0, kc, a, lda, bp, c, ldc, mlo, mhi, ep);                  \
  } else {                                                                          \
    if (packed) pb_tile(1, R, 0, 0, kc, a, lda, bp, c, ldc, mlo, mhi, ep);           \
    else pb_tile(0, R, 0, 0, kc, a, lda, bp, c, ldc, mlo, mhi, ep);                  \
  }
#define PB_CASE(R)         \
  case R:                  \
    PB_TILE_SHAPES(R)      \
    break;

/* One strip of mr rows times one column group of width columns (<= PB_GROUP). */
static void pb_strip(int packed, size_t mr, size_t width, size_t kc, const float *a, size_t lda,
                     const float *bp, float *c, size_t ldc, const pb_epilogue *ep) {
  const pb_mask mlo = pb_tail_mask(width < PB_LANES ? width : PB_LANES);
  const pb_mask mhi = pb_tail_mask(width > PB_LANES ? width - PB_LANES : 0);
  switch (mr) {
    PB_CASE(1) PB_CASE(2) PB_CASE(3) PB_CASE(4)
#if PB_MR != 4 && PB_MR != 6 && PB_MR != 14
#error "pb_strip covers PB_MR = 4, 6 or 14"
#endif
#if PB_MR > 4
    PB_CASE(5) PB_CASE(6)
#endif
#if PB_MR > 6
    PB_CASE(7) PB_CASE(8) PB_CASE(9) PB_CASE(10) PB_CASE(11) PB_CASE(12) PB_CASE(13) PB_CASE(14)
#endif
    default: break;
  }
}
#undef PB_CASE
#undef PB_TILE_SHAPES

/* ---- 17 to 24 columns left in a panel of two column groups (AVX2) ------------------
 * Alone, the tail group would be a one-vector tile: one broadcast of A per FMA, bound by
 * the loads (a 7x7 image's one-column tail took a sixth of the layer, measured on Zen 4).
 * Instead the panel's two groups run as one tile of three vectors per row over at most
 * PB_MR3 rows: 3 x 4 accumulators + 3 B vectors + 1 broadcast of 16 registers. */
enum { PB_MR3 = 4 };

static PNN_ALWAYS_INLINE void pb_tile3(int packed, size_t mr, size_t kc, const float *a, size_t lda,
                                       const float *bp, float *c, size_t ldc, size_t r0, pb_mask mtail,
                                       const pb_epilogue *ep) {
  pb_vec acc[PB_MR3][3];
#pragma GCC unroll 4
  for (size_t i = 0; i < PB_MR3; ++i) acc[i][0] = acc[i][1] = acc[i][2] = pb_zero();
  for (size_t k = 0; k < kc; ++k) {
    const float *bk = bp + k * PNN_GEMM_PB_NR;
    const pb_vec b0 = pb_load(bk), b1 = pb_load(bk + PB_LANES), b2 = pb_load(bk + 2 * PB_LANES);
#pragma GCC unroll 4
    for (size_t i = 0; i < PB_MR3; ++i) {
      if (i < mr) {
        const pb_vec av = pb_bcast(packed ? a + k * PNN_GEMM_PA_MR + r0 + i : a + (r0 + i) * lda + k);
        acc[i][0] = pb_fma(av, b0, acc[i][0]);
        acc[i][1] = pb_fma(av, b1, acc[i][1]);
        acc[i][2] = pb_fma(av, b2, acc[i][2]);
      }
    }
  }
  const pb_mask whole = pb_tail_mask(PB_LANES);
#pragma GCC unroll 4
  for (size_t i = 0; i < PB_MR3; ++i) {
    if (i < mr) {
      const float bias = ep->row_bias ? ep->row_bias[r0 + i] : 0.0f;
      float *row = c + (r0 + i) * ldc;
      pb_finish_row(1, 1, acc[i][0], acc[i][1], row, bias, whole, whole, ep);
      pb_finish_row(0, 0, acc[i][2], acc[i][2], row + PB_GROUP, bias, mtail, mtail, ep);
    }
  }
}

#define PB_CASE3(R)                                                                  \
  case R:                                                                            \
    if (packed) pb_tile3(1, R, kc, a, lda, bp, c, ldc, r0, mtail, ep);              \
    else pb_tile3(0, R, kc, a, lda, bp, c, ldc, r0, mtail, ep);                     \
    break;

/* A strip of mr rows times a panel's 16 + (1..8) columns, as sub-strips of nearly equal
 * height (5 = 3 + 2, 6 = 3 + 3). */
static void pb_strip3(int packed, size_t mr, size_t width, size_t kc, const float *a, size_t lda,
                      const float *bp, float *c, size_t ldc, const pb_epilogue *ep) {
  const pb_mask mtail = pb_tail_mask(width - PB_GROUP);
  const size_t parts = (mr + PB_MR3 - 1) / PB_MR3;
  for (size_t part = 0, r0 = 0; part < parts; ++part) {
    const size_t rows = mr / parts + (part < mr % parts);
    switch (rows) {
      PB_CASE3(1) PB_CASE3(2) PB_CASE3(3) PB_CASE3(4)
      default: break;
    }
    r0 += rows;
  }
}
#undef PB_CASE3

/* ---- up to PB_FEW_ROWS rows (an LSTM step at batch 1..3): panels streamed whole -----
 * A tile of one to three rows has two to six accumulators, each FMA waiting on the last
 * (4 cycles on Zen 4), and K blocking only pays when several row strips reuse a block.
 * Here each panel runs over all of K in one pass (its K x NR floats are one contiguous
 * stream) with `split` independent partial sums over consecutive k, so at least 8 FMAs
 * are in flight; the partial sums are added before the epilogue. */
enum {
  PB_FEW_ROWS = 3,
  PB_PANEL_VECS = PNN_GEMM_PB_NR / PB_LANES,
  PB_MAX_SPLIT = 8 / PB_PANEL_VECS
};

static PNN_ALWAYS_INLINE void pb_few_rows_panel(size_t mr, size_t K, const float *a, size_t lda,
                                                const float *bp, float *c, size_t ldc, size_t width,
                                                const pb_epilogue *ep) {
  const size_t split = (PB_MAX_SPLIT + mr - 1) / mr;
  pb_vec acc[PB_FEW_ROWS][PB_MAX_SPLIT][PB_PANEL_VECS];
#pragma GCC unroll 3
  for (size_t i = 0; i < mr; ++i)
#pragma GCC unroll 8
    for (size_t u = 0; u < split; ++u)
#pragma GCC unroll 4
      for (size_t v = 0; v < PB_PANEL_VECS; ++v) acc[i][u][v] = pb_zero();
  size_t k = 0;
  for (; k + split <= K; k += split) {
#pragma GCC unroll 8
    for (size_t u = 0; u < split; ++u) {
#pragma GCC unroll 4
      for (size_t v = 0; v < PB_PANEL_VECS; ++v) {
        const pb_vec b = pb_load(bp + (k + u) * PNN_GEMM_PB_NR + v * PB_LANES);
#pragma GCC unroll 3
        for (size_t i = 0; i < mr; ++i) acc[i][u][v] = pb_fma(pb_bcast(a + i * lda + k + u), b, acc[i][u][v]);
      }
    }
  }
  for (; k < K; ++k) {
#pragma GCC unroll 4
    for (size_t v = 0; v < PB_PANEL_VECS; ++v) {
      const pb_vec b = pb_load(bp + k * PNN_GEMM_PB_NR + v * PB_LANES);
#pragma GCC unroll 3
      for (size_t i = 0; i < mr; ++i) acc[i][0][v] = pb_fma(pb_bcast(a + i * lda + k), b, acc[i][0][v]);
    }
  }
#pragma GCC unroll 3
  for (size_t i = 0; i < mr; ++i) {
#pragma GCC unroll 8
    for (size_t u = 1; u < split; ++u)
#pragma GCC unroll 4
      for (size_t v = 0; v < PB_PANEL_VECS; ++v) acc[i][0][v] = pb_add(acc[i][0][v], acc[i][u][v]);
    const float bias = ep->row_bias ? ep->row_bias[i] : 0.0f;
#pragma GCC unroll 2
    for (size_t g = 0; g < PB_GROUPS; ++g) {
      const size_t n0 = g * PB_GROUP;
      if (n0 >= width) break;
      const size_t w = width - n0 < PB_GROUP ? width - n0 : PB_GROUP;
      const pb_mask mlo = pb_tail_mask(w < PB_LANES ? w : PB_LANES);
      const pb_mask mhi = pb_tail_mask(w > PB_LANES ? w - PB_LANES : 0);
      pb_finish_row(w > PB_LANES, w == PB_GROUP, acc[i][0][2 * g], acc[i][0][2 * g + 1], c + i * ldc + n0,
                    bias, mlo, mhi, ep);
    }
  }
}

static void pb_few_rows(size_t M, size_t N, size_t K, const float *a, size_t lda, const float *Bp, float *c,
                        size_t ldc, pb_epilogue *ep) {
  ep->accumulate = 0;
  ep->activate = 1;
  for (size_t n0 = 0; n0 < N; n0 += PNN_GEMM_PB_NR) {
    const size_t width = N - n0 < PNN_GEMM_PB_NR ? N - n0 : PNN_GEMM_PB_NR;
    const float *bp = Bp + n0 * K;
    switch (M) {
      case 1: pb_few_rows_panel(1, K, a, lda, bp, c + n0, ldc, width, ep); break;
      case 2: pb_few_rows_panel(2, K, a, lda, bp, c + n0, ldc, width, ep); break;
      default: pb_few_rows_panel(3, K, a, lda, bp, c + n0, ldc, width, ep); break;
    }
  }
}

/* One K block of gemm_pb's product: its arguments. */
typedef struct pb_block {
  int packed;
  size_t M, N, K, k0, kc;
  const float *A;
  size_t lda;
  const float *Bp;
  float *C;
  size_t ldc;
  const float *row_bias;
} pb_block;

/* Strip [m0, m0 + mr) times column group g (of all the panels' groups). */
static void pb_block_tile(const pb_block *b, size_t m0, size_t mr, size_t g, pb_epilogue *ep) {
  const size_t n0 = g * PB_GROUP;
  const size_t width = b->N - n0 < PB_GROUP ? b->N - n0 : PB_GROUP;
  /* A panel of two groups with 17..24 columns left: its second group runs inside its
   * first group's tile (pb_strip3). */
  const int tail3 = PB_GROUPS == 2 && b->N - n0 > PB_GROUP && b->N - n0 <= PB_GROUP + PB_LANES;
  if (PB_GROUPS == 2 && g % 2 == 1 && width <= PB_LANES) return;
  const size_t p = g / PB_GROUPS;
  const size_t in_panel = m0 % PNN_GEMM_PA_MR;
  const float *a = b->packed ? b->A + (m0 - in_panel) * b->K + b->k0 * PNN_GEMM_PA_MR + in_panel
                             : b->A + m0 * b->lda + b->k0;
  const float *bp = b->Bp + (p * b->K + b->k0) * PNN_GEMM_PB_NR + (g % PB_GROUPS) * PB_GROUP;
  ep->row_bias = b->row_bias ? b->row_bias + m0 : NULL;
  if (tail3 && g % 2 == 0)
    pb_strip3(b->packed, mr, b->N - n0, b->kc, a, b->lda, bp, b->C + m0 * b->ldc + n0, b->ldc, ep);
  else
    pb_strip(b->packed, mr, width, b->kc, a, b->lda, bp, b->C + m0 * b->ldc + n0, b->ldc, ep);
}

static size_t pb_next_rows(const pb_block *b, size_t m0) {
  return pb_strip_rows(b->packed, m0 % PNN_GEMM_PA_MR, b->M - m0);
}

/* A in place (packed == 0, row stride lda) or in PNN_GEMM_PA_MR-row panels. */
static void gemm_pb(int packed, size_t M, size_t N, size_t K, const float *A, size_t lda,
                    const float *Bp, float *C, size_t ldc, const float *row_bias,
                    pnn_activation act) {
  if (M == 0 || N == 0) return;
  const size_t groups = (N + PB_GROUP - 1) / PB_GROUP;
  pb_epilogue ep;
  ep.prefetch = 0;
  ep.kind = act.kind;
  ep.alpha = pb_set1(act.alpha);
  ep.beta = pb_set1(act.beta);
  ep.row_bias = row_bias;
  const int few_rows = !packed && M <= PB_FEW_ROWS;
  /* A small A (an LSTM's input projection, ddddocr's 20 x 1024 head) beside a B that
   * streams from memory: each column group runs over all of K before the next, so the
   * panels are read in order (one contiguous stream per panel instead of a jump to the
   * next panel every PB_KC rows); A stays in L2 across the groups. */
  const int stream_b = !few_rows && !packed && K > PB_KC && N > PB_FEW_COLUMNS && M * K <= PB_SMALL_A_FLOATS;
  if (few_rows) pb_few_rows(M, N, K, A, lda, Bp, C, ldc, &ep);
  for (size_t g0 = 0; stream_b && g0 < groups; g0 += PB_GROUPS) {
    for (size_t k0 = 0; k0 < K; k0 += PB_KC) {
      const size_t kc = K - k0 < PB_KC ? K - k0 : PB_KC;
      ep.accumulate = k0 != 0;
      ep.activate = k0 + kc >= K;
      const pb_block blk = {packed, M, N, K, k0, kc, A, lda, Bp, C, ldc, row_bias};
      /* A panel's column groups (two on AVX2) share each K block, so its rows are read
       * in order; the first strip over a block prefetches ahead: the hardware prefetcher
       * alone left the FMAs waiting on memory (20 x 1024 x 8210 ran 1.7 ms slower than
       * with B in cache, the time of its 33.6 MB stream). */
      for (size_t g = g0; g < g0 + PB_GROUPS && g < groups; ++g) {
        for (size_t m0 = 0, mr; m0 < M; m0 += mr) {
          mr = pb_even_rows(M, m0);
          ep.prefetch = m0 == 0 ? PB_STREAM_PREFETCH_BYTES : 0;
          pb_block_tile(&blk, m0, mr, g, &ep);
        }
      }
    }
  }
  ep.prefetch = 0;
  for (size_t k0 = 0; !few_rows && !stream_b; k0 += PB_KC) {
    const size_t kc = K - k0 < PB_KC ? K - k0 : PB_KC;
    ep.accumulate = k0 != 0;
    ep.activate = k0 + kc >= K;
    const pb_block blk = {packed, M, N, K, k0, kc, A, lda, Bp, C, ldc, row_bias};
    if (K <= PB_SHORT_K || N <= PB_FEW_COLUMNS || (N <= PB_STRIP_COLUMNS && M * kc > PB_LARGE_A_FLOATS)) {
      /* Short K: every panel block fits L1 at once, so run strip by strip: each output
       * row is then written in one contiguous run instead of a column group at a time
       * interleaved with every other row. Few columns (7x7 images), or an A block too
       * large for L2 (PB_STRIP_COLUMNS): the strip of A stays in L1 across the column
       * groups instead of streaming once per group (AVX2 and AVX-512: 3-5% faster on
       * MobileNet's 7x7 shapes). */
      for (size_t m0 = 0, mr; m0 < M; m0 += mr) {
        mr = pb_next_rows(&blk, m0);
        for (size_t g = 0; g < groups; ++g) pb_block_tile(&blk, m0, mr, g, &ep);
      }
    } else {
      /* The column group's block stays in L1 while every A strip streams past it: per k
       * a strip costs one broadcast per row against the group's 2 vector loads, so
       * streaming A is the cheaper direction (30-60% faster than the reverse order on
       * MobileNet's 1x1 shapes, measured on AVX-512). */
      for (size_t g = 0; g < groups; ++g)
        for (size_t m0 = 0, mr; m0 < M; m0 += mr) {
          mr = pb_next_rows(&blk, m0);
          pb_block_tile(&blk, m0, mr, g, &ep);
        }
    }
    if (ep.activate) break;
  }
  if (pnn_act_needs_scalar_pass(act.kind)) {
    for (size_t m = 0; m < M; ++m) PB_ACTIVATE_PASS(C + m * ldc, N, act);
  }
}

#endif /* PNN_F32_GEMM_PB_DRIVER_H */
