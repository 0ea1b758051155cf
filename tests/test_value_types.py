"""Runtime values of every dtype (docs/OPS.md "Value types"): each operator per dtype
against onnxruntime, on awkward shapes and with broadcasting; the Python Model's dtype
rules; float16 models; inspect."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import pocketnn
from pocketnn.errors import UnsupportedOpError
from pocketnn.format.reader import read_pnn
from support import run_onnxruntime

RNG = np.random.default_rng(7)
NUMERIC = [np.float32, np.int8, np.uint8, np.int32, np.int64]
ONNX_TYPE = {np.dtype(k): v for k, v in {
    np.float32: TensorProto.FLOAT, np.float16: TensorProto.FLOAT16, np.int8: TensorProto.INT8,
    np.uint8: TensorProto.UINT8, np.int32: TensorProto.INT32, np.int64: TensorProto.INT64,
    np.bool_: TensorProto.BOOL}.items()}
# Awkward broadcasting pairs: trailing vector, middle broadcast, scalar, rank mismatch, 1-D tails.
BROADCASTS = [((2, 3, 5), (3, 1)), ((7,), (1,)), ((1, 7, 1), (4, 1, 6)), ((3, 1, 5), ()), ((1,), (2, 9))]


def model_of(nodes: list[onnx.NodeProto], inputs: dict[str, np.ndarray], outputs: dict[str, np.dtype],
             inits: dict[str, np.ndarray] | None = None, opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "values",
        [helper.make_tensor_value_info(n, ONNX_TYPE[v.dtype], list(v.shape)) for n, v in inputs.items()],
        [helper.make_tensor_value_info(n, ONNX_TYPE[np.dtype(t)], None) for n, t in outputs.items()],
        [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def run_both(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    packed = pocketnn.convert(model, input_shapes={k: v.shape for k, v in feeds.items()})
    ours = pocketnn.Model(packed).run(feeds)
    return [ours[o.name] for o in model.graph.output], run_onnxruntime(model, feeds)


def assert_same(model: onnx.ModelProto, feeds: dict[str, np.ndarray], rtol: float = 1e-6) -> None:
    ours, theirs = run_both(model, feeds)
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        if b.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-6)
        else:
            np.testing.assert_array_equal(a, b)


def values(shape: tuple[int, ...], dtype: type, low: int = -20, high: int = 20) -> np.ndarray:
    """Small values with many ties, inside every dtype's range."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return RNG.integers(0, 2, size=shape).astype(bool)
    if dtype.kind == "u":
        low = max(low, 0)
    return RNG.integers(low, high, size=shape).astype(dtype)


