"""LSTM, GRU and RNN, fused (op codes 112-113; tests/test_recurrent_fused.py has their own
cases) or unrolled at convert time (frontend/recurrent.py), against onnxruntime on the
configurations the ONNX backend cases leave out: both layouts,
bidirectional with initial states given at run time, peepholes, clip, non-default
activations, GRU's linear_before_reset, and opsets from before Split/Slice/Clip took
their parameters as inputs."""

from __future__ import annotations

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from pocketnn.conversion import convert_graph
from pocketnn.errors import UnsupportedOpError
from support import run_onnxruntime

SEQ, BATCH, INPUT, HIDDEN = 5, 3, 7, 6
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def recurrent_model(op: str, direction: str = "forward", layout: int = 0, opset: int = 17,
                    initial_state: bool = True, peepholes: bool = False, batch: int = BATCH,
                    hidden: int = HIDDEN, **attrs: object) -> onnx.ModelProto:
    rng = np.random.default_rng(hash((op, direction, layout, opset)) % 2**32)
    dirs = 2 if direction == "bidirectional" else 1
    gates = GATES[op]
    inits = {"W": rng.standard_normal((dirs, gates * hidden, INPUT)).astype(np.float32) * 0.4,
             "R": rng.standard_normal((dirs, gates * hidden, hidden)).astype(np.float32) * 0.4,
             "B": rng.standard_normal((dirs, 2 * gates * hidden)).astype(np.float32) * 0.3}
    x_shape = [SEQ, batch, INPUT] if layout == 0 else [batch, SEQ, INPUT]
    state_shape = [dirs, batch, hidden] if layout == 0 else [batch, dirs, hidden]
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)]
    names = ["X", "W", "R", "B", "", ""]
    if initial_state:
        names[5] = "h0"
        graph_inputs.append(helper.make_tensor_value_info("h0", TensorProto.FLOAT, state_shape))
    outputs = ["Y", "Y_h"]
    if op == "LSTM":
        outputs.append("Y_c")
        if initial_state:
            names.append("c0")
            graph_inputs.append(helper.make_tensor_value_info("c0", TensorProto.FLOAT, state_shape))
        if peepholes:
            names += [""] * (8 - len(names))
            names[7] = "P"
            inits["P"] = rng.standard_normal((dirs, 3 * hidden)).astype(np.float32) * 0.3
    if layout:
        attrs["layout"] = layout
    node = helper.make_node(op, names, outputs, name=f"{op.lower()}_node", hidden_size=hidden,
                            direction=direction, **attrs)
    graph = helper.make_graph([node], op, graph_inputs,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    return model


def check_against_onnxruntime(model: onnx.ModelProto) -> None:
    """onnxruntime refuses layout 1 ("batchwise"): there onnx's reference evaluator judges."""
    rng = np.random.default_rng(7)
    feeds = {vi.name: rng.standard_normal([d.dim_value for d in vi.type.tensor_type.shape.dim]).astype(np.float32)
             for vi in model.graph.input}
    runtime = pocketnn.Model(pocketnn.convert(model))
    ours = runtime.run(feeds)
    layout = next((a.i for a in model.graph.node[0].attribute if a.name == "layout"), 0)
    theirs = run_onnxruntime(model, feeds) if layout == 0 else ReferenceEvaluator(model).run(None, feeds)
    for output, expected in zip(model.graph.output, theirs):
        np.testing.assert_allclose(ours[output.name], expected, rtol=1e-4, atol=2e-5, err_msg=output.name)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("layout", [0, 1])
def test_directions_and_layouts(op: str, direction: str, layout: int) -> None:
    check_against_onnxruntime(recurrent_model(op, direction, layout))


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("hidden", [1, 3, 17])
def test_batch_one(op: str, direction: str, hidden: int) -> None:
    """Batch 1, where each step's recurrence Gemm runs on the runtime's matrix-vector
    path (R read in place), at awkward hidden sizes."""
    check_against_onnxruntime(recurrent_model(op, direction, batch=1, hidden=hidden))
    if op == "GRU":
        check_against_onnxruntime(recurrent_model(op, direction, batch=1, hidden=hidden, linear_before_reset=1))


def test_batch_one_steps_use_the_weights_in_place() -> None:
    """Unrolled (peepholes keep an LSTM off the fused operator): one MatMul per direction
    (the input projection); every step a Gemm on R with transB, so no transposed copy of R
    is stored."""
    graph, _ = convert_graph(recurrent_model("LSTM", "bidirectional", batch=1, peepholes=True))
    gemms = [n for n in graph.nodes if n.op == "Gemm"]
    assert [n.op for n in graph.nodes].count("MatMul") == 2
    assert len(gemms) == 2 * SEQ
    assert all(n.attrs["trans_b"] == 1 and graph.tensors[n.inputs[1]].shape == (4 * HIDDEN, HIDDEN)
               for n in gemms)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_zero_initial_state(op: str) -> None:
    check_against_onnxruntime(recurrent_model(op, "bidirectional", initial_state=False))


def test_lstm_peepholes_and_clip() -> None:
    check_against_onnxruntime(recurrent_model("LSTM", "bidirectional", peepholes=True, clip=0.7))


@pytest.mark.parametrize("linear_before_reset", [0, 1])
def test_gru_linear_before_reset(linear_before_reset: int) -> None:
    check_against_onnxruntime(recurrent_model("GRU", "bidirectional", linear_before_reset=linear_before_reset))
    check_against_onnxruntime(recurrent_model("GRU", initial_state=False, linear_before_reset=linear_before_reset))


def test_activations_with_alpha_and_beta() -> None:
    model = recurrent_model("LSTM", activations=["HardSigmoid", "LeakyRelu", "Tanh"],
                            activation_alpha=[0.3, 0.05], activation_beta=[0.4])
    check_against_onnxruntime(model)


@pytest.mark.parametrize("opset", [9, 11])
def test_old_opsets(opset: int) -> None:
    """Split took its sizes as an attribute before opset 13, Slice before 10, Clip before 11."""
    check_against_onnxruntime(recurrent_model("LSTM", "bidirectional", opset=opset, clip=2.0))


def test_partial_sequence_lengths_are_refused() -> None:
    model = recurrent_model("GRU")
    model.graph.initializer.append(numpy_helper.from_array(np.array([SEQ, 2, SEQ], np.int32), "lens"))
    model.graph.node[0].input[4] = "lens"
    with pytest.raises(UnsupportedOpError, match="gru_node.*sequence_lens"):
        pocketnn.convert(model)


def test_runtime_weights_are_refused() -> None:
    model = recurrent_model("RNN")
    w = next(t for t in model.graph.initializer if t.name == "W")
    model.graph.input.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, list(w.dims)))
    model.graph.initializer.remove(w)
    with pytest.raises(UnsupportedOpError, match="rnn_node.*'W' must be a constant"):
        pocketnn.convert(model)
