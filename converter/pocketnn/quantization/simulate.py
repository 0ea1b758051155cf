"""numpy operators on u8 activations, bit-exact with the C kernels
(docs/QUANTIZATION.md, kernels_c/include/pnn_kernels_s8.h).

Activations are uint8 NCHW arrays, weights int8; integer arithmetic is exact (int64).
Geometry follows docs/OPS.md: strides and dilations are [h, w], pads
[top, left, bottom, right].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

from pocketnn.quantization.arith import (
    INT32_MAX,
    MAX_SHIFT,
    MIN_SHIFT,
    U8_MAX,
    AddMultipliers,
    Requant,
    dequantize_linear,
    quantize_linear,
    requantize,
    rounding_shift,
)

__all__ = [
    "add",
    "build_lut",
    "conv2d",
    "dequantize_linear",
    "gemm",
    "global_avgpool",
    "lut",
    "maxpool",
    "quantize_linear",
]


def _typed(value: ArrayLike, dtype: type[np.generic], ndim: int | None, what: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype != dtype or (ndim is not None and array.ndim != ndim):
        rank = f"{ndim}-D " if ndim is not None else ""
        raise ValueError(f"{what} must be a {rank}{np.dtype(dtype).name} array, "
                         f"not a {array.ndim}-D {array.dtype} one")
    return array


def _integer_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b of int8/uint8 arrays, exact, as int64. Through float64 BLAS (about 25 times
    faster than numpy's integer matmul): every product and partial sum is an integer of
    magnitude at most K * 128 * 255, below 2^53 for K < 2^37 (the contract allows
    K <= 66000), so any summation order is exact."""
    if a.shape[-1] >= 1 << 37:
        raise ValueError(f"reduction of length {a.shape[-1]} is outside the contract")
    return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.int64)


def _windows(x: np.ndarray, kernel: Sequence[int], strides: Sequence[int],
             dilations: Sequence[int]) -> np.ndarray:
    """View [N, C, OH, OW, kh, kw] of every (strided, dilated) window of padded NCHW x."""
    span_h = dilations[0] * (kernel[0] - 1) + 1
    span_w = dilations[1] * (kernel[1] - 1) + 1
    if x.shape[2] < span_h or x.shape[3] < span_w:
        raise ValueError(f"a {span_h}x{span_w} window does not fit the padded "
                         f"{x.shape[2]}x{x.shape[3]} input")
    view = sliding_window_view(x, (span_h, span_w), axis=(2, 3))
    return view[:, :, ::strides[0], ::strides[1], ::dilations[0], ::dilations[1]]


