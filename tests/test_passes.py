"""Passes on the lowered IR: each one alone, and the pipeline's purity.

The functions a pass must preserve are evaluated by onnxruntime on the original ONNX
model and by numpy (or by onnxruntime on a model rebuilt from the rewritten weights) on
the pass's output.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np
import onnx
import pytest
from onnx import helper

from pocketnn.format.opcodes import ACTIVATIONS
from pocketnn.frontend import import_onnx
from pocketnn.ir import DType, Graph, Node, Tensor
from pocketnn.passes import (
    PIPELINE,
    fold_batchnorm,
    fold_bias,
    fold_constants,
    fuse_activations,
    remove_dead_nodes,
    remove_identity,
    run_passes,
)
from support import make_model
from support import run_onnxruntime as run_ort

RNG = np.random.default_rng(1)


def ops(graph: Graph) -> list[str]:
    return [n.op for n in graph.nodes]


def bn_inits(channels: int) -> dict[str, np.ndarray]:
    return {
        "scale": RNG.uniform(0.5, 2.0, channels).astype(np.float32),
        "bias": RNG.standard_normal(channels).astype(np.float32),
        "mean": RNG.standard_normal(channels).astype(np.float32),
        "var": RNG.uniform(0.1, 2.0, channels).astype(np.float32),
    }


def numpy_conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray, pads: Sequence[int]) -> np.ndarray:
    """Direct stride-1, group-1 convolution in float64."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    m, _, kh, kw = w.shape
    oh, ow = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    y = np.zeros((x.shape[0], m, oh, ow))
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("nchw,mc->nmhw", xp[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return y + b.reshape(1, -1, 1, 1)


# ---- fold_batchnorm ---------------------------------------------------------------

def test_fold_batchnorm_into_conv_matches_onnxruntime() -> None:
    w = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
    cb = RNG.standard_normal(4).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "cb"], ["c"], pads=[1, 0, 1, 2]),
             helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"],
                              epsilon=1e-3)]
    model = make_model(nodes, {"x": [2, 3, 6, 5]}, ["y"], {"w": w, "cb": cb, **bn_inits(4)})
    folded = fold_batchnorm(import_onnx(model))
    assert ops(folded) == ["Conv"]
    conv = folded.nodes[0]
    assert conv.outputs == ["y"]
    x = RNG.standard_normal((2, 3, 6, 5)).astype(np.float32)
    got = numpy_conv2d(x, folded.constant(conv.inputs[1]), folded.constant(conv.inputs[2]),
                       conv.attrs["pads"])  # type: ignore[arg-type]
    np.testing.assert_allclose(got, run_ort(model, {"x": x})[0], rtol=1e-4, atol=1e-4)


