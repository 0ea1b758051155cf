"""The converter against malformed and hostile ONNX models (issue 16).

Every refusal is a PocketnnError subclass whose message names what is wrong; every model
that converts loads in the runtime. Rows: bounded constant folding, ONNX graph
invariants (one writer per tensor, no cycle, defined names, initializer sizes),
--input-shape against fixed dims, and each finding of tests/fuzz/fuzz_converter.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import pocketnn
from pocketnn.cli import main
from pocketnn.conversion import convert
from pocketnn.errors import LimitError, ModelError, PocketnnError, ShapeError, UnsupportedOpError
from support import make_model, run_onnxruntime

X14 = {"x": [1, 4]}


def _refused(model: onnx.ModelProto, error: type[PocketnnError], *names: str,
             **kwargs: object) -> str:
    with pytest.raises(error) as info:
        convert(model, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    for name in names:
        assert name in message, message
    return message


def _f32(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


# ---- bounded constant folding -------------------------------------------------------------

def _constant_of_shape_model(side: int) -> onnx.ModelProto:
    fill = numpy_helper.from_array(np.array([1.0], np.float32))
    return make_model([
        helper.make_node("ConstantOfShape", ["shape"], ["ones"], name="fill", value=fill),
        helper.make_node("Add", ["x", "ones"], ["y"], name="add"),
    ], {"x": [side, side]}, ["y"], {"shape": np.array([side, side], np.int64)})


_PEAK_RSS_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import onnx, pocketnn
    from pocketnn.errors import PocketnnError
    model = onnx.load_from_string(sys.stdin.buffer.read())
    start = time.monotonic()
    try:
        size, error = len(pocketnn.convert(model)), None
    except PocketnnError as exc:
        size, error = None, [type(exc).__name__, str(exc)]
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent
    # across exec, so a big pytest process would show through.
    with open("/proc/self/status") as status:
        hwm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"size": size, "error": error, "seconds": time.monotonic() - start,
                      "peak_rss_mb": hwm_kb / 1024}))
""")


def _convert_in_subprocess(model: onnx.ModelProto) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _PEAK_RSS_SCRIPT], input=model.SerializeToString(),
                          capture_output=True, timeout=300, check=True)
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def test_constant_of_shape_16384_squared_is_refused_with_bounded_memory() -> None:
    model = _constant_of_shape_model(16384)  # 160 bytes of ONNX, 1 GiB of float32 if folded
    assert len(model.SerializeToString()) < 300
    result = _convert_in_subprocess(model)
    assert result["error"] is not None, result
    kind, message = result["error"]  # type: ignore[misc]
    assert kind == "LimitError"
    for part in ("'fill'", "ConstantOfShape", "[16384, 16384]", "268,435,456", "134,217,728",
                 "max_constant_elements"):
        assert part in message, message
    # Before: 4.3 GB resident for 11 s and a 1 GiB .pnn.
    assert result["peak_rss_mb"] < 1024, result


def test_cli_max_constant_elements_sets_the_limit(tmp_path, capsys) -> None:
    path = tmp_path / "fill.onnx"
    onnx.save(_constant_of_shape_model(64), str(path))
    output = str(tmp_path / "m.pnn")
    assert main(["convert", str(path), "-o", output, "--max-constant-elements", "1000"]) == 2
    captured = capsys.readouterr()
    message = " ".join((captured.out + captured.err).split())  # the console wraps long lines
    for part in ("'fill'", "ConstantOfShape", "[64, 64]", "1,000"):
        assert part in message, message
    assert main(["convert", str(path), "-o", output, "--max-constant-elements", "0"]) == 2
    assert "--max-constant-elements must be >= 1" in capsys.readouterr().out.replace("\n", "")
    assert main(["convert", str(path), "-o", output]) == 0
    x = _f32(64, 64)
    np.testing.assert_allclose(pocketnn.Model(output).run({"x": x})["y"], x + 1.0, rtol=1e-6)


