"""passes/sink_transposes.py and passes/fold_input_affine.py on models laid out as
TensorFlow exports them (NHWC, a Transpose around every convolution, input
normalization in the graph): the Transposes between convolutions cancel, the
normalization folds into the first convolution, and the model still matches onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from support import run_onnxruntime

TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


class NhwcModel:
    """Builds a tf2onnx-style graph: convolutions in NCHW between Transposes, the rest in NHWC."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, np.ndarray] = {}
        self.rng = np.random.default_rng(0)

    def node(self, op: str, inputs: list[str], **attrs: object) -> str:
        out = f"t{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{op}_{len(self.nodes)}", **attrs))
        return out

    def const(self, value: np.ndarray) -> str:
        name = f"c{len(self.inits)}"
        self.inits[name] = value
        return name

    def conv(self, x: str, cin: int, cout: int, k: int = 3, pad: bool = True) -> str:
        w = self.const((self.rng.standard_normal((cout, cin, k, k)) * 0.2).astype(np.float32))
        b = self.const((self.rng.standard_normal(cout) * 0.1).astype(np.float32))
        nchw = self.node("Transpose", [x], perm=TO_NCHW)
        y = self.node("Conv", [nchw, w, b], pads=[k // 2 if pad else 0] * 4)
        return self.node("Transpose", [y], perm=TO_NHWC)

    def model(self, y: str, shape: list[int]) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, "nhwc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                                  [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)],
                                  [numpy_helper.from_array(v, k) for k, v in self.inits.items()])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        return model


def resnet_like(keepdims: int) -> onnx.ModelProto:
    """Preprocessing in NHWC, residual blocks, a branch concat, a NHWC mean, a classifier."""
    b = NhwcModel()
    x = b.node("Sub", ["x", b.const(np.array([0.4, 0.5, 0.6], np.float32))])
    x = b.node("Mul", [x, b.const(np.float32(2.0))])
    x = b.node("Relu", [b.conv(x, 3, 8)])
    for _ in range(2):
        y = b.node("Relu", [b.node("Add", [b.conv(x, 8, 8), b.const(np.full(8, 0.05, np.float32))])])
        x = b.node("Relu", [b.node("Add", [x, b.conv(y, 8, 8)])])
    x = b.node("Concat", [b.conv(x, 8, 4, 1), b.conv(x, 8, 4)], axis=3)
    pooled = b.node("ReduceMean", [x], axes=[1, 2], keepdims=keepdims)
    if keepdims:
        pooled = b.node("Reshape", [pooled, b.const(np.array([1, 8], np.int64))])
    logits = b.node("MatMul", [pooled, b.const((b.rng.standard_normal((8, 5)) * 0.3).astype(np.float32))])
    return b.model(logits, [1, 12, 12, 3])


@pytest.mark.parametrize("keepdims", [0, 1])
def test_tf_style_model_keeps_only_the_input_transpose(keepdims: int) -> None:
    model = resnet_like(keepdims)
    assert sum(n.op_type == "Transpose" for n in model.graph.node) == 14  # 7 convolutions
    runtime = pocketnn.Model(pocketnn.convert(model))
    transposes = [n for n in runtime.nodes if n.op == "Transpose"]
    assert len(transposes) == 1, [n.name for n in transposes]
    x = np.random.default_rng(1).standard_normal((1, 12, 12, 3)).astype(np.float32)
    (expected,) = run_onnxruntime(model, {"x": x})
    np.testing.assert_allclose(runtime.run({"x": x})[runtime.outputs[0].name], expected, rtol=1e-4, atol=1e-5)


def test_transposes_that_do_not_cancel_stay_correct() -> None:
    """A Transpose read twice (once by a graph output) stays; one into a Reshape stays."""
    b = NhwcModel()
    t = b.node("Transpose", ["x"], perm=[0, 2, 3, 1])
    relu = b.node("Relu", [t])
    flat = b.node("Reshape", [b.node("Transpose", [relu], perm=[0, 2, 1, 3]), b.const(np.array([1, -1], np.int64))])
    model = b.model(flat, [1, 2, 3, 4])
    model.graph.output.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, None))
    runtime = pocketnn.Model(pocketnn.convert(model))
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 4)).astype(np.float32)
    expected = run_onnxruntime(model, {"x": x})
    ours = runtime.run({"x": x})
    for output, value in zip(model.graph.output, expected):
        np.testing.assert_allclose(ours[output.name], value, rtol=1e-6)


@pytest.mark.parametrize("pad", [False, True])
def test_input_normalization_folds_into_the_first_convolution(pad: bool) -> None:
    """(x - mean) * scale per NHWC channel, through the input Transpose: the scale folds
    always, the mean only into an unpadded convolution (padding reads zeros of x - mean)."""
    b = NhwcModel()
    x = b.node("Sub", ["x", b.const(np.array([0.4, 0.5, 0.6], np.float32))])
    x = b.node("Mul", [x, b.const(np.array([[[2.0, 0.5, 4.0]]], np.float32))])
    y = b.node("Relu", [b.conv(x, 3, 6, pad=pad)])
    model = b.model(y, [1, 9, 9, 3])
    runtime = pocketnn.Model(pocketnn.convert(model))
    ops = [n.op for n in runtime.nodes]
    assert "Mul" not in ops and ("Sub" in ops) == pad, ops
    x_in = np.random.default_rng(3).standard_normal((1, 9, 9, 3)).astype(np.float32)
    (expected,) = run_onnxruntime(model, {"x": x_in})
    np.testing.assert_allclose(runtime.run({"x": x_in})[runtime.outputs[0].name], expected, rtol=1e-4, atol=1e-5)


def test_transposes_move_through_pad_comparisons_and_where() -> None:
    """Larq via tf2onnx: NHWC GreaterOrEqual -> Where -> Pad between two convolutions; the
    Pad's pads follow their axes, and only the input Transpose is left."""
    b = NhwcModel()
    x = b.conv("x", 3, 4)
    ge = b.node("GreaterOrEqual", [x, b.const(np.float32(0.0))])
    signs = b.node("Where", [ge, b.const(np.float32(1.0)), b.const(np.full(4, -1.0, np.float32))])
    padded = b.node("Pad", [signs, b.const(np.array([0, 1, 2, 0, 0, 2, 1, 0], np.int64)), b.const(np.float32(1.0))])
    model = b.model(b.conv(padded, 4, 5, pad=False), [1, 6, 7, 3])
    runtime = pocketnn.Model(pocketnn.convert(model))
    assert [n.op for n in runtime.nodes].count("Transpose") == 2  # the input's and the output's (NHWC)
    x_in = np.random.default_rng(3).standard_normal((1, 6, 7, 3)).astype(np.float32)
    (expected,) = run_onnxruntime(model, {"x": x_in})
    np.testing.assert_allclose(runtime.run({"x": x_in})[runtime.outputs[0].name], expected, rtol=1e-5, atol=1e-5)
