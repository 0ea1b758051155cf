"""Static shapes and constant folding on the ONNX graph, before lowering.

The working state is a list of ONNX nodes plus a dictionary of constant values. We
iterate {shape inference; fold Shape/Size of statically shaped tensors; evaluate every
node whose inputs are all constants} until nothing changes, so that shape-computing
subgraphs (Shape -> Gather -> Concat -> Reshape, ConstantOfShape, Range, ...) vanish.

Folding is bounded: before a node is evaluated its output sizes come from shape
inference, and a value over OnnxState.max_constant_elements (or one that would take the
folded total over twice that) is not materialized: the node stays for the runtime when
it is an op the runtime computes, and is a LimitError naming node, op, shape and limit
otherwise. Shape inference runs one node at a time (see infer_shapes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pocketnn.errors import LimitError, ShapeError
from pocketnn.frontend.binary_import import expand_qonnx_ops
from pocketnn.frontend.contrib_ops import expand_contrib_ops
from pocketnn.frontend.control_flow import SUBGRAPH_OPS, inline_constant_ifs, node_reads
from pocketnn.frontend.loops import LOOP_OPS, unroll_static_loops
from pocketnn.frontend.node_writer import onnx_attrs
from pocketnn.frontend.recurrent import RECURRENT_OPS, unroll_recurrent
from pocketnn.frontend.value_types import RUNTIME_ELEM_TYPES

# Shapes of constants up to this many elements are given to shape inference with their
# values (Reshape targets, Slice bounds...); bigger ones (weights) only by shape.
_INLINE_CONSTANT_LIMIT = 4096
_MAX_ROUNDS = 64
# Ops that must never be folded even with constant inputs.
_NON_DETERMINISTIC = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
     "Multinomial", "Bernoulli"}
)

# Constant folding materializes every folded value, so a tiny model can ask for an
# enormous one (ConstantOfShape [16384, 16384] is 160 bytes of ONNX and 1 GiB of float32).
# A folded tensor may have at most this many elements (512 MiB as float32: VGG-19's
# 4096 x 25088 fc6 weight, which onnx's "light" models write as a ConstantOfShape, still
# folds); all folded tensors together at most _TOTAL_FOLD_FACTOR times as many (1 GiB as
# float32). `max_constant_elements` of pocketnn.convert changes both.
DEFAULT_MAX_CONSTANT_ELEMENTS = 1 << 27
_TOTAL_FOLD_FACTOR = 2
# onnx's reference implementations of these ops loop in Python per output element (or
# per kernel tap), so they fold only while output elements x work per element is small.
_SLOW_REFERENCE_OPS = frozenset(
    {"Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "DeformConv", "MaxPool", "AveragePool",
     "LpPool", "MaxUnpool", "MaxRoiPool", "RoiAlign", "Resize", "Upsample", "GridSample", "Col2Im",
     "LRN", "NonMaxSuppression", "DFT", "STFT", "Einsum", "CenterCropPad", "AffineGrid",
     "ImageDecoder", "RegexFullMatch", "StringSplit", "StringNormalizer", "TfIdfVectorizer"}
)
_SLOW_FOLD_WORK = 1 << 20
# Matrix products fold through numpy's BLAS; their work (output elements x inner
# dimension) is bounded too, or two folded [4096, 4096] constants would take a minute.
_MATMUL_OPS = frozenset({"MatMul", "Gemm", "MatMulInteger", "QLinearMatMul"})
_MATMUL_FOLD_WORK = 1 << 32
# Ops whose outputs never hold more elements than (rank + 1) x their largest input, so
# they may fold even when shape inference could not tell their output shape.
_BOUNDED_BY_INPUTS = frozenset(
    {"Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Erf", "Exp",
     "Floor", "IsInf", "IsNaN", "Log", "Neg", "Not", "Reciprocal", "Relu", "Round", "Sigmoid",
     "Sign", "Sin", "Sinh", "Sqrt", "Tan", "Tanh", "Softplus", "Softsign", "Elu", "Selu",
     "LeakyRelu", "HardSigmoid", "HardSwish", "Celu", "Gelu", "Mish", "ThresholdedRelu", "Clip",
     "Cast", "CastLike", "Identity", "Dropout", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
     "Transpose", "Slice", "Split", "Shape", "Size", "ReduceSum", "ReduceMean", "ReduceMax",
     "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
     "ReduceSumSquare", "ArgMax", "ArgMin", "NonZero", "Compress", "TopK", "Unique",
     "QuantizeLinear", "DequantizeLinear", "Softmax", "LogSoftmax", "Hardmax", "CumSum",
     "BitwiseNot"}
)


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
    max_constant_elements: int = DEFAULT_MAX_CONSTANT_ELEMENTS
    # Elements of all the values folded so far (bounded by _TOTAL_FOLD_FACTOR x the limit).
    folded_elements: int = 0

    @property
    def opset(self) -> int:
        for imp in self.opset_imports:
            if imp.domain in ("", "ai.onnx"):
                return int(imp.version)
        return 0

    def static_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every tensor whose shape is static."""
        return {name: tuple(int(d) for d in info.shape or ()) for name, info in self.infos.items()
                if info.is_static}


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


