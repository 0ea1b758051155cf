"""pocketnn.quantization.simulate: every operator against a slow direct implementation
written here (Python ints, loops over every output), and against float onnxruntime
within the quantization error bound."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from onnx import helper
from pocketnn.quantization import arith, simulate
from support import make_model, run_onnxruntime

RNG = np.random.default_rng(11)


def exact_requantize(acc: int, multiplier: int, shift: int, zero_point: int, lo: int, hi: int) -> int:
    return min(max(((acc * multiplier + (1 << (shift - 1))) >> shift) + zero_point, lo), hi)


def varied_requant(channels: int, acc_spread: float, zero_point: int = 128, lo: int = 0,
                   hi: int = 255) -> arith.Requant:
    """Per-channel multipliers that map accumulators of about acc_spread to about +-60
    steps, each channel a little different, so outputs are neither all clamped nor all
    equal."""
    real = 60.0 / acc_spread * RNG.uniform(0.5, 2.0, channels)
    multiplier, shift = arith.quantize_multipliers(real)
    return arith.Requant(multiplier, shift, zero_point, lo, hi)


def awkward_u8(shape: Sequence[int]) -> np.ndarray:
    """Random u8 values with runs of the extremes 0 and 255."""
    x = RNG.integers(0, 256, shape).astype(np.uint8)
    mask = RNG.random(shape)
    x[mask < 0.1] = 0
    x[mask > 0.9] = 255
    return x


def awkward_s8(shape: Sequence[int], qmax: int = 127) -> np.ndarray:
    w = RNG.integers(-qmax, qmax + 1, shape).astype(np.int8)
    mask = RNG.random(shape)
    w[mask < 0.1] = -qmax
    w[mask > 0.9] = qmax
    return w


# ---- Conv ---------------------------------------------------------------------------


def direct_conv2d(x: np.ndarray, x_zero_point: int, w: np.ndarray, bias: np.ndarray, rq: arith.Requant,
                  strides: Sequence[int], dilations: Sequence[int], pads: Sequence[int],
                  group: int) -> np.ndarray:
    """Unfolded bias + sum w * (x - z_x) over the taps inside the image (the padding
    contributes nothing), one output at a time."""
    n_batch, _, height, width = x.shape
    out_channels, group_channels, kernel_h, kernel_w = w.shape
    top, left, bottom, right = pads
    out_h = (height + top + bottom - (dilations[0] * (kernel_h - 1) + 1)) // strides[0] + 1
    out_w = (width + left + right - (dilations[1] * (kernel_w - 1) + 1)) // strides[1] + 1
    per_group = out_channels // group
    y = np.zeros((n_batch, out_channels, out_h, out_w), dtype=np.uint8)
    for n in range(n_batch):
        for m in range(out_channels):
            first_channel = (m // per_group) * group_channels
            for oy in range(out_h):
                for ox in range(out_w):
                    acc = int(bias[m])
                    for c in range(group_channels):
                        for i in range(kernel_h):
                            for j in range(kernel_w):
                                iy = oy * strides[0] - top + i * dilations[0]
                                ix = ox * strides[1] - left + j * dilations[1]
                                if 0 <= iy < height and 0 <= ix < width:
                                    acc += int(w[m, c, i, j]) * (int(x[n, first_channel + c, iy, ix]) - x_zero_point)
                    y[n, m, oy, ox] = exact_requantize(acc, int(rq.multiplier[m]), int(rq.shift[m]),
                                                       rq.zero_point, rq.lo, rq.hi)
    return y


CONV_CASES = [
    # (batch, C, H, W, M, kh, kw, strides, dilations, pads [t, l, b, r], group)
    (1, 3, 4, 5, 5, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    (1, 2, 5, 5, 3, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1), 1),
    (1, 3, 7, 6, 4, 3, 3, (2, 1), (1, 2), (0, 2, 1, 0), 1),
    (2, 4, 5, 4, 6, 2, 3, (1, 2), (2, 1), (1, 0, 2, 1), 2),
    (1, 5, 6, 7, 5, 3, 3, (2, 2), (1, 1), (1, 1, 1, 1), 5),   # depthwise
    (1, 3, 5, 5, 6, 3, 3, (1, 1), (1, 1), (0, 1, 2, 1), 3),   # depthwise, multiplier 2
    (1, 3, 3, 4, 2, 5, 6, (1, 1), (1, 1), (1, 1, 1, 1), 1),   # the window is the padded image
    (1, 1, 1, 1, 1, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0), 1),
    (1, 17, 3, 3, 9, 1, 3, (3, 1), (1, 1), (2, 0, 0, 3), 1),  # odd K = 51
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("x_zero_point", [0, 131, 255])
def test_conv2d_matches_direct(case: tuple, x_zero_point: int) -> None:
    batch, channels, height, width, out_channels, kh, kw, strides, dilations, pads, group = case
    x = awkward_u8((batch, channels, height, width))
    w = awkward_s8((out_channels, channels // group, kh, kw))
    bias = RNG.integers(-20000, 20000, out_channels).astype(np.int32)
    taps = channels // group * kh * kw
    lo, hi = sorted(RNG.integers(0, 256, 2).tolist()) if out_channels % 2 else (0, 255)
    rq = varied_requant(out_channels, 127 * 80 * math.sqrt(taps), int(RNG.integers(0, 256)), lo, hi)
    y = simulate.conv2d(x, x_zero_point, w, arith.fold_zero_point(w, x_zero_point, bias), rq,
                        strides=strides, dilations=dilations, pads=pads, group=group)
    assert y.dtype == np.uint8
    np.testing.assert_array_equal(y, direct_conv2d(x, x_zero_point, w, bias, rq, strides, dilations, pads, group))


def test_conv2d_outputs_are_not_degenerate() -> None:
    """The random requantization of the direct tests gives varied outputs (a test that
    saw only clamped values could not tell a wrong sum from a right one)."""
    x = awkward_u8((1, 4, 9, 9))
    w = awkward_s8((8, 4, 3, 3))
    rq = varied_requant(8, 127 * 80 * 6)
    y = simulate.conv2d(x, 100, w, arith.fold_zero_point(w, 100), rq, pads=(1, 1, 1, 1))
    assert len(np.unique(y)) > 50 and np.mean((y == 0) | (y == 255)) < 0.1


def conv_model(weights: np.ndarray, bias: np.ndarray, strides: Sequence[int], dilations: Sequence[int],
               pads: Sequence[int], group: int, x_shape: Sequence[int], relu: bool):
    top, left, bottom, right = pads
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], strides=list(strides), dilations=list(dilations),
                              pads=[top, left, bottom, right], group=group)]
    nodes.append(helper.make_node("Relu" if relu else "Identity", ["c"], ["y"]))
    return make_model(nodes, {"x": x_shape}, ["y"], {"w": weights, "b": bias})


@pytest.mark.parametrize("case, relu", [
    ((1, 3, 12, 12, 8, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1), 1), False),
    ((2, 6, 9, 10, 12, 3, 3, (2, 2), (1, 1), (0, 1, 1, 1), 3), True),
    ((1, 16, 10, 10, 16, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1), 16), False),   # depthwise
    ((1, 8, 11, 9, 8, 5, 3, (2, 1), (1, 2), (2, 1, 0, 3), 8), True),        # depthwise, dilated
    ((1, 32, 7, 7, 24, 1, 1, (1, 1), (1, 1), (0, 0, 0, 0), 1), True),
])
def test_conv2d_against_float_onnxruntime(case: tuple, relu: bool) -> None:
    """Quantize x, w and the bias; onnxruntime runs the float Conv of the dequantized
    values. The integer accumulator is that result exactly (up to float32 rounding), so
    the only error is the output's rounding: half a step, plus the dyadic multiplier's
    relative error of at most 2^-31."""
    batch, channels, height, width, out_channels, kh, kw, strides, dilations, pads, group = case
    x = RNG.standard_normal((batch, channels, height, width)).astype(np.float32) * 2 + 0.5
    w = (RNG.standard_normal((out_channels, channels // group, kh, kw))
         * RNG.uniform(0.1, 1.0, (out_channels, 1, 1, 1))).astype(np.float32)
    b = RNG.standard_normal(out_channels).astype(np.float32)

    x_scale, x_zero_point = arith.activation_qparams(float(x.min()), float(x.max()))
    xq = arith.quantize_linear(x, x_scale, x_zero_point)
    wq, w_scales = arith.quantize_weights(w)
    bq = arith.quantize_bias(b, x_scale, w_scales)
    x_real = arith.dequantize_linear(xq, x_scale, x_zero_point)
    w_real = (wq * w_scales.reshape(-1, 1, 1, 1)).astype(np.float32)
    b_real = (bq * (np.float64(x_scale) * w_scales)).astype(np.float32)
    model = conv_model(w_real, b_real, strides, dilations, pads, group, x.shape, relu)
    reference = run_onnxruntime(model, {"x": x_real})[0].astype(np.float64)

    y_scale, y_zero_point = arith.activation_qparams(float(reference.min()) * 0.8, float(reference.max()) * 0.8)
    lo, hi = arith.clamp_bounds(y_scale, y_zero_point, lo=0.0 if relu else None)
    rq = arith.conv_requant(x_scale, w_scales, y_scale, y_zero_point, lo, hi)
    y = simulate.conv2d(xq, x_zero_point, wq, arith.fold_zero_point(wq, x_zero_point, bq), rq,
                        strides=strides, dilations=dilations, pads=pads, group=group)
    got = arith.dequantize_linear(y, y_scale, y_zero_point).astype(np.float64)
    representable = np.clip(reference, y_scale * (0 - y_zero_point), y_scale * (255 - y_zero_point))
    error = np.abs(got - representable)
    assert error.max() <= 0.5 * y_scale * (1 + 1e-6) + 1e-5 * (1 + np.abs(reference).max())
    assert np.mean((y > lo) & (y < hi)) > 0.4  # the bound is not met by clamping alone


# ---- Gemm ---------------------------------------------------------------------------


def direct_gemm(x: np.ndarray, x_zero_point: int, w: np.ndarray, bias: np.ndarray, rq: arith.Requant) -> np.ndarray:
    rows, depth = x.shape
    y = np.zeros((rows, w.shape[1]), dtype=np.uint8)
    for r in range(rows):
        for n in range(w.shape[1]):
            acc = int(bias[n]) + sum(int(w[k, n]) * (int(x[r, k]) - x_zero_point) for k in range(depth))
            y[r, n] = exact_requantize(acc, int(rq.multiplier[n]), int(rq.shift[n]), rq.zero_point, rq.lo, rq.hi)
    return y


@pytest.mark.parametrize("rows, depth, columns", [(1, 1, 1), (3, 7, 5), (4, 64, 17), (2, 129, 33), (5, 300, 3)])
@pytest.mark.parametrize("x_zero_point", [0, 77, 255])
def test_gemm_matches_direct(rows: int, depth: int, columns: int, x_zero_point: int) -> None:
    x = awkward_u8((rows, depth))
    w = awkward_s8((depth, columns))
    bias = RNG.integers(-50000, 50000, columns).astype(np.int32)
    rq = varied_requant(columns, 127 * 80 * math.sqrt(depth), int(RNG.integers(0, 256)))
    y = simulate.gemm(x, w, arith.fold_zero_point(w, x_zero_point, bias, axis=1), rq)
    np.testing.assert_array_equal(y, direct_gemm(x, x_zero_point, w, bias, rq))


def test_gemm_extreme_accumulators_and_shifts() -> None:
    """All-255 inputs against +-127 weights at the contract's K limit, so accumulators
    reach +-2137410000; multipliers and shifts at both ends of their ranges."""
    depth = 66000
    x = np.full((2, depth), 255, dtype=np.uint8)
    x[1, ::2] = 0
    w = np.stack([np.full(depth, 127), np.full(depth, -127), np.full(depth, 127), np.full(depth, 127)],
                 axis=1).astype(np.int8)
    w[::3, 3] = -127
    multiplier = np.array([2**31 - 1, 2**31 - 1, 1, 2**30], dtype=np.int32)
    shift = np.array([62, 62, 1, 56], dtype=np.int32)
    rq = arith.Requant(multiplier, shift, 128)
    y = simulate.gemm(x, w, arith.fold_zero_point(w, 0, axis=1), rq)
    expected = [[exact_requantize(sum(map(operator.mul, x[r].tolist(), w[:, n].tolist())),
                                  int(multiplier[n]), int(shift[n]), 128, 0, 255) for n in range(4)] for r in range(2)]
    assert y.tolist() == expected
    # 2137410000 * (2^31 - 1) / 2^62 = 0.995 rounds to 1; 2137410000 / 3 / 2^26 = 10.6
    assert y[0].tolist() == [129, 127, 255, 139]


def test_ops_refuse_wrong_types() -> None:
    rq = arith.Requant(np.ones(2, np.int32), np.ones(2, np.int32), 0)
    with pytest.raises(ValueError, match="uint8"):
        simulate.gemm(np.zeros((1, 3), np.int8), np.zeros((3, 2), np.int8), np.zeros(2, np.int32), rq)
    with pytest.raises(ValueError, match="int8"):
        simulate.gemm(np.zeros((1, 3), np.uint8), np.zeros((3, 2), np.int32), np.zeros(2, np.int32), rq)
    with pytest.raises(ValueError, match="groups"):
        simulate.conv2d(np.zeros((1, 3, 4, 4), np.uint8), 0, np.zeros((2, 2, 1, 1), np.int8),
                        np.zeros(2, np.int32), rq, group=2)
    with pytest.raises(ValueError, match="accumulator"):
        simulate.gemm(np.full((1, 3), 255, np.uint8), np.full((3, 2), 127, np.int8),
                      np.full(2, 2**31 - 1, np.int32), rq)


# ---- Add ----------------------------------------------------------------------------


@pytest.mark.parametrize("a_shape, b_shape", [((7,), (7,)), ((2, 3, 4), (3, 1)), ((5, 1), (1,)), ((1, 4, 3, 3), (1, 4, 1, 1))])
def test_add_matches_direct(a_shape: tuple, b_shape: tuple) -> None:
    a, b = awkward_u8(a_shape), awkward_u8(b_shape)
    a_zero_point, b_zero_point, y_zero_point = 10, 250, 128
    s_a, s_b, s_y = 0.05, 0.02, 0.06
    params = arith.add_params(s_a, s_b, s_y)
    y = simulate.add(a, a_zero_point, b, b_zero_point, params, y_zero_point, 3, 251)
    a_wide, b_wide = np.broadcast_arrays(a, b)
    expected = np.array([
        exact_requantize((int(p) - a_zero_point) * params.a_multiplier + (int(q) - b_zero_point) * params.b_multiplier,
                         1, params.shift, y_zero_point, 3, 251)
        for p, q in zip(a_wide.reshape(-1), b_wide.reshape(-1))]).reshape(a_wide.shape)
    np.testing.assert_array_equal(y, expected)
    real = s_a * (a_wide.astype(np.float64) - a_zero_point) + s_b * (b_wide.astype(np.float64) - b_zero_point)
    in_range = (expected > 3) & (expected < 251)
    assert np.all(np.abs(s_y * (y[in_range].astype(np.float64) - y_zero_point) - real[in_range]) <= s_y * (0.5 + 1e-6))


def test_add_extreme_shifts() -> None:
    a = np.array([0, 255, 128], np.uint8)
    assert simulate.add(a, 0, a, 255, arith.AddMultipliers(2**31 - 1, 2**31 - 1, 62), 100).tolist() == [100, 100, 100]
    assert simulate.add(a, 0, a, 0, arith.AddMultipliers(1, 1, 1), 0).tolist() == [0, 255, 128]
    with pytest.raises(ValueError):
        simulate.add(a, 0, a, 0, arith.AddMultipliers(1, 1, 0), 0)


# ---- Look-up tables -----------------------------------------------------------------


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def hardswish(x: np.ndarray) -> np.ndarray:
    return x * np.clip(x / 6.0 + 0.5, 0.0, 1.0)


@pytest.mark.parametrize("fn, y_range", [(sigmoid, (0.0, 1.0)), (hardswish, (-0.375, 8.0)), (np.tanh, (-1.0, 1.0))])
def test_lut_within_one_output_step(fn: Callable[[np.ndarray], np.ndarray], y_range: tuple[float, float]) -> None:
    x_qparams = arith.activation_qparams(-8.0, 8.0)
    y_scale, y_zero_point = arith.activation_qparams(*y_range)
    table = simulate.build_lut(fn, x_qparams, (y_scale, y_zero_point))
    q = np.arange(256, dtype=np.uint8)
    x_real = arith.dequantize_linear(q, *x_qparams).astype(np.float64)
    y = simulate.lut(q, table)
    got = arith.dequantize_linear(y, y_scale, y_zero_point).astype(np.float64)
    representable = np.clip(fn(x_real), y_scale * -y_zero_point, y_scale * (255 - y_zero_point))
    assert np.all(np.abs(got - representable) <= y_scale)
    assert np.all(np.abs(got - representable) <= y_scale / 2 + 1e-6)  # in fact within half a step
    # each entry independently, Python's round() being half to even
    for entry in range(256):
        value = float(fn(np.float64(x_qparams[0] * (entry - x_qparams[1]))))
        assert table[entry] == min(255, max(0, round(value / y_scale) + y_zero_point))


def test_build_lut_rounds_ties_to_even() -> None:
    table = simulate.build_lut(lambda v: v, (1.0, 0), (2.0, 0))  # y = q / 2
    assert table[:8].tolist() == [0, 0, 1, 2, 2, 2, 3, 4]
    assert simulate.build_lut(lambda v: v * 10, (1.0, 0), (1.0, 0))[30] == 255
    with pytest.raises(ValueError), np.errstate(divide="ignore", invalid="ignore"):
        simulate.build_lut(np.log, (1.0, 128), (1.0, 0))  # log of negatives is nan


def test_lut_on_tensors() -> None:
    table = RNG.integers(0, 256, 256).astype(np.uint8)
    x = awkward_u8((2, 3, 5))
    y = simulate.lut(x, table)
    assert y.shape == x.shape and all(y[i] == table[x[i]] for i in np.ndindex(x.shape))


# ---- Pools --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (2, 5, 4, 7), (1, 8, 7, 7), (1, 2, 3, 4, 5)])
@pytest.mark.parametrize("x_zero_point", [0, 200])
def test_global_avgpool_matches_direct(shape: tuple, x_zero_point: int) -> None:
    x = awkward_u8(shape)
    count = int(np.prod(shape[2:]))
    x_scale, y_scale, y_zero_point = 0.1, 0.03, 40
    multiplier, shift = arith.avgpool_multiplier(x_scale, y_scale, count)
    y = simulate.global_avgpool(x, x_zero_point, multiplier, shift, y_zero_point)
    assert y.shape == shape[:2] + (1,) * (len(shape) - 2)
    for n, c in np.ndindex(shape[:2]):
        acc = sum(int(v) - x_zero_point for v in x[n, c].reshape(-1))
        assert y[n, c].item() == exact_requantize(acc, multiplier, shift, y_zero_point, 0, 255)
        mean = x_scale * acc / count
        if 0 < y[n, c].item() < 255:
            assert abs(y_scale * (y[n, c].item() - y_zero_point) - mean) <= y_scale * (0.5 + 1e-6)


def direct_maxpool(x: np.ndarray, kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
                   pads: Sequence[int], out_shape: Sequence[int]) -> np.ndarray:
    """Max over the taps inside the image only."""
    y = np.zeros(out_shape, dtype=np.uint8)
    for n, c, oy, ox in np.ndindex(*out_shape):
        taps = [int(x[n, c, iy, ix])
                for i in range(kernel[0]) for j in range(kernel[1])
                for iy, ix in [(oy * strides[0] - pads[0] + i * dilations[0], ox * strides[1] - pads[1] + j * dilations[1])]
                if 0 <= iy < x.shape[2] and 0 <= ix < x.shape[3]]
        y[n, c, oy, ox] = max(taps)
    return y


@pytest.mark.parametrize("kernel, strides, dilations, pads, ceil_mode", [
    ((2, 2), (2, 2), (1, 1), (0, 0, 0, 0), 0),
    ((3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 0),
    ((3, 3), (2, 2), (1, 1), (0, 0, 0, 0), 1),
    ((2, 3), (3, 2), (2, 1), (1, 0, 1, 2), 1),
    ((3, 2), (1, 2), (1, 2), (2, 1, 0, 1), 0),
    ((1, 1), (2, 3), (1, 1), (0, 0, 0, 0), 1),
])
def test_maxpool_matches_direct_and_onnxruntime(kernel: tuple, strides: tuple, dilations: tuple,
                                                pads: tuple, ceil_mode: int) -> None:
    x = awkward_u8((2, 3, 8, 9))
    x[0, 0] = 0  # an all-zero plane: padding must not be confused with data
    y = simulate.maxpool(x, kernel, strides, dilations, pads, bool(ceil_mode))
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=list(kernel), strides=list(strides),
                            dilations=list(dilations), pads=list(pads), ceil_mode=ceil_mode)
    reference = run_onnxruntime(make_model([node], {"x": x.shape}, ["y"]), {"x": x.astype(np.float32)})[0]
    np.testing.assert_array_equal(y, reference.astype(np.uint8))
    np.testing.assert_array_equal(y, direct_maxpool(x, kernel, strides, dilations, pads, y.shape))
