"""The whole-layer LSTM and GRU operators (op codes 112, 113; runtime/src/ops/recurrent.c)
against onnxruntime, under every ISA cap the host runs (the scalar cap is the reference
path: plain GEMM and the scalar sigmoid/tanh), and the loader's checks of their fields."""

from __future__ import annotations

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from pocketnn.conversion import convert_graph
from pocketnn.format.writer import write_pnn
from support import run_onnxruntime

ISAS = ("scalar", "avx2", "avx512")
INPUT = 6
GATES = {"LSTM": 4, "GRU": 3}


def rnn_model(op: str, direction: str = "forward", seq: int = 7, batch: int = 3, hidden: int = 5,
              bias: bool = True, initial_state: bool = True, outputs: tuple[str, ...] | None = None,
              layout: int = 0, **attrs: object) -> onnx.ModelProto:
    rng = np.random.default_rng(hash((op, direction, seq, batch, hidden)) % 2**32)
    dirs = 2 if direction == "bidirectional" else 1
    gates = GATES[op]
    scale = float(1.0 / np.sqrt(hidden))
    inits = {"W": rng.standard_normal((dirs, gates * hidden, INPUT)).astype(np.float32) * 0.5,
             "R": rng.standard_normal((dirs, gates * hidden, hidden)).astype(np.float32) * scale}
    if bias:
        inits["B"] = rng.standard_normal((dirs, 2 * gates * hidden)).astype(np.float32) * 0.3
    x_shape, state_shape = ([batch, seq, INPUT], [batch, dirs, hidden]) if layout else ([seq, batch, INPUT], [dirs, batch, hidden])
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)]
    names = ["X", "W", "R", "B" if bias else "", ""]
    states = ["h0", "c0"] if op == "LSTM" else ["h0"]
    if initial_state:
        names += states
        graph_inputs += [helper.make_tensor_value_info(s, TensorProto.FLOAT, state_shape) for s in states]
    all_outputs = ["Y", "Y_h", "Y_c"][:len(states) + 1]
    wanted = all_outputs if outputs is None else list(outputs)
    node_outputs = [o if o in wanted else "" for o in all_outputs]
    while not node_outputs[-1]:
        node_outputs.pop()
    if layout:
        attrs = {**attrs, "layout": layout}
    node = helper.make_node(op, names, node_outputs, name=f"{op.lower()}_fused", hidden_size=hidden,
                            direction=direction, **attrs)
    graph = helper.make_graph([node], op, graph_inputs,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in wanted],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture(params=ISAS)
def isa(request) -> str:
    try:
        pocketnn.Model(pocketnn.convert(rnn_model("GRU")), isa=request.param)
    except pocketnn.NativeError as error:
        pytest.skip(f"ISA path {request.param!r} not run on this host: {error.message}")
    return request.param


def check(model: onnx.ModelProto, isa: str) -> None:
    graph, _ = convert_graph(model)
    op = model.graph.node[0].op_type
    ops = [n.op for n in graph.nodes]
    # Layout 1 runs the same node between Transposes (batch first <-> sequence first;
    # those that only move an axis of size 1 become Reshapes).
    assert ops.count(op) == 1 and set(ops) <= {op, "Transpose", "Reshape"}, f"the layer must run as one fused node: {ops}"
    rng = np.random.default_rng(3)
    feeds = {vi.name: rng.standard_normal([d.dim_value for d in vi.type.tensor_type.shape.dim]).astype(np.float32)
             for vi in model.graph.input}
    ours = pocketnn.Model(write_pnn(graph), isa=isa).run(feeds)
    # onnxruntime refuses layout 1 ("batchwise"): there onnx's reference evaluator judges.
    layout = next((a.i for a in model.graph.node[0].attribute if a.name == "layout"), 0)
    theirs = ReferenceEvaluator(model).run(None, feeds) if layout else run_onnxruntime(model, feeds)
    assert set(ours) == {o.name for o in model.graph.output}
    for output, expected in zip(model.graph.output, theirs):
        np.testing.assert_allclose(ours[output.name], expected, rtol=2e-5, atol=2e-5, err_msg=output.name)


KINDS = [("LSTM", {}), ("GRU", {"linear_before_reset": 0}), ("GRU", {"linear_before_reset": 1})]


