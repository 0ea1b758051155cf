"""Lowering of Resize (opsets 10-19+) and Upsample (opsets 7-9) to pocketnn Resize."""

from __future__ import annotations

import math

import numpy as np

from pocketnn.frontend.context import (
    LowerFn,
    LoweringContext,
    OnnxNode,
    resolve_axis,
    unsupported,
    unsupported_attr,
)
from pocketnn.ir import AttrValue

_MODES = {"nearest": 0, "linear": 1}
_COORD_MODES = {"half_pixel": 0, "asymmetric": 1, "align_corners": 2, "pytorch_half_pixel": 3,
                "half_pixel_symmetric": 4}
_NEAREST_MODES = {"round_prefer_floor": 0, "round_prefer_ceil": 1, "floor": 2, "ceil": 3}
_MAX_LINEAR_DIMS = 3


def _legacy_nearest_mode(node: OnnxNode, scales: list[float]) -> int:
    """Resize-10 and Upsample use asymmetric coordinates; onnxruntime truncates when
    enlarging and rounds up when shrinking a dimension."""
    changed = [s for s in scales if s != 1.0]
    if all(s > 1.0 for s in changed):
        return _NEAREST_MODES["floor"]
    if all(s < 1.0 for s in changed):
        return _NEAREST_MODES["ceil"]
    raise unsupported(node, "nearest resize that both enlarges and shrinks dimensions is not "
                            "supported before opset 11")


def _scales(ctx: LoweringContext, node: OnnxNode, rank: int) -> list[float]:
    in_shape = ctx.shape(node.input(0))
    out_shape = ctx.shape(node.output(0))
    if node.op_type == "Upsample" and ctx.opset < 9:
        return [float(s) for s in node.attr("scales", [])]
    if node.op_type == "Upsample" or ctx.opset < 11:
        return [float(s) for s in ctx.require_const(node, 1, "scales").reshape(-1)]
    axes_attr = node.attr("axes")
    axes = list(range(rank)) if axes_attr is None else \
        [resolve_axis(node, int(a), rank) for a in axes_attr]
    scales_arr = ctx.const(node.input(2))
    if node.input(2) and scales_arr is None:
        raise unsupported(node, "input 2 (scales) must be a constant")
    full = [1.0] * rank
    if scales_arr is not None and scales_arr.size > 0:
        for axis, s in zip(axes, scales_arr.reshape(-1)):
            full[axis] = float(s)
        return full
    if not node.input(3):
        raise unsupported(node, "neither scales nor sizes is given")
    ctx.require_const(node, 3, "sizes")
    # With sizes, ONNX uses output/input as the scale of each resized dimension.
    for axis in axes:
        full[axis] = out_shape[axis] / in_shape[axis]
    return full


def lower_resize(ctx: LoweringContext, node: OnnxNode) -> None:
    rank = ctx.rank(node.input(0))
    mode_name = node.attr("mode", "nearest")
    if mode_name not in _MODES:
        raise unsupported_attr(node, "mode", mode_name, "nearest, linear")
    legacy = node.op_type == "Upsample" or ctx.opset < 11
    coord_name = "asymmetric" if legacy else node.attr("coordinate_transformation_mode",
                                                       "half_pixel")
    if coord_name not in _COORD_MODES:
        raise unsupported_attr(node, "coordinate_transformation_mode", coord_name,
                               ", ".join(_COORD_MODES))
    if int(node.attr("exclude_outside", 0)) != 0:
        raise unsupported_attr(node, "exclude_outside", node.attr("exclude_outside"), "0")
    policy = node.attr("keep_aspect_ratio_policy", "stretch")
    if policy != "stretch":
        raise unsupported_attr(node, "keep_aspect_ratio_policy", policy, "stretch")
    scales = _scales(ctx, node, rank)
    if len(scales) != rank or any(s <= 0 for s in scales):
        raise unsupported(node, f"scales {scales} must be {rank} positive numbers")
    if int(node.attr("antialias", 0)) != 0 and any(s < 1.0 for s in scales):
        raise unsupported_attr(node, "antialias", node.attr("antialias"),
                               "0 (antialias=1 only when no dimension shrinks)")
    in_shape = ctx.shape(node.input(0))
    out_shape = ctx.shape(node.output(0))
    if any(not math.isfinite(s) for s in scales):
        raise unsupported(node, f"scales {scales} must be finite")
    for axis, (i, o, s) in enumerate(zip(in_shape, out_shape, scales)):
        # The runtime's rule: the output is floor(in * scale) or the size the scale came from.
        if not o - 1.0 < i * float(np.float32(s)) < o + 1.0:
            raise unsupported(node, f"output dim {axis} is {o}, but input {i} times scale {s} is not")
    if mode_name == "linear":
        changed = sum(1 for i, o, s in zip(in_shape, out_shape, scales) if i != o or np.float32(s) != 1.0)
        if changed > _MAX_LINEAR_DIMS:
            raise unsupported(node, f"linear resize of {changed} dimensions; supported: at most "
                                    f"{_MAX_LINEAR_DIMS}")
    if legacy:
        nearest = _legacy_nearest_mode(node, scales) if mode_name == "nearest" else 0
    else:
        nearest_name = node.attr("nearest_mode", "round_prefer_floor")
        if nearest_name not in _NEAREST_MODES:
            raise unsupported_attr(node, "nearest_mode", nearest_name, ", ".join(_NEAREST_MODES))
        nearest = _NEAREST_MODES[nearest_name]
    attrs: dict[str, AttrValue] = {
        "mode": _MODES[mode_name],
        "coord_mode": _COORD_MODES[coord_name],
        "nearest_mode": nearest,
        "scales": [float(np.float32(s)) for s in scales],
    }
    ctx.emit("Resize", node.name, [node.input(0)], [node.output(0)], attrs)


LOWERINGS: dict[str, LowerFn] = {"Resize": lower_resize, "Upsample": lower_resize}
