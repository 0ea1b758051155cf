"""ONNX model -> lowered pocketnn IR Graph with static shapes (docs/OPS.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import numpy as np
import onnx
import onnx.inliner
from onnx import numpy_helper

from pocketnn.errors import LimitError, ModelError, ShapeError, UnsupportedOpError
from pocketnn.format import spec
from pocketnn.frontend.bindings import bindings_metadata
from pocketnn.frontend.context import LoweringContext, OnnxNode, onnx_to_dtype
from pocketnn.frontend.control_flow import SUBGRAPH_OPS, depends_on
from pocketnn.frontend.loops import LOOP_OPS, loop_problem
from pocketnn.frontend.folding import (
    DEFAULT_MAX_CONSTANT_ELEMENTS,
    OnnxState,
    TensorInfo,
    remove_dead,
    simplify,
)
from pocketnn.frontend.dynamic_quant_contrib import expand_dynamic_quant_contrib
from pocketnn.frontend.float16 import cast_float16_edges, widen_float16
from pocketnn.frontend.lowering import SUPPORTED_ONNX_OPS, VALUE_OPS, is_supported, lower_node
from pocketnn.frontend.qdq_import import quantize_qdq_graph, strip_qdq
from pocketnn.frontend.qoperator_import import expand_qoperators
from pocketnn.frontend.validate import validate_model
from pocketnn.frontend.value_types import RUNTIME_ELEM_TYPES, VALUE_DTYPES, check_node_dtypes
from pocketnn.ir import DType, Graph, Tensor

ModelSource = Union[str, "os.PathLike[str]", onnx.ModelProto]
InputShapes = Mapping[str, Sequence[int]]
# Graph inputs frozen to values at convert time (`--bind sr=16000`).
InputBindings = Mapping[str, Any]

MIN_OPSET = 7
def load_model(model: ModelSource) -> onnx.ModelProto:
    """A private copy of the model (the caller's ModelProto is never modified)."""
    if isinstance(model, onnx.ModelProto):
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        return copy
    path = Path(model)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf decode errors have several types
        raise ModelError(f"cannot read ONNX model {path}: {exc}") from exc


def model_opset(proto: onnx.ModelProto) -> int:
    for imp in proto.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    raise ModelError("the model imports no default-domain (ai.onnx) opset")


def _check_opset(opset: int) -> None:
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ModelError(f"ONNX opset {opset} is not supported; supported: {MIN_OPSET}..{newest}")


def _bind_input_shape(vi: onnx.ValueInfoProto, given: Sequence[int] | None) -> TensorInfo:
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type"):
        raise UnsupportedOpError(f"graph input '{vi.name}' is not a tensor")
    declared: list[int | None] | None = None
    if tt.HasField("shape"):
        declared = [int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else None
                    for d in tt.shape.dim]
    if given is not None:
        shape = tuple(int(d) for d in given)
        if declared is not None and len(declared) != len(shape):
            raise ModelError(f"input_shapes['{vi.name}'] = {shape} has rank {len(shape)}, the "
                             f"model declares rank {len(declared)}")
        if any(d < 0 for d in shape):
            raise ModelError(f"input_shapes['{vi.name}'] = {shape} has a negative dimension")
        for axis, (fixed, bound) in enumerate(zip(declared or (), shape)):
            if fixed is not None and fixed != bound:
                raise ModelError(f"input_shapes['{vi.name}'] = {shape} sets dimension {axis} to "
                                 f"{bound}, but the model fixes it at {fixed}; only symbolic "
                                 f"dimensions can be bound")
        return TensorInfo(tt.elem_type, shape)
    if declared is None:
        raise ShapeError(f"graph input '{vi.name}' has no declared shape; pass input_shapes="
                         f"{{'{vi.name}': (...)}}")
    # Symbolic or unknown dimensions default to 1 (e.g. the batch).
    return TensorInfo(tt.elem_type, tuple(1 if d is None else d for d in declared))


def _unique_node_names(nodes: Sequence[onnx.NodeProto]) -> None:
    seen: set[str] = set()
    for i, node in enumerate(nodes):
        base = node.name or f"{node.op_type}_{i}"
        name, k = base, 1
        while name in seen:
            name = f"{base}_{k}"
            k += 1
        seen.add(name)
        node.name = name


def _bound_value(vi: onnx.ValueInfoProto, value: Any) -> np.ndarray:
    """`value` as the constant that replaces graph input `vi`: its declared element type,
    and its declared shape when the element counts agree (a scalar binds a [1] input)."""
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type") or tt.elem_type == 0:
        raise ModelError(f"bind: graph input '{vi.name}' has no declared element type")
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
    try:
        given = np.asarray(value)
        array = given.astype(dtype)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"bind: {vi.name}={value!r} is not a {dtype} value: {exc}") from None
    if given.dtype.kind in "fc" and dtype.kind in "iub" and not np.array_equal(array, given):
        raise ModelError(f"bind: {vi.name}={value!r} is not exactly a {dtype} value")
    if tt.HasField("shape"):
        declared = [int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else None
                    for d in tt.shape.dim]
        if all(d is not None for d in declared) and int(np.prod(declared, dtype=np.int64)) == array.size:
            array = array.reshape([int(d) for d in declared if d is not None])
        elif len(declared) != array.ndim or any(d is not None and d != s for d, s in zip(declared, array.shape)):
            shown = ["?" if d is None else d for d in declared]
            raise ModelError(f"bind: {vi.name} has shape {list(array.shape)}; the model declares {shown}")
    return array


