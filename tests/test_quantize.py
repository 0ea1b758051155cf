"""Static int8 / int4 quantization (the converter pass, issue 5): accuracy on the digits
fixture, the emitted integer graph checked against independent formulas, the API/CLI
plumbing, and (once the runtime has the integer operators) the runtime against the
bit-exact numpy simulator."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from pocketnn.cli import main
from pocketnn.conversion import convert_graph
from pocketnn.format.writer import write_pnn
from pocketnn.frontend.onnx_import import import_onnx
from pocketnn.ir import DType, Graph
from pocketnn.passes import run_passes
from pocketnn.quantization.activations import QuantizationError, activation_qparams
from pocketnn.quantization.quantize_graph import quantize_graph
from pocketnn.quantization.simulate_graph import simulate_graph
from pocketnn.reference_models import mobilenet_v1
from pocketnn.verify import verify
from support import digits_float_setup, run_onnxruntime

FIXTURES = Path(__file__).resolve().parent / "fixtures"
INTEGER_OPS = {"QConv", "QGemm", "QAdd", "QLookup", "QGlobalAveragePool", "QMaxPool", "Reshape"}


@pytest.fixture(scope="module")
def digits() -> dict:
    setup = digits_float_setup(FIXTURES)
    graph = setup["graph"]
    qparams = activation_qparams(graph, {"input": setup["calib"]})  # the default method
    return {**setup, "int8": quantize_graph(graph, qparams, "int8"), "int4": quantize_graph(graph, qparams, "int4")}


def _accuracy(graph: Graph, images: np.ndarray, labels: np.ndarray) -> float:
    logits = simulate_graph(graph, {"input": images})["logits"]
    return float(np.mean(logits.argmax(1) == labels))


def test_int8_accuracy_is_within_half_a_point_of_float(digits) -> None:
    accuracy = _accuracy(digits["int8"], digits["images"], digits["labels"])
    print(f"digits: float {digits['float_accuracy']:.3f}, int8 {accuracy:.3f} (1000 test images)")
    assert accuracy >= digits["float_accuracy"] - 0.005


def test_int4_accuracy_is_within_two_points_of_float(digits) -> None:
    accuracy = _accuracy(digits["int4"], digits["images"], digits["labels"])
    print(f"digits: float {digits['float_accuracy']:.3f}, int4 {accuracy:.3f} (1000 test images)")
    assert accuracy >= digits["float_accuracy"] - 0.02


def test_integer_graph_is_integer_between_its_edges(digits) -> None:
    graph = digits["int8"]
    ops = [node.op for node in graph.nodes]
    assert ops[0] == "QuantizeLinear" and ops[-1] == "DequantizeLinear"
    assert set(ops[1:-1]) <= INTEGER_OPS and {"QConv", "QAdd", "QGlobalAveragePool", "QGemm"} <= set(ops)
    assert graph.inputs == ["input"] and graph.outputs == ["logits"]
    for node in graph.nodes[1:-1]:
        assert all(graph.tensors[name].dtype == DType.U8 for name in node.outputs)
    # Every fused ReLU/Clip(0, 6) of the digits CNN gives an unsigned output (zero point 0).
    float_acts = {n.outputs[0]: n.attrs.get("act", 0) for n in digits["graph"].nodes}
    for node in graph.nodes:
        if node.op == "QConv" and float_acts[node.outputs[0].removesuffix("_u8")]:
            assert node.attrs["y_zero_point"] == 0


def test_conv_weights_bias_and_requantization_follow_the_contract(digits) -> None:
    """The first QConv against the formulas of docs/QUANTIZATION.md, written out here."""
    graph, source = digits["int8"], digits["graph"]
    quantize, qconv = graph.nodes[0], graph.nodes[1]
    float_conv = source.nodes[0]
    w = source.constant(float_conv.inputs[1]).astype(np.float64)
    b = source.constant(float_conv.inputs[2]).astype(np.float64)
    x_scale, x_zero = float(quantize.attrs["scale"]), int(quantize.attrs["zero_point"])
    w_scale = (np.abs(w).reshape(len(w), -1).max(1) / 127).astype(np.float32).astype(np.float64)
    w_q = np.clip(np.rint(w / w_scale[:, None, None, None]), -127, 127)
    assert np.array_equal(graph.constant(qconv.inputs[1]), w_q.astype(np.int8))
    assert graph.tensors[qconv.inputs[1]].dtype == DType.S8
    bias = np.rint(b / (x_scale * w_scale)) - x_zero * w_q.reshape(len(w), -1).sum(1)
    assert np.array_equal(graph.constant(qconv.inputs[2]), bias.astype(np.int32))
    assert graph.nodes[2].attrs["x_zero_point"] == qconv.attrs["y_zero_point"]
    multiplier = graph.constant(qconv.inputs[3]).astype(np.float64)
    shift = graph.constant(qconv.inputs[4]).astype(np.float64)
    # 15-bit mantissas (docs/QUANTIZATION.md, "Compact requantization tables").
    assert ((1 << 14) <= multiplier).all() and (multiplier < (1 << 15)).all()
    real = multiplier / 2.0 ** shift
    # The output scale: m * s_y = s_x * s_w, the same s_y for every channel.
    y_scales = x_scale * w_scale / real
    assert np.allclose(y_scales, y_scales[0], rtol=2 ** -14)
    assert qconv.attrs["lo"] == 0 and qconv.attrs["hi"] == 255
    for key in ("group", "strides", "dilations", "pads"):
        assert qconv.attrs[key] == float_conv.attrs[key]


def test_int4_keeps_the_first_and_last_weighted_layers_int8(digits) -> None:
    graph, int8 = digits["int4"], digits["int8"]
    weighted = [n for n in graph.nodes if n.op in ("QConv", "QGemm")]
    dtypes = [graph.tensors[n.inputs[1]].dtype for n in weighted]
    assert dtypes[0] == dtypes[-1] == DType.S8 and set(dtypes[1:-1]) == {DType.S4}
    int8_weighted = [n for n in int8.nodes if n.op in ("QConv", "QGemm")]
    for node, reference in zip(weighted[1:-1], int8_weighted[1:-1]):
        tensor = graph.tensors[node.inputs[1]]
        values = tensor.data.reshape(-1)  # int8 values; the writer packs S4 two per byte
        assert tensor.data.dtype == np.int8 and tensor.data.shape == tensor.shape
        assert values.min() >= -7 and values.max() <= 7 and np.abs(values).max() == 7
        # Same float weights, coarser grid: int4 ~ int8 / 127 * 7 per channel.
        wide = int8.constant(reference.inputs[1]).reshape(-1).astype(np.float64)
        assert np.abs(values - wide * 7 / 127).max() <= 1.0


def _elementwise_model() -> onnx.ModelProto:
    """Conv+ReLU -> MaxPool -> Sigmoid -> Conv -> HardSwish (fused: the conv stays float)
    -> Conv -> GlobalAveragePool -> Tanh -> Flatten -> MatMul: integer ops, look-up
    tables and a float island."""
    rng = np.random.default_rng(1)

    def init(name: str, *shape: int) -> TensorProto:
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.5).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["p1"], ["s1"]),
        helper.make_node("Conv", ["s1", "w2"], ["c2"]),
        helper.make_node("HardSwish", ["c2"], ["h2"]),
        helper.make_node("Conv", ["h2", "w3", "b3"], ["c3"], pads=[1, 1, 1, 1], group=4),
        helper.make_node("GlobalAveragePool", ["c3"], ["g"]),
        helper.make_node("Tanh", ["g"], ["t"]),
        helper.make_node("Flatten", ["t"], ["f"]),
        helper.make_node("MatMul", ["f", "w4"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "elementwise", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        [init("w1", 8, 3, 3, 3), init("b1", 8), init("w2", 4, 8, 1, 1), init("w3", 4, 1, 3, 3),
         init("b3", 4), init("w4", 4, 5)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_lookups_pools_and_a_float_island() -> None:
    model = _elementwise_model()
    rng = np.random.default_rng(2)
    calib = rng.standard_normal((64, 3, 12, 12)).astype(np.float32)
    graph = run_passes(import_onnx(model))
    quantized = quantize_graph(graph, activation_qparams(graph, {"x": calib}), "int8")
    ops = [node.op for node in quantized.nodes]
    assert ops == ["QuantizeLinear", "QConv", "QMaxPool", "QLookup", "DequantizeLinear", "Conv",
                   "QuantizeLinear", "QConv", "QGlobalAveragePool", "QLookup", "Reshape", "QGemm",
                   "DequantizeLinear"]
    maxpool = quantized.nodes[2]
    assert quantized.nodes[3].inputs[0] == maxpool.outputs[0]
    dequantize = quantized.nodes[4]
    assert quantized.nodes[5].inputs[0] == dequantize.outputs[0] == "s1"  # the float conv reads float
    # The float conv's neighbours, simulated in two halves around it.
    head = Graph(quantized.tensors, quantized.nodes[:5], ["x"], ["s1"])
    tail = Graph(quantized.tensors, quantized.nodes[6:], [quantized.nodes[5].outputs[0]], ["y"])
    x = rng.standard_normal((8, 3, 12, 12)).astype(np.float32)
    expected_s1 = run_onnxruntime(_truncated(model, "s1"), {"x": x[:1]})[0]
    s1 = simulate_graph(head, {"x": x[:1]})["s1"]
    assert np.abs(s1 - expected_s1).max() <= 0.02  # sigmoid in [0, 1]: a few u8 steps
    h2 = run_onnxruntime(_truncated(model, "h2"), {"x": x[:1]})[0]
    y = simulate_graph(tail, {tail.inputs[0]: h2})["y"]
    expected = run_onnxruntime(model, {"x": x[:1]})[0]
    assert np.abs(y - expected).max() <= 0.05 * np.abs(expected).max() + 0.02


def _truncated(model: onnx.ModelProto, output: str) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    del copy.graph.output[:]
    copy.graph.output.append(helper.make_tensor_value_info(output, TensorProto.FLOAT, None))
    return copy


def test_missing_calibration_says_what_is_needed(digits) -> None:
    with pytest.raises(QuantizationError) as error:
        pocketnn.convert(str(digits["path"]), quantize="int8")
    message = str(error.value)
    assert "calibration" in message and "'input': N x 1 x 28 x 28" in message and "100-500" in message


def test_quantize_refuses_unknown_schemes_and_methods(digits) -> None:
    with pytest.raises(QuantizationError, match="int2"):
        pocketnn.convert(str(digits["path"]), quantize="int2", calib={"input": digits["calib"]})
    with pytest.raises(ValueError, match="calibration method"):
        pocketnn.convert(str(digits["path"]), quantize="int8", calib={"input": digits["calib"]},
                         calib_method="median")


def test_calibration_dict_and_path_give_the_same_graph(digits, tmp_path) -> None:
    np.savez(tmp_path / "calib.npz", input=digits["calib"][:50])
    by_path, _ = convert_graph(str(digits["path"]), calib=tmp_path / "calib.npz", quantize="int8",
                               calib_method="minmax")
    by_dict, _ = convert_graph(str(digits["path"]), calib={"input": digits["calib"][:50]}, quantize="int8",
                               calib_method="minmax")
    assert [n.attrs for n in by_path.nodes] == [n.attrs for n in by_dict.nodes]
    for name, tensor in by_path.tensors.items():
        if tensor.is_constant:
            assert np.array_equal(tensor.data, by_dict.tensors[name].data), name


def test_cli_without_calibration_explains(digits, tmp_path, capsys) -> None:
    status = main(["convert", str(digits["path"]), "-o", str(tmp_path / "m.pnn"), "--quantize", "int8"])
    assert status == 2
    assert "calibration" in capsys.readouterr().out
    assert not (tmp_path / "m.pnn").exists()


# ---- The packed model in the C runtime ----------------------------------------------


@pytest.mark.parametrize("scheme", ["int8", "int4"])
def test_runtime_gives_exactly_the_simulator_outputs(digits, scheme) -> None:
    graph = digits[scheme]
    data = write_pnn(graph)
    images = digits["images"][:300]
    expected = simulate_graph(graph, {"input": images})["logits"]
    for threads in (1, 2):
        model = pocketnn.Model(data, threads=threads)
        logits = np.concatenate([model.run({"input": images[i:i + 1]})["logits"] for i in range(len(images))])
        assert logits.dtype == np.float32
        assert np.array_equal(logits, expected), f"{scheme}, {threads} threads"


def test_cli_convert_quantize_end_to_end(digits, tmp_path) -> None:
    np.savez(tmp_path / "calib.npz", input=digits["calib"])
    pnn = tmp_path / "digits_int8.pnn"
    assert main(["convert", str(digits["path"]), "-o", str(pnn), "--quantize", "int8",
                 "--calib", str(tmp_path / "calib.npz")]) == 0
    model = pocketnn.Model(pnn)
    images = digits["images"][:100]
    # The default calibration method, as the fixture's graph: the same outputs bit for bit.
    logits = np.concatenate([model.run({"input": images[i:i + 1]})["logits"] for i in range(len(images))])
    assert np.array_equal(logits, simulate_graph(digits["int8"], {"input": images})["logits"])

    # verify against the float ONNX model: agreement, SQNR and accuracy with labels.
    np.savez(tmp_path / "inputs.npz", input=images)
    np.save(tmp_path / "labels.npy", digits["labels"][:100])
    report = verify(str(digits["path"]), str(pnn), inputs={"input": images}, labels=digits["labels"][:100])
    (out,) = report.outputs
    assert report.quantized and report.passed()
    assert out.top1_agreement >= 0.97 and 15.0 < out.sqnr_db < float("inf")
    assert abs(out.accuracy_pocketnn - out.accuracy_reference) <= 0.03
    assert main(["verify", str(digits["path"]), str(pnn), "--inputs", str(tmp_path / "inputs.npz"),
                 "--labels", str(tmp_path / "labels.npy")]) == 0


def test_file_sizes(digits) -> None:
    onnx_size = digits["path"].stat().st_size
    sizes = {scheme: len(write_pnn(digits[scheme])) for scheme in ("int8", "int4")}
    print(f"digits: ONNX {onnx_size:,} bytes, int8 .pnn {sizes['int8']:,}, int4 .pnn {sizes['int4']:,}")
    assert sizes["int4"] < sizes["int8"] < onnx_size * 0.4
    model = mobilenet_v1(resolution=64, classes=1000)
    calib = np.random.default_rng(0).standard_normal((8, 3, 64, 64)).astype(np.float32)
    data = pocketnn.convert(model, quantize="int8", calib={"input": calib}, calib_method="minmax")
    onnx_size = len(model.SerializeToString())
    print(f"mobilenet_v1 64x64: ONNX {onnx_size:,} bytes, int8 .pnn {len(data):,} ({len(data) / onnx_size:.3f})")
    assert len(data) < onnx_size * 0.3


def test_runtime_lookups_pools_and_float_island_match_the_simulator() -> None:
    """QLookup, QMaxPool, MatMul as QGemm and a float conv between Dequantize/Quantize,
    in the runtime: the integer halves around the float conv exactly, the whole model
    close to onnxruntime."""
    model = _elementwise_model()
    rng = np.random.default_rng(3)
    graph = run_passes(import_onnx(model))
    calib = {"x": rng.standard_normal((32, 3, 12, 12)).astype(np.float32)}
    quantized = quantize_graph(graph, activation_qparams(graph, calib), "int8")
    head = Graph(quantized.tensors, quantized.nodes[:5], ["x"], ["s1"])
    tail = Graph(quantized.tensors, quantized.nodes[6:], [quantized.nodes[5].outputs[0]], ["y"])
    x = rng.standard_normal((1, 3, 12, 12)).astype(np.float32)
    h2 = run_onnxruntime(_truncated(model, "h2"), {"x": x})[0]
    for part, feeds in ((head, {"x": x}), (tail, {tail.inputs[0]: h2})):
        (name,) = part.outputs
        part.tensors = {k: t for k, t in part.tensors.items()
                        if any(k in n.inputs or k in n.outputs for n in part.nodes)}
        assert np.array_equal(pocketnn.Model(write_pnn(part)).run(feeds)[name], simulate_graph(part, feeds)[name])
    whole = pocketnn.Model(write_pnn(quantized)).run({"x": x})["y"]
    expected = run_onnxruntime(model, {"x": x})[0]
    assert np.abs(whole - expected).max() <= 0.05 * np.abs(expected).max() + 0.02


def test_average_pool_becomes_integer() -> None:
    """Conv+ReLU -> AveragePool (padded, ceil_mode) -> Conv: QAveragePool between the
    QConvs, the runtime exactly the simulator, the whole model close to onnxruntime."""
    rng = np.random.default_rng(4)
    inits = [numpy_helper.from_array((rng.standard_normal(shape) * 0.5).astype(np.float32), name)
             for name, shape in (("w1", (6, 3, 3, 3)), ("w2", (4, 6, 1, 1)))]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("AveragePool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                              ceil_mode=1),
             helper.make_node("Conv", ["p1", "w2"], ["y"])]
    graph = helper.make_graph(nodes, "avgpool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10, 11])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    calib = {"x": rng.standard_normal((32, 3, 10, 11)).astype(np.float32)}
    quantized = quantize_graph(run_passes(import_onnx(model)), activation_qparams(run_passes(import_onnx(model)), calib))
    assert [n.op for n in quantized.nodes] == ["QuantizeLinear", "QConv", "QAveragePool", "QConv", "DequantizeLinear"]
    data = write_pnn(quantized, narrow_ints=False)
    assert struct.unpack_from("<H", data, 6)[0] == 3  # op code 88 needs format 1.3 (s32 tables: 1.8)
    x = rng.standard_normal((1, 3, 10, 11)).astype(np.float32)
    ours = pocketnn.Model(data).run({"x": x})["y"]
    assert np.array_equal(ours, simulate_graph(quantized, {"x": x})["y"])
    expected = run_onnxruntime(model, {"x": x})[0]
    assert np.abs(ours - expected).max() <= 0.05 * np.abs(expected).max()


def test_near_zero_channel_with_a_large_bias_quantizes() -> None:
    """Pruning and refitting can leave an output channel with tiny weights and a large
    bias: its weight scale must not push the int32 bias out of range."""
    rng = np.random.default_rng(5)
    w = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)
    w[1] *= 1e-9
    b = np.array([0.1, 3.0, -0.2, 0.0], np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    calib = {"x": rng.standard_normal((16, 3, 6, 6)).astype(np.float32)}
    data = pocketnn.convert(model, quantize="int8", calib=calib, calib_method="minmax")
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    ours = pocketnn.Model(data).run({"x": x})["y"]
    expected = run_onnxruntime(model, {"x": x})[0]
    assert np.abs(ours[0, 1] - 3.0).max() <= 0.05  # the bias channel survives
    assert np.abs(ours - expected).max() <= 0.05 * np.abs(expected).max()


@pytest.mark.parametrize(("act", "attrs"), [("HardSwish", {}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
                                            ("Sigmoid", {}), ("Tanh", {}), ("Gelu", {})])
def test_a_layer_with_a_table_activation_becomes_qconv_and_qlookup(act, attrs) -> None:
    """The float passes fuse these activations into the Conv; int8 splits them out again
    (quantization/split_activations.py) so the Conv and its weights are integers. Gelu
    (ONNX opset 20) is not fused and becomes a table all the same."""
    rng = np.random.default_rng(7)
    w = rng.standard_normal((6, 3, 3, 3)).astype(np.float32) * 0.4
    b = rng.standard_normal(6).astype(np.float32) * 0.1
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node(act, ["c"], ["y"], **attrs)],
        "conv_act", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 9, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 9, 7])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20 if act == "Gelu" else 17)])
    calib = rng.standard_normal((64, 3, 9, 7)).astype(np.float32)
    data = pocketnn.convert(model, quantize="int8", calib={"x": calib}, quiet=True)
    m = pocketnn.Model(data)
    assert [n.op for n in m.nodes] == ["QuantizeLinear", "QConv", "QLookup", "DequantizeLinear"]
    x = rng.standard_normal((1, 3, 9, 7)).astype(np.float32)
    expected = run_onnxruntime(model, {"x": x})[0]
    got = m.run({"x": x})["y"]
    sqnr = 10 * np.log10(np.sum(expected.astype(np.float64) ** 2) / np.sum((got - expected).astype(np.float64) ** 2))
    assert sqnr > 25, sqnr