def _has_bad_dim(info: TensorInfo | None) -> bool:
    return info is not None and info.shape is not None and any(d is not None and d < 1 for d in info.shape)


def _infer_node(node: onnx.NodeProto, state: OnnxState, infos: dict[str, TensorInfo],
                inline: dict[str, onnx.TensorProto]) -> None:
    """Adds the output infos of one node, from onnx shape inference on that node alone."""
    graph_inputs: list[onnx.ValueInfoProto] = []
    initializers: list[onnx.TensorProto] = []
    for name in dict.fromkeys(n for n in node.input if n):
        if name in inline:
            initializers.append(inline[name])
        elif name in infos:
            graph_inputs.append(_value_info(name, infos[name]))
    outputs = [helper.make_empty_tensor_value_info(o) for o in node.output if o]
    graph = helper.make_graph([node], "infer", graph_inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=state.opset_imports)
    model.ir_version = max(state.ir_version, 4)
    # Strict for standard ops: their shape rules (MatMul's inner dims, broadcasting,
    # Concat's other dims...) are what the runtime will check again when it loads.
    # (Only when every input is known: an input left unknown upstream is not an error here.)
    # No data propagation: one node at a time it only adds values for all-constant inputs,
    # which folding computes anyway, and onnx's C++ Range propagation materializes the
    # whole range (limit 1e9: gigabytes) before anything can check its size.
    strict = node.domain in ("", "ai.onnx") and all(
        n in inline or (n in infos and infos[n].elem_type != 0 and infos[n].shape is not None)
        for n in node.input if n)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=strict, data_prop=False)
    except Exception as exc:  # onnx raises several exception types here
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ShapeError(f"node '{node.name}' ({node.op_type}): its input shapes break ONNX's "
                         f"shape rules: {message}") from exc
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        if vi.name in node.output:
            infos[vi.name] = _info_from_type(vi.type)
    # onnxruntime's optimizer writes LayerNormalization into models of opset < 17, where
    # onnx has no schema for it: Y has the shape and type of X.
    if node.op_type == "LayerNormalization" and node.domain in ("", "ai.onnx") and node.input \
            and node.input[0] in infos and infos.get(node.output[0], TensorInfo(0, None)).shape is None:
        infos[node.output[0]] = infos[node.input[0]]


def infer_shapes(state: OnnxState) -> dict[str, TensorInfo]:
    """Runs onnx shape inference node by node on the current state; returns info for
    every tensor. One node at a time because onnx's C++ inference is not safe against
    every shape it can itself produce (a Resize with a negative scale yields a negative
    dim, and a Slice reading it fails an assertion that aborts the process): a node
    whose input has a dim below 1 (not a folded constant) is not given to onnx, its
    outputs stay unknown, and _check_remaining names the node that made the bad shape."""
    infos: dict[str, TensorInfo] = dict(state.inputs)
    inline: dict[str, onnx.TensorProto] = {}
    for name, value in state.constants.items():
        infos[name] = _constant_info(value)
        # Small constants go in with their values (Reshape targets, Slice bounds...).
        if value.size <= _INLINE_CONSTANT_LIMIT:
            inline[name] = numpy_helper.from_array(value, name)
    for node in state.nodes:
        inputs = [n for n in node.input if n]
        if node.op_type in SUBGRAPH_OPS:
            continue  # its subgraphs read outer names a one-node graph lacks; outputs stay unknown
        if any(_has_bad_dim(infos.get(n)) for n in inputs if n not in state.constants):
            continue
        # An empty constant is fine as an operand (Resize's roi) but not when every input
        # is constant (a negative-step Slice of it aborts): such nodes fold without it.
        if inputs and all(n in state.constants for n in inputs) \
                and any(state.constants[n].size == 0 for n in inputs):
            continue
        _infer_node(node, state, infos, inline)
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
    attrs = onnx_attrs(node)
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
    if node.op_type in _NON_DETERMINISTIC or node.op_type in SUBGRAPH_OPS:
        return False
    return all((not name) or name in constants for name in node.input)