def test_max_constant_elements_is_the_limit() -> None:
    model = _constant_of_shape_model(64)
    _refused(model, LimitError, "'fill'", "ConstantOfShape", "[64, 64]", "4,096", "1,000",
             max_constant_elements=1000)
    x = _f32(64, 64)
    out = pocketnn.Model(convert(model)).run({"x": x})["y"]
    np.testing.assert_allclose(out, x + 1.0, rtol=1e-6)


@pytest.mark.parametrize("qdq", [False, True], ids=["float", "qdq"])
def test_too_large_runtime_op_is_kept_unfolded_and_computed_at_run_time(qdq: bool) -> None:
    # Add of two constants broadcasts to [64, 64]: over a limit of 1000 it stays a node.
    # In an already-quantized (QDQ) model too: its import runs the graph passes before
    # quantizing, and they fold with the caller's limit.
    a, b = _f32(64, 1), _f32(1, 64)
    inits: dict[str, np.ndarray] = {"a": a, "b": b}
    nodes = [helper.make_node("Add", ["a", "b"], ["ab"], name="outer")]
    x_name = "x"
    if qdq:
        inits.update(s=np.array(0.02, np.float32), zp=np.array(128, np.uint8))
        nodes += [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["xq"], name="quant"),
                  helper.make_node("DequantizeLinear", ["xq", "s", "zp"], ["xd"], name="dequant")]
        x_name = "xd"
    nodes.append(helper.make_node("Mul", [x_name, "ab"], ["y"], name="mul"))
    model = make_model(nodes, {"x": [64, 64]}, ["y"], inits)
    packed = convert(model, max_constant_elements=1000)
    assert len(packed) < 64 * 64 * 4  # the [64, 64] sum is not stored
    runtime = pocketnn.Model(packed)
    assert "Add" in [n.op for n in runtime.nodes]
    x = _f32(64, 64)
    np.testing.assert_allclose(runtime.run({"x": x})["y"], run_onnxruntime(model, {"x": x})[0],
                               rtol=1e-5, atol=1e-5)
    assert len(convert(model)) > 64 * 64 * 4  # under the default limit the sum is folded


def test_expand_to_a_huge_shape_is_refused_before_allocating() -> None:
    model = make_model([helper.make_node("Expand", ["x", "shape"], ["y"], name="grow")],
                       {"x": [1, 1]}, ["y"], {"shape": np.array([16384, 16384], np.int64)})
    result = _convert_in_subprocess(model)
    kind, message = result["error"]  # type: ignore[misc]
    assert kind == "LimitError" and "'grow'" in message and "[16384, 16384]" in message, message
    assert result["peak_rss_mb"] < 1024, result


def test_expand_stores_zeros_only_where_x_broadcasts() -> None:
    model = make_model([helper.make_node("Expand", ["x", "shape"], ["y"], name="grow")],
                       {"x": [1, 3, 1, 1]}, ["y"], {"shape": np.array([1, 3, 32, 32], np.int64)})
    packed = convert(model)
    assert len(packed) < 3 * 32 * 32 * 4  # zeros [1, 1, 32, 32], not [1, 3, 32, 32]
    x = _f32(1, 3, 1, 1)
    np.testing.assert_array_equal(pocketnn.Model(packed).run({"x": x})["y"],
                                  np.broadcast_to(x, (1, 3, 32, 32)))


@pytest.mark.parametrize("op,inputs,inits", [
    ("Tile", ["c", "reps"], {"c": np.ones((4, 4), np.float32),
                             "reps": np.array([4096, 4096], np.int64)}),
    ("Range", ["start", "limit", "delta"], {"start": np.array(0, np.float32),
                                            "limit": np.array(1e9, np.float32),
                                            "delta": np.array(1, np.float32)}),
])
def test_other_growing_folds_are_bounded(op: str, inputs: list[str],
                                         inits: dict[str, np.ndarray]) -> None:
    model = make_model([helper.make_node(op, inputs, ["big"], name="grow"),
                        helper.make_node("Add", ["x", "big"], ["y"], name="add")],
                       {"x": [1]}, ["y"], inits)
    result = _convert_in_subprocess(model)
    kind, message = result["error"]  # type: ignore[misc]
    assert kind == "LimitError" and "'grow'" in message and op in message, message
    assert result["peak_rss_mb"] < 1024, result


