/* Winograd F(2x2, 3x3) transforms: the ISA-neutral driver (contract in
 * pnn_kernels_nn.h). Vectors run along a row of tiles, WINO_LANES tiles per vector:
 * the stride-2 input columns are split into even and odd lanes, and the two output
 * pixels of each tile are interleaved again before one store per output row.
 *
 * Included by an ISA file inside its `#pragma GCC target` region after it defines:
 *   WINO_FN(name)          the variant's function name
 *   WINO_LANES             floats per vector
 *   wino_vec, wino_mask    a vector, a mask of its first n lanes (wino_mask_first)
 *   wino_zero, wino_set1, wino_add, wino_sub, wino_act (pnn_activate's vector form)
 *   wino_loadu / wino_storeu (all lanes), wino_load (masked lanes), wino_store_first
 *                          (the first n lanes)
 *   wino_split(a0, a1, &even, &odd)    lanes i of e[2i], e[2i+1] of e = a0 ++ a1
 *   wino_interleave(p0, p1, &lo, &hi)  lo ++ hi = p0[0], p1[0], p0[1], p1[1], ...
 *   wino_span, wino_span_zero(), wino_span_at(src, valid), wino_span_shifted(shift,
 *   valid), wino_span_load(&span, piece): a row piece read into one vector (below). */
#include "pnn_kernels.h"

/* Reading e[off + j], j < WINO_LANES, where e is an input row seen from the tile run's
 * first column and only e[lo, hi) lies inside the image (zeros elsewhere); `piece`
 * points at e[lo]. Lanes past the tiles of the run are never stored, so they may read
 * any in-row value. */
static PNN_ALWAYS_INLINE wino_span wino_span_for(size_t lo, size_t hi, size_t off) {
  if (off >= hi) return wino_span_zero();
  if (off >= lo) return wino_span_at(off - lo, hi - off);
  const size_t shift = lo - off;
  if (shift >= WINO_LANES) return wino_span_zero();
  return wino_span_shifted(shift, hi - lo < WINO_LANES - shift ? hi - lo : WINO_LANES - shift);
}

/* The four spans of a tile run's input row: e[0, L), e[L, 2L), e[2, L + 2), e[L + 2, 2L + 2). */
typedef struct wino_row_spans {
  wino_span s[4];
  int interior; /* all four are whole vectors at their offsets (no padding nearby) */
} wino_row_spans;

/* d B along one input row (0 if outside the image): columns (0 - 2, 1 + 2, 2 - 1, 1 - 3)
 * of every tile of the run. */
static PNN_ALWAYS_INLINE void wino_row_pass(const wino_row_spans *rs, const float *piece, wino_vec h[4]) {
  wino_vec ev, od, ev1, od1;
  if (!piece) {
    ev = od = ev1 = od1 = wino_zero();
  } else if (rs->interior) {
    wino_split(wino_loadu(piece), wino_loadu(piece + WINO_LANES), &ev, &od);
    wino_split(wino_loadu(piece + 2), wino_loadu(piece + WINO_LANES + 2), &ev1, &od1);
  } else {
    wino_split(wino_span_load(&rs->s[0], piece), wino_span_load(&rs->s[1], piece), &ev, &od);
    wino_split(wino_span_load(&rs->s[2], piece), wino_span_load(&rs->s[3], piece), &ev1, &od1);
  }
  /* ev, od, ev1, od1 = e[2i], e[2i+1], e[2i+2], e[2i+3] */
  h[0] = wino_sub(ev, ev1);
  h[1] = wino_add(od, ev1);
  h[2] = wino_sub(ev1, od);
  h[3] = wino_sub(od, od1);
}

/* The run of tiles from t0 + u: at most `limit` tiles, all on tile row *ty from column
 * *tx0, none past count. */
static PNN_ALWAYS_INLINE size_t wino_run(size_t tiles_w, size_t t0, size_t u, size_t count, size_t limit,
                                         size_t *ty, size_t *tx0) {
  *ty = (t0 + u) / tiles_w;
  *tx0 = (t0 + u) % tiles_w;
  size_t n = tiles_w - *tx0;
  if (n > count - u) n = count - u;
  return n < limit ? n : limit;
}

static PNN_ALWAYS_INLINE void wino_put(float *p, size_t n, wino_vec v) {
  if (n == WINO_LANES) wino_storeu(p, v);
  else wino_store_first(p, n, v);
}

