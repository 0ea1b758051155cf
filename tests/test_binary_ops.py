"""BConv2d / BGemm (docs/OPS.md "Binary operators") lowered from canonical-form ONNX
models (docs/BINARY.md) by passes/lower_binary.py: outputs against onnxruntime (float
weights +-a_c, so the float model computes the same dot products) and bit for bit against
pocketnn.binary.simulate, on every ISA path the host runs; malformed fields refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from pocketnn.binary import simulate
from pocketnn.conversion import convert_graph
from pocketnn.format import spec
from pocketnn.format.opcodes import OP_CODES
from pocketnn.format.writer import write_pnn
from pocketnn.ir import DType, Graph
from pocketnn.passes.lower_binary import binary_scales
from pocketnn.reference_models import quicknet_like
from support import run_onnxruntime

ISAS = ("scalar", "avx2", "avx512")
# Sign is imported as a float op by the bnnfix branch (op code 38); until then the Sign
# variants cannot be imported at all, and are reported as skipped.
SIGN_IMPORTED = "Sign" in OP_CODES


@pytest.fixture(params=ISAS)
def isa(request) -> str:
    try:
        pocketnn.Model(_packed(_conv_model(Conv(3, 2, 1)), (1, 3, 4, 4))[1], isa=request.param)
    except pocketnn.NativeError as error:
        pytest.skip(f"ISA path {request.param!r} not run on this host: {error.message}")
    return request.param


@dataclasses.dataclass(frozen=True)
class Conv:
    """One binary conv layer of a test model."""

    channels: int
    out_channels: int
    kernel: int
    stride: int = 1
    dilation: int = 1
    group: int = 1
    pad: int = 0
    padding: str = "conv"  # "conv": the Conv's own (zero) pads; "zero" / "one": an explicit Pad
    binarizer: str = "where"
    relu: bool = False
    half_bias: bool = False  # bias = a * (j + 1/2): outputs never within rounding of 0

    def weights(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scale = rng.uniform(0.25, 2.0, self.out_channels).astype(np.float32)
        signs = rng.choice(np.array([-1.0, 1.0], np.float32),
                           (self.out_channels, self.channels // self.group, self.kernel, self.kernel))
        if self.half_bias:
            bias = scale * (rng.integers(-3, 3, self.out_channels) + 0.5)
        else:
            bias = rng.normal(0, 3, self.out_channels)
        return (signs * scale[:, None, None, None]).astype(np.float32), scale, bias.astype(np.float32)


def _binarizer(kind: str, x: str, y: str) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    if kind == "sign":
        return [helper.make_node("Sign", [x], [y])], []
    consts = [numpy_helper.from_array(np.array(v, np.float32), f"{y}_{n}") for n, v in
              (("zero", 0.0), ("neg", -1.0), ("pos", 1.0))]
    return [helper.make_node("Less", [x, f"{y}_zero"], [f"{y}_less"]),
            helper.make_node("Where", [f"{y}_less", f"{y}_neg", f"{y}_pos"], [y])], consts


def _layer(layer: Conv, index: int, x: str, y: str, rng: np.random.Generator
           ) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    nodes, inits = _binarizer(layer.binarizer, x, f"sign{index}")
    conv_in = f"sign{index}"
    pads = [layer.pad] * 4
    if layer.padding != "conv":
        value = 1.0 if layer.padding == "one" else 0.0
        inits.append(numpy_helper.from_array(np.array([0, 0, layer.pad, layer.pad] * 2, np.int64), f"pads{index}"))
        inits.append(numpy_helper.from_array(np.array(value, np.float32), f"value{index}"))
        nodes.append(helper.make_node("Pad", [conv_in, f"pads{index}", f"value{index}"], [f"padded{index}"]))
        conv_in, pads = f"padded{index}", [0] * 4
    w, scale, bias = layer.weights(rng)
    inits += [numpy_helper.from_array(w, f"w{index}"), numpy_helper.from_array(bias, f"b{index}")]
    conv_out = f"conv{index}" if layer.relu else y
    nodes.append(helper.make_node("Conv", [conv_in, f"w{index}", f"b{index}"], [conv_out], group=layer.group,
                                  strides=[layer.stride] * 2, dilations=[layer.dilation] * 2, pads=pads))
    if layer.relu:
        nodes.append(helper.make_node("Relu", [conv_out], [y]))
    return nodes, inits, (w, scale, bias)


def _model(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], x_shape: tuple[int, ...]) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "binary", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _conv_model(*layers: Conv, x_shape: tuple[int, ...] = (1, 3, 4, 4), seed: int = 0
                ) -> tuple[onnx.ModelProto, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(seed)
    nodes, inits, params = [], [], []
    for i, layer in enumerate(layers):
        x, y = ("x" if i == 0 else f"y{i - 1}"), ("y" if i == len(layers) - 1 else f"y{i}")
        n, t, p = _layer(layer, i, x, y, rng)
        nodes += n
        inits += t
        params.append(p)
    return _model(nodes, inits, x_shape), params


def _packed(built: tuple[onnx.ModelProto, list], x_shape: tuple[int, ...], binarize: str = "auto"
            ) -> tuple[Graph, bytes]:
    graph = convert_graph(built[0], input_shapes={"x": x_shape}, quiet=True, binarize=binarize)[0]
    return graph, write_pnn(graph)


def _simulate_conv(layers: tuple[Conv, ...], params: list, x: np.ndarray) -> np.ndarray:
    """The kernels' result from the float weights: dot per group, then the transform."""
    out = []
    for image in x:
        value = image
        for layer, (w, scale, bias) in zip(layers, params):
            cg, mg = layer.channels // layer.group, layer.out_channels // layer.group
            geometry = simulate.ConvGeometry((layer.kernel,) * 2, (layer.stride,) * 2, (layer.dilation,) * 2,
                                             (layer.pad,) * 4)
            padding = simulate.Padding.ONE if layer.padding == "one" else simulate.Padding.ZERO
            dot = np.concatenate([simulate.conv_dot(value[g * cg:(g + 1) * cg], w[g * mg:(g + 1) * mg], geometry,
                                                    padding) for g in range(layer.group)])
            flat = simulate.float_output(dot, scale, bias, 0.0 if layer.relu else -np.inf)
            side = simulate.output_size(value.shape[1], layer.kernel, layer.stride, layer.dilation, layer.pad,
                                        layer.pad)
            value = flat.reshape(layer.out_channels, side, -1)
        out.append(value)
    return np.stack(out)


