/* The loops shared by every f32 SpMM variant (contract in pnn_kernels_sparse.h):
 * avx2.c, avx512.c, neon.c and wasmsimd.c include this inside their ISA region after
 * defining their vector hooks. Portable C.
 *
 * Fast Sparse ConvNets scheme: x is channel-major, so a nonzero W[m][k] scales a whole
 * row of x. Pixels are tiled (nv vectors of SPMM_LANES); for each tile, every group
 * walks its nonzeros with rows x nv accumulators in registers: each index loads the x
 * tile of that input row once and each of the rows' values is broadcast and
 * multiply-added into its accumulators, so one index drives `rows` FMAs per vector.
 * Enough independent accumulators must be in flight to hide the FMA latency (two FMA
 * pipes x 4 cycles on current x86 cores need 8 or more); a group wider than the
 * registers allow runs in passes of SPMM_ROWS(G) rows, each pass walking the group's
 * nonzeros again (index and x loads repeat, the FMAs do not). Bias seeds the
 * accumulators; the activation is applied at the store.
 *
 * Tails: with SPMM_MASKED_TAIL the last tile has as few vectors as the rest needs, the
 * last one partial (masked loads and stores); without, it has as many whole vectors as
 * fit and the last pixels (< SPMM_LANES) go through the scalar reference on that column
 * slice. Either way nothing past the x and y rows is read or written.
 *
 * Hooks (G, nv, rows below are constants at every call site):
 *   spmm_vec, SPMM_LANES           vector type and its float lanes
 *   SPMM_TILE(G), SPMM_ROWS(G)     vectors per tile and rows per pass for group size G
 *   SPMM_MAX_NV, SPMM_MAX_ROWS, SPMM_MAX_ACC
 *                                  the largest SPMM_TILE, SPMM_ROWS and their product
 *   SPMM_MASKED_TAIL               1 when the partial-vector hooks below exist
 *   spmm_part, spmm_make_part(n)   a partial vector of n (1..SPMM_LANES) lanes
 *   vec_load(p), vec_store(p, v), vec_load_part(p, part), vec_store_part(p, v, part)
 *   vec_splat(f), vec_add(a, b)    f in every lane, a + b
 *   spmm_weights, spmm_load_weights(vj, rows)
 *                                  the `rows` values of one nonzero (vj[0 .. rows))
 *   vec_fma_weight(acc, x, wts, r) acc + value r of wts * x
 *   spmm_act_consts, spmm_make_act(act), vec_act(v, kind, consts)
 *                                  the fused activation (none, relu, clip, leaky relu,
 *                                  hard sigmoid, hard swish; others: scalar pass after)
 *   SPMM_PREFETCH(p)               warm a cache line (may expand to nothing)
 * It defines spmm_driver_run with the kernel's signature. */
#ifndef PNN_F32_SPMM_DRIVER_H
#define PNN_F32_SPMM_DRIVER_H

enum { SPMM_LINE_FLOATS = 16 /* floats per 64-byte cache line */ };

/* Everything of one call that the tile kernel needs besides its group. */
typedef struct spmm_call {
  const pnn_sparse_f32 *w;
  const float *x;
  size_t x_stride;
  const float *bias;
  float *y;
  size_t y_stride, pixels;
  pnn_activation act;
  spmm_act_consts act_consts;
} spmm_call;

/* Warms the next pixel tile's x rows, a slice of them per group (from *next_k on) so
 * the requests spread over the whole tile: x rows are visited by index, which the
 * hardware prefetchers cannot follow. Prefetches never fault. */
static PNN_ALWAYS_INLINE void prefetch_next_x(const spmm_call *c, const float *x_next,
                                              size_t floats, size_t per_group,
                                              size_t *next_k) {
  const size_t cols = c->w->cols;
  const size_t k_end = *next_k + per_group < cols ? *next_k + per_group : cols;
  for (size_t k = *next_k; k < k_end; ++k) {
    for (size_t f = 0; f < floats; f += SPMM_LINE_FLOATS) SPMM_PREFETCH(x_next + k * c->x_stride + f);
  }
  *next_k = k_end;
}

/* Accumulator sets of a narrow tile: below 8 accumulators the FMA latency, not the
 * FMA pipes, bounds a pass (a 1-pixel Gemm, a tail of 1 vector), so consecutive
 * nonzeros go round-robin to up to 4 independent sets, summed before the store. */
static PNN_ALWAYS_INLINE size_t accumulator_sets(size_t rows, size_t nv) {
  const size_t n = rows * nv;
  return n >= 8 ? 1 : 8 / n > 4 ? 4 : 8 / n;
}

