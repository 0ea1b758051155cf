"""Dynamic quantization (onnxruntime's quantize_dynamic output) runs as integers:
DynamicQuantizeLinear, ConvInteger and MatMulInteger as pocketnn's integer operators,
com.microsoft DynamicQuantizeMatMul through them and DynamicQuantizeLSTM as the runtime's LSTM
with s8 W and R (docs/QUANTIZATION.md "Dynamic quantization"; its own tests in
tests/test_dynamic_quant_lstm.py).

The reference is onnxruntime with graph optimizations off, on the model with its int8 weights
stored as uint8 (support.with_unsigned_weights: the same values, and onnxruntime's exact u8 x u8
kernels on every CPU).
Integer outputs must be equal; the float outputs of quantize_dynamic models are
float(int32) * scale in both engines, so they must agree to float rounding.

The real model: ddddocr==1.6.1's ddddocr/common_old.onnx (the `ddddocr` wheel on PyPI, an
OCR CNN + bidirectional LSTM made by quantize_dynamic: 21 ConvInteger, 1 MatMulInteger, 1
DynamicQuantizeLSTM); skipped, naming the wheel, when the wheel cannot be fetched."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

import pocketnn
from pocketnn.conversion import convert_graph
from pocketnn.errors import UnsupportedOpError
from support import make_model, unoptimized_session_options, with_unsigned_weights
from wheel_models import wheel_model

RNG = np.random.default_rng(7)


def _ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(with_unsigned_weights(model).SerializeToString(), unoptimized_session_options(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _pocketnn(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    runtime = pocketnn.Model(pocketnn.convert(model, input_shapes={k: v.shape for k, v in feeds.items()}))
    result = runtime.run(feeds)
    return [result[o.name] for o in model.graph.output]


def _quantized(model: onnx.ModelProto, tmp_path: Path, weight_type: QuantType, per_channel: bool) -> onnx.ModelProto:
    source, target = tmp_path / "float.onnx", tmp_path / "dynamic.onnx"
    onnx.save(onnx.shape_inference.infer_shapes(model), source)
    quantize_dynamic(source, target, weight_type=weight_type, per_channel=per_channel,
                     extra_options={"DefaultTensorType": TensorProto.FLOAT})  # Gemm's inputs need a type
    return onnx.load(target)


def _integer_model(op: str, x_shape: tuple[int, ...], w: np.ndarray, w_zero: np.ndarray, x_zero: np.ndarray | None,
                   out_dtype: int = TensorProto.INT32, **attrs: object) -> onnx.ModelProto:
    """One ConvInteger / MatMulInteger with u8 X (and zero point) as graph inputs."""
    inputs = [helper.make_tensor_value_info("x", TensorProto.UINT8, list(x_shape))]
    names = ["x", "w"]
    if x_zero is not None:
        inputs.append(helper.make_tensor_value_info("xz", TensorProto.UINT8, list(x_zero.shape)))
        names.append("xz")
    else:
        names.append("")
    names.append("wz")
    graph = helper.make_graph([helper.make_node(op, names, ["y"], **attrs)], "g", inputs,
                              [helper.make_tensor_value_info("y", out_dtype, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(w_zero, "wz")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


# ---- the operators alone, integer outputs exact ------------------------------------------

CONV_CASES = {
    "3x3_pad_stride2": dict(c=3, m=8, hw=(9, 11), k=(3, 3), pads=[1, 1, 1, 1], strides=[2, 2], group=1),
    "1x1": dict(c=17, m=5, hw=(7, 5), k=(1, 1), pads=[0, 0, 0, 0], strides=[1, 1], group=1),
    "groups_dilation": dict(c=6, m=9, hw=(8, 8), k=(3, 3), pads=[2, 1, 0, 2], strides=[1, 2], group=3,
                            dilations=[2, 1]),
    "5x1_odd": dict(c=1, m=1, hw=(13, 3), k=(5, 1), pads=[2, 0, 2, 0], strides=[1, 1], group=1),
}


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_integer_matches_onnxruntime(case: str, dtype: type) -> None:
    p = dict(CONV_CASES[case])
    c, m, (h, w_), k, group = p.pop("c"), p.pop("m"), p.pop("hw"), p.pop("k"), p.pop("group")
    info = np.iinfo(dtype)
    w = RNG.integers(info.min, info.max + 1, (m, c // group, *k)).astype(dtype)
    x = RNG.integers(0, 256, (2, c, h, w_)).astype(np.uint8)
    x_zero = np.array(RNG.integers(0, 256), np.uint8)
    feeds = {"x": x, "xz": x_zero}

    def conv(weights: np.ndarray, w_zero: np.ndarray) -> onnx.ModelProto:
        return _integer_model("ConvInteger", x.shape, weights, w_zero, x_zero, group=group, kernel_shape=list(k), **p)

    w_zero = np.array(RNG.integers(info.min, info.max + 1), dtype)
    np.testing.assert_array_equal(_pocketnn(conv(w, w_zero), feeds)[0], _ort(conv(w, w_zero), feeds)[0])
    # A zero point per output channel (ONNX allows it; onnxruntime's ConvInteger takes one per
    # tensor): the reference is sum (x - zx) w - zw[m] * sum (x - zx), both from onnxruntime.
    per_channel = RNG.integers(info.min, info.max + 1, m).astype(dtype)
    zero = np.zeros((), dtype)
    expected = (_ort(conv(w, zero), feeds)[0].astype(np.int64)
                - per_channel.astype(np.int64).reshape(1, m, 1, 1) * _ort(conv(np.ones_like(w), zero), feeds)[0])
    np.testing.assert_array_equal(_pocketnn(conv(w, per_channel), feeds)[0], expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
# Rows of A (batch x 2) up to 32 run the s8-gemv (300 outputs: two chunks of it), more the GEMM.
@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 7, 33), (3, 20, 1), (2, 5, 70), (5, 70, 300), (16, 9, 40),
                                   (17, 9, 40), (40, 129, 17)], ids=lambda s: "x".join(map(str, s)))
def test_matmul_integer_matches_onnxruntime(shape: tuple[int, int, int], dtype: type) -> None:
    batch, k, n = shape
    info = np.iinfo(dtype)
    w = RNG.integers(info.min, info.max + 1, (k, n)).astype(dtype)
    for w_zero in (np.array(RNG.integers(info.min, info.max + 1), dtype),
                   RNG.integers(info.min, info.max + 1, n).astype(dtype)):
        x = RNG.integers(0, 256, (batch, 2, k)).astype(np.uint8)
        x_zero = np.array(RNG.integers(0, 256), np.uint8)
        model = _integer_model("MatMulInteger", x.shape, w, w_zero, x_zero)
        feeds = {"x": x, "xz": x_zero}
        np.testing.assert_array_equal(_pocketnn(model, feeds)[0], _ort(model, feeds)[0])


def test_matmul_integer_symmetric_weights_match_onnxruntime() -> None:
    """s8 weights in [-127, 127] (quantize_dynamic's symmetric ones), 20 rows of A: the
    s8-gemv's AVX2 vpmaddubsw path, which a -128 anywhere in a block turns off."""
    w = RNG.integers(-127, 128, (70, 300)).astype(np.int8)
    x = np.where(RNG.random((10, 2, 70)) < 0.5, 0, 255).astype(np.uint8)  # |x - 128| at its largest
    x_zero = np.array(131, np.uint8)
    model = _integer_model("MatMulInteger", x.shape, w, np.array(3, np.int8), x_zero)
    feeds = {"x": x, "xz": x_zero}
    np.testing.assert_array_equal(_pocketnn(model, feeds)[0], _ort(model, feeds)[0])


def test_matmul_integer_without_zero_points() -> None:
    w = RNG.integers(-128, 128, (9, 4)).astype(np.int8)
    x = RNG.integers(0, 256, (3, 9)).astype(np.uint8)
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.UINT8, [3, 9])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    np.testing.assert_array_equal(_pocketnn(model, {"x": x})[0], _ort(model, {"x": x})[0])


