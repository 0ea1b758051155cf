"""A QDQ MatMul's bias Add (MatMul -> QuantizeLinear -> DequantizeLinear -> Add of a
constant along the last axis, as onnxruntime's quantizer writes a transformer's Linear)
runs as one DequantizeLinear with a bias input (op code 81, format 1.11): the Add node and
its pass over the activations are gone. Exact against onnxruntime with graph
optimizations off: the product is rounded to float32 before the bias is added, as the
two ONNX operators do (an FMA would differ in the last bit)."""

from __future__ import annotations

import struct

import numpy as np
import onnx
import onnxruntime as ort
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from pocketnn.format import spec
from pocketnn.format.reader import PnnFormatError, read_pnn
from support import qdq_pair, unoptimized_session_options
from test_format import fix_checksum


def _linear_model(x_shape: tuple[int, ...], n: int, bias: np.ndarray, bias_first: bool = False,
                  matmul: bool = True, extra_reader: bool = False) -> onnx.ModelProto:
    """x -> QDQ -> [MatMul with int8 W -> QDQ] -> Add(bias) -> output (+ the dequantized
    value as a second output when `extra_reader`)."""
    rng = np.random.default_rng(x_shape[-1] * 31 + n)
    nodes: list = []
    initializers = [numpy_helper.from_array(bias.astype(np.float32), "bias")]
    y = qdq_pair("x", 0.023, 131, nodes, initializers)
    if matmul:
        k = x_shape[-1]
        initializers += [numpy_helper.from_array(rng.integers(-127, 128, (k, n)).astype(np.int8), "w_q"),
                         numpy_helper.from_array(np.array(0.011, np.float32), "w_scale"),
                         numpy_helper.from_array(np.array(0, np.int8), "w_zp")]
        nodes += [helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zp"], ["w"]),
                  helper.make_node("MatMul", [y, "w"], ["mm"])]
        y = qdq_pair("mm", 0.009 * np.sqrt(k), 119, nodes, initializers)
    nodes.append(helper.make_node("Add", ["bias", y] if bias_first else [y, "bias"], ["output"]))
    outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)]
    if extra_reader:
        nodes.append(helper.make_node("Neg", [y], ["negated"]))
        outputs.append(helper.make_tensor_value_info("negated", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "qdq_linear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              outputs, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _run_both(model: onnx.ModelProto, x_shape: tuple[int, ...]) -> tuple[list[np.ndarray], list[np.ndarray], bytes]:
    x = np.random.default_rng(sum(x_shape)).normal(0.0, 1.0, x_shape).astype(np.float32)
    packed = pocketnn.convert(model)
    runner = pocketnn.Model(packed)
    got = runner.run({"x": x})
    ours = [got[o.name] for o in runner.outputs]
    session = ort.InferenceSession(model.SerializeToString(), unoptimized_session_options(),
                                   providers=["CPUExecutionProvider"])
    return ours, session.run(None, {"x": x}), packed


def _ops(packed: bytes) -> list[str]:
    return [node.op for node in read_pnn(packed).nodes]


SHAPES = [((1, 1), 1), ((3, 7), 9), ((1, 17, 33), 8), ((2, 5, 16), 31), ((1, 40, 64), 96)]


@pytest.mark.parametrize("x_shape,n", SHAPES)
@pytest.mark.parametrize("bias_first", [False, True])
def test_matmul_bias_add_folds_into_dequantize_exactly(x_shape, n, bias_first) -> None:
    bias = np.random.default_rng(n).normal(0.0, 0.5, n).astype(np.float32)
    model = _linear_model(x_shape, n, bias, bias_first)
    ours, theirs, packed = _run_both(model, x_shape)
    assert "Add" not in _ops(packed) and "QGemm" in _ops(packed)
    assert read_pnn(packed).header.version_minor == spec.MINOR_DEQUANTIZE_BIAS
    np.testing.assert_array_equal(ours[0], theirs[0])


@pytest.mark.parametrize("bias_shape", [(1, 1, 12), (1,), ()])
def test_bias_broadcast_along_the_last_axis_folds(bias_shape) -> None:
    x_shape = (1, 5, 12)
    bias = np.random.default_rng(3).normal(0.0, 2.0, bias_shape).astype(np.float32)
    ours, theirs, packed = _run_both(_linear_model(x_shape, 12, bias, matmul=False), x_shape)
    assert "Add" not in _ops(packed)
    np.testing.assert_array_equal(ours[0], theirs[0])


def test_bias_along_another_axis_or_a_shared_value_stays_an_add() -> None:
    x_shape = (1, 5, 12)
    per_row = np.random.default_rng(4).normal(0.0, 1.0, (5, 1)).astype(np.float32)
    ours, theirs, packed = _run_both(_linear_model(x_shape, 12, per_row, matmul=False), x_shape)
    assert "Add" in _ops(packed)
    np.testing.assert_array_equal(ours[0], theirs[0])
    bias = np.linspace(-1.0, 1.0, 12).astype(np.float32)
    ours, theirs, packed = _run_both(_linear_model(x_shape, 12, bias, extra_reader=True), x_shape)
    assert "Add" in _ops(packed)
    for mine, reference in zip(ours, theirs):
        np.testing.assert_array_equal(mine, reference)


def test_a_bias_in_a_file_stamped_before_1_11_is_refused() -> None:
    """The bias input came with format 1.11: an older file carrying one is malformed."""
    x_shape = (1, 5, 12)
    packed = bytearray(pocketnn.convert(_linear_model(x_shape, 12, np.ones(12, np.float32), matmul=False)))
    struct.pack_into("<H", packed, 6, spec.MINOR_DEQUANTIZE_BIAS - 1)
    with pytest.raises(pocketnn.NativeError, match=r"has a bias input, which a version 1\.10 file cannot hold"):
        pocketnn.Model(fix_checksum(packed))
    with pytest.raises(PnnFormatError, match=r"has a bias input, which a version 1\.10 file cannot hold"):
        read_pnn(fix_checksum(packed))
