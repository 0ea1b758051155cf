"""Lowering of ONNX LSTM and GRU to the runtime's whole-layer operators (docs/OPS.md
"Recurrent operators"). Only nodes that frontend/recurrent.py's `fusable` accepts reach
here; the others were unrolled before lowering. An LSTM from com.microsoft
DynamicQuantizeLSTM may carry its W and R as s8 in extra inputs (INT8_INPUTS, made by
frontend/dynamic_quant_contrib.py): the runtime LSTM then reads those, with their scales
and zero points (format 1.12), instead of the float weights. The operators compute layout 0
(sequence first); a layout-1 node (batch first) gets Transposes of X, the initial
states and the outputs around it."""

from __future__ import annotations

import numpy as np

from pocketnn.frontend.context import LowerFn, LoweringContext, OnnxNode, unsupported
from pocketnn.ir import AttrValue

_DIRECTIONS = {"forward": 0, "reverse": 1, "bidirectional": 2}
# Bits of the `outputs` attribute: which of Y, Y_h, Y_c the node writes, in that order.
_OUTPUT_BITS = (1, 2, 4)
# ONNX LSTM inputs past its eight, set by dynamic_quant_contrib: per weight (W, then R)
# its s8 values [directions, 4 * hidden, rows], scale [directions, 4 * hidden] (f32) and
# zero point [directions] (int32).
INT8_INPUTS = (8, 9, 10, 11, 12, 13)


def _float32_constant(ctx: LoweringContext, node: OnnxNode, index: int, what: str) -> str:
    value = ctx.require_const(node, index, what)
    if value.dtype == np.float32:
        return node.input(index)
    return ctx.new_constant(f"{node.name}_{what}", value.astype(np.float32))


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(perm.index(axis) for axis in range(len(perm)))


def _swap_first_axes(ctx: LoweringContext, node: OnnxNode, name: str, perm: tuple[int, ...]) -> str:
    """`name` transposed by `perm` (layout 1 -> layout 0 of an input)."""
    shape = ctx.shape(name)
    swapped = ctx.new_activation(f"{name}_layout0", tuple(shape[axis] for axis in perm))
    ctx.emit("Transpose", f"{node.name}/{name}_layout0", [name], [swapped], {"perm": list(perm)})
    return swapped


def lower_recurrent(ctx: LoweringContext, node: OnnxNode) -> None:
    gates = 4 if node.op_type == "LSTM" else 3
    weights = ctx.require_const(node, 1, "W")
    if weights.ndim != 3 or weights.shape[1] % gates:
        raise unsupported(node, f"W has shape {list(weights.shape)}, expected [directions, {gates} x hidden, input]")
    direction = str(node.attr("direction", "forward"))
    layout = int(node.attr("layout", 0))
    if direction not in _DIRECTIONS or layout not in (0, 1):
        raise unsupported(node, f"direction '{direction}' at layout {layout} is not fused")
    attrs: dict[str, AttrValue] = {
        "direction": _DIRECTIONS[direction],
        "hidden_size": int(node.attr("hidden_size", 0)) or weights.shape[1] // gates,
    }
    if node.attr("clip") is not None:
        attrs["clip"] = float(node.attr("clip"))
    if node.op_type == "GRU":
        attrs["linear_before_reset"] = int(node.attr("linear_before_reset", 0))
    swap = _swap_first_axes if layout else (lambda _ctx, _node, name, _perm: name)
    int8 = node.op_type == "LSTM" and bool(node.input(INT8_INPUTS[0]))
    w_s8, w_scale, w_zero, r_s8, r_scale, r_zero = (node.input(i) for i in INT8_INPUTS)
    weights_in = [w_s8, r_s8] if int8 else [_float32_constant(ctx, node, 1, "W"), _float32_constant(ctx, node, 2, "R")]
    inputs = [swap(ctx, node, node.input(0), (1, 0, 2))] + weights_in + \
        [_float32_constant(ctx, node, 3, "B") if node.input(3) else ""]
    # ONNX input 4 (sequence_lens) is the full length here; 5 and 6 are the initial states.
    states = [node.input(5)] + ([node.input(6)] if node.op_type == "LSTM" else [])
    inputs += [swap(ctx, node, state, (1, 0, 2)) if state else "" for state in states]
    if int8:
        inputs += [""] * (6 - len(inputs)) + [w_scale, w_zero, r_scale, r_zero]
    while inputs and not inputs[-1]:
        inputs.pop()
    used = [name for name in node.outputs[:3] if ctx.is_used(name)]
    attrs["outputs"] = sum(bit for bit, name in zip(_OUTPUT_BITS, node.outputs) if ctx.is_used(name))
    if not layout:
        ctx.emit(node.op_type, node.name, inputs, used, attrs)
        return
    # Layout 0 results, then Y [seq, dirs, batch, hidden] -> [batch, seq, dirs, hidden]
    # and Y_h/Y_c [dirs, batch, hidden] -> [batch, dirs, hidden].
    perms = {node.outputs[0]: (2, 0, 1, 3)} | {name: (1, 0, 2) for name in node.outputs[1:3]}
    inner = {name: ctx.new_activation(f"{name}_layout0", tuple(ctx.shape(name)[axis] for axis in _inverse(perms[name])))
             for name in used}
    ctx.emit(node.op_type, node.name, inputs, [inner[name] for name in used], attrs)
    for name in used:
        ctx.emit("Transpose", f"{node.name}/{name}_layout1", [inner[name]], [name], {"perm": list(perms[name])})


LOWERINGS: dict[str, LowerFn] = {"LSTM": lower_recurrent, "GRU": lower_recurrent}
