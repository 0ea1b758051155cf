"""Residual Add (+ activation) folded into the Conv before it (format 1.13, Conv input 3):
every kernel path the conv can take adds R in its own tasks, so each path is forced by
its geometry (and the ISA cap for the portable ones) and compared with onnxruntime on the
unfused ONNX graph. Also: what the pass leaves alone, and what the loader refuses."""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from pocketnn.conversion import convert_graph
from pocketnn.format import spec
from pocketnn.format.reader import PnnFormatError, read_pnn
from pocketnn.format.writer import write_pnn
from support import run_onnxruntime
from test_format import fix_checksum


@dataclasses.dataclass(frozen=True)
class ConvCase:
    """x [batch, c, *image] -> Conv -> Add(conv, r) -> activation; `path`: the kernel name's
    prefix expected on x86 SIMD (None: whatever the ISA picks)."""

    name: str
    c: int
    m: int
    image: tuple[int, ...]
    kernel: tuple[int, ...]
    path: str | None
    stride: int = 1
    pad: int = 0
    group: int = 1
    batch: int = 1
    act: str = "Relu"
    bias: bool = True
    residual_first: bool = False


CASES = [
    ConvCase("winograd", 8, 13, (9, 9), (3, 3), "winograd2x2/", pad=1),
    ConvCase("winograd-batch2-no-bias", 9, 16, (11, 7), (3, 3), "winograd2x2/", pad=1, batch=2, bias=False),
    ConvCase("direct", 3, 10, (17, 17), (7, 7), "direct/", stride=2, pad=3),
    ConvCase("dwconv", 13, 13, (11, 11), (3, 3), "dwconv/", pad=1, group=13),
    ConvCase("packed", 5, 7, (15, 15), (3, 3), "packed/", stride=2, pad=1, residual_first=True),
    ConvCase("packed-channels", 16, 61, (13, 13), (3, 3), "packed-channels/", stride=2, pad=1),
    ConvCase("packed-channels-in-place", 130, 63, (14, 14), (1, 1), "packed-channels-in-place/", act="Clip"),
    ConvCase("packed-1x1-grouped", 6, 9, (5, 3), (1, 1), "packed/", group=3, batch=2, act="none"),
    ConvCase("conv1d", 7, 11, (19,), (3,), None, pad=1, act="Sigmoid"),
    ConvCase("single-pixel", 1, 1, (1, 1), (1, 1), None),
]


def _model(case: ConvCase) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    rng = np.random.default_rng(len(case.name) * 97 + case.c)
    dims = len(case.image)
    out_image = tuple((i + 2 * case.pad - k) // case.stride + 1 for i, k in zip(case.image, case.kernel))
    x_shape = (case.batch, case.c, *case.image)
    r_shape = (case.batch, case.m, *out_image)
    w = rng.normal(0.0, 0.3, (case.m, case.c // case.group, *case.kernel)).astype(np.float32)
    initializers = [numpy_helper.from_array(w, "w")]
    conv_inputs = ["x", "w"]
    if case.bias:
        initializers.append(numpy_helper.from_array(rng.normal(0.0, 0.5, case.m).astype(np.float32), "b"))
        conv_inputs.append("b")
    nodes = [helper.make_node("Conv", conv_inputs, ["conv"], group=case.group, strides=[case.stride] * dims,
                              pads=[case.pad] * (2 * dims), kernel_shape=list(case.kernel)),
             helper.make_node("Add", ["r", "conv"] if case.residual_first else ["conv", "r"],
                              ["sum" if case.act != "none" else "y"])]
    if case.act == "Clip":
        initializers += [numpy_helper.from_array(np.array(-0.5, np.float32), "lo"),
                         numpy_helper.from_array(np.array(1.5, np.float32), "hi")]
        nodes.append(helper.make_node("Clip", ["sum", "lo", "hi"], ["y"]))
    elif case.act != "none":
        nodes.append(helper.make_node(case.act, ["sum"], ["y"]))
    graph = helper.make_graph(nodes, case.name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape),
                                                 helper.make_tensor_value_info("r", TensorProto.FLOAT, r_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, r_shape)], initializers)
    feeds = {"x": rng.normal(0.0, 1.0, x_shape).astype(np.float32),
             "r": rng.normal(0.0, 1.0, r_shape).astype(np.float32)}
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), feeds


@pytest.fixture(params=("scalar", "avx2", "avx512", "neon"))
def isa(request) -> str:
    try:
        pocketnn.Model(pocketnn.convert(_model(CASES[-1])[0]), isa=request.param)
    except pocketnn.NativeError as error:
        pytest.skip(f"ISA path {request.param!r} not run on this host: {error.message}")
    return request.param