def _no_zeros(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.normal(0, 1, shape).astype(np.float32)
    x[x == 0] = 0.5
    return x


def _assert_close_to_onnxruntime(ours: np.ndarray, reference: np.ndarray) -> None:
    scale = float(np.max(np.abs(reference))) or 1.0
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5 * scale)


def _kernel_names(runtime: pocketnn.Model) -> set[str]:
    return {node.kernel for node in runtime.nodes}


CONV_CASES = {
    "c1_1x1": (Conv(1, 3, 1), (2, 1, 5, 5)),
    "c3_3x3_zero_pad": (Conv(3, 5, 3, pad=1), (1, 3, 7, 6)),
    "c65_3x3_stride2": (Conv(65, 7, 3, stride=2, pad=1), (1, 65, 9, 8)),
    "c130_5x5_dilation2": (Conv(130, 9, 5, dilation=2, pad=3), (1, 130, 9, 9)),
    "c130_group2": (Conv(130, 6, 3, group=2, pad=1), (1, 130, 6, 5)),
    "one_padding": (Conv(65, 70, 3, pad=1, padding="one"), (1, 65, 6, 6)),
    "explicit_zero_pad": (Conv(3, 4, 3, pad=2, padding="zero"), (1, 3, 5, 5)),
    "relu_clamp": (Conv(64, 66, 3, pad=1, relu=True), (1, 64, 5, 7)),
}


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_binary_conv_matches_onnxruntime_and_the_simulator(case: str, isa: str) -> None:
    layer, shape = CONV_CASES[case]
    built = _conv_model(layer, x_shape=shape, seed=len(case))
    graph, data = _packed(built, shape)
    assert [n.op for n in graph.nodes] == ["BConv2d"]
    x = _no_zeros(np.random.default_rng(1), shape)
    runtime = pocketnn.Model(data, isa=isa)
    ours = runtime.run({"x": x})["y"]
    _assert_close_to_onnxruntime(ours, run_onnxruntime(built[0], {"x": x})[0])
    np.testing.assert_array_equal(ours, _simulate_conv((layer,), built[1], x))
    if isa != "scalar":
        assert not _kernel_names(runtime) & {"scalar"}, _kernel_names(runtime)


