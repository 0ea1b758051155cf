"""Already-quantized ONNX models (onnxruntime quantize_static, QDQ format) convert with a
plain pocketnn.convert into integer operators (frontend.qdq_import), and agree with
onnxruntime running the same QDQ model.

onnxruntime requantizes in float (round half to even) where pocketnn multiplies by one
dyadic integer (docs/QUANTIZATION.md), so single values may differ by one u8 step."""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from pocketnn.conversion import convert_graph
from pocketnn.datasets import digits_model_path, load_digits_fixture
from support import quantize_with_onnxruntime, run_per_sample

FIXTURES = Path(__file__).resolve().parent / "fixtures"


_quantize_qdq = partial(quantize_with_onnxruntime, quant_format="QDQ")
_run_ort = partial(run_per_sample, engine="onnxruntime")
_run_pocketnn = partial(run_per_sample, engine="pocketnn")


@pytest.fixture(scope="module")
def digits_qdq(tmp_path_factory) -> dict:
    images, labels = load_digits_fixture("test", FIXTURES)
    calib, _ = load_digits_fixture("calib", FIXTURES)
    model = _quantize_qdq(digits_model_path(FIXTURES), calib[:100], tmp_path_factory.mktemp("qdq"))
    return {"model": model, "images": images, "labels": labels}


def test_digits_qdq_becomes_integer_ops(digits_qdq) -> None:
    graph, _ = convert_graph(digits_qdq["model"])
    ops = Counter(node.op for node in graph.nodes)
    print(dict(ops))
    assert ops["QConv"] == 9 and ops["QGemm"] == 1 and ops["QAdd"] == 1 and ops["QGlobalAveragePool"] == 1
    assert not {"Conv", "Gemm", "MatMul", "Add", "BatchNormalization"} & set(ops)
    # Float only at the edges: the input QuantizeLinear and the output DequantizeLinear.
    assert ops["QuantizeLinear"] == 1 and ops["DequantizeLinear"] == 1
    # The model's own int8 weights (per-channel requantization after the BatchNorm fold
    # gives the same integers, since each channel's largest weight is +-127).
    initializers = {t.name: numpy_helper.to_array(t) for t in digits_qdq["model"].graph.initializer}
    gemm = next(node for node in graph.nodes if node.op == "QGemm")
    np.testing.assert_array_equal(graph.tensors[gemm.inputs[1]].data, initializers["classifier.weight_quantized"])


def test_digits_qdq_agrees_with_onnxruntime(digits_qdq) -> None:
    images, labels = digits_qdq["images"], digits_qdq["labels"]
    ours = _run_pocketnn(digits_qdq["model"], images).argmax(1)
    theirs = _run_ort(digits_qdq["model"], images).argmax(1)
    agreement = float(np.mean(ours == theirs))
    ours_accuracy, theirs_accuracy = float(np.mean(ours == labels)), float(np.mean(theirs == labels))
    print(f"digits QDQ: pocketnn {ours_accuracy:.3f}, onnxruntime {theirs_accuracy:.3f}, "
          f"top-1 agreement {agreement:.3f} (1000 test images)")
    assert agreement >= 0.99
    assert abs(ours_accuracy - theirs_accuracy) <= 0.005


def _one_conv_model(tail: str | None) -> onnx.ModelProto:
    rng = np.random.default_rng(3)
    weights = numpy_helper.from_array(rng.standard_normal((5, 3, 3, 3)).astype(np.float32) * 0.3, "w")
    bias = numpy_helper.from_array(rng.standard_normal(5).astype(np.float32) * 0.2, "b")
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["conv"], pads=[1, 1, 0, 1], strides=[1, 2])]
    last = "conv"
    if tail is not None:
        nodes.append(helper.make_node(tail, ["conv"], ["tail"]))
        last = "tail"
    nodes.append(helper.make_node("Identity", [last], ["output"]))
    graph = helper.make_graph(nodes, "one_conv", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 7, 6])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], [weights, bias])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.mark.parametrize("tail", [None, "Relu"])
def test_one_conv_matches_onnxruntime_within_one_step(tmp_path, tail) -> None:
    x = np.random.default_rng(4).standard_normal((40, 3, 7, 6)).astype(np.float32)
    model = _quantize_qdq(_one_conv_model(tail), x[:20], tmp_path)
    graph, _ = convert_graph(model)
    assert [node.op for node in graph.nodes] == ["QuantizeLinear", "QConv", "DequantizeLinear"]
    # The model's own int8 weights, not a re-quantization of their float values.
    conv = graph.nodes[1]
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    given = next(v for name, v in initializers.items() if v.dtype == np.int8 and v.shape == (5, 3, 3, 3))
    np.testing.assert_array_equal(graph.tensors[conv.inputs[1]].data, given)
    step = graph.nodes[2].attrs["scale"]
    ours, theirs = _run_pocketnn(model, x), _run_ort(model, x)
    difference = np.abs(ours - theirs) / step
    print(f"one conv ({tail}): max difference {difference.max():.3f} steps, "
          f"{np.mean(difference > 0.5):.4f} of values differ")
    assert difference.max() <= 1.0 + 1e-3