/* One nonzero (x row `in`, values vj) into accumulator set `set`. */
static PNN_ALWAYS_INLINE void nonzero_step(size_t rows, size_t nv, int masked, spmm_part part,
                                           const float *in, const float *vj, size_t set,
                                           spmm_vec *acc) {
  spmm_vec xv[SPMM_MAX_NV];
#pragma GCC unroll 16
  for (size_t v = 0; v < SPMM_MAX_NV; ++v) {
    if (v < nv) {
      xv[v] = masked && v + 1 == nv ? vec_load_part(in + SPMM_LANES * v, part)
                                    : vec_load(in + SPMM_LANES * v);
    }
  }
  const spmm_weights wts = spmm_load_weights(vj, rows);
  const size_t base = set * rows * nv;
#pragma GCC unroll 8
  for (size_t r = 0; r < SPMM_MAX_ROWS; ++r) {
    if (r < rows) {
#pragma GCC unroll 16
      for (size_t v = 0; v < SPMM_MAX_NV; ++v) {
        if (v < nv) acc[base + r * nv + v] = vec_fma_weight(acc[base + r * nv + v], xv[v], wts, r);
      }
    }
  }
}

/* Rows [r0, r0 + rows) of group g over the pixel tile at x (nv vectors, the last one
 * `part` when `masked`), stored to y at the tile's first pixel. */
static PNN_ALWAYS_INLINE void group_pass(const spmm_call *c, size_t G, size_t rows, size_t nv,
                                         int masked, spmm_part part, size_t part_lanes,
                                         size_t m0, size_t r0,
                                         size_t valid, size_t nnz, const uint32_t *idx,
                                         const float *val, const float *x, float *y) {
  const size_t xs = c->x_stride;
  /* Not with passes: there (AVX2's G = 8) the extra sets made GCC spill (measured). */
  const size_t S = rows < G ? 1 : accumulator_sets(rows, nv), n_acc = rows * nv;
  /* acc[set * n_acc + r * nv + v]: one flat array no larger than the widest tile, so
   * that the compiler keeps every element in a register once the loops unroll. */
  spmm_vec acc[SPMM_MAX_ACC];
  _Static_assert(SPMM_MAX_ACC >= 8 && SPMM_MAX_ACC <= 16,
                 "accumulator_sets uses up to 8 accumulators; the loops unroll 16");
#pragma GCC unroll 8
  for (size_t r = 0; r < SPMM_MAX_ROWS; ++r) {
    if (r < rows) {
      const spmm_vec b = vec_splat(c->bias && r0 + r < valid ? c->bias[m0 + r0 + r] : 0.0f);
#pragma GCC unroll 16
      for (size_t v = 0; v < SPMM_MAX_NV; ++v) {
        if (v < nv) acc[r * nv + v] = b;
      }
    }
  }
#pragma GCC unroll 16
  for (size_t i = n_acc; i < SPMM_MAX_ACC; ++i) {
    if (i < S * n_acc) acc[i] = vec_splat(0.0f);
  }
  size_t j = 0;
  for (; j + S <= nnz; j += S) {
#pragma GCC unroll 4
    for (size_t s = 0; s < 4; ++s) {
      if (s < S) nonzero_step(rows, nv, masked, part, x + (size_t)idx[j + s] * xs, val + (j + s) * G + r0, s, acc);
    }
  }
  for (; j < nnz; ++j) nonzero_step(rows, nv, masked, part, x + (size_t)idx[j] * xs, val + j * G + r0, 0, acc);
#pragma GCC unroll 16
  for (size_t i = n_acc; i < SPMM_MAX_ACC; ++i) {
    if (i < S * n_acc) acc[i % n_acc] = vec_add(acc[i % n_acc], acc[i]);
  }
  const int kind = c->act.kind;
#pragma GCC unroll 8
  for (size_t r = 0; r < SPMM_MAX_ROWS; ++r) {
    if (r < rows && r0 + r < valid) {
      float *out = y + (m0 + r0 + r) * c->y_stride;
#pragma GCC unroll 16
      for (size_t v = 0; v < SPMM_MAX_NV; ++v) {
        if (v < nv) {
          const spmm_vec o = vec_act(acc[r * nv + v], kind, c->act_consts);
          if (masked && v + 1 == nv) vec_store_part(out + SPMM_LANES * v, o, part);
          else vec_store(out + SPMM_LANES * v, o);
        }
      }
      if (pnn_act_needs_scalar_pass(kind)) {
        const size_t n = masked ? SPMM_LANES * (nv - 1) + part_lanes : SPMM_LANES * nv;
        for (size_t p = 0; p < n; ++p) out[p] = pnn_activate(out[p], c->act);
      }
    }
  }
}

/* Every group over the pixel tile [p0, p0 + SPMM_LANES * nv), the last vector
 * `part_lanes` wide when `masked`. */