@pytest.mark.parametrize("group", [1, 2])
def test_consecutive_binary_convs_pass_bits(group: int, isa: str) -> None:
    first = Conv(64, 128, 3, pad=1, group=group, half_bias=True)
    second = Conv(128, 70 * group, 3, stride=2, pad=1, group=group)
    shape = (2, 64, 8, 7)
    built = _conv_model(first, second, x_shape=shape)
    graph, data = _packed(built, shape)
    assert [n.op for n in graph.nodes] == ["BConv2d", "BConv2d"]
    middle = graph.tensors[graph.nodes[0].outputs[0]]
    assert (middle.dtype, middle.shape) == (DType.B1, (2, 8, 7, 128))
    x = _no_zeros(np.random.default_rng(2), shape)
    ours = pocketnn.Model(data, isa=isa).run({"x": x})["y"]
    _assert_close_to_onnxruntime(ours, run_onnxruntime(built[0], {"x": x})[0])
    np.testing.assert_array_equal(ours, _simulate_conv((first, second), built[1], x))


def test_bits_are_not_passed_into_a_float_consumer() -> None:
    first, second = Conv(3, 8, 3, pad=1, relu=True), Conv(8, 4, 1)
    graph, _ = _packed(_conv_model(first, second), (1, 3, 4, 4))
    assert [graph.tensors[n.outputs[0]].dtype for n in graph.nodes] == [DType.F32, DType.F32]


def test_exact_zeros_before_where_are_exact() -> None:
    layer, shape = Conv(3, 4, 3, pad=1), (1, 3, 6, 6)
    built = _conv_model(layer, x_shape=shape)
    x = _no_zeros(np.random.default_rng(3), shape)
    x[0, :, ::2, ::3] = 0.0
    assert np.count_nonzero(x == 0) == 18
    ours = pocketnn.Model(_packed(built, shape)[1]).run({"x": x})["y"]
    _assert_close_to_onnxruntime(ours, run_onnxruntime(built[0], {"x": x})[0])


@pytest.mark.skipif(not SIGN_IMPORTED, reason="ONNX Sign import is the bnnfix branch's (op code 38)")
def test_sign_zero_counts_as_plus_one() -> None:
    layer, shape = Conv(3, 4, 3, pad=1, binarizer="sign"), (1, 3, 6, 6)
    built = _conv_model(layer, x_shape=shape)
    x = _no_zeros(np.random.default_rng(4), shape)
    x[0, :, 1::2, ::2] = 0.0
    ours = pocketnn.Model(_packed(built, shape)[1]).run({"x": x})["y"]
    np.testing.assert_array_equal(ours, _simulate_conv((layer,), built[1], x))
    plus = np.where(x == 0, np.float32(1e-30), x)  # what the kernels binarize: 0 -> +1
    _assert_close_to_onnxruntime(ours, run_onnxruntime(built[0], {"x": plus})[0])
    float_path = pocketnn.Model(_packed(built, shape, binarize="off")[1]).run({"x": x})["y"]
    _assert_close_to_onnxruntime(float_path, run_onnxruntime(built[0], {"x": x})[0])


def test_binarize_off_keeps_the_float_conv() -> None:
    graph, _ = _packed(_conv_model(Conv(3, 4, 3)), (1, 3, 4, 4), binarize="off")
    assert "BConv2d" not in [n.op for n in graph.nodes]


