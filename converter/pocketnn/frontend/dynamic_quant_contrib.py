"""onnxruntime's com.microsoft dynamic-quantization operators written as standard ONNX ops
(docs/QUANTIZATION.md "Dynamic quantization"):

- DynamicQuantizeMatMul(A, B, b_scale, b_zero_point?, bias?) is what it computes:
  DynamicQuantizeLinear(A) -> MatMulInteger with the model's int8/uint8 B -> Cast to float
  -> Mul by a_scale * b_scale (-> Add bias), which then runs as integers like
  quantize_dynamic's own MatMulInteger pattern;
- DynamicQuantizeLSTM(X, W, R, B, ..., W_scale, W_zero_point, R_scale, R_zero_point)
  becomes an ONNX LSTM on the dequantized weights, (W - zero point) * scale, transposed
  from [directions, input, 4 * hidden] to ONNX's [directions, 4 * hidden, input]. The
  float LSTM then runs through the ordinary recurrent lowering (frontend/recurrent.py).
  W and R also stay s8 for the runtime: the LSTM gets six more inputs after ONNX's eight
  (lowering_recurrent.INT8_INPUTS), per weight its s8 values in ONNX's layout
  [directions, 4 * hidden, rows], its scale per direction and gate row and its zero point
  per direction, which the recurrent lowering passes on when the layer runs whole: the
  runtime then quantizes X and each step's h to u8 and multiplies in int32 as onnxruntime
  does (docs/QUANTIZATION.md "Dynamic quantization"; u8 weights are shifted to s8 with
  their zero points). An unrolled layer, or zero points that vary within a direction
  (onnxruntime refuses them), uses the float weights.
"""

from __future__ import annotations

import numpy as np
import onnx

from pocketnn.errors import UnsupportedOpError
from pocketnn.frontend.folding import OnnxState
from pocketnn.frontend.lowering_recurrent import INT8_INPUTS
from pocketnn.frontend.node_writer import NodeWriter, onnx_attrs

_MS = "com.microsoft"
# DynamicQuantizeLSTM's inputs after the eight of ONNX's LSTM.
_W_SCALE, _W_ZERO, _R_SCALE, _R_ZERO = 8, 9, 10, 11


def _input(node: onnx.NodeProto, index: int) -> str:
    return node.input[index] if len(node.input) > index else ""


def _constant(writer: NodeWriter, index: int, what: str) -> np.ndarray:
    value = writer.constants.get(_input(writer.node, index))
    if value is None:
        raise UnsupportedOpError(f"node '{writer.node.name}' ({writer.node.op_type}): {what} (input {index}) "
                                 f"must be a constant")
    return value


def _dequantized_gates(writer: NodeWriter, index: int, scale_index: int, zero_index: int, what: str) -> str:
    """(W - zero point) * scale of a [directions, rows, 4 * hidden] quantized weight (scale
    and zero point per direction, or per direction and column), as ONNX's
    [directions, 4 * hidden, rows] float weight."""
    w = _constant(writer, index, what).astype(np.float32)
    scale = _constant(writer, scale_index, f"{what}_scale").astype(np.float32)
    zero = _constant(writer, zero_index, f"{what}_zero_point").astype(np.float32)
    directions, columns = w.shape[0], w.shape[2]
    if scale.size not in (directions, directions * columns) or zero.size not in (directions, directions * columns):
        raise UnsupportedOpError(f"node '{writer.node.name}' ({writer.node.op_type}): {what}_scale {list(scale.shape)}"
                                 f" / {what}_zero_point {list(zero.shape)} must hold one value per direction or "
                                 f"per direction and column of {what} {list(w.shape)}")
    scale = scale.reshape(directions, 1, -1)
    zero = zero.reshape(directions, 1, -1)
    return writer.constant(what, np.ascontiguousarray(((w - zero) * scale).transpose(0, 2, 1)))


def _int8_gates(writer: NodeWriter, index: int, scale_index: int, zero_index: int, what: str) -> list[str] | None:
    """A [directions, rows, 4 * hidden] quantized weight as s8 [directions, 4 * hidden, rows],
    its scale [directions, 4 * hidden] and zero point [directions] (int32); None when the
    zero point varies within a direction."""
    w = _constant(writer, index, what)
    scale = _constant(writer, scale_index, f"{what}_scale").astype(np.float32)
    zero = _constant(writer, zero_index, f"{what}_zero_point").astype(np.int32)
    directions, columns = w.shape[0], w.shape[2]
    zero = zero.reshape(directions, -1)
    if np.any(zero != zero[:, :1]):
        return None
    shift = 128 if w.dtype == np.uint8 else 0
    values = (w.astype(np.int32) - shift).astype(np.int8).transpose(0, 2, 1)
    scales = np.broadcast_to(scale.reshape(directions, -1), (directions, columns))
    return [writer.constant(f"{what}_s8", np.ascontiguousarray(values)),
            writer.constant(f"{what}_scale", np.ascontiguousarray(scales, dtype=np.float32)),
            writer.constant(f"{what}_zero_point", np.ascontiguousarray(zero[:, 0] - shift))]


def _lstm(writer: NodeWriter) -> None:
    node = writer.node
    w = _dequantized_gates(writer, 1, _W_SCALE, _W_ZERO, "W")
    r = _dequantized_gates(writer, 2, _R_SCALE, _R_ZERO, "R")
    inputs = [_input(node, 0), w, r] + [_input(node, i) for i in range(3, 8)]
    w_int8 = _int8_gates(writer, 1, _W_SCALE, _W_ZERO, "W")
    r_int8 = _int8_gates(writer, 2, _R_SCALE, _R_ZERO, "R")
    if w_int8 and r_int8:
        inputs += [""] * (INT8_INPUTS[0] - len(inputs)) + w_int8 + r_int8
    while inputs and not inputs[-1]:
        inputs.pop()
    outputs = list(node.output)
    writer.nodes.append(onnx.helper.make_node("LSTM", inputs, outputs, name=writer.fresh("LSTM"),
                                              **onnx_attrs(node)))


def _matmul(writer: NodeWriter) -> None:
    node = writer.node
    a_q, a_scale, a_zero = writer.emit_many("DynamicQuantizeLinear", [_input(node, 0)], 3, "a")
    b_zero = _input(node, 3)
    product = writer.emit("MatMulInteger", [a_q, _input(node, 1), a_zero] + ([b_zero] if b_zero else []), "int32")
    real = writer.emit("Cast", [product], "float", to=onnx.TensorProto.FLOAT)
    scale = writer.emit("Mul", [a_scale, _input(node, 2)], "scale")
    bias = _input(node, 4)
    if bias:
        scaled = writer.emit("Mul", [real, scale], "scaled")
        writer.emit("Add", [scaled, bias], out=node.output[0])
    else:
        writer.emit("Mul", [real, scale], out=node.output[0])


_EXPANSIONS = {"DynamicQuantizeLSTM": _lstm, "DynamicQuantizeMatMul": _matmul}


def expand_dynamic_quant_contrib(state: OnnxState) -> bool:
    """Rewrites the operators of the module doc in place; whether the model had any."""
    result: list[onnx.NodeProto] = []
    changed = False
    for node in state.nodes:
        expand = _EXPANSIONS.get(node.op_type) if node.domain == _MS else None
        if expand is None:
            result.append(node)
            continue
        writer = NodeWriter(node, state.constants)
        expand(writer)
        result.extend(writer.nodes)
        changed = True
    if changed:
        state.nodes = result
    return changed