def conv2d(x: ArrayLike, x_zero_point: int, w: ArrayLike, bias: ArrayLike, requant: Requant, *,
           strides: Sequence[int] = (1, 1), dilations: Sequence[int] = (1, 1),
           pads: Sequence[int] = (0, 0, 0, 0), group: int = 1) -> np.ndarray:
    """Conv of u8 x [N, C, H, W] with s8 w [M, C/group, kh, kw]: per output channel
    acc = bias'[m] + sum w * x, where a padded tap reads x_zero_point and bias' [M] is
    already folded (arith.fold_zero_point), then requantized (channels on axis 1).
    group = C = M is a depthwise convolution."""
    x = _typed(x, np.uint8, 4, "conv2d input")
    w = _typed(w, np.int8, 4, "conv2d weights")
    batch, channels = x.shape[:2]
    out_channels, group_channels, kernel_h, kernel_w = w.shape
    if channels != group_channels * group or out_channels % group:
        raise ValueError(f"conv2d: {channels} input and {out_channels} output channels do not "
                         f"split into {group} groups of {group_channels} inputs")
    top, left, bottom, right = pads
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=x_zero_point)
    windows = _windows(padded, (kernel_h, kernel_w), strides, dilations)
    out_h, out_w = windows.shape[2:4]
    taps = group_channels * kernel_h * kernel_w
    # im2col per group: rows (input channel, i, j) in the weights' order, columns pixels.
    cols = (windows.reshape(batch, group, group_channels, out_h, out_w, kernel_h, kernel_w)
            .transpose(0, 1, 2, 5, 6, 3, 4).reshape(batch, group, taps, out_h * out_w))
    acc = _integer_matmul(w.reshape(group, out_channels // group, taps), cols)
    acc = acc.reshape(batch, out_channels, out_h, out_w) + _bias(bias, out_channels).reshape(1, -1, 1, 1)
    return requant.apply(acc, axis=1)


def _bias(bias: ArrayLike, count: int) -> np.ndarray:
    values = np.asarray(bias)
    if values.shape != (count,) or values.dtype.kind not in "iu":
        raise ValueError(f"bias must be {count} integers, got shape {values.shape} {values.dtype}")
    return values.astype(np.int64)


def gemm(x: ArrayLike, w: ArrayLike, bias: ArrayLike, requant: Requant) -> np.ndarray:
    """u8 x [B, K] @ s8 w [K, N] plus the folded int32 bias' [N]
    (arith.fold_zero_point(w, x_zero_point, bias, axis=1)), requantized per output
    column."""
    x = _typed(x, np.uint8, 2, "gemm input")
    w = _typed(w, np.int8, 2, "gemm weights")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"gemm: {x.shape} @ {w.shape} do not chain")
    acc = _integer_matmul(x, w) + _bias(bias, w.shape[1])
    return requant.apply(acc, axis=1)


def add(a: ArrayLike, a_zero_point: int, b: ArrayLike, b_zero_point: int,
        multipliers: AddMultipliers, zero_point: int, lo: int = 0, hi: int = U8_MAX) -> np.ndarray:
    """y = clamp(z_y + round(((a - z_a) * M_a + (b - z_b) * M_b) / 2^S), lo, hi) with
    numpy broadcasting of a and b (arith.add_params gives M_a, M_b, S)."""
    a = _typed(a, np.uint8, None, "add input a")
    b = _typed(b, np.uint8, None, "add input b")
    a_multiplier, b_multiplier, shift = multipliers
    if not (0 <= a_multiplier <= INT32_MAX and 0 <= b_multiplier <= INT32_MAX
            and MIN_SHIFT <= shift <= MAX_SHIFT):
        raise ValueError(f"add multipliers {multipliers} are outside the contract")
    total = ((a.astype(np.int64) - a_zero_point) * a_multiplier
             + (b.astype(np.int64) - b_zero_point) * b_multiplier)
    return np.clip(rounding_shift(total, shift) + zero_point, lo, hi).astype(np.uint8)


def build_lut(fn: Callable[[np.ndarray], np.ndarray], x_qparams: tuple[float, int],
              y_qparams: tuple[float, int]) -> np.ndarray:
    """The 256-entry u8 table of an element-wise function:
    table[q] = clamp(rint(fn(s_x * (q - z_x)) / s_y) + z_y, 0, 255), in float64 with
    ties to even. ``fn`` maps a float64 array element-wise."""
    x_scale, x_zero_point = x_qparams
    y_scale, y_zero_point = y_qparams
    x = float(x_scale) * (np.arange(U8_MAX + 1, dtype=np.float64) - x_zero_point)
    y = np.asarray(fn(x), dtype=np.float64)
    if y.shape != x.shape or np.isnan(y).any():
        raise ValueError("the table's function must map each input to one number")
    return np.clip(np.rint(y / float(y_scale)) + y_zero_point, 0, U8_MAX).astype(np.uint8)


def lut(x: ArrayLike, table: ArrayLike) -> np.ndarray:
    """y = table[x] for a 256-entry u8 table."""
    x = _typed(x, np.uint8, None, "lut input")
    table = _typed(table, np.uint8, 1, "lut table")
    if table.shape != (U8_MAX + 1,):
        raise ValueError(f"a lut table has 256 entries, not {table.shape[0]}")
    return table[x]


def global_avgpool(x: ArrayLike, x_zero_point: int, multiplier: int, shift: int,
                   zero_point: int) -> np.ndarray:
    """[N, C, 1, ...] = requant(sum (x - z_x)) over all spatial dims of u8 x [N, C, ...];
    multiplier and shift include 1/n (arith.avgpool_multiplier)."""
    x = _typed(x, np.uint8, None, "global_avgpool input")
    if x.ndim < 3:
        raise ValueError(f"global_avgpool needs [N, C, spatial...], got {x.ndim}-D")
    spatial = tuple(range(2, x.ndim))
    acc = (x.astype(np.int64) - x_zero_point).sum(axis=spatial, keepdims=True)
    return requantize(acc, multiplier, shift, zero_point).astype(np.uint8)


def _pool_output_size(size: int, span: int, stride: int, pad_begin: int, pad_end: int,
                      ceil_mode: bool) -> int:
    """ONNX output length; in ceil_mode the last window starts inside the input or the
    leading padding (as the runtime's pool.c)."""
    extent = size + pad_begin + pad_end - span
    out = (-(-extent // stride) if ceil_mode else extent // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out


def _pool_layout(shape: tuple[int, ...], kernel: Sequence[int], strides: Sequence[int],
                 dilations: Sequence[int], pads: Sequence[int], ceil_mode: bool) -> tuple[int, int, tuple[int, int]]:
    """(out_h, out_w, (overhang_h, overhang_w)) of a 2-D pool over [N, C, H, W]: the
    overhang is how far ceil_mode windows reach past the bottom / right padding."""
    top, left, bottom, right = pads
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilations)]
    out_h = _pool_output_size(shape[2], spans[0], strides[0], top, bottom, ceil_mode)
    out_w = _pool_output_size(shape[3], spans[1], strides[1], left, right, ceil_mode)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"pool window {list(kernel)} does not fit input {shape}")
    overhang_h = max(0, (out_h - 1) * strides[0] + spans[0] - (shape[2] + top + bottom))
    overhang_w = max(0, (out_w - 1) * strides[1] + spans[1] - (shape[3] + left + right))
    return out_h, out_w, (overhang_h, overhang_w)