# ---- ONNX invariants --------------------------------------------------------------------

def test_two_writers_of_one_tensor_are_refused() -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="first"),
                        helper.make_node("Sigmoid", ["x"], ["y"], name="second")], X14, ["y"])
    _refused(model, ModelError, "'y'", "two writers", "'first'", "'second'")


def test_initializer_written_by_a_node_is_refused() -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["w"], name="writer"),
                        helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                       X14, ["y"], {"w": _f32(1, 4)})
    _refused(model, ModelError, "'w'", "two writers", "initializer", "'writer'")


def test_duplicate_graph_input_is_refused() -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], X14, ["y"])
    model.graph.input.append(model.graph.input[0])
    _refused(model, ModelError, "graph input 'x'", "twice")


def test_cycle_is_refused_naming_its_nodes() -> None:
    model = make_model([helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
                        helper.make_node("Relu", ["a"], ["b"], name="n2"),
                        helper.make_node("Sigmoid", ["b"], ["y"], name="n3")], X14, ["y"])
    message = _refused(model, ModelError, "cycle", "'n1'", "'n2'")
    assert "'n3'" in message  # it waits on the cycle too


def test_unsorted_nodes_are_sorted() -> None:
    model = make_model([helper.make_node("Relu", ["a"], ["y"], name="last"),
                        helper.make_node("Sigmoid", ["x"], ["a"], name="first")], X14, ["y"])
    x = _f32(1, 4)
    out = pocketnn.Model(convert(model)).run({"x": x})["y"]
    np.testing.assert_allclose(out, np.maximum(1 / (1 + np.exp(-x)), 0), rtol=1e-5)


def test_reading_an_undefined_tensor_is_refused() -> None:
    model = make_model([helper.make_node("Add", ["x", "ghost"], ["y"], name="adder")], X14, ["y"])
    _refused(model, ModelError, "'adder'", "'ghost'", "no node, graph input or initializer")


def test_graph_output_nobody_writes_is_refused() -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], X14, ["y", "missing"])
    _refused(model, ModelError, "graph output 'missing'")


def test_graph_without_outputs_is_refused() -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], X14, [])
    _refused(model, ModelError, "no outputs")


def test_graph_output_that_is_a_graph_input_is_refused() -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], X14, ["y", "x"])
    _refused(model, UnsupportedOpError, "graph output 'x'", "graph input")


def _with_initializer(tensor: onnx.TensorProto) -> onnx.ModelProto:
    model = make_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], X14, ["y"])
    model.graph.initializer.append(tensor)
    return model


@pytest.mark.parametrize("tensor,expected", [
    (onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 4], raw_data=b"\0" * 12),
     "needs 16 bytes of raw_data, has 12"),
    (onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 4], raw_data=b"\0" * 20),
     "needs 16 bytes of raw_data, has 20"),
    (onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 4], float_data=[1.0, 2.0]),
     "needs 4 values of float_data, has 2"),
    (onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 4], int64_data=[1, 2, 3, 4]),
     "stores its values in int64_data"),
    (onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, -4], raw_data=b""),
     "negative dimension"),
    (onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1] * 65 + [4], raw_data=b"\0" * 16),
     "rank 66"),
    (onnx.TensorProto(name="w", data_type=0, dims=[1, 4], raw_data=b"\0" * 16),
     "undefined element type"),
    (onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 20],
                      raw_data=b"\0" * 16), "needs 4611686018427387904 bytes"),
    (onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 4],
                      data_location=TensorProto.EXTERNAL,
                      external_data=[onnx.StringStringEntryProto(key="location", value="w.bin")]),
     "external file"),
])
def test_initializer_data_must_match_dims_and_dtype(tensor: onnx.TensorProto, expected: str) -> None:
    _refused(_with_initializer(tensor), ModelError, "initializer 'w'", expected)