def _initial_state(proto: onnx.ModelProto, input_shapes: InputShapes | None,
                   max_constant_elements: int, bind: InputBindings | None = None) -> OnnxState:
    graph = proto.graph
    if len(graph.sparse_initializer):
        raise UnsupportedOpError("sparse initializers are not supported")
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    shapes = dict(input_shapes or {})
    runtime_inputs = [vi for vi in graph.input if vi.name not in constants]
    unbindable = set(bind or {}) - {vi.name for vi in runtime_inputs}
    if unbindable:
        raise ModelError(f"bind names unknown inputs {sorted(unbindable)}; the model's inputs are "
                         f"{[vi.name for vi in runtime_inputs]}")
    overlap = set(bind or {}) & set(shapes)
    if overlap:
        raise ModelError(f"inputs {sorted(overlap)} are both bound to values and given shapes; a bound "
                         f"input takes its value's shape")
    for vi in runtime_inputs:
        if bind and vi.name in bind:
            constants[vi.name] = _bound_value(vi, bind[vi.name])
    runtime_inputs = [vi for vi in runtime_inputs if vi.name not in constants]
    unknown = set(shapes) - {vi.name for vi in runtime_inputs}
    if unknown:
        raise ModelError(f"input_shapes names unknown inputs {sorted(unknown)}; the model's "
                         f"inputs are {[vi.name for vi in runtime_inputs]}")
    inputs = {vi.name: _bind_input_shape(vi, shapes.get(vi.name)) for vi in runtime_inputs}
    nodes = list(graph.node)
    _unique_node_names(nodes)
    return OnnxState(nodes=nodes, constants=constants, inputs=inputs,
                     outputs=[o.name for o in graph.output],
                     opset_imports=list(proto.opset_import), ir_version=proto.ir_version,
                     max_constant_elements=max_constant_elements)


def _if_problem(node: onnx.NodeProto, state: OnnxState) -> str:
    sources = depends_on(node, state.nodes, state.inputs)
    hint = (f"it depends on input(s) {sources}: bind them to values (--bind NAME=VALUE, bind={{...}}) "
            f"to choose the branch at convert time" if sources else "it did not fold to a constant")
    return (f"node '{node.name}': the runtime has no control flow and the condition "
            f"'{node.input[0] if node.input else ''}' is not a constant; {hint}")


def _check_all_supported(state: OnnxState) -> None:
    """One error listing every node left that the runtime cannot compute, by op type."""
    problems: dict[str, list[str]] = {}
    for node in state.nodes:
        if node.op_type == "If" and node.domain in ("", "ai.onnx"):
            problems.setdefault("If", []).append(_if_problem(node, state))
        elif node.op_type in LOOP_OPS and node.domain in ("", "ai.onnx"):
            problems.setdefault(node.op_type, []).append(
                loop_problem(node, state.constants, state.static_shapes(), state.opset))
        elif node.op_type in SUBGRAPH_OPS or not is_supported(node.op_type, node.domain):
            domain = f" (domain '{node.domain}')" if node.domain not in ("", "ai.onnx") else ""
            problems.setdefault(f"{node.op_type}{domain}", []).append(f"node '{node.name}'")
    if not problems:
        return
    shown = 3
    lines = []
    for op, where in problems.items():
        more = f", and {len(where) - shown} more" if len(where) > shown else ""
        lines.append(f"  {op} x{len(where)}: {'; '.join(where[:shown])}{more}")
    count = sum(len(where) for where in problems.values())
    raise UnsupportedOpError(
        f"{count} node(s) of {len(problems)} op type(s) cannot run in pocketnn:\n" + "\n".join(lines) +
        f"\nsupported ONNX ops (when not folded to constants): {', '.join(SUPPORTED_ONNX_OPS)}")


