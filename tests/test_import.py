"""ONNX import and lowering (docs/OPS.md): static shapes, folding, attribute resolution.

Numerics are checked against onnxruntime: either the lowered attributes are fed back to
onnxruntime as an explicit-attribute model, or they are applied with plain numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from pocketnn.errors import UnsupportedOpError
from pocketnn.frontend import import_onnx
from pocketnn.ir import DType, Graph, Node
from support import make_model
from support import run_onnxruntime as run_ort

RNG = np.random.default_rng(0)


def ops(graph: Graph) -> list[str]:
    return [n.op for n in graph.nodes]


def only_node(graph: Graph, op: str) -> Node:
    found = [n for n in graph.nodes if n.op == op]
    assert len(found) == 1, ops(graph)
    return found[0]


# ---- static shapes and folding ---------------------------------------------------------

def test_shape_chain_folds_to_constant_reshape() -> None:
    nodes = [
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Gather", ["sh", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    inits = {"zero": np.array(0, np.int64), "axes0": np.array([0], np.int64),
             "minus1": np.array([-1], np.int64)}
    model = make_model(nodes, {"x": ["batch", 3, 4, 5]}, ["y"], inits)
    graph = import_onnx(model, input_shapes={"x": (2, 3, 4, 5)})
    assert ops(graph) == ["Reshape"]
    reshape = graph.nodes[0]
    assert reshape.inputs == ["x"]
    assert graph.tensors["y"].shape == (2, 60)
    assert all(t.dtype == DType.F32 for t in graph.tensors.values())


def test_constant_of_shape_and_range_fold() -> None:
    nodes = [
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("ConstantOfShape", ["sh"], ["ones"],
                         value=numpy_helper.from_array(np.array([1.5], np.float32))),
        helper.make_node("Range", ["r0", "r1", "r2"], ["rng"]),
        helper.make_node("Cast", ["rng"], ["rngf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["x", "ones"], ["m"]),
        helper.make_node("Add", ["m", "rngf"], ["y"]),
    ]
    inits = {"r0": np.array(0, np.int64), "r1": np.array(4, np.int64), "r2": np.array(1, np.int64)}
    model = make_model(nodes, {"x": [2, 4]}, ["y"], inits)
    graph = import_onnx(model)
    assert ops(graph) == ["Mul", "Add"]
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    add = only_node(graph, "Add")
    np.testing.assert_allclose(graph.constant(add.inputs[1]), np.arange(4, dtype=np.float32))
    assert graph.constant(graph.nodes[0].inputs[1]).shape == (2, 4)
    assert run_ort(model, {"x": x})[0].shape == (2, 4)


def test_symbolic_dims_default_to_one_and_declared_outputs_are_ignored() -> None:
    node = helper.make_node("Relu", ["x"], ["y"])
    graph_proto = helper.make_graph(
        [node], "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [7, 7, 7])])  # wrong on purpose
    model = helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 17)])
    graph = import_onnx(model)
    assert graph.tensors["x"].shape == (1, 3)
    assert graph.tensors["y"].shape == (1, 3)


def test_initializer_that_is_also_an_input_is_a_constant() -> None:
    node = helper.make_node("Add", ["x", "b"], ["y"])
    graph_proto = helper.make_graph(
        [node], "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.array([1, 2], np.float32), "b")])
    model = helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 13)])
    graph = import_onnx(model)
    assert graph.inputs == ["x"]
    assert graph.tensors["b"].is_constant


def test_unknown_input_shape_name_is_an_error() -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [1]}, ["y"])
    with pytest.raises(Exception, match="unknown inputs"):
        import_onnx(model, input_shapes={"nope": (1,)})


def test_runtime_values_of_a_type_the_runtime_lacks_are_refused() -> None:
    nodes = [helper.make_node("Cast", ["x"], ["xd"], to=TensorProto.DOUBLE, name="widen"),
             helper.make_node("Cast", ["xd"], ["y"], to=TensorProto.FLOAT)]
    model = make_model(nodes, {"x": [3]}, ["y"])
    with pytest.raises(UnsupportedOpError, match="'widen'.*F64.*runtime values are BOOL, F16, F32"):
        import_onnx(model)


def test_runtime_integer_values_are_kept() -> None:
    nodes = [helper.make_node("Cast", ["x"], ["xi"], to=TensorProto.INT64),
             helper.make_node("Cast", ["xi"], ["y"], to=TensorProto.FLOAT)]
    graph = import_onnx(make_model(nodes, {"x": [3]}, ["y"]))
    assert [n.op for n in graph.nodes] == ["Cast", "Cast"]
    assert graph.tensors["xi"].dtype == DType.S64


def test_unsupported_op_error_names_node_op_and_supported_list() -> None:
    node = helper.make_node("Einsum", ["x", "x"], ["y"], equation="ij,ij->ij", name="my_einsum")
    model = make_model([node], {"x": [2, 2]}, ["y"])
    with pytest.raises(UnsupportedOpError) as info:
        import_onnx(model)
    text = str(info.value)
    assert "my_einsum" in text and "Einsum" in text
    assert "Conv" in text and "Resize" in text  # the list of supported ops


def test_every_unsupported_op_is_listed_at_once() -> None:
    nodes = [helper.make_node("Einsum", ["x", "x"], ["a"], equation="ij,ij->ij", name="e1"),
             helper.make_node("Einsum", ["a", "x"], ["b"], equation="ij,ij->ij", name="e2"),
             helper.make_node("Hardmax", ["b"], ["y"], name="hm")]
    model = make_model(nodes, {"x": [2, 2]}, ["y"])
    with pytest.raises(UnsupportedOpError) as info:
        import_onnx(model)
    text = str(info.value)
    assert "3 node(s) of 2 op type(s)" in text
    assert "Einsum x2: node 'e1'; node 'e2'" in text and "Hardmax x1: node 'hm'" in text


def test_unsupported_attribute_error_names_value_and_supported() -> None:
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="cubic", name="rs")
    model = make_model([node], {"x": [1, 1, 2, 2]}, ["y"],
                       {"scales": np.array([1, 1, 2, 2], np.float32)}, opset=13)
    with pytest.raises(UnsupportedOpError) as info:
        import_onnx(model)
    text = str(info.value)
    assert "rs" in text and "cubic" in text and "nearest" in text and "linear" in text


def test_dead_branches_do_not_need_to_be_supported() -> None:
    nodes = [helper.make_node("Einsum", ["x", "x"], ["dead"], equation="ij,ij->ij"),
             helper.make_node("Relu", ["x"], ["y"])]
    graph = import_onnx(make_model(nodes, {"x": [2, 2]}, ["y"]))
    assert ops(graph) == ["Relu"]


def test_constant_graph_output_is_copied_by_identity() -> None:
    nodes = [helper.make_node("Constant", [], ["c"],
                              value=numpy_helper.from_array(np.ones((2,), np.float32))),
             helper.make_node("Relu", ["x"], ["y"])]
    graph = import_onnx(make_model(nodes, {"x": [2]}, ["y", "c"]))
    ident = only_node(graph, "Identity")
    assert ident.outputs == ["c"] and graph.tensors[ident.inputs[0]].is_constant
    assert not graph.tensors["c"].is_constant


# ---- convolutions and pools -------------------------------------------------------------

def _explicit_conv_model(node: Node, x_shape: tuple[int, ...], w: np.ndarray, k: int) -> onnx.ModelProto:
    """An ONNX Conv/ConvTranspose/pool with the lowered (explicit) attributes."""
    a = node.attrs
    strides, dil = list(a["strides"]), list(a["dilations"])  # type: ignore[arg-type]
    pads = list(a["pads"])  # type: ignore[arg-type]
    if k == 1:  # back to 1-D ONNX form
        strides, dil, pads = strides[1:], dil[1:], [pads[1], pads[3]]
    kwargs: dict[str, Any] = {"strides": strides, "dilations": dil, "pads": pads}
    if node.op in ("Conv", "ConvTranspose"):
        kwargs["group"] = a["group"]
    if node.op == "ConvTranspose":
        kwargs["output_padding"] = list(a["output_padding"])[-k:]  # type: ignore[arg-type]
    n = helper.make_node(node.op, ["x", "w"], ["y"], **kwargs)
    return make_model([n], {"x": list(x_shape)}, ["y"], {"w": w})


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
@pytest.mark.parametrize("size", [7, 8])
@pytest.mark.parametrize("kernel", [2, 3])
def test_conv_auto_pad_same_stride_2(auto_pad: str, size: int, kernel: int) -> None:
    x_shape = (1, 2, size, size + 1)
    w = RNG.standard_normal((3, 2, kernel, kernel)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], auto_pad=auto_pad, strides=[2, 2])
    model = make_model([node], {"x": list(x_shape)}, ["y"], {"w": w})
    conv = only_node(import_onnx(model), "Conv")
    pads = conv.attrs["pads"]
    # expected: total = max(0, (ceil(in/2)-1)*2 + k - in), odd pixel at the end for UPPER
    expected = []
    for in_size in (size, size + 1):
        total = max(0, (-(-in_size // 2) - 1) * 2 + kernel - in_size)
        small, big = total // 2, total - total // 2
        expected.append((small, big) if auto_pad == "SAME_UPPER" else (big, small))
    assert pads == [expected[0][0], expected[1][0], expected[0][1], expected[1][1]]
    x = RNG.standard_normal(x_shape).astype(np.float32)
    want = run_ort(model, {"x": x})[0]
    got = run_ort(_explicit_conv_model(conv, x_shape, w, 2), {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv_1d_becomes_2d_attribute_form() -> None:
    w = RNG.standard_normal((4, 2, 3)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], strides=[2], pads=[1, 2], dilations=[2])
    model = make_model([node], {"x": [1, 2, 11]}, ["y"], {"w": w})
    graph = import_onnx(model)
    conv = only_node(graph, "Conv")
    assert conv.attrs == {"group": 1, "strides": [1, 2], "dilations": [1, 2], "pads": [0, 1, 0, 2]}
    assert graph.tensors["x"].shape == (1, 2, 11) and graph.tensors["w"].shape == (4, 2, 3)
    x = RNG.standard_normal((1, 2, 11)).astype(np.float32)
    np.testing.assert_allclose(run_ort(_explicit_conv_model(conv, (1, 2, 11), w, 1), {"x": x})[0],
                               run_ort(model, {"x": x})[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("auto_pad,use_output_shape", [
    ("NOTSET", True), ("SAME_UPPER", True), ("SAME_LOWER", True), ("SAME_UPPER", False), ("SAME_LOWER", False),
])
def test_conv_transpose_output_shape_and_auto_pad(auto_pad: str, use_output_shape: bool) -> None:
    x_shape = (1, 4, 5, 4)
    w = RNG.standard_normal((4, 3, 3, 4)).astype(np.float32)  # group 2 -> M = 6
    kwargs: dict[str, Any] = {"strides": [2, 2], "group": 2, "auto_pad": auto_pad}
    if use_output_shape:
        kwargs["output_shape"] = [10, 9]
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], **kwargs)
    model = make_model([node], {"x": list(x_shape)}, ["y"], {"w": w})
    lowered = only_node(import_onnx(model), "ConvTranspose")
    x = RNG.standard_normal(x_shape).astype(np.float32)
    want = run_ort(model, {"x": x})[0]
    got = run_ort(_explicit_conv_model(lowered, x_shape, w, 2), {"x": x})[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_same_lower_and_1d(op: str) -> None:
    node = helper.make_node(op, ["x"], ["y"], kernel_shape=[3, 2], strides=[2, 2],
                            auto_pad="SAME_LOWER")
    model = make_model([node], {"x": [1, 2, 7, 6]}, ["y"])
    pool = only_node(import_onnx(model), op)
    assert pool.attrs["kernel"] == [3, 2]
    assert pool.attrs["pads"] == [1, 0, 1, 0]
    node1 = helper.make_node(op, ["x"], ["y"], kernel_shape=[3], strides=[2], pads=[1, 1])
    pool1 = only_node(import_onnx(make_model([node1], {"x": [1, 2, 9]}, ["y"])), op)
    assert pool1.attrs["kernel"] == [1, 3] and pool1.attrs["pads"] == [0, 1, 0, 1]
    assert pool1.attrs["strides"] == [1, 2]


# ---- tensor ops ----------------------------------------------------------------------

def _apply_slice(x: np.ndarray, node: Node, out_shape: tuple[int, ...]) -> np.ndarray:
    """docs/OPS.md: out[i] = X[starts + i*steps], per dimension."""
    idx = [np.arange(n) * step + start
           for start, step, n in zip(node.attrs["starts"], node.attrs["steps"], out_shape)]  # type: ignore[arg-type]
    return x[np.ix_(*idx)]


@pytest.mark.parametrize("starts,ends,axes,steps", [
    ([-3, 1], [1000, -1], [2, 1], [1, 1]),
    ([-1], [-1000], [0], [-1]),
    ([5, -100], [-8, 100], [2, 1], [-2, 3]),
    ([0], [2**62], [-1], [2]),
    ([10], [0], [2], [-3]),
])
def test_slice_negative_clamped_and_steps(starts: list[int], ends: list[int], axes: list[int],
                                          steps: list[int]) -> None:
    inits = {"s": np.array(starts, np.int64), "e": np.array(ends, np.int64),
             "a": np.array(axes, np.int64), "st": np.array(steps, np.int64)}
    node = helper.make_node("Slice", ["x", "s", "e", "a", "st"], ["y"])
    model = make_model([node], {"x": [3, 5, 8]}, ["y"], inits)
    graph = import_onnx(model)
    sl = only_node(graph, "Slice")
    assert len(sl.attrs["starts"]) == 3 and len(sl.attrs["steps"]) == 3  # type: ignore[arg-type]
    x = RNG.standard_normal((3, 5, 8)).astype(np.float32)
    want = run_ort(model, {"x": x})[0]
    assert graph.tensors["y"].shape == want.shape
    np.testing.assert_array_equal(_apply_slice(x, sl, want.shape), want)


def test_empty_slice_is_refused_with_the_node_named() -> None:
    inits = {"s": np.array([3], np.int64), "e": np.array([3], np.int64), "a": np.array([1], np.int64)}
    node = helper.make_node("Slice", ["x", "s", "e", "a"], ["y"], name="empty_slice")
    model = make_model([node], {"x": [3, 5, 8]}, ["y"], inits)
    with pytest.raises(UnsupportedOpError, match="empty_slice.*zero-sized"):
        import_onnx(model)


def test_slice_opset_9_attributes() -> None:
    node = helper.make_node("Slice", ["x"], ["y"], starts=[1, -2], ends=[100, -1], axes=[0, 1])
    model = make_model([node], {"x": [4, 6]}, ["y"], opset=9)
    graph = import_onnx(model)
    sl = only_node(graph, "Slice")
    x = RNG.standard_normal((4, 6)).astype(np.float32)
    want = run_ort(model, {"x": x})[0]
    np.testing.assert_array_equal(_apply_slice(x, sl, want.shape), want)


@pytest.mark.parametrize("opset,form", [(11, "attr"), (13, "input"), (18, "num_outputs")])
def test_split_forms(opset: int, form: str) -> None:
    inits: dict[str, np.ndarray] = {}
    if form == "attr":
        node = helper.make_node("Split", ["x"], ["a", "b", "c"], axis=-1, split=[2, 3, 2])
    elif form == "input":
        inits["sp"] = np.array([2, 3, 2], np.int64)
        node = helper.make_node("Split", ["x", "sp"], ["a", "b", "c"], axis=-1)
    else:
        node = helper.make_node("Split", ["x"], ["a", "b", "c"], axis=-1, num_outputs=3)
    model = make_model([node], {"x": [2, 7]}, ["a", "b", "c"], inits, opset=opset)
    graph = import_onnx(model)
    split = only_node(graph, "Split")
    assert split.attrs == {"axis": 1}
    x = RNG.standard_normal((2, 7)).astype(np.float32)
    for name, want in zip("abc", run_ort(model, {"x": x})):
        assert graph.tensors[name].shape == want.shape


def _apply_pad(x: np.ndarray, node: Node) -> np.ndarray:
    r = x.ndim
    pads = node.attrs["pads"]
    width = [(pads[i], pads[r + i]) for i in range(r)]  # type: ignore[index]
    mode = {0: "constant", 1: "reflect", 2: "edge"}[node.attrs["mode"]]  # type: ignore[index]
    if mode == "constant":
        return np.pad(x, width, mode="constant", constant_values=node.attrs["value"])
    return np.pad(x, width, mode=mode)


@pytest.mark.parametrize("opset,mode", [(10, "constant"), (13, "reflect"), (18, "edge"),
                                        (18, "constant")])
def test_pad_forms(opset: int, mode: str) -> None:
    inits: dict[str, np.ndarray] = {}
    if opset < 11:
        node = helper.make_node("Pad", ["x"], ["y"], mode=mode, pads=[0, 1, 2, 0, 2, 1], value=1.5)
    elif opset < 18:
        inits = {"p": np.array([0, 1, 2, 0, 2, 1], np.int64), "v": np.array(-2.0, np.float32)}
        node = helper.make_node("Pad", ["x", "p", "v"], ["y"], mode=mode)
    else:  # axes input: pads only for the last two axes
        inits = {"p": np.array([1, 2, 2, 1], np.int64), "v": np.array(3.0, np.float32),
                 "ax": np.array([-2, -1], np.int64)}
        node = helper.make_node("Pad", ["x", "p", "v", "ax"], ["y"], mode=mode)
    model = make_model([node], {"x": [2, 3, 4]}, ["y"], inits, opset=opset)
    pad = only_node(import_onnx(model), "Pad")
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(_apply_pad(x, pad), run_ort(model, {"x": x})[0])


def test_gather_negative_indices_become_s32() -> None:
    node = helper.make_node("Gather", ["x", "i"], ["y"], axis=-1)
    model = make_model([node], {"x": [2, 5]}, ["y"], {"i": np.array([[-1, 0], [2, -5]], np.int64)})
    graph = import_onnx(model)
    gather = only_node(graph, "Gather")
    idx = graph.tensors[gather.inputs[1]]
    assert idx.dtype == DType.S32 and gather.attrs == {"axis": 1}
    x = RNG.standard_normal((2, 5)).astype(np.float32)
    np.testing.assert_array_equal(np.take(x, idx.data, axis=1), run_ort(model, {"x": x})[0])


@pytest.mark.parametrize("opset", [13, 18])
def test_reduce_axes_forms(opset: int) -> None:
    inits: dict[str, np.ndarray] = {}
    if opset >= 18:
        inits["ax"] = np.array([-1, 1], np.int64)
        node = helper.make_node("ReduceMean", ["x", "ax"], ["y"], keepdims=0)
    else:
        node = helper.make_node("ReduceMean", ["x"], ["y"], axes=[-1, 1], keepdims=0)
    model = make_model([node], {"x": [2, 3, 4]}, ["y"], inits, opset=opset)
    red = only_node(import_onnx(model), "ReduceMean")
    assert red.attrs == {"axes": [1, 2], "keepdims": 0}


def test_reduce_empty_axes_means_all_or_noop() -> None:
    node = helper.make_node("ReduceSum", ["x"], ["y"])
    red = only_node(import_onnx(make_model([node], {"x": [2, 3]}, ["y"], opset=13)), "ReduceSum")
    assert red.attrs == {"axes": [0, 1], "keepdims": 1}
    node = helper.make_node("ReduceMax", ["x"], ["y"], noop_with_empty_axes=1)
    graph = import_onnx(make_model([node], {"x": [2, 3]}, ["y"], opset=18))
    assert ops(graph) == ["Identity"]


# ---- element-wise and normalization ----------------------------------------------------

@pytest.mark.parametrize("opset", [10, 13])
def test_clip_bounds_both_forms(opset: int) -> None:
    if opset < 11:
        node = helper.make_node("Clip", ["x"], ["y"], min=-1.0)
        inits: dict[str, np.ndarray] = {}
    else:
        node = helper.make_node("Clip", ["x", "", "hi"], ["y"])
        inits = {"hi": np.array(6, np.float32)}
    clip = only_node(import_onnx(make_model([node], {"x": [3]}, ["y"], inits, opset=opset)), "Clip")
    # An absent bound is ONNX's default, the lowest / largest finite float (onnxruntime
    # maps +inf to FLT_MAX there), not an infinity.
    largest = float(np.finfo(np.float32).max)
    if opset < 11:
        assert clip.attrs == {"min": -1.0, "max": largest}
    else:
        assert clip.attrs == {"min": -largest, "max": 6.0}
    assert all(isinstance(v, float) for v in clip.attrs.values())


def test_softmax_opset_11_flattens_unless_last_axis() -> None:
    node = helper.make_node("Softmax", ["x"], ["y"], axis=1)
    model = make_model([node], {"x": [2, 3, 4]}, ["y"], opset=11)
    graph = import_onnx(model)
    assert ops(graph) == ["Reshape", "Softmax", "Reshape"]
    soft = graph.nodes[1]
    assert soft.attrs == {"axis": 1, "log": 0}
    assert graph.tensors[soft.inputs[0]].shape == (2, 12)
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    flat = x.reshape(2, 12)
    ref = (np.exp(flat) / np.exp(flat).sum(axis=1, keepdims=True)).reshape(2, 3, 4)
    np.testing.assert_allclose(ref, run_ort(model, {"x": x})[0], rtol=1e-5)
    node = helper.make_node("LogSoftmax", ["x"], ["y"], axis=-1)
    graph = import_onnx(make_model([node], {"x": [2, 3, 4]}, ["y"], opset=11))
    assert ops(graph) == ["Softmax"] and graph.nodes[0].attrs == {"axis": 2, "log": 1}
    node = helper.make_node("Softmax", ["x"], ["y"], axis=1)
    graph = import_onnx(make_model([node], {"x": [2, 3, 4]}, ["y"], opset=13))
    assert ops(graph) == ["Softmax"] and graph.nodes[0].attrs == {"axis": 1, "log": 0}


def test_mean_becomes_add_chain_and_scale() -> None:
    node = helper.make_node("Mean", ["a", "b", "c"], ["y"])
    model = make_model([node], {"a": [2, 1], "b": [1, 3], "c": [3]}, ["y"])
    graph = import_onnx(model)
    assert ops(graph) == ["Add", "Add", "Mul"]
    assert graph.tensors[graph.nodes[0].outputs[0]].shape == (2, 3)
    np.testing.assert_allclose(graph.constant(graph.nodes[2].inputs[1]), np.float32(1 / 3))


def test_gelu_layernorm_and_identity_like_ops() -> None:
    nodes = [helper.make_node("Gelu", ["x"], ["g"], approximate="tanh"),
             helper.make_node("Dropout", ["g"], ["d"]),
             helper.make_node("LayerNormalization", ["d", "s"], ["y"], axis=-1, epsilon=1e-3)]
    graph = import_onnx(make_model(nodes, {"x": [2, 4]}, ["y"], {"s": np.ones(4, np.float32)},
                                   opset=20))
    assert ops(graph) == ["Gelu", "Identity", "LayerNormalization"]
    assert graph.nodes[0].attrs == {"approximate": 1}
    assert graph.nodes[2].attrs["axis"] == 1
    assert graph.nodes[2].attrs["epsilon"] == pytest.approx(1e-3)


# ---- Resize ------------------------------------------------------------------------------

def _resize_nearest_ref(x: np.ndarray, node: Node, out_shape: tuple[int, ...]) -> np.ndarray:
    """Independent numpy nearest resize for asymmetric / half_pixel coordinates."""
    coord = node.attrs["coord_mode"]
    nearest = node.attrs["nearest_mode"]
    idx = []
    for d, (n_in, n_out) in enumerate(zip(x.shape, out_shape)):
        s = node.attrs["scales"][d]  # type: ignore[index]
        o = np.arange(n_out, dtype=np.float64)
        src = o / s if coord == 1 else (o + 0.5) / s - 0.5
        rounding = {0: lambda v: np.ceil(v - 0.5), 2: np.floor, 3: np.ceil}[nearest]  # type: ignore[index]
        idx.append(np.clip(rounding(src), 0, n_in - 1).astype(np.int64))
    return x[np.ix_(*idx)]


@pytest.mark.parametrize("opset,scale", [(10, 2.5), (10, 0.6), (13, 1.7)])
def test_resize_nearest_scales_match_onnxruntime(opset: int, scale: float) -> None:
    scales = np.array([1, 1, scale, scale], np.float32)
    if opset == 10:
        node = helper.make_node("Resize", ["x", "s"], ["y"], mode="nearest")
    else:
        node = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest",
                                coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    model = make_model([node], {"x": [1, 2, 5, 7]}, ["y"], {"s": scales}, opset=opset)
    graph = import_onnx(model)
    rs = only_node(graph, "Resize")
    x = RNG.standard_normal((1, 2, 5, 7)).astype(np.float32)
    want = run_ort(model, {"x": x})[0]
    assert graph.tensors["y"].shape == want.shape
    np.testing.assert_array_equal(_resize_nearest_ref(x, rs, want.shape), want)


def test_resize_sizes_give_output_over_input_scales() -> None:
    node = helper.make_node("Resize", ["x", "", "", "sz"], ["y"], mode="nearest",
                            coordinate_transformation_mode="half_pixel")
    model = make_model([node], {"x": [1, 2, 4, 6]}, ["y"],
                       {"sz": np.array([1, 2, 7, 9], np.int64)}, opset=13)
    graph = import_onnx(model)
    rs = only_node(graph, "Resize")
    assert rs.attrs["scales"] == pytest.approx([1.0, 1.0, 7 / 4, 9 / 6])
    assert rs.attrs["mode"] == 0 and rs.attrs["coord_mode"] == 0 and rs.attrs["nearest_mode"] == 0
    x = RNG.standard_normal((1, 2, 4, 6)).astype(np.float32)
    want = run_ort(model, {"x": x})[0]
    np.testing.assert_array_equal(_resize_nearest_ref(x, rs, want.shape), want)


def test_upsample_opset_9_is_asymmetric_floor() -> None:
    node = helper.make_node("Upsample", ["x", "s"], ["y"], mode="nearest")
    model = make_model([node], {"x": [1, 1, 2, 3]}, ["y"],
                       {"s": np.array([1, 1, 2, 3], np.float32)}, opset=9)
    rs = only_node(import_onnx(model), "Resize")
    assert rs.attrs["coord_mode"] == 1 and rs.attrs["nearest_mode"] == 2
    x = RNG.standard_normal((1, 1, 2, 3)).astype(np.float32)
    want = run_ort(model, {"x": x})[0]
    np.testing.assert_array_equal(_resize_nearest_ref(x, rs, want.shape), want)


def _linear_1d_ref(x: np.ndarray, scale: float, n_out: int, coord: int) -> np.ndarray:
    """Independent linear interpolation along the last axis (ONNX coordinate modes)."""
    n_in = x.shape[-1]
    o = np.arange(n_out, dtype=np.float64)
    if coord == 0:
        src = (o + 0.5) / scale - 0.5
    elif coord == 1:
        src = o / scale
    elif coord == 2:
        src = o * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros_like(o)
    else:
        src = (o + 0.5) / scale - 0.5 if n_out > 1 else np.zeros_like(o)
    src = np.clip(src, 0, n_in - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    return x[..., lo] * (1 - frac) + x[..., hi] * frac


@pytest.mark.parametrize("opset,coord,scale", [
    (10, "asymmetric", 2.0), (10, "asymmetric", 0.5), (13, "half_pixel", 1.6),
    (13, "align_corners", 0.7), (13, "pytorch_half_pixel", 2.3), (13, "asymmetric", 0.6),
])
def test_resize_linear_matches_onnxruntime(opset: int, coord: str, scale: float) -> None:
    scales = np.array([1, 1, 1, scale], np.float32)
    if opset == 10:
        node = helper.make_node("Resize", ["x", "s"], ["y"], mode="linear")
    else:
        node = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear",
                                coordinate_transformation_mode=coord)
    model = make_model([node], {"x": [1, 2, 3, 7]}, ["y"], {"s": scales}, opset=opset)
    rs = only_node(import_onnx(model), "Resize")
    assert rs.attrs["mode"] == 1
    x = RNG.standard_normal((1, 2, 3, 7)).astype(np.float32)
    want = run_ort(model, {"x": x})[0]
    got = _linear_1d_ref(x.astype(np.float64), rs.attrs["scales"][3], want.shape[3],  # type: ignore[index]
                         rs.attrs["coord_mode"])  # type: ignore[arg-type]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# ---- model-level entry points ------------------------------------------------------------

def test_opset_out_of_range_is_refused() -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [1]}, ["y"], opset=6)
    with pytest.raises(Exception, match="opset 6"):
        import_onnx(model)


def test_local_functions_are_inlined() -> None:
    fn = helper.make_function("my.domain", "DoubleRelu", ["a"], ["b"],
                              [helper.make_node("Relu", ["a"], ["r"]),
                               helper.make_node("Add", ["r", "r"], ["b"])],
                              [helper.make_opsetid("", 17)])
    graph_proto = helper.make_graph(
        [helper.make_node("DoubleRelu", ["x"], ["y"], domain="my.domain")], "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    model = helper.make_model(graph_proto, functions=[fn],
                              opset_imports=[helper.make_opsetid("", 17),
                                             helper.make_opsetid("my.domain", 1)])
    assert ops(import_onnx(model)) == ["Relu", "Add"]


def test_convert_writes_packed_file_with_metadata(tmp_path: Any) -> None:
    from pocketnn.conversion import convert
    from pocketnn.format.reader import read_pnn

    w = RNG.standard_normal((2, 3, 1, 1)).astype(np.float32)
    model = make_model([helper.make_node("Conv", ["x", "w"], ["c"]),
                        helper.make_node("Relu", ["c"], ["y"])], {"x": ["N", 3, 4, 4]}, ["y"],
                       {"w": w})
    path = tmp_path / "m.pnn"
    data = convert(model, path, input_shapes={"x": (2, 3, 4, 4)})
    assert path.read_bytes() == data
    pnn = read_pnn(data)
    assert pnn.metadata["producer"] == "pocketnn"
    assert pnn.metadata["onnx_opset"] == 17
    assert len(pnn.nodes) == 1