def maxpool(x: ArrayLike, kernel: Sequence[int], strides: Sequence[int] = (1, 1),
            dilations: Sequence[int] = (1, 1), pads: Sequence[int] = (0, 0, 0, 0),
            ceil_mode: bool = False) -> np.ndarray:
    """MaxPool of u8 x [N, C, H, W], exact. Padding (and the ceil_mode overhang) reads
    0, the smallest u8, so it never wins over a real tap."""
    x = _typed(x, np.uint8, 4, "maxpool input")
    out_h, out_w, overhang = _pool_layout(x.shape, kernel, strides, dilations, pads, ceil_mode)
    top, left, bottom, right = pads
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom + overhang[0]), (left, right + overhang[1])))
    windows = _windows(padded, kernel, strides, dilations)[:, :, :out_h, :out_w]
    # One tap at a time: a max over the small trailing window axes of the view is slow.
    result = windows[..., 0, 0].copy()
    for i, j in np.ndindex(*kernel):
        np.maximum(result, windows[..., i, j], out=result)
    return result


def avgpool(x: ArrayLike, x_zero_point: int, kernel: Sequence[int], strides: Sequence[int],
            dilations: Sequence[int], pads: Sequence[int], ceil_mode: bool, count_include_pad: bool,
            multipliers: Sequence[int], shifts: Sequence[int], zero_point: int) -> np.ndarray:
    """AveragePool of u8 x [N, C, H, W]: requant(sum (x - z_x) over the window's taps in
    the image) with multipliers[d - 1], shifts[d - 1] of the window's divisor d (the taps
    in the image, or with count_include_pad also those in the explicit padding but not
    the ceil_mode overhang; arith.avgpool_multiplier per d)."""
    x = _typed(x, np.uint8, 4, "avgpool input")
    out_h, out_w, (overhang_h, overhang_w) = _pool_layout(x.shape, kernel, strides, dilations, pads, ceil_mode)
    top, left, bottom, right = pads
    widths = ((0, 0), (0, 0), (top, bottom + overhang_h), (left, right + overhang_w))

    def window_sums(values: np.ndarray) -> np.ndarray:
        windows = _windows(np.pad(values, widths), kernel, strides, dilations)[:, :, :out_h, :out_w]
        return windows.sum(axis=(4, 5))

    acc = window_sums(x.astype(np.int64) - x_zero_point)
    plane = np.ones((1, 1) + x.shape[2:], np.int64)
    if count_include_pad:  # the explicit padding counts, the overhang does not
        plane = np.pad(plane, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=1)
        divisor = _windows(np.pad(plane, ((0, 0), (0, 0), (0, overhang_h), (0, overhang_w))), kernel, strides,
                           dilations)[:, :, :out_h, :out_w].sum(axis=(4, 5))
    else:
        divisor = window_sums(plane)
    y = np.empty(acc.shape, np.uint8)
    divisor = np.broadcast_to(divisor, acc.shape)
    for d in np.unique(divisor):
        mask = divisor == d
        y[mask] = requantize(acc[mask], int(multipliers[d - 1]), int(shifts[d - 1]), zero_point)
    return y
