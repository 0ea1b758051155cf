"""ONNX Loop and Scan unrolled at convert time (frontend/loops.py), against onnxruntime.
The ONNX backend node cases test_loop11, test_scan9_sum, test_scan9_multi_state and
test_scan9_scalar run in tests/test_onnx_node_cases.py."""

from __future__ import annotations

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from pocketnn.errors import UnsupportedOpError
from pocketnn.frontend.loops import UNROLL_NODE_LIMIT
from support import run_onnxruntime

OPSET = 17


def _info(name: str, elem: int, shape: list[int | str]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def _model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
           inits: dict[str, np.ndarray], opset: int = OPSET) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "loops", inputs, outputs,
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def _loop_body(cond_out: list[onnx.NodeProto] | None = None) -> onnx.GraphProto:
    """v_next = tanh(v @ w + x * i) with the outer x and w read from the enclosing graph,
    and v_next also emitted as a scan output: an RNN cell as PyTorch exports a for loop."""
    nodes = [helper.make_node("Cast", ["i"], ["i_f"], to=TensorProto.FLOAT),
             helper.make_node("MatMul", ["v_in", "w"], ["vw"]),
             helper.make_node("Mul", ["x", "i_f"], ["xi"]),
             helper.make_node("Add", ["vw", "xi"], ["pre"]),
             helper.make_node("Tanh", ["pre"], ["v_out"]),
             helper.make_node("Identity", ["v_out"], ["scan_v"])]
    nodes += cond_out if cond_out is not None else [helper.make_node("Identity", ["cond_in"], ["cond_out"])]
    return helper.make_graph(nodes, "body",
                             [_info("i", TensorProto.INT64, []), _info("cond_in", TensorProto.BOOL, []),
                              _info("v_in", TensorProto.FLOAT, [1, 8])],
                             [_info("cond_out", TensorProto.BOOL, []), _info("v_out", TensorProto.FLOAT, [1, 8]),
                              _info("scan_v", TensorProto.FLOAT, [1, 8])])


def _loop_model(trip_input: bool = False, body: onnx.GraphProto | None = None) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits: dict[str, np.ndarray] = {"w": (rng.standard_normal((8, 8)) * 0.4).astype(np.float32),
                                    "cond": np.array(True)}
    inputs = [_info("x", TensorProto.FLOAT, [1, 8]), _info("v0", TensorProto.FLOAT, [1, 8])]
    if trip_input:
        inputs.append(_info("n", TensorProto.INT64, []))
    else:
        inits["n"] = np.array(5, dtype=np.int64)
    loop = helper.make_node("Loop", ["n", "cond", "v0"], ["v_final", "vs"], name="rnn_loop",
                            body=body if body is not None else _loop_body())
    relu = helper.make_node("Relu", ["vs"], ["vs_relu"])
    return _model([loop, relu], inputs,
                  [_info("v_final", TensorProto.FLOAT, [1, 8]), _info("vs_relu", TensorProto.FLOAT, ["trips", 1, 8])], inits)


def _feeds() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {"x": rng.standard_normal((1, 8)).astype(np.float32), "v0": rng.standard_normal((1, 8)).astype(np.float32)}


def _check(model: onnx.ModelProto, feeds: dict[str, np.ndarray], bound: dict[str, int] | None = None) -> None:
    expected = run_onnxruntime(model, {**feeds, **{k: np.array(v, np.int64) for k, v in (bound or {}).items()}})
    runtime = pocketnn.Model(pocketnn.convert(model, bind=bound))
    assert not any(node.op in ("Loop", "Scan") for node in runtime.nodes)
    got = runtime.run(feeds)
    for info, want in zip(model.graph.output, expected):
        np.testing.assert_allclose(got[info.name], want, rtol=1e-5, atol=1e-5, err_msg=info.name)


def test_loop_with_constant_trip_count_matches_onnxruntime() -> None:
    _check(_loop_model(), _feeds())


@pytest.mark.parametrize("trips", [1, 3])
def test_loop_trip_count_from_a_bound_input(trips: int) -> None:
    _check(_loop_model(trip_input=True), _feeds(), bound={"n": trips})


def test_loop_condition_given_as_a_constant_true_in_the_body() -> None:
    body = _loop_body([helper.make_node("Constant", [], ["cond_out"],
                                        value=numpy_helper.from_array(np.array(True), "t"))])
    _check(_loop_model(body=body), _feeds())