@pytest.mark.parametrize("kind", range(len(KINDS)), ids=["lstm", "gru", "gru_lbr"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("seq", [1, 7])
@pytest.mark.parametrize("hidden", [1, 5, 17, 64])
def test_matches_onnxruntime(kind: int, direction: str, batch: int, seq: int, hidden: int, isa: str) -> None:
    op, attrs = KINDS[kind]
    check(rnn_model(op, direction, seq=seq, batch=batch, hidden=hidden, **attrs), isa)


@pytest.mark.parametrize("kind", range(len(KINDS)), ids=["lstm", "gru", "gru_lbr"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("initial_state", [False, True])
@pytest.mark.parametrize("clip", [None, 0.6])
def test_optional_inputs_and_clip(kind: int, bias: bool, initial_state: bool, clip: float | None,
                                  isa: str) -> None:
    op, attrs = KINDS[kind]
    if clip is not None:
        attrs = {**attrs, "clip": clip}
    check(rnn_model(op, "bidirectional", hidden=17, bias=bias, initial_state=initial_state, **attrs), isa)


@pytest.mark.parametrize("outputs", [("Y",), ("Y_h",), ("Y_c",), ("Y", "Y_c"), ("Y_h", "Y_c"), ("Y", "Y_h", "Y_c")])
def test_lstm_output_subsets(outputs: tuple[str, ...], isa: str) -> None:
    check(rnn_model("LSTM", "bidirectional", outputs=outputs), isa)


@pytest.mark.parametrize("outputs", [("Y",), ("Y_h",)])
def test_gru_output_subsets(outputs: tuple[str, ...], isa: str) -> None:
    check(rnn_model("GRU", "reverse", outputs=outputs), isa)


@pytest.mark.parametrize("kind", range(len(KINDS)), ids=["lstm", "gru", "gru_lbr"])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
@pytest.mark.parametrize("outputs", [None, ("Y_h",)])
def test_layout_1_is_fused_between_transposes(kind: int, direction: str, outputs: tuple[str, ...] | None,
                                              isa: str) -> None:
    op, attrs = KINDS[kind]
    check(rnn_model(op, direction, seq=5, batch=2, hidden=17, layout=1, outputs=outputs, **attrs), isa)


def test_explicit_default_activations_and_full_sequence_lens_are_fused(isa: str) -> None:
    model = rnn_model("LSTM", "bidirectional", activations=["Sigmoid", "Tanh", "Tanh"] * 2)
    model.graph.initializer.append(numpy_helper.from_array(np.full(3, 7, np.int32), "lens"))
    model.graph.node[0].input[4] = "lens"
    check(model, isa)


def test_other_activations_are_unrolled() -> None:
    graph, _ = convert_graph(rnn_model("GRU", activations=["HardSigmoid", "Tanh"]))
    assert "GRU" not in [n.op for n in graph.nodes]


def test_writes_format_1_7() -> None:
    data = pocketnn.convert(rnn_model("LSTM"))
    assert int.from_bytes(data[6:8], "little") == 7


@pytest.mark.parametrize("attr, value", [
    ("hidden_size", -(2**63)), ("hidden_size", 4), ("hidden_size", 2**40), ("direction", 3),
    ("direction", -(2**63)), ("outputs", 0), ("outputs", 8), ("outputs", -(2**63)),
    ("linear_before_reset", 2), ("clip", -1.0), ("clip", float("inf")), ("clip", float("nan")),
    ("hidden_size", 1.5),
])
def test_hostile_attributes_are_refused(attr: str, value: object) -> None:
    graph, _ = convert_graph(rnn_model("GRU", "bidirectional"))
    graph.nodes[0].attrs[attr] = value  # type: ignore[assignment]
    with pytest.raises(pocketnn.NativeError, match="gru_fused"):
        pocketnn.Model(write_pnn(graph))


def test_wrong_weight_shape_and_runtime_weights_are_refused() -> None:
    graph, _ = convert_graph(rnn_model("LSTM"))
    graph.nodes[0].attrs["outputs"] = 1  # one output listed for three
    with pytest.raises(pocketnn.NativeError, match="lstm_fused"):
        pocketnn.Model(write_pnn(graph))
    graph, _ = convert_graph(rnn_model("LSTM"))
    node = graph.nodes[0]
    node.inputs[1], node.inputs[2] = node.inputs[2], node.inputs[1]  # W and R swapped
    with pytest.raises(pocketnn.NativeError, match="lstm_fused"):
        pocketnn.Model(write_pnn(graph))