static PNN_ALWAYS_INLINE void tile_all_groups(const spmm_call *c, size_t G, size_t nv,
                                              int masked, size_t part_lanes, size_t p0) {
  const pnn_sparse_f32 *w = c->w;
  const size_t R = SPMM_ROWS(G);
  const spmm_part part = spmm_make_part(part_lanes);
  const uint32_t *idx = w->indices;
  const float *val = w->values;
  const float *x = c->x + p0;
  float *y = c->y + p0;
  const size_t tile = SPMM_LANES * nv;
  /* Columns of the next tile to prefetch per group (0: this is the last whole tile). */
  const size_t pf_per_group =
      masked || p0 + 2 * tile > c->pixels ? 0 : (w->cols + w->n_groups - 1) / w->n_groups;
  size_t pf_k = 0;
  for (size_t g = 0; g < w->n_groups; ++g) {
    const size_t m0 = g * G;
    const size_t valid = w->rows - m0 < G ? w->rows - m0 : G;
    const size_t nnz = w->group_nnz[g];
    if (pf_per_group) {
      prefetch_next_x(c, x + tile, tile, pf_per_group, &pf_k);
      /* This group's output rows of the next tile: y rows are written far apart, and
       * each store miss would otherwise stall the store buffer. */
      for (size_t r = 0; r < valid; ++r) {
        for (size_t f = 0; f < tile; f += SPMM_LINE_FLOATS) SPMM_PREFETCH(y + (m0 + r) * c->y_stride + tile + f);
      }
    }
#pragma GCC unroll 8
    for (size_t r0 = 0; r0 < G; r0 += R) {
      if (r0 < valid) group_pass(c, G, R, nv, masked, part, part_lanes, m0, r0, valid, nnz, idx, val, x, y);
    }
    idx += nnz;
    val += nnz * G;
  }
}

/* Tiles of SPMM_TILE(G) vectors over [0, pixels), then the tail. Returns the pixels
 * done (all of them with masked tails; without, up to a multiple of SPMM_LANES). */
static PNN_ALWAYS_INLINE size_t run_group_size(const spmm_call *c, size_t G) {
  const size_t NV = SPMM_TILE(G), pixels = c->pixels;
  size_t p0 = 0;
  for (; p0 + SPMM_LANES * NV <= pixels; p0 += SPMM_LANES * NV)
    tile_all_groups(c, G, NV, 0, SPMM_LANES, p0);
  const size_t rest = pixels - p0;
  const size_t nv = SPMM_MASKED_TAIL ? (rest + SPMM_LANES - 1) / SPMM_LANES : rest / SPMM_LANES;
  const size_t last = SPMM_MASKED_TAIL ? rest - SPMM_LANES * (nv ? nv - 1 : 0) : SPMM_LANES;
  const int masked = SPMM_MASKED_TAIL && last < SPMM_LANES;
  /* nv <= NV here (< NV without masks); each case is a constant-nv tile. */
#define PNN_SPMM_TAIL_CASE(K)                                                     \
  case K:                                                                         \
    if ((K) <= NV) {                                                              \
      if (masked) tile_all_groups(c, G, K, 1, last, p0);                          \
      else tile_all_groups(c, G, K, 0, SPMM_LANES, p0);                           \
    }                                                                             \
    break;
  switch (nv) {
    PNN_SPMM_TAIL_CASE(1)
    PNN_SPMM_TAIL_CASE(2)
    PNN_SPMM_TAIL_CASE(3)
    PNN_SPMM_TAIL_CASE(4)
    PNN_SPMM_TAIL_CASE(5)
    PNN_SPMM_TAIL_CASE(6)
    PNN_SPMM_TAIL_CASE(7)
    PNN_SPMM_TAIL_CASE(8)
    default: break;
  }
#undef PNN_SPMM_TAIL_CASE
  return SPMM_MASKED_TAIL ? pixels : p0 + SPMM_LANES * nv;
}

_Static_assert(SPMM_MAX_NV <= 8, "run_group_size's tail switch covers up to 8 vectors");

/* One function per group size: inlined into a single one, the instances make a
 * function so large that the compiler stops keeping the accumulators in registers. */
static size_t run_g1(const spmm_call *c) { return run_group_size(c, 1); }
static size_t run_g2(const spmm_call *c) { return run_group_size(c, 2); }
static size_t run_g4(const spmm_call *c) { return run_group_size(c, 4); }
static size_t run_g8(const spmm_call *c) { return run_group_size(c, 8); }

static void spmm_driver_run(const pnn_sparse_f32 *w, size_t pixels, const float *x,
                            size_t x_stride, const float *bias, float *y, size_t y_stride,
                            pnn_activation act) {
  if (pixels == 0 || w->rows == 0) return;
  const spmm_call c = {w, x, x_stride, bias, y, y_stride, pixels, act, spmm_make_act(act)};
  size_t done;
  switch (w->group) {
    case 1: done = run_g1(&c); break;
    case 2: done = run_g2(&c); break;
    case 4: done = run_g4(&c); break;
    case 8: done = run_g8(&c); break;
    default: done = 0; break;
  }
  if (done < pixels)
    pnn_f32_spmm_scalar(w, pixels - done, x + done, x_stride, bias, y + done, y_stride, act);
}

#endif /* PNN_F32_SPMM_DRIVER_H */
