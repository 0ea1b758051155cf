/* Kernel taps a convolution can never read the image with (see conv_crop.h). */
#include "conv_crop.h"

#include <string.h>

/* Kept taps [*lo, *hi) along one axis of `in` input positions, `out` outputs. */
static void crop_axis(size_t in, size_t out, size_t kernel, size_t stride, size_t dilation, size_t pad,
                      size_t *lo, size_t *hi) {
  /* Tap t is before the image for every output when (out-1)*stride + t*dilation < pad;
   * only whole dilation steps of padding are removed so the new pad stays >= 0. */
  const size_t reach = (out - 1) * stride;
  size_t before = 0;
  if (pad > reach) before = (pad - reach + dilation - 1) / dilation;
  if (before > pad / dilation) before = pad / dilation;
  if (before > kernel) before = kernel;
  /* Tap t is past the image for every output when t*dilation - pad >= in. */
  size_t end = (pad + in + dilation - 1) / dilation;
  if (end > kernel) end = kernel;
  if (end <= before) { /* every tap reads padding only: keep one */
    if (before < kernel) end = before + 1;
    else before = kernel - 1;
    if (end <= before) end = before + 1;
  }
  *lo = before;
  *hi = end;
}

pnn_conv_crop pnn_conv_crop_taps(const pnn_conv2d_geometry *g) {
  pnn_conv_crop c;
  size_t row_hi, col_hi;
  crop_axis(g->in_h, g->out_h, g->kernel_h, g->stride_h, g->dilation_h, g->pad_top, &c.row_lo, &row_hi);
  crop_axis(g->in_w, g->out_w, g->kernel_w, g->stride_w, g->dilation_w, g->pad_left, &c.col_lo, &col_hi);
  c.geom = *g;
  c.geom.kernel_h = row_hi - c.row_lo;
  c.geom.kernel_w = col_hi - c.col_lo;
  c.geom.pad_top = g->pad_top - c.row_lo * g->dilation_h;
  c.geom.pad_left = g->pad_left - c.col_lo * g->dilation_w;
  c.cropped = c.geom.kernel_h != g->kernel_h || c.geom.kernel_w != g->kernel_w;
  return c;
}

void pnn_conv_crop_dense(const pnn_conv_crop *crop, const pnn_conv2d_geometry *original, size_t rows,
                         size_t value_size, const void *w, void *dst) {
  const size_t kh = crop->geom.kernel_h, kw = crop->geom.kernel_w, row_bytes = kw * value_size;
  const unsigned char *src = w;
  unsigned char *out = dst;
  for (size_t plane = 0; plane < rows * original->channels; ++plane) {
    const unsigned char *kernel = src + plane * original->kernel_h * original->kernel_w * value_size;
    for (size_t i = 0; i < kh; ++i, out += row_bytes)
      memcpy(out, kernel + ((crop->row_lo + i) * original->kernel_w + crop->col_lo) * value_size, row_bytes);
  }
}

/* The index of im2col row `k` of `original` in the cropped kernel, or SIZE_MAX. */
static size_t kept_index(const pnn_conv_crop *crop, const pnn_conv2d_geometry *original, size_t k) {
  const size_t taps = original->kernel_h * original->kernel_w;
  const size_t c = k / taps, i = k % taps / original->kernel_w, j = k % original->kernel_w;
  if (i < crop->row_lo || i - crop->row_lo >= crop->geom.kernel_h) return SIZE_MAX;
  if (j < crop->col_lo || j - crop->col_lo >= crop->geom.kernel_w) return SIZE_MAX;
  return (c * crop->geom.kernel_h + (i - crop->row_lo)) * crop->geom.kernel_w + (j - crop->col_lo);
}

static size_t stored_entries(const pnn_conv_sparse_layout *w) {
  size_t nnz = 0;
  for (size_t g = 0; g < w->n_groups; ++g) nnz += w->group_nnz[g];
  return nnz;
}

/* Layout of the copy: group_nnz, indices, then the values at a 64-byte boundary. */
static size_t values_offset(const pnn_conv_sparse_layout *w, size_t kept) {
  return ((w->n_groups + kept) * sizeof(uint32_t) + (PNN_NN_ALIGN - 1)) & ~(size_t)(PNN_NN_ALIGN - 1);
}

static size_t count_kept(const pnn_conv_crop *crop, const pnn_conv2d_geometry *original,
                         const pnn_conv_sparse_layout *w) {
  size_t kept = 0;
  const size_t nnz = stored_entries(w);
  for (size_t e = 0; e < nnz; ++e) kept += kept_index(crop, original, w->indices[e]) != SIZE_MAX;
  return kept;
}

bool pnn_conv_crop_sparse_bytes(const pnn_conv_crop *crop, const pnn_conv2d_geometry *original,
                                const pnn_conv_sparse_layout *w, size_t *bytes) {
  /* The copy is no larger than the validated arrays of the model: no overflow below. */
  const size_t kept = count_kept(crop, original, w);
  size_t values;
  return pnn_nn_mul(kept, w->group * w->value_size, &values) &&
         pnn_nn_add(values_offset(w, kept), values, bytes) && pnn_nn_align(*bytes, bytes);
}

void pnn_conv_crop_sparse(const pnn_conv_crop *crop, const pnn_conv2d_geometry *original,
                          const pnn_conv_sparse_layout *w, void *dst, pnn_conv_sparse_layout *out,
                          int64_t *dropped_sum) {
  const size_t kept = count_kept(crop, original, w), G = w->group, value_bytes = G * w->value_size;
  uint32_t *group_nnz = dst, *indices = group_nnz + w->n_groups;
  unsigned char *values = (unsigned char *)dst + values_offset(w, kept);
  const unsigned char *src_values = w->values;
  if (dropped_sum) memset(dropped_sum, 0, w->rows * sizeof(*dropped_sum));
  size_t e = 0, n = 0;
  for (size_t g = 0; g < w->n_groups; ++g) {
    uint32_t count = 0;
    for (size_t end = e + w->group_nnz[g]; e < end; ++e) {
      const size_t k = kept_index(crop, original, w->indices[e]);
      if (k != SIZE_MAX) {
        indices[n] = (uint32_t)k; /* below the original index, so it fits */
        memcpy(values + n * value_bytes, src_values + e * value_bytes, value_bytes);
        ++n;
        ++count;
      } else if (dropped_sum) {
        const int8_t *v = (const int8_t *)(src_values + e * value_bytes);
        for (size_t r = 0; r < G && g * G + r < w->rows; ++r) dropped_sum[g * G + r] += v[r];
      }
    }
    group_nnz[g] = count;
  }
  *out = *w;
  out->group_nnz = group_nnz;
  out->indices = indices;
  out->values = values;
}
