/* Neural-network kernels beyond the ones declared in pnn_kernels.h (included at the
 * end of it). Scalar references only; ISA variants may be added with the same
 * signatures. */
#ifndef PNN_KERNELS_NN_H
#define PNN_KERNELS_NN_H

#include <stddef.h>

/* ---- f32 col2im (kernels_c/f32-col2im/) ----------------------------------------
 * The adjoint of im2col, used by ConvTranspose. `g` describes the forward
 * convolution whose *input* is the image x (g->channels, in_h, in_w) and whose
 * output grid is out_h x out_w. Accumulates:
 *   x[c][oy*sh - pt + i*dh][ox*sw - pl + j*dw] += cols[(c*kh*kw + i*kw + j) * (OH*OW) + oy*OW + ox]
 * skipping positions outside the image. x is not cleared first. */
void pnn_f32_col2im_add_scalar(const pnn_conv2d_geometry *g, const float *cols, float *x);

/* ---- f32 2-D pooling (kernels_c/f32-pool/) -------------------------------------
 * Per channel, window (oy, ox) covers taps (oy*sh - pt + i*dh, ox*sw - pl + j*dw),
 * i < kernel_h, j < kernel_w. pad_bottom / pad_right bound the padded region used by
 * count_include_pad. */
typedef struct pnn_pool2d_geometry {
  size_t channels;
  size_t in_h, in_w, out_h, out_w;
  size_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  size_t pad_top, pad_left, pad_bottom, pad_right;
} pnn_pool2d_geometry;

/* y = max over the taps inside the image (padding never wins); a window with no tap
 * inside the image gives -FLT_MAX (onnxruntime's behaviour: its initial value). */
void pnn_f32_maxpool2d_scalar(const pnn_pool2d_geometry *g, const float *x, float *y);

/* y = sum over the taps inside the image / divisor, where the divisor counts the taps
 * inside the padded region [-pt, in_h+pb) x [-pl, in_w+pr) when count_include_pad,
 * else the taps inside the image. A divisor of 0 gives 0. */
void pnn_f32_avgpool2d_scalar(const pnn_pool2d_geometry *g, const float *x, float *y,
                              int count_include_pad);

#endif /* PNN_KERNELS_NN_H */
