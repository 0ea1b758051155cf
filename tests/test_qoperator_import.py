"""Already-quantized ONNX models in operator form (onnxruntime quantize_static with
QuantFormat.QOperator: QLinearConv, QLinearMatMul, com.microsoft QLinearAdd /
QLinearGlobalAveragePool / QGemm, MaxPool on uint8) convert with a plain
pocketnn.convert into integer operators (frontend.qoperator_import), and agree with
onnxruntime.

The onnxruntime reference is the same float model quantized by the same quantize_static
call in QDQ form, run with graph optimizations off (support.unoptimized_session_options):
onnxruntime's own QLinearConv/QLinearMatMul kernels give CPU-dependent results (u8 x s8
saturates in vpmaddubsw on AVX2 without VNNI), while the unfused QDQ chain holds the
same scales, zero points and int8 weights and computes the same values on every host.

onnxruntime requantizes in float where pocketnn multiplies by one dyadic integer, and
where onnxruntime rounds a conv output before a float BatchNorm pocketnn folds the
BatchNorm and skips that rounding; so outputs are compared for agreement, and each
engine's distance to the float model."""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from pocketnn import reference_models
from pocketnn.conversion import convert_graph
from pocketnn.datasets import digits_model_path, load_digits_fixture
from support import quantize_with_onnxruntime, run_per_sample

FIXTURES = Path(__file__).resolve().parent / "fixtures"


quantize_qoperator = partial(quantize_with_onnxruntime, quant_format="QOperator")
run_ort = partial(run_per_sample, engine="onnxruntime")
quantize_qdq = partial(quantize_with_onnxruntime, quant_format="QDQ")
run_pocketnn = partial(run_per_sample, engine="pocketnn")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a.astype(np.float64) * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def q_ops(model: onnx.ModelProto) -> Counter:
    return Counter(node.op_type for node in model.graph.node)


@pytest.mark.parametrize("name, make", [
    ("mobilenet_v1", lambda: reference_models.mobilenet_v1(resolution=64, width=0.25)),
    ("mobilenet_v2", lambda: reference_models.mobilenet_v2(resolution=64, width=0.5)),
    ("resnet18", lambda: reference_models.resnet18(resolution=64, width=0.25)),
])
def test_reference_models_become_integer_ops(tmp_path, name, make) -> None:
    model = make()
    rng = np.random.default_rng(0)
    calib = rng.standard_normal((4, 3, 64, 64)).astype(np.float32)
    quantized = quantize_qoperator(model, calib, tmp_path)
    given = q_ops(quantized)
    assert given["QLinearConv"] > 0 and given["QGemm"] == 1
    graph, _ = convert_graph(quantized)
    ops = Counter(node.op for node in graph.nodes)
    print(name, dict(given), dict(ops))
    # Every QLinearConv but the stem is integer: onnxruntime rounds the stem's output
    # before a float BatchNorm and quantizes only after the activation, so folding that
    # BatchNorm leaves the stem no output qparams.
    assert ops["QConv"] == given["QLinearConv"] - 1 and ops["Conv"] == 1
    assert ops["QAdd"] == given["QLinearAdd"] and ops["QGemm"] == 1
    assert ops["QGlobalAveragePool"] == given["QLinearGlobalAveragePool"]
    x = rng.standard_normal((6, 3, 64, 64)).astype(np.float32)
    ours, theirs = run_pocketnn(quantized, x), run_ort(quantize_qdq(model, calib, tmp_path), x)
    reference = run_ort(model, x)
    print(f"{name}: cosine to float pocketnn {cosine(ours, reference):.4f}, "
          f"onnxruntime {cosine(theirs, reference):.4f}; to each other {cosine(ours, theirs):.4f}")
    assert cosine(ours, reference) >= cosine(theirs, reference) - 0.005
    assert np.mean(ours.argmax(1) == theirs.argmax(1)) >= 5 / 6


