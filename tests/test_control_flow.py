"""Inputs bound at convert time (`bind=` / `--bind`) and ONNX If resolved by folding
(frontend/control_flow.py), against onnxruntime on the unbound model."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from pocketnn.cli import main as cli_main
from pocketnn.errors import ModelError, UnsupportedOpError
from pocketnn.runtime import Model
from wheel_models import wheel_model


def _branch(name: str, nodes: list[onnx.NodeProto], out: str,
            inits: dict[str, np.ndarray] | None = None) -> onnx.GraphProto:
    return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 6])],
                             [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])


def rate_model() -> onnx.ModelProto:
    """y0 = x * w1 + relu(x) when sr == 16000, else nested: (sr > 8000 ? tanh(x) : -x) * w2;
    y = y0 + sigmoid(x) + y0'. The branches read the outer x, hold initializers and nest
    an If; y0' comes from a second If with the same branches, so the names inside them
    ("t", "w1", ...) appear twice once inlined: everything must be renamed apart or kept."""
    w1 = np.linspace(-1, 1, 6, dtype=np.float32).reshape(1, 6)
    w2 = np.full((1, 6), 0.5, np.float32)
    inner = helper.make_node(
        "If", ["wide"], ["u"], name="inner_if",
        then_branch=_branch("wide_then", [helper.make_node("Tanh", ["x"], ["u_t"])], "u_t"),
        else_branch=_branch("wide_else", [helper.make_node("Neg", ["x"], ["u_e"])], "u_e"))
    then_branch = _branch("then", [helper.make_node("Mul", ["x", "w1"], ["t"]),
                                   helper.make_node("Relu", ["x"], ["r"]),
                                   helper.make_node("Add", ["t", "r"], ["y_then"])], "y_then", {"w1": w1})
    else_branch = _branch("else", [
        helper.make_node("Greater", ["sr", "eight_k"], ["wide"]), inner,
        helper.make_node("Mul", ["u", "w2"], ["y_else"])], "y_else", {"w2": w2})
    nodes = [helper.make_node("Equal", ["sr", "sixteen_k"], ["is16"]),
             helper.make_node("Sigmoid", ["x"], ["s"]),
             helper.make_node("If", ["is16"], ["y0"], name="rate_if", then_branch=then_branch,
                              else_branch=else_branch),
             helper.make_node("If", ["is16"], ["y1"], name="rate_if_again", then_branch=then_branch,
                              else_branch=else_branch),
             helper.make_node("Add", ["y0", "s"], ["y01"]),
             helper.make_node("Add", ["y01", "y1"], ["y"])]
    graph = helper.make_graph(
        nodes, "rate",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])],
        [numpy_helper.from_array(np.array(16000, np.int64), "sixteen_k"),
         numpy_helper.from_array(np.array(8000, np.int64), "eight_k")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize("sr", [16000, 12000, 8000])
def test_bound_input_takes_the_branch_onnxruntime_takes(sr: int) -> None:
    model = rate_model()
    runtime = Model(pocketnn.convert(model, bind={"sr": sr}))
    assert [i.name for i in runtime.inputs] == ["x"]
    assert not any(node.op in ("If", "Equal") for node in runtime.nodes)
    x = np.random.default_rng(sr).standard_normal((1, 6)).astype(np.float32)
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x, "sr": np.array(sr, np.int64)})[0]
    np.testing.assert_allclose(runtime.run({"x": x})["y"], expected, rtol=1e-6, atol=1e-6)


def test_if_on_a_runtime_value_names_the_input_to_bind() -> None:
    with pytest.raises(UnsupportedOpError, match=r"If x2: node 'rate_if'.*\['sr'\].*--bind"):
        pocketnn.convert(rate_model())


@pytest.mark.parametrize(("bind", "message"), [
    ({"rate": 16000}, "unknown inputs \\['rate'\\]"),
    ({"sr": 16000.5}, "not exactly a int64"),
    ({"sr": [16000, 8000]}, "has shape \\[2\\]"),
    ({"sr": "fast"}, "not a int64 value"),
])
def test_bad_bindings_are_errors_naming_the_input(bind: dict[str, object], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        pocketnn.convert(rate_model(), bind=bind)


def test_bind_and_input_shape_of_one_input_conflict() -> None:
    with pytest.raises(ModelError, match="both bound"):
        pocketnn.convert(rate_model(), bind={"sr": 16000}, input_shapes={"sr": ()})


def test_cli_bind_and_verify_feed_the_bound_value(tmp_path, capsys) -> None:
    onnx_path, pnn_path = tmp_path / "rate.onnx", tmp_path / "rate.pnn"
    onnx.save(rate_model(), onnx_path)
    assert cli_main(["convert", str(onnx_path), "-o", str(pnn_path), "--bind", "sr=12000"]) == 0
    assert Model(str(pnn_path)).metadata("bound_inputs") is not None
    # verify reads the bound value from the .pnn and gives it to onnxruntime: a wrong
    # value there would take the other branch and fail.
    assert cli_main(["verify", str(onnx_path), str(pnn_path)]) == 0
    assert "FAIL" not in capsys.readouterr().out


@pytest.mark.parametrize("member", ["silero_vad.onnx", "silero_vad_16k_op15.onnx", "silero_vad_op18_ifless.onnx"])
def test_silero_vad_with_bound_sample_rate_matches_onnxruntime(member: str) -> None:
    """Silero VAD from the `silero-vad` wheel (6.2.3): an int64 `sr` input selects the
    16 kHz or 8 kHz network through an If (silero_vad.onnx: Ifs nested three deep, an ONNX
    LSTM inside; the op18 export: the LSTM as Gemm and gates). Bound to 16000 it
    converts; run over a stream of 40 chunks of 512 samples with the LSTM state carried
    from chunk to chunk, it matches onnxruntime."""
    path = wheel_model("silero-vad==6.2.3", f"silero_vad/data/{member}")
    runtime = Model(pocketnn.convert(path, bind={"sr": 16000},
                                     input_shapes={"input": (1, 512), "state": (2, 1, 128)}))
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the exports carry unused initializers it warns about
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    t = np.arange(512 * 40) / 16000
    noise = 0.02 * np.random.default_rng(0).standard_normal(t.size)
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) * (t > 0.5) + noise).astype(np.float32)
    state_ort = np.zeros((2, 1, 128), np.float32)
    state_pnn = state_ort.copy()
    for i in range(40):
        chunk = audio[None, i * 512:(i + 1) * 512]
        prob_ort, state_ort = session.run(None, {"input": chunk, "state": state_ort,
                                                 "sr": np.array(16000, np.int64)})
        ours = runtime.run({"input": chunk, "state": state_pnn})
        prob_pnn, state_pnn = ours["output"], ours["stateN"]
        np.testing.assert_allclose(prob_pnn, prob_ort, atol=1e-4)
        np.testing.assert_allclose(state_pnn, state_ort, atol=1e-4)
