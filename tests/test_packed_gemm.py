"""Gemm and MatMul with a constant B and more than one row run on B packed once at
load into the packed-panel kernel's layout (runtime/src/ops/packed_gemm.c): an LSTM's
input projection, its recurrence at batch > 1, a dense head over a sequence. Against
onnxruntime on every ISA path the host runs (awkward sizes: one row, one column, panel
tails, K of 1, alpha, C as a column, a row or a scalar, fused activations)."""

from __future__ import annotations

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from support import run_onnxruntime

ISAS = ("scalar", "avx2", "avx512")
# The packed path exists where the packed-panel kernel has SIMD variants.
PACKED_ISAS = ("avx2", "avx512")


@pytest.fixture(params=ISAS)
def isa(request, monkeypatch) -> str:
    """PNN_ISA caps the kernels; a path the host cannot run is skipped, named."""
    monkeypatch.setenv("PNN_ISA", request.param)
    try:
        pocketnn.Model(pocketnn.convert(_model("MatMul", 2, 3, 4)))
    except pocketnn.NativeError as error:
        pytest.skip(f"ISA path {request.param!r} not run on this host: {error.message}")
    return request.param


def _model(op: str, rows: int, k: int, n: int, trans_b: int = 0, alpha: float = 1.0,
           c_shape: tuple[int, ...] | None = None, activation: str | None = None) -> onnx.ModelProto:
    rng = np.random.default_rng(rows * 1000 + k * 10 + n)
    b_shape = (n, k) if trans_b else (k, n)
    inits = [numpy_helper.from_array(rng.standard_normal(b_shape).astype(np.float32), "b")]
    inputs = ["a", "b"]
    attrs: dict[str, object] = {}
    if op == "Gemm":
        attrs = {"transB": trans_b, "alpha": alpha}
        if c_shape is not None:
            inits.append(numpy_helper.from_array(rng.standard_normal(c_shape).astype(np.float32), "c"))
            inputs.append("c")
    nodes = [helper.make_node(op, inputs, ["y" if activation is None else "t"], **attrs)]
    if op == "MatMul" and c_shape is not None:  # a bias the converter folds into the MatMul
        inits.append(numpy_helper.from_array(rng.standard_normal(c_shape).astype(np.float32), "c"))
        nodes = [helper.make_node(op, inputs, ["p"]), helper.make_node("Add", ["p", "c"], [nodes[0].output[0]])]
    if activation is not None:
        nodes.append(helper.make_node(activation, ["t"], ["y"]))
    graph = helper.make_graph(nodes, op, [helper.make_tensor_value_info("a", TensorProto.FLOAT, [rows, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, n])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _check(model: onnx.ModelProto, isa: str) -> None:
    rows, k = (d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim)
    a = np.random.default_rng(3).standard_normal((rows, k)).astype(np.float32)
    runtime = pocketnn.Model(pocketnn.convert(model))
    ours = runtime.run({"a": a})["y"]
    np.testing.assert_allclose(ours, run_onnxruntime(model, {"a": a})[0], rtol=1e-4, atol=1e-4 * np.sqrt(k))
    product = next(node for node in runtime.nodes if node.op == model.graph.node[0].op_type)
    if rows > 1 and isa in PACKED_ISAS:
        assert product.kernel == f"packed/{isa}"


@pytest.mark.parametrize("rows", [2, 3, 20])
@pytest.mark.parametrize("k, n", [(1, 1), (5, 17), (300, 33), (37, 100)])
def test_matmul_constant_b(isa: str, rows: int, k: int, n: int) -> None:
    _check(_model("MatMul", rows, k, n), isa)


@pytest.mark.parametrize("rows", [2, 15])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("c_shape", [None, (1,), (65,), (1, 65), "rows"])
def test_gemm_constant_b(isa: str, rows: int, trans_b: int, c_shape: object) -> None:
    shape = (rows, 1) if c_shape == "rows" else c_shape
    _check(_model("Gemm", rows, 19, 65, trans_b=trans_b, alpha=0.75, c_shape=shape), isa)  # type: ignore[arg-type]


@pytest.mark.parametrize("activation", ["Relu", "Sigmoid", "Tanh"])
@pytest.mark.parametrize("op", ["Gemm", "MatMul"])
def test_fused_activation(isa: str, op: str, activation: str) -> None:
    c_shape = (40,)
    _check(_model(op, 4, 23, 40, trans_b=1 if op == "Gemm" else 0, c_shape=c_shape, activation=activation), isa)


def test_lstm_at_batch_three_runs_its_steps_packed(isa: str) -> None:
    """The recurrence of an LSTM at batch 3 and its input projection take the packed path,
    fused (one LSTM node) or unrolled (peepholes: a Gemm per step on the constant R); the
    outputs match onnxruntime."""
    from test_recurrent import check_against_onnxruntime, recurrent_model

    for peepholes, ops in ((False, ("LSTM",)), (True, ("Gemm", "MatMul"))):
        model = recurrent_model("LSTM", "bidirectional", batch=3, hidden=17, peepholes=peepholes)
        check_against_onnxruntime(model)
        if isa in PACKED_ISAS:
            runtime = pocketnn.Model(pocketnn.convert(model))
            kernels = {node.kernel for node in runtime.nodes if node.op in ops}
            assert kernels == {f"packed/{isa}"}, (peepholes, kernels)
