"""Runs a quantized Graph in numpy, bit-exact with the C runtime: the integer operators
of docs/OPS.md through quantization.simulate, the float ones that numpy_ops evaluates.

Feeds may stack several samples along the batch axis (N times the graph's batch): the
integer operators are batch-agnostic, and Reshape keeps the batch axis when the graph's
reshape does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from pocketnn.ir import DType, Graph, Node
from pocketnn.passes.numpy_ops import evaluate
from pocketnn.quantization import simulate
from pocketnn.quantization.arith import AddMultipliers, Requant


def _int(node: Node, key: str) -> int:
    return int(node.attrs[key])  # type: ignore[arg-type]


def _ints(node: Node, key: str) -> list[int]:
    return [int(v) for v in node.attrs[key]]  # type: ignore[union-attr]


def weights(graph: Graph, name: str) -> np.ndarray:
    """A constant S8 or S4 weight tensor's int8 values (S4 is packed only in the file)."""
    tensor = graph.tensors[name]
    if tensor.dtype not in (DType.S8, DType.S4):
        raise ValueError(f"weights {name!r} have dtype {tensor.dtype.name}, not S8 or S4")
    return np.asarray(tensor.data, dtype=np.int8)


def _requant(graph: Graph, node: Node) -> Requant:
    return Requant(graph.constant(node.inputs[3]), graph.constant(node.inputs[4]),  # type: ignore[arg-type]
                   _int(node, "y_zero_point"), _int(node, "lo"), _int(node, "hi"))


def _qconv(graph: Graph, node: Node, x: np.ndarray) -> np.ndarray:
    return simulate.conv2d(x, _int(node, "x_zero_point"), weights(graph, node.inputs[1]),
                           graph.constant(node.inputs[2]), _requant(graph, node),  # type: ignore[arg-type]
                           strides=_ints(node, "strides"), dilations=_ints(node, "dilations"),
                           pads=_ints(node, "pads"), group=_int(node, "group"))


def _qgemm(graph: Graph, node: Node, x: np.ndarray) -> np.ndarray:
    """X of any rank >= 2 is rows of K (format 1.5)."""
    rows = simulate.gemm(x.reshape(-1, x.shape[-1]), weights(graph, node.inputs[1]).T,
                         graph.constant(node.inputs[2]), _requant(graph, node))  # type: ignore[arg-type]
    return rows.reshape(x.shape[:-1] + rows.shape[-1:])


def _qmatmul(graph: Graph, node: Node, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """u8 x u8 with batch broadcasting, one requantization (format 1.6)."""
    acc = np.matmul(a.astype(np.int64) - _int(node, "a_zero_point"), b.astype(np.int64) - _int(node, "b_zero_point"))
    requant = Requant(np.array([_int(node, "multiplier")]), np.array([_int(node, "shift")]),
                      _int(node, "y_zero_point"), _int(node, "lo"), _int(node, "hi"))
    return requant.apply(acc.reshape(-1, 1), axis=1).reshape(acc.shape)


def _qadd(graph: Graph, node: Node, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    multipliers = AddMultipliers(_int(node, "a_multiplier"), _int(node, "b_multiplier"), _int(node, "shift"))
    return simulate.add(a, _int(node, "a_zero_point"), b, _int(node, "b_zero_point"), multipliers,
                        _int(node, "y_zero_point"), _int(node, "lo"), _int(node, "hi"))


def _qmaxpool(graph: Graph, node: Node, x: np.ndarray) -> np.ndarray:
    return simulate.maxpool(x, _ints(node, "kernel"), _ints(node, "strides"), _ints(node, "dilations"),
                            _ints(node, "pads"), bool(_int(node, "ceil_mode")))


def _qavgpool(graph: Graph, node: Node, x: np.ndarray) -> np.ndarray:
    return simulate.avgpool(x, _int(node, "x_zero_point"), _ints(node, "kernel"), _ints(node, "strides"),
                            _ints(node, "dilations"), _ints(node, "pads"), bool(_int(node, "ceil_mode")),
                            bool(_int(node, "count_include_pad")), _ints(node, "multipliers"),
                            _ints(node, "shifts"), _int(node, "y_zero_point"))


def _reshape(graph: Graph, node: Node, x: np.ndarray) -> np.ndarray:
    in_shape = graph.tensors[node.inputs[0]].shape
    out_shape = graph.tensors[node.outputs[0]].shape
    if x.shape == tuple(in_shape):
        return x.reshape(out_shape)
    if in_shape and out_shape and in_shape[0] == out_shape[0]:  # batch kept: stack it
        return x.reshape((x.shape[0],) + tuple(out_shape[1:]))
    raise ValueError(f"Reshape {node.name!r} mixes the batch axis; simulate one batch at a time")


def _dequantize(g: Graph, n: Node, x: np.ndarray) -> np.ndarray:
    y = simulate.dequantize_linear(x, float(n.attrs["scale"]), _int(n, "zero_point"))
    bias = g.constant(n.inputs[1]) if len(n.inputs) > 1 else None
    return y if bias is None else y + bias.astype(np.float32)  # rounded product, then the sum


_INTEGER_OPS: dict[str, Callable[..., np.ndarray]] = {
    "QuantizeLinear": lambda g, n, x: simulate.quantize_linear(x, float(n.attrs["scale"]), _int(n, "zero_point")),
    "DequantizeLinear": _dequantize,
    "QConv": _qconv,
    "QGemm": _qgemm,
    "QAdd": _qadd,
    "QMatMul": _qmatmul,
    "QLookup": lambda g, n, x: simulate.lut(x, g.constant(n.inputs[1])),
    "QGlobalAveragePool": lambda g, n, x: simulate.global_avgpool(
        x, _int(n, "x_zero_point"), _int(n, "multiplier"), _int(n, "shift"), _int(n, "y_zero_point")),
    "QMaxPool": _qmaxpool,
    "QAveragePool": _qavgpool,
    "Reshape": _reshape,
}
# Inputs the integer ops take as values; the rest (weights, tables, requantization) are
# constants they read from the graph.
_VALUE_INPUTS = {"QAdd": 2, "QMatMul": 2}


def simulate_graph(graph: Graph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The graph's outputs for `feeds` (input name -> array)."""
    values: dict[str, np.ndarray] = {name: np.asarray(feeds[name], dtype=np.float32) for name in graph.inputs}
    for node in graph.nodes:
        args = [values[name] for name in node.inputs[:_VALUE_INPUTS.get(node.op, 1)]]
        if node.op in _INTEGER_OPS:
            results = [_INTEGER_OPS[node.op](graph, node, *args)]
        else:
            inputs = [values[name] if name in values else graph.constant(name) for name in node.inputs if name]
            shapes = [graph.tensors[name].shape for name in node.outputs]
            evaluated = evaluate(node, inputs, shapes)  # type: ignore[arg-type]
            if evaluated is None:
                raise NotImplementedError(f"simulate_graph cannot run float op {node.op} ({node.name!r})")
            results = [np.asarray(r, dtype=np.float32) for r in evaluated]
        values.update(zip(node.outputs, results))
    return {name: values[name] for name in graph.outputs}