def _runtime_types() -> str:
    return ", ".join(sorted(onnx_to_dtype(t).name for t in RUNTIME_ELEM_TYPES))


def _check_remaining(state: OnnxState) -> None:
    """Every node left must be lowerable, statically shaped and produce a value dtype the
    runtime computes with."""
    for name in state.outputs:
        if name in state.inputs:
            raise UnsupportedOpError(f"graph output '{name}' is the graph input '{name}' itself; "
                                     f"pocketnn needs every graph output computed by a node")
    _check_all_supported(state)
    for name, info in state.inputs.items():
        if info.elem_type not in RUNTIME_ELEM_TYPES:
            raise UnsupportedOpError(
                f"graph input '{name}' has type {onnx_to_dtype(info.elem_type).name}; pocketnn runtime "
                f"values are {_runtime_types()} (if it is a setting, bind it: --bind {name}=VALUE)")
    # An output nobody reads (Dropout's mask, say) needs no shape: it is dropped.
    used = {name for node in state.nodes for name in node.input} | set(state.outputs)
    producers = {out: node for node in state.nodes for out in node.output if out}
    for node in state.nodes:
        for name in node.input:
            info = state.infos.get(name) if name and name not in state.constants else None
            if info is not None and info.shape is not None \
                    and any(d is not None and d < 1 for d in info.shape):
                source = producers.get(name)
                made_by = f" (made by node '{source.name}' ({source.op_type}))" if source else ""
                raise UnsupportedOpError(
                    f"node '{node.name}' ({node.op_type}): input '{name}'{made_by} has shape "
                    f"{list(info.shape)}; pocketnn needs every dim of a runtime value >= 1")
        for out in node.output:
            if not out or out not in used:
                continue
            info = state.infos.get(out)
            if info is None or not info.is_static:
                raise ShapeError(f"node '{node.name}' ({node.op_type}): could not infer a static "
                                 f"shape for output '{out}' (shape after inference and constant "
                                 f"folding: {None if info is None else info.shape})")
            if info.elem_type not in RUNTIME_ELEM_TYPES:
                raise UnsupportedOpError(
                    f"node '{node.name}' ({node.op_type}): output '{out}' is a runtime "
                    f"{onnx_to_dtype(info.elem_type).name} value; pocketnn runtime values are "
                    f"{_runtime_types()} (other types must fold to constants)")


def _lower(state: OnnxState) -> LoweringContext:
    ctx = LoweringContext(infos=state.infos, constants=state.constants, opset=state.opset,
                          max_constant_elements=state.max_constant_elements)
    ctx.used.update(name for node in state.nodes for name in node.input if name)
    ctx.used.update(state.outputs)
    for node in state.nodes:
        lower_node(ctx, OnnxNode.from_proto(node, node.name))
    for name, info in state.inputs.items():
        if name not in ctx.tensors:
            ctx.tensors[name] = Tensor(name, RUNTIME_ELEM_TYPES[info.elem_type],
                                       tuple(int(d) for d in info.shape or ()))
    for name in state.outputs:
        if name in state.constants and name not in state.inputs:
            # A graph output that folded to a constant is copied out by an Identity.
            value = state.constants[name]
            if DType.from_numpy(value.dtype) not in VALUE_DTYPES:
                value = value.astype(np.float32)
            const = ctx.new_constant(f"{name}_value", value)
            ctx.tensors.pop(name, None)
            ctx.tensors[name] = Tensor(name, DType.from_numpy(value.dtype), tuple(int(d) for d in value.shape))
            ctx.emit("Identity", f"{name}_copy", [const], [name])
    return ctx