def test_tensor_attribute_data_must_match_its_dims() -> None:
    bad = onnx.TensorProto(name="v", data_type=TensorProto.FLOAT, dims=[4], raw_data=b"\0" * 4)
    model = make_model([helper.make_node("Constant", [], ["c"], name="const", value=bad),
                        helper.make_node("Add", ["x", "c"], ["y"])], X14, ["y"])
    _refused(model, ModelError, "'const'", "tensor attribute 'v'", "needs 16 bytes")


# ---- --input-shape against the model's fixed dims -------------------------------------------

def test_input_shape_contradicting_a_fixed_dim_is_refused() -> None:
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": [1, 4]}, ["y"],
                       {"w": _f32(4, 3)})
    _refused(model, ModelError, "input_shapes['x']", "dimension 1", "8", "fixes it at 4",
             input_shapes={"x": (1, 8)})


def test_input_shape_binds_symbolic_dims() -> None:
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": ["batch", 4]}, ["y"],
                       {"w": _f32(4, 3)})
    runtime = pocketnn.Model(convert(model, input_shapes={"x": (5, 4)}))
    assert runtime.inputs[0].shape == (5, 4)


def test_cli_reports_a_contradicting_input_shape(tmp_path, capsys) -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [1, 4]}, ["y"])
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    assert main(["convert", str(path), "-o", str(tmp_path / "m.pnn"), "--input-shape", "x=1x8"]) == 2
    text = capsys.readouterr().out
    assert "dimension 1" in text and "fixes it at 4" in text
    assert not (tmp_path / "m.pnn").exists()


# ---- findings of tests/fuzz/fuzz_converter.py ------------------------------------------------

def _conv_model(**attrs: object) -> onnx.ModelProto:
    return make_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attrs)],
                      {"x": [1, 8, 6, 6]}, ["y"], {"w": _f32(4, 3, 3, 3)})


def _gemm_model(c_shape: tuple[int, ...] | None = None, **attrs: object) -> onnx.ModelProto:
    inits = {"w": _f32(5, 4)}
    inputs = ["x", "w"]
    if c_shape is not None:
        inits["c"] = _f32(*c_shape)
        inputs.append("c")
    return make_model([helper.make_node("Gemm", inputs, ["y"], name="fc", **attrs)],
                      {"x": [1, 4]}, ["y"], inits)


def _resize_then_slice() -> onnx.ModelProto:
    # onnx's C++ inference gives the Resize output a negative dim; handing that to the
    # Slice's inference failed an assertion and aborted the process.
    return make_model([
        helper.make_node("Resize", ["x", "", "scales"], ["r"], name="resize", mode="linear"),
        helper.make_node("Slice", ["r", "st", "en", "ax", "sp"], ["y"], name="slice"),
    ], {"x": [1, 4, 6, 6]}, ["y"],
        {"scales": np.array([1, 1, -1, 2], np.float32), "st": np.array([1, 0], np.int64),
         "en": np.array([15, 12], np.int64), "ax": np.array([2, 3], np.int64),
         "sp": np.array([2, 1], np.int64)}, opset=18)


def _attribute_of_wrong_type() -> onnx.ModelProto:
    node = helper.make_node("Gemm", ["x", "w"], ["y"], name="fc")
    node.attribute.append(helper.make_attribute("alpha", [1, 2]))
    return make_model([node], {"x": [1, 4]}, ["y"], {"w": _f32(4, 5)})


def _non_utf8_attribute() -> onnx.ModelProto:
    node = helper.make_node("Pad", ["x", "pads"], ["y"], name="pad")
    node.attribute.append(helper.make_attribute("mode", b"\xb6\xff"))
    return make_model([node], {"x": [1, 4]}, ["y"], {"pads": np.zeros(4, np.int64)})


def _batchnorm_missing_inputs() -> onnx.ModelProto:
    return make_model([helper.make_node("BatchNormalization", ["x", "s", "b"], ["y"], name="bn")],
                      {"x": [1, 4, 2, 2]}, ["y"], {"s": _f32(4), "b": _f32(4)})


