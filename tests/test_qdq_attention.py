"""QDQ MatMuls whose two operands are activations (a transformer's attention: Q.K^T and
probs.V) run as QMatMul (op code 108, format 1.6): u8 x u8, int32 sums, one dyadic
requantization. Compared with onnxruntime running the same QDQ graph with graph
optimizations off (its exact reference: DequantizeLinear, float MatMul,
QuantizeLinear). onnxruntime sums the products in float32 and rounds the quotient half to
even where pocketnn sums exactly and rounds one dyadic product half up, so single values
may differ by one u8 step; no value may differ by more."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pocketnn
import pytest
from onnx import TensorProto, helper
from support import qdq_pair, unoptimized_session_options


def _model(nodes: list, initializers: list, inputs: dict[str, tuple[int, ...]], output: str) -> onnx.ModelProto:
    nodes.append(helper.make_node("Identity", [output], ["output"]))
    graph = helper.make_graph(nodes, "qdq_attention",
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _matmul_model(a_shape: tuple[int, ...], b_shape: tuple[int, ...], zero_points: tuple[int, int, int]
                  ) -> onnx.ModelProto:
    """a, b -> QDQ each -> MatMul -> QDQ -> output."""
    nodes: list = []
    initializers: list = []
    a = qdq_pair("a", 0.021, zero_points[0], nodes, initializers)
    b = qdq_pair("b", 0.017, zero_points[1], nodes, initializers)
    nodes.append(helper.make_node("MatMul", [a, b], ["y"]))
    k = a_shape[-1]
    y = qdq_pair("y", 0.0035 * np.sqrt(k), zero_points[2], nodes, initializers)
    return _model(nodes, initializers, {"a": a_shape, "b": b_shape}, y)


def _attention_model(heads: int, tokens: int, head_dim: int) -> onnx.ModelProto:
    """q, k, v [1, heads, T, d] -> QDQ -> q.k^T (k transposed in float) -> QDQ ->
    Softmax -> QDQ (zero point 0, scale 1/255) -> probs.v -> QDQ: Whisper's attention as
    onnxruntime's quantizer writes it."""
    nodes: list = []
    initializers: list = []
    q = qdq_pair("q", 0.024, 141, nodes, initializers)
    nodes.append(helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]))
    kt = qdq_pair("kt", 0.022, 130, nodes, initializers)
    nodes.append(helper.make_node("MatMul", [q, kt], ["scores"]))
    scores = qdq_pair("scores", 0.004 * head_dim, 114, nodes, initializers)
    nodes.append(helper.make_node("Softmax", [scores], ["probs"], axis=-1))
    probs = qdq_pair("probs", 1 / 255, 0, nodes, initializers)
    v = qdq_pair("v", 0.05, 134, nodes, initializers)
    nodes.append(helper.make_node("MatMul", [probs, v], ["context"]))
    context = qdq_pair("context", 0.043, 123, nodes, initializers)
    shape = (1, heads, tokens, head_dim)
    return _model(nodes, initializers, {"q": shape, "k": shape, "v": shape}, context)


def _steps_apart(model: onnx.ModelProto, feeds: dict[str, np.ndarray], step: float
                 ) -> tuple[np.ndarray, list[str]]:
    packed = pocketnn.convert(model)
    runner = pocketnn.Model(packed)
    ours = runner.run(feeds)[runner.outputs[0].name]
    session = ort.InferenceSession(model.SerializeToString(), unoptimized_session_options(),
                                   providers=["CPUExecutionProvider"])
    theirs = session.run(None, feeds)[0]
    assert ours.shape == theirs.shape
    return np.abs(ours - theirs) / step, [node.op for node in runner.nodes]


CASES = [  # (A shape, B shape): Q.K^T and probs.V of T tokens, h heads, head dim d
    ((1, 8), (8, 1)),
    ((3, 8), (8, 3)),
    ((1, 17, 64), (1, 64, 17)),
    ((2, 3, 8), (2, 8, 3)),
    ((6, 17, 17), (6, 17, 64)),
    ((1, 2, 17, 64), (1, 2, 64, 17)),
    ((1, 6, 3, 3), (1, 6, 3, 64)),
    ((1, 6, 17, 8), (1, 1, 8, 17)),  # B broadcast over the heads
    ((2, 1, 5, 9), (1, 3, 9, 4)),    # both broadcast
]


@pytest.mark.parametrize("a_shape,b_shape", CASES)
@pytest.mark.parametrize("zero_points", [(141, 130, 114), (0, 255, 0), (128, 128, 128)])
def test_activation_matmul_runs_as_qmatmul_within_one_step(a_shape, b_shape, zero_points) -> None:
    model = _matmul_model(a_shape, b_shape, zero_points)
    rng = np.random.default_rng(len(a_shape) * 100 + a_shape[-1])
    feeds = {"a": rng.uniform(-2.5, 2.5, a_shape).astype(np.float32),
             "b": rng.uniform(-2.0, 2.0, b_shape).astype(np.float32)}
    step = 0.0035 * np.sqrt(a_shape[-1])
    difference, ops = _steps_apart(model, feeds, step)
    assert ops.count("QMatMul") == 1 and "MatMul" not in ops
    print(f"{a_shape} x {b_shape} zero points {zero_points}: max {difference.max():.3f} steps, "
          f"{np.mean(difference > 0.5):.4f} of values differ")
    assert difference.max() <= 1.0 + 1e-3


@pytest.mark.parametrize("heads,tokens,head_dim", [(1, 1, 8), (2, 3, 64), (6, 17, 64), (6, 17, 8)])
def test_qdq_attention_runs_both_matmuls_as_integers(heads, tokens, head_dim) -> None:
    """Q.K^T and probs.V both become QMatMul; the context (after a float Softmax between
    them) stays within one u8 step of onnxruntime."""
    model = _attention_model(heads, tokens, head_dim)
    rng = np.random.default_rng(heads * tokens)
    shape = (1, heads, tokens, head_dim)
    feeds = {name: rng.uniform(-3.0, 3.0, shape).astype(np.float32) for name in ("q", "k", "v")}
    difference, ops = _steps_apart(model, feeds, 0.043)
    assert ops.count("QMatMul") == 2 and "MatMul" not in ops
    print(f"attention h={heads} T={tokens} d={head_dim}: max {difference.max():.3f} steps")
    assert difference.max() <= 1.0 + 1e-3


def test_qmatmul_file_is_format_1_6_and_its_attributes_are_validated() -> None:
    """The writer stamps 1.6; the runtime refuses a shift outside [1, 62], a zero point
    or clamp bound outside [0, 255] and a negative multiplier, naming the node and the
    attribute."""
    from pocketnn.conversion import convert_graph
    from pocketnn.format.writer import write_pnn

    graph, _ = convert_graph(_matmul_model((3, 8), (8, 3), (141, 130, 114)))
    assert int.from_bytes(write_pnn(graph)[6:8], "little") == 6
    node = next(n for n in graph.nodes if n.op == "QMatMul")
    for key, bad in (("shift", 63), ("a_zero_point", 256), ("multiplier", -1), ("hi", 256)):
        saved = node.attrs[key]
        node.attrs[key] = bad
        with pytest.raises(pocketnn.NativeError, match=rf'node "{node.name}".*"{key}"'):
            pocketnn.Model(write_pnn(graph))
        node.attrs[key] = saved
    pocketnn.Model(write_pnn(graph))