@pytest.mark.parametrize("op", ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"])
@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("shapes", BROADCASTS, ids=str)
def test_comparisons(op: str, dtype: type, shapes: tuple) -> None:
    a, b = values(shapes[0], dtype, -3, 3), values(shapes[1], dtype, -3, 3)
    model = model_of([helper.make_node(op, ["a", "b"], ["y"])], {"a": a, "b": b}, {"y": np.bool_})
    assert_same(model, {"a": a, "b": b})


def test_equal_on_bool_and_against_a_constant() -> None:
    a = values((4, 5), np.bool_)
    model = model_of([helper.make_node("Equal", ["a", "c"], ["y"])], {"a": a}, {"y": np.bool_},
                     {"c": np.array([True, False, True, True, False])})
    assert_same(model, {"a": a})
    ids = values((2, 33), np.int64, 0, 4)
    model = model_of([helper.make_node("Greater", ["i", "t"], ["y"])], {"i": ids}, {"y": np.bool_},
                     {"t": np.array(1, np.int64)})
    assert_same(model, {"i": ids})


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
@pytest.mark.parametrize("shapes", BROADCASTS, ids=str)
def test_logic(op: str, shapes: tuple) -> None:
    a, b = values(shapes[0], np.bool_), values(shapes[1], np.bool_)
    assert_same(model_of([helper.make_node(op, ["a", "b"], ["y"])], {"a": a, "b": b}, {"y": np.bool_}),
                {"a": a, "b": b})


def test_not_of_a_comparison() -> None:
    x = values((3, 1, 7), np.float32)
    nodes = [helper.make_node("Less", ["x", "z"], ["neg"]), helper.make_node("Not", ["neg"], ["y"])]
    assert_same(model_of(nodes, {"x": x}, {"y": np.bool_}, {"z": np.zeros((7,), np.float32)}), {"x": x})


WHERE_SHAPES = [((2, 1, 5), (3, 5), ()), ((1,), (4, 1), (1, 6)), ((6,), (6,), (6,))]


@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("shapes", WHERE_SHAPES, ids=str)
def test_where(dtype: type, shapes: tuple) -> None:
    c, x, y = values(shapes[0], np.bool_), values(shapes[1], dtype), values(shapes[2], dtype)
    model = model_of([helper.make_node("Where", ["c", "x", "y"], ["out"])], {"c": c, "x": x, "y": y},
                     {"out": dtype})
    assert_same(model, {"c": c, "x": x, "y": y})


@pytest.mark.parametrize("shapes", WHERE_SHAPES, ids=str)
def test_where_on_bool_values(shapes: tuple) -> None:
    """onnxruntime has no bool Where kernel: numpy is the reference."""
    c, x, y = (values(s, np.bool_) for s in shapes)
    model = model_of([helper.make_node("Where", ["c", "x", "y"], ["out"])], {"c": c, "x": x, "y": y},
                     {"out": np.bool_})
    out = pocketnn.Model(pocketnn.convert(model)).run({"c": c, "x": x, "y": y})["out"]
    np.testing.assert_array_equal(out, np.where(c, x, y))


def test_where_masks_floats_with_a_constant() -> None:
    """Attention masking: Where(mask, scores, -inf)."""
    mask, scores = values((2, 1, 4, 4), np.bool_), RNG.standard_normal((2, 3, 4, 4)).astype(np.float32)
    model = model_of([helper.make_node("Where", ["m", "s", "ninf"], ["y"])], {"m": mask, "s": scores},
                     {"y": np.float32}, {"ninf": np.array(-np.inf, np.float32)})
    assert_same(model, {"m": mask, "s": scores})


CAST_TYPES = [np.float32, np.float16, np.int8, np.uint8, np.int32, np.int64, np.bool_]


def cast_source(dtype: type, target: type) -> np.ndarray:
    """Values whose cast onnxruntime defines: floats inside the target's range (no negative
    floats into uint8), integers that wrap when the target is narrower."""
    src, dst = np.dtype(dtype), np.dtype(target)
    if src.kind == "f":
        low = 0 if dst.kind == "u" else -100
        x = RNG.uniform(low, 100, size=(3, 17)).astype(np.float32)
        x[0, :4] = [0.0, 0.5, 2.5, -0.0 if low else 1.5]
        return x.astype(src)
    if src == np.bool_:
        return values((3, 17), np.bool_)
    info = np.iinfo(src)
    x = RNG.integers(max(info.min, -300), min(info.max, 300), size=(3, 17), endpoint=True)
    if dst.kind == "u" and src.kind == "i":
        x = np.abs(x)  # negative integers into uint8 wrap in onnxruntime too, but stay clear
    return x.astype(src)


@pytest.mark.parametrize("source", CAST_TYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("target", CAST_TYPES, ids=lambda t: np.dtype(t).name)
def test_cast_between_all_value_types(source: type, target: type) -> None:
    x = cast_source(source, target)
    model = model_of([helper.make_node("Cast", ["x"], ["y"], to=ONNX_TYPE[np.dtype(target)])],
                     {"x": x}, {"y": target})
    assert_same(model, {"x": x})


def test_cast_saturates_out_of_range_floats_and_nan() -> None:
    """onnxruntime leaves these undefined; pocketnn saturates (docs/OPS.md)."""
    x = np.array([np.nan, 1e10, -1e10, 127.9, -128.9, 3.7, -3.7], np.float32)
    model = model_of([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.INT8)], {"x": x}, {"y": np.int8})
    y = pocketnn.Model(pocketnn.convert(model)).run({"x": x})["y"]
    np.testing.assert_array_equal(y, [0, 127, -128, 127, -128, 3, -3])


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.uint8], ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("axis,keepdims,last", [(0, 1, 0), (-1, 0, 0), (1, 1, 1), (2, 0, 1)])
def test_arg_reduce(op: str, dtype: type, axis: int, keepdims: int, last: int) -> None:
    x = values((3, 5, 7), dtype, -4, 4)  # many ties
    node = helper.make_node(op, ["x"], ["y"], axis=axis, keepdims=keepdims, select_last_index=last)
    assert_same(model_of([node], {"x": x}, {"y": np.int64}), {"x": x})


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64], ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("axis,exclusive,reverse", [(0, 0, 0), (-1, 1, 0), (1, 0, 1), (2, 1, 1)])
def test_cumsum(dtype: type, axis: int, exclusive: int, reverse: int) -> None:
    x = values((2, 9, 5), dtype)
    node = helper.make_node("CumSum", ["x", "axis"], ["y"], exclusive=exclusive, reverse=reverse)
    assert_same(model_of([node], {"x": x}, {"y": dtype}, {"axis": np.array(axis, np.int64)}), {"x": x},
                rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.uint8, np.bool_],
                         ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("shape,target", [((3, 1), (2, 3, 7)), ((1,), (5,)), ((4, 1, 2), (4, 3, 2)),
                                          ((1, 1), (1, 1))], ids=str)
