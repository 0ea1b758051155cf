/* Kernel taps a convolution can never read the image with (conv_crop.c).
 *
 * A tap row i reads input row oy * sh + i * dh - pad_top. When that is above the image
 * for the last output row, or below it for the first, the tap reads only padding: zero
 * for a float conv, x_zero_point for QConv. Cropping such rows and columns of taps
 * leaves a smaller kernel with the same outputs (QConv adds what the padding gave to
 * the bias), so the unfolded columns hold only taps that can touch the image: a huge
 * kernel over huge pads with one output pixel unfolds about one image, not gigabytes. */
#ifndef PNN_CONV_CROP_H
#define PNN_CONV_CROP_H

#include <stdbool.h>

#include "nn_common.h"

typedef struct pnn_conv_crop {
  bool cropped;             /* some taps were dropped */
  size_t row_lo, col_lo;    /* first kept tap row / column of the original kernel */
  pnn_conv2d_geometry geom; /* the kept taps: kernel_h/w and pad_top/left adjusted */
} pnn_conv_crop;

pnn_conv_crop pnn_conv_crop_taps(const pnn_conv2d_geometry *g);

/* Copies the kept taps of a dense kernel [rows][original->channels][kh][kw] of
 * `value_size`-byte values into dst, [rows][channels][crop kh][crop kw]. */
void pnn_conv_crop_dense(const pnn_conv_crop *crop, const pnn_conv2d_geometry *original, size_t rows,
                         size_t value_size, const void *w, void *dst);

/* A group-sparse matrix (pnn_sparse_f32 / pnn_sparse_s8 layout: values of
 * `value_size` bytes, `group` per stored index) with rows of the original im2col depth
 * C * kh * kw. */
typedef struct pnn_conv_sparse_layout {
  size_t rows, group, n_groups, value_size;
  const uint32_t *group_nnz, *indices;
  const void *values;
} pnn_conv_sparse_layout;

/* Bytes pnn_conv_crop_sparse writes for `w` under `crop` (false on overflow). */
bool pnn_conv_crop_sparse_bytes(const pnn_conv_crop *crop, const pnn_conv2d_geometry *original,
                                const pnn_conv_sparse_layout *w, size_t *bytes);

/* Copies the entries of `w` whose taps are kept into `dst` (pnn_conv_crop_sparse_bytes
 * bytes, 64-byte aligned), indices renumbered for crop->geom; *out views the copy.
 * When dropped_sum is not NULL (s8 values) it receives per row the sum of the dropped
 * weights. */
void pnn_conv_crop_sparse(const pnn_conv_crop *crop, const pnn_conv2d_geometry *original,
                          const pnn_conv_sparse_layout *w, void *dst, pnn_conv_sparse_layout *out,
                          int64_t *dropped_sum);

#endif /* PNN_CONV_CROP_H */