@pytest.mark.parametrize("values", ["normal", "positive", "negative", "zeros", "one_value", "wide"])
def test_dynamic_quantize_linear_matches_onnxruntime(values: str) -> None:
    shape = (3, 37)
    x = {"normal": RNG.standard_normal(shape), "positive": RNG.uniform(0.5, 3.0, shape),
         "negative": -RNG.uniform(0.1, 7.0, shape), "zeros": np.zeros(shape),
         "one_value": np.full(shape, 2.5), "wide": RNG.standard_normal(shape) * 1e4}[values].astype(np.float32)
    graph = helper.make_graph([helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, None),
                               helper.make_tensor_value_info("s", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("z", TensorProto.UINT8, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    ours, theirs = _pocketnn(model, {"x": x}), _ort(model, {"x": x})
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a.reshape(b.shape), b)


def test_weights_must_be_constant() -> None:
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.UINT8, [2, 3]),
                               helper.make_tensor_value_info("w", TensorProto.UINT8, [3, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(UnsupportedOpError, match=r"MatMulInteger.*must be a constant"):
        pocketnn.convert(model)


# ---- quantize_dynamic models: float outputs --------------------------------------------------

def _conv_matmul_model(group: int) -> onnx.ModelProto:
    c, m = 6, 12
    inits = {"W": RNG.standard_normal((m, c // group, 3, 3)).astype(np.float32) * 0.3,
             "B": RNG.standard_normal(m).astype(np.float32),
             "W2": RNG.standard_normal((5, m, 1, 1)).astype(np.float32),
             "shape": np.array([1, -1], np.int64),
             "M": RNG.standard_normal((5 * 4 * 4, 7)).astype(np.float32),
             "G": RNG.standard_normal((7, 3)).astype(np.float32), "GB": RNG.standard_normal(3).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c1"], pads=[1, 0, 1, 1], strides=[2, 2], group=group),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "W2"], ["c2"]),
             helper.make_node("Reshape", ["c2", "shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "M"], ["mm"]),
             helper.make_node("Gemm", ["mm", "G", "GB"], ["y"])]
    return make_model(nodes, {"x": [1, c, 8, 9]}, ["y"], inits, opset=13)


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("weight_type", [QuantType.QInt8, QuantType.QUInt8], ids=["s8", "u8"])
@pytest.mark.parametrize("group", [1, 3])
def test_quantize_dynamic_model_matches_onnxruntime(tmp_path: Path, weight_type: QuantType, per_channel: bool,
                                                    group: int) -> None:
    model = _quantized(_conv_matmul_model(group), tmp_path, weight_type, per_channel)
    ops = Counter(n.op_type for n in model.graph.node)
    assert ops["ConvInteger"] == 2 and ops["DynamicQuantizeLinear"] >= 3
    graph, _ = convert_graph(model, input_shapes={"x": (1, 6, 8, 9)})
    converted = Counter(n.op for n in graph.nodes)
    assert converted["ConvInteger"] == 2 and not {"Conv", "MatMul"} & set(converted)
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal((1, 6, 8, 9)).astype(np.float32)
        ours, theirs = _pocketnn(model, {"x": x})[0], _ort(model, {"x": x})[0]
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * float(np.abs(theirs).max()))


def test_dynamic_quantize_matmul_contrib_matches_onnxruntime() -> None:
    k, n = 19, 6
    b = RNG.integers(-128, 128, (k, n)).astype(np.int8)
    inits = [numpy_helper.from_array(b, "b"), numpy_helper.from_array(RNG.uniform(0.01, 0.1, n).astype(np.float32), "bs"),
             numpy_helper.from_array(RNG.integers(-5, 5, n).astype(np.int8), "bz"),
             numpy_helper.from_array(RNG.standard_normal(n).astype(np.float32), "bias")]
    node = helper.make_node("DynamicQuantizeMatMul", ["a", "b", "bs", "bz", "bias"], ["y"], domain="com.microsoft")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    a = RNG.standard_normal((2, 3, k)).astype(np.float32)
    ours, theirs = _pocketnn(model, {"a": a})[0], _ort(model, {"a": a})[0]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * float(np.abs(theirs).max()))


# ---- DynamicQuantizeLSTM: tests/test_dynamic_quant_lstm.py -------------------------------------

# ---- the real model: ddddocr's common_old.onnx -----------------------------------------------

DDDDOCR = "ddddocr==1.6.1"
DDDDOCR_MODEL = "ddddocr/common_old.onnx"


def captcha_like(seed: int, width: int = 160) -> np.ndarray:
    """A 64-pixel-high grayscale strip as ddddocr feeds it (values / 255, shape [1, 1, 64, W]):
    a light noisy background with dark glyph-like strokes (thick segments and arcs), since
    no font renderer is at hand."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(200, 255, (64, width))
    ys, xs = np.mgrid[0:64, 0:width]
    for glyph in range(int(rng.integers(4, 7))):
        cx = (glyph + 0.5) * width / 6 + rng.uniform(-6, 6)
        for _ in range(3):
            x0, y0 = cx + rng.uniform(-8, 8), rng.uniform(14, 50)
            x1, y1 = cx + rng.uniform(-8, 8), rng.uniform(14, 50)
            t = np.clip(((xs - x0) * (x1 - x0) + (ys - y0) * (y1 - y0)) / max((x1 - x0) ** 2 + (y1 - y0) ** 2, 1e-6), 0, 1)
            distance = np.hypot(xs - (x0 + t * (x1 - x0)), ys - (y0 + t * (y1 - y0)))
            image = np.where(distance < rng.uniform(1.5, 3.0), rng.uniform(0, 80), image)
    return (image / 255.0).astype(np.float32)[None, None]


def ctc_decode(logits: np.ndarray) -> list[int]:
    """Best path: argmax per step, repeats collapsed, blanks (class 0) dropped."""
    best = logits.reshape(logits.shape[0], -1).argmax(-1)
    return [int(c) for i, c in enumerate(best) if c != 0 and (i == 0 or c != best[i - 1])]


@pytest.fixture(scope="module")
def ddddocr_model() -> onnx.ModelProto:
    return onnx.load(wheel_model(DDDDOCR, DDDDOCR_MODEL))


def test_ddddocr_common_old_runs_as_integers(ddddocr_model: onnx.ModelProto, tmp_path: Path) -> None:
    shapes = {"input1": (1, 1, 64, 160)}
    graph, _ = convert_graph(ddddocr_model, input_shapes=shapes)
    ops = Counter(n.op for n in graph.nodes)
    print(dict(ops))
    assert ops["ConvInteger"] == 21 and ops["MatMulInteger"] == 1 and ops["DynamicQuantizeLinear"] == 22
    assert "Conv" not in ops
    lstm = next(n for n in graph.nodes if n.op == "LSTM")
    assert [graph.tensors[name].dtype.name for name in lstm.inputs[1:3]] == ["S8", "S8"]  # format 1.12
    target = tmp_path / "common_old.pnn"
    pocketnn.convert(ddddocr_model, target, input_shapes=shapes)
    onnx_bytes = Path(wheel_model(DDDDOCR, DDDDOCR_MODEL)).stat().st_size
    size = target.stat().st_size
    print(f"common_old: .pnn {size / 1e6:.2f} MB, int8 ONNX {onnx_bytes / 1e6:.2f} MB")
    assert size < 1.05 * onnx_bytes  # every weight int8, the LSTM's too


def test_ddddocr_common_old_agrees_with_onnxruntime(ddddocr_model: onnx.ModelProto) -> None:
    """Against onnxruntime on the model with uint8 weights (exact on every host). Every
    integer op and the LSTM compute as onnxruntime does, to float rounding (a rounding of an
    activation to u8 flipped by it moves an output by a step)."""
    runtime = pocketnn.Model(pocketnn.convert(ddddocr_model, input_shapes={"input1": (1, 1, 64, 160)}))
    session = ort.InferenceSession(with_unsigned_weights(ddddocr_model).SerializeToString(),
                                   unoptimized_session_options(), providers=["CPUExecutionProvider"])
    steps = agree = same_text = 0
    images, error = 6, 0.0
    for seed in range(images):
        x = captcha_like(seed)
        ours = runtime.run({"input1": x})[ddddocr_model.graph.output[0].name]
        theirs = session.run(None, {"input1": x})[0]
        assert ours.shape == theirs.shape
        error = max(error, float(np.abs(ours - theirs).max()))
        ours_best, theirs_best = ours.reshape(ours.shape[0], -1).argmax(-1), theirs.reshape(theirs.shape[0], -1).argmax(-1)
        steps += ours_best.size
        agree += int((ours_best == theirs_best).sum())
        same_text += ctc_decode(ours) == ctc_decode(theirs)
    print(f"common_old: per-step argmax agreement {agree}/{steps}, same decoded text {same_text}/{images}, "
          f"max |logit error| {error:.2e}")
    assert agree >= 0.95 * steps and same_text >= images - 1


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_integer_ops_on_each_isa_path(isa: str) -> None:
    """The s8-gemm-s32 kernel of each ISA path (PNN_ISA cap: scalar, AVX2, AVX-512 VNNI)
    gives onnxruntime's int32 results; a path the host cannot run is skipped, named."""
    w = RNG.integers(0, 256, (13, 5, 3, 3)).astype(np.uint8)
    x = RNG.integers(0, 256, (1, 5, 11, 10)).astype(np.uint8)
    x_zero = np.array(131, np.uint8)
    model = _integer_model("ConvInteger", x.shape, w, np.array(77, np.uint8), x_zero, pads=[1, 1, 1, 1])
    packed = pocketnn.convert(model, input_shapes={"x": x.shape, "xz": x_zero.shape})
    try:
        runtime = pocketnn.Model(packed, isa=isa)
    except pocketnn.NativeError as error:
        pytest.skip(f"ISA path {isa!r} not run on this host: {error.message}")
    kernels = {node.kernel for node in runtime.nodes if node.op == "ConvInteger"}
    print(f"PNN_ISA={isa}: {kernels}")
    feeds = {"x": x, "xz": x_zero}
    np.testing.assert_array_equal(runtime.run(feeds)["y"], _ort(model, feeds)[0])
