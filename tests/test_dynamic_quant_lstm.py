"""com.microsoft DynamicQuantizeLSTM as the runtime's LSTM with s8 W and R (format 1.12;
runtime/src/ops/recurrent.c, kernels_c/s8-gemv; docs/QUANTIZATION.md "Dynamic
quantization"). References that do not depend on the host:

- onnxruntime on the model with its int8 weights stored as uint8 (support.with_unsigned_weights:
  its u8 x u8 kernels are exact on every CPU, its AVX2 u8 x s8 kernel saturates);
- a numpy model of the operator (`reference`): X quantized to u8 once, h at every step,
  exact int32 sums, float(acc) * (s_a * s_w) and the gates in float. It matches onnxruntime
  and the runtime to the rounding of the float gate math;
- the float LSTM on the dequantized weights (what pocketnn ran before 1.12), which the
  integer path must be at least as close to onnxruntime as."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pocketnn
import pytest
from onnx import TensorProto, helper, numpy_helper
from pocketnn.conversion import convert_graph
from pocketnn.format import spec
from pocketnn.format.reader import PnnFormatError, read_pnn
from pocketnn.format.writer import write_pnn
from pocketnn.ir import Tensor
from support import unoptimized_session_options, with_unsigned_weights

ISAS = ("scalar", "avx2", "avx512")
# Float rounding of the gate math (sigmoid / tanh kernels, summation order); every
# integer part is exact. A u8 rounding of h flipped by it would move an output by far more.
FLOAT_ROUNDING = 2e-5


def dq_lstm(seq: int, batch: int, inputs: int, hidden: int, direction: str, unsigned: bool = False,
            per_column: bool = False, seed: int = 0) -> onnx.ModelProto:
    """A DynamicQuantizeLSTM with s8 (or u8, zero points near 128) W and R over their full
    range, scales per direction (or per direction and column)."""
    rng = np.random.default_rng(seed)
    dirs = 2 if direction == "bidirectional" else 1
    shape = (dirs, 4 * hidden) if per_column else (dirs,)

    def weight(rows: int) -> np.ndarray:
        return rng.integers(0 if unsigned else -127, 256 if unsigned else 128, (dirs, rows, 4 * hidden))

    zero_dtype = np.uint8 if unsigned else np.int8
    w_zero = np.full(shape, 131 if unsigned else 0, zero_dtype)
    inits = [numpy_helper.from_array(weight(inputs).astype(zero_dtype), "w"),
             numpy_helper.from_array(weight(hidden).astype(zero_dtype), "r"),
             numpy_helper.from_array(rng.standard_normal((dirs, 8 * hidden)).astype(np.float32) * 0.1, "b"),
             numpy_helper.from_array((rng.uniform(0.5, 1.0, shape) * 0.6 / 127 / np.sqrt(inputs)).astype(np.float32), "ws"),
             numpy_helper.from_array(w_zero, "wz"),
             numpy_helper.from_array((rng.uniform(0.5, 1.0, shape) * 0.6 / 127 / np.sqrt(hidden)).astype(np.float32), "rs"),
             numpy_helper.from_array(np.full(shape, 124 if unsigned else 0, zero_dtype), "rz")]
    node = helper.make_node("DynamicQuantizeLSTM", ["x", "w", "r", "b", "", "", "", "", "ws", "wz", "rs", "rz"],
                            ["y", "y_h", "y_c"], domain="com.microsoft", hidden_size=hidden, direction=direction)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [seq, batch, inputs])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "y_h", "y_c")],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model


def _u8(values: np.ndarray) -> tuple[np.ndarray, np.float32, int]:
    """onnxruntime's dynamic u8 quantization of a block (DynamicQuantizeLinear's rule)."""
    lo, hi = np.float32(min(0.0, float(values.min()))), np.float32(max(0.0, float(values.max())))
    scale = np.float32(1.0) if hi == lo else np.float32((hi - lo) / np.float32(255))
    zero = int(np.rint(np.clip(np.float32(0) - lo / scale, 0, 255)))
    return np.clip(np.rint(values / scale) + zero, 0, 255).astype(np.int64), scale, zero


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    """Y [seq, directions, batch, hidden] of the model's DynamicQuantizeLSTM (module doc)."""
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    node = model.graph.node[0]
    direction = helper.get_attribute_value(next(a for a in node.attribute if a.name == "direction")).decode()
    w, r, bias = consts["w"].astype(np.int64), consts["r"].astype(np.int64), consts["b"]
    dirs, hidden = w.shape[0], r.shape[1]
    seq, batch, _ = x.shape
    y = np.zeros((seq, dirs, batch, hidden), np.float32)

    def product(a: np.ndarray, weights: np.ndarray, scale: np.ndarray, zero: np.ndarray, d: int) -> np.ndarray:
        q, a_scale, a_zero = _u8(a)
        w_scale = np.broadcast_to(scale.reshape(dirs, -1)[d], (4 * hidden,))
        acc = (q - a_zero) @ (weights[d] - int(zero.reshape(dirs, -1)[d, 0]))
        return acc.astype(np.float32) * (a_scale * w_scale)

    for d in range(dirs):
        xw = product(x.reshape(seq * batch, -1), w, consts["ws"], consts["wz"], d).reshape(seq, batch, -1)
        xw = xw + (bias[d, :4 * hidden] + bias[d, 4 * hidden:])
        h = np.zeros((batch, hidden), np.float32)
        c = np.zeros((batch, hidden), np.float32)
        for step in range(seq):
            t = seq - 1 - step if direction == "reverse" or d == 1 else step
            gates = xw[t] + product(h, r, consts["rs"], consts["rz"], d)
            i, o, f = (_sigmoid(gates[:, k * hidden:(k + 1) * hidden]) for k in range(3))
            c = f * c + i * np.tanh(gates[:, 3 * hidden:])
            h = (o * np.tanh(c)).astype(np.float32)
            y[t, d] = h
    return y


