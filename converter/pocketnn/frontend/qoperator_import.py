"""Already-quantized ONNX models in operator form (onnxruntime's QuantFormat.QOperator:
QLinearConv and QLinearMatMul; com.microsoft QLinearAdd, QLinearGlobalAveragePool and
QGemm) -> the QDQ form that qdq_import reads.

`expand_qoperators` writes each quantized operator as what it computes: a
DequantizeLinear of each quantized input, the float operator, and a QuantizeLinear of its
output with the node's output scale and zero point. Constant weights and int32 biases go
through DequantizeLinear too (a bias with scale x_scale * w_scale), which strip_qdq folds
while recording the weights' int8 scales, so the model's own int8 weights are used. An
operator that moves quantized values unchanged (MaxPool, Flatten, Reshape, Squeeze,
Unsqueeze, Transpose on a uint8 tensor) gets a DequantizeLinear / QuantizeLinear with its
input's scale and zero point around it, which is exact. strip_qdq then turns every
QuantizeLinear -> DequantizeLinear pair into recorded activation qparams and
quantize_qdq_graph builds pocketnn's integer operators from them.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from pocketnn.frontend.folding import OnnxState
from pocketnn.errors import ModelError, UnsupportedOpError

_MS = "com.microsoft"
# Operators that move quantized values without changing them (input 0 is the data).
_PASS_THROUGH = ("MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose")


class _Expander:
    def __init__(self, state: OnnxState) -> None:
        self.state = state
        self.nodes: list[onnx.NodeProto] = []
        self.quantized: dict[str, tuple[str, str]] = {}  # u8 tensor -> (scale, zero point) names
        self.count = 0

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}__qop{self.count}"

    def dequantize(self, value: str, scale: str, zero_point: str, axis: int | None = None) -> str:
        out = self.fresh(value)
        inputs = [value, scale] + ([zero_point] if zero_point else [])
        attrs = {} if axis is None else {"axis": axis}
        self.nodes.append(helper.make_node("DequantizeLinear", inputs, [out], name=out, **attrs))
        return out

    def quantize(self, value: str, scale: str, zero_point: str, out: str) -> None:
        inputs = [value, scale] + ([zero_point] if zero_point else [])
        self.nodes.append(helper.make_node("QuantizeLinear", inputs, [out], name=out))
        self.quantized[out] = (scale, zero_point)

    def bias(self, node: onnx.NodeProto, bias: str, x_scale: str, w_scale: str) -> str:
        """DequantizeLinear of an int32 bias with scale x_scale * w_scale (per channel)."""
        constants = self.state.constants
        if x_scale not in constants or w_scale not in constants:
            raise UnsupportedOpError(f"node '{node.name}' ({node.op_type}): the scales of a quantized bias must be "
                                     "constants")
        scale = self.fresh(f"{bias}_scale")
        constants[scale] = (constants[x_scale].astype(np.float64) * constants[w_scale].astype(np.float64)
                            ).astype(np.float32).reshape(-1)
        return self.dequantize(bias, scale, "", axis=0)

    def weight_axis(self, scale: str, axis: int) -> int | None:
        """The DequantizeLinear axis of a per-channel weight scale (None: per tensor)."""
        value = self.state.constants.get(scale)
        return axis if value is not None and value.size > 1 else None

    def emit(self, node: onnx.NodeProto, op: str, inputs: list[str], y_scale: str, y_zero_point: str,
             attributes: list[onnx.AttributeProto], domain: str = "") -> None:
        out = self.fresh(node.output[0])
        float_node = helper.make_node(op, inputs, [out], name=node.name, domain=domain)
        float_node.attribute.extend(attributes)
        self.nodes.append(float_node)
        self.quantize(out, y_scale, y_zero_point, node.output[0])

    def qlinear_conv(self, node: onnx.NodeProto) -> None:
        x, xs, xz, w, ws, wz, ys, yz = (list(node.input) + [""] * 9)[:8]
        b = node.input[8] if len(node.input) > 8 else ""
        inputs = [self.dequantize(x, xs, xz), self.dequantize(w, ws, wz, self.weight_axis(ws, 0))]
        if b:
            inputs.append(self.bias(node, b, xs, ws))
        self.emit(node, "Conv", inputs, ys, yz, list(node.attribute))

    def qlinear_matmul(self, node: onnx.NodeProto) -> None:
        a, as_, az, b, bs, bz, ys, yz = (list(node.input) + [""] * 8)[:8]
        rank = len(self.state.constants[b].shape) if b in self.state.constants else 2
        inputs = [self.dequantize(a, as_, az), self.dequantize(b, bs, bz, self.weight_axis(bs, rank - 1))]
        self.emit(node, "MatMul", inputs, ys, yz, [])

    def qlinear_add(self, node: onnx.NodeProto) -> None:
        a, as_, az, b, bs, bz, ys, yz = (list(node.input) + [""] * 8)[:8]
        self.emit(node, "Add", [self.dequantize(a, as_, az), self.dequantize(b, bs, bz)], ys, yz, [])

    def qlinear_global_average_pool(self, node: onnx.NodeProto) -> None:
        if any(attr.name == "channels_last" and attr.i for attr in node.attribute):
            raise UnsupportedOpError(f"node '{node.name}' (QLinearGlobalAveragePool): channels_last=1 is not "
                                     "supported (NCHW only)")
        x, xs, xz, ys, yz = (list(node.input) + [""] * 5)[:5]
        self.emit(node, "GlobalAveragePool", [self.dequantize(x, xs, xz)], ys, yz, [])

    def qgemm(self, node: onnx.NodeProto) -> None:
        a, as_, az, b, bs, bz, c, ys, yz = (list(node.input) + [""] * 9)[:9]
        attrs = {attr.name: attr for attr in node.attribute}
        trans_b = attrs["transB"].i if "transB" in attrs else 0
        inputs = [self.dequantize(a, as_, az), self.dequantize(b, bs, bz, self.weight_axis(bs, 0 if trans_b else 1))]
        if c:
            inputs.append(self.bias(node, c, as_, bs))
        gemm_attrs = [attr for attr in node.attribute if attr.name in ("alpha", "transA", "transB")]
        if not ys:  # a float output
            gemm = helper.make_node("Gemm", inputs, [node.output[0]], name=node.name)
            gemm.attribute.extend(gemm_attrs)
            self.nodes.append(gemm)
            return
        self.emit(node, "Gemm", inputs, ys, yz, gemm_attrs)

    def pass_through(self, node: onnx.NodeProto) -> None:
        scale, zero_point = self.quantized[node.input[0]]
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.input[0] = self.dequantize(node.input[0], scale, zero_point)
        out = self.fresh(node.output[0])
        copy.output[0] = out
        self.nodes.append(copy)
        self.quantize(out, scale, zero_point, node.output[0])

    def run(self) -> bool:
        handlers = {("", "QLinearConv"): self.qlinear_conv, ("", "QLinearMatMul"): self.qlinear_matmul,
                    (_MS, "QLinearAdd"): self.qlinear_add,
                    (_MS, "QLinearGlobalAveragePool"): self.qlinear_global_average_pool, (_MS, "QGemm"): self.qgemm}
        expanded = False
        for node in self.state.nodes:
            domain = "" if node.domain == "ai.onnx" else node.domain
            handler = handlers.get((domain, node.op_type))
            if handler is not None:
                if len(node.output) != 1 or not node.output[0]:
                    raise ModelError(f"node '{node.name}' ({node.op_type}) must have one output, has "
                                     f"{list(node.output)}")
                handler(node)
                expanded = True
            elif (domain == "" and node.op_type in _PASS_THROUGH and len(node.output) == 1
                  and node.input and node.input[0] in self.quantized):
                self.pass_through(node)
                expanded = True
            else:
                self.nodes.append(node)
                if domain == "" and node.op_type == "QuantizeLinear":
                    inputs = list(node.input) + [""]
                    self.quantized[node.output[0]] = (inputs[1], inputs[2])
        if expanded:
            self.state.nodes[:] = self.nodes
        return expanded


def expand_qoperators(state: OnnxState) -> bool:
    """Rewrites the quantized operators of `state` in QDQ form (module doc); whether the
    model had any."""
    return _Expander(state).run()
