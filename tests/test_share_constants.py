"""A weight several nodes share is stored once (passes/share_constants.py): an
onnxruntime quantize_dynamic chain of MatMuls on one weight, whose lowering makes an
integer weight per MatMulInteger, and a float chain; outputs equal onnxruntime's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from pocketnn.format.reader import read_pnn

from support import unoptimized_session_options, with_unsigned_weights

DEPTH = 6
WIDTH = 128


def shared_weight_chain(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    weight = numpy_helper.from_array((rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32), "w")
    nodes = [helper.make_node("MatMul", [f"h{i}" if i else "x", "w"], [f"h{i + 1}"]) for i in range(DEPTH)]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, WIDTH])],
                              [helper.make_tensor_value_info(f"h{DEPTH}", TensorProto.FLOAT, [3, WIDTH])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "chain.onnx"
    onnx.save(model, path)
    return path


def weight_bytes(packed: bytes) -> int:
    """Bytes of the stored constants of WIDTH x WIDTH elements."""
    return sum(t.size for t in read_pnn(packed).tensors if t.is_constant and tuple(t.shape) == (WIDTH, WIDTH))


@pytest.mark.parametrize("dynamic_int8", [False, True])
def test_a_shared_weight_is_stored_once(tmp_path: Path, dynamic_int8: bool) -> None:
    source = shared_weight_chain(tmp_path)
    if dynamic_int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(source, tmp_path / "chain.int8.onnx", weight_type=QuantType.QInt8)
        source = tmp_path / "chain.int8.onnx"
    packed = pocketnn.convert(source)
    element_bytes = 1 if dynamic_int8 else 4
    assert 0 < weight_bytes(packed) <= WIDTH * WIDTH * element_bytes
    x = np.random.default_rng(6).standard_normal((3, WIDTH)).astype(np.float32)
    # The host-independent reference (support.with_unsigned_weights): onnxruntime's u8 x s8
    # kernel saturates on AVX2 without VNNI.
    reference = ort.InferenceSession(with_unsigned_weights(onnx.load(source)).SerializeToString(),
                                     unoptimized_session_options(), providers=["CPUExecutionProvider"])
    expected = reference.run(None, {"x": x})[0]
    got = pocketnn.Model(packed).run({"x": x})[f"h{DEPTH}"]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))
