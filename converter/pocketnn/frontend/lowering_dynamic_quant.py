"""Lowering of the standard ONNX operators of dynamic quantization (onnxruntime's
`quantize_dynamic` output; docs/QUANTIZATION.md "Dynamic quantization"):
DynamicQuantizeLinear, ConvInteger and MatMulInteger run as the runtime's integer
operators of the same names, with constant weights stored s8. u8 weights are stored
shifted by -128 together with their zero points: (w - 128) - (z - 128) = w - z, so the
int32 results are the same numbers."""

from __future__ import annotations

import numpy as np

from pocketnn.frontend.context import LowerFn, LoweringContext, OnnxNode, unsupported
from pocketnn.frontend.lowering_nn import _check_range, _spatial_common
from pocketnn.ir import AttrValue, DType

_WEIGHT_DTYPES = (np.int8, np.uint8)


def lower_dynamic_quantize_linear(ctx: LoweringContext, node: OnnxNode) -> None:
    x = node.input(0)
    if ctx.dtype(x) != DType.F32:
        raise unsupported(node, f"x must be float32, got {ctx.dtype(x).name}")
    dtypes = (DType.U8, DType.F32, DType.U8)
    outputs = [node.output(i) or ctx.new_activation(f"{node.name}_unused{i}", ctx.shape(x) if i == 0 else (),
                                                     dtypes[i]) for i in range(3)]
    ctx.emit("DynamicQuantizeLinear", node.name, [x], outputs)


def _activation(ctx: LoweringContext, node: OnnxNode, what: str) -> str:
    name = node.input(0)
    if ctx.dtype(name) != DType.U8:
        raise unsupported(node, f"{what} must be uint8 (quantize_dynamic's activations), got "
                                f"{ctx.dtype(name).name}")
    return name


def _activation_zero_point(ctx: LoweringContext, node: OnnxNode, what: str) -> str:
    """The u8 zero point of X, a runtime value or a constant (0 when absent)."""
    name = node.input(2)
    if not name:
        return ctx.new_constant(f"{node.name}_{what}", np.zeros((), np.uint8))
    if ctx.dtype(name) != DType.U8:
        raise unsupported(node, f"{what} must be uint8, got {ctx.dtype(name).name}")
    shape = ctx.shape(name)
    if int(np.prod(shape)) != 1:
        raise unsupported(node, f"{what} must be one value (per-tensor), got shape {list(shape)}")
    return name


def _weights(ctx: LoweringContext, node: OnnxNode, channels_axis: int) -> tuple[str, str]:
    """W as an s8 constant and its zero point as an s32 vector per output channel."""
    w = ctx.const(node.input(1))
    if w is None:
        raise unsupported(node, "the weights (input 1) must be a constant; pocketnn packs them at load")
    if w.dtype not in _WEIGHT_DTYPES:
        raise unsupported(node, f"weights must be int8 or uint8, got {w.dtype}")
    channels = int(w.shape[channels_axis])
    zero = ctx.const(node.input(3)) if node.input(3) else np.zeros((), w.dtype)
    if zero is None:
        raise unsupported(node, "the weight zero point (input 3) must be a constant")
    if zero.dtype != w.dtype or zero.size not in (1, channels):
        raise unsupported(node, f"weight zero point of dtype {zero.dtype} and shape {list(zero.shape)} does not "
                                f"match weights {w.dtype} with {channels} output channels")
    shift = 128 if w.dtype == np.uint8 else 0
    stored = (w.astype(np.int16) - shift).astype(np.int8)
    zeros = np.broadcast_to(zero.reshape(-1).astype(np.int32) - shift, (channels,)).copy()
    return (ctx.new_constant(f"{node.input(1)}_s8", stored),
            ctx.new_constant(f"{node.input(1)}_zero_point", zeros))


def lower_conv_integer(ctx: LoweringContext, node: OnnxNode) -> None:
    x = _activation(ctx, node, "x")
    x_shape, w_shape = ctx.shape(x), ctx.shape(node.input(1))
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise unsupported(node, f"only 2-D convolutions are supported (X rank 4), got X {list(x_shape)}, "
                                f"W {list(w_shape)}")
    group = int(node.attr("group", 1))
    _check_range(node, "group", [group], 1)
    if x_shape[1] % group or w_shape[0] % group or w_shape[1] * group != x_shape[1]:
        raise unsupported(node, f"X {list(x_shape)} and W {list(w_shape)} do not make {group} groups")
    kernel = [int(d) for d in node.attr("kernel_shape", w_shape[2:])]
    if kernel != list(w_shape[2:]):
        raise unsupported(node, f"kernel_shape {kernel} disagrees with W's shape {list(w_shape)}")
    _, _, strides, dilations, pads = _spatial_common(ctx, node, kernel)
    w, w_zero = _weights(ctx, node, 0)
    attrs: dict[str, AttrValue] = {"group": group, "strides": strides, "dilations": dilations, "pads": pads}
    ctx.emit("ConvInteger", node.name, [x, w, _activation_zero_point(ctx, node, "x_zero_point"), w_zero],
             [node.output(0)], attrs)


def lower_matmul_integer(ctx: LoweringContext, node: OnnxNode) -> None:
    a = _activation(ctx, node, "A")
    b_shape = ctx.shape(node.input(1))
    if len(b_shape) != 2:
        raise unsupported(node, f"B must be a 2-D constant [K, N], got shape {list(b_shape)}")
    b, b_zero = _weights(ctx, node, 1)
    ctx.emit("MatMulInteger", node.name, [a, b, _activation_zero_point(ctx, node, "a_zero_point"), b_zero],
             [node.output(0)])


LOWERINGS: dict[str, LowerFn] = {
    "DynamicQuantizeLinear": lower_dynamic_quantize_linear,
    "ConvInteger": lower_conv_integer,
    "MatMulInteger": lower_matmul_integer,
}
