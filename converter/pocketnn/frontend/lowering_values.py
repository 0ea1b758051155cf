"""Lowering of the ops on runtime values of any dtype (docs/OPS.md "Value types"):
comparisons, logic, Where, Cast, ArgMax/ArgMin, CumSum, Tile and TopK. Constant
operands take the dtype of the runtime operand they meet, as ONNX requires them to have."""

from __future__ import annotations

import onnx

from pocketnn.frontend.context import (
    LowerFn,
    LoweringContext,
    OnnxNode,
    as_operand_dtype,
    flag,
    operand_dtype,
    resolve_axis,
    unsupported,
)
from pocketnn.ir import DType

_COMPARE = ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual")
_LOGIC = ("And", "Or", "Xor")


def lower_compare(ctx: LoweringContext, node: OnnxNode) -> None:
    dtype = operand_dtype(ctx, node.inputs[:2])
    a, b = (as_operand_dtype(node, ctx, node.input(i), dtype) for i in (0, 1))
    ctx.emit(node.op_type, node.name, [a, b], [node.output(0)])


def lower_logic(ctx: LoweringContext, node: OnnxNode) -> None:
    ctx.emit(node.op_type, node.name, [i for i in node.inputs if i], [node.output(0)])


def lower_where(ctx: LoweringContext, node: OnnxNode) -> None:
    dtype = operand_dtype(ctx, node.inputs[1:3])
    x, y = (as_operand_dtype(node, ctx, node.input(i), dtype) for i in (1, 2))
    ctx.emit("Where", node.name, [node.input(0), x, y], [node.output(0)])


def lower_cast(ctx: LoweringContext, node: OnnxNode) -> None:
    """Cast and CastLike. A cast to float16 inside the graph (whose values the converter
    widened to f32) rounds through a real f16 value and back, as onnxruntime computes it."""
    x, y = node.input(0), node.output(0)
    source, target = ctx.dtype(x), ctx.dtype(y)
    to_half = int(node.attr("to", 0)) == onnx.TensorProto.FLOAT16 if node.op_type == "Cast" \
        else ctx.dtype(node.input(1)) == DType.F16
    if to_half and target == DType.F32:
        half = ctx.new_activation(f"{y}_f16", ctx.shape(x), DType.F16)
        ctx.emit("Cast", node.name, [x], [half])
        ctx.emit("Cast", f"{node.name}_widen", [half], [y])
        return
    if source == target:
        ctx.emit("Identity", node.name, [x], [y])
        return
    ctx.emit("Cast", node.name, [x], [y])


def lower_arg(ctx: LoweringContext, node: OnnxNode) -> None:
    rank = ctx.rank(node.input(0))
    axis = resolve_axis(node, int(node.attr("axis", 0)), rank)
    ctx.emit(node.op_type, node.name, [node.input(0)], [node.output(0)],
             {"axis": axis, "keepdims": flag(node, "keepdims", 1),
              "select_last_index": flag(node, "select_last_index", 0)})


def lower_cumsum(ctx: LoweringContext, node: OnnxNode) -> None:
    axis_value = ctx.require_const(node, 1, "axis").reshape(-1)
    if axis_value.size != 1:
        raise unsupported(node, f"axis must be one value, got {axis_value.size}")
    axis = resolve_axis(node, int(axis_value[0]), ctx.rank(node.input(0)))
    ctx.emit("CumSum", node.name, [node.input(0)], [node.output(0)],
             {"axis": axis, "exclusive": flag(node, "exclusive", 0), "reverse": flag(node, "reverse", 0)})


def lower_tile(ctx: LoweringContext, node: OnnxNode) -> None:
    repeats = [int(r) for r in ctx.require_const(node, 1, "repeats").reshape(-1)]
    if len(repeats) != ctx.rank(node.input(0)) or any(r < 1 for r in repeats):
        raise unsupported(node, f"repeats {repeats} must give one count >= 1 per dim of the input")
    ctx.emit("Tile", node.name, [node.input(0)], [node.output(0)], {"repeats": repeats})


def lower_topk(ctx: LoweringContext, node: OnnxNode) -> None:
    rank = ctx.rank(node.input(0))
    axis = resolve_axis(node, int(node.attr("axis", -1)), rank)
    if ctx.opset < 10:
        k = int(node.attr("k", 0))
    else:
        k_value = ctx.require_const(node, 1, "K").reshape(-1)
        if k_value.size != 1:
            raise unsupported(node, f"K must be one value, got {k_value.size}")
        k = int(k_value[0])
    dim = ctx.shape(node.input(0))[axis]
    if not 1 <= k <= dim:
        raise unsupported(node, f"K = {k} must be in [1, {dim}] (the size of axis {axis})")
    outputs = [node.output(0), node.output(1)]
    for i, name in enumerate(outputs):
        if not name:
            outputs[i] = ctx.new_activation(f"{node.name}_unused{i}", ctx.shape(node.output(1 - i)),
                                            ctx.dtype(node.input(0)) if i == 0 else DType.S64)
    ctx.emit("TopK", node.name, [node.input(0)], outputs,
             {"axis": axis, "k": k, "largest": flag(node, "largest", 1), "sorted": flag(node, "sorted", 1)})


LOWERINGS: dict[str, LowerFn] = {
    **{op: lower_compare for op in _COMPARE},
    **{op: lower_logic for op in _LOGIC},
    "Not": lower_logic,
    "Where": lower_where,
    "Cast": lower_cast,
    "CastLike": lower_cast,
    "ArgMax": lower_arg,
    "ArgMin": lower_arg,
    "CumSum": lower_cumsum,
    "Tile": lower_tile,
    "TopK": lower_topk,
}