def test_expand(dtype: type, shape: tuple, target: tuple) -> None:
    x = values(shape, dtype)
    model = model_of([helper.make_node("Expand", ["x", "shape"], ["y"])], {"x": x}, {"y": dtype},
                     {"shape": np.array(target, np.int64)})
    assert_same(model, {"x": x})


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int8, np.bool_], ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("shape,repeats", [((2, 3), (3, 1)), ((5,), (4,)), ((1, 2, 3), (2, 3, 2)), ((3, 1), (1, 1))],
                         ids=str)
def test_tile(dtype: type, shape: tuple, repeats: tuple) -> None:
    x = values(shape, dtype)
    model = model_of([helper.make_node("Tile", ["x", "r"], ["y"])], {"x": x}, {"y": dtype},
                     {"r": np.array(repeats, np.int64)})
    assert_same(model, {"x": x})


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64], ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("k,axis,largest", [(1, -1, 1), (3, 1, 0), (7, 1, 1), (2, 0, 1)])
def test_topk(dtype: type, k: int, axis: int, largest: int) -> None:
    x = values((4, 7, 3), dtype, -5, 5)  # ties: the lower index comes first, as onnxruntime
    node = helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=axis, largest=largest)
    model = model_of([node], {"x": x}, {"v": dtype, "i": np.int64}, {"k": np.array([k], np.int64)})
    assert_same(model, {"x": x})


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64], ids=lambda t: np.dtype(t).name)
def test_gather_embedding_with_runtime_ids(index_dtype: type) -> None:
    table = RNG.standard_normal((10, 8)).astype(np.float32)
    ids = np.array([[1, 9, -1], [0, -10, 4]], index_dtype)
    model = model_of([helper.make_node("Gather", ["table", "ids"], ["y"], axis=0)], {"ids": ids},
                     {"y": np.float32}, {"table": table})
    assert_same(model, {"ids": ids})


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8, np.bool_], ids=lambda t: np.dtype(t).name)
def test_gather_runtime_data_and_indices_along_a_middle_axis(dtype: type) -> None:
    data, idx = values((3, 7, 2), dtype), np.array([6, 0, -2, 2], np.int64)
    model = model_of([helper.make_node("Gather", ["d", "i"], ["y"], axis=1)], {"d": data, "i": idx},
                     {"y": dtype})
    assert_same(model, {"d": data, "i": idx})


def test_gather_out_of_range_runtime_indices_give_zero_rows() -> None:
    """onnxruntime refuses such indices at run; pocketnn never reads out of bounds and
    writes zeros (docs/OPS.md)."""
    table = RNG.standard_normal((5, 3)).astype(np.float32)
    ids = np.array([0, 5, -6, 2**31 - 1, -(2**31), 4, -5], np.int32)
    model = model_of([helper.make_node("Gather", ["table", "ids"], ["y"])], {"ids": ids}, {"y": np.float32},
                     {"table": table})
    y = pocketnn.Model(pocketnn.convert(model)).run({"ids": ids})["y"]
    expected = np.zeros((7, 3), np.float32)
    expected[0], expected[5], expected[6] = table[0], table[4], table[0]
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Max", "Min"])
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.int64], ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("shapes", BROADCASTS[:3], ids=str)
def test_integer_arithmetic(op: str, dtype: type, shapes: tuple) -> None:
    a, b = values(shapes[0], dtype, -9, 9), values(shapes[1], dtype, 1, 9)  # no division by zero
    model = model_of([helper.make_node(op, ["a", "b"], ["y"])], {"a": a, "b": b}, {"y": dtype})
    assert_same(model, {"a": a, "b": b})


