"""pocketnn.quantization.arith against exact rational / Python-int arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from pocketnn.quantization import arith

RNG = np.random.default_rng(5)


def closest_dyadic(m: float) -> tuple[int, int]:
    """(M, S): the S in [1, 62] at which round(m * 2^S) (ties up) has 31 bits, found by
    search with exact fractions; (0, 62) below the range."""
    exact = Fraction(m)
    for shift in range(1, 63):
        mantissa = math.floor(exact * 2**shift + Fraction(1, 2))
        if 2**30 <= mantissa < 2**31:
            return mantissa, shift
    assert exact * 2**62 < 2**30
    return 0, 62


def exact_requantize(acc: int, multiplier: int, shift: int, zero_point: int, lo: int, hi: int) -> int:
    """Nearest integer of acc * M / 2^S, ties toward +infinity, then offset and clamp."""
    rounded = math.floor(Fraction(acc * multiplier, 2**shift) + Fraction(1, 2))
    return min(max(rounded + zero_point, lo), hi)


def test_quantize_multiplier_is_the_closest_31_bit_dyadic() -> None:
    values = np.exp2(RNG.uniform(-40, 30, 1000)).tolist() + [1e-12, 3e-10, 0.75, 1.5, 123.456]
    for m in values:
        assert arith.quantize_multiplier(m) == closest_dyadic(m), m
        multiplier, shift = arith.quantize_multiplier(m)
        if multiplier:
            assert abs(Fraction(multiplier, 2**shift) - Fraction(m)) <= Fraction(1, 2 ** (shift + 1))


def test_quantize_multipliers_vectorized_matches_scalar() -> None:
    values = np.concatenate([np.exp2(RNG.uniform(-45, 29.9, 500)), [1.0, 0.5, 1 - 2**-40, 2**-33]])
    multipliers, shifts = arith.quantize_multipliers(values)
    assert multipliers.dtype == np.int32 and shifts.dtype == np.int32
    assert list(zip(multipliers.tolist(), shifts.tolist())) == [arith.quantize_multiplier(v) for v in values]


@pytest.mark.parametrize("m, expected", [
    (1.0, (2**30, 30)),
    (0.5, (2**30, 31)),
    (1 - 2**-40, (2**30, 30)),            # the mantissa rounds up to 1.0: carried
    (2 - 2**-40, (2**30, 29)),
    (0.75, (3 * 2**29, 31)),
    ((2**30 + 0.5) / 2**31, (2**30 + 1, 31)),  # an exact tie rounds away from zero
    ((2**31 - 1.5) / 2**31, (2**31 - 1, 31)),  # tie just below the carry
    (2**-32, (2**30, 62)),
    (2**-32 * (1 - 2**-40), (2**30, 62)),  # rounds up into the range
    (2**-33, (0, 62)),                    # tiny: every int32 product rounds to 0
    (1e-30, (0, 62)),
    (2**30 - 1, (2**31 - 2, 1)),          # largest shift-1 value
])
def test_quantize_multiplier_edges(m: float, expected: tuple[int, int]) -> None:
    assert arith.quantize_multiplier(m) == expected
    assert arith.quantize_multiplier(m) == closest_dyadic(m)


@pytest.mark.parametrize("m", [2.0**30, 2.0**30 * (1 - 2**-40), 1e12, 0.0, -1.0, math.inf, math.nan])
def test_quantize_multiplier_refuses(m: float) -> None:
    with pytest.raises(ValueError, match="requantization multiplier") as info:
        arith.quantize_multiplier(m)
    assert repr(m) in str(info.value)


def test_rounding_shift_ties_toward_positive_infinity() -> None:
    values = np.array([-3, -2, -1, 0, 1, 2, 3, 5, -5], dtype=np.int64)
    # v / 2: -1.5 -> -1, -1, -0.5 -> 0, 0, 0.5 -> 1, 1, 1.5 -> 2, 2.5 -> 3, -2.5 -> -2
    assert arith.rounding_shift(values, 1).tolist() == [-1, -1, 0, 0, 1, 1, 2, 3, -2]


def random_requant_cases(count: int) -> list[tuple[int, int, int, int, int, int]]:
    accs = np.concatenate([RNG.integers(-2**31, 2**31, count // 2),
                           RNG.integers(-1000, 1000, count // 4),
                           RNG.integers(-2**20, 2**20, count - count // 2 - count // 4)])
    cases = []
    for acc in accs.tolist():
        multiplier = int(RNG.integers(0, 2**31))
        shift = int(RNG.integers(1, 63))
        zero_point = int(RNG.integers(0, 256))
        lo = int(RNG.integers(0, 256))
        cases.append((acc, multiplier, shift, zero_point, lo, int(RNG.integers(lo, 256))))
    extremes = [-2**31, 2**31 - 1, 0, 1, -1]
    for acc in extremes:
        for multiplier in (0, 1, 2**30, 2**31 - 1):
            for shift in (1, 2, 31, 61, 62):
                cases.append((acc, multiplier, shift, 0, 0, 255))
                cases.append((acc, multiplier, shift, 128, 0, 255))
    return cases


def test_requantize_matches_exact_python_ints() -> None:
    cases = random_requant_cases(4000)
    acc, multiplier, shift, zero_point, lo, hi = (np.array(c, dtype=np.int64) for c in zip(*cases))
    # Per-element parameters broadcast as "channels" along axis 0.
    got = [int(arith.requantize(a, m, s, z, lo_, hi_))
           for a, m, s, z, lo_, hi_ in zip(acc, multiplier, shift, zero_point, lo, hi)]
    assert got == [exact_requantize(*c) for c in cases]
    unclamped = [c for c in cases if c[4] == 0 and c[5] == 255]
    acc, multiplier, shift, zero_point, _, _ = (np.array(c, dtype=np.int64) for c in zip(*unclamped))
    vectorized = arith.requantize(acc, multiplier, shift, 17, axis=0)
    assert vectorized.tolist() == [exact_requantize(a, m, s, 17, 0, 255) for a, m, s, *_ in unclamped]


def test_requantize_per_channel_axis() -> None:
    acc = RNG.integers(-2**31, 2**31, (2, 3, 4, 5))
    multiplier = RNG.integers(0, 2**31, 3)
    shift = RNG.integers(1, 63, 3)
    got = arith.requantize(acc, multiplier, shift, 9, 3, 250, axis=1)
    for index in np.ndindex(acc.shape):
        c = index[1]
        assert got[index] == exact_requantize(int(acc[index]), int(multiplier[c]), int(shift[c]), 9, 3, 250)
    with pytest.raises(ValueError, match="axis"):
        arith.requantize(acc, multiplier, shift, 9)


@pytest.mark.parametrize("acc, multiplier, shift", [
    (2**31, 1, 1), (-2**31 - 1, 1, 1), (0, 2**31, 1), (0, -1, 1), (0, 1, 0), (0, 1, 63)])
def test_requantize_refuses_out_of_contract(acc: int, multiplier: int, shift: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        arith.requantize(acc, multiplier, shift, 0)


def test_requant_bounds_are_checked() -> None:
    with pytest.raises(ValueError):
        arith.Requant(np.array([1]), np.array([1]), 0, lo=10, hi=5)
    with pytest.raises(ValueError):
        arith.Requant(np.array([1]), np.array([1]), 256)


def test_add_params_share_the_larger_shift() -> None:
    for _ in range(300):
        s_a, s_b, s_y = np.exp2(RNG.uniform(-12, 2, 3))
        a_multiplier, b_multiplier, shift = arith.add_params(s_a, s_b, s_y)
        m_a, m_b = Fraction(float(s_a / s_y)), Fraction(float(s_b / s_y))
        assert (max(a_multiplier, b_multiplier), shift) == arith.quantize_multiplier(float(max(m_a, m_b)))
        for real, integer in ((m_a, a_multiplier), (m_b, b_multiplier)):
            assert integer == math.floor(real * 2**shift + Fraction(1, 2))
            assert 0 <= integer < 2**31
    assert arith.add_params(1.0, 1.0, 2.0) == (2**30, 2**30, 31)
    assert arith.add_params(1.0, 0.25, 1.0) == (2**30, 2**28, 30)
    assert arith.add_params(1e-12, 1e-13, 1.0) == (0, 0, 62)


def test_activation_qparams_zero_point_rules() -> None:
    scale, zero_point = arith.activation_qparams(0.0, 6.0)
    assert zero_point == 0 and scale == pytest.approx(6 / 255) and scale == float(np.float32(scale))
    assert arith.activation_qparams(1.0, 6.0) == arith.activation_qparams(0.0, 6.0)  # widened to 0
    assert arith.activation_qparams(-6.0, -1.0)[1] == 255
    assert arith.activation_qparams(0.0, 0.0) == (1.0, 0)
    for _ in range(200):
        lo, hi = -RNG.uniform(0.01, 10), RNG.uniform(0.01, 10)
        scale, zero_point = arith.activation_qparams(lo, hi)
        assert isinstance(zero_point, int) and 0 <= zero_point <= 255
        assert scale == pytest.approx((hi - lo) / 255, rel=1e-6)
        assert arith.dequantize_linear(zero_point, scale, zero_point) == 0.0
        # the grid still covers the range to within one step at either end
        assert scale * (0 - zero_point) <= lo + scale and scale * (255 - zero_point) >= hi - scale
    with pytest.raises(ValueError):
        arith.activation_qparams(2.0, 1.0)
    with pytest.raises(ValueError):
        arith.activation_qparams(-math.inf, 1.0)


@pytest.mark.parametrize("bits, qmax", [(8, 127), (4, 7)])
def test_weight_quantization_error_bound(bits: int, qmax: int) -> None:
    w = (RNG.standard_normal((7, 3, 3, 3)) * np.exp2(RNG.uniform(-8, 4, (7, 1, 1, 1)))).astype(np.float32)
    w[3] = 0.0  # an all-zero channel
    w[5, 0, 0, 0] = -np.abs(w[5]).max() * 2  # the negative extreme
    q, scales = arith.quantize_weights(w, bits)
    assert q.dtype == np.int8 and scales.dtype == np.float32 and scales.shape == (7,)
    assert q.min() >= -qmax and q.max() <= qmax and q[5, 0, 0, 0] == -qmax
    assert scales[3] > 0 and not q[3].any()
    s = scales.astype(np.float64).reshape(-1, 1, 1, 1)
    assert np.all(np.abs(w - s * q) <= s / 2 * (1 + 1e-9))
    np.testing.assert_allclose(scales[[0, 1, 2, 4, 6]], np.abs(w).max(axis=(1, 2, 3))[[0, 1, 2, 4, 6]] / qmax, rtol=2e-7)


def test_weight_quantization_channel_axis() -> None:
    w = RNG.standard_normal((5, 4)).astype(np.float32)  # Gemm [K, N]: channels on axis 1
    q, scales = arith.quantize_weights(w, 8, axis=1)
    assert scales.shape == (4,)
    assert np.all(np.abs(q).max(axis=0) == 127)
    with pytest.raises(ValueError):
        arith.quantize_weights(w, 2)


@pytest.mark.parametrize("count", [0, 1, 2, 5, 8, 33])
def test_int4_pack_round_trip(count: int) -> None:
    values = RNG.integers(-8, 8, count).astype(np.int8)
    packed = arith.pack_int4(values)
    assert packed.dtype == np.uint8 and packed.size == (count + 1) // 2
    np.testing.assert_array_equal(arith.unpack_int4(packed, count), values)


def test_int4_layout_low_nibble_first() -> None:
    assert arith.pack_int4([1, -2, 7]).tolist() == [0xE1, 0x07]
    assert arith.pack_int4(np.array([[-8, -1], [3, 0]])).tolist() == [0xF8, 0x03]
    with pytest.raises(ValueError):
        arith.pack_int4([8])
    with pytest.raises(ValueError):
        arith.unpack_int4(np.zeros(2, np.uint8), 5)


def test_bias_quantization() -> None:
    bias = np.array([0.5, -1.25, 3.0, 0.0], dtype=np.float32)
    w_scales = np.array([0.25, 0.5, 1.0, 2.0], dtype=np.float32)
    q = arith.quantize_bias(bias, 0.5, w_scales)
    assert q.dtype == np.int32 and q.tolist() == [4, -5, 6, 0]
    assert arith.quantize_bias([0.625, 0.375], 1.0, [0.25, 0.25]).tolist() == [2, 2]  # 2.5, 1.5: ties to even
    with pytest.raises(ValueError, match="int32"):
        arith.quantize_bias([1e9], 1e-3, [1e-3])


def test_quantize_and_dequantize_linear() -> None:
    x = np.array([0.0, 0.5, 1.5, 2.5, -0.5, -1e9, 1e9, 99.9], dtype=np.float32)
    assert arith.quantize_linear(x, 1.0, 10).tolist() == [10, 10, 12, 12, 10, 0, 255, 110]
    q = np.arange(256, dtype=np.uint8)
    y = arith.dequantize_linear(q, 0.1, 3)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.float32(0.1) * (np.arange(256) - 3).astype(np.float32))
    np.testing.assert_array_equal(arith.quantize_linear(y, 0.1, 3), q)  # round trip


def test_fold_zero_point() -> None:
    w = RNG.integers(-127, 128, (4, 3, 2, 2)).astype(np.int8)
    bias = RNG.integers(-1000, 1000, 4).astype(np.int32)
    folded = arith.fold_zero_point(w, 37, bias)
    assert folded.dtype == np.int32
    assert folded.tolist() == [int(bias[m]) - 37 * int(w[m].astype(int).sum()) for m in range(4)]
    assert arith.fold_zero_point(w, 0).tolist() == [0, 0, 0, 0]
    gemm_w = RNG.integers(-127, 128, (6, 3)).astype(np.int8)
    assert arith.fold_zero_point(gemm_w, 5, axis=1).tolist() == (-5 * gemm_w.astype(int).sum(axis=0)).tolist()
    with pytest.raises(ValueError, match="folded bias outside"):
        arith.fold_zero_point(np.full((1, 70000), 127, np.int8), 255)  # K > 66000


def test_clamp_bounds() -> None:
    assert arith.clamp_bounds(0.1, 20) == (0, 255)
    assert arith.clamp_bounds(0.1, 20, lo=0.0) == (20, 255)        # ReLU
    assert arith.clamp_bounds(0.1, 20, lo=0.0, hi=6.0) == (20, 80)  # ReLU6
    assert arith.clamp_bounds(0.1, 20, lo=-100.0, hi=100.0) == (0, 255)


def test_weight_scales_respect_a_minimum() -> None:
    w = np.array([[1e-9, -2e-9], [0.0, 0.0], [0.5, -1.0]])
    q, scales = arith.quantize_weights(w, 8, axis=0, min_scales=[1e-3, 2.0, 1e-6])
    np.testing.assert_array_equal(scales, np.float32([1e-3, 2.0, 1.0 / 127]))
    np.testing.assert_array_equal(q, [[0, 0], [0, 0], [64, -127]])