void WINO_FN(pnn_f32_wino2_input)(const pnn_conv2d_geometry *g, const float *x, size_t t0,
                                  size_t count, float *v, size_t xi_stride) {
  enum { L = WINO_LANES, NR = PNN_GEMM_PB_NR };
  const size_t C = g->channels, in_h = g->in_h, in_w = g->in_w;
  const size_t tiles_w = (g->out_w + 1) / 2;
  size_t u = 0;
  while (u < count) {
    /* A run of at most L tiles inside one panel. */
    size_t ty, tx0;
    const size_t n = wino_run(tiles_w, t0, u, count, NR - u % NR < L ? NR - u % NR : L, &ty, &tx0);
    /* e[j] is input column 2*tx0 - pad_left + j; [lo, hi) of e[0, 2L + 2) is inside the row. */
    const size_t first = 2 * tx0, end = in_w + g->pad_left;
    const size_t lo = g->pad_left > first ? g->pad_left - first : 0;
    size_t hi = end > first ? end - first : 0;
    if (hi > 2 * L + 2) hi = 2 * L + 2;
    const int inside = lo < hi;
    wino_row_spans rs = {{wino_span_for(lo, hi, 0), wino_span_for(lo, hi, L), wino_span_for(lo, hi, 2),
                          wino_span_for(lo, hi, L + 2)},
                         lo == 0 && hi == 2 * L + 2};
    const size_t col = first + lo - g->pad_left; /* input column of e[lo] when inside */
    /* Input rows 2*ty - pad_top + r (wrapped when above the image), 0 if outside. */
    const float *rows[4];
    for (size_t r = 0; r < 4; ++r) {
      const size_t iy = 2 * ty + r - g->pad_top;
      rows[r] = iy < in_h && inside ? x + iy * in_w + col : NULL;
    }
    const size_t plane = in_h * in_w;
    float *dst = v + (u / NR) * C * NR + u % NR;
    for (size_t c = 0; c < C; ++c) {
      /* B^T along the column: rows (0 - 2, 1 + 2, 2 - 1, 1 - 3), stored as soon as
       * their rows are in (fewer live vectors than holding all 16). */
      const size_t at = c * plane;
      float *dc = dst + c * NR;
      wino_vec h0[4], h1[4], h[4];
      wino_row_pass(&rs, rows[0] ? rows[0] + at : NULL, h0);
      wino_row_pass(&rs, rows[1] ? rows[1] + at : NULL, h1);
      wino_row_pass(&rs, rows[2] ? rows[2] + at : NULL, h);
      for (size_t q = 0; q < 4; ++q) {
        wino_put(dc + (0 + q) * xi_stride, n, wino_sub(h0[q], h[q]));
        wino_put(dc + (4 + q) * xi_stride, n, wino_add(h1[q], h[q]));
        wino_put(dc + (8 + q) * xi_stride, n, wino_sub(h[q], h1[q]));
      }
      wino_row_pass(&rs, rows[3] ? rows[3] + at : NULL, h);
      for (size_t q = 0; q < 4; ++q) wino_put(dc + (12 + q) * xi_stride, n, wino_sub(h1[q], h[q]));
    }
    u += n;
  }
}

void WINO_FN(pnn_f32_wino2_output)(const pnn_conv2d_geometry *g, const float *m, size_t rows,
                                   size_t ldm, size_t xi_stride, size_t t0, size_t count,
                                   const float *bias, float *y, const float *residual,
                                   pnn_activation act) {
  enum { L = WINO_LANES };
  const size_t out_h = g->out_h, out_w = g->out_w, plane = out_h * out_w;
  const size_t tiles_w = (out_w + 1) / 2;
  const wino_vec alpha = wino_set1(act.alpha), beta = wino_set1(act.beta);
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  size_t u = 0;
  while (u < count) {
    size_t ty, tx0;
    const size_t n = wino_run(tiles_w, t0, u, count, L, &ty, &tx0);
    const wino_mask mask = wino_mask_first(n);
    const size_t ox0 = 2 * tx0;
    const size_t cols = 2 * n <= out_w - ox0 ? 2 * n : out_w - ox0;
    for (size_t r = 0; r < rows; ++r) {
      const float *mu = m + r * ldm + u;
      /* A^T along the column: rows (0 + 1 + 2, 1 - 2 - 3). */
      wino_vec s0[4], s1[4];
      for (size_t q = 0; q < 4; ++q) {
        const float *p = mu + q * xi_stride;
        wino_vec m0, m1, m2, m3;
        if (n == L) {
          m0 = wino_loadu(p), m1 = wino_loadu(p + 4 * xi_stride);
          m2 = wino_loadu(p + 8 * xi_stride), m3 = wino_loadu(p + 12 * xi_stride);
        } else {
          m0 = wino_load(p, mask), m1 = wino_load(p + 4 * xi_stride, mask);
          m2 = wino_load(p + 8 * xi_stride, mask), m3 = wino_load(p + 12 * xi_stride, mask);
        }
        s0[q] = wino_add(wino_add(m0, m1), m2);
        s1[q] = wino_sub(wino_sub(m1, m2), m3);
      }
      /* A along the row, bias; the two output pixels of a tile interleave; the
       * residual, activation. */
      const wino_vec b = wino_set1(bias ? bias[r] : 0.0f);
      for (size_t a = 0; a < 2; ++a) {
        const size_t oy = 2 * ty + a;
        if (oy >= out_h) break;
        const wino_vec *s = a == 0 ? s0 : s1;
        const wino_vec p0 = wino_add(wino_add(wino_add(s[0], s[1]), s[2]), b);
        const wino_vec p1 = wino_add(wino_sub(wino_sub(s[1], s[2]), s[3]), b);
        wino_vec lo, hi;
        wino_interleave(p0, p1, &lo, &hi);
        const size_t at = r * plane + oy * out_w + ox0;
        float *out = y + at;
        if (residual) {
          lo = wino_add(lo, cols < L ? wino_load(residual + at, wino_mask_first(cols)) : wino_loadu(residual + at));
          if (cols > L) {
            hi = wino_add(hi, cols < 2 * L ? wino_load(residual + at + L, wino_mask_first(cols - L))
                                           : wino_loadu(residual + at + L));
          }
        }
        lo = wino_act(lo, act.kind, alpha, beta);
        hi = wino_act(hi, act.kind, alpha, beta);
        wino_put(out, cols < L ? cols : L, lo);
        if (cols > L) wino_put(out + L, cols - L, hi);
        if (scalar_pass)
          for (size_t i = 0; i < cols; ++i) out[i] = pnn_activate(out[i], act);
      }
    }
    u += n;
  }
}
