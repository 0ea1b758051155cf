"""float16 models run in float32 inside (docs/OPS.md "Value types"): float16 weights are
widened to float32 at convert time, float16 graph inputs and outputs keep their type and
are cast at the model's edge by Cast nodes, and every other float16 value is computed
in float32 (a Cast to float16 inside the graph still rounds, see lowering_values)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from pocketnn.frontend.folding import OnnxState, TensorInfo

_HALF = onnx.TensorProto.FLOAT16
_FLOAT = onnx.TensorProto.FLOAT


def _fresh(state: OnnxState, base: str) -> str:
    taken = set(state.infos) | set(state.constants) | set(state.inputs)
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def _rename_reads(state: OnnxState, old: str, new: str) -> None:
    for node in state.nodes:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def widen_float16(state: OnnxState) -> str:
    """Rewrites `state` as above; returns what was done, for the model's metadata ("" when
    the model has no float16)."""
    weights = [name for name, value in state.constants.items() if value.dtype == np.float16]
    for name in weights:
        state.constants[name] = state.constants[name].astype(np.float32)
    edge: set[str] = set()
    for name, info in state.inputs.items():
        if info.elem_type != _HALF:
            continue
        wide = _fresh(state, f"{name}_f32")
        _rename_reads(state, name, wide)
        state.nodes.insert(0, helper.make_node("Cast", [name], [wide], name=f"{name}_to_f32", to=_FLOAT))
        state.infos[wide] = TensorInfo(_FLOAT, info.shape)
        edge.add(name)
    produced = {out for node in state.nodes for out in node.output if out}
    for name in state.outputs:
        info = state.infos.get(name)
        if info is None or info.elem_type != _HALF or name not in produced:
            continue
        wide = _fresh(state, f"{name}_f32")
        _rename_reads(state, name, wide)
        for node in state.nodes:
            for i, out in enumerate(node.output):
                if out == name:
                    node.output[i] = wide
        state.nodes.append(helper.make_node("Cast", [wide], [name], name=f"{name}_to_f16", to=_HALF))
        state.infos[wide] = TensorInfo(_FLOAT, info.shape)
        edge.add(name)
    inner = [name for name, info in state.infos.items() if info.elem_type == _HALF and name not in edge]
    for name in inner:
        state.infos[name] = TensorInfo(_FLOAT, state.infos[name].shape)
    if not (weights or edge or inner):
        return ""
    count = sum(int(state.constants[name].size) for name in weights)
    return (f"{len(weights)} float16 constant(s) ({count} values) widened to float32; {len(inner)} "
            f"float16 value(s) computed in float32; {len(edge)} float16 graph input(s)/output(s) "
            f"cast at the edge")