def test_nested_loops_unroll_inside_out() -> None:
    """An inner Loop in the body (3 trips of v = v * 0.5 + x) under an outer one of 4:
    the inner one becomes top-level once the outer is unrolled, and is unrolled then."""
    inner_body = helper.make_graph(
        [helper.make_node("Mul", ["u_in", "half"], ["uh"]), helper.make_node("Add", ["uh", "x"], ["u_out"]),
         helper.make_node("Identity", ["c_in"], ["c_out"])], "inner",
        [_info("j", TensorProto.INT64, []), _info("c_in", TensorProto.BOOL, []), _info("u_in", TensorProto.FLOAT, [1, 8])],
        [_info("c_out", TensorProto.BOOL, []), _info("u_out", TensorProto.FLOAT, [1, 8])],
        [numpy_helper.from_array(np.full((1, 8), 0.5, np.float32), "half")])
    outer_body = helper.make_graph(
        [helper.make_node("Loop", ["three", "", "v_in"], ["v_mid"], body=inner_body),
         helper.make_node("Sigmoid", ["v_mid"], ["v_out"]), helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "outer", [_info("i", TensorProto.INT64, []), _info("cond_in", TensorProto.BOOL, []),
                  _info("v_in", TensorProto.FLOAT, [1, 8])],
        [_info("cond_out", TensorProto.BOOL, []), _info("v_out", TensorProto.FLOAT, [1, 8])],
        [numpy_helper.from_array(np.array(3, np.int64), "three")])
    model = _model([helper.make_node("Loop", ["four", "", "v0"], ["y"], name="outer", body=outer_body)],
                   [_info("x", TensorProto.FLOAT, [1, 8]), _info("v0", TensorProto.FLOAT, [1, 8])],
                   [_info("y", TensorProto.FLOAT, [1, 8])], {"four": np.array(4, np.int64)})
    _check(model, _feeds())


@pytest.mark.parametrize(("in_axes", "in_dirs", "out_axes", "out_dirs"), [
    ([0, 0], [0, 0], [0], [0]),
    ([1, 0], [1, 0], [1], [1]),
    ([-1, 0], [0, 1], [-1], [0]),
])
def test_scan_axes_and_directions_match_onnxruntime(in_axes: list[int], in_dirs: list[int],
                                                    out_axes: list[int], out_dirs: list[int]) -> None:
    """Scan over two inputs of length 4 (a [4, 3] or [3, 4] one, read along its scan axis,
    and a [4, 3] one), a running state s = s * a + b and a scan output s * 2."""
    body = helper.make_graph(
        [helper.make_node("Mul", ["s_in", "a"], ["sa"]), helper.make_node("Add", ["sa", "b"], ["s_out"]),
         helper.make_node("Mul", ["s_out", "two"], ["y"])], "scan_body",
        [_info("s_in", TensorProto.FLOAT, [3]), _info("a", TensorProto.FLOAT, [3]), _info("b", TensorProto.FLOAT, [3])],
        [_info("s_out", TensorProto.FLOAT, [3]), _info("y", TensorProto.FLOAT, [3])],
        [numpy_helper.from_array(np.full(3, 2.0, np.float32), "two")])
    a_shape = [4, 3] if in_axes[0] == 0 else [3, 4]
    scan = helper.make_node("Scan", ["s0", "xa", "xb"], ["s_final", "ys"], name="scan", body=body,
                            num_scan_inputs=2, scan_input_axes=in_axes, scan_input_directions=in_dirs,
                            scan_output_axes=out_axes, scan_output_directions=out_dirs)
    model = _model([scan], [_info("s0", TensorProto.FLOAT, [3]), _info("xa", TensorProto.FLOAT, a_shape),
                            _info("xb", TensorProto.FLOAT, [4, 3])],
                   [_info("s_final", TensorProto.FLOAT, [3]), _info("ys", TensorProto.FLOAT, ["d0", "d1"])], {})
    rng = np.random.default_rng(2)
    _check(model, {"s0": rng.standard_normal(3).astype(np.float32),
                   "xa": rng.uniform(-1, 1, a_shape).astype(np.float32),
                   "xb": rng.standard_normal((4, 3)).astype(np.float32)})


def test_loop_on_a_runtime_trip_count_names_the_reason() -> None:
    with pytest.raises(UnsupportedOpError, match=r"Loop x1: node 'rnn_loop' \(Loop\) is not unrolled: its trip "
                                                 r"count 'n' is not a constant \(bind"):
        pocketnn.convert(_loop_model(trip_input=True))


def test_loop_computing_its_condition_is_refused() -> None:
    body = _loop_body([helper.make_node("Less", ["i", "three"], ["cond_out"])])
    body.initializer.append(numpy_helper.from_array(np.array(3, np.int64), "three"))
    with pytest.raises(UnsupportedOpError, match="its body computes the loop condition"):
        pocketnn.convert(_loop_model(body=body))


def test_loop_above_the_unrolling_limit_is_refused() -> None:
    model = _loop_model(trip_input=True)
    trips = UNROLL_NODE_LIMIT // len(model.graph.node[0].attribute[0].g.node) + 1
    with pytest.raises(UnsupportedOpError, match=f"needs {trips} x 7 body nodes, above the unrolling limit"):
        pocketnn.convert(model, bind={"n": trips})