def test_weights_not_two_valued_stay_float() -> None:
    built = _conv_model(Conv(3, 4, 3))
    w = built[0].graph.initializer[3]
    assert w.name == "w0"
    values = numpy_helper.to_array(w).copy()
    values[0, 0, 0, 0] *= 1.01  # 1% off: outside the 0.5% tolerance
    w.CopyFrom(numpy_helper.from_array(values, "w0"))
    graph, _ = _packed(built, (1, 3, 4, 4))
    assert [n.op for n in graph.nodes].count("BConv2d") == 0


def test_weight_tolerance_is_half_a_percent() -> None:
    signs = np.array([[1.0, -1.0, 1.0, -1.0], [-1.0, -1.0, 1.0, 1.0]])
    within = signs * np.array([[2.0], [0.5]]) * np.array([1.0, 1.004, 0.996, 1.0])
    np.testing.assert_allclose(binary_scales(within), [2.0, 0.5])
    assert binary_scales(signs * np.array([1.0, 1.0, 1.0, 1.012])) is None
    assert binary_scales(np.array([[0.0, 0.0], [1.0, -1.0]])) is None  # a_c must be > 0


def test_one_padding_beside_conv_pads_stays_float() -> None:
    built = _conv_model(Conv(3, 4, 3, pad=1, padding="one"))
    conv = built[0].graph.node[-1]
    conv.attribute.remove(next(a for a in conv.attribute if a.name == "pads"))
    conv.attribute.append(helper.make_attribute("pads", [1, 1, 1, 1]))
    graph, _ = _packed(built, (1, 3, 4, 4))
    assert "BConv2d" not in [n.op for n in graph.nodes]


# ---- dense layers ---------------------------------------------------------------------

def _dense_model(k: int, m: int, form: str, seed: int = 0, hidden: int | None = None
                 ) -> tuple[onnx.ModelProto, list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]]:
    """Binarizer -> Gemm (transB) or MatMul (+ bias Add) [-> Relu]; `hidden` chains a second
    binary dense layer of `m` outputs after one of `hidden`."""
    rng = np.random.default_rng(seed)
    sizes = [(k, m)] if hidden is None else [(k, hidden), (hidden, m)]
    nodes, inits, params = [], [], []
    for i, (kin, kout) in enumerate(sizes):
        x, y = ("x" if i == 0 else f"h{i - 1}"), ("y" if i == len(sizes) - 1 else f"h{i}")
        n, t = _binarizer("where", x, f"s{i}")
        nodes += n
        inits += t
        scale = rng.uniform(0.25, 2.0, kout).astype(np.float32)
        w = (rng.choice(np.array([-1.0, 1.0], np.float32), (kout, kin)) * scale[:, None]).astype(np.float32)
        bias = (scale * (rng.integers(-3, 3, kout) + 0.5)).astype(np.float32)
        relu = form == "gemm_relu"
        out = f"d{i}" if relu else y
        if form == "matmul":
            inits += [numpy_helper.from_array(np.ascontiguousarray(w.T), f"w{i}"),
                      numpy_helper.from_array(bias, f"b{i}")]
            nodes += [helper.make_node("MatMul", [f"s{i}", f"w{i}"], [f"mm{i}"]),
                      helper.make_node("Add", [f"mm{i}", f"b{i}"], [out])]
        else:
            inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(bias, f"b{i}")]
            nodes.append(helper.make_node("Gemm", [f"s{i}", f"w{i}", f"b{i}"], [out], transB=1))
        if relu:
            nodes.append(helper.make_node("Relu", [out], [y]))
        params.append((w, scale, bias, relu))
    return _model(nodes, inits, (3, k)), params


def _simulate_dense(params: list, x: np.ndarray) -> np.ndarray:
    value = x
    for w, scale, bias, relu in params:
        value = simulate.float_output(simulate.gemm_dot(value, w), scale, bias, 0.0 if relu else -np.inf).T
    return value