def _qlinear_add_with_two_outputs() -> onnx.ModelProto:
    model = make_model([helper.make_node("QLinearAdd", ["x"] * 8, ["y", "z"], name="qadd",
                                         domain="com.microsoft")], X14, ["y"])
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model


def _reduce_keepdims_two() -> onnx.ModelProto:
    return make_model([helper.make_node("ReduceMean", ["x", "axes"], ["y"], name="mean", keepdims=2)],
                      {"x": [1, 4, 6]}, ["y"], {"axes": np.array([1], np.int64)}, opset=18)


def _reflect_pad_wider_than_dim() -> onnx.ModelProto:
    return make_model([helper.make_node("Pad", ["x", "pads"], ["y"], name="pad", mode="reflect")],
                      {"x": [1, 2]}, ["y"], {"pads": np.array([0, 2, 0, 2], np.int64)})


def _dequantize_scale_count() -> onnx.ModelProto:
    weights = np.ones((4, 4, 1, 1), np.int8)
    return make_model([
        helper.make_node("DequantizeLinear", ["wq", "ws"], ["w"], name="dqw", axis=0),
        helper.make_node("Conv", ["x", "w"], ["y"], name="conv"),
    ], {"x": [1, 4, 2, 2]}, ["y"], {"wq": weights, "ws": np.full(16, 0.1, np.float32)})


def _non_utf8_node_name() -> onnx.ModelProto:
    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")], X14, ["y"])
    blob = model.SerializeToString().replace(b"relu", b"r\xb4lu")
    return onnx.load_from_string(blob)


def _qdq_negative_weight_scale() -> onnx.ModelProto:
    model = _dequantize_scale_count()
    model.graph.initializer[1].CopyFrom(numpy_helper.from_array(np.full(4, -0.5, np.float32), "ws"))
    return model


def _layernorm_scale_mismatch() -> onnx.ModelProto:
    return make_model([helper.make_node("LayerNormalization", ["x", "s"], ["y"], name="ln")],
                      {"x": [2, 6]}, ["y"], {"s": _f32(4)})


