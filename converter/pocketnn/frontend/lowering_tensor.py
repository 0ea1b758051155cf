"""Lowering of data-movement ops: reshapes, Slice, Split, Pad, Concat, Transpose, Gather,
reductions and Expand."""

from __future__ import annotations

import math

import numpy as np

from pocketnn.frontend.context import (
    LowerFn,
    flag,
    LoweringContext,
    OnnxNode,
    resolve_axis,
    unsupported,
    unsupported_attr,
)
from pocketnn.ir import AttrValue, DType


def lower_reshape(ctx: LoweringContext, node: OnnxNode) -> None:
    """Flatten, Squeeze, Unsqueeze and Reshape keep the elements; the output shape comes
    from shape inference and is stored in the tensor table."""
    in_shape, out_shape = ctx.shape(node.input(0)), ctx.shape(node.output(0))
    if math.prod(in_shape) != math.prod(out_shape):
        raise unsupported(node, f"{list(in_shape)} ({math.prod(in_shape)} elements) cannot become "
                                f"{list(out_shape)} ({math.prod(out_shape)} elements)")
    ctx.emit("Reshape", node.name, [node.input(0)], [node.output(0)])


def _ints_input_or_attr(ctx: LoweringContext, node: OnnxNode, index: int, attr: str,
                        what: str) -> list[int] | None:
    if node.input(index):
        return [int(v) for v in ctx.require_const(node, index, what).reshape(-1)]
    value = node.attr(attr)
    return None if value is None else [int(v) for v in value]


