"""Lowering of element-wise ops: activations, unary math, binary and variadic ops."""

from __future__ import annotations

import numpy as np

from pocketnn.frontend.context import (
    LowerFn,
    LoweringContext,
    OnnxNode,
    as_operand_dtype,
    operand_dtype,
    unsupported,
    unsupported_attr,
)
from pocketnn.ir import AttrValue, DType

_PLAIN_UNARY = ("Relu", "Sigmoid", "Tanh", "Erf", "Exp", "Sqrt", "Abs", "Neg", "Log",
                "Reciprocal", "Softplus", "Floor", "Ceil", "HardSwish", "Sign")
# op -> (attribute, ONNX default) for unary ops with float attributes.
_UNARY_WITH_ATTRS: dict[str, tuple[tuple[str, float], ...]] = {
    "LeakyRelu": (("alpha", 0.01),),
    "HardSigmoid": (("alpha", 0.2), ("beta", 0.5)),
    "Elu": (("alpha", 1.0),),
}
_BINARY = ("Add", "Sub", "Mul", "Div", "Pow")


def lower_unary(ctx: LoweringContext, node: OnnxNode) -> None:
    attrs: dict[str, AttrValue] = {
        attr: float(node.attr(attr, default)) for attr, default in _UNARY_WITH_ATTRS.get(node.op_type, ())
    }
    ctx.emit(node.op_type, node.name, [node.input(0)], [node.output(0)], attrs)


def lower_gelu(ctx: LoweringContext, node: OnnxNode) -> None:
    approximate = node.attr("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise unsupported_attr(node, "approximate", approximate, "none, tanh")
    ctx.emit("Gelu", node.name, [node.input(0)], [node.output(0)],
             {"approximate": 0 if approximate == "none" else 1})


# ONNX's bounds of an absent min / max: the lowest and largest finite float, so Clip
# without min maps -inf to -FLT_MAX (onnxruntime does).
_CLIP_DEFAULT_MAX = float(np.finfo(np.float32).max)


def lower_clip(ctx: LoweringContext, node: OnnxNode) -> None:
    if ctx.opset < 11:
        low = float(node.attr("min", -_CLIP_DEFAULT_MAX))
        high = float(node.attr("max", _CLIP_DEFAULT_MAX))
    else:
        low_arr = ctx.require_const(node, 1, "min") if node.input(1) else None
        high_arr = ctx.require_const(node, 2, "max") if node.input(2) else None
        low = -_CLIP_DEFAULT_MAX if low_arr is None else float(low_arr.reshape(-1)[0])
        high = _CLIP_DEFAULT_MAX if high_arr is None else float(high_arr.reshape(-1)[0])
    ctx.emit("Clip", node.name, [node.input(0)], [node.output(0)],
             {"min": float(low), "max": float(high)})


def lower_binary(ctx: LoweringContext, node: OnnxNode) -> None:
    if "broadcast" in node.attrs or "axis" in node.attrs:
        raise unsupported(node, "legacy broadcast/axis attributes (opset < 7) are not supported")
    dtype = DType.F32 if node.op_type == "Pow" else operand_dtype(ctx, node.inputs[:2])
    a = as_operand_dtype(node, ctx, node.input(0), dtype)
    b = as_operand_dtype(node, ctx, node.input(1), dtype)
    if node.op_type == "Pow" and ctx.const(b) is None and ctx.dtype(b) != DType.F32:
        # A runtime integer exponent: the float power of its value, as onnxruntime computes.
        wide = ctx.new_activation(f"{b}_f32", ctx.shape(b))
        ctx.emit("Cast", f"{node.name}_exponent", [b], [wide])
        b = wide
    ctx.emit(node.op_type, node.name, [a, b], [node.output(0)])


def lower_prelu(ctx: LoweringContext, node: OnnxNode) -> None:
    ctx.emit("PRelu", node.name, [node.input(0), node.input(1)], [node.output(0)])


def lower_variadic(ctx: LoweringContext, node: OnnxNode) -> None:
    """Sum/Max/Min/Mean of n inputs as a chain of binary ops (Mean: sum, then times 1/n)."""
    dtype = operand_dtype(ctx, node.inputs)
    inputs = [as_operand_dtype(node, ctx, i, dtype) for i in node.inputs if i]
    binary = {"Sum": "Add", "Mean": "Add", "Max": "Max", "Min": "Min"}[node.op_type]
    out = node.output(0)
    if len(inputs) == 1:
        ctx.emit("Identity", node.name, inputs, [out])
        return
    needs_scale = node.op_type == "Mean"
    acc = inputs[0]
    acc_shape = ctx.shape(acc)
    for i, operand in enumerate(inputs[1:], start=1):
        acc_shape = tuple(np.broadcast_shapes(acc_shape, ctx.shape(operand)))
        last = i == len(inputs) - 1 and not needs_scale
        target = out if last else ctx.new_activation(f"{node.name}_acc{i}", acc_shape, dtype)
        ctx.emit(binary, f"{node.name}_{i}" if i > 1 else node.name, [acc, operand], [target])
        acc = target
    if node.op_type == "Mean":
        if dtype != DType.F32:
            raise unsupported(node, f"Mean of {dtype.name} values is not supported")
        scale = ctx.new_constant(f"{node.name}_inv_n", np.array(1.0 / len(inputs), dtype=np.float32))
        ctx.emit("Mul", f"{node.name}_scale", [acc, scale], [out])


def lower_identity(ctx: LoweringContext, node: OnnxNode) -> None:
    """Identity and Dropout (inference); the remove_identity pass drops them unless a graph
    output would alias another tensor."""
    if node.op_type == "Dropout":
        if ctx.is_used(node.output(1)):
            raise unsupported(node, "output 1 (mask) is not supported")
        training = ctx.const(node.input(2))
        if node.input(2) and (training is None or bool(training.reshape(-1)[0])):
            raise unsupported(node, "training_mode must be a constant false (inference only)")
    ctx.emit("Identity", node.name, [node.input(0)], [node.output(0)])


LOWERINGS: dict[str, LowerFn] = {
    **{op: lower_unary for op in _PLAIN_UNARY},
    **{op: lower_unary for op in _UNARY_WITH_ATTRS},
    **{op: lower_binary for op in _BINARY},
    "Gelu": lower_gelu,
    "Clip": lower_clip,
    "PRelu": lower_prelu,
    "Sum": lower_variadic,
    "Mean": lower_variadic,
    "Max": lower_variadic,
    "Min": lower_variadic,
    "Identity": lower_identity,
    "Dropout": lower_identity,
}
