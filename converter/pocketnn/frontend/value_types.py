"""Which dtypes the runtime computes with, per operator (docs/OPS.md "Value types").

The converter's dtype checks come from here: a graph input, a node output or an operator
input of a dtype the runtime lacks is refused at convert time, naming the node and the
dtype, instead of producing a file that fails at load."""

from __future__ import annotations

import onnx

from pocketnn.errors import UnsupportedOpError
from pocketnn.format.opcodes import DYNAMIC_QUANT_OPS
from pocketnn.ir import DType, Graph, Node

# ONNX element types a runtime value may have, and their .pnn dtype.
RUNTIME_ELEM_TYPES: dict[int, DType] = {
    onnx.TensorProto.FLOAT: DType.F32,
    onnx.TensorProto.FLOAT16: DType.F16,
    onnx.TensorProto.INT8: DType.S8,
    onnx.TensorProto.UINT8: DType.U8,
    onnx.TensorProto.INT32: DType.S32,
    onnx.TensorProto.INT64: DType.S64,
    onnx.TensorProto.BOOL: DType.BOOL,
}
VALUE_DTYPES = frozenset(RUNTIME_ELEM_TYPES.values())
NUMERIC = frozenset({DType.F32, DType.S8, DType.U8, DType.S32, DType.S64})
INTEGER = frozenset({DType.S8, DType.U8, DType.S32, DType.S64})

# Ops that move elements without reading them: every input and output one value dtype.
_MOVE_OPS = frozenset({"Identity", "Concat", "Split", "Slice", "Reshape", "Transpose", "Expand", "Tile"})
_COMPARE_OPS = frozenset({"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"})
_LOGIC_OPS = frozenset({"Not", "And", "Or", "Xor"})
_INT_ARITH_OPS = frozenset({"Add", "Sub", "Mul", "Div", "Max", "Min"})


def _refuse(node: Node, role: str, name: str, dtype: DType, expected: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"node '{node.name}' ({node.op}): {role} '{name}' has type {dtype.name}; "
                              f"the runtime's {node.op} takes {expected}")


def _one_dtype(node: Node, dtypes: dict[str, DType], names: list[str], allowed: frozenset[DType],
               what: str) -> None:
    """All `names` share one dtype from `allowed`."""
    first: DType | None = None
    for name in names:
        dtype = dtypes[name]
        if dtype not in allowed:
            raise _refuse(node, "tensor", name, dtype, what)
        if first is not None and dtype != first:
            raise UnsupportedOpError(f"node '{node.name}' ({node.op}): tensors {names} mix {first.name} and "
                                     f"{dtype.name}; they must share one dtype")
        first = dtype


def _want(node: Node, dtypes: dict[str, DType], name: str, allowed: frozenset[DType], what: str) -> None:
    if dtypes[name] not in allowed:
        raise _refuse(node, "tensor", name, dtypes[name], what)


def _names(names: list[str]) -> list[str]:
    return [n for n in names if n]


# The runtime LSTM's W_scale input, then W_zero_point, R_scale, R_zero_point (only with s8
# W and R; docs/OPS.md).
_LSTM_INT8_FIRST = 6


def _check_value_op(node: Node, d: dict[str, DType]) -> bool:
    """Checks a node whose op takes other dtypes than f32; False for the f32-only ops."""
    ins, outs = _names(node.inputs), _names(node.outputs)
    everything = ins + outs
    bool_only = frozenset({DType.BOOL})
    if node.op in _MOVE_OPS:
        _one_dtype(node, d, everything, VALUE_DTYPES, "one value dtype for all its tensors")
    elif node.op == "Gather":
        _one_dtype(node, d, [ins[0]] + outs, VALUE_DTYPES, "data and output of one value dtype")
        _want(node, d, ins[1], frozenset({DType.S32, DType.S64}), "S32 or S64 indices")
    elif node.op in _INT_ARITH_OPS and d[ins[0]] != DType.F32:
        _one_dtype(node, d, everything, INTEGER, "F32, or one integer dtype (S8, U8, S32, S64)")
    elif node.op in _COMPARE_OPS:
        allowed = NUMERIC | bool_only if node.op == "Equal" else NUMERIC
        _one_dtype(node, d, ins, allowed, "two inputs of one numeric dtype")
        _want(node, d, outs[0], bool_only, "a BOOL output")
    elif node.op in _LOGIC_OPS:
        _one_dtype(node, d, everything, bool_only, "BOOL")
    elif node.op == "Where":
        _want(node, d, ins[0], bool_only, "a BOOL condition")
        _one_dtype(node, d, ins[1:] + outs, VALUE_DTYPES, "values of one dtype")
    elif node.op == "Cast":
        for name in everything:
            _want(node, d, name, VALUE_DTYPES, ", ".join(sorted(t.name for t in VALUE_DTYPES)))
    elif node.op in ("ArgMax", "ArgMin"):
        _want(node, d, ins[0], NUMERIC, "a numeric input")
        _want(node, d, outs[0], frozenset({DType.S64}), "an S64 output")
    elif node.op == "CumSum":
        _one_dtype(node, d, everything, NUMERIC, "one numeric dtype")
    elif node.op in DYNAMIC_QUANT_OPS:
        pass  # fixed dtypes per input (docs/OPS.md), checked by their lowering and at load
    elif node.op == "LSTM" and len(node.inputs) > _LSTM_INT8_FIRST:
        # s8 W and R (format 1.12) with f32 scales and int32 zero points; the rest f32.
        special = {1: (DType.S8, "an S8 W with its scale and zero point"),
                   2: (DType.S8, "an S8 R with its scale and zero point"),
                   _LSTM_INT8_FIRST + 1: (DType.S32, "an S32 W_zero_point"),
                   _LSTM_INT8_FIRST + 3: (DType.S32, "an S32 R_zero_point")}
        for index, name in enumerate(node.inputs):
            dtype, what = special.get(index, (DType.F32, "F32"))
            if name:
                _want(node, d, name, frozenset({dtype}), what)
        for name in outs:
            _want(node, d, name, frozenset({DType.F32}), "F32")
    elif node.op == "TopK":
        _one_dtype(node, d, [ins[0], outs[0]], NUMERIC, "one numeric dtype")
        _want(node, d, outs[1], frozenset({DType.S64}), "S64 indices")
    else:
        return False
    return True


def check_node_dtypes(graph: Graph) -> None:
    """Every node's tensors have dtypes its runtime operator computes with."""
    dtypes = {name: t.dtype for name, t in graph.tensors.items()}
    f32 = frozenset({DType.F32})
    for node in graph.nodes:
        if _check_value_op(node, dtypes):
            continue
        for name in _names(node.inputs) + _names(node.outputs):
            _want(node, dtypes, name, f32, "F32")