def _describe_shape(shape: tuple[int | None, ...] | None) -> str:
    return "unknown" if shape is None else "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _element_count(shape: tuple[int | None, ...]) -> int:
    count = 1
    for d in shape:
        count *= max(int(d or 0), 0)
    return count


def _output_elements(node: onnx.NodeProto, infos: dict[str, TensorInfo]) -> list[tuple[str, int]] | None:
    """(output, element count) from shape inference; None when some output's shape is unknown."""
    sizes: list[tuple[str, int]] = []
    for name in node.output:
        if not name:
            continue
        info = infos.get(name)
        if info is None or not info.is_static:
            return None
        sizes.append((name, _element_count(info.shape or ())))
    return sizes


def _fold_work(node: onnx.NodeProto, count: int, constants: dict[str, np.ndarray]) -> tuple[int, int]:
    """(steps to evaluate `node` for `count` output elements, the most allowed): kernel
    volume per element for slow reference ops, the inner dimension for matrix products
    (bounded by the largest dim of A), one step otherwise (no limit beyond the size)."""
    if node.op_type in _MATMUL_OPS:
        a = constants.get(node.input[0]) if node.input else None
        return count * max(1, max(a.shape, default=1) if a is not None else 1), _MATMUL_FOLD_WORK
    if node.op_type not in _SLOW_REFERENCE_OPS:
        return count, count
    per_element = 1
    if node.op_type in ("Conv", "ConvTranspose", "ConvInteger", "DeformConv") and len(node.input) > 1:
        weight = constants.get(node.input[1])
        if weight is not None and weight.ndim >= 2:
            per_element = max(1, _element_count(weight.shape[1:]))
    for attr in node.attribute:
        if attr.name == "kernel_shape":
            per_element = max(per_element, _element_count(tuple(int(k) for k in attr.ints)))
    return count * per_element, _SLOW_FOLD_WORK


# Whether the runtime computes an ONNX node (lowering.is_supported), given by the caller:
# lowering imports this module.
RuntimeOp = Callable[[onnx.NodeProto], bool]


def _check_fold_size(node: onnx.NodeProto, state: OnnxState, runtime_op: RuntimeOp) -> bool:
    """Whether `node` (all inputs constant) may be evaluated: True when its outputs are
    within the limits, False to keep it for the runtime (shape unknown, or too large for
    an op the runtime computes); LimitError when it is too large and only folding could
    have removed it."""
    sizes = _output_elements(node, state.infos)
    if sizes is None and node.op_type == "ConstantOfShape" and node.output and node.input \
            and node.input[0] in state.constants:
        shape = state.constants[node.input[0]]
        if shape.ndim == 1 and np.issubdtype(shape.dtype, np.integer):
            sizes = [(node.output[0], _element_count(tuple(max(int(d), 0) for d in shape)))]
            state.infos[node.output[0]] = TensorInfo(0, tuple(int(d) for d in shape))
    if sizes is None:
        return node.op_type in _BOUNDED_BY_INPUTS or node.op_type == "Concat"
    limit = state.max_constant_elements
    for name, count in sizes:
        work, max_work = _fold_work(node, count, state.constants)
        if count <= limit and work <= max_work and state.folded_elements + count <= limit * _TOTAL_FOLD_FACTOR:
            continue
        runtime_value = all(state.infos[o].elem_type in RUNTIME_ELEM_TYPES for o in node.output if o)
        if runtime_op(node) and runtime_value:
            return False
        shape = _describe_shape(state.infos[name].shape)
        if count > limit:
            why = (f"its output '{name}' of shape {shape} would hold {count:,} elements, over the "
                   f"constant-folding limit of {limit:,} elements")
        elif work > max_work:
            why = (f"evaluating its output '{name}' of shape {shape} would take {work:,} steps, over "
                   f"the limit of {max_work:,} for folding {node.op_type}")
        else:
            why = (f"folding its output '{name}' of shape {shape} would bring the folded constants "
                   f"to {state.folded_elements + count:,} elements, over the total limit of "
                   f"{limit * _TOTAL_FOLD_FACTOR:,} ({_TOTAL_FOLD_FACTOR} x max_constant_elements)")
        raise LimitError(f"node '{node.name}' ({node.op_type}): all its inputs are constants, but "
                         f"{why}; the runtime cannot compute {node.op_type}, so the model cannot be "
                         f"converted (raise max_constant_elements of pocketnn.convert if this is meant)")
    return True