@pytest.mark.parametrize("k,m,form", [(1, 1, "gemm"), (65, 70, "gemm"), (130, 5, "matmul"), (64, 129, "gemm_relu")])
def test_binary_dense_matches_onnxruntime_and_the_simulator(k: int, m: int, form: str, isa: str) -> None:
    model, params = _dense_model(k, m, form)
    graph = convert_graph(model, input_shapes={"x": (3, k)}, quiet=True)[0]
    assert [n.op for n in graph.nodes] == ["BGemm"]
    x = _no_zeros(np.random.default_rng(5), (3, k))
    ours = pocketnn.Model(write_pnn(graph), isa=isa).run({"x": x})["y"]
    _assert_close_to_onnxruntime(ours, run_onnxruntime(model, {"x": x})[0])
    np.testing.assert_array_equal(ours, _simulate_dense(params, x))


def test_consecutive_binary_dense_layers_pass_bits(isa: str) -> None:
    model, params = _dense_model(100, 10, "gemm", hidden=200)
    graph = convert_graph(model, input_shapes={"x": (3, 100)}, quiet=True)[0]
    assert [n.op for n in graph.nodes] == ["BGemm", "BGemm"]
    assert graph.tensors[graph.nodes[0].outputs[0]].shape == (3, 256)
    x = _no_zeros(np.random.default_rng(6), (3, 100))
    ours = pocketnn.Model(write_pnn(graph), isa=isa).run({"x": x})["y"]
    _assert_close_to_onnxruntime(ours, run_onnxruntime(model, {"x": x})[0])
    np.testing.assert_array_equal(ours, _simulate_dense(params, x))


def test_threads_split_output_channels_with_the_same_result() -> None:
    layer, shape = Conv(64, 200, 3, pad=1), (1, 64, 6, 6)
    data = _packed(_conv_model(layer, x_shape=shape), shape)[1]
    x = _no_zeros(np.random.default_rng(7), shape)
    one = pocketnn.Model(data).run({"x": x})["y"]
    np.testing.assert_array_equal(pocketnn.Model(data, threads=2).run({"x": x})["y"], one)


def test_binary_layer_is_under_a_twenty_fifth_of_its_float_bytes() -> None:
    shape = (1, 256, 8, 8)
    graph, _ = _packed(_conv_model(Conv(256, 256, 3, pad=1), x_shape=shape), shape)
    node = graph.nodes[0]
    binary = sum(spec.dense_nbytes(graph.tensors[n].dtype, int(np.prod(graph.tensors[n].shape)))
                 for n in node.inputs[1:])
    assert binary * 25 <= 256 * 256 * 9 * 4 + 256 * 4


# ---- malformed files --------------------------------------------------------------------

def _chained_graph() -> Graph:
    shape = (1, 65, 5, 5)
    return _packed(_conv_model(Conv(65, 128, 3, pad=1, half_bias=True), Conv(128, 70, 3, pad=1), x_shape=shape),
                   shape)[0]


def _corruptions() -> dict[str, tuple[str, object]]:
    """label -> (what to change, how): applied to a copy of the chained graph."""
    return {
        "channels_wrong": ("attr0", ("channels", 64)),
        "channels_absent": ("attr0", ("channels", None)),
        "group_not_dividing": ("attr1", ("group", 3)),
        "padding_kind_2": ("attr0", ("padding", 2)),
        "act_on_bits": ("attr0", ("act", 1)),
        "act_sigmoid": ("attr1", ("act", 4)),
        "weights_padding_bits": ("weights0", "pad_bits"),
        "weights_float": ("weights1", "float"),
        "weights_short": ("weights1", "short"),
        "threshold_short": ("vector0", 2),
        "negate_as_f32": ("vector0", 3),
        "bias_short": ("vector1", 3),
        "bits_into_float_width": ("middle", "width"),
    }