FUZZ_FINDINGS: dict[str, tuple[Callable[[], onnx.ModelProto], type[PocketnnError], list[str]]] = {
    # each was a file the runtime refused at load, or a Python exception out of convert
    "conv_channels": (_conv_model, UnsupportedOpError, ["'conv'", "8"]),
    "conv_kernel_shape": (lambda: make_model(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 1])],
        {"x": [1, 3, 6, 6]}, ["y"], {"w": _f32(4, 3, 3, 3)}), UnsupportedOpError, ["'conv'", "kernel_shape"]),
    "conv_weight_rank": (lambda: make_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                                            {"x": [1, 3, 6, 6]}, ["y"], {"w": _f32(4)}),
                         PocketnnError, ["'conv'"]),
    "pool_stride_huge": (lambda: make_model(
        [helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2, 2],
                          strides=[(1 << 63) - 1, 1])], {"x": [1, 1, 4, 4]}, ["y"]),
        PocketnnError, ["'pool'"]),
    "gemm_trans_b_two": (lambda: _gemm_model(transB=2), UnsupportedOpError, ["'fc'", "transB=2"]),
    "gemm_inner_dims": (lambda: _gemm_model(), PocketnnError, ["'fc'"]),
    "gemm_c_broadcast": (lambda: _gemm_model((3,), transB=1), UnsupportedOpError, ["'fc'", "broadcast"]),
    "resize_negative_scale_then_slice": (_resize_then_slice, PocketnnError, ["'resize'", "-6"]),
    "dequantize_scale_count": (_dequantize_scale_count, ModelError, ["'dqw'", "16 values"]),
    "constant_of_shape_absent_input": (lambda: make_model(
        [helper.make_node("ConstantOfShape", [""], ["c"], name="fill"),
         helper.make_node("Add", ["x", "c"], ["y"])], X14, ["y"]), PocketnnError, ["'fill'"]),
    "rank_over_format_limit": (lambda: make_model(
        [helper.make_node("Reshape", ["x", "shape"], ["y"], name="deep")], X14, ["y"],
        {"shape": np.array([1] * 10 + [4], np.int64)}), LimitError, ["'y'", "rank 11", "at most 8"]),
    "name_too_long": (lambda: make_model([helper.make_node("Relu", ["x"], ["y" * 5000])], X14, ["y" * 5000]),
                      ModelError, ["4096"]),
    "name_not_utf8": (_non_utf8_node_name, ModelError, ["node #0", "UTF-8"]),
    "name_with_nul": (lambda: make_model([helper.make_node("Relu", ["x"], ["y"], name="re\0lu")], X14, ["y"]),
                      ModelError, ["node #0", "NUL"]),
    "qdq_negative_scale": (_qdq_negative_weight_scale, ModelError, ["'dqw'", "-0.5", "positive"]),
    "pool_window_too_large": (lambda: make_model(
        [helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[5, 5])],
        {"x": [1, 1, 4, 4]}, ["y"]), PocketnnError, ["'pool'"]),
    "global_pool_rank_two": (lambda: make_model(
        [helper.make_node("GlobalAveragePool", ["x"], ["y"], name="gap")], X14, ["y"]),
        PocketnnError, ["'gap'"]),
    "layernorm_scale_broadcast": (_layernorm_scale_mismatch, UnsupportedOpError, ["'ln'", "broadcast"]),
    "layernorm_negative_epsilon": (lambda: make_model(
        [helper.make_node("LayerNormalization", ["x", "s"], ["y"], name="ln", epsilon=-1.0)],
        {"x": [2, 4]}, ["y"], {"s": _f32(4)}), UnsupportedOpError, ["'ln'", "epsilon"]),
    "attribute_wrong_type": (_attribute_of_wrong_type, ModelError, ["'fc'", "alpha", "INTS", "FLOAT"]),
    "attribute_not_utf8": (_non_utf8_attribute, ModelError, ["'pad'", "mode"]),
    "batchnorm_three_inputs": (_batchnorm_missing_inputs, ModelError, ["'bn'", "3 inputs"]),
    "qlinear_add_two_outputs": (_qlinear_add_with_two_outputs, ModelError, ["'qadd'", "one output"]),
    "reduce_keepdims_two": (_reduce_keepdims_two, UnsupportedOpError, ["'mean'", "keepdims=2"]),
    "reflect_pad_too_wide": (_reflect_pad_wider_than_dim, UnsupportedOpError, ["'pad'", "reflect"]),
}


_FINDINGS_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import test_converter_robustness as t
    from pocketnn.conversion import convert
    from pocketnn.errors import PocketnnError
    results = {}
    for name in sorted(t.FUZZ_FINDINGS):
        try:
            convert(t.FUZZ_FINDINGS[name][0]())
            results[name] = ["CONVERTED", ""]
        except PocketnnError as exc:
            results[name] = [type(exc).__name__, str(exc)]
    print(json.dumps(results))
""")


@pytest.fixture(scope="module")
def finding_results() -> dict[str, list[str]]:
    # In a subprocess: one of these aborted the interpreter inside onnx's C++ code.
    done = subprocess.run([sys.executable, "-c", _FINDINGS_SCRIPT, str(Path(__file__).parent)],
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


@pytest.mark.parametrize("finding", sorted(FUZZ_FINDINGS))
def test_fuzz_finding_is_a_clear_error(finding: str, finding_results: dict[str, list[str]]) -> None:
    _, error, names = FUZZ_FINDINGS[finding]
    kind, message = finding_results[finding]
    assert kind != "CONVERTED", finding
    assert issubclass(getattr(pocketnn.errors, kind), error), (kind, message)
    for name in names:
        assert name in message, message


def test_shape_error_names_the_node_for_inconsistent_matmul() -> None:
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], X14, ["y"],
                       {"w": _f32(5, 3)})
    _refused(model, ShapeError, "'mm'", "MatMul")