def test_integer_arithmetic_wraps_and_division_by_zero_is_zero() -> None:
    a = np.array([2**31 - 1, -(2**31), 7, -7, -(2**31)], np.int32)
    b = np.array([1, -1, 0, 2, -1], np.int32)
    nodes = [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Div", ["a", "b"], ["q"])]
    y = pocketnn.Model(pocketnn.convert(model_of(nodes, {"a": a, "b": b}, {"s": np.int32, "q": np.int32}))).run(
        {"a": a, "b": b})
    np.testing.assert_array_equal(y["s"], [-(2**31), 2**31 - 1, 7, -5, 2**31 - 1])
    np.testing.assert_array_equal(y["q"], [2**31 - 1, -(2**31), 0, -3, -(2**31)])


def test_shape_arithmetic_on_a_runtime_integer_input() -> None:
    """Data movement and integer math on int64 values that do not fold: Reshape, Concat,
    Slice, Transpose, Add with a constant, Mul, a Cast out to float."""
    ids = values((2, 6), np.int64, 0, 50)
    nodes = [helper.make_node("Reshape", ["ids", "shape"], ["r"]),
             helper.make_node("Transpose", ["r"], ["t"], perm=[1, 0, 2]),
             helper.make_node("Slice", ["t", "st", "en"], ["s"]),
             helper.make_node("Add", ["s", "one"], ["a"]),
             helper.make_node("Mul", ["a", "s"], ["m"]),
             helper.make_node("Concat", ["m", "s"], ["c"], axis=2),
             helper.make_node("Cast", ["c"], ["y"], to=TensorProto.FLOAT)]
    inits = {"shape": np.array([2, 3, 2], np.int64), "st": np.array([1], np.int64), "en": np.array([3], np.int64),
             "one": np.array(1, np.int64)}
    assert_same(model_of(nodes, {"ids": ids}, {"y": np.float32}, inits), {"ids": ids})


def test_float16_model_casts_at_the_edge_and_says_so() -> None:
    x = RNG.standard_normal((2, 8)).astype(np.float16)
    w = RNG.standard_normal((8, 4)).astype(np.float16)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Relu", ["m"], ["y"])]
    model = model_of(nodes, {"x": x}, {"y": np.float16}, {"w": w})
    packed = pocketnn.convert(model)
    runtime = pocketnn.Model(packed)
    assert runtime.inputs[0].dtype == np.float16 and runtime.outputs[0].dtype == np.float16
    ours = runtime.run({"x": x})["y"]
    theirs = run_onnxruntime(model, {"x": x})[0]
    assert ours.dtype == np.float16
    np.testing.assert_allclose(ours.astype(np.float32), theirs.astype(np.float32), rtol=4e-3, atol=4e-3)
    meta = read_pnn(packed).metadata["float16_widened"]
    assert "32 float16 weight value(s) widened to float32" in meta and "2 float16 graph input(s)/output(s)" in meta


def test_model_dtypes_are_strict_unless_cast() -> None:
    ids = values((2, 4), np.int32)
    model = model_of([helper.make_node("Cast", ["ids"], ["y"], to=TensorProto.FLOAT)], {"ids": ids},
                     {"y": np.float32})
    runtime = pocketnn.Model(pocketnn.convert(model))
    with pytest.raises(pocketnn.InputError, match="int64.*int32"):
        runtime.run({"ids": ids.astype(np.int64)})
    y = runtime.run({"ids": ids.astype(np.int64)}, cast=True)["y"]
    np.testing.assert_array_equal(y, ids.astype(np.float32))


def test_a_float_op_on_integers_is_refused_naming_node_and_dtype() -> None:
    ids = values((2, 4), np.int32)
    model = model_of([helper.make_node("Sigmoid", ["ids"], ["y"], name="squash")], {"ids": ids}, {"y": np.int32})
    with pytest.raises(UnsupportedOpError, match="'squash'.*S32.*F32"):
        pocketnn.convert(model)


def test_files_with_bool_are_version_1_4_and_others_keep_their_version() -> None:
    a = values((3,), np.bool_)
    packed = pocketnn.convert(model_of([helper.make_node("Not", ["a"], ["y"])], {"a": a}, {"y": np.bool_}))
    assert read_pnn(packed).header.version_minor == 4
    x = RNG.standard_normal((3,)).astype(np.float32)
    plain = pocketnn.convert(model_of([helper.make_node("Relu", ["x"], ["y"])], {"x": x}, {"y": np.float32}))
    assert read_pnn(plain).header.version_minor == 0
