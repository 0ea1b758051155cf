"""The runtime's tree-delta (MST) path of BConv2d / BGemm (docs/BINARY.md, "MST
output-channel reordering"): at load, a layer whose weights let the tree touch at most 30%
of the words keeps a plan (its kernel name gains "+mst") and a single-threaded run uses
it. Its outputs are compared with the numpy simulator bit for bit and with onnxruntime;
two threads (the plain kernels) must give the same bits."""
from __future__ import annotations

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import helper, numpy_helper
from pocketnn.binary import simulate
from pocketnn.conversion import convert_graph
from pocketnn.format.writer import write_pnn
from support import run_onnxruntime
from test_binary_ops import _assert_close_to_onnxruntime, _binarizer, _model, _no_zeros, isa  # noqa: F401


def clustered_signs(rng: np.random.Generator, out_channels: int, channels: int, taps: int) -> np.ndarray:
    """+-1 weights [M, C, k, k] where each channel copies an earlier one with one tap
    redrawn: an edge differs in at most 1/taps of the words."""
    k = int(round(taps ** 0.5))
    w = rng.choice(np.array([-1.0, 1.0], np.float32), (out_channels, channels, k, k))
    for m in range(1, out_channels):
        fresh = w[m].copy()
        w[m] = w[rng.integers(m)]
        tap = rng.integers(taps)
        w[m, :, tap // k, tap % k] = fresh[:, tap // k, tap % k]
    return w


def conv_model(signs: list[np.ndarray], shape: tuple[int, ...], pad: int, padding_one: bool = False,
               seed: int = 0) -> tuple[onnx.ModelProto, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(seed)
    nodes, inits, params = [], [], []
    for i, s in enumerate(signs):
        x, y = ("x" if i == 0 else f"y{i - 1}"), ("y" if i == len(signs) - 1 else f"y{i}")
        n, t = _binarizer("where", x, f"sign{i}")
        nodes += n
        inits += t
        conv_in, pads = f"sign{i}", [pad] * 4
        if padding_one:
            inits += [numpy_helper.from_array(np.array([0, 0, pad, pad] * 2, np.int64), f"pads{i}"),
                      numpy_helper.from_array(np.array(1.0, np.float32), f"value{i}")]
            nodes.append(helper.make_node("Pad", [conv_in, f"pads{i}", f"value{i}"], [f"padded{i}"]))
            conv_in, pads = f"padded{i}", [0] * 4
        scale = rng.uniform(0.25, 2.0, s.shape[0]).astype(np.float32)
        bias = (scale * (rng.integers(-3, 3, s.shape[0]) + 0.5)).astype(np.float32)
        w = (s * scale[:, None, None, None]).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(bias, f"b{i}")]
        nodes.append(helper.make_node("Conv", [conv_in, f"w{i}", f"b{i}"], [y], pads=pads))
        params.append((w, scale, bias))
    return _model(nodes, inits, shape), params


def simulate_convs(params: list, x: np.ndarray, pad: int, padding_one: bool) -> np.ndarray:
    out = []
    for image in x:
        value = image
        for w, scale, bias in params:
            k = w.shape[2]
            geometry = simulate.ConvGeometry((k, k), pads=(pad,) * 4)
            padding = simulate.Padding.ONE if padding_one else simulate.Padding.ZERO
            dot = simulate.conv_dot(value, w, geometry, padding)
            side = simulate.output_size(value.shape[1], k, 1, 1, pad, pad)
            value = simulate.float_output(dot, scale, bias, -np.inf).reshape(w.shape[0], side, -1)
        out.append(value)
    return np.stack(out)


def kernels(model: pocketnn.Model) -> list[str]:
    return [node.kernel for node in model.nodes]


def check(data: bytes, isa: str, x: np.ndarray, reference: np.ndarray, simulated: np.ndarray) -> list[str]:
    one = pocketnn.Model(data, isa=isa)
    ours = one.run({"x": x})["y"]
    np.testing.assert_array_equal(ours, simulated)
    _assert_close_to_onnxruntime(ours, reference)
    np.testing.assert_array_equal(pocketnn.Model(data, isa=isa, threads=2).run({"x": x})["y"], ours)
    return kernels(one)


@pytest.mark.parametrize("channels,out_channels,padding_one", [(130, 70, False), (64, 12, True), (1, 16, False)])
def test_clustered_conv_takes_the_tree_delta_path(channels: int, out_channels: int, padding_one: bool,
                                                  isa: str) -> None:
    rng = np.random.default_rng(channels)
    shape = (2, channels, 7, 6)
    model, params = conv_model([clustered_signs(rng, out_channels, channels, 9)], shape, 1, padding_one)
    graph = convert_graph(model, input_shapes={"x": shape}, quiet=True)[0]
    assert [n.op for n in graph.nodes] == ["BConv2d"]
    x = _no_zeros(np.random.default_rng(3), shape)
    names = check(write_pnn(graph), isa, x, run_onnxruntime(model, {"x": x})[0],
                  simulate_convs(params, x, 1, padding_one))
    assert all(name.endswith("+mst") for name in names), names


def test_bits_between_clustered_convs(isa: str) -> None:
    rng = np.random.default_rng(11)
    shape = (1, 64, 6, 6)
    signs = [clustered_signs(rng, 128, 64, 9), clustered_signs(rng, 66, 128, 9)]
    model, params = conv_model(signs, shape, 1)
    graph = convert_graph(model, input_shapes={"x": shape}, quiet=True)[0]
    assert [n.op for n in graph.nodes] == ["BConv2d", "BConv2d"]
    x = _no_zeros(np.random.default_rng(4), shape)
    names = check(write_pnn(graph), isa, x, run_onnxruntime(model, {"x": x})[0], simulate_convs(params, x, 1, False))
    assert all(name.endswith("+mst") for name in names), names


def test_clustered_dense_takes_the_tree_delta_path(isa: str) -> None:
    rng = np.random.default_rng(12)
    k, m = 640, 40  # 10 words a row; each row copies an earlier one and redraws one word's inputs
    rows = rng.choice(np.array([-1.0, 1.0], np.float32), (m, k))
    for i in range(1, m):
        span = slice(64 * int(rng.integers(10)), None)
        span = slice(span.start, span.start + 64)
        fresh = rows[i, span].copy()
        rows[i] = rows[rng.integers(i)]
        rows[i, span] = fresh
    scale = rng.uniform(0.25, 2.0, m).astype(np.float32)
    bias = (scale * (rng.integers(-3, 3, m) + 0.5)).astype(np.float32)
    w = (rows * scale[:, None]).astype(np.float32)
    nodes, inits = _binarizer("where", "x", "s0")
    inits += [numpy_helper.from_array(w, "w0"), numpy_helper.from_array(bias, "b0")]
    nodes.append(helper.make_node("Gemm", ["s0", "w0", "b0"], ["y"], transB=1))
    model = _model(nodes, inits, (5, k))
    graph = convert_graph(model, input_shapes={"x": (5, k)}, quiet=True)[0]
    assert [n.op for n in graph.nodes] == ["BGemm"]
    x = _no_zeros(np.random.default_rng(5), (5, k))
    simulated = simulate.float_output(simulate.gemm_dot(x, w), scale, bias, -np.inf).T
    names = check(write_pnn(graph), isa, x, run_onnxruntime(model, {"x": x})[0], simulated)
    assert all(name.endswith("+mst") for name in names), names


def test_random_weights_keep_the_plain_kernel() -> None:
    rng = np.random.default_rng(13)
    shape = (1, 64, 5, 5)
    model, _ = conv_model([rng.choice(np.array([-1.0, 1.0], np.float32), (32, 64, 3, 3))], shape, 1)
    graph = convert_graph(model, input_shapes={"x": shape}, quiet=True)[0]
    assert not any(name.endswith("+mst") for name in kernels(pocketnn.Model(write_pnn(graph))))
