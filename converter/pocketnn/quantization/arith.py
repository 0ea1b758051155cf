"""The integer arithmetic of docs/QUANTIZATION.md, which the C kernels
(kernels_c/include/pnn_kernels_s8.h) follow bit for bit, and the conversion of float
values into it.

Integer results are exact (int64 internally). Scales are float32 numbers, the precision
a .pnn file stores; real multipliers made from them are computed in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

MIN_SHIFT = 1
MAX_SHIFT = 62
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
U8_MAX = 255
# A floor for computed scales: a positive range too small for float32 must not give 0.
_SMALLEST_SCALE = float(np.finfo(np.float32).tiny)


def _check_range(what: str, values: np.ndarray, lo: int, hi: int) -> None:
    if values.size and (values.min() < lo or values.max() > hi):
        raise ValueError(f"{what} outside [{lo}, {hi}] (found {values.min()}..{values.max()})")


def _channel_shape(ndim: int, axis: int) -> tuple[int, ...]:
    """Shape that broadcasts a per-channel vector along ``axis`` of an ndim array."""
    shape = [1] * ndim
    shape[axis] = -1
    return tuple(shape)


def _other_axes(ndim: int, axis: int) -> tuple[int, ...]:
    axis = axis % ndim
    return tuple(i for i in range(ndim) if i != axis)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """Nearest integer of non-negative float64 values, ties away from zero. Not
    floor(x + 0.5): that sum can round up to 1 for x just below 0.5, while the
    fraction x - floor(x) is exact."""
    whole = np.floor(x)
    return (whole + (x - whole >= 0.5)).astype(np.int64)


# ---- Dyadic multipliers and the one rounding rule ---------------------------------


def quantize_multipliers(m: ArrayLike, mantissa_bits: int = 31) -> tuple[np.ndarray, np.ndarray]:
    """(multiplier, shift) int32 arrays with multiplier / 2^shift the closest dyadic
    number with a `mantissa_bits`-bit mantissa (multiplier in [2^(bits-1), 2^bits)) to
    each real m > 0 (docs/QUANTIZATION.md)."""
    real = np.asarray(m, dtype=np.float64)
    invalid = ~(np.isfinite(real) & (real > 0))
    if invalid.any():
        raise ValueError(f"requantization multiplier {float(real[invalid].flat[0])!r} is not a finite positive number")
    mantissa, exponent = np.frexp(real)
    multiplier = _round_half_away(np.ldexp(mantissa, mantissa_bits))  # exact product, q in [0.5, 1)
    carry = multiplier == (1 << mantissa_bits)  # the mantissa rounded up to 1.0
    multiplier = np.where(carry, 1 << (mantissa_bits - 1), multiplier)
    shift = mantissa_bits - (exponent.astype(np.int64) + carry)
    too_large = shift < MIN_SHIFT
    if too_large.any():
        raise ValueError(f"requantization multiplier {float(real[too_large].flat[0])!r} is too large: "
                         f"multipliers from 2^{mantissa_bits - 1} up are not representable")
    # m < 2^-32: acc * m rounds to 0 for every int32 accumulator anyway.
    tiny = shift > MAX_SHIFT
    multiplier = np.where(tiny, 0, multiplier)
    shift = np.where(tiny, MAX_SHIFT, shift)
    return multiplier.astype(np.int32), shift.astype(np.int32)


def quantize_multiplier(m: float) -> tuple[int, int]:
    """(M, S) with M / 2^S closest to m > 0; raises ValueError for m >= 2^30."""
    multiplier, shift = quantize_multipliers(m)
    return int(multiplier), int(shift)


def rounding_shift(v: ArrayLike, shift: ArrayLike) -> np.ndarray:
    """round(v / 2^shift) with ties toward +infinity (numpy's >> on int64 floors)."""
    values = np.asarray(v, dtype=np.int64)
    shifts = np.asarray(shift, dtype=np.int64)
    return (values + (np.int64(1) << (shifts - 1))) >> shifts


def requantize(acc: ArrayLike, multiplier: ArrayLike, shift: ArrayLike, zero_point: int,
               lo: int = 0, hi: int = U8_MAX, *, axis: int | None = None) -> np.ndarray:
    """clamp(zero_point + round(acc * multiplier / 2^shift), lo, hi) as int64.

    ``multiplier`` and ``shift`` are scalars or per-channel vectors laid along ``axis``
    of ``acc`` (required for vectors). Arguments outside the contract's ranges raise
    ValueError instead of overflowing."""
    accumulators = np.asarray(acc, dtype=np.int64)
    multipliers = np.asarray(multiplier, dtype=np.int64)
    shifts = np.asarray(shift, dtype=np.int64)
    _check_range("accumulator", accumulators, INT32_MIN, INT32_MAX)
    _check_range("multiplier", multipliers, 0, INT32_MAX)
    _check_range("shift", shifts, MIN_SHIFT, MAX_SHIFT)
    if multipliers.ndim or shifts.ndim:
        if axis is None:
            raise ValueError("per-channel multipliers need the channel axis")
        shape = _channel_shape(accumulators.ndim, axis)
        multipliers, shifts = multipliers.reshape(shape), shifts.reshape(shape)
    return np.clip(rounding_shift(accumulators * multipliers, shifts) + zero_point, lo, hi)


@dataclass(frozen=True, eq=False)  # array fields: identity, not element-wise ==
class Requant:
    """One layer's requantization (pnn_requant): per-output-channel multipliers and
    shifts, the output zero point, and clamp bounds carrying a fused ReLU/Clip."""

    multiplier: np.ndarray
    shift: np.ndarray
    zero_point: int
    lo: int = 0
    hi: int = U8_MAX

    def __post_init__(self) -> None:
        if not 0 <= self.zero_point <= U8_MAX or not 0 <= self.lo <= self.hi <= U8_MAX:
            raise ValueError(f"requantization needs 0 <= zero point <= 255 and 0 <= lo <= hi <= 255, "
                             f"got zero point {self.zero_point}, lo {self.lo}, hi {self.hi}")

    def apply(self, acc: ArrayLike, axis: int) -> np.ndarray:
        """u8 outputs of int32 accumulators whose channels run along ``axis``."""
        return requantize(acc, self.multiplier, self.shift, self.zero_point, self.lo, self.hi,
                          axis=axis).astype(np.uint8)


# Mantissa bits of the per-channel multipliers the converter makes for QConv / QGemm:
# 15 bits keep them within s16 (format 1.8 stores such tables in 2 bytes a channel, not
# 4) at a relative error <= 2^-15, 0.008 of a u8 step on the largest output. m >= 2^14
# is then not representable; requantization multipliers are far below 1.
COMPACT_MANTISSA_BITS = 15


def conv_requant(x_scale: float, w_scales: ArrayLike, y_scale: float, y_zero_point: int,
                 lo: int = 0, hi: int = U8_MAX, mantissa_bits: int = 31) -> Requant:
    """Requantization of a convolution or GEMM: m[c] = s_x * s_w[c] / s_y."""
    real = np.float64(x_scale) * np.asarray(w_scales, dtype=np.float64).reshape(-1) / np.float64(y_scale)
    multiplier, shift = quantize_multipliers(real, mantissa_bits)
    return Requant(multiplier, shift, y_zero_point, lo, hi)


def avgpool_multiplier(x_scale: float, y_scale: float, count: int) -> tuple[int, int]:
    """(M, S) of an average over ``count`` values: m = s_x / (s_y * n)."""
    return quantize_multiplier(float(x_scale) / (float(y_scale) * count))


class AddMultipliers(NamedTuple):
    """Both branches of an Add as integers over one shared shift."""

    a_multiplier: int
    b_multiplier: int
    shift: int


def add_params(a_scale: float, b_scale: float, y_scale: float) -> AddMultipliers:
    """M_a, M_b and S with M_a / 2^S ~ s_a / s_y and M_b / 2^S ~ s_b / s_y; S is the
    shift of the larger multiplier, the smaller one is rounded (half away from zero)
    at that shift."""
    real = np.array([a_scale, b_scale], dtype=np.float64) / np.float64(y_scale)
    larger, shift = quantize_multiplier(float(real.max()))
    if larger == 0:  # both products round to 0, as for a tiny single multiplier
        return AddMultipliers(0, 0, shift)
    a_multiplier, b_multiplier = _round_half_away(np.ldexp(real, shift))
    return AddMultipliers(int(a_multiplier), int(b_multiplier), shift)


# ---- Quantization of values --------------------------------------------------------


def activation_qparams(lo: float, hi: float) -> tuple[float, int]:
    """(scale, zero point) of a u8 activation covering [lo, hi] widened to include 0.

    The zero point is 0 when lo >= 0 (unsigned, e.g. after ReLU); otherwise it is the
    integer round(-lo / scale) in [0, 255], so that 0 is exact. The scale is a float32
    number; a range of only 0 gets scale 1."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise ValueError(f"invalid activation range [{lo}, {hi}]")
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi == lo:
        return 1.0, 0
    scale = max(float(np.float32((hi - lo) / U8_MAX)), _SMALLEST_SCALE)
    zero_point = int(np.clip(round(-lo / scale), 0, U8_MAX))
    return scale, zero_point


def weight_qmax(bits: int) -> int:
    """Largest weight magnitude: 127 for int8, 7 for int4 (-128 / -8 are never used)."""
    if bits not in (4, 8):
        raise ValueError(f"weights are quantized to 8 or 4 bits, not {bits}")
    return (1 << (bits - 1)) - 1


def quantize_weights(w: ArrayLike, bits: int = 8, axis: int = 0,
                     min_scales: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel quantization of the channels along ``axis``.

    Returns int8 values in [-qmax, qmax] (weight_qmax) and float32 scales
    max|w| / qmax, one per channel, at least ``min_scales`` when given; an all-zero
    channel gets scale 1 (or its minimum)."""
    qmax = weight_qmax(bits)
    real = np.asarray(w, dtype=np.float64)
    if not np.isfinite(real).all():
        raise ValueError("weights must be finite")
    peak = np.abs(real).max(axis=_other_axes(real.ndim, axis))
    scales = np.where(peak > 0, np.maximum(peak / qmax, _SMALLEST_SCALE), 1.0)
    if min_scales is not None:
        scales = np.where(peak > 0, np.maximum(scales, np.asarray(min_scales, dtype=np.float64)),
                          np.maximum(1.0, np.asarray(min_scales, dtype=np.float64)))
    scales = scales.astype(np.float32)
    ratio = real / scales.astype(np.float64).reshape(_channel_shape(real.ndim, axis))
    return np.clip(np.rint(ratio), -qmax, qmax).astype(np.int8), scales


def pack_int4(q: ArrayLike) -> np.ndarray:
    """Signed 4-bit values (flattened in C order) two per byte, low nibble first; an odd
    count leaves the last high nibble 0."""
    values = np.asarray(q).reshape(-1)
    _check_range("int4 value", values, -8, 7)
    nibbles = (values.astype(np.int64) & 0xF).astype(np.uint8)
    if nibbles.size % 2:
        nibbles = np.append(nibbles, np.uint8(0))
    return nibbles[0::2] | (nibbles[1::2] << 4)


def unpack_int4(packed: ArrayLike, count: int) -> np.ndarray:
    """The ``count`` int8 values of pack_int4's bytes."""
    data = np.asarray(packed, dtype=np.uint8).reshape(-1)
    if count < 0 or data.size != (count + 1) // 2:
        raise ValueError(f"{data.size} bytes do not hold {count} packed int4 values")
    nibbles = np.empty(2 * data.size, dtype=np.int8)
    nibbles[0::2] = data & 0xF
    nibbles[1::2] = data >> 4
    nibbles = nibbles[:count]
    return np.where(nibbles > 7, nibbles - 16, nibbles).astype(np.int8)


def quantize_bias(bias: ArrayLike, x_scale: float, w_scales: ArrayLike) -> np.ndarray:
    """int32 bias with scale s_x * s_w[c] and zero point 0 (ties to even)."""
    scale = np.float64(x_scale) * np.asarray(w_scales, dtype=np.float64)
    q = np.rint(np.asarray(bias, dtype=np.float64) / scale)
    if not np.isfinite(q).all() or (q.size and (q.min() < INT32_MIN or q.max() > INT32_MAX)):
        raise ValueError("quantized bias does not fit in int32")
    return q.astype(np.int32)


def fold_zero_point(w_q: ArrayLike, x_zero_point: int, bias_q: ArrayLike | None = None,
                    axis: int = 0) -> np.ndarray:
    """bias'[c] = bias[c] - z_x * sum of output channel c's weights (channels along
    ``axis``; no bias is 0), as the kernels expect (pnn_s8_fold_zero_point)."""
    weights = np.asarray(w_q, dtype=np.int64)
    sums = weights.sum(axis=_other_axes(weights.ndim, axis))
    bias = np.zeros_like(sums) if bias_q is None else np.asarray(bias_q, dtype=np.int64)
    folded = bias - np.int64(x_zero_point) * sums
    _check_range("folded bias", folded, INT32_MIN, INT32_MAX)
    return folded.astype(np.int32)


def quantize_linear(x: ArrayLike, scale: float, zero_point: int) -> np.ndarray:
    """QuantizeLinear to u8 in float32: clamp(rint(x / s) + z, 0, 255), ties to even."""
    steps = np.rint(np.asarray(x, dtype=np.float32) / np.float32(scale))
    return np.clip(steps + np.float32(zero_point), 0, U8_MAX).astype(np.uint8)


def dequantize_linear(q: ArrayLike, scale: float, zero_point: int) -> np.ndarray:
    """DequantizeLinear in float32: s * (q - z)."""
    offsets = np.asarray(q, dtype=np.int32) - np.int32(zero_point)
    return offsets.astype(np.float32) * np.float32(scale)


def clamp_bounds(y_scale: float, y_zero_point: int, lo: float | None = None,
                 hi: float | None = None) -> tuple[int, int]:
    """u8 clamp bounds of a fused ReLU (lo = 0) or Clip(lo, hi) on an output with these
    qparams: each real bound quantized as by quantize_linear, an absent one 0 or 255."""
    q_lo = 0 if lo is None else int(quantize_linear(lo, y_scale, y_zero_point))
    q_hi = U8_MAX if hi is None else int(quantize_linear(hi, y_scale, y_zero_point))
    return q_lo, q_hi