def test_digits_qoperator_agrees_with_onnxruntime(tmp_path) -> None:
    images, labels = load_digits_fixture("test", FIXTURES)
    calib, _ = load_digits_fixture("calib", FIXTURES)
    quantized = quantize_qoperator(digits_model_path(FIXTURES), calib[:100], tmp_path)
    assert q_ops(quantized)["QLinearConv"] == 9
    ops = Counter(node.op for node in convert_graph(quantized)[0].nodes)
    assert ops["QConv"] >= 8 and ops["QGemm"] == 1 and ops["QAdd"] == 1
    same_in_qdq = quantize_qdq(digits_model_path(FIXTURES), calib[:100], tmp_path)
    ours, theirs = run_pocketnn(quantized, images).argmax(1), run_ort(same_in_qdq, images).argmax(1)
    agreement = float(np.mean(ours == theirs))
    ours_accuracy, theirs_accuracy = float(np.mean(ours == labels)), float(np.mean(theirs == labels))
    print(f"digits QOperator: pocketnn {ours_accuracy:.3f}, onnxruntime {theirs_accuracy:.3f}, "
          f"top-1 agreement {agreement:.3f} (1000 test images)")
    assert agreement >= 0.99
    assert ours_accuracy >= theirs_accuracy - 0.005


def test_qlinear_matmul_becomes_qgemm_within_one_step(tmp_path) -> None:
    rng = np.random.default_rng(7)
    w = numpy_helper.from_array(rng.standard_normal((24, 10)).astype(np.float32) * 0.3, "w")
    nodes = [helper.make_node("MatMul", ["input", "w"], ["mm"]), helper.make_node("Identity", ["mm"], ["output"])]
    graph = helper.make_graph(nodes, "matmul", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 24])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    x = rng.standard_normal((40, 24)).astype(np.float32)
    quantized = quantize_qoperator(model, x[:20], tmp_path)
    assert q_ops(quantized)["QLinearMatMul"] == 1
    converted, _ = convert_graph(quantized)
    assert [node.op for node in converted.nodes] == ["QuantizeLinear", "QGemm", "DequantizeLinear"]
    step = converted.nodes[2].attrs["scale"]
    same_in_qdq = quantize_qdq(model, x[:20], tmp_path)
    difference = np.abs(run_pocketnn(quantized, x) - run_ort(same_in_qdq, x)) / step
    assert difference.max() <= 1.0 + 1e-3


def test_channels_last_global_average_pool_is_refused_naming_the_node() -> None:
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(128, np.uint8), "z")
    nodes = [helper.make_node("QuantizeLinear", ["input", "s", "z"], ["q"]),
             helper.make_node("QLinearGlobalAveragePool", ["q", "s", "z", "s", "z"], ["p"], name="gap_nhwc",
                              domain="com.microsoft", channels_last=1),
             helper.make_node("DequantizeLinear", ["p", "s", "z"], ["output"])]
    graph = helper.make_graph(nodes, "gap", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4, 4, 3])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], [scale, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
                              ir_version=8)
    with pytest.raises(pocketnn.UnsupportedOpError, match="gap_nhwc.*channels_last"):
        pocketnn.convert(model)


def test_maxpool_and_flatten_on_uint8_stay_integer_and_exact() -> None:
    scale = numpy_helper.from_array(np.array(0.05, np.float32), "s")
    zero = numpy_helper.from_array(np.array(100, np.uint8), "z")
    nodes = [helper.make_node("QuantizeLinear", ["input", "s", "z"], ["q"]),
             helper.make_node("MaxPool", ["q"], ["pooled"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("DequantizeLinear", ["flat", "s", "z"], ["output"])]
    graph = helper.make_graph(nodes, "u8_pool", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 9, 8])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], [scale, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    converted, _ = convert_graph(model)
    assert [node.op for node in converted.nodes] == ["QuantizeLinear", "QMaxPool", "Reshape", "DequantizeLinear"]
    x = np.random.default_rng(8).standard_normal((5, 3, 9, 8)).astype(np.float32) * 4
    np.testing.assert_array_equal(run_pocketnn(model, x), run_ort(model, x))