def test_op_without_integer_form_runs_in_float_between_qdq(tmp_path) -> None:
    """Exp has no integer form and onnxruntime leaves it unquantized: it must read the
    conv output through QuantizeLinear/DequantizeLinear, as onnxruntime does."""
    x = np.random.default_rng(5).standard_normal((10, 3, 7, 6)).astype(np.float32)
    model = _quantize_qdq(_one_conv_model("Exp"), x, tmp_path)
    graph, _ = convert_graph(model)
    ops = [node.op for node in graph.nodes]
    assert "QConv" in ops and "Exp" in ops and "Conv" not in ops
    ours, theirs = _run_pocketnn(model, x), _run_ort(model, x)
    # A one-step difference in the conv output moves exp(y) by at most a factor e^step.
    step = next(node.attrs["scale"] for node in graph.nodes if node.op == "DequantizeLinear")
    np.testing.assert_allclose(ours, theirs, rtol=np.expm1(step) + 1e-5)


def _hand_made_qdq(activation: int, weights: np.ndarray) -> onnx.ModelProto:
    """input -> Q -> DQ -> Conv(DQ(int8 weights, per channel)) -> Q -> DQ -> output, with
    activations of ONNX type `activation` (UINT8 or INT8)."""
    zero = {TensorProto.UINT8: (np.uint8(128), np.uint8(3)), TensorProto.INT8: (np.int8(0), np.int8(-125))}
    x_zero, y_zero = zero[activation]
    constants = [numpy_helper.from_array(np.array(0.02, np.float32), "x_scale"),
                 numpy_helper.from_array(np.array(x_zero), "x_zero"),
                 numpy_helper.from_array(np.array(0.05, np.float32), "y_scale"),
                 numpy_helper.from_array(np.array(y_zero), "y_zero"),
                 numpy_helper.from_array(weights, "w_q"),
                 numpy_helper.from_array(np.linspace(0.002, 0.004, len(weights)).astype(np.float32), "w_scale"),
                 numpy_helper.from_array(np.zeros(len(weights), np.int8), "w_zero")]
    nodes = [helper.make_node("QuantizeLinear", ["input", "x_scale", "x_zero"], ["x_q"]),
             helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x"]),
             helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"], axis=0),
             helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["y", "y_scale", "y_zero"], ["y_q"]),
             helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zero"], ["output"])]
    graph = helper.make_graph(nodes, "hand_made", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 2, 5, 5])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], constants)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


@pytest.mark.parametrize("activation", [TensorProto.UINT8, TensorProto.INT8])
def test_hand_made_qdq_conv_with_either_activation_type(activation) -> None:
    rng = np.random.default_rng(6)
    weights = rng.integers(-127, 128, (3, 2, 3, 3)).astype(np.int8)
    model = _hand_made_qdq(activation, weights)
    graph, _ = convert_graph(model)
    conv = next(node for node in graph.nodes if node.op == "QConv")
    np.testing.assert_array_equal(graph.tensors[conv.inputs[1]].data, weights)
    # int8 activations are u8 ones with the zero point moved by 128.
    assert (conv.attrs["x_zero_point"], conv.attrs["y_zero_point"]) == (128, 3)
    x = rng.standard_normal((8, 2, 5, 5)).astype(np.float32) * 1.5
    difference = np.abs(_run_pocketnn(model, x) - _run_ort(model, x)) / 0.05
    assert difference.max() <= 1.0 + 1e-3


def test_weight_of_minus_128_is_requantized_not_used() -> None:
    """-128 is outside the contract ([-127, 127]): the float weights are re-quantized
    symmetrically, so the result stays close to onnxruntime's instead of wrapping."""
    weights = np.random.default_rng(7).integers(-127, 128, (3, 2, 3, 3)).astype(np.int8)
    weights[1, 0, 0, 0] = -128
    model = _hand_made_qdq(TensorProto.UINT8, weights)
    graph, _ = convert_graph(model)
    conv = next(node for node in graph.nodes if node.op == "QConv")
    assert np.abs(graph.tensors[conv.inputs[1]].data.astype(int)).max() <= 127
    x = np.random.default_rng(8).standard_normal((8, 2, 5, 5)).astype(np.float32)
    difference = np.abs(_run_pocketnn(model, x) - _run_ort(model, x)) / 0.05
    assert difference.max() <= 2.0 + 1e-3


