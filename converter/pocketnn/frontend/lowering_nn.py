"""Lowering of the neural-network ops: convolutions, pools, Gemm/MatMul, norms, Softmax."""

from __future__ import annotations

import math

from pocketnn.frontend.context import (
    LowerFn,
    flag,
    LoweringContext,
    OnnxNode,
    resolve_axis,
    unsupported,
    unsupported_attr,
)
from pocketnn.ir import AttrValue

_AUTO_PADS = "NOTSET, VALID, SAME_UPPER, SAME_LOWER"
# The runtime's bound on strides, dilations, pads, kernel sizes and groups (nn_common.h).
MAX_SPATIAL_ATTR = 1 << 30


def _check_range(node: OnnxNode, name: str, values: list[int], low: int) -> None:
    for v in values:
        if not low <= v <= MAX_SPATIAL_ATTR:
            raise unsupported(node, f"{name} {values}: each must be in [{low}, {MAX_SPATIAL_ATTR}]")



def _spatial_rank(ctx: LoweringContext, node: OnnxNode) -> int:
    k = ctx.rank(node.input(0)) - 2
    if k not in (1, 2):
        raise unsupported(node, f"{k}-D spatial input is not supported; supported: 1-D and 2-D")
    return k


def _same_pads(in_size: int, stride: int, eff_kernel: int, upper: bool) -> tuple[int, int]:
    """ONNX SAME_UPPER/SAME_LOWER: output = ceil(in/stride); the odd pixel goes to the
    end (UPPER) or the beginning (LOWER)."""
    out = -(-in_size // stride)
    total = max(0, (out - 1) * stride + eff_kernel - in_size)
    small, big = total // 2, total - total // 2
    return (small, big) if upper else (big, small)


def resolve_pads(node: OnnxNode, in_sizes: list[int], kernel: list[int], strides: list[int],
                 dilations: list[int]) -> list[int]:
    """Explicit ONNX-layout pads [b1..bk, e1..ek] after auto_pad."""
    k = len(in_sizes)
    auto_pad = node.attr("auto_pad", "NOTSET")
    if auto_pad == "NOTSET":
        pads = [int(p) for p in node.attr("pads", [0] * (2 * k))]
        if len(pads) != 2 * k:
            raise unsupported(node, f"pads {pads} must have {2 * k} entries")
        return pads
    if auto_pad == "VALID":
        return [0] * (2 * k)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for i in range(k):
            eff = dilations[i] * (kernel[i] - 1) + 1
            b, e = _same_pads(in_sizes[i], strides[i], eff, auto_pad == "SAME_UPPER")
            begins.append(b)
            ends.append(e)
        return begins + ends
    raise unsupported_attr(node, "auto_pad", auto_pad, _AUTO_PADS)


def to_2d(k: int, values: list[int], neutral: int) -> list[int]:
    """A 1-D spatial list [w] as [neutral, w]; 2-D lists pass."""
    return [neutral] + list(values) if k == 1 else list(values)


def pads_to_2d(k: int, pads: list[int]) -> list[int]:
    return [0, pads[0], 0, pads[1]] if k == 1 else list(pads)


def _spatial_common(ctx: LoweringContext, node: OnnxNode, kernel: list[int]
                    ) -> tuple[int, list[int], list[int], list[int], list[int]]:
    k = _spatial_rank(ctx, node)
    in_sizes = list(ctx.shape(node.input(0))[2:])
    strides = [int(s) for s in node.attr("strides", [1] * k)]
    dilations = [int(d) for d in node.attr("dilations", [1] * k)]
    if len(kernel) != k or len(strides) != k or len(dilations) != k:
        raise unsupported(node, "kernel_shape/strides/dilations do not match the spatial rank")
    _check_range(node, "kernel_shape", kernel, 1)
    _check_range(node, "strides", strides, 1)
    _check_range(node, "dilations", dilations, 1)
    pads = resolve_pads(node, in_sizes, kernel, strides, dilations)
    _check_range(node, "pads", pads, 0)
    return k, in_sizes, strides, dilations, pads


def _check_output(ctx: LoweringContext, node: OnnxNode, expected: list[int]) -> None:
    got = list(ctx.shape(node.output(0))[2:])
    if got != expected:
        raise unsupported(node, f"computed spatial output {expected} disagrees with the inferred "
                                f"shape {got}")


def _check_conv_weights(ctx: LoweringContext, node: OnnxNode, transpose: bool) -> int:
    """X, W and B shapes agree (channels, group, kernel_shape); returns the group."""
    x_shape, w_shape = ctx.shape(node.input(0)), ctx.shape(node.input(1))
    group = int(node.attr("group", 1))
    _check_range(node, "group", [group], 1)
    if len(w_shape) != len(x_shape):
        raise unsupported(node, f"W has shape {list(w_shape)}, rank {len(w_shape)}; X has rank {len(x_shape)}")
    kernel_attr = node.attr("kernel_shape")
    if kernel_attr is not None and [int(d) for d in kernel_attr] != list(w_shape[2:]):
        raise unsupported(node, f"kernel_shape {list(kernel_attr)} disagrees with W's shape {list(w_shape)}")
    channels = x_shape[1]
    if transpose:
        in_w, out_channels = w_shape[0], w_shape[1] * group
        if in_w != channels or channels % group:
            raise unsupported(node, f"W {list(w_shape)} needs X with {in_w} channels divisible by group "
                                    f"{group}; X has {channels}")
    else:
        out_channels = w_shape[0]
        if channels % group or out_channels % group or w_shape[1] * group != channels:
            raise unsupported(node, f"W {list(w_shape)} with group {group} needs X with {w_shape[1] * group} "
                                    f"channels and {out_channels} divisible by the group; X has {channels}")
    if node.input(2) and ctx.shape(node.input(2)) != (out_channels,):
        raise unsupported(node, f"B has shape {list(ctx.shape(node.input(2)))}; expected [{out_channels}]")
    return group


def lower_conv(ctx: LoweringContext, node: OnnxNode) -> None:
    _check_conv_weights(ctx, node, transpose=False)
    w_shape = ctx.shape(node.input(1))
    kernel = [int(d) for d in node.attr("kernel_shape", w_shape[2:])]
    k, in_sizes, strides, dilations, pads = _spatial_common(ctx, node, kernel)
    expected = [(in_sizes[i] + pads[i] + pads[k + i] - (dilations[i] * (kernel[i] - 1) + 1))
                // strides[i] + 1 for i in range(k)]
    _check_output(ctx, node, expected)
    attrs: dict[str, AttrValue] = {
        "group": int(node.attr("group", 1)),
        "strides": to_2d(k, strides, 1),
        "dilations": to_2d(k, dilations, 1),
        "pads": pads_to_2d(k, pads),
    }
    inputs = [node.input(0), node.input(1)] + ([node.input(2)] if node.input(2) else [])
    ctx.emit("Conv", node.name, inputs, [node.output(0)], attrs)


def lower_conv_transpose(ctx: LoweringContext, node: OnnxNode) -> None:
    _check_conv_weights(ctx, node, transpose=True)
    w_shape = ctx.shape(node.input(1))
    kernel = [int(d) for d in node.attr("kernel_shape", w_shape[2:])]
    k = _spatial_rank(ctx, node)
    in_sizes = list(ctx.shape(node.input(0))[2:])
    strides = [int(s) for s in node.attr("strides", [1] * k)]
    dilations = [int(d) for d in node.attr("dilations", [1] * k)]
    out_pad = [int(p) for p in node.attr("output_padding", [0] * k)]
    if len(strides) != k or len(dilations) != k or len(out_pad) != k:
        raise unsupported(node, "strides/dilations/output_padding do not match the spatial rank")
    _check_range(node, "strides", strides, 1)
    _check_range(node, "dilations", dilations, 1)
    _check_range(node, "output_padding", out_pad, 0)
    auto_pad = node.attr("auto_pad", "NOTSET")
    if auto_pad not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise unsupported_attr(node, "auto_pad", auto_pad, _AUTO_PADS)
    output_shape = node.attr("output_shape")
    if output_shape is not None:
        target = [int(s) for s in output_shape][-k:]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        target = [in_sizes[i] * strides[i] for i in range(k)]
    else:
        target = None
    if target is None:
        pads = [0] * (2 * k) if auto_pad == "VALID" else \
            [int(p) for p in node.attr("pads", [0] * (2 * k))]
    else:
        # ONNX spec (and onnxruntime): the odd pixel of the total padding goes to the
        # end for SAME_UPPER and to the beginning otherwise (also NOTSET with
        # output_shape); a negative total becomes extra output_padding (the output
        # grows at the end).
        begins, ends = [], []
        for i in range(k):
            natural = strides[i] * (in_sizes[i] - 1) + out_pad[i] + dilations[i] * (kernel[i] - 1) + 1
            total = natural - target[i]
            if total < 0:
                out_pad[i] -= total
                total = 0
            if auto_pad == "SAME_UPPER":
                begins.append(total // 2)
                ends.append(total - total // 2)
            else:
                begins.append(total - total // 2)
                ends.append(total // 2)
        pads = begins + ends
    if len(pads) != 2 * k:
        raise unsupported(node, f"pads {pads} must have {2 * k} entries")
    _check_range(node, "pads", pads, 0)
    expected = [strides[i] * (in_sizes[i] - 1) + out_pad[i] + dilations[i] * (kernel[i] - 1) + 1
                - pads[i] - pads[k + i] for i in range(k)]
    _check_output(ctx, node, expected)
    attrs: dict[str, AttrValue] = {
        "group": int(node.attr("group", 1)),
        "strides": to_2d(k, strides, 1),
        "dilations": to_2d(k, dilations, 1),
        "pads": pads_to_2d(k, pads),
        "output_padding": to_2d(k, out_pad, 0),
    }
    inputs = [node.input(0), node.input(1)] + ([node.input(2)] if node.input(2) else [])
    ctx.emit("ConvTranspose", node.name, inputs, [node.output(0)], attrs)


def lower_pool(ctx: LoweringContext, node: OnnxNode) -> None:
    kernel = [int(d) for d in node.attr("kernel_shape", [])]
    k, in_sizes, strides, dilations, pads = _spatial_common(ctx, node, kernel)
    ceil_mode = flag(node, "ceil_mode")
    if any(pads[i] >= kernel[i] or pads[k + i] >= kernel[i] for i in range(k)):
        raise unsupported(node, f"pads {pads} must be smaller than the kernel {kernel}")
    if any(in_sizes[i] + pads[i] + pads[k + i] < dilations[i] * (kernel[i] - 1) + 1 for i in range(k)):
        raise unsupported(node, f"the window (kernel {kernel}, dilations {dilations}) is larger than "
                                f"the padded input {in_sizes} (pads {pads})")
    if node.op_type == "MaxPool" and ctx.is_used(node.output(1)):
        raise unsupported(node, "output 1 (Indices) is not supported")
    attrs: dict[str, AttrValue] = {
        "kernel": to_2d(k, kernel, 1),
        "strides": to_2d(k, strides, 1),
        "dilations": to_2d(k, dilations, 1),
        "pads": pads_to_2d(k, pads),
        "ceil_mode": ceil_mode,
    }
    if node.op_type == "AveragePool":
        attrs["count_include_pad"] = flag(node, "count_include_pad")
    ctx.emit(node.op_type, node.name, [node.input(0)], [node.output(0)], attrs)


def lower_global_pool(ctx: LoweringContext, node: OnnxNode) -> None:
    if ctx.rank(node.input(0)) < 3:
        raise unsupported(node, f"X has shape {list(ctx.shape(node.input(0)))}; expected rank >= 3")
    ctx.emit(node.op_type, node.name, [node.input(0)], [node.output(0)])


def lower_gemm(ctx: LoweringContext, node: OnnxNode) -> None:
    trans_a, trans_b = flag(node, "transA"), flag(node, "transB")
    a_shape, b_shape = ctx.shape(node.input(0)), ctx.shape(node.input(1))
    if len(a_shape) != 2 or len(b_shape) != 2:
        raise unsupported(node, f"A {list(a_shape)} and B {list(b_shape)} must be 2-D")
    k_a, k_b = a_shape[0 if trans_a else 1], b_shape[1 if trans_b else 0]
    if k_a != k_b:
        raise unsupported(node, f"inner dimensions differ: A {list(a_shape)} (transA={trans_a}), "
                                f"B {list(b_shape)} (transB={trans_b})")
    if node.input(2):
        m, n = a_shape[1 if trans_a else 0], b_shape[0 if trans_b else 1]
        c_shape = ctx.shape(node.input(2))
        aligned = (1,) * (2 - len(c_shape)) + tuple(c_shape)
        if len(c_shape) > 2 or any(c not in (1, want) for c, want in zip(aligned, (m, n))):
            raise unsupported(node, f"C has shape {list(c_shape)}, which does not broadcast to "
                                    f"[{m}, {n}]")
    attrs: dict[str, AttrValue] = {
        "trans_a": trans_a,
        "trans_b": trans_b,
        "alpha": float(node.attr("alpha", 1.0)),
        "beta": float(node.attr("beta", 1.0)),
    }
    inputs = [node.input(0), node.input(1)] + ([node.input(2)] if node.input(2) else [])
    ctx.emit("Gemm", node.name, inputs, [node.output(0)], attrs)


def lower_matmul(ctx: LoweringContext, node: OnnxNode) -> None:
    ctx.emit("MatMul", node.name, [node.input(0), node.input(1)], [node.output(0)])


def _epsilon(node: OnnxNode) -> float:
    epsilon = float(node.attr("epsilon", 1e-5))
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise unsupported_attr(node, "epsilon", epsilon, "a finite number >= 0")
    return epsilon


def lower_batchnorm(ctx: LoweringContext, node: OnnxNode) -> None:
    if int(node.attr("training_mode", 0)) != 0:
        raise unsupported_attr(node, "training_mode", node.attr("training_mode"), "0 (inference)")
    if int(node.attr("spatial", 1)) != 1:
        raise unsupported_attr(node, "spatial", node.attr("spatial"), "1")
    if any(ctx.is_used(o) for o in node.outputs[1:]):
        raise unsupported(node, "training outputs (running mean/var) are not supported")
    x_shape = ctx.shape(node.input(0))
    if len(x_shape) < 2 or len(node.inputs) < 5:
        raise unsupported(node, f"needs X of rank >= 2 and 5 inputs; X is {list(x_shape)}")
    for i, what in enumerate(("scale", "B", "mean", "var"), start=1):
        if ctx.shape(node.input(i)) != (x_shape[1],):
            raise unsupported(node, f"{what} has shape {list(ctx.shape(node.input(i)))}; expected "
                                    f"[{x_shape[1]}] (the channels of X)")
    attrs: dict[str, AttrValue] = {"epsilon": _epsilon(node)}
    ctx.emit("BatchNormalization", node.name, node.inputs[:5], [node.output(0)], attrs)


def lower_layernorm(ctx: LoweringContext, node: OnnxNode) -> None:
    if any(ctx.is_used(o) for o in node.outputs[1:]):
        raise unsupported(node, "outputs 1-2 (Mean, InvStdDev) are not supported")
    shape = ctx.shape(node.input(0))
    axis = resolve_axis(node, int(node.attr("axis", -1)), len(shape))
    normalized = shape[axis:]
    inputs = [node.input(0), node.input(1)] + ([node.input(2)] if node.input(2) else [])
    for name in inputs[1:]:
        param = ctx.shape(name)
        if len(param) > len(normalized) or any(
                p not in (1, n) for p, n in zip(param[::-1], normalized[::-1])):
            raise unsupported(node, f"'{name}' {list(param)} does not broadcast to the normalized "
                                    f"dims {list(normalized)}")
    attrs: dict[str, AttrValue] = {"axis": axis, "epsilon": _epsilon(node)}
    ctx.emit("LayerNormalization", node.name, inputs, [node.output(0)], attrs)


def lower_softmax(ctx: LoweringContext, node: OnnxNode) -> None:
    x = node.input(0)
    shape = ctx.shape(x)
    rank = len(shape)
    log = 1 if node.op_type == "LogSoftmax" else 0
    default_axis = -1 if ctx.opset >= 13 else 1
    axis = resolve_axis(node, int(node.attr("axis", default_axis)), rank)
    if ctx.opset >= 13 or axis == rank - 1:
        ctx.emit("Softmax", node.name, [x], [node.output(0)], {"axis": axis, "log": log})
        return
    # Opset < 13: the input is coerced to 2-D [prod(d<axis), prod(d>=axis)] first.
    flat = (int(math.prod(shape[:axis])), int(math.prod(shape[axis:])))
    x2 = ctx.new_activation(f"{node.name}_flat", flat)
    y2 = ctx.new_activation(f"{node.name}_flat_out", flat)
    ctx.emit("Reshape", f"{node.name}_reshape_in", [x], [x2])
    ctx.emit("Softmax", node.name, [x2], [y2], {"axis": 1, "log": log})
    ctx.emit("Reshape", f"{node.name}_reshape_out", [y2], [node.output(0)])


def lower_lrn(ctx: LoweringContext, node: OnnxNode) -> None:
    if node.attr("size") is None:
        raise unsupported(node, "attribute size is required")
    attrs: dict[str, AttrValue] = {
        "size": int(node.attr("size")),
        "alpha": float(node.attr("alpha", 1e-4)),
        "beta": float(node.attr("beta", 0.75)),
        "bias": float(node.attr("bias", 1.0)),
    }
    ctx.emit("LRN", node.name, [node.input(0)], [node.output(0)], attrs)


LOWERINGS: dict[str, LowerFn] = {
    "LRN": lower_lrn,
    "Conv": lower_conv,
    "ConvTranspose": lower_conv_transpose,
    "MaxPool": lower_pool,
    "AveragePool": lower_pool,
    "GlobalAveragePool": lower_global_pool,
    "GlobalMaxPool": lower_global_pool,
    "Gemm": lower_gemm,
    "MatMul": lower_matmul,
    "BatchNormalization": lower_batchnorm,
    "LayerNormalization": lower_layernorm,
    "Softmax": lower_softmax,
    "LogSoftmax": lower_softmax,
}