def slice_params(shape: tuple[int, ...], starts: list[int], ends: list[int], axes: list[int],
                 steps: list[int]) -> tuple[list[int], list[int], list[int]]:
    """ONNX Slice resolved per dimension: (starts[r], steps[r], output shape)."""
    rank = len(shape)
    out_starts = [0] * rank
    out_steps = [1] * rank
    out_shape = list(shape)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        dim = shape[axis]
        if start < 0:
            start += dim
        if end < 0:
            end += dim
        if step > 0:
            start = min(max(start, 0), dim)
            end = min(max(end, 0), dim)
            length = max(0, -(-(end - start) // step))
        else:
            start = min(max(start, 0), dim - 1)
            end = min(max(end, -1), dim - 1)
            length = max(0, -(-(start - end) // -step))
        if length == 0:
            start = 0  # nothing is read; keep the index in range
        out_starts[axis] = start
        out_steps[axis] = step
        out_shape[axis] = length
    return out_starts, out_steps, out_shape


def lower_slice(ctx: LoweringContext, node: OnnxNode) -> None:
    shape = ctx.shape(node.input(0))
    rank = len(shape)
    if ctx.opset < 10:
        starts = [int(v) for v in node.attr("starts", [])]
        ends = [int(v) for v in node.attr("ends", [])]
        axes_raw = node.attr("axes")
        steps = [1] * len(starts)
    else:
        starts = [int(v) for v in ctx.require_const(node, 1, "starts").reshape(-1)]
        ends = [int(v) for v in ctx.require_const(node, 2, "ends").reshape(-1)]
        axes_raw = ctx.require_const(node, 3, "axes").reshape(-1) if node.input(3) else None
        steps = [int(v) for v in ctx.require_const(node, 4, "steps").reshape(-1)] \
            if node.input(4) else [1] * len(starts)
    axes = list(range(len(starts))) if axes_raw is None else [int(a) for a in axes_raw]
    axes = [resolve_axis(node, a, rank) for a in axes]
    if len(set(axes)) != len(axes) or not len(starts) == len(ends) == len(axes) == len(steps):
        raise unsupported(node, "starts/ends/axes/steps are inconsistent")
    if any(s == 0 for s in steps):
        raise unsupported(node, "a step of 0 is invalid")
    out_starts, out_steps, out_shape = slice_params(shape, starts, ends, axes, steps)
    if tuple(out_shape) != ctx.shape(node.output(0)):
        raise unsupported(node, f"resolved slice shape {out_shape} disagrees with the inferred "
                                f"shape {list(ctx.shape(node.output(0)))}")
    attrs: dict[str, AttrValue] = {"starts": out_starts, "steps": out_steps}
    ctx.emit("Slice", node.name, [node.input(0)], [node.output(0)], attrs)


def lower_split(ctx: LoweringContext, node: OnnxNode) -> None:
    shape = ctx.shape(node.input(0))
    axis = resolve_axis(node, int(node.attr("axis", 0)), len(shape))
    outputs = [o for o in node.outputs]
    if not all(outputs):
        raise unsupported(node, "unnamed (skipped) outputs are not supported")
    sizes = [ctx.shape(o)[axis] for o in outputs]
    if sum(sizes) != shape[axis]:
        raise unsupported(node, f"split sizes {sizes} do not cover dimension {shape[axis]}")
    ctx.emit("Split", node.name, [node.input(0)], outputs, {"axis": axis})


_PAD_MODES = {"constant": 0, "reflect": 1, "edge": 2}
_MAX_PAD = 1 << 40  # the runtime's bound (pad.c)


def lower_pad(ctx: LoweringContext, node: OnnxNode) -> None:
    rank = ctx.rank(node.input(0))
    mode_name = node.attr("mode", "constant")
    if mode_name not in _PAD_MODES:
        raise unsupported_attr(node, "mode", mode_name, "constant, reflect, edge")
    if ctx.opset < 11:
        raw = [int(p) for p in node.attr("pads", [])]
        value = float(node.attr("value", 0.0))
        axes = list(range(rank))
    else:
        raw = [int(p) for p in ctx.require_const(node, 1, "pads").reshape(-1)]
        value_arr = ctx.const(node.input(2))
        if node.input(2) and value_arr is None:
            raise unsupported(node, "input 2 (constant_value) must be a constant")
        value = 0.0 if value_arr is None or value_arr.size == 0 else float(value_arr.reshape(-1)[0])
        axes = [int(a) for a in ctx.require_const(node, 3, "axes").reshape(-1)] \
            if node.input(3) else list(range(rank))
        axes = [resolve_axis(node, a, rank) for a in axes]
    if len(raw) != 2 * len(axes):
        raise unsupported(node, f"pads has {len(raw)} entries for {len(axes)} axes")
    pads = [0] * (2 * rank)
    for i, axis in enumerate(axes):
        pads[axis] = raw[i]
        pads[rank + axis] = raw[len(axes) + i]
    shape = ctx.shape(node.input(0))
    for axis in range(rank):
        widest = max(pads[axis], pads[rank + axis])
        if abs(pads[axis]) > _MAX_PAD or abs(pads[rank + axis]) > _MAX_PAD:
            raise unsupported(node, f"pads {pads} out of range (|pad| <= {_MAX_PAD})")
        if mode_name == "reflect" and widest >= shape[axis]:
            raise unsupported(node, f"reflect pad {widest} of dim {axis} needs a pad < the dim "
                                    f"({shape[axis]})")
    attrs: dict[str, AttrValue] = {"mode": _PAD_MODES[mode_name], "pads": pads, "value": value}
    ctx.emit("Pad", node.name, [node.input(0)], [node.output(0)], attrs)


def lower_concat(ctx: LoweringContext, node: OnnxNode) -> None:
    rank = ctx.rank(node.output(0))
    axis = resolve_axis(node, int(node.attr("axis", 0)), rank)
    inputs = [i for i in node.inputs if i and ctx.shape(i)[axis] > 0] or [node.input(0)]
    if len(inputs) == 1:
        ctx.emit("Identity", node.name, inputs, [node.output(0)])
        return
    ctx.emit("Concat", node.name, inputs, [node.output(0)], {"axis": axis})


def lower_transpose(ctx: LoweringContext, node: OnnxNode) -> None:
    rank = ctx.rank(node.input(0))
    perm = [int(p) for p in node.attr("perm", list(range(rank - 1, -1, -1)))]
    perm = [resolve_axis(node, p, rank) for p in perm]
    if sorted(perm) != list(range(rank)):
        raise unsupported(node, f"perm {perm} is not a permutation")
    ctx.emit("Transpose", node.name, [node.input(0)], [node.output(0)], {"perm": perm})


def lower_gather(ctx: LoweringContext, node: OnnxNode) -> None:
    shape = ctx.shape(node.input(0))
    axis = resolve_axis(node, int(node.attr("axis", 0)), len(shape))
    if ctx.const(node.input(1)) is None:
        # Runtime indices (token ids into an embedding): the runtime wraps negative ones
        # and gives zeros for out-of-range ones (docs/OPS.md).
        ctx.emit("Gather", node.name, [node.input(0), node.input(1)], [node.output(0)], {"axis": axis})
        return
    indices = ctx.require_const(node, 1, "indices").astype(np.int64)
    dim = shape[axis]
    if np.any(indices < -dim) or np.any(indices >= dim):
        raise unsupported(node, f"indices out of range for dimension {dim}")
    resolved = np.where(indices < 0, indices + dim, indices).astype(np.int32)
    idx = ctx.new_constant(f"{node.input(1)}_s32", resolved)
    ctx.emit("Gather", node.name, [node.input(0), idx], [node.output(0)], {"axis": axis})


# Opset from which each reduction takes its axes as an input instead of an attribute.
_AXES_AS_INPUT = {"ReduceSum": 13, "ReduceMean": 18, "ReduceMax": 18, "ReduceMin": 18}


def lower_reduce(ctx: LoweringContext, node: OnnxNode) -> None:
    rank = ctx.rank(node.input(0))
    if ctx.opset >= _AXES_AS_INPUT[node.op_type]:
        axes = [int(a) for a in ctx.require_const(node, 1, "axes").reshape(-1)] \
            if node.input(1) else []
    else:
        axes = [int(a) for a in node.attr("axes", [])]
    keepdims = flag(node, "keepdims", 1)
    if not axes:
        if int(node.attr("noop_with_empty_axes", 0)):
            ctx.emit("Identity", node.name, [node.input(0)], [node.output(0)])
            return
        axes = list(range(rank))
    resolved = sorted({resolve_axis(node, a, rank) for a in axes})
    if not resolved:  # a rank-0 input: nothing to reduce
        ctx.emit("Identity", node.name, [node.input(0)], [node.output(0)])
        return
    attrs: dict[str, AttrValue] = {"axes": resolved, "keepdims": keepdims}
    ctx.emit(node.op_type, node.name, [node.input(0)], [node.output(0)], attrs)


def lower_expand(ctx: LoweringContext, node: OnnxNode) -> None:
    """Expand(x, shape) broadcasts exactly like Add(x, zeros): the zeros span the output's
    dims where x is 1 and are 1 where x already has the output's extent. Other dtypes
    than float32 run on the Expand operator, a broadcasting copy."""
    ctx.require_const(node, 1, "shape")
    if ctx.dtype(node.input(0)) != DType.F32:
        ctx.emit("Expand", node.name, [node.input(0)], [node.output(0)])
        return
    out_shape = ctx.shape(node.output(0))
    in_shape = ctx.shape(node.input(0))
    aligned = (1,) * (len(out_shape) - len(in_shape)) + tuple(in_shape)
    zeros_shape = tuple(1 if have == want else want for have, want in zip(aligned, out_shape))
    ctx.check_constant_size(node, "the zeros it broadcasts against", zeros_shape)
    zeros = ctx.new_constant(f"{node.name}_zeros", np.zeros(zeros_shape, dtype=np.float32))
    ctx.emit("Add", node.name, [node.input(0), zeros], [node.output(0)])


LOWERINGS: dict[str, LowerFn] = {
    "Reshape": lower_reshape,
    "Flatten": lower_reshape,
    "Squeeze": lower_reshape,
    "Unsqueeze": lower_reshape,
    "Slice": lower_slice,
    "Split": lower_split,
    "Pad": lower_pad,
    "Concat": lower_concat,
    "Transpose": lower_transpose,
    "Gather": lower_gather,
    "ReduceMean": lower_reduce,
    "ReduceSum": lower_reduce,
    "ReduceMax": lower_reduce,
    "ReduceMin": lower_reduce,
    "Expand": lower_expand,
}
