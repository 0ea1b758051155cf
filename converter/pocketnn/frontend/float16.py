"""float16 models run in float32 inside (docs/OPS.md "Value types"): float16 weights are
widened to float32 at convert time, float16 graph inputs and outputs keep their type and
are cast at the model's edge by Cast nodes, and every other float16 value is computed
in float32 (a Cast to float16 inside the graph still rounds, see lowering_values)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from pocketnn.frontend.folding import OnnxState, TensorInfo, infer_shapes

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


def _widen_constants(state: OnnxState, keep: set[str]) -> int:
    """float16 constants but `keep` to float32; returns how many values were widened."""
    count = 0
    for name, value in state.constants.items():
        if value.dtype == np.float16 and name not in keep:
            state.constants[name] = value.astype(np.float32)
            count += int(value.size)
    return count


def _mentions_float16(state: OnnxState) -> bool:
    """Whether any float16 value can arise: a float16 input or constant, or a node making
    one (a Cast to it, a float16 tensor attribute)."""
    if any(info.elem_type == _HALF for info in state.inputs.values()):
        return True
    if any(value.dtype == np.float16 for value in state.constants.values()):
        return True
    for node in state.nodes:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.INT and attr.name == "to" and attr.i == _HALF:
                return True
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == _HALF:
                return True
    return False


def cast_float16_edges(state: OnnxState) -> tuple[int, set[str]]:
    """Before folding: float16 constants widened (so that folding runs in float32), and
    Casts put at the float16 graph inputs and outputs. Returns the widened value count and
    the edge tensors, for widen_float16."""
    if not _mentions_float16(state):
        return 0, set()
    state.infos = infer_shapes(state)
    count = _widen_constants(state, set())
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
    return count, edge


def widen_float16(state: OnnxState, count: int, edge: set[str]) -> str:
    """After folding: every float16 value but the edge tensors computed in float32.
    Returns what was done, for the model's metadata ("" when the model has no float16)."""
    # A float16 graph output that folded keeps its type (an Identity copies it out).
    count += _widen_constants(state, edge & set(state.outputs))
    inner = [name for name, info in state.infos.items() if info.elem_type == _HALF and name not in edge]
    for name in inner:
        state.infos[name] = TensorInfo(_FLOAT, state.infos[name].shape)
    if not (count or edge or inner):
        return ""
    return (f"{count} float16 weight value(s) widened to float32; {len(inner)} float16 value(s) "
            f"computed in float32; {len(edge)} float16 graph input(s)/output(s) cast at the edge")