def _check(packed: bytes, model: onnx.ModelProto, feeds: dict[str, np.ndarray], isa: str,
           threads: int = 1) -> str:
    """Runs `packed` capped at `isa` against onnxruntime on `model`; the conv's kernel."""
    runtime = pocketnn.Model(packed, isa=isa, threads=threads)
    assert [node.op for node in runtime.nodes] == ["Conv"]
    got = runtime.run(feeds)["y"]
    np.testing.assert_allclose(got, run_onnxruntime(model, feeds)[0], rtol=1e-4, atol=1e-4)
    return runtime.nodes[0].kernel


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_conv_path_adds_the_residual(case, isa) -> None:
    model, feeds = _model(case)
    packed = pocketnn.convert(model)
    assert read_pnn(packed).header.version_minor == spec.MINOR_CONV_RESIDUAL
    for threads in (1, 2):
        kernel = _check(packed, model, feeds, isa, threads)
    if case.path and isa in ("avx2", "avx512"):
        assert kernel.startswith(case.path), f"{case.name} on {isa} chose {kernel}"
    if isa == "scalar" and case.name.startswith("packed"):
        wanted = "gemm-1x1/" if case.kernel == (1, 1) else "im2col+gemm/"
        assert kernel.startswith(wanted), f"{case.name} on scalar chose {kernel}"


def test_sparse_conv_adds_the_residual(isa) -> None:
    for case in (CASES[4], dataclasses.replace(CASES[6], name="sparse-1x1")):
        model, feeds = _model(case)
        graph, _ = convert_graph(model, quiet=True)
        conv = graph.nodes[0]
        graph.tensors[conv.inputs[1]] = dataclasses.replace(graph.tensors[conv.inputs[1]], sparse_group=1)
        kernel = _check(write_pnn(graph), model, feeds, isa, threads=2)
        assert kernel.startswith("sparse/"), kernel


def test_an_infinite_input_falls_back_from_winograd_with_the_residual() -> None:
    model, feeds = _model(CASES[0])
    feeds["x"][0, 3, 4, 5] = np.inf
    runtime = pocketnn.Model(pocketnn.convert(model))
    np.testing.assert_allclose(runtime.run(feeds)["y"], run_onnxruntime(model, feeds)[0], rtol=1e-4, atol=1e-4)


def _ops(packed: bytes) -> list[str]:
    return [node.op for node in read_pnn(packed).nodes]


def test_an_add_the_conv_cannot_take_stays() -> None:
    model, _ = _model(CASES[0])
    # The conv's output read again: a graph output too.
    model.graph.output.append(helper.make_tensor_value_info("conv", TensorProto.FLOAT, None))
    assert "Add" in _ops(pocketnn.convert(model))
    # R broadcast along the channels only.
    model, _ = _model(CASES[0])
    model.graph.input[1].CopyFrom(helper.make_tensor_value_info("r", TensorProto.FLOAT, (1, 13, 1, 1)))
    packed = pocketnn.convert(model)
    assert "Add" in _ops(packed) and read_pnn(packed).header.version_minor < spec.MINOR_CONV_RESIDUAL


def test_the_winograd_shaped_conv_takes_the_other_as_its_residual() -> None:
    """Add(conv3x3(x), conv1x1(x)), the 1x1 computed later: the 3x3 one (whose Winograd
    output transform adds R) takes the 1x1's output and moves after it."""
    rng = np.random.default_rng(5)
    w = [numpy_helper.from_array(rng.normal(0, 0.3, (16, 8, 3, 3)).astype(np.float32), "w0"),
         numpy_helper.from_array(rng.normal(0, 0.3, (16, 8, 1, 1)).astype(np.float32), "w1")]
    nodes = [helper.make_node("Conv", ["x", "w0"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["x", "w1"], ["b"]),
             helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    graph = helper.make_graph(nodes, "two", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 8, 12, 12))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 16, 12, 12))], w)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    packed = pocketnn.convert(model)
    parsed = read_pnn(packed)
    assert _ops(packed) == ["Conv", "Conv"]
    fused = parsed.nodes[1]
    assert len(fused.inputs) == 4 and parsed.tensors[fused.inputs[1]].shape[2:] == (3, 3)
    feeds = {"x": rng.normal(0, 1, (1, 8, 12, 12)).astype(np.float32)}
    runtime = pocketnn.Model(packed)
    assert runtime.nodes[1].kernel.startswith(("winograd2x2/", "im2col+gemm/"))
    np.testing.assert_allclose(runtime.run(feeds)["y"], run_onnxruntime(model, feeds)[0], rtol=1e-4, atol=1e-4)


def test_a_residual_in_a_file_stamped_before_1_13_is_refused() -> None:
    packed = bytearray(pocketnn.convert(_model(CASES[0])[0]))
    struct.pack_into("<H", packed, 6, spec.MINOR_CONV_RESIDUAL - 1)
    with pytest.raises(pocketnn.NativeError, match=r"has a residual input, which a version 1\.12 file cannot hold"):
        pocketnn.Model(fix_checksum(packed))
    with pytest.raises(PnnFormatError, match=r"has a residual input, which a version 1\.12 file cannot hold"):
        read_pnn(fix_checksum(packed))


def test_a_residual_of_another_shape_is_refused() -> None:
    model, _ = _model(CASES[0])
    graph, _ = convert_graph(model, quiet=True)
    r = graph.tensors["r"]
    graph.tensors["r"] = dataclasses.replace(r, shape=(1, r.shape[1], r.shape[2], r.shape[3] + 1))
    with pytest.raises(pocketnn.NativeError, match="residual R must have Y's shape"):
        pocketnn.Model(write_pnn(graph))