def test_fold_batchnorm_into_grouped_conv_transpose() -> None:
    w = RNG.standard_normal((4, 3, 2, 2)).astype(np.float32)  # C=4, group 2 -> M = 6
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["c"], group=2, strides=[2, 2]),
             helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"])]
    model = make_model(nodes, {"x": [1, 4, 3, 3]}, ["y"], {"w": w, **bn_inits(6)})
    folded = fold_batchnorm(import_onnx(model))
    assert ops(folded) == ["ConvTranspose"]
    ct = folded.nodes[0]
    rebuilt = make_model([helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], group=2,
                                           strides=[2, 2])],
                         {"x": [1, 4, 3, 3]}, ["y"],
                         {"w": folded.constant(ct.inputs[1]), "b": folded.constant(ct.inputs[2])})
    x = RNG.standard_normal((1, 4, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(run_ort(rebuilt, {"x": x})[0], run_ort(model, {"x": x})[0],
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("op", ["Gemm", "MatMul"])
def test_fold_batchnorm_into_gemm_and_matmul(op: str) -> None:
    if op == "Gemm":
        b = RNG.standard_normal((5, 3)).astype(np.float32)
        first = helper.make_node("Gemm", ["x", "b", "c"], ["g"], transB=1, alpha=0.5, beta=2.0)
        inits = {"b": b, "c": RNG.standard_normal(5).astype(np.float32)}
    else:
        b = RNG.standard_normal((3, 5)).astype(np.float32)
        first = helper.make_node("MatMul", ["x", "b"], ["g"])
        inits = {"b": b}
    nodes = [first, helper.make_node("BatchNormalization", ["g", "scale", "bias", "mean", "var"],
                                     ["y"])]
    model = make_model(nodes, {"x": [4, 3]}, ["y"], {**inits, **bn_inits(5)})
    folded = fold_batchnorm(import_onnx(model))
    assert ops(folded) == [op]
    node = folded.nodes[0]
    x = RNG.standard_normal((4, 3)).astype(np.float64)
    w = folded.constant(node.inputs[1]).astype(np.float64)
    bias = folded.constant(node.inputs[2]).astype(np.float64)
    if op == "Gemm":
        assert node.attrs["beta"] == 1.0
        got = float(node.attrs["alpha"]) * (x @ w.T) + bias  # type: ignore[arg-type]
    else:
        got = x @ w + bias
    np.testing.assert_allclose(got, run_ort(model, {"x": x.astype(np.float32)})[0],
                               rtol=1e-4, atol=1e-4)


def test_batchnorm_stays_when_producer_is_shared_or_not_foldable() -> None:
    w = RNG.standard_normal((2, 2, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["y"]),
             helper.make_node("Relu", ["c"], ["z"]),
             helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["u"])]
    model = make_model(nodes, {"x": [1, 2, 3, 3]}, ["y", "z", "u"], {"w": w, **bn_inits(2)})
    folded = fold_batchnorm(import_onnx(model))
    assert ops(folded).count("BatchNormalization") == 2


# ---- fuse_activations -----------------------------------------------------------

@pytest.mark.parametrize("act_node,expected", [
    (helper.make_node("Relu", ["c"], ["y"]), {"act": 1}),
    (helper.make_node("Clip", ["c", "lo", "hi"], ["y"]), {"act": 2, "act_alpha": 0.0, "act_beta": 6.0}),
    (helper.make_node("LeakyRelu", ["c"], ["y"], alpha=0.2), {"act": 3, "act_alpha": 0.2}),
    (helper.make_node("Sigmoid", ["c"], ["y"]), {"act": 4}),
    (helper.make_node("HardSigmoid", ["c"], ["y"]), {"act": 5, "act_alpha": 0.2, "act_beta": 0.5}),
    (helper.make_node("HardSwish", ["c"], ["y"]), {"act": 6}),
    (helper.make_node("Tanh", ["c"], ["y"]), {"act": 7}),
])
def test_fuse_activation_attrs(act_node: onnx.NodeProto, expected: dict[str, Any]) -> None:
    w = RNG.standard_normal((2, 2, 1, 1)).astype(np.float32)
    inits = {"w": w, "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}
    model = make_model([helper.make_node("Conv", ["x", "w"], ["c"]), act_node],
                       {"x": [1, 2, 2, 2]}, ["y"], inits)
    fused = fuse_activations(import_onnx(model))
    assert ops(fused) == ["Conv"]
    conv = fused.nodes[0]
    assert conv.outputs == ["y"]
    for key, value in expected.items():
        assert conv.attrs[key] == pytest.approx(value)
    assert "c" not in fused.tensors


@pytest.mark.parametrize("op", ["ConvTranspose", "Gemm", "MatMul", "Add", "Mul"])
def test_fuse_into_each_fusing_op(op: str) -> None:
    w2 = RNG.standard_normal((3, 3)).astype(np.float32)
    if op == "ConvTranspose":
        first = helper.make_node(op, ["x4", "w4"], ["c"])
        inputs = {"x4": [1, 3, 2, 2]}
    elif op in ("Add", "Mul"):
        first = helper.make_node(op, ["x2", "x2b"], ["c"])
        inputs = {"x2": [2, 3], "x2b": [2, 3]}
    else:
        first = helper.make_node(op, ["x2", "w2"], ["c"])
        inputs = {"x2": [2, 3]}
    model = make_model([first, helper.make_node("Relu", ["c"], ["y"])], inputs, ["y"],
                       {"w2": w2, "w4": RNG.standard_normal((3, 3, 1, 1)).astype(np.float32)})
    fused = fuse_activations(import_onnx(model))
    assert ops(fused) == [op] and fused.nodes[0].attrs["act"] == 1


@pytest.mark.parametrize("order", ["x_first", "sigmoid_first"])
def test_swish_fused_as_activation(order: str) -> None:
    """Conv -> Sigmoid -> Mul(conv, sigmoid) becomes one Conv with act swish (8), and
    the fused graph computes what onnxruntime computes on the original."""
    w = RNG.standard_normal((3, 2, 1, 1)).astype(np.float32)
    mul_inputs = ["c", "s"] if order == "x_first" else ["s", "c"]
    model = make_model([helper.make_node("Conv", ["x", "w"], ["c"]),
                        helper.make_node("Sigmoid", ["c"], ["s"]),
                        helper.make_node("Mul", mul_inputs, ["y"])],
                       {"x": [1, 2, 3, 3]}, ["y"], {"w": w})
    fused = fuse_activations(import_onnx(model))
    assert ops(fused) == ["Conv"]
    conv = fused.nodes[0]
    assert conv.outputs == ["y"] and conv.attrs["act"] == 8
    assert "c" not in fused.tensors and "s" not in fused.tensors
    x = RNG.standard_normal((1, 2, 3, 3)).astype(np.float32)
    pre = numpy_conv2d(x, w, np.zeros(3, np.float32), [0, 0, 0, 0])
    np.testing.assert_allclose(pre / (1 + np.exp(-pre)), run_ort(model, {"x": x})[0], rtol=1e-5, atol=1e-6)


def test_swish_not_fused_when_conv_output_is_read_elsewhere() -> None:
    w = RNG.standard_normal((2, 2, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Sigmoid", ["c"], ["s"]),
             helper.make_node("Mul", ["c", "s"], ["y"]),
             helper.make_node("Neg", ["c"], ["z"])]
    model = make_model(nodes, {"x": [1, 2, 2, 2]}, ["y", "z"], {"w": w})
    assert ops(fuse_activations(import_onnx(model))) == ["Conv", "Sigmoid", "Mul", "Neg"]
    gated = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Sigmoid", ["c"], ["s"]),
             helper.make_node("Mul", ["x", "s"], ["y"])]  # a gate on another tensor: plain sigmoid
    fused = fuse_activations(import_onnx(make_model(gated, {"x": [1, 2, 2, 2]}, ["y"], {"w": w})))
    assert ops(fused) == ["Conv", "Mul"] and fused.nodes[0].attrs["act"] == 4


def test_fusion_refused_for_multiple_consumers_graph_output_or_existing_act() -> None:
    w = RNG.standard_normal((2, 2, 1, 1)).astype(np.float32)
    shared = make_model([helper.make_node("Conv", ["x", "w"], ["c"]),
                         helper.make_node("Relu", ["c"], ["y"]),
                         helper.make_node("Neg", ["c"], ["z"])],
                        {"x": [1, 2, 2, 2]}, ["y", "z"], {"w": w})
    assert ops(fuse_activations(import_onnx(shared))) == ["Conv", "Relu", "Neg"]
    as_output = make_model([helper.make_node("Conv", ["x", "w"], ["c"]),
                            helper.make_node("Relu", ["c"], ["y"])],
                           {"x": [1, 2, 2, 2]}, ["y", "c"], {"w": w})
    assert ops(fuse_activations(import_onnx(as_output))) == ["Conv", "Relu"]
    twice = make_model([helper.make_node("Conv", ["x", "w"], ["c"]),
                        helper.make_node("Relu", ["c"], ["r"]),
                        helper.make_node("Sigmoid", ["r"], ["y"])],
                       {"x": [1, 2, 2, 2]}, ["y"], {"w": w})
    fused = fuse_activations(import_onnx(twice))
    assert ops(fused) == ["Conv", "Sigmoid"] and fused.nodes[0].attrs["act"] == 1
    not_fusing = make_model([helper.make_node("Sub", ["x", "x"], ["c"]),
                             helper.make_node("Relu", ["c"], ["y"])], {"x": [2]}, ["y"])
    assert ops(fuse_activations(import_onnx(not_fusing))) == ["Sub", "Relu"]


# ---- fold_bias, fold_constants, remove_dead, remove_identity -------------------------

def test_matmul_add_becomes_bias_and_matches_onnxruntime() -> None:
    b = RNG.standard_normal((3, 4)).astype(np.float32)
    bias = RNG.standard_normal((1, 4)).astype(np.float32)
    model = make_model([helper.make_node("MatMul", ["x", "b"], ["m"]),
                        helper.make_node("Add", ["bias", "m"], ["y"])],
                       {"x": [2, 5, 3]}, ["y"], {"b": b, "bias": bias})
    folded = fold_bias(import_onnx(model))
    assert ops(folded) == ["MatMul"]
    mm = folded.nodes[0]
    vec = folded.constant(mm.inputs[2])
    assert vec.shape == (4,)
    x = RNG.standard_normal((2, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(x @ b + vec, run_ort(model, {"x": x})[0], rtol=1e-5, atol=1e-5)


def test_matmul_add_that_broadcasts_more_is_not_folded() -> None:
    b = RNG.standard_normal((3, 4)).astype(np.float32)
    model = make_model([helper.make_node("MatMul", ["x", "b"], ["m"]),
                        helper.make_node("Add", ["m", "c"], ["y"])],
                       {"x": [2, 3]}, ["y"], {"b": b, "c": np.ones((2, 1), np.float32)})
    assert ops(fold_bias(import_onnx(model))) == ["MatMul", "Add"]


def test_nothing_but_a_clamp_fuses_across_a_rounding_point() -> None:
    """A value a QDQ model rounds (ir.Graph.rounding_points) stays observable: no bias
    folds into its MatMul and no Tanh fuses into it; a ReLU still does (exact on the
    rounded value)."""
    w = RNG.standard_normal((3, 4)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "bias"], ["a"]),
             helper.make_node("MatMul", ["a", "w2"], ["n"]), helper.make_node("Tanh", ["n"], ["t"]),
             helper.make_node("MatMul", ["t", "w2"], ["r"]), helper.make_node("Relu", ["r"], ["y"])]
    model = make_model(nodes, {"x": [2, 5, 3]}, ["y"],
                       {"w": w, "bias": np.ones(4, np.float32), "w2": np.eye(4, dtype=np.float32)})
    graph = import_onnx(model)
    graph.rounding_points = frozenset({"m", "n", "r"})
    fused = fuse_activations(fold_bias(graph))
    assert ops(fused) == ["MatMul", "Add", "MatMul", "Tanh", "MatMul"]
    assert fused.nodes[-1].attrs["act"] == ACTIVATIONS["relu"]
    graph.rounding_points = frozenset()
    assert ops(fuse_activations(fold_bias(graph))) == ["MatMul", "MatMul", "MatMul"]


def test_gemm_add_merges_into_c() -> None:
    b = RNG.standard_normal((3, 4)).astype(np.float32)
    c = RNG.standard_normal(4).astype(np.float32)
    d = RNG.standard_normal((2, 4)).astype(np.float32)
    model = make_model([helper.make_node("Gemm", ["x", "b", "c"], ["g"], beta=0.5),
                        helper.make_node("Add", ["g", "d"], ["y"])],
                       {"x": [2, 3]}, ["y"], {"b": b, "c": c, "d": d})
    folded = fold_bias(import_onnx(model))
    assert ops(folded) == ["Gemm"]
    gemm = folded.nodes[0]
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    got = x @ b + float(gemm.attrs["beta"]) * folded.constant(gemm.inputs[2])  # type: ignore[arg-type]
    np.testing.assert_allclose(got, run_ort(model, {"x": x})[0], rtol=1e-5, atol=1e-5)


def _graph(nodes: list[Node], tensors: list[Tensor], inputs: list[str], outputs: list[str]) -> Graph:
    return Graph({t.name: t for t in tensors}, nodes, inputs, outputs)


def f32(name: str, shape: tuple[int, ...], data: np.ndarray | None = None) -> Tensor:
    return Tensor(name, DType.F32, shape, data)


def test_fold_constants_evaluates_constant_subgraphs() -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    graph = _graph(
        [Node("Transpose", "t", ["a"], ["at"], {"perm": [1, 0]}),
         Node("Relu", "r", ["at"], ["ar"]),
         Node("Add", "add", ["x", "ar"], ["y"])],
        [f32("a", (2, 3), a - 2), f32("at", (3, 2)), f32("ar", (3, 2)), f32("x", (3, 2)),
         f32("y", (3, 2))], ["x"], ["y"])
    folded = fold_constants(graph)
    assert ops(folded) == ["Add"]
    np.testing.assert_array_equal(folded.constant("ar"), np.maximum((a - 2).T, 0))
    assert folded.constant("ar").dtype == np.float32
    assert "a" not in folded.tensors


def test_remove_dead_nodes_drops_unreachable_nodes_and_constants() -> None:
    graph = _graph(
        [Node("Relu", "live", ["x"], ["y"]),
         Node("Mul", "dead", ["x", "k"], ["d"])],
        [f32("x", (2,)), f32("y", (2,)), f32("d", (2,)), f32("k", (2,), np.ones(2, np.float32))],
        ["x"], ["y"])
    cleaned = remove_dead_nodes(graph)
    assert ops(cleaned) == ["Relu"]
    assert set(cleaned.tensors) == {"x", "y"}


def test_remove_identity_keeps_only_aliasing_copies() -> None:
    graph = _graph(
        [Node("Relu", "r", ["x"], ["a"]),
         Node("Identity", "i1", ["a"], ["b"]),        # intermediate: removed
         Node("Neg", "n", ["b"], ["c"]),
         Node("Identity", "i2", ["c"], ["out1"]),     # producer renamed to write out1
         Node("Identity", "i3", ["x"], ["out2"]),     # aliases a graph input: kept
         Node("Identity", "i4", ["out1"], ["out3"])],  # aliases another output: kept
        [f32(n, (2,)) for n in ["x", "a", "b", "c", "out1", "out2", "out3"]],
        ["x"], ["out1", "out2", "out3"])
    cleaned = remove_identity(graph)
    assert ops(cleaned) == ["Relu", "Neg", "Identity", "Identity"]
    neg = cleaned.nodes[1]
    assert neg.inputs == ["a"] and neg.outputs == ["out1"]
    assert [n.inputs for n in cleaned.nodes[2:]] == [["x"], ["out1"]]


def test_passes_do_not_mutate_their_input_and_pipeline_preserves_function() -> None:
    w = RNG.standard_normal((3, 2, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["bn"]),
             helper.make_node("Clip", ["bn", "lo", "hi"], ["r"]),
             helper.make_node("Identity", ["r"], ["y"])]
    model = make_model(nodes, {"x": [1, 2, 4, 4]}, ["y"],
                       {"w": w, "lo": np.array(0, np.float32), "hi": np.array(6, np.float32),
                        **bn_inits(3)})
    graph = import_onnx(model)
    snapshot = copy.deepcopy(graph)
    for pass_fn in PIPELINE:
        pass_fn(graph)
    assert [(n.op, n.inputs, n.outputs, n.attrs) for n in graph.nodes] == \
        [(n.op, n.inputs, n.outputs, n.attrs) for n in snapshot.nodes]
    assert set(graph.tensors) == set(snapshot.tensors)
    for name, t in graph.tensors.items():
        if t.data is not None:
            np.testing.assert_array_equal(t.data, snapshot.tensors[name].data)
    final = run_passes(graph)
    assert ops(final) == ["Conv"]
    conv = final.nodes[0]
    assert conv.outputs == ["y"] and conv.attrs["act"] == 2
    x = RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)
    ref = numpy_conv2d(x, final.constant(conv.inputs[1]), final.constant(conv.inputs[2]),
                       conv.attrs["pads"])  # type: ignore[arg-type]
    got = np.clip(ref, conv.attrs["act_alpha"], conv.attrs["act_beta"])  # type: ignore[arg-type]
    np.testing.assert_allclose(got, run_ort(model, {"x": x})[0], rtol=1e-4, atol=1e-4)