def _evaluate_within_limit(node: onnx.NodeProto, state: OnnxState) -> list[np.ndarray] | None:
    try:
        values = evaluate_node(node, state.constants, state.opset_imports)
    except Exception:  # not evaluable here: left for lowering to judge
        return None
    # Shape inference promised these sizes; a value beyond the limit is not kept anyway.
    if any(v.size > state.max_constant_elements for v in values):
        return None
    return values


def fold_round(state: OnnxState, runtime_op: RuntimeOp) -> bool:
    """One forward sweep of folding; returns True when something changed."""
    changed = False
    kept: list[onnx.NodeProto] = []
    for node in state.nodes:
        values: list[np.ndarray] | None = None
        if node.op_type in ("Shape", "Size") and node.domain in ("", "ai.onnx") \
                and len(node.input) == 1 and node.input[0] not in state.constants:
            values = _fold_shape_node(node, state.infos)
        elif _is_foldable(node, state.constants) and _check_fold_size(node, state, runtime_op):
            values = _evaluate_within_limit(node, state)
        if values is None:
            kept.append(node)
            continue
        for name, value in zip([o for o in node.output if o], values):
            state.constants[name] = value
            state.folded_elements += int(value.size)
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
            live.update(node_reads(node))
    state.nodes = list(reversed(kept))
    state.constants = {k: v for k, v in state.constants.items() if k in live}


def _names_in_use(state: OnnxState) -> set[str]:
    taken = set(state.inputs) | set(state.constants) | set(state.outputs)
    taken.update(name for node in state.nodes for name in list(node.input) + list(node.output) if name)
    return taken


def _inline_ifs(state: OnnxState) -> bool:
    """Replaces each If whose condition folded to a constant by the branch it takes."""
    if not any(node.op_type == "If" for node in state.nodes):
        return False
    taken = _names_in_use(state)
    state.nodes, changed = inline_constant_ifs(state.nodes, state.constants, taken)
    return changed


def _unroll_loops(state: OnnxState) -> bool:
    """Unrolls each Loop/Scan with a static trip count (frontend/loops.py)."""
    if not any(node.op_type in LOOP_OPS for node in state.nodes):
        return False
    shapes = state.static_shapes()
    taken = _names_in_use(state)
    state.nodes, changed = unroll_static_loops(state.nodes, state.constants, shapes, state.opset, taken)
    return changed


def _unroll_recurrent(state: OnnxState) -> bool:
    """Unrolls each LSTM/GRU whose input has a static shape (frontend/recurrent.py)."""
    if not any(node.op_type in RECURRENT_OPS for node in state.nodes):
        return False
    shapes = state.static_shapes()
    state.nodes, changed = unroll_recurrent(state.nodes, shapes, state.constants, state.opset)
    return changed


def simplify(state: OnnxState, runtime_op: RuntimeOp) -> None:
    """Iterates shape inference and folding until a fixed point. A constant node too
    large to fold stays when `runtime_op` says the runtime computes it."""
    for _ in range(_MAX_ROUNDS):
        state.infos = infer_shapes(state)
        changed = fold_round(state, runtime_op)
        changed = _inline_ifs(state) or changed
        changed = _unroll_loops(state) or changed
        changed = _unroll_recurrent(state) or changed
        changed = expand_contrib_ops(state) or changed
        changed = expand_qonnx_ops(state) or changed
        remove_dead(state)
        if not changed:
            break
    state.infos = infer_shapes(state)
