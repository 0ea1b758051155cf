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
 *   wino_loadu / wino_storeu (all lanes), wino_load / wino_store (masked lanes)
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

void WINO_FN(pnn_f32_wino2_input)(const pnn_conv2d_geometry *g, const float *x, size_t t0,
                                  size_t count, float *v, size_t xi_stride) {
  enum { L = WINO_LANES, NR = PNN_GEMM_PB_NR };
  const size_t C = g->channels, in_h = g->in_h, in_w = g->in_w;
  const size_t tiles_w = (g->out_w + 1) / 2;
  size_t u = 0;
  while (u < count) {
    /* A run of at most L tiles on one tile row and inside one panel. */
    const size_t t = t0 + u, ty = t / tiles_w, tx0 = t % tiles_w;
    size_t n = tiles_w - tx0;
    if (n > count - u) n = count - u;
    if (n > L) n = L;
    if (n > NR - u % NR) n = NR - u % NR;
    const wino_mask mask = wino_mask_first(n);
    /* e[j] is input column 2*tx0 - pad_left + j; [lo, hi) of e[0, 2L + 2) is inside the row. */
    const size_t first = 2 * tx0, end = in_w + g->pad_left;
    const size_t lo = g->pad_left > first ? g->pad_left - first : 0;
    size_t hi = end > first ? end - first : 0;
    if (hi > 2 * L + 2) hi = 2 * L + 2;
    const int inside = lo < hi;
    const wino_span s0 = wino_span_for(lo, hi, 0), s1 = wino_span_for(lo, hi, L);
    const wino_span s2 = wino_span_for(lo, hi, 2), s3 = wino_span_for(lo, hi, L + 2);
    const size_t col = first + lo - g->pad_left; /* input column of e[lo] when inside */
    float *dst = v + (u / NR) * C * NR + u % NR;
    for (size_t c = 0; c < C; ++c) {
      const float *x_c = x + c * in_h * in_w;
      wino_vec h[4][4];
      for (size_t r = 0; r < 4; ++r) {
        const size_t iy = 2 * ty + r - g->pad_top; /* wraps when above the image */
        wino_vec ev, od, ev1, od1;
        if (iy >= in_h || !inside) {
          ev = od = ev1 = od1 = wino_zero();
        } else {
          const float *piece = x_c + iy * in_w + col;
          wino_split(wino_span_load(&s0, piece), wino_span_load(&s1, piece), &ev, &od);     /* e[2i], e[2i+1] */
          wino_split(wino_span_load(&s2, piece), wino_span_load(&s3, piece), &ev1, &od1); /* e[2i+2], e[2i+3] */
        }
        /* d B along the row: columns (0 - 2, 1 + 2, 2 - 1, 1 - 3). */
        h[r][0] = wino_sub(ev, ev1);
        h[r][1] = wino_add(od, ev1);
        h[r][2] = wino_sub(ev1, od);
        h[r][3] = wino_sub(od, od1);
      }
      /* B^T along the column, stored into the packed panels. */
      float *dc = dst + c * NR;
      for (size_t q = 0; q < 4; ++q) {
        const wino_vec b0 = wino_sub(h[0][q], h[2][q]), b1 = wino_add(h[1][q], h[2][q]);
        const wino_vec b2 = wino_sub(h[2][q], h[1][q]), b3 = wino_sub(h[1][q], h[3][q]);
        if (n == L) {
          wino_storeu(dc + (0 + q) * xi_stride, b0);
          wino_storeu(dc + (4 + q) * xi_stride, b1);
          wino_storeu(dc + (8 + q) * xi_stride, b2);
          wino_storeu(dc + (12 + q) * xi_stride, b3);
        } else {
          wino_store(dc + (0 + q) * xi_stride, mask, b0);
          wino_store(dc + (4 + q) * xi_stride, mask, b1);
          wino_store(dc + (8 + q) * xi_stride, mask, b2);
          wino_store(dc + (12 + q) * xi_stride, mask, b3);
        }
      }
    }
    u += n;
  }
}

void WINO_FN(pnn_f32_wino2_output)(const pnn_conv2d_geometry *g, const float *m, size_t rows,
                                   size_t ldm, size_t xi_stride, size_t t0, size_t count,
                                   const float *bias, float *y, pnn_activation act) {
  enum { L = WINO_LANES };
  const size_t out_h = g->out_h, out_w = g->out_w, plane = out_h * out_w;
  const size_t tiles_w = (out_w + 1) / 2;
  const wino_vec alpha = wino_set1(act.alpha), beta = wino_set1(act.beta);
  const int scalar_pass = pnn_act_needs_scalar_pass(act.kind);
  size_t u = 0;
  while (u < count) {
    /* A run of at most L tiles on one tile row. */
    const size_t t = t0 + u, ty = t / tiles_w, tx0 = t % tiles_w;
    size_t n = tiles_w - tx0;
    if (n > count - u) n = count - u;
    if (n > L) n = L;
    const wino_mask mask = wino_mask_first(n);
    const size_t ox0 = 2 * tx0;
    const size_t cols = 2 * n <= out_w - ox0 ? 2 * n : out_w - ox0;
    const wino_mask st_lo = wino_mask_first(cols), st_hi = wino_mask_first(cols > L ? cols - L : 0);
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
      /* A along the row, bias, activation; the two output pixels of a tile interleave. */
      const wino_vec b = wino_set1(bias ? bias[r] : 0.0f);
      float *y_r = y + r * plane;
      for (size_t a = 0; a < 2; ++a) {
        const size_t oy = 2 * ty + a;
        if (oy >= out_h) break;
        const wino_vec *s = a == 0 ? s0 : s1;
        wino_vec p0 = wino_add(wino_add(wino_add(s[0], s[1]), s[2]), b);
        wino_vec p1 = wino_add(wino_sub(wino_sub(s[1], s[2]), s[3]), b);
        p0 = wino_act(p0, act.kind, alpha, beta);
        p1 = wino_act(p1, act.kind, alpha, beta);
        wino_vec lo, hi;
        wino_interleave(p0, p1, &lo, &hi);
        float *out = y_r + oy * out_w + ox0;
        if (cols == 2 * L) {
          wino_storeu(out, lo);
          wino_storeu(out + L, hi);
        } else {
          wino_store(out, st_lo, lo);
          if (cols > L) wino_store(out + L, st_hi, hi);
        }
        if (scalar_pass)
          for (size_t i = 0; i < cols; ++i) out[i] = pnn_activate(out[i], act);
      }
    }
    u += n;
  }
}
