/* The parts of the u8 x s8 SpMM shared by the SIMD variants (contract in
 * pnn_kernels_sparse.h): the arguments, the loop over groups (G a constant per
 * instantiation, so each variant's tile_rows unrolls for it) and the entry point, which
 * runs whole TILE-pixel tiles and leaves the pixel tail to the scalar reference.
 *
 * Include inside the variant's ISA region after defining TILE (pixels per tile), MAX_R
 * (rows per tile_rows call), PNN_ALWAYS_INLINE and PNN_U8_SPMM_ENTRY (the variant's
 * function name); the variant then defines tile_rows, declared here: rows [m0, m0 +
 * valid) (R of them with zero-weight padding, starting at row r0 of the group) of one
 * group with `nnz` stored columns, for pixels [p0, p0 + TILE). A variant with its own
 * group loop and tail handling (AVX-512) leaves PNN_U8_SPMM_ENTRY undefined and takes
 * only the arguments. */
#ifndef PNN_S8_SPMM_DRIVER_H
#define PNN_S8_SPMM_DRIVER_H

typedef struct spmm_args {
  const uint8_t *x;
  size_t x_stride;
  const int32_t *bias;
  const pnn_requant *rq;
  uint8_t *y;
  size_t y_stride;
} spmm_args;

#if defined(PNN_U8_SPMM_ENTRY)
static PNN_ALWAYS_INLINE void tile_rows(const uint32_t *idx, const int8_t *val, size_t nnz, size_t G, size_t R,
                                        size_t r0, size_t m0, size_t valid, size_t p0, const spmm_args *a);

/* Every group over one tile. */
static PNN_ALWAYS_INLINE void tile_all_groups(const pnn_sparse_s8 *w, size_t G, size_t p0, const spmm_args *a) {
  const uint32_t *idx = w->indices;
  const int8_t *val = w->values;
  const size_t R = G < MAX_R ? G : MAX_R;
  for (size_t g = 0; g < w->n_groups; ++g) {
    const size_t nnz = w->group_nnz[g];
    for (size_t r0 = 0; r0 < G && g * G + r0 < w->rows; r0 += R) {
      const size_t m0 = g * G + r0;
      const size_t valid = w->rows - m0 < R ? w->rows - m0 : R;
      tile_rows(idx, val, nnz, G, R, r0, m0, valid, p0, a);
    }
    idx += nnz;
    val += nnz * G;
  }
}

/* Whole tiles for group size G; returns the pixels done. */
static PNN_ALWAYS_INLINE size_t spmm_tiles(const pnn_sparse_s8 *w, size_t G, size_t pixels, const spmm_args *a) {
  size_t p0 = 0;
  for (; p0 + TILE <= pixels; p0 += TILE) tile_all_groups(w, G, p0, a);
  return p0;
}
static size_t spmm_g1(const pnn_sparse_s8 *w, size_t pixels, const spmm_args *a) { return spmm_tiles(w, 1, pixels, a); }
static size_t spmm_g2(const pnn_sparse_s8 *w, size_t pixels, const spmm_args *a) { return spmm_tiles(w, 2, pixels, a); }
static size_t spmm_g4(const pnn_sparse_s8 *w, size_t pixels, const spmm_args *a) { return spmm_tiles(w, 4, pixels, a); }
static size_t spmm_g8(const pnn_sparse_s8 *w, size_t pixels, const spmm_args *a) { return spmm_tiles(w, 8, pixels, a); }

void PNN_U8_SPMM_ENTRY(const pnn_sparse_s8 *w, size_t pixels, const uint8_t *x, size_t x_stride, const int32_t *bias,
                       const pnn_requant *rq, uint8_t *y, size_t y_stride) {
  if (pixels == 0 || w->rows == 0) return;
  const spmm_args a = {x, x_stride, bias, rq, y, y_stride};
  size_t done;
  switch (w->group) {
    case 1: done = spmm_g1(w, pixels, &a); break;
    case 2: done = spmm_g2(w, pixels, &a); break;
    case 4: done = spmm_g4(w, pixels, &a); break;
    case 8: done = spmm_g8(w, pixels, &a); break;
    default: done = 0; break;
  }
  if (done < pixels) pnn_u8_spmm_scalar(w, pixels - done, x + done, x_stride, bias, rq, y + done, y_stride);
}
#endif /* PNN_U8_SPMM_ENTRY */

#endif /* PNN_S8_SPMM_DRIVER_H */