def test_float_op_reads_a_float_computed_value_through_its_qdq_pair() -> None:
    """input -> Q -> DQ -> Softplus -> Q -> DQ -> Exp -> output: Softplus and Exp have no
    integer form; Exp must still see Softplus's output rounded and clamped by its pair."""
    scale, zero_point = np.float32(0.1), np.uint8(10)
    constants = [numpy_helper.from_array(np.array(0.03, np.float32), "x_scale"),
                 numpy_helper.from_array(np.array(128, np.uint8), "x_zero"),
                 numpy_helper.from_array(np.array(scale), "y_scale"),
                 numpy_helper.from_array(np.array(zero_point), "y_zero")]
    nodes = [helper.make_node("QuantizeLinear", ["input", "x_scale", "x_zero"], ["x_q"]),
             helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x"]),
             helper.make_node("Softplus", ["x"], ["y"]),
             helper.make_node("QuantizeLinear", ["y", "y_scale", "y_zero"], ["y_q"]),
             helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zero"], ["y_rounded"]),
             helper.make_node("Exp", ["y_rounded"], ["output"])]
    graph = helper.make_graph(nodes, "float_ops", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    x = np.linspace(-3.5, 3.5, 64, dtype=np.float32)[None]
    x_rounded = 0.03 * (np.clip(np.rint(x / np.float32(0.03)) + 128, 0, 255) - 128)
    y = np.log1p(np.exp(x_rounded))
    expected = np.exp(scale * (np.clip(np.rint(y / scale) + zero_point, 0, 255) - zero_point))
    np.testing.assert_allclose(_run_pocketnn(model, x), expected, rtol=1e-4)
    np.testing.assert_allclose(_run_ort(model, x), expected, rtol=1e-4)


def _token_matmul_model(tokens: int, k: int, m: int) -> onnx.ModelProto:
    """input [1, tokens, k] -> MatMul(W [k, m]) -> output: a transformer's linear layer
    (rank-3 X, rows of k)."""
    rng = np.random.default_rng(11)
    weights = numpy_helper.from_array(rng.standard_normal((k, m)).astype(np.float32) * 0.2, "w")
    nodes = [helper.make_node("MatMul", ["input", "w"], ["y"]), helper.make_node("Identity", ["y"], ["output"])]
    graph = helper.make_graph(nodes, "token_matmul",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, tokens, k])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], [weights])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.mark.parametrize("tokens,k,m", [(1, 9, 5), (37, 40, 70), (130, 64, 48)])
def test_rank3_matmul_becomes_qgemm_within_one_step(tmp_path, tokens, k, m) -> None:
    """A QDQ MatMul on [1, T, K] runs as QGemm over T rows with the model's own int8
    weights (it ran in float before format 1.5), within one u8 step of onnxruntime."""
    x = np.random.default_rng(12).standard_normal((8, tokens, k)).astype(np.float32)
    model = _quantize_qdq(_token_matmul_model(tokens, k, m), x[:4], tmp_path)
    graph, _ = convert_graph(model)
    assert [node.op for node in graph.nodes] == ["QuantizeLinear", "QGemm", "DequantizeLinear"]
    gemm = graph.nodes[1]
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    given = next(v for v in initializers.values() if v.dtype == np.int8 and v.shape == (k, m))
    np.testing.assert_array_equal(graph.tensors[gemm.inputs[1]].data, given.T)
    step = graph.nodes[2].attrs["scale"]
    difference = np.abs(_run_pocketnn(model, x) - _run_ort(model, x)) / step
    print(f"rank-3 MatMul {tokens}x{k}x{m}: max difference {difference.max():.3f} steps, "
          f"{np.mean(difference > 0.5):.4f} of values differ")
    assert difference.max() <= 1.0 + 1e-3


def test_conv1d_becomes_qconv_within_one_step(tmp_path) -> None:
    """A QDQ 1-D Conv (an audio front end) runs as QConv over [N, C, 1, L] between two u8
    Reshapes, with the model's own int8 weights, within one u8 step of onnxruntime."""
    rng = np.random.default_rng(13)
    weights = numpy_helper.from_array(rng.standard_normal((6, 4, 3)).astype(np.float32) * 0.3, "w")
    bias = numpy_helper.from_array(rng.standard_normal(6).astype(np.float32) * 0.2, "b")
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["y"], pads=[1, 1], strides=[2]),
             helper.make_node("Identity", ["y"], ["output"])]
    graph = helper.make_graph(nodes, "conv1d", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4, 31])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], [weights, bias])
    x = rng.standard_normal((8, 4, 31)).astype(np.float32)
    model = _quantize_qdq(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8),
                          x[:4], tmp_path)
    converted, _ = convert_graph(model)
    assert [node.op for node in converted.nodes] == ["QuantizeLinear", "Reshape", "QConv", "Reshape",
                                                      "DequantizeLinear"]
    conv = converted.nodes[2]
    given = next(numpy_helper.to_array(t) for t in model.graph.initializer
                 if numpy_helper.to_array(t).dtype == np.int8 and numpy_helper.to_array(t).shape == (6, 4, 3))
    np.testing.assert_array_equal(converted.tensors[conv.inputs[1]].data, given[:, :, None, :])
    step = converted.nodes[-1].attrs["scale"]
    difference = np.abs(_run_pocketnn(model, x) - _run_ort(model, x)) / step
    assert difference.max() <= 1.0 + 1e-3