def _corrupt(graph: Graph, target: str, how: object) -> Graph:
    g = dataclasses.replace(graph, tensors=dict(graph.tensors),
                            nodes=[dataclasses.replace(n, inputs=list(n.inputs), attrs=dict(n.attrs))
                                   for n in graph.nodes])
    if target.startswith("attr"):
        node = g.nodes[int(target[-1])]
        name, value = how  # type: ignore[misc]
        if value is None:
            node.attrs.pop(name)
        else:
            node.attrs[name] = value
    elif target.startswith("weights"):
        name = g.nodes[int(target[-1])].inputs[1]
        t = g.tensors[name]
        bits = t.data.copy()
        if how == "pad_bits":
            bits[0, 0, 0, -1] = True
            g.tensors[name] = dataclasses.replace(t, data=bits)
        elif how == "float":
            g.tensors[name] = dataclasses.replace(t, dtype=DType.F32, data=bits.astype(np.float32))
        else:
            g.tensors[name] = dataclasses.replace(t, data=bits[:, :, :, :64], shape=bits[:, :, :, :64].shape)
    elif target.startswith("vector"):
        node = g.nodes[int(target[-1])]
        name = node.inputs[int(how)]  # type: ignore[call-overload]
        t = g.tensors[name]
        if target == "vector0" and how == 3:
            g.tensors[name] = dataclasses.replace(t, dtype=DType.F32, data=t.data.astype(np.float32))
        else:
            g.tensors[name] = dataclasses.replace(t, data=t.data[:-1], shape=(t.shape[0] - 1,))
    else:
        name = g.nodes[0].outputs[0]
        g.tensors[name] = dataclasses.replace(g.tensors[name], shape=(1, 5, 5, 64))
    return g


@pytest.mark.parametrize("label", sorted(_corruptions()))
def test_malformed_binary_nodes_are_refused(label: str) -> None:
    target, how = _corruptions()[label]
    data = write_pnn(_corrupt(_chained_graph(), target, how))
    with pytest.raises(pocketnn.NativeError, match=r"BConv2d"):
        pocketnn.Model(data)


def test_random_byte_corruption_never_crashes() -> None:
    data = bytearray(write_pnn(_chained_graph()))
    header = spec.HEADER.unpack_from(data)
    data_offset = header[12]
    rng = np.random.default_rng(8)
    refused = 0
    for _ in range(300):
        bad = bytearray(data)
        for pos in rng.integers(spec.HEADER_SIZE, data_offset + 256, 3):
            bad[int(pos)] = int(rng.integers(0, 256))
        bad[spec.CHECKSUM_OFFSET:spec.CHECKSUM_OFFSET + 4] = spec.checksum(bad).to_bytes(4, "little")
        try:
            runtime = pocketnn.Model(bytes(bad))
        except pocketnn.NativeError:
            refused += 1
            continue
        try:
            runtime.run({"x": np.ones((1, 65, 5, 5), np.float32)})
        except pocketnn.InputError:
            pass  # the corruption changed the input's shape
    assert refused > 0


def test_quicknet_like_network_matches_onnxruntime(isa: str) -> None:
    """A whole ResNet-style BNN (pocketnn.reference_models.quicknet_like at 64x64, two
    binary blocks per section): every binary block runs on BConv2d, and the logits
    follow onnxruntime's fp32 run. A pre-sign value within rounding of 0 may take the
    other sign in one engine; none does on these inputs (measured: 2.6e-7 to 5.4e-7 of
    the largest logit), so the logits must agree within the issue's 1e-4 relative."""
    model = quicknet_like(resolution=64, classes=10, blocks=2)
    runtime = pocketnn.Model(pocketnn.convert(model), isa=isa)
    assert sum(node.op == "BConv2d" for node in runtime.nodes) == 8
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = rng.standard_normal((1, 3, 64, 64)).astype(np.float32)
        ours = runtime.run({"input": x})[model.graph.output[0].name]
        theirs = run_onnxruntime(model, {"input": x})[0]
        assert np.argmax(ours) == np.argmax(theirs)
        assert np.max(np.abs(ours - theirs)) <= 1e-4 * np.max(np.abs(theirs)), np.max(np.abs(ours - theirs))