def float_lstm(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same layer as an ONNX LSTM on (W - zero point) * scale, transposed to ONNX's layout."""
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    node = model.graph.node[0]

    def dequantized(name: str) -> np.ndarray:
        values, scale, zero = consts[name], consts[name[0] + "s"], consts[name[0] + "z"]
        dirs = values.shape[0]
        real = (values.astype(np.float32) - zero.reshape(dirs, 1, -1).astype(np.float32)) * scale.reshape(dirs, 1, -1)
        return np.ascontiguousarray(real.transpose(0, 2, 1))

    lstm = helper.make_node("LSTM", ["x", "W", "R", "B"], list(node.output),
                            **{a.name: helper.get_attribute_value(a) for a in node.attribute})
    inits = [numpy_helper.from_array(dequantized("w"), "W"), numpy_helper.from_array(dequantized("r"), "R"),
             numpy_helper.from_array(consts["b"], "B")]
    graph = helper.make_graph([lstm], "g", list(model.graph.input), list(model.graph.output), inits)
    result = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    result.ir_version = 8
    return result


def onnxruntime_y(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(with_unsigned_weights(model).SerializeToString(), unoptimized_session_options(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def pocketnn_y(model: onnx.ModelProto, x: np.ndarray, isa: str | None = None) -> tuple[np.ndarray, set[str]]:
    runtime = pocketnn.Model(pocketnn.convert(model, input_shapes={"x": x.shape}), isa=isa)
    return runtime.run({"x": x})["y"], {node.kernel for node in runtime.nodes}


@pytest.mark.parametrize("direction, batch, unsigned", [
    ("forward", 1, False), ("reverse", 2, True), ("bidirectional", 1, False), ("bidirectional", 3, True),
])
def test_matches_onnxruntime_and_the_reference(direction: str, batch: int, unsigned: bool) -> None:
    model = dq_lstm(seq=9, batch=batch, inputs=24, hidden=13, direction=direction, unsigned=unsigned,
                    per_column=unsigned)
    x = np.random.default_rng(batch).standard_normal((9, batch, 24)).astype(np.float32)
    ours, kernels = pocketnn_y(model, x)
    theirs, simulated = onnxruntime_y(model, x), reference(model, x)
    old, _ = pocketnn_y(float_lstm(model), x)
    step = (max(float(theirs.max()), 0.0) - min(float(theirs.min()), 0.0)) / 255  # one u8 step of Y
    errors = {name: float(np.abs(value - theirs).max()) for name, value in
              (("int8", ours), ("float", old), ("reference", simulated))}
    print(f"{direction} batch {batch} {'u8' if unsigned else 's8'} {kernels}: max |error| against onnxruntime "
          f"{errors}, one u8 step {step:.5f}")
    assert any(k.startswith("s8gemv/") for k in kernels)
    assert float(np.abs(ours - simulated).max()) <= FLOAT_ROUNDING
    assert errors["reference"] <= FLOAT_ROUNDING
    assert errors["float"] < 2 * step  # the float path's old bound
    assert errors["int8"] <= errors["float"]
    np.testing.assert_array_equal(ours.argmax(-1), theirs.argmax(-1))


@pytest.mark.parametrize("isa", ISAS)
def test_each_isa_path_gives_the_reference(isa: str) -> None:
    """The s8-gemv kernel of each ISA path (PNN_ISA cap: scalar, AVX2, AVX-512 VNNI); a path
    the host cannot run is skipped, named."""
    model = dq_lstm(seq=6, batch=2, inputs=70, hidden=33, direction="bidirectional", seed=3)
    x = np.random.default_rng(5).standard_normal((6, 2, 70)).astype(np.float32)
    try:
        ours, kernels = pocketnn_y(model, x, isa)
    except pocketnn.NativeError as error:
        pytest.skip(f"ISA path {isa!r} not run on this host: {error.message}")
    print(f"PNN_ISA={isa}: {kernels}")
    assert float(np.abs(ours - reference(model, x)).max()) <= FLOAT_ROUNDING


def test_writes_format_1_12_and_keeps_weights_s8() -> None:
    model = dq_lstm(seq=4, batch=1, inputs=64, hidden=32, direction="bidirectional")
    data = pocketnn.convert(model, input_shapes={"x": (4, 1, 64)})
    assert int.from_bytes(data[6:8], "little") == 12
    float_data = pocketnn.convert(float_lstm(model), input_shapes={"x": (4, 1, 64)})
    assert int.from_bytes(float_data[6:8], "little") == 7
    weights = 2 * 4 * 32 * (64 + 32)
    print(f".pnn {len(data)} bytes (float weights {len(float_data)}), {weights} int8 weights")
    assert len(data) < len(float_data) - 2 * weights  # 1 byte per weight instead of 4


def test_both_readers_refuse_s8_weights_in_an_older_file() -> None:
    data = bytearray(pocketnn.convert(dq_lstm(seq=3, batch=1, inputs=8, hidden=4, direction="forward"),
                                      input_shapes={"x": (3, 1, 8)}))
    assert read_pnn(bytes(data)).nodes[0].op == "LSTM"
    data[6:8] = (spec.MINOR_INT8_RECURRENCE - 1).to_bytes(2, "little")
    data[8:12] = spec.checksum(data).to_bytes(4, "little")
    with pytest.raises(PnnFormatError, match=r"has s8 weights, which a version 1\.11 file cannot hold"):
        read_pnn(bytes(data))
    with pytest.raises(pocketnn.NativeError, match=r"has s8 weights, which a version 1\.11 file cannot hold"):
        pocketnn.Model(bytes(data))


def test_zero_points_varying_within_a_direction_keep_the_float_weights() -> None:
    """onnxruntime refuses them; the float LSTM on the dequantized weights computes them."""
    model = dq_lstm(seq=5, batch=1, inputs=8, hidden=4, direction="forward", unsigned=True, per_column=True)
    zero = next(t for t in model.graph.initializer if t.name == "wz")
    values = numpy_helper.to_array(zero).copy()
    values[0, 1] += 1
    zero.CopyFrom(numpy_helper.from_array(values, "wz"))
    x = np.random.default_rng(1).standard_normal((5, 1, 8)).astype(np.float32)
    ours, kernels = pocketnn_y(model, x)
    assert not any(k.startswith("s8gemv/") for k in kernels)
    np.testing.assert_array_equal(ours, pocketnn_y(float_lstm(model), x)[0])


def _mutated(change: str) -> bytes:
    graph, _ = convert_graph(dq_lstm(seq=3, batch=1, inputs=8, hidden=4, direction="bidirectional"),
                             input_shapes={"x": (3, 1, 8)})
    node = graph.nodes[0]
    node.name = "dq_lstm"
    w_scale, w_zero, r_scale, r_zero = (graph.tensors[n] for n in node.inputs[6:10])
    if change == "zero_point_range":
        r_zero.data = np.array([0, 300], np.int32)
    elif change == "scale_nan":
        w_scale.data = np.where(np.arange(w_scale.data.size).reshape(w_scale.data.shape) == 5, np.nan,
                                w_scale.data).astype(np.float32)
    elif change == "scale_shape":
        graph.tensors[node.inputs[8]] = Tensor(r_scale.name, r_scale.dtype, (2,), r_scale.data[:, 0].copy())
    elif change == "missing_zero_point":
        node.inputs.pop()
    elif change == "float_r":
        r = graph.tensors[node.inputs[2]]
        graph.tensors["r_float"] = Tensor("r_float", w_scale.dtype, r.shape, r.data.astype(np.float32))
        node.inputs[2] = "r_float"
    elif change == "scales_on_float_weights":
        for i in (1, 2):
            t = graph.tensors[node.inputs[i]]
            graph.tensors[f"f{i}"] = Tensor(f"f{i}", w_scale.dtype, t.shape, t.data.astype(np.float32))
            node.inputs[i] = f"f{i}"
    return write_pnn(graph)


@pytest.mark.parametrize("change", ["zero_point_range", "scale_nan", "scale_shape", "missing_zero_point",
                                    "float_r", "scales_on_float_weights"])
def test_hostile_fields_are_refused(change: str) -> None:
    with pytest.raises(pocketnn.NativeError, match="dq_lstm"):
        pocketnn.Model(_mutated(change))
