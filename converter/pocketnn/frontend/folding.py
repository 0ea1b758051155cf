"""Static shapes and constant folding on the ONNX graph, before lowering.

The working state is a list of ONNX nodes plus a dictionary of constant values. We
iterate {shape inference; fold Shape/Size of statically shaped tensors; evaluate every
node whose inputs are all constants} until nothing changes, so that shape-computing
subgraphs (Shape -> Gather -> Concat -> Reshape, ConstantOfShape, Range, ...) vanish.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pocketnn.errors import ShapeError

# Shapes of constants up to this many elements are given to shape inference with their
# values (Reshape targets, Slice bounds...); bigger ones (weights) only by shape.
_INLINE_CONSTANT_LIMIT = 4096
_MAX_ROUNDS = 64
# Ops that must never be folded even with constant inputs.
_NON_DETERMINISTIC = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
     "Multinomial", "Bernoulli"}
)
_SUBGRAPH_OPS = frozenset({"If", "Loop", "Scan", "SequenceMap"})


@dataclass
class TensorInfo:
    """Element type (onnx TensorProto code, 0 = unknown) and shape (None = unknown)."""

    elem_type: int
    shape: tuple[int | None, ...] | None

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(d is not None for d in self.shape)


@dataclass
class OnnxState:
    """An ONNX graph being simplified: nodes in topological order and constants."""

    nodes: list[onnx.NodeProto]
    constants: dict[str, np.ndarray]
    inputs: dict[str, TensorInfo]  # runtime graph inputs, with static shapes
    outputs: list[str]
    opset_imports: list[onnx.OperatorSetIdProto]
    ir_version: int
    infos: dict[str, TensorInfo] = field(default_factory=dict)

    @property
    def opset(self) -> int:
        for imp in self.opset_imports:
            if imp.domain in ("", "ai.onnx"):
                return int(imp.version)
        return 0


def _info_from_type(type_proto: onnx.TypeProto) -> TensorInfo:
    if not type_proto.HasField("tensor_type"):
        return TensorInfo(0, None)
    tt = type_proto.tensor_type
    if not tt.HasField("shape"):
        return TensorInfo(tt.elem_type, None)
    dims: list[int | None] = []
    for d in tt.shape.dim:
        dims.append(int(d.dim_value) if d.HasField("dim_value") else None)
    return TensorInfo(tt.elem_type, tuple(dims))


def _value_info(name: str, info: TensorInfo) -> onnx.ValueInfoProto:
    shape = None if info.shape is None else list(info.shape)
    return helper.make_tensor_value_info(name, info.elem_type, shape)


def _constant_info(value: np.ndarray) -> TensorInfo:
    return TensorInfo(helper.np_dtype_to_tensor_dtype(value.dtype), tuple(int(d) for d in value.shape))


def infer_shapes(state: OnnxState) -> dict[str, TensorInfo]:
    """Runs onnx shape inference on the current state; returns info for every tensor."""
    graph_inputs = [_value_info(n, i) for n, i in state.inputs.items()]
    initializers: list[onnx.TensorProto] = []
    used = {name for node in state.nodes for name in node.input if name}
    for name, value in state.constants.items():
        if name not in used:
            continue
        if value.size <= _INLINE_CONSTANT_LIMIT:
            initializers.append(numpy_helper.from_array(value, name))
        else:
            graph_inputs.append(_value_info(name, _constant_info(value)))
    graph = helper.make_graph(state.nodes, "infer", graph_inputs, [], initializer=initializers)
    model = helper.make_model(graph, opset_imports=state.opset_imports)
    model.ir_version = max(state.ir_version, 4)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as exc:  # onnx raises several exception types here
        raise ShapeError(f"ONNX shape inference failed: {exc}") from exc
    infos: dict[str, TensorInfo] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        infos[vi.name] = _info_from_type(vi.type)
    infos.update(state.inputs)
    for name, value in state.constants.items():
        infos[name] = _constant_info(value)
    return infos


def _fold_shape_node(node: onnx.NodeProto, infos: dict[str, TensorInfo]) -> list[np.ndarray] | None:
    info = infos.get(node.input[0])
    if info is None or not info.is_static:
        return None
    shape = [int(d) for d in info.shape or ()]  # type: ignore[union-attr]
    if node.op_type == "Size":
        return [np.array(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    rank = len(shape)
    start = int(attrs.get("start", 0))
    end = int(attrs.get("end", rank))
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return [np.array(shape[start:end], dtype=np.int64)]


def evaluate_node(node: onnx.NodeProto, constants: dict[str, np.ndarray],
                  opset_imports: list[onnx.OperatorSetIdProto]) -> list[np.ndarray]:
    """Evaluates one node whose inputs are all constants with onnx's reference runtime."""
    from onnx.reference import ReferenceEvaluator

    feeds = {name: constants[name] for name in node.input if name}
    inputs = [_value_info(n, _constant_info(v)) for n, v in feeds.items()]
    outputs = [helper.make_empty_tensor_value_info(o) for o in node.output if o]
    graph = helper.make_graph([node], "fold", inputs, outputs)
    model = helper.make_model(graph, opset_imports=opset_imports)
    results = ReferenceEvaluator(model).run(None, feeds)
    return [np.asarray(r) for r in results]


def _is_foldable(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> bool:
    if node.domain not in ("", "ai.onnx"):
        return False
    if node.op_type in _NON_DETERMINISTIC or node.op_type in _SUBGRAPH_OPS:
        return False
    return all((not name) or name in constants for name in node.input)


def fold_round(state: OnnxState) -> bool:
    """One forward sweep of folding; returns True when something changed."""
    changed = False
    kept: list[onnx.NodeProto] = []
    for node in state.nodes:
        values: list[np.ndarray] | None = None
        if node.op_type in ("Shape", "Size") and node.domain in ("", "ai.onnx") \
                and node.input[0] not in state.constants:
            values = _fold_shape_node(node, state.infos)
        elif _is_foldable(node, state.constants):
            try:
                values = evaluate_node(node, state.constants, state.opset_imports)
            except Exception:  # not evaluable here: left for lowering to judge
                values = None
        if values is None:
            kept.append(node)
            continue
        for name, value in zip([o for o in node.output if o], values):
            state.constants[name] = value
        changed = True
    state.nodes = kept
    return changed


def remove_dead(state: OnnxState) -> None:
    """Drops nodes whose outputs reach no graph output, and unused constants."""
    live = set(state.outputs)
    kept: list[onnx.NodeProto] = []
    for node in reversed(state.nodes):
        if any(o in live for o in node.output if o):
            kept.append(node)
            live.update(name for name in node.input if name)
    state.nodes = list(reversed(kept))
    state.constants = {k: v for k, v in state.constants.items() if k in live}


def simplify(state: OnnxState) -> None:
    """Iterates shape inference and folding until a fixed point."""
    for _ in range(_MAX_ROUNDS):
        state.infos = infer_shapes(state)
        changed = fold_round(state)
        remove_dead(state)
        if not changed:
            break
    state.infos = infer_shapes(state)
