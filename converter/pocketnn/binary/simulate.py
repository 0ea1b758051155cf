"""numpy model of the binary kernels (kernels_c/include/pnn_kernels_b1.h), bit for bit.

A value's bit is 1 where it is negative (0, -0 and NaN count as +1). The kernels count
m = popcount(x xor w) over packed words and output dot = K_eff - 2m; here the same dot is
the integer sum of sign(x) * sign(w) over the taps inside the image (zero padding), a tap
outside adding sign(w) (one padding). The float output is multiplier * dot + bias in
float64 (the product is exact, so the C code gives the same with or without an FMA)
rounded once to float32, then clamped;
the bit-packed output sets bit m of a pixel's word m // 64 where (dot < threshold) xor
negate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

WORD_BITS = 64
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class Padding(IntEnum):
    """enum pnn_b1_padding."""

    ZERO = 0
    ONE = 1


@dataclass(frozen=True)
class ConvGeometry:
    """A 2-D binary convolution of one group (pads: top, left, bottom, right)."""

    kernel: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    dilations: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)


def words(bits: int) -> int:
    """64-bit words that hold `bits` packed bits."""
    return (bits + WORD_BITS - 1) // WORD_BITS


def signs(x: NDArray[np.floating]) -> NDArray[np.int8]:
    """+1 or -1 per value; 0, -0 and NaN give +1."""
    return np.where(np.asarray(x) < 0, -1, 1).astype(np.int8)


def pack_bits(bits: NDArray[np.bool_], width: int | None = None) -> NDArray[np.uint64]:
    """Bits along the last axis packed into little-endian 64-bit words (bit c % 64 of word
    c // 64), padded with 0 bits and 0 words up to `width` words."""
    bits = np.asarray(bits, dtype=bool)
    count = bits.shape[-1]
    width = words(count) if width is None else width
    padded = np.zeros(bits.shape[:-1] + (width * WORD_BITS,), dtype=np.uint8)
    padded[..., :count] = bits
    as_bytes = np.packbits(padded, axis=-1, bitorder="little")
    return np.ascontiguousarray(as_bytes).view("<u8").astype(np.uint64)


def pack_activations(x: NDArray[np.floating], width: int | None = None) -> NDArray[np.uint64]:
    """pnn_b1_pack_scalar of a CHW float tensor: [H * W, words] pixel-major sign bits."""
    x = np.asarray(x)
    channels = x.shape[0]
    return pack_bits(x.reshape(channels, -1).T < 0, width)


def pack_conv_weights(w: NDArray[np.floating]) -> tuple[NDArray[np.uint64], NDArray[np.int32]]:
    """pnn_b1_pack_conv_weights of OIHW weights: rows of taps x words, and the popcount of
    each row's tap (the negative weights per output channel and tap)."""
    w = np.asarray(w)
    out_channels, channels, kh, kw = w.shape
    per_tap = np.transpose(w < 0, (0, 2, 3, 1)).reshape(out_channels, kh * kw, channels)
    packed = pack_bits(per_tap).reshape(out_channels, -1)
    tap_pop = per_tap.sum(axis=2, dtype=np.int32)
    return packed, tap_pop


def output_size(size: int, kernel: int, stride: int, dilation: int, pad_before: int, pad_after: int) -> int:
    return (size + pad_before + pad_after - (kernel - 1) * dilation - 1) // stride + 1


def conv_dot(x: NDArray[np.floating], w: NDArray[np.floating], geometry: ConvGeometry,
             padding: Padding) -> NDArray[np.int32]:
    """dot[m, pixel] of a binary convolution of CHW input x with OIHW weights w."""
    x_signs, w_signs = signs(x).astype(np.int32), signs(w).astype(np.int32)
    channels, height, width = x_signs.shape
    kh, kw = geometry.kernel
    (sh, sw), (dh, dw), (pt, pl, pb, pr) = geometry.strides, geometry.dilations, geometry.pads
    fill = 0 if padding == Padding.ZERO else 1
    padded = np.pad(x_signs, ((0, 0), (pt, pb), (pl, pr)), constant_values=fill)
    out_h = output_size(height, kh, sh, dh, pt, pb)
    out_w = output_size(width, kw, sw, dw, pl, pr)
    columns = np.empty((channels, kh, kw, out_h, out_w), dtype=np.int32)
    for i in range(kh):
        for j in range(kw):
            rows = padded[:, i * dh : i * dh + (out_h - 1) * sh + 1 : sh]
            columns[:, i, j] = rows[:, :, j * dw : j * dw + (out_w - 1) * sw + 1 : sw]
    return (w_signs.reshape(w_signs.shape[0], -1) @ columns.reshape(-1, out_h * out_w)).astype(np.int32)


def gemm_dot(x: NDArray[np.floating], w: NDArray[np.floating]) -> NDArray[np.int32]:
    """dot[m, n] of a binary dense layer: x [N, K], w [M, K]."""
    return (signs(w).astype(np.int32) @ signs(x).astype(np.int32).T).astype(np.int32)


def float_output(dot: NDArray[np.int32], multiplier: NDArray[np.float32], bias: NDArray[np.float32],
                 lo: float = -np.inf, hi: float = np.inf) -> NDArray[np.float32]:
    """clamp(multiplier[m] * dot[m, n] + bias[m], lo, hi): float64, then float32."""
    a = np.asarray(multiplier, np.float32).astype(np.float64)[:, None]
    b = np.asarray(bias, np.float32).astype(np.float64)[:, None]
    value = (a * dot + b).astype(np.float32)
    return np.minimum(np.maximum(value, np.float32(lo)), np.float32(hi))


def bit_output(dot: NDArray[np.int32], threshold: NDArray[np.int32], negate: NDArray[np.bool_],
               width: int | None = None) -> NDArray[np.uint64]:
    """[pixel, words]: bit m of a pixel = (dot[m, pixel] < threshold[m]) xor negate[m]."""
    bits = (dot < np.asarray(threshold)[:, None]) ^ np.asarray(negate, dtype=bool)[:, None]
    return pack_bits(bits.T, width)


def thresholds(
    multiplier: NDArray[np.floating], bias: NDArray[np.floating]
) -> tuple[NDArray[np.int32], NDArray[np.bool_]]:
    """Per-channel threshold and negate that make the bit-packed output the sign of
    multiplier * dot + bias (computed in float64 from the float32 parameters): a > 0
    gives ceil(-b / a), a < 0 floor(-b / a) + 1 negated, a = 0 a constant."""
    a = np.asarray(multiplier, np.float32).astype(np.float64)
    b = np.asarray(bias, np.float32).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = -b / a
        positive = np.ceil(ratio)
        negative = np.floor(ratio) + 1
    constant = np.where(b < 0, INT32_MAX, INT32_MIN)
    value = np.where(a > 0, positive, np.where(a < 0, negative, constant))
    threshold = np.clip(value, INT32_MIN, INT32_MAX).astype(np.int32)
    return threshold, a < 0