def _referenced(graph_nodes: Sequence[object], inputs: Sequence[str], outputs: Sequence[str]
                ) -> set[str]:
    names = set(inputs) | set(outputs)
    for node in graph_nodes:
        names.update(n for n in node.inputs if n)  # type: ignore[attr-defined]
        names.update(n for n in node.outputs if n)  # type: ignore[attr-defined]
    return names


def _check_nonempty(graph: Graph) -> None:
    """Zero-sized tensors are refused: the .pnn format requires every dim >= 1."""
    for name in graph.inputs:
        if 0 in graph.tensors[name].shape:
            raise UnsupportedOpError(f"graph input '{name}' has a zero-sized shape "
                                     f"{graph.tensors[name].shape}; pocketnn needs every dim >= 1")
    for node in graph.nodes:
        for name in list(node.inputs) + list(node.outputs):
            if name and 0 in graph.tensors[name].shape:
                raise UnsupportedOpError(
                    f"node '{node.name}' ({node.op}): tensor '{name}' has a zero-sized shape "
                    f"{graph.tensors[name].shape}; pocketnn needs every dim >= 1")


def _check_dims_in_format(graph: Graph) -> None:
    for name, tensor in graph.tensors.items():
        if len(tensor.shape) > spec.MAX_RANK:
            raise LimitError(f"tensor '{name}' has shape {list(tensor.shape)}, rank {len(tensor.shape)}; "
                             f"a .pnn tensor has rank at most {spec.MAX_RANK} (docs/FORMAT.md)")
        if any(d > spec.MAX_DIM for d in tensor.shape):
            raise LimitError(f"tensor '{name}' has shape {list(tensor.shape)}; a .pnn dimension "
                             f"is at most {spec.MAX_DIM} (docs/FORMAT.md)")


def _is_runtime_op(node: onnx.NodeProto) -> bool:
    return is_supported(node.op_type, node.domain) and node.op_type not in VALUE_OPS


def _inline_functions(proto: onnx.ModelProto) -> onnx.ModelProto:
    try:
        inlined = onnx.inliner.inline_local_functions(proto)
    except Exception as exc:  # onnx's C++ inliner raises its own error types
        raise ModelError(f"cannot inline the model's local functions: {exc}") from exc
    validate_model(inlined)
    return inlined


def import_onnx(model: ModelSource, input_shapes: InputShapes | None = None,
                max_constant_elements: int = DEFAULT_MAX_CONSTANT_ELEMENTS,
                bind: InputBindings | None = None) -> Graph:
    """Loads an ONNX model and lowers it to a static-shape pocketnn IR Graph (no passes).
    A constant computed by folding may hold at most `max_constant_elements` elements.
    `bind` freezes graph inputs to values: they become constants, what depends on them
    folds (an If on them takes its branch), and they leave the model's inputs."""
    if max_constant_elements < 1:
        raise ModelError(f"max_constant_elements must be >= 1, got {max_constant_elements}")
    proto = load_model(model)
    validate_model(proto)
    opset = model_opset(proto)
    _check_opset(opset)
    if len(proto.functions):
        proto = _inline_functions(proto)
    state = _initial_state(proto, input_shapes, max_constant_elements, bind)
    bound = {name: state.constants[name] for name in bind or {}}
    remove_dead(state)
    expand_qoperators(state)
    expand_dynamic_quant_contrib(state)
    qdq = strip_qdq(state)
    half_values, half_edges = cast_float16_edges(state)
    simplify(state, _is_runtime_op)
    widened = widen_float16(state, half_values, half_edges)
    _check_remaining(state)
    ctx = _lower(state)
    keep = _referenced(ctx.nodes, list(state.inputs), state.outputs)
    tensors = {name: t for name, t in ctx.tensors.items() if name in keep}
    source = proto.graph.name or "model"
    if not isinstance(model, onnx.ModelProto):
        source = Path(model).stem
    graph = Graph(tensors=tensors, nodes=ctx.nodes, inputs=list(state.inputs),
                  outputs=list(state.outputs),
                  metadata={"source_model": source, "onnx_opset": opset,
                            "source_producer": proto.producer_name or "unknown",
                            **({"bound_inputs": bindings_metadata(bound)} if bound else {}),
                            **({"float16_widened": widened} if widened else {})},
                  rounding_points=frozenset(qdq.qparams))
    check_node_dtypes(graph)
    _check_nonempty(graph)
    _check_dims_in_format(graph)
    return quantize_qdq_graph(graph, qdq, max_constant_elements) if qdq else graph
